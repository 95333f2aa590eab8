//! Unit tests of the INSi client against the shared specs: every captured answer, requests
//! validated by `conformance/check-insi.sh` and compared with the requests tlsi-ins sends.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

use passerelle_domain::{BirthPlace, InsOid, Key, LunarDate, Matricule, Name, Sex};
use passerelle_soap::{Element, Envelope, Limits, ns};
use time::macros::datetime;

use super::envelope::{self, NS_CTXBAM, NS_CTXLPS, NS_RECSANS, NS_RECVIT, Operation};
use super::result::interpret_response;
use super::*;

/// `$PASSERELLE_SHARED_DIR`, else `shared/` beside the project. Missing: the test fails.
fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("PASSERELLE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    assert!(
        dir.join("specs/insi").is_dir(),
        "shared test material not found at {}: set PASSERELLE_SHARED_DIR to the shared/ folder \
         (these tests must not pass without it)",
        dir.display()
    );
    dir
}

fn fixtures() -> PathBuf {
    shared_dir().join("specs/insi/fixtures")
}

fn read_fixture(rel: &str) -> Vec<u8> {
    let p = fixtures().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", p.display()))
}

const MAX: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Captured answers

/// (matricule, key, from, until, key valid)
type Histo = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    bool,
);
/// birth name, first names, sex, date, place
type Traits = (
    &'static str,
    &'static [&'static str],
    Sex,
    &'static str,
    &'static str,
);

struct Expected {
    file: &'static str,
    code: CrCode,
    /// (matricule, key, oid, key valid)
    active: Option<(&'static str, &'static str, InsOid, bool)>,
    history: &'static [Histo],
    traits: Option<Traits>,
}

const PIERRE_ALAIN_FIRST: &[&str] = &["PIERRE-ALAIN", "MURIEL", "FLORIANT"];
const PIERRE_ALAIN_HISTO: &[Histo] = &[
    (
        "2090763220834",
        "39",
        Some("2019-03-01"),
        Some("2019-02-28"),
        true,
    ),
    ("2090663220123", "55", None, None, true),
];
const HERMANN_HISTO: &[Histo] = &[
    ("1810363220456", "60", None, None, false),
    ("2810363220456", "10", None, None, false),
];
const CORSE_HISTO: &[Histo] = &[("180032B020401", "23", None, None, true)];

fn found(
    file: &'static str,
    m: &'static str,
    k: &'static str,
    history: &'static [Histo],
    traits: Traits,
) -> Expected {
    Expected {
        file,
        code: CrCode::Found,
        active: Some((m, k, InsOid::Nir, true)),
        history,
        traits: Some(traits),
    }
}

fn none(file: &'static str, code: CrCode) -> Expected {
    Expected {
        file,
        code,
        active: None,
        history: &[],
        traits: None,
    }
}

fn expectations() -> Vec<Expected> {
    use Sex::{Female as F, Male as M};
    let pierre_alain = ("ECETINSI", PIERRE_ALAIN_FIRST, M, "2009-07-14", "63220");
    let catarina = (
        "TCHITCHI",
        &["CATARINA", "BELLA"][..],
        F,
        "1936-06-21",
        "63220",
    );
    let hermann = ("HERMANN", &["GATIEN"][..], M, "1981-03-24", "63220");
    let corse = ("CORSE", &["ANTHONY"][..], M, "1980-03-02", "2B020");
    vec![
        found(
            "persons/adrtrois-dominique.AdrtroisDominique.response.xml",
            "297022A020778",
            "78",
            &[],
            ("ADRTROIS", &["DOMINIQUE"], F, "1997-02-26", "2A020"),
        ),
        found(
            "persons/adrtrois-toussaint.AdrtroisToussaint.response.xml",
            "160012B020777",
            "13",
            &[],
            ("ADRTROIS", &["TOUSSAINT"], M, "1960-01-01", "2B020"),
        ),
        found(
            "persons/pierre-alain.PierreAlain.response.xml",
            "1090763220834",
            "89",
            PIERRE_ALAIN_HISTO,
            pierre_alain,
        ),
        found(
            "persons/pierre-alain.PierreAlainLive.response.xml",
            "1090763220834",
            "89",
            &PIERRE_ALAIN_HISTO[..1],
            pierre_alain,
        ),
        found(
            "persons/tchitchi-ola-catarina.TchitchiCatarina.response.xml",
            "2360663220836",
            "56",
            &[],
            catarina,
        ),
        none("insi-client/CR02.response.xml", CrCode::Multiple),
        found(
            "virtual-mode/AdrunZoeVirtualMode.1.response-CR00.xml",
            "2751263220749",
            "74",
            &[],
            ("ADRUN", &["ZOE"], F, "1975-12-31", "63220"),
        ),
        found(
            "virtual-mode/CorseAnthonyVirtualMode.1.response-CR00.xml",
            "180032B020401",
            "23",
            CORSE_HISTO,
            corse,
        ),
        found(
            "virtual-mode/EcetinsiPierreAlainVirtualMode.1.response-CR00.xml",
            "1090763220834",
            "89",
            &[
                ("2090763220834", "39", None, None, true),
                ("2090663220123", "55", None, None, true),
            ],
            pierre_alain,
        ),
        Expected {
            file: "virtual-mode/HermanGatienVirtualMode.1.response-CR00.xml",
            code: CrCode::Found,
            active: Some(("1810363220456", "60", InsOid::Nir, false)),
            history: HERMANN_HISTO,
            traits: Some(hermann),
        },
        none(
            "virtual-mode/HouillesPierreVirtualMode.1.response-CR01.xml",
            CrCode::NotFound,
        ),
        none(
            "virtual-mode/HouillesPierreVirtualMode.2.response-CR01.xml",
            CrCode::NotFound,
        ),
        none(
            "virtual-mode/HouillesPierreVirtualMode.3.response-CR01.xml",
            CrCode::NotFound,
        ),
        none(
            "virtual-mode/HouillesPierreVirtualMode.4.response-CR01.xml",
            CrCode::NotFound,
        ),
        found(
            "virtual-mode/NessiMichelangeloVirtualMode.1.response-CR00.xml",
            "1100863220830",
            "60",
            &[],
            (
                "NESSI",
                &["MICHELANGELO", "ANTHONY"],
                M,
                "2010-08-07",
                "63220",
            ),
        ),
        none(
            "virtual-mode/TchitchiOlaVirtualMode.1.response-CR01.xml",
            CrCode::NotFound,
        ),
        found(
            "virtual-mode/TchitchiOlaVirtualMode.2.response-CR00.xml",
            "2360663220836",
            "56",
            &[],
            catarina,
        ),
        none("REP_CR01.xml", CrCode::NotFound),
        found(
            "TEST_2.04_cas2.xml",
            "1090763220834",
            "89",
            PIERRE_ALAIN_HISTO,
            pierre_alain,
        ),
        Expected {
            file: "TEST_2.05.xml",
            code: CrCode::Found,
            active: Some(("1090763220888", "35", InsOid::Nia, true)),
            history: &[],
            traits: Some(("PROVISOIRE", &["MATRICULE"], M, "2009-07-01", "63220")),
        },
        found(
            "TEST_2.08_cas1.xml",
            "180032B020401",
            "23",
            CORSE_HISTO,
            corse,
        ),
        Expected {
            file: "TEST_2.08_cas2.xml",
            code: CrCode::Found,
            active: Some(("1810363220456", "60", InsOid::Nir, false)),
            history: HERMANN_HISTO,
            traits: Some(hermann),
        },
    ]
}

/// Every answer file of the fixtures: `*.response*.xml`, `REP_CR01.xml`, `TEST_*.xml`.
fn answer_files() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("fixture folder is readable") {
            let p = entry.expect("fixture entry").path();
            if p.is_dir() {
                walk(&p, base, out);
                continue;
            }
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.contains(".response") || name == "REP_CR01.xml" || name.starts_with("TEST_") {
                let rel = p.strip_prefix(base).expect("under base");
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    let base = fixtures();
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    out.sort();
    out
}

#[test]
fn every_captured_answer_parses_as_expected() {
    let expected = expectations();
    let files = answer_files();
    assert!(files.len() >= 22, "fixtures missing: {files:?}");
    for f in &files {
        assert!(
            expected.iter().any(|e| e.file == f),
            "answer fixture {f} has no expectation in this test"
        );
    }
    for e in &expected {
        let answer = interpret_response(200, &read_fixture(e.file), MAX)
            .unwrap_or_else(|err| panic!("{}: {err}", e.file));
        assert_eq!(answer.code, e.code, "{}", e.file);
        assert!(!answer.label.is_empty(), "{}", e.file);
        let Some((m, k, oid, valid)) = e.active else {
            assert!(answer.individual.is_none(), "{}", e.file);
            continue;
        };
        let ind = answer
            .individual
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no INDIVIDU", e.file));
        assert_eq!(ind.active.matricule().as_str(), m, "{}", e.file);
        assert_eq!(ind.active.key().to_string(), k, "{}", e.file);
        assert_eq!(ind.active.oid(), oid, "{}", e.file);
        assert_eq!(ind.active.key_valid(), valid, "{}", e.file);
        let history: Vec<_> = ind
            .history
            .iter()
            .map(|h| {
                (
                    h.ins.matricule().to_string(),
                    h.ins.key().to_string(),
                    h.valid_from.clone(),
                    h.valid_until.clone(),
                    h.ins.key_valid(),
                )
            })
            .collect();
        let want: Vec<_> = e
            .history
            .iter()
            .map(|(m, k, f, u, v)| {
                (
                    m.to_string(),
                    k.to_string(),
                    f.map(str::to_owned),
                    u.map(str::to_owned),
                    *v,
                )
            })
            .collect();
        assert_eq!(history, want, "{}", e.file);
        let (name, first, sex, date, place) = e.traits.expect("traits expected");
        let t = &ind.traits;
        assert_eq!(t.birth_name, name, "{}", e.file);
        assert_eq!(t.first_names, first, "{}", e.file);
        assert_eq!(t.sex, Some(sex), "{}", e.file);
        assert_eq!(t.birth_date.map(|d| d.to_string()).as_deref(), Some(date));
        assert_eq!(t.birth_place.as_deref(), Some(place), "{}", e.file);
    }
}

#[test]
fn pierre_alain_history_in_cnda_order() {
    // TEST_2.04 case 2 has DateDeb/DateFin before IdIndividu.
    let a = interpret_response(200, &read_fixture("TEST_2.04_cas2.xml"), MAX).unwrap();
    let ind = a.individual.unwrap();
    assert_eq!(ind.active.to_string(), "109076322083489");
    let h = &ind.history[0];
    assert_eq!(h.ins.to_string(), "209076322083439");
    assert_eq!(h.valid_from.as_deref(), Some("2019-03-01"));
    assert_eq!(h.valid_until.as_deref(), Some("2019-02-28"));
}

#[test]
fn fake_idam_fault_is_a_fault() {
    let body = read_fixture("service-errors/siram_100-desir_500-fake-idam.fakeIdamXmlResponse.xml");
    for status in [500, 200] {
        let err = interpret_response(status, &body, MAX).unwrap_err();
        let InsiError::Fault(f) = &err else {
            panic!("expected a fault, got {err:?}")
        };
        assert_eq!(f.code, "Sender");
        assert_eq!(f.subcode(), Some("siram_100"));
        assert_eq!(f.upstream_code(), Some("desir_550"));
        assert_eq!(err.upstream_code(), Some("desir_550"));
        assert_eq!(err.fault_subcode(), Some("siram_100"));
        assert!(!err.is_transient());
        assert!(err.to_string().contains("siram_100"), "{err}");
    }
}

// ---------------------------------------------------------------------------------------
// Bad answers

fn soap(body: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body>{body}</S:Body></S:Envelope>"#
    )
    .into_bytes()
}

fn malformed(status: u16, body: &[u8]) -> String {
    match interpret_response(status, body, MAX) {
        Err(InsiError::MalformedResponse { reason }) => reason,
        other => panic!("expected MalformedResponse, got {other:?}"),
    }
}

#[test]
fn bad_answers_are_typed_errors() {
    malformed(200, b"this is not XML at all");
    malformed(200, b"<html><body>Maintenance</body></html>");
    malformed(
        200,
        &soap("<RESULTAT xmlns=\"http://www.cnamts.fr/INSiResultat\"><CR>"),
    );
    let wrong_ns = malformed(
        200,
        &soap(
            r#"<RESULTAT xmlns="http://www.cnamts.fr/Other"><CR><CodeCR>00</CodeCR></CR></RESULTAT>"#,
        ),
    );
    assert!(wrong_ns.contains("INSiResultat"), "{wrong_ns}");
    let no_cr = malformed(
        200,
        &soap(r#"<RESULTAT xmlns="http://www.cnamts.fr/INSiResultat"></RESULTAT>"#),
    );
    assert!(no_cr.contains("CR"), "{no_cr}");
    let no_ind = malformed(
        200,
        &soap(
            r#"<RESULTAT xmlns="http://www.cnamts.fr/INSiResultat"><CR><CodeCR>00</CodeCR><LibelleCR>OK</LibelleCR></CR></RESULTAT>"#,
        ),
    );
    assert!(no_ind.contains("INDIVIDU"), "{no_ind}");
    let doctype = malformed(
        200,
        br#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body/></S:Envelope>"#,
    );
    assert!(doctype.contains("DOCTYPE"), "{doctype}");
    malformed(200, b"");
    malformed(200, b"  \n");
    malformed(200, &soap(""));
}

#[test]
fn unknown_oid_is_named() {
    let body = String::from_utf8(read_fixture("TEST_2.05.xml"))
        .unwrap()
        .replace("1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.7");
    let reason = malformed(200, body.as_bytes());
    assert!(reason.contains("1.2.250.1.213.1.4.7"), "{reason}");
}

#[test]
fn bad_matricule_is_reported_without_its_value() {
    let body = String::from_utf8(read_fixture("REP_CR01.xml")).unwrap().replace(
        "</CR>",
        "</CR><INDIVIDU><INSACTIF><IdIndividu><NumIdentifiant>12345</NumIdentifiant><Cle>99</Cle></IdIndividu><OID>1.2.250.1.213.1.4.8</OID></INSACTIF><TIQ/></INDIVIDU>",
    );
    let reason = malformed(200, body.as_bytes());
    assert!(reason.contains("INSACTIF"), "{reason}");
    assert!(!reason.contains("12345"), "personal data in {reason}");
}

#[test]
fn http_errors_without_fault() {
    let err = interpret_response(503, b"<html>Service Unavailable</html>", MAX).unwrap_err();
    assert!(
        matches!(&err, InsiError::HttpStatus { status: 503, body_excerpt } if body_excerpt.contains("Service Unavailable")),
        "{err:?}"
    );
    assert!(err.is_transient());
    let err = interpret_response(502, b"", MAX).unwrap_err();
    assert!(matches!(err, InsiError::HttpStatus { status: 502, .. }));
    // A well-formed non-fault envelope with an error status is still an HTTP error.
    let err = interpret_response(404, &read_fixture("REP_CR01.xml"), MAX).unwrap_err();
    assert!(matches!(err, InsiError::HttpStatus { status: 404, .. }));
    assert!(!err.is_transient());
}

#[test]
fn oversized_answer() {
    let body = read_fixture("TEST_2.05.xml");
    assert_eq!(
        interpret_response(200, &body, 100),
        Err(InsiError::ResponseTooLarge { limit: 100 })
    );
}

#[test]
fn cr_codes() {
    for (s, c) in [
        ("00", CrCode::Found),
        ("01", CrCode::NotFound),
        ("02", CrCode::Multiple),
        ("99", CrCode::Other("99".into())),
    ] {
        assert_eq!(CrCode::parse(s), c);
        assert_eq!(c.as_str(), s);
    }
}

// ---------------------------------------------------------------------------------------
// Requests

fn lps() -> LpsContext {
    LpsContext {
        idam: "IDAM-PLACEHOLDER".into(),
        idam_r: "4".into(),
        software_name: "SOFTWARE-NAME-PLACEHOLDER".into(),
        software_version: "SOFTWARE-VERSION-PLACEHOLDER".into(),
        instance: "b3549edd-4ae9-472a-b26f-fd2fb4ef397f".parse().unwrap(),
    }
}

fn ctx(lps: &LpsContext) -> RequestContext<'_> {
    RequestContext {
        message_id: "1f7425e2-b913-415c-adaa-785ee1076a70".parse().unwrap(),
        time: datetime!(2020-01-01 00:00:00 UTC),
        emitter: "medecin@yopmail.com",
        lps,
        security: None,
    }
}

fn name(s: &str) -> Name {
    Name::normalise("birth_name", s).unwrap().value
}

fn traits(birth: &str, first: &str, sex: Sex, date: &str, place: Option<&str>) -> TraitsQuery {
    TraitsQuery {
        birth_name: name(birth),
        first_names: first.into(),
        sex,
        birth_date: LunarDate::parse(date).unwrap(),
        birth_place: place.map(|p| BirthPlace::parse(p).unwrap()),
    }
}

fn vitale(insured: bool) -> VitaleQuery {
    VitaleQuery {
        matricule: Matricule::parse("2480392630010").unwrap(),
        key: Key::parse("64").unwrap(),
        insured: insured.then(|| {
            (
                Matricule::parse("1090763220834").unwrap(),
                Key::parse("89").unwrap(),
            )
        }),
        birth_name: name("PAT-DOUZE"),
        birth_date: LunarDate::parse("1948-00-00").unwrap(),
        birth_rank: 1,
    }
}

fn setup_conformance() {
    static SETUP: Once = Once::new();
    SETUP.call_once(|| {
        let script = shared_dir().join("conformance/setup.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "conformance setup failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

fn check_insi(label: &str, xml: &[u8]) {
    setup_conformance();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{label}.xml"));
    std::fs::write(&path, xml).unwrap();
    let script = shared_dir().join("conformance/check-insi.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    match out.status.code() {
        Some(0) => {}
        Some(1) => panic!(
            "{label} is not conformant:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(xml)
        ),
        _ => panic!(
            "conformance setup error for {label}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn all_requests() -> Vec<(String, Vec<u8>)> {
    let lps = lps();
    let c = ctx(&lps);
    let mut out = Vec::new();
    for (label, q) in [
        (
            "traits-one-first-name",
            traits("ECETINSI", "PIERRE-ALAIN", Sex::Male, "2009-07-14", None),
        ),
        (
            "traits-several-first-names",
            traits(
                "TCHITCHI",
                "OLA CATARINA BELLA",
                Sex::Female,
                "1936-06-21",
                None,
            ),
        ),
        (
            "traits-birth-place",
            traits(
                "ADRTROIS",
                "DOMINIQUE",
                Sex::Female,
                "1997-02-26",
                Some("2A020"),
            ),
        ),
        (
            "traits-apostrophe-unknown-day",
            traits("D'ARCY", "JEAN", Sex::Male, "1950-00-00", Some("99134")),
        ),
    ] {
        out.push((label.to_owned(), envelope::traits_request(&q, &c).unwrap()));
    }
    for (label, insured) in [("vitale-beneficiary", false), ("vitale-with-insured", true)] {
        out.push((
            label.to_owned(),
            envelope::vitale_request(&vitale(insured), &c).unwrap(),
        ));
    }
    out
}

#[test]
fn every_built_request_passes_check_insi() {
    for (label, xml) in all_requests() {
        check_insi(&label, &xml);
    }
}

/// A tree's names and attribute names, prefixes ignored.
fn shape(e: &Element) -> String {
    let mut attrs: Vec<_> = e.attributes.iter().map(|a| a.local.clone()).collect();
    attrs.sort();
    let children: Vec<_> = e.children.iter().map(shape).collect();
    format!("{}{attrs:?}({})", e.name(), children.join(","))
}

fn envelope_of(xml: &[u8]) -> Envelope {
    Envelope::parse(xml, &Limits::default()).unwrap()
}

#[test]
fn traits_request_matches_tlsi_ins_structurally() {
    let fixtures_and_queries = [
        (
            "persons/pierre-alain.PierreAlain.request.xml",
            traits("ECETINSI", "PIERRE-ALAIN", Sex::Male, "2009-07-14", None),
        ),
        (
            "persons/tchitchi-ola-catarina.TchitchiCatarina.request.xml",
            traits("TCHITCHI", "CATARINA", Sex::Female, "1936-06-21", None),
        ),
        (
            "virtual-mode/HouillesPierreVirtualMode.4.request.xml",
            traits(
                "HOUILLES",
                "PIERRE PAUL JACQUES",
                Sex::Male,
                "1993-01-27",
                None,
            ),
        ),
    ];
    let lps = lps();
    for (file, q) in fixtures_and_queries {
        let theirs = envelope_of(&read_fixture(file));
        let ours_xml = envelope::traits_request(&q, &ctx(&lps)).unwrap();
        let ours = envelope_of(&ours_xml);
        let (th, oh) = (theirs.header.clone().unwrap(), ours.header.clone().unwrap());
        assert_eq!(shape(&oh), shape(&th), "headers of {file}");
        assert_eq!(shape(&ours.body), shape(&theirs.body), "body of {file}");
        // Same values, except the wsa:MessageID, which tlsi-ins's template does not tie to
        // the context Id (we use one id for all three).
        assert_eq!(
            ours.body_content().unwrap(),
            theirs.body_content().unwrap(),
            "body values of {file}"
        );
        for block in ["ContexteBAM", "ContexteLPS"] {
            let nsu = if block == "ContexteBAM" {
                NS_CTXBAM
            } else {
                NS_CTXLPS
            };
            assert_eq!(
                oh.child(nsu, block),
                th.child(nsu, block),
                "{block} of {file}"
            );
        }
        assert_eq!(
            oh.child_text(ns::WSA, "Action"),
            th.child_text(ns::WSA, "Action")
        );
        assert_eq!(
            oh.child_text(ns::WSA, "MessageID"),
            Some("uuid:1f7425e2-b913-415c-adaa-785ee1076a70")
        );
    }
}

#[test]
fn request_details() {
    let lps = lps();
    let q = traits(
        "DE VINCI",
        "  LEONARDO   DINO ",
        Sex::Male,
        "2014-02-01",
        Some("2B020"),
    );
    let env = envelope_of(&envelope::traits_request(&q, &ctx(&lps)).unwrap());
    let body = env.body_content().unwrap();
    assert!(body.is(NS_RECSANS, "RECSANSVITALE"));
    let order: Vec<_> = body.children.iter().map(|c| c.local.as_str()).collect();
    assert_eq!(
        order,
        [
            "NomNaissance",
            "Prenom",
            "Sexe",
            "DateNaissance",
            "LieuNaissance"
        ]
    );
    assert_eq!(body.child_text(NS_RECSANS, "Prenom"), Some("LEONARDO DINO"));
    assert_eq!(
        body.child_text(NS_RECSANS, "NomNaissance"),
        Some("DE VINCI")
    );

    let env = envelope_of(&envelope::vitale_request(&vitale(true), &ctx(&lps)).unwrap());
    let body = env.body_content().unwrap();
    assert!(body.is(NS_RECVIT, "RECVITALE"));
    let order: Vec<_> = body.children.iter().map(|c| c.local.as_str()).collect();
    assert_eq!(
        order,
        [
            "MatriculeIndividu",
            "MatriculeOD",
            "NomNaissance",
            "DateNaissance",
            "RangNaissance"
        ]
    );
    let mi = body.child(NS_RECVIT, "MatriculeIndividu").unwrap();
    assert_eq!(
        mi.child_text(NS_RECVIT, "NumIdentifiant"),
        Some("2480392630010")
    );
    assert_eq!(mi.child_text(NS_RECVIT, "Cle"), Some("64"));
    assert_eq!(
        body.child_text(NS_RECVIT, "DateNaissance"),
        Some("1948-00-00")
    );
    assert_eq!(body.child_text(NS_RECVIT, "RangNaissance"), Some("1"));
    let header = env.header.unwrap();
    assert_eq!(
        header.child_text(ns::WSA, "Action"),
        Some(Operation::SearchByVitale.action())
    );
    let lps_el = header
        .child(NS_CTXLPS, "ContexteLPS")
        .and_then(|c| c.child(NS_CTXLPS, "LPS"))
        .unwrap();
    assert_eq!(
        lps_el.child_text(NS_CTXLPS, "Nom"),
        Some("urn:lps:SOFTWARE-NAME-PLACEHOLDER:SOFTWARE-VERSION-PLACEHOLDER")
    );
    assert_eq!(
        lps_el.child(NS_CTXLPS, "IDAM").and_then(|i| i.attr("R")),
        Some("4")
    );
    assert_eq!(
        Operation::SearchByTraits.content_type(),
        "application/soap+xml; charset=utf-8; action=\"urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite\""
    );
}

#[test]
fn time_has_milliseconds_in_utc() {
    let t = datetime!(2022-03-01 11:29:58.604 +01:00);
    assert_eq!(
        envelope::format_time(t).unwrap(),
        "2022-03-01T10:29:58.604Z"
    );
}

// ---------------------------------------------------------------------------------------
// CPS mode

const CAPTURE_ID: &str = "c6a7f665-9b82-4b4f-9f1c-6f918d1c70b8";
const CAPTURE_DIGEST: &str = "my7wv1u8drDfY0okactno2eBvJvB6Ep3+ctrcVXVxCQ=";

/// The CPS-mode capture's `wsse:Security` block.
fn capture_security() -> Element {
    let env = envelope_of(&read_fixture("cps-mode/assertion-ps-request.2.xml"));
    env.header_block(ns::WSSE, "Security")
        .expect("Security header in the capture")
        .clone()
}

fn capture_b64(local: &str) -> Vec<u8> {
    use base64::Engine;
    let text = capture_security()
        .descendant(ns::XMLDSIG, local)
        .map(|c| c.text().trim().to_owned())
        .unwrap_or_else(|| panic!("{local} in the capture"));
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

/// Replays the capture's signature, and only for the exact bytes the card signed then.
struct ReplaySigner;

#[async_trait::async_trait]
impl AssertionSigner for ReplaySigner {
    fn certificate_der(&self) -> Vec<u8> {
        capture_b64("X509Certificate")
    }
    fn situation(&self) -> PracticeSituation {
        PracticeSituation {
            billing_id: "123456789".into(),
            activity_sector: "SA05".into(),
        }
    }
    async fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignerError> {
        if data == cps::signed_info(&format!("_{CAPTURE_ID}"), CAPTURE_DIGEST, true).as_bytes() {
            Ok(capture_b64("SignatureValue"))
        } else {
            Err(SignerError::Failed {
                reason: "not the captured SignedInfo".into(),
            })
        }
    }
}

fn capture_assertion() -> PsAssertion {
    PsAssertion::for_signer(
        &ReplaySigner,
        CAPTURE_ID.parse().unwrap(),
        datetime!(2022-04-12 15:07:10.065 UTC),
    )
    .unwrap()
}

#[test]
fn ps_assertion_digest_matches_the_capture() {
    let a = capture_assertion();
    assert_eq!(
        a.issuer_dn,
        "2.5.4.42=OLIVIER+CN=00B6087510+SN=INFIRMCS ADELI8751,T=Infirmier,C=FR"
    );
    assert_eq!(a.holder_id, "00B6087510");
    // Our canonical bytes are the ones the real card's signature digested.
    assert_eq!(a.digest().unwrap(), CAPTURE_DIGEST);
}

#[test]
fn captured_signature_verifies_over_our_signed_info() {
    let der = capture_b64("X509Certificate");
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        cert.public_key().subject_public_key.data.to_vec(),
    );
    let signed_info = cps::signed_info(&format!("_{CAPTURE_ID}"), CAPTURE_DIGEST, true);
    key.verify(signed_info.as_bytes(), &capture_b64("SignatureValue"))
        .expect("the captured RSA-SHA256 signature verifies over our canonical SignedInfo");
    let mut tampered = signed_info.into_bytes();
    tampered[20] ^= 1;
    assert!(
        key.verify(&tampered, &capture_b64("SignatureValue"))
            .is_err()
    );
}

#[tokio::test]
async fn signed_header_has_the_capture_shape() {
    let header = cps::signed_security_header(
        &ReplaySigner,
        CAPTURE_ID.parse().unwrap(),
        datetime!(2022-04-12 15:07:10.065 UTC),
    )
    .await
    .unwrap();
    let ours = passerelle_soap::parse_document(header.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(ours, capture_security());
    // It fits in a request and the request stays conformant.
    let lps = lps();
    let mut c = ctx(&lps);
    c.security = Some(&header);
    let q = traits("ADRTROIS", "DOMINIQUE", Sex::Female, "1997-02-26", None);
    let xml = envelope::traits_request(&q, &c).unwrap();
    let env = envelope_of(&xml);
    assert_eq!(env.header_block(ns::WSSE, "Security"), Some(&ours));
    check_insi("traits-cps", &xml);
}

#[tokio::test]
async fn signer_failures_and_non_rsa_certificates() {
    struct Broken(Vec<u8>);
    #[async_trait::async_trait]
    impl AssertionSigner for Broken {
        fn certificate_der(&self) -> Vec<u8> {
            self.0.clone()
        }
        fn situation(&self) -> PracticeSituation {
            ReplaySigner.situation()
        }
        async fn sign(&self, _: &[u8]) -> Result<Vec<u8>, SignerError> {
            Err(SignerError::NoCard)
        }
    }
    let now = time::OffsetDateTime::now_utc();
    let r = cps::signed_assertion(
        &Broken(capture_b64("X509Certificate")),
        uuid::Uuid::nil(),
        now,
    )
    .await;
    assert_eq!(r, Err(CpsError::Signer(SignerError::NoCard)));
    let r = cps::signed_assertion(&Broken(b"not DER".to_vec()), uuid::Uuid::nil(), now).await;
    assert!(
        matches!(r, Err(CpsError::Assertion(InsiError::Config { .. }))),
        "{r:?}"
    );
    let ec = rcgen::generate_simple_self_signed(vec!["x".to_owned()])
        .unwrap()
        .cert
        .der()
        .to_vec();
    let r = cps::signed_assertion(&Broken(ec), uuid::Uuid::nil(), now).await;
    assert!(
        matches!(&r, Err(CpsError::Assertion(InsiError::Config { reason })) if reason.contains("RSA")),
        "{r:?}"
    );
}

#[test]
fn canonical_escaping() {
    let mut a = capture_assertion();
    a.situation.billing_id = "a&b<c>\"d'\r".into();
    a.id = "_x\"&<\n".into();
    let c = a.canonical(None).unwrap();
    assert!(
        c.contains("<AttributeValue>a&amp;b&lt;c&gt;\"d'&#xD;</AttributeValue>"),
        "{c}"
    );
    assert!(c.contains(r#"ID="_x&quot;&amp;&lt;&#xA;""#), "{c}");
}

#[test]
fn card_errors_are_transient_only_when_the_card_says_so() {
    let e = |error| InsiError::Signer { error };
    assert!(
        e(SignerError::Transient {
            reason: "reset".into()
        })
        .is_transient()
    );
    for error in [
        SignerError::NoCard,
        SignerError::PinRequired,
        SignerError::AgentUnavailable {
            reason: "none".into(),
        },
        SignerError::Refused {
            reason: "blocked".into(),
        },
        SignerError::Failed { reason: "x".into() },
    ] {
        assert!(!e(error.clone()).is_transient(), "{error:?}");
    }
    assert_eq!(
        e(SignerError::PinRequired).to_string(),
        "CPS card: the CPS PIN is needed: enter the PIN on the workstation"
    );
}
