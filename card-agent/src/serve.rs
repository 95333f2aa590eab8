//! The two faces of the agent: the local gRPC service `passerelle.card.v1.CardAgent` (loopback
//! only: the local CLI, which may carry the PIN; `Unlock` is served here only) and the bus subjects
//! `passerelle.card.v1.<workstation>.{readers,read,sign}` (services anywhere; never a PIN).
//!
//! On the bus, who may ask is decided by the NATS credentials and subject permissions (see the
//! README), never by a header. The queue group is the workstation id: each workstation has its
//! own subjects, and two agents started on the same workstation do not both answer.

use passerelle_bus::{BusError, subjects};
use passerelle_proto::card::v1 as api;
use passerelle_proto::card::v1::card_agent_server::CardAgent as CardAgentService;
use passerelle_service_kit::errors::RichError;
use passerelle_service_kit::{Handlers, RequestId};
use tonic::{Code, Request, Response, Status};

use crate::agent::{CardAgent, Channel, reasons};

/// Requests served at once on the bus (the card itself does one thing at a time).
pub const BUS_CONCURRENCY: usize = 8;

/// gRPC server of `passerelle.card.v1.CardAgent`, answering from the agent itself.
#[derive(Clone, Debug)]
pub struct CardAgentGrpc {
    agent: CardAgent,
}

impl CardAgentGrpc {
    pub fn new(agent: CardAgent) -> Self {
        Self { agent }
    }
}

#[tonic::async_trait]
impl CardAgentService for CardAgentGrpc {
    async fn list_readers(
        &self,
        _req: Request<api::ListReadersRequest>,
    ) -> Result<Response<api::ListReadersResponse>, Status> {
        self.agent.list_readers().await.map(Response::new)
    }

    async fn read_card(
        &self,
        req: Request<api::ReadCardRequest>,
    ) -> Result<Response<api::ReadCardResponse>, Status> {
        self.agent
            .read_card(req.into_inner())
            .await
            .map(Response::new)
    }

    async fn sign(
        &self,
        req: Request<api::SignRequest>,
    ) -> Result<Response<api::SignResponse>, Status> {
        // The listener is on loopback; a PIN from any other peer is refused all the same.
        let local = req.remote_addr().is_none_or(|a| a.ip().is_loopback());
        if !local && !req.get_ref().pin.is_empty() {
            return Err(RichError::new(
                Code::InvalidArgument,
                reasons::PIN_NOT_LOCAL,
                "the PIN is only accepted from this workstation",
            )
            .field("pin", "only on the loopback channel")
            .into_status());
        }
        let request_id = RequestId::of(&req);
        self.agent
            .sign(Channel::Local, "local", &request_id, req.into_inner())
            .await
            .map(Response::new)
    }

    async fn unlock(
        &self,
        req: Request<api::UnlockRequest>,
    ) -> Result<Response<api::UnlockResponse>, Status> {
        // Local only, and there is no bus subject for it.
        if !req.remote_addr().is_none_or(|a| a.ip().is_loopback()) {
            return Err(RichError::new(
                Code::InvalidArgument,
                reasons::PIN_NOT_LOCAL,
                "the PIN is only accepted from this workstation",
            )
            .field("pin", "only on the loopback channel")
            .into_status());
        }
        self.agent
            .unlock(Channel::Local, req.into_inner())
            .await
            .map(Response::new)
    }
}

/// The agent's bus subjects (readers, read, sign) and what answers each, served by the service
/// kit's loop in the workstation's queue group. Never a PIN over the bus.
pub fn handlers(agent: CardAgent) -> Result<Handlers, BusError> {
    let workstation = agent.workstation().to_owned();
    let subject = |op| subjects::card_subject(&workstation, op);
    let a = agent.clone();
    let readers = move |_id: RequestId, _req: api::ListReadersRequest| {
        let a = a.clone();
        async move { a.list_readers().await }
    };
    let a = agent.clone();
    let read = move |_id: RequestId, req: api::ReadCardRequest| {
        let a = a.clone();
        async move { a.read_card(req).await }
    };
    let a = agent;
    let sign = move |id: RequestId, req: api::SignRequest| {
        let a = a.clone();
        async move { a.sign(Channel::Bus, "bus", &id, req).await }
    };
    Ok(Handlers::new(workstation.clone())
        .on(subject(subjects::CardOp::Readers)?, "card.readers", readers)
        .on(subject(subjects::CardOp::Read)?, "card.read", read)
        .on(subject(subjects::CardOp::Sign)?, "card.sign", sign))
}
