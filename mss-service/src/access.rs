//! Who sends: the professional (from the actor in organisation mode, from the card in CPS
//! mode) and the TLS identity that authenticates the SMTP session — the organisation's
//! configured certificate, or the CPS's authentication key through the workstation's
//! card-agent.

use std::time::Duration;

use passerelle_bus::SharedBus;
use passerelle_card_client::{CardAgentClient, CardError, CpsSession};
use passerelle_domain::{Professional, ProfessionalError};
use passerelle_proto::common::v1::{Actor, actor};
use passerelle_service_kit::RequestId;
use passerelle_service_kit::identity::{professional_from_api, professional_of_card};

/// Who asks, in the card-agent's audit.
pub const REQUESTER: &str = "mss-service";

/// What is wrong with who sends.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(
        "actor is required: the organisation (with the professional who sends) or a workstation's CPS"
    )]
    MissingActor,
    #[error(
        "actor.professional is required in organisation mode: the letter's author is the professional who sends (identifier, names, profession, structure)"
    )]
    MissingProfessional,
    #[error("{}: {}", .0.field, .0.problem)]
    Professional(ProfessionalError),
    #[error("actor.cps.workstation_id {0:?} is not a workstation id (letters, digits, '-', '_')")]
    BadWorkstation(String),
    #[error("the CPS card: {0}")]
    Card(#[from] CardError),
    #[error("the CPS holder cannot send: {0}")]
    CardHolder(String),
}

/// Who sends, resolved.
pub struct Sender {
    pub professional: Professional,
    pub actor: Actor,
    /// The card's session in CPS mode: its authentication key authenticates the SMTP
    /// session; None in organisation mode (the configured certificate does).
    pub card: Option<CpsSession>,
}

/// What the service holds to resolve senders.
#[derive(Clone)]
pub struct Resolver {
    pub bus: SharedBus,
    pub card_timeout: Duration,
}

impl Resolver {
    pub async fn sender(
        &self,
        actor: Option<&Actor>,
        request_id: &RequestId,
    ) -> Result<Sender, AccessError> {
        let actor = actor.cloned().ok_or(AccessError::MissingActor)?;
        match &actor.mode {
            Some(actor::Mode::Cps(cps)) => {
                passerelle_bus::subjects::validate_token(&cps.workstation_id)
                    .map_err(|_| AccessError::BadWorkstation(cps.workstation_id.clone()))?;
                let agent = CardAgentClient::new(self.bus.clone(), &cps.workstation_id, REQUESTER)?
                    .with_timeout(self.card_timeout);
                let card = CpsSession::open(agent, request_id.clone()).await?;
                let professional =
                    professional_of_card(card.holder()).map_err(AccessError::CardHolder)?;
                Ok(Sender {
                    professional,
                    actor,
                    card: Some(card),
                })
            }
            Some(actor::Mode::Organisation(_)) | None => {
                let professional = professional_from_api(&actor)
                    .map_err(AccessError::Professional)?
                    .ok_or(AccessError::MissingProfessional)?;
                Ok(Sender {
                    professional,
                    actor,
                    card: None,
                })
            }
        }
    }
}
