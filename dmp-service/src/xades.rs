//! The XAdES signature document of a deposit (TD2.1).

use crate::signer::{SignerError, XmlSigner};

/// One document of the submission, referenced by the manifest.
/// Its digest is computed here from the content (the algorithm is this module's choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestItem<'a> {
    /// The document's uniqueId (an OID; referenced as `urn:oid:<unique_id>`).
    pub unique_id: &'a str,
    /// The document's content (the bytes deposited), digested into the manifest.
    pub content: &'a [u8],
}

/// What went wrong building the signature document.
#[derive(Debug, thiserror::Error)]
pub enum XadesError {
    /// The signer failed (card, key).
    #[error(transparent)]
    Signer(#[from] SignerError),
    /// The signing certificate cannot be read (issuer and serial go into SigningCertificate).
    #[error("the signing certificate cannot be read: {reason}")]
    Certificate { reason: String },
    /// An input cannot be put in the signature (e.g. a uniqueId that is not an OID).
    #[error("XAdES input {field}: {reason}")]
    Input { field: &'static str, reason: String },
}

/// The XAdES signature document of a deposit (the "signature" DocumentEntry of TD2.1):
/// ds:Signature over a ds:Manifest referencing the submission set and each document.
pub async fn deposit_signature(
    submission_set_unique_id: &str,
    signature_unique_id: &str,
    documents: &[ManifestItem<'_>],
    signer: &dyn XmlSigner,
    now: time::OffsetDateTime,
) -> Result<Vec<u8>, XadesError> {
    let _ = (
        submission_set_unique_id,
        signature_unique_id,
        documents,
        signer,
        now,
    );
    Err(XadesError::Input {
        field: "xades",
        reason: "not implemented yet".to_owned(),
    })
}
