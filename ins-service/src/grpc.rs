//! The gRPC face of the INS service. Each call is put on the bus, so that any replica serving
//! the subject (this process or another) does the work: replicas share the load.

use std::time::Duration;

use passerelle_bus::{SharedBus, proto_rpc, subjects};
use passerelle_proto::ins::v1::{self as api, ins_service_server::InsService};
use passerelle_service_kit::RequestId;
use tonic::{Request, Response, Status};

/// gRPC server of `passerelle.ins.v1.InsService`, forwarding to the bus.
#[derive(Clone)]
pub struct InsGrpc {
    bus: SharedBus,
    timeout: Duration,
}

impl InsGrpc {
    pub fn new(bus: SharedBus, timeout: Duration) -> Self {
        Self { bus, timeout }
    }

    async fn forward<Req, Resp>(
        &self,
        subject: &str,
        req: Request<Req>,
    ) -> Result<Response<Resp>, Status>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
    {
        let id = RequestId::of(&req);
        let reply: Resp = proto_rpc::call(
            self.bus.as_ref(),
            subject,
            id.bus_headers(),
            req.get_ref(),
            self.timeout,
        )
        .await?;
        Ok(Response::new(reply))
    }
}

#[tonic::async_trait]
impl InsService for InsGrpc {
    async fn search_by_traits(
        &self,
        req: Request<api::SearchByTraitsRequest>,
    ) -> Result<Response<api::SearchResponse>, Status> {
        self.forward(subjects::INS_SEARCH_BY_TRAITS, req).await
    }

    async fn search_by_vitale(
        &self,
        req: Request<api::SearchByVitaleRequest>,
    ) -> Result<Response<api::SearchResponse>, Status> {
        self.forward(subjects::INS_SEARCH_BY_VITALE, req).await
    }

    async fn check_matricule(
        &self,
        req: Request<api::CheckMatriculeRequest>,
    ) -> Result<Response<api::CheckMatriculeResponse>, Status> {
        self.forward(subjects::INS_CHECK_MATRICULE, req).await
    }

    async fn verify_ins(
        &self,
        req: Request<api::VerifyInsRequest>,
    ) -> Result<Response<api::VerifyInsResponse>, Status> {
        self.forward(subjects::INS_VERIFY, req).await
    }

    async fn qualify_identity(
        &self,
        req: Request<api::QualifyIdentityRequest>,
    ) -> Result<Response<api::QualifyIdentityResponse>, Status> {
        self.forward(subjects::INS_QUALIFY, req).await
    }
}
