//! `passerelle-sandbox`: runs the INSi, DMP and MSSanté (SMTP submission) simulators with
//! the test PKI.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use passerelle_sandbox::dmp::{DmpSandbox, DmpSandboxConfig};
use passerelle_sandbox::insi::FaultInjection;
use passerelle_sandbox::mss::directory::{DirectorySandbox, DirectorySandboxConfig};
use passerelle_sandbox::mss::{MssFault, MssSandbox, MssSandboxConfig, SaslMode};
use passerelle_sandbox::{InsiSandbox, InsiSandboxConfig, TestPki};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Simulators of the French national e-health services (INSi, DMP, MSSanté, the Annuaire Santé directory) with a test PKI"
)]
struct Args {
    /// Data directory; the test PKI lives in its `pki/` folder.
    #[arg(long, default_value = "./.passerelle", env = "PASSERELLE_DATA_DIR")]
    data_dir: PathBuf,
    /// Listening address of the INSi simulator.
    #[arg(long, default_value = "127.0.0.1:8443")]
    insi_listen: SocketAddr,
    /// Listening address of the DMP simulator.
    #[arg(long, default_value = passerelle_sandbox::dmp::DEFAULT_DMP_LISTEN)]
    dmp_listen: SocketAddr,
    /// DMP patients file (TOML) replacing the built-in seed patients.
    #[arg(long)]
    dmp_patients: Option<PathBuf>,
    /// Delay added before every INSi and DMP answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Identities file (TOML) replacing the built-in test identities.
    #[arg(long)]
    insi_identities: Option<PathBuf>,
    /// Accepted software authorisation number (IDAM); repeat for several. None: any.
    #[arg(long = "accepted-idam")]
    accepted_idams: Vec<String>,
    /// Inject faults: KIND, KIND@N (every N-th request) or KIND%P (probability P), KIND one
    /// of http-503, garbage, close, unavailable, technical.
    #[arg(long)]
    fault: Option<FaultInjection>,
    /// Inject faults into the DMP simulator (same syntax as --fault).
    #[arg(long)]
    dmp_fault: Option<FaultInjection>,
    /// Listening address of the directory simulator (Annuaire Santé FHIR API).
    #[arg(long, default_value = passerelle_sandbox::mss::directory::DEFAULT_DIRECTORY_LISTEN)]
    mss_directory_listen: SocketAddr,
    /// Accepted ESANTE-API-KEY of the directory simulator; repeat for several.
    #[arg(
        long = "mss-directory-api-key",
        default_value = passerelle_sandbox::mss::directory::SANDBOX_API_KEY
    )]
    mss_directory_api_keys: Vec<String>,
    /// Directory seed file (TOML) replacing the built-in professionals.
    #[arg(long)]
    mss_directory_seed: Option<PathBuf>,
    /// MSSanté SMTP submission port, STARTTLS.
    #[arg(long, default_value = passerelle_sandbox::mss::DEFAULT_MSS_STARTTLS_LISTEN)]
    mss_listen: SocketAddr,
    /// MSSanté SMTP submission port, implicit TLS.
    #[arg(long, default_value = passerelle_sandbox::mss::DEFAULT_MSS_IMPLICIT_TLS_LISTEN)]
    mss_tls_listen: SocketAddr,
    /// MSSanté IMAP port (receiving side), STARTTLS.
    #[arg(long, default_value = passerelle_sandbox::mss::DEFAULT_MSS_IMAP_LISTEN)]
    mss_imap_listen: SocketAddr,
    /// MSSanté IMAP port, implicit TLS.
    #[arg(long, default_value = passerelle_sandbox::mss::DEFAULT_MSS_IMAPS_LISTEN)]
    mss_imaps_listen: SocketAddr,
    /// Inject SMTP faults: KIND, KIND@N or KIND%P with KIND one of greeting-421, rcpt-550,
    /// rcpt-450, data-451, data-554, reset, imap-bye, imap-no; repeat for several.
    #[arg(long = "mss-fault")]
    mss_faults: Vec<MssFault>,
    /// Delay before the SMTP reply to the end of DATA, in milliseconds.
    #[arg(long, default_value_t = 0)]
    mss_latency_ms: u64,
    /// AUTH EXTERNAL for a client certificate: offer (the certificate alone is enough too),
    /// off (not offered, as Postfix), require (the certificate alone is not enough).
    #[arg(long, default_value = "offer")]
    mss_sasl: SaslMode,
    /// Largest message the SMTP submission accepts, in bytes.
    #[arg(long, default_value_t = passerelle_sandbox::mss::DEFAULT_MSS_MAX_MESSAGE_BYTES)]
    mss_max_message_bytes: usize,
    /// Largest distance, in seconds, between an assertion's (INSi CPS mode) or a VIHF's
    /// (DMP) IssueInstant and the sandbox's clock.
    #[arg(long, default_value_t = 300)]
    assertion_skew_secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();

    let pki_dir = args.data_dir.join("pki");
    let pki = TestPki::ensure(&pki_dir)
        .with_context(|| format!("preparing the test PKI in {}", pki_dir.display()))?;
    let config = InsiSandboxConfig {
        listen: args.insi_listen,
        latency: Duration::from_millis(args.latency_ms),
        accepted_idams: args.accepted_idams,
        identities_file: args.insi_identities.clone(),
        fault_injection: args.fault,
        assertion_max_skew: Duration::from_secs(args.assertion_skew_secs),
        ..InsiSandboxConfig::default()
    };
    let insi = InsiSandbox::start(config, &pki)
        .await
        .context("starting the INSi simulator")?;

    let dmp = DmpSandbox::start(
        DmpSandboxConfig {
            listen: args.dmp_listen,
            data_dir: args.data_dir.clone(),
            latency: Duration::from_millis(args.latency_ms),
            fault_injection: args.dmp_fault,
            vihf_max_skew: Duration::from_secs(args.assertion_skew_secs),
            patients_file: args.dmp_patients.clone(),
            ..DmpSandboxConfig::default()
        },
        &pki,
    )
    .await
    .context("starting the DMP simulator")?;

    let directory = DirectorySandbox::start(
        DirectorySandboxConfig {
            listen: args.mss_directory_listen,
            api_keys: args.mss_directory_api_keys,
            seed: args.mss_directory_seed,
        },
        &pki,
    )
    .await
    .context("starting the directory simulator")?;

    let mss = MssSandbox::start(
        MssSandboxConfig {
            starttls_listen: args.mss_listen,
            implicit_tls_listen: args.mss_tls_listen,
            imap_listen: args.mss_imap_listen,
            imaps_listen: args.mss_imaps_listen,
            data_dir: args.data_dir.clone(),
            latency: Duration::from_millis(args.mss_latency_ms),
            faults: args.mss_faults,
            sasl: args.mss_sasl,
            max_message_bytes: args.mss_max_message_bytes,
            identities_file: args.insi_identities,
            patients_file: args.dmp_patients,
            ..MssSandboxConfig::default()
        },
        &pki,
    )
    .await
    .context("starting the MSSanté simulator")?;

    println!("INSi sandbox endpoint: {}", insi.url());
    println!("INSi sandbox WSDL:     {}", insi.wsdl_url());
    println!("DMP sandbox services:  {}", dmp.url());
    println!("Directory (FHIR) base: {}", directory.base_url());
    println!(
        "MSS sandbox SMTP:      {} (STARTTLS), {} (implicit TLS)",
        mss.starttls_addr(),
        mss.implicit_tls_addr()
    );
    println!(
        "MSS sandbox IMAP:      {} (STARTTLS), {} (implicit TLS)",
        mss.imap_addr(),
        mss.imaps_addr()
    );
    print!("{}", pki.describe());

    shutdown_signal().await?;
    insi.shutdown().await;
    dmp.shutdown().await;
    directory.stop().await;
    mss.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix (what process managers send).
async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}
