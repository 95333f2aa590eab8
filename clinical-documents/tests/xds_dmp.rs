//! The DMP's additions to the XDS metadata: several documents with the signature entry and a
//! replacement, the ITI-18 queries, the ITI-57 updates, all passing check-xds.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use passerelle_clinical_documents::codes::{self, Code};
use passerelle_clinical_documents::header::*;
use passerelle_clinical_documents::xds::query::{FindDocumentsQuery, get_documents_request};
use passerelle_clinical_documents::xds::registry::{StoredEntry, UpdateSet, status};
use passerelle_clinical_documents::xds::{
    Content, ContentFacts, DepositSet, DocumentEntry, DocumentFormat, Submission,
    SubmissionSetInput, XdsError,
};
use passerelle_domain::{
    IdentityStatus, IdentityTraits, Ins, InsOid, PatientIdentity, Platform, Professional,
    ProfessionalIdType, ProfessionalInput, QualifiedIns, StructureIdType, TraitsInput,
};
use passerelle_soap::{Limits, XmlWriter, parse_document};
use time::macros::datetime;

fn professional() -> Professional {
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

fn header() -> DocumentHeader {
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
    let ins = QualifiedIns::try_new(&identity, Platform::Production).unwrap();
    let p = professional();
    let t = datetime!(2024-10-02 10:30 +02:00);
    DocumentHeader {
        id: DocumentId {
            root: "1.2.250.1.999.1.2.3".into(),
            extension: Some("DOC-42".into()),
        },
        set_id: DocumentId {
            root: "1.2.250.1.999.1.2.3".into(),
            extension: Some("SET-42".into()),
        },
        version: 1,
        replaces: None,
        title: "Lettre de liaison".into(),
        type_code: codes::type_code("11490-0").unwrap().clone(),
        effective_time: t,
        confidentiality: Confidentiality::Normal,
        hidden_from: vec![HiddenFrom::LegalRepresentatives],
        language: "fr-FR".into(),
        patient: Patient { ins, identity },
        author: Author::Professional(ProfessionalAuthor {
            specialty: codes::author_specialty_of(&p.vihf_roles()).unwrap().clone(),
            professional: p.clone(),
            time: t,
        }),
        custodian: p.structure().unwrap().clone(),
        legal_authenticator: (p, t),
        service_event: ServiceEvent {
            practice_setting: codes::practice_setting("AMBULATOIRE").unwrap().clone(),
            start: datetime!(2024-09-23 09:00 +02:00),
            end: Some(t),
        },
        facility_type: codes::healthcare_facility_type("SA07").unwrap().clone(),
    }
}

fn set() -> SubmissionSetInput {
    SubmissionSetInput {
        unique_id: "1.2.250.1.999.1.2.3.4.1".into(),
        source_id: "1.2.250.1.999.1.2".into(),
        submission_time: datetime!(2024-10-02 11:00 +02:00),
        content_type: Code::new("04", "1.2.250.1.213.2.2", "Hospitalisation de jour"),
    }
}

/// A small CDA-like XML document standing in for a real one (the CDA writer is elsewhere).
const CDA: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>Lettre de liaison</title></ClinicalDocument>\n";

fn write(name: &str, xml: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xds-dmp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, xml).unwrap();
    path
}

#[test]
fn two_documents_signature_and_replacement_pass_check_xds() {
    let facts = ContentFacts::of_cda(CDA, DocumentFormat::CdaText);
    let s = Submission::from_header(&header(), &facts, &set()).unwrap();
    let mut other_header = header();
    other_header.id.extension = Some("DOC-43".into());
    let other = DocumentEntry::from_header(&other_header, &facts).unwrap();
    let mut d = DepositSet::new(&s);
    let id2 = d.add_document(other.clone()).unwrap();
    assert_eq!(id2, "Document02");
    assert!(matches!(
        d.add_document(other),
        Err(XdsError::DuplicateUniqueId(_))
    ));
    d.replace(
        "Document01",
        "urn:uuid:7953af1a-ba1c-11eb-816f-0050569e422e",
    )
    .unwrap();
    let sig = d
        .add_signature(
            "1.2.250.1.999.1.2.3.4.9",
            12,
            "0123456789abcdef0123456789abcdef01234567",
        )
        .unwrap();
    let xml = d
        .provide_and_register_request(&[
            ("Document01", Content::Inline(CDA)),
            (id2.as_str(), Content::Inline(CDA)),
            (sig.as_str(), Content::Inline(b"<Signature/>")),
        ])
        .unwrap();
    common::check("check-xds.sh", &write("pnr.xml", &xml));
    // A member without content is an error, not a request without its document.
    assert!(
        d.provide_and_register_request(&[("Document01", Content::Inline(CDA))])
            .is_err()
    );
    // The signature entry reads back as one.
    let doc = parse_document(&xml, &Limits::default()).unwrap();
    let list = doc
        .descendant(
            "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0",
            "RegistryObjectList",
        )
        .unwrap();
    let entries: Vec<StoredEntry> = list
        .children_named(
            "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0",
            "ExtrinsicObject",
        )
        .map(|e| StoredEntry::from_element(e).unwrap())
        .collect();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        entries
            .iter()
            .map(StoredEntry::is_signature)
            .collect::<Vec<_>>(),
        [false, false, true]
    );
    let conf: Vec<String> = entries[2]
        .confidentiality()
        .into_iter()
        .map(|c| c.code)
        .collect();
    assert_eq!(conf, ["N", "MASQUE_PS", "INVISIBLE_PATIENT"]);
}

#[test]
fn queries_and_updates_pass_check_xds() {
    let q = FindDocumentsQuery {
        patient_id: "248039263001064^^^&1.2.250.1.213.1.4.8&ISO^NH".into(),
        statuses: vec![status::APPROVED.into(), status::ARCHIVED.into()],
        creation_time_from: Some("20240101000000".into()),
        creation_time_to: None,
        type_codes: vec![codes::type_code("11490-0").unwrap().clone()],
        class_codes: vec![],
    };
    common::check("check-xds.sh", &write("find.xml", &q.request().unwrap()));
    common::check(
        "check-xds.sh",
        &write(
            "get.xml",
            &get_documents_request(&["1.2.3".into()]).unwrap(),
        ),
    );
    let facts = ContentFacts::of_cda(CDA, DocumentFormat::CdaText);
    let s = Submission::from_header(&header(), &facts, &set()).unwrap();
    let u = UpdateSet {
        unique_id: "1.2.250.1.999.1.2.3.4.2".into(),
        source_id: s.source_id.clone(),
        submission_time: s.submission_time.clone(),
        content_type: s.content_type.clone(),
        patient_id: s.patient_id.clone(),
        title: s.title.clone(),
        author: s.author.clone(),
    };
    let mut w = XmlWriter::new().unwrap();
    u.write_status_update(&mut w, "urn:uuid:1", status::APPROVED, status::ARCHIVED)
        .unwrap();
    common::check("check-xds.sh", &write("status.xml", &w.finish().unwrap()));
    // A metadata update of an entry read back from a submission.
    let xml = s
        .submit_objects_request(passerelle_clinical_documents::xds::MetadataTarget::Iti41)
        .unwrap();
    let doc = parse_document(&xml, &Limits::default()).unwrap();
    let eo = doc
        .descendant(
            "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0",
            "ExtrinsicObject",
        )
        .unwrap();
    let mut stored = StoredEntry::from_element(eo).unwrap();
    stored.lid = "urn:uuid:4f196ae8-5549-11e9-9478-0050569e422e".into();
    stored.version = Some("1".into());
    let masked: Vec<Code> = ["N", "MASQUE_PS"]
        .iter()
        .map(|c| codes::confidentiality(c).unwrap().clone())
        .collect();
    let mut w = XmlWriter::new().unwrap();
    u.write_metadata_update(&mut w, &stored, &masked).unwrap();
    let out = w.finish().unwrap();
    common::check("check-xds.sh", &write("mask.xml", &out));
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(r#"nodeRepresentation="MASQUE_PS""#));
    assert!(!text.contains("INVISIBLE_REPRESENTANTS_LEGAUX"));
}
