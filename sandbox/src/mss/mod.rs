//! Simulator of an MSSanté operator's sending side: SMTP submission over TLS, with
//! STARTTLS (587) and implicit TLS (465), the client authenticated by its certificate
//! (alone or with `AUTH EXTERNAL`) or an operator account (`AUTH PLAIN` / `LOGIN`), only
//! the sandbox's mailboxes as recipients, and every accepted message kept as a file in
//! the recipient's mailbox (`<data dir>/mss/mailboxes/`).
//!
//! The receiving side (`imap/`): IMAP over TLS on two more ports, the same mailboxes,
//! the client authenticated by its certificate (`AUTHENTICATE EXTERNAL`) or an account.
//!
//! Like the INSi and DMP simulators it is an independent implementation: it shares no
//! code with mss-service.

mod checks;
pub mod directory;
mod faults;
mod imap;
mod mailboxes;
mod mime;
mod senders;
mod server;
mod session;
mod store;
mod tls;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::insi::{FaultTrigger, SandboxError};
use crate::pki::TestPki;
pub use faults::{MssFault, MssFaultKind};
pub use mailboxes::{
    JEAN_FOUQUEREY, JEANNE_MEDECIN, LPS_APP, MailboxType, PATIENT_DOMAIN, PROFESSIONAL_MAILBOXES,
    SANDBOX_DOMAIN, SECRETARIAT, is_patient_address,
};
pub use senders::{CertificateSenders, DEFAULT_MAILBOX_PASSWORD, MssAccount, default_accounts};
pub use store::{
    Envelope, MailboxError, StoredAttachment, StoredMessage, mailbox_dir, read_mailbox,
};

/// Default address of the submission port with STARTTLS (the `passerelle-sandbox`
/// binary's).
pub const DEFAULT_MSS_STARTTLS_LISTEN: &str = "127.0.0.1:8587";
/// Default address of the implicit TLS port.
pub const DEFAULT_MSS_IMPLICIT_TLS_LISTEN: &str = "127.0.0.1:8465";
/// Default address of the IMAP port with STARTTLS (the receiving side).
pub const DEFAULT_MSS_IMAP_LISTEN: &str = "127.0.0.1:8143";
/// Default address of the IMAP implicit TLS port.
pub const DEFAULT_MSS_IMAPS_LISTEN: &str = "127.0.0.1:8993";
/// Default cap on a message: the operators' limit was not found; this one lets a 20 MB
/// PDF through twice (inside the XDM and as a rendition), in base64.
pub const DEFAULT_MSS_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// RFC 5322 §2.1.1: 998 characters a line, without the CRLF.
pub const DEFAULT_MSS_MAX_LINE_BYTES: usize = 998;
/// RFC 5321 §4.5.3.2: 5 minutes for a command, 3 for a data block; one value here.
pub const DEFAULT_MSS_TIMEOUT: Duration = Duration::from_secs(300);
/// Host name in the greeting and the `Received` fields.
pub const DEFAULT_MSS_HOSTNAME: &str = "smtp.passerelle-sandbox.mssante.fr";

/// Whether `AUTH EXTERNAL` is offered to a client that presented a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SaslMode {
    /// Offered; the certificate alone is enough as well.
    #[default]
    Offer,
    /// Not offered (as Postfix): the certificate alone authenticates.
    Off,
    /// Offered and needed: a certificate without `AUTH` may not send.
    Require,
}

impl std::str::FromStr for SaslMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "offer" => Ok(Self::Offer),
            "off" => Ok(Self::Off),
            "require" => Ok(Self::Require),
            _ => Err(format!("SASL mode {s:?}: offer, off or require")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MssSandboxConfig {
    /// Submission port, STARTTLS (default `127.0.0.1:0`, any free port).
    pub starttls_listen: SocketAddr,
    /// Implicit TLS port (default `127.0.0.1:0`).
    pub implicit_tls_listen: SocketAddr,
    /// IMAP port, STARTTLS (default `127.0.0.1:0`).
    pub imap_listen: SocketAddr,
    /// IMAP implicit TLS port (default `127.0.0.1:0`).
    pub imaps_listen: SocketAddr,
    /// Data directory: the mailboxes live in its `mss/` folder.
    pub data_dir: PathBuf,
    pub hostname: String,
    /// Advertised with `SIZE`; a bigger message gets `552 5.3.4`.
    pub max_message_bytes: usize,
    /// Longest line of a message, CRLF excluded (`554 5.6.0` beyond).
    pub max_line_bytes: usize,
    pub max_recipients: usize,
    /// How long the server waits for a command or a line of data.
    pub timeout: Duration,
    /// Delay before the reply to the end of DATA.
    pub latency: Duration,
    pub faults: Vec<MssFault>,
    pub sasl: SaslMode,
    /// Operator accounts for `AUTH PLAIN` / `LOGIN` (default [`default_accounts`]; empty:
    /// no password authentication).
    pub accounts: Vec<MssAccount>,
    /// Client certificates allowed to send besides the test PKI's.
    pub certificate_senders: Vec<CertificateSenders>,
    /// Professional mailboxes that exist besides [`PROFESSIONAL_MAILBOXES`].
    pub extra_mailboxes: Vec<String>,
    /// INSi identities file whose INS have a citizen mailbox (`None`: the built-in one).
    pub identities_file: Option<PathBuf>,
    /// DMP patients file whose INS have a citizen mailbox (`None`: the built-in one).
    pub patients_file: Option<PathBuf>,
}

impl Default for MssSandboxConfig {
    fn default() -> Self {
        Self {
            starttls_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            implicit_tls_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            imap_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            imaps_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            data_dir: PathBuf::from("./.passerelle"),
            hostname: DEFAULT_MSS_HOSTNAME.to_owned(),
            max_message_bytes: DEFAULT_MSS_MAX_MESSAGE_BYTES,
            max_line_bytes: DEFAULT_MSS_MAX_LINE_BYTES,
            max_recipients: 100,
            timeout: DEFAULT_MSS_TIMEOUT,
            latency: Duration::ZERO,
            faults: Vec::new(),
            sasl: SaslMode::Offer,
            accounts: default_accounts(),
            certificate_senders: Vec::new(),
            extra_mailboxes: Vec::new(),
            identities_file: None,
            patients_file: None,
        }
    }
}

/// Entry point of the simulator.
pub struct MssSandbox;

impl MssSandbox {
    /// Loads the mailboxes and senders, binds both ports, then serves in the background
    /// until [`RunningMssSandbox::shutdown`].
    pub async fn start(
        config: MssSandboxConfig,
        pki: &TestPki,
    ) -> Result<RunningMssSandbox, SandboxError> {
        for fault in &config.faults {
            if let FaultTrigger::Probability(p) = fault.trigger
                && !(0.0..=1.0).contains(&p)
            {
                return Err(SandboxError::Config(format!(
                    "fault probability {p} is not within 0..=1"
                )));
            }
        }
        if config.max_line_bytes < 78 || config.max_message_bytes == 0 {
            return Err(SandboxError::Config(
                "MSS limits: a line of at least 78 characters, a message of at least 1 byte".into(),
            ));
        }
        let directory = mailboxes::Directory::load(
            &config.extra_mailboxes,
            config.identities_file.as_deref(),
            config.patients_file.as_deref(),
        )?;
        let senders = senders::Senders::new(pki, &config.certificate_senders, &config.accounts)?;
        let acceptor = tls::acceptor(pki)?;
        let mss_dir = config.data_dir.join("mss");
        std::fs::create_dir_all(&mss_dir)
            .map_err(|e| SandboxError::Config(format!("{}: {e}", mss_dir.display())))?;
        let bind = |addr: SocketAddr| async move {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| SandboxError::Bind { addr, source })?;
            let local = listener
                .local_addr()
                .map_err(|source| SandboxError::Bind { addr, source })?;
            Ok::<_, SandboxError>((listener, local))
        };
        let (starttls, starttls_addr) = bind(config.starttls_listen).await?;
        let (implicit, implicit_tls_addr) = bind(config.implicit_tls_listen).await?;
        let (imap, imap_addr) = bind(config.imap_listen).await?;
        let (imaps, imaps_addr) = bind(config.imaps_listen).await?;
        let data_dir = config.data_dir.clone();
        let patients = directory.patients();
        let shared = Arc::new(server::Shared {
            faults: faults::Faults::new(&config.faults),
            config,
            directory,
            senders,
            acceptor,
            arrivals: watch::channel(0).0,
            imap_state: std::sync::Mutex::new(()),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(
            starttls,
            implicit,
            shared.clone(),
            stop_rx.clone(),
        ));
        let imap_task = tokio::spawn(imap::serve(imap, imaps, shared, stop_rx));
        tracing::info!(
            starttls = %starttls_addr,
            implicit_tls = %implicit_tls_addr,
            imap = %imap_addr,
            imaps = %imaps_addr,
            patient_mailboxes = patients,
            "MSS sandbox listening"
        );
        Ok(RunningMssSandbox {
            starttls_addr,
            implicit_tls_addr,
            imap_addr,
            imaps_addr,
            data_dir,
            stop: stop_tx,
            task: Some(task),
            imap_task: Some(imap_task),
        })
    }
}

/// A running simulator. Dropping it stops it too, without waiting.
#[derive(Debug)]
pub struct RunningMssSandbox {
    starttls_addr: SocketAddr,
    implicit_tls_addr: SocketAddr,
    imap_addr: SocketAddr,
    imaps_addr: SocketAddr,
    data_dir: PathBuf,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    imap_task: Option<JoinHandle<()>>,
}

impl RunningMssSandbox {
    /// The submission port (STARTTLS).
    pub fn starttls_addr(&self) -> SocketAddr {
        self.starttls_addr
    }

    /// The implicit TLS port.
    pub fn implicit_tls_addr(&self) -> SocketAddr {
        self.implicit_tls_addr
    }

    /// The IMAP port (STARTTLS).
    pub fn imap_addr(&self) -> SocketAddr {
        self.imap_addr
    }

    /// The IMAP implicit TLS port.
    pub fn imaps_addr(&self) -> SocketAddr {
        self.imaps_addr
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The messages in a mailbox, oldest first.
    pub fn mailbox(&self, address: &str) -> Result<Vec<StoredMessage>, MailboxError> {
        read_mailbox(&self.data_dir, address)
    }

    /// Stops accepting, tells open sessions (`421`), waits for them a few seconds at most.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(task) = self.imap_task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningMssSandbox {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
