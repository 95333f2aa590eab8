//! `[mss.receiving]`: the operator's IMAP server, the mailboxes to read, how often, and the
//! acknowledgements.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::imap::{ImapAuth, ImapSettings};
use crate::smtp::AuthSettings;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReceivingSettings {
    /// `[mss.receiving.imap]`: server, TLS mode, authentication shared by the mailboxes.
    pub imap: ImapSettings,
    /// `[[mss.receiving.mailboxes]]`: personal and organisational mailboxes, each read by
    /// one replica at a time.
    pub mailboxes: Vec<MailboxSettings>,
    /// Wait for new mail with IDLE when the server offers it; else poll.
    pub idle: bool,
    /// Between two looks at a mailbox when it is polled.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How long a replica holds a mailbox without renewing its lease; another replica takes
    /// the mailbox over after that. Renewed every third of it.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// Longest wait before connecting again after a failure (doubling from one second).
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Send the acknowledgements (MDN) senders ask for, when RFC 8098 lets us send them
    /// automatically. Off: every asked acknowledgement is held.
    pub acknowledgements: bool,
    /// Also mark processed messages `\Seen` (off: a person reading the mailbox still sees
    /// them as new; we mark ours with our own keywords).
    pub mark_seen: bool,
    /// Largest message read, in bytes; a larger one is set aside.
    pub max_message_bytes: usize,
}

impl Default for ReceivingSettings {
    fn default() -> Self {
        Self {
            imap: ImapSettings::default(),
            mailboxes: Vec::new(),
            idle: true,
            poll_interval: Duration::from_secs(30),
            lease: Duration::from_secs(30),
            max_backoff: Duration::from_secs(60),
            acknowledgements: true,
            mark_seen: false,
            max_message_bytes: 50 * 1024 * 1024,
        }
    }
}

/// One mailbox read by the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxSettings {
    /// Its MSSanté address: the authorisation identity with SASL EXTERNAL, the MDN's sender.
    pub address: String,
    /// The IMAP folder read.
    #[serde(default = "inbox")]
    pub folder: String,
    /// How this mailbox authenticates to IMAP, when not as `[mss.receiving.imap]` says
    /// (e.g. a personal mailbox's account).
    #[serde(default)]
    pub imap_auth: Option<ImapAuth>,
    /// How its acknowledgements are sent, when not as `[mss.smtp]` says.
    #[serde(default)]
    pub smtp_auth: Option<AuthSettings>,
}

fn inbox() -> String {
    "INBOX".to_owned()
}

impl MailboxSettings {
    /// A mailbox read with the shared settings.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            folder: inbox(),
            imap_auth: None,
            smtp_auth: None,
        }
    }
}
