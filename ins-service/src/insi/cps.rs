//! CPS mode: the professional's card authenticates each call with a SAML 2.0 assertion in a
//! `wsse:Security` header (shape of `fixtures/cps-mode/assertion-ps-request.2.xml`): `Issuer`
//! = the CPS certificate's subject DN, an enveloped XMLDSig signature right after `Issuer`
//! (exclusive C14N, RSA-SHA256, SHA-256 digest, certificate in `KeyInfo`),
//! `Subject/NameID NameQualifier="CPS"` = the card holder id, attributes
//! `identifiantFacturation` and `secteurActivite`.
//!
//! The assertion is written directly in exclusive canonical form (its structure is fixed), so
//! the digested bytes are the bytes sent; the tests check digest and signature against the
//! real capture. The card signs through [`AssertionSigner`] (the workstation's card-agent).

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use passerelle_soap::dsig::{
    self, CertSubject, DigestMethod, SignatureMethod, c14n_attr, c14n_text,
};
use passerelle_soap::{Limits, Ns, XmlWriter, ns, parse_document};
use time::OffsetDateTime;

use super::InsiError;
use super::envelope::format_time;

/// Failures of the card-agent signing for us: the shared card client's.
pub use passerelle_card_client::CardError as SignerError;
/// TLS client authentication with the card's authentication key.
pub use passerelle_card_client::CardTlsIdentity;

/// The professional's practice situation, read from the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PracticeSituation {
    /// `identifiantFacturation`.
    pub billing_id: String,
    /// `secteurActivite`, e.g. `SA05`.
    pub activity_sector: String,
}

/// What the card-agent offers: the certificate of the key that signs the assertion (the
/// CPS signature key) and signing with it.
#[async_trait]
pub trait AssertionSigner: Send + Sync {
    /// The certificate (DER) of the key [`sign`](Self::sign) uses.
    fn certificate_der(&self) -> Vec<u8>;
    /// The situation the professional acts in.
    fn situation(&self) -> PracticeSituation;
    /// RSA PKCS#1 v1.5 with SHA-256 over `data` (the canonical `SignedInfo`).
    async fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignerError>;
    /// The card's TLS client identity (authentication key), when the card also
    /// authenticates the TLS session; `None`: the configured organisation certificate.
    fn tls_identity(&self) -> Option<CardTlsIdentity> {
        None
    }
}

/// The content of a professional's assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsAssertion {
    /// `ID`: `_` + a UUID (an XML ID cannot start with a digit).
    pub id: String,
    pub issue_instant: OffsetDateTime,
    /// `Issuer`: the certificate subject DN, RFC 2253 order.
    pub issuer_dn: String,
    /// `Subject/NameID`: the card holder's identifier (the certificate CN).
    pub holder_id: String,
    pub situation: PracticeSituation,
}

impl PsAssertion {
    /// The assertion for the card behind `signer`.
    pub fn for_signer(
        signer: &dyn AssertionSigner,
        id: uuid::Uuid,
        now: OffsetDateTime,
    ) -> Result<Self, InsiError> {
        let der = signer.certificate_der();
        let subject = CertSubject::parse(&der).map_err(|e| {
            InsiError::config(format!(
                "the CPS certificate is not valid DER: {}",
                e.reason
            ))
        })?;
        if !subject.rsa {
            return Err(InsiError::config(
                "the CPS certificate key is not RSA: only RSA-SHA256 signatures are supported",
            ));
        }
        Ok(Self {
            id: format!("_{id}"),
            issue_instant: now,
            issuer_dn: subject.dn,
            holder_id: subject.common_name.ok_or_else(|| {
                InsiError::config("the CPS certificate has no CN (card holder id)")
            })?,
            situation: signer.situation(),
        })
    }

    /// The assertion in exclusive canonical form (XML-EXC-C14N): what the signature digests
    /// once `signature` is left out, and what is sent with it. `signature`, a `ds:Signature`
    /// element, goes right after `Issuer`, where the enveloped signature belongs.
    pub fn canonical(&self, signature: Option<&str>) -> Result<String, InsiError> {
        let instant = format_time(self.issue_instant)?;
        let mut x = String::with_capacity(1024);
        x.push_str(&format!(
            "<Assertion xmlns=\"{}\" ID=\"{}\" IssueInstant=\"{}\" Version=\"2.0\">",
            ns::SAML2,
            c14n_attr(&self.id),
            c14n_attr(&instant)
        ));
        x.push_str(&format!(
            "<Issuer Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName\">{}</Issuer>",
            c14n_text(&self.issuer_dn)
        ));
        if let Some(sig) = signature {
            x.push_str(sig);
        }
        x.push_str(&format!(
            "<Subject><NameID NameQualifier=\"CPS\">{}</NameID></Subject><AttributeStatement>",
            c14n_text(&self.holder_id)
        ));
        for (name, value) in [
            ("identifiantFacturation", &self.situation.billing_id),
            ("secteurActivite", &self.situation.activity_sector),
        ] {
            x.push_str(&format!(
                "<Attribute Name=\"{name}\"><AttributeValue>{}</AttributeValue></Attribute>",
                c14n_text(value)
            ));
        }
        x.push_str("</AttributeStatement></Assertion>");
        // Cheap guard: what we send must be well-formed.
        parse_document(x.as_bytes(), &Limits::default())?;
        Ok(x)
    }

    /// SHA-256 of the canonical assertion without signature, base64 (`DigestValue`).
    pub fn digest(&self) -> Result<String, InsiError> {
        let canonical = self.canonical(None)?;
        Ok(B64.encode(ring::digest::digest(
            &ring::digest::SHA256,
            canonical.as_bytes(),
        )))
    }
}

/// `SignedInfo` for the assertion `id` with its digest (RSA-SHA256, SHA-256). `canonical` adds
/// the dsig namespace declaration that exclusive canonicalisation renders on the apex; inside
/// `Signature` it is inherited.
pub fn signed_info(id: &str, digest_b64: &str, canonical: bool) -> String {
    dsig::enveloped_signed_info(
        id,
        DigestMethod::Sha256,
        digest_b64,
        SignatureMethod::RsaSha256,
        canonical,
    )
}

/// Errors making the CPS assertion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpsError {
    #[error(transparent)]
    Signer(#[from] SignerError),
    #[error("cannot make the CPS assertion: {0}")]
    Assertion(#[from] InsiError),
}

/// The signed `saml:Assertion` for a CPS call: digest, canonical `SignedInfo` signed by the
/// card, `Signature` assembled after `Issuer`.
pub async fn signed_assertion(
    signer: &dyn AssertionSigner,
    id: uuid::Uuid,
    now: OffsetDateTime,
) -> Result<String, CpsError> {
    let certificate = signer.certificate_der();
    let assertion = PsAssertion::for_signer(signer, id, now)?;
    let digest = assertion.digest()?;
    let to_sign = signed_info(&assertion.id, &digest, true);
    let signature = signer.sign(to_sign.as_bytes()).await?;
    let signature_xml = dsig::signature_element(
        None,
        &signed_info(&assertion.id, &digest, false),
        &signature,
        &certificate,
        "",
    );
    Ok(assertion.canonical(Some(&signature_xml))?)
}

/// The `wsse:Security` header block holding `assertion` (a serialised, signed
/// `saml:Assertion`, inserted byte for byte so its signature stays valid).
pub fn security_header(assertion: &str) -> Result<String, InsiError> {
    let mut w = XmlWriter::fragment();
    w.start(Ns::WSSE, "Security", &[])?;
    w.raw_element(assertion)?;
    w.end()?;
    String::from_utf8(w.finish()?)
        .map_err(|_| InsiError::config("the security header is not UTF-8; this is a bug"))
}

/// The signed `wsse:Security` header for a CPS call.
pub async fn signed_security_header(
    signer: &dyn AssertionSigner,
    id: uuid::Uuid,
    now: OffsetDateTime,
) -> Result<String, CpsError> {
    let assertion = signed_assertion(signer, id, now).await?;
    Ok(security_header(&assertion)?)
}
