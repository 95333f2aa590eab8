//! CDA R2 level 1 from a PDF and from text, the tutorial's patient: each output passes the
//! ANS validators (`check-cda.sh`: XSD + CI-SIS schematrons); bad inputs are refused with a
//! clear error and nothing written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use passerelle_clinical_documents::cda::level1::{self, Content, Level1Error};
use passerelle_clinical_documents::cda::{CdaError, write_document};
use passerelle_clinical_documents::codes::Code;
use passerelle_clinical_documents::header::builder::{AuthorInput, HeaderError, HeaderInput};
use passerelle_clinical_documents::header::{
    Author, AuthoringDevice, Confidentiality, DocumentHeader,
};
use passerelle_clinical_documents::ids::DocumentIds;
use passerelle_clinical_documents::testing::{self, doctor};
use passerelle_domain::{IdentityStatus, Ins, InsOid, NotQualified, PatientIdentity, Platform};
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

// Entries of the ANS value sets (jeuxDeValeurs/JDV_J07, J01, J04, J02).
fn patient(status: IdentityStatus) -> PatientIdentity {
    PatientIdentity {
        status,
        ..testing::patient_identity()
    }
}

fn input(key: &str, type_code: &str) -> HeaderInput {
    let author = doctor();
    HeaderInput {
        ids: DocumentIds::from_key(key).unwrap(),
        version: 1,
        replaces: None,
        title: "Lettre de liaison".into(),
        type_code: type_code.into(),
        effective_time: datetime!(2024-10-02 14:30:00 +2),
        confidentiality: Confidentiality::Normal,
        hidden_from: vec![],
        patient: patient(IdentityStatus::Qualifiee),
        platform: Platform::Production,
        custodian: author.structure().unwrap().clone(),
        author: author.into(),
        legal_authenticator: None,
        practice_setting: Code::new("AMBULATOIRE", "1.2.250.1.213.1.1.4.9", "Ambulatoire"),
        service_start: datetime!(2024-10-02 14:00:00 +2),
        service_end: Some(datetime!(2024-10-02 14:20:00 +2)),
        facility_type: Code::new("SA07", "1.2.250.1.71.4.2.4", "Cabinet individuel"),
    }
}

fn header(key: &str) -> DocumentHeader {
    input(key, "11490-0").build().unwrap()
}

/// A small valid PDF: one empty page, cross-reference offsets computed.
fn small_pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        pdf.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

const TEXT: &str = "Lettre de liaison\n\nMadame PAT-DOUZE a été vue ce jour en consultation.\nAsthme à l'effort — traitement inchangé.\n";

fn build(header: &DocumentHeader, kind: Content, bytes: &[u8]) -> Result<Vec<u8>, Level1Error> {
    level1::write(
        Vec::new(),
        header,
        kind,
        bytes,
        bytes.len() as u64,
        level1::DEFAULT_MAX_CONTENT_BYTES,
    )
    .map(|w| w.out)
}

fn base64_body(xml: &str) -> &str {
    let start = xml.find("representation=\"B64\">").unwrap() + "representation=\"B64\">".len();
    let end = xml[start..].find("</text>").unwrap();
    &xml[start..start + end]
}

#[test]
fn level1_documents_pass_the_ans_validators() {
    let pdf = small_pdf();
    let mut restricted = input("tutorial-cr", "11488-4");
    restricted.confidentiality = Confidentiality::Restricted;
    restricted.title = "CR de consultation".into();
    let cases: [(&str, DocumentHeader, Content, &[u8], &str); 3] = [
        (
            "letter-pdf",
            header("tutorial-pdf"),
            Content::Pdf,
            &pdf,
            "application/pdf",
        ),
        (
            "letter-text",
            header("tutorial-text"),
            Content::Text,
            TEXT.as_bytes(),
            "text/plain",
        ),
        (
            "cr-restricted-pdf",
            restricted.build().unwrap(),
            Content::Pdf,
            &pdf,
            "application/pdf",
        ),
    ];
    for (name, header, kind, bytes, media_type) in cases {
        let xml = build(&header, kind, bytes).unwrap();
        let text = String::from_utf8(xml.clone()).unwrap();
        // What a reader of the document sees: the patient's INS under the INS-NIR OID, the
        // content back intact, its media type.
        assert!(
            text.contains(r#"<id extension="248039263001064" root="1.2.250.1.213.1.4.8"/>"#),
            "{name}"
        );
        assert!(
            text.contains(&format!(r#"mediaType="{media_type}""#)),
            "{name}"
        );
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(base64_body(&text))
            .unwrap();
        assert_eq!(decoded, bytes, "{name}");
        assert_valid_cda(name, &xml);
    }
}

#[test]
fn the_hash_and_size_are_those_of_the_document_written() {
    use sha1::{Digest, Sha1};
    let pdf = small_pdf();
    let written = level1::write(
        Vec::new(),
        &header("hash"),
        Content::Pdf,
        pdf.as_slice(),
        pdf.len() as u64,
        level1::DEFAULT_MAX_CONTENT_BYTES,
    )
    .unwrap();
    assert_eq!(written.size, written.out.len() as u64);
    let expected: [u8; 20] = Sha1::digest(&written.out).into();
    assert_eq!(written.sha1, expected);
    assert_eq!(written.sha1_hex().len(), 40);
}

#[test]
fn content_spanning_many_blocks_comes_back_intact() {
    // Over several read blocks, a length not a multiple of 3, a reader giving little at a time.
    struct Trickle<'a>(&'a [u8]);
    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(1000).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let mut pdf = small_pdf();
    pdf.extend((0..1_000_001u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let xml = level1::write(
        Vec::new(),
        &header("big"),
        Content::Pdf,
        Trickle(&pdf),
        pdf.len() as u64,
        level1::DEFAULT_MAX_CONTENT_BYTES,
    )
    .unwrap()
    .out;
    use base64::Engine;
    let text = String::from_utf8(xml).unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(base64_body(&text))
        .unwrap();
    assert_eq!(decoded, pdf);
}

#[test]
fn the_same_key_gives_the_same_document_id() {
    let a = build(&header("retry-42"), Content::Text, TEXT.as_bytes()).unwrap();
    let b = build(&header("retry-42"), Content::Text, TEXT.as_bytes()).unwrap();
    // Same key, same inputs: byte-identical documents, so a retried deposit is the same one.
    assert_eq!(a, b);
    let c = build(&header("retry-43"), Content::Text, TEXT.as_bytes()).unwrap();
    assert_ne!(a, c);
}

#[test]
fn bad_content_is_refused_before_anything_is_written() {
    let h = header("bad");
    let pdf = small_pdf();
    let cases: [(&str, Content, &[u8], u64, u64); 5] = [
        (
            "not a pdf",
            Content::Pdf,
            b"<html>not a pdf</html>",
            22,
            1000,
        ),
        ("empty pdf", Content::Pdf, b"", 0, 1000),
        ("empty text", Content::Text, b"", 0, 1000),
        ("over the limit", Content::Pdf, &pdf, pdf.len() as u64, 100),
        ("not utf-8", Content::Text, b"caf\xe9 au lait", 12, 1000),
    ];
    for (name, kind, bytes, len, max) in cases {
        let mut out = Vec::new();
        let e = level1::write(&mut out, &h, kind, bytes, len, max).unwrap_err();
        match (name, &e) {
            ("not a pdf", Level1Error::NotPdf)
            | ("empty pdf" | "empty text", Level1Error::Empty { .. })
            | ("over the limit", Level1Error::TooLarge { max: 100, .. })
            | ("not utf-8", Level1Error::NotUtf8 { offset: 3 }) => {}
            _ => panic!("{name}: unexpected {e:?}"),
        }
        assert!(out.is_empty(), "{name}: {} bytes written", out.len());
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn a_file_is_built_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let h = header("file");
    let good = dir.path().join("letter.pdf");
    std::fs::write(&good, small_pdf()).unwrap();
    let out = dir.path().join("letter.xml");
    let written = level1::build_file(&good, &out, &h, Content::Pdf, 1 << 20).unwrap();
    assert_eq!(std::fs::metadata(&out).unwrap().len(), written.size);

    let bad = dir.path().join("fake.pdf");
    std::fs::write(&bad, b"GIF89a...").unwrap();
    let out2 = dir.path().join("fake.xml");
    let e = level1::build_file(&bad, &out2, &h, Content::Pdf, 1 << 20).unwrap_err();
    assert!(matches!(e, Level1Error::NotPdf), "{e:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!left.iter().any(|n| n.starts_with("fake.xml")), "{left:?}");
}

#[test]
fn bad_header_inputs_are_refused() {
    let e = input("t", "99999-9").build().unwrap_err();
    assert_eq!(e, HeaderError::UnknownTypeCode("99999-9".into()));
    assert!(e.to_string().contains("J07"), "{e}");

    for status in [
        IdentityStatus::Provisoire,
        IdentityStatus::Recuperee,
        IdentityStatus::Validee,
    ] {
        let mut i = input("t", "11490-0");
        i.patient = patient(status);
        assert_eq!(
            i.build().unwrap_err(),
            HeaderError::NotQualified(NotQualified::Status(status))
        );
    }
    let mut i = input("t", "11490-0");
    i.patient.ins = Ins::typed("2480392630010", "64", InsOid::TestNir).unwrap();
    assert_eq!(
        i.build().unwrap_err(),
        HeaderError::NotQualified(NotQualified::TestOid)
    );

    let mut i = input("t", "11490-0");
    i.patient.traits = None;
    assert_eq!(i.build().unwrap_err(), HeaderError::MissingTraits);

    let mut i = input("t", "11490-0");
    i.title = "  ".into();
    assert_eq!(i.build().unwrap_err(), HeaderError::EmptyTitle);
}

#[test]
fn a_header_without_traits_writes_nothing() {
    let mut h = header("no-traits");
    h.patient.identity.traits = None;
    let mut out = Vec::new();
    let e = write_document(&mut out, &h, &[], |_w| Ok::<(), CdaError>(())).unwrap_err();
    assert!(matches!(e, CdaError::MissingTraits), "{e:?}");
    assert!(out.is_empty());
}

/// The check above can fail: the same document with an author specialty outside J01 is refused.
#[test]
fn the_validator_refuses_a_broken_header() {
    let xml = build(&header("broken"), Content::Text, TEXT.as_bytes()).unwrap();
    let broken = String::from_utf8(xml)
        .unwrap()
        .replace(r#"code="G15_10/SM54""#, r#"code="G15_99""#);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.xml");
    std::fs::write(&file, broken).unwrap();
    let out = Command::new(shared_dir().join("conformance/check-cda.sh"))
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The organisation's software as author: the centre's system, Dr FOUQUEREY takes
/// responsibility for the letter.
fn organisation_input(key: &str) -> HeaderInput {
    let mut i = input(key, "11490-0");
    i.author = AuthorInput::Organisation {
        structure: i.custodian.clone(),
        device: AuthoringDevice {
            id: "PASSERELLE".into(),
            software_name: "Passerelle".into(),
            software_version: "0.1.0".into(),
        },
        role: "DISPOSITIF".into(),
    };
    i.legal_authenticator = Some((doctor(), datetime!(2024-10-02 14:35:00 +2)));
    i
}

#[test]
fn a_letter_authored_by_the_organisation_passes_the_ans_validators() {
    let h = organisation_input("tutorial-organisation").build().unwrap();
    assert!(
        matches!(h.author, Author::Organisation(_)),
        "{:?}",
        h.author
    );
    let pdf = small_pdf();
    let xml = build(&h, Content::Pdf, &pdf).unwrap();
    let text = String::from_utf8(xml.clone()).unwrap();
    let author = &text[text.find("<author>").unwrap()..text.find("</author>").unwrap()];
    // A reader sees the structure's system, its software and the structure, no person.
    for part in [
        r#"<id root="1.2.250.1.71.4.2.1" extension="1999000003/PASSERELLE"/>"#,
        r#"code="DISPOSITIF""#,
        r#"codeSystem="1.2.250.1.213.1.1.4.6""#,
        "<manufacturerModelName>Passerelle</manufacturerModelName>",
        "<softwareName>Passerelle 0.1.0</softwareName>",
        "<name>CABINET DU DR FOUQUEREY</name>",
    ] {
        assert!(author.contains(part), "{part} not in {author}");
    }
    assert!(!author.contains("assignedPerson"), "{author}");
    // The professional who takes responsibility authenticates it and performed the act.
    let legal = &text
        [text.find("<legalAuthenticator>").unwrap()..text.find("</legalAuthenticator>").unwrap()];
    assert!(legal.contains("<family>FOUQUEREY</family>"), "{legal}");
    assert!(
        legal.contains(r#"<time value="20241002143500+0200"/>"#),
        "{legal}"
    );
    let performer = &text[text.find("<performer").unwrap()..text.find("</performer>").unwrap()];
    assert!(
        performer.contains(r#"extension="899900063480""#),
        "{performer}"
    );
    assert_valid_cda("letter-organisation-pdf", &xml);
}

#[test]
fn an_organisation_author_is_checked() {
    // The model needs the professional who takes responsibility: no default to fall back on.
    let mut i = organisation_input("t");
    i.legal_authenticator = None;
    assert_eq!(
        i.build().unwrap_err(),
        HeaderError::MissingLegalAuthenticator
    );

    // A J01 code of a person, of a professional, or of no J01 entry: not a system's role.
    for role in ["EXP_PATIENT", "SECRETARIAT_MEDICAL", "G15_10/SM54", "ROBOT"] {
        let mut i = organisation_input("t");
        if let AuthorInput::Organisation { role: r, .. } = &mut i.author {
            *r = role.into();
        }
        let e = i.build().unwrap_err();
        assert_eq!(e, HeaderError::UnknownOrganisationRole(role.into()));
        assert!(e.to_string().contains("DISPOSITIF"), "{e}");
    }

    type Edit = fn(&mut AuthoringDevice);
    let cases: [(&str, Edit); 4] = [
        ("id", |d| d.id = "  ".into()),
        ("id", |d| d.id = "SYS/1".into()),
        ("software name", |d| d.software_name = String::new()),
        ("software version", |d| {
            d.software_version = "1\u{7}2".into()
        }),
    ];
    for (field, edit) in cases {
        let mut i = organisation_input("t");
        if let AuthorInput::Organisation { device, .. } = &mut i.author {
            edit(device);
        }
        match i.build().unwrap_err() {
            HeaderError::BadDevice { field: f, .. } => assert_eq!(f, field),
            e => panic!("{field}: unexpected {e:?}"),
        }
    }
}
