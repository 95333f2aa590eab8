//! The one error type of the bus. Each variant is a failure a caller handles differently
//! (retry elsewhere, give up, fix the code), so none of them is a catch-all string.

use std::time::Duration;

/// Why a bus operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// Nobody serves the subject: no point waiting, start a server or check the deployment.
    #[error("no responders on {subject}")]
    NoResponders { subject: String },

    /// A server took the request but did not answer in time.
    #[error("no reply on {subject} after {after:?}")]
    Timeout { subject: String, after: Duration },

    /// A server took the request, then dropped it without answering (it shut down or its
    /// handler failed). Reported at once instead of letting the requester wait for the timeout.
    #[error("the server of {subject} dropped the request without replying")]
    NoReply { subject: String },

    /// The bus could not be reached or the connection failed mid-operation.
    #[error("bus connection: {0}")]
    Connection(String),

    /// The server refused the credentials (user/password, token, NKey, credentials file).
    #[error("bus authentication refused: {0}")]
    Authentication(String),

    /// TLS with the server failed (untrusted certificate, client certificate refused).
    #[error("bus TLS failed: {0}")]
    Tls(String),

    /// The connection was closed for good (client drained or dropped); nothing will get through.
    #[error("bus closed")]
    Closed,

    /// A subject, pattern, token or queue group is not valid NATS syntax: a programming or
    /// input error, retrying will not help.
    #[error("invalid subject {subject:?}: {reason}")]
    InvalidSubject { subject: String, reason: String },

    /// A header name or value cannot travel as a NATS header.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader { name: String, reason: String },

    /// The message is larger than the bus accepts (NATS `max_payload`, 1 MiB by default).
    #[error("message on {subject} too large: {detail}")]
    PayloadTooLarge { subject: String, detail: String },

    /// Every server of the subject has a full backlog (in-process bus only).
    #[error("every server of {subject} is overloaded")]
    Overloaded { subject: String },

    /// A durable publish was not stored: the event may be lost, the caller must not assume
    /// it was recorded.
    #[error("durable publish: {0}")]
    Durable(String),

    /// The durable store failed: the embedded store's disk, or a JetStream bucket, object
    /// store or consumer that could not be created or read. What was asked is not done.
    #[error("durable store: {0}")]
    Storage(String),

    /// A payload could not be decoded (malformed bus envelope).
    #[error("decode: {0}")]
    Decode(String),
}
