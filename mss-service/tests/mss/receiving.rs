//! Receiving end to end: letters sent through the SMTP sandbox land in the sandbox's
//! mailboxes, mss-service reads them over IMAP (a personal mailbox by its account, an
//! organisational one by the organisation's certificate and SASL EXTERNAL), stores their
//! documents, publishes `MssMessageReceived` once, lists and shows them, acknowledges them,
//! and sets aside what it cannot read while the mailbox keeps being read.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use mss_service::MssSettings;
use mss_service::imap::{ImapAuth, ImapClient, ImapSettings, ImapTls, TlsMode};
use mss_service::receiving::{MailboxSettings, ReceivingSettings};
use mss_service::smtp::{AuthSettings, ClientCert, Envelope, SmtpClient};
use passerelle_bus::documents::DocumentLimits;
use passerelle_bus::subjects;
use passerelle_bus::testing::BusKind;
use passerelle_mtls::ClientIdentity;
use passerelle_proto::events::v1::MssMessageReceived;
use passerelle_proto::mss::v1 as api;
use passerelle_sandbox::mss::{
    DEFAULT_MAILBOX_PASSWORD, JEAN_FOUQUEREY, JEANNE_MEDECIN, LPS_APP, MssSandboxConfig,
    RunningMssSandbox, SECRETARIAT,
};
use sha2::{Digest, Sha256};

use crate::support::*;

passerelle_bus::on_both_buses!(
    letter_is_received_once_per_mailbox,
    unreadable_message_is_set_aside_and_the_mailbox_goes_on,
    missing_folder_does_not_stop_the_other_mailboxes,
    server_gone_mid_fetch_loses_nothing,
    acknowledgement_to_another_address_is_held,
    truncated_and_oversized_messages_are_set_aside,
);

/// Receiving for Dr FOUQUEREY (his account) and the secretariat (the organisation's
/// certificate, SASL EXTERNAL), polling every half second when IDLE is not used.
pub fn receive(s: &mut MssSettings, mss: &RunningMssSandbox, folder_of_fouquerey: &str) {
    let pki = pki();
    let account = |user: &str| ImapAuth::Password {
        user: user.to_owned(),
        password: DEFAULT_MAILBOX_PASSWORD.to_owned(),
    };
    s.mss.receiving = ReceivingSettings {
        imap: ImapSettings {
            host: "127.0.0.1".to_owned(),
            port: Some(mss.imap_addr().port()),
            mode: TlsMode::Starttls,
            auth: ImapAuth::External,
            tls: ImapTls {
                identity: Some(ClientIdentity::Pem {
                    cert: pki.org_cert.clone(),
                    key: pki.org_key.clone(),
                }),
                trusted_ca: vec![pki.ca_cert.clone()],
                ..ImapTls::default()
            },
            ..ImapSettings::default()
        },
        mailboxes: vec![
            MailboxSettings {
                folder: folder_of_fouquerey.to_owned(),
                imap_auth: Some(account(JEAN_FOUQUEREY)),
                smtp_auth: Some(AuthSettings::Password {
                    user: JEAN_FOUQUEREY.to_owned(),
                    password: DEFAULT_MAILBOX_PASSWORD.to_owned(),
                }),
                ..MailboxSettings::new(JEAN_FOUQUEREY)
            },
            MailboxSettings::new(SECRETARIAT),
        ],
        lease: Duration::from_secs(3),
        poll_interval: Duration::from_millis(500),
        max_backoff: Duration::from_secs(1),
        ..ReceivingSettings::default()
    };
}

async fn receiving_fixture(kind: BusKind, sandbox: impl FnOnce(&mut MssSandboxConfig)) -> Fixture {
    start_with(kind, sandbox, |s, mss| receive(s, mss, "INBOX")).await
}

/// Events until `n` arrived (or fails after a while).
async fn events(stream: &mut passerelle_bus::MessageStream, n: usize) -> Vec<MssMessageReceived> {
    let mut out = Vec::new();
    while out.len() < n {
        out.push(
            tokio::time::timeout(Duration::from_secs(30), async { next(stream).await })
                .await
                .expect("MssMessageReceived"),
        );
    }
    out
}

/// The message listed in `mailbox` once its acknowledgement is settled.
async fn listed_settled(f: &Fixture, mailbox: &str) -> Vec<api::ReceivedMessageSummary> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed = f
            .client()
            .await
            .list_messages(api::ListMessagesRequest {
                mailbox: mailbox.to_owned(),
                limit: 0,
            })
            .await
            .unwrap()
            .into_inner()
            .messages;
        let settled = !listed.is_empty()
            && listed.iter().all(|m| {
                m.acknowledgement.as_ref().is_some_and(|a| {
                    a.state != api::AcknowledgementState::AcknowledgementUncertain as i32
                })
            });
        if settled || Instant::now() > deadline {
            return listed;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sha256_of_document(f: &Fixture, id: &str) -> String {
    let store = f.bus.documents(DocumentLimits::default()).await.unwrap();
    let (_, mut chunks) = store.get(id).await.unwrap();
    let mut hasher = Sha256::new();
    while let Some(chunk) = chunks.next().await {
        hasher.update(chunk.unwrap());
    }
    format!("{:x}", hasher.finalize())
}

/// The UIDs of `mailbox` carrying `keyword`, read by our IMAP client with the account.
async fn flagged(f: &Fixture, mailbox: &str, keyword: &str) -> Vec<u32> {
    let pki = pki();
    let client = ImapClient::new(&ImapSettings {
        host: "127.0.0.1".to_owned(),
        port: Some(f.mss.imap_addr().port()),
        mode: TlsMode::Starttls,
        auth: ImapAuth::Password {
            user: mailbox.to_owned(),
            password: DEFAULT_MAILBOX_PASSWORD.to_owned(),
        },
        tls: ImapTls {
            trusted_ca: vec![pki.ca_cert.clone()],
            ..ImapTls::default()
        },
        ..ImapSettings::default()
    })
    .unwrap();
    let mut session = client.connect(ClientCert::Configured, None).await.unwrap();
    session.select("INBOX").await.unwrap();
    let uids = session
        .uid_search(&format!("KEYWORD {keyword}"))
        .await
        .unwrap();
    session.logout().await;
    uids
}

/// Professionals only: the matrix wants the document hidden from the patient (row M2).
fn hidden_from_patient(document: Option<api::Document>) -> Option<api::Document> {
    document.map(|d| api::Document {
        hide_from_patient: true,
        ..d
    })
}

/// Sends raw bytes from the organisation's applicative mailbox.
async fn send_raw(f: &Fixture, to: &str, raw: Vec<u8>) {
    let s = settings(pki(), &f.mss, "https://127.0.0.1:1/fhir");
    let client = SmtpClient::new(&s.mss.smtp).unwrap();
    client
        .send(
            ClientCert::Configured,
            &Envelope {
                from: LPS_APP.to_owned(),
                recipients: vec![to.to_owned()],
                eight_bit: false,
                all_or_nothing: true,
                ..Envelope::default()
            },
            &[Bytes::from(raw)],
        )
        .await
        .unwrap();
}

/// A letter with its PDF to a personal and an organisational mailbox, acknowledgement
/// asked: each mailbox's copy is read once, its documents stored as received (the PDF's
/// hash), the patient's INS carried, listed and shown with its documents, its MDN sent back
/// to the sender, and flagged in the mailbox.
pub async fn letter_is_received_once_per_mailbox(kind: BusKind) {
    let f = receiving_fixture(kind, |_| {}).await;
    let mut received = f.subscribe(subjects::EVENTS_MSS_MESSAGE_RECEIVED).await;
    let pdf = pdf();
    let document_id = f.upload(&pdf, "application/pdf").await;
    let mut req = note(&[JEAN_FOUQUEREY, SECRETARIAT], "receiving-1");
    req.patient = pat_douze();
    req.document = hidden_from_patient(letter(&document_id));
    req.acknowledgement = true;
    let sent = f.send(req).await.unwrap();
    let message_id = sent.messages[0].message_id.clone();

    let mut got = events(&mut received, 2).await;
    got.sort_by(|a, b| a.mailbox.cmp(&b.mailbox));
    assert_eq!(got[0].mailbox, JEAN_FOUQUEREY);
    assert_eq!(got[1].mailbox, SECRETARIAT);
    let pdf_sha = format!("{:x}", Sha256::digest(&pdf));
    for event in &got {
        assert_eq!(event.message_id, message_id);
        assert_eq!(event.status, "processed");
        assert_eq!(event.from, LPS_APP);
        let patient = event.patient.as_ref().expect("the patient's INS");
        assert_eq!(
            (patient.matricule.as_str(), patient.key.as_str()),
            PAT_DOUZE
        );
        assert!(
            event.patient_oid_qualifies,
            "test INS-NIR on a test platform"
        );
        let roles: Vec<_> = event.documents.iter().map(|d| d.role.as_str()).collect();
        assert!(
            roles.contains(&"xdm") && roles.contains(&"xdm-document"),
            "{roles:?}"
        );
        let attached = event
            .documents
            .iter()
            .find(|d| d.role == "attachment" && d.media_type == "application/pdf")
            .expect("the PDF");
        assert_eq!(attached.sha256, pdf_sha);
        assert_eq!(sha256_of_document(&f, &attached.document_id).await, pdf_sha);
        let cda = event
            .documents
            .iter()
            .find(|d| d.role == "xdm-document")
            .unwrap();
        assert!(!cda.unique_id.is_empty() && !cda.type_code.is_empty());
    }
    // The two copies' documents are stored apart.
    assert_ne!(
        got[0].documents[0].document_id,
        got[1].documents[0].document_id
    );

    let listed = listed_settled(&f, JEAN_FOUQUEREY).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let summary = &listed[0];
    assert_eq!(summary.message_id, message_id);
    assert!(!summary.message_id_derived);
    assert_eq!(summary.status, api::ReceivedStatus::Processed as i32);
    assert!(summary.patient_ins.is_some());
    assert!(
        summary
            .attachments
            .iter()
            .any(|a| a.media_type == "application/pdf")
    );
    let ack = summary.acknowledgement.as_ref().unwrap();
    assert_eq!(
        ack.state,
        api::AcknowledgementState::AcknowledgementSent as i32,
        "{ack:?}"
    );
    assert_eq!(ack.to, LPS_APP);

    let full = f
        .client()
        .await
        .get_message(api::GetMessageRequest {
            mailbox: JEAN_FOUQUEREY.to_owned(),
            message_id: message_id.trim_matches(['<', '>']).to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(full.to, [JEAN_FOUQUEREY, SECRETARIAT]);
    assert!(!full.text.is_empty());
    assert!(full.documents.len() >= 3);
    assert!(
        full.mss_headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("X-MSS-INS"))
    );

    // The MDNs reached the sender's mailbox: one per receiving mailbox, at most.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mdns = loop {
        let mdns: Vec<_> = f
            .mailbox(LPS_APP)
            .into_iter()
            .filter(|m| {
                std::fs::read_to_string(&m.file)
                    .unwrap_or_default()
                    .contains("disposition-notification")
            })
            .collect();
        if mdns.len() >= 2 || Instant::now() > deadline {
            break mdns;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(mdns.len(), 2, "one MDN per receiving mailbox");
    assert_eq!(
        flagged(&f, JEAN_FOUQUEREY, "$PasserelleDone").await.len(),
        1
    );
    assert_eq!(flagged(&f, JEAN_FOUQUEREY, "$MDNSent").await.len(), 1);
    // Nothing more: the copies are done.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(quiet(&mut received).await);
}

/// A message whose XDM document does not match its metadata's hash is set aside (flagged,
/// reported with the guide's code, the raw message kept), the sender gets the error MDN, a
/// message without Message-ID gets a derived one, and the mailbox goes on with the next.
pub async fn unreadable_message_is_set_aside_and_the_mailbox_goes_on(kind: BusKind) {
    let f = receiving_fixture(kind, |_| {}).await;
    let mut received = f.subscribe(subjects::EVENTS_MSS_MESSAGE_RECEIVED).await;
    let bad = tampered_letter(&f).await;
    send_raw(&f, JEAN_FOUQUEREY, bad).await;
    let no_id = format!(
        "From: <{LPS_APP}>\r\nTo: <{JEAN_FOUQUEREY}>\r\nSubject: sans identifiant\r\nDate: Thu, 03 Dec 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour.\r\n"
    );
    // The SMTP sandbox refuses a message without Message-ID, as MSSanté servers do: this
    // one is put in the mailbox's folder directly, as a local delivery would.
    let dir = passerelle_sandbox::mss::mailbox_dir(f.mss.data_dir(), JEAN_FOUQUEREY).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let stem = format!(
        "{:020}-noid",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    std::fs::write(dir.join(format!("{stem}.tmp")), no_id).unwrap();
    std::fs::rename(
        dir.join(format!("{stem}.tmp")),
        dir.join(format!("{stem}.eml")),
    )
    .unwrap();

    let got = events(&mut received, 2).await;
    let set_aside = got
        .iter()
        .find(|e| e.status == "set_aside")
        .expect("set aside");
    assert!(!set_aside.problem.is_empty());
    assert!(!set_aside.problem_code.is_empty());
    assert!(
        set_aside.documents.iter().any(|d| d.role == "raw"),
        "the raw message kept"
    );
    let derived = got
        .iter()
        .find(|e| e.status == "processed")
        .expect("the next one");
    assert!(derived.message_id_derived);
    assert!(
        derived.message_id.ends_with("@inbox.passerelle.invalid>"),
        "{}",
        derived.message_id
    );

    assert_eq!(
        flagged(&f, JEAN_FOUQUEREY, "$PasserelleSetAside")
            .await
            .len(),
        1
    );
    assert_eq!(
        flagged(&f, JEAN_FOUQUEREY, "$PasserelleDone").await.len(),
        1
    );
    let listed = listed_settled(&f, JEAN_FOUQUEREY).await;
    let aside = listed
        .iter()
        .find(|m| m.status == api::ReceivedStatus::SetAside as i32)
        .unwrap();
    let ack = aside.acknowledgement.as_ref().unwrap();
    assert_eq!(
        ack.state,
        api::AcknowledgementState::AcknowledgementSent as i32,
        "{ack:?}"
    );
    assert!(quiet(&mut received).await);
}

/// A letter the service sent (to a mailbox nobody reads here), its IHE_XDM.zip damaged in
/// the middle (the base64 stays valid, the zip's content does not).
async fn tampered_letter(f: &Fixture) -> Vec<u8> {
    let pdf = pdf();
    let document_id = f.upload(&pdf, "application/pdf").await;
    let mut req = note(&[JEANNE_MEDECIN], "tampered");
    req.patient = pat_douze();
    req.document = hidden_from_patient(letter(&document_id));
    req.acknowledgement = true;
    f.send(req).await.unwrap();
    let stored = f.mailbox(JEANNE_MEDECIN).pop().unwrap();
    let mut raw = std::fs::read(&stored.file).unwrap();
    // From the sandbox's own Return-Path on: a resend gets a new one.
    let body_start = find(&raw, b"IHE_XDM.zip").unwrap();
    let data_start = body_start + find(&raw[body_start..], b"\r\n\r\n").unwrap() + 4;
    // In the middle of the zip: inside the CDA, the largest entry.
    let data_end = data_start + find(&raw[data_start..], b"\r\n--").unwrap();
    let mut changed = 0;
    for b in raw[(data_start + data_end) / 2..data_end].iter_mut() {
        if b.is_ascii_alphanumeric() {
            *b = if *b == b'A' { b'B' } else { b'A' };
            changed += 1;
            if changed == 60 {
                break;
            }
        }
    }
    if raw.starts_with(b"Return-Path:") {
        let end = find(&raw, b"\r\n").unwrap() + 2;
        raw.drain(..end);
    }
    raw
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A mailbox the server does not have (its folder gone) keeps failing and being retried,
/// while the other mailbox is read; an unconfigured mailbox is NOT_FOUND with the setting
/// to add.
pub async fn missing_folder_does_not_stop_the_other_mailboxes(kind: BusKind) {
    let f = start_with(kind, |_| {}, |s, mss| receive(s, mss, "Disparu")).await;
    let mut received = f.subscribe(subjects::EVENTS_MSS_MESSAGE_RECEIVED).await;
    let mut req = note(&[SECRETARIAT], "to-the-secretariat");
    req.acknowledgement = false;
    f.send(req).await.unwrap();
    let got = events(&mut received, 1).await;
    assert_eq!(got[0].mailbox, SECRETARIAT);
    let listed = f
        .client()
        .await
        .list_messages(api::ListMessagesRequest {
            mailbox: JEAN_FOUQUEREY.to_owned(),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.messages.is_empty());
    let err = f
        .client()
        .await
        .list_messages(api::ListMessagesRequest {
            mailbox: "inconnu@passerelle-sandbox.mssante.fr".to_owned(),
            limit: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    assert_eq!(reason(&err), "MAILBOX_NOT_READ");
    assert!(
        err.message().contains("[[mss.receiving.mailboxes]]"),
        "{}",
        err.message()
    );
}

/// The IMAP server drops the connection at every third FETCH (each message takes two: its
/// size, then its bytes): the reader connects again and every message is received once.
pub async fn server_gone_mid_fetch_loses_nothing(kind: BusKind) {
    let f = receiving_fixture(kind, |c| {
        c.faults = vec!["imap-bye@3".parse().unwrap()];
    })
    .await;
    let mut received = f.subscribe(subjects::EVENTS_MSS_MESSAGE_RECEIVED).await;
    for i in 0..4 {
        let mut req = note(&[SECRETARIAT], &format!("bye-{i}"));
        req.acknowledgement = false;
        f.send(req).await.unwrap();
    }
    let got = events(&mut received, 4).await;
    let mut ids: Vec<_> = got.iter().map(|e| e.message_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "each message once");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(quiet(&mut received).await);
}

/// `Disposition-Notification-To` differs from `Return-Path`: RFC 8098 (and the MSSanté
/// guide) say not to answer automatically — the acknowledgement is held and reported, no
/// MDN leaves.
pub async fn acknowledgement_to_another_address_is_held(kind: BusKind) {
    let f = receiving_fixture(kind, |_| {}).await;
    let mut received = f.subscribe(subjects::EVENTS_MSS_MESSAGE_RECEIVED).await;
    let raw = format!(
        "From: <{LPS_APP}>\r\nTo: <{SECRETARIAT}>\r\nSubject: accuse ailleurs\r\nDate: Thu, 03 Dec 2026 10:00:00 +0100\r\nMessage-ID: <held-1@passerelle-sandbox.mssante.fr>\r\nDisposition-Notification-To: <{JEANNE_MEDECIN}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour.\r\n"
    );
    send_raw(&f, SECRETARIAT, raw.into_bytes()).await;
    events(&mut received, 1).await;
    let listed = listed_settled(&f, SECRETARIAT).await;
    let ack = listed[0].acknowledgement.as_ref().unwrap();
    assert_eq!(
        ack.state,
        api::AcknowledgementState::AcknowledgementHeld as i32,
        "{ack:?}"
    );
    assert_eq!(ack.to, JEANNE_MEDECIN);
    assert!(!ack.detail.is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    for mailbox in [LPS_APP, JEANNE_MEDECIN] {
        let mdns = f
            .mailbox(mailbox)
            .into_iter()
            .filter(|m| {
                std::fs::read_to_string(&m.file)
                    .unwrap_or_default()
                    .contains("disposition-notification")
            })
            .count();
        assert_eq!(mdns, 0, "no MDN to {mailbox}");
    }
    assert!(flagged(&f, SECRETARIAT, "$MDNSent").await.is_empty());
}

/// A message cut before its closing boundary and one over the size read are set aside (their
/// raw bytes kept, the reason given), and the message after them is read.
pub async fn truncated_and_oversized_messages_are_set_aside(kind: BusKind) {
    let f = start_with(
        kind,
        |_| {},
        |s, mss| {
            receive(s, mss, "INBOX");
            s.mss.receiving.max_message_bytes = 200_000;
        },
    )
    .await;
    let mut received = f.subscribe(subjects::EVENTS_MSS_MESSAGE_RECEIVED).await;
    let head = |id: &str| {
        format!(
            "From: <{LPS_APP}>\r\nTo: <{SECRETARIAT}>\r\nSubject: {id}\r\nDate: Thu, 03 Dec 2026 10:00:00 +0100\r\nMessage-ID: <{id}@passerelle-sandbox.mssante.fr>\r\nMIME-Version: 1.0\r\n"
        )
    };
    let truncated = format!(
        "{}Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nle debut seulement\r\n",
        head("truncated")
    );
    let huge = format!(
        "{}Content-Type: text/plain\r\n\r\n{}",
        head("huge"),
        "0123456789012345678901234567890123456789012345678901234567890123456789\r\n".repeat(4000)
    );
    let fine = format!(
        "{}Content-Type: text/plain\r\n\r\nBonjour.\r\n",
        head("fine")
    );
    for raw in [truncated, huge, fine] {
        send_raw(&f, SECRETARIAT, raw.into_bytes()).await;
    }
    let got = events(&mut received, 3).await;
    let by_id = |id: &str| {
        got.iter()
            .find(|e| e.message_id == format!("<{id}@passerelle-sandbox.mssante.fr>"))
            .unwrap_or_else(|| panic!("{id}: {got:?}"))
    };
    for (id, says) in [("truncated", "truncated"), ("huge", "200000")] {
        let e = by_id(id);
        assert_eq!(e.status, "set_aside", "{id}");
        assert!(e.problem.contains(says), "{id}: {}", e.problem);
        assert_eq!(e.problem_code, "207^906", "{id}");
    }
    // The truncated one is kept as received; the huge one is never loaded whole: it stays
    // in the mailbox, flagged, and the report says so.
    assert!(by_id("truncated").documents.iter().any(|d| d.role == "raw"));
    assert!(by_id("huge").documents.is_empty());
    let huge = &by_id("huge").problem;
    assert!(huge.contains("left whole in the mailbox"), "{huge}");
    assert_eq!(by_id("fine").status, "processed");
    assert_eq!(
        flagged(&f, SECRETARIAT, "$PasserelleSetAside").await.len(),
        2
    );
}
