//! Key-value buckets behind the bus: JetStream KV on NATS, an embedded store in-process.
//!
//! Both follow JetStream KV semantics: every write gets a revision, increasing within the
//! bucket (not per key); `create` writes only if the key is absent (never written, or
//! deleted); `update` writes only if the key's current revision is the one given
//! (compare-and-set). Reach a bucket with [`crate::Bus::key_value`].

use std::sync::Arc;

use bytes::Bytes;

use crate::BusError;

/// One value and the revision that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    pub key: String,
    pub value: Bytes,
    pub revision: u64,
}

/// Why a key-value operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// `create` found the key present: read it, then `update` it with its revision.
    #[error("key {key:?} already exists in bucket {bucket}")]
    AlreadyExists { bucket: String, key: String },

    /// `update` found another revision than the one given: someone else wrote the key in
    /// between. Read it again and retry, or give up.
    #[error("key {key:?} of bucket {bucket} is not at revision {expected}")]
    WrongRevision {
        bucket: String,
        key: String,
        expected: u64,
    },

    /// The key cannot be stored under JetStream's rules (letters, digits, `-/_=.`, no
    /// leading or trailing dot): a programming or input error.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey { key: String, reason: String },

    /// The bucket name is not `[A-Za-z0-9_-]+`.
    #[error("invalid bucket name {bucket:?}: letters, digits, '-' and '_' only")]
    InvalidBucket { bucket: String },

    /// The bus or the store underneath failed (connection, disk, value too large).
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// One bucket. Cheap to share; every handle on the same bucket sees the same data.
#[async_trait::async_trait]
pub trait KeyValue: Send + Sync {
    /// The bucket's name.
    fn bucket(&self) -> &str;

    /// The current value, `None` if the key was never written or was deleted.
    async fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError>;

    /// Writes whatever is there; returns the new revision.
    async fn put(&self, key: &str, value: Bytes) -> Result<u64, KvError>;

    /// Writes only if the key is absent, else [`KvError::AlreadyExists`].
    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError>;

    /// Writes only if the key is at `expected_revision`, else [`KvError::WrongRevision`].
    async fn update(&self, key: &str, value: Bytes, expected_revision: u64)
    -> Result<u64, KvError>;

    /// Deletes the key (absent afterwards; deleting an absent key is not an error).
    async fn delete(&self, key: &str) -> Result<(), KvError>;

    /// The keys present, sorted.
    async fn keys(&self) -> Result<Vec<String>, KvError>;
}

/// A bucket as services hold it.
pub type SharedKeyValue = Arc<dyn KeyValue>;

/// The error of opening a bucket, as the bus reports it.
pub(crate) fn kv_open_error(e: KvError) -> BusError {
    match e {
        KvError::Bus(e) => e,
        KvError::InvalidBucket { bucket } => BusError::InvalidSubject {
            subject: bucket,
            reason: "a bucket name has letters, digits, '-' and '_' only".to_owned(),
        },
        other => BusError::Storage(other.to_string()),
    }
}

/// Checks a bucket name as JetStream does.
pub fn validate_bucket(bucket: &str) -> Result<(), KvError> {
    let valid = !bucket.is_empty()
        && bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(KvError::InvalidBucket {
            bucket: bucket.to_owned(),
        })
    }
}

/// Checks a key as JetStream does, so that the embedded store rejects what NATS would.
pub fn validate_key(key: &str) -> Result<(), KvError> {
    let invalid = |reason: &str| {
        Err(KvError::InvalidKey {
            key: key.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if key.is_empty() {
        return invalid("empty");
    }
    if key.starts_with('.') || key.ends_with('.') || key.contains("..") {
        return invalid("no leading, trailing or double dot");
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-/_=.".contains(c))
    {
        return invalid("letters, digits and '-/_=.' only");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        assert!(validate_bucket("sessions_v1-a").is_ok());
        for bad in ["", "a.b", "a b", "é"] {
            assert!(validate_bucket(bad).is_err(), "{bad:?}");
        }
        assert!(validate_key("job.42/state=ok_1-x").is_ok());
        for bad in ["", ".a", "a.", "a..b", "a b", "a*", "a>", "é"] {
            assert!(
                matches!(validate_key(bad), Err(KvError::InvalidKey { .. })),
                "{bad:?}"
            );
        }
    }
}
