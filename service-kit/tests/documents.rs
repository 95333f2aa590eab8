//! The document store's gRPC face on both buses: documents larger than a gRPC message and
//! than a NATS message, and the bad uploads that must leave nothing stored.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use passerelle_bus::SharedBus;
use passerelle_bus::documents::DocumentLimits;
use passerelle_bus::in_process::InProcessBus;
use passerelle_bus::nats::{NatsBus, NatsOptions};
use passerelle_bus::subjects::DOCUMENTS_BUCKET;
use passerelle_bus::testing::{BusKind, NatsServer};
use passerelle_proto::documents::v1 as pb;
use passerelle_service_kit::documents::{
    DOCUMENT_NOT_FOUND, DOCUMENT_TOO_LARGE, DocumentStoreGrpc, INVALID_DOCUMENT_ID,
    UPLOAD_INCOMPLETE,
};
use passerelle_service_kit::errors::summarise;
use pb::document_store_client::DocumentStoreClient;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::Code;
use tonic::transport::Channel;

const LIMIT: u64 = 8 * 1024 * 1024;

struct Fixture {
    client: DocumentStoreClient<Channel>,
    data_dir: tempfile::TempDir,
    nats: Option<NatsServer>,
}

async fn start(kind: BusKind) -> Fixture {
    let data_dir = tempfile::tempdir().expect("data dir");
    let (bus, nats): (SharedBus, _) = match kind {
        BusKind::InProcess => (
            Arc::new(InProcessBus::open(data_dir.path()).expect("bus")),
            None,
        ),
        BusKind::Nats => {
            let server = NatsServer::start().expect("nats-server");
            let bus = NatsBus::connect(&server.url(), NatsOptions::default())
                .await
                .expect("connect");
            (Arc::new(bus), Some(server))
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let service = DocumentStoreGrpc::new(bus, DocumentLimits { max_size: LIMIT });
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let client = DocumentStoreClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    Fixture {
        client,
        data_dir,
        nats,
    }
}

impl Fixture {
    /// Pieces the store holds, read from the store itself.
    async fn stored_pieces(&self) -> usize {
        match &self.nats {
            None => std::fs::read_dir(self.data_dir.path().join("documents"))
                .map(|dir| dir.count())
                .unwrap_or(0),
            Some(server) => {
                let client = async_nats::connect(server.url()).await.expect("connect");
                let js = async_nats::jetstream::new(client);
                match js.get_stream(format!("OBJ_{DOCUMENTS_BUCKET}")).await {
                    Ok(mut stream) => stream.info().await.expect("info").state.messages as usize,
                    Err(_) => 0,
                }
            }
        }
    }

    /// Waits until the store holds `expected` pieces (a cut upload is cleaned up when the
    /// server notices the cut), failing after a few seconds.
    async fn assert_stored_pieces(&self, expected: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let now = self.stored_pieces().await;
            if now == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{now} pieces stored, {expected} expected"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

fn metadata(declared: Option<u64>) -> pb::UploadRequest {
    pb::UploadRequest {
        part: Some(pb::upload_request::Part::Metadata(pb::UploadMetadata {
            media_type: "application/pdf".to_owned(),
            file_name: Some("cr.pdf".to_owned()),
            declared_size: declared,
        })),
    }
}

fn chunk(bytes: &[u8]) -> pb::UploadRequest {
    pb::UploadRequest {
        part: Some(pb::upload_request::Part::Chunk(bytes.to_vec())),
    }
}

fn upload_parts(data: &[u8], declared: Option<u64>) -> Vec<pb::UploadRequest> {
    std::iter::once(metadata(declared))
        .chain(data.chunks(512 * 1024).map(chunk))
        .collect()
}

async fn upload_and_download_larger_than_a_grpc_message(f: &Fixture) {
    let mut client = f.client.clone();
    // Over tonic's 4 MiB message default and NATS's 1 MiB payload.
    let data = content(6 * 1024 * 1024 + 3);
    let reference = client
        .upload(futures::stream::iter(upload_parts(
            &data,
            Some(data.len() as u64),
        )))
        .await
        .expect("upload")
        .into_inner();
    assert_eq!(reference.size, data.len() as u64);
    assert_eq!(reference.sha256, format!("{:x}", Sha256::digest(&data)));
    assert_eq!(reference.media_type, "application/pdf");
    assert_eq!(reference.file_name.as_deref(), Some("cr.pdf"));

    let stat = client
        .stat(pb::StatRequest {
            id: reference.id.clone(),
        })
        .await
        .expect("stat")
        .into_inner();
    assert_eq!(stat, reference);

    let mut parts = client
        .download(pb::DownloadRequest {
            id: reference.id.clone(),
        })
        .await
        .expect("download")
        .into_inner();
    let first = parts.next().await.expect("first").expect("reference");
    assert_eq!(
        first.part,
        Some(pb::download_response::Part::Reference(reference.clone()))
    );
    let mut got = Vec::new();
    while let Some(part) = parts.next().await {
        match part.expect("chunk").part {
            Some(pb::download_response::Part::Chunk(bytes)) => got.extend_from_slice(&bytes),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(got == data, "downloaded content differs");
}

async fn upload_over_the_limit_is_refused(f: &Fixture) {
    let mut client = f.client.clone();
    let data = content(LIMIT as usize + 1);
    let status = client
        .upload(futures::stream::iter(upload_parts(&data, None)))
        .await
        .expect_err("over the limit");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        summarise(&status).reason.as_deref(),
        Some(DOCUMENT_TOO_LARGE)
    );
    assert!(status.message().contains("at most"), "{}", status.message());

    let status = client
        .upload(futures::stream::iter(vec![metadata(Some(LIMIT + 1))]))
        .await
        .expect_err("declared over the limit");
    assert_eq!(
        summarise(&status).reason.as_deref(),
        Some(DOCUMENT_TOO_LARGE)
    );
    f.assert_stored_pieces(0).await;
}

async fn upload_cut_half_way_stores_nothing(f: &Fixture) {
    // The client half-closes short of the size it declared.
    let mut client = f.client.clone();
    let data = content(2 * 1024 * 1024);
    let mut parts = upload_parts(&data, Some(3 * 1024 * 1024));
    parts.truncate(3);
    let status = client
        .upload(futures::stream::iter(parts))
        .await
        .expect_err("short upload");
    assert_eq!(status.code(), Code::Aborted, "{status:?}");
    assert_eq!(
        summarise(&status).reason.as_deref(),
        Some(UPLOAD_INCOMPLETE)
    );
    f.assert_stored_pieces(0).await;

    // The client goes away in the middle of its stream (no size declared).
    let (sender, receiver) = mpsc::channel(4);
    sender.send(metadata(None)).await.expect("send");
    sender
        .send(chunk(&data[..1024 * 1024]))
        .await
        .expect("send");
    let mut cut_client = f.client.clone();
    let call = tokio::spawn(async move { cut_client.upload(ReceiverStream::new(receiver)).await });
    // The first chunk went through the channel: the call is under way.
    sender
        .send(chunk(&data[1024 * 1024..]))
        .await
        .expect("send");
    call.abort();
    let _ = call.await;
    drop(sender);
    f.assert_stored_pieces(0).await;
}

async fn unknown_reference_is_not_found(f: &Fixture) {
    let mut client = f.client.clone();
    let id = "0b6f3c52-7a4e-4c1e-9d1a-2f0c4e5b6a7d".to_owned();
    let status = client
        .stat(pb::StatRequest { id: id.clone() })
        .await
        .expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(
        summarise(&status).reason.as_deref(),
        Some(DOCUMENT_NOT_FOUND)
    );
    assert!(status.message().contains(&id), "{}", status.message());
    let status = client
        .download(pb::DownloadRequest { id })
        .await
        .expect_err("unknown");
    assert_eq!(
        summarise(&status).reason.as_deref(),
        Some(DOCUMENT_NOT_FOUND)
    );
    let status = client
        .stat(pb::StatRequest {
            id: "report.pdf".to_owned(),
        })
        .await
        .expect_err("not an id");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        summarise(&status).reason.as_deref(),
        Some(INVALID_DOCUMENT_ID)
    );
}

passerelle_bus::on_both_buses!(with start:
    upload_and_download_larger_than_a_grpc_message,
    upload_over_the_limit_is_refused,
    upload_cut_half_way_stores_nothing,
    unknown_reference_is_not_found,
);
