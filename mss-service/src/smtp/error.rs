//! The SMTP client's failures, one per thing a caller does about it. Messages say what to fix;
//! servers' replies are kept whole in the fields, and shown with patients' addresses hidden.
//! No password ever appears (the client never puts one in an error).

use std::fmt;
use std::time::Duration;

use passerelle_card_client::CardError;

use super::reply::{Reply, mask_patient_addresses};

/// Where in the dialogue a failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connect,
    Greeting,
    Ehlo,
    StartTls,
    Auth,
    MailFrom,
    RcptTo,
    Data,
    /// Sending the message's content and waiting for the server's verdict on it.
    Message,
    Rset,
    Quit,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connection",
            Self::Greeting => "greeting",
            Self::Ehlo => "EHLO",
            Self::StartTls => "STARTTLS",
            Self::Auth => "AUTH",
            Self::MailFrom => "MAIL FROM",
            Self::RcptTo => "RCPT TO",
            Self::Data => "DATA",
            Self::Message => "end of message",
            Self::Rset => "RSET",
            Self::Quit => "QUIT",
        })
    }
}

/// Why TLS failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// The server's certificate does not chain to a configured CA.
    UnknownCa,
    /// The server's certificate does not name the configured host.
    NameMismatch,
    /// The server's certificate is otherwise unacceptable (expired, revoked, malformed…).
    BadServerCertificate {
        reason: String,
    },
    /// The server refused our client certificate (the alert it sent).
    ClientCertificateRefused {
        alert: String,
    },
    /// No protocol version or cipher suite in common.
    NothingInCommon {
        reason: String,
    },
    /// The server did not answer in TLS (plain SMTP on an implicit-TLS connection).
    NotTls {
        reason: String,
    },
    Other {
        reason: String,
    },
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownCa => f.write_str(
                "the server certificate is not issued by a CA of smtp.tls.trusted_ca (IGC-Santé in production, the sandbox CA in tests)",
            ),
            Self::NameMismatch => f.write_str(
                "the server certificate does not name smtp.host (give the name the certificate carries)",
            ),
            Self::BadServerCertificate { reason } => {
                write!(f, "the server certificate is not acceptable: {reason}")
            }
            Self::ClientCertificateRefused { alert } => write!(
                f,
                "the server refused our client certificate ({alert}): check smtp.tls.identity (or the card) and that the operator knows it"
            ),
            Self::NothingInCommon { reason } => write!(
                f,
                "no TLS version or cipher suite in common with the server ({reason}); we offer TLS 1.2+ with ECDHE and AES-GCM or ChaCha20 (check smtp.tls.min_version)"
            ),
            Self::NotTls { reason } => write!(
                f,
                "the server does not speak TLS on this port ({reason}): smtp.mode = \"implicit\" is for port 465, \"starttls\" for 587"
            ),
            Self::Other { reason } => write!(f, "handshake failed: {reason}"),
        }
    }
}

/// The role of an address in the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressRole {
    Sender,
    Recipient,
}

/// A recipient and the server's reply to its `RCPT TO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientReply {
    pub address: String,
    pub reply: Reply,
}

/// Which limit a message exceeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeLimit {
    /// The server's `SIZE`, or its refusal (`552`, `5.3.4`) when it gave no number.
    Server(Option<u64>),
    /// `smtp.max_message_bytes`.
    Settings(u64),
}

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    /// The settings cannot work (no host, an unreadable certificate, no CA…).
    #[error("smtp settings: {reason}")]
    Config { reason: String },
    /// An envelope address we refuse to send (it would break the command or needs an
    /// extension we do not use).
    #[error("{} address {:?} cannot be used: {reason}", role_name(*.role), mask_patient_addresses(.address))]
    InvalidAddress {
        role: AddressRole,
        address: String,
        reason: &'static str,
    },
    /// The server cannot be reached (DNS, refused, unreachable).
    #[error(
        "cannot connect to {server}: {reason} (check smtp.host and smtp.port, and that the server is up)"
    )]
    Connect { server: String, reason: String },
    #[error("TLS with {server} failed: {failure}")]
    Tls { server: String, failure: TlsFailure },
    /// STARTTLS mode, and the server does not offer it: nothing more is sent in clear.
    #[error(
        "{server} does not offer STARTTLS: check smtp.port, or use smtp.mode = \"implicit\" if it is an implicit-TLS port"
    )]
    StartTlsUnavailable { server: String },
    /// The card (CPS mode) failed while signing the TLS handshake: what the holder or the
    /// workstation must do.
    #[error("the CPS card could not authenticate the TLS connection: {0}")]
    Card(#[source] CardError),
    /// The configured authentication cannot be done with this server (mechanism not offered,
    /// no certificate presented).
    #[error("cannot authenticate as smtp.auth says: {reason}")]
    AuthUnavailable { reason: String },
    /// The server refused our credentials.
    #[error("the server refused AUTH {mechanism}: {reply}; check {hint}")]
    AuthRefused {
        mechanism: &'static str,
        reply: Reply,
        hint: &'static str,
    },
    /// `MAIL FROM` refused for good: this sender may not send here.
    #[error(
        "the server refused the sender: {reply}; check that our certificate or account may send as this address"
    )]
    SenderRefused { reply: Reply },
    /// No recipient accepted: nothing was sent.
    #[error("the server refused every recipient ({}): {}", .refused.len(), first_refusal(.refused))]
    AllRecipientsRefused { refused: Vec<RecipientReply> },
    /// Some recipients refused and the envelope asked for all or none: the transaction was
    /// reset, nothing was sent to anyone.
    #[error(
        "the server refused {} of the recipients ({}): nothing was sent; correct or remove them and send again",
        .refused.len(),
        first_refusal(.refused)
    )]
    RecipientsRefused { refused: Vec<RecipientReply> },
    /// Too large for the server or our own ceiling: make it smaller (checked before sending
    /// when the limit is known).
    #[error("the message ({size} bytes) is too large: {}", limit_text(.limit))]
    MessageTooLarge {
        size: u64,
        limit: SizeLimit,
        reply: Option<Reply>,
    },
    /// The message is 8-bit and the server does not offer 8BITMIME.
    #[error(
        "the message is 8-bit and the server does not offer 8BITMIME: encode it in 7 bits (base64 or quoted-printable)"
    )]
    EightBitUnsupported,
    /// A 4xx reply: retry later (same message, same Message-ID).
    #[error("temporary failure at {stage}: {reply}; retry later")]
    Transient { stage: Stage, reply: Reply },
    /// A 5xx reply at a step with no more specific error.
    #[error("refused at {stage}: {reply}")]
    Permanent { stage: Stage, reply: Reply },
    #[error("no answer within {} at {stage}{}", humantime_like(*.after), timeout_hint(*.stage))]
    Timeout { stage: Stage, after: Duration },
    /// The connection closed or broke: at `Message`, the message may or may not have been
    /// taken; retry with the same Message-ID (receivers deduplicate on it).
    #[error("the connection was lost at {stage}: {reason}; retry")]
    ConnectionLost { stage: Stage, reason: String },
    /// The server answered something the dialogue does not allow.
    #[error("protocol error at {stage}: {reason}")]
    Protocol { stage: Stage, reason: String },
}

impl SmtpError {
    /// Worth trying again later, unchanged: a 4xx, a lost or unreachable connection, a
    /// timeout, every recipient refused temporarily, a transient card failure.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transient { .. }
            | Self::Connect { .. }
            | Self::Timeout { .. }
            | Self::ConnectionLost { .. } => true,
            Self::AllRecipientsRefused { refused } | Self::RecipientsRefused { refused } => {
                refused.iter().all(|r| r.reply.is_transient())
            }
            Self::Card(e) => matches!(e, CardError::Transient { .. }),
            _ => false,
        }
    }

    /// The server's reply behind this error, if any.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Self::AuthRefused { reply, .. }
            | Self::SenderRefused { reply }
            | Self::Transient { reply, .. }
            | Self::Permanent { reply, .. } => Some(reply),
            Self::MessageTooLarge { reply, .. } => reply.as_ref(),
            Self::AllRecipientsRefused { refused } | Self::RecipientsRefused { refused } => {
                refused.first().map(|r| &r.reply)
            }
            _ => None,
        }
    }

    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Self::Config {
            reason: reason.into(),
        }
    }
}

fn role_name(role: AddressRole) -> &'static str {
    match role {
        AddressRole::Sender => "sender",
        AddressRole::Recipient => "recipient",
    }
}

fn first_refusal(refused: &[RecipientReply]) -> String {
    refused
        .first()
        .map_or_else(String::new, |r| r.reply.to_string())
}

fn limit_text(limit: &SizeLimit) -> String {
    match limit {
        SizeLimit::Server(Some(n)) => format!("the server accepts at most {n} bytes"),
        SizeLimit::Server(None) => "the server refused it as too large".to_owned(),
        SizeLimit::Settings(n) => format!("smtp.max_message_bytes is {n}"),
    }
}

fn humantime_like(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn timeout_hint(stage: Stage) -> &'static str {
    match stage {
        Stage::Greeting => {
            " (no greeting: smtp.mode = \"starttls\" on an implicit-TLS port waits for ever)"
        }
        Stage::Message => " (raise smtp.timeouts.data_end if the server scans large messages)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::reply::reply_of;

    #[test]
    fn messages_hide_patients_and_say_what_to_do() {
        let refused = vec![RecipientReply {
            address: "248039263001064@patient.mssante.fr".to_owned(),
            reply: reply_of(
                554,
                vec!["5.7.1 <248039263001064@patient.mssante.fr>: Relay access denied".into()],
            ),
        }];
        let e = SmtpError::AllRecipientsRefused { refused };
        let shown = e.to_string();
        assert_eq!(
            shown,
            "the server refused every recipient (1): 554 5.7.1 <[patient]>: Relay access denied"
        );
        assert!(!e.is_retryable());
        let e = SmtpError::InvalidAddress {
            role: AddressRole::Recipient,
            address: "248039263001064@patient.mssante.fr\r\n".to_owned(),
            reason: "it holds a line break",
        };
        assert!(!e.to_string().contains("2480392630"), "{e}");
        let e = SmtpError::Timeout {
            stage: Stage::Greeting,
            after: Duration::from_millis(300),
        };
        assert!(
            e.to_string()
                .starts_with("no answer within 300ms at greeting (no greeting")
        );
        assert!(e.is_retryable());
    }
}
