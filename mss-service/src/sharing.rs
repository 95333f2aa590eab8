//! Sharing: the MSSanté channels of a share. A durable consumer (`mss-share`) takes the
//! `ShareRequested` events whose channels include `CHANNEL_MSS_PRO` or `CHANNEL_MSS_CITIZEN`,
//! runs the core's `send` with the event's `mss` request (its idempotency key is the share
//! id: the Message-IDs are the same on every run) and publishes one `ShareChannelResult` per
//! channel.
//!
//! Sent once, and where it stops: an outbox record per share in the bucket
//! [`OUTBOX_BUCKET`] says `sending` before the SMTP session and `sent` (the Message-IDs per
//! audience) after it. A delivery finding `sent` sends nothing and publishes the results
//! again. One finding `sending` means the service stopped inside the SMTP window (after the
//! server's 250, before the record): SMTP offers no way to ask whether the server took the
//! message, so it is sent again with the same Message-IDs (a receiver can tell the repeat)
//! and counted ([`resent_in_window`], the record's `resent_in_window`, a log line).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use passerelle_bus::consumer::{ConsumerConfig, Delivery, DurableConsumer};
use passerelle_bus::kv::SharedKeyValue;
use passerelle_bus::subjects::{
    EVENTS_SHARE_CHANNEL_RESULT, EVENTS_SHARE_REQUESTED, HEADER_MSG_ID,
};
use passerelle_bus::{BusError, Headers, SharedBus};
use passerelle_proto::mss::v1 as api;
use passerelle_proto::share::v1::{Channel, ChannelState, ShareChannelResult, ShareRequested};
use passerelle_service_kit::breaker::{CircuitBreaker, Permit, REASON_CIRCUIT_OPEN, format_since};
use passerelle_service_kit::errors::summarise;
use passerelle_service_kit::{RequestId, Shutdown};
use prost::Message as _;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tonic::{Code, Status};

use crate::errors::{MssServiceError, reasons};
use crate::service::MssCore;

/// The outbox: one record per share id.
pub const OUTBOX_BUCKET: &str = "mss_share_outbox";
/// The durable consumer's name.
pub const CONSUMER: &str = "mss-share";

/// Sends made again because a `sending` record was found (this process).
static RESENT_IN_WINDOW: AtomicU64 = AtomicU64::new(0);

/// How many sends this process made again after finding them `sending` (stopped inside the
/// SMTP window).
pub fn resent_in_window() -> u64 {
    RESENT_IN_WINDOW.load(Ordering::Relaxed)
}

/// `[share]`: the MSSanté channels of the shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShareSettings {
    /// Runs the `mss-share` consumer in the worker role.
    pub enabled: bool,
    /// A delivery not settled this long is delivered again (heartbeats keep a long send's).
    #[serde(with = "humantime_serde")]
    pub ack_wait: Duration,
    /// Deliveries of one share at most; on the last, a transient failure is reported FAILED.
    pub max_deliver: u32,
    /// The first retry's backoff, doubled at each delivery…
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// …up to this (a random part of it: replicas failing together do not come back together).
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Consecutive transient failures of the MSSanté server that open the circuit: no send
    /// then until `breaker_cooldown` passed (one trial send decides whether it closes).
    pub breaker_failures: u32,
    /// How long an open circuit stays open.
    #[serde(with = "humantime_serde")]
    pub breaker_cooldown: Duration,
}

impl Default for ShareSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            ack_wait: Duration::from_secs(60),
            max_deliver: 5,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

impl ShareSettings {
    /// The wait before the next delivery after the `deliveries`-th failed: exponential,
    /// bounded, the upper half drawn at random.
    pub fn backoff(&self, deliveries: u64) -> Duration {
        let exponent = u32::try_from(deliveries.saturating_sub(1).min(20)).unwrap_or(20);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        let random = u64::from(uuid::Uuid::new_v4().as_u128() as u16);
        let half = ceiling / 2;
        half + half.mul_f64(random as f64 / f64::from(u16::MAX))
    }
}

/// Where a share's MSSanté send stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Handed to SMTP, outcome not recorded.
    Sending,
    /// Every message of the request went (their Message-IDs are recorded).
    Sent,
    /// The send failed (a message recorded went before the failure).
    Failed,
}

/// A share's outbox record (JSON in [`OUTBOX_BUCKET`], key = share id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    pub state: OutboxState,
    /// The share's attempt that wrote it.
    pub attempt: u32,
    /// The professionals' message's Message-ID, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub professionals: Option<String>,
    /// The patient's message's Message-ID, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// Sends made again after a `sending` was found.
    #[serde(default)]
    pub resent_in_window: u32,
}

impl OutboxRecord {
    /// `sending`, as written before the SMTP session.
    pub fn sending(attempt: u32) -> Self {
        Self {
            state: OutboxState::Sending,
            attempt,
            professionals: None,
            patient: None,
            resent_in_window: 0,
        }
    }

    fn sent_for(&self, channel: Channel) -> Option<&str> {
        match channel {
            Channel::MssPro => self.professionals.as_deref(),
            Channel::MssCitizen => self.patient.as_deref(),
            _ => None,
        }
    }
}

/// The running consumer.
pub struct Sharing {
    task: Option<JoinHandle<()>>,
}

impl Sharing {
    /// Opens the consumer and the outbox and starts the loop (nothing when disabled).
    pub async fn start(
        settings: &ShareSettings,
        bus: SharedBus,
        core: MssCore,
        shutdown: Shutdown,
    ) -> Result<Sharing, BusError> {
        if !settings.enabled {
            return Ok(Sharing { task: None });
        }
        let config = ConsumerConfig {
            name: CONSUMER.to_owned(),
            filter_subject: EVENTS_SHARE_REQUESTED.to_owned(),
            ack_wait: settings.ack_wait,
            max_deliver: settings.max_deliver,
        };
        let consumer = bus.durable_consumer(&config).await?;
        let outbox = bus.key_value(OUTBOX_BUCKET).await?;
        let worker = Worker {
            settings: settings.clone(),
            bus,
            core,
            outbox,
            breaker: CircuitBreaker::new(settings.breaker_failures, settings.breaker_cooldown),
        };
        Ok(Sharing {
            task: Some(tokio::spawn(worker.run(consumer, shutdown))),
        })
    }

    /// Waits until the loop stopped (after shutdown), its current share finished.
    pub async fn wait(self) {
        if let Some(task) = self.task {
            let _ = task.await;
        }
    }
}

struct Worker {
    settings: ShareSettings,
    bus: SharedBus,
    core: MssCore,
    outbox: SharedKeyValue,
    /// The MSSanté server's circuit: open, the shares wait (or fail on their last delivery)
    /// without a send.
    breaker: CircuitBreaker,
}

/// What to do with a delivery once handled.
enum Settle {
    Ack,
    Nak(Duration),
}

/// Why a share could not be handled now (the bus or the outbox): delivered again later.
#[derive(Debug, thiserror::Error)]
enum Retry {
    #[error("the outbox: {0}")]
    Outbox(#[from] passerelle_bus::kv::KvError),
    #[error("publishing a result: {0}")]
    Publish(#[from] BusError),
    #[error("the outbox record is not readable: {0}")]
    Record(#[from] serde_json::Error),
}

impl Worker {
    async fn run(self, mut consumer: Box<dyn DurableConsumer>, shutdown: Shutdown) {
        loop {
            let delivery = tokio::select! {
                _ = shutdown.wait() => break,
                d = consumer.next() => d,
            };
            match delivery {
                Ok(delivery) => self.handle(delivery).await,
                Err(e) => {
                    tracing::warn!(error = %e, "mss-share: the consumer failed; trying again");
                    tokio::select! {
                        _ = shutdown.wait() => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }

    async fn handle(&self, delivery: Delivery) {
        let event = match ShareRequested::decode(delivery.message.payload.clone()) {
            Ok(e) => e,
            Err(_) => {
                // Never deliverable: said once, without the content, and dropped.
                tracing::warn!(
                    stream_sequence = delivery.stream_sequence,
                    "mss-share: a ShareRequested that does not decode, dropped"
                );
                settle(delivery, Settle::Ack).await;
                return;
            }
        };
        let channels: Vec<Channel> = mss_channels(&event);
        if channels.is_empty() {
            settle(delivery, Settle::Ack).await;
            return;
        }
        // A long send keeps its delivery: the ack wait restarts while it runs.
        let beat = (self.settings.ack_wait / 3).max(Duration::from_millis(100));
        let work = self.share(&event, &channels, delivery.deliveries);
        tokio::pin!(work);
        let outcome = loop {
            tokio::select! {
                outcome = &mut work => break outcome,
                _ = tokio::time::sleep(beat) => {
                    if let Err(e) = delivery.in_progress().await {
                        tracing::debug!(error = %e, "mss-share: heartbeat failed");
                    }
                }
            }
        };
        let how = match outcome {
            Ok(how) => how,
            Err(e) => {
                tracing::warn!(share_id = %event.share_id, error = %e, "mss-share: delivered again later");
                Settle::Nak(self.settings.backoff(delivery.deliveries))
            }
        };
        settle(delivery, how).await;
    }

    /// One share's MSSanté channels: sent (or found sent), results published.
    async fn share(
        &self,
        event: &ShareRequested,
        channels: &[Channel],
        deliveries: u64,
    ) -> Result<Settle, Retry> {
        let share_id = event.share_id.trim();
        let Some(req) = event.mss.clone() else {
            let failed = channels
                .iter()
                .map(|c| {
                    failed(
                        event,
                        *c,
                        "the share carries no MSSanté request (mss): share it again",
                        reasons::INVALID_REQUEST,
                    )
                })
                .collect();
            self.publish(event, failed).await?;
            return Ok(Settle::Ack);
        };
        if passerelle_bus::kv::validate_key(share_id).is_err() {
            let failed = channels
                .iter()
                .map(|c| {
                    failed(
                        event,
                        *c,
                        "the share id cannot key the outbox",
                        reasons::INVALID_REQUEST,
                    )
                })
                .collect();
            self.publish(event, failed).await?;
            return Ok(Settle::Ack);
        }

        // A channel whose audience the request does not name cannot run: said, not sent.
        let mut results = Vec::new();
        let mut runnable = Vec::new();
        for &channel in channels {
            let named = match channel {
                Channel::MssPro => !req.to.is_empty() || !req.cc.is_empty(),
                _ => req.to_patient,
            };
            if named {
                runnable.push(channel);
            } else {
                results.push(failed(
                    event,
                    channel,
                    not_named(channel),
                    reasons::INVALID_REQUEST,
                ));
            }
        }

        let mut record = match self.outbox.get(share_id).await? {
            Some(entry) => Some(serde_json::from_slice::<OutboxRecord>(&entry.value)?),
            None => None,
        };
        let mut to_send = Vec::new();
        for &channel in &runnable {
            match record.as_ref().and_then(|r| r.sent_for(channel)) {
                Some(id) => results.push(done(event, channel, id, true)),
                None => to_send.push(channel),
            }
        }
        if to_send.is_empty() {
            self.publish(event, results).await?;
            return Ok(Settle::Ack);
        }

        let last = deliveries >= u64::from(self.settings.max_deliver);
        if let Permit::Rejected { since, retry_in } = self.breaker.try_acquire() {
            if !last {
                // Not before the trial may go, nor later than the backoff would have said.
                let delay = retry_in.min(self.settings.backoff(deliveries));
                tracing::info!(
                    share_id,
                    deliveries,
                    delay_ms = delay.as_millis() as u64,
                    "mss-share: the MSSanté server's circuit is open, the share waits"
                );
                return Ok(Settle::Nak(delay));
            }
            let detail = format!(
                "the MSSanté server is failing: circuit open since {}; given up after {deliveries} deliveries",
                format_since(since)
            );
            for &channel in &to_send {
                results.push(failed(event, channel, &detail, REASON_CIRCUIT_OPEN));
            }
            self.publish(event, results).await?;
            return Ok(Settle::Ack);
        }

        let mut req = req;
        let mut resent = 0;
        if let Some(r) = &record {
            if r.professionals.is_some() {
                // Already at the professionals: not again.
                req.to.clear();
                req.cc.clear();
            }
            if r.state == OutboxState::Sending {
                resent = r.resent_in_window + 1;
                RESENT_IN_WINDOW.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    share_id,
                    attempt = event.attempt,
                    "mss-share: this share's send was interrupted inside the SMTP window; \
                     sending again with the same Message-IDs (a receiver may get it twice)"
                );
            }
        }
        let mut sending = record
            .clone()
            .unwrap_or_else(|| OutboxRecord::sending(event.attempt));
        sending.state = OutboxState::Sending;
        sending.attempt = event.attempt;
        sending.resent_in_window = sending.resent_in_window.max(resent);
        self.write(share_id, &sending).await?;
        record = Some(sending);

        let id = RequestId::parse(&event.request_id).unwrap_or_else(RequestId::generate);
        let outcome = self.core.send(&id, req).await;
        let mut after = record.unwrap_or_else(|| OutboxRecord::sending(event.attempt));
        let settle = match outcome {
            Ok(response) => {
                self.breaker.record_success();
                for m in &response.messages {
                    if m.audience == api::Audience::Professionals as i32 {
                        after.professionals = Some(m.message_id.clone());
                    } else if m.audience == api::Audience::Patient as i32 {
                        after.patient = Some(m.message_id.clone());
                    }
                }
                after.state = OutboxState::Sent;
                self.write(share_id, &after).await?;
                for &channel in &to_send {
                    results.push(match after.sent_for(channel) {
                        Some(id) => done(event, channel, id, false),
                        None => {
                            failed(event, channel, not_named(channel), reasons::INVALID_REQUEST)
                        }
                    });
                }
                Settle::Ack
            }
            Err(MssServiceError::PartlySent { sent, error }) => {
                // The server took a message: it answers.
                self.breaker.record_success();
                // The professionals' message goes first: it is the one that went.
                after.professionals = Some(sent);
                after.state = OutboxState::Failed;
                self.write(share_id, &after).await?;
                let status = Status::from(MssServiceError::Smtp(error));
                let reason = summarise(&status).reason.unwrap_or_default();
                for &channel in &to_send {
                    results.push(match after.sent_for(channel) {
                        Some(id) => done(event, channel, id, false),
                        None => failed(
                            event,
                            channel,
                            &format!(
                                "the professionals' message went, this one did not: {} (retry the share: the professionals' message is not sent again)",
                                status.message()
                            ),
                            &reason,
                        ),
                    });
                }
                Settle::Ack
            }
            Err(e) => {
                let rule = match &e {
                    MssServiceError::Refused(r) => r.ids().join(","),
                    _ => String::new(),
                };
                after.state = OutboxState::Failed;
                self.write(share_id, &after).await?;
                let status = Status::from(e);
                let reason = summarise(&status).reason.unwrap_or_default();
                let transient = is_transient(status.code());
                if transient {
                    self.breaker.record_failure();
                } else {
                    // The server (or the rules) answered: a refusal is not an outage.
                    self.breaker.record_success();
                }
                if transient && !last {
                    tracing::info!(
                        share_id,
                        deliveries,
                        reason,
                        "mss-share: a transient failure, the share will be delivered again"
                    );
                    return Ok(Settle::Nak(self.settings.backoff(deliveries)));
                }
                let mut detail = status.message().to_owned();
                if !rule.is_empty() && !detail.contains(&rule) {
                    detail = format!("{detail} (rule {rule})");
                }
                if transient {
                    detail = format!("given up after {deliveries} deliveries: {detail}");
                }
                for &channel in &to_send {
                    results.push(failed(event, channel, &detail, &reason));
                }
                Settle::Ack
            }
        };
        self.publish(event, results).await?;
        Ok(settle)
    }

    async fn write(&self, share_id: &str, record: &OutboxRecord) -> Result<(), Retry> {
        self.outbox
            .put(share_id, Bytes::from(serde_json::to_vec(record)?))
            .await?;
        Ok(())
    }

    /// Each result, durably, with its deduplication id.
    async fn publish(
        &self,
        event: &ShareRequested,
        results: Vec<ShareChannelResult>,
    ) -> Result<(), Retry> {
        for result in results {
            let token = match Channel::try_from(result.channel) {
                Ok(Channel::MssPro) => "mss-pro",
                _ => "mss-citizen",
            };
            let mut headers = Headers::new();
            headers.insert(
                HEADER_MSG_ID.to_owned(),
                format!("{}.{token}.{}", event.share_id, event.attempt),
            );
            self.bus
                .publish_durable(
                    EVENTS_SHARE_CHANNEL_RESULT,
                    headers,
                    Bytes::from(result.encode_to_vec()),
                )
                .await?;
        }
        Ok(())
    }
}

/// The codes worth delivering again: the server not answering, not yet.
fn is_transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::Aborted | Code::ResourceExhausted
    )
}

fn not_named(channel: Channel) -> &'static str {
    match channel {
        Channel::MssPro => {
            "the MSSanté request names no professional (to, cc): share it again with them"
        }
        _ => {
            "the MSSanté request does not ask for the patient's mailbox (to_patient): share it again with it"
        }
    }
}

/// The event's MSSanté channels, each once, in order.
fn mss_channels(event: &ShareRequested) -> Vec<Channel> {
    let mut channels = Vec::new();
    for c in &event.channels {
        if let Ok(c @ (Channel::MssPro | Channel::MssCitizen)) = Channel::try_from(*c)
            && !channels.contains(&c)
        {
            channels.push(c);
        }
    }
    channels
}

fn done(
    event: &ShareRequested,
    channel: Channel,
    message_id: &str,
    earlier: bool,
) -> ShareChannelResult {
    let whom = match channel {
        Channel::MssPro => "to the professionals",
        _ => "to the patient's mailbox",
    };
    ShareChannelResult {
        share_id: event.share_id.clone(),
        attempt: event.attempt,
        channel: channel as i32,
        state: ChannelState::Done as i32,
        detail: if earlier {
            format!("sent {whom} (recorded earlier, not sent again)")
        } else {
            format!("sent {whom}")
        },
        reference: message_id.to_owned(),
        reason: String::new(),
    }
}

fn failed(
    event: &ShareRequested,
    channel: Channel,
    detail: &str,
    reason: &str,
) -> ShareChannelResult {
    ShareChannelResult {
        share_id: event.share_id.clone(),
        attempt: event.attempt,
        channel: channel as i32,
        state: ChannelState::Failed as i32,
        detail: detail.to_owned(),
        reference: String::new(),
        reason: reason.to_owned(),
    }
}

async fn settle(delivery: Delivery, how: Settle) {
    let done = match how {
        Settle::Ack => delivery.ack().await,
        Settle::Nak(delay) => delivery.nak(Some(delay)).await,
    };
    if let Err(e) = done {
        // Not settled: the ack wait runs out and it comes again (the outbox holds the send).
        tracing::warn!(error = %e, "mss-share: a delivery could not be settled");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_grows_and_stays_bounded() {
        let s = ShareSettings {
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(10),
            ..ShareSettings::default()
        };
        for _ in 0..20 {
            let first = s.backoff(1);
            assert!(first >= Duration::from_secs(1) && first <= Duration::from_secs(2));
            let third = s.backoff(3);
            assert!(third >= Duration::from_secs(4) && third <= Duration::from_secs(8));
            let late = s.backoff(50);
            assert!(late >= Duration::from_secs(5) && late <= Duration::from_secs(10));
        }
    }

    #[test]
    fn only_the_mss_channels_count() {
        let event = ShareRequested {
            channels: vec![
                Channel::Dmp as i32,
                Channel::MssCitizen as i32,
                Channel::MssCitizen as i32,
                99,
            ],
            ..Default::default()
        };
        assert_eq!(mss_channels(&event), [Channel::MssCitizen]);
        let dmp = ShareRequested {
            channels: vec![Channel::Dmp as i32],
            ..Default::default()
        };
        assert!(mss_channels(&dmp).is_empty());
    }
}
