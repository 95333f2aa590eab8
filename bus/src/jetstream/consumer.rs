//! Durable pull consumers of the events stream; dead letters from the server's
//! `MAX_DELIVERIES` advisories.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::pull;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;
use futures::future::BoxFuture;
use serde::Deserialize;

use super::storage;
use crate::consumer::{Acker, ConsumerConfig, DeadLetter, Delivery, DurableConsumer};
use crate::nats::{NatsBus, from_nats_headers};
use crate::subjects::EVENTS_STREAM;
use crate::{BusError, Message};

/// Messages fetched ahead: their ack wait runs from the fetch, so keep it small.
const BATCH: usize = 16;

pub(crate) struct NatsConsumer {
    name: String,
    stream: jetstream::stream::Stream,
    messages: pull::Stream,
    advisories: async_nats::Subscriber,
}

/// The part of the `io.nats.jetstream.advisory.v1.max_deliver` advisory we use.
#[derive(Deserialize)]
struct MaxDeliverAdvisory {
    stream_seq: u64,
    deliveries: u64,
}

impl NatsConsumer {
    pub(crate) async fn open(
        bus: &NatsBus,
        config: &ConsumerConfig,
    ) -> Result<NatsConsumer, BusError> {
        config.validate()?;
        bus.ensure_events_stream().await?;
        let name = &config.name;
        // Listening before the consumer exists: no advisory of it can be missed.
        let advisory_subject =
            format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{EVENTS_STREAM}.{name}");
        let advisories = bus
            .client()
            .subscribe(advisory_subject.clone())
            .await
            .map_err(|e| storage(&format!("subscribe {advisory_subject}"), e))?;
        let context = jetstream::new(bus.client().clone());
        let stream = context
            .get_stream(EVENTS_STREAM)
            .await
            .map_err(|e| storage(&format!("stream {EVENTS_STREAM}"), e))?;
        let consumer: jetstream::consumer::PullConsumer = stream
            .get_or_create_consumer(
                name,
                pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: config.filter_subject.clone(),
                    deliver_policy: DeliverPolicy::All,
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: config.ack_wait,
                    max_deliver: i64::from(config.max_deliver),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| storage(&format!("consumer {name}"), e))?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(BATCH)
            .messages()
            .await
            .map_err(|e| storage(&format!("consumer {name}"), e))?;
        Ok(NatsConsumer {
            name: name.clone(),
            stream,
            messages,
            advisories,
        })
    }
}

#[async_trait::async_trait]
impl DurableConsumer for NatsConsumer {
    async fn next(&mut self) -> Result<Delivery, BusError> {
        loop {
            let message = match self.messages.next().await {
                Some(Ok(message)) => message,
                Some(Err(e)) => {
                    if matches!(e.kind(), pull::MessagesErrorKind::MissingHeartbeat) {
                        // The client goes on pulling once the connection is back.
                        tracing::warn!(consumer = %self.name, "consumer heartbeat missed");
                        continue;
                    }
                    return Err(storage(&format!("consumer {}", self.name), e));
                }
                None => return Err(BusError::Closed),
            };
            let (stream_sequence, deliveries) = match message.info() {
                Ok(info) => (info.stream_sequence, info.delivered.max(1).unsigned_abs()),
                Err(e) => {
                    tracing::warn!(consumer = %self.name, error = %e, "delivery without JetStream info ignored");
                    continue;
                }
            };
            let bus_message = Message {
                subject: message.subject.to_string(),
                headers: from_nats_headers(message.headers.as_ref()),
                payload: message.payload.clone(),
            };
            return Ok(Delivery::new(
                bus_message,
                stream_sequence,
                deliveries,
                Box::new(NatsAcker {
                    message: Arc::new(message),
                }),
            ));
        }
    }

    async fn next_dead_letter(&mut self) -> Result<DeadLetter, BusError> {
        loop {
            let advisory = self.advisories.next().await.ok_or(BusError::Closed)?;
            let advisory: MaxDeliverAdvisory = match serde_json::from_slice(&advisory.payload) {
                Ok(advisory) => advisory,
                Err(e) => {
                    tracing::warn!(consumer = %self.name, error = %e, "unreadable max-deliveries advisory");
                    continue;
                }
            };
            let message = match self.stream.get_raw_message(advisory.stream_seq).await {
                Ok(stored) => Some(Message {
                    subject: stored.subject.to_string(),
                    headers: from_nats_headers(Some(&stored.headers)),
                    payload: stored.payload,
                }),
                // Expired or removed from the stream meanwhile.
                Err(_) => None,
            };
            return Ok(DeadLetter {
                consumer: self.name.clone(),
                stream_sequence: advisory.stream_seq,
                deliveries: advisory.deliveries,
                message,
            });
        }
    }
}

struct NatsAcker {
    message: Arc<jetstream::Message>,
}

impl NatsAcker {
    fn send(&self, kind: AckKind, confirmed: bool) -> BoxFuture<'static, Result<(), BusError>> {
        let message = self.message.clone();
        Box::pin(async move {
            let result = if confirmed {
                message.double_ack_with(kind).await
            } else {
                message.ack_with(kind).await
            };
            result.map_err(|e| BusError::Connection(format!("acknowledgement: {e}")))
        })
    }
}

impl Acker for NatsAcker {
    fn ack(&self) -> BoxFuture<'static, Result<(), BusError>> {
        // Confirmed by the server: once this returns, the message will not come back.
        self.send(AckKind::Ack, true)
    }

    fn nak(&self, delay: Option<Duration>) -> BoxFuture<'static, Result<(), BusError>> {
        self.send(AckKind::Nak(delay), false)
    }

    fn in_progress(&self) -> BoxFuture<'static, Result<(), BusError>> {
        self.send(AckKind::Progress, false)
    }
}
