//! The DMP's additions to the XDS metadata: several documents with the signature entry and a
//! replacement, the ITI-18 queries, the ITI-57 updates, all passing check-xds.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use passerelle_clinical_documents::codes::{self, Code};
use passerelle_clinical_documents::xds::query::{FindDocumentsQuery, get_documents_request};
use passerelle_clinical_documents::xds::registry::{StoredEntry, UpdateSet, status};
use passerelle_clinical_documents::xds::{
    Content, ContentFacts, DepositSet, DocumentEntry, DocumentFormat, Submission, XdsError,
};
use passerelle_soap::{Limits, XmlWriter, parse_document};

use passerelle_clinical_documents::testing::{CDA, letter_42, submission_set_42};

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
    let s = Submission::from_header(&letter_42(), &facts, &submission_set_42()).unwrap();
    let mut other_header = letter_42();
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
    let s = Submission::from_header(&letter_42(), &facts, &submission_set_42()).unwrap();
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
