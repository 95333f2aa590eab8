//! The thin binary of a service: the command line every service shares, its settings loaded,
//! the bus connected once, the service started in its roles, and a stop bounded in time.
//!
//! ```no_run
//! use passerelle_service_kit::binary::{self, ServiceArgs};
//! use passerelle_service_kit::service::{self, Face, RunningService, StartError};
//! use passerelle_service_kit::Handlers;
//!
//! #[derive(Default, serde::Serialize, serde::Deserialize)]
//! struct MySettings {}
//!
//! /// The service: no subject and no gRPC method of its own yet.
//! async fn start(cx: binary::Context<MySettings>) -> Result<RunningService, StartError> {
//!     let face = |_forwarder| Face::new(tonic::service::Routes::default(), &[]);
//!     let handlers = || async { Ok::<_, std::io::Error>(Handlers::new("my-service")) };
//!     service::start("my-service", &cx.kit, cx.bus, cx.roles, face, handlers, cx.shutdown).await
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     let args = ServiceArgs::parse_as("my-service", "What my service does");
//!     binary::run("my-service", 50099, args, start)
//! }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use passerelle_bus::SharedBus;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Shutdown;
use crate::config::{self, ConfigError};
use crate::service::{Roles, RunningService, StartError};
use crate::settings::{BusConnectError, EventsStream, KitSettings};
use crate::telemetry;

/// The command line of every service.
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(version)]
pub struct ServiceArgs {
    /// Configuration file (TOML); PASSERELLE__* environment variables override it.
    #[arg(long, env = "PASSERELLE_CONFIG")]
    pub config: Option<PathBuf>,
    /// NATS server URL (overrides bus.nats_url). Without one, the in-process bus is used.
    #[arg(long)]
    pub nats: Option<String>,
    /// gRPC listen address (overrides grpc.listen).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Serve only the bus subjects, no gRPC (a worker replica): binds no port.
    #[arg(long, conflicts_with = "grpc_only")]
    pub worker_only: bool,
    /// Serve only gRPC, forwarding to workers on the bus: loads none of the worker's
    /// certificates or keys.
    #[arg(long)]
    pub grpc_only: bool,
}

impl ServiceArgs {
    /// Parses the process's command line for the binary `name`, described by `about`;
    /// `--help` and bad arguments print and exit as usual.
    pub fn parse_as(name: &'static str, about: &'static str) -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Self::command()
            .name(name)
            .bin_name(name)
            .about(about)
            .get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    pub fn roles(&self) -> Roles {
        Roles {
            grpc: !self.worker_only,
            worker: !self.grpc_only,
        }
    }

    /// The kit's settings (from `defaults`, the file, the environment, then this command
    /// line) and the service's own `S` (from its defaults, the file and the environment).
    pub fn load<S>(&self, defaults: KitSettings) -> Result<(KitSettings, S), ConfigError>
    where
        S: DeserializeOwned + Serialize + Default,
    {
        let mut kit: KitSettings =
            config::load_with_defaults(&defaults, self.config.as_deref(), std::env::vars())?;
        if let Some(url) = &self.nats {
            kit.bus.nats_url = Some(url.clone());
        }
        if let Some(listen) = self.listen {
            kit.grpc.listen = listen;
        }
        let own: S = config::load(self.config.as_deref())?;
        Ok((kit, own))
    }
}

/// What a service's start function gets.
pub struct Context<S> {
    pub kit: KitSettings,
    pub settings: S,
    pub bus: SharedBus,
    pub roles: Roles,
    pub shutdown: Shutdown,
}

/// Why a service binary stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Bus(#[from] BusConnectError),
    #[error("starting: {0}")]
    Start(#[from] StartError),
    #[error(transparent)]
    Unfinished(#[from] crate::service::Unfinished),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Runs the service named `name` (its gRPC face on `default_port` unless configured) until
/// SIGTERM or Ctrl-C, then stops within `shutdown.grace`; prints any error and returns the
/// exit code (0 on a clean stop).
pub fn run<S, F, Fut>(
    name: &'static str,
    default_port: u16,
    args: ServiceArgs,
    start: F,
) -> ExitCode
where
    S: DeserializeOwned + Serialize + Default,
    F: FnOnce(Context<S>) -> Fut,
    Fut: Future<Output = Result<RunningService, StartError>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return report(name, &RunError::Runtime(e)),
    };
    let outcome = runtime.block_on(run_async(name, default_port, args, start));
    // Tasks still running after a stop that ran out of time are abandoned, not awaited.
    runtime.shutdown_timeout(Duration::from_millis(500));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(name, &e),
    }
}

fn report(name: &str, e: &RunError) -> ExitCode {
    tracing::error!(error = %e, "{name} stopped with an error");
    eprintln!("{name}: error: {e}");
    ExitCode::FAILURE
}

async fn run_async<S, F, Fut>(
    name: &'static str,
    default_port: u16,
    args: ServiceArgs,
    start: F,
) -> Result<(), RunError>
where
    S: DeserializeOwned + Serialize + Default,
    F: FnOnce(Context<S>) -> Fut,
    Fut: Future<Output = Result<RunningService, StartError>>,
{
    let (kit, settings) = args.load::<S>(KitSettings::with_grpc_port(default_port))?;
    telemetry::init(kit.log.format, &kit.log.filter);
    let bus = kit.bus.connect(name, EventsStream::Ensure).await?;
    let shutdown = Shutdown::on_signals();
    let grace = kit.shutdown.grace;
    let roles = args.roles();
    let running = start(Context {
        kit,
        settings,
        bus: bus.clone(),
        roles,
        shutdown: shutdown.clone(),
    })
    .await?;
    tracing::info!(
        grpc = %running.grpc_addr.map_or_else(|| "none (worker only)".to_owned(), |a| a.to_string()),
        worker = roles.worker,
        bus = %bus.describe(),
        "{name} ready"
    );
    running.run_until(&shutdown, grace).await??;
    tracing::info!("{name} stopped");
    Ok(())
}
