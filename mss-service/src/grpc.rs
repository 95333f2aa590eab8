//! The gRPC face of the MSS service: every call goes to the bus (the service kit's
//! [`Forwarder`]), so that any replica does the work.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use passerelle_bus::subjects;
use passerelle_proto::events::v1::MssMessageReceived;
use passerelle_proto::mss::v1::{self as api, mss_service_server::MssService};
use passerelle_service_kit::face::Forwarder;
use prost::Message as _;
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

    async fn list_messages(
        &self,
        req: Request<api::ListMessagesRequest>,
    ) -> Result<Response<api::ListMessagesResponse>, Status> {
        self.0.forward(subjects::MSS_INBOX_LIST, req).await
    }

    async fn get_message(
        &self,
        req: Request<api::GetMessageRequest>,
    ) -> Result<Response<api::ReceivedMessage>, Status> {
        self.0.forward(subjects::MSS_INBOX_GET, req).await
    }

    type WatchMessagesStream =
        Pin<Box<dyn Stream<Item = Result<api::ReceivedMessageSummary, Status>> + Send>>;

    /// Served by the face itself: the `MssMessageReceived` events, as any replica publishes
    /// them, filtered by mailbox.
    async fn watch_messages(
        &self,
        req: Request<api::WatchMessagesRequest>,
    ) -> Result<Response<Self::WatchMessagesStream>, Status> {
        let mailbox = req.into_inner().mailbox.trim().to_ascii_lowercase();
        let events = self
            .0
            .bus()
            .subscribe(subjects::EVENTS_MSS_MESSAGE_RECEIVED)
            .await
            .map_err(|e| Status::unavailable(format!("the bus: {e}")))?;
        let stream = events.filter_map(move |message| {
            let wanted = match MssMessageReceived::decode(message.payload) {
                Ok(event) if mailbox.is_empty() || event.mailbox.eq_ignore_ascii_case(&mailbox) => {
                    Some(Ok(summary_of_event(event)))
                }
                _ => None,
            };
            futures::future::ready(wanted)
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// The summary a watcher sees, from the event (no acknowledgement yet: it is settled after
/// the event; `GetMessage` tells).
fn summary_of_event(e: MssMessageReceived) -> api::ReceivedMessageSummary {
    let set_aside = e.status == "set_aside";
    api::ReceivedMessageSummary {
        mailbox: e.mailbox,
        message_id: e.message_id,
        message_id_derived: e.message_id_derived,
        from: e.from,
        subject: e.subject,
        received_unix_ms: e.at_unix_ms,
        attachments: e
            .documents
            .into_iter()
            .filter(|d| d.role == "attachment" || d.role == "xdm")
            .map(|d| api::ReceivedDocument {
                document_id: d.document_id,
                role: d.role,
                file_name: d.file_name,
                media_type: d.media_type,
                size: d.size,
                sha256: d.sha256,
                unique_id: d.unique_id,
                type_code: d.type_code,
                ..Default::default()
            })
            .collect(),
        patient_ins: e.patient.map(|p| api::ReceivedIns {
            matricule: p.matricule,
            key: p.key,
            oid: p.oid,
            oid_qualifies: e.patient_oid_qualifies,
        }),
        status: if set_aside {
            api::ReceivedStatus::SetAside
        } else {
            api::ReceivedStatus::Processed
        } as i32,
        problem: e.problem,
        problem_code: e.problem_code,
        acknowledgement: None,
    }
}
