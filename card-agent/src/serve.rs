//! The two faces of the agent: the local gRPC service `passerelle.card.v1.CardAgent` (loopback
//! only: the local CLI, which may carry the PIN; `Unlock` is served here only) and the bus subjects
//! `passerelle.card.v1.<workstation>.{readers,read,sign}` (services anywhere; never a PIN).
//!
//! On the bus, who may ask is decided by the NATS credentials and subject permissions (see the
//! README), never by a header. The queue group is the workstation id: each workstation has its
//! own subjects, and two agents started on the same workstation do not both answer.

use std::future::Future;

use passerelle_bus::{BusError, DrainHandle, RequestStream, SharedBus, proto_rpc, subjects};
use passerelle_proto::card::v1 as api;
use passerelle_proto::card::v1::card_agent_server::CardAgent as CardAgentService;
use passerelle_service_kit::errors::RichError;
use passerelle_service_kit::{RequestId, Shutdown};
use tonic::{Code, Request, Response, Status};
use tracing::Instrument;

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

/// Subscribes the agent's request subjects (readers, read, sign) in the workstation's queue
/// group. Done before serving, so that start-up fails if the bus refuses them.
pub async fn subscribe(
    bus: &SharedBus,
    workstation: &str,
) -> Result<[(RequestStream, DrainHandle); 3], BusError> {
    let subject = |op| subjects::card_subject(workstation, op);
    Ok([
        bus.serve_drainable(&subject(subjects::CardOp::Readers)?, workstation)
            .await?,
        bus.serve_drainable(&subject(subjects::CardOp::Read)?, workstation)
            .await?,
        bus.serve_drainable(&subject(subjects::CardOp::Sign)?, workstation)
            .await?,
    ])
}

/// Serves the subscribed subjects until `shutdown`, then drains them.
pub async fn serve_bus(
    agent: CardAgent,
    [readers, read, sign]: [(RequestStream, DrainHandle); 3],
    shutdown: Shutdown,
) {
    let a = agent.clone();
    let readers = serve_one(
        "card.readers",
        readers,
        shutdown.clone(),
        move |_id: RequestId, _req: api::ListReadersRequest| {
            let a = a.clone();
            async move { a.list_readers().await }
        },
    );
    let a = agent.clone();
    let read = serve_one(
        "card.read",
        read,
        shutdown.clone(),
        move |_id: RequestId, req: api::ReadCardRequest| {
            let a = a.clone();
            async move { a.read_card(req).await }
        },
    );
    let a = agent;
    let sign = serve_one(
        "card.sign",
        sign,
        shutdown,
        move |id: RequestId, req: api::SignRequest| {
            let a = a.clone();
            async move { a.sign(Channel::Bus, "bus", &id, req).await }
        },
    );
    tokio::join!(readers, read, sign);
}

fn serve_one<Req, Resp, F, Fut>(
    operation: &'static str,
    (stream, drain): (RequestStream, DrainHandle),
    shutdown: Shutdown,
    handler: F,
) -> impl Future<Output = ()>
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: Fn(RequestId, Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    proto_rpc::serve_typed_until(
        stream,
        drain,
        async move { shutdown.wait().await },
        BUS_CONCURRENCY,
        move |headers, req: Req| {
            let id = RequestId::from_bus(&headers);
            let span = tracing::info_span!("request", op = operation, request_id = %id);
            handler(id, req).instrument(span)
        },
    )
}
