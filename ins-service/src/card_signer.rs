//! CPS mode through the workstation's card-agent, over the bus
//! (`passerelle.card.v1.<workstation>.read` / `.sign`):
//!
//! - [`AgentSigner`] reads the card once per request (certificates, practice situation)
//!   and signs the INSi assertion with the card's **signature** key (purpose
//!   `insi-assertion`);
//! - [`CardSigningKey`], a rustls [`SigningKey`], signs the TLS 1.2 handshake with the
//!   card's **authentication** key (purpose `tls-client-auth`), RSA PKCS#1 v1.5 SHA-256
//!   only.
//!
//! The PIN never travels on the bus: the professional enters it on the workstation, and a
//! card that needs it answers so ([`SignerError::PinRequired`]).
//!
//! rustls signs synchronously, inside the handshake's poll. The agent is asked from a
//! short-lived thread running its own single-threaded runtime (the bus clients are
//! runtime-independent), and the handshake waits for it with a timeout. On a multi-threaded
//! tokio runtime the wait is wrapped in `block_in_place`, so the worker's other tasks move
//! elsewhere meanwhile; on a current-thread runtime the wait blocks that runtime (an agent
//! served by that same runtime would then time out: run ins-service multi-threaded, as its
//! binary does).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use passerelle_bus::subjects::{CardOp, card_subject};
use passerelle_bus::{BusError, Headers, SharedBus};
use passerelle_proto::bus::v1::{Reply, reply::Outcome};
use passerelle_proto::card::v1 as card;
use prost::Message as _;
use rustls::client::ResolvesClientCert;
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tonic::Code;
use tonic_types::StatusExt;

use crate::insi::{AssertionSigner, CardTlsIdentity, PracticeSituation, SignerError};

/// How long the card-agent gets to answer one read or signature.
pub const DEFAULT_AGENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Who asks, in the agent's audit.
pub const REQUESTER: &str = "ins-service";
/// Purpose of the assertion signature, in the agent's audit.
pub const PURPOSE_ASSERTION: &str = "insi-assertion";
/// Purpose of the TLS handshake signature, in the agent's audit.
pub const PURPOSE_TLS: &str = "tls-client-auth";
const ALGORITHM: &str = "rsa-pkcs1-sha256";

/// The card of one workstation, as its card-agent read it for one request.
pub struct AgentSigner {
    agent: Agent,
    sign_certificate: Vec<u8>,
    auth_certificate: Vec<u8>,
    situation: PracticeSituation,
    tls_error: Arc<Mutex<Option<SignerError>>>,
}

/// The card-agent of a workstation on the bus.
#[derive(Clone)]
struct Agent {
    bus: SharedBus,
    workstation: String,
    timeout: Duration,
}

impl AgentSigner {
    /// Reads the CPS in the workstation's reader (`.read`): its certificates and its first
    /// practice situation (activity sector, billing id).
    pub async fn read(
        bus: SharedBus,
        workstation: &str,
        timeout: Duration,
    ) -> Result<Self, SignerError> {
        let agent = Agent {
            bus,
            workstation: workstation.to_owned(),
            timeout,
        };
        let read: card::ReadCardResponse = agent
            .call(CardOp::Read, &card::ReadCardRequest::default())
            .await?;
        let Some(card::read_card_response::Card::Cps(holder)) = read.card else {
            return Err(SignerError::NoCard);
        };
        let sign_certificate = pem_to_der(&holder.sign_certificate, "signature")?;
        let auth_certificate = pem_to_der(&holder.auth_certificate, "authentication")?;
        let situation = holder
            .situations
            .iter()
            .find(|s| !s.activity_sector.is_empty() && !s.billing_id.is_empty())
            .map(|s| PracticeSituation {
                billing_id: s.billing_id.clone(),
                activity_sector: s.activity_sector.clone(),
            })
            .ok_or_else(|| SignerError::Failed {
                reason: "the CPS holds no practice situation with an activity sector and a \
                         billing id"
                    .to_owned(),
            })?;
        Ok(Self {
            agent,
            sign_certificate,
            auth_certificate,
            situation,
            tls_error: Arc::new(Mutex::new(None)),
        })
    }
}

#[async_trait]
impl AssertionSigner for AgentSigner {
    fn certificate_der(&self) -> Vec<u8> {
        self.sign_certificate.clone()
    }

    fn situation(&self) -> PracticeSituation {
        self.situation.clone()
    }

    async fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.agent
            .sign(
                data,
                card::KeyUse::Signature,
                PURPOSE_ASSERTION,
                &self.sign_certificate,
            )
            .await
    }

    fn tls_identity(&self) -> Option<CardTlsIdentity> {
        let key = Arc::new(CardSigningKey {
            agent: self.agent.clone(),
            certificate: self.auth_certificate.clone(),
            last_error: self.tls_error.clone(),
        });
        let certified = Arc::new(CertifiedKey::new(
            vec![CertificateDer::from(self.auth_certificate.clone())],
            key,
        ));
        Some(CardTlsIdentity {
            resolver: Arc::new(CardCertResolver(certified)),
            last_error: self.tls_error.clone(),
        })
    }
}

fn pem_to_der(pem: &str, which: &str) -> Result<Vec<u8>, SignerError> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|c| c.to_vec())
        .map_err(|e| SignerError::Failed {
            reason: format!("the card-agent sent no readable {which} certificate: {e}"),
        })
}

impl Agent {
    /// One typed request to the agent. Bus failures are told apart from the agent's own
    /// answers: `NoResponders` means no agent runs for this workstation.
    async fn call<Req: prost::Message, Resp: prost::Message + Default>(
        &self,
        op: CardOp,
        req: &Req,
    ) -> Result<Resp, SignerError> {
        let subject =
            card_subject(&self.workstation, op).map_err(|e| SignerError::Unavailable {
                reason: e.to_string(),
            })?;
        let reply = self
            .bus
            .request(
                &subject,
                Headers::new(),
                Bytes::from(req.encode_to_vec()),
                self.timeout,
            )
            .await
            .map_err(|e| self.bus_error(&e))?;
        let malformed = |e: prost::DecodeError| SignerError::Failed {
            reason: format!("malformed answer of the card-agent: {e}"),
        };
        match Reply::decode(reply.payload).map_err(malformed)?.outcome {
            Some(Outcome::Ok(bytes)) => Resp::decode(bytes.as_slice()).map_err(malformed),
            Some(Outcome::Error(status)) => Err(from_agent_status(&tonic::Status::with_details(
                Code::from_i32(status.code),
                status.message,
                Bytes::from(status.details),
            ))),
            None => Err(SignerError::Failed {
                reason: "empty answer of the card-agent".to_owned(),
            }),
        }
    }

    fn bus_error(&self, e: &BusError) -> SignerError {
        let ws = &self.workstation;
        match e {
            BusError::NoResponders { .. } => SignerError::Unavailable {
                reason: format!(
                    "no card-agent is running for workstation {ws:?}: start the card-agent on \
                     the workstation"
                ),
            },
            BusError::Timeout { after, .. } => SignerError::Unavailable {
                reason: format!(
                    "the card-agent of workstation {ws:?} did not answer within {after:?}"
                ),
            },
            other => SignerError::Unavailable {
                reason: format!("cannot reach the card-agent of workstation {ws:?}: {other}"),
            },
        }
    }

    /// Signs SHA-256(`data`) with `key`; the certificate the agent reports must be the one
    /// read (else the card was swapped in between).
    async fn sign(
        &self,
        data: &[u8],
        key: card::KeyUse,
        purpose: &str,
        expected_certificate: &[u8],
    ) -> Result<Vec<u8>, SignerError> {
        let digest = ring::digest::digest(&ring::digest::SHA256, data);
        let req = card::SignRequest {
            reader: String::new(),
            digest: digest.as_ref().to_vec(),
            key: key as i32,
            purpose: purpose.to_owned(),
            requester: REQUESTER.to_owned(),
            pin: String::new(),
        };
        let resp: card::SignResponse = self.call(CardOp::Sign, &req).await?;
        if !resp.algorithm.is_empty() && resp.algorithm != ALGORITHM {
            return Err(SignerError::Failed {
                reason: format!(
                    "the card signed with {:?}, {ALGORITHM} was asked",
                    resp.algorithm
                ),
            });
        }
        if !resp.certificate.is_empty() {
            let used = pem_to_der(&resp.certificate, "signing")?;
            if used != expected_certificate {
                return Err(SignerError::NoCard);
            }
        }
        if resp.signature.is_empty() {
            return Err(SignerError::Failed {
                reason: "the card-agent returned an empty signature".to_owned(),
            });
        }
        Ok(resp.signature)
    }
}

/// What the agent's error status means for us: by its `ErrorInfo` reason when it sends one,
/// else by its code.
fn from_agent_status(status: &tonic::Status) -> SignerError {
    let reason = status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.to_ascii_uppercase())
        .unwrap_or_default();
    let message = status.message().to_owned();
    match reason.as_str() {
        "PIN_REQUIRED" => return SignerError::PinRequired,
        "NO_CARD" | "CARD_REMOVED" | "NOT_A_CPS" | "UNKNOWN_CARD" | "NO_SUCH_READER"
        | "READER_REMOVED" => return SignerError::NoCard,
        // The holder must act: unblock the card, choose the reader, enter the PIN again.
        "CARD_BLOCKED" | "BLOCKED" | "PIN_BLOCKED" | "WRONG_PIN" | "PIN_CANCELLED"
        | "SEVERAL_CARDS" => return SignerError::Refused { reason: message },
        "CARD_DEVICE" => return SignerError::Failed { reason: message },
        "TRANSIENT" | "CARD_TRANSIENT" => return SignerError::Transient { reason: message },
        _ => {}
    }
    match status.code() {
        Code::NotFound => SignerError::NoCard,
        Code::Unavailable | Code::Aborted => SignerError::Transient { reason: message },
        Code::FailedPrecondition if message.to_ascii_uppercase().contains("PIN") => {
            if message.to_ascii_lowercase().contains("blocked") {
                SignerError::Refused { reason: message }
            } else {
                SignerError::PinRequired
            }
        }
        Code::FailedPrecondition | Code::PermissionDenied => {
            SignerError::Refused { reason: message }
        }
        _ => SignerError::Failed { reason: message },
    }
}

/// Presents the card's authentication certificate when the server asks for one.
#[derive(Debug)]
struct CardCertResolver(Arc<CertifiedKey>);

impl ResolvesClientCert for CardCertResolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        sigschemes
            .contains(&SignatureScheme::RSA_PKCS1_SHA256)
            .then(|| self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The card's authentication key, signing through the agent.
pub struct CardSigningKey {
    agent: Agent,
    certificate: Vec<u8>,
    last_error: Arc<Mutex<Option<SignerError>>>,
}

impl std::fmt::Debug for CardSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSigningKey")
            .field("workstation", &self.agent.workstation)
            .finish_non_exhaustive()
    }
}

impl SigningKey for CardSigningKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered
            .contains(&SignatureScheme::RSA_PKCS1_SHA256)
            .then(|| {
                Box::new(CardTlsSigner {
                    agent: self.agent.clone(),
                    certificate: self.certificate.clone(),
                    last_error: self.last_error.clone(),
                }) as Box<dyn Signer>
            })
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RSA
    }
}

struct CardTlsSigner {
    agent: Agent,
    certificate: Vec<u8>,
    last_error: Arc<Mutex<Option<SignerError>>>,
}

impl std::fmt::Debug for CardTlsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardTlsSigner")
            .field("workstation", &self.agent.workstation)
            .finish_non_exhaustive()
    }
}

impl Signer for CardTlsSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        let outcome = sign_blocking(&self.agent, message, &self.certificate);
        outcome.map_err(|e| {
            let text = format!("the CPS could not sign the TLS handshake: {e}");
            *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            rustls::Error::General(text)
        })
    }

    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::RSA_PKCS1_SHA256
    }
}

/// Asks the agent from a dedicated thread with its own runtime and waits for the answer
/// (see the module documentation).
fn sign_blocking(
    agent: &Agent,
    message: &[u8],
    certificate: &[u8],
) -> Result<Vec<u8>, SignerError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let agent_for_thread = agent.clone();
    let message = message.to_vec();
    let certificate = certificate.to_vec();
    let spawned = std::thread::Builder::new()
        .name("card-tls-sign".to_owned())
        .spawn(move || {
            let outcome = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(agent_for_thread.sign(
                    &message,
                    card::KeyUse::Authentication,
                    PURPOSE_TLS,
                    &certificate,
                )),
                Err(e) => Err(SignerError::Failed {
                    reason: format!("cannot start the signing runtime: {e}"),
                }),
            };
            let _ = tx.send(outcome);
        });
    if let Err(e) = spawned {
        return Err(SignerError::Failed {
            reason: format!("cannot start the signing thread: {e}"),
        });
    }
    // The agent's own timeout applies inside; this one only guards against a stuck thread.
    let wait = agent.timeout + Duration::from_secs(1);
    let receive = || {
        rx.recv_timeout(wait).unwrap_or_else(|_| {
            Err(SignerError::Unavailable {
                reason: format!(
                    "the card-agent of workstation {:?} did not sign within {wait:?}",
                    agent.workstation
                ),
            })
        })
    };
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(receive)
    } else {
        receive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_statuses_map_to_what_the_user_must_do() {
        use tonic_types::{ErrorDetails, StatusExt};
        let with_reason = |code, reason: &str| {
            tonic::Status::with_error_details(
                code,
                "card says no",
                ErrorDetails::with_error_info(reason, "card-agent", []),
            )
        };
        assert_eq!(
            from_agent_status(&with_reason(Code::FailedPrecondition, "PIN_REQUIRED")),
            SignerError::PinRequired
        );
        assert_eq!(
            from_agent_status(&with_reason(Code::FailedPrecondition, "NO_CARD")),
            SignerError::NoCard
        );
        assert!(matches!(
            from_agent_status(&with_reason(Code::FailedPrecondition, "BLOCKED")),
            SignerError::Refused { .. }
        ));
        assert!(from_agent_status(&tonic::Status::unavailable("reader reset")).is_transient());
        assert_eq!(
            from_agent_status(&tonic::Status::failed_precondition("a PIN is required")),
            SignerError::PinRequired
        );
        assert!(!from_agent_status(&tonic::Status::internal("boom")).is_transient());
    }
}
