//! The gRPC face of the MSS service: every call goes to the bus (the service kit's
//! [`Forwarder`]), so that any replica does the work.

use passerelle_bus::subjects;
use passerelle_proto::mss::v1::{self as api, mss_service_server::MssService};
use passerelle_service_kit::face::Forwarder;
use tonic::{Request, Response, Status};

/// gRPC server of `passerelle.mss.v1.MssService`, forwarding to the bus.
#[derive(Clone)]
pub struct MssGrpc(pub Forwarder);

#[tonic::async_trait]
impl MssService for MssGrpc {
    async fn send(
        &self,
        req: Request<api::SendRequest>,
    ) -> Result<Response<api::SendResponse>, Status> {
        self.0.forward(subjects::MSS_SEND, req).await
    }

    async fn preview(
        &self,
        req: Request<api::SendRequest>,
    ) -> Result<Response<api::PreviewResponse>, Status> {
        self.0.forward(subjects::MSS_PREVIEW, req).await
    }

    async fn search_directory(
        &self,
        req: Request<api::SearchDirectoryRequest>,
    ) -> Result<Response<api::SearchDirectoryResponse>, Status> {
        self.0.forward(subjects::MSS_DIRECTORY_SEARCH, req).await
    }

    async fn import_directory(
        &self,
        req: Request<api::ImportDirectoryRequest>,
    ) -> Result<Response<api::ImportDirectoryResponse>, Status> {
        self.0.forward(subjects::MSS_DIRECTORY_IMPORT, req).await
    }
}
