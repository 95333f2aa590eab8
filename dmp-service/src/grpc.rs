//! The gRPC face of the DMP service: every call goes to the bus (the service kit's
//! [`Forwarder`]), so that any replica does the work.

use passerelle_bus::subjects;
use passerelle_proto::dmp::v1::{self as api, dmp_service_server::DmpService};
use passerelle_service_kit::face::Forwarder;
use tonic::{Request, Response, Status};

/// gRPC server of `passerelle.dmp.v1.DmpService`, forwarding to the bus.
#[derive(Clone)]
pub struct DmpGrpc(pub Forwarder);

#[tonic::async_trait]
impl DmpService for DmpGrpc {
    async fn get_status(
        &self,
        req: Request<api::GetStatusRequest>,
    ) -> Result<Response<api::GetStatusResponse>, Status> {
        self.0.forward(subjects::DMP_STATUS, req).await
    }

    async fn set_authorization(
        &self,
        req: Request<api::SetAuthorizationRequest>,
    ) -> Result<Response<api::SetAuthorizationResponse>, Status> {
        self.0.forward(subjects::DMP_SET_AUTHORIZATION, req).await
    }

    async fn list_accessible(
        &self,
        req: Request<api::ListAccessibleRequest>,
    ) -> Result<Response<api::ListAccessibleResponse>, Status> {
        self.0.forward(subjects::DMP_LIST_ACCESSIBLE, req).await
    }

    async fn deposit(
        &self,
        req: Request<api::DepositRequest>,
    ) -> Result<Response<api::DepositResponse>, Status> {
        self.0.forward(subjects::DMP_DEPOSIT, req).await
    }

    async fn deposit_vsm(
        &self,
        req: Request<api::DepositVsmRequest>,
    ) -> Result<Response<api::DepositResponse>, Status> {
        self.0.forward(subjects::DMP_DEPOSIT_VSM, req).await
    }

    async fn list_documents(
        &self,
        req: Request<api::ListDocumentsRequest>,
    ) -> Result<Response<api::ListDocumentsResponse>, Status> {
        self.0.forward(subjects::DMP_LIST_DOCUMENTS, req).await
    }

    async fn get_document(
        &self,
        req: Request<api::GetDocumentRequest>,
    ) -> Result<Response<api::GetDocumentResponse>, Status> {
        self.0.forward(subjects::DMP_GET_DOCUMENT, req).await
    }

    async fn change_visibility(
        &self,
        req: Request<api::ChangeVisibilityRequest>,
    ) -> Result<Response<api::DocumentChangeResponse>, Status> {
        self.0.forward(subjects::DMP_CHANGE_VISIBILITY, req).await
    }

    async fn change_status(
        &self,
        req: Request<api::ChangeStatusRequest>,
    ) -> Result<Response<api::DocumentChangeResponse>, Status> {
        self.0.forward(subjects::DMP_CHANGE_STATUS, req).await
    }
}
