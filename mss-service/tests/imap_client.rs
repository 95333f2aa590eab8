//! The IMAP client against the MSSanté sandbox's IMAP server: implicit TLS with the
//! organisation's certificate and `AUTHENTICATE EXTERNAL`, STARTTLS with an operator account
//! and `LOGIN`, a message read byte for byte as stored, flags, IDLE, injected faults, a
//! server certificate from another CA, UIDVALIDITY across a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use mss_service::imap::{
    ClientCert, IdleEvent, ImapAuth, ImapClient, ImapError, ImapSession, ImapSettings, ImapStage,
    ImapTimeouts, ImapTls, TlsMode,
};
use mss_service::smtp::{AuthSettings, Envelope, SmtpClient, SmtpSettings, SmtpTls};
use passerelle_mtls::ClientIdentity;
use passerelle_sandbox::TestPki;
use passerelle_sandbox::mss::{
    DEFAULT_MAILBOX_PASSWORD, JEAN_FOUQUEREY, JEANNE_MEDECIN, LPS_APP, MssSandbox,
    MssSandboxConfig, RunningMssSandbox, SECRETARIAT,
};

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::ensure(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("mss-imap-client-pki"))
            .unwrap()
    })
}

async fn start(data: &Path, faults: &[&str]) -> RunningMssSandbox {
    MssSandbox::start(
        MssSandboxConfig {
            data_dir: data.to_path_buf(),
            faults: faults.iter().map(|f| f.parse().unwrap()).collect(),
            ..MssSandboxConfig::default()
        },
        pki(),
    )
    .await
    .unwrap()
}

fn org_identity() -> ClientIdentity {
    ClientIdentity::Pem {
        cert: pki().org_cert.clone(),
        key: pki().org_key.clone(),
    }
}

/// One message from the organisation's applicative mailbox to `to`, through our SMTP client.
async fn send(sandbox: &RunningMssSandbox, to: &str, subject: &str) {
    let client = SmtpClient::new(&SmtpSettings {
        host: "localhost".into(),
        port: Some(sandbox.implicit_tls_addr().port()),
        mode: mss_service::smtp::TlsMode::Implicit,
        auth: AuthSettings::Certificate,
        tls: SmtpTls {
            identity: Some(org_identity()),
            trusted_ca: vec![pki().ca_cert.clone()],
            ..SmtpTls::default()
        },
        ..SmtpSettings::default()
    })
    .unwrap();
    let message = format!(
        "From: <{LPS_APP}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
         Date: Mon, 01 Jun 2026 10:00:00 +0200\r\nMessage-ID: <{}@passerelle-sandbox.mssante.fr>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Bonjour {{3}}\r\n.ligne\r\n",
        uuid::Uuid::new_v4()
    );
    let envelope = Envelope {
        from: LPS_APP.into(),
        recipients: vec![to.into()],
        ..Envelope::default()
    };
    client
        .send(
            ClientCert::Configured,
            &envelope,
            &[Bytes::from(message.into_bytes())],
        )
        .await
        .unwrap();
}

fn timeouts() -> ImapTimeouts {
    ImapTimeouts {
        connect: Duration::from_secs(10),
        command: Duration::from_secs(10),
    }
}

/// Implicit TLS, the organisation's certificate, EXTERNAL.
fn org_settings(sandbox: &RunningMssSandbox) -> ImapSettings {
    ImapSettings {
        host: "localhost".into(),
        port: Some(sandbox.imaps_addr().port()),
        mode: TlsMode::Implicit,
        auth: ImapAuth::External,
        tls: ImapTls {
            identity: Some(org_identity()),
            trusted_ca: vec![pki().ca_cert.clone()],
            ..ImapTls::default()
        },
        timeouts: timeouts(),
    }
}

async fn secretariat(sandbox: &RunningMssSandbox) -> ImapSession {
    ImapClient::new(&org_settings(sandbox))
        .unwrap()
        .connect(ClientCert::Configured, Some(SECRETARIAT))
        .await
        .unwrap()
}

#[tokio::test]
async fn implicit_tls_external_reads_the_stored_message_and_marks_it_seen() {
    let data = tempfile::tempdir().unwrap();
    let sandbox = start(data.path(), &[]).await;
    send(&sandbox, SECRETARIAT, "Compte rendu").await;

    // Without an authorisation identity the certificate opens its first mailbox (lps@),
    // which is empty.
    let client = ImapClient::new(&org_settings(&sandbox)).unwrap();
    let mut lps = client.connect(ClientCert::Configured, None).await.unwrap();
    assert!(lps.capabilities().iter().any(|c| c == "IDLE"));
    assert_eq!(lps.select("INBOX").await.unwrap().exists, 0);
    lps.logout().await;

    let mut session = secretariat(&sandbox).await;
    let inbox = session.select("INBOX").await.unwrap();
    assert_eq!((inbox.exists, inbox.uid_next), (1, Some(2)));
    assert_eq!(session.uid_search("UNSEEN").await.unwrap(), vec![1]);
    let message = session.uid_fetch_message(1).await.unwrap();
    let stored = sandbox.mailbox(SECRETARIAT).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(&message[..], &std::fs::read(&stored[0].file).unwrap()[..]);
    assert!(String::from_utf8_lossy(&message).contains("Bonjour {3}\r\n.ligne"));
    // PEEK: still unseen.
    assert_eq!(session.uid_search("UNSEEN").await.unwrap(), vec![1]);
    session
        .uid_store_flags(1, &["\\Seen", "$MDNSent", "passerelle-lu"])
        .await
        .unwrap();
    assert!(session.uid_search("UNSEEN").await.unwrap().is_empty());
    assert_eq!(session.uid_search("UID 1:*").await.unwrap(), vec![1]);
    assert!(matches!(
        session.uid_fetch_message(9).await,
        Err(ImapError::No { .. })
    ));
    assert!(matches!(
        session.uid_store_flags(1, &["bad flag"]).await,
        Err(ImapError::Config { .. })
    ));
    session.logout().await;

    // A mailbox the certificate does not hold.
    let refused = client
        .connect(ClientCert::Configured, Some(JEAN_FOUQUEREY))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ImapError::AuthRefused { .. }),
        "{refused}"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn starttls_and_login_with_an_operator_account() {
    let data = tempfile::tempdir().unwrap();
    let sandbox = start(data.path(), &[]).await;
    send(&sandbox, JEAN_FOUQUEREY, "Lettre").await;
    let settings = |password: &str| ImapSettings {
        host: "localhost".into(),
        port: Some(sandbox.imap_addr().port()),
        mode: TlsMode::Starttls,
        auth: ImapAuth::Password {
            user: JEAN_FOUQUEREY.into(),
            password: password.into(),
        },
        tls: ImapTls {
            identity: None,
            trusted_ca: vec![pki().ca_cert.clone()],
            ..ImapTls::default()
        },
        timeouts: timeouts(),
    };
    let client = ImapClient::new(&settings(DEFAULT_MAILBOX_PASSWORD)).unwrap();
    let mut session = client.connect(ClientCert::Configured, None).await.unwrap();
    assert!(
        !session.capabilities().iter().any(|c| c == "STARTTLS"),
        "capabilities asked again inside TLS: {:?}",
        session.capabilities()
    );
    assert_eq!(session.select("INBOX").await.unwrap().exists, 1);
    let message = session.uid_fetch_message(1).await.unwrap();
    assert!(String::from_utf8_lossy(&message).contains("Subject: Lettre"));
    session.logout().await;

    let wrong = ImapClient::new(&settings("not-the-password"))
        .unwrap()
        .connect(ClientCert::Configured, None)
        .await
        .unwrap_err();
    assert!(matches!(wrong, ImapError::AuthRefused { .. }), "{wrong}");
    assert!(!wrong.to_string().contains("not-the-password"), "{wrong}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn idle_sees_a_message_arrive() {
    let data = tempfile::tempdir().unwrap();
    let sandbox = start(data.path(), &[]).await;
    let mut session = secretariat(&sandbox).await;
    assert_eq!(session.select("INBOX").await.unwrap().exists, 0);
    assert_eq!(
        session.idle(Duration::from_millis(300)).await.unwrap(),
        IdleEvent::Timeout
    );
    let (event, ()) = tokio::join!(session.idle(Duration::from_secs(10)), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        send(&sandbox, SECRETARIAT, "Nouveau").await;
    });
    assert_eq!(event.unwrap(), IdleEvent::Exists(1));
    // The session is usable after DONE.
    assert_eq!(session.uid_search("UNSEEN").await.unwrap(), vec![1]);
    session.logout().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn injected_faults_are_typed() {
    let data = tempfile::tempdir().unwrap();
    let sandbox = start(data.path(), &["imap-no"]).await;
    send(&sandbox, SECRETARIAT, "x").await;
    let mut session = secretariat(&sandbox).await;
    session.select("INBOX").await.unwrap();
    let e = session.uid_fetch_message(1).await.unwrap_err();
    assert!(
        matches!(&e, ImapError::No { command: "UID FETCH", text } if text.contains("UNAVAILABLE")),
        "{e}"
    );
    // NO leaves the session usable.
    assert_eq!(session.uid_search("ALL").await.unwrap(), vec![1]);
    session.logout().await;
    sandbox.shutdown().await;

    let data = tempfile::tempdir().unwrap();
    let sandbox = start(data.path(), &["imap-bye"]).await;
    send(&sandbox, SECRETARIAT, "x").await;
    let mut session = secretariat(&sandbox).await;
    session.select("INBOX").await.unwrap();
    let e = session.uid_fetch_message(1).await.unwrap_err();
    assert!(
        matches!(&e, ImapError::Bye { text } if text.contains("fault injected")),
        "{e}"
    );
    assert!(e.is_retryable());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let sandbox = start(data.path(), &[]).await;
    let mut settings = org_settings(&sandbox);
    settings.tls.trusted_ca = vec![pki().cps_ca_cert.clone()];
    let e = ImapClient::new(&settings)
        .unwrap()
        .connect(ClientCert::Configured, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ImapError::Tls { reason, .. } if reason.contains("imap.tls.trusted_ca")),
        "{e}"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn uidvalidity_and_uids_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let sandbox = start(data.path(), &[]).await;
    send(&sandbox, SECRETARIAT, "Un").await;
    let mut session = secretariat(&sandbox).await;
    let before = session.select("INBOX").await.unwrap();
    session.uid_store_flags(1, &["\\Seen"]).await.unwrap();
    session.logout().await;
    sandbox.shutdown().await;

    let sandbox = start(data.path(), &[]).await;
    send(&sandbox, SECRETARIAT, "Deux").await;
    let mut session = secretariat(&sandbox).await;
    let after = session.select("INBOX").await.unwrap();
    assert_eq!(after.uid_validity, before.uid_validity);
    assert_eq!((after.exists, after.uid_next), (2, Some(3)));
    assert_eq!(session.uid_search("UNSEEN").await.unwrap(), vec![2]);
    session.logout().await;
    sandbox.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// A scripted server, for what the sandbox does not do: SASL-IR, unknown untagged responses,
// literals outside the body, unsolicited FETCH, a patient's address in a server text.

/// Serves one implicit-TLS connection: the greeting, then for each step reads one command
/// line, checks it is `expected`, and writes `reply`. The lines received.
async fn scripted(
    steps: Vec<(&'static str, Vec<u8>)>,
) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pki().server_cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&pki().server_key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut io = BufReader::new(acceptor.accept(tcp).await.unwrap());
        io.get_mut()
            .write_all(b"* OK [CAPABILITY IMAP4rev1] scripted\r\n")
            .await
            .unwrap();
        let mut lines = Vec::new();
        let mut bye = false;
        for (expected, reply) in steps {
            bye = reply.starts_with(b"* BYE");
            let mut line = String::new();
            if io.read_line(&mut line).await.unwrap() == 0 {
                break;
            }
            let line = line.trim_end().to_owned();
            assert_eq!(line, expected);
            lines.push(line);
            io.get_mut().write_all(&reply).await.unwrap();
            io.get_mut().flush().await.unwrap();
        }
        // Held open until the client goes (a silent server, for timeouts); closed after BYE.
        let mut rest = String::new();
        while !bye && io.read_line(&mut rest).await.unwrap_or(0) > 0 {}
        lines
    });
    (port, handle)
}

#[tokio::test]
async fn sasl_ir_unknown_responses_and_literals_anywhere() {
    let body = b"Subject: x\r\n\r\n) {2}\r\n* 1 FETCH (UID 9)\r\n";
    let mut fetch = b"* 2 FETCH (FLAGS (\\Seen) UID 4)\r\n* XSTRANGE {3}\r\na\r\n\r\n".to_vec();
    fetch.extend_from_slice(
        format!(
            "* 3 FETCH (UID 5 X-LABEL \"a {{2}}\" BODY[] {{{}}}\r\n",
            body.len()
        )
        .as_bytes(),
    );
    fetch.extend_from_slice(body);
    fetch.extend_from_slice(b" FLAGS ())\r\nA0005 OK done\r\n");
    let (port, server) = scripted(vec![
        (
            "A0001 CAPABILITY",
            b"* CAPABILITY IMAP4rev1 SASL-IR AUTH=EXTERNAL IDLE\r\nA0001 OK done\r\n".to_vec(),
        ),
        (
            "A0002 AUTHENTICATE EXTERNAL =",
            b"A0002 OK welcome\r\n".to_vec(),
        ),
        (
            "A0003 SELECT \"INBOX\"",
            b"* FLAGS (\\Seen $MDNSent)\r\n* 3 EXISTS\r\n* 0 RECENT\r\n\
              * OK [UIDVALIDITY 77] ok\r\n* OK [UIDNEXT 9] ok\r\n* ID (\"name\" {4}\r\nabcd)\r\n\
              A0003 OK [READ-WRITE] done\r\n"
                .to_vec(),
        ),
        (
            "A0004 UID SEARCH UNSEEN",
            b"* SEARCH 5 3\r\n* 2 EXPUNGE\r\nA0004 OK done\r\n".to_vec(),
        ),
        ("A0005 UID FETCH 5 (UID BODY.PEEK[])", fetch),
        (
            "A0006 UID STORE 5 +FLAGS.SILENT (\\Seen)",
            b"A0006 NO [OVERQUOTA] 248039263001064@patient.mssante.fr is full\r\n".to_vec(),
        ),
        ("A0007 UID SEARCH ALL", b"* BYE going away\r\n".to_vec()),
    ])
    .await;
    let settings = ImapSettings {
        host: "localhost".into(),
        port: Some(port),
        tls: ImapTls {
            trusted_ca: vec![pki().ca_cert.clone()],
            ..ImapTls::default()
        },
        timeouts: timeouts(),
        ..ImapSettings::default()
    };
    let mut session = ImapClient::new(&settings)
        .unwrap()
        .connect(ClientCert::Configured, None)
        .await
        .unwrap();
    let inbox = session.select("INBOX").await.unwrap();
    assert_eq!(
        (inbox.uid_validity, inbox.exists, inbox.uid_next),
        (77, 3, Some(9))
    );
    assert_eq!(session.uid_search("UNSEEN").await.unwrap(), vec![3, 5]);
    assert_eq!(&session.uid_fetch_message(5).await.unwrap()[..], &body[..]);
    let e = session.uid_store_flags(5, &["\\Seen"]).await.unwrap_err();
    assert!(
        matches!(&e, ImapError::No { command: "UID STORE", text } if text.contains("OVERQUOTA")),
        "{e}"
    );
    assert!(!e.to_string().contains("248039263001064"), "{e}");
    let e = session.uid_search("ALL").await.unwrap_err();
    assert!(
        matches!(&e, ImapError::Bye { text } if text == "going away"),
        "{e}"
    );
    drop(session);
    assert_eq!(server.await.unwrap().len(), 7);
}

// ---------------------------------------------------------------------------------------
// The CPS card: a stand-in card-agent on the in-process bus signing with the test CPS key.

mod card {
    use std::sync::Arc;
    use std::time::Duration;

    use passerelle_bus::in_process::InProcessBus;
    use passerelle_bus::subjects::{CardOp, card_subject};
    use passerelle_bus::{SharedBus, proto_rpc};
    use passerelle_card_client::{CardAgentClient, CpsSession};
    use passerelle_proto::card::v1 as proto;
    use passerelle_service_kit::RequestId;
    use rsa::RsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    use tonic::Status;

    use super::pki;

    const WS: &str = "ws-imap";

    fn key(path: &std::path::Path) -> RsaPrivateKey {
        let pem = std::fs::read_to_string(path).unwrap();
        RsaPrivateKey::from_pkcs8_pem(&pem)
            .or_else(|_| {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                RsaPrivateKey::from_pkcs1_pem(&pem)
            })
            .unwrap()
    }

    /// A card session on a card-agent holding the test CPS.
    pub async fn session() -> CpsSession {
        let pki = pki();
        let bus: SharedBus = Arc::new(InProcessBus::new());
        let auth_pem = std::fs::read_to_string(&pki.cps_cert).unwrap();
        let sign_pem = std::fs::read_to_string(&pki.cps_sign_cert).unwrap();
        let auth_key = Arc::new(key(&pki.cps_key));
        let reads = bus
            .serve(&card_subject(WS, CardOp::Read).unwrap(), WS)
            .await
            .unwrap();
        let (a, s) = (auth_pem.clone(), sign_pem);
        tokio::spawn(proto_rpc::serve_typed(
            reads,
            1,
            move |_h, _req: proto::ReadCardRequest| {
                let (a, s) = (a.clone(), s.clone());
                async move {
                    Ok::<_, Status>(proto::ReadCardResponse {
                        reader: "R".to_owned(),
                        kind: proto::CardKind::Cps as i32,
                        card: Some(proto::read_card_response::Card::Cps(proto::CpsHolder {
                            id: passerelle_sandbox::pki::CPS_CARD_ID.to_owned(),
                            sign_certificate: s,
                            auth_certificate: a,
                            ..Default::default()
                        })),
                    })
                }
            },
        ));
        let signs = bus
            .serve(&card_subject(WS, CardOp::Sign).unwrap(), WS)
            .await
            .unwrap();
        tokio::spawn(proto_rpc::serve_typed(
            signs,
            2,
            move |_h, req: proto::SignRequest| {
                let (k, cert) = (auth_key.clone(), auth_pem.clone());
                async move {
                    let signature = k
                        .sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &req.digest)
                        .map_err(|e| Status::internal(e.to_string()))?;
                    Ok::<_, Status>(proto::SignResponse {
                        signature,
                        certificate: cert,
                        algorithm: passerelle_card_client::ALGORITHM.to_owned(),
                    })
                }
            },
        ));
        let agent = CardAgentClient::new(bus, WS, "mss-service")
            .unwrap()
            .with_timeout(Duration::from_secs(5));
        CpsSession::open(agent, RequestId::parse("req-imap").unwrap())
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_opens_its_holders_mailbox() {
    let data = tempfile::tempdir().unwrap();
    let sandbox = start(data.path(), &[]).await;
    send(&sandbox, JEANNE_MEDECIN, "Pour la CPS").await;
    let cps = card::session().await;
    let identity = cps.tls_identity();
    let mut settings = org_settings(&sandbox);
    settings.tls.identity = None;
    let client = ImapClient::new(&settings).unwrap();
    let mut session = client
        .connect(ClientCert::Card(&identity), Some(JEANNE_MEDECIN))
        .await
        .unwrap();
    assert_eq!(session.select("INBOX").await.unwrap().exists, 1);
    let message = session.uid_fetch_message(1).await.unwrap();
    assert!(String::from_utf8_lossy(&message).contains("Subject: Pour la CPS"));
    session.logout().await;
    // The card holds no organisation mailbox.
    let e = client
        .connect(ClientCert::Card(&identity), Some(SECRETARIAT))
        .await
        .unwrap_err();
    assert!(matches!(e, ImapError::AuthRefused { .. }), "{e}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_silent_server_is_a_timeout_at_its_stage() {
    let (port, server) = scripted(vec![
        (
            "A0001 CAPABILITY",
            b"* CAPABILITY IMAP4rev1 AUTH=EXTERNAL\r\nA0001 OK done\r\n".to_vec(),
        ),
        ("A0002 AUTHENTICATE EXTERNAL", b"+ \r\n".to_vec()),
        ("", b"A0002 OK welcome\r\n".to_vec()),
        ("A0003 SELECT \"INBOX\"", Vec::new()),
    ])
    .await;
    let settings = ImapSettings {
        host: "localhost".into(),
        port: Some(port),
        tls: ImapTls {
            trusted_ca: vec![pki().ca_cert.clone()],
            ..ImapTls::default()
        },
        timeouts: ImapTimeouts {
            connect: Duration::from_secs(5),
            command: Duration::from_millis(300),
        },
        ..ImapSettings::default()
    };
    let mut session = ImapClient::new(&settings)
        .unwrap()
        .connect(ClientCert::Configured, None)
        .await
        .unwrap();
    let e = session.select("INBOX").await.unwrap_err();
    assert!(
        matches!(
            e,
            ImapError::Timeout {
                stage: ImapStage::Select,
                ..
            }
        ),
        "{e}"
    );
    drop(session);
    // Without SASL-IR: the empty authorisation identity as an empty continuation line.
    assert_eq!(server.await.unwrap()[2], "");
}
