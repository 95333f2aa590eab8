//! The agent core, independent of transport: readers, card reading, signatures with the PIN
//! rules, and the audit of every signature.
//!
//! PIN rules:
//! - the PIN reaches the agent only locally: typed into its own prompt (a configured
//!   pinentry-style program printing it on stdout) or sent by the local CLI on the loopback
//!   gRPC channel. A PIN in a request that came over the bus is refused;
//! - it is kept in memory only ([`Zeroizing`], in the agent's [`PinCache`]), bound to the serial
//!   of the card it was verified on, and forgotten when that card leaves its reader, after an
//!   idle timeout, or as soon as the card refuses it (whoever presented it). It is never
//!   logged;
//! - a wrong PIN is never presented again by the agent (the card counts the tries): one
//!   refusal, one try spent; the tries left and a blocked card are told to the caller;
//! - `Unlock` (local channel only: it has no bus subject) verifies the PIN and caches it, so that
//!   services asking over the bus are served without a PIN until one of the above happens.
//!
//! The PIN is presented before every signature (a CPS signature key asks for it each time).
//!
//! Recovery from a transient card error (reset by another application, sharing violation,
//! "Erreur de Cryptolib" at the first call of the day) — one path, never two:
//! - when the agent is created it hands its [`PinCache`] (a [`PinSource`]) to the backend
//!   ([`CardBackend::use_pin_source`]). A backend that recovers by itself says so (the PC/SC
//!   backend): it reconnects to the same card (same serial) and, after a reset, re-presents the
//!   PIN cached for that serial, once, then runs the operation again. The core then does **not**
//!   retry: a PIN is never presented twice for one transient error, and what the backend still
//!   reports (transient or not) goes to the caller as is;
//! - with any other backend (PKCS#11, software token) the core makes the one transparent retry:
//!   same card serial only, presenting the PIN again (the card had not judged it);
//! - either way a refusal (`WrongPin`, `Blocked`), whether the core or the backend presented
//!   the PIN (the backend reports its refusals, [`PinSource::pin_refused`]), drops it from the
//!   cache at once: it is never presented again (one refusal, one try spent), and the next
//!   request needs a new PIN. The user never clicks twice for a reset.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use passerelle_bus::{BusError, Headers, SharedBus, subjects};
use passerelle_proto::card::v1 as api;
use passerelle_service_kit::RequestId;
use passerelle_service_kit::errors::RichError;
use prost::Message as _;
use sha2::{Digest as _, Sha256};
// Tokio's clock: the same as the system's, except in tests that pause it (idle timeout).
use tokio::time::Instant;
use tonic::{Code, Status};
use zeroize::Zeroizing;

use crate::backend::{
    CardBackend, CardData, CardError, CardKind, IdType, KeyUse, PinSource, ReaderState,
};

/// Machine-readable reasons (`google.rpc.ErrorInfo.reason`) of the agent's errors.
pub mod reasons {
    pub const PIN_OVER_BUS: &str = "PIN_OVER_BUS";
    pub const PIN_NOT_LOCAL: &str = "PIN_NOT_LOCAL";
    pub const BAD_DIGEST: &str = "BAD_DIGEST";
    pub const BAD_KEY: &str = "BAD_KEY";
    pub const NO_SUCH_READER: &str = "NO_SUCH_READER";
    pub const NO_CARD: &str = "NO_CARD";
    pub const NOT_A_CPS: &str = "NOT_A_CPS";
    pub const UNKNOWN_CARD: &str = "UNKNOWN_CARD";
    pub const SEVERAL_CARDS: &str = "SEVERAL_CARDS";
    pub const WRONG_PIN: &str = "WRONG_PIN";
    pub const CARD_BLOCKED: &str = "CARD_BLOCKED";
    pub const PIN_REQUIRED: &str = "PIN_REQUIRED";
    pub const PIN_CANCELLED: &str = "PIN_CANCELLED";
    pub const CARD_REMOVED: &str = "CARD_REMOVED";
    pub const READER_REMOVED: &str = "READER_REMOVED";
    pub const CARD_TRANSIENT: &str = "CARD_TRANSIENT";
    pub const CARD_DEVICE: &str = "CARD_DEVICE";
    pub const AUDIT_UNAVAILABLE: &str = "AUDIT_UNAVAILABLE";
    pub const NO_PIN: &str = "NO_PIN";
    pub const PIN_NOT_CACHED: &str = "PIN_NOT_CACHED";
}

/// `ErrorInfo.metadata` key with the PIN tries left.
pub const TRIES_LEFT_KEY: &str = "tries_left";
/// The only signature algorithm: RSA PKCS#1 v1.5 with SHA-256.
pub const ALGORITHM: &str = "rsa-pkcs1-sha256";
/// Longest PIN accepted from a prompt or the CLI.
const MAX_PIN_LEN: usize = 32;

/// Where a request came from; decides whether it may carry a PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The loopback gRPC channel (the local CLI): may carry the PIN.
    Local,
    /// The bus (NATS or in-process): never carries a PIN.
    Bus,
}

/// Settings of the agent core.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// Workstation id: one subject token.
    pub workstation: String,
    /// A cached PIN unused this long is forgotten.
    pub pin_idle_timeout: Duration,
    /// Program (and arguments) that asks the user for the PIN and prints it on stdout; empty:
    /// no prompt (the PIN then comes from the local CLI only).
    pub pinentry: Vec<String>,
    /// How long the prompt may take.
    pub pinentry_timeout: Duration,
}

impl AgentSettings {
    pub fn new(workstation: impl Into<String>) -> Self {
        Self {
            workstation: workstation.into(),
            pin_idle_timeout: Duration::from_secs(15 * 60),
            pinentry: Vec::new(),
            pinentry_timeout: Duration::from_secs(120),
        }
    }
}

/// Errors creating the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("invalid workstation id {id:?}: {reason}")]
    Workstation { id: String, reason: String },
}

/// The agent core. Cheap to clone.
#[derive(Clone)]
pub struct CardAgent {
    inner: Arc<Inner>,
}

struct Inner {
    settings: AgentSettings,
    backend: Arc<dyn CardBackend>,
    bus: SharedBus,
    pins: PinCache,
    /// The backend recovers transient errors itself (with the PIN cache): no retry here.
    backend_recovers: bool,
    /// One card operation sequence (PIN then signature) at a time.
    card: tokio::sync::Mutex<()>,
    /// What the readers held at the last poll.
    seen: Mutex<Option<HashMap<String, ReaderState>>>,
}

struct CachedPin {
    pin: Zeroizing<String>,
    last_used: Instant,
}

/// The agent's PIN cache: PINs the card accepted, by card serial, forgotten after an idle
/// timeout (see the PIN rules). Cheap to clone (shared). It is the [`PinSource`] the backend
/// re-presents from after a card reset.
#[derive(Clone)]
pub struct PinCache {
    pins: Arc<Mutex<HashMap<String, CachedPin>>>,
    idle_timeout: Duration,
}

impl std::fmt::Debug for PinCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinCache")
            .field("cards", &self.lock().len())
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

impl PinCache {
    /// A cache whose PINs are forgotten after `idle_timeout` without use; zero keeps nothing.
    pub fn new(idle_timeout: Duration) -> Self {
        Self {
            pins: Arc::new(Mutex::new(HashMap::new())),
            idle_timeout,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, CachedPin>> {
        // Plain map, consistent after every statement.
        self.pins.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The PIN kept for the card `serial`, if not idle for too long (its use is recorded).
    pub fn get(&self, serial: &str) -> Option<Zeroizing<String>> {
        if serial.is_empty() {
            return None;
        }
        let mut pins = self.lock();
        match pins.get_mut(serial) {
            Some(c) if c.last_used.elapsed() <= self.idle_timeout => {
                c.last_used = Instant::now();
                Some(c.pin.clone())
            }
            Some(_) => {
                pins.remove(serial);
                tracing::info!(card_serial = serial, "cached PIN forgotten: idle timeout");
                None
            }
            None => None,
        }
    }

    /// Keeps `pin`, accepted by the card `serial`. A card whose serial is unknown cannot be
    /// told from another: nothing kept.
    fn keep(&self, serial: &str, pin: &Zeroizing<String>) {
        if serial.is_empty() || self.idle_timeout.is_zero() {
            return;
        }
        self.lock().insert(
            serial.to_owned(),
            CachedPin {
                pin: pin.clone(),
                last_used: Instant::now(),
            },
        );
    }

    /// Forgets the PIN of the card `serial` (refused, or the card is gone).
    pub fn forget(&self, serial: &str) {
        if self.lock().remove(serial).is_some() {
            tracing::info!(card_serial = serial, "cached PIN forgotten");
        }
    }

    /// Forgets every PIN.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Keeps only the PINs of cards in `present`, not idle for too long.
    fn retain_present(&self, present: &HashSet<&str>) {
        let timeout = self.idle_timeout;
        self.lock().retain(|serial, c| {
            let keep = present.contains(serial.as_str()) && c.last_used.elapsed() <= timeout;
            if !keep {
                tracing::info!(card_serial = %serial, "cached PIN forgotten");
            }
            keep
        });
    }
}

impl PinSource for PinCache {
    fn cached_pin(&self, card_serial: &str) -> Option<Zeroizing<String>> {
        self.get(card_serial)
    }

    fn pin_refused(&self, card_serial: &str) {
        self.forget(card_serial);
    }
}

impl std::fmt::Debug for CardAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardAgent")
            .field("workstation", &self.inner.settings.workstation)
            .finish_non_exhaustive()
    }
}

impl CardAgent {
    /// The agent of `settings.workstation` (checked to be one subject token), on `backend`,
    /// auditing and telling card events on `bus`.
    pub fn new(
        settings: AgentSettings,
        backend: Arc<dyn CardBackend>,
        bus: SharedBus,
    ) -> Result<Self, AgentError> {
        validate_workstation(&settings.workstation)?;
        let pins = PinCache::new(settings.pin_idle_timeout);
        // The one recovery path (module doc): the backend's own when it has one.
        let backend_recovers = backend.use_pin_source(Arc::new(pins.clone()));
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                backend,
                bus,
                pins,
                backend_recovers,
                card: tokio::sync::Mutex::new(()),
                seen: Mutex::new(None),
            }),
        })
    }

    pub fn workstation(&self) -> &str {
        &self.inner.settings.workstation
    }

    /// Whether a PIN is cached for the card `serial` (never the PIN itself).
    pub fn has_cached_pin(&self, serial: &str) -> bool {
        self.cached_pin(serial).is_some()
    }

    /// Forgets every cached PIN.
    pub fn forget_pins(&self) {
        self.inner.pins.clear();
    }

    pub async fn list_readers(&self) -> Result<api::ListReadersResponse, Status> {
        let readers = self.inner.backend.readers().await.map_err(card_status)?;
        Ok(api::ListReadersResponse {
            readers: readers
                .into_iter()
                .map(|r| api::Reader {
                    card: proto_kind(r.card) as i32,
                    card_serial: r.card_serial.unwrap_or_default(),
                    card_model: r.model.unwrap_or_default().to_owned(),
                    name: r.name,
                })
                .collect(),
        })
    }

    pub async fn read_card(
        &self,
        req: api::ReadCardRequest,
    ) -> Result<api::ReadCardResponse, Status> {
        let readers = self.inner.backend.readers().await.map_err(card_status)?;
        let reader = pick_reader(&readers, &req.reader, |k| {
            matches!(k, CardKind::Cps | CardKind::Vitale)
        })?
        .name
        .clone();
        let _card = self.inner.card.lock().await;
        let mut data = self
            .inner
            .backend
            .read(&reader)
            .await
            .map_err(card_status)?;
        // A CPS gives its practice situations only after the PIN: when this card's PIN is kept
        // (unlocked earlier, the card reset since), present it and read again. A refusal drops
        // it, as everywhere; the holder is still returned, without situations.
        if let CardData::Cps(c) = &data
            && c.situations_need_pin
            && let Some(pin) = self.cached_pin(&c.card_serial)
        {
            let serial = c.card_serial.clone();
            match self.verify_and_keep(&reader, &serial, &pin).await {
                Ok(()) => {
                    data = self
                        .inner
                        .backend
                        .read(&reader)
                        .await
                        .map_err(card_status)?;
                }
                Err(e) => {
                    tracing::warn!(card_serial = %serial, error = %e, "kept PIN not accepted: situations not read")
                }
            }
        }
        Ok(proto_card(reader, data))
    }

    /// Verifies the PIN typed on the workstation and keeps it for the card (see the PIN rules):
    /// later signatures, asked over the bus too, are served without a PIN. Local channel only.
    pub async fn unlock(
        &self,
        channel: Channel,
        mut req: api::UnlockRequest,
    ) -> Result<api::UnlockResponse, Status> {
        let pin = Zeroizing::new(std::mem::take(&mut req.pin));
        if channel == Channel::Bus {
            return Err(RichError::new(
                Code::InvalidArgument,
                reasons::PIN_OVER_BUS,
                "the PIN never travels over the bus: unlock the card on the workstation \
                 (`passerelle card unlock --pin-stdin`)",
            )
            .field("pin", "only on the local channel")
            .into_status());
        }
        if pin.is_empty() {
            return Err(
                RichError::new(Code::InvalidArgument, reasons::NO_PIN, "no PIN given")
                    .field("pin", "required")
                    .into_status(),
            );
        }
        if pin.len() > MAX_PIN_LEN {
            return Err(
                RichError::new(Code::InvalidArgument, reasons::WRONG_PIN, "PIN too long")
                    .field("pin", "too long")
                    .into_status(),
            );
        }
        let _card = self.inner.card.lock().await;
        let (reader, serial) = self.resolve_cps(&req.reader).await?;
        // Refused before the card is touched: no try spent on a PIN that could not be kept.
        if serial.is_empty() || self.inner.settings.pin_idle_timeout.is_zero() {
            return Err(RichError::new(
                Code::FailedPrecondition,
                reasons::PIN_NOT_CACHED,
                if serial.is_empty() {
                    "the card's serial cannot be read, so a PIN cannot be kept for it: \
                     give the PIN with each signature"
                } else {
                    "this agent keeps no PIN (pin.idle_timeout = \"0s\"): give the PIN with \
                     each signature"
                },
            )
            .into_status());
        }
        let mut result = self.verify_and_keep(&reader, &serial, &pin).await;
        if !self.inner.backend_recovers && result.as_ref().is_err_and(CardError::is_transient) {
            tracing::info!("transient card error: one transparent retry");
            let (_, again) = self
                .resolve_cps(&reader)
                .await
                .map_err(|_| card_status(CardError::CardRemoved))?;
            if again != serial {
                self.forget(&serial);
                return Err(card_status(CardError::CardRemoved));
            }
            result = self.verify_and_keep(&reader, &serial, &pin).await;
        }
        result.map_err(card_status)?;
        tracing::info!(card_serial = %serial, reader = %reader, "card unlocked: PIN kept");
        Ok(api::UnlockResponse {
            ok: true,
            reader,
            card_serial: serial,
            idle_timeout_secs: self.inner.settings.pin_idle_timeout.as_secs(),
        })
    }

    /// Presents `pin` to the card; keeps it once accepted, forgets any kept one when refused.
    async fn verify_and_keep(
        &self,
        reader: &str,
        serial: &str,
        pin: &Zeroizing<String>,
    ) -> Result<(), CardError> {
        match self.inner.backend.verify_pin(reader, pin).await {
            Ok(()) => {
                self.cache(serial, pin);
                Ok(())
            }
            Err(e) => Err(self.forget_if_refused(serial, e)),
        }
    }

    /// Drops the cached PIN of `serial` when `e` says the card refused a PIN (whoever
    /// presented it: the core or, after a reset, the backend): never presented again.
    fn forget_if_refused(&self, serial: &str, e: CardError) -> CardError {
        if matches!(e, CardError::WrongPin { .. } | CardError::Blocked) {
            self.forget(serial);
        }
        e
    }

    /// Signs `req.digest` for the call `request_id`; audited whatever the outcome, the
    /// record carrying that id.
    pub async fn sign(
        &self,
        channel: Channel,
        requester_default: &str,
        request_id: &RequestId,
        mut req: api::SignRequest,
    ) -> Result<api::SignResponse, Status> {
        let pin = Zeroizing::new(std::mem::take(&mut req.pin));
        let mut serial = String::new();
        let result = self.sign_audited(channel, &req, pin, &mut serial).await;
        let requester = if req.requester.is_empty() {
            requester_default
        } else {
            req.requester.as_str()
        };
        let event = api::SignatureAudited {
            workstation: self.inner.settings.workstation.clone(),
            requester: requester.to_owned(),
            purpose: req.purpose.clone(),
            digest_hash: hex::encode(Sha256::digest(&req.digest)),
            card_serial: serial,
            key: req.key,
            ok: result.is_ok(),
            error: result
                .as_ref()
                .err()
                .map(|s| format!("{:?}: {}", s.code(), s.message()))
                .unwrap_or_default(),
            at_unix_ms: now_unix_ms(),
            request_id: request_id.to_string(),
        };
        let published = self
            .inner
            .bus
            .publish_durable(
                subjects::EVENTS_AUDIT_CARD,
                request_id.bus_headers(),
                Bytes::from(event.encode_to_vec()),
            )
            .await;
        match (result, published) {
            (Ok(resp), Ok(())) => Ok(resp),
            (Ok(_), Err(e)) => {
                // No signature leaves the agent without its audit record.
                tracing::error!(error = %e, "signature not audited: withheld");
                Err(RichError::new(
                    Code::Unavailable,
                    reasons::AUDIT_UNAVAILABLE,
                    format!("the signature could not be audited ({e}), so it was withheld; retry"),
                )
                .into_status())
            }
            (Err(status), published) => {
                if let Err(e) = published {
                    tracing::error!(error = %e, "refused signature not audited");
                }
                Err(status)
            }
        }
    }

    async fn sign_audited(
        &self,
        channel: Channel,
        req: &api::SignRequest,
        pin: Zeroizing<String>,
        serial_out: &mut String,
    ) -> Result<api::SignResponse, Status> {
        if !pin.is_empty() && channel == Channel::Bus {
            return Err(RichError::new(
                Code::InvalidArgument,
                reasons::PIN_OVER_BUS,
                "the PIN never travels over the bus: the user types it on the workstation \
                 (the agent's prompt or `passerelle card sign --pin-stdin`)",
            )
            .field("pin", "must be empty on the bus")
            .into_status());
        }
        if pin.len() > MAX_PIN_LEN {
            return Err(
                RichError::new(Code::InvalidArgument, reasons::WRONG_PIN, "PIN too long")
                    .field("pin", "too long")
                    .into_status(),
            );
        }
        if req.digest.len() != 32 {
            return Err(RichError::new(
                Code::InvalidArgument,
                reasons::BAD_DIGEST,
                format!(
                    "the digest must be a SHA-256 digest (32 bytes), got {} bytes",
                    req.digest.len()
                ),
            )
            .field("digest", "must be 32 bytes (SHA-256)")
            .into_status());
        }
        let key = match api::KeyUse::try_from(req.key) {
            Ok(api::KeyUse::Signature) => KeyUse::Signature,
            Ok(api::KeyUse::Authentication) => KeyUse::Authentication,
            Err(_) => {
                return Err(RichError::new(
                    Code::InvalidArgument,
                    reasons::BAD_KEY,
                    format!("unknown key {}", req.key),
                )
                .field("key", "KEY_USE_SIGNATURE or KEY_USE_AUTHENTICATION")
                .into_status());
            }
        };

        let _card = self.inner.card.lock().await;
        let (reader, serial) = self.resolve_cps(&req.reader).await?;
        serial_out.clone_from(&serial);

        // The PIN: typed for this request, else cached for this very card, else asked for.
        let pin = if !pin.is_empty() {
            Some(pin)
        } else if let Some(cached) = self.cached_pin(&serial) {
            Some(cached)
        } else if !self.inner.settings.pinentry.is_empty() {
            Some(self.prompt_pin(&reader, &serial, req).await?)
        } else {
            None
        };

        let first = self
            .verify_and_sign(&reader, &serial, key, &req.digest, pin.as_ref())
            .await;
        let (signature, cert) = match first {
            // A backend that recovers by itself already did (module doc): no second path.
            Err(e) if e.is_transient() && !self.inner.backend_recovers => {
                tracing::info!(error = %e, "transient card error: one transparent retry");
                // Only to the same card.
                let (_, again) = self
                    .resolve_cps(&reader)
                    .await
                    .map_err(|_| card_status(CardError::CardRemoved))?;
                if again != serial {
                    self.forget(&serial);
                    return Err(card_status(CardError::CardRemoved));
                }
                self.verify_and_sign(&reader, &serial, key, &req.digest, pin.as_ref())
                    .await
            }
            other => other,
        }
        .map_err(card_status)?;
        Ok(api::SignResponse {
            signature,
            certificate: certificate_pem(&cert),
            algorithm: ALGORITHM.to_owned(),
        })
    }

    /// Presents `pin` (when there is one) then signs; caches the PIN once the card accepted it,
    /// forgets it when the card refused it.
    async fn verify_and_sign(
        &self,
        reader: &str,
        serial: &str,
        key: KeyUse,
        digest: &[u8],
        pin: Option<&Zeroizing<String>>,
    ) -> Result<(Vec<u8>, Vec<u8>), CardError> {
        if let Some(pin) = pin {
            self.verify_and_keep(reader, serial, pin).await?;
        }
        self.inner
            .backend
            .sign(reader, key, digest)
            .await
            .map_err(|e| self.forget_if_refused(serial, e))
    }

    /// The reader holding the CPS to use, and its serial.
    async fn resolve_cps(&self, reader: &str) -> Result<(String, String), Status> {
        let readers = self.inner.backend.readers().await.map_err(card_status)?;
        let r = pick_reader(&readers, reader, |k| k == CardKind::Cps)?;
        match r.card {
            Some(CardKind::Cps) => {}
            Some(CardKind::Vitale) => return Err(card_status(CardError::NotACps(r.name.clone()))),
            Some(CardKind::Unknown) => {
                return Err(card_status(CardError::UnknownCard(r.name.clone())));
            }
            None => return Err(card_status(CardError::NoCard(r.name.clone()))),
        }
        Ok((r.name.clone(), r.card_serial.clone().unwrap_or_default()))
    }

    async fn prompt_pin(
        &self,
        reader: &str,
        serial: &str,
        req: &api::SignRequest,
    ) -> Result<Zeroizing<String>, Status> {
        let cancelled = |why: String| {
            RichError::new(Code::FailedPrecondition, reasons::PIN_CANCELLED, why).into_status()
        };
        let settings = &self.inner.settings;
        let Some((program, args)) = settings.pinentry.split_first() else {
            return Err(cancelled("no PIN prompt configured".to_owned()));
        };
        let requester = if req.requester.is_empty() {
            "a service"
        } else {
            req.requester.as_str()
        };
        let purpose = if req.purpose.is_empty() {
            "a signature"
        } else {
            req.purpose.as_str()
        };
        let prompt =
            format!("Code porteur de la carte {serial} ({reader}) — {requester} demande {purpose}");
        let child = tokio::process::Command::new(program)
            .args(args)
            .env("PASSERELLE_PIN_PROMPT", &prompt)
            .env("PASSERELLE_CARD_READER", reader)
            .env("PASSERELLE_CARD_SERIAL", serial)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| cancelled(format!("cannot run the PIN prompt {program:?}: {e}")))?;
        let output = tokio::time::timeout(settings.pinentry_timeout, child.wait_with_output())
            .await
            .map_err(|_| cancelled("no PIN entered in time".to_owned()))?
            .map_err(|e| cancelled(format!("the PIN prompt failed: {e}")))?;
        let stdout = Zeroizing::new(output.stdout);
        if !output.status.success() {
            return Err(cancelled("PIN entry cancelled".to_owned()));
        }
        let text = std::str::from_utf8(&stdout).map_err(|_| {
            cancelled("the PIN prompt printed something that is not text".to_owned())
        })?;
        let pin = Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_owned());
        if pin.is_empty() {
            return Err(cancelled("PIN entry cancelled (empty)".to_owned()));
        }
        if pin.len() > MAX_PIN_LEN {
            return Err(cancelled("the PIN prompt printed too much".to_owned()));
        }
        Ok(pin)
    }

    fn cached_pin(&self, serial: &str) -> Option<Zeroizing<String>> {
        self.inner.pins.get(serial)
    }

    fn cache(&self, serial: &str, pin: &Zeroizing<String>) {
        self.inner.pins.keep(serial, pin);
    }

    fn forget(&self, serial: &str) {
        self.inner.pins.forget(serial);
    }

    /// Looks at the readers once: tells insertions and removals on
    /// `passerelle.card.v1.<workstation>.events` and forgets the PIN of every card no longer
    /// present, and every PIN idle for too long. The first look only records what is there.
    pub async fn poll_cards(&self) -> Result<(), CardError> {
        let readers = self.inner.backend.readers().await?;
        let now: HashMap<String, ReaderState> =
            readers.into_iter().map(|r| (r.name.clone(), r)).collect();
        let events = {
            let mut seen = self.inner.seen.lock().unwrap_or_else(|p| p.into_inner());
            let events = seen.as_ref().map(|before| card_events(before, &now));
            *seen = Some(now.clone());
            events.unwrap_or_default()
        };
        let present: HashSet<&str> = now
            .values()
            .filter_map(|r| r.card_serial.as_deref())
            .collect();
        self.inner.pins.retain_present(&present);
        if events.is_empty() {
            return Ok(());
        }
        let subject = match subjects::card_subject(
            &self.inner.settings.workstation,
            subjects::CardOp::Events,
        ) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "no events subject");
                return Ok(());
            }
        };
        for event in events {
            tracing::info!(reader = %event.reader, kind = event.kind, "card event");
            if let Err(e) = self
                .inner
                .bus
                .publish(&subject, Headers::new(), Bytes::from(event.encode_to_vec()))
                .await
            {
                tracing::warn!(error = %e, "card event not published");
            }
        }
        Ok(())
    }
}

/// Checks a workstation id: one subject token (letters, digits, `-`, `_`).
pub fn validate_workstation(id: &str) -> Result<(), AgentError> {
    subjects::validate_token(id).map_err(|e| AgentError::Workstation {
        id: id.to_owned(),
        reason: match e {
            BusError::InvalidSubject { reason, .. } => reason,
            other => other.to_string(),
        },
    })
}

fn card_events(
    before: &HashMap<String, ReaderState>,
    now: &HashMap<String, ReaderState>,
) -> Vec<api::CardEvent> {
    use api::card_event::Kind;
    let at = now_unix_ms();
    let event = |kind: Kind, r: &ReaderState| api::CardEvent {
        kind: kind as i32,
        reader: r.name.clone(),
        card: proto_kind(r.card) as i32,
        card_serial: r.card_serial.clone().unwrap_or_default(),
        at_unix_ms: at,
    };
    let mut out = Vec::new();
    for (name, old) in before {
        match now.get(name) {
            None => {
                if old.card.is_some() {
                    out.push(event(Kind::Removed, old));
                }
                out.push(event(Kind::ReaderRemoved, old));
            }
            Some(new) if (old.card, &old.card_serial) != (new.card, &new.card_serial) => {
                if old.card.is_some() {
                    out.push(event(Kind::Removed, old));
                }
                if new.card.is_some() {
                    out.push(event(Kind::Inserted, new));
                }
            }
            Some(_) => {}
        }
    }
    for (name, new) in now {
        if !before.contains_key(name) {
            out.push(event(Kind::ReaderAdded, new));
            if new.card.is_some() {
                out.push(event(Kind::Inserted, new));
            }
        }
    }
    out
}

/// The reader named `name`, or when `name` is empty the only one holding a card `wanted`.
fn pick_reader<'a>(
    readers: &'a [ReaderState],
    name: &str,
    wanted: impl Fn(CardKind) -> bool,
) -> Result<&'a ReaderState, Status> {
    if !name.is_empty() {
        return readers
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| card_status(CardError::NoSuchReader(name.to_owned())));
    }
    let mut holding = readers.iter().filter(|r| r.card.is_some_and(&wanted));
    match (holding.next(), holding.next()) {
        (Some(r), None) => Ok(r),
        (None, _) => Err(RichError::new(
            Code::FailedPrecondition,
            reasons::NO_CARD,
            if readers.is_empty() {
                "no card reader found: connect one".to_owned()
            } else {
                "no suitable card in any reader: insert the card".to_owned()
            },
        )
        .into_status()),
        (Some(_), Some(_)) => Err(RichError::new(
            Code::FailedPrecondition,
            reasons::SEVERAL_CARDS,
            "several readers hold a card: name the reader",
        )
        .field("reader", "required when several readers hold a card")
        .into_status()),
    }
}

/// The status a caller gets for a card error.
pub fn card_status(e: CardError) -> Status {
    let msg = e.to_string();
    match e {
        CardError::NoSuchReader(_) => RichError::new(Code::NotFound, reasons::NO_SUCH_READER, msg)
            .field("reader", "no such reader")
            .into_status(),
        CardError::NoCard(_) => {
            RichError::new(Code::FailedPrecondition, reasons::NO_CARD, msg).into_status()
        }
        CardError::NotACps(_) => {
            RichError::new(Code::FailedPrecondition, reasons::NOT_A_CPS, msg).into_status()
        }
        CardError::UnknownCard(_) => {
            RichError::new(Code::FailedPrecondition, reasons::UNKNOWN_CARD, msg).into_status()
        }
        CardError::WrongPin { tries_left } => RichError::new(
            Code::PermissionDenied,
            reasons::WRONG_PIN,
            format!(
                "wrong PIN: {tries_left} {} left before the card blocks (not retried)",
                if tries_left == 1 { "try" } else { "tries" }
            ),
        )
        .metadata(TRIES_LEFT_KEY, tries_left.to_string())
        .field("pin", "wrong PIN")
        .into_status(),
        CardError::Blocked => RichError::new(Code::PermissionDenied, reasons::CARD_BLOCKED, msg)
            .metadata(TRIES_LEFT_KEY, "0")
            .into_status(),
        CardError::PinRequired => RichError::new(
            Code::FailedPrecondition,
            reasons::PIN_REQUIRED,
            "a PIN is required: unlock the card on the workstation (`passerelle card unlock \
             --pin-stdin`), configure the agent's PIN prompt (pin.pinentry), or sign from the \
             workstation with `passerelle card sign --pin-stdin`",
        )
        .into_status(),
        CardError::CardRemoved => {
            RichError::new(Code::Aborted, reasons::CARD_REMOVED, msg).into_status()
        }
        CardError::ReaderRemoved(_) => {
            RichError::new(Code::Aborted, reasons::READER_REMOVED, msg).into_status()
        }
        CardError::Transient(_) => {
            RichError::new(Code::Unavailable, reasons::CARD_TRANSIENT, msg).into_status()
        }
        CardError::BadDigest(_) => RichError::new(Code::InvalidArgument, reasons::BAD_DIGEST, msg)
            .field("digest", "must be 32 bytes (SHA-256)")
            .into_status(),
        CardError::Device(_) => {
            RichError::new(Code::FailedPrecondition, reasons::CARD_DEVICE, msg).into_status()
        }
    }
}

fn proto_kind(k: Option<CardKind>) -> api::CardKind {
    match k {
        None => api::CardKind::None,
        Some(CardKind::Cps) => api::CardKind::Cps,
        Some(CardKind::Vitale) => api::CardKind::Vitale,
        Some(CardKind::Unknown) => api::CardKind::Unknown,
    }
}

fn proto_card(reader: String, data: CardData) -> api::ReadCardResponse {
    match data {
        CardData::Cps(c) => api::ReadCardResponse {
            reader,
            kind: api::CardKind::Cps as i32,
            card: Some(api::read_card_response::Card::Cps(api::CpsHolder {
                id: c.id,
                id_type: match c.id_type {
                    IdType::Rpps => api::IdType::Rpps,
                    IdType::Adeli => api::IdType::Adeli,
                    IdType::Other => api::IdType::Other,
                } as i32,
                last_name: c.last_name,
                first_name: c.first_name,
                profession: c.profession,
                profession_label: c.profession_label,
                specialty: c.specialty,
                situations_need_pin: c.situations_need_pin,
                situations: c
                    .situations
                    .into_iter()
                    .map(|s| api::PracticeSituation {
                        structure_id: s.structure_id,
                        structure_id_type: s.structure_id_type,
                        structure_name: s.structure_name,
                        activity_sector: s.activity_sector,
                        billing_id: s.billing_id,
                    })
                    .collect(),
                card_serial: c.card_serial,
                auth_certificate: pem_or_empty(&c.auth_certificate),
                sign_certificate: pem_or_empty(&c.sign_certificate),
            })),
        },
        CardData::Vitale(v) => {
            let person = |p: crate::backend::VitalePerson| api::VitalePerson {
                matricule: p.matricule,
                key: p.key,
                birth_name: p.birth_name,
                used_name: p.used_name,
                first_name: p.first_name,
                birth_date: p.birth_date,
                birth_rank: u32::from(p.birth_rank),
                quality: p.quality,
            };
            api::ReadCardResponse {
                reader,
                kind: api::CardKind::Vitale as i32,
                card: Some(api::read_card_response::Card::Vitale(api::VitaleCard {
                    insured: Some(person(v.insured)),
                    beneficiaries: v.beneficiaries.into_iter().map(person).collect(),
                })),
            }
        }
    }
}

fn pem_or_empty(der: &[u8]) -> String {
    if der.is_empty() {
        String::new()
    } else {
        certificate_pem(der)
    }
}

/// The PEM text of a DER certificate, as the agent sends certificates.
pub fn certificate_pem(der: &[u8]) -> String {
    // Fails only for an invalid label or a length overflowing usize: neither can happen here.
    pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der).unwrap_or_default()
}

fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(15 * 60);

    fn pin(p: &str) -> Zeroizing<String> {
        Zeroizing::new(p.to_owned())
    }

    /// On tokio's paused clock: time only moves when the test says so.
    #[tokio::test(start_paused = true)]
    async fn a_pin_in_use_is_kept_and_an_idle_one_forgotten() {
        let cache = PinCache::new(IDLE);
        cache.keep("S1", &pin("1234"));
        // Each use restarts the idle time.
        for _ in 0..3 {
            tokio::time::advance(IDLE - Duration::from_secs(1)).await;
            assert_eq!(cache.get("S1").as_deref().map(String::as_str), Some("1234"));
        }
        tokio::time::advance(IDLE + Duration::from_millis(1)).await;
        assert!(cache.get("S1").is_none(), "idle too long: forgotten");
        assert!(cache.get("S1").is_none(), "and not back");
    }

    #[tokio::test(start_paused = true)]
    async fn polling_forgets_the_pins_of_cards_gone_and_of_idle_cards() {
        let cache = PinCache::new(IDLE);
        cache.keep("S1", &pin("1234"));
        cache.keep("S2", &pin("5678"));
        cache.retain_present(&HashSet::from(["S1"]));
        assert!(cache.get("S2").is_none(), "card gone: forgotten at once");
        assert!(cache.get("S1").is_some());
        tokio::time::advance(IDLE + Duration::from_millis(1)).await;
        cache.retain_present(&HashSet::from(["S1"]));
        assert_eq!(cache.lock().len(), 0, "idle: forgotten by the poll too");
    }

    #[test]
    fn certificates_are_sent_as_pem_lines_of_64() {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject as _;
        let der: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let pem = certificate_pem(&der);
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
        assert!(pem.ends_with("\n-----END CERTIFICATE-----\n"), "{pem}");
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert_eq!(pem.lines().nth(1).map(str::len), Some(64));
        let back = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        assert_eq!(back.as_ref(), der.as_slice());
        assert_eq!(pem_or_empty(&[]), "");
    }

    #[test]
    fn a_zero_idle_timeout_or_an_unknown_serial_keeps_nothing() {
        let cache = PinCache::new(Duration::ZERO);
        cache.keep("S1", &pin("1234"));
        assert!(cache.get("S1").is_none());
        let cache = PinCache::new(IDLE);
        cache.keep("", &pin("1234"));
        assert!(cache.get("").is_none());
        assert_eq!(cache.lock().len(), 0);
    }
}
