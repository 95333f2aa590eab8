//! Reading received messages: our own messages read back (the same documents, hashes and
//! patient), messages shaped differently by Python's `email` package, and each bad input set
//! aside with the error that says what is wrong; garbled input never panics.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::io::{Cursor, Read, Write};
use std::process::Command;

use base64::Engine;
use bytes::Bytes;
use mss_service::address::MssAddress;
use mss_service::inbox::{
    self, InboxError, InsFlag, Limits, MessageOrigin, MetadataError, XdmError, mime::MimeError,
};
use mss_service::message::{self, AttachedDocument, Body, DocumentAttachments, MessageSpec};
use mss_service::rules::{self, Decision, Flags, PatientIns, SendCase};
use passerelle_clinical_documents::header::DocumentHeader;
use passerelle_clinical_documents::letter;
use passerelle_clinical_documents::testing::letter_42;
use passerelle_domain::Platform;
use sha1::{Digest, Sha1};
use time::macros::datetime;
use zip::write::SimpleFileOptions;

const FROM: &str = "lps@passerelle-sandbox.mssante.fr";
const DOCTOR: &str = "jean.fouquerey@passerelle-sandbox.mssante.fr";
const SECRETARIAT: &str = "secretariat@passerelle-sandbox.mssante.fr";
const PATIENT: &str = "248039263001064@patient.mssante.fr";
const KEY: &str = "LETTRE-2024-0042";

fn origin() -> MessageOrigin {
    MessageOrigin {
        mailbox: DOCTOR.into(),
        uid_validity: 1_700_000_000,
        uid: 42,
    }
}

fn parse(raw: &[u8]) -> Result<inbox::ReceivedMessage, InboxError> {
    inbox::parse(raw, &origin(), &Limits::default())
}

fn address(s: &str) -> MssAddress {
    MssAddress::parse(s).unwrap()
}

fn pdf(n: usize) -> Bytes {
    let mut v = b"%PDF-1.4\n".to_vec();
    let mut x: u32 = 0x1234_5678;
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push((x >> 24) as u8);
    }
    v.extend_from_slice(b"\n%%EOF\n");
    Bytes::from(v)
}

fn decision() -> Decision {
    let ins = letter_42().patient.ins.clone();
    rules::judge(&SendCase {
        to: &[address(DOCTOR)],
        cc: &[address(SECRETARIAT)],
        to_patient: true,
        patient: PatientIns::Qualified(&ins),
        document: Some(Flags::default()),
    })
    .unwrap()
}

fn spec() -> MessageSpec {
    MessageSpec {
        from: address(FROM),
        reply_to: None,
        subject: "Lettre de liaison — sortie du 2 octobre".into(),
        body: Body::text("Cher confrère,\n\nci-joint la lettre de liaison.\n\nBien à vous"),
        patient_body: Some(Body::text("Bonjour Madame,\nci-joint votre lettre.")),
        nil: Some("DEV935997".into()),
        patient_may_not_reply: true,
        acknowledgement: true,
        idempotency_key: KEY.into(),
        date: datetime!(2024-10-02 11:00 +02:00),
    }
}

/// Our messages of a PDF letter (professionals, patient), the CDA and the PDF inside.
fn our_messages(pdf_size: usize) -> (Vec<Vec<u8>>, Vec<u8>, Bytes) {
    let header: DocumentHeader = letter_42();
    let content = pdf(pdf_size);
    let cda = letter::letter_cda(&header, letter::PDF, &content).unwrap();
    let cda_bytes = cda.bytes.clone();
    let set = message::submission_set(
        KEY,
        passerelle_clinical_documents::testing::SOURCE_ID,
        datetime!(2024-10-02 11:00 +02:00),
        message::default_content_type(),
    )
    .unwrap();
    let attachments = DocumentAttachments::new(
        vec![AttachedDocument {
            header: &header,
            cda,
            pdf: Some(content.clone()),
        }],
        &set,
    )
    .unwrap();
    let messages = message::build(&decision(), &spec(), Some(&attachments)).unwrap();
    (
        messages.iter().map(|m| m.to_vec()).collect(),
        cda_bytes,
        content,
    )
}

/// The `IHE_XDM.zip` of one of our messages, as received.
fn our_zip() -> Vec<u8> {
    let (messages, ..) = our_messages(3_000);
    let m = parse(&messages[0]).unwrap();
    m.attachments
        .iter()
        .find(|a| a.file_name.as_deref() == Some("IHE_XDM.zip"))
        .unwrap()
        .bytes
        .to_vec()
}

/// A message carrying `zip` as its `IHE_XDM.zip`.
fn message_with_zip(zip: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(zip);
    let mut lines = String::new();
    for chunk in b64.as_bytes().chunks(76) {
        lines.push_str(std::str::from_utf8(chunk).unwrap());
        lines.push_str("\r\n");
    }
    format!(
        "From: {FROM}\r\nTo: {DOCTOR}\r\nSubject: test\r\nMessage-ID: <t@x>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
--b1\r\nContent-Type: application/zip; name=\"IHE_XDM.zip\"\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"IHE_XDM.zip\"\r\n\r\n{lines}--b1--\r\n"
    )
    .into_bytes()
}

/// The entries of a zip, in order.
fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    (0..a.len())
        .map(|i| {
            let mut f = a.by_index(i).unwrap();
            let mut v = Vec::new();
            f.read_to_end(&mut v).unwrap();
            (f.name().unwrap().into_owned(), v)
        })
        .collect()
}

/// A zip of `files`, deflated.
fn zip_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in files {
        w.start_file(
            name.as_str(),
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Our zip with the entry ending in `suffix` changed by `f`.
fn altered(suffix: &str, f: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut files = entries(&our_zip());
    let e = files.iter_mut().find(|(n, _)| n.ends_with(suffix)).unwrap();
    f(&mut e.1);
    zip_of(&files)
}

fn sha1_hex(b: &[u8]) -> String {
    Sha1::digest(b).iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------
// Our own messages, read back

#[test]
fn our_messages_read_back_with_their_documents_and_patient() {
    let (messages, cda, content) = our_messages(150_000);
    assert_eq!(messages.len(), 2);
    for (i, raw) in messages.iter().enumerate() {
        let m = parse(raw).unwrap();
        let patient_message = i == 1;
        assert!(!m.message_id_derived);
        assert!(
            m.message_id.starts_with('<')
                && m.message_id.ends_with("@passerelle-sandbox.mssante.fr>")
        );
        assert_eq!(m.from.as_deref(), Some(FROM));
        if patient_message {
            assert_eq!(m.to, [PATIENT]);
            assert!(m.cc.is_empty());
            assert_eq!(
                m.text.as_deref(),
                Some("Bonjour Madame,\nci-joint votre lettre.")
            );
        } else {
            assert_eq!(m.to, [DOCTOR]);
            assert_eq!(m.cc, [SECRETARIAT]);
            assert_eq!(m.text.as_deref(), Some(spec().body.text.as_str()));
        }
        assert_eq!(m.subject, "Lettre de liaison — sortie du 2 octobre");
        assert_eq!(m.date.as_deref(), Some("Wed, 02 Oct 2024 11:00:00 +0200"));
        assert_eq!(m.disposition_notification_to.as_deref(), Some(FROM));
        assert!(m.html.as_deref().unwrap().contains("<p>"));
        assert_eq!(m.mss_headers.codecda, ["11490-0"]);
        assert_eq!(m.mss_headers.ins, Some(InsFlag::Yes));
        assert_eq!(m.mss_headers.nil.as_deref(), Some("DEV935997"));
        assert_eq!(m.mss_headers.no_reply, patient_message);

        // The attachments: the zip, then the PDF as it was given.
        let names: Vec<_> = m
            .attachments
            .iter()
            .map(|a| (a.file_name.clone().unwrap(), a.media_type.clone()))
            .collect();
        assert_eq!(names[0], ("IHE_XDM.zip".into(), "application/zip".into()));
        assert_eq!(names[1].1, "application/pdf");
        assert!(names[1].0.ends_with(".pdf"));
        assert_eq!(m.attachments[1].bytes, content);
        assert_eq!(m.attachments[1].size, content.len() as u64);

        // The XDM: one document, the CDA sent, its metadata as written.
        let xdm = m.xdm.as_ref().unwrap();
        assert_eq!(xdm.documents.len(), 1);
        let d = &xdm.documents[0];
        assert_eq!(d.bytes.as_ref(), cda.as_slice());
        assert_eq!(d.path, "IHE_XDM/SUBSET01/DOC0001.XML");
        assert_eq!(d.entry.uri, "DOC0001.XML");
        assert_eq!(d.entry.size, cda.len() as u64);
        assert_eq!(d.entry.hash, sha1_hex(&cda));
        assert_eq!(d.entry.mime_type, "text/xml");
        assert_eq!(d.entry.type_code.as_ref().unwrap().code, "11490-0");
        assert!(!d.entry.confidentiality.is_empty());
        assert!(!d.entry.unique_id.is_empty());
        assert!(!d.entry.title.is_empty());
        let set = &xdm.submission_sets[0];
        assert_eq!(
            set.source_id.as_deref(),
            Some(passerelle_clinical_documents::testing::SOURCE_ID)
        );
        assert_eq!(set.content_type.as_ref().unwrap().code, "04");
        assert!(
            xdm.entries
                .contains(&"IHE_XDM/SUBSET01/METADATA.XML".to_owned())
        );

        // The patient: the document's INS, with the INS-NIR OID.
        let patient = m.patient.as_ref().unwrap();
        assert_eq!(&patient.ins, letter_42().patient.ins.ins());
        assert!(patient.oid_qualifies(Platform::Production));

        // Nothing personal in the debug form.
        let debug = format!("{m:?}");
        for personal in ["2480392630010", "PAT-DOUZE", "Madame", "patient.mssante"] {
            assert!(!debug.contains(personal), "{personal} in {debug}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Messages of another shape, written by Python's `email` package

const WRITER: &str = r#"
import sys, os
from email.message import EmailMessage
from email import policy
out = sys.argv[1]

# 1. mixed { alternative { plain (QP, latin-1), related { html, image } }, PDF (RFC 2231 name) }
m = EmailMessage()
m["From"] = "Dr Émile Durand <emile.durand@hopital.mssante.fr>"
m["To"] = "\"Fouquerey, Jean\" <jean.fouquerey@passerelle-sandbox.mssante.fr>, b@x.mssante.fr"
m["Subject"] = "Compte rendu d'échographie — très urgent"
m["Message-ID"] = "<py-1@hopital.mssante.fr>"
m.set_content("Cher confrère,\nvoici le compte rendu : café à 10 h, été.\n", charset="latin-1", cte="quoted-printable")
m.add_alternative("<p>Cher confrère, <img src='cid:logo'></p>", subtype="html")
html = m.get_payload()[1]
html.add_related(b"\x89PNG fake image", maintype="image", subtype="png", cid="<logo>")
m.add_attachment(b"%PDF-1.4 fake\n" * 10, maintype="application", subtype="pdf",
                 filename="Synthèse médicale été.pdf")
open(os.path.join(out, "nested.eml"), "wb").write(m.as_bytes(policy=policy.SMTP))

# 2. a single text/plain part, 8bit UTF-8, no Message-ID
m = EmailMessage()
m["From"] = "a@x.mssante.fr"
m["To"] = "b@y.mssante.fr"
m["Subject"] = "Résultat"
m.set_content("Ligne 1 éà\nLigne 2\n", charset="utf-8", cte="8bit")
open(os.path.join(out, "single.eml"), "wb").write(m.as_bytes(policy=policy.SMTP))

# 3. a long non-ASCII file name, split by RFC 2231 continuations
m = EmailMessage()
m["From"] = "a@x.mssante.fr"
m["To"] = "b@y.mssante.fr"
m["Subject"] = "pièce"
m["Message-ID"] = "<py-3@x>"
m.set_content("voir pièce jointe")
m.add_attachment(b"data" * 100, maintype="application", subtype="octet-stream",
                 filename="Compte rendu opératoire détaillé du patient hospitalisé en chirurgie orthopédique.txt")
open(os.path.join(out, "long-name.eml"), "wb").write(m.as_bytes(policy=policy.SMTP))
"#;

fn python_messages() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(WRITER)
        .arg(dir.path())
        .output()
        .expect("python3 is needed to write the messages");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[test]
fn messages_written_by_python_are_read() {
    let dir = python_messages();
    let read = |name: &str| parse(&std::fs::read(dir.path().join(name)).unwrap()).unwrap();

    let m = read("nested.eml");
    assert_eq!(m.message_id, "<py-1@hopital.mssante.fr>");
    assert_eq!(m.from.as_deref(), Some("emile.durand@hopital.mssante.fr"));
    assert_eq!(
        m.to,
        [
            "jean.fouquerey@passerelle-sandbox.mssante.fr",
            "b@x.mssante.fr"
        ]
    );
    assert_eq!(m.subject, "Compte rendu d'échographie — très urgent");
    assert_eq!(
        m.text.as_deref(),
        Some("Cher confrère,\nvoici le compte rendu : café à 10 h, été.\n")
    );
    assert!(m.html.as_deref().unwrap().contains("cid:logo"));
    assert_eq!(m.attachments.len(), 2, "{:?}", m.attachments);
    assert_eq!(m.attachments[0].media_type, "image/png");
    assert_eq!(m.attachments[0].bytes.as_ref(), b"\x89PNG fake image");
    assert_eq!(
        m.attachments[1].file_name.as_deref(),
        Some("Synthèse médicale été.pdf")
    );
    assert_eq!(m.attachments[1].bytes, b"%PDF-1.4 fake\n".repeat(10));
    assert!(m.xdm.is_none() && m.patient.is_none());

    let m = read("single.eml");
    assert!(m.message_id_derived);
    assert_eq!(m.message_id, origin().derived_message_id());
    assert_eq!(m.subject, "Résultat");
    assert_eq!(m.text.as_deref(), Some("Ligne 1 éà\nLigne 2\n"));
    assert!(m.attachments.is_empty());

    let m = read("long-name.eml");
    assert_eq!(
        m.attachments[0].file_name.as_deref(),
        Some(
            "Compte rendu opératoire détaillé du patient hospitalisé en chirurgie orthopédique.txt"
        )
    );
    assert_eq!(m.attachments[0].bytes, b"data".repeat(100));
}

// ---------------------------------------------------------------------------------------
// Bad inputs

#[test]
fn malformed_mime_is_refused_with_what_is_wrong() {
    let (messages, ..) = our_messages(3_000);
    let raw = &messages[0];
    // Truncated: the closing boundary is missing.
    let cut = &raw[..raw.len() - 200];
    let e = parse(cut).unwrap_err();
    assert!(
        matches!(e, InboxError::Mime(MimeError::Unterminated { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("truncated"), "{e}");
    assert_eq!(e.guide_code().condition, 207);
    assert_eq!(e.guide_code().application, Some(906));

    // A header line that is not a header.
    let e = parse(b"From: a@b\r\nthis is not a header\r\n\r\nbody").unwrap_err();
    assert_eq!(
        e,
        InboxError::Mime(MimeError::HeaderLine {
            part: "the message".into(),
            line: 2
        })
    );

    // A multipart without a boundary, or whose boundary never appears.
    let e = parse(b"Content-Type: multipart/mixed\r\n\r\nx").unwrap_err();
    assert!(
        matches!(e, InboxError::Mime(MimeError::NoBoundary { .. })),
        "{e}"
    );
    let e = parse(
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--other\r\n\r\nx\r\n--other--\r\n",
    )
    .unwrap_err();
    assert!(
        matches!(e, InboxError::Mime(MimeError::NoDelimiter { .. })),
        "{e}"
    );

    // Invalid base64, an unknown transfer encoding.
    let e = parse(b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n").unwrap_err();
    assert!(
        matches!(e, InboxError::Mime(MimeError::Base64 { .. })),
        "{e}"
    );
    let e = parse(b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n").unwrap_err();
    assert!(
        matches!(e, InboxError::Mime(MimeError::UnknownEncoding { .. })),
        "{e}"
    );

    // Too deep, too many parts.
    let mut deep = String::from("\r\nx");
    for i in 0..20 {
        deep = format!(
            "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n{deep}\r\n--b{i}--\r\n"
        );
    }
    let e = parse(deep.as_bytes()).unwrap_err();
    assert_eq!(e, InboxError::Mime(MimeError::TooDeep { limit: 8 }));
    let mut many = String::from("Content-Type: multipart/mixed; boundary=b\r\n\r\n");
    for _ in 0..300 {
        many.push_str("--b\r\n\r\nx\r\n");
    }
    many.push_str("--b--\r\n");
    let e = parse(many.as_bytes()).unwrap_err();
    assert_eq!(e, InboxError::Mime(MimeError::TooManyParts { limit: 256 }));
}

#[test]
fn a_zip_bomb_is_refused_before_it_is_inflated() {
    let mut files = entries(&our_zip());
    // 20 MB of zeros deflate to about 20 KB: a thousandfold.
    files.push((
        "IHE_XDM/SUBSET01/DOC0002.XML".into(),
        vec![0u8; 20 * 1024 * 1024],
    ));
    let bomb = zip_of(&files);
    assert!(bomb.len() < 200_000);
    let e = parse(&message_with_zip(&bomb)).unwrap_err();
    let InboxError::Xdm(XdmError::ZipBomb {
        uncompressed,
        reason,
    }) = &e
    else {
        panic!("{e}");
    };
    assert_eq!(*uncompressed, 20 * 1024 * 1024);
    assert!(reason.contains("fold"), "{reason}");
    assert!(e.to_string().contains("zip bomb"));

    // Many entries of moderate ratio, over the total.
    let mut limits = Limits::default();
    limits.xdm.max_uncompressed = 100_000;
    let many = zip_of(
        &(0..20)
            .map(|i| (format!("IHE_XDM/SUBSET01/F{i}.XML"), pdf(10_000).to_vec()))
            .collect::<Vec<_>>(),
    );
    let e = inbox::parse(&message_with_zip(&many), &origin(), &limits).unwrap_err();
    assert!(
        matches!(e, InboxError::Xdm(XdmError::ZipBomb { .. })),
        "{e}"
    );
    limits.xdm.max_entries = 10;
    let e = inbox::parse(&message_with_zip(&many), &origin(), &limits).unwrap_err();
    assert_eq!(
        e,
        InboxError::Xdm(XdmError::TooManyEntries {
            count: 20,
            limit: 10
        })
    );
}

#[test]
fn a_path_traversal_in_the_zip_is_refused() {
    for evil in [
        "IHE_XDM/SUBSET01/../../../etc/cron.d/evil",
        "/etc/passwd",
        "IHE_XDM\\SUBSET01\\DOC0001.XML",
    ] {
        let mut files = entries(&our_zip());
        files.push((evil.into(), b"x".to_vec()));
        let e = parse(&message_with_zip(&zip_of(&files))).unwrap_err();
        assert_eq!(
            e,
            InboxError::Xdm(XdmError::UnsafeEntryName { name: evil.into() }),
            "{evil}"
        );
    }
}

#[test]
fn a_broken_metadata_is_refused_with_what_is_wrong() {
    // Not XML.
    let zip = altered("METADATA.XML", |m| m.truncate(m.len() / 2));
    let e = parse(&message_with_zip(&zip)).unwrap_err();
    assert!(
        matches!(
            e,
            InboxError::Xdm(XdmError::Metadata(MetadataError::Xml { .. }))
        ),
        "{e}"
    );
    // A DTD (entity expansion) is refused.
    let zip = altered("METADATA.XML", |m| {
        *m = b"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>".to_vec()
    });
    let e = parse(&message_with_zip(&zip)).unwrap_err();
    assert!(
        matches!(
            e,
            InboxError::Xdm(XdmError::Metadata(MetadataError::Xml { .. }))
        ),
        "{e}"
    );
    // Well-formed, but not ebRIM.
    let zip = altered("METADATA.XML", |m| *m = b"<root/>".to_vec());
    let e = parse(&message_with_zip(&zip)).unwrap_err();
    assert!(
        matches!(
            e,
            InboxError::Xdm(XdmError::Metadata(
                MetadataError::NotSubmitObjectsRequest { .. }
            ))
        ),
        "{e}"
    );
    // The hash slot removed: a required field missing (101).
    let zip = altered("METADATA.XML", |m| {
        let s = String::from_utf8(m.clone()).unwrap();
        let start = s.find("<rim:Slot name=\"hash\">").unwrap();
        let end = start + s[start..].find("</rim:Slot>").unwrap() + "</rim:Slot>".len();
        *m = format!("{}{}", &s[..start], &s[end..]).into_bytes();
    });
    let e = parse(&message_with_zip(&zip)).unwrap_err();
    assert!(
        matches!(
            &e,
            InboxError::Xdm(XdmError::Metadata(MetadataError::MissingField {
                field: "hash",
                ..
            }))
        ),
        "{e}"
    );
    assert_eq!(e.guide_code().condition, 101);
    // A size that is not a number (102).
    let zip = altered("METADATA.XML", |m| {
        let s = String::from_utf8(m.clone()).unwrap();
        let at = s
            .find("<rim:Slot name=\"size\"><rim:ValueList><rim:Value>")
            .unwrap()
            + "<rim:Slot name=\"size\"><rim:ValueList><rim:Value>".len();
        *m = format!("{}x{}", &s[..at], &s[at..]).into_bytes();
    });
    let e = parse(&message_with_zip(&zip)).unwrap_err();
    assert!(
        matches!(
            &e,
            InboxError::Xdm(XdmError::Metadata(MetadataError::InvalidField {
                field: "size",
                ..
            }))
        ),
        "{e}"
    );
    assert_eq!(e.guide_code().condition, 102);
    // A URI out of the subset folder.
    let zip = altered("METADATA.XML", |m| {
        let s = String::from_utf8(m.clone()).unwrap();
        *m = s
            .replace(">DOC0001.XML<", ">../../DOC0001.XML<")
            .into_bytes();
    });
    let e = parse(&message_with_zip(&zip)).unwrap_err();
    assert!(
        matches!(
            &e,
            InboxError::Xdm(XdmError::Metadata(MetadataError::InvalidField {
                field: "URI",
                ..
            }))
        ),
        "{e}"
    );
    // ebRIM 2.1 metadata.
    let zip = altered("METADATA.XML", |m| {
        *m = b"<rs:SubmitObjectsRequest xmlns:rs=\"urn:oasis:names:tc:ebxml-regrep:registry:xsd:2.1\"/>"
            .to_vec()
    });
    let e = parse(&message_with_zip(&zip)).unwrap_err();
    assert!(
        matches!(
            e,
            InboxError::Xdm(XdmError::Metadata(MetadataError::EbRim21 { .. }))
        ),
        "{e}"
    );
    // No METADATA.XML at all.
    let files: Vec<_> = entries(&our_zip())
        .into_iter()
        .filter(|(n, _)| !n.ends_with("METADATA.XML"))
        .collect();
    let e = parse(&message_with_zip(&zip_of(&files))).unwrap_err();
    assert_eq!(e, InboxError::Xdm(XdmError::NoMetadata));
    // Not a zip.
    let e = parse(&message_with_zip(b"PK\x03\x04 not really")).unwrap_err();
    assert!(matches!(e, InboxError::Xdm(XdmError::NotAZip(_))), "{e}");
}

#[test]
fn a_document_that_does_not_match_its_metadata_is_refused() {
    // One byte changed: same size, another hash.
    let original = entries(&our_zip())
        .into_iter()
        .find(|(n, _)| n.ends_with("DOC0001.XML"))
        .unwrap()
        .1;
    let zip = altered("DOC0001.XML", |d| {
        let last = d.len() - 5;
        d[last] ^= 0x20;
    });
    let e = parse(&message_with_zip(&zip)).unwrap_err();
    let InboxError::Xdm(XdmError::HashMismatch {
        uri,
        expected,
        actual,
    }) = &e
    else {
        panic!("{e}");
    };
    assert_eq!(uri, "DOC0001.XML");
    assert_eq!(expected, &sha1_hex(&original));
    assert_ne!(actual, expected);
    assert_eq!(e.guide_code().application, Some(906));

    // Longer: the size says so first.
    let zip = altered("DOC0001.XML", |d| d.extend_from_slice(b"\n"));
    let e = parse(&message_with_zip(&zip)).unwrap_err();
    assert_eq!(
        e,
        InboxError::Xdm(XdmError::SizeMismatch {
            uri: "DOC0001.XML".into(),
            expected: original.len() as u64,
            actual: original.len() as u64 + 1
        })
    );

    // Missing from the archive.
    let files: Vec<_> = entries(&our_zip())
        .into_iter()
        .filter(|(n, _)| !n.ends_with("DOC0001.XML"))
        .collect();
    let e = parse(&message_with_zip(&zip_of(&files))).unwrap_err();
    assert_eq!(
        e,
        InboxError::Xdm(XdmError::MissingDocument {
            uri: "DOC0001.XML".into()
        })
    );
}

#[test]
fn two_xdm_packages_in_one_message_are_refused() {
    let one = String::from_utf8(message_with_zip(&our_zip())).unwrap();
    let start = one.find("--b1\r\nContent-Type: application/zip").unwrap();
    let end = one.rfind("--b1--").unwrap();
    let two = format!("{}{}{}", &one[..end], &one[start..end], &one[end..]);
    assert_eq!(parse(two.as_bytes()).unwrap_err(), InboxError::SeveralXdm);
    assert!(parse(one.as_bytes()).is_ok());
}

#[test]
fn a_huge_message_is_refused_by_its_size() {
    let (messages, ..) = our_messages(3_000);
    let limits = Limits {
        max_message_bytes: 10_000,
        ..Limits::default()
    };
    let e = inbox::parse(&messages[0], &origin(), &limits).unwrap_err();
    assert_eq!(
        e,
        InboxError::TooLarge {
            size: messages[0].len(),
            limit: 10_000
        }
    );
    assert!(e.to_string().contains("at most 10000"));
}

#[test]
fn a_message_without_message_id_gets_one_derived_from_where_it_was_found() {
    let (messages, ..) = our_messages(3_000);
    let text = String::from_utf8(messages[0].clone()).unwrap();
    let start = text.find("Message-ID:").unwrap();
    let end = start + text[start..].find("\r\n").unwrap() + 2;
    let without = format!("{}{}", &text[..start], &text[end..]);
    let m = parse(without.as_bytes()).unwrap();
    assert!(m.message_id_derived);
    assert_eq!(m.message_id, origin().derived_message_id());
    // Another UID, another id; the same, the same.
    let other = MessageOrigin {
        uid: 43,
        ..origin()
    };
    let m2 = inbox::parse(without.as_bytes(), &other, &Limits::default()).unwrap();
    assert_ne!(m2.message_id, m.message_id);
    assert_eq!(parse(without.as_bytes()).unwrap().message_id, m.message_id);
    // Everything else is read as usual.
    assert_eq!(m.xdm.unwrap().documents.len(), 1);
}

#[test]
fn truncated_or_garbled_input_never_panics() {
    let (messages, ..) = our_messages(2_000);
    let raw = &messages[0];
    for cut in (0..raw.len()).step_by(37) {
        let _ = parse(&raw[..cut]);
    }
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..300 {
        let mut g = raw.clone();
        for _ in 0..1 + next() % 8 {
            let at = (next() % g.len() as u64) as usize;
            g[at] = (next() & 0xFF) as u8;
        }
        let _ = parse(&g);
    }
    // The zip itself, truncated and garbled.
    let zip = our_zip();
    let limits = Limits::default().xdm;
    for cut in (0..zip.len()).step_by(53) {
        let _ = inbox::xdm::read(&zip[..cut], &limits);
    }
    for _ in 0..300 {
        let mut g = zip.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() % g.len() as u64) as usize;
            g[at] = (next() & 0xFF) as u8;
        }
        let _ = inbox::xdm::read(&g, &limits);
    }
    // Headers and parameters of every odd shape.
    for s in [
        "Subject: =?utf-8?B?\r\n\r\n",
        "Subject: =?x?Q?=?=\r\n\r\n",
        "Content-Type: text/plain; charset*=''\r\n\r\n",
        "Content-Disposition: attachment; filename*0*=%; filename*1*=%Z\r\n\r\n",
        "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n",
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b--\r\n",
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n=\r\n=4\r\n=ZZ",
        "To: <<<@>>>, \"unterminated\r\n\r\n",
    ] {
        let _ = parse(s.as_bytes());
    }
}
