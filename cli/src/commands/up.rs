//! `passerelle up`: the sandbox and every service in one process, until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use passerelle_sandbox::insi::FaultInjection;
use passerelle_service_kit::{Shutdown, telemetry};

use passerelle_sandbox::mss::MssFault;

use crate::embedded::{
    CARD_PORT, CARD_WORKSTATION, DMP_PORT, Embedded, EmbeddedOptions, INS_PORT, MSS_PORT,
    SHARE_PORT,
};

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Use this NATS server as the bus instead of the in-process bus.
    #[arg(long)]
    pub nats: Option<String>,
    /// Where the sandbox keeps its test PKI and data.
    #[arg(long, env = "PASSERELLE_DATA_DIR", default_value = ".passerelle")]
    pub data_dir: PathBuf,
    /// gRPC address of the INS service.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], INS_PORT)))]
    pub ins_listen: SocketAddr,
    /// gRPC address of the DMP service.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], DMP_PORT)))]
    pub dmp_listen: SocketAddr,
    /// HTTPS address of the DMP sandbox.
    #[arg(long, default_value = "127.0.0.1:8444")]
    pub dmp_sandbox_listen: SocketAddr,
    /// Latency the DMP sandbox adds to each answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub dmp_latency_ms: u64,
    /// Make the DMP sandbox fail (same syntax as --insi-fault).
    #[arg(long)]
    pub dmp_fault: Option<FaultInjection>,
    /// gRPC address of the MSS service.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], MSS_PORT)))]
    pub mss_listen: SocketAddr,
    /// gRPC address of the share service.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], SHARE_PORT)))]
    pub share_listen: SocketAddr,
    /// SMTP submission (STARTTLS) address of the MSSanté sandbox.
    #[arg(long, default_value = passerelle_sandbox::mss::DEFAULT_MSS_STARTTLS_LISTEN)]
    pub mss_sandbox_listen: SocketAddr,
    /// SMTP submission (implicit TLS) address of the MSSanté sandbox.
    #[arg(long, default_value = passerelle_sandbox::mss::DEFAULT_MSS_IMPLICIT_TLS_LISTEN)]
    pub mss_sandbox_tls_listen: SocketAddr,
    /// IMAP (STARTTLS) address of the MSSanté sandbox.
    #[arg(long, default_value = passerelle_sandbox::mss::DEFAULT_MSS_IMAP_LISTEN)]
    pub mss_sandbox_imap_listen: SocketAddr,
    /// IMAPS (implicit TLS) address of the MSSanté sandbox.
    #[arg(long, default_value = passerelle_sandbox::mss::DEFAULT_MSS_IMAPS_LISTEN)]
    pub mss_sandbox_imaps_listen: SocketAddr,
    /// HTTPS address of the directory sandbox (Annuaire Santé FHIR API).
    #[arg(long, default_value = passerelle_sandbox::mss::directory::DEFAULT_DIRECTORY_LISTEN)]
    pub directory_listen: SocketAddr,
    /// Delay the MSSanté sandbox adds before answering a message, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub mss_latency_ms: u64,
    /// Make the MSSanté sandbox fail: KIND, KIND@N or KIND%P with KIND one of greeting-421,
    /// rcpt-550, rcpt-450, data-451, data-554, reset; repeat for several.
    #[arg(long = "mss-fault")]
    pub mss_faults: Vec<MssFault>,
    /// Local gRPC address of the card-agent (loopback only).
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], CARD_PORT)))]
    pub card_listen: SocketAddr,
    /// HTTPS address of the INSi sandbox.
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub insi_listen: SocketAddr,
    /// Latency the INSi sandbox adds to each answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub insi_latency_ms: u64,
    /// Make the INSi sandbox fail: KIND, KIND@N (every N-th request) or KIND%P (probability),
    /// KIND one of http-503, garbage, close, unavailable, technical.
    #[arg(long)]
    pub insi_fault: Option<FaultInjection>,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long)]
    pub log_json: bool,
    /// Put a software carte Vitale (test/demo device) in a second reader of the card-agent:
    /// a TOML file with the insured person and the beneficiaries (see card-agent's README).
    #[arg(long)]
    pub vitale_file: Option<PathBuf>,
    /// Longest a stop may take (Ctrl-C, SIGTERM): in-flight calls get this long to finish.
    #[arg(long, default_value = "10s", value_parser = humantime_serde::re::humantime::parse_duration)]
    pub stop_grace: Duration,
}

pub async fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    let format = if args.log_json {
        telemetry::LogFormat::Json
    } else {
        telemetry::LogFormat::Human
    };
    telemetry::init(format, "info");
    let shutdown = Shutdown::on_signals();
    let opts = EmbeddedOptions {
        data_dir: args.data_dir,
        nats_url: args.nats,
        ins_listen: args.ins_listen,
        insi_listen: args.insi_listen,
        insi_latency: Duration::from_millis(args.insi_latency_ms),
        insi_fault: args.insi_fault,
        card_listen: args.card_listen,
        dmp_listen: args.dmp_listen,
        dmp_sandbox_listen: args.dmp_sandbox_listen,
        dmp_latency: Duration::from_millis(args.dmp_latency_ms),
        dmp_fault: args.dmp_fault,
        mss_listen: args.mss_listen,
        mss_smtp_listen: args.mss_sandbox_listen,
        mss_smtp_tls_listen: args.mss_sandbox_tls_listen,
        mss_imap_listen: args.mss_sandbox_imap_listen,
        mss_imaps_listen: args.mss_sandbox_imaps_listen,
        directory_listen: args.directory_listen,
        mss_latency: Duration::from_millis(args.mss_latency_ms),
        mss_faults: args.mss_faults,
        share_listen: args.share_listen,
    };
    let vitale_file = args.vitale_file.clone();
    let system = Embedded::start_with_vitale(&opts, args.vitale_file, shutdown.clone()).await?;
    println!("Passerelle is up (bus: {})", system.bus.describe());
    println!("  ins-service   gRPC {}", system.ins_endpoint());
    println!("  dmp-service   gRPC {}", system.dmp_endpoint());
    println!("  mss-service   gRPC {}", system.mss_endpoint());
    println!("  share-service gRPC {}", system.share_endpoint());
    println!(
        "  card-agent    gRPC {} (workstation {CARD_WORKSTATION}, test CPS, PIN 1234)",
        system.card_endpoint()
    );
    if let Some(file) = &vitale_file {
        println!(
            "                software carte Vitale from {} (reader \"{}\")",
            file.display(),
            card_agent::backend::software::DEFAULT_VITALE_READER
        );
    }
    println!("  INSi sandbox  {}", system.insi.url());
    println!("                WSDL {}", system.insi.wsdl_url());
    println!("  DMP sandbox   {}", system.dmp_sandbox.url());
    println!(
        "  MSS sandbox   SMTP {} (STARTTLS), {} (implicit TLS); mailboxes in {}",
        system.mss_sandbox.starttls_addr(),
        system.mss_sandbox.implicit_tls_addr(),
        system.mss_sandbox.data_dir().display()
    );
    println!(
        "                IMAP {} (STARTTLS), {} (implicit TLS)",
        system.mss_sandbox.imap_addr(),
        system.mss_sandbox.imaps_addr()
    );
    println!(
        "                read by mss-service: {} (his account), {} (organisation's certificate)",
        passerelle_sandbox::mss::JEAN_FOUQUEREY,
        passerelle_sandbox::mss::SECRETARIAT
    );
    println!("  Directory     {}", system.directory.base_url());
    println!("Test PKI:");
    println!("{}", system.pki.describe());
    println!("Press Ctrl-C to stop.");
    shutdown.wait().await;
    match tokio::time::timeout(args.stop_grace, system.stop()).await {
        Ok(stopped) => stopped?,
        Err(_) => {
            eprintln!(
                "Passerelle stopped after {:?} without finishing every call in flight \
                 (their callers will retry or time out); raise --stop-grace if this recurs.",
                args.stop_grace
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    println!("Passerelle stopped.");
    Ok(ExitCode::SUCCESS)
}
