//! How long a VSM takes to build: JSON checked, then the whole CDA document written (the
//! issue asks for under 1 ms). `cargo bench -p passerelle-clinical-documents --bench vsm`
//! prints the mean and the slowest of 2,000 builds of the full VSM (every section).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use passerelle_clinical_documents::codes::Code;
use passerelle_clinical_documents::header::{
    Author, Confidentiality, DocumentHeader, DocumentId, Patient, ProfessionalAuthor, ServiceEvent,
};
use passerelle_clinical_documents::vsm::{self, Vsm};
use passerelle_domain::{
    IdentityStatus, IdentityTraits, Ins, InsOid, PatientIdentity, Platform, Professional,
    ProfessionalIdType, ProfessionalInput, QualifiedIns, StructureIdType, TraitsInput,
};
use time::macros::datetime;

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

fn main() {
    let header = vsm_header();
    let build = || {
        let vsm = Vsm::from_json(FULL.as_bytes()).unwrap();
        vsm::write_document(Vec::with_capacity(32 * 1024), &header, &vsm)
            .unwrap()
            .out
    };
    let size = build().len();
    for _ in 0..200 {
        std::hint::black_box(build());
    }
    const RUNS: u32 = 2_000;
    let mut slowest = Duration::ZERO;
    let all = Instant::now();
    for _ in 0..RUNS {
        let one = Instant::now();
        std::hint::black_box(build());
        slowest = slowest.max(one.elapsed());
    }
    let mean = all.elapsed() / RUNS;
    println!("full VSM ({size} bytes): mean {mean:?}, slowest {slowest:?} over {RUNS} builds");
}
