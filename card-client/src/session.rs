//! The CPS of a workstation as read for one request: its holder and certificates, and
//! signatures with its keys on behalf of that request.

use passerelle_proto::card::v1 as card;
use passerelle_service_kit::RequestId;

use crate::agent::{CardAgentClient, pem_to_der, sha256};
use crate::tls::CardTlsIdentity;
use crate::{CardError, purposes};

/// The CPS in the workstation's reader, read once for a request (the card, its PIN session
/// and its holder change between requests). Every signature it asks for carries the
/// request's id, and is refused as [`CardError::NoCard`] when the card was swapped since the
/// read. Cheap to clone.
#[derive(Clone, Debug)]
pub struct CpsSession {
    agent: CardAgentClient,
    request_id: RequestId,
    holder: card::CpsHolder,
    sign_certificate: Vec<u8>,
    auth_certificate: Vec<u8>,
}

impl CpsSession {
    /// Reads the CPS (`.read`): its holder, practice situations and certificates. Another
    /// card, or none, is [`CardError::NoCard`].
    pub async fn open(agent: CardAgentClient, request_id: RequestId) -> Result<Self, CardError> {
        let read = agent.read_card(&request_id, "").await?;
        let Some(card::read_card_response::Card::Cps(holder)) = read.card else {
            return Err(CardError::NoCard);
        };
        let sign_certificate = pem_to_der(&holder.sign_certificate, "signature")?;
        let auth_certificate = pem_to_der(&holder.auth_certificate, "authentication")?;
        Ok(Self {
            agent,
            request_id,
            holder,
            sign_certificate,
            auth_certificate,
        })
    }

    /// The holder as the card tells it (identifier, names, profession, practice
    /// situations; certificates in PEM).
    pub fn holder(&self) -> &card::CpsHolder {
        &self.holder
    }

    /// The certificate (DER) of the signature key (non-repudiation).
    pub fn signature_certificate(&self) -> &[u8] {
        &self.sign_certificate
    }

    /// The certificate (DER) of the authentication key.
    pub fn authentication_certificate(&self) -> &[u8] {
        &self.auth_certificate
    }

    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    pub fn agent(&self) -> &CardAgentClient {
        &self.agent
    }

    /// RSA PKCS#1 v1.5 with SHA-256 over `data`, by the card's **signature** key, for
    /// `purpose` (what the agent's audit records).
    pub async fn sign(&self, purpose: &str, data: &[u8]) -> Result<Vec<u8>, CardError> {
        self.sign_digest(card::KeyUse::Signature, purpose, &sha256(data))
            .await
    }

    /// Signs a SHA-256 `digest` with `key`, checking that the card that signed is the one
    /// read.
    pub async fn sign_digest(
        &self,
        key: card::KeyUse,
        purpose: &str,
        digest: &[u8; 32],
    ) -> Result<Vec<u8>, CardError> {
        let signed = self
            .agent
            .sign_digest(&self.request_id, key, purpose, digest)
            .await?;
        let expected = match key {
            card::KeyUse::Signature => &self.sign_certificate,
            card::KeyUse::Authentication => &self.auth_certificate,
        };
        match signed.certificate {
            Some(used) if &used != expected => Err(CardError::NoCard),
            _ => Ok(signed.signature),
        }
    }

    /// TLS client authentication with the card's **authentication** key (purpose
    /// [`purposes::TLS_CLIENT_AUTH`]): the certificate resolver to put in a rustls client
    /// configuration. TLS 1.2 only (see [`crate::tls`]).
    pub fn tls_identity(&self) -> CardTlsIdentity {
        CardTlsIdentity::new(self.clone(), purposes::TLS_CLIENT_AUTH)
    }
}
