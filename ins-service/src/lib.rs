//! The INS service: INS retrieval from the INSi téléservice, served over gRPC and the bus.
//!
//! - [`insi`]: the SOAP client of INSi (envelopes, RESULTAT, faults, mutual TLS);
//! - [`card_signer`]: CPS mode through the workstation's card-agent;
//! - [`gateway`]: every INSi call, with retries ([`retry`]) and an audit event ([`audit`]);
//! - [`strategy`]: the first-name search strategy;
//! - [`verify`]: a known INS compared with INSi's answer; [`qualify`]: identity status;
//! - [`service`]: the logic, independent of transport;
//! - [`diagnostics`]: what to check when no single identity is found;
//! - [`worker`]: serves the bus subjects; [`grpc`]: the gRPC face, forwarding to the bus;
//! - [`config`]: configuration; [`start`] assembles them.

pub mod audit;
pub mod card_signer;
pub mod config;
pub mod diagnostics;
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

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use passerelle_bus::SharedBus;
use passerelle_proto::ins::v1::ins_service_server::{InsServiceServer, SERVICE_NAME};
use passerelle_service_kit::{Shutdown, grpc as kit_grpc};
use tokio::task::JoinHandle;

pub use config::InsServiceConfig;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Grpc(#[from] kit_grpc::GrpcError),
    #[error("INSi client: {0}")]
    Insi(#[from] insi::InsiError),
    #[error("bus: {0}")]
    Bus(#[from] passerelle_bus::BusError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
}

/// A started INS service.
pub struct RunningInsService {
    pub grpc_addr: SocketAddr,
    served: Arc<AtomicU64>,
    task: JoinHandle<Result<(), StartError>>,
}

impl RunningInsService {
    /// Requests this replica's worker has taken from the bus.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Waits until the service stopped (after its shutdown was triggered).
    pub async fn wait(self) -> Result<(), StartError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(StartError::Grpc(kit_grpc::GrpcError::Serve(e.to_string()))),
        }
    }
}

/// What to run: the gRPC face, the bus worker, or both (the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub grpc: bool,
    pub worker: bool,
}

impl Default for Roles {
    fn default() -> Self {
        Self {
            grpc: true,
            worker: true,
        }
    }
}

/// Starts the service on `bus`: the bus worker (a replica sharing INS requests) and the gRPC
/// server. On shutdown the gRPC server stops accepting and finishes its calls, then the worker
/// finishes the requests it holds.
pub async fn start(
    config: &InsServiceConfig,
    bus: SharedBus,
    roles: Roles,
    shutdown: Shutdown,
) -> Result<RunningInsService, StartError> {
    let client = insi::InsiClient::new(config.insi.clone())?;
    let hasher = audit::InsHasher::from_settings(&config.audit)?;
    let core = service::InsCore::new(
        Arc::new(client),
        config.insi_retry.clone(),
        hasher,
        Some(bus.clone()),
    );
    let (listener, grpc_addr) = kit_grpc::bind(config.grpc.listen).await?;

    let served = Arc::new(AtomicU64::new(0));
    // The worker subscribes before the gRPC server accepts, so no call finds nobody serving.
    let worker_stop = Shutdown::new();
    let worker = if roles.worker {
        let bus = bus.clone();
        let concurrency = config.worker.concurrency.max(1);
        let stop = worker_stop.clone();
        let ready = tokio::sync::oneshot::channel::<Result<(), passerelle_bus::BusError>>();
        let (tx, rx) = ready;
        let served = served.clone();
        let handle = tokio::spawn(async move {
            worker::run_with_ready(bus, core, concurrency, stop, tx, served).await
        });
        match rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {}
        }
        Some(handle)
    } else {
        None
    };

    let timeout = Duration::from_millis(config.grpc.request_timeout_ms);
    let grpc_bus = bus.clone();
    let task = tokio::spawn(async move {
        let result = if roles.grpc {
            let svc = InsServiceServer::new(grpc::InsGrpc::new(grpc_bus, timeout));
            let routes = tonic::service::Routes::new(svc);
            kit_grpc::serve(listener, routes, &[SERVICE_NAME], shutdown).await
        } else {
            drop(listener);
            shutdown.wait().await;
            Ok(())
        };
        worker_stop.trigger();
        if let Some(w) = worker
            && let Ok(Err(e)) = w.await
        {
            tracing::warn!(error = %e, "ins worker ended with an error");
        }
        result.map_err(StartError::from)
    });
    Ok(RunningInsService {
        grpc_addr,
        served,
        task,
    })
}
