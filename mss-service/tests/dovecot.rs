//! Interop of our IMAP client with a real IMAP server: Debian's Dovecot (2.3), run as an
//! instance of its own (`support/dovecot.rs`), TLS required, client certificates checked
//! against the sandbox CAs, the mailbox user taken from the certificate. Implicit TLS and
//! STARTTLS; `AUTHENTICATE EXTERNAL` with and without an authorisation identity, and
//! `LOGIN`; SELECT, UID SEARCH, UID FETCH byte for byte, flags and keywords that stick,
//! IDLE woken by a delivery; no certificate, or one from another CA, refused; a real
//! MSSanté message read back with its documents.
//!
//! Needs `dovecot-imapd` and root; without them the tests fail and say so.
//! `PASSERELLE_DOVECOT_TEST=skip` skips them explicitly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use mss_service::address::MssAddress;
use mss_service::imap::{
    ClientCert, IdleEvent, ImapAuth, ImapClient, ImapError, ImapSession, ImapSettings, TlsMode,
};
use mss_service::inbox::{self, Limits, MessageOrigin};
use mss_service::message::{self, AttachedDocument, Body, DocumentAttachments, MessageSpec};
use mss_service::rules::{self, Flags, PatientIns, SendCase};
use passerelle_clinical_documents::letter;
use passerelle_clinical_documents::testing::letter_42;
use passerelle_mtls::ClientIdentity;
use passerelle_sandbox::pki::TestPki;
use support::dovecot::{Dovecot, FOUQUEREY, LPS, SECRETARIAT, password};
use time::macros::datetime;

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::ensure(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("mss-dovecot-pki")).unwrap()
    })
}

/// A small text message, CRLF line ends (as stored, as served).
fn note(subject: &str, to: &str) -> Vec<u8> {
    format!(
        "From: CENTRE DE SANTE PASSERELLE SANDBOX <{LPS}>\r\nTo: <{to}>\r\n\
         Subject: {subject}\r\nDate: Thu, 3 Dec 2026 10:00:00 +0100\r\n\
         Message-ID: <{}@passerelle-sandbox.mssante.fr>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Bonjour,\r\nété, côté cœur {{3}}\r\n.\r\n.ligne qui commence par un point\r\n",
        uuid::Uuid::new_v4()
    )
    .into_bytes()
}

async fn open(settings: &ImapSettings, mailbox: Option<&str>) -> Result<ImapSession, ImapError> {
    ImapClient::new(settings)
        .unwrap()
        .connect(ClientCert::Configured, mailbox)
        .await
}

fn identity(cert: &Path, key: &Path) -> ClientIdentity {
    ClientIdentity::Pem {
        cert: cert.to_owned(),
        key: key.to_owned(),
    }
}

fn org_identity() -> ClientIdentity {
    identity(&pki().org_cert, &pki().org_key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_and_external_on_the_mailbox_certificate_read_messages_byte_for_byte() {
    let Some(dovecot) = Dovecot::start(pki()) else {
        return;
    };
    let first = note("premier", LPS);
    let second = note("second", LPS);
    dovecot.deliver(LPS, &first);
    dovecot.deliver(LPS, &second);
    // Someone else's message, which this mailbox must not see.
    dovecot.deliver(FOUQUEREY, &note("pour Jean", FOUQUEREY));

    let settings = dovecot.imap_settings(TlsMode::Implicit, ImapAuth::External);
    let mut session = open(&settings, None)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", dovecot.log()));
    assert!(
        session.capabilities().iter().any(|c| c == "AUTH=EXTERNAL"),
        "{:?}",
        session.capabilities()
    );
    let inbox = session.select("INBOX").await.unwrap();
    assert_ne!(inbox.uid_validity, 0);
    assert_eq!(inbox.exists, 2);
    assert_eq!(inbox.uid_next, Some(3));
    let uids = session.uid_search("ALL").await.unwrap();
    assert_eq!(uids, [1, 2]);
    assert_eq!(session.uid_search("SUBJECT second").await.unwrap(), [2]);
    assert_eq!(session.uid_fetch_message(1).await.unwrap(), first);
    assert_eq!(session.uid_fetch_message(2).await.unwrap(), second);
    // BODY.PEEK: reading marks nothing seen.
    assert_eq!(session.uid_search("UNSEEN").await.unwrap(), [1, 2]);
    // A large one (a literal of many TLS records), and one stored with LF line ends, which
    // Dovecot serves with CRLF.
    let mut large = note("volumineux", LPS);
    for i in 0..60_000u32 {
        large.extend_from_slice(format!("ligne {i:06} {}\r\n", "x".repeat(40)).as_bytes());
    }
    dovecot.deliver(LPS, &large);
    let lf = note("en LF", LPS);
    dovecot.deliver(
        LPS,
        &String::from_utf8(lf.clone())
            .unwrap()
            .replace("\r\n", "\n")
            .into_bytes(),
    );
    session.select("INBOX").await.unwrap();
    assert_eq!(session.uid_search("ALL").await.unwrap(), [1, 2, 3, 4]);
    assert!(large.len() > 3_000_000);
    assert_eq!(session.uid_fetch_message(3).await.unwrap(), large);
    assert_eq!(session.uid_fetch_message(4).await.unwrap(), lf);
    let e = session.uid_fetch_message(99).await.unwrap_err();
    assert!(matches!(e, ImapError::No { .. }), "{e:?}");
    session.logout().await;

    // The same mailbox and UIDVALIDITY again.
    let mut again = open(&settings, None).await.unwrap();
    let reopened = again.select("INBOX").await.unwrap();
    assert_eq!(
        (reopened.uid_validity, reopened.exists, reopened.uid_next),
        (inbox.uid_validity, 4, Some(5))
    );
    again.logout().await;
    assert!(
        dovecot
            .log()
            .contains(&format!("Login: user=<{LPS}>, method=EXTERNAL")),
        "{}",
        dovecot.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_external_with_an_authorisation_identity_open_the_mailbox_named() {
    let Some(dovecot) = Dovecot::start(pki()) else {
        return;
    };
    let letter = note("lettre pour Jean", FOUQUEREY);
    dovecot.deliver(FOUQUEREY, &letter);
    dovecot.deliver(LPS, &note("pour lps", LPS));
    dovecot.deliver(LPS, &note("pour lps encore", LPS));

    for (cert, settings) in [
        (
            "mss-app",
            dovecot.imap_settings(TlsMode::Starttls, ImapAuth::External),
        ),
        ("org", {
            let mut s = dovecot.imap_settings(TlsMode::Starttls, ImapAuth::External);
            s.tls.identity = Some(org_identity());
            s
        }),
    ] {
        let mut session = open(&settings, Some(FOUQUEREY))
            .await
            .unwrap_or_else(|e| panic!("{cert}: {e}\n{}", dovecot.log()));
        let inbox = session.select("INBOX").await.unwrap();
        assert_eq!(inbox.exists, 1, "{cert}: not Jean's mailbox");
        let uids = session.uid_search("ALL").await.unwrap();
        assert_eq!(uids, [1], "{cert}");
        assert_eq!(
            session.uid_fetch_message(1).await.unwrap(),
            letter,
            "{cert}"
        );
        session.logout().await;
    }
    let log = dovecot.log();
    assert!(
        log.contains(&format!("Login: user=<{FOUQUEREY}>, method=EXTERNAL")),
        "{log}"
    );
    assert!(
        log.contains(&format!("Master user logging in as {FOUQUEREY}")),
        "{log}"
    );

    // The organisation's certificate has no mailbox of its own: without an authorisation
    // identity, nothing opens.
    let mut settings = dovecot.imap_settings(TlsMode::Starttls, ImapAuth::External);
    settings.tls.identity = Some(org_identity());
    let e = open(&settings, None).await.unwrap_err();
    assert!(
        matches!(e, ImapError::AuthRefused { .. }),
        "{e:?}\n{}",
        dovecot.log()
    );
    assert!(!e.is_retryable());
    // Nor a mailbox that does not exist.
    let e = open(&settings, Some("inconnu@passerelle-sandbox.mssante.fr"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ImapError::AuthRefused { .. }),
        "{e:?}\n{}",
        dovecot.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_the_mailbox_password_over_starttls_and_implicit_tls() {
    let Some(dovecot) = Dovecot::start(pki()) else {
        return;
    };
    let message = note("par mot de passe", LPS);
    dovecot.deliver(LPS, &message);
    for mode in [TlsMode::Starttls, TlsMode::Implicit] {
        let auth = ImapAuth::Password {
            user: LPS.to_owned(),
            password: password(LPS),
        };
        let mut session = open(&dovecot.imap_settings(mode, auth), None)
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}\n{}", dovecot.log()));
        session.select("INBOX").await.unwrap();
        assert_eq!(session.uid_search("ALL").await.unwrap(), [1]);
        assert_eq!(session.uid_fetch_message(1).await.unwrap(), message);
        session.logout().await;
    }
    assert!(
        dovecot
            .log()
            .contains(&format!("Login: user=<{LPS}>, method=PLAIN")),
        "{}",
        dovecot.log()
    );

    // A wrong password.
    let auth = ImapAuth::Password {
        user: LPS.to_owned(),
        password: "not-the-password".to_owned(),
    };
    let e = open(&dovecot.imap_settings(TlsMode::Starttls, auth), None)
        .await
        .unwrap_err();
    let ImapError::AuthRefused { text } = &e else {
        panic!("{e:?}")
    };
    assert!(text.contains("Authentication failed"), "{text}");
    // Another mailbox's right password, under the applicative mailbox's certificate:
    // Dovecot takes the user from the certificate, so the password does not match.
    let auth = ImapAuth::Password {
        user: SECRETARIAT.to_owned(),
        password: password(SECRETARIAT),
    };
    let e = open(&dovecot.imap_settings(TlsMode::Starttls, auth), None)
        .await
        .unwrap_err();
    assert!(matches!(e, ImapError::AuthRefused { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seen_and_a_keyword_stored_stick_across_sessions() {
    let Some(dovecot) = Dovecot::start(pki()) else {
        return;
    };
    for i in 0..3 {
        dovecot.deliver(FOUQUEREY, &note(&format!("message {i}"), FOUQUEREY));
    }
    let settings = dovecot.imap_settings(TlsMode::Implicit, ImapAuth::External);
    let mut session = open(&settings, Some(FOUQUEREY)).await.unwrap();
    session.select("INBOX").await.unwrap();
    assert_eq!(session.uid_search("UNSEEN").await.unwrap(), [1, 2, 3]);
    assert!(
        session
            .uid_search("KEYWORD $PasserelleDone")
            .await
            .unwrap()
            .is_empty()
    );
    session
        .uid_store_flags(1, &["\\Seen", "$PasserelleDone"])
        .await
        .unwrap();
    session.uid_store_flags(3, &["\\Seen"]).await.unwrap();
    session.logout().await;

    let mut session = open(&settings, Some(FOUQUEREY)).await.unwrap();
    session.select("INBOX").await.unwrap();
    assert_eq!(session.uid_search("SEEN").await.unwrap(), [1, 3]);
    assert_eq!(session.uid_search("UNSEEN").await.unwrap(), [2]);
    assert_eq!(
        session.uid_search("KEYWORD $PasserelleDone").await.unwrap(),
        [1]
    );
    assert_eq!(
        session
            .uid_search("UNKEYWORD $PasserelleDone")
            .await
            .unwrap(),
        [2, 3]
    );
    // What the worker asks: not yet handled.
    assert_eq!(
        session
            .uid_search("UNKEYWORD $PasserelleDone UNSEEN")
            .await
            .unwrap(),
        [2]
    );
    session.logout().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_wakes_up_when_a_message_lands_in_the_maildir() {
    let Some(dovecot) = Dovecot::start(pki()) else {
        return;
    };
    dovecot.deliver(SECRETARIAT, &note("déjà là", SECRETARIAT));
    let settings = dovecot.imap_settings(TlsMode::Starttls, ImapAuth::External);
    let mut session = open(&settings, Some(SECRETARIAT)).await.unwrap();
    let inbox = session.select("INBOX").await.unwrap();
    assert_eq!(inbox.exists, 1);

    // Nothing arrives: the wait ends on our timeout, the session still usable.
    let quiet = session.idle(Duration::from_millis(1_500)).await.unwrap();
    assert_eq!(quiet, IdleEvent::Timeout);

    let arriving = note("arrivé pendant IDLE", SECRETARIAT);
    let started = std::time::Instant::now();
    let (event, ()) = tokio::join!(session.idle(Duration::from_secs(25)), async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        dovecot.deliver(SECRETARIAT, &arriving);
    });
    let event = event.unwrap();
    assert_eq!(event, IdleEvent::Exists(2), "{}", dovecot.log());
    // Woken by the delivery (inotify), not by Dovecot's 30 s polling or our timeout.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(session.uid_search("ALL").await.unwrap(), [1, 2]);
    assert_eq!(session.uid_fetch_message(2).await.unwrap(), arriving);
    session.logout().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_a_certificate_is_refused() {
    let Some(dovecot) = Dovecot::start(pki()) else {
        return;
    };
    dovecot.deliver(LPS, &note("secret", LPS));
    for (mode, auth) in [
        (TlsMode::Implicit, ImapAuth::External),
        (TlsMode::Starttls, ImapAuth::External),
        (
            TlsMode::Implicit,
            ImapAuth::Password {
                user: LPS.to_owned(),
                password: password(LPS),
            },
        ),
    ] {
        let mut settings = dovecot.imap_settings(mode, auth.clone());
        settings.tls.identity = None;
        let e = open(&settings, None).await.unwrap_err();
        // Dovecot asks for a certificate but lets the handshake through without one; it
        // refuses every authentication then, with an ALERT that says why.
        let ImapError::AuthRefused { text } = &e else {
            panic!("{mode:?} {auth:?}: {e:?}")
        };
        assert!(
            text.contains("Client didn't present valid SSL certificate"),
            "{mode:?} {auth:?}: {text}"
        );
        assert!(!e.is_retryable());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_is_refused() {
    let Some(dovecot) = Dovecot::start(pki()) else {
        return;
    };
    // Its CN is the mailbox's: only the issuer is wrong.
    let (cert, key) = TestPki::foreign_ca_client_cert(LPS).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    for mode in [TlsMode::Implicit, TlsMode::Starttls] {
        let mut settings = dovecot.imap_settings(mode, ImapAuth::External);
        settings.tls.identity = Some(identity(&cert_path, &key_path));
        let e = open(&settings, None).await.unwrap_err();
        let ImapError::AuthRefused { text } = &e else {
            panic!("{mode:?}: {e:?}")
        };
        assert!(
            text.contains("Client didn't present valid SSL certificate"),
            "{mode:?}: {text}"
        );
    }
    assert!(
        dovecot.log().contains("Received invalid SSL certificate"),
        "{}",
        dovecot.log()
    );
    assert!(!dovecot.log().contains("Login: user="), "{}", dovecot.log());
}

/// `%PDF-` and pseudo-random bytes.
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

/// Our message of a PDF letter to Jean FOUQUEREY (copy to the secretariat), the CDA inside
/// its IHE_XDM.zip and the PDF.
fn mssante_letter() -> (Vec<u8>, Vec<u8>, Bytes) {
    let address = |s: &str| MssAddress::parse(s).unwrap();
    let header = letter_42();
    let content = pdf(120_000);
    let cda = letter::letter_cda(&header, letter::PDF, &content).unwrap();
    let cda_bytes = cda.bytes.clone();
    let set = message::submission_set(
        "LETTRE-DOVECOT-1",
        passerelle_clinical_documents::testing::SOURCE_ID,
        datetime!(2026-12-03 10:00 +01:00),
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
    let ins = header.patient.ins.clone();
    let decision = rules::judge(&SendCase {
        to: &[address(FOUQUEREY)],
        cc: &[address(SECRETARIAT)],
        to_patient: true,
        patient: PatientIns::Qualified(&ins),
        document: Some(Flags::default()),
    })
    .unwrap();
    let spec = MessageSpec {
        from: address(LPS),
        reply_to: None,
        subject: "Lettre de liaison — sortie du 2 décembre".into(),
        body: Body::text("Cher confrère,\n\nci-joint la lettre de liaison.\n\nBien à vous"),
        patient_body: Some(Body::text("Bonjour Madame,\nci-joint votre lettre.")),
        nil: Some("DEV935997".into()),
        patient_may_not_reply: true,
        acknowledgement: true,
        idempotency_key: "LETTRE-DOVECOT-1".into(),
        date: datetime!(2026-12-03 10:00 +01:00),
    };
    let messages = message::build(&decision, &spec, Some(&attachments)).unwrap();
    // The professionals' message (the patient's goes to her own mailbox).
    assert_eq!(messages.len(), 2);
    (messages[0].to_vec(), cda_bytes, content)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mssante_letter_in_the_mailbox_is_read_back_with_its_documents() {
    let Some(dovecot) = Dovecot::start(pki()) else {
        return;
    };
    let (raw, cda, content) = mssante_letter();
    dovecot.deliver(FOUQUEREY, &raw);

    let settings = dovecot.imap_settings(TlsMode::Implicit, ImapAuth::External);
    let mut session = open(&settings, Some(FOUQUEREY)).await.unwrap();
    let inbox = session.select("INBOX").await.unwrap();
    let uids = session.uid_search("UNSEEN").await.unwrap();
    assert_eq!(uids, [1]);
    let fetched = session.uid_fetch_message(1).await.unwrap();
    assert_eq!(fetched.as_ref(), raw.as_slice(), "not byte for byte");
    session.logout().await;

    let origin = MessageOrigin {
        mailbox: FOUQUEREY.into(),
        uid_validity: inbox.uid_validity,
        uid: 1,
    };
    let m = inbox::parse(&fetched, &origin, &Limits::default()).unwrap();
    assert_eq!(m.from.as_deref(), Some(LPS));
    assert_eq!(m.to, [FOUQUEREY]);
    assert_eq!(m.cc, [SECRETARIAT]);
    assert_eq!(m.mss_headers.codecda, ["11490-0"]);
    assert_eq!(m.subject, "Lettre de liaison — sortie du 2 décembre");
    let names: Vec<_> = m
        .attachments
        .iter()
        .map(|a| (a.file_name.clone().unwrap(), a.media_type.clone()))
        .collect();
    assert_eq!(names[0], ("IHE_XDM.zip".into(), "application/zip".into()));
    assert_eq!(names[1].1, "application/pdf");
    assert_eq!(m.attachments[1].bytes, content);
    let xdm = m.xdm.as_ref().unwrap();
    assert_eq!(xdm.documents.len(), 1);
    assert_eq!(xdm.documents[0].bytes.as_ref(), cda.as_slice());
    assert_eq!(xdm.documents[0].entry.size, cda.len() as u64);
    let patient = m.patient.as_ref().unwrap();
    assert_eq!(&patient.ins, letter_42().patient.ins.ins());
}
