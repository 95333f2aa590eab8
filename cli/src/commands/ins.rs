//! `passerelle ins …`: INS search over gRPC, matricule check.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use passerelle_domain::{InsError, Key, Matricule};
use passerelle_proto::common::v1::{Actor, CpsMode, OrganisationMode, actor};
use passerelle_proto::ins::v1::{
    DocumentCheck, DocumentType, IdentityTraits, KnownIns, QualifyIdentityRequest,
    SearchByTraitsRequest, Sex, VerifyInsRequest, ins_service_client::InsServiceClient,
};

use crate::output;

pub const DEFAULT_INS_ENDPOINT: &str = "http://127.0.0.1:50051";

#[derive(Debug, Subcommand)]
pub enum InsCommand {
    /// Search the INS by identity traits (INSi, with the first-name strategy).
    Search(SearchArgs),
    /// Verify a known INS: search INSi with the local traits and compare, trait by trait.
    Verify(VerifyArgs),
    /// Identity-vigilance status of an identity (provisoire, récupérée, validée, qualifiée).
    Qualify(QualifyArgs),
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
    #[command(flatten)]
    pub traits: TraitsArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Where to send the request, as whom, and how to print the answer.
#[derive(Debug, Args)]
pub struct CommonArgs {
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

/// The INS a caller holds.
#[derive(Debug, Args)]
pub struct InsArgs {
    /// Matricule of the INS held (13 characters).
    #[arg(long)]
    pub matricule: String,
    /// Its 2-digit key.
    #[arg(long)]
    pub key: String,
    /// OID (default: NIR 1.2.250.1.213.1.4.8).
    #[arg(long, default_value = "")]
    pub oid: String,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub ins: InsArgs,
    #[command(flatten)]
    pub traits: TraitsArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DocumentArg {
    Passport,
    NationalIdCard,
    ResidencePermit,
    FamilyRecordBook,
    BirthCertificate,
    DrivingLicence,
    HealthInsuranceCard,
    Other,
}

#[derive(Debug, Args)]
pub struct QualifyArgs {
    /// Matricule of the INS held, if any (it is then verified; otherwise retrieved).
    #[arg(long, requires = "key")]
    pub matricule: Option<String>,
    #[arg(long, requires = "matricule")]
    pub key: Option<String>,
    /// The document the identity was checked on.
    #[arg(long, value_enum, requires = "checked_by")]
    pub document: Option<DocumentArg>,
    /// Who checked the document (staff id).
    #[arg(long)]
    pub checked_by: Option<String>,
    #[command(flatten)]
    pub traits: TraitsArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Identity traits as typed.
#[derive(Debug, Args)]
pub struct TraitsArgs {
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
}

pub async fn run(cmd: InsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        InsCommand::Search(args) => search(args).await,
        InsCommand::Verify(args) => verify(args).await,
        InsCommand::Qualify(args) => qualify(args).await,
        InsCommand::CheckMatricule { matricule, key } => Ok(check_matricule(&matricule, &key)),
    }
}

fn actor(common: &CommonArgs) -> Option<Actor> {
    let mode = match &common.workstation {
        Some(w) => actor::Mode::Cps(CpsMode {
            workstation_id: w.clone(),
        }),
        None => actor::Mode::Organisation(OrganisationMode {
            on_behalf_of: "passerelle-cli".to_owned(),
        }),
    };
    Some(Actor { mode: Some(mode) })
}

fn traits_from(t: &TraitsArgs) -> IdentityTraits {
    IdentityTraits {
        birth_name: t.birth_name.clone(),
        used_name: t.used_name.clone().unwrap_or_default(),
        first_names: t.first_names.clone(),
        sex: match t.sex {
            SexArg::F => Sex::Female,
            SexArg::M => Sex::Male,
        } as i32,
        birth_date: t.birth_date.clone(),
        birth_place: t.birth_place.clone().unwrap_or_default(),
    }
}

async fn client(
    common: &CommonArgs,
) -> anyhow::Result<InsServiceClient<tonic::transport::Channel>> {
    InsServiceClient::connect(common.endpoint.clone())
        .await
        .with_context(|| {
            format!(
                "cannot reach the INS service at {}: is `passerelle up` running?",
                common.endpoint
            )
        })
}

/// Prints a business answer (exit 0) or the error status (exit 2).
fn finish<T>(
    result: Result<tonic::Response<T>, tonic::Status>,
    json: bool,
    as_json: impl Fn(&T) -> String,
    as_table: impl Fn(&T) -> String,
) -> ExitCode {
    match result {
        Ok(resp) => {
            let r = resp.into_inner();
            if json {
                println!("{}", as_json(&r));
            } else {
                print!("{}", as_table(&r));
            }
            ExitCode::SUCCESS
        }
        Err(status) => {
            eprintln!("{}", output::status_message(&status));
            ExitCode::from(2)
        }
    }
}

async fn search(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let mut c = client(&args.common).await?;
    let req = SearchByTraitsRequest {
        actor: actor(&args.common),
        traits: Some(traits_from(&args.traits)),
    };
    let result = c.search_by_traits(req).await;
    Ok(finish(
        result,
        args.common.json,
        output::search_json,
        output::search_table,
    ))
}

async fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut c = client(&args.common).await?;
    let req = VerifyInsRequest {
        actor: actor(&args.common),
        ins: Some(KnownIns {
            matricule: args.ins.matricule.clone(),
            key: args.ins.key.clone(),
            oid: args.ins.oid.clone(),
        }),
        traits: Some(traits_from(&args.traits)),
    };
    let result = c.verify_ins(req).await;
    Ok(finish(
        result,
        args.common.json,
        output::verify_json,
        output::verify_table,
    ))
}

async fn qualify(args: QualifyArgs) -> anyhow::Result<ExitCode> {
    let mut c = client(&args.common).await?;
    let document = args.document.map(|d| DocumentCheck {
        r#type: match d {
            DocumentArg::Passport => DocumentType::Passport,
            DocumentArg::NationalIdCard => DocumentType::NationalIdCard,
            DocumentArg::ResidencePermit => DocumentType::ResidencePermit,
            DocumentArg::FamilyRecordBook => DocumentType::FamilyRecordBook,
            DocumentArg::BirthCertificate => DocumentType::BirthCertificate,
            DocumentArg::DrivingLicence => DocumentType::DrivingLicence,
            DocumentArg::HealthInsuranceCard => DocumentType::HealthInsuranceCard,
            DocumentArg::Other => DocumentType::Other,
        } as i32,
        checked_by: args.checked_by.clone().unwrap_or_default(),
        checked_at: String::new(),
    });
    let req = QualifyIdentityRequest {
        actor: actor(&args.common),
        traits: Some(traits_from(&args.traits)),
        ins: args.matricule.as_ref().map(|m| KnownIns {
            matricule: m.clone(),
            key: args.key.clone().unwrap_or_default(),
            oid: String::new(),
        }),
        document,
    };
    let result = c.qualify_identity(req).await;
    Ok(finish(
        result,
        args.common.json,
        output::qualify_json,
        output::qualify_table,
    ))
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
