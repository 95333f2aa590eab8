//! Embedded document store: `documents/<id>` (content) and `documents/<id>.json` (its
//! reference, written last: a document exists once its reference does).

use std::io;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use tokio_util::io::ReaderStream;

use super::{read_json, write_atomically};
use crate::BusError;
use crate::documents::{
    self, DocumentError, DocumentLimits, DocumentRef, DocumentStore, DownloadStream, NewDocument,
    UploadStream,
};

/// Chunk size of downloads.
const READ_CHUNK: usize = 64 * 1024;

/// Removes what a crash may have left: staged uploads, and contents without a reference.
pub(super) fn clean_up(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let orphan = if name.starts_with("upload-") || name.starts_with(".tmp-") {
            true
        } else if name.ends_with(".json") {
            false
        } else {
            !path.with_file_name(format!("{name}.json")).exists()
        };
        if orphan {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

pub(crate) struct EmbeddedDocuments {
    dir: PathBuf,
    limits: DocumentLimits,
}

impl EmbeddedDocuments {
    pub(crate) fn new(dir: PathBuf, limits: DocumentLimits) -> Self {
        Self { dir, limits }
    }

    fn content(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    fn reference(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }
}

fn storage(e: io::Error) -> DocumentError {
    BusError::Storage(format!("document store: {e}")).into()
}

#[async_trait::async_trait]
impl DocumentStore for EmbeddedDocuments {
    fn limits(&self) -> DocumentLimits {
        self.limits
    }

    /// Stages the upload, then writes the content and its reference under `id`.
    async fn store_as(
        &self,
        id: String,
        document: NewDocument,
        chunks: UploadStream,
    ) -> Result<DocumentRef, DocumentError> {
        let staged = documents::stage(&self.dir, &document, self.limits, chunks).await?;
        let reference = DocumentRef {
            id,
            size: staged.size,
            sha256: staged.sha256,
            media_type: document.media_type,
            file_name: document.file_name,
        };
        let content = self.content(&reference.id);
        staged
            .file
            .persist(&content)
            .map_err(|e| storage(e.error))?;
        let json = serde_json::to_vec(&reference)
            .map_err(|e| BusError::Storage(format!("document reference: {e}")))?;
        let reference_path = self.reference(&reference.id);
        if let Err(e) = write_atomically(&reference_path, &json) {
            let _ = std::fs::remove_file(&content);
            return Err(e.into());
        }
        Ok(reference)
    }

    async fn get(&self, id: &str) -> Result<(DocumentRef, DownloadStream), DocumentError> {
        let reference = self.stat(id).await?;
        let file = match tokio::fs::File::open(self.content(id)).await {
            Ok(file) => file,
            // Deleted between the two reads.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(DocumentError::NotFound { id: id.to_owned() });
            }
            Err(e) => return Err(storage(e)),
        };
        let chunks =
            ReaderStream::with_capacity(file, READ_CHUNK).map(|chunk| chunk.map_err(storage));
        Ok((reference, Box::pin(chunks)))
    }

    async fn stat(&self, id: &str) -> Result<DocumentRef, DocumentError> {
        documents::validate_id(id)?;
        read_json::<DocumentRef>(&self.reference(id))?
            .ok_or_else(|| DocumentError::NotFound { id: id.to_owned() })
    }

    async fn delete(&self, id: &str) -> Result<(), DocumentError> {
        documents::validate_id(id)?;
        match tokio::fs::remove_file(self.reference(id)).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(DocumentError::NotFound { id: id.to_owned() });
            }
            Err(e) => return Err(storage(e)),
        }
        match tokio::fs::remove_file(self.content(id)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(storage(e)),
            _ => Ok(()),
        }
    }
}
