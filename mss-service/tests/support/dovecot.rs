//! A Dovecot of our own (Debian's `dovecot-imapd`), configured like an MSSanté operator's
//! IMAP server: TLS required (STARTTLS and implicit TLS, loopback ports picked free), the
//! client certificate asked for and checked against the sandbox CAs, the mailbox user taken
//! from the certificate's CN, `AUTHENTICATE EXTERNAL` (with or without an authorisation
//! identity) and `LOGIN` (a password, a certificate still required). Its configuration,
//! state, log and maildirs live in a temporary directory; no system Dovecot is used or
//! touched. Messages are placed by writing files into the maildirs ([`Dovecot::deliver`]),
//! or by an MTA writing there (`tests/mail_chain.rs`: Postfix's `virtual` agent).
//!
//! ```text
//! let Some(dovecot) = Dovecot::start(&pki) else { return };   // None: PASSERELLE_DOVECOT_TEST=skip
//! dovecot.deliver(FOUQUEREY, &message);
//! let client = ImapClient::new(&dovecot.imap_settings(TlsMode::Implicit, ImapAuth::External))?;
//! let session = client.connect(ClientCert::Configured, Some(FOUQUEREY)).await?;
//! ```
//!
//! Who may do what (Dovecot lower-cases user names: `auth_username_format = %Lu`):
//! - a certificate whose CN is a mailbox's address opens it with EXTERNAL and no
//!   authorisation identity: the applicative mailbox's (`mss-app.crt`, CN [`LPS`]);
//! - with an authorisation identity, Dovecot's EXTERNAL makes it the login user and the
//!   certificate's user its "master": the applicative mailbox's certificate and the
//!   organisation's (`org.crt`, CN `INSI-AUTO`) are masters and open any mailbox here they
//!   name; `INSI-AUTO` has no mailbox, so nothing opens without a name;
//! - `LOGIN` checks the mailbox's [`password`]; Dovecot still requires a valid certificate,
//!   and the certificate's CN replaces the user name given (`auth_ssl_username_from_cert`):
//!   a password works for the certificate's own mailbox only.
//!
//! Needs `dovecot-imapd` and root (the master starts as root, mail processes run as
//! `nobody`, login processes as `dovenull`); without them `start` panics saying so.
//! `PASSERELLE_DOVECOT_TEST=skip` skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mss_service::imap::{ImapAuth, ImapSettings, ImapTimeouts, ImapTls, TlsMode};
use passerelle_mtls::ClientIdentity;
use passerelle_sandbox::pki::TestPki;

/// The organisation's applicative mailbox: the CN of `mss-app.crt`.
pub const LPS: &str = "lps@passerelle-sandbox.mssante.fr";
pub const FOUQUEREY: &str = "jean.fouquerey@passerelle-sandbox.mssante.fr";
pub const SECRETARIAT: &str = "secretariat@passerelle-sandbox.mssante.fr";
/// The mailboxes this Dovecot holds.
pub const MAILBOXES: [&str; 3] = [LPS, FOUQUEREY, SECRETARIAT];
/// The CN of the organisation's certificate (`org.crt`): a master user, no mailbox.
pub const ORG_CN: &str = "INSI-AUTO";

/// A mailbox's password for `LOGIN`.
pub fn password(mailbox: &str) -> String {
    let local = mailbox.split('@').next().unwrap_or(mailbox);
    format!("secret-{local}")
}

/// A Dovecot instance of our own; stopped when dropped, even when the test fails.
pub struct Dovecot {
    conf: PathBuf,
    run: PathBuf,
    log: PathBuf,
    mail: PathBuf,
    mail_owner: (u32, u32),
    ca: PathBuf,
    identity: ClientIdentity,
    starttls_port: u16,
    implicit_port: u16,
    // Last: the directory goes once the instance is stopped.
    _dir: tempfile::TempDir,
}

impl Dovecot {
    /// Starts an instance on the sandbox PKI and waits until both ports accept. `None` when
    /// `PASSERELLE_DOVECOT_TEST=skip`; panics (saying what to install) without Dovecot or
    /// root.
    pub fn start(pki: &TestPki) -> Option<Self> {
        if std::env::var("PASSERELLE_DOVECOT_TEST").is_ok_and(|v| v == "skip") {
            eprintln!("PASSERELLE_DOVECOT_TEST=skip: the Dovecot interop test is skipped");
            return None;
        }
        let binary = Path::new("/usr/sbin/dovecot");
        assert!(
            binary.exists() && Path::new("/usr/lib/dovecot/imap").exists(),
            "Dovecot is not installed: this interop test needs Debian's dovecot-imapd \
             (apt-get install dovecot-imapd, then stop the system service it starts), \
             or set PASSERELLE_DOVECOT_TEST=skip"
        );
        assert!(
            is_root(),
            "the Dovecot interop test runs Dovecot's master, which must start as root \
             (or set PASSERELLE_DOVECOT_TEST=skip)"
        );
        let mail_owner = user_ids("nobody");
        // Dovecot's own users, which the package creates.
        user_ids("dovecot");
        user_ids("dovenull");

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        // Login processes (dovenull) and mail processes (nobody) cross it.
        set_mode(&root, 0o755);
        let (run, state, mail) = (root.join("run"), root.join("state"), root.join("mail"));
        for d in [&state, &mail] {
            std::fs::create_dir(d).unwrap();
            set_mode(d, 0o755);
        }
        chown(&mail, mail_owner);
        for mailbox in MAILBOXES {
            let maildir = mail.join(mailbox);
            for sub in ["", "cur", "new", "tmp"] {
                let d = maildir.join(sub);
                std::fs::create_dir_all(&d).unwrap();
                chown(&d, mail_owner);
            }
        }

        // The CAs that issue client certificates: the root (organisation, applicative
        // mailbox) and the CPS intermediate.
        let ca = root.join("client-ca.pem");
        std::fs::write(
            &ca,
            [
                std::fs::read(&pki.ca_cert).unwrap(),
                std::fs::read(&pki.cps_ca_cert).unwrap(),
            ]
            .concat(),
        )
        .unwrap();
        // Readable by Dovecot's unprivileged processes is not needed: the master reads them.
        let (server_cert, server_key) = (root.join("server.crt"), root.join("server.key"));
        std::fs::copy(&pki.server_cert, &server_cert).unwrap();
        std::fs::copy(&pki.server_key, &server_key).unwrap();

        // passwd-file: user:password:uid:gid:gecos:home:shell:extra fields.
        // Masters: certificates that may open the mailbox named as authorisation identity.
        std::fs::write(
            root.join("masters"),
            format!(
                "{LPS}:::::::nopassword=y\n{}:::::::nopassword=y\n",
                ORG_CN.to_lowercase()
            ),
        )
        .unwrap();
        // The mailboxes EXTERNAL opens: a certificate's own (no authorisation identity), or
        // the one a master names (`pass = yes`: an unknown name is refused here, at
        // AUTHENTICATE, rather than by the imap process closing the connection).
        let certificates: String = MAILBOXES
            .iter()
            .map(|m| format!("{m}:::::::nopassword=y\n"))
            .collect();
        std::fs::write(root.join("certificates"), certificates).unwrap();
        // The mailboxes (userdb) and their passwords (LOGIN).
        let users: String = MAILBOXES
            .iter()
            .map(|m| format!("{m}:{{PLAIN}}{}::::::\n", password(m)))
            .collect();
        std::fs::write(root.join("users"), users).unwrap();

        let log = root.join("dovecot.log");
        let starttls_port = free_port();
        let implicit_port = free_port();
        let conf = root.join("dovecot.conf");
        let d = |p: &Path| p.display().to_string();
        std::fs::write(
            &conf,
            format!(
                "protocols = imap
listen = 127.0.0.1
instance_name = passerelle-test
base_dir = {run}
state_dir = {state}
log_path = {log}
info_log_path = {log}
auth_verbose = yes
verbose_ssl = yes
default_internal_user = dovecot
default_login_user = dovenull

ssl = required
ssl_cert = <{server_cert}
ssl_key = <{server_key}
ssl_ca = <{ca}
ssl_min_protocol = TLSv1.2
# Ask for the client certificate and check it against ssl_ca; the sandbox CAs publish no
# CRL, and with the default (yes) every client certificate would be refused.
ssl_verify_client_cert = yes
ssl_require_crl = no
# No mechanism, LOGIN included, without a certificate ssl_ca verifies.
auth_ssl_require_client_cert = yes
# The user is the certificate's CN (the applicative mailbox's address, or INSI-AUTO).
auth_ssl_username_from_cert = yes
ssl_cert_username_field = commonName
auth_mechanisms = external plain login

mail_location = maildir:{mail}/%u
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1

passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/masters
  master = yes
  pass = yes
  mechanisms = external
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/certificates
  mechanisms = external
}}
# IMAP LOGIN is PLAIN inside Dovecot.
passdb {{
  driver = passwd-file
  args = {root}/users
  mechanisms = plain login
}}
userdb {{
  driver = passwd-file
  args = {root}/users
  default_fields = home={mail}/%u
}}

service imap-login {{
  inet_listener imap {{
    port = {starttls_port}
  }}
  inet_listener imaps {{
    port = {implicit_port}
    ssl = yes
  }}
}}
",
                run = d(&run),
                state = d(&state),
                log = d(&log),
                server_cert = d(&server_cert),
                server_key = d(&server_key),
                ca = d(&ca),
                mail = d(&mail),
                uid = mail_owner.0,
                gid = mail_owner.1,
                root = d(&root),
            ),
        )
        .unwrap();

        let dovecot = Self {
            conf,
            run,
            log,
            mail,
            mail_owner,
            ca: pki.ca_cert.clone(),
            identity: ClientIdentity::Pem {
                cert: pki.mss_app_cert.clone(),
                key: pki.mss_app_key.clone(),
            },
            starttls_port,
            implicit_port,
            _dir: dir,
        };
        // The master keeps the standard streams it was given: a pipe would never close.
        let said = root.join("start.out");
        let status = Command::new(binary)
            .arg("-c")
            .arg(&dovecot.conf)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&said).unwrap())
            .stderr(std::fs::File::create(&said).unwrap())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "dovecot did not start ({status}): {}\nlog:\n{}",
            std::fs::read_to_string(&said).unwrap_or_default(),
            dovecot.log()
        );
        for port in [starttls_port, implicit_port] {
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "Dovecot does not listen on {port}:\n{}",
                    dovecot.log()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Some(dovecot)
    }

    /// Settings of our client for this instance: `localhost` on the mode's port, the
    /// sandbox root CA trusted, the applicative mailbox's certificate (`mss-app.crt`) as TLS
    /// identity (change `tls.identity` for another), 10 s timeouts.
    pub fn imap_settings(&self, mode: TlsMode, auth: ImapAuth) -> ImapSettings {
        ImapSettings {
            host: "localhost".to_owned(),
            port: Some(self.port(mode)),
            mode,
            auth,
            tls: ImapTls {
                identity: Some(self.identity.clone()),
                trusted_ca: vec![self.ca.clone()],
                ..ImapTls::default()
            },
            timeouts: ImapTimeouts {
                connect: Duration::from_secs(10),
                command: Duration::from_secs(10),
            },
        }
    }

    /// The port of a mode: STARTTLS (`imap`) or implicit TLS (`imaps`).
    pub fn port(&self, mode: TlsMode) -> u16 {
        match mode {
            TlsMode::Starttls => self.starttls_port,
            TlsMode::Implicit => self.implicit_port,
        }
    }

    /// A mailbox's maildir (its INBOX).
    pub fn maildir(&self, mailbox: &str) -> PathBuf {
        self.mail.join(mailbox)
    }

    /// Places a message in a mailbox's INBOX as a mail server would (written in `tmp/`,
    /// renamed into `new/`): what Dovecot serves is these bytes (give CRLF line ends to
    /// get them back byte for byte; Dovecot sends LF-only lines with CRLF). Returns the
    /// file's path.
    pub fn deliver(&self, mailbox: &str, message: &[u8]) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let maildir = self.maildir(mailbox);
        assert!(
            maildir.join("new").is_dir(),
            "{mailbox} is not a mailbox of this Dovecot ({MAILBOXES:?})"
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let name = format!(
            "{}.M{}P{}Q{}.passerelle-test",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let tmp = maildir.join("tmp").join(&name);
        std::fs::write(&tmp, message).unwrap();
        chown(&tmp, self.mail_owner);
        let new = maildir.join("new").join(&name);
        std::fs::rename(&tmp, &new).unwrap();
        new
    }

    /// Dovecot's log so far (login, authentication, TLS): for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    fn master_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.run.join("master.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let Some(pid) = self.master_pid() else {
            return;
        };
        // `dovecot stop` signals the master and returns: wait for it to go.
        let _ = Command::new("/usr/sbin/dovecot")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(pid) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
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
            panic!("no user {name:?} in /etc/passwd: is the dovecot-imapd package installed?")
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(path: &Path, (uid, gid): (u32, u32)) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
}

/// Running (a zombie waiting for its parent to reap it has stopped).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}
