//! Where cards and keys are, behind one trait: PC/SC readers with real cards, a PKCS#11 module
//! (Cryptolib CPS, SoftHSM), or a software token (the organisation certificate on servers, the
//! sandbox's test CPS).

pub mod pcsc;
pub mod software;

use std::sync::Arc;

use async_trait::async_trait;
use zeroize::Zeroizing;

pub mod pkcs11;

/// What a card holds, as far as the agent tells callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardKind {
    Cps,
    Vitale,
    Unknown,
}

/// A reader and what is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderState {
    pub name: String,
    /// None: no card.
    pub card: Option<CardKind>,
    /// Card serial number (identifies the card, not a person), when readable.
    pub card_serial: Option<String>,
    /// The card's model when the backend can tell it (PC/SC: `CPS3`, `CPS4`).
    pub model: Option<&'static str>,
}

/// The professional on a CPS card.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpsData {
    /// National identifier (RPPS 11 digits, or ADELI 9) and its type.
    pub id: String,
    pub id_type: IdType,
    pub last_name: String,
    pub first_name: String,
    /// Profession code (e.g. `10` médecin) and label.
    pub profession: String,
    pub profession_label: String,
    pub specialty: String,
    pub situations: Vec<Situation>,
    /// The card holds practice situations that it gives only once the PIN is verified (a CPS
    /// read before `Unlock`); `situations` is then empty.
    pub situations_need_pin: bool,
    pub card_serial: String,
    /// DER certificates.
    pub auth_certificate: Vec<u8>,
    pub sign_certificate: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdType {
    #[default]
    Rpps,
    Adeli,
    Other,
}

/// A practice situation (situation d'exercice) on the CPS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Situation {
    pub structure_id: String,
    pub structure_id_type: String,
    pub structure_name: String,
    pub activity_sector: String,
    pub billing_id: String,
}

/// A person on a carte Vitale.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VitalePerson {
    pub matricule: String,
    pub key: String,
    pub birth_name: String,
    pub used_name: String,
    pub first_name: String,
    /// Lunar date `YYYY-MM-DD`.
    pub birth_date: String,
    pub birth_rank: u8,
    pub quality: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VitaleData {
    pub insured: VitalePerson,
    pub beneficiaries: Vec<VitalePerson>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardData {
    Cps(CpsData),
    Vitale(VitaleData),
}

/// Which CPS key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// Non-repudiation key: the default (the DMP refuses assertions signed with the
    /// authentication key).
    Signature,
    /// Authentication key (TLS client authentication).
    Authentication,
}

/// Errors of a backend; one variant per failure the caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("no reader named {0:?}")]
    NoSuchReader(String),
    #[error("no card in reader {0:?}")]
    NoCard(String),
    #[error("the card in {0:?} is not a CPS")]
    NotACps(String),
    #[error("the card in {0:?} is of an unknown kind")]
    UnknownCard(String),
    #[error("wrong PIN: {tries_left} tries left")]
    WrongPin { tries_left: u8 },
    #[error("the card is blocked (PIN tried too many times): unblock it with its PUK")]
    Blocked,
    #[error("a PIN is required")]
    PinRequired,
    #[error("the card was removed")]
    CardRemoved,
    #[error("the reader {0:?} was removed")]
    ReaderRemoved(String),
    /// Card or reader reset, sharing violation, first use of the day: worth one transparent
    /// retry (re-presenting a cached PIN to the same card is fine, re-trying a refused PIN is
    /// not).
    #[error("transient card error: {0}")]
    Transient(String),
    #[error("digest must be 32 bytes (SHA-256), got {0}")]
    BadDigest(usize),
    #[error("card or middleware error: {0}")]
    Device(String),
}

impl CardError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// Where a backend that recovers from a card reset by itself finds the PIN to re-present: the
/// agent core's PIN cache ([`crate::agent::PinCache`]). See the recovery rule in [`crate::agent`].
pub trait PinSource: Send + Sync {
    /// The PIN the card with this serial accepted, if still cached (never a refused one: the
    /// cache drops a PIN as soon as the card refuses it).
    fn cached_pin(&self, card_serial: &str) -> Option<Zeroizing<String>>;
    /// The card with this serial refused the PIN the backend got from [`Self::cached_pin`]:
    /// drop it, it must never be presented again.
    fn pin_refused(&self, card_serial: &str) {
        let _ = card_serial;
    }
}

/// One way to reach cards and keys.
#[async_trait]
pub trait CardBackend: Send + Sync {
    /// Offers the agent's PIN cache to the backend, once, when the agent is created. Returns
    /// whether the backend recovers from transient card errors by itself (reconnecting and,
    /// after a reset, re-presenting the cached PIN to the same card): the agent core then does
    /// not retry itself. The default: no recovery of its own, the core retries once.
    fn use_pin_source(&self, source: Arc<dyn PinSource>) -> bool {
        let _ = source;
        false
    }
    /// Notifications that cards or readers changed, so that the agent looks at once instead
    /// of at its next poll (PC/SC: `SCardGetStatusChange`). None: the backend has none, the
    /// agent's periodic look is all there is.
    fn changes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<()>> {
        None
    }
    /// Readers and what they hold.
    async fn readers(&self) -> Result<Vec<ReaderState>, CardError>;
    /// Reads the card in `reader` (no PIN needed for the public data).
    async fn read(&self, reader: &str) -> Result<CardData, CardError>;
    /// Verifies the PIN of the CPS in `reader`; a wrong PIN is never retried by the backend.
    async fn verify_pin(&self, reader: &str, pin: &Zeroizing<String>) -> Result<(), CardError>;
    /// Signs a SHA-256 digest with RSA PKCS#1 v1.5 (DigestInfo built by the backend) using
    /// `key`; the PIN must have been verified on this card. Returns the signature and the DER
    /// certificate of the key.
    async fn sign(
        &self,
        reader: &str,
        key: KeyUse,
        digest: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), CardError>;
}
