//! JetStream KV buckets.

use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;
use futures::TryStreamExt;

use super::storage;
use crate::BusError;
use crate::kv::{self as bus_kv, KeyValue, KvEntry, KvError};

pub(crate) struct NatsKv {
    store: kv::Store,
    bucket: String,
    max_value: usize,
}

impl NatsKv {
    /// Gets the bucket, creating it (file storage, last value only) if missing. Created as
    /// its stream, like `create_key_value` would: that one first asks for the account's
    /// info, in a form nats-server 2.9 does not answer.
    pub(crate) async fn open(
        context: &jetstream::Context,
        bucket: &str,
        max_value: usize,
    ) -> Result<NatsKv, KvError> {
        bus_kv::validate_bucket(bucket)?;
        let store = match context.get_key_value(bucket).await {
            Ok(store) => store,
            Err(_) => {
                let failed = |e| storage(&format!("key-value bucket {bucket}"), e);
                context
                    .get_or_create_stream(stream::Config {
                        name: format!("KV_{bucket}"),
                        subjects: vec![format!("$KV.{bucket}.>")],
                        max_messages_per_subject: 1,
                        max_bytes: -1,
                        max_message_size: -1,
                        storage: stream::StorageType::File,
                        allow_rollup: true,
                        deny_delete: true,
                        allow_direct: true,
                        num_replicas: 1,
                        discard: stream::DiscardPolicy::New,
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                context
                    .get_key_value(bucket)
                    .await
                    .map_err(|e| failed(e.to_string()))?
            }
        };
        Ok(NatsKv {
            store,
            bucket: bucket.to_owned(),
            max_value,
        })
    }

    fn check(&self, key: &str, value: Option<&Bytes>) -> Result<(), KvError> {
        bus_kv::validate_key(key)?;
        if let Some(value) = value
            && value.len() > self.max_value
        {
            return Err(BusError::PayloadTooLarge {
                subject: format!("{}/{key}", self.bucket),
                detail: format!("{} bytes, at most {}", value.len(), self.max_value),
            }
            .into());
        }
        Ok(())
    }

    fn failed(&self, what: &str, key: &str, e: impl std::fmt::Display) -> KvError {
        storage(&format!("{what} {}/{key}", self.bucket), e).into()
    }
}

#[async_trait::async_trait]
impl KeyValue for NatsKv {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        self.check(key, None)?;
        let entry = self
            .store
            .entry(key)
            .await
            .map_err(|e| self.failed("get", key, e))?;
        Ok(entry
            .filter(|entry| entry.operation == kv::Operation::Put)
            .map(|entry| KvEntry {
                key: key.to_owned(),
                value: entry.value,
                revision: entry.revision,
            }))
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        self.check(key, Some(&value))?;
        self.store
            .put(key, value)
            .await
            .map_err(|e| self.failed("put", key, e))
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        self.check(key, Some(&value))?;
        self.store
            .create(key, value)
            .await
            .map_err(|e| match e.kind() {
                kv::CreateErrorKind::AlreadyExists => KvError::AlreadyExists {
                    bucket: self.bucket.clone(),
                    key: key.to_owned(),
                },
                _ => self.failed("create", key, e),
            })
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_revision: u64,
    ) -> Result<u64, KvError> {
        self.check(key, Some(&value))?;
        self.store
            .update(key, value, expected_revision)
            .await
            .map_err(|e| match e.kind() {
                kv::UpdateErrorKind::WrongLastRevision => KvError::WrongRevision {
                    bucket: self.bucket.clone(),
                    key: key.to_owned(),
                    expected: expected_revision,
                },
                _ => self.failed("update", key, e),
            })
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.check(key, None)?;
        self.store
            .delete(key)
            .await
            .map_err(|e| self.failed("delete", key, e))
    }

    async fn keys(&self) -> Result<Vec<String>, KvError> {
        // Not the client's `Store::keys`: its consumer ends only once caught up with the
        // bucket, and a bucket others keep writing (mailbox leases renewed every few
        // seconds) kept it waiting for minutes (mss-service's ListMessages stalled). The
        // stream's subjects are one answer, paged; a deleted key keeps its subject (its
        // delete marker), so each is checked to be live.
        let prefix = self.store.prefix.clone();
        let subjects: Vec<(String, usize)> = self
            .store
            .stream
            .info_with_subjects(format!("{prefix}>"))
            .await
            .map_err(|e| self.failed("keys", "*", e))?
            .try_collect()
            .await
            .map_err(|e| self.failed("keys", "*", e))?;
        let mut keys = Vec::with_capacity(subjects.len());
        for (subject, _) in subjects {
            if let Some(key) = subject.strip_prefix(&prefix)
                && self.get(key).await?.is_some()
            {
                keys.push(key.to_owned());
            }
        }
        keys.sort();
        Ok(keys)
    }
}
