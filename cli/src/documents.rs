//! Documents passed by reference: a file uploaded to a service's document store (every
//! service's gRPC face serves `passerelle.documents.v1.DocumentStore`), or downloaded from it.

use std::path::Path;

use anyhow::Context;
use passerelle_proto::documents::v1::{
    DownloadRequest, UploadMetadata, UploadRequest, document_store_client::DocumentStoreClient,
    download_response, upload_request,
};
use tokio::io::AsyncReadExt;

/// Chunk size of an upload: well under gRPC's 4 MiB message limit.
const CHUNK: usize = 256 * 1024;

/// Uploads `path` as `media_type` to the document store at `endpoint`; answers the stored
/// document's id. The file is streamed, never held whole.
pub async fn upload(endpoint: &str, path: &Path, media_type: &str) -> anyhow::Result<String> {
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot read {}", path.display()))?;
    let size = file
        .metadata()
        .await
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let metadata = UploadRequest {
        part: Some(upload_request::Part::Metadata(UploadMetadata {
            media_type: media_type.to_owned(),
            file_name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
            declared_size: Some(size),
        })),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let display = path.display().to_string();
    let reader = tokio::spawn(async move {
        if tx.send(metadata).await.is_err() {
            return Ok(());
        }
        loop {
            let mut buf = vec![0u8; CHUNK];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            buf.truncate(n);
            let chunk = UploadRequest {
                part: Some(upload_request::Part::Chunk(buf)),
            };
            if tx.send(chunk).await.is_err() {
                return Ok(());
            }
        }
    });
    let mut client = connect(endpoint).await?;
    let stored = client
        .upload(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await;
    reader
        .await
        .context("the upload's reader stopped")?
        .with_context(|| format!("cannot read {display}"))?;
    Ok(stored.map_err(StatusError)?.into_inner().id)
}

/// Downloads document `id` from `endpoint` into `output`, written whole or not at all.
pub async fn download(endpoint: &str, id: &str, output: &Path) -> anyhow::Result<u64> {
    download_to(endpoint, id, output, true).await
}

/// As [`download`]; unless `overwrite`, an existing `output` is left as it is and the
/// download fails (checked when the file is put in place, so a file that appeared meanwhile
/// is not replaced either).
pub async fn download_to(
    endpoint: &str,
    id: &str,
    output: &Path,
    overwrite: bool,
) -> anyhow::Result<u64> {
    let mut client = connect(endpoint).await?;
    let mut stream = client
        .download(DownloadRequest { id: id.to_owned() })
        .await
        .map_err(StatusError)?
        .into_inner();
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let mut written = 0u64;
    while let Some(part) = stream.message().await.map_err(StatusError)? {
        if let Some(download_response::Part::Chunk(bytes)) = part.part {
            std::io::Write::write_all(&mut tmp, &bytes)
                .with_context(|| format!("cannot write {}", output.display()))?;
            written += bytes.len() as u64;
        }
    }
    if overwrite {
        tmp.persist(output)
            .with_context(|| format!("cannot write {}", output.display()))?;
    } else {
        tmp.persist_noclobber(output).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                anyhow::anyhow!(
                    "{} already exists: not overwritten (--force to replace it)",
                    output.display()
                )
            } else {
                anyhow::Error::new(e.error).context(format!("cannot write {}", output.display()))
            }
        })?;
    }
    Ok(written)
}

async fn connect(endpoint: &str) -> anyhow::Result<DocumentStoreClient<tonic::transport::Channel>> {
    DocumentStoreClient::connect(endpoint.to_owned())
        .await
        .with_context(|| format!("cannot reach {endpoint}: is `passerelle up` running?"))
}

/// A gRPC error of the document store, printed as the other commands print theirs.
#[derive(Debug)]
pub struct StatusError(pub tonic::Status);

impl std::fmt::Display for StatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = crate::output::status_message(&self.0);
        f.write_str(message.strip_prefix("error: ").unwrap_or(&message))
    }
}

impl std::error::Error for StatusError {}
