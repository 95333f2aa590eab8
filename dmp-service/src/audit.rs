//! An audit record for every call made to the DMP: who, which transaction, the access mode and
//! the caller's reason for an emergency access (the VIHF carries only the mode's code), a keyed
//! hash of the INS — never the INS, traits nor content.

use std::time::Duration;

use passerelle_bus::subjects;
use passerelle_domain::Ins;
use passerelle_proto::common::v1::Actor;
use passerelle_proto::events::v1::DmpCallAudited;
use passerelle_service_kit::RequestId;
use passerelle_service_kit::audit::{DurablePublisher, InsHasher, now_unix_ms};
use prost::Message;

use crate::access::Purpose;
use crate::client::DmpError;

/// One DMP call, as audited.
pub struct AuditedCall<'a> {
    pub request_id: &'a RequestId,
    pub actor: &'a Actor,
    pub transaction: &'static str,
    pub message_id: uuid::Uuid,
    pub purpose: &'a Purpose,
    pub ins: Option<&'a Ins>,
    pub error: Option<&'a DmpError>,
    pub duration: Duration,
}

/// The record of one call. Pure, so what is published can be checked without a bus.
pub fn event(call: &AuditedCall<'_>, hasher: &InsHasher) -> DmpCallAudited {
    DmpCallAudited {
        request_id: call.request_id.to_string(),
        actor: Some(call.actor.clone()),
        transaction: call.transaction.to_owned(),
        message_id: call.message_id.to_string(),
        attempt: 1,
        purpose_of_use: call.purpose.code().to_owned(),
        reason: call.purpose.reason.clone().unwrap_or_default(),
        ins_hash: call.ins.map(|i| hasher.hash(i)).unwrap_or_default(),
        error: call
            .error
            .map(|e| e.upstream_code().unwrap_or(e.kind()).to_owned())
            .unwrap_or_default(),
        duration_ms: call.duration.as_millis().min(u32::MAX as u128) as u32,
        at_unix_ms: now_unix_ms(),
    }
}

/// Logs the call (ids, codes, durations) and publishes its record durably.
pub fn publish(publisher: &DurablePublisher, request_id: &RequestId, record: DmpCallAudited) {
    tracing::info!(
        transaction = %record.transaction,
        message_id = %record.message_id,
        purpose_of_use = %record.purpose_of_use,
        error = %record.error,
        duration_ms = record.duration_ms,
        "DMP call"
    );
    publisher.publish(
        subjects::EVENTS_AUDIT_DMP,
        request_id.bus_headers(),
        record.encode_to_vec().into(),
    );
}
