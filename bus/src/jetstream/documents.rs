//! Documents in the JetStream object store [`DOCUMENTS_BUCKET`]. An upload is staged in a
//! local temporary file first: the object store writes chunks as it reads, and would leave
//! those of an upload cut half-way behind.

use std::collections::HashMap;

use async_nats::jetstream::{self, object_store};
use futures::StreamExt;
use tokio_util::io::ReaderStream;

use super::storage;
use crate::documents::{
    self, DocumentError, DocumentLimits, DocumentRef, DocumentStore, DownloadStream, NewDocument,
    UploadStream,
};
use crate::subjects::DOCUMENTS_BUCKET;

const MEDIA_TYPE: &str = "media_type";
const FILE_NAME: &str = "file_name";
const SHA256: &str = "sha256";

pub(crate) struct NatsDocuments {
    store: object_store::ObjectStore,
    limits: DocumentLimits,
}

impl NatsDocuments {
    /// Gets the object store, creating it (file storage) if missing.
    pub(crate) async fn open(
        context: &jetstream::Context,
        limits: DocumentLimits,
    ) -> Result<NatsDocuments, crate::BusError> {
        let store = match context.get_object_store(DOCUMENTS_BUCKET).await {
            Ok(store) => store,
            Err(_) => context
                .create_object_store(object_store::Config {
                    bucket: DOCUMENTS_BUCKET.to_owned(),
                    storage: jetstream::stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(|e| storage(&format!("object store {DOCUMENTS_BUCKET}"), e))?,
        };
        Ok(NatsDocuments { store, limits })
    }
}

fn failed(what: &str, id: &str, e: impl std::fmt::Display) -> DocumentError {
    storage(&format!("{what} document {id}"), e).into()
}

fn reference(info: &object_store::ObjectInfo) -> DocumentRef {
    DocumentRef {
        id: info.name.clone(),
        size: info.size as u64,
        sha256: info.metadata.get(SHA256).cloned().unwrap_or_default(),
        media_type: info.metadata.get(MEDIA_TYPE).cloned().unwrap_or_default(),
        file_name: info.metadata.get(FILE_NAME).cloned(),
    }
}

#[async_trait::async_trait]
impl DocumentStore for NatsDocuments {
    fn limits(&self) -> DocumentLimits {
        self.limits
    }

    /// Stages the upload locally, then writes it to the object store under `id`.
    async fn store_as(
        &self,
        id: String,
        document: NewDocument,
        chunks: UploadStream,
    ) -> Result<DocumentRef, DocumentError> {
        let staged =
            documents::stage(&std::env::temp_dir(), &document, self.limits, chunks).await?;
        let mut metadata = HashMap::from([
            (MEDIA_TYPE.to_owned(), document.media_type.clone()),
            (SHA256.to_owned(), staged.sha256.clone()),
        ]);
        if let Some(name) = &document.file_name {
            metadata.insert(FILE_NAME.to_owned(), name.clone());
        }
        let file = staged.file.reopen().map_err(|e| failed("staged", &id, e))?;
        let mut file = tokio::fs::File::from_std(file);
        let info = self
            .store
            .put(
                object_store::ObjectMetadata {
                    name: id.clone(),
                    metadata,
                    ..Default::default()
                },
                &mut file,
            )
            .await
            .map_err(|e| failed("store", &id, e))?;
        if info.size as u64 != staged.size {
            return Err(failed(
                "store",
                &id,
                format!("{} bytes stored of {}", info.size, staged.size),
            ));
        }
        Ok(reference(&info))
    }

    async fn get(&self, id: &str) -> Result<(DocumentRef, DownloadStream), DocumentError> {
        let reference = self.stat(id).await?;
        let object = self.store.get(id).await.map_err(|e| match e.kind() {
            object_store::GetErrorKind::NotFound => DocumentError::NotFound { id: id.to_owned() },
            _ => failed("read", id, e),
        })?;
        let id = id.to_owned();
        let chunks =
            ReaderStream::new(object).map(move |chunk| chunk.map_err(|e| failed("read", &id, e)));
        Ok((reference, Box::pin(chunks)))
    }

    async fn stat(&self, id: &str) -> Result<DocumentRef, DocumentError> {
        documents::validate_id(id)?;
        match self.store.info(id).await {
            Ok(info) if !info.deleted => Ok(reference(&info)),
            Ok(_) => Err(DocumentError::NotFound { id: id.to_owned() }),
            Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => {
                Err(DocumentError::NotFound { id: id.to_owned() })
            }
            Err(e) => Err(failed("stat", id, e)),
        }
    }

    async fn delete(&self, id: &str) -> Result<(), DocumentError> {
        self.stat(id).await?;
        self.store.delete(id).await.map_err(|e| match e.kind() {
            object_store::DeleteErrorKind::NotFound => {
                DocumentError::NotFound { id: id.to_owned() }
            }
            _ => failed("delete", id, e),
        })
    }
}
