//! `passerelle ins …`: INS search over gRPC (by traits, or by the carte Vitale read through the
//! card-agent), matricule check.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use passerelle_domain::{InsError, Key, Matricule};
use passerelle_proto::card::v1::{
    self as card_api, card_agent_client::CardAgentClient, read_card_response::Card,
};
use passerelle_proto::common::v1::Actor;
use passerelle_proto::ins::v1::{
    DocumentCheck, DocumentType, IdentityTraits, KnownIns, QualifyIdentityRequest,
    SearchByTraitsRequest, SearchByVitaleRequest, Sex, VerifyInsRequest,
    ins_service_client::InsServiceClient,
};

use crate::commands::card::DEFAULT_CARD_ENDPOINT;
use crate::commands::who::{self, PatientArgs, ProfessionalArgs, StatusArg};
use crate::output;

pub const DEFAULT_INS_ENDPOINT: &str = "http://127.0.0.1:50051";

#[derive(Debug, Subcommand)]
pub enum InsCommand {
    /// Search the INS by identity traits (INSi, with the first-name strategy), or with
    /// `--vitale` by the carte Vitale read through the card-agent.
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
    pub traits: SearchTraitsArgs,
    #[command(flatten)]
    pub vitale: VitaleArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Identity traits as typed; not given with `--vitale` (the card gives them).
#[derive(Debug, Args)]
pub struct SearchTraitsArgs {
    /// Birth name (nom de naissance).
    #[arg(long, required_unless_present = "vitale")]
    pub birth_name: Option<String>,
    /// Used name (nom utilisé), when it differs; helps the diagnostics.
    #[arg(long)]
    pub used_name: Option<String>,
    /// First name, in civil-status order; repeat for each.
    #[arg(long = "first-name", required_unless_present = "vitale")]
    pub first_names: Vec<String>,
    /// Sex: F or M.
    #[arg(
        long,
        value_enum,
        ignore_case = true,
        required_unless_present = "vitale"
    )]
    pub sex: Option<SexArg>,
    /// Birth date YYYY-MM-DD (day and month may be 00).
    #[arg(long, required_unless_present = "vitale")]
    pub birth_date: Option<String>,
    /// Birth place, INSEE COG code (e.g. 63220, 2A020).
    #[arg(long)]
    pub birth_place: Option<String>,
}

/// Search by the carte Vitale (INSi `rechercherInsAvecCarteVitale`).
#[derive(Debug, Args)]
pub struct VitaleArgs {
    /// Read the carte Vitale through the card-agent and search with it (no traits to type).
    #[arg(
        long,
        conflicts_with_all = ["birth_name", "used_name", "first_names", "sex", "birth_date", "birth_place"]
    )]
    pub vitale: bool,
    /// Reader holding the carte Vitale (default: the only reader holding one).
    #[arg(long, requires = "vitale")]
    pub reader: Option<String>,
    /// Which person of the card: 1 the insured person (default), 2… the beneficiaries in card
    /// order.
    #[arg(long, requires = "vitale", value_parser = clap::value_parser!(u32).range(1..))]
    pub person: Option<u32>,
    /// Local gRPC endpoint of the card-agent.
    #[arg(long, env = "PASSERELLE_CARD_ENDPOINT", default_value = DEFAULT_CARD_ENDPOINT)]
    pub card_endpoint: String,
}

impl SearchTraitsArgs {
    fn to_traits(&self) -> anyhow::Result<IdentityTraits> {
        let missing = |what: &str| anyhow::anyhow!("{what} is required (or use --vitale)");
        let birth_name = self
            .birth_name
            .clone()
            .ok_or_else(|| missing("--birth-name"))?;
        if self.first_names.is_empty() {
            return Err(missing("--first-name"));
        }
        let sex = self.sex.ok_or_else(|| missing("--sex"))?;
        let birth_date = self
            .birth_date
            .clone()
            .ok_or_else(|| missing("--birth-date"))?;
        Ok(traits_from(&TraitsArgs {
            birth_name,
            used_name: self.used_name.clone(),
            first_names: self.first_names.clone(),
            sex,
            birth_date,
            birth_place: self.birth_place.clone(),
        }))
    }
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
    #[command(flatten)]
    pub professional: ProfessionalArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("ins", |a| a.required(true)))]
pub struct VerifyArgs {
    /// The INS held (--ins, required here); a status attested that needs a confirmed INS
    /// (recuperee, qualifiee) is flagged when INSi does not verify it.
    #[command(flatten)]
    pub patient: PatientArgs,
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
    /// The INS held, if any (--ins: it is then verified; otherwise retrieved); a status
    /// attested other than the one established is flagged.
    #[command(flatten)]
    pub patient: PatientArgs,
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

/// Who acts, or the exit code of a wrong professional (told on stderr).
fn actor(common: &CommonArgs) -> Result<Option<Actor>, ExitCode> {
    who::actor(common.workstation.as_deref(), &common.professional)
        .map(Some)
        .map_err(|message| {
            eprintln!("error: {message}");
            ExitCode::from(2)
        })
}

/// The INS given in the patient group, as the request's known INS.
fn known_ins(patient: &PatientArgs) -> Option<KnownIns> {
    patient.ins().map(|ins| KnownIns {
        matricule: ins.matricule().to_string(),
        key: ins.key().to_string(),
        oid: ins.oid().to_string(),
    })
}

/// Identity vigilance: a status the caller attests that the answer does not support.
fn attested_status_warning(attested: StatusArg, ins_confirmed: bool, established: Option<i32>) {
    let needs_ins = matches!(attested, StatusArg::Recuperee | StatusArg::Qualifiee);
    let name = |s: StatusArg| format!("{s:?}").to_lowercase();
    match established {
        Some(e) if e != attested.to_api() as i32 => eprintln!(
            "warning: you attest the status {}, the answer establishes {}: update the identity \
             before sharing",
            name(attested),
            output::status_name(e).to_lowercase()
        ),
        None if needs_ins && !ins_confirmed => eprintln!(
            "warning: you attest the status {}, but INSi does not verify this INS: the identity \
             is not {} until it is",
            name(attested),
            name(attested)
        ),
        _ => {}
    }
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

async fn search(args: SearchArgs) -> anyhow::Result<ExitCode> {
    if args.vitale.vitale {
        return search_vitale(args).await;
    }
    let traits = args.traits.to_traits()?;
    let actor = match actor(&args.common) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let mut c = client(&args.common).await?;
    let req = SearchByTraitsRequest {
        actor,
        traits: Some(traits),
    };
    let result = c.search_by_traits(req).await;
    Ok(output::finish(
        result,
        args.common.json,
        output::search_json,
        output::search_table,
    ))
}

/// Reads the carte Vitale through the card-agent, picks the person and searches INSi with it.
async fn search_vitale(args: SearchArgs) -> anyhow::Result<ExitCode> {
    if let Err(code) = actor(&args.common) {
        return Ok(code);
    }
    let endpoint = &args.vitale.card_endpoint;
    let mut agent = CardAgentClient::connect(endpoint.clone())
        .await
        .with_context(|| {
            format!(
                "cannot reach the card-agent at {endpoint}: is it running (`card-agent run`, or \
                 `passerelle up`)?"
            )
        })?;
    let reader = match &args.vitale.reader {
        Some(r) => r.clone(),
        None => {
            let readers = match agent.list_readers(card_api::ListReadersRequest {}).await {
                Ok(r) => r.into_inner().readers,
                Err(status) => return Ok(fail(&status)),
            };
            match vitale_reader(&readers) {
                Ok(r) => r,
                Err(message) => {
                    eprintln!("error: {message}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
    };
    let read = match agent
        .read_card(card_api::ReadCardRequest {
            reader: reader.clone(),
        })
        .await
    {
        Ok(r) => r.into_inner(),
        Err(status) => return Ok(fail(&status)),
    };
    let Some(Card::Vitale(card)) = read.card else {
        eprintln!("error: the card in {reader:?} is not a carte Vitale");
        return Ok(ExitCode::from(2));
    };
    let persons = vitale_persons(&card);
    let chosen = match pick_person(&persons, args.vitale.person) {
        Ok(i) => i,
        Err(message) => {
            eprintln!("error: {message}");
            eprint!("{}", persons_list(&persons));
            return Ok(ExitCode::from(2));
        }
    };
    if args.vitale.person.is_none() && persons.len() > 1 {
        eprintln!(
            "The card holds {} persons; searching person 1, the insured person (--person N for \
             another):",
            persons.len()
        );
        eprint!("{}", persons_list(&persons));
    }
    let mut req = vitale_request(&persons, chosen);
    req.actor = match actor(&args.common) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let mut c = client(&args.common).await?;
    let result = c.search_by_vitale(req).await;
    Ok(output::finish(
        result,
        args.common.json,
        output::search_json,
        output::search_table,
    ))
}

fn fail(status: &tonic::Status) -> ExitCode {
    eprintln!("{}", output::status_message(status));
    ExitCode::from(2)
}

/// The only reader holding a carte Vitale.
fn vitale_reader(readers: &[card_api::Reader]) -> Result<String, String> {
    let vitale: Vec<&card_api::Reader> = readers
        .iter()
        .filter(|r| r.card == card_api::CardKind::Vitale as i32)
        .collect();
    match vitale.as_slice() {
        [only] => Ok(only.name.clone()),
        [] => Err("no carte Vitale in any reader: insert the card".to_owned()),
        several => Err(format!(
            "several readers hold a carte Vitale ({}): name one with --reader",
            several
                .iter()
                .map(|r| format!("{:?}", r.name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The persons of the card: the insured person first, then the beneficiaries.
fn vitale_persons(card: &card_api::VitaleCard) -> Vec<card_api::VitalePerson> {
    card.insured
        .iter()
        .chain(&card.beneficiaries)
        .cloned()
        .collect()
}

/// The index of the person to search: `--person N` (1-based), by default the insured person.
fn pick_person(persons: &[card_api::VitalePerson], wanted: Option<u32>) -> Result<usize, String> {
    if persons.is_empty() {
        return Err("the carte Vitale holds no person".to_owned());
    }
    let n = wanted.unwrap_or(1) as usize;
    if n == 0 || n > persons.len() {
        return Err(format!(
            "no person {n} on the card: choose one with --person 1..{}",
            persons.len()
        ));
    }
    Ok(n - 1)
}

fn persons_list(persons: &[card_api::VitalePerson]) -> String {
    let mut out = String::new();
    for (i, p) in persons.iter().enumerate() {
        let role = if i == 0 { "insured" } else { "beneficiary" };
        let used = if p.used_name.is_empty() || p.used_name == p.birth_name {
            String::new()
        } else {
            format!(" (used name {})", p.used_name)
        };
        out.push_str(&format!(
            "  {:>2}  {role:<11}  {} {}{used}, born {} (rank {}), matricule {} {}\n",
            i + 1,
            p.birth_name,
            p.first_name,
            p.birth_date,
            p.birth_rank,
            p.matricule,
            p.key
        ));
    }
    out
}

/// The search for person `index`: their matricule and key, and the insured person's when
/// they are someone else (a beneficiary on another's card).
fn vitale_request(persons: &[card_api::VitalePerson], index: usize) -> SearchByVitaleRequest {
    let mut req = SearchByVitaleRequest::default();
    let (Some(insured), Some(p)) = (persons.first(), persons.get(index)) else {
        return req;
    };
    req.matricule = p.matricule.clone();
    req.key = p.key.clone();
    if index != 0 && insured.matricule != p.matricule {
        req.insured_matricule = insured.matricule.clone();
        req.insured_key = insured.key.clone();
    }
    req.birth_name = p.birth_name.clone();
    req.birth_date = p.birth_date.clone();
    req.birth_rank = p.birth_rank;
    req
}

async fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let actor = match actor(&args.common) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let mut c = client(&args.common).await?;
    let req = VerifyInsRequest {
        actor,
        ins: known_ins(&args.patient),
        traits: Some(traits_from(&args.traits)),
    };
    let result = c.verify_ins(req).await;
    if let Ok(r) = &result {
        let verified =
            r.get_ref().result == passerelle_proto::ins::v1::VerifyResult::Verified as i32;
        attested_status_warning(args.patient.identity_status, verified, None);
    }
    Ok(output::finish(
        result,
        args.common.json,
        output::verify_json,
        output::verify_table,
    ))
}

async fn qualify(args: QualifyArgs) -> anyhow::Result<ExitCode> {
    let actor = match actor(&args.common) {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
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
        actor,
        traits: Some(traits_from(&args.traits)),
        ins: known_ins(&args.patient),
        document,
    };
    let result = c.qualify_identity(req).await;
    if let Ok(r) = &result {
        attested_status_warning(
            args.patient.identity_status,
            r.get_ref().patient.is_some(),
            Some(r.get_ref().status),
        );
    }
    Ok(output::finish(
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        ins: InsCommand,
    }

    fn person(matricule: &str, name: &str, rank: u32) -> card_api::VitalePerson {
        card_api::VitalePerson {
            matricule: matricule.to_owned(),
            key: "12".to_owned(),
            birth_name: name.to_owned(),
            first_name: "X".to_owned(),
            birth_date: "2009-07-14".to_owned(),
            birth_rank: rank,
            ..Default::default()
        }
    }

    #[test]
    fn traits_are_required_unless_vitale() {
        assert!(Cli::try_parse_from(["p", "search", "--birth-name", "A"]).is_err());
        assert!(Cli::try_parse_from(["p", "search", "--vitale"]).is_ok());
        assert!(Cli::try_parse_from(["p", "search", "--vitale", "--person", "2"]).is_ok());
        assert!(Cli::try_parse_from(["p", "search", "--vitale", "--person", "0"]).is_err());
        assert!(Cli::try_parse_from(["p", "search", "--vitale", "--birth-name", "A"]).is_err());
        assert!(Cli::try_parse_from(["p", "search", "--person", "2"]).is_err());
        let full = [
            "p",
            "search",
            "--birth-name",
            "A",
            "--first-name",
            "B",
            "--sex",
            "F",
            "--birth-date",
            "2000-01-01",
        ];
        assert!(Cli::try_parse_from(full).is_ok());
        // Verify keeps its traits and its INS required.
        assert!(Cli::try_parse_from(["p", "verify", "--ins", "248039263001064"]).is_err());
        let traits = [
            "--birth-name",
            "A",
            "--first-name",
            "B",
            "--sex",
            "F",
            "--birth-date",
            "2000-01-01",
        ];
        let verify = |extra: &[&str]| {
            let mut args = vec!["p", "verify"];
            args.extend(traits);
            args.extend(extra);
            Cli::try_parse_from(args)
        };
        assert!(verify(&[]).is_err(), "--ins is required for verify");
        assert!(verify(&["--ins", "248039263001064"]).is_ok());
        let mut qualify = vec!["p", "qualify"];
        qualify.extend(traits);
        assert!(
            Cli::try_parse_from(qualify).is_ok(),
            "--ins is optional for qualify"
        );
    }

    #[test]
    fn the_person_picks_the_matricules_sent() {
        let persons = vec![
            person("1800175123456", "PARENT", 1),
            person("2090763220834", "CHILD", 2),
        ];
        assert_eq!(pick_person(&persons, None), Ok(0));
        assert_eq!(pick_person(&persons, Some(2)), Ok(1));
        assert!(pick_person(&persons, Some(3)).is_err());
        assert!(pick_person(&[], None).is_err());

        let insured = vitale_request(&persons, 0);
        assert_eq!(insured.matricule, "1800175123456");
        assert!(insured.insured_matricule.is_empty());
        let child = vitale_request(&persons, 1);
        assert_eq!(
            (
                child.matricule.as_str(),
                child.birth_name.as_str(),
                child.birth_rank
            ),
            ("2090763220834", "CHILD", 2)
        );
        assert_eq!(
            (child.insured_matricule.as_str(), child.insured_key.as_str()),
            ("1800175123456", "12")
        );
        assert!(persons_list(&persons).contains("   2  beneficiary  CHILD X"));
    }

    #[test]
    fn the_vitale_reader_is_the_only_one_holding_a_vitale() {
        let reader = |name: &str, kind: card_api::CardKind| card_api::Reader {
            name: name.to_owned(),
            card: kind as i32,
            card_serial: String::new(),
            card_model: String::new(),
        };
        let cps = reader("cps", card_api::CardKind::Cps);
        let v1 = reader("v1", card_api::CardKind::Vitale);
        let v2 = reader("v2", card_api::CardKind::Vitale);
        assert_eq!(
            vitale_reader(&[cps.clone(), v1.clone()]),
            Ok("v1".to_owned())
        );
        assert!(vitale_reader(std::slice::from_ref(&cps)).is_err());
        assert!(vitale_reader(&[v1, v2]).unwrap_err().contains("--reader"));
    }
}
