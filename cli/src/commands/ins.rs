//! `passerelle ins …`: INS search over gRPC, matricule check.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use passerelle_domain::{InsError, Key, Matricule};
use passerelle_proto::common::v1::{Actor, CpsMode, OrganisationMode, actor};
use passerelle_proto::ins::v1::{
    IdentityTraits, SearchByTraitsRequest, Sex, ins_service_client::InsServiceClient,
};

use crate::output;

pub const DEFAULT_INS_ENDPOINT: &str = "http://127.0.0.1:50051";

#[derive(Debug, Subcommand)]
pub enum InsCommand {
    /// Search the INS by identity traits (INSi, with the first-name strategy).
    Search(SearchArgs),
    /// Check a matricule and its key locally (typo guard), without calling INSi.
    CheckMatricule {
        /// The 13-character matricule (spaces allowed).
        matricule: String,
        /// The 2-digit key.
        key: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SexArg {
    #[value(name = "F")]
    F,
    #[value(name = "M")]
    M,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Birth name (nom de naissance).
    #[arg(long)]
    pub birth_name: String,
    /// Used name (nom utilisé), when it differs; helps the diagnostics.
    #[arg(long)]
    pub used_name: Option<String>,
    /// First name, in civil-status order; repeat for each.
    #[arg(long = "first-name", required = true)]
    pub first_names: Vec<String>,
    /// Sex: F or M.
    #[arg(long, value_enum, ignore_case = true)]
    pub sex: SexArg,
    /// Birth date YYYY-MM-DD (day and month may be 00).
    #[arg(long)]
    pub birth_date: String,
    /// Birth place, INSEE COG code (e.g. 63220, 2A020).
    #[arg(long)]
    pub birth_place: Option<String>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// gRPC endpoint of the INS service.
    #[arg(long, env = "PASSERELLE_INS_ENDPOINT", default_value = DEFAULT_INS_ENDPOINT)]
    pub endpoint: String,
    /// Act in CPS mode with the card of this workstation (default: organisation mode).
    #[arg(long)]
    pub workstation: Option<String>,
}

pub async fn run(cmd: InsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        InsCommand::Search(args) => search(args).await,
        InsCommand::CheckMatricule { matricule, key } => Ok(check_matricule(&matricule, &key)),
    }
}

pub fn request_from(args: &SearchArgs) -> SearchByTraitsRequest {
    let mode = match &args.workstation {
        Some(w) => actor::Mode::Cps(CpsMode {
            workstation_id: w.clone(),
        }),
        None => actor::Mode::Organisation(OrganisationMode {
            on_behalf_of: "passerelle-cli".to_owned(),
        }),
    };
    SearchByTraitsRequest {
        actor: Some(Actor { mode: Some(mode) }),
        traits: Some(IdentityTraits {
            birth_name: args.birth_name.clone(),
            used_name: args.used_name.clone().unwrap_or_default(),
            first_names: args.first_names.clone(),
            sex: match args.sex {
                SexArg::F => Sex::Female,
                SexArg::M => Sex::Male,
            } as i32,
            birth_date: args.birth_date.clone(),
            birth_place: args.birth_place.clone().unwrap_or_default(),
        }),
    }
}

async fn search(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let mut client = InsServiceClient::connect(args.endpoint.clone())
        .await
        .with_context(|| {
            format!(
                "cannot reach the INS service at {}: is `passerelle up` running?",
                args.endpoint
            )
        })?;
    match client.search_by_traits(request_from(&args)).await {
        Ok(resp) => {
            let resp = resp.into_inner();
            if args.json {
                println!("{}", output::search_json(&resp));
            } else {
                print!("{}", output::search_table(&resp));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(status) => {
            eprintln!("{}", output::status_message(&status));
            Ok(ExitCode::from(2))
        }
    }
}

fn check_matricule(matricule: &str, key: &str) -> ExitCode {
    let m = match Matricule::parse(matricule) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = Key::parse(key) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    match passerelle_domain::Ins::typed(matricule, key, passerelle_domain::InsOid::Nir) {
        Ok(ins) => {
            println!("OK: key {} matches matricule {m} (INS {ins})", ins.key());
            ExitCode::SUCCESS
        }
        Err(e @ InsError::WrongKey { .. }) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
