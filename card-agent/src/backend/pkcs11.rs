//! [`CardBackend`] over a PKCS#11 module: Cryptolib CPS in production (the ANS middleware that
//! exposes the CPS keys), SoftHSM in tests, or any other module.
//!
//! - **Readers**: every slot of the module is a reader, named by its slot description (under
//!   Cryptolib, the PC/SC reader name); a reader can also be addressed by its token label. A slot
//!   without a token is a reader without a card.
//! - **Card kind**: a token holding a certificate whose subject has the IGC-Santé person profile
//!   (CN, SN, GN, title) issued by a health PKI ([`Pkcs11Config::cps_issuer_markers`]), or whose
//!   label is listed in [`Pkcs11Config::cps_token_labels`], is a CPS; any other token is
//!   [`CardKind::Unknown`]. A carte Vitale has no PKCS#11 keys: it is read by the PC/SC backend.
//! - **Read**: the authentication and signature certificates, and the holder fields carried by
//!   the certificate subject: CN (card holder identifier, e.g. `00B6087510`, returned as `id`
//!   with [`IdType::Other`]), SN, GN and title (profession label; the profession code is derived
//!   from a small table of common labels). **The full CPS holder data (RPPS/ADELI, specialty,
//!   practice situations) is only in the card's own files, read by the PC/SC backend**: PKCS#11
//!   does not expose it.
//! - **Keys**: a certificate's private key has the same `CKA_ID`. Which certificate is which is
//!   decided by its label (`…Signature…` / `…Authentification…` as Cryptolib names them), then by
//!   its key usage (nonRepudiation alone = signature, digitalSignature alone = authentication); a
//!   certificate with both usages (or none) may serve either role.
//! - **PIN**: `C_Login`; the logged-in session is kept per slot, so that [`CardBackend::sign`]
//!   works until the card is removed or the PIN verified again. Tries left after a wrong PIN come
//!   from the token flags, which only tell *low* / *final try* / *locked*: see [`pin_failure`].
//! - **Signature**: `CKM_RSA_PKCS` over the DER `DigestInfo` of a SHA-256 digest (built here).
//!   Keys with `CKA_ALWAYS_AUTHENTICATE` (a context-specific PIN before each signature) are not
//!   supported: the backend does not keep the PIN.
//!
//! Every cryptoki call blocks (the middleware talks to the card): they run in
//! [`tokio::task::spawn_blocking`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use x509_parser::oid_registry::{OID_X509_GIVEN_NAME, OID_X509_SURNAME, OID_X509_TITLE};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};
use zeroize::Zeroizing;

use super::{CardBackend, CardData, CardError, CardKind, CpsData, IdType, KeyUse, ReaderState};

// Where Cryptolib CPS 5.2 installs its PKCS#11 module, as its installers do (ANS,
// `ansforge/dops-cryptolib`): the Windows MSI's specification (64-bit module in System32),
// the macOS package's payload, the Linux RPM's payload (the file under /opt, symlinked from
// /usr/lib64/libcps3_pkcs11_lux.so). Configurable: `backend.pkcs11.module`.

/// Cryptolib CPS's 64-bit PKCS#11 module on Windows.
#[cfg(target_os = "windows")]
pub const CRYPTOLIB_CPS_MODULE: &str = r"C:\Windows\System32\cps3_pkcs11_w64.dll";
/// Cryptolib CPS's PKCS#11 module on macOS (10.11 and later).
#[cfg(target_os = "macos")]
pub const CRYPTOLIB_CPS_MODULE: &str = "/usr/local/lib/libcps3_pkcs11_osx.dylib";
/// Cryptolib CPS's PKCS#11 module on Linux.
#[cfg(not(any(target_os = "windows", target_os = "macos")))]
pub const CRYPTOLIB_CPS_MODULE: &str = "/opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so";

/// Debian's SoftHSM module (package `softhsm2`), used by the tests.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Issuer markers of the health PKIs that issue CPS certificates (IGC-Santé, and the older
/// GIP-CPS / ASIP-Santé hierarchies).
pub const DEFAULT_CPS_ISSUER_MARKERS: &[&str] = &[
    "IGC-SANTE",
    "ASIP-SANTE",
    "AGENCE DU NUMERIQUE EN SANTE",
    "GIP-CPS",
];

/// Configuration of the PKCS#11 backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 module (shared library).
    pub module: PathBuf,
    /// Token labels always treated as CPS (e.g. a test token).
    pub cps_token_labels: Vec<String>,
    /// A certificate with the person profile is a CPS one when its issuer DN contains one of
    /// these (case-insensitive).
    pub cps_issuer_markers: Vec<String>,
}

impl Default for Pkcs11Config {
    /// Cryptolib CPS at its default place.
    fn default() -> Self {
        Self::with_module(CRYPTOLIB_CPS_MODULE)
    }
}

impl Pkcs11Config {
    /// Any module, with the default CPS detection.
    pub fn with_module(module: impl Into<PathBuf>) -> Self {
        Self {
            module: module.into(),
            cps_token_labels: Vec::new(),
            cps_issuer_markers: DEFAULT_CPS_ISSUER_MARKERS
                .iter()
                .map(|m| (*m).to_owned())
                .collect(),
        }
    }
}

/// Why the module could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11OpenError {
    #[error("cannot load the PKCS#11 module {module}: {reason}")]
    Load { module: PathBuf, reason: String },
    #[error("the PKCS#11 module {module} failed to initialise: {reason}")]
    Initialize { module: PathBuf, reason: String },
    #[error("the task opening the PKCS#11 module failed: {0}")]
    Task(String),
}

/// A [`CardBackend`] over one PKCS#11 module. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Pkcs11Backend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Pkcs11Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Backend")
            .field("module", &self.inner.config.module)
            .finish_non_exhaustive()
    }
}

type SharedSession = Arc<Mutex<Session>>;

struct Inner {
    ctx: Pkcs11,
    /// False when the module was already initialised by someone else in this process: then it
    /// is not ours to finalise.
    owns_init: bool,
    config: Pkcs11Config,
    /// Logged-in sessions by slot id: PKCS#11 login state lasts while a session is open.
    logged_in: Mutex<HashMap<u64, SharedSession>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Sessions first (logs the user out), then the module.
        self.logged_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        if self.owns_init
            && let Err(e) = self.ctx.clone().finalize()
        {
            tracing::warn!(error = %e, "C_Finalize failed");
        }
    }
}

impl Pkcs11Backend {
    /// Loads and initialises the module (in a blocking task).
    pub async fn open(config: Pkcs11Config) -> Result<Self, Pkcs11OpenError> {
        tokio::task::spawn_blocking(move || Self::open_blocking(config))
            .await
            .map_err(|e| Pkcs11OpenError::Task(e.to_string()))?
    }

    /// Loads and initialises the module on the current thread (blocks).
    pub fn open_blocking(config: Pkcs11Config) -> Result<Self, Pkcs11OpenError> {
        let ctx = Pkcs11::new(&config.module).map_err(|e| Pkcs11OpenError::Load {
            module: config.module.clone(),
            reason: e.to_string(),
        })?;
        let owns_init = match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        {
            Ok(()) => true,
            Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => false,
            Err(e) => {
                return Err(Pkcs11OpenError::Initialize {
                    module: config.module.clone(),
                    reason: e.to_string(),
                });
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                ctx,
                owns_init,
                config,
                logged_in: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The module in use.
    pub fn module(&self) -> &Path {
        &self.inner.config.module
    }

    /// Runs `f` on the blocking pool with the shared state.
    async fn blocking<T, F>(&self, f: F) -> Result<T, CardError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, CardError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| CardError::Device(format!("PKCS#11 task failed: {e}")))?
    }
}

#[async_trait]
impl CardBackend for Pkcs11Backend {
    async fn readers(&self) -> Result<Vec<ReaderState>, CardError> {
        self.blocking(Inner::readers).await
    }

    async fn read(&self, reader: &str) -> Result<CardData, CardError> {
        let reader = reader.to_owned();
        self.blocking(move |inner| inner.read(&reader)).await
    }

    async fn verify_pin(&self, reader: &str, pin: &Zeroizing<String>) -> Result<(), CardError> {
        let reader = reader.to_owned();
        // cryptoki's AuthPin (secrecy) zeroizes its copy on drop.
        let pin = AuthPin::from(pin.as_str());
        self.blocking(move |inner| inner.verify_pin(&reader, &pin))
            .await
    }

    async fn sign(
        &self,
        reader: &str,
        key: KeyUse,
        digest: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), CardError> {
        let digest_info = sha256_digest_info(digest)?;
        let reader = reader.to_owned();
        self.blocking(move |inner| inner.sign(&reader, key, &digest_info))
            .await
    }
}

/// A slot resolved from a reader name.
struct SlotRef {
    slot: Slot,
    name: String,
}

impl Inner {
    fn slots(&self) -> Result<Vec<(Slot, String, bool)>, CardError> {
        let slots = self.ctx.get_all_slots().map_err(|e| map_error(&e))?;
        let mut out = Vec::with_capacity(slots.len());
        for slot in slots {
            let info = self.ctx.get_slot_info(slot).map_err(|e| map_error(&e))?;
            let description = info.slot_description().trim();
            let name = if description.is_empty() {
                format!("PKCS#11 slot {}", slot.id())
            } else {
                description.to_owned()
            };
            out.push((slot, name, info.token_present()));
        }
        Ok(out)
    }

    /// Finds the slot of `reader` (slot description, or token label) holding a token.
    fn resolve(&self, reader: &str) -> Result<SlotRef, CardError> {
        let wanted = reader.trim();
        let slots = self.slots()?;
        if let Some((slot, name, present)) = slots.iter().find(|(_, name, _)| name == wanted) {
            if !present {
                return Err(CardError::NoCard(reader.to_owned()));
            }
            return Ok(SlotRef {
                slot: *slot,
                name: name.clone(),
            });
        }
        for (slot, name, present) in &slots {
            if !present {
                continue;
            }
            match self.ctx.get_token_info(*slot) {
                Ok(token) if token.label().trim() == wanted => {
                    return Ok(SlotRef {
                        slot: *slot,
                        name: name.clone(),
                    });
                }
                _ => {}
            }
        }
        Err(CardError::NoSuchReader(reader.to_owned()))
    }

    fn readers(&self) -> Result<Vec<ReaderState>, CardError> {
        let mut readers = Vec::new();
        for (slot, name, present) in self.slots()? {
            if !present {
                readers.push(ReaderState {
                    name,
                    card: None,
                    card_serial: None,
                    model: None,
                });
                continue;
            }
            let state = match self.token_summary(slot) {
                Ok(token) => ReaderState {
                    name,
                    card: Some(token.kind),
                    card_serial: token.serial,
                    model: None,
                },
                // The card went away between listing and reading: report the reader empty.
                Err(CardError::CardRemoved) => ReaderState {
                    name,
                    card: None,
                    card_serial: None,
                    model: None,
                },
                Err(e) => return Err(e),
            };
            readers.push(state);
        }
        Ok(readers)
    }

    fn token_summary(&self, slot: Slot) -> Result<TokenSummary, CardError> {
        let token = self.ctx.get_token_info(slot).map_err(|e| map_error(&e))?;
        let serial = non_empty(token.serial_number());
        let label = token.label().trim().to_owned();
        if !token.token_initialized() {
            return Ok(TokenSummary {
                kind: CardKind::Unknown,
                serial,
                certificates: Vec::new(),
            });
        }
        let session = self.ctx.open_ro_session(slot).map_err(|e| map_error(&e))?;
        let certificates = list_certificates(&session)?;
        let configured = self
            .config
            .cps_token_labels
            .iter()
            .any(|l| l.trim() == label);
        let kind = if configured
            || certificates
                .iter()
                .any(|c| c.looks_cps(&self.config.cps_issuer_markers))
        {
            CardKind::Cps
        } else {
            CardKind::Unknown
        };
        Ok(TokenSummary {
            kind,
            serial,
            certificates,
        })
    }

    fn read(&self, reader: &str) -> Result<CardData, CardError> {
        let slot = self.resolve(reader)?;
        let token = self.token_summary(slot.slot)?;
        if token.kind != CardKind::Cps {
            return Err(CardError::UnknownCard(slot.name));
        }
        let sign = pick_certificate(&token.certificates, KeyUse::Signature);
        let auth = pick_certificate(&token.certificates, KeyUse::Authentication);
        let holder = sign
            .or(auth)
            .or_else(|| token.certificates.first())
            .ok_or_else(|| {
                CardError::Device(format!("no certificate on the card in {reader:?}"))
            })?;
        let profession_label = holder.title.clone().unwrap_or_default();
        Ok(CardData::Cps(CpsData {
            id: holder.common_name.clone().unwrap_or_default(),
            id_type: IdType::Other,
            last_name: holder.surname.clone().unwrap_or_default(),
            first_name: holder.given_name.clone().unwrap_or_default(),
            profession: profession_code(&profession_label)
                .unwrap_or_default()
                .to_owned(),
            profession_label,
            specialty: String::new(),
            situations: Vec::new(),
            situations_need_pin: false,
            card_serial: token.serial.unwrap_or_default(),
            auth_certificate: auth.map(|c| c.der.clone()).unwrap_or_default(),
            sign_certificate: sign.map(|c| c.der.clone()).unwrap_or_default(),
        }))
    }

    fn forget_session(&self, slot: Slot) {
        self.logged_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&slot.id());
    }

    fn verify_pin(&self, reader: &str, pin: &AuthPin) -> Result<(), CardError> {
        let slot = self.resolve(reader)?;
        let token = self
            .ctx
            .get_token_info(slot.slot)
            .map_err(|e| map_error(&e))?;
        if token.user_pin_locked() {
            // Do not even present the PIN.
            return Err(CardError::Blocked);
        }
        // A fresh verification: drop our previous login on this slot (closing the last session
        // logs the user out), then log in on a new session kept for signing.
        self.forget_session(slot.slot);
        let session = self
            .ctx
            .open_ro_session(slot.slot)
            .map_err(|e| map_error(&e))?;
        let mut result = session.login(UserType::User, Some(pin));
        if let Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) = result {
            // Another session of this process kept the login: log out and verify this PIN
            // (this is the first presentation of this PIN, not a retry of a refused one).
            session.logout().map_err(|e| map_error(&e))?;
            result = session.login(UserType::User, Some(pin));
        }
        match result {
            Ok(()) => {
                self.logged_in
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(slot.slot.id(), Arc::new(Mutex::new(session)));
                Ok(())
            }
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                let flags = match self.ctx.get_token_info(slot.slot) {
                    Ok(t) => PinFlags {
                        count_low: t.user_pin_count_low(),
                        final_try: t.user_pin_final_try(),
                        locked: t.user_pin_locked(),
                    },
                    Err(_) => PinFlags::default(),
                };
                Err(pin_failure(flags))
            }
            Err(e) => Err(map_error(&e)),
        }
    }

    fn sign(
        &self,
        reader: &str,
        key: KeyUse,
        digest_info: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), CardError> {
        let slot = self.resolve(reader)?;
        let session = self
            .logged_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&slot.slot.id())
            .cloned()
            .ok_or(CardError::PinRequired)?;
        let session = session.lock().unwrap_or_else(PoisonError::into_inner);
        let result = sign_with(&session, key, digest_info, reader);
        drop(session);
        if let Err(e) = &result
            && matches!(
                e,
                CardError::PinRequired | CardError::CardRemoved | CardError::Transient(_)
            )
        {
            // The login is gone with the session (card reset or removed).
            self.forget_session(slot.slot);
        }
        result
    }
}

fn sign_with(
    session: &Session,
    key: KeyUse,
    digest_info: &[u8],
    reader: &str,
) -> Result<(Vec<u8>, Vec<u8>), CardError> {
    let certificates = list_certificates(session)?;
    let cert = pick_certificate(&certificates, key).ok_or_else(|| {
        CardError::Device(format!(
            "no {} certificate on the card in {reader:?}",
            key_name(key)
        ))
    })?;
    let private_key = find_private_key(session, cert)?;
    let always_authenticate = session
        .get_attributes(private_key, &[AttributeType::AlwaysAuthenticate])
        .map_err(|e| map_error(&e))?
        .into_iter()
        .any(|a| matches!(a, Attribute::AlwaysAuthenticate(true)));
    if always_authenticate {
        return Err(CardError::Device(format!(
            "the {} key asks for the PIN before each signature (CKA_ALWAYS_AUTHENTICATE), \
             which this backend does not support",
            key_name(key)
        )));
    }
    let signature = session
        .sign(&Mechanism::RsaPkcs, private_key, digest_info)
        .map_err(|e| map_error(&e))?;
    Ok((signature, cert.der.clone()))
}

fn key_name(key: KeyUse) -> &'static str {
    match key {
        KeyUse::Signature => "signature",
        KeyUse::Authentication => "authentication",
    }
}

fn find_private_key(session: &Session, cert: &TokenCertificate) -> Result<ObjectHandle, CardError> {
    let by_class = Attribute::Class(ObjectClass::PRIVATE_KEY);
    if !cert.id.is_empty() {
        let found = session
            .find_objects(&[by_class.clone(), Attribute::Id(cert.id.clone())])
            .map_err(|e| map_error(&e))?;
        if let Some(handle) = found.first() {
            return Ok(*handle);
        }
    }
    if !cert.label.is_empty() {
        let found = session
            .find_objects(&[
                by_class.clone(),
                Attribute::Label(cert.label.as_bytes().to_vec()),
            ])
            .map_err(|e| map_error(&e))?;
        if let Some(handle) = found.first() {
            return Ok(*handle);
        }
    }
    // A token with a single private key: that one.
    let all = session
        .find_objects(&[by_class])
        .map_err(|e| map_error(&e))?;
    match all.as_slice() {
        [only] => Ok(*only),
        // Private keys are invisible before login.
        [] => Err(CardError::PinRequired),
        _ => Err(CardError::Device(format!(
            "no private key matches the certificate {:?}",
            cert.label
        ))),
    }
}

struct TokenSummary {
    kind: CardKind,
    serial: Option<String>,
    certificates: Vec<TokenCertificate>,
}

/// An X.509 certificate object of a token, with what the backend needs from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct TokenCertificate {
    der: Vec<u8>,
    id: Vec<u8>,
    label: String,
    common_name: Option<String>,
    surname: Option<String>,
    given_name: Option<String>,
    title: Option<String>,
    issuer: String,
    non_repudiation: bool,
    digital_signature: bool,
}

impl TokenCertificate {
    /// Parses a DER certificate; None when it is not one.
    fn parse(der: Vec<u8>, id: Vec<u8>, label: String) -> Option<Self> {
        let (_, cert) = X509Certificate::from_der(&der).ok()?;
        let subject = cert.subject();
        let common_name = first_value(subject, None);
        let surname = first_value(subject, Some(&OID_X509_SURNAME));
        let given_name = first_value(subject, Some(&OID_X509_GIVEN_NAME));
        let title = first_value(subject, Some(&OID_X509_TITLE));
        let issuer = cert.issuer().to_string();
        let (non_repudiation, digital_signature) = match cert.key_usage() {
            Ok(Some(ku)) => (ku.value.non_repudiation(), ku.value.digital_signature()),
            _ => (false, false),
        };
        drop(cert);
        Some(Self {
            der,
            id,
            label,
            common_name,
            surname,
            given_name,
            title,
            issuer,
            non_repudiation,
            digital_signature,
        })
    }

    /// The IGC-Santé person profile (CN, SN, GN, title) from a health PKI.
    fn looks_cps(&self, issuer_markers: &[String]) -> bool {
        let person = self.common_name.is_some()
            && self.surname.is_some()
            && self.given_name.is_some()
            && self.title.is_some();
        let issuer = self.issuer.to_uppercase();
        person
            && issuer_markers
                .iter()
                .any(|m| !m.is_empty() && issuer.contains(&m.to_uppercase()))
    }

    /// The role this certificate's key plays, when it tells: label first, then key usage.
    fn role(&self) -> Option<KeyUse> {
        let label = self.label.to_lowercase();
        let says_sign = label.contains("sign");
        let says_auth = label.contains("auth");
        match (says_sign, says_auth) {
            (true, false) => return Some(KeyUse::Signature),
            (false, true) => return Some(KeyUse::Authentication),
            _ => {}
        }
        match (self.non_repudiation, self.digital_signature) {
            (true, false) => Some(KeyUse::Signature),
            (false, true) => Some(KeyUse::Authentication),
            _ => None,
        }
    }
}

fn first_value(
    name: &X509Name<'_>,
    oid: Option<&x509_parser::der_parser::Oid<'_>>,
) -> Option<String> {
    let value = match oid {
        None => name.iter_common_name().next(),
        Some(oid) => name.iter_by_oid(oid).next(),
    }?;
    value
        .as_str()
        .ok()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The certificate for `key`: one with that role, else one that may serve either role.
fn pick_certificate(certificates: &[TokenCertificate], key: KeyUse) -> Option<&TokenCertificate> {
    certificates
        .iter()
        .find(|c| c.role() == Some(key))
        .or_else(|| certificates.iter().find(|c| c.role().is_none()))
}

fn list_certificates(session: &Session) -> Result<Vec<TokenCertificate>, CardError> {
    let handles = session
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
        ])
        .map_err(|e| map_error(&e))?;
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        let attributes = session
            .get_attributes(
                handle,
                &[
                    AttributeType::Value,
                    AttributeType::Id,
                    AttributeType::Label,
                ],
            )
            .map_err(|e| map_error(&e))?;
        let (mut der, mut id, mut label) = (Vec::new(), Vec::new(), String::new());
        for attribute in attributes {
            match attribute {
                Attribute::Value(v) => der = v,
                Attribute::Id(v) => id = v,
                Attribute::Label(v) => label = String::from_utf8_lossy(&v).trim().to_owned(),
                _ => {}
            }
        }
        if let Some(cert) = TokenCertificate::parse(der, id, label) {
            out.push(cert);
        }
    }
    Ok(out)
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// DER prefix of a `DigestInfo` for SHA-256 (RFC 8017 §9.2 note 1).
const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The DER `DigestInfo` wrapping a SHA-256 digest, as `CKM_RSA_PKCS` expects for a PKCS#1 v1.5
/// signature.
pub fn sha256_digest_info(digest: &[u8]) -> Result<Vec<u8>, CardError> {
    if digest.len() != 32 {
        return Err(CardError::BadDigest(digest.len()));
    }
    let mut out = Vec::with_capacity(SHA256_DIGEST_INFO_PREFIX.len() + 32);
    out.extend_from_slice(&SHA256_DIGEST_INFO_PREFIX);
    out.extend_from_slice(digest);
    Ok(out)
}

/// The user-PIN flags of a token after a refused PIN.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PinFlags {
    /// `CKF_USER_PIN_COUNT_LOW`: a wrong PIN was entered since the last good one.
    pub count_low: bool,
    /// `CKF_USER_PIN_FINAL_TRY`: one more wrong PIN locks the card.
    pub final_try: bool,
    /// `CKF_USER_PIN_LOCKED`.
    pub locked: bool,
}

/// The error for a refused PIN (`CKR_PIN_INCORRECT`), from the token flags. PKCS#11 does not
/// give a count, so this is best effort:
/// - locked → [`CardError::Blocked`];
/// - final try → `WrongPin { tries_left: 1 }`;
/// - otherwise → `WrongPin { tries_left: 2 }`: at least two tries are left, exact for the CPS
///   (3 tries). A token that sets no flag at all (SoftHSM never sets FINAL_TRY or LOCKED) is
///   reported the same way.
pub fn pin_failure(flags: PinFlags) -> CardError {
    if flags.locked {
        CardError::Blocked
    } else if flags.final_try {
        CardError::WrongPin { tries_left: 1 }
    } else {
        CardError::WrongPin { tries_left: 2 }
    }
}

/// Maps a cryptoki error to what the caller can act on.
fn map_error(error: &CkError) -> CardError {
    match error {
        CkError::Pkcs11(rv, function) => match rv {
            RvError::DeviceRemoved | RvError::TokenNotPresent => CardError::CardRemoved,
            RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::DeviceError
            | RvError::SessionCount => CardError::Transient(format!("{function}: {rv}")),
            RvError::PinLocked => CardError::Blocked,
            RvError::UserNotLoggedIn => CardError::PinRequired,
            RvError::PinIncorrect => pin_failure(PinFlags::default()),
            RvError::PinLenRange | RvError::PinInvalid => CardError::Device(format!(
                "{function}: the token refused the PIN's format ({rv}); no try was used"
            )),
            _ => CardError::Device(format!("{function}: {rv}")),
        },
        other => CardError::Device(other.to_string()),
    }
}

/// Profession codes (ANS nomenclature TRE_G15 "ProfessionSante") of the commonest labels found
/// in the certificate's `title`.
fn profession_code(label: &str) -> Option<&'static str> {
    let folded: String = label
        .chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' => 'E',
            'à' | 'â' | 'À' | 'Â' => 'A',
            'ï' | 'î' => 'I',
            'ô' => 'O',
            'ù' | 'û' => 'U',
            'ç' => 'C',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    let code = match folded.trim() {
        "MEDECIN" => "10",
        "PHARMACIEN" => "21",
        "CHIRURGIEN-DENTISTE" => "40",
        "SAGE-FEMME" => "50",
        "INFIRMIER" | "INFIRMIERE" => "60",
        "MASSEUR-KINESITHERAPEUTE" => "70",
        "PEDICURE-PODOLOGUE" => "80",
        _ => return None,
    };
    Some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_info_wraps_a_sha256_digest() {
        let digest = [7u8; 32];
        let info = sha256_digest_info(&digest).unwrap();
        assert_eq!(info.len(), 51);
        assert_eq!(info[0], 0x30);
        assert_eq!(usize::from(info[1]), info.len() - 2);
        assert_eq!(&info[19..], &digest);
        assert_eq!(sha256_digest_info(&[0; 20]), Err(CardError::BadDigest(20)));
        assert_eq!(sha256_digest_info(&[]), Err(CardError::BadDigest(0)));
    }

    #[test]
    fn pin_flags_give_best_effort_tries() {
        assert_eq!(
            pin_failure(PinFlags::default()),
            CardError::WrongPin { tries_left: 2 }
        );
        let low = PinFlags {
            count_low: true,
            ..PinFlags::default()
        };
        assert_eq!(pin_failure(low), CardError::WrongPin { tries_left: 2 });
        let last = PinFlags {
            count_low: true,
            final_try: true,
            locked: false,
        };
        assert_eq!(pin_failure(last), CardError::WrongPin { tries_left: 1 });
        let locked = PinFlags {
            locked: true,
            ..PinFlags::default()
        };
        assert_eq!(pin_failure(locked), CardError::Blocked);
    }

    #[test]
    fn errors_map_to_what_callers_act_on() {
        use cryptoki::context::Function;
        let e = |rv| map_error(&CkError::Pkcs11(rv, Function::Sign));
        assert_eq!(e(RvError::DeviceRemoved), CardError::CardRemoved);
        assert_eq!(e(RvError::TokenNotPresent), CardError::CardRemoved);
        assert!(e(RvError::SessionHandleInvalid).is_transient());
        assert!(e(RvError::DeviceError).is_transient());
        assert_eq!(e(RvError::PinLocked), CardError::Blocked);
        assert_eq!(e(RvError::UserNotLoggedIn), CardError::PinRequired);
        assert!(matches!(e(RvError::FunctionFailed), CardError::Device(_)));
    }

    fn cert(label: &str, non_repudiation: bool, digital_signature: bool) -> TokenCertificate {
        TokenCertificate {
            label: label.to_owned(),
            non_repudiation,
            digital_signature,
            ..TokenCertificate::default()
        }
    }

    #[test]
    fn certificates_are_told_apart_by_label_then_key_usage() {
        assert_eq!(
            cert("Certificat de Signature CPS", true, true).role(),
            Some(KeyUse::Signature)
        );
        assert_eq!(
            cert("Certificat d'Authentification CPS", true, true).role(),
            Some(KeyUse::Authentication)
        );
        assert_eq!(cert("", true, false).role(), Some(KeyUse::Signature));
        assert_eq!(cert("", false, true).role(), Some(KeyUse::Authentication));
        assert_eq!(cert("", true, true).role(), None);

        let certs = vec![cert("a", false, true), cert("b", true, false)];
        assert_eq!(
            pick_certificate(&certs, KeyUse::Signature).map(|c| c.label.as_str()),
            Some("b")
        );
        assert_eq!(
            pick_certificate(&certs, KeyUse::Authentication).map(|c| c.label.as_str()),
            Some("a")
        );
        // A single dual-use certificate serves both; a signature-only one never authenticates.
        let dual = vec![cert("x", true, true)];
        assert!(pick_certificate(&dual, KeyUse::Authentication).is_some());
        let sign_only = vec![cert("x", true, false)];
        assert!(pick_certificate(&sign_only, KeyUse::Authentication).is_none());
    }

    #[test]
    fn cps_profile_needs_person_fields_and_a_health_issuer() {
        let markers: Vec<String> = DEFAULT_CPS_ISSUER_MARKERS
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let mut c = TokenCertificate {
            common_name: Some("00B6087510".into()),
            surname: Some("INFIRMCS ADELI8751".into()),
            given_name: Some("OLIVIER".into()),
            title: Some("Infirmier".into()),
            issuer: "C=FR, O=ASIP-SANTE, OU=IGC-SANTE TEST, CN=TEST AC IGC-SANTE FORT PERSONNES"
                .into(),
            ..TokenCertificate::default()
        };
        assert!(c.looks_cps(&markers));
        c.issuer = "CN=Some CA".into();
        assert!(!c.looks_cps(&markers));
        c.issuer = "CN=TEST AC IGC-SANTE FORT PERSONNES".into();
        c.title = None;
        assert!(!c.looks_cps(&markers));
    }

    #[test]
    fn profession_codes_of_common_titles() {
        assert_eq!(profession_code("Médecin"), Some("10"));
        assert_eq!(profession_code("Infirmier"), Some("60"));
        assert_eq!(profession_code("Pharmacien"), Some("21"));
        assert_eq!(profession_code("Astronaute"), None);
    }

    #[test]
    fn parses_the_real_test_cps_certificate_subject() {
        // A real IGC-Santé TEST CPS signature certificate (from the INSi CPS-mode fixture),
        // when the shared specs are present.
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/specs/insi/fixtures/cps-mode/assertion-ps-request.2.xml");
        let Ok(xml) = std::fs::read_to_string(&path) else {
            eprintln!("SKIPPED part: {} not found", path.display());
            return;
        };
        let start = xml.find("X509Certificate>").unwrap() + "X509Certificate>".len();
        let end = start + xml[start..].find('<').unwrap();
        let b64: String = xml[start..end].split_whitespace().collect();
        let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &b64).unwrap();
        let c =
            TokenCertificate::parse(der, vec![1], "Certificat de Signature CPS".into()).unwrap();
        assert_eq!(c.common_name.as_deref(), Some("00B6087510"));
        assert_eq!(c.given_name.as_deref(), Some("OLIVIER"));
        assert_eq!(c.surname.as_deref(), Some("INFIRMCS ADELI8751"));
        assert_eq!(c.title.as_deref(), Some("Infirmier"));
        assert!(c.non_repudiation && !c.digital_signature);
        assert!(c.looks_cps(&Pkcs11Config::default().cps_issuer_markers));
    }
}
