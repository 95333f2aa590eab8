//! The durable state of the NATS bus, on JetStream: key-value buckets, durable consumers of
//! the events stream, the document object store. Only what nats-server 2.9 serves.

mod consumer;
mod documents;
mod kv;

pub(crate) use consumer::NatsConsumer;
pub(crate) use documents::NatsDocuments;
pub(crate) use kv::NatsKv;

use crate::BusError;

/// A JetStream failure, for a caller who can only report it.
pub(crate) fn storage(what: &str, e: impl std::fmt::Display) -> BusError {
    BusError::Storage(format!("{what}: {e}"))
}
