//! `passerelle`: run the whole system in one process (`up`), walk through the tutorial's
//! workflow (`demo`), and use the services from a terminal (`ins …`).

mod commands;
mod documents;
mod embedded;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "passerelle",
    version,
    about = "Passerelle: INSi, DMP and MSSanté for hospital software"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the sandbox and every service in one process (Ctrl-C stops).
    Up(commands::up::UpArgs),
    /// Run the tutorial's workflow against the embedded sandbox, step by step.
    Demo(commands::demo::DemoArgs),
    /// INS: search the national health identity, check a matricule.
    #[command(subcommand)]
    Ins(commands::ins::InsCommand),
    /// DMP: the patient's shared medical record (status, deposit, list, get, visibility).
    #[command(subcommand)]
    Dmp(commands::dmp::DmpCommand),
    /// MSSanté: secure health mail to professionals and to the patient's mailbox; the directory.
    #[command(subcommand)]
    Mss(commands::mss::MssCommand),
    /// Share a document on several channels at once (DMP, MSSanté to professionals, the
    /// patient's MSSanté Citoyen mailbox) and follow each; `share status`, `share retry`.
    Share(commands::share::ShareCommand),
    /// Sandbox only: what the national services' other users see (e.g. the patient's DMP).
    #[command(subcommand)]
    Sandbox(commands::sandbox::SandboxCommand),
    /// Card-agent of this workstation: readers, reading the CPS, signing.
    #[command(subcommand)]
    Card(commands::card::CardCommand),
    /// Clinical documents: build a CDA, its XDS metadata and an XDM package, offline.
    #[command(subcommand)]
    Document(commands::document::DocumentCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Up(args) => commands::up::run(args).await,
            Command::Demo(args) => commands::demo::run(args).await,
            Command::Ins(cmd) => commands::ins::run(cmd).await,
            Command::Dmp(cmd) => commands::dmp::run(cmd).await,
            Command::Mss(cmd) => commands::mss::run(cmd).await,
            Command::Share(cmd) => commands::share::run(cmd).await,
            Command::Sandbox(cmd) => commands::sandbox::run(cmd).await,
            Command::Card(cmd) => commands::card::run(cmd).await,
            Command::Document(cmd) => Ok(commands::document::run(cmd)),
        }
    });
    // After a stop that ran out of time, what is still running is abandoned, not awaited.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
