//! Simulator of the DMP (Dossier Médical Partagé) web services for LPS:
//! `/si-dmp-server/v2/services/{patients,habilitations,patientsSpecific,registry,repository}`,
//! SOAP 1.2 (+ MTOM/XOP) over mutual TLS 1.2, every request carrying a signed VIHF.
//!
//! Like the INSi simulator it is an independent implementation of the national service:
//! it shares no code with Passerelle's DMP client.

mod faults;
mod habilitations;
mod hl7v3;
mod mtom;
mod patients;
mod registry;
mod repository;
mod server;
mod soap;
mod store;
pub mod view;
mod vihf;
mod writer;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

pub use crate::insi::{FaultInjection, FaultKind, FaultTrigger, SandboxError};
use crate::pki::TestPki;

/// Path of the services, as on the DMP's servers.
pub const DMP_SERVICES_PATH: &str = "/si-dmp-server/v2/services";
/// Path prefix of the sandbox-only view (not a DMP service).
pub const DMP_VIEW_PATH: &str = "/sandbox/dmp/patients";
/// Default cap on a request body: a 20 MB PDF in base64 inside MTOM fits.
pub const DEFAULT_DMP_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Default tolerance on the VIHF's IssueInstant.
pub const DEFAULT_VIHF_MAX_SKEW: Duration = Duration::from_secs(300);
/// Default listening address of the `passerelle-sandbox` binary.
pub const DEFAULT_DMP_LISTEN: &str = "127.0.0.1:8444";
/// The DMP test repository's uniqueId (EX TD3.1/TD3.2).
pub const REPOSITORY_UNIQUE_ID: &str = "1.2.250.1.213.4.1.1.1.2";
/// The DMP's device / custodian id.
pub const DMP_DEVICE_OID: &str = "1.2.250.1.213.4.1.1.1";

#[derive(Debug, Clone, PartialEq)]
pub struct DmpSandboxConfig {
    /// Listening address (default `127.0.0.1:0`, any free port).
    pub listen: SocketAddr,
    /// Data directory: the store lives in its `dmp/` folder.
    pub data_dir: PathBuf,
    /// Delay before every SOAP answer.
    pub latency: Duration,
    pub fault_injection: Option<FaultInjection>,
    pub max_body_bytes: usize,
    /// How far the VIHF's `IssueInstant` may be from the sandbox's clock, either way.
    pub vihf_max_skew: Duration,
    /// Seed file of patients (the format of `data/dmp-patients.toml`); `None`: the one
    /// shipped with the crate. Read when a patient is not in the store yet.
    pub patients_file: Option<PathBuf>,
}

impl Default for DmpSandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            data_dir: PathBuf::from("./.passerelle"),
            latency: Duration::ZERO,
            fault_injection: None,
            max_body_bytes: DEFAULT_DMP_MAX_BODY_BYTES,
            vihf_max_skew: DEFAULT_VIHF_MAX_SKEW,
            patients_file: None,
        }
    }
}

/// Entry point of the simulator.
pub struct DmpSandbox;

impl DmpSandbox {
    /// Opens the store, binds, then serves in the background until
    /// [`RunningDmpSandbox::shutdown`].
    pub async fn start(
        config: DmpSandboxConfig,
        pki: &TestPki,
    ) -> Result<RunningDmpSandbox, SandboxError> {
        if let Some(FaultInjection {
            trigger: FaultTrigger::Probability(p),
            ..
        }) = &config.fault_injection
            && !(0.0..=1.0).contains(p)
        {
            return Err(SandboxError::Config(format!(
                "fault probability {p} is not within 0..=1"
            )));
        }
        let seeds = patients::load_seeds(config.patients_file.as_deref()).map_err(|message| {
            SandboxError::Identities {
                source_name: config
                    .patients_file
                    .as_ref()
                    .map_or("built-in DMP patients".into(), |p| p.display().to_string()),
                message,
            }
        })?;
        let store = store::Store::open(&config.data_dir.join("dmp"), &seeds)
            .map_err(|e| SandboxError::Config(format!("DMP store: {e}")))?;
        let tls = crate::common::tls::config(pki, &[&rustls::version::TLS12])?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: config.listen,
            source,
        })?;
        let state = Arc::new(server::State::new(config, store, &tls, addr));
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(
            listener,
            tls.acceptor,
            state.clone(),
            stop_rx,
        ));
        tracing::info!(%addr, path = DMP_SERVICES_PATH, "DMP sandbox listening");
        Ok(RunningDmpSandbox {
            addr,
            state: state.clone(),
            server: crate::common::serve::ServerTask::new(stop_tx, task),
        })
    }
}

/// A running simulator. Dropping it stops it too, without waiting.
pub struct RunningDmpSandbox {
    addr: SocketAddr,
    state: Arc<server::State>,
    server: crate::common::serve::ServerTask,
}

impl std::fmt::Debug for RunningDmpSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningDmpSandbox")
            .field("addr", &self.addr)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl RunningDmpSandbox {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The services' base, e.g. `https://127.0.0.1:8444/si-dmp-server/v2/services`.
    pub fn url(&self) -> String {
        format!("https://{}{DMP_SERVICES_PATH}", self.addr)
    }

    /// The sandbox-only view of a patient's documents for an audience
    /// (`patient`, `legal-representatives`, `professionals`).
    pub fn view_url(&self, ins: &str, audience: &str) -> String {
        format!(
            "https://{}{DMP_VIEW_PATH}/{ins}/documents?as={audience}",
            self.addr
        )
    }

    /// The SOAP calls received so far (faults injected included): what a client cost the DMP.
    pub fn requests(&self) -> u64 {
        self.state.requests()
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(self) {
        self.server.stop().await;
    }
}
