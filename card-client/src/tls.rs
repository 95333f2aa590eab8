//! TLS client authentication with the card's authentication key: a rustls client-certificate
//! resolver whose [`SigningKey`] signs the handshake through the card-agent. RSA PKCS#1 v1.5
//! SHA-256 only, so TLS 1.2 only (TLS 1.3 requires RSA-PSS for the client's
//! CertificateVerify).
//!
//! rustls signs synchronously, inside the handshake's poll. The agent is asked from a
//! short-lived thread running its own single-threaded runtime (the bus clients are
//! runtime-independent), and the handshake waits for it with a timeout. On a multi-threaded
//! tokio runtime the wait is wrapped in `block_in_place`, so the caller's other tasks move
//! elsewhere meanwhile; on a current-thread runtime the wait blocks that runtime (an agent
//! served by that same runtime would then time out: run the service multi-threaded).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use passerelle_proto::card::v1 as card;
use rustls::client::ResolvesClientCert;
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme};
use rustls_pki_types::CertificateDer;

use crate::agent::sha256;
use crate::{CardError, CpsSession};

/// The card's TLS client identity: the certificate resolver to put in a rustls client
/// configuration, and the card's error when a handshake signature failed (rustls itself only
/// reports a generic error).
#[derive(Clone)]
pub struct CardTlsIdentity {
    resolver: Arc<CardCertResolver>,
    last_error: Arc<Mutex<Option<CardError>>>,
}

impl std::fmt::Debug for CardTlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardTlsIdentity").finish_non_exhaustive()
    }
}

impl CardTlsIdentity {
    pub(crate) fn new(session: CpsSession, purpose: &str) -> Self {
        let last_error = Arc::new(Mutex::new(None));
        let certificate = CertificateDer::from(session.authentication_certificate().to_vec());
        let key = Arc::new(CardSigningKey {
            session,
            purpose: purpose.to_owned(),
            last_error: last_error.clone(),
        });
        Self {
            resolver: Arc::new(CardCertResolver(Arc::new(CertifiedKey::new(
                vec![certificate],
                key,
            )))),
            last_error,
        }
    }

    /// For `ClientConfig::with_client_cert_resolver`.
    pub fn resolver(&self) -> Arc<dyn ResolvesClientCert> {
        self.resolver.clone()
    }

    /// The card's error of the last failed handshake signature, if any (taken: asked once
    /// per failure).
    pub fn take_error(&self) -> Option<CardError> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
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
struct CardSigningKey {
    session: CpsSession,
    purpose: String,
    last_error: Arc<Mutex<Option<CardError>>>,
}

impl std::fmt::Debug for CardSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSigningKey")
            .field("workstation", &self.session.agent().workstation())
            .finish_non_exhaustive()
    }
}

impl SigningKey for CardSigningKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered
            .contains(&SignatureScheme::RSA_PKCS1_SHA256)
            .then(|| {
                Box::new(CardTlsSigner {
                    session: self.session.clone(),
                    purpose: self.purpose.clone(),
                    last_error: self.last_error.clone(),
                }) as Box<dyn Signer>
            })
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RSA
    }
}

struct CardTlsSigner {
    session: CpsSession,
    purpose: String,
    last_error: Arc<Mutex<Option<CardError>>>,
}

impl std::fmt::Debug for CardTlsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardTlsSigner")
            .field("workstation", &self.session.agent().workstation())
            .finish_non_exhaustive()
    }
}

impl Signer for CardTlsSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        sign_blocking(&self.session, &self.purpose, message).map_err(|e| {
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
    session: &CpsSession,
    purpose: &str,
    message: &[u8],
) -> Result<Vec<u8>, CardError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let for_thread = session.clone();
    let purpose = purpose.to_owned();
    let digest = sha256(message);
    let spawned = std::thread::Builder::new()
        .name("card-tls-sign".to_owned())
        .spawn(move || {
            let outcome = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(for_thread.sign_digest(
                    card::KeyUse::Authentication,
                    &purpose,
                    &digest,
                )),
                Err(e) => Err(CardError::failed(format!(
                    "cannot start the signing runtime: {e}"
                ))),
            };
            let _ = tx.send(outcome);
        });
    if let Err(e) = spawned {
        return Err(CardError::failed(format!(
            "cannot start the signing thread: {e}"
        )));
    }
    // The agent's own timeout applies inside; this one only guards against a stuck thread.
    let wait = session.agent().timeout() + Duration::from_secs(1);
    let receive = || {
        rx.recv_timeout(wait).unwrap_or_else(|_| {
            Err(CardError::AgentUnavailable {
                reason: format!(
                    "the card-agent of workstation {:?} did not sign within {wait:?}",
                    session.agent().workstation()
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
