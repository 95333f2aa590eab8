//! dmp-service: the patient's shared medical record (DMP, "Mon espace santé") for any hospital
//! or health-centre software, over gRPC and the bus — status and authorisation (TD0.2–TD0.4),
//! deposit (TD2.1, ITI-41), search (TD3.1, ITI-18), retrieve (TD3.2, ITI-43), masking,
//! visibility, archive and delete (TD3.3, ITI-57).
//!
//! - [`signer`]: who signs (the card-agent's CPS, or the organisation's software key);
//! - [`vihf`]: the VIHF v3 SAML assertion every call carries;
//! - [`xades`]: the signature document of a deposit;
//! - [`client`]: the DMP web-service client (SOAP 1.2, MTOM, WS-Addressing, mutual TLS);
//! - [`access`]: who acts, how and for whom, for one request;
//! - [`document`]: the deposit's CDA, from the document store, by the clinical-documents crate;
//! - [`entries`]: the DMP's answers as API messages, and the masking rules;
//! - [`service`]: the logic, independent of transport, with its typed [`errors`];
//! - [`audit`]: a record per DMP call; [`events`]: what a hospital system acts on;
//! - [`worker`]: which subject each operation answers; [`grpc`]: the gRPC face;
//! - [`share`]: the DMP channel of sharing (the `dmp-share` durable consumer);
//! - [`config`]: the service's own settings; [`start`] assembles them with the service kit.

pub mod access;
pub mod audit;
pub mod client;
pub mod config;
pub mod document;
pub mod entries;
pub mod errors;
pub mod events;
pub mod grpc;
pub mod service;
pub mod share;
pub mod signer;
pub mod vihf;
pub mod worker;
pub mod xades;

use passerelle_bus::SharedBus;
use passerelle_proto::dmp::v1::dmp_service_server::{self, DmpServiceServer};
use passerelle_service_kit::settings::KitSettings;
use passerelle_service_kit::{Face, Roles, RunningService, Shutdown, StartError};

pub use config::DmpSettings;

/// The service's name: its queue group on the bus, its NATS connection name.
pub const SERVICE_NAME: &str = "dmp-service";
/// Default port of the gRPC face.
pub const GRPC_PORT: u16 = 50052;

/// A started DMP service.
pub type RunningDmpService = RunningService;

/// What can stop the worker from starting.
#[derive(Debug, thiserror::Error)]
pub enum WorkerSetupError {
    #[error("DMP client: {0}")]
    Client(#[from] client::DmpError),
    #[error("organisation_signature: {0}")]
    Signer(#[from] signer::SignerError),
    #[error(transparent)]
    Audit(#[from] passerelle_service_kit::audit::AuditError),
    #[error("the document store: {0}")]
    Documents(#[from] passerelle_bus::BusError),
    #[error("the dmp-share consumer: {0}")]
    Share(#[source] passerelle_bus::BusError),
}

/// Starts the DMP service on `bus` in `roles`: the worker (a replica sharing DMP requests, with
/// its DMP client and keys) and the gRPC face (forwarding to the bus, loading no key).
pub async fn start(
    kit: &KitSettings,
    settings: &DmpSettings,
    bus: SharedBus,
    roles: Roles,
    shutdown: Shutdown,
) -> Result<RunningDmpService, StartError> {
    let worker_bus = bus.clone();
    let limits = kit.documents;
    let share_shutdown = shutdown.clone();
    let handlers = || async move {
        let client = client::DmpClient::new(&settings.dmp)?;
        let hasher = passerelle_service_kit::audit::InsHasher::from_settings(&settings.audit)?;
        let organisation_signer = settings
            .organisation_signature
            .as_ref()
            .map(config::signer)
            .transpose()?;
        let documents = worker_bus.documents(limits).await?;
        let resolver = access::Resolver {
            bus: worker_bus.clone(),
            organisation_signer,
            organisation_mode: settings.organisation_mode(),
            card_timeout: settings.card_timeout,
        };
        let core = service::DmpCore::new(
            client,
            settings.clone(),
            resolver,
            documents,
            hasher,
            Some(worker_bus.clone()),
        );
        let sharing =
            share::ShareConsumer::start(&settings.share, core.clone(), worker_bus, share_shutdown)
                .await
                .map_err(WorkerSetupError::Share)?;
        let handlers = worker::handlers(core.clone()).on_stopped(async move {
            sharing.wait().await;
            core.flush().await;
        });
        Ok::<_, WorkerSetupError>(handlers)
    };
    let face = |forwarder| {
        let routes = tonic::service::Routes::new(DmpServiceServer::new(grpc::DmpGrpc(forwarder)));
        Face::new(routes, &[dmp_service_server::SERVICE_NAME])
    };
    passerelle_service_kit::service::start(SERVICE_NAME, kit, bus, roles, face, handlers, shutdown)
        .await
}
