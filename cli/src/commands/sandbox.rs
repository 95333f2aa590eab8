//! `passerelle sandbox …`: what only the sandbox can show — e.g. a DMP as the patient and the
//! legal representatives see it in « Mon espace santé » (not through the DMP's professional
//! interface), for tests and demos.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use passerelle_sandbox::pki::TestPki;

use crate::commands::dmp::print;
use crate::commands::who::PatientArgs;
use passerelle_sandbox::dmp::view::{self, ViewClientTls};

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// A patient's DMP in the sandbox, as an audience sees it.
    Dmp(DmpViewArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AudienceArg {
    Patient,
    LegalRepresentatives,
    Professionals,
}

#[derive(Debug, Args)]
#[command(mut_arg("ins", |a| a.required(true)))]
pub struct DmpViewArgs {
    #[command(flatten)]
    pub patient: PatientArgs,
    /// Whose view.
    #[arg(long = "as", value_enum)]
    pub audience: AudienceArg,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The DMP sandbox's base URL.
    #[arg(
        long,
        env = "PASSERELLE_DMP_SANDBOX_URL",
        default_value = "https://127.0.0.1:8444/si-dmp-server/v2/services"
    )]
    pub url: String,
    /// The data directory of `passerelle up` (its test PKI authenticates this call).
    #[arg(long, env = "PASSERELLE_DATA_DIR", default_value = ".passerelle")]
    pub data_dir: PathBuf,
}

pub async fn run(cmd: SandboxCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SandboxCommand::Dmp(a) => dmp(a).await,
    }
}

async fn dmp(a: DmpViewArgs) -> anyhow::Result<ExitCode> {
    let Some(ins) = a.patient.ins() else {
        eprintln!("error: --ins is required");
        return Ok(ExitCode::from(2));
    };
    let pki_dir = a.data_dir.join("pki");
    let pki = TestPki::ensure(&pki_dir)
        .with_context(|| format!("the sandbox's test PKI in {}", pki_dir.display()))?;
    let audience = match a.audience {
        AudienceArg::Patient => "patient",
        AudienceArg::LegalRepresentatives => "legal-representatives",
        AudienceArg::Professionals => "professionals",
    };
    let tls = ViewClientTls::organisation(&pki);
    let seen = view::fetch(&a.url, &tls, &ins.to_string(), audience)
        .await
        .with_context(|| format!("reading the DMP sandbox at {}", a.url))?;
    if a.json {
        println!("{}", print::view_json(&seen));
    } else {
        print!("{}", print::view_table(&seen));
    }
    Ok(ExitCode::SUCCESS)
}
