//! `card-agent`: the card-agent of one workstation.
//!
//! ```text
//! card-agent run --config card-agent.toml --nats nats://nats.hospital:4222
//! card-agent install --config ~/.config/passerelle/card-agent.toml   # start with the session
//! card-agent uninstall
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use card_agent::CardAgentConfig;
use card_agent::install::{InstallPaths, InstallReport, Platform};
use clap::{Args, Parser, Subcommand};
use passerelle_service_kit::settings::EventsStream;
use passerelle_service_kit::{Shutdown, config, telemetry};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Passerelle card-agent: CPS and Vitale cards of this workstation, over local gRPC and NATS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent until SIGTERM or Ctrl-C.
    Run(RunArgs),
    /// Start the agent with this user's session (systemd user unit, LaunchAgent, Startup
    /// folder): writes the definition and activates it, or prints the commands to run.
    Install(InstallArgs),
    /// Stop the agent started with the session and remove its definition.
    Uninstall(UninstallArgs),
}

#[derive(Debug, Args)]
struct InstallArgs {
    /// Configuration file the agent runs with (`run --config FILE`); default
    /// ~/.config/passerelle/card-agent.toml (%APPDATA%\Passerelle\card-agent.toml on Windows).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Show what would be written and run, change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct UninstallArgs {
    /// Show what would be removed and run, change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Configuration file (TOML); PASSERELLE__* environment variables override it.
    #[arg(long, env = "PASSERELLE_CONFIG")]
    config: Option<PathBuf>,
    /// NATS server URL (overrides bus.nats_url). Without one, only local gRPC is useful.
    #[arg(long)]
    nats: Option<String>,
    /// Workstation id (overrides workstation).
    #[arg(long)]
    workstation: Option<String>,
    /// Local gRPC listen address (overrides grpc.listen; loopback only).
    #[arg(long)]
    listen: Option<SocketAddr>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run(args) => run(args).await,
        Command::Install(args) => install(args),
        Command::Uninstall(args) => uninstall(args),
    }
}

/// The configuration file an installed agent runs with when none is named.
fn default_config() -> anyhow::Result<PathBuf> {
    let (var, dir): (&str, &[&str]) = if Platform::current() == Some(Platform::Windows) {
        ("APPDATA", &["Passerelle"])
    } else {
        ("HOME", &[".config", "passerelle"])
    };
    let base = std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .with_context(|| format!("{var} is not set: name the configuration with --config"))?;
    Ok(dir
        .iter()
        .fold(base, |p, d| p.join(d))
        .join("card-agent.toml"))
}

fn install(args: InstallArgs) -> anyhow::Result<()> {
    let config = match args.config {
        Some(c) => c,
        None => default_config()?,
    };
    let paths = InstallPaths::detect(config)?;
    let report = card_agent::install::install(&paths, args.dry_run)?;
    let path = report.definition.path.display();
    if args.dry_run {
        println!("Would write {path}:");
        println!();
        print!("{}", report.definition.contents);
        println!();
    } else {
        println!("Wrote {path}");
    }
    if !paths.config.exists() {
        eprintln!(
            "warning: {} does not exist yet: create it before the agent starts (it stops at \
             once without its configuration)",
            paths.config.display()
        );
    }
    print_commands(
        &report,
        args.dry_run,
        "to start the agent now and at each logon",
    );
    Ok(())
}

fn uninstall(args: UninstallArgs) -> anyhow::Result<()> {
    // The definition's location does not depend on the configuration file.
    let paths = InstallPaths::detect(default_config().unwrap_or_else(|_| PathBuf::from("/")))?;
    let report = card_agent::install::uninstall(&paths, args.dry_run)?;
    let path = report.definition.path.display();
    if args.dry_run {
        println!("Would remove {path} (if present)");
    } else if report.changed_file {
        println!("Removed {path}");
    } else {
        println!("Nothing to remove: {path} does not exist");
    }
    print_commands(&report, args.dry_run, "to stop the agent");
    Ok(())
}

fn print_commands(report: &InstallReport, dry_run: bool, why: &str) {
    for command in &report.ran {
        println!("Ran: {command}");
    }
    if !report.to_run.is_empty() {
        if dry_run {
            println!("Would run, {why}:");
        } else {
            println!("The service manager is not reachable from here; run, {why}:");
        }
        for command in &report.to_run {
            println!("  {command}");
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut cfg: CardAgentConfig =
        config::load(args.config.as_deref()).context("loading configuration")?;
    if let Some(url) = args.nats {
        cfg.bus.nats_url = Some(url);
    }
    if let Some(ws) = args.workstation {
        cfg.workstation = ws;
    }
    if let Some(listen) = args.listen {
        cfg.grpc.listen = listen;
    }
    telemetry::init(cfg.log.format, &cfg.log.filter);
    // Before anything else: a bad id must not reach the bus.
    card_agent::agent::validate_workstation(&cfg.workstation)?;

    // The card-agent's NATS user may not manage streams: the services create the events one.
    let bus = cfg
        .bus
        .connect(
            &format!("card-agent-{}", cfg.workstation),
            EventsStream::Leave,
        )
        .await?;
    let backend = card_agent::build_backend(&cfg)
        .await
        .with_context(|| format!("opening the {} backend", cfg.backend.kind))?;
    let shutdown = Shutdown::on_signals();
    let running = card_agent::start(&cfg, backend, bus.clone(), shutdown.clone())
        .await
        .context("starting the card-agent")?;
    tracing::info!(
        grpc = %running.grpc_addr,
        bus = %bus.describe(),
        workstation = %cfg.workstation,
        backend = %cfg.backend.kind,
        "card-agent ready"
    );
    shutdown.wait().await;
    let grace = cfg.shutdown.grace;
    match tokio::time::timeout(grace, running.wait()).await {
        Ok(stopped) => stopped?,
        Err(_) => anyhow::bail!(
            "stopped after {grace:?} without finishing the card operations in flight (their \
             callers get an error); raise shutdown.grace if this recurs"
        ),
    }
    tracing::info!("card-agent stopped");
    Ok(())
}
