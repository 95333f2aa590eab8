//! The bus the Passerelle services talk over: one [`Bus`] trait, two implementations.
//!
//! - [`nats::NatsBus`] for distributed deployments (core NATS for requests and events,
//!   JetStream for the events that must survive a crash);
//! - [`in_process::InProcessBus`] for the embedded default: every service in one process, no
//!   broker to run.
//!
//! Both follow NATS semantics (subjects, wildcards, queue groups, no-responders) so that a
//! service written and tested against one runs unchanged on the other; the integration tests
//! run the same cases against both. Typed protobuf request/reply sits on top, in
//! [`proto_rpc`]; every subject is in [`subjects`].

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use futures::future::BoxFuture;

pub mod consumer;
pub mod documents;
mod embedded;
mod error;
pub mod in_process;
mod jetstream;
pub mod kv;
pub mod nats;
pub mod proto_rpc;
pub mod subjects;
pub mod testing;

pub use error::BusError;

/// Message headers (e.g. [`subjects::HEADER_REQUEST_ID`]). Carried as NATS headers on NATS;
/// one value per name. Names: printable ASCII without `:`; values: no CR or LF.
pub type Headers = BTreeMap<String, String>;

/// A message received by a subscriber, or the reply to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The subject published on. For a reply: the subject that was requested, on both
    /// implementations (not the NATS inbox), so callers can log it.
    pub subject: String,
    pub headers: Headers,
    pub payload: Bytes,
}

/// How a server's answer gets back to the requester; one implementation per bus. Dropping it
/// without sending tells the requester ([`BusError::NoReply`]) where the bus allows it.
pub(crate) trait Replier: Send + Sync {
    fn send(
        self: Box<Self>,
        headers: Headers,
        payload: Bytes,
    ) -> BoxFuture<'static, Result<(), BusError>>;
}

/// A request taken by a server (see [`Bus::serve`]). Answer it with [`IncomingRequest::reply`];
/// dropping it unanswered makes the requester fail fast with [`BusError::NoReply`].
pub struct IncomingRequest {
    /// The subject requested (the concrete one when serving a wildcard).
    pub subject: String,
    pub headers: Headers,
    pub payload: Bytes,
    replier: Box<dyn Replier>,
}

impl IncomingRequest {
    pub(crate) fn new(
        subject: String,
        headers: Headers,
        payload: Bytes,
        replier: Box<dyn Replier>,
    ) -> Self {
        Self {
            subject,
            headers,
            payload,
            replier,
        }
    }

    /// Sends the reply. Succeeds even if the requester already gave up (as NATS does: a
    /// reply is fire-and-forget); fails only if the reply cannot be sent at all.
    pub async fn reply(self, headers: Headers, payload: Bytes) -> Result<(), BusError> {
        validate_headers(&headers)?;
        self.replier.send(headers, payload).await
    }
}

impl fmt::Debug for IncomingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingRequest")
            .field("subject", &self.subject)
            .field("headers", &self.headers)
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

/// Requests delivered to one server; dropping it unsubscribes. To stop without losing the
/// requests already delivered to it, drain it instead (see [`Bus::serve_drainable`]).
pub type RequestStream = Pin<Box<dyn Stream<Item = IncomingRequest> + Send>>;

/// How one bus implementation drains one server.
pub(crate) trait Drainer: Send + Sync {
    fn drain(&self) -> BoxFuture<'static, Result<(), BusError>>;
}

/// Drains the [`RequestStream`] it was created with (see [`Bus::serve_drainable`]): the
/// server stops taking new requests, which the bus then routes to the other members of its
/// queue group (or answers no-responders if there are none), while the stream still yields
/// every request already delivered to it, then ends.
///
/// Cheap to clone; every clone drains the same stream. Draining again, or after the stream
/// was dropped, does nothing.
#[derive(Clone)]
pub struct DrainHandle {
    drainer: std::sync::Arc<dyn Drainer>,
}

impl DrainHandle {
    pub(crate) fn new(drainer: impl Drainer + 'static) -> Self {
        Self {
            drainer: std::sync::Arc::new(drainer),
        }
    }

    /// Stops the server from taking new requests. When this returns, the bus no longer
    /// routes requests to it; the stream goes on yielding those it already holds, then
    /// ends. An error means the unsubscription could not be confirmed (connection lost or
    /// closed); the stream still ends, when the connection does.
    pub async fn drain(&self) -> Result<(), BusError> {
        self.drainer.drain().await
    }
}

impl fmt::Debug for DrainHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DrainHandle").finish_non_exhaustive()
    }
}

/// Messages delivered to one subscriber; dropping it unsubscribes.
pub type MessageStream = Pin<Box<dyn Stream<Item = Message> + Send>>;

/// The bus. Object-safe: services hold a [`SharedBus`] and do not know which implementation
/// they run on.
///
/// When `serve` or `subscribe` returns, the subscription is in place: a request or message
/// sent afterwards, from anywhere, reaches it.
#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Request/reply with a timeout. The reply's subject is `subject`.
    async fn request(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Message, BusError>;

    /// Serve requests in a queue group: N servers with the same group share the load, each
    /// request goes to exactly one of them. `subject` may be a wildcard pattern; `queue_group`
    /// must be a single token ([`subjects::validate_token`]).
    ///
    /// Stopping by dropping the stream fails the requests it still holds. A server that
    /// must not fail any (graceful shutdown) uses [`Bus::serve_drainable`].
    async fn serve(&self, subject: &str, queue_group: &str) -> Result<RequestStream, BusError> {
        Ok(self.serve_drainable(subject, queue_group).await?.0)
    }

    /// As [`Bus::serve`], with a [`DrainHandle`] to stop without losing any request:
    /// draining unsubscribes (new requests go to the other members of the group) and the
    /// stream then yields every request already delivered to this server before it ends.
    /// [`proto_rpc::serve_typed_until`] does it all on a shutdown signal. On NATS, a request
    /// still on the wire when the drain starts can be lost: see [`nats`].
    async fn serve_drainable(
        &self,
        subject: &str,
        queue_group: &str,
    ) -> Result<(RequestStream, DrainHandle), BusError>;

    /// Fire-and-forget event: delivered to the current subscribers, lost if there are none.
    async fn publish(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
    ) -> Result<(), BusError>;

    /// Event that must survive a crash. On NATS: JetStream publish with the ack awaited, into
    /// the stream [`subjects::EVENTS_STREAM`] capturing [`subjects::EVENTS_ALL`] (created if
    /// missing, file storage). In-process: delivered to subscribers and kept in a bounded
    /// in-memory log readable in tests. Either way `subject` must match
    /// [`subjects::EVENTS_ALL`], else [`BusError::Durable`]. An event carrying the
    /// [`subjects::HEADER_MSG_ID`] of one already stored is dropped (JetStream's
    /// deduplication; in-process while the first is kept): publishing again after a crash
    /// that hid the first acknowledgement stores it once, and durable consumers get it
    /// once. Live subscribers on NATS still see the retry (core NATS delivers it before the
    /// stream drops it); in-process they do not.
    async fn publish_durable(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
    ) -> Result<(), BusError>;

    /// Subscribe to a subject or wildcard pattern (`*` one token, `>` the rest), NATS
    /// semantics. Subscribers also see the requests sent on the subjects they match.
    async fn subscribe(&self, pattern: &str) -> Result<MessageStream, BusError>;

    /// The key-value bucket `bucket` (created if missing): JetStream KV on NATS (file
    /// storage, one revision kept per key), the embedded store in-process.
    async fn key_value(&self, bucket: &str) -> Result<kv::SharedKeyValue, BusError>;

    /// A handle on the durable consumer `config.name` of the durable events, created with
    /// `config` if missing. An existing one keeps its position; its settings become those
    /// given in-process, while on NATS it keeps those it was created with (change them with
    /// the `nats` CLI).
    async fn durable_consumer(
        &self,
        config: &consumer::ConsumerConfig,
    ) -> Result<Box<dyn consumer::DurableConsumer>, BusError>;

    /// The document store, with uploads limited by `limits`.
    async fn documents(
        &self,
        limits: documents::DocumentLimits,
    ) -> Result<documents::SharedDocumentStore, BusError>;

    /// Human description for logs ("in-process", "nats://127.0.0.1:4222").
    fn describe(&self) -> String;
}

/// The bus as the services hold it.
pub type SharedBus = std::sync::Arc<dyn Bus>;

/// Rejects headers NATS could not carry, on both implementations alike.
pub(crate) fn validate_headers(headers: &Headers) -> Result<(), BusError> {
    for (name, value) in headers {
        let invalid = |reason: &str| BusError::InvalidHeader {
            name: name.clone(),
            reason: reason.to_owned(),
        };
        if name.is_empty() {
            return Err(invalid("empty name"));
        }
        if name.chars().any(|c| !c.is_ascii_graphic() || c == ':') {
            return Err(invalid("name must be printable ASCII without ':'"));
        }
        if value.contains(['\r', '\n']) {
            return Err(invalid("value must not contain CR or LF"));
        }
    }
    Ok(())
}

/// Size of a message as NATS counts it against `max_payload`, near enough: payload plus the
/// header block.
pub(crate) fn wire_size(headers: &Headers, payload: &Bytes) -> usize {
    let header_block = if headers.is_empty() {
        0
    } else {
        // "NATS/1.0\r\n" + "name: value\r\n"... + "\r\n"
        10 + headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 4)
            .sum::<usize>()
            + 2
    };
    header_block + payload.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_validation() {
        let ok = Headers::from([("request-id".to_owned(), "abc 123".to_owned())]);
        assert!(validate_headers(&ok).is_ok());
        for (n, v) in [
            ("", "x"),
            ("a b", "x"),
            ("a:b", "x"),
            ("é", "x"),
            ("a", "x\r\ny"),
        ] {
            let h = Headers::from([(n.to_owned(), v.to_owned())]);
            assert!(
                matches!(validate_headers(&h), Err(BusError::InvalidHeader { .. })),
                "{n:?} {v:?}"
            );
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(wire_size(&Headers::new(), &Bytes::from_static(b"abc")), 3);
        let h = Headers::from([("a".to_owned(), "b".to_owned())]);
        assert_eq!(wire_size(&h, &Bytes::new()), 10 + 6 + 2);
    }
}
