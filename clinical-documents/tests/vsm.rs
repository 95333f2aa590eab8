//! The VSM (Volet de Synthèse Médicale 2023.01) from JSON: a full, a minimal and the
//! tutorial's VSM each pass the ANS validators (`check-cda.sh`: XSD, CI-SIS schematrons and
//! `CI-SIS_VSM_2023.01.sch`); malformed input is refused with the JSON path at fault.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use passerelle_clinical_documents::codes::Code;
use passerelle_clinical_documents::header::{
    Author, Confidentiality, DocumentHeader, DocumentId, Patient, ProfessionalAuthor, ServiceEvent,
};
use passerelle_clinical_documents::vsm::{self, Vsm, VsmError};
use passerelle_domain::{
    IdentityStatus, IdentityTraits, Ins, InsOid, PatientIdentity, Platform, Professional,
    ProfessionalIdType, ProfessionalInput, QualifiedIns, StructureIdType, TraitsInput,
};
use time::macros::datetime;

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

/// The tutorial's patient, INS qualified.
fn patient() -> Patient {
    let traits = IdentityTraits::from_input(&TraitsInput {
        birth_name: "PAT-DOUZE".into(),
        used_name: None,
        first_names: vec!["NATHALIE".into()],
        sex: "F".into(),
        birth_date: "1948-03-21".into(),
        birth_place: None,
    })
    .unwrap();
    let identity = PatientIdentity {
        ins: Ins::typed("2480392630010", "64", InsOid::Nir).unwrap(),
        traits: Some(traits),
        status: IdentityStatus::Qualifiee,
    };
    Patient {
        ins: QualifiedIns::try_new(&identity, Platform::Production).unwrap(),
        identity,
    }
}

fn doctor() -> Professional {
    Professional::new(&ProfessionalInput {
        id_type: Some(ProfessionalIdType::Rpps),
        id: "99900063480",
        family_name: "FOUQUEREY",
        given_name: "JEAN",
        profession: "10",
        specialty: "SM54",
        structure_id_type: Some(StructureIdType::Finess),
        structure_id: "999000003",
        structure_name: "CABINET DU DR FOUQUEREY",
        activity_sector: "SA07",
    })
    .unwrap()
}

fn vsm_header() -> DocumentHeader {
    let author = doctor();
    let at = datetime!(2024-10-02 14:30:00 +2);
    DocumentHeader {
        id: DocumentId {
            root: "2.25.302824751102312343465867216131327466881".into(),
            extension: None,
        },
        set_id: DocumentId {
            root: "2.25.118830574339926917735211377346219283713".into(),
            extension: None,
        },
        version: 1,
        replaces: None,
        title: "Synthèse médicale".into(),
        type_code: vsm::document_type(),
        effective_time: at,
        confidentiality: Confidentiality::Normal,
        hidden_from: vec![],
        language: "fr-FR".into(),
        patient: patient(),
        author: Author::Professional(ProfessionalAuthor {
            professional: author.clone(),
            specialty: Code::new(
                "G15_10/SM54",
                "1.2.250.1.213.1.1.4.5",
                "Médecin - Médecine Générale (SM)",
            ),
            time: at,
        }),
        custodian: author.structure().unwrap().clone(),
        legal_authenticator: (author, at),
        service_event: ServiceEvent {
            practice_setting: Code::new("AMBULATOIRE", "1.2.250.1.213.1.1.4.9", "Ambulatoire"),
            start: datetime!(2024-10-02 14:00:00 +2),
            end: Some(datetime!(2024-10-02 14:20:00 +2)),
        },
        facility_type: Code::new("SA07", "1.2.250.1.71.4.2.4", "Cabinet individuel"),
    }
}

/// Every section, every kind of date, codes and persons.
const FULL: &str = r#"{
  "chronic_pathologies": [
    {"label": "Angine de poitrine instable", "code": {"code": "I20.0", "system": "2.16.840.1.113883.6.3", "display": "Angine de poitrine instable"}, "start": "2019-08-11"},
    {"label": "Asthme à l'effort", "start": "2012"}
  ],
  "medical_history": [
    {"label": "Pyélonéphrite aiguë", "start": "2018-04", "end": "2018-05"}
  ],
  "surgical_history": [
    {"label": "Dilatation intraluminale de 2 vaisseaux coronaires avec pose d'endoprothèse", "code": {"code": "DDAF004", "system": "1.2.250.1.213.2.5", "display": "Dilatation intraluminale de 2 vaisseaux coronaires"}, "start": "2018-01-14"}
  ],
  "allergies": [
    {"label": "Pénicillines", "type": "drug_allergy", "start": "2015"},
    {"label": "Arachide", "type": "food_allergy"},
    {"label": "Paracétamol", "code": {"code": "XM5DJ7", "system": "2.16.840.1.113883.6.347", "display": "Paracétamol"}, "start": "2018-06-03"}
  ],
  "lifestyle_risk_factors": [
    {"label": "Tabagisme, 25 paquets-années", "code": {"code": "74011-8", "system": "2.16.840.1.113883.6.1", "display": "Consommation tabagique"}},
    {"label": "Sédentarité"}
  ],
  "occupational_risk_factors": [
    {"label": "Exposition à l'amiante", "start": "1990", "end": "2005"}
  ],
  "family_history": [
    {"label": "Anémie drépanocytaire (mère)", "code": {"code": "D57.1", "system": "2.16.840.1.113883.6.3", "display": "Anémie drépanocytaire"}}
  ],
  "vigilance_points": [
    {"label": "Hypertriglycéridémie à surveiller"}
  ],
  "long_term_treatments": [
    {"label": "PLAVIX 75 mg, comprimé pelliculé", "code": {"code": "63564053", "system": "1.2.250.1.213.2.3.1", "display": "PLAVIX 75 mg, comprimé pelliculé"}, "start": "2019-08-11"},
    {"label": "DOLIPRANE 1000 mg", "start": "2024-09-23", "end": "2024-10-02"}
  ],
  "attending_physician": {"last_name": "FOUQUEREY", "first_name": "JEAN", "rpps": "99900063480", "phone": "01 23 45 67 89"},
  "trusted_person": {"last_name": "PAT-DOUZE", "first_name": "MARIE", "phone": "+33 6 12 34 56 78"}
}"#;

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
