//! The INS service: INS retrieval from the INSi téléservice, served over gRPC and the bus.
//!
//! - [`insi`]: the SOAP client of INSi (envelopes, RESULTAT, faults, mutual TLS);
//! - [`card_signer`]: CPS mode through the workstation's card-agent;
//! - [`gateway`]: every INSi call, with retries ([`retry`]) and an audit event ([`audit`]);
//! - [`strategy`]: the first-name search strategy;
//! - [`verify`]: a known INS compared with INSi's answer; [`qualify`]: identity status;
//! - [`service`]: the logic, independent of transport, with its typed [`errors`];
//! - [`diagnostics`]: what to check when no single identity is found;
//! - [`worker`]: which subject each operation answers; [`grpc`]: the gRPC face;
//! - [`config`]: the service's own settings; [`start`] assembles them with the service kit.

pub mod audit;
pub mod card_signer;
pub mod config;
#[cfg(test)]
mod core_tests;
pub mod diagnostics;
pub mod errors;
pub mod gateway;
pub mod grpc;
pub mod insi;
pub mod patient;
pub mod qualify;
pub mod retry;
pub mod service;
pub mod strategy;
pub mod verify;
pub mod worker;

use std::sync::Arc;

use passerelle_bus::SharedBus;
use passerelle_proto::ins::v1::ins_service_server::{self, InsServiceServer};
use passerelle_service_kit::settings::KitSettings;
use passerelle_service_kit::{Face, Roles, RunningService, Shutdown, StartError};

pub use config::InsSettings;

/// The service's name: its queue group on the bus, its NATS connection name.
pub const SERVICE_NAME: &str = "ins-service";
/// Default port of the gRPC face.
pub const GRPC_PORT: u16 = 50051;

/// A started INS service.
pub type RunningInsService = RunningService;

/// What can stop the worker from starting: its INSi client or its audit key.
#[derive(Debug, thiserror::Error)]
pub enum WorkerSetupError {
    #[error("INSi client: {0}")]
    Insi(#[from] insi::InsiError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
}

/// Starts the INS service on `bus` in `roles`: the worker (a replica sharing INS requests,
/// with its INSi client and certificates) and the gRPC face (forwarding to the bus, loading
/// no certificate).
pub async fn start(
    kit: &KitSettings,
    settings: &InsSettings,
    bus: SharedBus,
    roles: Roles,
    shutdown: Shutdown,
) -> Result<RunningInsService, StartError> {
    let events = bus.clone();
    let handlers = || async move {
        let client = insi::InsiClient::new(settings.insi.clone())?;
        let hasher = audit::InsHasher::from_settings(&settings.audit)?;
        let core = service::InsCore::new(
            Arc::new(client),
            settings.insi_retry.clone(),
            hasher,
            Some(events),
        );
        Ok::<_, WorkerSetupError>(worker::handlers(core))
    };
    let face = |forwarder| {
        let routes = tonic::service::Routes::new(InsServiceServer::new(grpc::InsGrpc(forwarder)));
        Face::new(routes, &[ins_service_server::SERVICE_NAME])
    };
    passerelle_service_kit::service::start(SERVICE_NAME, kit, bus, roles, face, handlers, shutdown)
        .await
}
