//! The INSi client (téléservice INS of the Assurance Maladie): SOAP 1.2 over mutual TLS.
//!
//! - [`envelope`]: the requests, as pure functions;
//! - [`result`]: the answers (`RESULTAT`, faults);
//! - [`transport`] / [`tls`]: HTTP, mutual TLS, identities;
//! - [`cps`]: CPS mode (assertion signed by the card through the card-agent, see
//!   [`crate::card_signer`]; TLS with the card's authentication key).
//!
//! Logs carry the message id, operation, CR code, fault code and duration — never traits,
//! names, NIR or birth dates.

pub mod config;
pub mod cps;
pub mod envelope;
mod error;
pub mod result;
pub mod transport;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use passerelle_domain::{BirthPlace, Key, LunarDate, Matricule, Name, Sex};

pub use config::{ClientIdentity, ClientTls, InsiClientConfig, LpsContext};
pub use cps::{
    AssertionSigner, CardTlsIdentity, CpsError, PracticeSituation, PsAssertion, SignerError,
};
pub use envelope::{Operation, RequestContext};
pub use error::InsiError;
pub use result::{CrCode, HistoricalIns, Individual, InsiAnswer, ReturnedTraits};

/// A search by identity traits (`RECSANSVITALE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraitsQuery {
    pub birth_name: Name,
    /// One `Prenom` element: a single first name or the space-separated list, as tlsi-ins
    /// sends it.
    pub first_names: String,
    pub sex: Sex,
    pub birth_date: LunarDate,
    pub birth_place: Option<BirthPlace>,
}

/// A search with the carte Vitale's data (`RECVITALE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VitaleQuery {
    /// The beneficiary's matricule (`MatriculeIndividu`).
    pub matricule: Matricule,
    pub key: Key,
    /// The insured person's (`MatriculeOD`), when the beneficiary is not the insured.
    pub insured: Option<(Matricule, Key)>,
    pub birth_name: Name,
    pub birth_date: LunarDate,
    pub birth_rank: u8,
}

/// How a call is authenticated.
#[derive(Clone)]
pub enum CallAuth {
    /// The organisation certificate of the TLS connection (CN `INSI-AUTO`/`INSI-MANU`).
    Organisation,
    /// A professional's CPS, through the card-agent of their workstation.
    Cps(Arc<dyn AssertionSigner>),
}

impl std::fmt::Debug for CallAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Organisation => "Organisation",
            Self::Cps(_) => "Cps",
        })
    }
}

/// One INSi call.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// `wsa:MessageID` (`uuid:…`) and the `Id` of `ContexteBAM`/`ContexteLPS`; INSi echoes it
    /// in its faults, so it ties our logs to theirs.
    pub message_id: uuid::Uuid,
    pub auth: CallAuth,
}

/// The INSi client. Cheap to share (`Arc`); one connection pool.
#[derive(Debug, Clone)]
pub struct InsiClient {
    transport: transport::Transport,
    lps: LpsContext,
    emitter: String,
}

impl InsiClient {
    /// Loads the certificates and builds the HTTP client; fails on any configuration problem,
    /// so that a misconfigured service does not start.
    pub fn new(config: InsiClientConfig) -> Result<Self, InsiError> {
        // INSi rejects a ContexteLPS without these (siram_10): refuse at start-up instead of
        // failing every call.
        for (key, value) in [
            ("insi.lps.idam", &config.lps.idam),
            ("insi.lps.software_name", &config.lps.software_name),
            ("insi.lps.software_version", &config.lps.software_version),
        ] {
            if value.trim().is_empty() {
                return Err(InsiError::Config {
                    reason: format!(
                        "{key} is empty: set the software authorisation (IDAM), name and version registered with the CNDA"
                    ),
                });
            }
        }
        let transport = transport::Transport::new(&config)?;
        Ok(Self {
            transport,
            lps: config.lps,
            emitter: config.emitter,
        })
    }

    /// `rechercherInsAvecTraitsIdentite`.
    pub async fn search_by_traits(
        &self,
        q: &TraitsQuery,
        call: &CallContext,
    ) -> Result<InsiAnswer, InsiError> {
        self.call(Operation::SearchByTraits, call, |ctx| {
            envelope::traits_request(q, ctx)
        })
        .await
    }

    /// `rechercherInsAvecCarteVitale`.
    pub async fn search_by_vitale(
        &self,
        q: &VitaleQuery,
        call: &CallContext,
    ) -> Result<InsiAnswer, InsiError> {
        self.call(Operation::SearchByVitale, call, |ctx| {
            envelope::vitale_request(q, ctx)
        })
        .await
    }

    async fn call(
        &self,
        op: Operation,
        call: &CallContext,
        build: impl FnOnce(&RequestContext<'_>) -> Result<Vec<u8>, InsiError>,
    ) -> Result<InsiAnswer, InsiError> {
        let started = Instant::now();
        let outcome = self.call_inner(op, call, build).await;
        let ms = started.elapsed().as_millis() as u64;
        let message_id = call.message_id;
        match &outcome {
            Ok(a) => tracing::info!(
                %message_id, operation = op.name(), cr = a.code.as_str(), duration_ms = ms,
                "INSi answered"
            ),
            Err(InsiError::Fault(f)) => tracing::warn!(
                %message_id, operation = op.name(), fault_code = %f.code,
                fault_subcode = f.subcode().unwrap_or(""),
                upstream_code = f.upstream_code().unwrap_or(""), duration_ms = ms,
                "INSi fault"
            ),
            // The body of an HTTP error may echo the request: only its status is logged.
            Err(InsiError::HttpStatus { status, .. }) => tracing::warn!(
                %message_id, operation = op.name(), error = "http_status", http_status = status,
                duration_ms = ms, "INSi call failed"
            ),
            Err(e) => tracing::warn!(
                %message_id, operation = op.name(), error = e.kind(), detail = %e,
                duration_ms = ms, "INSi call failed"
            ),
        }
        outcome
    }

    async fn call_inner(
        &self,
        op: Operation,
        call: &CallContext,
        build: impl FnOnce(&RequestContext<'_>) -> Result<Vec<u8>, InsiError>,
    ) -> Result<InsiAnswer, InsiError> {
        let now = time::OffsetDateTime::now_utc();
        // CPS mode: the assertion signed by the card (its signature key) in `wsse:Security`,
        // and, when the signer offers it, TLS authenticated by the card (its authentication
        // key) instead of the organisation certificate.
        let (security, card_tls) = match &call.auth {
            CallAuth::Organisation => (None, None),
            CallAuth::Cps(signer) => {
                let header = cps::signed_security_header(signer.as_ref(), call.message_id, now)
                    .await
                    .map_err(|e| match e {
                        CpsError::Signer(error) => InsiError::Signer { error },
                        CpsError::Assertion(e) => e,
                    })?;
                (Some(header), signer.tls_identity())
            }
        };
        let ctx = RequestContext {
            message_id: call.message_id,
            time: now,
            emitter: &self.emitter,
            lps: &self.lps,
            security: security.as_deref(),
        };
        let body = build(&ctx)?;
        let raw = match &card_tls {
            None => self.transport.post(op, body).await?,
            Some(card) => self.transport.post_with_card(op, body, card).await?,
        };
        result::interpret_response(raw.status, &raw.body, self.transport.max_response_bytes())
    }
}
