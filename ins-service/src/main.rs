//! `ins-service`: the INS service alone, for distributed deployments.
//!
//! ```text
//! ins-service --config ins.toml --nats nats://nats:4222
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use ins_service::{InsServiceConfig, Roles};
use passerelle_bus::{SharedBus, in_process::InProcessBus, nats::NatsBus};
use passerelle_service_kit::{Shutdown, config, telemetry};

#[derive(Debug, Parser)]
#[command(version, about = "Passerelle INS service: INSi over gRPC and NATS")]
struct Args {
    /// Configuration file (TOML); PASSERELLE__* environment variables override it.
    #[arg(long, env = "PASSERELLE_CONFIG")]
    config: Option<PathBuf>,
    /// NATS server URL (overrides bus.nats_url). Without one, the in-process bus is used.
    #[arg(long)]
    nats: Option<String>,
    /// gRPC listen address (overrides grpc.listen).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Serve only the bus subjects, no gRPC (a worker replica).
    #[arg(long, conflicts_with = "grpc_only")]
    worker_only: bool,
    /// Serve only gRPC, forwarding to workers on the bus.
    #[arg(long)]
    grpc_only: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut cfg: InsServiceConfig =
        config::load(args.config.as_deref()).context("loading configuration")?;
    if let Some(url) = args.nats {
        cfg.bus.nats_url = Some(url);
    }
    if let Some(listen) = args.listen {
        cfg.grpc.listen = listen;
    }
    telemetry::init(cfg.log.format, &cfg.log.filter);

    let bus: SharedBus = match cfg.bus.nats_url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) => {
            let nats = NatsBus::connect(url, Default::default())
                .await
                .with_context(|| format!("connecting to NATS at {url}"))?;
            // Events and audit records are kept by JetStream from the first one on.
            nats.ensure_events_stream()
                .await
                .context("creating the JetStream events stream")?;
            Arc::new(nats)
        }
        None => Arc::new(InProcessBus::new()),
    };
    let roles = Roles {
        grpc: !args.worker_only,
        worker: !args.grpc_only,
    };
    let shutdown = Shutdown::on_signals();
    let running = ins_service::start(&cfg, bus.clone(), roles, shutdown)
        .await
        .context("starting the INS service")?;
    tracing::info!(grpc = %running.grpc_addr, bus = %bus.describe(), insi = %cfg.insi.endpoint, "ins-service ready");
    running.wait().await?;
    tracing::info!("ins-service stopped");
    Ok(())
}
