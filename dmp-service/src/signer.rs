//! Who signs the VIHF and the XAdES signature document: the professional's CPS through the
//! workstation's card-agent ([`CardSigner`], its SIGNATURE key), or the organisation's software
//! key ([`SoftwareSigner`]).
//!
//! Both sign RSA PKCS#1 v1.5 with SHA-256: the card-agent signs SHA-256 digests only, and a
//! software key does the same so that both modes send the same algorithm.

use std::path::Path;

use passerelle_card_client::{CardError, CpsSession};

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
#[derive(Debug, thiserror::Error)]
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
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareSigner").finish_non_exhaustive()
    }
}

impl SoftwareSigner {
    /// From a PEM certificate and a PEM RSA key (PKCS#8 `PRIVATE KEY` or PKCS#1
    /// `RSA PRIVATE KEY`).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, SignerError> {
        let _ = (cert, key);
        Err(SignerError::Key {
            what: "PEM".to_owned(),
            reason: "not implemented yet".to_owned(),
        })
    }

    /// From a PKCS#12 file (certificate and RSA key) and its password.
    pub fn from_p12(path: &Path, password: &str) -> Result<Self, SignerError> {
        let _ = (path, password);
        Err(SignerError::Key {
            what: "PKCS#12".to_owned(),
            reason: "not implemented yet".to_owned(),
        })
    }
}

#[async_trait::async_trait]
impl XmlSigner for SoftwareSigner {
    fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    async fn sign(&self, _purpose: &str, _data: &[u8]) -> Result<Vec<u8>, SignerError> {
        Err(SignerError::Failed {
            reason: "not implemented yet".to_owned(),
        })
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
