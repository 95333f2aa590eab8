//! `passerelle document build`, as an integrator runs it: the CDA, the ITI-41 metadata and the
//! XDM package it writes pass the ANS and IHE validators of `../shared/conformance`; bad input
//! is refused with a clear message and nothing written.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_passerelle");

/// `$PASSERELLE_SHARED_DIR`, else `shared/` beside the project. Missing: the test fails.
fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("PASSERELLE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    assert!(
        dir.join("conformance/check-cda.sh").is_file(),
        "shared test material not found at {}: set PASSERELLE_SHARED_DIR to the shared/ folder \
         (these tests must not pass without it)",
        dir.display()
    );
    dir
}

fn check(script: &str, file: &Path) {
    let out = Command::new(shared_dir().join("conformance").join(script))
        .arg(file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("OK"),
        "{script} {}:\n{stdout}{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The tutorial's patient, qualified, and a professional of the ANS test cards.
const WHO: &[&str] = &[
    "--ins",
    "248039263001064",
    "--birth-name",
    "PAT-DOUZE",
    "--first-name",
    "NATHALIE",
    "--sex",
    "F",
    "--birth-date",
    "1948-03-21",
    "--ps-id",
    "99900063480",
    "--ps-family-name",
    "FOUQUEREY",
    "--ps-given-name",
    "JEAN",
    "--ps-profession",
    "10",
    "--ps-specialty",
    "SM54",
    "--structure-id",
    "999000003",
    "--structure-name",
    "Centre de santé",
];

fn build(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(["document", "build"])
        .args(WHO)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn pdf(dir: &Path) -> PathBuf {
    let path = dir.join("lettre.pdf");
    std::fs::write(
        &path,
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
    )
    .unwrap();
    path
}

#[test]
fn a_pdf_letter_its_metadata_and_its_xdm_package_pass_the_validators() {
    let dir = tempfile::tempdir().unwrap();
    pdf(dir.path());
    let out = build(
        dir.path(),
        &[
            "--pdf",
            "lettre.pdf",
            "--title",
            "Lettre de liaison",
            "--type",
            "11490-0",
            "--confidentiality",
            "R",
            "--hide-from",
            "legal-representatives",
            "--id",
            "deposit-42",
            "--output",
            "cda.xml",
            "--metadata",
            "submission.xml",
            "--xdm",
            "IHE_XDM.zip",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check("check-cda.sh", &dir.path().join("cda.xml"));
    check("check-xds.sh", &dir.path().join("submission.xml"));
    check("check-xdm.sh", &dir.path().join("IHE_XDM.zip"));
    let metadata = std::fs::read_to_string(dir.path().join("submission.xml")).unwrap();
    assert!(
        metadata.contains("INVISIBLE_REPRESENTANTS_LEGAUX"),
        "{metadata}"
    );
    assert!(metadata.contains("248039263001064^^^&amp;1.2.250.1.213.1.4.8&amp;ISO^NH"));

    // The same idempotency key gives the same document id: a retried deposit is recognised.
    let first = String::from_utf8(out.stdout).unwrap();
    let again = build(
        dir.path(),
        &[
            "--pdf",
            "lettre.pdf",
            "--title",
            "Lettre de liaison",
            "--type",
            "11490-0",
            "--id",
            "deposit-42",
            "--output",
            "again.xml",
        ],
    );
    let unique = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("unique id"))
            .map(str::to_owned)
    };
    assert_eq!(
        unique(&first),
        unique(&String::from_utf8(again.stdout).unwrap())
    );
}

#[test]
fn a_text_letter_and_the_tutorials_vsm_pass_the_validators() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lettre.txt"),
        "Chère consœur,\nbilan joint.\n",
    )
    .unwrap();
    let out = build(
        dir.path(),
        &[
            "--text",
            "lettre.txt",
            "--title",
            "Lettre de liaison",
            "--type",
            "11490-0",
            "--output",
            "text.xml",
            "--xdm",
            "text.zip",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check("check-cda.sh", &dir.path().join("text.xml"));
    check("check-xdm.sh", &dir.path().join("text.zip"));

    std::fs::write(
        dir.path().join("vsm.json"),
        r#"{
  "chronic_pathologies": [{"label": "Asthme à l'effort", "start": "2012"}],
  "surgical_history": [{"label": "HTA", "start": "2020"}],
  "long_term_treatments": [{"label": "DOLIPRANE 1000 mg", "start": "2024-09-23", "end": "2024-10-02"}],
  "attending_physician": {"last_name": "FOUQUEREY", "first_name": "JEAN", "rpps": "99900063480"}
}"#,
    )
    .unwrap();
    let out = build(
        dir.path(),
        &[
            "--vsm",
            "vsm.json",
            "--title",
            "Volet de synthèse médicale",
            "--output",
            "vsm.xml",
            "--metadata",
            "vsm-submission.xml",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check("check-cda.sh", &dir.path().join("vsm.xml"));
    check("check-xds.sh", &dir.path().join("vsm-submission.xml"));
    let metadata = std::fs::read_to_string(dir.path().join("vsm-submission.xml")).unwrap();
    assert!(metadata.contains("urn:asip:ci-sis:vsm:2012"));
}

/// Each bad input: exit 2, a message saying what is wrong, and no output file.
#[test]
fn bad_input_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    pdf(dir.path());
    std::fs::write(dir.path().join("not.pdf"), b"<html>not a pdf</html>").unwrap();
    std::fs::write(dir.path().join("empty.pdf"), b"").unwrap();
    std::fs::write(
        dir.path().join("bad.json"),
        r#"{"allergies": [{"label": "a"}, {"label": "b"}, {"label": "c", "start": "2023-02-29"}]}"#,
    )
    .unwrap();
    let letter = ["--title", "Lettre", "--type", "11490-0"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--pdf", "not.pdf"], "PDF"),
        (vec!["--pdf", "empty.pdf"], "empty"),
        (vec!["--pdf", "lettre.pdf", "--max-size", "10"], "10"),
        (
            vec![
                "--pdf",
                "lettre.pdf",
                "--title",
                "Lettre",
                "--type",
                "99999-9",
            ],
            "99999-9",
        ),
        (
            vec!["--pdf", "lettre.pdf", "--identity-status", "recuperee"],
            "qualif",
        ),
        (
            vec!["--vsm", "bad.json", "--title", "VSM"],
            "allergies[2].start",
        ),
    ];
    for (args, says) in cases {
        let mut all = args.clone();
        if !args.contains(&"--title") && !args.contains(&"--vsm") {
            all.extend_from_slice(&letter);
        }
        all.extend_from_slice(&["--output", "out.xml", "--xdm", "out.zip"]);
        let out = build(dir.path(), &all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "{args:?} should say {says:?}: {stderr}"
        );
        for file in ["out.xml", "out.xml.partial", "out.zip"] {
            assert!(
                !dir.path().join(file).exists(),
                "{args:?} left {file} behind"
            );
        }
    }
}

/// The tutorial's patient and the centre, no professional author: the organisation is.
const PATIENT_AND_STRUCTURE: &[&str] = &[
    "--ins",
    "248039263001064",
    "--birth-name",
    "PAT-DOUZE",
    "--first-name",
    "NATHALIE",
    "--sex",
    "F",
    "--birth-date",
    "1948-03-21",
    "--structure-id",
    "999000003",
    "--structure-name",
    "Centre de santé",
];

/// Dr FOUQUEREY takes responsibility for what the organisation authors.
const LEGAL_AUTHENTICATOR: &[&str] = &[
    "--legal-authenticator-id",
    "99900063480",
    "--legal-authenticator-family-name",
    "FOUQUEREY",
    "--legal-authenticator-given-name",
    "JEAN",
    "--legal-authenticator-profession",
    "10",
    "--legal-authenticator-specialty",
    "SM54",
];

fn build_without_professional(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(["document", "build"])
        .args(PATIENT_AND_STRUCTURE)
        .args(args)
        .env_remove("RUST_LOG");
    // The --ps-* options may come from the environment: none here.
    for var in [
        "PASSERELLE_PS_ID",
        "PASSERELLE_PS_FAMILY_NAME",
        "PASSERELLE_PS_GIVEN_NAME",
        "PASSERELLE_PS_PROFESSION",
        "PASSERELLE_PS_SPECIALTY",
    ] {
        cmd.env_remove(var);
    }
    cmd.output().unwrap()
}

const ORGANISATION_LETTER: &[&str] = &[
    "--pdf",
    "lettre.pdf",
    "--title",
    "Lettre de liaison",
    "--type",
    "11490-0",
    "--output",
    "cda.xml",
    "--metadata",
    "submission.xml",
    "--xdm",
    "IHE_XDM.zip",
];

#[test]
fn without_a_professional_the_organisation_authors_a_letter_that_passes_the_validators() {
    let dir = tempfile::tempdir().unwrap();
    pdf(dir.path());
    let args: Vec<&str> = ORGANISATION_LETTER
        .iter()
        .chain(LEGAL_AUTHENTICATOR)
        .copied()
        .collect();
    let out = build_without_professional(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check("check-cda.sh", &dir.path().join("cda.xml"));
    check("check-xds.sh", &dir.path().join("submission.xml"));
    check("check-xdm.sh", &dir.path().join("IHE_XDM.zip"));

    let cda = std::fs::read_to_string(dir.path().join("cda.xml")).unwrap();
    let author = &cda[cda.find("<author>").unwrap()..cda.find("</author>").unwrap()];
    assert!(
        author.contains(r#"extension="1999000003/PASSERELLE""#),
        "{author}"
    );
    assert!(
        author.contains("<manufacturerModelName>Passerelle</manufacturerModelName>"),
        "{author}"
    );
    assert!(author.contains(r#"code="DISPOSITIF""#), "{author}");
    assert!(!author.contains("assignedPerson"), "{author}");
    let legal = &cda[cda.find("<legalAuthenticator>").unwrap()..];
    assert!(legal.contains("<family>FOUQUEREY</family>"), "{legal}");

    let metadata = std::fs::read_to_string(dir.path().join("submission.xml")).unwrap();
    assert!(
        metadata.contains(
            "1999000003/PASSERELLE^Passerelle^^^^^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^IDNPS"
        ),
        "{metadata}"
    );
    assert!(
        metadata.contains("DISPOSITIF^Dispositif médical^1.2.250.1.213.1.1.4.6"),
        "{metadata}"
    );
    assert!(
        metadata.contains("Centre de santé^^^^^&amp;1.2.250.1.71.4.2.2&amp;ISO^IDNST^^^1999000003"),
        "{metadata}"
    );
}

#[test]
fn an_organisation_author_without_a_legal_authenticator_or_with_a_bad_role_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    pdf(dir.path());
    let out = build_without_professional(dir.path(), ORGANISATION_LETTER);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--legal-authenticator-id"), "{stderr}");

    let args: Vec<&str> = ORGANISATION_LETTER
        .iter()
        .chain(LEGAL_AUTHENTICATOR)
        .chain(&["--author-role", "EXP_PATIENT"])
        .copied()
        .collect();
    let out = build_without_professional(dir.path(), &args);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("EXP_PATIENT"), "{stderr}");

    // A legal authenticator's field at fault is named by its option.
    let mut args: Vec<&str> = ORGANISATION_LETTER
        .iter()
        .chain(LEGAL_AUTHENTICATOR)
        .copied()
        .collect();
    args[ORGANISATION_LETTER.len() + 1] = "123";
    let out = build_without_professional(dir.path(), &args);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--legal-authenticator-id"), "{stderr}");

    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["lettre.pdf"], "{left:?}");
}
