//! The gRPC face of the INS service: every call goes to the bus (see the service kit's
//! [`Forwarder`]), so that any replica does the work.

use passerelle_bus::subjects;
use passerelle_proto::ins::v1::{self as api, ins_service_server::InsService};
use passerelle_service_kit::face::Forwarder;
use tonic::{Request, Response, Status};

/// gRPC server of `passerelle.ins.v1.InsService`, forwarding to the bus.
#[derive(Clone)]
pub struct InsGrpc(pub Forwarder);

#[tonic::async_trait]
impl InsService for InsGrpc {
    async fn search_by_traits(
        &self,
        req: Request<api::SearchByTraitsRequest>,
    ) -> Result<Response<api::SearchResponse>, Status> {
        self.0.forward(subjects::INS_SEARCH_BY_TRAITS, req).await
    }

    async fn search_by_vitale(
        &self,
        req: Request<api::SearchByVitaleRequest>,
    ) -> Result<Response<api::SearchResponse>, Status> {
        self.0.forward(subjects::INS_SEARCH_BY_VITALE, req).await
    }

    async fn check_matricule(
        &self,
        req: Request<api::CheckMatriculeRequest>,
    ) -> Result<Response<api::CheckMatriculeResponse>, Status> {
        self.0.forward(subjects::INS_CHECK_MATRICULE, req).await
    }

    async fn verify_ins(
        &self,
        req: Request<api::VerifyInsRequest>,
    ) -> Result<Response<api::VerifyInsResponse>, Status> {
        self.0.forward(subjects::INS_VERIFY, req).await
    }

    async fn qualify_identity(
        &self,
        req: Request<api::QualifyIdentityRequest>,
    ) -> Result<Response<api::QualifyIdentityResponse>, Status> {
        self.0.forward(subjects::INS_QUALIFY, req).await
    }
}
