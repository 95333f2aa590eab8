//! Interop with a real MTA: Debian's Postfix, run as a separate instance of its own
//! (`support/postfix.rs`: its own configuration, queue and data directories in a temporary
//! directory, loopback ports picked free; no system Postfix is used or touched), configured as
//! an MSSanté-like submission server: TLS required (STARTTLS, and implicit TLS in wrapper
//! mode), TLS 1.2+, the client certificate asked for and checked against the sandbox CAs,
//! relaying allowed only to the certificates whose SHA-256 fingerprint it lists
//! (`permit_tls_clientcerts`, no SASL, so no `AUTH EXTERNAL`: the certificate-alone path),
//! delivery to maildirs the test reads back.
//!
//! Needs the `postfix` package (`apt-get install postfix`, "No configuration") and root (the
//! master process starts as root and drops to the `postfix` user); without them the tests
//! fail and say so. `PASSERELLE_POSTFIX_TEST=skip` skips them explicitly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use mss_service::smtp::{AuthUsed, ClientCert, Envelope, SmtpClient, SmtpError, TlsMode};
use passerelle_mtls::ClientIdentity;
use passerelle_sandbox::pki::TestPki;
use support::postfix::{Postfix, SIZE_LIMIT};

const FROM: &str = "lps@passerelle-sandbox.mssante.fr";
const FOUQUEREY: &str = "jean.fouquerey@passerelle-sandbox.mssante.fr";
const SECRETARIAT: &str = "secretariat@passerelle-sandbox.mssante.fr";

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::ensure(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("mss-smtp-pki")).unwrap()
    })
}

fn org_identity() -> ClientIdentity {
    ClientIdentity::Pem {
        cert: pki().org_cert.clone(),
        key: pki().org_key.clone(),
    }
}

/// A letter with an 8-bit text part, lines a dot starts, and a base64 attachment of
/// `attachment` bytes; in chunks that cut lines (and a dot line) at their boundaries.
fn letter(id: &str, to: &[&str], attachment: usize) -> (Vec<u8>, Vec<Bytes>) {
    let mut m = String::new();
    m.push_str("From: CENTRE DE SANTE PASSERELLE SANDBOX <lps@passerelle-sandbox.mssante.fr>\r\n");
    m.push_str(&format!("To: {}\r\n", to.join(", ")));
    m.push_str("Subject: Lettre de liaison\r\n");
    m.push_str("Date: Thu, 3 Dec 2026 10:00:00 +0100\r\n");
    m.push_str(&format!(
        "Message-ID: <{id}@passerelle-sandbox.mssante.fr>\r\n"
    ));
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str("Content-Type: multipart/mixed; boundary=\"=_b1\"\r\n\r\n");
    m.push_str("--=_b1\r\nContent-Type: text/plain; charset=utf-8\r\n");
    m.push_str("Content-Transfer-Encoding: 8bit\r\n\r\n");
    m.push_str("Bonjour,\r\nVeuillez trouver la lettre de liaison (été, côté cœur).\r\n");
    m.push_str(".\r\n..\r\n.ligne qui commence par un point\r\n\r\n");
    m.push_str("--=_b1\r\nContent-Type: application/octet-stream; name=\"piece.bin\"\r\n");
    m.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    let bytes: Vec<u8> = (0..attachment)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0])
        .collect();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    for line in b64.as_bytes().chunks(76) {
        m.push_str(std::str::from_utf8(line).unwrap());
        m.push_str("\r\n");
    }
    m.push_str("--=_b1--\r\n");
    let message = m.into_bytes();
    // The lone "." line begins a chunk; the rest goes in 997-byte pieces.
    let dot = message.windows(5).position(|w| w == b"\r\n.\r\n").unwrap() + 2;
    let mut chunks = vec![Bytes::copy_from_slice(&message[..dot])];
    chunks.extend(message[dot..].chunks(997).map(Bytes::copy_from_slice));
    (message, chunks)
}

/// What the maildir holds of a message: its lines end with LF.
fn as_stored(message: &[u8]) -> Vec<u8> {
    String::from_utf8(message.to_vec())
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes()
}

/// The headers Postfix put before the message's own (Return-Path, Delivered-To, Received…).
fn added_headers(delivered: &[u8], message: &[u8]) -> String {
    let stored = as_stored(message);
    assert!(
        delivered.ends_with(&stored),
        "the message did not arrive byte for byte:\n{}",
        String::from_utf8_lossy(delivered)
    );
    String::from_utf8_lossy(&delivered[..delivered.len() - stored.len()]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_takes_a_letter_over_starttls_on_the_organisation_certificate_alone() {
    let Some(postfix) = Postfix::start(pki()) else {
        return;
    };
    let client = SmtpClient::new(&postfix.settings(TlsMode::Starttls, org_identity())).unwrap();
    let (message, chunks) = letter("starttls-1", &[FOUQUEREY], 300_000);

    let mut session = client.connect(ClientCert::Configured).await.unwrap();
    let info = session.info().clone();
    // Postfix offers no AUTH here (no SASL): the certificate alone.
    assert_eq!(info.auth, AuthUsed::Certificate, "{info:?}");
    assert!(info.certificate_presented);
    assert!(info.capabilities.auth.is_empty());
    assert_eq!(info.capabilities.size_limit, Some(SIZE_LIMIT));
    assert!(info.capabilities.eight_bit_mime && info.capabilities.dsn);
    let envelope = Envelope {
        from: FROM.to_owned(),
        recipients: vec![FOUQUEREY.to_owned()],
        eight_bit: true,
        dsn: None,
        all_or_nothing: false,
    };
    let delivery = session.send(&envelope, &chunks).await.unwrap();
    session.quit().await;
    assert_eq!(delivery.accepted.len(), 1);
    assert!(
        delivery.reply.text().contains("queued as"),
        "{:?}",
        delivery.reply
    );

    let mail = postfix.delivered("fouquerey", 1, Duration::from_secs(20));
    assert_eq!(mail.len(), 1, "not delivered:\n{}", postfix.maillog());
    let added = added_headers(&mail[0], &message);
    assert!(
        added.contains(&format!("Delivered-To: {FOUQUEREY}")),
        "{added}"
    );
    assert!(added.contains("with ESMTPS"), "{added}");
    // Postfix verified our certificate (smtpd_tls_received_header).
    assert!(added.contains("INSI-AUTO"), "{added}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_in_wrapper_mode_takes_a_letter_over_implicit_tls() {
    let Some(postfix) = Postfix::start(pki()) else {
        return;
    };
    let client = SmtpClient::new(&postfix.settings(TlsMode::Implicit, org_identity())).unwrap();
    let (message, chunks) = letter("implicit-1", &[FOUQUEREY, SECRETARIAT], 20_000);
    let envelope = Envelope {
        from: FROM.to_owned(),
        recipients: vec![FOUQUEREY.to_owned(), SECRETARIAT.to_owned()],
        eight_bit: true,
        dsn: None,
        all_or_nothing: false,
    };
    let delivery = client
        .send(ClientCert::Configured, &envelope, &chunks)
        .await
        .unwrap();
    assert_eq!(delivery.accepted.len(), 2);
    for mailbox in ["fouquerey", "secretariat"] {
        let mail = postfix.delivered(mailbox, 1, Duration::from_secs(20));
        assert_eq!(
            mail.len(),
            1,
            "{mailbox} not delivered:\n{}",
            postfix.maillog()
        );
        added_headers(&mail[0], &message);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_refuses_to_relay_for_a_certificate_it_does_not_know() {
    let Some(postfix) = Postfix::start(pki()) else {
        return;
    };
    // Issued by the same trusted CA, so TLS succeeds: only its fingerprint is unknown.
    let now = time::OffsetDateTime::now_utc();
    let (cert, key) = pki()
        .issue_client_cert(
            "UNKNOWN LPS",
            now - time::Duration::days(1),
            now + time::Duration::days(1),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let identity = ClientIdentity::Pem {
        cert: cert_path,
        key: key_path,
    };
    let client = SmtpClient::new(&postfix.settings(TlsMode::Starttls, identity)).unwrap();
    let (_, chunks) = letter("unknown-1", &[FOUQUEREY], 1_000);
    let envelope = Envelope {
        from: FROM.to_owned(),
        recipients: vec![FOUQUEREY.to_owned()],
        eight_bit: true,
        dsn: None,
        all_or_nothing: false,
    };
    let e = client
        .send(ClientCert::Configured, &envelope, &chunks)
        .await
        .unwrap_err();
    let SmtpError::AllRecipientsRefused { refused } = &e else {
        panic!("{e:?}\n{}", postfix.maillog())
    };
    assert_eq!(refused[0].reply.code, 554, "{e}");
    assert_eq!(
        refused[0].reply.enhanced.map(|c| c.to_string()).as_deref(),
        Some("5.7.1"),
        "{e}"
    );
    assert!(!e.is_retryable());
    assert!(
        postfix
            .delivered("fouquerey", 1, Duration::from_millis(500))
            .is_empty()
    );
}
