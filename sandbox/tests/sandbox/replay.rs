//! The "independent client" test: every request tlsi-ins sends (its fixtures), replayed
//! byte for byte with the organisation certificate; the answer must say what the
//! captured (or, for virtual mode, tlsi-ins's own) answer says.

use std::path::{Path, PathBuf};

use crate::helpers::*;

/// What a `RESULTAT` says, read from either side.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resultat {
    code: String,
    label: String,
    individu: Option<Individu>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Individu {
    active: Ins,
    history: Vec<Ins>,
    tiq: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Ins {
    number: String,
    key: String,
    oid: String,
    type_matricule: Option<String>,
    date_start: Option<String>,
    date_end: Option<String>,
}

fn ins(node: &Node) -> Ins {
    let at = |path: &[&str]| node.text_at(NS_RESULTAT, path);
    Ins {
        number: at(&["IdIndividu", "NumIdentifiant"]).expect("NumIdentifiant"),
        key: at(&["IdIndividu", "Cle"]).expect("Cle"),
        oid: at(&["OID"]).expect("OID"),
        type_matricule: at(&["IdIndividu", "TypeMatricule"]),
        date_start: at(&["DateDeb"]),
        date_end: at(&["DateFin"]),
    }
}

fn resultat(doc: &Node) -> Resultat {
    let r = doc
        .find(NS_RESULTAT, "RESULTAT")
        .expect("a RESULTAT element");
    let individu = r.child(NS_RESULTAT, "INDIVIDU").map(|i| Individu {
        active: ins(i.child(NS_RESULTAT, "INSACTIF").expect("INSACTIF")),
        history: i
            .all(NS_RESULTAT, "INSHISTO")
            .into_iter()
            .map(ins)
            .collect(),
        tiq: i
            .child(NS_RESULTAT, "TIQ")
            .expect("TIQ")
            .children
            .iter()
            .map(|c| (c.name.clone(), c.text.trim().to_owned()))
            .collect(),
    });
    Resultat {
        code: r.text_at(NS_RESULTAT, &["CR", "CodeCR"]).expect("CodeCR"),
        label: r
            .text_at(NS_RESULTAT, &["CR", "LibelleCR"])
            .expect("LibelleCR"),
        individu,
    }
}

/// Compares the sandbox's answer with the expected one. Optional parts are compared
/// when the expected answer carries them: dates of an INSHISTO, `Prenom` of the TIQ,
/// and `TypeMatricule` except in tlsi-ins's synthetic virtual-mode answers, whose
/// template fills it from its own data (`undefined`, `NIR`).
fn assert_same(label: &str, got: &Resultat, expected: &Resultat, synthetic: bool) {
    assert_eq!(got.code, expected.code, "{label}: CodeCR");
    assert_eq!(got.label, expected.label, "{label}: LibelleCR");
    let (got, expected) = match (&got.individu, &expected.individu) {
        (None, None) => return,
        (Some(g), Some(e)) => (g, e),
        _ => panic!("{label}: INDIVIDU present on one side only"),
    };
    let same_ins = |what: &str, g: &Ins, e: &Ins| {
        assert_eq!(
            (&g.number, &g.key, &g.oid),
            (&e.number, &e.key, &e.oid),
            "{label}: {what}"
        );
        if e.date_start.is_some() || e.date_end.is_some() {
            assert_eq!(
                (&g.date_start, &g.date_end),
                (&e.date_start, &e.date_end),
                "{label}: {what} dates"
            );
        }
        if !synthetic {
            assert_eq!(
                g.type_matricule, e.type_matricule,
                "{label}: {what} TypeMatricule"
            );
        }
    };
    same_ins("INSACTIF", &got.active, &expected.active);
    assert_eq!(
        got.history.len(),
        expected.history.len(),
        "{label}: number of INSHISTO"
    );
    for (i, (g, e)) in got.history.iter().zip(&expected.history).enumerate() {
        same_ins(&format!("INSHISTO #{}", i + 1), g, e);
    }
    let tiq_without_prenom = |t: &[(String, String)]| {
        t.iter()
            .filter(|(n, _)| n != "Prenom")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        tiq_without_prenom(&got.tiq),
        tiq_without_prenom(&expected.tiq),
        "{label}: TIQ"
    );
    if expected.tiq.iter().any(|(n, _)| n == "Prenom") {
        assert_eq!(got.tiq, expected.tiq, "{label}: TIQ Prenom");
    }
}

/// The answer a request fixture is paired with.
fn expected_answer(request: &Path) -> PathBuf {
    let fixtures = fixtures_dir();
    let name = request
        .file_name()
        .and_then(|n| n.to_str())
        .expect("file name");
    let folder = request.parent().expect("folder");
    if let Some(stem) = name.strip_suffix(".request.xml") {
        let same_name = folder.join(format!("{stem}.response.xml"));
        if same_name.is_file() {
            return same_name;
        }
        // Virtual mode: `<Class>.<n>.response-CR<code>.xml`.
        if let Some(found) = std::fs::read_dir(folder)
            .expect("fixtures folder")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{stem}.response-CR")))
            })
        {
            return found;
        }
        // tlsi-ins's tests pair these two with shared answers.
        match stem {
            "de-vinci-leonardo.DeVinciLeonardo" => {
                return fixtures.join("insi-client/CR02.response.xml");
            }
            "tchitchi-ola-catarina.TchitchiOla" => return fixtures.join("REP_CR01.xml"),
            _ => {}
        }
    }
    panic!("no expected answer paired with {}", request.display());
}

fn request_fixtures() -> Vec<PathBuf> {
    let mut all = Vec::new();
    for folder in ["persons", "virtual-mode"] {
        let dir = fixtures_dir().join(folder);
        let mut found: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".request.xml"))
            .collect();
        found.sort();
        assert!(!found.is_empty(), "no request fixture in {}", dir.display());
        all.extend(found);
    }
    all
}

#[tokio::test]
async fn tlsi_ins_requests_get_the_captured_answers_and_conform() {
    let sandbox = start_default().await;
    let client = client(Identity::Org);
    let requests = request_fixtures();
    assert!(
        requests.len() >= 15,
        "expected the 15+ tlsi-ins request fixtures"
    );
    for request in &requests {
        let label = request
            .strip_prefix(fixtures_dir())
            .unwrap_or(request)
            .display()
            .to_string();
        let reply = post_soap(&client, &sandbox.url(), read(request)).await;
        assert_eq!(reply.status, 200, "{label}:\n{}", reply.text());
        assert!(
            reply.content_type.starts_with("application/soap+xml"),
            "{label}: content type"
        );
        let expected_path = expected_answer(request);
        let expected = resultat(&parse(&read(&expected_path)).expect("fixture parses"));
        let synthetic = label.starts_with("virtual-mode");
        assert_same(&label, &resultat(&reply.xml()), &expected, synthetic);
        check_insi(&label, &reply.body, false);
    }
    sandbox.shutdown().await;
}

/// The live service answered PIERRE-ALAIN with one INSHISTO, the CNDA test book with
/// two; the sandbox follows the test book, so it must include the live one.
#[tokio::test]
async fn pierre_alain_answer_includes_the_live_history() {
    let sandbox = start_default().await;
    let persons = fixtures_dir().join("persons");
    let reply = post_soap(
        &client(Identity::Org),
        &sandbox.url(),
        read(&persons.join("pierre-alain.PierreAlain.request.xml")),
    )
    .await;
    let got = resultat(&reply.xml());
    let live = resultat(
        &parse(&read(
            &persons.join("pierre-alain.PierreAlainLive.response.xml"),
        ))
        .unwrap(),
    );
    let (got, live) = (got.individu.unwrap(), live.individu.unwrap());
    assert_eq!(got.active, live.active);
    assert_eq!(got.tiq, live.tiq);
    for h in &live.history {
        assert!(got.history.contains(h), "live INSHISTO {h:?} missing");
    }
    sandbox.shutdown().await;
}
