//! Audit of every INSi call, and the keyed hash that lets events be linked to a patient's INS
//! without revealing it. Events carry ids, codes and hashes — never traits.

use std::time::Duration;

use passerelle_bus::{SharedBus, subjects};
use passerelle_proto::common::v1::Actor;
use passerelle_proto::events::v1::InsiCallAudited;
use passerelle_service_kit::RequestId;
use passerelle_service_kit::audit::DurablePublisher;
use prost::Message;

use crate::insi::{InsiAnswer, InsiError};

pub use passerelle_service_kit::audit::{AuditError, AuditSettings, InsHasher, now_unix_ms};

/// Publishes the audit events of INSi calls.
#[derive(Clone)]
pub struct Auditor {
    publisher: DurablePublisher,
    hasher: InsHasher,
}

/// One INSi call, as audited.
pub struct AuditedCall<'a> {
    pub request_id: &'a RequestId,
    pub actor: Option<&'a Actor>,
    pub operation: &'static str,
    pub message_id: uuid::Uuid,
    pub attempt: u32,
    pub outcome: &'a Result<InsiAnswer, InsiError>,
    pub duration: Duration,
}

impl Auditor {
    pub fn new(bus: Option<SharedBus>, hasher: InsHasher) -> Self {
        Self {
            publisher: DurablePublisher::new(bus),
            hasher,
        }
    }

    /// Waits until every audit record was acknowledged (or its failure logged).
    pub async fn flush(&self) {
        self.publisher.flush().await;
    }

    pub fn hasher(&self) -> &InsHasher {
        &self.hasher
    }

    /// The event of one call. Pure, so what is published can be checked without a bus.
    pub fn event(&self, call: &AuditedCall<'_>) -> InsiCallAudited {
        let (result_code, error, ins_hash) = match call.outcome {
            Ok(a) => (
                a.code.as_str().to_owned(),
                String::new(),
                a.individual
                    .as_ref()
                    .map(|i| self.hasher.hash(&i.active))
                    .unwrap_or_default(),
            ),
            Err(e) => (
                String::new(),
                e.upstream_code().unwrap_or(e.kind()).to_owned(),
                String::new(),
            ),
        };
        InsiCallAudited {
            request_id: call.request_id.to_string(),
            actor: call.actor.cloned(),
            operation: call.operation.to_owned(),
            message_id: call.message_id.to_string(),
            attempt: call.attempt,
            result_code,
            error,
            ins_hash,
            duration_ms: call.duration.as_millis().min(u32::MAX as u128) as u32,
            at_unix_ms: now_unix_ms(),
        }
    }

    /// Publishes the event durably (JetStream on NATS). The acknowledgement is awaited in the
    /// background so that the caller does not wait for it; a failure is logged, not returned:
    /// the INSi answer is already there and must reach the caller.
    pub fn record(&self, call: &AuditedCall<'_>) {
        let event = self.event(call);
        tracing::info!(
            operation = call.operation,
            message_id = %call.message_id,
            attempt = call.attempt,
            result = %event.result_code,
            error = %event.error,
            duration_ms = event.duration_ms,
            "INSi call"
        );
        self.publisher.publish(
            subjects::EVENTS_AUDIT_INSI,
            call.request_id.bus_headers(),
            event.encode_to_vec().into(),
        );
    }
}
