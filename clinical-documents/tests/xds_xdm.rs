//! Submissions and XDM packages built from a document header pass the conformance checks.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use passerelle_clinical_documents::codes::Code;
use passerelle_clinical_documents::header::*;
use passerelle_clinical_documents::xdm;
use passerelle_clinical_documents::xds::{
    ContentFacts, DocumentFormat, MetadataTarget, Submission, XdsError,
};
use passerelle_domain::Platform;

use passerelle_clinical_documents::testing::{CDA, doctor, letter_42, submission_set_42};

#[test]
fn iti41_submission_derived_from_the_header_passes_check_xds() {
    let facts = ContentFacts::of_cda(CDA, DocumentFormat::CdaText);
    let s = Submission::from_header(&letter_42(), &facts, &submission_set_42()).unwrap();
    let d = &s.document;
    assert_eq!(
        d.patient_id,
        "248039263001064^^^&1.2.250.1.213.1.4.8&ISO^NH"
    );
    assert_eq!(d.unique_id, "1.2.250.1.999.1.2.3^DOC-42");
    assert_eq!(d.class_code.code, "10");
    assert_eq!(d.format_code.code, "urn:ihe:iti:xds-sd:text:2008");
    assert_eq!(d.author.specialty.code, "G15_10/SM54");
    assert_eq!(
        d.author.person,
        "899900063480^FOUQUEREY^JEAN^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"
    );
    assert_eq!(
        d.confidentiality
            .iter()
            .map(|c| c.code.as_str())
            .collect::<Vec<_>>(),
        ["N", "INVISIBLE_REPRESENTANTS_LEGAUX"]
    );
    assert_eq!(d.creation_time, "20241002083000");
    assert_eq!(
        d.source_patient_info,
        [
            "PID-5|PAT-DOUZE^NATHALIE^^^^^L",
            "PID-7|19480321",
            "PID-8|F"
        ]
    );
    assert_eq!(d.size, CDA.len() as u64);

    let dir = tempfile::tempdir().unwrap();
    let body = s.provide_and_register_request(Some(CDA)).unwrap();
    let path = dir.path().join("iti41.xml");
    std::fs::write(&path, &body).unwrap();
    common::check("check-xds.sh", &path);

    let bare = s.submit_objects_request(MetadataTarget::Iti41).unwrap();
    let path = dir.path().join("submit.xml");
    std::fs::write(&path, &bare).unwrap();
    common::check("check-xds.sh", &path);
}

#[test]
fn xdm_package_passes_check_xdm() {
    let dir = tempfile::tempdir().unwrap();
    for format in [DocumentFormat::CdaPdf, DocumentFormat::CdaText] {
        let zip = xdm::package(&letter_42(), CDA, format, &submission_set_42()).unwrap();
        let path = dir.path().join("IHE_XDM.zip");
        std::fs::write(&path, &zip).unwrap();
        common::check("check-xdm.sh", &path);
        // A PDF's CDA (base64 of compressed bytes) is stored, a text's deflated.
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        let document = archive.by_name("IHE_XDM/SUBSET01/DOC0001.XML").unwrap();
        let expected = match format {
            DocumentFormat::CdaPdf => zip::CompressionMethod::Stored,
            _ => zip::CompressionMethod::Deflated,
        };
        assert_eq!(document.compression(), expected, "{format:?}");
    }
}

#[test]
fn an_unknown_type_code_is_a_typed_error() {
    let mut h = letter_42();
    h.type_code = Code::new("99999-9", "2.16.840.1.113883.6.1", "?");
    let facts = ContentFacts::of_cda(CDA, DocumentFormat::CdaPdf);
    let err = Submission::from_header(&h, &facts, &submission_set_42()).unwrap_err();
    assert!(
        matches!(&err, XdsError::UnknownTypeCode { code, .. } if code == "99999-9"),
        "{err}"
    );
    assert!(err.to_string().contains("JDV_J07"));
    // A right code in the wrong code system is refused too.
    h.type_code = Code::new("11490-0", "1.2.250.1.213.1.1.4.12", "?");
    assert!(matches!(
        Submission::from_header(&h, &facts, &submission_set_42()),
        Err(XdsError::UnknownTypeCode { .. })
    ));
    assert!(matches!(
        xdm::package(&h, CDA, DocumentFormat::CdaPdf, &submission_set_42()),
        Err(xdm::XdmError::Metadata(XdsError::UnknownTypeCode { .. }))
    ));
}

#[test]
fn bad_content_facts_and_ids_are_refused() {
    let mut facts = ContentFacts::of_cda(CDA, DocumentFormat::CdaPdf);
    facts.sha1_hex = "xyz".into();
    assert!(matches!(
        Submission::from_header(&letter_42(), &facts, &submission_set_42()),
        Err(XdsError::BadHash(_))
    ));
    let facts = ContentFacts::of_cda(b"", DocumentFormat::CdaPdf);
    assert!(matches!(
        Submission::from_header(&letter_42(), &facts, &submission_set_42()),
        Err(XdsError::EmptyContent)
    ));
    let facts = ContentFacts::of_cda(CDA, DocumentFormat::CdaPdf);
    let mut s = submission_set_42();
    s.unique_id = "urn:uuid:nope".into();
    assert!(matches!(
        Submission::from_header(&letter_42(), &facts, &s),
        Err(XdsError::NotAnOid { .. })
    ));
}

/// A level-1 PDF letter authored by the organisation's software, Dr FOUQUEREY taking
/// responsibility: its XDS author is the structure's system, its submission and XDM package
/// pass the checks.
#[test]
fn a_letter_authored_by_the_organisation_gives_a_conformant_submission_and_package() {
    use passerelle_clinical_documents::cda::level1::{self, Content};
    use passerelle_clinical_documents::header::builder::{AuthorInput, HeaderInput};
    use passerelle_clinical_documents::ids::DocumentIds;

    let h = letter_42();
    let p = doctor();
    let structure = p.structure().unwrap().clone();
    let header = HeaderInput {
        ids: DocumentIds::from_key("organisation-letter").unwrap(),
        version: 1,
        replaces: None,
        title: h.title.clone(),
        type_code: "11490-0".into(),
        effective_time: h.effective_time,
        confidentiality: Confidentiality::Normal,
        hidden_from: vec![],
        patient: h.patient.identity.clone(),
        platform: Platform::Production,
        author: AuthorInput::Organisation {
            structure: structure.clone(),
            device: AuthoringDevice {
                id: "PASSERELLE".into(),
                software_name: "Passerelle".into(),
                software_version: "0.1.0".into(),
            },
            role: "DISPOSITIF".into(),
        },
        custodian: structure,
        legal_authenticator: Some((p, h.effective_time)),
        practice_setting: h.service_event.practice_setting.clone(),
        service_start: h.service_event.start,
        service_end: h.service_event.end,
        facility_type: h.facility_type.clone(),
    }
    .build()
    .unwrap();
    let pdf =
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
    let cda = level1::write(
        Vec::new(),
        &header,
        Content::Pdf,
        &pdf[..],
        pdf.len() as u64,
        level1::DEFAULT_MAX_CONTENT_BYTES,
    )
    .unwrap()
    .out;
    let facts = ContentFacts::of_cda(&cda, DocumentFormat::CdaPdf);
    let s = Submission::from_header(&header, &facts, &submission_set_42()).unwrap();
    for author in [&s.document.author, &s.author] {
        assert_eq!(
            author.person,
            "1999000003/PASSERELLE^Passerelle^^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"
        );
        assert_eq!(
            author.institution.as_deref(),
            Some("CABINET DU DR FOUQUEREY^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1999000003")
        );
        assert_eq!(
            (
                author.specialty.code.as_str(),
                author.specialty.system.as_str()
            ),
            ("DISPOSITIF", "1.2.250.1.213.1.1.4.6")
        );
    }
    // The professional who took responsibility is the legal authenticator.
    assert_eq!(
        s.document.legal_authenticator,
        "899900063480^FOUQUEREY^JEAN^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iti41-organisation.xml");
    std::fs::write(&path, s.provide_and_register_request(Some(&cda)).unwrap()).unwrap();
    common::check("check-xds.sh", &path);
    let zip = xdm::package(&header, &cda, DocumentFormat::CdaPdf, &submission_set_42()).unwrap();
    let path = dir.path().join("IHE_XDM.zip");
    std::fs::write(&path, &zip).unwrap();
    common::check("check-xdm.sh", &path);
}

/// Two letters of one patient in one package: one `DOCnnnn.XML` each, each registered with
/// its own `URI`, size and hash (the writer's facts, not computed again); the package passes
/// check-xdm. A document of another patient is refused.
#[test]
fn a_package_of_several_documents_passes_check_xdm() {
    use passerelle_clinical_documents::letter;
    use passerelle_clinical_documents::testing::letter;
    use passerelle_clinical_documents::xdm::{XdmDocument, XdmError, package_documents};
    use time::macros::datetime;

    let first = letter_42();
    let mut second = letter("DOC-43", datetime!(2024-10-03 09:00 +02:00));
    second.title = "Compte rendu de consultation".into();
    let pdf = letter::letter_cda(&first, letter::PDF, b"%PDF-1.4\n%%EOF\n").unwrap();
    let text = letter::letter_cda(&second, letter::TEXT, "Bien reçu.".as_bytes()).unwrap();
    let documents = [
        XdmDocument {
            header: &first,
            cda: &pdf.bytes,
            facts: &pdf.facts,
        },
        XdmDocument {
            header: &second,
            cda: &text.bytes,
            facts: &text.facts,
        },
    ];
    let package = package_documents(&documents, &submission_set_42()).unwrap();
    assert_eq!(
        package.entries,
        [
            "INDEX.HTM",
            "README.TXT",
            "IHE_XDM/SUBSET01/METADATA.XML",
            "IHE_XDM/SUBSET01/DOC0001.XML",
            "IHE_XDM/SUBSET01/DOC0002.XML"
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("IHE_XDM.zip");
    std::fs::write(&path, &package.zip).unwrap();
    common::check("check-xdm.sh", &path);

    // check-xdm compares each size and hash with the file: a wrong fact is caught.
    let mut wrong = text.facts.clone();
    wrong.size += 1;
    let bad = [
        documents[0],
        XdmDocument {
            facts: &wrong,
            ..documents[1]
        },
    ];
    let package = package_documents(&bad, &submission_set_42()).unwrap();
    std::fs::write(&path, &package.zip).unwrap();
    let out = std::process::Command::new(common::shared_dir().join("conformance/check-xdm.sh"))
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    let mut other = second.clone();
    other.patient.identity.ins =
        passerelle_domain::Ins::typed("1090763220834", "89", passerelle_domain::InsOid::Nir)
            .unwrap();
    other.patient.ins = passerelle_domain::QualifiedIns::try_new(
        &other.patient.identity,
        passerelle_domain::Platform::Production,
    )
    .unwrap();
    let mixed = [
        documents[0],
        XdmDocument {
            header: &other,
            ..documents[1]
        },
    ];
    assert!(matches!(
        package_documents(&mixed, &submission_set_42()),
        Err(XdmError::Metadata(XdsError::PatientMismatch))
    ));
    assert!(matches!(
        package_documents(&[], &submission_set_42()),
        Err(XdmError::NoDocument)
    ));
}
