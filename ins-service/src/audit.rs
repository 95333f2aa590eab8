//! Audit of every INSi call, and the keyed hash that lets events be linked to a patient's INS
//! without revealing it. Events carry ids, codes and hashes — never traits.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use passerelle_bus::{SharedBus, subjects};
use passerelle_domain::Ins;
use passerelle_proto::common::v1::Actor;
use passerelle_proto::events::v1::InsiCallAudited;
use passerelle_service_kit::RequestId;
use prost::Message;
use ring::hmac;
use serde::{Deserialize, Serialize};
use tokio_util::task::TaskTracker;

use crate::insi::{InsiAnswer, InsiError};

/// `[audit]` configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditSettings {
    /// Key of the INS hash, hex-encoded (at least 32 bytes). Every replica must share it for
    /// hashes to link; without one a random key is drawn at start-up (hashes then link only
    /// within the process). Set it from a secret: `PASSERELLE__AUDIT__HASH_KEY`.
    pub hash_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit.hash_key must be hex-encoded, at least 32 bytes (64 hex digits)")]
    BadKey,
}

/// HMAC-SHA-256 of an INS under the deployment's key.
#[derive(Clone)]
pub struct InsHasher(hmac::Key);

impl std::fmt::Debug for InsHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InsHasher(<key>)")
    }
}

impl InsHasher {
    pub fn from_settings(s: &AuditSettings) -> Result<Self, AuditError> {
        if s.hash_key.trim().is_empty() {
            tracing::warn!(
                "audit.hash_key is not set: INS hashes link only within this process; set one shared by every replica"
            );
            let mut key = [0u8; 32];
            rand::Rng::fill(&mut rand::rng(), &mut key[..]);
            return Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, &key)));
        }
        let key = hex::decode(s.hash_key.trim()).map_err(|_| AuditError::BadKey)?;
        if key.len() < 32 {
            return Err(AuditError::BadKey);
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, &key)))
    }

    /// Hex HMAC of `OID|matricule key`.
    pub fn hash(&self, ins: &Ins) -> String {
        let data = format!("{}|{}{}", ins.oid(), ins.matricule(), ins.key());
        hex::encode(hmac::sign(&self.0, data.as_bytes()))
    }
}

pub fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Publishes the audit events of INSi calls.
#[derive(Clone)]
pub struct Auditor {
    bus: Option<SharedBus>,
    hasher: InsHasher,
    // Publications waiting for the JetStream acknowledgement, off the caller's path; waited
    // for on shutdown so that no record is dropped.
    pending: TaskTracker,
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
            bus,
            hasher,
            pending: TaskTracker::new(),
        }
    }

    /// Waits until every audit record was acknowledged (or its failure logged).
    pub async fn flush(&self) {
        self.pending.close();
        self.pending.wait().await;
        self.pending.reopen();
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
        let Some(bus) = self.bus.clone() else { return };
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
        let headers = call.request_id.bus_headers();
        self.pending.spawn(async move {
            if let Err(e) = bus
                .publish_durable(
                    subjects::EVENTS_AUDIT_INSI,
                    headers,
                    event.encode_to_vec().into(),
                )
                .await
            {
                tracing::error!(error = %e, "could not record the INSi call audit event");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use passerelle_domain::InsOid;

    use super::*;

    fn hasher(key: &str) -> InsHasher {
        InsHasher::from_settings(&AuditSettings {
            hash_key: key.to_owned(),
        })
        .unwrap()
    }

    #[test]
    fn hash_is_keyed_stable_and_does_not_reveal_the_ins() {
        let ins = Ins::typed("1090763220834", "89", InsOid::Nir).unwrap();
        let a = hasher(&"ab".repeat(32));
        let b = hasher(&"cd".repeat(32));
        assert_eq!(a.hash(&ins), a.hash(&ins));
        assert_ne!(a.hash(&ins), b.hash(&ins));
        assert_eq!(a.hash(&ins).len(), 64);
        assert!(!a.hash(&ins).contains("1090763220834"));
    }

    #[test]
    fn bad_keys_are_refused() {
        for bad in ["xyz", "abcd", &"g".repeat(64)] {
            assert!(
                InsHasher::from_settings(&AuditSettings {
                    hash_key: bad.to_owned()
                })
                .is_err(),
                "{bad}"
            );
        }
    }
}
