//! Who acts, how and for whom, for one request: the professional the VIHF names (from the
//! actor in organisation mode, from the card in CPS mode), the keys that sign and
//! authenticate, the access mode and its reason, and the patient.

use std::sync::Arc;
use std::time::Duration;

use passerelle_bus::SharedBus;
use passerelle_card_client::{CardAgentClient, CardError, CpsSession};
use passerelle_domain::{PatientIdentity, Professional, ProfessionalError};
use passerelle_proto::card::v1 as card;
use passerelle_proto::common::v1::{Actor, PatientIdentity as ApiPatient, actor};
use passerelle_proto::dmp::v1::{Access, AccessMode};
use passerelle_service_kit::RequestId;
use passerelle_service_kit::identity::{PatientError, professional_from_api};

use crate::client::CallAuth;
use crate::signer::XmlSigner;
use crate::vihf::{AuthenticationMode, PurposeOfUse};

/// Who asks, in the card-agent's audit.
pub const REQUESTER: &str = "dmp-service";

/// Longest emergency-access reason kept.
const MAX_REASON_CHARS: usize = 500;

/// What is wrong with who acts.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(
        "access.actor is required: the organisation (with the professional who acts) or a workstation's CPS"
    )]
    MissingActor,
    #[error(
        "access.actor.professional is required in organisation mode: the DMP's VIHF names the user who acts (identifier, names, profession, structure, activity sector)"
    )]
    MissingProfessional,
    #[error("{}: {}", .0.field, .0.problem)]
    Professional(ProfessionalError),
    #[error(
        "access.reason is required for {0}: say why you access this record in an emergency (kept in the audit record)"
    )]
    MissingReason(&'static str),
    #[error("access.reason is {0} characters long: at most 500")]
    ReasonTooLong(usize),
    #[error(
        "access.actor.cps.workstation_id {0:?} is not a workstation id (letters, digits, '-', '_')"
    )]
    BadWorkstation(String),
    #[error(
        "organisation mode is not configured: set organisation_signature (the organisation's signature certificate and key) in the dmp-service settings, or act with a CPS"
    )]
    NoOrganisationSigner,
    #[error("the CPS card: {0}")]
    Card(#[from] CardError),
    #[error(
        "the CPS holder cannot act on the DMP: {0} (the card gives the professional; check the card's practice situation)"
    )]
    CardHolder(String),
}

/// The access mode of the request, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purpose {
    pub purpose: PurposeOfUse,
    /// The caller's reason (emergency access only).
    pub reason: Option<String>,
}

impl Purpose {
    /// The VIHF code, for audit records.
    pub fn code(&self) -> &'static str {
        match self.purpose {
            PurposeOfUse::Normal => "normal",
            PurposeOfUse::BrisDeGlace => "bris_de_glace",
            PurposeOfUse::Centre15 => "centre_15",
        }
    }
}

/// Checks the access mode: an emergency access needs a reason.
pub fn purpose(access: &Access) -> Result<Purpose, AccessError> {
    let (purpose, name) = match AccessMode::try_from(access.mode) {
        Ok(AccessMode::BrisDeGlace) => (PurposeOfUse::BrisDeGlace, "bris de glace"),
        Ok(AccessMode::Centre15) => (PurposeOfUse::Centre15, "centre 15"),
        _ => (PurposeOfUse::Normal, ""),
    };
    if purpose == PurposeOfUse::Normal {
        return Ok(Purpose {
            purpose,
            reason: None,
        });
    }
    let reason = access.reason.trim();
    if reason.is_empty() {
        return Err(AccessError::MissingReason(name));
    }
    let chars = reason.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(AccessError::ReasonTooLong(chars));
    }
    Ok(Purpose {
        purpose,
        reason: Some(reason.to_owned()),
    })
}

/// Who acts, resolved: the professional, the keys, the authentication mode.
pub struct Caller {
    pub professional: Professional,
    pub auth: CallAuth,
    pub mode: AuthenticationMode,
    pub actor: Actor,
}

/// What the service holds to resolve callers.
#[derive(Clone)]
pub struct Resolver {
    pub bus: SharedBus,
    pub organisation_signer: Option<Arc<dyn XmlSigner>>,
    /// The authentication mode of organisation mode (INDIRECTE, or INDIRECTE_RENFORCEE where
    /// the software authenticated the user strongly).
    pub organisation_mode: AuthenticationMode,
    pub card_timeout: Duration,
}

impl Resolver {
    /// Resolves the actor of `access`: in CPS mode the card is read through the workstation's
    /// card-agent (its holder is the professional); in organisation mode the actor's
    /// professional is checked and the organisation's signature key signs.
    pub async fn caller(
        &self,
        access: &Access,
        request_id: &RequestId,
    ) -> Result<Caller, AccessError> {
        let actor = access.actor.clone().ok_or(AccessError::MissingActor)?;
        match &actor.mode {
            Some(actor::Mode::Cps(cps)) => {
                passerelle_bus::subjects::validate_token(&cps.workstation_id)
                    .map_err(|_| AccessError::BadWorkstation(cps.workstation_id.clone()))?;
                let agent = CardAgentClient::new(self.bus.clone(), &cps.workstation_id, REQUESTER)?
                    .with_timeout(self.card_timeout);
                let card = CpsSession::open(agent, request_id.clone()).await?;
                let professional = professional_of_card(card.holder())?;
                Ok(Caller {
                    professional,
                    auth: CallAuth::Card { card },
                    mode: AuthenticationMode::Directe,
                    actor,
                })
            }
            Some(actor::Mode::Organisation(_)) | None => {
                let professional = professional_from_api(&actor)
                    .map_err(AccessError::Professional)?
                    .ok_or(AccessError::MissingProfessional)?;
                let signer = self
                    .organisation_signer
                    .clone()
                    .ok_or(AccessError::NoOrganisationSigner)?;
                Ok(Caller {
                    professional,
                    auth: CallAuth::Organisation { signer },
                    mode: self.organisation_mode,
                    actor,
                })
            }
        }
    }
}

/// The professional a CPS names (see the service kit's
/// [`professional_of_card`](passerelle_service_kit::identity::professional_of_card)).
pub fn professional_of_card(h: &card::CpsHolder) -> Result<Professional, AccessError> {
    passerelle_service_kit::identity::professional_of_card(h).map_err(AccessError::CardHolder)
}

/// The patient of a request, checked (`patient` is required; see the service kit's
/// [`checked_patient`](passerelle_service_kit::identity::checked_patient)).
pub fn patient(p: Option<&ApiPatient>) -> Result<PatientIdentity, PatientError> {
    passerelle_service_kit::identity::checked_patient(p)
}
