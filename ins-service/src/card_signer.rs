//! CPS mode through the workstation's card-agent: the INSi adapter of the shared card client
//! ([`passerelle_card_client`]). [`AgentSigner`] reads the card once per request (its
//! certificates, the practice situation INSi needs) and implements [`AssertionSigner`]: the
//! assertion signed with the card's **signature** key (purpose `insi-assertion`), TLS
//! authenticated with its **authentication** key (purpose `tls-client-auth`). Every call to
//! the agent carries the request's id, so the agent's audit joins the INSi call.

use std::time::Duration;

use async_trait::async_trait;
use passerelle_bus::SharedBus;
use passerelle_card_client::{CardAgentClient, CpsSession};
use passerelle_service_kit::RequestId;

use crate::insi::{AssertionSigner, CardTlsIdentity, PracticeSituation, SignerError};

pub use passerelle_card_client::DEFAULT_AGENT_TIMEOUT;
/// Who asks, in the agent's audit.
pub const REQUESTER: &str = "ins-service";
/// Purpose of the assertion signature, in the agent's audit.
pub const PURPOSE_ASSERTION: &str = "insi-assertion";
/// Purpose of the TLS handshake signature, in the agent's audit.
pub const PURPOSE_TLS: &str = passerelle_card_client::purposes::TLS_CLIENT_AUTH;

/// The card of one workstation, as its card-agent read it for one request.
pub struct AgentSigner {
    card: CpsSession,
    situation: PracticeSituation,
}

impl AgentSigner {
    /// Reads the CPS in the workstation's reader for the request `request_id`: its
    /// certificates and its first practice situation with an activity sector and a billing id.
    pub async fn read(
        bus: SharedBus,
        workstation: &str,
        timeout: Duration,
        request_id: RequestId,
    ) -> Result<Self, SignerError> {
        let agent = CardAgentClient::new(bus, workstation, REQUESTER)?.with_timeout(timeout);
        let card = CpsSession::open(agent, request_id).await?;
        let situation = card
            .holder()
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
        Ok(Self { card, situation })
    }
}

#[async_trait]
impl AssertionSigner for AgentSigner {
    fn certificate_der(&self) -> Vec<u8> {
        self.card.signature_certificate().to_vec()
    }

    fn situation(&self) -> PracticeSituation {
        self.situation.clone()
    }

    async fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.card.sign(PURPOSE_ASSERTION, data).await
    }

    fn tls_identity(&self) -> Option<CardTlsIdentity> {
        Some(self.card.tls_identity())
    }
}
