//! A Postfix of our own (Debian's `postfix`), configured like an MSSanté submission server:
//! its own configuration, queue and data directories in a temporary directory (no system
//! Postfix is used or touched), loopback ports picked free, TLS required (STARTTLS, and
//! implicit TLS in wrapper mode), TLS 1.2+, the client certificate asked for and checked
//! against the sandbox CAs, relaying allowed only to the certificates whose SHA-256
//! fingerprint it lists (the organisation's, `org.crt`: `permit_tls_clientcerts`, no SASL,
//! so no `AUTH EXTERNAL`), delivery by its `virtual` agent to maildirs, as `nobody`.
//!
//! ```text
//! let Some(postfix) = Postfix::start(&pki) else { return };   // None: PASSERELLE_POSTFIX_TEST=skip
//! let client = SmtpClient::new(&postfix.settings(TlsMode::Starttls, org_identity))?;
//! postfix.delivered("fouquerey", 1, Duration::from_secs(20));
//! ```
//!
//! [`Postfix::start`] delivers to maildirs of its own (`fouquerey/`, `secretariat/`);
//! [`Postfix::start_delivering`] to the maildirs given, e.g. a Dovecot's.
//!
//! Needs the `postfix` package (`apt-get install postfix`, "No configuration") and root (the
//! master process starts as root and drops to the `postfix` user); without them `start`
//! panics saying so. `PASSERELLE_POSTFIX_TEST=skip` skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mss_service::smtp::{AuthSettings, SmtpSettings, SmtpTls, Timeouts, TlsMode, TlsVersion};
use passerelle_mtls::ClientIdentity;
use passerelle_sandbox::pki::TestPki;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

/// The largest message Postfix takes (`message_size_limit`), announced in `SIZE`.
pub const SIZE_LIMIT: u64 = 20_000_000;
/// The maildirs of [`Postfix::start`]: address, directory under its mail base.
pub const OWN_MAILDIRS: [(&str, &str); 2] = [
    ("jean.fouquerey@passerelle-sandbox.mssante.fr", "fouquerey/"),
    ("secretariat@passerelle-sandbox.mssante.fr", "secretariat/"),
];

/// Where Postfix's `virtual` agent delivers, as `nobody`: `base` (which `nobody` must be able
/// to write, or the maildirs under it) and, per address, its maildir under `base` (a trailing
/// `/`: Maildir format; the agent creates `new/` `cur/` `tmp/` when missing).
pub struct Delivery {
    pub base: PathBuf,
    pub maildirs: Vec<(String, String)>,
}

/// `AB:CD:…`: Postfix's form of a certificate fingerprint.
pub fn fingerprint(cert_pem: &Path) -> String {
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
pub struct Postfix {
    binary: PathBuf,
    conf: PathBuf,
    queue: PathBuf,
    log: PathBuf,
    mail: PathBuf,
    ca: PathBuf,
    starttls_port: u16,
    implicit_port: u16,
    // Last: the directory goes once the instance is stopped.
    _dir: tempfile::TempDir,
}

impl Postfix {
    /// Starts an instance delivering to maildirs of its own ([`OWN_MAILDIRS`]) and waits
    /// until both ports accept. `None` when `PASSERELLE_POSTFIX_TEST=skip`; panics (saying
    /// what to install) without Postfix or root.
    pub fn start(pki: &TestPki) -> Option<Self> {
        Self::start_with(pki, None)
    }

    /// Starts an instance whose `virtual` agent delivers to `delivery`'s maildirs (as
    /// `nobody`), e.g. a Dovecot's; the other addresses of the sandbox domain are unknown.
    pub fn start_delivering(pki: &TestPki, delivery: Delivery) -> Option<Self> {
        Self::start_with(pki, Some(delivery))
    }

    fn start_with(pki: &TestPki, delivery: Option<Delivery>) -> Option<Self> {
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
        let (conf, queue, data) = (root.join("conf"), root.join("queue"), root.join("data"));
        for d in [&conf, &queue, &data] {
            std::fs::create_dir(d).unwrap();
            set_mode(d, 0o755);
        }
        let (postfix_uid, postfix_gid) = user_ids("postfix");
        std::os::unix::fs::chown(&data, Some(postfix_uid), Some(postfix_gid)).unwrap();
        let (nobody_uid, nobody_gid) = user_ids("nobody");
        let delivery = delivery.unwrap_or_else(|| {
            let mail = root.join("mail");
            std::fs::create_dir(&mail).unwrap();
            set_mode(&mail, 0o755);
            std::os::unix::fs::chown(&mail, Some(nobody_uid), Some(nobody_gid)).unwrap();
            Delivery {
                base: mail,
                maildirs: OWN_MAILDIRS
                    .iter()
                    .map(|(a, d)| ((*a).to_owned(), (*d).to_owned()))
                    .collect(),
            }
        });
        let mail = delivery.base.clone();

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
        let vmailbox: String = delivery
            .maildirs
            .iter()
            .map(|(address, dir)| format!("{address} {dir}\n"))
            .collect();
        std::fs::write(conf.join("vmailbox"), vmailbox).unwrap();

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
            ca: pki.ca_cert.clone(),
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

    /// Runs `postfix -c <conf> <action>`.
    pub fn command(&self, action: &str) -> std::process::Output {
        Command::new(&self.binary)
            .arg("-c")
            .arg(&self.conf)
            .arg(action)
            .output()
            .unwrap()
    }

    /// Postfix's log so far: for failure messages.
    pub fn maillog(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no maillog: {e})"))
    }

    fn master_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.queue.join("pid/master.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// The messages delivered to a maildir (`dir` under the mail base, its `new/`), waiting
    /// up to `wait` for `count` of them.
    pub fn delivered(&self, dir: &str, count: usize, wait: Duration) -> Vec<Vec<u8>> {
        let new = self.mail.join(dir).join("new");
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

    /// The port of a mode: STARTTLS, or implicit TLS (wrapper mode).
    pub fn port(&self, mode: TlsMode) -> u16 {
        match mode {
            TlsMode::Starttls => self.starttls_port,
            TlsMode::Implicit => self.implicit_port,
        }
    }

    /// Settings of our client for this instance: `localhost` on the mode's port, the
    /// sandbox root CA trusted, `identity` as TLS client certificate (the organisation's
    /// is the one allowed to relay), 10 s command timeouts.
    pub fn settings(&self, mode: TlsMode, identity: ClientIdentity) -> SmtpSettings {
        SmtpSettings {
            host: "localhost".to_owned(),
            port: Some(self.port(mode)),
            mode,
            auth: AuthSettings::Auto,
            tls: SmtpTls {
                identity: Some(identity),
                trusted_ca: vec![self.ca.clone()],
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
