//! The SMTP client against a scripted server (a stand-in for an operator's server we do not
//! control: TLS from the sandbox PKI, replies from a script, every command checked): replies
//! over several lines, STARTTLS, the certificate alone or SASL EXTERNAL, passwords only inside
//! TLS, refused recipients, 4xx and 5xx, SIZE, timeouts, a connection dropped mid-message,
//! dot-stuffing, TLS failures, the CPS card signing the handshake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use mss_service::smtp::{
    AuthSettings, AuthUsed, ClientCert, Dsn, Envelope, SizeLimit, SmtpClient, SmtpError,
    SmtpSettings, SmtpTls, Stage, Timeouts, TlsFailure, TlsMode, TlsVersion,
};
use passerelle_mtls::ClientIdentity;
use passerelle_sandbox::pki::TestPki;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

const FROM: &str = "lps@passerelle-sandbox.mssante.fr";
const FOUQUEREY: &str = "jean.fouquerey@passerelle-sandbox.mssante.fr";
const SECRETARIAT: &str = "secretariat@passerelle-sandbox.mssante.fr";
const PATIENT: &str = "248039263001064@patient.mssante.fr";

/// The sandbox PKI, made once for this test binary.
fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::ensure(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("mss-smtp-pki")).unwrap()
    })
}

// ---------------------------------------------------------------------------------------
// The scripted server.

#[derive(Clone, Debug)]
enum Step {
    /// Sends a reply: its lines separated by `\n`, each sent with CRLF.
    Say(&'static str),
    /// Reads one command line, which must start with this.
    Expect(&'static str),
    /// Reads one command line, which must be exactly this.
    ExpectLine(String),
    /// The TLS handshake, as the server.
    Tls,
    /// Reads the message up to its terminating `.` line.
    Data,
    /// Reads this many bytes of the message, then closes the connection.
    DropAfter(usize),
    Pause(Duration),
}

use Step::*;

#[derive(Debug, Default)]
struct Transcript {
    /// Every command line received, in order.
    lines: Vec<String>,
    /// Each message as received (dot-stuffed, up to and including the final `.` line).
    data: Vec<Vec<u8>>,
    /// The client certificate presented at the handshake (leaf, DER).
    client_cert: Option<Vec<u8>>,
    tls_version: Option<String>,
    /// The first step that did not go as scripted.
    error: Option<String>,
    /// Lines received after the script ended (there should be none).
    extra: Vec<String>,
}

enum ServerStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Gone,
}

impl AsyncRead for ServerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_read(cx, buf),
            Self::Gone => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for ServerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_write(cx, buf),
            Self::Gone => Poll::Ready(Ok(buf.len())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s).poll_flush(cx),
            Self::Gone => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s).poll_shutdown(cx),
            Self::Gone => Poll::Ready(Ok(())),
        }
    }
}

#[derive(Clone, Copy)]
struct ServerOptions {
    /// Ask for a client certificate (optional: a client without one goes on).
    ask_cert: bool,
    bind: [u8; 4],
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            ask_cert: true,
            bind: [127, 0, 0, 1],
        }
    }
}

fn server_tls(ask_cert: bool) -> Arc<rustls::ServerConfig> {
    let pki = pki();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&pki.server_cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&pki.server_key).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if ask_cert {
        let mut roots = rustls::RootCertStore::empty();
        for ca in [&pki.ca_cert, &pki.cps_ca_cert] {
            for c in CertificateDer::pem_file_iter(ca).unwrap() {
                roots.add(c.unwrap()).unwrap();
            }
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    Arc::new(builder.with_single_cert(chain, key).unwrap())
}

/// Starts a server for one connection, following `script`.
async fn serve(
    script: Vec<Step>,
    options: ServerOptions,
) -> (SocketAddr, tokio::task::JoinHandle<Transcript>) {
    let listener = TcpListener::bind((std::net::Ipv4Addr::from(options.bind), 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = tokio_rustls::TlsAcceptor::from(server_tls(options.ask_cert));
    let handle = tokio::spawn(async move {
        let mut t = Transcript::default();
        let (tcp, _) = listener.accept().await.unwrap();
        let mut stream = ServerStream::Plain(tcp);
        let mut buf = Vec::new();
        if let Err(e) = run(&script, &mut stream, &mut buf, &tls, &mut t).await {
            t.error = Some(e);
            return t;
        }
        // Whatever the client sends after the script is over.
        let deadline = Instant::now() + Duration::from_secs(2);
        while let Ok(Ok(Some(line))) = tokio::time::timeout(
            deadline.saturating_duration_since(Instant::now()),
            read_line(&mut stream, &mut buf),
        )
        .await
        {
            t.extra.push(line);
        }
        t
    });
    (addr, handle)
}

async fn run(
    script: &[Step],
    stream: &mut ServerStream,
    buf: &mut Vec<u8>,
    tls: &tokio_rustls::TlsAcceptor,
    t: &mut Transcript,
) -> Result<(), String> {
    for step in script {
        match step {
            Say(reply) => {
                let mut out = String::new();
                for line in reply.split('\n') {
                    out.push_str(line);
                    out.push_str("\r\n");
                }
                stream
                    .write_all(out.as_bytes())
                    .await
                    .map_err(|e| format!("writing {reply:?}: {e}"))?;
                stream.flush().await.map_err(|e| e.to_string())?;
            }
            Expect(_) | ExpectLine(_) => {
                let line = read_line(stream, buf)
                    .await
                    .map_err(|e| format!("reading, expecting {step:?}: {e}"))?
                    .ok_or_else(|| format!("connection closed, expecting {step:?}"))?;
                t.lines.push(line.clone());
                let ok = match step {
                    Expect(prefix) => line.starts_with(prefix),
                    ExpectLine(whole) => &line == whole,
                    _ => false,
                };
                if !ok {
                    return Err(format!("expected {step:?}, got {line:?}"));
                }
            }
            Tls => {
                let ServerStream::Plain(tcp) = std::mem::replace(stream, ServerStream::Gone) else {
                    return Err("TLS twice".to_owned());
                };
                if !buf.is_empty() {
                    return Err("client data before the TLS handshake".to_owned());
                }
                let tls = tls
                    .accept(tcp)
                    .await
                    .map_err(|e| format!("TLS accept: {e}"))?;
                let (_, conn) = tls.get_ref();
                t.client_cert = conn
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.to_vec());
                t.tls_version = conn.protocol_version().map(|v| format!("{v:?}"));
                *stream = ServerStream::Tls(Box::new(tls));
            }
            Data => {
                let mut data = Vec::new();
                loop {
                    let line = read_raw_line(stream, buf)
                        .await
                        .map_err(|e| format!("reading the message: {e}"))?
                        .ok_or("connection closed in the message")?;
                    data.extend_from_slice(&line);
                    if line == b".\r\n" {
                        break;
                    }
                }
                t.data.push(data);
            }
            DropAfter(n) => {
                while buf.len() < *n {
                    let mut chunk = [0u8; 8192];
                    let got = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
                    if got == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..got]);
                }
                *stream = ServerStream::Gone;
                return Ok(());
            }
            Pause(d) => tokio::time::sleep(*d).await,
        }
    }
    Ok(())
}

async fn read_raw_line(
    stream: &mut ServerStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Vec<u8>>> {
    loop {
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            return Ok(Some(buf.drain(..=i).collect()));
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn read_line(
    stream: &mut ServerStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<String>> {
    Ok(read_raw_line(stream, buf).await?.map(|l| {
        String::from_utf8_lossy(&l)
            .trim_end_matches(['\r', '\n'])
            .to_owned()
    }))
}

// ---------------------------------------------------------------------------------------
// The client's side.

fn org_identity() -> ClientIdentity {
    ClientIdentity::Pem {
        cert: pki().org_cert.clone(),
        key: pki().org_key.clone(),
    }
}

fn settings(addr: SocketAddr, mode: TlsMode, auth: AuthSettings) -> SmtpSettings {
    SmtpSettings {
        host: addr.ip().to_string(),
        port: Some(addr.port()),
        mode,
        auth,
        tls: SmtpTls {
            identity: Some(org_identity()),
            trusted_ca: vec![pki().ca_cert.clone()],
            min_version: TlsVersion::Tls12,
        },
        ehlo_name: Some("client.test".to_owned()),
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            command: Duration::from_secs(5),
            data_end: Duration::from_secs(5),
        },
        max_message_bytes: None,
    }
}

fn envelope(recipients: &[&str]) -> Envelope {
    Envelope {
        from: FROM.to_owned(),
        recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
        ..Envelope::default()
    }
}

fn letter() -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"From: <lps@passerelle-sandbox.mssante.fr>\r\n"),
        Bytes::from_static(b"Subject: Courrier\r\n\r\nBonjour,\r\n"),
        Bytes::from_static(b"Cordialement.\r\n"),
    ]
}

fn ehlo_line() -> String {
    "EHLO client.test".to_owned()
}

/// The server's transcript, its script run to the end.
async fn finished(server: tokio::task::JoinHandle<Transcript>) -> Transcript {
    let t = server.await.unwrap();
    assert_eq!(t.error, None, "the script did not go through: {t:#?}");
    t
}

fn org_cert_der() -> Vec<u8> {
    CertificateDer::from_pem_file(&pki().org_cert)
        .unwrap()
        .to_vec()
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn starttls_then_the_certificate_alone_with_replies_over_several_lines() {
    let size = letter().iter().map(Bytes::len).sum::<usize>();
    let mail = format!("MAIL FROM:<{FROM}> SIZE={size}");
    let (addr, server) = serve(
        vec![
            Say("220-smtp.test ESMTP\n220-a second line\n220 ready"),
            ExpectLine(ehlo_line()),
            // Before TLS anyone could write this offer: only STARTTLS is taken from it.
            Say("250-smtp.test\n250-STARTTLS\n250-AUTH EXTERNAL PLAIN\n250 SIZE 100000"),
            ExpectLine("STARTTLS".to_owned()),
            Say("220 2.0.0 Ready to start TLS"),
            Tls,
            ExpectLine(ehlo_line()),
            Say("250-smtp.test\n250-SIZE 100000\n250-8BITMIME\n250 ENHANCEDSTATUSCODES"),
            ExpectLine(mail),
            Say("250 2.1.0 Ok"),
            ExpectLine(format!("RCPT TO:<{FOUQUEREY}>")),
            Say("250 2.1.5 Ok"),
            ExpectLine("DATA".to_owned()),
            Say("354 End data with <CR><LF>.<CR><LF>"),
            Data,
            Say("250-2.0.0 Ok:\n250 2.0.0 queued as 4XyZ"),
            ExpectLine("QUIT".to_owned()),
            Say("221 2.0.0 Bye"),
        ],
        ServerOptions::default(),
    )
    .await;
    let client = SmtpClient::new(&settings(addr, TlsMode::Starttls, AuthSettings::Auto)).unwrap();
    let delivery = client
        .send(ClientCert::Configured, &envelope(&[FOUQUEREY]), &letter())
        .await
        .unwrap();
    assert_eq!(delivery.accepted.len(), 1);
    assert_eq!(delivery.accepted[0].address, FOUQUEREY);
    assert!(delivery.refused.is_empty());
    assert_eq!(delivery.reply.code, 250);
    assert_eq!(delivery.reply.text(), "Ok: queued as 4XyZ");
    assert_eq!(delivery.reply.enhanced.unwrap().to_string(), "2.0.0");
    assert!(!delivery.dsn_requested);

    let t = finished(server).await;
    assert_eq!(
        t.client_cert,
        Some(org_cert_der()),
        "the organisation's certificate"
    );
    assert_eq!(
        t.data,
        [letter()
            .concat()
            .into_iter()
            .chain(*b".\r\n")
            .collect::<Vec<_>>()]
    );
    assert!(t.extra.is_empty(), "{:?}", t.extra);
}

#[tokio::test]
async fn implicit_tls_and_sasl_external_when_offered_with_dsn() {
    let (addr, server) = serve(
        vec![
            Tls,
            Say("220 smtp.test ESMTP"),
            ExpectLine(ehlo_line()),
            Say("250-smtp.test\n250-AUTH PLAIN LOGIN EXTERNAL\n250-DSN\n250 ENHANCEDSTATUSCODES"),
            ExpectLine("AUTH EXTERNAL =".to_owned()),
            Say("235 2.7.0 Authentication successful"),
            ExpectLine(format!("MAIL FROM:<{FROM}> RET=HDRS ENVID=<m1+2Bx@lps>")),
            Say("250 2.1.0 Ok"),
            ExpectLine(format!(
                "RCPT TO:<{FOUQUEREY}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;{FOUQUEREY}"
            )),
            Say("250 2.1.5 Ok"),
            ExpectLine("DATA".to_owned()),
            Say("354 go"),
            Data,
            Say("250 2.0.0 Ok"),
            ExpectLine("QUIT".to_owned()),
            Say("221 2.0.0 Bye"),
        ],
        ServerOptions::default(),
    )
    .await;
    let client = SmtpClient::new(&settings(addr, TlsMode::Implicit, AuthSettings::Auto)).unwrap();
    let mut session = client.connect(ClientCert::Configured).await.unwrap();
    let info = session.info().clone();
    assert_eq!(info.auth, AuthUsed::External);
    assert!(info.certificate_presented);
    assert!(info.tls_version.starts_with("TLSv1_"), "{info:?}");
    assert!(info.capabilities.dsn);
    let mut env = envelope(&[FOUQUEREY]);
    env.dsn = Some(Dsn {
        notify_success: true,
        notify_failure: true,
        envelope_id: Some("<m1+x@lps>".to_owned()),
        ..Dsn::default()
    });
    let delivery = session.send(&env, &letter()).await.unwrap();
    assert!(delivery.dsn_requested);
    session.quit().await;
    let t = finished(server).await;
    assert_eq!(t.client_cert, Some(org_cert_der()));
}

#[tokio::test]
async fn external_required_but_not_offered_goes_no_further() {
    let (addr, server) = serve(
        vec![
            Tls,
            Say("220 smtp.test"),
            ExpectLine(ehlo_line()),
            Say("250-smtp.test\n250 AUTH PLAIN"),
            ExpectLine("QUIT".to_owned()),
            Say("221 Bye"),
        ],
        ServerOptions::default(),
    )
    .await;
    let client =
        SmtpClient::new(&settings(addr, TlsMode::Implicit, AuthSettings::External)).unwrap();
    let e = client.connect(ClientCert::Configured).await.unwrap_err();
    assert!(
        matches!(&e, SmtpError::AuthUnavailable { reason } if reason.contains("does not offer AUTH EXTERNAL (it offers PLAIN)")),
        "{e}"
    );
    let t = finished(server).await;
    assert!(t.extra.is_empty(), "{:?}", t.extra);
}

#[tokio::test]
async fn a_server_that_does_not_ask_for_the_certificate_cannot_know_us_by_it() {
    let (addr, server) = serve(
        vec![
            Tls,
            Say("220 smtp.test"),
            ExpectLine(ehlo_line()),
            Say("250-smtp.test\n250 AUTH EXTERNAL"),
            ExpectLine("QUIT".to_owned()),
            Say("221 Bye"),
        ],
        ServerOptions {
            ask_cert: false,
            ..ServerOptions::default()
        },
    )
    .await;
    let client = SmtpClient::new(&settings(addr, TlsMode::Implicit, AuthSettings::Auto)).unwrap();
    let e = client.connect(ClientCert::Configured).await.unwrap_err();
    assert!(
        matches!(&e, SmtpError::AuthUnavailable { reason } if reason.contains("did not ask for our client certificate")),
        "{e}"
    );
    let t = finished(server).await;
    assert_eq!(t.client_cert, None);
}

fn password(user: &str, password: &str) -> AuthSettings {
    AuthSettings::Password {
        user: user.to_owned(),
        password: password.to_owned(),
    }
}

#[tokio::test]
async fn a_password_goes_only_inside_tls_with_plain() {
    let (addr, server) = serve(
        vec![
            Say("220 smtp.test"),
            ExpectLine(ehlo_line()),
            // AUTH offered in clear: the client must start TLS first all the same.
            Say("250-smtp.test\n250-AUTH PLAIN LOGIN\n250 STARTTLS"),
            ExpectLine("STARTTLS".to_owned()),
            Say("220 go ahead"),
            Tls,
            ExpectLine(ehlo_line()),
            Say("250-smtp.test\n250 AUTH LOGIN PLAIN"),
            Expect("AUTH PLAIN "),
            Say("235 2.7.0 Authentication successful"),
            ExpectLine("QUIT".to_owned()),
            Say("221 Bye"),
        ],
        ServerOptions::default(),
    )
    .await;
    let mut s = settings(addr, TlsMode::Starttls, password(FROM, "s3cret"));
    s.tls.identity = None;
    let client = SmtpClient::new(&s).unwrap();
    let session = client.connect(ClientCert::Configured).await.unwrap();
    assert_eq!(session.info().auth, AuthUsed::Plain);
    assert!(!session.info().certificate_presented);
    session.quit().await;
    let t = finished(server).await;
    let auth = t
        .lines
        .iter()
        .find(|l| l.starts_with("AUTH PLAIN "))
        .unwrap();
    let decoded = BASE64.decode(&auth["AUTH PLAIN ".len()..]).unwrap();
    assert_eq!(decoded, format!("\0{FROM}\0s3cret").into_bytes());
    assert_eq!(t.client_cert, None);
}

#[tokio::test]
async fn login_when_plain_is_not_offered_and_a_refusal_shows_no_password() {
    let (addr, server) = serve(
        vec![
            Tls,
            Say("220 smtp.test"),
            ExpectLine(ehlo_line()),
            Say("250-smtp.test\n250 AUTH LOGIN"),
            ExpectLine("AUTH LOGIN".to_owned()),
            Say("334 VXNlcm5hbWU6"),
            ExpectLine(BASE64.encode(FROM)),
            Say("334 UGFzc3dvcmQ6"),
            ExpectLine(BASE64.encode("s3cret")),
            Say("535 5.7.8 Authentication credentials invalid"),
            ExpectLine("QUIT".to_owned()),
            Say("221 Bye"),
        ],
        ServerOptions::default(),
    )
    .await;
    let client =
        SmtpClient::new(&settings(addr, TlsMode::Implicit, password(FROM, "s3cret"))).unwrap();
    let e = client.connect(ClientCert::Configured).await.unwrap_err();
    let SmtpError::AuthRefused {
        mechanism, reply, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!((*mechanism, reply.code), ("LOGIN", 535));
    let shown = format!("{e} {e:?} {client:?}");
    assert!(
        !shown.contains("s3cret") && !shown.contains(&BASE64.encode("s3cret")),
        "{shown}"
    );
    assert!(!e.is_retryable());
    finished(server).await;
}

#[tokio::test]
async fn no_starttls_offered_means_nothing_sent_in_clear() {
    let (addr, server) = serve(
        vec![
            Say("220 smtp.test"),
            ExpectLine(ehlo_line()),
            Say("250-smtp.test\n250 AUTH PLAIN LOGIN"),
            ExpectLine("QUIT".to_owned()),
            Say("221 Bye"),
        ],
        ServerOptions::default(),
    )
    .await;
    let client =
        SmtpClient::new(&settings(addr, TlsMode::Starttls, password(FROM, "s3cret"))).unwrap();
    let e = client
        .send(ClientCert::Configured, &envelope(&[FOUQUEREY]), &letter())
        .await
        .unwrap_err();
    assert!(matches!(e, SmtpError::StartTlsUnavailable { .. }), "{e}");
    let t = finished(server).await;
    assert_eq!(t.lines, [ehlo_line(), "QUIT".to_owned()]);
    assert!(t.extra.is_empty(), "{:?}", t.extra);
}

#[tokio::test]
async fn plaintext_sent_ahead_of_the_tls_handshake_is_refused() {
    // Anything after the reply to STARTTLS and before TLS could be injected by the path and
    // would otherwise be read as the first reply inside TLS.
    let (addr, server) = serve(
        vec![
            Say("220 smtp.test"),
            ExpectLine(ehlo_line()),
            Say("250-smtp.test\n250 STARTTLS"),
            ExpectLine("STARTTLS".to_owned()),
            Say("220 go ahead\n250-smtp.test\n250 AUTH EXTERNAL"),
        ],
        ServerOptions::default(),
    )
    .await;
    let client = SmtpClient::new(&settings(addr, TlsMode::Starttls, AuthSettings::Auto)).unwrap();
    let e = client.connect(ClientCert::Configured).await.unwrap_err();
    assert!(
        matches!(&e, SmtpError::Protocol { stage: Stage::StartTls, reason } if reason.contains("injected")),
        "{e}"
    );
    finished(server).await;
}

/// Greeting, EHLO with `caps` (lines after the first), over implicit TLS.
fn opening(caps: &'static str) -> Vec<Step> {
    vec![
        Tls,
        Say("220 smtp.test"),
        ExpectLine(ehlo_line()),
        Say(caps),
    ]
}

#[tokio::test]
async fn a_refused_recipient_among_several_and_the_others_receive() {
    let mut script = opening("250-smtp.test\n250 ENHANCEDSTATUSCODES");
    script.extend([
        Expect("MAIL FROM:"),
        Say("250 2.1.0 Ok"),
        ExpectLine(format!("RCPT TO:<{FOUQUEREY}>")),
        Say("250 2.1.5 Ok"),
        ExpectLine(format!("RCPT TO:<{PATIENT}>")),
        Say(
            "550-5.1.1 <248039263001064@patient.mssante.fr>: Recipient address rejected:\n550 5.1.1 User unknown",
        ),
        ExpectLine(format!("RCPT TO:<{SECRETARIAT}>")),
        Say("250 2.1.5 Ok"),
        ExpectLine("DATA".to_owned()),
        Say("354 go"),
        Data,
        Say("250 2.0.0 Ok"),
        ExpectLine("QUIT".to_owned()),
        Say("221 Bye"),
    ]);
    let (addr, server) = serve(script, ServerOptions::default()).await;
    let client = SmtpClient::new(&settings(addr, TlsMode::Implicit, AuthSettings::Auto)).unwrap();
    let d = client
        .send(
            ClientCert::Configured,
            &envelope(&[FOUQUEREY, PATIENT, SECRETARIAT]),
            &letter(),
        )
        .await
        .unwrap();
    let accepted: Vec<&str> = d.accepted.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(accepted, [FOUQUEREY, SECRETARIAT]);
    assert_eq!(d.refused.len(), 1);
    let refused = &d.refused[0];
    assert_eq!(refused.address, PATIENT);
    assert_eq!(refused.reply.code, 550);
    assert_eq!(refused.reply.enhanced.unwrap().to_string(), "5.1.1");
    assert!(refused.reply.text().ends_with("User unknown"));
    // Shown (logs, messages) without the patient's INS.
    assert!(!refused.reply.to_string().contains("248039263001064"));
    assert_eq!(finished(server).await.data.len(), 1);
}

#[tokio::test]
async fn every_recipient_refused_means_no_data() {
    let mut script = opening("250-smtp.test\n250 ENHANCEDSTATUSCODES");
    script.extend([
        Expect("MAIL FROM:"),
        Say("250 2.1.0 Ok"),
        Expect("RCPT TO:"),
        Say("450 4.2.1 Mailbox busy"),
        Expect("RCPT TO:"),
        Say("550 5.1.1 User unknown"),
        ExpectLine("RSET".to_owned()),
        Say("250 2.0.0 Ok"),
        ExpectLine("QUIT".to_owned()),
        Say("221 Bye"),
    ]);
    let (addr, server) = serve(script, ServerOptions::default()).await;
    let client = SmtpClient::new(&settings(addr, TlsMode::Implicit, AuthSettings::Auto)).unwrap();
    let e = client
        .send(
            ClientCert::Configured,
            &envelope(&[FOUQUEREY, SECRETARIAT]),
            &letter(),
        )
        .await
        .unwrap_err();
    let SmtpError::AllRecipientsRefused { refused } = &e else {
        panic!("{e:?}")
    };
    let codes: Vec<u16> = refused.iter().map(|r| r.reply.code).collect();
    assert_eq!(codes, [450, 550]);
    // One refusal is for good: trying again unchanged would not help.
    assert!(!e.is_retryable());
    let t = finished(server).await;
    assert!(t.data.is_empty() && !t.lines.iter().any(|l| l == "DATA"));
}

/// A notification (MDN) goes with the null reverse-path: `MAIL FROM:<>`, nothing between
/// the brackets; an empty sender is not refused as an invalid address.
#[tokio::test]
async fn a_null_reverse_path_is_sent_as_empty_brackets() {
    let mut script = opening("250-smtp.test\n250 ENHANCEDSTATUSCODES");
    script.extend([
        ExpectLine("MAIL FROM:<>".to_owned()),
        Say("250 2.1.0 Ok"),
        ExpectLine(format!("RCPT TO:<{FOUQUEREY}>")),
        Say("250 2.1.5 Ok"),
        ExpectLine("DATA".to_owned()),
        Say("354 go"),
        Data,
        Say("250 2.0.0 Ok"),
        ExpectLine("QUIT".to_owned()),
        Say("221 Bye"),
    ]);
    let (addr, server) = serve(script, ServerOptions::default()).await;
    let client = SmtpClient::new(&settings(addr, TlsMode::Implicit, AuthSettings::Auto)).unwrap();
    let envelope = Envelope::null_sender(vec![FOUQUEREY.to_owned()]);
    assert!(envelope.is_null_sender());
    let d = client
        .send(ClientCert::Configured, &envelope, &letter())
        .await
        .unwrap();
    assert_eq!(d.accepted.len(), 1);
    let t = finished(server).await;
    assert!(t.lines.iter().any(|l| l == "MAIL FROM:<>"), "{:?}", t.lines);
    assert_eq!(t.data.len(), 1);
}

/// A message meant for a group goes to all of it or to no one: one refusal resets the
/// transaction before DATA.
#[tokio::test]
async fn all_or_nothing_a_refused_recipient_means_nobody_receives() {
    let mut script = opening("250-smtp.test\n250 ENHANCEDSTATUSCODES");
    script.extend([
        Expect("MAIL FROM:"),
        Say("250 2.1.0 Ok"),
        ExpectLine(format!("RCPT TO:<{FOUQUEREY}>")),
        Say("250 2.1.5 Ok"),
        ExpectLine(format!("RCPT TO:<{SECRETARIAT}>")),
        Say("550 5.1.1 User unknown"),
        ExpectLine("RSET".to_owned()),
        Say("250 2.0.0 Ok"),
        ExpectLine("QUIT".to_owned()),
        Say("221 Bye"),
    ]);
    let (addr, server) = serve(script, ServerOptions::default()).await;
    let client = SmtpClient::new(&settings(addr, TlsMode::Implicit, AuthSettings::Auto)).unwrap();
    let e = client
        .send(
            ClientCert::Configured,
            &Envelope {
                all_or_nothing: true,
                ..envelope(&[FOUQUEREY, SECRETARIAT])
            },
            &letter(),
        )
        .await
        .unwrap_err();
    let SmtpError::RecipientsRefused { refused } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].address, SECRETARIAT);
    assert!(e.to_string().contains("nothing was sent"), "{e}");
    let t = finished(server).await;
    assert!(t.data.is_empty() && !t.lines.iter().any(|l| l == "DATA"));
}

#[tokio::test]
async fn transient_and_permanent_replies_on_one_session() {
    let mut script = opening("250-smtp.test\n250 ENHANCEDSTATUSCODES");
    script.extend([
        // 1: MAIL 451 → transient, reset.
        Expect("MAIL FROM:"),
        Say("451 4.3.0 Try again later"),
        ExpectLine("RSET".to_owned()),
        Say("250 Ok"),
        // 2: MAIL 553 → the sender refused, reset.
        Expect("MAIL FROM:"),
        Say("553 5.7.1 Sender address rejected: not owned by you"),
        ExpectLine("RSET".to_owned()),
        Say("250 Ok"),
        // 3: the message refused for now (452 after the data): the transaction is over.
        Expect("MAIL FROM:"),
        Say("250 Ok"),
        Expect("RCPT TO:"),
        Say("250 Ok"),
        ExpectLine("DATA".to_owned()),
        Say("354 go"),
        Data,
        Say("452 4.3.1 Insufficient system storage"),
        // 4: DATA refused for good, reset.
        Expect("MAIL FROM:"),
        Say("250 Ok"),
        Expect("RCPT TO:"),
        Say("250 Ok"),
        ExpectLine("DATA".to_owned()),
        Say("554 5.7.1 No thanks"),
        ExpectLine("RSET".to_owned()),
        Say("250 Ok"),
        // 5: sent.
        Expect("MAIL FROM:"),
        Say("250 Ok"),
        Expect("RCPT TO:"),
        Say("250 Ok"),
        ExpectLine("DATA".to_owned()),
        Say("354 go"),
        Data,
        Say("250 2.0.0 Ok: queued"),
        ExpectLine("QUIT".to_owned()),
        Say("221 Bye"),
    ]);
    let (addr, server) = serve(script, ServerOptions::default()).await;
    let client = SmtpClient::new(&settings(addr, TlsMode::Implicit, AuthSettings::Auto)).unwrap();
    let mut session = client.connect(ClientCert::Configured).await.unwrap();
    let env = envelope(&[FOUQUEREY]);

    let e = session.send(&env, &letter()).await.unwrap_err();
    assert!(
        matches!(&e, SmtpError::Transient { stage: Stage::MailFrom, reply } if reply.code == 451),
        "{e}"
    );
    assert!(e.is_retryable());
    assert!(e.to_string().contains("retry later"));

    let e = session.send(&env, &letter()).await.unwrap_err();
    assert!(
        matches!(&e, SmtpError::SenderRefused { reply } if reply.enhanced.unwrap().to_string() == "5.7.1"),
        "{e}"
    );
    assert!(!e.is_retryable());

    let e = session.send(&env, &letter()).await.unwrap_err();
    assert!(
        matches!(&e, SmtpError::Transient { stage: Stage::Message, reply } if reply.code == 452),
        "{e}"
    );
    assert!(e.is_retryable());

    let e = session.send(&env, &letter()).await.unwrap_err();
    assert!(
        matches!(&e, SmtpError::Permanent { stage: Stage::Data, reply } if reply.code == 554),
        "{e}"
    );
    assert!(!e.is_retryable());

    let d = session.send(&env, &letter()).await.unwrap();
    assert_eq!(d.reply.text(), "Ok: queued");
    session.quit().await;
    assert_eq!(finished(server).await.data.len(), 2);
}

#[tokio::test]
async fn a_message_over_the_servers_size_is_refused_before_it_is_sent() {
    let mut script = opening("250-smtp.test\n250 SIZE 1000");
    script.extend([
        // Refused by the server after all (its own limit on this message).
        ExpectLine(format!("MAIL FROM:<{FROM}> SIZE=900")),
        Say("552 5.3.4 Message size exceeds fixed limit"),
        ExpectLine("RSET".to_owned()),
        Say("250 Ok"),
        ExpectLine("QUIT".to_owned()),
        Say("221 Bye"),
    ]);
    let (addr, server) = serve(script, ServerOptions::default()).await;
    let client = SmtpClient::new(&settings(addr, TlsMode::Implicit, AuthSettings::Auto)).unwrap();
    let mut session = client.connect(ClientCert::Configured).await.unwrap();
    assert_eq!(session.info().capabilities.size_limit, Some(1000));
    let big = vec![Bytes::from(vec![b'a'; 1500]), Bytes::from(vec![b'b'; 500])];
    let e = session
        .send(&envelope(&[FOUQUEREY]), &big)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SmtpError::MessageTooLarge {
                size: 2000,
                limit: SizeLimit::Server(Some(1000)),
                reply: None
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "the message (2000 bytes) is too large: the server accepts at most 1000 bytes"
    );
    let e = session
        .send(&envelope(&[FOUQUEREY]), &[Bytes::from(vec![b'c'; 900])])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SmtpError::MessageTooLarge { reply: Some(r), .. } if r.code == 552),
        "{e}"
    );
    session.quit().await;
    let t = finished(server).await;
    // The first message never went out: nothing but the second one's MAIL.
    assert_eq!(t.lines.iter().filter(|l| l.starts_with("MAIL")).count(), 1);
}

#[tokio::test]
async fn our_own_ceiling_refuses_before_connecting() {
    // Nothing listens there: a connection attempt would fail otherwise.
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut s = settings(addr, TlsMode::Implicit, AuthSettings::Auto);
    s.max_message_bytes = Some(10);
    let client = SmtpClient::new(&s).unwrap();
    let e = client
        .send(ClientCert::Configured, &envelope(&[FOUQUEREY]), &letter())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SmtpError::MessageTooLarge {
                limit: SizeLimit::Settings(10),
                ..
            }
        ),
        "{e}"
    );
    s.max_message_bytes = None;
    let e = SmtpClient::new(&s)
        .unwrap()
        .send(ClientCert::Configured, &envelope(&[FOUQUEREY]), &letter())
        .await
        .unwrap_err();
    assert!(matches!(e, SmtpError::Connect { .. }), "{e}");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn a_server_that_stops_answering_times_out() {
    let (addr, server) = serve(
        vec![
            Tls,
            Say("220 smtp.test"),
            ExpectLine(ehlo_line()),
            Pause(Duration::from_secs(3)),
        ],
        ServerOptions::default(),
    )
    .await;
    let mut s = settings(addr, TlsMode::Implicit, AuthSettings::Auto);
    s.timeouts.command = Duration::from_millis(300);
    let client = SmtpClient::new(&s).unwrap();
    let started = Instant::now();
    let e = client.connect(ClientCert::Configured).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(e, SmtpError::Timeout { stage: Stage::Ehlo, after } if after == Duration::from_millis(300)),
        "{e}"
    );
    assert!(e.is_retryable());
    server.abort();
}

#[tokio::test]
async fn the_connection_dropped_in_the_middle_of_the_message() {
    let mut script = opening("250 smtp.test");
    script.extend([
        Expect("MAIL FROM:"),
        Say("250 Ok"),
        Expect("RCPT TO:"),
        Say("250 Ok"),
        ExpectLine("DATA".to_owned()),
        Say("354 go"),
        DropAfter(10_000),
    ]);
    let (addr, server) = serve(script, ServerOptions::default()).await;
    let client = SmtpClient::new(&settings(addr, TlsMode::Implicit, AuthSettings::Auto)).unwrap();
    let mut session = client.connect(ClientCert::Configured).await.unwrap();
    let line = Bytes::from_static(
        b"0123456789012345678901234567890123456789012345678901234567890123456789\r\n",
    );
    let big = vec![line; 30_000];
    let e = session
        .send(&envelope(&[FOUQUEREY]), &big)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SmtpError::ConnectionLost {
                stage: Stage::Message,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.is_retryable());
    // The session is over: no command goes to a dead connection.
    let e = session
        .send(&envelope(&[FOUQUEREY]), &letter())
        .await
        .unwrap_err();
    assert!(matches!(e, SmtpError::Protocol { .. }), "{e}");
    session.quit().await;
    finished(server).await;
}

#[tokio::test]
async fn lines_starting_with_a_dot_are_stuffed_across_chunks() {
    let mut script = opening("250 smtp.test");
    script.extend([
        Expect("MAIL FROM:"),
        Say("250 Ok"),
        Expect("RCPT TO:"),
        Say("250 Ok"),
        ExpectLine("DATA".to_owned()),
        Say("354 go"),
        Data,
        Say("250 Ok"),
        ExpectLine("QUIT".to_owned()),
        Say("221 Bye"),
    ]);
    let (addr, server) = serve(script, ServerOptions::default()).await;
    let client = SmtpClient::new(&settings(addr, TlsMode::Implicit, AuthSettings::Auto)).unwrap();
    // A lone "." would end the message early if it were not stuffed; line starts also fall
    // on chunk boundaries; the message does not end with CRLF.
    let chunks: Vec<Bytes> = [
        &b".starts with a dot\r\n"[..],
        b"..\r",
        b"\n.\r\n",
        b"x.y\r\n",
        b".",
        b"\r\nlast line",
    ]
    .into_iter()
    .map(Bytes::from_static)
    .collect();
    client
        .send(ClientCert::Configured, &envelope(&[FOUQUEREY]), &chunks)
        .await
        .unwrap();
    let t = finished(server).await;
    assert_eq!(
        String::from_utf8(t.data[0].clone()).unwrap(),
        "..starts with a dot\r\n...\r\n..\r\nx.y\r\n..\r\nlast line\r\n.\r\n"
    );
    // What a receiver restores: the message, plus the CRLF it lacked.
    let restored: Vec<u8> = String::from_utf8(t.data[0].clone())
        .unwrap()
        .strip_suffix(".\r\n")
        .unwrap()
        .split_inclusive("\r\n")
        .map(|l| l.strip_prefix('.').unwrap_or(l))
        .collect::<String>()
        .into_bytes();
    let mut sent = chunks.concat();
    sent.extend_from_slice(b"\r\n");
    assert_eq!(restored, sent);
}

#[tokio::test]
async fn greeting_refusals_are_transient_or_permanent() {
    for (greeting, retryable) in [
        ("421 4.3.2 Service shutting down", true),
        ("554 No SMTP service here", false),
    ] {
        let (addr, server) = serve(vec![Tls, Say(greeting)], ServerOptions::default()).await;
        let client =
            SmtpClient::new(&settings(addr, TlsMode::Implicit, AuthSettings::Auto)).unwrap();
        let e = client.connect(ClientCert::Configured).await.unwrap_err();
        assert_eq!(e.is_retryable(), retryable, "{e}");
        assert!(
            matches!(
                &e,
                SmtpError::Transient {
                    stage: Stage::Greeting,
                    ..
                } | SmtpError::Permanent {
                    stage: Stage::Greeting,
                    ..
                }
            ),
            "{e}"
        );
        server.abort();
    }
}

#[tokio::test]
async fn tls_failures_say_which() {
    // A server certificate from a CA we do not trust.
    let (addr, server) = serve(vec![Tls], ServerOptions::default()).await;
    let mut s = settings(addr, TlsMode::Implicit, AuthSettings::Auto);
    s.tls.trusted_ca = vec![pki().cps_ca_cert.clone()];
    let e = SmtpClient::new(&s)
        .unwrap()
        .connect(ClientCert::Configured)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            SmtpError::Tls {
                failure: TlsFailure::UnknownCa,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("smtp.tls.trusted_ca"));
    server.abort();

    // A certificate that does not name the host we asked for (127.0.0.2 is not in it).
    let (addr, server) = serve(
        vec![Tls],
        ServerOptions {
            bind: [127, 0, 0, 2],
            ..ServerOptions::default()
        },
    )
    .await;
    let e = SmtpClient::new(&settings(addr, TlsMode::Implicit, AuthSettings::Auto))
        .unwrap()
        .connect(ClientCert::Configured)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            SmtpError::Tls {
                failure: TlsFailure::NameMismatch,
                ..
            }
        ),
        "{e}"
    );
    server.abort();

    // Implicit TLS against a plain SMTP server.
    let (addr, server) = serve(vec![Say("220 smtp.test ESMTP")], ServerOptions::default()).await;
    let e = SmtpClient::new(&settings(addr, TlsMode::Implicit, AuthSettings::Auto))
        .unwrap()
        .connect(ClientCert::Configured)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            SmtpError::Tls {
                failure: TlsFailure::NotTls { .. },
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("smtp.mode"), "{e}");
    server.abort();
}

// ---------------------------------------------------------------------------------------
// The CPS card: a stand-in card-agent on the in-process bus signing with the test CPS key.

mod card {
    use super::*;
    use passerelle_bus::in_process::InProcessBus;
    use passerelle_bus::subjects::{CardOp, card_subject};
    use passerelle_bus::{SharedBus, proto_rpc};
    use passerelle_card_client::{CardAgentClient, CpsSession};
    use passerelle_proto::card::v1 as proto;
    use passerelle_service_kit::RequestId;
    use passerelle_service_kit::errors::RichError;
    use rsa::RsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    use tonic::Status;

    pub const WS: &str = "ws-smtp";

    fn key(path: &Path) -> RsaPrivateKey {
        let pem = std::fs::read_to_string(path).unwrap();
        RsaPrivateKey::from_pkcs8_pem(&pem)
            .or_else(|_| {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                RsaPrivateKey::from_pkcs1_pem(&pem)
            })
            .unwrap()
    }

    /// A card-agent with the test CPS; while `refuse` is set, its signatures are refused
    /// `PIN_REQUIRED`.
    pub async fn agent(refuse: Arc<AtomicBool>) -> SharedBus {
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
                let refused = refuse.load(Ordering::SeqCst);
                let (k, cert) = (auth_key.clone(), auth_pem.clone());
                async move {
                    if refused {
                        return Err(RichError::new(
                            tonic::Code::FailedPrecondition,
                            "PIN_REQUIRED",
                            "the card's PIN is not entered",
                        )
                        .into_status());
                    }
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
        bus
    }

    pub async fn session(bus: SharedBus) -> CpsSession {
        let agent = CardAgentClient::new(bus, WS, "mss-service")
            .unwrap()
            .with_timeout(Duration::from_secs(5));
        CpsSession::open(agent, RequestId::parse("req-smtp").unwrap())
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_card_signs_the_handshake_over_tls_1_2_and_its_failure_is_the_cards() {
    let refuse = Arc::new(AtomicBool::new(false));
    let bus = card::agent(refuse.clone()).await;
    let cps = card::session(bus).await;
    let identity = cps.tls_identity();

    let mut script = opening("250-smtp.test\n250 AUTH EXTERNAL");
    script.extend([
        ExpectLine("AUTH EXTERNAL =".to_owned()),
        Say("235 2.7.0 Ok"),
        ExpectLine("QUIT".to_owned()),
        Say("221 Bye"),
    ]);
    let (addr, server) = serve(script, ServerOptions::default()).await;
    let mut s = settings(addr, TlsMode::Implicit, AuthSettings::Auto);
    s.tls.identity = None;
    let client = SmtpClient::new(&s).unwrap();
    let session = client.connect(ClientCert::Card(&identity)).await.unwrap();
    assert_eq!(session.info().tls_version, "TLSv1_2");
    assert_eq!(session.info().auth, AuthUsed::External);
    session.quit().await;
    let t = finished(server).await;
    let cps_der = CertificateDer::from_pem_file(&pki().cps_cert)
        .unwrap()
        .to_vec();
    assert_eq!(t.client_cert, Some(cps_der));
    assert_eq!(t.tls_version.as_deref(), Some("TLSv1_2"));

    // The PIN is not entered: the card's error, not a TLS one.
    refuse.store(true, Ordering::SeqCst);
    let (addr, server) = serve(vec![Tls], ServerOptions::default()).await;
    let mut s = settings(addr, TlsMode::Implicit, AuthSettings::Auto);
    s.tls.identity = None;
    let e = SmtpClient::new(&s)
        .unwrap()
        .connect(ClientCert::Card(&identity))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            SmtpError::Card(passerelle_card_client::CardError::PinRequired)
        ),
        "{e:?}"
    );
    server.abort();

    // A card cannot do TLS 1.3.
    s.tls.min_version = TlsVersion::Tls13;
    let e = SmtpClient::new(&s)
        .unwrap()
        .connect(ClientCert::Card(&identity))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SmtpError::Config { reason } if reason.contains("CPS")),
        "{e}"
    );
}
