//! Audit records: the keyed hash that links events to a patient's INS without revealing it,
//! and durable publication off the caller's path. Every service that calls a national
//! service on a patient's behalf audits through here.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use passerelle_bus::{Headers, SharedBus};
use passerelle_domain::Ins;
use ring::hmac;
use serde::{Deserialize, Serialize};
use tokio_util::task::TaskTracker;

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

/// Publishes audit records durably (JetStream on NATS), the acknowledgement awaited in the
/// background so that the caller does not wait for it; a failure is logged, not returned (the
/// national service's answer is already there and must reach the caller). [`flush`] waits for
/// every pending record, on shutdown.
///
/// [`flush`]: DurablePublisher::flush
#[derive(Clone)]
pub struct DurablePublisher {
    bus: Option<SharedBus>,
    pending: TaskTracker,
}

impl DurablePublisher {
    /// `None`: records are dropped (tests of the logic without a bus).
    pub fn new(bus: Option<SharedBus>) -> Self {
        Self {
            bus,
            pending: TaskTracker::new(),
        }
    }

    /// Publishes `payload` on `subject` in the background.
    pub fn publish(&self, subject: &'static str, headers: Headers, payload: Bytes) {
        let Some(bus) = self.bus.clone() else { return };
        self.pending.spawn(async move {
            if let Err(e) = bus.publish_durable(subject, headers, payload).await {
                tracing::error!(error = %e, subject, "could not record an audit or event record");
            }
        });
    }

    /// Waits until every record was acknowledged (or its failure logged).
    pub async fn flush(&self) {
        self.pending.close();
        self.pending.wait().await;
        self.pending.reopen();
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
