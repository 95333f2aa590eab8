//! The VSM (Volet de Synthèse Médicale 2023.01) from JSON: a full, a minimal and the
//! tutorial's VSM each pass the ANS validators (`check-cda.sh`: XSD, CI-SIS schematrons and
//! `CI-SIS_VSM_2023.01.sch`); malformed input is refused with the JSON path at fault.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use passerelle_clinical_documents::codes::Code;
use passerelle_clinical_documents::testing::{VSM_FULL as FULL, vsm_header};
use passerelle_clinical_documents::vsm::{self, Vsm, VsmError};

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

/// Runs `check-cda.sh` on the document; panics with its report unless it prints OK.
fn assert_valid_cda(name: &str, xml: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{name}.xml"));
    std::fs::write(&file, xml).unwrap();
    let out = Command::new(shared_dir().join("conformance/check-cda.sh"))
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("OK"),
        "{name}: check-cda.sh exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Nothing: every section says "no information".
const MINIMAL: &str = "{}";

/// The tutorial's VSM.
const TUTORIAL: &str = r#"{
  "chronic_pathologies": [{"label": "Asthme à l'effort", "start": "2012"}],
  "surgical_history": [{"label": "HTA", "start": "2020"}],
  "long_term_treatments": [{"label": "DOLIPRANE 1000 mg", "start": "2024-09-23", "end": "2024-10-02"}],
  "attending_physician": {"last_name": "FOUQUEREY", "first_name": "JEAN", "rpps": "99900063480"}
}"#;

fn build(json: &str) -> Vec<u8> {
    let vsm = Vsm::from_json(json.as_bytes()).unwrap();
    vsm::write_document(Vec::new(), &vsm_header(), &vsm)
        .unwrap()
        .out
}

#[test]
fn vsm_documents_pass_the_ans_validators() {
    for (name, json) in [("full", FULL), ("minimal", MINIMAL), ("tutorial", TUTORIAL)] {
        assert_valid_cda(&format!("vsm-{name}"), &build(json));
    }
}

#[test]
fn the_tutorial_vsm_says_what_was_given() {
    let xml = String::from_utf8(build(TUTORIAL)).unwrap();
    for expected in [
        "Asthme à l&apos;effort",
        "<low value=\"2012\"/>",
        "<low value=\"20240923\"/><high value=\"20241002\"/>",
        "DOLIPRANE 1000 mg",
        "<code code=\"SYNTH\"",
        "<functionCode code=\"PCP\"",
        "extension=\"899900063480\"",
        "<family>FOUQUEREY</family>",
        "<code code=\"34117-2\" displayName=\"Historique et clinique\"",
    ] {
        assert!(xml.contains(expected), "{expected} missing");
    }
    // Sections left out say so, with the value sets' "no information" codes.
    for code in ["no-allergy-info", "no-problem-info"] {
        assert!(xml.contains(code), "{code} missing");
    }
}

#[test]
fn allergies_are_typed_in_snomed_ct_not_hl7_actcode() {
    let xml = String::from_utf8(build(FULL)).unwrap();
    assert!(xml.contains("code=\"416098002\""), "drug allergy");
    assert!(xml.contains("code=\"414285001\""), "food allergy");
    assert!(xml.contains("code=\"609328004\""), "allergy by default");
    assert!(!xml.contains("DALG"));
}

fn error(json: &str) -> VsmError {
    match Vsm::from_json(json.as_bytes()) {
        Ok(v) => panic!("{json} accepted: {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn malformed_input_names_the_field_at_fault() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"allergies": [{"label": "a"}, {"label": "b"}, {"label": "c", "start": "21/03/2012"}]}"#,
            "allergies[2].start",
        ),
        (
            r#"{"medical_history": [{"label": "x", "start": "2023-02-30"}]}"#,
            "medical_history[0].start",
        ),
        (
            r#"{"long_term_treatments": [{"label": "x", "end": "2024-13"}]}"#,
            "long_term_treatments[0].end",
        ),
        (
            r#"{"long_term_treatments": [{"label": "x", "start": "2024-10-02", "end": "2024-09-23"}]}"#,
            "long_term_treatments[0].end",
        ),
        (
            r#"{"chronic_pathologies": [{"start": "2012"}]}"#,
            "chronic_pathologies[0].label",
        ),
        (
            r#"{"chronic_pathologies": [{"label": "  "}]}"#,
            "chronic_pathologies[0].label",
        ),
        (
            r#"{"chronic_pathologies": [{"label": 3}]}"#,
            "chronic_pathologies[0].label",
        ),
        (
            r#"{"chronic_pathologies": {"label": "x"}}"#,
            "chronic_pathologies",
        ),
        (
            r#"{"chronic_pathologies": [{"label": "x", "strat": "2012"}]}"#,
            "chronic_pathologies[0].strat",
        ),
        (r#"{"chronic_pathologie": []}"#, "chronic_pathologie"),
        (
            r#"{"family_history": [{"label": "x", "code": {"code": "D57.1", "system": "CIM10"}}]}"#,
            "family_history[0].code.system",
        ),
        (
            r#"{"family_history": [{"label": "x", "code": {"system": "2.16.840.1.113883.6.3"}}]}"#,
            "family_history[0].code.code",
        ),
        (
            r#"{"allergies": [{"label": "x", "type": "DALG"}]}"#,
            "allergies[0].type",
        ),
        (
            r#"{"attending_physician": {"last_name": "FOUQUEREY", "first_name": "JEAN", "rpps": "123"}}"#,
            "attending_physician.rpps",
        ),
        (
            r#"{"attending_physician": {"last_name": "FOUQUEREY", "first_name": "JEAN"}}"#,
            "attending_physician",
        ),
        (
            r#"{"trusted_person": {"last_name": "X", "first_name": "Y", "phone": "call me"}}"#,
            "trusted_person.phone",
        ),
        (
            r#"{"trusted_person": {"last_name": "X", "first_name": "Y", "rpps": "99900063480"}}"#,
            "trusted_person.rpps",
        ),
        (
            r#"{"trusted_person": {"first_name": "Y", "phone": "0612345678"}}"#,
            "trusted_person.last_name",
        ),
    ];
    for (json, path) in cases {
        let e = error(json);
        assert_eq!(e.path(), Some(*path), "{json}: {e}");
        assert!(e.to_string().starts_with(path), "{json}: message {e}");
    }
}

#[test]
fn a_date_that_does_not_exist_is_told_apart_from_a_badly_written_one() {
    let e = error(r#"{"medical_history": [{"label": "x", "start": "2023-02-29"}]}"#);
    assert!(matches!(e, VsmError::NonexistentDate { .. }), "{e}");
    assert!(e.to_string().contains("does not exist"));
    // 2024 is a leap year.
    Vsm::from_json(br#"{"medical_history": [{"label": "x", "start": "2024-02-29"}]}"#).unwrap();
    let e = error(r#"{"medical_history": [{"label": "x", "start": "2023-2-3"}]}"#);
    assert!(matches!(e, VsmError::BadDate { .. }), "{e}");
    assert!(e.to_string().contains("YYYY-MM-DD"));
}

#[test]
fn input_that_is_not_json_is_refused() {
    assert!(matches!(error("{\"allergies\": ["), VsmError::NotJson(_)));
    assert!(matches!(error("[]"), VsmError::WrongType { .. }));
}

#[test]
fn a_header_of_another_type_is_refused_before_writing() {
    let mut header = vsm_header();
    header.type_code = Code::new("11490-0", "2.16.840.1.113883.6.1", "Lettre de liaison");
    let vsm = Vsm::from_json(MINIMAL.as_bytes()).unwrap();
    let mut out = Vec::new();
    let e = vsm::write_document(&mut out, &header, &vsm).unwrap_err();
    assert!(matches!(e, VsmError::NotAVsmType { .. }), "{e}");
    assert!(out.is_empty());
}
