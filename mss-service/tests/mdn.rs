//! The MDN of a received MSSanté message: our own letter (built by the crate's message
//! builder, read back by the inbox), whether an acknowledgement may go automatically, the
//! processed and error MDNs read back part by part, and one sent with the null reverse-path
//! through the MSSanté sandbox into the sender's mailbox.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::path::Path;
use std::sync::OnceLock;

use bytes::Bytes;
use mss_service::address::MssAddress;
use mss_service::inbox::mime::{self as inmime, Entity, EntityBody, MimeLimits};
use mss_service::inbox::{self, GuideCode, InboxError, Limits, MessageOrigin, ReceivedMessage};
use mss_service::mdn::{self, Disposition, MdnDecision, MdnError};
use mss_service::message::{self, AttachedDocument, Body, DocumentAttachments, MessageSpec};
use mss_service::rules::{self, PatientIns, SendCase};
use mss_service::smtp::{AuthSettings, ClientCert, SmtpClient, SmtpSettings, SmtpTls};
use passerelle_clinical_documents::letter;
use passerelle_clinical_documents::testing::letter_42;
use passerelle_mtls::ClientIdentity;
use passerelle_sandbox::TestPki;
use passerelle_sandbox::mss::{LPS_APP, MssSandbox, MssSandboxConfig, SECRETARIAT};
use time::macros::datetime;

const KEY: &str = "LETTRE-2024-0042";

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

/// Our letter (a PDF in a CDA, IHE_XDM.zip and the PDF attached) from the applicative mailbox
/// to the secretariat; a read acknowledgement asked when `acknowledgement`; `subject` empty:
/// the convention's `XDM/1.0/DDM+…`.
fn letter_message(acknowledgement: bool, subject: &str) -> Vec<u8> {
    let header = letter_42();
    let content = pdf(5_000);
    let cda = letter::letter_cda(&header, letter::PDF, &content).unwrap();
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
            pdf: Some(content),
        }],
        &set,
    )
    .unwrap();
    let ins = header.patient.ins.clone();
    let decision = rules::judge(&SendCase {
        to: &[address(SECRETARIAT)],
        cc: &[],
        to_patient: false,
        patient: PatientIns::Qualified(&ins),
        // Professionals only: the matrix (row M2) wants the document hidden from the patient.
        document: Some(rules::Flags {
            invisible_patient: true,
            ..rules::Flags::default()
        }),
    })
    .unwrap();
    let spec = MessageSpec {
        from: address(LPS_APP),
        reply_to: None,
        subject: subject.into(),
        body: Body::text("Cher confrère,\n\nci-joint la lettre de liaison.\n\nBien à vous"),
        patient_body: None,
        nil: Some("DEV935997".into()),
        patient_may_not_reply: false,
        acknowledgement,
        idempotency_key: KEY.into(),
        date: datetime!(2024-10-02 11:00 +02:00),
    };
    let messages = message::build(&decision, &spec, Some(&attachments)).unwrap();
    assert_eq!(messages.len(), 1);
    messages[0].to_vec()
}

/// `raw` with `lines` (each ended by CRLF) put before its first header, as an MTA does.
fn with_headers(lines: &[&str], raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(raw);
    out
}

fn parse(raw: &[u8]) -> ReceivedMessage {
    let origin = MessageOrigin {
        mailbox: SECRETARIAT.into(),
        uid_validity: 1,
        uid: 1,
    };
    inbox::parse(raw, &origin, &Limits::default()).unwrap()
}

/// The received letter with a Return-Path of the sender (as the sandbox writes it).
fn received_letter() -> (Vec<u8>, ReceivedMessage) {
    let raw = with_headers(
        &[&format!("Return-Path: <{LPS_APP}>")],
        &letter_message(true, ""),
    );
    let received = parse(&raw);
    (raw, received)
}

fn error_902() -> Disposition {
    Disposition::Error {
        code: GuideCode {
            condition: 207,
            application: Some(902),
        },
        label: "Identifiant de patient inconnu".into(),
    }
}

fn mime_tree(raw: &[u8]) -> Entity {
    inmime::parse(
        raw,
        MimeLimits {
            max_depth: 8,
            max_parts: 64,
        },
    )
    .unwrap()
}

fn children(e: &Entity) -> &[Entity] {
    match &e.body {
        EntityBody::Multipart(parts) => parts,
        EntityBody::Leaf(_) => panic!("not a multipart: {}", e.content_type.value),
    }
}

fn leaf(e: &Entity) -> &Bytes {
    match &e.body {
        EntityBody::Leaf(b) => b,
        EntityBody::Multipart(_) => panic!("a multipart"),
    }
}

/// The fields of a message/disposition-notification body, unfolded.
fn fields(body: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(body).unwrap();
    assert!(text.is_ascii(), "a 7-bit report: {text}");
    let unfolded = text.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_owned(), v.trim().to_owned())
        })
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn header<'a>(m: &'a ReceivedMessage, name: &str) -> Option<&'a str> {
    m.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn crlf(raw: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(raw)
        .replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}

// ---------------------------------------------------------------------------------------
// Whether to send

#[test]
fn decide_follows_the_disposition_notification_to_and_the_return_path() {
    let with_dnt = letter_message(true, "");
    let without = letter_message(false, "");

    // No Disposition-Notification-To: nothing asked.
    let m = parse(&with_headers(
        &[&format!("Return-Path: <{LPS_APP}>")],
        &without,
    ));
    assert_eq!(m.disposition_notification_to, None);
    assert_eq!(mdn::decide(&m), MdnDecision::NotRequested);

    // The same mailbox as the Return-Path (case and brackets aside): sent automatically.
    let m = parse(&with_headers(
        &["Return-Path: <LPS@Passerelle-Sandbox.MSSante.fr>"],
        &with_dnt,
    ));
    assert_eq!(
        mdn::decide(&m),
        MdnDecision::Send {
            to: LPS_APP.to_owned()
        }
    );

    // A display name in Disposition-Notification-To changes nothing.
    let named = String::from_utf8(with_dnt.clone()).unwrap().replace(
        &format!("Disposition-Notification-To: {LPS_APP}"),
        &format!("Disposition-Notification-To: \"Service LPS\" <{LPS_APP}>"),
    );
    assert!(named.contains("\"Service LPS\""));
    let m = parse(&with_headers(
        &[&format!("Return-Path: <{LPS_APP}>")],
        named.as_bytes(),
    ));
    assert!(matches!(mdn::decide(&m), MdnDecision::Send { to } if to == LPS_APP));

    // Another Return-Path: held for a person to confirm.
    let m = parse(&with_headers(
        &["Return-Path: <bounces@relay.mssante.fr>"],
        &with_dnt,
    ));
    let MdnDecision::Held { to, reason } = mdn::decide(&m) else {
        panic!("{:?}", mdn::decide(&m))
    };
    assert_eq!(to, LPS_APP);
    assert!(reason.contains("differs from Return-Path"), "{reason}");

    // No Return-Path at all.
    let m = parse(&with_dnt);
    let MdnDecision::Held { reason, .. } = mdn::decide(&m) else {
        panic!("{:?}", mdn::decide(&m))
    };
    assert!(reason.contains("no Return-Path"), "{reason}");

    // The null Return-Path (the message was itself a notification).
    let m = parse(&with_headers(&["Return-Path: <>"], &with_dnt));
    let MdnDecision::Held { reason, .. } = mdn::decide(&m) else {
        panic!("{:?}", mdn::decide(&m))
    };
    assert!(reason.contains("null Return-Path"), "{reason}");

    // Several addresses asked.
    let several = String::from_utf8(with_dnt).unwrap().replace(
        &format!("Disposition-Notification-To: {LPS_APP}"),
        &format!("Disposition-Notification-To: {LPS_APP}, {SECRETARIAT}"),
    );
    let m = parse(&with_headers(
        &[&format!("Return-Path: <{LPS_APP}>")],
        several.as_bytes(),
    ));
    let MdnDecision::Held { reason, .. } = mdn::decide(&m) else {
        panic!("{:?}", mdn::decide(&m))
    };
    assert!(reason.contains("several addresses"), "{reason}");
}

#[test]
fn an_mdn_is_not_answered_even_when_it_asks() {
    let (raw, received) = received_letter();
    let built = mdn::build(
        &received,
        &raw,
        &address(SECRETARIAT),
        &Disposition::Processed,
        datetime!(2024-10-02 12:00 +02:00),
    )
    .unwrap();
    let asking = with_headers(
        &[
            &format!("Return-Path: <{SECRETARIAT}>"),
            &format!("Disposition-Notification-To: {SECRETARIAT}"),
        ],
        &built.bytes,
    );
    let m = parse(&asking);
    assert_eq!(m.disposition_notification_to.as_deref(), Some(SECRETARIAT));
    assert_eq!(mdn::decide(&m), MdnDecision::NotRequested);
}

// ---------------------------------------------------------------------------------------
// The MDN

#[test]
fn a_processed_mdn_reads_back_as_the_guide_describes() {
    let (raw, received) = received_letter();
    assert!(
        received.subject.starts_with("XDM/1.0/DDM+"),
        "{}",
        received.subject
    );
    let built = mdn::build(
        &received,
        &raw,
        &address(SECRETARIAT),
        &Disposition::Processed,
        datetime!(2024-10-02 12:00 +02:00),
    )
    .unwrap();
    assert_eq!(built.to, LPS_APP);
    assert!(!built.eight_bit);
    assert_ne!(built.message_id, received.message_id);
    assert!(
        built
            .message_id
            .ends_with("@passerelle-sandbox.mssante.fr>")
    );
    let envelope = built.envelope();
    assert!(envelope.is_null_sender());
    assert_eq!(envelope.recipients, [LPS_APP]);

    // Top-level headers, through the inbox.
    let m = parse(&built.bytes);
    assert_eq!(m.from.as_deref(), Some(SECRETARIAT));
    assert_eq!(m.to, [LPS_APP]);
    assert_eq!(m.subject, received.subject);
    assert_eq!(m.message_id, built.message_id);
    assert_eq!(
        header(&m, "In-Reply-To"),
        Some(received.message_id.as_str())
    );
    assert_eq!(header(&m, "References"), Some(received.message_id.as_str()));
    assert_eq!(header(&m, "Auto-Submitted"), Some("auto-replied"));
    assert_eq!(header(&m, "Date"), Some("Wed, 02 Oct 2024 12:00:00 +0200"));
    assert_eq!(m.disposition_notification_to, None);

    // The structure.
    let root = mime_tree(&built.bytes);
    assert_eq!(root.content_type.value, "multipart/report");
    assert_eq!(
        root.content_type.param("report-type"),
        Some("disposition-notification")
    );
    let parts = children(&root);
    let types: Vec<&str> = parts
        .iter()
        .map(|p| p.content_type.value.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "text/plain",
            "message/disposition-notification",
            "message/rfc822",
            "application/zip",
            "application/pdf"
        ]
    );
    let text = String::from_utf8(leaf(&parts[0]).to_vec()).unwrap();
    assert!(text.contains("intégré automatiquement"), "{text}");

    let f = fields(leaf(&parts[1]));
    assert!(field(&f, "Reporting-UA").unwrap().contains("mss-service"));
    assert_eq!(
        field(&f, "Final-Recipient"),
        Some(format!("rfc822;{SECRETARIAT}").as_str())
    );
    assert_eq!(
        field(&f, "Original-Message-ID"),
        Some(received.message_id.as_str())
    );
    assert_eq!(
        field(&f, "Disposition"),
        Some("automatic-action/MDN-sent-automatically; processed")
    );
    // The original had no Original-Recipient: none is invented; no error.
    assert_eq!(field(&f, "Original-Recipient"), None);
    assert_eq!(field(&f, "Error"), None);

    // The original, as received.
    assert_eq!(leaf(&parts[2]).as_ref(), crlf(&raw).as_slice());
    // Its attachments again, byte for byte, with their names.
    // The report's own parts are unnamed leaves to the inbox; the files are the original's.
    let files: Vec<_> = m
        .attachments
        .iter()
        .filter(|a| a.file_name.is_some())
        .collect();
    assert_eq!(files.len(), received.attachments.len());
    assert_eq!(received.attachments.len(), 2);
    for original in &received.attachments {
        let again = m
            .attachments
            .iter()
            .find(|a| a.file_name == original.file_name)
            .unwrap_or_else(|| panic!("{:?} not attached again", original.file_name));
        assert_eq!(again.bytes, original.bytes);
        assert_eq!(again.media_type, original.media_type);
    }
    assert!(
        m.attachments
            .iter()
            .any(|a| a.file_name.as_deref() == Some("IHE_XDM.zip"))
    );
    // The re-attached package is read as the original's.
    assert_eq!(
        m.xdm.as_ref().unwrap().entries,
        received.xdm.as_ref().unwrap().entries
    );
}

#[test]
fn an_error_mdn_says_the_code_and_label_in_the_subject_text_and_disposition() {
    let (raw, received) = received_letter();
    let original_recipient = with_headers(
        &[&format!("Original-Recipient: rfc822;{SECRETARIAT}")],
        &raw,
    );
    let received_or = parse(&original_recipient);
    let built = mdn::build(
        &received_or,
        &original_recipient,
        &address(SECRETARIAT),
        &error_902(),
        datetime!(2024-10-02 12:00 +02:00),
    )
    .unwrap();
    let m = parse(&built.bytes);
    assert_eq!(
        m.subject,
        format!("[KO Intégration système !][902] {}", received.subject)
    );
    // Not plain ASCII: encoded words on the wire.
    let head = String::from_utf8_lossy(&built.bytes[..2000]).to_string();
    assert!(head.contains("Subject: =?utf-8?B?"), "{head}");

    let parts_root = mime_tree(&built.bytes);
    let parts = children(&parts_root);
    let text = String::from_utf8(leaf(&parts[0]).to_vec()).unwrap();
    assert!(
        text.contains(
            "n'a pas pu être intégré automatiquement dans le DPI pour la raison suivante : Identifiant de patient inconnu"
        ),
        "{text}"
    );
    assert!(text.contains("Code d'erreur : 902"), "{text}");
    let f = fields(leaf(&parts[1]));
    assert_eq!(
        field(&f, "Disposition"),
        Some(
            "automatic-action/MDN-sent-automatically; processed/Error: 902^Identifiant de patient inconnu^applicationErrorCondition|E^Error^errorSeverity"
        )
    );
    assert_eq!(
        field(&f, "Error"),
        Some("902^Identifiant de patient inconnu^applicationErrorCondition|E^Error^errorSeverity")
    );
    assert_eq!(
        field(&f, "Original-Recipient"),
        Some(format!("rfc822;{SECRETARIAT}").as_str())
    );
    assert_eq!(
        field(&f, "Original-Message-ID"),
        Some(received.message_id.as_str())
    );

    // An inbox error's code (207, application 906), an accented label: exact in the text,
    // without accents in the 7-bit report.
    let code = InboxError::SeveralXdm.guide_code();
    let built = mdn::build(
        &received,
        &raw,
        &address(SECRETARIAT),
        &Disposition::Error {
            code,
            label: "Pièce jointe IHE_XDM.zip en double".into(),
        },
        datetime!(2024-10-02 12:00 +02:00),
    )
    .unwrap();
    let m = parse(&built.bytes);
    assert!(
        m.subject
            .starts_with("[KO Intégration système !][906] XDM/1.0/DDM+"),
        "{}",
        m.subject
    );
    let root = mime_tree(&built.bytes);
    let parts = children(&root);
    let text = String::from_utf8(leaf(&parts[0]).to_vec()).unwrap();
    assert!(
        text.contains("Pièce jointe IHE_XDM.zip en double"),
        "{text}"
    );
    let f = fields(leaf(&parts[1]));
    assert_eq!(
        field(&f, "Disposition"),
        Some(
            "automatic-action/MDN-sent-automatically; processed/Error: 906^Piece jointe IHE_XDM.zip en double^applicationErrorCondition|E^Error^errorSeverity"
        )
    );
    // A different disposition, a different MDN Message-ID; the same, the same (a retry).
    let again = mdn::build(
        &received,
        &raw,
        &address(SECRETARIAT),
        &error_902(),
        datetime!(2024-10-02 12:05 +02:00),
    )
    .unwrap();
    let again2 = mdn::build(
        &received,
        &raw,
        &address(SECRETARIAT),
        &error_902(),
        datetime!(2024-10-02 12:10 +02:00),
    )
    .unwrap();
    assert_ne!(built.message_id, again.message_id);
    assert_eq!(again.message_id, again2.message_id);
}

#[test]
fn the_subject_is_made_from_the_document_when_the_original_does_not_follow_the_convention() {
    let convention = parse(&letter_message(true, "")).subject;
    let raw = letter_message(true, "Lettre de liaison — sortie du 2 octobre");
    let received = parse(&raw);
    let s = mdn::subject(&received, &Disposition::Processed);
    // The label without the patient, whose name and birth date the metadata do not carry.
    assert!(
        s.starts_with("XDM/1.0/DDM+") && s.len() > "XDM/1.0/DDM+".len(),
        "{s}"
    );
    assert!(
        convention.starts_with(&format!("{s} ")),
        "{s} / {convention}"
    );
    let s = mdn::subject(&received, &error_902());
    assert!(
        s.starts_with("[KO Intégration système !][902] XDM/1.0/DDM+"),
        "{s}"
    );
}

#[test]
fn no_disposition_notification_to_means_no_mdn() {
    let raw = letter_message(false, "");
    let received = parse(&raw);
    let e = mdn::build(
        &received,
        &raw,
        &address(SECRETARIAT),
        &Disposition::Processed,
        datetime!(2024-10-02 12:00 +02:00),
    )
    .unwrap_err();
    assert_eq!(e, MdnError::NotRequested);
}

#[test]
fn an_original_with_bare_lf_and_eight_bit_bytes_is_returned_in_crlf_as_8bit() {
    let raw = format!(
        "Return-Path: <{LPS_APP}>\nFrom: {LPS_APP}\nTo: {SECRETARIAT}\nSubject: Lettre\n\
         Message-ID: <x@passerelle-sandbox.mssante.fr>\nDisposition-Notification-To: {LPS_APP}\n\
         Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nCher confrère\n"
    );
    let received = parse(raw.as_bytes());
    let built = mdn::build(
        &received,
        raw.as_bytes(),
        &address(SECRETARIAT),
        &Disposition::Processed,
        datetime!(2024-10-02 12:00 +02:00),
    )
    .unwrap();
    assert!(built.eight_bit);
    assert!(built.envelope().eight_bit);
    let text = String::from_utf8(built.bytes.to_vec()).unwrap();
    assert!(!text.replace("\r\n", "").contains('\n'), "bare LF left");
    let root = mime_tree(&built.bytes);
    let parts = children(&root);
    assert_eq!(
        parts[2].headers.get("Content-Transfer-Encoding"),
        Some("8bit")
    );
    assert_eq!(
        leaf(&parts[2]).as_ref(),
        raw.replace('\n', "\r\n").as_bytes()
    );
    // No attachments, no XDM: the original subject.
    assert_eq!(parts.len(), 3);
    assert_eq!(parse(&built.bytes).subject, "Lettre");
}

// ---------------------------------------------------------------------------------------
// Through the sandbox

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::ensure(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("mss-mdn-pki")).unwrap()
    })
}

#[tokio::test]
async fn the_mdn_goes_with_the_null_reverse_path_into_the_senders_mailbox() {
    let data = tempfile::tempdir().unwrap();
    let sandbox = MssSandbox::start(
        MssSandboxConfig {
            data_dir: data.path().to_path_buf(),
            ..MssSandboxConfig::default()
        },
        pki(),
    )
    .await
    .unwrap();
    // The organisation's certificate may send as both its mailboxes.
    let client = SmtpClient::new(&SmtpSettings {
        host: "localhost".into(),
        port: Some(sandbox.implicit_tls_addr().port()),
        mode: mss_service::smtp::TlsMode::Implicit,
        auth: AuthSettings::Certificate,
        tls: SmtpTls {
            identity: Some(ClientIdentity::Pem {
                cert: pki().org_cert.clone(),
                key: pki().org_key.clone(),
            }),
            trusted_ca: vec![pki().ca_cert.clone()],
            ..SmtpTls::default()
        },
        ..SmtpSettings::default()
    })
    .unwrap();

    // The letter, lps@ → secretariat@, a read acknowledgement asked.
    let letter = letter_message(true, "");
    client
        .send(
            ClientCert::Configured,
            &mss_service::smtp::Envelope {
                from: LPS_APP.into(),
                recipients: vec![SECRETARIAT.into()],
                ..Default::default()
            },
            &[Bytes::from(letter)],
        )
        .await
        .unwrap();
    let stored = sandbox.mailbox(SECRETARIAT).unwrap();
    assert_eq!(stored.len(), 1);
    let raw = std::fs::read(&stored[0].file).unwrap();
    let received = parse(&raw);

    // Return-Path written by the sandbox, equal to the Disposition-Notification-To.
    let MdnDecision::Send { to } = mdn::decide(&received) else {
        panic!("{:?}", mdn::decide(&received))
    };
    assert_eq!(to, LPS_APP);
    let built = mdn::build(
        &received,
        &raw,
        &address(SECRETARIAT),
        &error_902(),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let delivery = client
        .send(
            ClientCert::Configured,
            &built.envelope(),
            std::slice::from_ref(&built.bytes),
        )
        .await
        .unwrap();
    assert_eq!(delivery.accepted.len(), 1);

    let inbox = sandbox.mailbox(LPS_APP).unwrap();
    assert_eq!(inbox.len(), 1);
    let got = &inbox[0];
    assert_eq!(got.message_id, built.message_id);
    assert_eq!(got.from, SECRETARIAT);
    assert!(
        got.subject
            .starts_with("[KO Intégration système !][902] XDM/1.0/DDM+")
    );
    assert_eq!(got.envelope.as_ref().unwrap().mail_from, "");
    let raw_mdn = std::fs::read(&got.file).unwrap();
    assert!(raw_mdn.starts_with(b"Return-Path: <>\r\n"));
    // Read by the inbox as any message: the null Return-Path, the report and the attachments.
    let m = parse(&raw_mdn);
    assert_eq!(m.return_path, None);
    let named = m
        .attachments
        .iter()
        .filter(|a| a.file_name.is_some())
        .count();
    assert_eq!(named, 2);
    let root = mime_tree(&raw_mdn);
    assert_eq!(root.content_type.value, "multipart/report");
    let f = fields(leaf(&children(&root)[1]));
    assert_eq!(
        field(&f, "Original-Message-ID"),
        Some(received.message_id.as_str())
    );
    assert!(
        field(&f, "Disposition")
            .unwrap()
            .ends_with("processed/Error: 902^Identifiant de patient inconnu^applicationErrorCondition|E^Error^errorSeverity")
    );
}

#[test]
fn without_an_original_message_id_the_mdn_does_not_quote_a_derived_one() {
    let raw = String::from_utf8(letter_message(true, "")).unwrap();
    let start = raw.find("Message-ID: ").unwrap();
    let end = start + raw[start..].find("\r\n").unwrap() + 2;
    let raw = format!(
        "Return-Path: <{LPS_APP}>\r\n{}{}",
        &raw[..start],
        &raw[end..]
    );
    let received = parse(raw.as_bytes());
    assert!(received.message_id_derived);
    let built = mdn::build(
        &received,
        raw.as_bytes(),
        &address(SECRETARIAT),
        &Disposition::Processed,
        datetime!(2024-10-02 12:00 +02:00),
    )
    .unwrap();
    let m = parse(&built.bytes);
    assert_eq!(header(&m, "In-Reply-To"), None);
    assert_eq!(header(&m, "References"), None);
    let root = mime_tree(&built.bytes);
    let f = fields(leaf(&children(&root)[1]));
    assert_eq!(field(&f, "Original-Message-ID"), None);
    assert_eq!(
        field(&f, "Final-Recipient"),
        Some(format!("rfc822;{SECRETARIAT}").as_str())
    );
}
