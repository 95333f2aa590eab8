//! The MSSanté sandbox's SMTP submission as clients see it: Python's `smtplib` (a client
//! we did not write) sending real messages, and a small client of our own for the
//! protocol's edge cases; then the mailboxes read back from disk.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use passerelle_sandbox::mss::{
    self, JEAN_FOUQUEREY, JEANNE_MEDECIN, LPS_APP, MssFault, MssSandbox, MssSandboxConfig,
    RunningMssSandbox, SECRETARIAT, SaslMode,
};
use passerelle_sandbox::{SandboxError, TestPki};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

const PATIENT: &str = "248039263001064@patient.mssante.fr";
const IO_TIMEOUT: Duration = Duration::from_secs(15);

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mss-tests-pki");
        TestPki::ensure(&dir).expect("test PKI")
    })
}

struct Sandbox {
    running: RunningMssSandbox,
    data: tempfile::TempDir,
}

impl Sandbox {
    async fn start(config: MssSandboxConfig) -> Self {
        let data = tempfile::tempdir().unwrap();
        let running = start_in(data.path(), config).await;
        Self { running, data }
    }

    async fn default() -> Self {
        Self::start(MssSandboxConfig::default()).await
    }

    fn starttls(&self) -> SocketAddr {
        self.running.starttls_addr()
    }

    fn implicit(&self) -> SocketAddr {
        self.running.implicit_tls_addr()
    }

    fn mailbox(&self, address: &str) -> Vec<mss::StoredMessage> {
        mss::read_mailbox(self.data.path(), address).unwrap()
    }
}

async fn start_in(data: &Path, config: MssSandboxConfig) -> RunningMssSandbox {
    MssSandbox::start(
        MssSandboxConfig {
            data_dir: data.to_path_buf(),
            ..config
        },
        pki(),
    )
    .await
    .expect("MSS sandbox starts")
}

// ---------------------------------------------------------------------------------------
// Our own minimal client.

#[derive(Clone, Copy)]
enum Identity {
    None,
    Cps,
    Org,
    MssApp,
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tls_config(
    identity: Identity,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let pki = pki();
    let pems = match identity {
        Identity::None => None,
        Identity::Cps => Some((read(&pki.cps_cert), read(&pki.cps_key))),
        Identity::Org => Some((read(&pki.org_cert), read(&pki.org_key))),
        Identity::MssApp => Some((read(&pki.mss_app_cert), read(&pki.mss_app_key))),
    };
    pem_config(pems, versions)
}

fn pem_config(
    pems: Option<(Vec<u8>, Vec<u8>)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&pki().ca_cert).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    Arc::new(match pems {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(&cert)
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(&key).unwrap(),
            )
            .unwrap(),
    })
}

const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

#[derive(Debug)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// Code and enhanced code, e.g. `550 5.1.1`.
    fn starts(&self, prefix: &str) -> bool {
        self.lines.first().is_some_and(|l| l.starts_with(prefix))
    }
}

struct Smtp<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Smtp<S> {
    async fn reply(&mut self) -> std::io::Result<Reply> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(IO_TIMEOUT, self.io.read_line(&mut line))
                .await
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let line = line.trim_end().to_owned();
            let code: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .unwrap_or_else(|| panic!("not a reply: {line:?}"));
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return Ok(Reply { code, lines });
            }
        }
    }

    async fn raw(&mut self, bytes: &[u8]) {
        let io = self.io.get_mut();
        io.write_all(bytes).await.unwrap();
        io.flush().await.unwrap();
    }

    async fn cmd(&mut self, line: &str) -> Reply {
        self.raw(format!("{line}\r\n").as_bytes()).await;
        self.reply().await.unwrap()
    }

    /// DATA, the message dot-stuffed, `.`; the final reply.
    async fn data(&mut self, message: &str) -> Reply {
        let go = self.cmd("DATA").await;
        assert_eq!(go.code, 354, "{}", go.text());
        self.raw(&stuff(message)).await;
        self.reply().await.unwrap()
    }

    /// MAIL, RCPT each, DATA: the replies to MAIL, each RCPT and DATA (stops at the first
    /// refusal of MAIL or when every RCPT was refused).
    async fn send(&mut self, from: &str, to: &[&str], message: &str) -> Vec<Reply> {
        let mut out = vec![self.cmd(&format!("MAIL FROM:<{from}>")).await];
        if out[0].code != 250 {
            return out;
        }
        let mut any = false;
        for rcpt in to {
            let r = self.cmd(&format!("RCPT TO:<{rcpt}>")).await;
            any |= r.code == 250;
            out.push(r);
        }
        if any {
            out.push(self.data(message).await);
        } else {
            self.cmd("RSET").await;
        }
        out
    }
}

fn stuff(message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in message.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend_from_slice(line.as_bytes());
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

async fn plain(addr: SocketAddr) -> (Smtp<TcpStream>, Reply) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut smtp = Smtp {
        io: BufReader::new(tcp),
    };
    let greeting = smtp.reply().await.unwrap();
    (smtp, greeting)
}

async fn handshake(
    tcp: TcpStream,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let name = ServerName::try_from("localhost").unwrap();
    // With TLS 1.3 the server judges the client certificate after the client finished:
    // a refusal shows on the first read.
    TlsConnector::from(config).connect(name, tcp).await
}

impl Smtp<TcpStream> {
    async fn starttls(
        mut self,
        config: Arc<rustls::ClientConfig>,
    ) -> std::io::Result<Smtp<TlsStream<TcpStream>>> {
        let r = self.cmd("STARTTLS").await;
        assert!(r.starts("220 2.0.0"), "{}", r.text());
        let tls = handshake(self.io.into_inner(), config).await?;
        Ok(Smtp {
            io: BufReader::new(tls),
        })
    }
}

/// Implicit TLS: handshake, greeting.
async fn implicit(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<(Smtp<TlsStream<TcpStream>>, Reply)> {
    let tcp = TcpStream::connect(addr).await?;
    let tls = handshake(tcp, config).await?;
    let mut smtp = Smtp {
        io: BufReader::new(tls),
    };
    let greeting = smtp.reply().await?;
    Ok((smtp, greeting))
}

/// Implicit TLS, greeting checked, EHLO sent.
async fn session(addr: SocketAddr, identity: Identity) -> Smtp<TlsStream<TcpStream>> {
    let (mut smtp, greeting) = implicit(addr, tls_config(identity, BOTH)).await.unwrap();
    assert_eq!(greeting.code, 220, "{}", greeting.text());
    let ehlo = smtp.cmd("EHLO client.test").await;
    assert_eq!(ehlo.code, 250, "{}", ehlo.text());
    smtp
}

fn message(from: &str, to: &[&str], subject: &str, body: &str) -> String {
    format!(
        "From: <{from}>\r\nTo: {}\r\nSubject: {subject}\r\nDate: Mon, 01 Jun 2026 10:00:00 +0200\r\n\
         Message-ID: <{}@passerelle-sandbox.mssante.fr>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        to.iter()
            .map(|t| format!("<{t}>"))
            .collect::<Vec<_>>()
            .join(", "),
        uuid::Uuid::new_v4()
    )
}

fn codes(replies: &[Reply]) -> Vec<u16> {
    replies.iter().map(|r| r.code).collect()
}

// ---------------------------------------------------------------------------------------
// Python's smtplib.

const PY_CLIENT: &str = r#"
import json, smtplib, ssl, sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

a = json.loads(sys.argv[1])
out = {}
def decoded(reply):
    return [reply[0], reply[1].decode(errors="replace")]
try:
    ctx = ssl.create_default_context(cafile=a["cafile"])
    if a.get("cert"):
        ctx.load_cert_chain(a["cert"], a["key"])
    if a.get("tls12"):
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if a["mode"] == "implicit":
        s = smtplib.SMTP_SSL(a["host"], a["port"], context=ctx, timeout=20)
    else:
        s = smtplib.SMTP(a["host"], a["port"], timeout=20)
        s.ehlo()
        out["features_before_tls"] = dict(s.esmtp_features)
        s.starttls(context=ctx)
    s.ehlo()
    out["features"] = dict(s.esmtp_features)
    out["tls_version"] = s.sock.version()
    if a.get("auth") == "external":
        out["auth"] = decoded(s.docmd("AUTH", "EXTERNAL ="))
    elif a.get("auth") == "login":
        out["auth"] = list(s.login(a["user"], a["password"]))
        out["auth"][1] = out["auth"][1].decode()
    msg = EmailMessage()
    msg["From"] = a["from"]
    msg["To"] = ", ".join(a["to"])
    msg["Subject"] = a["subject"]
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="passerelle-sandbox.mssante.fr")
    for k, v in a.get("headers", {}).items():
        msg[k] = v
    msg.set_content(a.get("body", "Bonjour"))
    for att in a.get("attachments", []):
        with open(att["path"], "rb") as f:
            data = f.read()
        maintype, subtype = att["type"].split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=att["name"])
    refused = s.send_message(msg, from_addr=a.get("mail_from", a["from"]),
                             to_addrs=a.get("rcpt", a["to"]),
                             mail_options=a.get("mail_options", []),
                             rcpt_options=a.get("rcpt_options", []))
    out["refused"] = {k: decoded(v) for k, v in refused.items()}
    out["message_id"] = msg["Message-ID"]
    s.quit()
    out["ok"] = True
except smtplib.SMTPRecipientsRefused as e:
    out["error"] = ["SMTPRecipientsRefused", 0,
                    json.dumps({k: decoded(v) for k, v in e.recipients.items()})]
except smtplib.SMTPResponseException as e:
    out["error"] = [type(e).__name__, e.smtp_code, e.smtp_error.decode(errors="replace")]
except (ssl.SSLError, OSError, smtplib.SMTPException) as e:
    out["error"] = [type(e).__name__, 0, str(e)]
print(json.dumps(out))
"#;

/// Runs the Python client with `args` (completed with the host and the CA); its JSON
/// report.
async fn python(mut args: serde_json::Value) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("client.py");
    std::fs::write(&script, PY_CLIENT).unwrap();
    args["host"] = "127.0.0.1".into();
    args["cafile"] = pki().ca_cert.to_str().unwrap().into();
    let output = tokio::process::Command::new("python3")
        .arg(&script)
        .arg(args.to_string())
        .output()
        .await
        .expect("python3 runs (these tests use Python's smtplib as an independent client)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn pem(path: &Path) -> serde_json::Value {
    path.to_str().unwrap().into()
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test]
async fn python_sends_with_the_cps_over_starttls_and_auth_external_then_the_mailboxes_show_it() {
    let sandbox = Sandbox::default().await;
    let files = tempfile::tempdir().unwrap();
    let zip: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let pdf = b"%PDF-1.4\n% sandbox test letter\n%%EOF\n".to_vec();
    let zip_path = write_file(files.path(), "IHE_XDM.zip", &zip);
    let pdf_path = write_file(files.path(), "letter.pdf", &pdf);
    let report = python(serde_json::json!({
        "mode": "starttls",
        "port": sandbox.starttls().port(),
        "cert": pem(&pki().cps_cert),
        "key": pem(&pki().cps_key),
        "auth": "external",
        "from": JEANNE_MEDECIN,
        "to": [PATIENT, JEAN_FOUQUEREY],
        "subject": "Compte rendu d’imagerie médicale",
        "headers": {"X-MSS-MES": "FIN"},
        "attachments": [
            {"path": zip_path, "name": "IHE_XDM.zip", "type": "application/zip"},
            {"path": pdf_path, "name": "20220531_CR d'imagerie médicale_CORSE.pdf", "type": "application/pdf"}
        ],
        "rcpt_options": ["NOTIFY=SUCCESS,FAILURE"],
        "mail_options": ["RET=HDRS", "ENVID=sandbox-test-1"]
    }))
    .await;
    assert_eq!(report["ok"], true, "{report}");
    // Before TLS: STARTTLS, no AUTH; after, EXTERNAL (a certificate was presented).
    assert!(
        report["features_before_tls"].get("starttls").is_some(),
        "{report}"
    );
    assert!(
        report["features_before_tls"].get("auth").is_none(),
        "{report}"
    );
    assert!(report["features"].get("starttls").is_none(), "{report}");
    let auth = report["features"]["auth"].as_str().unwrap();
    assert!(
        auth.contains("EXTERNAL") && auth.contains("PLAIN"),
        "{auth}"
    );
    assert_eq!(report["features"]["size"], "67108864");
    assert_eq!(report["auth"][0], 235, "{report}");
    assert_eq!(report["refused"], serde_json::json!({}));

    let message_id = report["message_id"].as_str().unwrap();
    for mailbox in [PATIENT, JEAN_FOUQUEREY] {
        let got = sandbox.mailbox(mailbox);
        assert_eq!(got.len(), 1, "{mailbox}: {got:?}");
        let m = &got[0];
        assert_eq!(m.message_id, message_id);
        assert_eq!(m.from, JEANNE_MEDECIN);
        assert_eq!(m.subject, "Compte rendu d’imagerie médicale");
        assert_eq!(m.to, vec![PATIENT, JEAN_FOUQUEREY]);
        assert!(m.replies_refused());
        let attachments: Vec<(&str, &str, u64)> = m
            .attachments
            .iter()
            .map(|a| (a.file_name.as_str(), a.media_type.as_str(), a.size))
            .collect();
        assert_eq!(
            attachments,
            vec![
                ("IHE_XDM.zip", "application/zip", zip.len() as u64),
                (
                    "20220531_CR d'imagerie médicale_CORSE.pdf",
                    "application/pdf",
                    pdf.len() as u64
                ),
            ]
        );
        let envelope = m.envelope.as_ref().unwrap();
        assert_eq!(envelope.mail_from, JEANNE_MEDECIN);
        assert_eq!(envelope.recipient, mailbox);
        assert_eq!(envelope.auth_method, "external");
        assert_eq!(envelope.notify.as_deref(), Some("SUCCESS,FAILURE"));
        assert_eq!(envelope.envid.as_deref(), Some("sandbox-test-1"));
        let raw = std::fs::read_to_string(&m.file).unwrap();
        assert!(
            raw.starts_with(&format!("Return-Path: <{JEANNE_MEDECIN}>\r\nReceived: ")),
            "{raw}"
        );
    }
    // NOTIFY=SUCCESS: a delivery report in the sender's mailbox, headers only (RET=HDRS).
    let reports = sandbox.mailbox(JEANNE_MEDECIN);
    assert_eq!(reports.len(), 1, "{reports:?}");
    let raw = std::fs::read_to_string(&reports[0].file).unwrap();
    assert!(raw.contains("report-type=delivery-status"), "{raw}");
    assert!(
        raw.contains("Original-Envelope-Id: sandbox-test-1"),
        "{raw}"
    );
    assert!(
        raw.contains(&format!(
            "Final-Recipient: rfc822; {JEAN_FOUQUEREY}\r\nAction: delivered\r\nStatus: 2.0.0"
        )),
        "{raw}"
    );
    assert!(raw.contains(message_id), "{raw}");
    assert!(
        !raw.contains("%PDF"),
        "RET=HDRS sends the headers only: {raw}"
    );
}

#[tokio::test]
async fn python_sends_over_implicit_tls_with_the_organisation_certificate_alone() {
    let sandbox = Sandbox::default().await;
    let report = python(serde_json::json!({
        "mode": "implicit",
        "port": sandbox.implicit().port(),
        "cert": pem(&pki().org_cert),
        "key": pem(&pki().org_key),
        "from": SECRETARIAT,
        "to": [JEAN_FOUQUEREY],
        "subject": "Courrier standard",
    }))
    .await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["tls_version"], "TLSv1.3");
    let got = sandbox.mailbox(JEAN_FOUQUEREY);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, SECRETARIAT);
    assert_eq!(got[0].envelope.as_ref().unwrap().auth_method, "certificate");
    assert!(got[0].attachments.is_empty());
    assert!(!got[0].replies_refused());
}

#[tokio::test]
async fn python_logs_in_with_a_password_over_tls_1_2_and_the_refusals_reach_it() {
    let sandbox = Sandbox::default().await;
    let base = serde_json::json!({
        "mode": "starttls",
        "port": sandbox.starttls().port(),
        "tls12": true,
        "auth": "login",
        "user": JEAN_FOUQUEREY,
        "password": mss::DEFAULT_MAILBOX_PASSWORD,
        "from": JEAN_FOUQUEREY,
        "to": [SECRETARIAT],
        "subject": "Re: patiente",
    });
    let report = python(base.clone()).await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["tls_version"], "TLSv1.2");
    assert_eq!(report["auth"][0], 235);
    // No certificate: no EXTERNAL.
    assert_eq!(
        report["features"]["auth"].as_str().unwrap().trim(),
        "PLAIN LOGIN"
    );
    assert_eq!(sandbox.mailbox(SECRETARIAT).len(), 1);
    assert_eq!(
        sandbox.mailbox(SECRETARIAT)[0]
            .envelope
            .as_ref()
            .unwrap()
            .auth_method,
        "password"
    );

    let mut wrong = base.clone();
    wrong["password"] = "nope".into();
    let report = python(wrong).await;
    assert_eq!(report["error"][0], "SMTPAuthenticationError", "{report}");
    assert_eq!(report["error"][1], 535);

    let mut other_from = base.clone();
    other_from["from"] = LPS_APP.into();
    let report = python(other_from).await;
    assert_eq!(report["error"][0], "SMTPSenderRefused", "{report}");
    assert_eq!(report["error"][1], 550);
    assert!(
        report["error"][2].as_str().unwrap().starts_with("5.7.1"),
        "{report}"
    );

    let mut unknown = base.clone();
    unknown["to"] = serde_json::json!(["personne@passerelle-sandbox.mssante.fr"]);
    let report = python(unknown).await;
    assert_eq!(report["error"][0], "SMTPRecipientsRefused", "{report}");
    assert!(
        report["error"][2].as_str().unwrap().contains("5.1.1"),
        "{report}"
    );
    assert_eq!(sandbox.mailbox(SECRETARIAT).len(), 1);
}

#[tokio::test]
async fn python_is_refused_a_certificate_from_a_foreign_ca() {
    let sandbox = Sandbox::default().await;
    let (cert, key) = TestPki::foreign_ca_client_cert("INSI-AUTO").unwrap();
    let files = tempfile::tempdir().unwrap();
    let cert = write_file(files.path(), "foreign.crt", cert.as_bytes());
    let key = write_file(files.path(), "foreign.key", key.as_bytes());
    for (mode, port) in [
        ("implicit", sandbox.implicit().port()),
        ("starttls", sandbox.starttls().port()),
    ] {
        let report = python(serde_json::json!({
            "mode": mode, "port": port, "cert": cert, "key": key,
            "from": LPS_APP, "to": [SECRETARIAT], "subject": "x",
        }))
        .await;
        let error = report["error"][0].as_str().unwrap_or_default();
        assert!(
            [
                "SSLError",
                "SMTPServerDisconnected",
                "ConnectionResetError",
                "SSLEOFError"
            ]
            .contains(&error),
            "{mode}: {report}"
        );
    }
    assert!(sandbox.mailbox(SECRETARIAT).is_empty());
}

// ---------------------------------------------------------------------------------------
// The protocol, with our own client.

#[tokio::test]
async fn before_tls_only_starttls_is_of_use_and_pipelined_commands_after_it_are_dropped() {
    let sandbox = Sandbox::default().await;
    let (mut smtp, greeting) = plain(sandbox.starttls()).await;
    assert!(greeting.starts("220 "), "{}", greeting.text());
    let ehlo = smtp.cmd("EHLO client.test").await;
    assert!(ehlo.text().contains("250-STARTTLS") || ehlo.text().contains("250 STARTTLS"));
    assert!(!ehlo.text().contains("AUTH"), "{}", ehlo.text());
    assert!(
        smtp.cmd(&format!("MAIL FROM:<{LPS_APP}>"))
            .await
            .starts("530 5.7.0")
    );
    assert!(
        smtp.cmd("AUTH PLAIN AGxwcwBub3Bl")
            .await
            .starts("530 5.7.0")
    );
    assert!(smtp.cmd("RCPT TO:<x@y.fr>").await.starts("503 5.5.1"));
    assert!(smtp.cmd("NOOP").await.starts("250 2.0.0"));

    // STARTTLS with a command pipelined behind it: the injected command is dropped.
    smtp.raw(format!("STARTTLS\r\nMAIL FROM:<{LPS_APP}>\r\n").as_bytes())
        .await;
    let ready = smtp.reply().await.unwrap();
    assert!(ready.starts("220 2.0.0"), "{}", ready.text());
    let tls = handshake(smtp.io.into_inner(), tls_config(Identity::Org, BOTH))
        .await
        .unwrap();
    let mut smtp = Smtp {
        io: BufReader::new(tls),
    };
    let noop = smtp.cmd("NOOP").await;
    assert!(noop.starts("250 2.0.0"), "{}", noop.text());
    // The session started over: EHLO again.
    assert!(
        smtp.cmd(&format!("MAIL FROM:<{LPS_APP}>"))
            .await
            .starts("503 5.5.1")
    );
    let ehlo = smtp.cmd("EHLO client.test").await;
    assert!(!ehlo.text().contains("STARTTLS"), "{}", ehlo.text());
    assert!(
        ehlo.text().contains("AUTH EXTERNAL PLAIN LOGIN"),
        "{}",
        ehlo.text()
    );
    assert!(smtp.cmd("STARTTLS").await.starts("503 5.5.1"));
    let replies = smtp
        .send(
            LPS_APP,
            &[SECRETARIAT],
            &message(LPS_APP, &[SECRETARIAT], "x", "y"),
        )
        .await;
    assert_eq!(codes(&replies), vec![250, 250, 250], "{replies:?}");
    assert!(smtp.cmd("QUIT").await.starts("221"));
}

#[tokio::test]
async fn the_certificate_decides_which_from_addresses_are_allowed() {
    let sandbox = Sandbox::default().await;
    let cases = [
        (Identity::Cps, JEANNE_MEDECIN, true),
        (Identity::Cps, LPS_APP, false),
        (Identity::Org, LPS_APP, true),
        (Identity::Org, SECRETARIAT, true),
        (Identity::Org, JEANNE_MEDECIN, false),
        (Identity::MssApp, LPS_APP, true),
        (Identity::MssApp, SECRETARIAT, false),
    ];
    for (identity, from, allowed) in cases {
        let mut smtp = session(sandbox.implicit(), identity).await;
        let r = smtp.cmd(&format!("MAIL FROM:<{from}>")).await;
        if allowed {
            assert!(r.starts("250 2.1.0"), "{from}: {}", r.text());
        } else {
            assert!(r.starts("550 5.7.1"), "{from}: {}", r.text());
        }
    }
    // No certificate and no password: nobody.
    let mut smtp = session(sandbox.implicit(), Identity::None).await;
    let ehlo = smtp.cmd("EHLO client.test").await;
    assert!(!ehlo.text().contains("EXTERNAL"), "{}", ehlo.text());
    assert!(
        smtp.cmd(&format!("MAIL FROM:<{LPS_APP}>"))
            .await
            .starts("530 5.7.0")
    );
    assert!(smtp.cmd("AUTH EXTERNAL =").await.starts("504 5.5.4"));
    // A certificate of the test CA that no mailbox is bound to: TLS yes, sending no.
    let now = time::OffsetDateTime::now_utc();
    let (cert, key) = pki()
        .issue_client_cert(
            "UNBOUND",
            now - time::Duration::days(1),
            now + time::Duration::days(1),
        )
        .unwrap();
    let config = pem_config(Some((cert.into_bytes(), key.into_bytes())), BOTH);
    let (mut smtp, _) = implicit(sandbox.implicit(), config).await.unwrap();
    smtp.cmd("EHLO client.test").await;
    assert!(
        smtp.cmd(&format!("MAIL FROM:<{LPS_APP}>"))
            .await
            .starts("530 5.7.0")
    );
    assert!(smtp.cmd("AUTH EXTERNAL =").await.starts("535 5.7.8"));
}

/// Notifications (MDN, DSN) go with the null reverse-path: an authenticated client may send
/// `MAIL FROM:<>`, its From header still checked; the stored message says `Return-Path: <>`.
#[tokio::test]
async fn an_authenticated_client_may_send_with_the_null_reverse_path() {
    let sandbox = Sandbox::default().await;
    let mut smtp = session(sandbox.implicit(), Identity::Org).await;
    let replies = smtp
        .send(
            "",
            &[JEAN_FOUQUEREY],
            &message(SECRETARIAT, &[JEAN_FOUQUEREY], "MDN", "y"),
        )
        .await;
    assert_eq!(codes(&replies), vec![250, 250, 250], "{replies:?}");
    // The header From is checked as for any message.
    let replies = smtp
        .send(
            "",
            &[JEAN_FOUQUEREY],
            &message(JEANNE_MEDECIN, &[JEAN_FOUQUEREY], "x", "y"),
        )
        .await;
    assert_eq!(codes(&replies), vec![250, 250, 550], "{replies:?}");
    let stored = sandbox.mailbox(JEAN_FOUQUEREY);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].envelope.as_ref().unwrap().mail_from, "");
    let raw = read(&stored[0].file);
    assert!(
        raw.starts_with(b"Return-Path: <>\r\n"),
        "{}",
        String::from_utf8_lossy(&raw[..40])
    );
    // Still not without authentication.
    let mut smtp = session(sandbox.implicit(), Identity::None).await;
    assert!(smtp.cmd("MAIL FROM:<>").await.starts("530 5.7.0"));
}

#[tokio::test]
async fn a_header_from_other_than_the_allowed_addresses_is_refused_at_data() {
    let sandbox = Sandbox::default().await;
    let mut smtp = session(sandbox.implicit(), Identity::Org).await;
    // Envelope as the applicative mailbox, header as the CPS holder.
    let replies = smtp
        .send(
            LPS_APP,
            &[SECRETARIAT],
            &message(JEANNE_MEDECIN, &[SECRETARIAT], "x", "y"),
        )
        .await;
    assert_eq!(codes(&replies), vec![250, 250, 550]);
    assert!(replies[2].starts("550 5.7.1"), "{}", replies[2].text());
    // The organisation may use both of its mailboxes in From.
    let replies = smtp
        .send(
            LPS_APP,
            &[SECRETARIAT],
            &message(SECRETARIAT, &[SECRETARIAT], "x", "y"),
        )
        .await;
    assert_eq!(codes(&replies), vec![250, 250, 250]);
    // Without Date or Message-ID.
    let no_date = message(LPS_APP, &[SECRETARIAT], "x", "y")
        .replace("Date: Mon, 01 Jun 2026 10:00:00 +0200\r\n", "");
    let replies = smtp.send(LPS_APP, &[SECRETARIAT], &no_date).await;
    assert!(
        replies[2].starts("554 5.6.0") && replies[2].text().contains("Date"),
        "{replies:?}"
    );
    assert_eq!(sandbox.mailbox(SECRETARIAT).len(), 1);
}

#[tokio::test]
async fn only_existing_mailboxes_receive() {
    let sandbox = Sandbox::default().await;
    let mut smtp = session(sandbox.implicit(), Identity::Cps).await;
    assert!(
        smtp.cmd(&format!(
            "MAIL FROM:<{JEANNE_MEDECIN}> SIZE=1000 BODY=8BITMIME RET=FULL ENVID=abc"
        ))
        .await
        .starts("250 2.1.0")
    );
    for (rcpt, expected) in [
        (PATIENT, "250 2.1.5"),
        // Upper case (a Corsican INS has letters), other sandbox patients.
        ("248039263001064@PATIENT.mssante.fr", "250 2.1.5"),
        ("297022A02077878@patient.mssante.fr", "250 2.1.5"),
        ("188102B17295165@patient.mssante.fr", "250 2.1.5"),
        // A wrong key; an INS the sandbox does not know; a 13-character INS.
        ("248039263001046@patient.mssante.fr", "550 5.1.1"),
        ("100000000000005@patient.mssante.fr", "550 5.1.1"),
        ("2480392630010@patient.mssante.fr", "550 5.1.1"),
        ("personne@passerelle-sandbox.mssante.fr", "550 5.1.1"),
        ("someone@hopital.mssante.fr", "550 5.1.1"),
        ("not_an_address", "501 5.1.3"),
    ] {
        let r = smtp
            .cmd(&format!(
                "RCPT TO:<{rcpt}> NOTIFY=FAILURE ORCPT=rfc822;{rcpt}"
            ))
            .await;
        assert!(r.starts(expected), "{rcpt}: {}", r.text());
        // The reply never repeats the address (a patient's is an INS).
        assert!(!r.text().contains("@patient"), "{}", r.text());
    }
    let r = smtp
        .cmd(&format!("RCPT TO:<{JEAN_FOUQUEREY}> NOTIFY=NEVER,SUCCESS"))
        .await;
    assert!(r.starts("501 5.5.4"), "{}", r.text());
    let r = smtp
        .cmd(&format!("RCPT TO:<{JEAN_FOUQUEREY}> FOO=BAR"))
        .await;
    assert!(r.starts("555 5.5.4"), "{}", r.text());
    let r = smtp
        .data(&message(JEANNE_MEDECIN, &[PATIENT], "x", "y"))
        .await;
    assert!(r.starts("250 2.0.0"), "{}", r.text());
    assert_eq!(sandbox.mailbox(PATIENT).len(), 1);
    assert_eq!(
        sandbox.mailbox("297022a02077878@patient.mssante.fr").len(),
        1
    );
    assert!(
        sandbox
            .mailbox("248039263001046@patient.mssante.fr")
            .is_empty()
    );
}

#[tokio::test]
async fn auth_external_in_each_form() {
    let sandbox = Sandbox::default().await;
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    // `=`: the certificate's addresses.
    let mut smtp = session(sandbox.implicit(), Identity::Org).await;
    assert!(smtp.cmd("AUTH EXTERNAL =").await.starts("235 2.7.0"));
    assert!(smtp.cmd("AUTH EXTERNAL =").await.starts("503 5.5.1"));
    assert!(
        smtp.cmd(&format!("MAIL FROM:<{SECRETARIAT}>"))
            .await
            .starts("250")
    );
    // No initial response: 334, then `=`, or an empty line.
    for answer in ["=", ""] {
        let mut smtp = session(sandbox.implicit(), Identity::Cps).await;
        let r = smtp.cmd("AUTH EXTERNAL").await;
        // "334 " (an empty challenge), as our client trims it.
        assert_eq!(r.lines, vec!["334"], "{}", r.text());
        assert!(smtp.cmd(answer).await.starts("235 2.7.0"));
    }
    // smtplib's auth(): `AUTH EXTERNAL ` with an empty initial response.
    let mut smtp = session(sandbox.implicit(), Identity::Cps).await;
    assert!(smtp.cmd("AUTH EXTERNAL ").await.starts("235 2.7.0"));
    // An authzid: one of the certificate's addresses narrows the session to it.
    let mut smtp = session(sandbox.implicit(), Identity::Org).await;
    assert!(
        smtp.cmd(&format!("AUTH EXTERNAL {}", b64(SECRETARIAT)))
            .await
            .starts("235 2.7.0")
    );
    assert!(
        smtp.cmd(&format!("MAIL FROM:<{LPS_APP}>"))
            .await
            .starts("550 5.7.1")
    );
    assert!(
        smtp.cmd(&format!("MAIL FROM:<{SECRETARIAT}>"))
            .await
            .starts("250")
    );
    // An authzid the certificate does not cover; a cancelled exchange; garbage.
    let mut smtp = session(sandbox.implicit(), Identity::Org).await;
    assert!(
        smtp.cmd(&format!("AUTH EXTERNAL {}", b64(JEANNE_MEDECIN)))
            .await
            .starts("535 5.7.8")
    );
    let r = smtp.cmd("AUTH EXTERNAL").await;
    assert_eq!(r.code, 334);
    assert!(smtp.cmd("*").await.starts("501"));
    assert!(smtp.cmd("AUTH EXTERNAL !!!").await.starts("501 5.5.2"));
    assert!(smtp.cmd("AUTH CRAM-MD5").await.starts("504 5.5.4"));
    // PLAIN with an authzid, LOGIN step by step.
    let mut smtp = session(sandbox.implicit(), Identity::None).await;
    let plain = b64(&format!(
        "{LPS_APP}\0{LPS_APP}\0{}",
        mss::DEFAULT_MAILBOX_PASSWORD
    ));
    assert!(
        smtp.cmd(&format!("AUTH PLAIN {plain}"))
            .await
            .starts("235 2.7.0")
    );
    let mut smtp = session(sandbox.implicit(), Identity::None).await;
    assert_eq!(smtp.cmd("AUTH LOGIN").await.lines, vec!["334 VXNlcm5hbWU6"]);
    assert_eq!(
        smtp.cmd(&b64(SECRETARIAT)).await.lines,
        vec!["334 UGFzc3dvcmQ6"]
    );
    assert!(
        smtp.cmd(&b64(mss::DEFAULT_MAILBOX_PASSWORD))
            .await
            .starts("235 2.7.0")
    );
    assert!(
        smtp.cmd(&format!("MAIL FROM:<{SECRETARIAT}>"))
            .await
            .starts("250")
    );
}

#[tokio::test]
async fn sasl_off_hides_external_and_sasl_require_needs_it() {
    let off = Sandbox::start(MssSandboxConfig {
        sasl: SaslMode::Off,
        accounts: Vec::new(),
        ..MssSandboxConfig::default()
    })
    .await;
    let (mut smtp, _) = implicit(off.implicit(), tls_config(Identity::Cps, BOTH))
        .await
        .unwrap();
    let ehlo = smtp.cmd("EHLO client.test").await;
    // No EXTERNAL and no accounts: no AUTH at all, as Postfix with client certificates.
    assert!(!ehlo.text().contains("AUTH"), "{}", ehlo.text());
    assert!(smtp.cmd("AUTH EXTERNAL =").await.starts("504 5.5.4"));
    assert!(
        smtp.cmd(&format!("MAIL FROM:<{JEANNE_MEDECIN}>"))
            .await
            .starts("250")
    );

    let require = Sandbox::start(MssSandboxConfig {
        sasl: SaslMode::Require,
        ..MssSandboxConfig::default()
    })
    .await;
    let mut smtp = session(require.implicit(), Identity::Cps).await;
    assert!(
        smtp.cmd(&format!("MAIL FROM:<{JEANNE_MEDECIN}>"))
            .await
            .starts("530 5.7.0")
    );
    assert!(smtp.cmd("AUTH EXTERNAL =").await.starts("235"));
    assert!(
        smtp.cmd(&format!("MAIL FROM:<{JEANNE_MEDECIN}>"))
            .await
            .starts("250")
    );
}

#[tokio::test]
async fn a_cps_over_tls_1_2_as_a_card_does() {
    let sandbox = Sandbox::default().await;
    let (smtp, _) = plain(sandbox.starttls()).await;
    let mut smtp = smtp;
    smtp.cmd("EHLO client.test").await;
    let mut smtp = smtp
        .starttls(tls_config(Identity::Cps, &[&rustls::version::TLS12]))
        .await
        .unwrap();
    smtp.cmd("EHLO client.test").await;
    let replies = smtp
        .send(
            JEANNE_MEDECIN,
            &[PATIENT],
            &message(JEANNE_MEDECIN, &[PATIENT], "x", "y"),
        )
        .await;
    assert_eq!(codes(&replies), vec![250, 250, 250]);
    let envelope = sandbox.mailbox(PATIENT)[0].envelope.clone().unwrap();
    assert_eq!(envelope.tls_version, "TLSv1.2");
    assert!(
        envelope.tls_cipher.starts_with("TLS_ECDHE_"),
        "{}",
        envelope.tls_cipher
    );
    assert!(envelope.tls_cipher.contains("GCM") || envelope.tls_cipher.contains("CHACHA20"));
    assert_eq!(envelope.auth_method, "certificate");
}

#[tokio::test]
async fn data_is_dot_unstuffed_and_lines_and_sizes_are_limited() {
    let sandbox = Sandbox::start(MssSandboxConfig {
        max_message_bytes: 4096,
        ..MssSandboxConfig::default()
    })
    .await;
    let mut smtp = session(sandbox.implicit(), Identity::Org).await;
    let ehlo = smtp.cmd("EHLO client.test").await;
    assert!(ehlo.text().contains("250-SIZE 4096"), "{}", ehlo.text());
    // Dot-stuffing undone; a line of exactly 998 characters accepted.
    let long_ok = "x".repeat(998);
    let body = format!(".hidden line\r\n..two dots\r\n{long_ok}\r\n.");
    let replies = smtp
        .send(
            LPS_APP,
            &[SECRETARIAT],
            &message(LPS_APP, &[SECRETARIAT], "dots", &body),
        )
        .await;
    assert_eq!(codes(&replies), vec![250, 250, 250], "{replies:?}");
    let stored = std::fs::read_to_string(&sandbox.mailbox(SECRETARIAT)[0].file).unwrap();
    assert!(
        stored.ends_with(&format!(
            "\r\n\r\n.hidden line\r\n..two dots\r\n{long_ok}\r\n.\r\n"
        )),
        "{stored}"
    );
    // 999 characters: refused.
    let replies = smtp
        .send(
            LPS_APP,
            &[SECRETARIAT],
            &message(LPS_APP, &[SECRETARIAT], "long", &"y".repeat(999)),
        )
        .await;
    assert!(replies[2].starts("554 5.6.0"), "{replies:?}");
    // Announced too big: refused at MAIL; too big without announcing: refused after DATA.
    assert!(
        smtp.cmd(&format!("MAIL FROM:<{LPS_APP}> SIZE=4097"))
            .await
            .starts("552 5.3.4")
    );
    let big = (0..80)
        .map(|_| "z".repeat(70))
        .collect::<Vec<_>>()
        .join("\r\n");
    let replies = smtp
        .send(
            LPS_APP,
            &[SECRETARIAT],
            &message(LPS_APP, &[SECRETARIAT], "big", &big),
        )
        .await;
    assert!(replies[2].starts("552 5.3.4"), "{replies:?}");
    // The session goes on.
    assert!(smtp.cmd("NOOP").await.starts("250"));
    // Bare LF inside the message.
    let replies = smtp
        .send(
            LPS_APP,
            &[SECRETARIAT],
            &message(LPS_APP, &[SECRETARIAT], "lf", "a\nb"),
        )
        .await;
    assert!(replies[2].starts("554 5.6.0"), "{replies:?}");
    assert_eq!(sandbox.mailbox(SECRETARIAT).len(), 1);
}

#[tokio::test]
async fn mailboxes_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let first = start_in(data.path(), MssSandboxConfig::default()).await;
    let mut smtp = session(first.implicit_tls_addr(), Identity::Org).await;
    let replies = smtp
        .send(
            LPS_APP,
            &[PATIENT],
            &message(LPS_APP, &[PATIENT], "avant", "y"),
        )
        .await;
    assert_eq!(codes(&replies), vec![250, 250, 250]);
    drop(smtp);
    first.shutdown().await;

    let second = start_in(data.path(), MssSandboxConfig::default()).await;
    assert_eq!(second.mailbox(PATIENT).unwrap().len(), 1);
    let mut smtp = session(second.implicit_tls_addr(), Identity::Org).await;
    smtp.send(
        LPS_APP,
        &[PATIENT],
        &message(LPS_APP, &[PATIENT], "après", "y"),
    )
    .await;
    let subjects: Vec<String> = mss::read_mailbox(data.path(), PATIENT)
        .unwrap()
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(subjects, vec!["avant", "après"]);
    second.shutdown().await;
}

async fn with_fault(fault: &str) -> Sandbox {
    Sandbox::start(MssSandboxConfig {
        faults: vec![fault.parse::<MssFault>().unwrap()],
        ..MssSandboxConfig::default()
    })
    .await
}

#[tokio::test]
async fn injected_faults_reach_the_client() {
    // greeting-421, every second connection.
    let s = with_fault("greeting-421@2").await;
    let (_, first) = implicit(s.implicit(), tls_config(Identity::Org, BOTH))
        .await
        .unwrap();
    assert_eq!(first.code, 220);
    let (mut smtp, second) = plain(s.starttls()).await;
    assert!(second.starts("421 4.3.2"), "{}", second.text());
    assert!(smtp.reply().await.is_err(), "closed after 421");

    let msg = message(LPS_APP, &[SECRETARIAT], "x", "y");
    for (fault, expected) in [
        ("rcpt-550", vec![250, 550]),
        ("rcpt-450", vec![250, 450]),
        ("data-451", vec![250, 250, 451]),
        ("data-554", vec![250, 250, 554]),
    ] {
        let s = with_fault(fault).await;
        let mut smtp = session(s.implicit(), Identity::Org).await;
        let replies = smtp.send(LPS_APP, &[SECRETARIAT], &msg).await;
        assert_eq!(codes(&replies), expected, "{fault}: {replies:?}");
        assert!(s.mailbox(SECRETARIAT).is_empty(), "{fault}");
    }

    // reset: the connection drops during DATA, no reply.
    let s = with_fault("reset").await;
    let mut smtp = session(s.implicit(), Identity::Org).await;
    assert!(
        smtp.cmd(&format!("MAIL FROM:<{LPS_APP}>"))
            .await
            .starts("250")
    );
    assert!(
        smtp.cmd(&format!("RCPT TO:<{SECRETARIAT}>"))
            .await
            .starts("250")
    );
    assert_eq!(smtp.cmd("DATA").await.code, 354);
    let _ = smtp.io.get_mut().write_all(&stuff(&msg)).await;
    assert!(smtp.reply().await.is_err(), "no reply after a reset");
    assert!(s.mailbox(SECRETARIAT).is_empty());

    // Python sees them too.
    let s = with_fault("rcpt-450").await;
    let report = python(serde_json::json!({
        "mode": "implicit", "port": s.implicit().port(),
        "cert": pem(&pki().org_cert), "key": pem(&pki().org_key),
        "from": LPS_APP, "to": [SECRETARIAT], "subject": "x",
    }))
    .await;
    assert_eq!(report["error"][0], "SMTPRecipientsRefused", "{report}");
    assert!(
        report["error"][2].as_str().unwrap().contains("450"),
        "{report}"
    );
    let s = with_fault("reset").await;
    let report = python(serde_json::json!({
        "mode": "implicit", "port": s.implicit().port(),
        "cert": pem(&pki().org_cert), "key": pem(&pki().org_key),
        "from": LPS_APP, "to": [SECRETARIAT], "subject": "x",
    }))
    .await;
    assert!(report.get("error").is_some(), "{report}");
}

#[tokio::test]
async fn latency_delays_the_reply_to_data_and_idle_sessions_time_out() {
    let sandbox = Sandbox::start(MssSandboxConfig {
        latency: Duration::from_millis(400),
        timeout: Duration::from_millis(700),
        ..MssSandboxConfig::default()
    })
    .await;
    let mut smtp = session(sandbox.implicit(), Identity::Org).await;
    smtp.cmd(&format!("MAIL FROM:<{LPS_APP}>")).await;
    smtp.cmd(&format!("RCPT TO:<{SECRETARIAT}>")).await;
    let started = Instant::now();
    let r = smtp.data(&message(LPS_APP, &[SECRETARIAT], "x", "y")).await;
    assert!(r.starts("250"), "{}", r.text());
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    // Then silence: the server gives up.
    let r = smtp.reply().await.unwrap();
    assert!(r.starts("421 4.4.2"), "{}", r.text());
}

#[tokio::test]
async fn shutdown_tells_open_sessions() {
    let data = tempfile::tempdir().unwrap();
    let running = start_in(data.path(), MssSandboxConfig::default()).await;
    let (mut smtp, _) = plain(running.starttls_addr()).await;
    let started = Instant::now();
    running.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let r = smtp.reply().await.unwrap();
    assert!(r.starts("421 4.3.2"), "{}", r.text());
}

#[tokio::test]
async fn configuration_errors_are_reported() {
    let bad_fault = "rcpt-999".parse::<MssFault>();
    assert!(bad_fault.is_err());
    let err = MssSandbox::start(
        MssSandboxConfig {
            extra_mailboxes: vec!["../etc".into()],
            ..MssSandboxConfig::default()
        },
        pki(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SandboxError::Config(_)), "{err}");
    // A port in use.
    let sandbox = Sandbox::default().await;
    let err = MssSandbox::start(
        MssSandboxConfig {
            implicit_tls_listen: sandbox.implicit(),
            data_dir: sandbox.data.path().to_path_buf(),
            ..MssSandboxConfig::default()
        },
        pki(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SandboxError::Bind { .. }), "{err}");
}

#[tokio::test]
async fn a_mailbox_that_cannot_be_written_gives_a_transient_refusal() {
    let sandbox = Sandbox::default().await;
    // A file where the mailbox's folder should be.
    let dir = mss::mailbox_dir(sandbox.data.path(), SECRETARIAT).unwrap();
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::write(&dir, b"in the way").unwrap();
    let mut smtp = session(sandbox.implicit(), Identity::Org).await;
    let replies = smtp
        .send(
            LPS_APP,
            &[SECRETARIAT],
            &message(LPS_APP, &[SECRETARIAT], "x", "y"),
        )
        .await;
    assert!(replies[2].starts("451 4.3.0"), "{replies:?}");
    std::fs::remove_file(&dir).unwrap();
    let replies = smtp
        .send(
            LPS_APP,
            &[SECRETARIAT],
            &message(LPS_APP, &[SECRETARIAT], "x", "y"),
        )
        .await;
    assert!(replies[2].starts("250 2.0.0"), "{replies:?}");
}
