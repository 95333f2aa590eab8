//! The DMP channel of sharing: the durable consumer `dmp-share` takes each `ShareRequested`
//! naming `CHANNEL_DMP`, runs its deposit through the core, publishes the channel's
//! `ShareChannelResult` durably, then acknowledges.
//!
//! A redelivery (crash, lost acknowledgement, a retried share) runs the same deposit again:
//! its idempotency key (the share id) gives the same uniqueId, so the DMP gets nothing new
//! (`already_present`) and the result is the same; the result's `Nats-Msg-Id`
//! (`<share_id>.dmp.<attempt>`) stores it once. A transient failure is delivered again after
//! a bounded, jittered backoff; a permanent one, or a transient one on the last delivery, is
//! published as FAILED with the error's message and reason.

use std::time::Duration;

use bytes::Bytes;
use passerelle_bus::consumer::{
    ConsumerConfig, DEFAULT_ACK_WAIT, DEFAULT_MAX_DELIVER, Delivery, DurableConsumer,
};
use passerelle_bus::{BusError, Headers, SharedBus, subjects};
use passerelle_proto::dmp::v1 as api;
use passerelle_proto::share::v1::{Channel, ChannelState, ShareChannelResult, ShareRequested};
use passerelle_service_kit::breaker::{CircuitBreaker, Permit, REASON_CIRCUIT_OPEN, format_since};
use passerelle_service_kit::errors::summarise;
use passerelle_service_kit::{RequestId, Shutdown};
use prost::Message as _;
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tonic::Code;

use crate::errors::{DmpServiceError, reasons};
use crate::service::DmpCore;

/// The durable consumer's name: every dmp-service replica shares it.
pub const CONSUMER_NAME: &str = "dmp-share";

/// `[share]`: the `dmp-share` consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShareSettings {
    /// Run the consumer in the worker role (false: this replica does not take shares).
    pub enabled: bool,
    /// A delivery neither settled nor reported in progress this long is delivered again
    /// (long deposits report progress every third of it).
    #[serde(with = "humantime_serde")]
    pub ack_wait: Duration,
    /// Deliveries of one share at most; a transient failure on the last is published FAILED.
    pub max_deliver: u32,
    /// The wait before the second delivery after a transient failure; doubled each time.
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    /// The longest wait between two deliveries.
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// Consecutive transient DMP failures that open the circuit: no DMP call then until
    /// `breaker_cooldown` passed (one trial call decides whether it closes).
    pub breaker_failures: u32,
    /// How long an open circuit stays open.
    #[serde(with = "humantime_serde")]
    pub breaker_cooldown: Duration,
}

impl Default for ShareSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            ack_wait: DEFAULT_ACK_WAIT,
            max_deliver: DEFAULT_MAX_DELIVER,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

impl ShareSettings {
    /// The consumer's bus settings.
    pub fn consumer(&self) -> ConsumerConfig {
        ConsumerConfig {
            name: CONSUMER_NAME.to_owned(),
            filter_subject: subjects::EVENTS_SHARE_REQUESTED.to_owned(),
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
        }
    }

    /// The wait before delivering again after the `deliveries`-th delivery failed
    /// transiently: `backoff_base` doubled each time, at most `backoff_max`, then a random
    /// part of its upper half taken off so that replicas do not retry in step.
    pub fn backoff(&self, deliveries: u64) -> Duration {
        let doublings = u32::try_from(deliveries.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(30);
        let ceiling = self
            .backoff_base
            .saturating_mul(1 << doublings)
            .min(self.backoff_max);
        let half = ceiling / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::rng().random_range(0..=jitter_ms))
    }
}

/// The running consumer (none when `share.enabled` is false).
pub struct ShareConsumer {
    task: Option<JoinHandle<()>>,
}

impl ShareConsumer {
    /// Opens the durable consumer (start-up fails if the bus refuses it) and takes shares
    /// until `shutdown`; the share in hand is finished first.
    pub async fn start(
        settings: &ShareSettings,
        core: DmpCore,
        bus: SharedBus,
        shutdown: Shutdown,
    ) -> Result<Self, BusError> {
        if !settings.enabled {
            tracing::info!("share.enabled is false: this replica takes no DMP share");
            return Ok(Self { task: None });
        }
        let config = settings.consumer();
        config.validate()?;
        let consumer = bus.durable_consumer(&config).await?;
        let worker = ShareWorker {
            core,
            bus,
            settings: settings.clone(),
            breaker: CircuitBreaker::new(settings.breaker_failures, settings.breaker_cooldown),
        };
        let task = tokio::spawn(worker.run(consumer, shutdown));
        Ok(Self { task: Some(task) })
    }

    /// Waits until the consumer stopped (after shutdown).
    pub async fn wait(self) {
        if let Some(task) = self.task
            && let Err(error) = task.await
        {
            tracing::error!(%error, "the dmp-share consumer ended abnormally");
        }
    }
}

struct ShareWorker {
    core: DmpCore,
    bus: SharedBus,
    settings: ShareSettings,
    /// The DMP's circuit: open, the shares wait (or fail on their last delivery) without
    /// calling it.
    breaker: CircuitBreaker,
}

/// Why a share's deposit did not happen.
#[derive(Debug)]
struct Failure {
    transient: bool,
    code: Code,
    reason: String,
    message: String,
}

impl From<DmpServiceError> for Failure {
    fn from(e: DmpServiceError) -> Self {
        // The client knows which DMP failures pass (a Receiver fault, a busy registry) even
        // when their status says FAILED_PRECONDITION.
        let upstream_transient = matches!(&e, DmpServiceError::Dmp(d) if d.is_transient());
        let status = tonic::Status::from(e);
        let code = status.code();
        Self {
            transient: upstream_transient || is_transient(code),
            code,
            reason: summarise(&status).reason.unwrap_or_default(),
            message: status.message().to_owned(),
        }
    }
}

/// The codes worth delivering again: the DMP or the bus not answering, not yet.
fn is_transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted | Code::Aborted
    )
}

impl ShareWorker {
    async fn run(self, mut consumer: Box<dyn DurableConsumer>, shutdown: Shutdown) {
        tracing::info!(consumer = CONSUMER_NAME, "taking DMP shares");
        loop {
            let next = tokio::select! {
                () = shutdown.wait() => break,
                next = consumer.next() => next,
            };
            match next {
                Ok(delivery) => self.handle(delivery).await,
                Err(error) => {
                    tracing::warn!(consumer = CONSUMER_NAME, %error, "cannot take the next share");
                    tokio::select! {
                        () = shutdown.wait() => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
        tracing::info!(consumer = CONSUMER_NAME, "stopped taking DMP shares");
    }

    async fn handle(&self, delivery: Delivery) {
        let sequence = delivery.stream_sequence;
        let deliveries = delivery.deliveries;
        let request = match ShareRequested::decode(delivery.message.payload.clone()) {
            Ok(r) => r,
            Err(_) => {
                // Delivering it again would not make it decode.
                tracing::warn!(
                    stream_sequence = sequence,
                    "a share.requested event that is not a ShareRequested: set aside"
                );
                settle(delivery.ack().await, sequence);
                return;
            }
        };
        if !request.channels.contains(&(Channel::Dmp as i32)) {
            settle(delivery.ack().await, sequence);
            return;
        }
        let share_id = request.share_id.clone();
        let attempt = request.attempt;
        let last = deliveries >= u64::from(self.settings.max_deliver);
        if let Permit::Rejected { since, retry_in } = self.breaker.try_acquire() {
            let result = if last {
                tracing::warn!(
                    %share_id, attempt, deliveries,
                    "DMP share failed: the DMP's circuit is open"
                );
                ShareChannelResult {
                    state: ChannelState::Failed as i32,
                    detail: format!(
                        "the DMP is failing: circuit open since {}; given up after {deliveries} tries",
                        format_since(since)
                    ),
                    reason: REASON_CIRCUIT_OPEN.to_owned(),
                    ..result_of(&request)
                }
            } else {
                // Not before the trial may go, nor later than the backoff would have said.
                let delay = retry_in.min(self.settings.backoff(deliveries));
                tracing::info!(
                    %share_id, attempt, deliveries, delay_ms = delay.as_millis() as u64,
                    "the DMP's circuit is open: the share waits"
                );
                settle(delivery.nak(Some(delay)).await, sequence);
                return;
            };
            self.finish(delivery, &result, deliveries).await;
            return;
        }
        let outcome = self.heartbeat(&delivery, self.deposit(&request)).await;
        match &outcome {
            Err(failure) if failure.transient => self.breaker.record_failure(),
            // The DMP answered (a refusal too), or was not needed.
            _ => self.breaker.record_success(),
        }
        let result = match outcome {
            Ok(done) => {
                tracing::info!(
                    %share_id, attempt, deliveries, already_present = done.already_present,
                    "DMP share deposited"
                );
                ShareChannelResult {
                    state: ChannelState::Done as i32,
                    detail: if done.already_present {
                        "already in the DMP".to_owned()
                    } else {
                        "deposited".to_owned()
                    },
                    reference: done.unique_id,
                    ..result_of(&request)
                }
            }
            Err(failure) if failure.transient && !last => {
                let delay = self.settings.backoff(deliveries);
                tracing::warn!(
                    %share_id, attempt, deliveries, code = ?failure.code, reason = %failure.reason,
                    delay_ms = delay.as_millis() as u64,
                    "DMP share failed for now: delivered again later"
                );
                settle(delivery.nak(Some(delay)).await, sequence);
                return;
            }
            Err(failure) => {
                tracing::warn!(
                    %share_id, attempt, deliveries, code = ?failure.code, reason = %failure.reason,
                    transient = failure.transient, "DMP share failed"
                );
                let detail = if failure.transient {
                    format!(
                        "still failing after {deliveries} tries, given up: {}",
                        failure.message
                    )
                } else {
                    failure.message
                };
                ShareChannelResult {
                    state: ChannelState::Failed as i32,
                    detail,
                    reason: failure.reason,
                    ..result_of(&request)
                }
            }
        };
        self.finish(delivery, &result, deliveries).await;
    }

    /// Publishes the channel's result, then acknowledges.
    async fn finish(&self, delivery: Delivery, result: &ShareChannelResult, deliveries: u64) {
        let sequence = delivery.stream_sequence;
        match self.publish(result).await {
            Ok(()) => settle(delivery.ack().await, sequence),
            Err(error) => {
                // Not acknowledged: the next delivery deposits nothing new and publishes again.
                tracing::warn!(
                    share_id = %result.share_id, attempt = result.attempt, %error,
                    "cannot publish the DMP share's result"
                );
                let delay = self.settings.backoff(deliveries);
                settle(delivery.nak(Some(delay)).await, sequence);
            }
        }
    }

    /// The share's deposit, by the core, as a request of the share.
    async fn deposit(&self, request: &ShareRequested) -> Result<api::DepositResponse, Failure> {
        let id = RequestId::parse(&request.request_id)
            .or_else(|| RequestId::parse(&request.share_id))
            .unwrap_or_else(RequestId::generate);
        let outcome = match &request.dmp {
            Some(passerelle_proto::share::v1::share_requested::Dmp::Deposit(d)) => {
                self.core.deposit(&id, d.clone()).await
            }
            Some(passerelle_proto::share::v1::share_requested::Dmp::DepositVsm(d)) => {
                self.core.deposit_vsm(&id, d.clone()).await
            }
            None => {
                return Err(Failure {
                    transient: false,
                    code: Code::InvalidArgument,
                    reason: reasons::INVALID_REQUEST.to_owned(),
                    message: "the share names the DMP channel but carries no deposit".to_owned(),
                });
            }
        };
        outcome.map_err(Failure::from)
    }

    /// Runs `work`, telling the bus it is in progress every third of the ack wait so that a
    /// long deposit is not delivered again meanwhile.
    async fn heartbeat<T>(&self, delivery: &Delivery, work: impl Future<Output = T>) -> T {
        let every = (self.settings.ack_wait / 3).max(Duration::from_millis(100));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = tick.tick() => {
                    if let Err(error) = delivery.in_progress().await {
                        tracing::debug!(%error, "cannot report the share in progress");
                    }
                }
            }
        }
    }

    async fn publish(&self, result: &ShareChannelResult) -> Result<(), BusError> {
        let headers = Headers::from([(
            subjects::HEADER_MSG_ID.to_owned(),
            format!("{}.dmp.{}", result.share_id, result.attempt),
        )]);
        self.bus
            .publish_durable(
                subjects::EVENTS_SHARE_CHANNEL_RESULT,
                headers,
                Bytes::from(result.encode_to_vec()),
            )
            .await
    }
}

fn result_of(request: &ShareRequested) -> ShareChannelResult {
    ShareChannelResult {
        share_id: request.share_id.clone(),
        attempt: request.attempt,
        channel: Channel::Dmp as i32,
        ..Default::default()
    }
}

fn settle(outcome: Result<(), BusError>, sequence: u64) {
    if let Err(error) = outcome {
        // The ack wait runs out and the share is delivered again: harmless, it is idempotent.
        tracing::warn!(stream_sequence = sequence, %error, "cannot settle a share delivery");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_bounds() {
        let s = ShareSettings {
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            ..ShareSettings::default()
        };
        for (deliveries, ceiling) in [(1, 2), (2, 4), (3, 8), (6, 60), (40, 60), (u64::MAX, 60)] {
            let d = s.backoff(deliveries);
            let ceiling = Duration::from_secs(ceiling);
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "{deliveries}: {d:?} not in [{:?}, {ceiling:?}]",
                ceiling / 2
            );
        }
    }

    #[test]
    fn settings_read_from_text() {
        let s: ShareSettings = serde_json::from_str(
            r#"{"enabled": false, "ack_wait": "45s", "max_deliver": 7, "backoff_max": "5m",
                "breaker_failures": 3, "breaker_cooldown": "10s"}"#,
        )
        .unwrap();
        assert_eq!(s.breaker_failures, 3);
        assert_eq!(s.breaker_cooldown, Duration::from_secs(10));
        assert!(!s.enabled);
        assert_eq!(s.ack_wait, Duration::from_secs(45));
        assert_eq!(s.max_deliver, 7);
        assert_eq!(s.backoff_max, Duration::from_secs(300));
        assert_eq!(s.backoff_base, ShareSettings::default().backoff_base);
    }
}
