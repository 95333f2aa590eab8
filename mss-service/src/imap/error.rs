//! What can go wrong reading a mailbox, one kind per thing a caller does about it. No
//! password ever; server texts are shown with patients' addresses masked.

use std::fmt;
use std::time::Duration;

use passerelle_card_client::CardError;

/// Where a timeout struck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapStage {
    Connect,
    Greeting,
    Capability,
    StartTls,
    Authenticate,
    Select,
    Search,
    Fetch,
    Store,
    Idle,
    Logout,
}

impl fmt::Display for ImapStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connection",
            Self::Greeting => "greeting",
            Self::Capability => "CAPABILITY",
            Self::StartTls => "STARTTLS",
            Self::Authenticate => "authentication",
            Self::Select => "SELECT",
            Self::Search => "UID SEARCH",
            Self::Fetch => "UID FETCH",
            Self::Store => "UID STORE",
            Self::Idle => "IDLE",
            Self::Logout => "LOGOUT",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// The settings cannot work (no host, an unreadable certificate, no CA…), or an argument
    /// cannot be sent (a line break in a mailbox name…).
    #[error("imap settings: {reason}")]
    Config { reason: String },
    /// The server cannot be reached (DNS, refused, unreachable).
    #[error(
        "cannot connect to {server}: {reason} (check imap.host and imap.port, and that the server is up)"
    )]
    Connect { server: String, reason: String },
    /// TLS failed or is not offered (STARTTLS missing): nothing is sent in clear.
    #[error("TLS with {server} failed: {reason}")]
    Tls { server: String, reason: String },
    /// The card (CPS mode) failed while signing the TLS handshake.
    #[error("the CPS card could not authenticate the TLS connection: {0}")]
    Card(#[source] CardError),
    /// The server refused our credentials, or offers no way we can authenticate.
    #[error(
        "the server refused the authentication: {text}; check imap.auth, the certificate and the mailbox"
    )]
    AuthRefused { text: String },
    /// `NO` to a command: the server cannot do it now or for this mailbox.
    #[error("{command} refused (NO): {text}")]
    No { command: &'static str, text: String },
    /// `BAD`: the server did not understand the command (a bug on one side).
    #[error("{command} rejected (BAD): {text}")]
    Bad { command: &'static str, text: String },
    /// The server said `BYE` or closed the connection mid-command: connect again.
    #[error("the server ended the session: {text}; connect again")]
    Bye { text: String },
    #[error("no answer within {after:?} at {stage}")]
    Timeout { stage: ImapStage, after: Duration },
    /// The server answered something IMAP does not allow here.
    #[error("protocol error: {reason}")]
    Protocol { reason: String },
}

impl ImapError {
    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Self::Config {
            reason: reason.into(),
        }
    }

    pub(crate) fn protocol(reason: impl Into<String>) -> Self {
        Self::Protocol {
            reason: reason.into(),
        }
    }

    /// Worth trying again later: unreachable, gone, slow, or a transient card failure.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Bye { .. } | Self::Timeout { .. } => true,
            Self::Card(e) => matches!(e, CardError::Transient { .. }),
            _ => false,
        }
    }
}
