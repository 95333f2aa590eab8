//! Receiving: the mailboxes of `[mss.receiving]` read over IMAP (IDLE, or polling), each
//! message's documents stored in the document store and `MssMessageReceived` published
//! exactly once across restarts and replicas, the acknowledgement the sender asked for sent
//! at most once, the message flagged once done.
//!
//! - [`config`]: the settings;
//! - [`tracking`]: the durable bookkeeping (leases, one record per message) in a key-value
//!   bucket of the bus;
//! - [`process`]: one message, step by step;
//! - [`acknowledge`]: the MDN, sent or held;
//! - `mailbox`: the loop reading one mailbox.
//!
//! Exactly once, and where it stops: the documents' ids are derived from the message's
//! place (mailbox, UIDVALIDITY, UID), so storing again stores nothing new; the event carries
//! a deduplication id the stream drops a second copy of (JetStream's duplicate window, one
//! hour on the stream we create); the record says which step is done. The MDN is recorded as
//! being sent before it is handed to SMTP: a crash between the two leaves it `UNCERTAIN`,
//! never sent twice (SMTP offers no way to ask a server whether it took a message).

pub mod acknowledge;
pub mod config;
mod mailbox;
pub mod process;
pub mod read;
pub mod tracking;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use passerelle_bus::SharedBus;
use passerelle_bus::documents::SharedDocumentStore;
use passerelle_domain::Platform;
use passerelle_service_kit::Shutdown;
use tokio::task::JoinSet;

pub use config::{MailboxSettings, ReceivingSettings};
use process::{Outcome, Processor};
use tracking::Tracking;

use crate::imap::{ImapClient, ImapError};
use crate::smtp::{SmtpError, SmtpSettings};

/// How a mailbox is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxStatus {
    Starting,
    /// Connected and up to date.
    Reading,
    /// Another replica holds its lease.
    HeldElsewhere,
    /// The last session failed with this; connecting again.
    Failing(String),
}

/// Counts of what this replica did, and each mailbox's status.
#[derive(Debug, Default)]
pub struct ReceiverStats {
    pub processed: AtomicU64,
    pub set_aside: AtomicU64,
    pub already_done: AtomicU64,
    statuses: Mutex<HashMap<String, MailboxStatus>>,
}

impl ReceiverStats {
    fn count(&self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Processed => &self.processed,
            Outcome::SetAside => &self.set_aside,
            Outcome::AlreadyDone => &self.already_done,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn set(&self, mailbox: &str, status: MailboxStatus) {
        if let Ok(mut statuses) = self.statuses.lock() {
            statuses.insert(mailbox.to_ascii_lowercase(), status);
        }
    }

    /// The status of a mailbox, `None` if it is not read.
    pub fn status(&self, mailbox: &str) -> Option<MailboxStatus> {
        self.statuses
            .lock()
            .ok()
            .and_then(|s| s.get(&mailbox.to_ascii_lowercase()).cloned())
    }
}

/// Why receiving cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ReceivingSetupError {
    #[error("mss.receiving.imap: {0}")]
    Imap(#[from] ImapError),
    #[error("mss.smtp (acknowledgements): {0}")]
    Smtp(#[from] SmtpError),
    #[error("mss.receiving.mailboxes: {0}")]
    Mailbox(String),
    #[error("the inbox bookkeeping: {0}")]
    Bus(#[from] passerelle_bus::BusError),
}

/// The running readers.
pub struct Receiver {
    pub stats: Arc<ReceiverStats>,
    tasks: JoinSet<()>,
}

impl Receiver {
    /// Starts one reader per configured mailbox (none: nothing runs). `owner` names this
    /// replica in the leases.
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        settings: &ReceivingSettings,
        smtp: &SmtpSettings,
        bus: SharedBus,
        documents: SharedDocumentStore,
        platform: Platform,
        owner: String,
        shutdown: Shutdown,
    ) -> Result<Receiver, ReceivingSetupError> {
        let stats = Arc::new(ReceiverStats::default());
        let mut tasks = JoinSet::new();
        if settings.mailboxes.is_empty() {
            return Ok(Receiver { stats, tasks });
        }
        let mut seen = std::collections::HashSet::new();
        for m in &settings.mailboxes {
            if crate::address::MssAddress::parse(&m.address).is_err() {
                return Err(ReceivingSetupError::Mailbox(format!(
                    "{:?} is not an MSSanté address",
                    m.address
                )));
            }
            if !seen.insert(m.address.trim().to_ascii_lowercase()) {
                return Err(ReceivingSetupError::Mailbox(format!(
                    "{} is listed twice",
                    m.address
                )));
            }
        }
        let kv = bus.key_value(tracking::BUCKET).await?;
        let settings = Arc::new(settings.clone());
        let document_limit = usize::try_from(documents.limits().max_size).unwrap_or(usize::MAX);
        let processor = Arc::new(Processor {
            documents,
            bus,
            // A message set aside is kept whole as a document: no larger than the store takes.
            limits: crate::inbox::Limits {
                max_message_bytes: settings.max_message_bytes.min(document_limit),
                ..crate::inbox::Limits::default()
            },
            platform,
            acknowledger: acknowledge::Acknowledger::new(&settings, smtp)?,
            mark_seen: settings.mark_seen,
        });
        for mailbox in &settings.mailboxes {
            let mut imap = settings.imap.clone();
            if let Some(auth) = &mailbox.imap_auth {
                imap.auth = auth.clone();
            }
            let client = ImapClient::new(&imap)?;
            stats.set(&mailbox.address, MailboxStatus::Starting);
            let reader = mailbox::MailboxReader {
                settings: settings.clone(),
                mailbox: mailbox.clone(),
                client,
                tracking: Tracking::new(kv.clone(), &mailbox.address),
                processor: processor.clone(),
                owner: owner.clone(),
                stats: stats.clone(),
                shutdown: shutdown.clone(),
            };
            tasks.spawn(reader.run());
        }
        Ok(Receiver { stats, tasks })
    }

    /// Waits until every reader stopped (after shutdown).
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}
