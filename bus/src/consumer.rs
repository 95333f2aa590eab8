//! Durable consumers of the durable events ([`crate::Bus::publish_durable`]): a named
//! consumer keeps its position across restarts, each message must be acknowledged, one not
//! acknowledged within the ack wait is delivered again, at most `max_deliver` times; after
//! that it is given up and reported as a [`DeadLetter`].
//!
//! On NATS: a JetStream pull consumer on the events stream, dead letters from the server's
//! `MAX_DELIVERIES` advisory. In-process: the embedded durable log. Several handles on the
//! same consumer name share its messages (each goes to one of them), like replicas would.
//! Reach one with [`crate::Bus::durable_consumer`].

use std::fmt;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::subjects::{self, EVENTS_ALL};
use crate::{BusError, Message};

/// Default ack wait: how long a delivered message may stay unacknowledged.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);

/// Default number of deliveries before a message is given up.
pub const DEFAULT_MAX_DELIVER: u32 = 5;

/// A durable consumer's settings. In configuration files: `ack_wait = "30s"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConfig {
    /// Durable name, one subject token (letters, digits, `-`, `_`): the consumer's position
    /// is kept under it.
    pub name: String,
    /// Which durable events it takes: a subject or pattern under [`EVENTS_ALL`].
    pub filter_subject: String,
    /// A message not acknowledged this long after its delivery is delivered again.
    #[serde(with = "humantime_serde", default = "default_ack_wait")]
    pub ack_wait: Duration,
    /// Deliveries of one message at most (the first included), at least 1.
    #[serde(default = "default_max_deliver")]
    pub max_deliver: u32,
}

fn default_ack_wait() -> Duration {
    DEFAULT_ACK_WAIT
}

fn default_max_deliver() -> u32 {
    DEFAULT_MAX_DELIVER
}

impl ConsumerConfig {
    /// A consumer with the default ack wait and delivery bound.
    pub fn new(name: impl Into<String>, filter_subject: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            filter_subject: filter_subject.into(),
            ack_wait: DEFAULT_ACK_WAIT,
            max_deliver: DEFAULT_MAX_DELIVER,
        }
    }

    /// Rejects what neither bus could honour, alike on both.
    pub fn validate(&self) -> Result<(), BusError> {
        subjects::validate_token(&self.name)?;
        subjects::validate_pattern(&self.filter_subject)?;
        let prefix = EVENTS_ALL.trim_end_matches('>');
        if !self.filter_subject.starts_with(prefix) {
            return Err(BusError::InvalidSubject {
                subject: self.filter_subject.clone(),
                reason: format!("a durable consumer takes durable events only, under {EVENTS_ALL}"),
            });
        }
        if self.max_deliver == 0 {
            return Err(BusError::Durable(format!(
                "consumer {}: max_deliver must be at least 1",
                self.name
            )));
        }
        if self.ack_wait.is_zero() {
            return Err(BusError::Durable(format!(
                "consumer {}: ack_wait must be more than zero",
                self.name
            )));
        }
        Ok(())
    }
}

/// How one bus settles one delivery.
pub(crate) trait Acker: Send + Sync {
    fn ack(&self) -> BoxFuture<'static, Result<(), BusError>>;
    fn nak(&self, delay: Option<Duration>) -> BoxFuture<'static, Result<(), BusError>>;
    fn in_progress(&self) -> BoxFuture<'static, Result<(), BusError>>;
}

/// One delivery of a durable message. Settle it with [`Delivery::ack`] (done),
/// [`Delivery::nak`] (deliver again, now or after a delay) or let the ack wait run out (same
/// as a nak); [`Delivery::in_progress`] restarts the ack wait for long work.
pub struct Delivery {
    pub message: Message,
    /// The message's position in the durable log (JetStream stream sequence).
    pub stream_sequence: u64,
    /// This is the message's `deliveries`-th delivery (1 the first time).
    pub deliveries: u64,
    acker: Box<dyn Acker>,
}

impl Delivery {
    pub(crate) fn new(
        message: Message,
        stream_sequence: u64,
        deliveries: u64,
        acker: Box<dyn Acker>,
    ) -> Self {
        Self {
            message,
            stream_sequence,
            deliveries,
            acker,
        }
    }

    /// Done with it: it will not be delivered again.
    pub async fn ack(self) -> Result<(), BusError> {
        self.acker.ack().await
    }

    /// Not done: deliver it again, after `delay` if given (counts as a delivery).
    pub async fn nak(self, delay: Option<Duration>) -> Result<(), BusError> {
        self.acker.nak(delay).await
    }

    /// Still working on it: the ack wait starts again.
    pub async fn in_progress(&self) -> Result<(), BusError> {
        self.acker.in_progress().await
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("subject", &self.message.subject)
            .field("stream_sequence", &self.stream_sequence)
            .field("deliveries", &self.deliveries)
            .finish_non_exhaustive()
    }
}

/// A message given up after `max_deliver` deliveries without acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub consumer: String,
    pub stream_sequence: u64,
    pub deliveries: u64,
    /// The message, if the durable log still holds it.
    pub message: Option<Message>,
}

/// A handle on a named durable consumer.
#[async_trait::async_trait]
pub trait DurableConsumer: Send {
    /// The next message to work on, waiting for one. Cancel-safe: a call dropped before it
    /// returns takes nothing.
    async fn next(&mut self) -> Result<Delivery, BusError>;

    /// The next message given up by this consumer (any handle of it), waiting for one.
    /// Only those given up after this handle was opened are reported.
    async fn next_dead_letter(&mut self) -> Result<DeadLetter, BusError>;
}
