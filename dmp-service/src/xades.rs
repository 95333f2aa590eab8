//! The XAdES signature document of a deposit (TD2.1, the "signature" DocumentEntry): an IHE
//! DSG-style `Signature` over a `Manifest` that references the submission set and each
//! document, with XAdES 1.1.1 qualifying properties — the shape of the official example
//! (`TD2.1-SignatureXades.xml`):
//!
//! - `Signature Id` = the signature document's uniqueId;
//! - `SignedInfo` references `#IHEManifest` (Type Manifest) and `#S0-SignedProperties` (Type
//!   XAdES SignedProperties), no transforms (the referenced elements are canonicalised by
//!   inclusive C14N 1.0, the default);
//! - `Object/Manifest Id="IHEManifest"`: `urn:oid:<submission set uniqueId>` with the digest
//!   value `AA==` (the example's placeholder: a submission set has no content to digest), then
//!   `urn:oid:<document uniqueId>` with the digest of the document's bytes;
//! - `Object/SignatureProperties/SignatureProperty Id="purposeOfSignature"` =
//!   `1.2.840.10065.1.12.1.14` (the example writes `SignatureProperties` in no namespace; we
//!   write it in the dsig namespace, where XMLDSig defines it);
//! - `Object/QualifyingProperties` (XAdES 1.1.1 namespace, as the example) with
//!   `SignedProperties`: `SigningTime`, `SigningCertificate` (digest of the signing
//!   certificate, issuer DN and serial number) and `SignaturePolicyImplied`.
//!
//! Algorithms, our choices: canonicalisation inclusive C14N 1.0 without comments (the example
//! says "with comments"; we write no comments, so both give the same bytes); **RSA-SHA256**
//! where the example has rsa-sha1 — the card-agent signs SHA-256 digests only and SHA-1 is
//! deprecated for signatures; **SHA-256** for every digest (the manifest's documents, the
//! manifest, the signed properties and the certificate), where the example has SHA-1: the
//! manifest digest is what binds the signature to the document, and SHA-1 no longer resists
//! chosen-prefix collisions. A document is digested as its raw bytes, without transform (the
//! example declares a C14N transform on the CDA; digesting the bytes as deposited is what a
//! verifier holding the document can always recompute).
//!
//! Written directly in canonical form (every namespace declared where it is used, no
//! comments, no whitespace), so the digested bytes are the bytes sent.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use passerelle_soap::dsig::{
    self, C14N, CertSubject, DigestMethod, MANIFEST_TYPE, Reference, SignatureMethod, c14n_attr,
    c14n_text,
};
use passerelle_soap::{Limits, ns, parse_document};
use sha2::{Digest, Sha256};
use time::macros::format_description;

use crate::signer::{PURPOSE_XADES, SignerError, XmlSigner};

/// XAdES 1.1.1, the version of the official example.
pub const XADES_111: &str = "http://uri.etsi.org/01903/v1.1.1#";
/// `Reference/@Type` of the SignedProperties reference.
const SIGNED_PROPERTIES_TYPE: &str = "http://uri.etsi.org/01903/v1.1.1#SignedProperties";
/// `Id` of the manifest.
pub const MANIFEST_ID: &str = "IHEManifest";
/// `Id` of the XAdES SignedProperties.
pub const SIGNED_PROPERTIES_ID: &str = "S0-SignedProperties";
/// Purpose of signature (ASTM E1762 "source"), the example's `purposeOfSignature`.
pub const PURPOSE_OF_SIGNATURE: &str = "1.2.840.10065.1.12.1.14";
/// The digest value of the submission set's manifest reference (the example's placeholder).
const SUBMISSION_SET_DIGEST: &str = "AA==";

/// One document of the submission, referenced by the manifest.
/// Its digest is computed here from the content (SHA-256, see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestItem<'a> {
    /// The document's uniqueId (an OID; referenced as `urn:oid:<unique_id>`).
    pub unique_id: &'a str,
    /// The document's content (the bytes deposited), digested into the manifest.
    pub content: &'a [u8],
}

/// What went wrong building the signature document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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

fn sha256_b64(data: &[u8]) -> String {
    B64.encode(Sha256::digest(data))
}

/// A uniqueId as it can be put in an `Id` or a `urn:oid:` URI: printable, no spaces.
fn check_id(field: &'static str, id: &str) -> Result<(), XadesError> {
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(XadesError::Input {
            field,
            reason: "a uniqueId is 1 to 128 printable characters without spaces".to_owned(),
        });
    }
    Ok(())
}

/// The `Manifest` element; `apex` adds the dsig namespace declaration that C14N renders when
/// it is canonicalised alone (what its reference digests).
fn manifest(submission_set_unique_id: &str, documents: &[ManifestItem<'_>], apex: bool) -> String {
    let xmlns = if apex {
        format!(" xmlns=\"{}\"", ns::XMLDSIG)
    } else {
        String::new()
    };
    let mut x = format!("<Manifest{xmlns} Id=\"{MANIFEST_ID}\">");
    let set_uri = format!("urn:oid:{submission_set_unique_id}");
    x.push_str(
        &Reference {
            uri: &set_uri,
            kind: None,
            transforms: &[],
            digest_method: DigestMethod::Sha256,
            digest_b64: SUBMISSION_SET_DIGEST,
        }
        .to_xml(),
    );
    for d in documents {
        let uri = format!("urn:oid:{}", d.unique_id);
        let digest = sha256_b64(d.content);
        x.push_str(
            &Reference {
                uri: &uri,
                kind: None,
                transforms: &[],
                digest_method: DigestMethod::Sha256,
                digest_b64: &digest,
            }
            .to_xml(),
        );
    }
    x.push_str("</Manifest>");
    x
}

/// The XAdES `SignedProperties`; `apex` adds the XAdES namespace declaration that C14N
/// renders when it is canonicalised alone (what its reference digests); when sent, it is
/// inherited from `QualifyingProperties`.
fn signed_properties(signing_time: &str, cert: &[u8], subject: &CertSubject, apex: bool) -> String {
    let xmlns = if apex {
        format!(" xmlns=\"{XADES_111}\"")
    } else {
        String::new()
    };
    format!(
        "<SignedProperties{xmlns} Id=\"{SIGNED_PROPERTIES_ID}\"><SignedSignatureProperties>\
         <SigningTime>{}</SigningTime><SigningCertificate><Cert><CertDigest>\
         <DigestMethod Algorithm=\"{}\"></DigestMethod><DigestValue>{}</DigestValue></CertDigest>\
         <IssuerSerial><X509IssuerName xmlns=\"{dsig}\">{}</X509IssuerName>\
         <X509SerialNumber xmlns=\"{dsig}\">{}</X509SerialNumber></IssuerSerial></Cert>\
         </SigningCertificate><SignaturePolicyIdentifier><SignaturePolicyImplied>\
         </SignaturePolicyImplied></SignaturePolicyIdentifier></SignedSignatureProperties>\
         <SignedDataObjectProperties></SignedDataObjectProperties></SignedProperties>",
        c14n_text(signing_time),
        DigestMethod::Sha256.uri(),
        sha256_b64(cert),
        c14n_text(&subject.issuer_dn),
        c14n_text(&subject.serial),
        dsig = ns::XMLDSIG,
    )
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
    check_id("submission_set_unique_id", submission_set_unique_id)?;
    check_id("signature_unique_id", signature_unique_id)?;
    if documents.is_empty() {
        return Err(XadesError::Input {
            field: "documents",
            reason: "a deposit signs at least one document".to_owned(),
        });
    }
    for d in documents {
        check_id("documents.unique_id", d.unique_id)?;
    }
    let certificate = signer.certificate_der();
    let subject = CertSubject::parse(certificate)
        .map_err(|e| XadesError::Certificate { reason: e.reason })?;
    if !subject.rsa {
        return Err(XadesError::Certificate {
            reason: "its key is not RSA: only RSA-SHA256 signatures are made".to_owned(),
        });
    }
    let signing_time = now
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .map_err(|e| XadesError::Input {
            field: "now",
            reason: e.to_string(),
        })?;

    let manifest_digest =
        sha256_b64(manifest(submission_set_unique_id, documents, true).as_bytes());
    let properties_digest =
        sha256_b64(signed_properties(&signing_time, certificate, &subject, true).as_bytes());
    let properties = signed_properties(&signing_time, certificate, &subject, false);
    let manifest_uri = format!("#{MANIFEST_ID}");
    let properties_uri = format!("#{SIGNED_PROPERTIES_ID}");
    let references = [
        Reference {
            uri: &manifest_uri,
            kind: Some(MANIFEST_TYPE),
            transforms: &[],
            digest_method: DigestMethod::Sha256,
            digest_b64: &manifest_digest,
        },
        Reference {
            uri: &properties_uri,
            kind: Some(SIGNED_PROPERTIES_TYPE),
            transforms: &[],
            digest_method: DigestMethod::Sha256,
            digest_b64: &properties_digest,
        },
    ];
    let signed_info = |apex| dsig::signed_info(C14N, SignatureMethod::RsaSha256, &references, apex);
    let signature = signer
        .sign(PURPOSE_XADES, signed_info(true).as_bytes())
        .await?;
    let target = c14n_attr(&format!("#{signature_unique_id}"));
    let objects = format!(
        "<Object>{}</Object><Object><SignatureProperties><SignatureProperty Id=\"purposeOfSignature\" \
         Target=\"{target}\">{PURPOSE_OF_SIGNATURE}</SignatureProperty></SignatureProperties></Object>\
         <Object><QualifyingProperties xmlns=\"{XADES_111}\" Target=\"{target}\">{properties}\
         </QualifyingProperties></Object>",
        manifest(submission_set_unique_id, documents, false)
    );
    let document = dsig::signature_element(
        Some(signature_unique_id),
        &signed_info(false),
        &signature,
        certificate,
        &objects,
    );
    parse_document(document.as_bytes(), &Limits::default()).map_err(|e| XadesError::Input {
        field: "signature",
        reason: format!("the signature document is not well-formed, a bug: {e}"),
    })?;
    Ok(document.into_bytes())
}
