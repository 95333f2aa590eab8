//! `passerelle dmp …`: the patient's DMP through dmp-service — status and authorisation,
//! deposit (a letter, the VSM), list, get, masking and visibility, archive and delete.
//! Every command acts as the professional given (organisation mode) or the card of
//! `--workstation` (CPS mode), for the patient of `--ins`; none asks ins-service anything.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use passerelle_proto::common::v1::PatientIdentity;
use passerelle_proto::dmp::v1::{
    self as api, Access, AccessMode, AuthorizationAction, ChangeStatusRequest,
    ChangeVisibilityRequest, DepositOptions, DepositRequest, DepositVsmRequest, GetDocumentRequest,
    GetStatusRequest, ListAccessibleRequest, ListDocumentsRequest, SetAuthorizationRequest,
    StatusChange, VisibilityChange, dmp_service_client::DmpServiceClient,
};
use tonic::transport::Channel;

use crate::commands::document::{ConfidentialityArg, HideArg};
use crate::commands::ins::TraitsArgs;
use crate::commands::who::{self, PatientArgs, ProfessionalArgs};
use crate::{documents, output};

pub mod print;

pub const DEFAULT_DMP_ENDPOINT: &str = "http://127.0.0.1:50052";

#[derive(Debug, Subcommand)]
pub enum DmpCommand {
    /// The patient's DMP: its state, your authorisation, whether you are the médecin traitant.
    Status(PatientCommon),
    /// Declare yourself authorised on the patient's DMP (with the patient's consent).
    Authorize(AuthorizeArgs),
    /// Remove your authorisation on the patient's DMP.
    Revoke(AuthorizeArgs),
    /// The DMPs you may access.
    Accessible(AccessibleArgs),
    /// The patient's documents you may see.
    List(ListArgs),
    /// Deposit a letter (PDF or text) as a CDA; prints its unique_id.
    Deposit(DepositArgs),
    /// Deposit the patient's VSM from JSON; it replaces the current VSM. Prints its unique_id.
    Vsm(VsmArgs),
    /// Write one document (its CDA) to a file.
    Get(GetArgs),
    /// Mask a document from other professionals.
    Mask(DocumentArgs),
    /// Unmask a document to professionals.
    Unmask(DocumentArgs),
    /// Make a document visible to the patient or to the legal representatives (irreversible
    /// for the legal representatives).
    Reveal(RevealArgs),
    /// Archive a document.
    Archive(DocumentArgs),
    /// Unarchive a document.
    Unarchive(DocumentArgs),
    /// Delete a document.
    Delete(DocumentArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Normal,
    /// Emergency access to a patient in danger; --reason required.
    BrisDeGlace,
    /// Emergency regulation (SAMU centre 15); --reason required.
    #[value(name = "centre-15")]
    Centre15,
}

/// Where to send the request, as whom, and how to print the answer.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// gRPC endpoint of the DMP service.
    #[arg(long, env = "PASSERELLE_DMP_ENDPOINT", default_value = DEFAULT_DMP_ENDPOINT)]
    pub endpoint: String,
    /// Act in CPS mode with the card of this workstation (default: organisation mode).
    #[arg(long)]
    pub workstation: Option<String>,
    #[command(flatten)]
    pub professional: ProfessionalArgs,
    /// Access mode: normal, or an emergency access (bris de glace, centre 15).
    #[arg(long, value_enum, default_value_t = ModeArg::Normal)]
    pub mode: ModeArg,
    /// Why the emergency access (required with bris-de-glace and centre-15; kept in the audit).
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
#[command(mut_arg("ins", |a| a.required(true)))]
pub struct PatientCommon {
    #[command(flatten)]
    pub patient: PatientArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct AuthorizeArgs {
    #[command(flatten)]
    pub on: PatientCommon,
    /// Also declare yourself (or, with revoke, stop being) the médecin traitant.
    #[arg(long)]
    pub attending_physician: bool,
}

#[derive(Debug, Args)]
pub struct AccessibleArgs {
    /// Only the DMPs with an authorisation since this date (YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<String>,
    /// With --since: by the date of the last document instead of the last authorisation.
    #[arg(long, requires = "since")]
    pub by_last_document: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    Approved,
    Archived,
    Deprecated,
    Deleted,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub on: PatientCommon,
    /// Statuses wanted; repeat for several (default: approved only).
    #[arg(long = "status", value_enum)]
    pub statuses: Vec<StatusArg>,
    /// Created on or after this date (YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<String>,
    /// Created on or before this date (YYYY-MM-DD).
    #[arg(long)]
    pub to: Option<String>,
    /// Document type (LOINC…); repeat for several.
    #[arg(long = "type")]
    pub types: Vec<String>,
}

#[derive(Debug, Args)]
#[group(id = "letter", required = true, multiple = false)]
pub struct LetterArgs {
    /// A PDF letter.
    #[arg(long, group = "letter")]
    pub pdf: Option<PathBuf>,
    /// A plain-text (UTF-8) letter.
    #[arg(long, group = "letter")]
    pub text: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DepositArgs {
    #[command(flatten)]
    pub on: PatientCommon,
    /// The patient's traits, as the CDA header and the DMP metadata carry them.
    #[command(flatten)]
    pub traits: TraitsArgs,
    #[command(flatten)]
    pub letter: LetterArgs,
    /// The document's title, as the DMP shows it.
    #[arg(long)]
    pub title: String,
    /// Document type: a code of JDV J66 (LOINC, e.g. 11490-0 lettre de liaison).
    #[arg(long = "type")]
    pub type_code: String,
    #[arg(long, value_enum, ignore_case = true, default_value_t = ConfidentialityArg::N)]
    pub confidentiality: ConfidentialityArg,
    /// Hide the document from someone; repeat for each. Chosen at deposit: afterwards
    /// invisibility can only be lifted.
    #[arg(long, value_enum)]
    pub hide_from: Vec<HideArg>,
    /// Your stable id of this document: the same key, the same unique_id, so a deposit sent
    /// again is recognised. Without one, a key is generated and printed.
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct VsmArgs {
    #[command(flatten)]
    pub on: PatientCommon,
    #[command(flatten)]
    pub traits: TraitsArgs,
    /// The VSM, as JSON (see clinical-documents/README.md).
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct DocumentArgs {
    #[command(flatten)]
    pub on: PatientCommon,
    /// The document's unique_id (as `dmp list` prints it).
    #[arg(long)]
    pub unique_id: String,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub document: DocumentArgs,
    /// Where to write the CDA.
    #[arg(long)]
    pub output: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RevealTo {
    Patient,
    LegalRepresentatives,
}

#[derive(Debug, Args)]
pub struct RevealArgs {
    #[command(flatten)]
    pub document: DocumentArgs,
    #[arg(long, value_enum)]
    pub to: RevealTo,
}

pub async fn run(cmd: DmpCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DmpCommand::Status(a) => status(a).await,
        DmpCommand::Authorize(a) => authorize(a, AuthorizationAction::Add).await,
        DmpCommand::Revoke(a) => authorize(a, AuthorizationAction::Remove).await,
        DmpCommand::Accessible(a) => accessible(a).await,
        DmpCommand::List(a) => list(a).await,
        DmpCommand::Deposit(a) => deposit(a).await,
        DmpCommand::Vsm(a) => vsm(a).await,
        DmpCommand::Get(a) => get(a).await,
        DmpCommand::Mask(a) => visibility(a, VisibilityChange::MaskFromProfessionals).await,
        DmpCommand::Unmask(a) => visibility(a, VisibilityChange::UnmaskToProfessionals).await,
        DmpCommand::Reveal(a) => {
            let change = match a.to {
                RevealTo::Patient => VisibilityChange::RevealToPatient,
                RevealTo::LegalRepresentatives => VisibilityChange::RevealToLegalRepresentatives,
            };
            visibility(a.document, change).await
        }
        DmpCommand::Archive(a) => status_change(a, StatusChange::Archive).await,
        DmpCommand::Unarchive(a) => status_change(a, StatusChange::Unarchive).await,
        DmpCommand::Delete(a) => status_change(a, StatusChange::Delete).await,
    }
}

/// Who acts and how, or the message of what is wrong (exit 2).
fn access(common: &CommonArgs) -> Result<Access, String> {
    let actor = who::actor(common.workstation.as_deref(), &common.professional)?;
    let mode = match common.mode {
        ModeArg::Normal => AccessMode::Normal,
        ModeArg::BrisDeGlace => AccessMode::BrisDeGlace,
        ModeArg::Centre15 => AccessMode::Centre15,
    };
    let reason = common.reason.clone().unwrap_or_default();
    if mode != AccessMode::Normal && reason.trim().is_empty() {
        return Err(format!(
            "--mode {} needs --reason: why you access this record in an emergency (kept in the \
             audit)",
            match common.mode {
                ModeArg::BrisDeGlace => "bris-de-glace",
                _ => "centre-15",
            }
        ));
    }
    Ok(Access {
        actor: Some(actor),
        mode: mode as i32,
        reason,
    })
}

fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

async fn client(endpoint: &str) -> anyhow::Result<DmpServiceClient<tonic::transport::Channel>> {
    DmpServiceClient::connect(endpoint.to_owned())
        .await
        .with_context(|| {
            format!("cannot reach the DMP service at {endpoint}: is `passerelle up` running?")
        })
}

/// Access and patient of a patient command, or the exit code of a mistake.
fn who_and_whom(
    on: &PatientCommon,
    traits: Option<&TraitsArgs>,
) -> Result<(Access, PatientIdentity), ExitCode> {
    let access = access(&on.common).map_err(bad_input)?;
    let patient = who::patient_identity(&on.patient, traits).map_err(bad_input)?;
    Ok((access, patient))
}

async fn status(a: PatientCommon) -> anyhow::Result<ExitCode> {
    on_patient(
        &a,
        |mut c, access, patient| async move {
            c.get_status(GetStatusRequest { access, patient }).await
        },
        print::status_json,
        print::status_table,
    )
    .await
}

async fn authorize(a: AuthorizeArgs, action: AuthorizationAction) -> anyhow::Result<ExitCode> {
    let attending_physician = a.attending_physician;
    on_patient(
        &a.on,
        |mut c, access, patient| async move {
            c.set_authorization(SetAuthorizationRequest {
                access,
                patient,
                action: action as i32,
                attending_physician,
            })
            .await
        },
        print::authorization_json,
        print::authorization_table,
    )
    .await
}

async fn accessible(a: AccessibleArgs) -> anyhow::Result<ExitCode> {
    let access = match access(&a.common) {
        Ok(x) => x,
        Err(m) => return Ok(bad_input(m)),
    };
    let mut c = client(&a.common.endpoint).await?;
    let r = c
        .list_accessible(ListAccessibleRequest {
            access: Some(access),
            since: a.since.clone().unwrap_or_default(),
            by_last_document: a.by_last_document,
        })
        .await;
    Ok(output::finish(
        r,
        a.common.json,
        print::accessible_json,
        print::accessible_table,
    ))
}

async fn list(a: ListArgs) -> anyhow::Result<ExitCode> {
    let statuses = a
        .statuses
        .iter()
        .map(|s| {
            (match s {
                StatusArg::Approved => api::DocumentStatus::Approved,
                StatusArg::Archived => api::DocumentStatus::Archived,
                StatusArg::Deprecated => api::DocumentStatus::Deprecated,
                StatusArg::Deleted => api::DocumentStatus::Deleted,
            }) as i32
        })
        .collect();
    let request = ListDocumentsRequest {
        access: None,
        patient: None,
        statuses,
        created_from: a.from.clone().unwrap_or_default(),
        created_to: a.to.clone().unwrap_or_default(),
        type_codes: a.types.clone(),
    };
    on_patient(
        &a.on,
        |mut c, access, patient| async move {
            c.list_documents(ListDocumentsRequest {
                access,
                patient,
                ..request
            })
            .await
        },
        print::list_json,
        print::list_table,
    )
    .await
}

async fn deposit(a: DepositArgs) -> anyhow::Result<ExitCode> {
    let (access, patient) = match who_and_whom(&a.on, Some(&a.traits)) {
        Ok(w) => w,
        Err(code) => return Ok(code),
    };
    let (path, media_type) = match (&a.letter.pdf, &a.letter.text) {
        (Some(pdf), _) => (pdf, "application/pdf"),
        (_, Some(text)) => (text, "text/plain"),
        (None, None) => return Ok(bad_input("give --pdf FILE or --text FILE")),
    };
    let endpoint = &a.on.common.endpoint;
    let document_id = documents::upload(endpoint, path, media_type).await?;
    let hidden = |h: fn(&HideArg) -> bool| a.hide_from.iter().any(h);
    let options = DepositOptions {
        title: a.title.clone(),
        type_code: a.type_code.clone(),
        confidentiality: (match a.confidentiality {
            ConfidentialityArg::N => api::Confidentiality::Normal,
            ConfidentialityArg::R => api::Confidentiality::Restricted,
            ConfidentialityArg::V => api::Confidentiality::VeryRestricted,
        }) as i32,
        hide_from_professionals: hidden(|h| matches!(h, HideArg::Professionals)),
        hide_from_patient: hidden(|h| matches!(h, HideArg::Patient)),
        hide_from_legal_representatives: hidden(|h| matches!(h, HideArg::LegalRepresentatives)),
        idempotency_key: a.idempotency_key.clone().unwrap_or_default(),
    };
    let mut c = client(endpoint).await?;
    let r = c
        .deposit(DepositRequest {
            access: Some(access),
            patient: Some(patient),
            document_id,
            options: Some(options),
            more: Vec::new(),
        })
        .await;
    Ok(output::finish(
        r,
        a.on.common.json,
        print::deposit_json,
        print::deposit_table,
    ))
}

async fn vsm(a: VsmArgs) -> anyhow::Result<ExitCode> {
    let (access, patient) = match who_and_whom(&a.on, Some(&a.traits)) {
        Ok(w) => w,
        Err(code) => return Ok(code),
    };
    let endpoint = &a.on.common.endpoint;
    let vsm_document_id = documents::upload(endpoint, &a.input, "application/json").await?;
    let mut c = client(endpoint).await?;
    let r = c
        .deposit_vsm(DepositVsmRequest {
            access: Some(access),
            patient: Some(patient),
            vsm_document_id,
            idempotency_key: a.idempotency_key.clone().unwrap_or_default(),
        })
        .await;
    Ok(output::finish(
        r,
        a.on.common.json,
        print::deposit_json,
        print::deposit_table,
    ))
}

async fn get(a: GetArgs) -> anyhow::Result<ExitCode> {
    let on = &a.document.on;
    let (access, patient) = match who_and_whom(on, None) {
        Ok(w) => w,
        Err(code) => return Ok(code),
    };
    let mut c = client(&on.common.endpoint).await?;
    let r = c
        .get_document(GetDocumentRequest {
            access: Some(access),
            patient: Some(patient),
            unique_id: a.document.unique_id.clone(),
        })
        .await;
    let r = match r {
        Ok(r) => r.into_inner(),
        Err(status) => {
            eprintln!("{}", output::status_message(&status));
            return Ok(ExitCode::from(2));
        }
    };
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    let written = documents::download(&on.common.endpoint, &r.document_id, &a.output).await?;
    if on.common.json {
        println!("{}", print::get_json(&r, &a.output, written));
    } else {
        print!("{}", print::get_table(&r, &a.output, written));
    }
    Ok(ExitCode::SUCCESS)
}

async fn visibility(a: DocumentArgs, change: VisibilityChange) -> anyhow::Result<ExitCode> {
    let unique_id = a.unique_id.clone();
    on_patient(
        &a.on,
        |mut c, access, patient| async move {
            c.change_visibility(ChangeVisibilityRequest {
                access,
                patient,
                unique_id,
                change: change as i32,
            })
            .await
        },
        print::change_json,
        print::change_table,
    )
    .await
}

async fn status_change(a: DocumentArgs, change: StatusChange) -> anyhow::Result<ExitCode> {
    let unique_id = a.unique_id.clone();
    on_patient(
        &a.on,
        |mut c, access, patient| async move {
            c.change_status(ChangeStatusRequest {
                access,
                patient,
                unique_id,
                change: change as i32,
            })
            .await
        },
        print::change_json,
        print::change_table,
    )
    .await
}

/// One command about a patient: who acts and for whom checked (a mistake exits 2 before
/// any call), the request sent, the answer printed (or the error status, exit 2).
async fn on_patient<T, F, Fut>(
    on: &PatientCommon,
    send: F,
    as_json: fn(&T) -> String,
    as_table: fn(&T) -> String,
) -> anyhow::Result<ExitCode>
where
    F: FnOnce(DmpServiceClient<Channel>, Option<Access>, Option<PatientIdentity>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let (access, patient) = match who_and_whom(on, None) {
        Ok(w) => w,
        Err(code) => return Ok(code),
    };
    let c = client(&on.common.endpoint).await?;
    Ok(output::finish(
        send(c, Some(access), Some(patient)).await,
        on.common.json,
        as_json,
        as_table,
    ))
}
