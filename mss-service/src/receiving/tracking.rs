//! What the service remembers of each mailbox and message, in a key-value bucket (JetStream
//! KV on NATS, the embedded store otherwise), so that every replica and every restart agree:
//!
//! - `lease.<mailbox>`: which replica reads the mailbox, until when (compare-and-set);
//! - `msg.<mailbox>.<uidvalidity>.<uid>`: one received message and how far its processing
//!   went ([`Phase`]): the record is the exactly-once bookkeeping and what `ListMessages` and
//!   `GetMessage` read;
//! - `mid.<mailbox>.<hash of Message-ID>`: the record's key, to find a message by its id.
//!
//! `<mailbox>` is a hash of the address: addresses hold characters keys cannot, and a
//! patient's address is their INS.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use passerelle_bus::kv::{KvError, SharedKeyValue};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The bucket.
pub const BUCKET: &str = "mss_inbox";

/// How far a message went. Each step is recorded before the next starts, so a restart
/// resumes after the last one recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Documents stored (under ids derived from the message's place: storing again after a
    /// crash stores nothing new); the event not yet known to be published.
    Stored,
    /// `MssMessageReceived` published (a retry carries the same deduplication id).
    Published,
    /// The acknowledgement settled; the message is flagged in the mailbox or about to be.
    Done,
}

/// The acknowledgement's state, as `passerelle.mss.v1.AcknowledgementState` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckState {
    NotRequested,
    /// Recorded before the MDN is handed to SMTP: found after a crash, it becomes
    /// `Uncertain` and is never sent again (at most once).
    Sending,
    Sent,
    Held,
    Failed,
    Uncertain,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRecord {
    pub state: AckState,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub mdn_message_id: String,
}

/// A stored document of the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDocument {
    pub document_id: String,
    /// `attachment`, `xdm`, `xdm-document`, `body`, `raw`.
    pub role: String,
    pub file_name: String,
    pub media_type: String,
    pub size: u64,
    pub sha256: String,
    #[serde(default)]
    pub unique_id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub type_code: String,
    #[serde(default)]
    pub creation_time: String,
}

/// The patient's INS as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsRecord {
    pub matricule: String,
    pub key: String,
    pub oid: String,
    pub oid_qualifies: bool,
}

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub mailbox: String,
    pub uid_validity: u32,
    pub uid: u32,
    pub phase: Phase,
    pub message_id: String,
    pub message_id_derived: bool,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub date: String,
    pub received_unix_ms: i64,
    /// The bodies, when small; a larger one is a `body` document.
    pub text: String,
    pub html: String,
    pub mss_headers: Vec<(String, String)>,
    pub documents: Vec<StoredDocument>,
    pub patient: Option<InsRecord>,
    /// Set when the message was set aside: why, and the guide's code (`207^906`).
    pub problem: Option<(String, String)>,
    pub ack: Option<AckRecord>,
}

impl MessageRecord {
    pub fn set_aside(&self) -> bool {
        self.problem.is_some()
    }
}

/// Who holds a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LeaseRecord {
    owner: String,
    until_unix_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    #[error("the inbox bookkeeping ({BUCKET}): {0}")]
    Store(#[from] KvError),
    #[error("the inbox bookkeeping ({BUCKET}) holds an unreadable record {key}: {reason}")]
    Corrupt { key: String, reason: String },
    /// Another replica took the mailbox over (this one stalled past its lease).
    #[error("the lease on the mailbox was taken over by {owner}")]
    LeaseLost { owner: String },
    /// Another replica wrote the message's record meanwhile (this one stalled past its
    /// lease): this one stops there.
    #[error("another replica wrote {key} meanwhile: this replica's lease ran out; it stops")]
    Conflict { key: String },
}

/// The key part naming a mailbox: 32 hex digits of SHA-256 of the address, lowercased.
pub fn mailbox_key(address: &str) -> String {
    let digest = Sha256::digest(address.trim().to_ascii_lowercase().as_bytes());
    hex::encode(&digest[..16])
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The bookkeeping of one mailbox.
#[derive(Clone)]
pub struct Tracking {
    kv: SharedKeyValue,
    mailbox: String,
    key: String,
}

/// A held lease: renew it before it runs out.
#[derive(Debug)]
pub struct Lease {
    revision: u64,
}

impl Tracking {
    pub fn new(kv: SharedKeyValue, mailbox: &str) -> Self {
        Self {
            kv,
            mailbox: mailbox.to_owned(),
            key: mailbox_key(mailbox),
        }
    }

    pub fn mailbox(&self) -> &str {
        &self.mailbox
    }

    fn lease_key(&self) -> String {
        format!("lease.{}", self.key)
    }

    fn message_key(&self, uid_validity: u32, uid: u32) -> String {
        format!("msg.{}.{uid_validity}.{uid}", self.key)
    }

    fn id_key(&self, message_id: &str) -> String {
        let digest = Sha256::digest(message_id.as_bytes());
        format!("mid.{}.{}", self.key, hex::encode(&digest[..16]))
    }

    /// Takes the mailbox for `ttl` if nobody holds it, its holder let it run out, or we hold
    /// it already. `None`: another replica holds it.
    pub async fn acquire(
        &self,
        owner: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, TrackingError> {
        let key = self.lease_key();
        let value = lease_value(owner, ttl)?;
        match self.kv.get(&key).await? {
            None => match self.kv.create(&key, value).await {
                Ok(revision) => Ok(Some(Lease { revision })),
                Err(KvError::AlreadyExists { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            },
            Some(entry) => {
                let held: LeaseRecord = decode(&key, &entry.value)?;
                if held.owner != owner && held.until_unix_ms > now_ms() {
                    return Ok(None);
                }
                match self.kv.update(&key, value, entry.revision).await {
                    Ok(revision) => Ok(Some(Lease { revision })),
                    Err(KvError::WrongRevision { .. }) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Extends the lease; fails if another replica took it meanwhile.
    pub async fn renew(
        &self,
        lease: &mut Lease,
        owner: &str,
        ttl: Duration,
    ) -> Result<(), TrackingError> {
        let key = self.lease_key();
        match self
            .kv
            .update(&key, lease_value(owner, ttl)?, lease.revision)
            .await
        {
            Ok(revision) => {
                lease.revision = revision;
                Ok(())
            }
            Err(KvError::WrongRevision { .. }) => {
                let owner = match self.kv.get(&key).await? {
                    Some(entry) => decode::<LeaseRecord>(&key, &entry.value)?.owner,
                    None => "nobody".to_owned(),
                };
                Err(TrackingError::LeaseLost { owner })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Lets the mailbox go (at shutdown), so another replica takes it at once.
    pub async fn release(&self, lease: Lease) {
        let key = self.lease_key();
        if let Ok(Some(entry)) = self.kv.get(&key).await
            && entry.revision == lease.revision
        {
            let _ = self.kv.delete(&key).await;
        }
    }

    /// The record of a message, with its revision.
    pub async fn get(
        &self,
        uid_validity: u32,
        uid: u32,
    ) -> Result<Option<(MessageRecord, u64)>, TrackingError> {
        let key = self.message_key(uid_validity, uid);
        match self.kv.get(&key).await? {
            None => Ok(None),
            Some(entry) => Ok(Some((decode(&key, &entry.value)?, entry.revision))),
        }
    }

    /// Writes a record over the revision read (`None`: there is none yet) and returns the
    /// new revision; the first write also indexes its Message-ID. Compare-and-set fences a
    /// replica that stalled past its lease: if another wrote the record meanwhile, this
    /// write fails ([`TrackingError::Conflict`]) instead of both going on (two MDNs).
    pub async fn put(
        &self,
        record: &MessageRecord,
        read: Option<u64>,
    ) -> Result<u64, TrackingError> {
        let key = self.message_key(record.uid_validity, record.uid);
        let value = serde_json::to_vec(record).map_err(|e| TrackingError::Corrupt {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        if read.is_none() {
            self.kv
                .put(&self.id_key(&record.message_id), Bytes::from(key.clone()))
                .await?;
        }
        let written = match read {
            None => self.kv.create(&key, Bytes::from(value)).await,
            Some(revision) => self.kv.update(&key, Bytes::from(value), revision).await,
        };
        match written {
            Ok(revision) => Ok(revision),
            Err(KvError::AlreadyExists { .. } | KvError::WrongRevision { .. }) => {
                Err(TrackingError::Conflict { key })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The record of the message with this Message-ID.
    pub async fn by_message_id(
        &self,
        message_id: &str,
    ) -> Result<Option<MessageRecord>, TrackingError> {
        let Some(entry) = self.kv.get(&self.id_key(message_id)).await? else {
            return Ok(None);
        };
        let key = String::from_utf8_lossy(&entry.value).into_owned();
        match self.kv.get(&key).await? {
            Some(entry) => Ok(Some(decode(&key, &entry.value)?)),
            None => Ok(None),
        }
    }

    /// Every record of the mailbox.
    pub async fn all(&self) -> Result<Vec<MessageRecord>, TrackingError> {
        let prefix = format!("msg.{}.", self.key);
        let mut out = Vec::new();
        for key in self.kv.keys().await? {
            if !key.starts_with(&prefix) {
                continue;
            }
            if let Some(entry) = self.kv.get(&key).await? {
                out.push(decode(&key, &entry.value)?);
            }
        }
        Ok(out)
    }
}

fn lease_value(owner: &str, ttl: Duration) -> Result<Bytes, TrackingError> {
    let record = LeaseRecord {
        owner: owner.to_owned(),
        until_unix_ms: now_ms() + ttl.as_millis() as i64,
    };
    serde_json::to_vec(&record)
        .map(Bytes::from)
        .map_err(|e| TrackingError::Corrupt {
            key: "lease".to_owned(),
            reason: e.to_string(),
        })
}

fn decode<T: serde::de::DeserializeOwned>(key: &str, value: &[u8]) -> Result<T, TrackingError> {
    serde_json::from_slice(value).map_err(|e| TrackingError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;

    use passerelle_bus::Bus;
    use passerelle_bus::in_process::InProcessBus;

    use super::*;

    async fn tracking(bus: &InProcessBus) -> Tracking {
        let kv = bus.key_value(BUCKET).await.unwrap();
        Tracking::new(kv, "Secretariat@passerelle-sandbox.mssante.fr")
    }

    /// One replica at a time: the second waits while the first renews, takes over once the
    /// first lets the lease run out, and the first then learns it lost it.
    #[tokio::test]
    async fn a_lease_is_held_by_one_replica_until_it_runs_out() {
        let bus = InProcessBus::new();
        let a = tracking(&bus).await;
        let b = tracking(&bus).await;
        let ttl = Duration::from_millis(300);
        let mut lease_a = a.acquire("a", ttl).await.unwrap().expect("free");
        assert!(b.acquire("b", ttl).await.unwrap().is_none(), "held by a");
        a.renew(&mut lease_a, "a", ttl).await.unwrap();
        assert!(b.acquire("b", ttl).await.unwrap().is_none(), "renewed by a");
        tokio::time::sleep(ttl + Duration::from_millis(50)).await;
        let lease_b = b
            .acquire("b", ttl)
            .await
            .unwrap()
            .expect("run out: b takes it");
        let err = a.renew(&mut lease_a, "a", ttl).await.unwrap_err();
        assert!(
            matches!(err, TrackingError::LeaseLost { ref owner } if owner == "b"),
            "{err:?}"
        );
        // Released at shutdown: free at once.
        b.release(lease_b).await;
        assert!(a.acquire("a", ttl).await.unwrap().is_some());
    }

    /// Records are found by place and by Message-ID, per mailbox (the address's case does not
    /// matter), and a mailbox's list does not show another's.
    #[tokio::test]
    async fn records_are_found_by_place_and_message_id() {
        let bus = InProcessBus::new();
        let kv = bus.key_value(BUCKET).await.unwrap();
        let one = Tracking::new(kv.clone(), "secretariat@passerelle-sandbox.mssante.fr");
        let same = Tracking::new(kv.clone(), "SECRETARIAT@passerelle-sandbox.mssante.fr");
        let other = Tracking::new(Arc::clone(&kv), "lps@passerelle-sandbox.mssante.fr");
        let record = MessageRecord {
            mailbox: one.mailbox().to_owned(),
            uid_validity: 7,
            uid: 3,
            phase: Phase::Stored,
            message_id: "<a@b>".to_owned(),
            message_id_derived: false,
            from: String::new(),
            to: Vec::new(),
            cc: Vec::new(),
            subject: String::new(),
            date: String::new(),
            received_unix_ms: 1,
            text: String::new(),
            html: String::new(),
            mss_headers: Vec::new(),
            documents: Vec::new(),
            patient: None,
            problem: None,
            ack: None,
        };
        let first = one.put(&record, None).await.unwrap();
        let (read, revision) = same.get(7, 3).await.unwrap().unwrap();
        assert_eq!((read, revision), (record.clone(), first));
        // A replica writing over a revision it no longer holds is stopped.
        let again = one.put(&record, Some(first)).await.unwrap();
        let err = same.put(&record, Some(first)).await.unwrap_err();
        assert!(matches!(err, TrackingError::Conflict { .. }), "{err:?}");
        let err = same.put(&record, None).await.unwrap_err();
        assert!(matches!(err, TrackingError::Conflict { .. }), "{err:?}");
        assert_eq!(same.get(7, 3).await.unwrap().unwrap().1, again);
        assert_eq!(same.by_message_id("<a@b>").await.unwrap().unwrap(), record);
        assert!(
            one.get(8, 3).await.unwrap().is_none(),
            "another UIDVALIDITY"
        );
        assert_eq!(one.all().await.unwrap().len(), 1);
        assert!(other.all().await.unwrap().is_empty());
        assert!(other.by_message_id("<a@b>").await.unwrap().is_none());
    }
}
