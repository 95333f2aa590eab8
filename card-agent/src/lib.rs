//! The card-agent of a workstation: reads CPS (professional) and Vitale (patient) cards and
//! signs with the CPS, for services anywhere in the hospital (NATS) or local tools (gRPC).
//!
//! - [`backend`]: where cards and keys are — PC/SC readers, a PKCS#11 module, or a software
//!   token — behind one trait.
//! - [`agent`]: the core — PIN rules, signatures, audit, card events;
//! - [`serve`]: the local gRPC service and the bus subjects of the workstation;
//! - [`config`]: configuration; [`start`] assembles them, [`build_backend`] picks the backend.

pub mod agent;
pub mod backend;
pub mod config;
pub mod install;
pub mod serve;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use passerelle_bus::SharedBus;
use passerelle_proto::card::v1::card_agent_server::{CardAgentServer, SERVICE_NAME};
use passerelle_service_kit::worker::Worker;
use passerelle_service_kit::{Shutdown, grpc as kit_grpc};
use tokio::task::JoinHandle;

pub use agent::{AgentSettings, CardAgent, Channel, PinCache};
pub use config::CardAgentConfig;

use backend::CardBackend;
use config::BackendKind;

/// How often the readers are looked at (insertions, removals, PIN cache expiry) when the
/// backend does not notify changes.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// The same when it does (PC/SC): a safety net, and the PIN cache's idle expiry.
pub const NOTIFIED_POLL_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Agent(#[from] agent::AgentError),
    #[error(
        "grpc.listen {0} is not a loopback address: the PIN travels on this channel, keep it on the workstation"
    )]
    NotLoopback(SocketAddr),
    #[error(transparent)]
    Grpc(#[from] kit_grpc::GrpcError),
    #[error("bus: {0}")]
    Bus(#[from] passerelle_bus::BusError),
    #[error("PC/SC: {0}")]
    Pcsc(backend::CardError),
    #[error("software token: {0}")]
    Software(#[from] backend::software::SoftwareTokenError),
    #[error("PKCS#11: {0}")]
    Pkcs11(#[from] backend::pkcs11::Pkcs11OpenError),
}

/// The backend the configuration names. The PC/SC backend is built without a PIN source:
/// [`start`] (through [`CardAgent::new`]) hands it the agent's [`agent::PinCache`], so that it
/// recovers a card reset itself (the one recovery path, see [`agent`]).
pub async fn build_backend(config: &CardAgentConfig) -> Result<Arc<dyn CardBackend>, StartError> {
    match config.backend.kind {
        BackendKind::Software => Ok(Arc::new(backend::software::SoftwareToken::load(
            &config.backend.software,
        )?)),
        BackendKind::Pkcs11 => {
            let s = &config.backend.pkcs11;
            let mut c = backend::pkcs11::Pkcs11Config::with_module(s.module.clone());
            c.cps_token_labels = s.cps_token_labels.clone();
            Ok(Arc::new(backend::pkcs11::Pkcs11Backend::open(c).await?))
        }
        BackendKind::Pcsc => Ok(Arc::new(
            backend::pcsc::PcscBackend::new().map_err(StartError::Pcsc)?,
        )),
    }
}

/// A started card-agent.
pub struct RunningCardAgent {
    pub grpc_addr: SocketAddr,
    pub agent: CardAgent,
    task: JoinHandle<Result<(), StartError>>,
}

impl RunningCardAgent {
    /// Local gRPC endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// Waits until the agent stopped (after its shutdown was triggered).
    pub async fn wait(self) -> Result<(), StartError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(StartError::Grpc(kit_grpc::GrpcError::Serve(e.to_string()))),
        }
    }
}

/// Starts the agent on `backend`: checks the workstation id and the loopback listen address,
/// subscribes the workstation's bus subjects, serves local gRPC, and watches the readers.
pub async fn start(
    config: &CardAgentConfig,
    backend: Arc<dyn CardBackend>,
    bus: SharedBus,
    shutdown: Shutdown,
) -> Result<RunningCardAgent, StartError> {
    // Before the backend moves into the agent; a PC/SC backend starts watching here.
    let mut changes = backend.changes();
    let agent = CardAgent::new(config.agent_settings(), backend, bus.clone())?;
    if !config.grpc.listen.ip().is_loopback() {
        return Err(StartError::NotLoopback(config.grpc.listen));
    }
    let (listener, grpc_addr) = kit_grpc::bind(config.grpc.listen).await?;
    let bus_stop = Shutdown::new();
    // Subscribed before serving, so that start-up fails if the bus refuses the subjects.
    let bus_worker = Worker::start(
        &bus,
        serve::handlers(agent.clone())?,
        serve::BUS_CONCURRENCY,
        bus_stop.clone(),
    )
    .await?;
    if let Err(e) = agent.poll_cards().await {
        tracing::warn!(error = %e, "cannot list the card readers");
    }

    let watcher = agent.clone();
    let watch_stop = shutdown.clone();
    // Looks at the readers when the backend says something changed (PC/SC status change),
    // and periodically anyway: backends without notifications, PIN idle timeouts.
    let watch_task = tokio::spawn(async move {
        let period = if changes.is_some() {
            NOTIFIED_POLL_INTERVAL
        } else {
            POLL_INTERVAL
        };
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let changed = async {
                match changes.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = watch_stop.wait() => break,
                notified = changed => {
                    if notified.is_none() {
                        tracing::warn!("card reader notifications stopped: polling only");
                        changes = None;
                        continue;
                    }
                }
                _ = tick.tick() => {}
            }
            if let Err(e) = watcher.poll_cards().await {
                tracing::debug!(error = %e, "cannot list the card readers");
            }
        }
        watcher.forget_pins();
    });
    let grpc_agent = agent.clone();
    let task = tokio::spawn(async move {
        let svc = CardAgentServer::new(serve::CardAgentGrpc::new(grpc_agent));
        let routes = tonic::service::Routes::new(svc);
        let result = kit_grpc::serve(listener, routes, &[SERVICE_NAME], shutdown).await;
        bus_stop.trigger();
        bus_worker.wait().await;
        let _ = watch_task.await;
        result.map_err(StartError::from)
    });
    Ok(RunningCardAgent {
        grpc_addr,
        agent,
        task,
    })
}
