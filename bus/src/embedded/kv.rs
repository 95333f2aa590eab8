//! Embedded key-value buckets: in memory, and in `kv/<bucket>.json` with a data directory.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{SharedEmbedded, read_json, write_atomically};
use crate::BusError;
use crate::kv::{self, KeyValue, KvEntry, KvError};

#[derive(Default, Clone, Serialize, Deserialize)]
pub(super) struct Bucket {
    /// Last revision given in this bucket.
    revision: u64,
    entries: BTreeMap<String, StoredValue>,
}

#[derive(Clone, Serialize, Deserialize)]
struct StoredValue {
    /// Base64.
    value: String,
    revision: u64,
}

/// A handle on one embedded bucket.
pub(crate) struct EmbeddedKv {
    store: SharedEmbedded,
    bucket: String,
}

impl EmbeddedKv {
    /// Opens `bucket`, reading it from the data directory the first time.
    pub(crate) fn open(store: SharedEmbedded, bucket: &str) -> Result<EmbeddedKv, KvError> {
        kv::validate_bucket(bucket)?;
        let mut state = store.lock();
        if !state.buckets.contains_key(bucket) {
            let loaded = match store.file("kv", bucket) {
                Some(path) => read_json::<Bucket>(&path)?.unwrap_or_default(),
                None => Bucket::default(),
            };
            state.buckets.insert(bucket.to_owned(), loaded);
        }
        drop(state);
        Ok(EmbeddedKv {
            store,
            bucket: bucket.to_owned(),
        })
    }

    /// Applies `change` to a copy of the bucket, persists the copy, then keeps it: a
    /// failed write changes nothing.
    fn write<T>(
        &self,
        key: &str,
        change: impl FnOnce(&mut Bucket) -> Result<T, KvError>,
    ) -> Result<T, KvError> {
        kv::validate_key(key)?;
        let mut state = self.store.lock();
        let mut bucket = state.buckets.get(&self.bucket).cloned().unwrap_or_default();
        let out = change(&mut bucket)?;
        if let Some(path) = self.store.file("kv", &self.bucket) {
            let json = serde_json::to_vec(&bucket)
                .map_err(|e| BusError::Storage(format!("bucket {}: {e}", self.bucket)))?;
            write_atomically(&path, &json)?;
        }
        state.buckets.insert(self.bucket.clone(), bucket);
        Ok(out)
    }

    fn check_size(&self, key: &str, value: &Bytes) -> Result<(), KvError> {
        if value.len() > self.store.max_value {
            return Err(BusError::PayloadTooLarge {
                subject: format!("{}/{key}", self.bucket),
                detail: format!("{} bytes, at most {}", value.len(), self.store.max_value),
            }
            .into());
        }
        Ok(())
    }

    fn set(bucket: &mut Bucket, key: &str, value: &Bytes) -> u64 {
        bucket.revision += 1;
        bucket.entries.insert(
            key.to_owned(),
            StoredValue {
                value: STANDARD.encode(value),
                revision: bucket.revision,
            },
        );
        bucket.revision
    }
}

#[async_trait::async_trait]
impl KeyValue for EmbeddedKv {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        kv::validate_key(key)?;
        let state = self.store.lock();
        let Some(stored) = state
            .buckets
            .get(&self.bucket)
            .and_then(|b| b.entries.get(key))
        else {
            return Ok(None);
        };
        let value = STANDARD.decode(&stored.value).map_err(|e| {
            BusError::Storage(format!(
                "bucket {}, key {key}: unreadable: {e}",
                self.bucket
            ))
        })?;
        Ok(Some(KvEntry {
            key: key.to_owned(),
            value: Bytes::from(value),
            revision: stored.revision,
        }))
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        self.check_size(key, &value)?;
        self.write(key, |bucket| Ok(Self::set(bucket, key, &value)))
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        self.check_size(key, &value)?;
        self.write(key, |bucket| {
            if bucket.entries.contains_key(key) {
                return Err(KvError::AlreadyExists {
                    bucket: self.bucket.clone(),
                    key: key.to_owned(),
                });
            }
            Ok(Self::set(bucket, key, &value))
        })
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_revision: u64,
    ) -> Result<u64, KvError> {
        self.check_size(key, &value)?;
        self.write(key, |bucket| {
            let current = bucket.entries.get(key).map(|v| v.revision);
            if current != Some(expected_revision) {
                return Err(KvError::WrongRevision {
                    bucket: self.bucket.clone(),
                    key: key.to_owned(),
                    expected: expected_revision,
                });
            }
            Ok(Self::set(bucket, key, &value))
        })
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.write(key, |bucket| {
            if bucket.entries.remove(key).is_some() {
                // A delete is a write in JetStream too: it takes a revision.
                bucket.revision += 1;
            }
            Ok(())
        })
    }

    async fn keys(&self) -> Result<Vec<String>, KvError> {
        let state = self.store.lock();
        Ok(state
            .buckets
            .get(&self.bucket)
            .map(|b| b.entries.keys().cloned().collect())
            .unwrap_or_default())
    }
}
