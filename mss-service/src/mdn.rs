//! PLACEHOLDER until the MDN module lands (replaced by the real one).
use bytes::Bytes;

use crate::inbox::{GuideCode, ReceivedMessage};

pub enum Disposition {
    Processed,
    Error { code: GuideCode, label: String },
}

pub enum MdnDecision {
    NotRequested,
    Send { to: String },
    Held { to: String, reason: String },
}

pub fn decide(_received: &ReceivedMessage) -> MdnDecision {
    MdnDecision::NotRequested
}

pub struct Mdn {
    pub message_id: String,
    pub to: String,
    pub bytes: Bytes,
}

#[derive(Debug, thiserror::Error)]
#[error("placeholder")]
pub struct MdnError;

pub fn build(
    _received: &ReceivedMessage,
    _raw: &[u8],
    _reporting: &str,
    _disposition: &Disposition,
) -> Result<Mdn, MdnError> {
    Err(MdnError)
}
