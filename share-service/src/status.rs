//! The share's status, one record per share in the KV bucket `share_status` (key = share id):
//! each channel's state and the attempt it is at. Every write is a compare-and-set, so the
//! projection, Share and RetryShare on several replicas never lose each other's updates.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use passerelle_bus::kv::{KvError, SharedKeyValue};
use passerelle_proto::share::v1::{
    Channel, ChannelState, ChannelStatus, ShareChannelResult, ShareRequest, ShareStatus,
};
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::channels;
use crate::errors::{Result, ShareError};

/// The KV bucket of the statuses.
pub const BUCKET: &str = "share_status";

/// How many times a compare-and-set is tried again after another writer got there first.
const CAS_TRIES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Pending,
    Done,
    Failed,
    Refused,
}

impl State {
    pub fn to_api(self) -> ChannelState {
        match self {
            Self::Pending => ChannelState::Pending,
            Self::Done => ChannelState::Done,
            Self::Failed => ChannelState::Failed,
            Self::Refused => ChannelState::Refused,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRecord {
    /// `dmp`, `mss-pro`, `mss-citizen`.
    pub channel: String,
    pub state: State,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub rule: String,
    #[serde(default)]
    pub reference: String,
    /// The attempt of the share this channel last ran in (its results of older ones are
    /// ignored); 0 for a refused channel.
    pub attempt: u32,
    /// Tries so far.
    pub attempts: u32,
}

impl ChannelRecord {
    pub fn channel(&self) -> Channel {
        channels::parse_name(&self.channel).unwrap_or(Channel::Unspecified)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRecord {
    pub share_id: String,
    /// The latest attempt published (`Nats-Msg-Id` `<share_id>.<attempt>`).
    pub attempt: u32,
    /// Whether the latest attempt's ShareRequested was published: a record found unpublished
    /// (a crash in between) is published again, the event's id making it once.
    pub published: bool,
    pub channels: Vec<ChannelRecord>,
    /// The ShareRequest (protobuf, base64): a retry makes its requests again from it.
    pub request: String,
}

impl ShareRecord {
    pub fn new(share_id: &str, request: &ShareRequest, channels: Vec<ChannelRecord>) -> Self {
        Self {
            share_id: share_id.to_owned(),
            attempt: 1,
            published: false,
            channels,
            request: STANDARD.encode(request.encode_to_vec()),
        }
    }

    pub fn request(&self) -> Result<ShareRequest> {
        let bytes = STANDARD
            .decode(&self.request)
            .map_err(|e| self.corrupt(e))?;
        ShareRequest::decode(bytes.as_slice()).map_err(|e| self.corrupt(e))
    }

    fn corrupt(&self, e: impl std::fmt::Display) -> ShareError {
        ShareError::Corrupt {
            id: self.share_id.clone(),
            message: e.to_string(),
        }
    }

    /// Every channel is DONE, FAILED or REFUSED.
    pub fn finished(&self) -> bool {
        self.channels.iter().all(|c| c.state != State::Pending)
    }

    /// The channels of the latest attempt still PENDING.
    pub fn pending(&self) -> Vec<Channel> {
        self.channels
            .iter()
            .filter(|c| c.state == State::Pending && c.attempt == self.attempt)
            .map(ChannelRecord::channel)
            .collect()
    }

    pub fn to_api(&self) -> ShareStatus {
        ShareStatus {
            share_id: self.share_id.clone(),
            channels: self
                .channels
                .iter()
                .map(|c| ChannelStatus {
                    channel: c.channel() as i32,
                    state: c.state.to_api() as i32,
                    detail: c.detail.clone(),
                    rule: c.rule.clone(),
                    reference: c.reference.clone(),
                    attempts: c.attempts,
                })
                .collect(),
            finished: self.finished(),
        }
    }

    /// Applies a channel's result; `false` when it changes nothing (a result of an older
    /// attempt, an unknown or refused channel, a state other than DONE or FAILED).
    pub fn apply(&mut self, result: &ShareChannelResult) -> bool {
        let state = match ChannelState::try_from(result.state) {
            Ok(ChannelState::Done) => State::Done,
            Ok(ChannelState::Failed) => State::Failed,
            _ => return false,
        };
        let name = Channel::try_from(result.channel)
            .map(channels::name)
            .unwrap_or_default();
        let Some(c) = self.channels.iter_mut().find(|c| c.channel == name) else {
            return false;
        };
        if c.state == State::Refused || result.attempt != c.attempt {
            return false;
        }
        let detail = if state == State::Failed && !result.reason.is_empty() {
            format!("{} ({})", result.detail, result.reason)
        } else {
            result.detail.clone()
        };
        let changed = c.state != state || c.detail != detail || c.reference != result.reference;
        c.state = state;
        c.detail = detail;
        c.reference = result.reference.clone();
        changed
    }

    fn encode(&self) -> Result<Bytes> {
        serde_json::to_vec(self)
            .map(Bytes::from)
            .map_err(|e| self.corrupt(e))
    }

    fn decode(key: &str, value: &[u8]) -> Result<Self> {
        serde_json::from_slice(value).map_err(|e| ShareError::Corrupt {
            id: key.to_owned(),
            message: e.to_string(),
        })
    }
}

/// The statuses, over the KV bucket.
#[derive(Clone)]
pub struct StatusStore {
    kv: SharedKeyValue,
}

impl StatusStore {
    pub fn new(kv: SharedKeyValue) -> Self {
        Self { kv }
    }

    /// The record and its revision, `None` for an unknown share.
    pub async fn get(&self, share_id: &str) -> Result<Option<(ShareRecord, u64)>> {
        match self.kv.get(share_id).await {
            Ok(Some(e)) => Ok(Some((ShareRecord::decode(share_id, &e.value)?, e.revision))),
            Ok(None) => Ok(None),
            // An id that cannot be a key cannot be a share.
            Err(KvError::InvalidKey { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Records a new share; `Err(existing)` when the id is taken (the same idempotency key).
    pub async fn create(
        &self,
        record: &ShareRecord,
    ) -> Result<std::result::Result<u64, (ShareRecord, u64)>> {
        match self.kv.create(&record.share_id, record.encode()?).await {
            Ok(rev) => Ok(Ok(rev)),
            Err(KvError::AlreadyExists { .. }) => match self.get(&record.share_id).await? {
                Some(found) => Ok(Err(found)),
                None => Err(ShareError::Conflict(record.share_id.clone())),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Changes the record with `change` (`None`: nothing to write, `Some(t)` a result to
    /// give back) by compare-and-set, reading it again when another writer got there first.
    pub async fn update<T>(
        &self,
        share_id: &str,
        mut change: impl FnMut(&mut ShareRecord) -> Result<Option<T>>,
    ) -> Result<(ShareRecord, Option<T>)> {
        for _ in 0..CAS_TRIES {
            let Some((mut record, revision)) = self.get(share_id).await? else {
                return Err(ShareError::NotFound(share_id.to_owned()));
            };
            let Some(out) = change(&mut record)? else {
                return Ok((record, None));
            };
            match self.kv.update(share_id, record.encode()?, revision).await {
                Ok(_) => return Ok((record, Some(out))),
                Err(KvError::WrongRevision { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ShareError::Conflict(share_id.to_owned()))
    }

    /// Removes a share that could not be published (nothing half-accepted).
    pub async fn remove(&self, share_id: &str) -> Result<()> {
        self.kv.delete(share_id).await.map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn record() -> ShareRecord {
        let ch = |name: &str, state| ChannelRecord {
            channel: name.into(),
            state,
            detail: String::new(),
            rule: String::new(),
            reference: String::new(),
            attempt: if state == State::Refused { 0 } else { 1 },
            attempts: u32::from(state != State::Refused),
        };
        ShareRecord::new(
            "S1",
            &ShareRequest::default(),
            vec![
                ch("dmp", State::Pending),
                ch("mss-pro", State::Pending),
                ch("mss-citizen", State::Refused),
            ],
        )
    }

    fn result(channel: Channel, state: ChannelState, attempt: u32) -> ShareChannelResult {
        ShareChannelResult {
            share_id: "S1".into(),
            attempt,
            channel: channel as i32,
            state: state as i32,
            reference: "ref".into(),
            ..Default::default()
        }
    }

    #[test]
    fn results_finish_a_share() {
        let mut r = record();
        assert!(!r.finished());
        assert_eq!(r.pending(), vec![Channel::Dmp, Channel::MssPro]);
        assert!(r.apply(&result(Channel::Dmp, ChannelState::Done, 1)));
        assert!(
            !r.apply(&result(Channel::Dmp, ChannelState::Done, 1)),
            "same again"
        );
        assert!(r.apply(&result(Channel::MssPro, ChannelState::Failed, 1)));
        assert!(r.finished());
        let api = r.to_api();
        assert!(api.finished);
        assert_eq!(api.channels[0].reference, "ref");
        assert_eq!(api.channels[1].state, ChannelState::Failed as i32);
    }

    #[test]
    fn older_attempts_and_refused_channels_are_not_overwritten() {
        let mut r = record();
        r.channels[0].attempt = 2;
        assert!(!r.apply(&result(Channel::Dmp, ChannelState::Failed, 1)));
        assert_eq!(r.channels[0].state, State::Pending);
        assert!(!r.apply(&result(Channel::MssCitizen, ChannelState::Done, 0)));
        assert_eq!(r.channels[2].state, State::Refused);
        assert!(!r.apply(&result(Channel::Dmp, ChannelState::Pending, 2)));
    }

    #[test]
    fn the_request_round_trips() {
        let req = ShareRequest {
            subject: "x".into(),
            ..Default::default()
        };
        let r = ShareRecord::new("S1", &req, vec![]);
        let back = ShareRecord::decode("S1", &r.encode().unwrap()).unwrap();
        assert_eq!(back.request().unwrap(), req);
    }
}
