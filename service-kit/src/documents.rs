//! The gRPC face of the document store (`passerelle.documents.v1.DocumentStore`), to add to
//! every service's gRPC server: clients upload a document once, in chunks, and then name it
//! by its reference; the service passes the reference on the bus and its worker reads the
//! document from the store behind the bus.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures::{Stream, StreamExt, stream};
use passerelle_bus::SharedBus;
use passerelle_bus::documents::{DocumentError, DocumentLimits, DocumentRef, NewDocument};
use passerelle_proto::documents::v1 as pb;
use pb::document_store_server::{DocumentStore, DocumentStoreServer};
use tonic::{Code, Request, Response, Status, Streaming};

use crate::errors::RichError;

/// The document is over the store's limit: nothing was stored.
pub const DOCUMENT_TOO_LARGE: &str = "DOCUMENT_TOO_LARGE";
/// No document has this reference.
pub const DOCUMENT_NOT_FOUND: &str = "DOCUMENT_NOT_FOUND";
/// The upload stopped before its end: nothing was stored.
pub const UPLOAD_INCOMPLETE: &str = "UPLOAD_INCOMPLETE";
/// More bytes arrived than declared: nothing was stored.
pub const UPLOAD_SIZE_MISMATCH: &str = "UPLOAD_SIZE_MISMATCH";
/// The upload does not start with its metadata, or repeats it.
pub const INVALID_UPLOAD: &str = "INVALID_UPLOAD";
/// The reference is not a document id.
pub const INVALID_DOCUMENT_ID: &str = "INVALID_DOCUMENT_ID";
/// The store behind the bus cannot be reached.
pub const DOCUMENT_STORE_UNAVAILABLE: &str = "DOCUMENT_STORE_UNAVAILABLE";

/// `passerelle.documents.v1.DocumentStore` over the bus's document store.
#[derive(Clone)]
pub struct DocumentStoreGrpc {
    bus: SharedBus,
    limits: DocumentLimits,
}

impl DocumentStoreGrpc {
    /// The tonic service, to add to a gRPC server beside the service's own.
    pub fn new(bus: SharedBus, limits: DocumentLimits) -> DocumentStoreServer<DocumentStoreGrpc> {
        DocumentStoreServer::new(DocumentStoreGrpc { bus, limits })
    }

    async fn store(&self) -> Result<passerelle_bus::documents::SharedDocumentStore, Status> {
        self.bus
            .documents(self.limits)
            .await
            .map_err(|e| status(DocumentError::Bus(e), None))
    }
}

fn to_proto(reference: DocumentRef) -> pb::DocumentRef {
    pb::DocumentRef {
        id: reference.id,
        size: reference.size,
        sha256: reference.sha256,
        media_type: reference.media_type,
        file_name: reference.file_name,
    }
}

/// The status a client gets for a store error, saying what to do. `id` is the reference
/// asked for, if any.
pub fn status(error: DocumentError, id: Option<&str>) -> Status {
    let rich = match &error {
        DocumentError::TooLarge { size, limit } => RichError::new(
            Code::InvalidArgument,
            DOCUMENT_TOO_LARGE,
            format!(
                "document of {size} bytes or more, this store takes at most {limit}: nothing was \
                 stored; send a smaller document or ask the operator to raise the limit"
            ),
        )
        .metadata("limit", limit.to_string()),
        DocumentError::Incomplete { received, reason } => RichError::new(
            Code::Aborted,
            UPLOAD_INCOMPLETE,
            format!(
                "upload stopped after {received} bytes ({reason}): nothing was stored; send \
                 the whole document again"
            ),
        ),
        DocumentError::SizeMismatch { declared, received } => RichError::new(
            Code::InvalidArgument,
            UPLOAD_SIZE_MISMATCH,
            format!(
                "{received} bytes or more sent where {declared} were declared: nothing was \
                 stored; declare the document's real size"
            ),
        )
        .field("metadata.declared_size", "less than the bytes sent"),
        DocumentError::NotFound { id } => RichError::new(
            Code::NotFound,
            DOCUMENT_NOT_FOUND,
            format!(
                "no document {id}: it was never stored here or has been deleted; upload it \
                 again and use the reference returned"
            ),
        ),
        DocumentError::InvalidId { id } => RichError::new(
            Code::InvalidArgument,
            INVALID_DOCUMENT_ID,
            format!("{id:?} is not a document reference: use the id returned by Upload"),
        )
        .field("id", "not a document id"),
        _ => RichError::new(
            Code::Unavailable,
            DOCUMENT_STORE_UNAVAILABLE,
            format!("document store unavailable: {error}; retry later"),
        ),
    };
    match id {
        Some(id) if !matches!(error, DocumentError::InvalidId { .. }) => {
            rich.metadata("id", id).into_status()
        }
        _ => rich.into_status(),
    }
}

fn invalid_upload(message: &str) -> Status {
    RichError::new(Code::InvalidArgument, INVALID_UPLOAD, message.to_owned()).into_status()
}

type DownloadStream = Pin<Box<dyn Stream<Item = Result<pb::DownloadResponse, Status>> + Send>>;

#[tonic::async_trait]
impl DocumentStore for DocumentStoreGrpc {
    async fn upload(
        &self,
        request: Request<Streaming<pb::UploadRequest>>,
    ) -> Result<Response<pb::DocumentRef>, Status> {
        let mut parts = request.into_inner();
        let metadata = match parts.next().await {
            Some(Ok(pb::UploadRequest {
                part: Some(pb::upload_request::Part::Metadata(metadata)),
            })) => metadata,
            Some(Err(e)) => {
                return Err(status(
                    DocumentError::Incomplete {
                        received: 0,
                        reason: e.message().to_owned(),
                    },
                    None,
                ));
            }
            _ => {
                return Err(invalid_upload(
                    "an upload starts with its metadata (media type, optional file name and \
                     size), then the chunks",
                ));
            }
        };
        if metadata.media_type.trim().is_empty() {
            return Err(RichError::new(
                Code::InvalidArgument,
                INVALID_UPLOAD,
                "the media type is required (e.g. application/pdf)",
            )
            .field("metadata.media_type", "empty")
            .into_status());
        }
        let repeated_metadata = Arc::new(AtomicBool::new(false));
        let seen = repeated_metadata.clone();
        let chunks = parts.map(move |part| match part {
            Ok(pb::UploadRequest {
                part: Some(pb::upload_request::Part::Chunk(chunk)),
            }) => Ok(Bytes::from(chunk)),
            Ok(_) => {
                seen.store(true, Ordering::Relaxed);
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "metadata repeated after the first message",
                ))
            }
            // The client cancelled or the connection broke.
            Err(e) => Err(io::Error::other(e.message().to_owned())),
        });
        let store = self.store().await?;
        let document = NewDocument {
            media_type: metadata.media_type,
            file_name: metadata.file_name,
            declared_size: metadata.declared_size,
        };
        match store.put(document, Box::pin(chunks)).await {
            Ok(reference) => Ok(Response::new(to_proto(reference))),
            Err(_) if repeated_metadata.load(Ordering::Relaxed) => Err(invalid_upload(
                "the metadata comes once, in the first message; then only chunks: nothing was \
                 stored",
            )),
            Err(e) => Err(status(e, None)),
        }
    }

    type DownloadStream = DownloadStream;

    async fn download(
        &self,
        request: Request<pb::DownloadRequest>,
    ) -> Result<Response<Self::DownloadStream>, Status> {
        let id = request.into_inner().id;
        let store = self.store().await?;
        let (reference, chunks) = store.get(&id).await.map_err(|e| status(e, Some(&id)))?;
        let first = stream::once(async move {
            Ok(pb::DownloadResponse {
                part: Some(pb::download_response::Part::Reference(to_proto(reference))),
            })
        });
        let rest = chunks.map(move |chunk| match chunk {
            Ok(chunk) => Ok(pb::DownloadResponse {
                part: Some(pb::download_response::Part::Chunk(chunk.to_vec())),
            }),
            Err(e) => Err(status(e, Some(&id))),
        });
        Ok(Response::new(Box::pin(first.chain(rest))))
    }

    async fn stat(
        &self,
        request: Request<pb::StatRequest>,
    ) -> Result<Response<pb::DocumentRef>, Status> {
        let id = request.into_inner().id;
        let store = self.store().await?;
        let reference = store.stat(&id).await.map_err(|e| status(e, Some(&id)))?;
        Ok(Response::new(to_proto(reference)))
    }
}
