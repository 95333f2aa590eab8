//! The DMP web-service client: SOAP 1.2 with WS-Addressing and the signed VIHF in
//! `wsse:Security`, MTOM/XOP for documents, mutual TLS with the organisation's
//! authentication certificate or the CPS's authentication key.
//!
//! - [`config`], the [`DmpClientConfig`];
//! - [`transport`], HTTP over TLS 1.2, bounded answers, errors told apart;
//! - [`envelope`], the request envelope and the reading of answers (faults, `RelatesTo`);
//! - [`mtom`], `multipart/related` writer and reader;
//! - one module per transaction: [`patients`] (TD0.2), [`habilitations`] (TD0.3),
//!   [`patient_list`] (TD0.4), [`deposit`] (TD2.1, ITI-41), [`query`] (TD3.1, ITI-18),
//!   [`retrieve`] (TD3.2, ITI-43), [`update`] (TD3.3, ITI-57).

pub mod config;
pub mod deposit;
pub mod envelope;
pub mod error;
pub mod habilitations;
pub mod mtom;
pub mod patient_list;
pub mod patients;
pub mod query;
pub mod retrieve;
pub mod transport;
pub mod update;

use std::sync::Arc;

use passerelle_card_client::CpsSession;
use passerelle_soap::XmlWriter;
use time::OffsetDateTime;

use crate::signer::{CardSigner, XmlSigner};
use crate::vihf::VihfClaims;

pub use config::{AuthenticationModeConfig, ClientIdentity, ClientTls, DmpClientConfig, LpsConfig};
pub use deposit::{Deposit, DepositDocument, DepositOutcome};
pub use envelope::Response;
pub use error::{DmpError, RegistryErrorItem};
pub use habilitations::{AuthorizationAction, AuthorizationChange, AuthorizationOutcome};
pub use patient_list::{AccessiblePatient, DateType, NationalId};
pub use patients::{Authorization, DmpState, PatientStatus};
pub use query::{EntryStatus, FindDocuments, RegistryEntry};
pub use retrieve::RetrievedDocument;
pub use transport::{RawResponse, Service, Transport};
pub use update::VisibilityChange;

/// Who authenticates the call and signs its VIHF (and a deposit's XAdES).
/// The card variant is large (the card's holder and certificates); a context lives for one
/// call, so it is not boxed (the interface is fixed).
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum CallAuth {
    /// Organisation mode: TLS with the organisation's authentication certificate (from the
    /// configuration), VIHF/XAdES signed by the organisation's signature key.
    Organisation { signer: Arc<dyn XmlSigner> },
    /// CPS mode: TLS with the card's authentication key, VIHF/XAdES with its signature key.
    Card { card: CpsSession },
}

impl std::fmt::Debug for CallAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Organisation { .. } => f.write_str("Organisation"),
            Self::Card { .. } => f.write_str("Card"),
        }
    }
}

/// One call: its WS-Addressing `MessageID` (echoed in `RelatesTo`; one per call, so a context
/// serves one call), who authenticates, and the VIHF's claims (the patient among them).
pub struct CallContext {
    pub message_id: uuid::Uuid,
    pub auth: CallAuth,
    pub claims: VihfClaims,
}

impl CallContext {
    /// The signer of this call's VIHF and XAdES.
    pub fn signer(&self) -> Arc<dyn XmlSigner> {
        match &self.auth {
            CallAuth::Organisation { signer } => signer.clone(),
            CallAuth::Card { card } => Arc::new(CardSigner::new(card.clone())),
        }
    }
}

/// A request ready to send: the service, the WS-A actions, the body writer's output.
pub(crate) struct Call<'a> {
    pub service: Service,
    pub action: &'a str,
    pub response_action: &'a str,
}

impl<'a> Call<'a> {
    pub(crate) const fn new(service: Service, action: &'a str, response_action: &'a str) -> Self {
        Self {
            service,
            action,
            response_action,
        }
    }
}

/// The DMP client. Cheap to clone; one per configuration.
#[derive(Debug, Clone)]
pub struct DmpClient {
    transport: Transport,
    config: DmpClientConfig,
}

impl DmpClient {
    pub fn new(cfg: &DmpClientConfig) -> Result<Self, DmpError> {
        Ok(Self {
            transport: Transport::new(cfg)?,
            config: cfg.clone(),
        })
    }

    pub fn config(&self) -> &DmpClientConfig {
        &self.config
    }

    /// The service URL (`wsa:To`).
    pub fn url(&self, service: Service) -> String {
        self.transport.url(service)
    }

    /// Signs the VIHF, writes the envelope (`body` writes the Body's content), sends it
    /// (MTOM when `parts` is not empty) and reads the answer.
    pub(crate) async fn call(
        &self,
        ctx: &CallContext,
        call: Call<'_>,
        body: impl FnOnce(&mut XmlWriter) -> Result<(), DmpError>,
        parts: &[mtom::Part<'_>],
    ) -> Result<Response, DmpError> {
        let signer = ctx.signer();
        let vihf = crate::vihf::signed_vihf(
            &ctx.claims,
            signer.as_ref(),
            uuid::Uuid::new_v4(),
            OffsetDateTime::now_utc(),
        )
        .await
        .map_err(DmpError::from)?;
        let to = self.transport.url(call.service);
        let xml = envelope::write_request(
            &envelope::Addressing {
                action: call.action,
                to: &to,
                message_id: ctx.message_id,
            },
            &vihf,
            body,
        )?;
        let (content_type, length, body) = if parts.is_empty() {
            (
                format!(
                    "application/soap+xml; charset=UTF-8; action=\"{}\"",
                    call.action
                ),
                xml.len(),
                reqwest::Body::from(xml),
            )
        } else {
            let m = mtom::write(call.action, xml, parts);
            let length = m.len();
            (
                m.content_type.clone(),
                length,
                reqwest::Body::wrap(m.into_http_body()),
            )
        };
        tracing::debug!(service = call.service.path(), action = call.action, message_id = %ctx.message_id, bytes = length, "DMP request");
        let raw = match &ctx.auth {
            CallAuth::Organisation { .. } => {
                self.transport
                    .post(call.service, &content_type, body)
                    .await?
            }
            CallAuth::Card { card } => {
                self.transport
                    .post_with_card(call.service, &content_type, body, &card.tls_identity())
                    .await?
            }
        };
        envelope::read_response(
            raw,
            Some(ctx.message_id),
            Some(call.response_action),
            self.transport.max_response_bytes(),
        )
    }
}
