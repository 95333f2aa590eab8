//! Documents larger than a bus message: stored once, streamed in chunks, passed around by
//! reference ([`DocumentRef`]). On NATS: the JetStream object store
//! [`crate::subjects::DOCUMENTS_BUCKET`]; in-process: files in the bus's data directory.
//!
//! An upload is staged whole (size checked against the limit, SHA-256 computed) before it
//! is stored, so an upload over the limit or cut half-way leaves nothing behind. Reach the
//! store with [`crate::Bus::documents`].

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::BusError;

/// Default largest document: 64 MiB.
pub const DEFAULT_MAX_DOCUMENT_SIZE: u64 = 64 * 1024 * 1024;

/// Limits of uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentLimits {
    /// Largest document accepted, in bytes.
    pub max_size: u64,
}

impl Default for DocumentLimits {
    fn default() -> Self {
        Self {
            max_size: DEFAULT_MAX_DOCUMENT_SIZE,
        }
    }
}

/// What the uploader says of a document before sending it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewDocument {
    /// Media type (`application/pdf`).
    pub media_type: String,
    /// The file name it had, if any.
    pub file_name: Option<String>,
    /// The size announced: checked against the limit before anything is read, and against
    /// what arrives (fewer bytes means a cut upload).
    pub declared_size: Option<u64>,
}

/// A stored document, as services pass it on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRef {
    /// Opaque identifier (a UUID).
    pub id: String,
    pub size: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    pub media_type: String,
    pub file_name: Option<String>,
}

/// Why a document operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The document is over the limit (declared or counted): nothing was stored.
    #[error("document too large: {size} bytes or more, at most {limit} accepted")]
    TooLarge { size: u64, limit: u64 },

    /// The upload stopped before its end (stream failed, or fewer bytes than declared):
    /// nothing was stored; send it again.
    #[error("upload incomplete after {received} bytes: {reason}")]
    Incomplete { received: u64, reason: String },

    /// More bytes arrived than declared: nothing was stored.
    #[error("upload of {received} bytes where {declared} were declared")]
    SizeMismatch { declared: u64, received: u64 },

    /// No document has this reference (never stored, or deleted).
    #[error("no document {id}")]
    NotFound { id: String },

    /// The reference is not a document id at all.
    #[error("invalid document id {id:?}: a UUID is expected")]
    InvalidId { id: String },

    /// The store failed (disk, JetStream, connection).
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Chunks of an upload; an `Err` item means the sender failed (the upload is then cut).
pub type UploadStream = Pin<Box<dyn Stream<Item = Result<Bytes, io::Error>> + Send>>;

/// Chunks of a download.
pub type DownloadStream = Pin<Box<dyn Stream<Item = Result<Bytes, DocumentError>> + Send>>;

/// The document store.
#[async_trait::async_trait]
pub trait DocumentStore: Send + Sync {
    /// The limits this handle enforces.
    fn limits(&self) -> DocumentLimits;

    /// Stores a document from its chunks; returns its reference once it is all stored.
    async fn put(
        &self,
        document: NewDocument,
        chunks: UploadStream,
    ) -> Result<DocumentRef, DocumentError> {
        self.store_as(new_id(), document, chunks).await
    }

    /// Stores a document under `id` (a valid id, not in use): what [`DocumentStore::put`]
    /// and [`DocumentStore::put_with_id`] do once the id is chosen. Call those instead.
    async fn store_as(
        &self,
        id: String,
        document: NewDocument,
        chunks: UploadStream,
    ) -> Result<DocumentRef, DocumentError>;

    /// Stores a document under the caller's `id` (a UUID, e.g. derived from where the
    /// document comes from) so that storing it again after a crash stores it once: when a
    /// document already has this id, it is kept, its reference returned and `chunks` not
    /// read.
    async fn put_with_id(
        &self,
        id: &str,
        document: NewDocument,
        chunks: UploadStream,
    ) -> Result<DocumentRef, DocumentError> {
        validate_id(id)?;
        match self.stat(id).await {
            Ok(existing) => Ok(existing),
            Err(DocumentError::NotFound { .. }) => {
                self.store_as(id.to_owned(), document, chunks).await
            }
            Err(e) => Err(e),
        }
    }

    /// The document's reference and its content, in chunks.
    async fn get(&self, id: &str) -> Result<(DocumentRef, DownloadStream), DocumentError>;

    /// The document's reference.
    async fn stat(&self, id: &str) -> Result<DocumentRef, DocumentError>;

    /// Deletes the document ([`DocumentError::NotFound`] if there is none).
    async fn delete(&self, id: &str) -> Result<(), DocumentError>;
}

/// The store as services hold it.
pub type SharedDocumentStore = Arc<dyn DocumentStore>;

/// A new document id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Checks that `id` is one of ours before using it as a file or object name.
pub(crate) fn validate_id(id: &str) -> Result<(), DocumentError> {
    match uuid::Uuid::try_parse(id) {
        Ok(parsed) if parsed.hyphenated().to_string() == id => Ok(()),
        _ => Err(DocumentError::InvalidId { id: id.to_owned() }),
    }
}

/// An upload received whole into a temporary file.
pub(crate) struct Staged {
    pub file: tempfile::NamedTempFile,
    pub size: u64,
    pub sha256: String,
}

/// Receives `chunks` into a temporary file in `dir`, enforcing `limits` and the declared
/// size. On any error the temporary file is removed: nothing half-stored.
pub(crate) async fn stage(
    dir: &Path,
    document: &NewDocument,
    limits: DocumentLimits,
    mut chunks: UploadStream,
) -> Result<Staged, DocumentError> {
    if let Some(declared) = document.declared_size
        && declared > limits.max_size
    {
        return Err(DocumentError::TooLarge {
            size: declared,
            limit: limits.max_size,
        });
    }
    let storage = |e: io::Error| BusError::Storage(format!("staging an upload: {e}"));
    let temp = tempfile::Builder::new()
        .prefix("upload-")
        .tempfile_in(dir)
        .map_err(storage)?;
    let mut file = tokio::fs::File::from_std(temp.reopen().map_err(storage)?);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| DocumentError::Incomplete {
            received: size,
            reason: e.to_string(),
        })?;
        size += chunk.len() as u64;
        if size > limits.max_size {
            return Err(DocumentError::TooLarge {
                size,
                limit: limits.max_size,
            });
        }
        if let Some(declared) = document.declared_size
            && size > declared
        {
            return Err(DocumentError::SizeMismatch {
                declared,
                received: size,
            });
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(storage)?;
    }
    if let Some(declared) = document.declared_size
        && size < declared
    {
        return Err(DocumentError::Incomplete {
            received: size,
            reason: format!("{declared} bytes declared"),
        });
    }
    file.flush().await.map_err(storage)?;
    file.sync_all().await.map_err(storage)?;
    Ok(Staged {
        file: temp,
        size,
        sha256: format!("{:x}", hasher.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let id = new_id();
        assert!(validate_id(&id).is_ok());
        for bad in [
            "",
            "../etc/passwd",
            "not-a-uuid",
            &id.to_uppercase(),
            &id.replace('-', ""),
        ] {
            assert!(
                matches!(validate_id(bad), Err(DocumentError::InvalidId { .. })),
                "{bad:?}"
            );
        }
    }
}
