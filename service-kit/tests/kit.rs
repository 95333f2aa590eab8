//! The service kit as a service uses it: handlers served on the bus with one concurrency
//! limit per replica, roles that start only what they name, the face forwarding to workers.
//! Each case runs on both buses.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use passerelle_bus::in_process::InProcessBus;
use passerelle_bus::nats::NatsBus;
use passerelle_bus::testing::{BusKind, NatsServer};
use passerelle_bus::{SharedBus, proto_rpc};
use passerelle_proto::documents::v1::document_store_client::DocumentStoreClient;
use passerelle_proto::documents::v1::upload_request::Part;
use passerelle_proto::documents::v1::{StatRequest, UploadMetadata, UploadRequest};
use passerelle_proto::ins::v1::{CheckMatriculeRequest, CheckMatriculeResponse};
use passerelle_service_kit::settings::KitSettings;
use passerelle_service_kit::{Face, Handlers, Roles, Shutdown, service};
use prost::Message;
use tokio::sync::{Semaphore, mpsc};
use tonic::Status;

async fn bus(kind: BusKind) -> (SharedBus, Option<NatsServer>) {
    match kind {
        BusKind::InProcess => (Arc::new(InProcessBus::new()), None),
        BusKind::Nats => {
            let server = NatsServer::start().expect("nats-server");
            let bus = NatsBus::connect(&server.url(), Default::default())
                .await
                .expect("NATS");
            (Arc::new(bus), Some(server))
        }
    }
}

fn request(n: u32) -> Bytes {
    CheckMatriculeRequest {
        matricule: n.to_string(),
        key: String::new(),
    }
    .encode_to_vec()
    .into()
}

/// Handlers on two subjects that say when a request enters and wait for `gate`.
fn gated(entered: mpsc::UnboundedSender<String>, gate: Arc<Semaphore>) -> Handlers {
    let handler = move |_, req: CheckMatriculeRequest| {
        let entered = entered.clone();
        let gate = gate.clone();
        async move {
            let _ = entered.send(req.matricule.clone());
            gate.acquire().await.expect("gate").forget();
            Ok::<_, Status>(CheckMatriculeResponse {
                valid: true,
                expected_key: req.matricule,
                message: String::new(),
            })
        }
    };
    Handlers::new("kit-test")
        .on("kit.test.a", "test.a", handler.clone())
        .on("kit.test.b", "test.b", handler)
}

async fn concurrency_limit_is_one_for_all_subjects_of_a_replica(kind: BusKind) {
    let (bus, _server) = bus(kind).await;
    let (tx, mut entered) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let mut kit = KitSettings::default();
    kit.worker.concurrency = 2;
    let shutdown = Shutdown::new();
    let running = service::start(
        "kit-test",
        &kit,
        bus.clone(),
        Roles::WORKER_ONLY,
        |_| unreachable!("a worker builds no face"),
        || async { Ok::<_, std::io::Error>(gated(tx, gate.clone())) },
        shutdown.clone(),
    )
    .await
    .expect("starts");
    assert!(running.grpc_addr.is_none(), "a worker binds no port");

    let send = |n: u32, subject: &'static str| {
        let bus = bus.clone();
        tokio::spawn(async move {
            bus.request(
                subject,
                Default::default(),
                request(n),
                Duration::from_secs(10),
            )
            .await
        })
    };
    let mut calls = vec![send(1, "kit.test.a")];
    assert_eq!(entered.recv().await.as_deref(), Some("1"));
    // Subject a is idle now: it must not sit on the second slot while b has a request.
    calls.push(send(2, "kit.test.b"));
    let second = tokio::time::timeout(Duration::from_secs(5), entered.recv())
        .await
        .expect("a request on another subject takes the free slot");
    assert_eq!(second.as_deref(), Some("2"));
    calls.push(send(3, "kit.test.a"));
    let (first, second) = ("1".to_owned(), "2".to_owned());
    // Two handlers hold the replica's two slots: the third request waits.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), entered.recv())
            .await
            .is_err(),
        "a third request entered with concurrency 2"
    );
    assert_eq!(running.in_flight(), 2);
    gate.add_permits(1);
    let third = entered
        .recv()
        .await
        .expect("the third enters once a slot frees");
    assert!(![&first, &second].contains(&&third));
    gate.add_permits(2);
    for call in calls {
        let reply = call.await.unwrap().expect("answered");
        let r: CheckMatriculeResponse = proto_rpc::decode_reply("kit.test", reply.payload).unwrap();
        assert!(r.valid);
    }
    assert_eq!(running.served(), 3);
    shutdown.trigger();
    running.wait().await.expect("stops");
}

async fn grpc_face_builds_no_worker(kind: BusKind) {
    let (bus, _server) = bus(kind).await;
    let built = Arc::new(AtomicBool::new(false));
    let flag = built.clone();
    let mut kit = KitSettings::default();
    kit.grpc.listen = "127.0.0.1:0".parse().unwrap();
    let shutdown = Shutdown::new();
    let running = service::start(
        "kit-test",
        &kit,
        bus,
        Roles::GRPC_ONLY,
        |_forwarder| Face::new(tonic::service::Routes::default(), &[]),
        || async move {
            flag.store(true, Ordering::SeqCst);
            Ok::<_, std::io::Error>(Handlers::new("kit-test"))
        },
        shutdown.clone(),
    )
    .await
    .expect("starts");
    assert!(running.grpc_addr.is_some());
    assert!(
        !built.load(Ordering::SeqCst),
        "a face must not build the worker"
    );
    assert_eq!(running.served(), 0);
    // Every face takes documents by reference: upload one, read it back.
    let endpoint = running.endpoint().expect("a face listens");
    let mut documents = DocumentStoreClient::connect(endpoint).await.unwrap();
    let parts = vec![
        UploadRequest {
            part: Some(Part::Metadata(UploadMetadata {
                media_type: "text/plain".into(),
                file_name: None,
                declared_size: Some(6),
            })),
        },
        UploadRequest {
            part: Some(Part::Chunk(b"lettre".to_vec())),
        },
    ];
    let stored = documents
        .upload(futures::stream::iter(parts))
        .await
        .expect("uploaded through the face")
        .into_inner();
    assert_eq!(stored.size, 6);
    let stat = documents
        .stat(StatRequest {
            id: stored.id.clone(),
        })
        .await
        .expect("known")
        .into_inner();
    assert_eq!(stat.sha256, stored.sha256);
    shutdown.trigger();
    running.wait().await.expect("stops");
}

async fn worker_set_up_failure_stops_start_up(kind: BusKind) {
    let (bus, _server) = bus(kind).await;
    let err = service::start(
        "kit-test",
        &KitSettings::default(),
        bus,
        Roles::WORKER_ONLY,
        |_| unreachable!(),
        || async { Err::<Handlers, _>(std::io::Error::other("certificate missing")) },
        Shutdown::new(),
    )
    .await
    .err()
    .expect("start-up fails");
    assert!(err.to_string().contains("certificate missing"), "{err}");
}

passerelle_bus::on_both_buses!(
    concurrency_limit_is_one_for_all_subjects_of_a_replica,
    grpc_face_builds_no_worker,
    worker_set_up_failure_stops_start_up,
);
