//! Embedded durable consumers over the embedded event log.
//!
//! A consumer's state is its next new sequence and its unacknowledged messages with their
//! delivery counts, persisted on each change; after a restart, the unacknowledged ones are
//! delivered again at once (whoever had them is gone). Ack deadlines are tokio instants,
//! checked by whichever handle waits (no background task).

use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::{Embedded, SharedEmbedded, State, read_json, write_atomically};
use crate::consumer::{Acker, ConsumerConfig, DeadLetter, Delivery, DurableConsumer};
use crate::{BusError, subjects};

/// Dead letters a slow handle may fall behind by before missing some.
const DEAD_LETTER_BACKLOG: usize = 1024;

pub(super) struct ConsumerState {
    config: ConsumerConfig,
    next_seq: u64,
    pending: BTreeMap<u64, Pending>,
    dead_letters: broadcast::Sender<DeadLetter>,
}

struct Pending {
    deliveries: u64,
    /// When it may be delivered again.
    due: Instant,
}

#[derive(Serialize, Deserialize)]
struct ConsumerFile {
    next_seq: u64,
    /// (sequence, deliveries so far)
    pending: Vec<(u64, u64)>,
}

/// What a handle should do next.
enum Step {
    Deliver(Delivery),
    /// Nothing now; something may become due at this instant.
    Wait(Option<Instant>),
}

/// A handle on an embedded durable consumer.
pub(crate) struct EmbeddedConsumer {
    store: SharedEmbedded,
    name: String,
    dead_letters: broadcast::Receiver<DeadLetter>,
}

impl EmbeddedConsumer {
    pub(crate) fn open(
        store: SharedEmbedded,
        config: &ConsumerConfig,
    ) -> Result<EmbeddedConsumer, BusError> {
        config.validate()?;
        let mut state = store.lock();
        let dead_letters = match state.consumers.get_mut(&config.name) {
            Some(consumer) => {
                consumer.config = config.clone();
                consumer.dead_letters.subscribe()
            }
            None => {
                let saved = match store.file("consumers", &config.name) {
                    Some(path) => read_json::<ConsumerFile>(&path)?,
                    None => None,
                };
                let now = Instant::now();
                let (next_seq, pending) = match saved {
                    Some(file) => (
                        file.next_seq,
                        file.pending
                            .into_iter()
                            .map(|(seq, deliveries)| {
                                (
                                    seq,
                                    Pending {
                                        deliveries,
                                        due: now,
                                    },
                                )
                            })
                            .collect(),
                    ),
                    None => (1, BTreeMap::new()),
                };
                let (sender, receiver) = broadcast::channel(DEAD_LETTER_BACKLOG);
                state.consumers.insert(
                    config.name.clone(),
                    ConsumerState {
                        config: config.clone(),
                        next_seq,
                        pending,
                        dead_letters: sender,
                    },
                );
                receiver
            }
        };
        drop(state);
        Ok(EmbeddedConsumer {
            store,
            name: config.name.clone(),
            dead_letters,
        })
    }

    fn step(&self, now: Instant) -> Result<Step, BusError> {
        let mut state = self.store.lock();
        let State { log, consumers, .. } = &mut *state;
        let Some(consumer) = consumers.get_mut(&self.name) else {
            return Err(BusError::Closed);
        };
        let mut changed = give_up_exhausted(&self.name, consumer, log, now);
        loop {
            let due = consumer
                .pending
                .iter()
                .find(|(_, p)| p.due <= now)
                .map(|(seq, _)| *seq);
            let (seq, message) = if let Some(seq) = due {
                let Some(message) = log.get(seq) else {
                    // Dropped from the bounded log meanwhile: nothing left to deliver.
                    consumer.pending.remove(&seq);
                    changed = true;
                    continue;
                };
                (seq, message.clone())
            } else if let Some((seq, message)) = log.first_from(consumer.next_seq, |s| {
                subjects::matches(&consumer.config.filter_subject, s)
            }) {
                consumer.next_seq = seq + 1;
                consumer.pending.insert(
                    seq,
                    Pending {
                        deliveries: 0,
                        due: now,
                    },
                );
                (seq, message.clone())
            } else {
                if changed {
                    persist(&self.store, &self.name, consumer)?;
                }
                let next_due = consumer.pending.values().map(|p| p.due).min();
                return Ok(Step::Wait(next_due));
            };
            let ack_wait = consumer.config.ack_wait;
            let Some(pending) = consumer.pending.get_mut(&seq) else {
                continue;
            };
            pending.deliveries += 1;
            pending.due = now + ack_wait;
            let deliveries = pending.deliveries;
            persist(&self.store, &self.name, consumer)?;
            let acker = EmbeddedAcker {
                store: std::sync::Arc::downgrade(&self.store),
                name: self.name.clone(),
                seq,
            };
            return Ok(Step::Deliver(Delivery::new(
                message,
                seq,
                deliveries,
                Box::new(acker),
            )));
        }
    }

    /// Gives up what is due and exhausted; returns when the next such may be.
    fn sweep(&self, now: Instant) -> Result<Option<Instant>, BusError> {
        let mut state = self.store.lock();
        let State { log, consumers, .. } = &mut *state;
        let Some(consumer) = consumers.get_mut(&self.name) else {
            return Err(BusError::Closed);
        };
        if give_up_exhausted(&self.name, consumer, log, now) {
            persist(&self.store, &self.name, consumer)?;
        }
        let max = u64::from(consumer.config.max_deliver);
        Ok(consumer
            .pending
            .values()
            .filter(|p| p.deliveries >= max)
            .map(|p| p.due)
            .min())
    }
}

/// Removes the messages due again that had all their deliveries, reporting each.
fn give_up_exhausted(
    name: &str,
    consumer: &mut ConsumerState,
    log: &super::log::EventLog,
    now: Instant,
) -> bool {
    let max = u64::from(consumer.config.max_deliver);
    let exhausted: Vec<u64> = consumer
        .pending
        .iter()
        .filter(|(_, p)| p.due <= now && p.deliveries >= max)
        .map(|(seq, _)| *seq)
        .collect();
    for seq in &exhausted {
        let Some(pending) = consumer.pending.remove(seq) else {
            continue;
        };
        tracing::warn!(
            consumer = name,
            stream_sequence = seq,
            deliveries = pending.deliveries,
            "durable message given up after its last delivery"
        );
        // No handle listening is fine: nobody asked to be told.
        let _ = consumer.dead_letters.send(DeadLetter {
            consumer: name.to_owned(),
            stream_sequence: *seq,
            deliveries: pending.deliveries,
            message: log.get(*seq).cloned(),
        });
    }
    !exhausted.is_empty()
}

fn persist(store: &Embedded, name: &str, consumer: &ConsumerState) -> Result<(), BusError> {
    let Some(path) = store.file("consumers", name) else {
        return Ok(());
    };
    let file = ConsumerFile {
        next_seq: consumer.next_seq,
        pending: consumer
            .pending
            .iter()
            .map(|(seq, p)| (*seq, p.deliveries))
            .collect(),
    };
    let json = serde_json::to_vec(&file)
        .map_err(|e| BusError::Storage(format!("consumer {name}: {e}")))?;
    write_atomically(&path, &json)
}

/// Waits until `store` changes or `deadline` passes.
async fn wait(
    notified: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
    deadline: Option<Instant>,
) {
    match deadline {
        Some(deadline) => {
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
        None => notified.await,
    }
}

#[async_trait::async_trait]
impl DurableConsumer for EmbeddedConsumer {
    async fn next(&mut self) -> Result<Delivery, BusError> {
        let store = self.store.clone();
        loop {
            let notified = store.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.step(Instant::now())? {
                Step::Deliver(delivery) => return Ok(delivery),
                Step::Wait(deadline) => wait(notified, deadline).await,
            }
        }
    }

    async fn next_dead_letter(&mut self) -> Result<DeadLetter, BusError> {
        let store = self.store.clone();
        loop {
            let notified = store.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let deadline = self.sweep(Instant::now())?;
            match self.dead_letters.try_recv() {
                Ok(dead) => return Ok(dead),
                Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                    tracing::warn!(consumer = %self.name, missed, "dead letters missed");
                    continue;
                }
                Err(broadcast::error::TryRecvError::Closed) => return Err(BusError::Closed),
                Err(broadcast::error::TryRecvError::Empty) => {}
            }
            tokio::select! {
                received = self.dead_letters.recv() => match received {
                    Ok(dead) => return Ok(dead),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return Err(BusError::Closed),
                },
                () = wait(notified, deadline) => {}
            }
        }
    }
}

struct EmbeddedAcker {
    store: Weak<Embedded>,
    name: String,
    seq: u64,
}

impl EmbeddedAcker {
    fn settle(
        &self,
        change: impl FnOnce(&mut ConsumerState, u64) -> bool,
    ) -> BoxFuture<'static, Result<(), BusError>> {
        let result = (|| {
            let store = self.store.upgrade().ok_or(BusError::Closed)?;
            let mut state = store.lock();
            let consumer = state
                .consumers
                .get_mut(&self.name)
                .ok_or(BusError::Closed)?;
            if change(consumer, self.seq) {
                persist(&store, &self.name, consumer)?;
            }
            drop(state);
            store.changed.notify_waiters();
            Ok(())
        })();
        Box::pin(async move { result })
    }
}

impl Acker for EmbeddedAcker {
    fn ack(&self) -> BoxFuture<'static, Result<(), BusError>> {
        self.settle(|consumer, seq| consumer.pending.remove(&seq).is_some())
    }

    fn nak(&self, delay: Option<Duration>) -> BoxFuture<'static, Result<(), BusError>> {
        self.settle(|consumer, seq| {
            if let Some(pending) = consumer.pending.get_mut(&seq) {
                pending.due = Instant::now() + delay.unwrap_or_default();
            }
            false
        })
    }

    fn in_progress(&self) -> BoxFuture<'static, Result<(), BusError>> {
        self.settle(|consumer, seq| {
            let ack_wait = consumer.config.ack_wait;
            if let Some(pending) = consumer.pending.get_mut(&seq) {
                pending.due = Instant::now() + ack_wait;
            }
            false
        })
    }
}
