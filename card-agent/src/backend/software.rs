//! A software token: a key and its certificate in files (PEM, or PKCS#12), behaving like a CPS
//! in one reader — PIN with a limited number of tries, then blocked.
//!
//! Two uses: the organisation certificate on a server (no PIN: `pin` empty), and the sandbox's
//! test CPS that `passerelle up` starts with (PIN `1234`). Signatures are RSA PKCS#1 v1.5 over
//! a SHA-256 digest given by the caller (the DigestInfo is built here), as a CPS makes them.
//! An ECDSA key loads (the card can be read) but refuses to sign, with a clear error.
//!
//! Like the non-repudiation key of a card, a verified PIN allows one signature: the agent
//! presents the PIN before each one.
//!
//! **Test and demo device:** with `vitale_file`, a second reader holds a carte Vitale whose
//! persons come from a TOML file ([`VitaleFile`]): what `passerelle up --vitale-file` uses to
//! run a carte Vitale search without a card. It is not a card: nothing is signed or checked.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{
    CardBackend, CardData, CardError, CardKind, CpsData, IdType, KeyUse, ReaderState, Situation,
    VitaleData, VitalePerson,
};

/// Name of the one reader of a software token, unless configured.
pub const DEFAULT_READER: &str = "Passerelle software token";
/// Name of the reader holding the software carte Vitale (`vitale_file`), unless configured.
pub const DEFAULT_VITALE_READER: &str = "Passerelle software Vitale";
/// Card serial of the software carte Vitale, unless the file gives one.
pub const DEFAULT_VITALE_SERIAL: &str = "SOFTWARE-VITALE";
/// PIN tries before the token blocks, as on a CPS.
pub const DEFAULT_MAX_TRIES: u8 = 3;
/// PIN of the sandbox's test CPS.
pub const SANDBOX_CPS_PIN: &str = "1234";

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_ED25519: &str = "1.3.101.112";

/// Errors loading a software token.
#[derive(Debug, thiserror::Error)]
pub enum SoftwareTokenError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("the key in {key} does not match the certificate in {cert}")]
    KeyMismatch { key: PathBuf, cert: PathBuf },
    #[error("software token: {0}")]
    Config(String),
}

/// Where the key and certificate are.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TokenIdentity {
    /// A PEM certificate (chain, leaf first) and a PEM private key (PKCS#8 or PKCS#1).
    Pem { cert: PathBuf, key: PathBuf },
    /// A PKCS#12 (.p12/.pfx) file with the key and its chain.
    Pkcs12 {
        path: PathBuf,
        /// Never written back out nor shown in debug output.
        #[serde(default, skip_serializing)]
        password: String,
    },
}

impl Default for TokenIdentity {
    fn default() -> Self {
        Self::Pem {
            cert: PathBuf::new(),
            key: PathBuf::new(),
        }
    }
}

impl fmt::Debug for TokenIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pem { cert, key } => f
                .debug_struct("Pem")
                .field("cert", cert)
                .field("key", key)
                .finish(),
            Self::Pkcs12 { path, .. } => f
                .debug_struct("Pkcs12")
                .field("path", path)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// The professional the token stands for (what a CPS carries besides its certificates).
/// Empty names are taken from the certificate subject (surname, given name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HolderConfig {
    /// National identifier (e.g. `810001234565`: 8 + RPPS).
    pub id: String,
    /// `rpps`, `adeli` or `other`.
    pub id_type: String,
    pub last_name: String,
    pub first_name: String,
    /// Profession code (TRE_G15, `10` médecin) and label.
    pub profession: String,
    pub profession_label: String,
    /// Specialty code (e.g. `SM54`, médecine générale).
    pub specialty: String,
    pub situations: Vec<SituationConfig>,
}

impl Default for HolderConfig {
    /// The sandbox's test professional.
    fn default() -> Self {
        Self {
            id: "810001234565".to_owned(),
            id_type: "rpps".to_owned(),
            last_name: String::new(),
            first_name: String::new(),
            profession: "10".to_owned(),
            profession_label: "Médecin".to_owned(),
            specialty: "SM54".to_owned(),
            situations: vec![SituationConfig::default()],
        }
    }
}

/// A practice situation (situation d'exercice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SituationConfig {
    pub structure_id: String,
    pub structure_id_type: String,
    pub structure_name: String,
    /// Activity sector `SAxx` (e.g. `SA05` centre de santé).
    pub activity_sector: String,
    pub billing_id: String,
}

impl Default for SituationConfig {
    /// The sandbox's test health centre.
    fn default() -> Self {
        Self {
            structure_id: "999000003".to_owned(),
            structure_id_type: "FINESS".to_owned(),
            structure_name: "CENTRE DE SANTE PASSERELLE SANDBOX".to_owned(),
            activity_sector: "SA05".to_owned(),
            billing_id: "991234567".to_owned(),
        }
    }
}

/// `[backend.software]` configuration.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SoftwareTokenConfig {
    /// Name of the token's reader.
    pub reader: String,
    /// The authentication key and certificate (and the signature one, unless
    /// `sign_identity` is set).
    pub identity: TokenIdentity,
    /// The signature (non-repudiation) key and certificate, when distinct, as on a CPS.
    pub sign_identity: Option<TokenIdentity>,
    /// The token's PIN (the card's own reference, compared with what the user enters); empty:
    /// no PIN (an organisation certificate used unattended). Never written back out.
    #[serde(skip_serializing)]
    pub pin: String,
    /// Wrong PINs in a row before the token blocks.
    pub max_tries: u8,
    /// Card serial; empty: the certificate's CN (the card id of a CPS certificate).
    pub card_serial: String,
    pub holder: HolderConfig,
    /// Test/demo device: a carte Vitale in a second reader, its persons read from this TOML
    /// file ([`VitaleFile`]).
    pub vitale_file: Option<PathBuf>,
    /// Name of that second reader.
    pub vitale_reader: String,
}

impl SoftwareTokenConfig {
    /// The sandbox's test CPS: its authentication and signature certificates and keys (PEM
    /// files of the test PKI), PIN [`SANDBOX_CPS_PIN`]. For tests and the embedded sandbox.
    pub fn sandbox_cps(cert: &Path, key: &Path, sign_cert: &Path, sign_key: &Path) -> Self {
        Self {
            identity: TokenIdentity::Pem {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            },
            sign_identity: Some(TokenIdentity::Pem {
                cert: sign_cert.to_path_buf(),
                key: sign_key.to_path_buf(),
            }),
            pin: SANDBOX_CPS_PIN.to_owned(),
            ..Self::default()
        }
    }
}

/// A software carte Vitale (test/demo device), as a TOML file:
///
/// ```toml
/// serial = "SOFTWARE-VITALE"      # optional
/// [insured]                       # the insured person (ouvrant droit), quality 00
/// matricule = "1090763220834"
/// key = "89"
/// birth_name = "ECETINSI"
/// first_name = "PIERRE-ALAIN"
/// birth_date = "2009-07-14"       # lunar date
/// birth_rank = 1                  # default 1
/// [[beneficiaries]]               # optional: the other persons on the card (quality 01…)
/// matricule = "…"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitaleFile {
    #[serde(default)]
    pub serial: String,
    pub insured: VitaleFilePerson,
    #[serde(default)]
    pub beneficiaries: Vec<VitaleFilePerson>,
}

/// A person of a [`VitaleFile`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VitaleFilePerson {
    pub matricule: String,
    pub key: String,
    pub birth_name: String,
    #[serde(default)]
    pub used_name: String,
    pub first_name: String,
    pub birth_date: String,
    #[serde(default = "first_rank")]
    pub birth_rank: u8,
    /// Default `00` for the insured person, `01` for a beneficiary.
    #[serde(default)]
    pub quality: String,
}

fn first_rank() -> u8 {
    1
}

impl VitaleFile {
    /// Reads and checks the file.
    pub fn load(path: &Path) -> Result<Self, SoftwareTokenError> {
        let text =
            String::from_utf8(read(path)?).map_err(|_| invalid(path, "not UTF-8".to_owned()))?;
        let file: Self = toml::from_str(&text).map_err(|e| invalid(path, e.to_string()))?;
        for p in std::iter::once(&file.insured).chain(&file.beneficiaries) {
            if p.matricule.trim().is_empty() || p.birth_name.trim().is_empty() {
                return Err(invalid(
                    path,
                    "every person needs a matricule and a birth name".to_owned(),
                ));
            }
        }
        Ok(file)
    }

    fn data(&self) -> VitaleData {
        let person = |p: &VitaleFilePerson, quality: &str| VitalePerson {
            matricule: p.matricule.clone(),
            key: p.key.clone(),
            birth_name: p.birth_name.clone(),
            used_name: p.used_name.clone(),
            first_name: p.first_name.clone(),
            birth_date: p.birth_date.clone(),
            birth_rank: p.birth_rank,
            quality: if p.quality.is_empty() {
                quality.to_owned()
            } else {
                p.quality.clone()
            },
        };
        VitaleData {
            insured: person(&self.insured, "00"),
            beneficiaries: self.beneficiaries.iter().map(|p| person(p, "01")).collect(),
        }
    }
}

/// The software carte Vitale: its reader, serial and persons.
#[derive(Debug)]
struct SoftwareVitale {
    reader: String,
    serial: String,
    data: VitaleData,
}

impl Default for SoftwareTokenConfig {
    fn default() -> Self {
        Self {
            reader: DEFAULT_READER.to_owned(),
            identity: TokenIdentity::default(),
            sign_identity: None,
            pin: String::new(),
            max_tries: DEFAULT_MAX_TRIES,
            card_serial: String::new(),
            holder: HolderConfig::default(),
            vitale_file: None,
            vitale_reader: DEFAULT_VITALE_READER.to_owned(),
        }
    }
}

impl fmt::Debug for SoftwareTokenConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareTokenConfig")
            .field("reader", &self.reader)
            .field("identity", &self.identity)
            .field("sign_identity", &self.sign_identity)
            .field("pin", &if self.pin.is_empty() { "" } else { "<set>" })
            .field("max_tries", &self.max_tries)
            .field("card_serial", &self.card_serial)
            .field("holder", &self.holder)
            .field("vitale_file", &self.vitale_file)
            .field("vitale_reader", &self.vitale_reader)
            .finish()
    }
}

/// The private key, or why it cannot sign.
#[derive(Clone)]
enum KeyMaterial {
    Rsa(Arc<RsaPrivateKey>),
    /// Loaded for reading the token, but cannot make a CPS signature.
    Unsupported(String),
}

struct TokenState {
    present: bool,
    tries_left: u8,
    /// A verified PIN allows the next signature (consumed by it, or by a reset).
    verified: bool,
    /// Test hook: the next N operations fail as a card reset would.
    transient_failures: u32,
}

/// A [`CardBackend`] over a software token.
pub struct SoftwareToken {
    reader: String,
    serial: String,
    pin: Option<Zeroizing<String>>,
    max_tries: u8,
    /// Authentication key and certificate (DER).
    key: KeyMaterial,
    cert_der: Vec<u8>,
    /// Signature (non-repudiation) key and certificate.
    sign_key: KeyMaterial,
    sign_cert_der: Vec<u8>,
    data: CpsData,
    /// Test/demo carte Vitale in a second reader.
    vitale: Option<SoftwareVitale>,
    state: Mutex<TokenState>,
}

impl fmt::Debug for SoftwareToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareToken")
            .field("reader", &self.reader)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl SoftwareToken {
    /// Loads the key and certificate. An RSA key must match the certificate; a key of another
    /// kind (ECDSA) loads, and every signature then fails saying why.
    pub fn load(config: &SoftwareTokenConfig) -> Result<Self, SoftwareTokenError> {
        if config.reader.trim().is_empty() {
            return Err(SoftwareTokenError::Config(
                "reader name is empty".to_owned(),
            ));
        }
        if config.max_tries == 0 {
            return Err(SoftwareTokenError::Config(
                "max_tries must be at least 1".to_owned(),
            ));
        }
        let (cert_der, key) = load_identity(&config.identity)?;
        let (sign_cert_der, sign_key) = match &config.sign_identity {
            Some(identity) => load_identity(identity)?,
            None => (cert_der.clone(), key.clone()),
        };
        let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| SoftwareTokenError::Config(format!("invalid certificate: {e}")))?;
        let subject = cert.subject();
        let first_attr = |oid: &x509_parser::der_parser::Oid<'_>| {
            subject
                .iter_attributes()
                .find(|a| a.attr_type() == oid)
                .and_then(|a| a.as_str().ok())
                .map(str::to_owned)
                .unwrap_or_default()
        };
        let cn = first_attr(&x509_parser::oid_registry::OID_X509_COMMON_NAME);
        let surname = first_attr(&x509_parser::oid_registry::OID_X509_SURNAME);
        let given = first_attr(&x509_parser::oid_registry::OID_X509_GIVEN_NAME);
        let serial = if config.card_serial.is_empty() {
            if cn.is_empty() {
                cert.raw_serial_as_string().replace(':', "")
            } else {
                cn
            }
        } else {
            config.card_serial.clone()
        };
        let h = &config.holder;
        let id_type = match h.id_type.to_ascii_lowercase().as_str() {
            "rpps" | "" => IdType::Rpps,
            "adeli" => IdType::Adeli,
            "other" => IdType::Other,
            other => {
                return Err(SoftwareTokenError::Config(format!(
                    "holder.id_type {other:?}: use rpps, adeli or other"
                )));
            }
        };
        let or = |configured: &str, from_cert: String| {
            if configured.is_empty() {
                from_cert
            } else {
                configured.to_owned()
            }
        };
        let data = CpsData {
            id: h.id.clone(),
            id_type,
            last_name: or(&h.last_name, surname),
            first_name: or(&h.first_name, given),
            profession: h.profession.clone(),
            profession_label: h.profession_label.clone(),
            specialty: h.specialty.clone(),
            situations: h
                .situations
                .iter()
                .map(|s| Situation {
                    structure_id: s.structure_id.clone(),
                    structure_id_type: s.structure_id_type.clone(),
                    structure_name: s.structure_name.clone(),
                    activity_sector: s.activity_sector.clone(),
                    billing_id: s.billing_id.clone(),
                })
                .collect(),
            situations_need_pin: false,
            card_serial: serial.clone(),
            auth_certificate: cert_der.clone(),
            sign_certificate: sign_cert_der.clone(),
        };
        let vitale = match &config.vitale_file {
            Some(path) => {
                let file = VitaleFile::load(path)?;
                if config.vitale_reader.trim().is_empty() || config.vitale_reader == config.reader {
                    return Err(SoftwareTokenError::Config(
                        "vitale_reader must be named, and differ from reader".to_owned(),
                    ));
                }
                Some(SoftwareVitale {
                    reader: config.vitale_reader.clone(),
                    serial: if file.serial.is_empty() {
                        DEFAULT_VITALE_SERIAL.to_owned()
                    } else {
                        file.serial.clone()
                    },
                    data: file.data(),
                })
            }
            None => None,
        };
        Ok(Self {
            reader: config.reader.clone(),
            vitale,
            serial,
            pin: (!config.pin.is_empty()).then(|| Zeroizing::new(config.pin.clone())),
            max_tries: config.max_tries,
            key,
            cert_der,
            sign_key,
            sign_cert_der,
            data,
            state: Mutex::new(TokenState {
                present: true,
                tries_left: config.max_tries,
                verified: false,
                transient_failures: 0,
            }),
        })
    }

    /// The card serial the token reports.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The reader's name.
    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// Whether the key can sign (RSA).
    pub fn can_sign(&self) -> bool {
        matches!(self.key, KeyMaterial::Rsa(_)) && matches!(self.sign_key, KeyMaterial::Rsa(_))
    }

    /// Simulates taking the card out (the verified PIN is lost) …
    pub fn remove_card(&self) {
        let mut s = self.lock();
        s.present = false;
        s.verified = false;
    }

    /// … and putting it back.
    pub fn insert_card(&self) {
        self.lock().present = true;
    }

    /// PIN tries left before the token blocks.
    pub fn tries_left(&self) -> u8 {
        self.lock().tries_left
    }

    /// Makes the next `n` operations fail as a card reset would ([`CardError::Transient`]; the
    /// verified PIN is lost), to exercise the transparent retry.
    pub fn fail_transiently(&self, n: u32) {
        self.lock().transient_failures = n;
    }

    fn lock(&self) -> MutexGuard<'_, TokenState> {
        // The state is a few plain fields, consistent after every statement.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state, once the reader name and the card's presence are checked.
    fn card(&self, reader: &str) -> Result<MutexGuard<'_, TokenState>, CardError> {
        if self.vitale.as_ref().is_some_and(|v| v.reader == reader) {
            return Err(CardError::NotACps(reader.to_owned()));
        }
        if reader != self.reader {
            return Err(CardError::NoSuchReader(reader.to_owned()));
        }
        let mut s = self.lock();
        if !s.present {
            return Err(CardError::NoCard(reader.to_owned()));
        }
        if s.transient_failures > 0 {
            s.transient_failures -= 1;
            s.verified = false;
            return Err(CardError::Transient(
                "card reset (simulated by the software token)".to_owned(),
            ));
        }
        Ok(s)
    }
}

#[async_trait]
impl CardBackend for SoftwareToken {
    async fn readers(&self) -> Result<Vec<ReaderState>, CardError> {
        let present = self.lock().present;
        let mut readers = vec![ReaderState {
            name: self.reader.clone(),
            card: present.then_some(CardKind::Cps),
            card_serial: present.then(|| self.serial.clone()),
            model: None,
        }];
        if let Some(v) = &self.vitale {
            readers.push(ReaderState {
                name: v.reader.clone(),
                card: Some(CardKind::Vitale),
                card_serial: Some(v.serial.clone()),
                model: None,
            });
        }
        Ok(readers)
    }

    async fn read(&self, reader: &str) -> Result<CardData, CardError> {
        if let Some(v) = self.vitale.as_ref().filter(|v| v.reader == reader) {
            return Ok(CardData::Vitale(v.data.clone()));
        }
        drop(self.card(reader)?);
        Ok(CardData::Cps(self.data.clone()))
    }

    async fn verify_pin(&self, reader: &str, pin: &Zeroizing<String>) -> Result<(), CardError> {
        let mut s = self.card(reader)?;
        let Some(expected) = &self.pin else {
            // No PIN on this token: nothing to verify.
            s.verified = true;
            return Ok(());
        };
        if s.tries_left == 0 {
            return Err(CardError::Blocked);
        }
        if constant_time_eq(expected.as_bytes(), pin.as_bytes()) {
            s.tries_left = self.max_tries;
            s.verified = true;
            Ok(())
        } else {
            s.tries_left -= 1;
            s.verified = false;
            if s.tries_left == 0 {
                Err(CardError::Blocked)
            } else {
                Err(CardError::WrongPin {
                    tries_left: s.tries_left,
                })
            }
        }
    }

    async fn sign(
        &self,
        reader: &str,
        key_use: KeyUse,
        digest: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), CardError> {
        if digest.len() != 32 {
            return Err(CardError::BadDigest(digest.len()));
        }
        let key = {
            let mut s = self.card(reader)?;
            if self.pin.is_some() {
                if s.tries_left == 0 {
                    return Err(CardError::Blocked);
                }
                if !s.verified {
                    return Err(CardError::PinRequired);
                }
            }
            let (material, cert) = match key_use {
                KeyUse::Signature => (&self.sign_key, &self.sign_cert_der),
                KeyUse::Authentication => (&self.key, &self.cert_der),
            };
            let key = match material {
                KeyMaterial::Rsa(k) => k.clone(),
                KeyMaterial::Unsupported(why) => return Err(CardError::Device(why.clone())),
            };
            // One verified PIN, one signature.
            s.verified = false;
            (key, cert.clone())
        };
        let (key, cert) = key;
        let digest = digest.to_vec();
        let signature = tokio::task::spawn_blocking(move || {
            key.sign_with_rng(
                &mut rsa::rand_core::OsRng,
                Pkcs1v15Sign::new::<Sha256>(),
                &digest,
            )
        })
        .await
        .map_err(|e| CardError::Device(format!("signing task failed: {e}")))?
        .map_err(|e| CardError::Device(format!("RSA signature failed: {e}")))?;
        Ok((signature, cert))
    }
}

/// Reads one key and its certificate; an RSA key must match the certificate.
fn load_identity(identity: &TokenIdentity) -> Result<(Vec<u8>, KeyMaterial), SoftwareTokenError> {
    let (cert_der, key_der, key_path, cert_path) = match identity {
        TokenIdentity::Pem { cert, key } => {
            let cert_pem = read(cert)?;
            let cert_der = CertificateDer::from_pem_slice(&cert_pem)
                .map_err(|e| invalid(cert, format!("no PEM certificate: {e}")))?
                .to_vec();
            let key_pem = Zeroizing::new(read(key)?);
            let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|e| invalid(key, format!("no PEM private key: {e}")))?;
            (cert_der, key_der, key.clone(), cert.clone())
        }
        TokenIdentity::Pkcs12 { path, password } => {
            let data = read(path)?;
            let store = p12_keystore::KeyStore::from_pkcs12(
                &data,
                password,
                p12_keystore::Pkcs12ImportPolicy::Relaxed,
            )
            .map_err(|e| invalid(path, format!("cannot open the PKCS#12 (password?): {e}")))?;
            let (_, chain) = store
                .private_key_chain()
                .ok_or_else(|| invalid(path, "no private key in the PKCS#12".to_owned()))?;
            let cert_der = chain
                .certs()
                .first()
                .ok_or_else(|| invalid(path, "no certificate in the PKCS#12".to_owned()))?
                .as_der()
                .to_vec();
            let key_der = PrivateKeyDer::Pkcs8(chain.key().as_der().to_vec().into());
            (cert_der, key_der, path.clone(), path.clone())
        }
    };
    let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)
        .map_err(|e| invalid(&cert_path, format!("invalid certificate: {e}")))?;
    let spki = cert.public_key();
    let algorithm = spki.algorithm.algorithm.to_id_string();
    let key = match algorithm.as_str() {
        OID_RSA_ENCRYPTION => {
            let private =
                match &key_der {
                    PrivateKeyDer::Pkcs1(k) => RsaPrivateKey::from_pkcs1_der(k.secret_pkcs1_der())
                        .map_err(|e| e.to_string()),
                    PrivateKeyDer::Pkcs8(k) => RsaPrivateKey::from_pkcs8_der(k.secret_pkcs8_der())
                        .map_err(|e| e.to_string()),
                    _ => {
                        return Err(invalid(
                            &key_path,
                            "the certificate is RSA but the key is not".to_owned(),
                        ));
                    }
                }
                .map_err(|e| invalid(&key_path, format!("invalid RSA key: {e}")))?;
            let public = RsaPublicKey::from_public_key_der(spki.raw)
                .map_err(|e| invalid(&cert_path, format!("invalid RSA public key: {e}")))?;
            if private.to_public_key() != public {
                return Err(SoftwareTokenError::KeyMismatch {
                    key: key_path,
                    cert: cert_path,
                });
            }
            KeyMaterial::Rsa(Arc::new(private))
        }
        other => {
            let name = match other {
                OID_EC_PUBLIC_KEY => "ECDSA",
                OID_ED25519 => "Ed25519",
                _ => "a non-RSA algorithm",
            };
            tracing::warn!(
                key = %key_path.display(),
                "software token key is {name}: it can be read but not sign (CPS signatures are RSA)"
            );
            KeyMaterial::Unsupported(format!(
                "the software token's key ({}) is {name} ({other}); CPS signatures are RSA \
                     PKCS#1 v1.5 SHA-256: give it an RSA key (e.g. RSA-2048, PKCS#8 PEM)",
                key_path.display()
            ))
        }
    };
    Ok((cert_der, key))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn read(path: &Path) -> Result<Vec<u8>, SoftwareTokenError> {
    std::fs::read(path).map_err(|source| SoftwareTokenError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(path: &Path, reason: String) -> SoftwareTokenError {
    SoftwareTokenError::Invalid {
        path: path.to_path_buf(),
        reason,
    }
}
