//! The card-agent of one workstation, reached over the bus
//! (`passerelle.card.v1.<workstation>.read` / `.sign`), each call carrying the caller's
//! request id so that the agent's audit joins the call that caused it.

use std::time::Duration;

use bytes::Bytes;
use passerelle_bus::SharedBus;
use passerelle_bus::subjects::{self, CardOp, card_subject};
use passerelle_proto::bus::v1::{Reply, reply::Outcome};
use passerelle_proto::card::v1 as card;
use passerelle_service_kit::RequestId;
use prost::Message as _;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::CardError;

/// How long the card-agent gets to answer one read or signature.
pub const DEFAULT_AGENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The only signature algorithm of a CPS: RSA PKCS#1 v1.5 over a SHA-256 digest.
pub const ALGORITHM: &str = "rsa-pkcs1-sha256";

/// The card-agent of a workstation on the bus, asked on behalf of one service. Cheap to
/// clone.
#[derive(Clone)]
pub struct CardAgentClient {
    bus: SharedBus,
    workstation: String,
    requester: String,
    timeout: Duration,
}

impl std::fmt::Debug for CardAgentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardAgentClient")
            .field("workstation", &self.workstation)
            .field("requester", &self.requester)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A signature made by the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSignature {
    /// RSA PKCS#1 v1.5 signature.
    pub signature: Vec<u8>,
    /// The certificate (DER) of the key used, when the agent reports it.
    pub certificate: Option<Vec<u8>>,
}

impl CardAgentClient {
    /// The agent of `workstation` (one subject token), asked by `requester` (the service's
    /// name, as the agent's audit shows it), with [`DEFAULT_AGENT_TIMEOUT`].
    pub fn new(bus: SharedBus, workstation: &str, requester: &str) -> Result<Self, CardError> {
        subjects::validate_token(workstation).map_err(|e| CardError::InvalidWorkstation {
            workstation: workstation.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            bus,
            workstation: workstation.to_owned(),
            requester: requester.to_owned(),
            timeout: DEFAULT_AGENT_TIMEOUT,
        })
    }

    /// How long the agent gets to answer one read or signature.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn workstation(&self) -> &str {
        &self.workstation
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Reads the card in the workstation's reader (`.read`; empty `reader`: the only one
    /// holding a card).
    pub async fn read_card(
        &self,
        request_id: &RequestId,
        reader: &str,
    ) -> Result<card::ReadCardResponse, CardError> {
        let req = card::ReadCardRequest {
            reader: reader.to_owned(),
        };
        self.call(CardOp::Read, request_id, &req).await
    }

    /// Signs a SHA-256 `digest` with the card's `key` (`.sign`), for `purpose` (the reason
    /// the agent's audit records, e.g. `insi-assertion`). The PIN is never sent: the holder
    /// enters it on the workstation, else [`CardError::PinRequired`].
    pub async fn sign_digest(
        &self,
        request_id: &RequestId,
        key: card::KeyUse,
        purpose: &str,
        digest: &[u8; 32],
    ) -> Result<CardSignature, CardError> {
        let req = card::SignRequest {
            reader: String::new(),
            digest: digest.to_vec(),
            key: key as i32,
            purpose: purpose.to_owned(),
            requester: self.requester.clone(),
            pin: String::new(),
        };
        let resp: card::SignResponse = self.call(CardOp::Sign, request_id, &req).await?;
        if !resp.algorithm.is_empty() && resp.algorithm != ALGORITHM {
            return Err(CardError::failed(format!(
                "the card signed with {:?}, {ALGORITHM} was asked",
                resp.algorithm
            )));
        }
        if resp.signature.is_empty() {
            return Err(CardError::failed(
                "the card-agent returned an empty signature",
            ));
        }
        let certificate = if resp.certificate.is_empty() {
            None
        } else {
            Some(pem_to_der(&resp.certificate, "signing")?)
        };
        Ok(CardSignature {
            signature: resp.signature,
            certificate,
        })
    }

    /// Signs SHA-256(`data`), as [`sign_digest`](Self::sign_digest).
    pub async fn sign_data(
        &self,
        request_id: &RequestId,
        key: card::KeyUse,
        purpose: &str,
        data: &[u8],
    ) -> Result<CardSignature, CardError> {
        self.sign_digest(request_id, key, purpose, &sha256(data))
            .await
    }

    /// One typed request to the agent. Bus failures are told apart from the agent's own
    /// answers.
    async fn call<Req: prost::Message, Resp: prost::Message + Default>(
        &self,
        op: CardOp,
        request_id: &RequestId,
        req: &Req,
    ) -> Result<Resp, CardError> {
        let subject =
            card_subject(&self.workstation, op).map_err(|e| CardError::InvalidWorkstation {
                workstation: self.workstation.clone(),
                reason: e.to_string(),
            })?;
        let reply = self
            .bus
            .request(
                &subject,
                request_id.bus_headers(),
                Bytes::from(req.encode_to_vec()),
                self.timeout,
            )
            .await
            .map_err(|e| CardError::from_bus(&self.workstation, &e))?;
        let malformed = |e: prost::DecodeError| {
            CardError::failed(format!("malformed answer of the card-agent: {e}"))
        };
        match Reply::decode(reply.payload).map_err(malformed)?.outcome {
            Some(Outcome::Ok(bytes)) => Resp::decode(bytes.as_slice()).map_err(malformed),
            Some(Outcome::Error(status)) => Err(CardError::from_agent_reply(status)),
            None => Err(CardError::failed("empty answer of the card-agent")),
        }
    }
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The DER of the PEM certificate the agent sent (`which`: what it is, for the message).
pub(crate) fn pem_to_der(pem: &str, which: &str) -> Result<Vec<u8>, CardError> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|c| c.to_vec())
        .map_err(|e| {
            CardError::failed(format!(
                "the card-agent sent no readable {which} certificate: {e}"
            ))
        })
}
