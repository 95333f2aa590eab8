//! The whole mail chain on real servers: mss-service sends a letter (gRPC `Send`,
//! organisation mode) through Debian's Postfix (`support/postfix.rs`: TLS, the organisation's
//! certificate the one allowed to relay), whose `virtual` agent delivers it into the maildirs
//! of Debian's Dovecot (`support/dovecot.rs`); mss-service's receiving side reads it back over
//! IMAP (STARTTLS, the organisation's certificate, SASL EXTERNAL naming the mailbox), publishes
//! `MssMessageReceived` with its documents and the patient's INS, sends the MDN back through
//! Postfix to the sender's mailbox (also Dovecot's) and flags the message in Dovecot.
//!
//! Needs `postfix`, `dovecot-imapd` and root; `PASSERELLE_POSTFIX_TEST=skip` or
//! `PASSERELLE_DOVECOT_TEST=skip` skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use mss_service::MssSettings;
use mss_service::imap::{ClientCert, ImapAuth, ImapClient, TlsMode};
use mss_service::receiving::{MailboxSettings, ReceivingSettings};
use passerelle_bus::documents::DocumentLimits;
use passerelle_bus::in_process::InProcessBus;
use passerelle_bus::{SharedBus, subjects};
use passerelle_mtls::ClientIdentity;
use passerelle_proto::common::v1::{
    Actor, IdentityStatus, OrganisationMode, PatientIdentity, Sex, actor,
};
use passerelle_proto::documents::v1::{
    UploadMetadata, UploadRequest, document_store_client::DocumentStoreClient, upload_request,
};
use passerelle_proto::events::v1::MssMessageReceived;
use passerelle_proto::mss::v1::{self as api, mss_service_client::MssServiceClient};
use passerelle_sandbox::pki::TestPki;
use passerelle_service_kit::settings::{GrpcSettings, KitSettings};
use passerelle_service_kit::{Roles, Shutdown};
use prost::Message as _;
use sha2::{Digest, Sha256};
use support::dovecot::{Dovecot, FOUQUEREY, LPS, MAILBOXES, SECRETARIAT};
use support::postfix::{Delivery, Postfix};

/// The tutorial's patient, Nathalie PAT-DOUZE: her INS.
const PAT_DOUZE: (&str, &str) = ("2480392630010", "64");

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::ensure(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("mss-chain-pki")).unwrap()
    })
}

fn org_identity() -> ClientIdentity {
    ClientIdentity::Pem {
        cert: pki().org_cert.clone(),
        key: pki().org_key.clone(),
    }
}

/// Dovecot, then a Postfix delivering into Dovecot's maildirs (`<base>/<address>/`, as
/// `nobody`, Dovecot's mail user). `None` when either is told to skip.
fn servers() -> Option<(Dovecot, Postfix)> {
    let skip = |var: &str| std::env::var(var).is_ok_and(|v| v == "skip");
    if skip("PASSERELLE_POSTFIX_TEST") || skip("PASSERELLE_DOVECOT_TEST") {
        eprintln!("PASSERELLE_POSTFIX_TEST or PASSERELLE_DOVECOT_TEST=skip: skipped");
        return None;
    }
    let dovecot = Dovecot::start(pki())?;
    let base = dovecot.maildir(LPS).parent().unwrap().to_owned();
    let postfix = Postfix::start_delivering(
        pki(),
        Delivery {
            base,
            maildirs: MAILBOXES
                .iter()
                .map(|m| ((*m).to_owned(), format!("{m}/")))
                .collect(),
        },
    )?;
    Some((dovecot, postfix))
}

/// mss-service sending through Postfix (STARTTLS, the organisation's certificate) and
/// reading Dr FOUQUEREY's and the secretariat's mailboxes from Dovecot (STARTTLS, the
/// organisation's certificate as master, EXTERNAL naming the mailbox).
fn settings(dovecot: &Dovecot, postfix: &Postfix) -> MssSettings {
    let mut s = MssSettings::default();
    s.mss.smtp = postfix.settings(TlsMode::Starttls, org_identity());
    s.mss.default_from = Some(LPS.to_owned());
    s.mss.source_id = "1.2.250.1.999.1.1".to_owned();
    s.mss.test_platform = true;
    s.mss.nil = Some("PASSERELLE-TEST".to_owned());
    let mut imap = dovecot.imap_settings(TlsMode::Starttls, ImapAuth::External);
    imap.tls.identity = Some(org_identity());
    s.mss.receiving = ReceivingSettings {
        imap,
        mailboxes: vec![
            MailboxSettings::new(FOUQUEREY),
            MailboxSettings::new(SECRETARIAT),
        ],
        lease: Duration::from_secs(3),
        poll_interval: Duration::from_millis(500),
        max_backoff: Duration::from_secs(1),
        ..ReceivingSettings::default()
    };
    s.card_timeout = Duration::from_secs(10);
    s
}

fn org_actor() -> Option<Actor> {
    Some(Actor {
        mode: Some(actor::Mode::Organisation(OrganisationMode {
            on_behalf_of: "mail-chain-test".to_owned(),
        })),
        professional: Some(passerelle_service_kit::testing::sandbox_medecin()),
    })
}

fn pat_douze() -> Option<PatientIdentity> {
    Some(PatientIdentity {
        matricule: PAT_DOUZE.0.to_owned(),
        key: PAT_DOUZE.1.to_owned(),
        oid: "1.2.250.1.213.1.4.8".to_owned(),
        birth_name: "PAT-DOUZE".to_owned(),
        used_name: String::new(),
        first_names: vec!["NATHALIE".to_owned()],
        sex: Sex::Female as i32,
        birth_date: "1948-03-21".to_owned(),
        birth_place: String::new(),
        status: IdentityStatus::Qualifiee as i32,
    })
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec()
}

async fn upload(endpoint: &str, content: &[u8], media_type: &str) -> String {
    let mut store = DocumentStoreClient::connect(endpoint.to_owned())
        .await
        .unwrap();
    let parts = vec![
        UploadRequest {
            part: Some(upload_request::Part::Metadata(UploadMetadata {
                media_type: media_type.to_owned(),
                file_name: None,
                declared_size: Some(content.len() as u64),
            })),
        },
        UploadRequest {
            part: Some(upload_request::Part::Chunk(content.to_vec())),
        },
    ];
    store
        .upload(futures::stream::iter(parts))
        .await
        .unwrap()
        .into_inner()
        .id
}

async fn sha256_of_document(bus: &SharedBus, id: &str) -> String {
    let store = bus.documents(DocumentLimits::default()).await.unwrap();
    let (_, mut chunks) = store.get(id).await.unwrap();
    let mut hasher = Sha256::new();
    while let Some(chunk) = chunks.next().await {
        hasher.update(chunk.unwrap());
    }
    format!("{:x}", hasher.finalize())
}

/// The files of a maildir's `new/` and `cur/` whose content has `needle`, waiting up to
/// `wait` for `count` of them.
fn messages_with(maildir: &Path, needle: &str, count: usize, wait: Duration) -> Vec<PathBuf> {
    let deadline = Instant::now() + wait;
    loop {
        let found: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .flat_map(|sub| {
                std::fs::read_dir(maildir.join(sub))
                    .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
                    .unwrap_or_else(|_| Vec::new())
            })
            .filter(|f| {
                std::fs::read_to_string(f)
                    .unwrap_or_default()
                    .contains(needle)
            })
            .collect();
        if found.len() >= count || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The UIDs of `mailbox`'s INBOX carrying `keyword`, read by our IMAP client (the
/// applicative mailbox's certificate, a master, naming the mailbox).
async fn flagged(dovecot: &Dovecot, mailbox: &str, keyword: &str) -> Vec<u32> {
    let client =
        ImapClient::new(&dovecot.imap_settings(TlsMode::Implicit, ImapAuth::External)).unwrap();
    let mut session = client
        .connect(ClientCert::Configured, Some(mailbox))
        .await
        .unwrap();
    session.select("INBOX").await.unwrap();
    let uids = session
        .uid_search(&format!("KEYWORD {keyword}"))
        .await
        .unwrap();
    session.logout().await;
    uids
}

/// A letter with its PDF for the tutorial's patient, acknowledgement asked, sent through
/// Postfix to Dr FOUQUEREY and the secretariat, is read from Dovecot in each mailbox:
/// published once with its PDF (same hash) and the patient's INS, acknowledged by an MDN
/// that Postfix delivers to the sender's mailbox, flagged done in Dovecot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letter_sent_through_postfix_is_read_from_dovecot_published_and_acknowledged() {
    let Some((dovecot, postfix)) = servers() else {
        return;
    };
    let bus: SharedBus = Arc::new(InProcessBus::new());
    let shutdown = Shutdown::new();
    let kit = KitSettings {
        grpc: GrpcSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..KitSettings::default().grpc
        },
        ..KitSettings::default()
    };
    let mut received = bus
        .subscribe(subjects::EVENTS_MSS_MESSAGE_RECEIVED)
        .await
        .unwrap();
    let service = mss_service::start(
        &kit,
        &settings(&dovecot, &postfix),
        bus.clone(),
        Roles::default(),
        shutdown.clone(),
    )
    .await
    .expect("mss-service starts");
    let endpoint = service.endpoint().expect("a gRPC face");

    let pdf = pdf();
    let document_id = upload(&endpoint, &pdf, "application/pdf").await;
    let req = api::SendRequest {
        actor: org_actor(),
        to: vec![FOUQUEREY.to_owned(), SECRETARIAT.to_owned()],
        subject: "Lettre de liaison".to_owned(),
        body: Some(api::Body {
            text: "Bonjour, veuillez trouver la lettre de liaison.".to_owned(),
            html: String::new(),
        }),
        idempotency_key: "mail-chain-1".to_owned(),
        patient: pat_douze(),
        // Professionals only: the matrix wants the document hidden from the patient.
        document: Some(api::Document {
            document_id,
            title: "Courrier standard".to_owned(),
            type_code: "11490-0".to_owned(),
            hide_from_patient: true,
            ..Default::default()
        }),
        acknowledgement: true,
        ..Default::default()
    };
    let sent = MssServiceClient::connect(endpoint.clone())
        .await
        .unwrap()
        .send(req)
        .await
        .unwrap_or_else(|s| panic!("{s:?}\nmaillog:\n{}", postfix.maillog()))
        .into_inner();
    let message_id = sent.messages[0].message_id.clone();

    let mut got: Vec<MssMessageReceived> = Vec::new();
    while got.len() < 2 {
        let next = tokio::time::timeout(Duration::from_secs(30), received.next()).await;
        let Ok(Some(message)) = next else {
            panic!(
                "{} of 2 MssMessageReceived\nmaillog:\n{}\ndovecot:\n{}",
                got.len(),
                postfix.maillog(),
                dovecot.log()
            );
        };
        got.push(MssMessageReceived::decode(message.payload).unwrap());
    }
    got.sort_by(|a, b| a.mailbox.cmp(&b.mailbox));
    assert_eq!(got[0].mailbox, FOUQUEREY);
    assert_eq!(got[1].mailbox, SECRETARIAT);
    let pdf_sha = format!("{:x}", Sha256::digest(&pdf));
    for event in &got {
        assert_eq!(event.message_id, message_id);
        assert!(!event.message_id_derived);
        assert_eq!(event.status, "processed", "{event:?}");
        assert_eq!(event.from, LPS);
        let patient = event.patient.as_ref().expect("the patient's INS");
        assert_eq!(
            (patient.matricule.as_str(), patient.key.as_str()),
            PAT_DOUZE
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
        assert_eq!(
            sha256_of_document(&bus, &attached.document_id).await,
            pdf_sha
        );
    }

    // Each copy came through Postfix: its envelope sender, which the MDN decision compares
    // with the address the acknowledgement goes to, written as Return-Path.
    for mailbox in [FOUQUEREY, SECRETARIAT] {
        let copies = messages_with(
            &dovecot.maildir(mailbox),
            &message_id,
            1,
            Duration::from_secs(1),
        );
        assert_eq!(copies.len(), 1, "{mailbox}");
        let text = std::fs::read_to_string(&copies[0]).unwrap();
        assert!(text.starts_with(&format!("Return-Path: <{LPS}>")), "{text}");
        assert!(text.contains(&format!("Delivered-To: {mailbox}")), "{text}");
    }

    // One MDN per receiving mailbox, through Postfix into the sender's maildir at Dovecot.
    let original = format!("Original-Message-ID: {message_id}");
    let mdns = messages_with(
        &dovecot.maildir(LPS),
        "disposition-notification",
        2,
        Duration::from_secs(30),
    );
    assert_eq!(
        mdns.len(),
        2,
        "one MDN per receiving mailbox\nmaillog:\n{}",
        postfix.maillog()
    );
    for mdn in &mdns {
        let text = std::fs::read_to_string(mdn).unwrap();
        assert!(
            text.contains("multipart/report")
                && text.contains("report-type=disposition-notification"),
            "{text}"
        );
        assert!(text.contains(&original), "{text}");
        // Sent with a null reverse path, as RFC 8098 asks.
        assert!(text.starts_with("Return-Path: <>"), "{text}");
    }

    // Flagged once the MDN is sent: wait for the STORE after the SMTP transaction.
    for event in &got {
        let mailbox = event.mailbox.as_str();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let done = flagged(&dovecot, mailbox, "$PasserelleDone").await;
            let mdn_sent = flagged(&dovecot, mailbox, "$MDNSent").await;
            if (done.len(), mdn_sent.len()) == (1, 1) {
                assert_eq!(done, [event.uid]);
                assert_eq!(mdn_sent, [event.uid]);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{mailbox}: $PasserelleDone {done:?}, $MDNSent {mdn_sent:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // Read once: nothing more comes.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), received.next())
            .await
            .is_err()
    );
    // The service leaves its IMAP sessions before the servers stop (dropped after).
    shutdown.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(10), service.wait()).await;
}
