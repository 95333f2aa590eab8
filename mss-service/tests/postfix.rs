//! Interop with a real MTA: Debian's Postfix, run as a separate instance of its own (its own
//! configuration, queue and data directories in a temporary directory, loopback ports picked
//! free; no system Postfix is used or touched), configured as an MSSanté-like submission
//! server: TLS required (STARTTLS, and implicit TLS in wrapper mode), TLS 1.2+, the client
//! certificate asked for and checked against the sandbox CAs, relaying allowed only to the
//! certificates whose SHA-256 fingerprint it lists (`permit_tls_clientcerts`, no SASL, so no
//! `AUTH EXTERNAL`: the certificate-alone path), delivery to maildirs the test reads back.
//!
//! Needs the `postfix` package (`apt-get install postfix`, "No configuration") and root (the
//! master process starts as root and drops to the `postfix` user); without them the tests
//! fail and say so. `PASSERELLE_POSTFIX_TEST=skip` skips them explicitly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mss_service::smtp::{
    AuthSettings, AuthUsed, ClientCert, Envelope, SmtpClient, SmtpError, SmtpSettings, SmtpTls,
    Timeouts, TlsMode, TlsVersion,
};
use passerelle_mtls::ClientIdentity;
use passerelle_sandbox::pki::TestPki;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

const FROM: &str = "lps@passerelle-sandbox.mssante.fr";
const FOUQUEREY: &str = "jean.fouquerey@passerelle-sandbox.mssante.fr";
const SECRETARIAT: &str = "secretariat@passerelle-sandbox.mssante.fr";
const SIZE_LIMIT: u64 = 20_000_000;

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::ensure(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("mss-smtp-pki")).unwrap()
    })
}

/// `AB:CD:…`: Postfix's form of a certificate fingerprint.
fn fingerprint(cert_pem: &Path) -> String {
    let der = CertificateDer::from_pem_file(cert_pem).unwrap();
    Sha256::digest(der.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The uid and gid of a system user, from /etc/passwd.
fn user_ids(name: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .map(|f| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        .unwrap_or_else(|| {
            panic!("no user {name:?} in /etc/passwd: is the postfix package installed?")
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn postfix_binary() -> PathBuf {
    let found = ["/usr/sbin/postfix", "/usr/local/sbin/postfix"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    found.unwrap_or_else(|| {
        panic!(
            "Postfix is not installed: this interop test needs Debian's postfix package \
             (DEBIAN_FRONTEND=noninteractive apt-get install --no-install-recommends postfix, \
             with debconf postfix/main_mailer_type = \"No configuration\"), \
             or set PASSERELLE_POSTFIX_TEST=skip"
        )
    })
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

/// A Postfix instance of our own; stopped when dropped, even when the test fails.
struct Postfix {
    binary: PathBuf,
    conf: PathBuf,
    queue: PathBuf,
    log: PathBuf,
    mail: PathBuf,
    starttls_port: u16,
    implicit_port: u16,
    // Last: the directory goes once the instance is stopped.
    _dir: tempfile::TempDir,
}

impl Postfix {
    /// `None` when told to skip.
    fn start() -> Option<Self> {
        if std::env::var("PASSERELLE_POSTFIX_TEST").is_ok_and(|v| v == "skip") {
            eprintln!("PASSERELLE_POSTFIX_TEST=skip: the Postfix interop test is skipped");
            return None;
        }
        let binary = postfix_binary();
        assert!(
            is_root(),
            "the Postfix interop test runs Postfix's master, which must start as root \
             (or set PASSERELLE_POSTFIX_TEST=skip)"
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        // The postfix user crosses it to reach the queue; nobody to reach the mailboxes.
        set_mode(&root, 0o755);
        let (conf, queue, data, mail) = (
            root.join("conf"),
            root.join("queue"),
            root.join("data"),
            root.join("mail"),
        );
        for d in [&conf, &queue, &data, &mail] {
            std::fs::create_dir(d).unwrap();
            set_mode(d, 0o755);
        }
        let (postfix_uid, postfix_gid) = user_ids("postfix");
        std::os::unix::fs::chown(&data, Some(postfix_uid), Some(postfix_gid)).unwrap();
        let (nobody_uid, nobody_gid) = user_ids("nobody");
        std::os::unix::fs::chown(&mail, Some(nobody_uid), Some(nobody_gid)).unwrap();

        let pki = pki();
        let ca = conf.join("ca.pem");
        std::fs::write(
            &ca,
            [
                std::fs::read(&pki.ca_cert).unwrap(),
                std::fs::read(&pki.cps_ca_cert).unwrap(),
            ]
            .concat(),
        )
        .unwrap();
        std::fs::write(
            conf.join("relay_clientcerts"),
            format!("{} org\n", fingerprint(&pki.org_cert)),
        )
        .unwrap();
        std::fs::write(
            conf.join("vmailbox"),
            format!("{FOUQUEREY} fouquerey/\n{SECRETARIAT} secretariat/\n"),
        )
        .unwrap();

        let log = root.join("maillog");
        let starttls_port = free_port();
        let implicit_port = free_port();
        let d = |p: &Path| p.display().to_string();
        std::fs::write(
            conf.join("main.cf"),
            format!(
                "compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
maillog_file = {log}
maillog_file_prefixes = {root}
myhostname = postfix-test.localdomain
mydomain = localdomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
alias_maps =
alias_database =
smtputf8_enable = no
message_size_limit = {SIZE_LIMIT}
# No header rewriting: what arrives is what was sent.
local_header_rewrite_clients =
smtpd_tls_cert_file = {server_cert}
smtpd_tls_key_file = {server_key}
smtpd_tls_CAfile = {ca}
smtpd_tls_ask_ccert = yes
smtpd_tls_fingerprint_digest = sha256
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
relay_clientcerts = texthash:{conf}/relay_clientcerts
smtpd_relay_restrictions = permit_tls_clientcerts, reject
virtual_mailbox_domains = passerelle-sandbox.mssante.fr
virtual_mailbox_base = {mail}
virtual_mailbox_maps = texthash:{conf}/vmailbox
virtual_uid_maps = static:{nobody_uid}
virtual_gid_maps = static:{nobody_gid}
",
                queue = d(&queue),
                data = d(&data),
                log = d(&log),
                root = d(&root),
                server_cert = d(&pki.server_cert),
                server_key = d(&pki.server_key),
                ca = d(&ca),
                conf = d(&conf),
                mail = d(&mail),
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("master.cf"),
            format!(
                "# service type private unpriv chroot wakeup maxproc command
127.0.0.1:{starttls_port} inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
127.0.0.1:{implicit_port} inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"
            ),
        )
        .unwrap();

        let postfix = Self {
            binary,
            conf,
            queue,
            log,
            mail,
            starttls_port,
            implicit_port,
            _dir: dir,
        };
        let out = postfix.command("start");
        assert!(
            out.status.success(),
            "postfix start failed ({}): {}{}\nmaillog:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            postfix.maillog()
        );
        for port in [starttls_port, implicit_port] {
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "Postfix does not listen on {port}:\n{}",
                    postfix.maillog()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Some(postfix)
    }

    fn command(&self, action: &str) -> std::process::Output {
        Command::new(&self.binary)
            .arg("-c")
            .arg(&self.conf)
            .arg(action)
            .output()
            .unwrap()
    }

    fn maillog(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no maillog: {e})"))
    }

    fn master_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.queue.join("pid/master.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// The messages delivered to a mailbox (maildir `new/`), waiting up to `wait` for
    /// `count` of them.
    fn delivered(&self, mailbox: &str, count: usize, wait: Duration) -> Vec<Vec<u8>> {
        let new = self.mail.join(mailbox).join("new");
        let deadline = Instant::now() + wait;
        loop {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&new)
                .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            if files.len() >= count || Instant::now() >= deadline {
                files.sort();
                return files.iter().map(|f| std::fs::read(f).unwrap()).collect();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn settings(&self, mode: TlsMode, identity: ClientIdentity) -> SmtpSettings {
        SmtpSettings {
            host: "localhost".to_owned(),
            port: Some(match mode {
                TlsMode::Starttls => self.starttls_port,
                TlsMode::Implicit => self.implicit_port,
            }),
            mode,
            auth: AuthSettings::Auto,
            tls: SmtpTls {
                identity: Some(identity),
                trusted_ca: vec![pki().ca_cert.clone()],
                min_version: TlsVersion::Tls12,
            },
            ehlo_name: Some("lps.passerelle.test".to_owned()),
            timeouts: Timeouts {
                connect: Duration::from_secs(10),
                command: Duration::from_secs(10),
                data_end: Duration::from_secs(30),
            },
            max_message_bytes: None,
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let pid = self.master_pid();
        let _ = self.command("stop");
        // `postfix stop` signals the master and returns: wait for it to go.
        if let Some(pid) = pid {
            let deadline = Instant::now() + Duration::from_secs(10);
            while alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if alive(pid) {
                let _ = self.command("abort");
            }
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Running (a zombie waiting for its parent to reap it has stopped).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
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
    let Some(postfix) = Postfix::start() else {
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
    let Some(postfix) = Postfix::start() else {
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
    let Some(postfix) = Postfix::start() else {
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
