//! share-service: one request shares a document on several channels — the patient's DMP,
//! professionals by MSSanté, the patient's MSSanté Citoyen mailbox — and reports each.
//!
//! Share checks the request and each channel's rules, records the share (KV bucket
//! `share_status`) and publishes durably the work (`ShareRequested`); dmp-service and
//! mss-service do it and publish each channel's result, which the status projection applies.
//!
//! - [`channels`]: the channels and their rules (pure); [`requests`]: the requests made for
//!   dmp-service and mss-service (pure);
//! - [`status`]: the status records; [`projection`]: the durable consumer applying results;
//! - [`service`]: the logic, independent of transport, with its typed [`errors`];
//! - [`worker`]: which subject each operation answers; [`grpc`]: the gRPC face;
//! - [`config`]: the service's own settings; [`start`] assembles them with the service kit.

pub mod channels;
pub mod config;
pub mod errors;
pub mod grpc;
pub mod projection;
pub mod requests;
pub mod service;
pub mod status;
pub mod worker;

use passerelle_bus::SharedBus;
use passerelle_proto::share::v1::share_service_server::{self, ShareServiceServer};
use passerelle_service_kit::settings::KitSettings;
use passerelle_service_kit::{Face, Roles, RunningService, Shutdown, StartError};

pub use config::ShareSettings;

/// The service's name: its queue group on the bus, its NATS connection name.
pub const SERVICE_NAME: &str = "share-service";
/// Default port of the gRPC face.
pub const GRPC_PORT: u16 = 50055;

/// A started share service.
pub type RunningShareService = RunningService;

/// What can stop the worker from starting.
#[derive(Debug, thiserror::Error)]
pub enum WorkerSetupError {
    #[error("the bus (status bucket, document store or the share-status consumer): {0}")]
    Bus(#[from] passerelle_bus::BusError),
}

/// Starts the share service on `bus` in `roles`: the worker (a replica sharing the share
/// requests, with the status projection) and the gRPC face (forwarding to the bus, watching
/// shares from it).
pub async fn start(
    kit: &KitSettings,
    settings: &ShareSettings,
    bus: SharedBus,
    roles: Roles,
    shutdown: Shutdown,
) -> Result<RunningShareService, StartError> {
    let worker_bus = bus.clone();
    let limits = kit.documents;
    let projection_shutdown = shutdown.clone();
    let handlers = || async move {
        let store = status::StatusStore::new(worker_bus.key_value(status::BUCKET).await?);
        let documents = worker_bus.documents(limits).await?;
        let projection = projection::Projection::start(
            &worker_bus,
            &settings.share,
            store.clone(),
            projection_shutdown,
        )
        .await?;
        let core = service::ShareCore::new(settings.clone(), store, documents, limits, worker_bus);
        Ok::<_, WorkerSetupError>(
            worker::handlers(core).on_stopped(async move { projection.wait().await }),
        )
    };
    let watch_poll = settings.share.watch_poll;
    let face_shutdown = shutdown.clone();
    let face = |forwarder| {
        let routes = tonic::service::Routes::new(ShareServiceServer::new(grpc::ShareGrpc {
            forwarder,
            watch_poll,
            shutdown: face_shutdown,
        }));
        Face::new(routes, &[share_service_server::SERVICE_NAME])
    };
    passerelle_service_kit::service::start(SERVICE_NAME, kit, bus, roles, face, handlers, shutdown)
        .await
}
