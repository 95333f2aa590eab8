//! The embedded bus: every service in one process, tokio channels instead of a broker.
//!
//! It mimics NATS closely enough that a service cannot tell the difference: same subject
//! syntax and wildcards, queue groups (round-robin among the group's live servers), plain
//! subscribers seeing every message, immediate no-responders, the same size limit. Where it
//! can do better than NATS without changing the contract, it does: a request whose server
//! dies fails at once with [`BusError::NoReply`].
//!
//! Known difference: a request matched only by plain subscribers (no server) fails with
//! `NoResponders` here, whereas NATS lets it time out since someone has interest.
//!
//! Draining a server (see [`crate::DrainHandle`]) is exact here: a request is either in the
//! drained server's buffer, and served, or routed elsewhere; on NATS one on the wire at that
//! moment can be lost (see [`crate::nats`]).

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use crate::consumer::{ConsumerConfig, DurableConsumer};
use crate::documents::{DocumentLimits, SharedDocumentStore};
use crate::embedded::{Embedded, EmbeddedConsumer, EmbeddedDocuments, EmbeddedKv};
use crate::kv::{SharedKeyValue, kv_open_error};
use crate::subjects::{self, EVENTS_ALL, EVENTS_STREAM};
use crate::{
    Bus, BusError, DrainHandle, Drainer, Headers, IncomingRequest, Message, MessageStream, Replier,
    RequestStream,
};

/// Limits of an [`InProcessBus`].
#[derive(Debug, Clone)]
pub struct InProcessConfig {
    /// Backlog of each subscriber and server. A full subscriber loses messages (as a NATS slow
    /// consumer does); a request finding every server of its group full fails with
    /// [`BusError::Overloaded`].
    pub channel_capacity: usize,
    /// How many durable events the in-memory log keeps (oldest dropped first).
    pub durable_log_capacity: usize,
    /// Largest message accepted, the NATS default (1 MiB), so that an oversized message fails
    /// in embedded mode too rather than only once deployed on NATS.
    pub max_payload: usize,
}

impl Default for InProcessConfig {
    fn default() -> Self {
        Self {
            channel_capacity: 1024,
            durable_log_capacity: 1000,
            max_payload: 1024 * 1024,
        }
    }
}

/// In-process [`Bus`]. Cheap to clone; clones share the same bus.
///
/// Its durable state (durable events, key-value buckets, durable consumers, documents) is
/// kept in memory by [`InProcessBus::new`] and [`InProcessBus::with_config`], and in a data
/// directory, read back on the next start, by [`InProcessBus::open`].
#[derive(Clone)]
pub struct InProcessBus {
    inner: Arc<Inner>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::with_config(InProcessConfig::default())
    }
}

struct Inner {
    config: InProcessConfig,
    state: Mutex<State>,
    durable: Arc<Embedded>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    subscribers: Vec<Subscriber>,
    servers: Vec<Server>,
    /// Round-robin position per queue group.
    cursors: HashMap<String, usize>,
}

struct Subscriber {
    id: u64,
    pattern: String,
    tx: mpsc::Sender<Message>,
}

struct Server {
    id: u64,
    pattern: String,
    group: String,
    tx: mpsc::Sender<IncomingRequest>,
}

impl InProcessBus {
    /// A bus with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A bus with the given limits, its durable state in memory.
    pub fn with_config(config: InProcessConfig) -> Self {
        let durable = Embedded::in_memory(config.durable_log_capacity, config.max_payload);
        Self::with_durable(config, durable)
    }

    /// A bus with the default limits whose durable state lives in `data_dir` (created if
    /// missing): what a previous bus on the same directory stored is there again.
    pub fn open(data_dir: &Path) -> Result<Self, BusError> {
        Self::open_with_config(InProcessConfig::default(), data_dir)
    }

    /// [`InProcessBus::open`] with the given limits.
    pub fn open_with_config(config: InProcessConfig, data_dir: &Path) -> Result<Self, BusError> {
        let durable = Embedded::open(data_dir, config.durable_log_capacity, config.max_payload)?;
        Ok(Self::with_durable(config, durable))
    }

    fn with_durable(config: InProcessConfig, durable: Embedded) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::default(),
                durable: Arc::new(durable),
            }),
        }
    }

    /// The durable events kept, oldest first (bounded by
    /// [`InProcessConfig::durable_log_capacity`]). For tests and diagnostics.
    pub fn durable_log(&self) -> Vec<Message> {
        self.inner.durable.events()
    }

    fn check_size(
        &self,
        subject: &str,
        headers: &Headers,
        payload: &Bytes,
    ) -> Result<(), BusError> {
        let size = crate::wire_size(headers, payload);
        let max = self.inner.config.max_payload;
        if size > max {
            return Err(BusError::PayloadTooLarge {
                subject: subject.to_owned(),
                detail: format!("{size} bytes, at most {max}"),
            });
        }
        Ok(())
    }

    fn register_subscriber(&self, pattern: &str) -> MessageStream {
        let (tx, rx) = mpsc::channel(self.inner.config.channel_capacity.max(1));
        let mut state = self.inner.lock();
        let id = state.next_id();
        state.subscribers.push(Subscriber {
            id,
            pattern: pattern.to_owned(),
            tx,
        });
        Box::pin(Registration {
            rx,
            _guard: Unregister {
                inner: Arc::downgrade(&self.inner),
                id,
            },
        })
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters (every update is a push, a retain or a counter bump), so keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Gives a copy to every matching plain subscriber. A full subscriber misses the message,
    /// as a NATS slow consumer would; the publisher is never blocked by it.
    fn deliver_to_subscribers(&self, message: &Message) {
        for sub in &self.subscribers {
            if !subjects::matches(&sub.pattern, &message.subject) {
                continue;
            }
            if let Err(mpsc::error::TrySendError::Full(_)) = sub.tx.try_send(message.clone()) {
                tracing::warn!(
                    subject = %message.subject,
                    pattern = %sub.pattern,
                    "in-process subscriber is not keeping up: message dropped"
                );
            }
        }
    }
}

/// Unregisters a subscriber or server when its stream is dropped.
struct Unregister {
    inner: Weak<Inner>,
    id: u64,
}

impl Drop for Unregister {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            let mut state = inner.lock();
            state.subscribers.retain(|s| s.id != self.id);
            state.servers.retain(|s| s.id != self.id);
        }
    }
}

/// Drains a server: unregistering it drops the only sender of its channel, so new requests
/// go to the other members of its group (or fail with no-responders) while its stream
/// yields what the channel holds, then ends. Atomic under the bus lock: a request is
/// either in the channel already or never routed there.
struct InProcessDrain {
    inner: Weak<Inner>,
    id: u64,
}

impl Drainer for InProcessDrain {
    fn drain(&self) -> BoxFuture<'static, Result<(), BusError>> {
        if let Some(inner) = self.inner.upgrade() {
            inner.lock().servers.retain(|s| s.id != self.id);
        }
        Box::pin(async { Ok(()) })
    }
}

/// The stream handed out by `subscribe`/`serve`. Field order matters: the receiver (and any
/// request still queued in it, which then answers `NoReply`) goes before the registration.
struct Registration<T> {
    rx: mpsc::Receiver<T>,
    _guard: Unregister,
}

impl<T> Stream for Registration<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

/// Where the reply goes. Shared by the copies of a request given to several queue groups:
/// the first reply wins, and the requester learns of `NoReply` when the last copy is dropped
/// unanswered (the sender is dropped with the last `Arc`).
struct InProcessReplier {
    slot: ReplySlot,
}

/// The requester's end, taken by the first reply.
type ReplySlot = Arc<Mutex<Option<oneshot::Sender<(Headers, Bytes)>>>>;

impl Replier for InProcessReplier {
    fn send(
        self: Box<Self>,
        headers: Headers,
        payload: Bytes,
    ) -> BoxFuture<'static, Result<(), BusError>> {
        let sender = self
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(sender) = sender {
            // The requester may have timed out already: like a NATS reply to a gone inbox,
            // that is not the server's problem.
            let _ = sender.send((headers, payload));
        }
        Box::pin(async { Ok(()) })
    }
}

#[async_trait::async_trait]
impl Bus for InProcessBus {
    async fn request(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Message, BusError> {
        subjects::validate_subject(subject)?;
        crate::validate_headers(&headers)?;
        self.check_size(subject, &headers, &payload)?;

        let (tx, rx) = oneshot::channel();
        let slot: ReplySlot = Arc::new(Mutex::new(Some(tx)));
        {
            let mut state = self.inner.lock();
            state.deliver_to_subscribers(&Message {
                subject: subject.to_owned(),
                headers: headers.clone(),
                payload: payload.clone(),
            });

            // Members of each queue group matching the subject, in registration order.
            let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
            for (index, server) in state.servers.iter().enumerate() {
                if server.tx.is_closed() || !subjects::matches(&server.pattern, subject) {
                    continue;
                }
                match groups.iter_mut().find(|(g, _)| *g == server.group) {
                    Some((_, members)) => members.push(index),
                    None => groups.push((server.group.clone(), vec![index])),
                }
            }
            if groups.is_empty() {
                return Err(BusError::NoResponders {
                    subject: subject.to_owned(),
                });
            }

            let mut delivered = 0;
            for (group, members) in groups {
                let cursor = state.cursors.entry(group).or_insert(0);
                let start = *cursor;
                *cursor = cursor.wrapping_add(1);
                let mut request = IncomingRequest::new(
                    subject.to_owned(),
                    headers.clone(),
                    payload.clone(),
                    Box::new(InProcessReplier { slot: slot.clone() }),
                );
                // Start at the group's cursor; a member with a full backlog passes its turn.
                for offset in 0..members.len() {
                    let server = &state.servers[members[(start + offset) % members.len()]];
                    match server.tx.try_send(request) {
                        Ok(()) => {
                            delivered += 1;
                            break;
                        }
                        Err(
                            mpsc::error::TrySendError::Full(back)
                            | mpsc::error::TrySendError::Closed(back),
                        ) => request = back,
                    }
                }
            }
            if delivered == 0 {
                return Err(BusError::Overloaded {
                    subject: subject.to_owned(),
                });
            }
        }
        // Only the delivered copies may keep the reply channel open now.
        drop(slot);

        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok((headers, payload))) => Ok(Message {
                subject: subject.to_owned(),
                headers,
                payload,
            }),
            Ok(Err(_)) => Err(BusError::NoReply {
                subject: subject.to_owned(),
            }),
            Err(_) => Err(BusError::Timeout {
                subject: subject.to_owned(),
                after: timeout,
            }),
        }
    }

    async fn serve_drainable(
        &self,
        subject: &str,
        queue_group: &str,
    ) -> Result<(RequestStream, DrainHandle), BusError> {
        subjects::validate_pattern(subject)?;
        subjects::validate_token(queue_group)?;
        let (tx, rx) = mpsc::channel(self.inner.config.channel_capacity.max(1));
        let mut state = self.inner.lock();
        let id = state.next_id();
        state.servers.push(Server {
            id,
            pattern: subject.to_owned(),
            group: queue_group.to_owned(),
            tx,
        });
        let stream: RequestStream = Box::pin(Registration {
            rx,
            _guard: Unregister {
                inner: Arc::downgrade(&self.inner),
                id,
            },
        });
        let drain = DrainHandle::new(InProcessDrain {
            inner: Arc::downgrade(&self.inner),
            id,
        });
        Ok((stream, drain))
    }

    async fn publish(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
    ) -> Result<(), BusError> {
        subjects::validate_subject(subject)?;
        crate::validate_headers(&headers)?;
        self.check_size(subject, &headers, &payload)?;
        self.inner.lock().deliver_to_subscribers(&Message {
            subject: subject.to_owned(),
            headers,
            payload,
        });
        Ok(())
    }

    async fn publish_durable(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
    ) -> Result<(), BusError> {
        subjects::validate_subject(subject)?;
        crate::validate_headers(&headers)?;
        self.check_size(subject, &headers, &payload)?;
        if !subjects::matches(EVENTS_ALL, subject) {
            return Err(BusError::Durable(format!(
                "{subject} is not captured by stream {EVENTS_STREAM} ({EVENTS_ALL})"
            )));
        }
        let message = Message {
            subject: subject.to_owned(),
            headers,
            payload,
        };
        // Stored first: a subscriber never sees an event that is then not kept.
        if self.inner.durable.append(message.clone())?.is_some() {
            self.inner.lock().deliver_to_subscribers(&message);
        }
        Ok(())
    }

    async fn subscribe(&self, pattern: &str) -> Result<MessageStream, BusError> {
        subjects::validate_pattern(pattern)?;
        Ok(self.register_subscriber(pattern))
    }

    async fn key_value(&self, bucket: &str) -> Result<SharedKeyValue, BusError> {
        let bucket = EmbeddedKv::open(self.inner.durable.clone(), bucket).map_err(kv_open_error)?;
        Ok(Arc::new(bucket))
    }

    async fn durable_consumer(
        &self,
        config: &ConsumerConfig,
    ) -> Result<Box<dyn DurableConsumer>, BusError> {
        Ok(Box::new(EmbeddedConsumer::open(
            self.inner.durable.clone(),
            config,
        )?))
    }

    async fn documents(&self, limits: DocumentLimits) -> Result<SharedDocumentStore, BusError> {
        let dir = self.inner.durable.documents_dir()?;
        Ok(Arc::new(EmbeddedDocuments::new(dir, limits)))
    }

    fn describe(&self) -> String {
        "in-process".to_owned()
    }
}
