//! The MSSanté sandbox's receiving side as clients see it: Python's `imaplib` (a client we
//! did not write) reading what the SMTP side delivered, and a small client of our own for
//! IDLE.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use passerelle_sandbox::TestPki;
use passerelle_sandbox::mss::{
    self, DEFAULT_MAILBOX_PASSWORD, JEANNE_MEDECIN, LPS_APP, MssSandbox, MssSandboxConfig,
    RunningMssSandbox, SECRETARIAT,
};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const IO_TIMEOUT: Duration = Duration::from_secs(15);

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mss-imap-tests-pki");
        TestPki::ensure(&dir).expect("test PKI")
    })
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

fn tls_config(cert: &Path, key: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&pki().ca_cert).unwrap())
        .unwrap();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_file(cert).unwrap()],
            PrivateKeyDer::from_pem_file(key).unwrap(),
        )
        .unwrap(),
    )
}

async fn tls(addr: SocketAddr) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    TlsConnector::from(tls_config(&pki().org_cert, &pki().org_key))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

async fn line<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> String {
    let mut line = String::new();
    let n = tokio::time::timeout(IO_TIMEOUT, io.read_line(&mut line))
        .await
        .expect("a line in time")
        .unwrap();
    assert!(n > 0, "connection closed");
    line.trim_end().to_owned()
}

async fn write<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>, text: &str) {
    io.get_mut().write_all(text.as_bytes()).await.unwrap();
    io.get_mut().flush().await.unwrap();
}

/// Sends one message over the SMTP side (implicit TLS, the organisation certificate
/// alone, `From` its applicative mailbox); its `Message-ID`.
async fn smtp_send(sandbox: &RunningMssSandbox, to: &str, subject: &str) -> String {
    let mut io = BufReader::new(tls(sandbox.implicit_tls_addr()).await);
    async fn reply<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> String {
        loop {
            let l = line(io).await;
            if l.as_bytes().get(3) != Some(&b'-') {
                return l;
            }
        }
    }
    assert!(reply(&mut io).await.starts_with("220"));
    let message_id = format!("<{}@passerelle-sandbox.mssante.fr>", uuid::Uuid::new_v4());
    for (cmd, code) in [
        ("EHLO client.test".to_owned(), "250"),
        (format!("MAIL FROM:<{LPS_APP}>"), "250"),
        (format!("RCPT TO:<{to}>"), "250"),
        ("DATA".to_owned(), "354"),
        (
            format!(
                "From: <{LPS_APP}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\
                 Date: Mon, 01 Jun 2026 10:00:00 +0200\r\nMessage-ID: {message_id}\r\n\
                 MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                 Bonjour\r\n."
            ),
            "250",
        ),
        ("QUIT".to_owned(), "221"),
    ] {
        write(&mut io, &format!("{cmd}\r\n")).await;
        let r = reply(&mut io).await;
        assert!(r.starts_with(code), "{cmd}: {r}");
    }
    message_id
}

// ---------------------------------------------------------------------------------------
// Python's imaplib.

const PY_CLIENT: &str = r#"
import imaplib, json, ssl, sys

a = json.loads(sys.argv[1])
out = {"steps": []}
def plain(x):
    if isinstance(x, bytes):
        return x.decode(errors="replace")
    if isinstance(x, (list, tuple)):
        return [plain(y) for y in x]
    return x
try:
    ctx = ssl.create_default_context(cafile=a["cafile"])
    if a.get("cert"):
        ctx.load_cert_chain(a["cert"], a["key"])
    if a["mode"] == "implicit":
        M = imaplib.IMAP4_SSL(a["host"], a["port"], ssl_context=ctx, timeout=20)
    else:
        M = imaplib.IMAP4(a["host"], a["port"], timeout=20)
        out["capabilities_before_tls"] = list(M.capabilities)
        if a.get("login_before_tls"):
            try:
                M.login(a["user"], a["password"])
                out["login_before_tls"] = "OK"
            except imaplib.IMAP4.error as e:
                out["login_before_tls"] = str(e)
        M.starttls(ssl_context=ctx)
    out["capabilities"] = list(M.capabilities)
    if a.get("auth") == "external":
        authzid = a.get("authzid", "").encode()
        out["auth"] = plain(M.authenticate("EXTERNAL", lambda _: authzid))
    elif a.get("auth") == "login":
        out["auth"] = plain(M.login(a["user"], a["password"]))
    for op in a.get("ops", []):
        out["steps"].append(plain(getattr(M, op[0])(*op[1:])))
    M.logout()
    out["ok"] = True
except (imaplib.IMAP4.error, ssl.SSLError, OSError) as e:
    out["error"] = [type(e).__name__, str(e)]
print(json.dumps(out))
"#;

async fn python(mut args: Value) -> Value {
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
        .expect("python3 runs (these tests use Python's imaplib as an independent client)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn path(p: &Path) -> Value {
    p.to_str().unwrap().into()
}

fn cps(port: u16, ops: Value) -> Value {
    json!({
        "mode": "implicit", "port": port, "auth": "external",
        "cert": path(&pki().cps_cert), "key": path(&pki().cps_key), "ops": ops,
    })
}

/// The numbers of a `* SEARCH` answer: `["OK", ["1 2"]]`.
fn found(step: &Value) -> Vec<u32> {
    assert_eq!(step[0], "OK", "{step}");
    step[1][0]
        .as_str()
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn python_reads_with_the_cps_and_uids_and_flags_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let sandbox = start_in(data.path(), MssSandboxConfig::default()).await;
    let first = smtp_send(&sandbox, JEANNE_MEDECIN, "Compte rendu 1").await;
    smtp_send(&sandbox, JEANNE_MEDECIN, "Compte rendu 2").await;

    // The SMTP side writes the envelope sender on top, as a delivering MTA does.
    let stored = sandbox.mailbox(JEANNE_MEDECIN).unwrap();
    assert_eq!(stored.len(), 2);
    let raw = std::fs::read(&stored[0].file).unwrap();
    assert!(
        raw.starts_with(format!("Return-Path: <{LPS_APP}>\r\n").as_bytes()),
        "{}",
        String::from_utf8_lossy(&raw[..80])
    );

    let report = python(cps(
        sandbox.imaps_addr().port(),
        json!([
            ["select", "INBOX"],
            ["response", "UIDVALIDITY"],
            ["uid", "SEARCH", "ALL"],
            ["uid", "SEARCH", "UNSEEN"],
            [
                "uid",
                "FETCH",
                "1",
                "(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])"
            ],
            ["uid", "FETCH", "2", "(BODY.PEEK[HEADER])"],
            ["uid", "STORE", "1", "+FLAGS", "(\\Seen $MDNSent)"],
            ["uid", "SEARCH", "UNSEEN"],
            ["uid", "SEARCH", "UID", "2:*"],
        ]),
    ))
    .await;
    assert_eq!(report["ok"], true, "{report}");
    let caps = report["capabilities"].to_string();
    assert!(
        caps.contains("AUTH=EXTERNAL") && caps.contains("IDLE"),
        "{caps}"
    );
    assert_eq!(report["auth"][0], "OK", "{report}");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps[0], json!(["OK", ["2"]]));
    let uid_validity = steps[1][1][0].as_str().unwrap().to_owned();
    assert_eq!(found(&steps[2]), vec![1, 2]);
    assert_eq!(found(&steps[3]), vec![1, 2]);
    // [OK, [[head, body], ")"]]
    let head = steps[4][1][0][0].as_str().unwrap();
    let body = steps[4][1][0][1].as_str().unwrap();
    assert!(
        head.contains("UID 1") && head.contains("FLAGS ()"),
        "{head}"
    );
    assert!(
        head.contains(&format!("RFC822.SIZE {}", raw.len())),
        "{head}"
    );
    assert!(head.contains("INTERNALDATE \""), "{head}");
    assert_eq!(body.as_bytes(), &raw[..]);
    assert!(body.contains(&first));
    let header = steps[5][1][0][1].as_str().unwrap();
    assert!(header.contains("Subject: Compte rendu 2") && header.ends_with("\r\n\r\n"));
    assert!(!header.contains("Bonjour"));
    let stored_flags = steps[6][1][0].as_str().unwrap();
    assert!(stored_flags.contains("\\Seen $MDNSent"), "{stored_flags}");
    assert_eq!(found(&steps[7]), vec![2]);
    assert_eq!(found(&steps[8]), vec![2]);

    sandbox.shutdown().await;
    let sandbox = start_in(data.path(), MssSandboxConfig::default()).await;
    smtp_send(&sandbox, JEANNE_MEDECIN, "Compte rendu 3").await;
    let report = python(cps(
        sandbox.imaps_addr().port(),
        json!([
            ["select", "INBOX"],
            ["response", "UIDVALIDITY"],
            ["uid", "SEARCH", "ALL"],
            ["uid", "SEARCH", "UNSEEN"],
            ["uid", "FETCH", "1:*", "(FLAGS)"],
            // BODY[] (not PEEK) marks the message seen.
            ["uid", "FETCH", "3", "(BODY[])"],
            ["uid", "SEARCH", "UNSEEN"],
        ]),
    ))
    .await;
    assert_eq!(report["ok"], true, "{report}");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps[0], json!(["OK", ["3"]]));
    assert_eq!(steps[1][1][0], uid_validity.as_str());
    assert_eq!(found(&steps[2]), vec![1, 2, 3]);
    assert_eq!(found(&steps[3]), vec![2, 3]);
    let flags = steps[4][1].to_string();
    assert!(flags.contains("UID 1 FLAGS (\\\\Seen $MDNSent)"), "{flags}");
    assert!(flags.contains("UID 2 FLAGS ()"), "{flags}");
    assert!(steps[5][1][0][0].as_str().unwrap().contains("UID 3"));
    assert_eq!(found(&steps[6]), vec![2]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn python_starttls_then_login_with_an_operator_account_but_not_before_tls() {
    let data = tempfile::tempdir().unwrap();
    let sandbox = start_in(data.path(), MssSandboxConfig::default()).await;
    smtp_send(&sandbox, SECRETARIAT, "Pour le secrétariat").await;
    let report = python(json!({
        "mode": "starttls", "port": sandbox.imap_addr().port(), "auth": "login",
        "login_before_tls": true,
        "user": SECRETARIAT, "password": DEFAULT_MAILBOX_PASSWORD,
        "ops": [["select", "INBOX"], ["uid", "SEARCH", "ALL"], ["noop"]],
    }))
    .await;
    assert_eq!(report["ok"], true, "{report}");
    let before = report["capabilities_before_tls"].to_string();
    assert!(
        before.contains("STARTTLS") && before.contains("LOGINDISABLED"),
        "{before}"
    );
    assert!(!before.contains("AUTH="), "{before}");
    assert!(
        report["login_before_tls"]
            .as_str()
            .unwrap()
            .contains("PRIVACYREQUIRED"),
        "{report}"
    );
    assert!(report["capabilities"].to_string().contains("AUTH=PLAIN"));
    assert_eq!(report["auth"][0], "OK");
    assert_eq!(found(&report["steps"][1]), vec![1]);

    // A wrong password, over implicit TLS without a certificate.
    let report = python(json!({
        "mode": "implicit", "port": sandbox.imaps_addr().port(), "auth": "login",
        "user": SECRETARIAT, "password": "wrong",
    }))
    .await;
    assert!(
        report["error"][1]
            .as_str()
            .unwrap()
            .contains("AUTHENTICATIONFAILED"),
        "{report}"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn certificates_open_their_own_mailboxes_only() {
    let data = tempfile::tempdir().unwrap();
    let sandbox = start_in(data.path(), MssSandboxConfig::default()).await;
    smtp_send(&sandbox, SECRETARIAT, "Pour le secrétariat").await;
    let port = sandbox.imaps_addr().port();
    let org = |authzid: &str| {
        json!({
            "mode": "implicit", "port": port, "auth": "external", "authzid": authzid,
            "cert": path(&pki().org_cert), "key": path(&pki().org_key),
            "ops": [["select", "INBOX"]],
        })
    };
    // The organisation's certificate: its applicative mailbox by default (empty), the
    // organisational one when asked, not a person's.
    assert_eq!(python(org("")).await["steps"][0], json!(["OK", ["0"]]));
    assert_eq!(
        python(org(SECRETARIAT)).await["steps"][0],
        json!(["OK", ["1"]])
    );
    let refused = python(org(JEANNE_MEDECIN)).await;
    assert!(
        refused["error"][1]
            .as_str()
            .unwrap()
            .contains("AUTHORIZATIONFAILED"),
        "{refused}"
    );

    // A certificate of a foreign CA: no TLS at all.
    let files = tempfile::tempdir().unwrap();
    let (cert, key) = TestPki::foreign_ca_client_cert("INSI-AUTO").unwrap();
    std::fs::write(files.path().join("f.crt"), cert).unwrap();
    std::fs::write(files.path().join("f.key"), key).unwrap();
    let foreign = python(json!({
        "mode": "implicit", "port": port, "auth": "external",
        "cert": path(&files.path().join("f.crt")), "key": path(&files.path().join("f.key")),
    }))
    .await;
    assert!(
        foreign["error"].is_array() && foreign.get("auth").is_none(),
        "{foreign}"
    );

    // A certificate of the test CA bound to no mailbox: TLS yes, EXTERNAL no.
    let now = time::OffsetDateTime::now_utc();
    let (cert, key) = pki()
        .issue_client_cert(
            "UNBOUND",
            now - time::Duration::days(1),
            now + time::Duration::days(1),
        )
        .unwrap();
    std::fs::write(files.path().join("u.crt"), cert).unwrap();
    std::fs::write(files.path().join("u.key"), key).unwrap();
    let unbound = python(json!({
        "mode": "implicit", "port": port, "auth": "external",
        "cert": path(&files.path().join("u.crt")), "key": path(&files.path().join("u.key")),
    }))
    .await;
    assert!(
        !unbound["capabilities"]
            .to_string()
            .contains("AUTH=EXTERNAL"),
        "{unbound}"
    );
    assert!(
        unbound["error"][1]
            .as_str()
            .unwrap()
            .contains("AUTHENTICATIONFAILED"),
        "{unbound}"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn each_imap_fault_is_seen_by_python() {
    for (fault, expected) in [("imap-no", "NO"), ("imap-bye", "abort")] {
        let data = tempfile::tempdir().unwrap();
        let sandbox = start_in(
            data.path(),
            MssSandboxConfig {
                faults: vec![format!("{fault}@2").parse().unwrap()],
                ..MssSandboxConfig::default()
            },
        )
        .await;
        smtp_send(&sandbox, JEANNE_MEDECIN, "x").await;
        let report = python(cps(
            sandbox.imaps_addr().port(),
            json!([
                ["select", "INBOX"],
                ["uid", "FETCH", "1", "(FLAGS)"],
                ["uid", "FETCH", "1", "(FLAGS)"],
            ]),
        ))
        .await;
        let steps = report["steps"].as_array().unwrap();
        assert_eq!(steps[1][0], "OK", "{fault}: {report}");
        if expected == "NO" {
            assert_eq!(steps[2][0], "NO", "{report}");
            assert!(steps[2][1][0].as_str().unwrap().contains("UNAVAILABLE"));
            assert_eq!(report["ok"], true);
        } else {
            assert_eq!(steps.len(), 2, "{report}");
            assert_eq!(report["error"][0], "abort", "{report}");
        }
        sandbox.shutdown().await;
    }
}

// ---------------------------------------------------------------------------------------
// IDLE, and what the parser does with garbage, with our own client.

/// Reads up to the tagged reply of `tag`; the lines before it and that reply.
async fn until_tagged<S: AsyncRead + Unpin>(io: &mut BufReader<S>, tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let l = line(io).await;
        let done = l.starts_with(&format!("{tag} "));
        out.push(l);
        if done {
            return out;
        }
    }
}

#[tokio::test]
async fn idle_tells_of_a_new_message_and_garbage_gets_bad() {
    let data = tempfile::tempdir().unwrap();
    let sandbox = start_in(data.path(), MssSandboxConfig::default()).await;
    smtp_send(&sandbox, SECRETARIAT, "premier").await;
    let mut io = BufReader::new(tls(sandbox.imaps_addr()).await);
    assert!(
        line(&mut io)
            .await
            .starts_with("* OK [CAPABILITY IMAP4rev1 IDLE AUTH=EXTERNAL")
    );
    for garbage in [
        "",
        "x",
        "a1 (((",
        "a2 UID FETCH 1 {5}",
        "a3 FETCH 1 BODY[",
        "\u{0}\u{ff} zz",
    ] {
        write(&mut io, &format!("{garbage}\r\n")).await;
        let l = line(&mut io).await;
        assert!(l.contains(" BAD "), "{garbage:?}: {l}");
    }
    write(
        &mut io,
        &format!("a AUTHENTICATE EXTERNAL {}\r\n", base64_of(SECRETARIAT)),
    )
    .await;
    assert!(
        until_tagged(&mut io, "a")
            .await
            .last()
            .unwrap()
            .starts_with("a OK")
    );
    write(&mut io, "b SELECT INBOX\r\n").await;
    let select = until_tagged(&mut io, "b").await;
    assert!(select.contains(&"* 1 EXISTS".to_owned()), "{select:?}");
    assert!(select.last().unwrap().starts_with("b OK [READ-WRITE]"));
    write(&mut io, "c IDLE\r\n").await;
    assert_eq!(line(&mut io).await, "+ idling");
    smtp_send(&sandbox, SECRETARIAT, "second").await;
    assert_eq!(line(&mut io).await, "* 2 EXISTS");
    write(&mut io, "DONE\r\n").await;
    assert_eq!(line(&mut io).await, "c OK IDLE terminated");
    write(&mut io, "d UID FETCH 2 (UID FLAGS)\r\n").await;
    let fetch = until_tagged(&mut io, "d").await;
    assert_eq!(fetch[0], "* 2 FETCH (UID 2 FLAGS ())");
    write(&mut io, "e LOGOUT\r\n").await;
    let bye = until_tagged(&mut io, "e").await;
    assert_eq!(bye[0], "* BYE logging out");
    sandbox.shutdown().await;
    assert_eq!(
        mss::read_mailbox(data.path(), SECRETARIAT).unwrap().len(),
        2
    );
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
