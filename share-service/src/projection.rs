//! The status projection: the durable consumer `share-status` takes each
//! `ShareChannelResult` and applies it to the share's record (compare-and-set; a result of
//! an older attempt changes nothing), then acknowledges it. Runs in the worker role.

use std::time::Duration;

use passerelle_bus::consumer::{ConsumerConfig, Delivery, DurableConsumer};
use passerelle_bus::{BusError, SharedBus, subjects};
use passerelle_proto::share::v1::ShareChannelResult;
use passerelle_service_kit::Shutdown;
use prost::Message;
use tokio::task::JoinHandle;

use crate::config::ShareConfig;
use crate::errors::ShareError;
use crate::status::StatusStore;

/// The durable consumer's name.
pub const CONSUMER: &str = "share-status";

/// How long a failed store write waits before the result is delivered again.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// The consumer's settings from the service's.
pub fn consumer_config(config: &ShareConfig) -> ConsumerConfig {
    ConsumerConfig {
        ack_wait: config.consumer_ack_wait,
        max_deliver: config.consumer_max_deliver,
        ..ConsumerConfig::new(CONSUMER, subjects::EVENTS_SHARE_CHANNEL_RESULT)
    }
}

/// A running projection; [`Projection::wait`] after its shutdown.
pub struct Projection {
    task: JoinHandle<()>,
}

impl Projection {
    /// Opens the consumer (start-up fails if the bus refuses it) and applies results until
    /// `shutdown`.
    pub async fn start(
        bus: &SharedBus,
        config: &ShareConfig,
        store: StatusStore,
        shutdown: Shutdown,
    ) -> Result<Self, BusError> {
        let consumer = bus.durable_consumer(&consumer_config(config)).await?;
        let task = tokio::spawn(run(consumer, store, shutdown));
        Ok(Self { task })
    }

    pub async fn wait(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the share status projection failed");
        }
    }
}

async fn run(mut consumer: Box<dyn DurableConsumer>, store: StatusStore, shutdown: Shutdown) {
    loop {
        let delivery = tokio::select! {
            d = consumer.next() => d,
            () = shutdown.wait() => return,
        };
        match delivery {
            Ok(d) => settle(&store, d).await,
            Err(e) => {
                tracing::warn!(error = %e, "share-status: no result could be taken; trying again");
                tokio::select! {
                    () = tokio::time::sleep(RETRY_DELAY) => {}
                    () = shutdown.wait() => return,
                }
            }
        }
    }
}

async fn settle(store: &StatusStore, delivery: Delivery) {
    let settled = match ShareChannelResult::decode(delivery.message.payload.clone()) {
        Err(e) => {
            // Never readable: delivering it again would not help.
            tracing::error!(error = %e, seq = delivery.stream_sequence, "share-status: an unreadable result was dropped");
            delivery.ack().await
        }
        Ok(result) => match apply(store, &result).await {
            Ok(changed) => {
                tracing::debug!(
                    share_id = result.share_id,
                    changed,
                    "share-status: result applied"
                );
                delivery.ack().await
            }
            Err(ShareError::NotFound(id)) => {
                tracing::warn!(
                    share_id = id,
                    "share-status: a result of an unknown share was dropped"
                );
                delivery.ack().await
            }
            Err(e) => {
                tracing::warn!(share_id = result.share_id, error = %e, "share-status: result not applied; it will be delivered again");
                delivery.nak(Some(RETRY_DELAY)).await
            }
        },
    };
    if let Err(e) = settled {
        tracing::warn!(error = %e, "share-status: a result could not be settled; it will be delivered again");
    }
}

/// Applies one result to its share; whether it changed the status.
pub async fn apply(store: &StatusStore, result: &ShareChannelResult) -> Result<bool, ShareError> {
    let (_, changed) = store
        .update(&result.share_id, |record| {
            Ok(record.apply(result).then_some(()))
        })
        .await?;
    Ok(changed.is_some())
}
