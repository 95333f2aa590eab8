//! Who signs the VIHF and the XAdES signature document: the professional's CPS through the
//! workstation's card-agent ([`CardSigner`], its SIGNATURE key), or the organisation's software
//! key ([`SoftwareSigner`]).
//!
//! Both sign RSA PKCS#1 v1.5 with SHA-256: the card-agent signs SHA-256 digests only, and a
//! software key does the same so that both modes send the same algorithm.

use std::path::Path;

use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use passerelle_card_client::{CardError, CpsSession};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::{RsaPrivateKey, RsaPublicKey};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::Sha256;

/// Purpose of the VIHF signature, as the card-agent's audit records it.
pub const PURPOSE_VIHF: &str = "dmp-vihf";
/// Purpose of the XAdES signature of a deposit, as the card-agent's audit records it.
pub const PURPOSE_XADES: &str = "dmp-xades";

/// Who signs the VIHF and the XAdES: RSA PKCS#1 v1.5 with SHA-256 (the card-agent signs
/// SHA-256 digests; so does a software key). RSA-SHA256 is our choice for both signatures.
#[async_trait::async_trait]
pub trait XmlSigner: Send + Sync {
    /// DER certificate of the signing key (goes into KeyInfo/X509Data).
    fn certificate_der(&self) -> &[u8];
    /// RSA PKCS#1 v1.5 SHA-256 signature of `data` (the canonical SignedInfo).
    async fn sign(&self, purpose: &str, data: &[u8]) -> Result<Vec<u8>, SignerError>;
}

/// What went wrong signing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The card or its agent failed (no card, PIN required, agent unreachable…): what the
    /// user must do is in the [`CardError`].
    #[error(transparent)]
    Card(#[from] CardError),
    /// The key or certificate cannot be used (unreadable file, wrong password, not RSA, key
    /// and certificate do not match).
    #[error("signing key {what}: {reason}")]
    Key { what: String, reason: String },
    /// The signature itself failed.
    #[error("signing failed: {reason}")]
    Failed { reason: String },
}

/// An RSA key and its certificate held in memory (the organisation's signature key).
pub struct SoftwareSigner {
    certificate: Vec<u8>,
    key: SigningKey<Sha256>,
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareSigner").finish_non_exhaustive()
    }
}

fn key_error(what: impl std::fmt::Display, reason: impl std::fmt::Display) -> SignerError {
    SignerError::Key {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

impl SoftwareSigner {
    /// From a PEM certificate and a PEM RSA key (PKCS#8 `PRIVATE KEY` or PKCS#1
    /// `RSA PRIVATE KEY`).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, SignerError> {
        let certificate = CertificateDer::from_pem_file(cert)
            .map_err(|e| key_error(cert.display(), format!("no PEM certificate: {e}")))?;
        let pem = std::fs::read_to_string(key)
            .map_err(|e| key_error(key.display(), format!("cannot be read: {e}")))?;
        let private = RsaPrivateKey::from_pkcs8_pem(&pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(&pem))
            .map_err(|e| {
                key_error(
                    key.display(),
                    format!("not a PEM RSA private key (PKCS#8 or PKCS#1): {e}"),
                )
            })?;
        Self::new(certificate.to_vec(), private)
    }

    /// From a PKCS#12 file (certificate and RSA key) and its password.
    pub fn from_p12(path: &Path, password: &str) -> Result<Self, SignerError> {
        let data = std::fs::read(path)
            .map_err(|e| key_error(path.display(), format!("cannot be read: {e}")))?;
        let store =
            KeyStore::from_pkcs12(&data, password, Pkcs12ImportPolicy::Strict).map_err(|e| {
                key_error(
                    path.display(),
                    format!("cannot be opened (wrong password or not PKCS#12): {e}"),
                )
            })?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or_else(|| key_error(path.display(), "holds no private key"))?;
        let certificate = chain
            .certs()
            .first()
            .ok_or_else(|| key_error(path.display(), "holds no certificate for its key"))?
            .as_der()
            .to_vec();
        let private = RsaPrivateKey::from_pkcs8_der(chain.key().as_der())
            .map_err(|e| key_error(path.display(), format!("the key is not RSA: {e}")))?;
        Self::new(certificate, private)
    }

    /// From a DER certificate and its RSA key; refused if they do not match.
    pub fn new(certificate_der: Vec<u8>, key: RsaPrivateKey) -> Result<Self, SignerError> {
        let (_, cert) = x509_parser::parse_x509_certificate(&certificate_der)
            .map_err(|e| key_error("certificate", format!("not a valid DER certificate: {e}")))?;
        let public = RsaPublicKey::from_public_key_der(cert.public_key().raw)
            .map_err(|e| key_error("certificate", format!("its key is not RSA: {e}")))?;
        if public != key.to_public_key() {
            return Err(key_error("certificate", "does not match the private key"));
        }
        Ok(Self {
            certificate: certificate_der,
            key: SigningKey::<Sha256>::new(key),
        })
    }
}

#[async_trait::async_trait]
impl XmlSigner for SoftwareSigner {
    fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    async fn sign(&self, _purpose: &str, data: &[u8]) -> Result<Vec<u8>, SignerError> {
        let signature = self.key.try_sign(data).map_err(|e| SignerError::Failed {
            reason: e.to_string(),
        })?;
        Ok(signature.to_vec())
    }
}

/// The CPS read for a request: signs with its SIGNATURE key through the card-agent.
#[derive(Clone, Debug)]
pub struct CardSigner {
    card: CpsSession,
}

impl CardSigner {
    pub fn new(card: CpsSession) -> Self {
        Self { card }
    }

    /// The card session signed with.
    pub fn session(&self) -> &CpsSession {
        &self.card
    }
}

#[async_trait::async_trait]
impl XmlSigner for CardSigner {
    fn certificate_der(&self) -> &[u8] {
        self.card.signature_certificate()
    }

    async fn sign(&self, purpose: &str, data: &[u8]) -> Result<Vec<u8>, SignerError> {
        Ok(self.card.sign(purpose, data).await?)
    }
}
