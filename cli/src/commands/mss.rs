//! `passerelle mss …`: secure health mail (MSSanté) through mss-service — a letter to
//! professionals and to the patient's own mailbox (MSSanté Citoyen), its preview, and the
//! directory's MSSanté addresses. Sends as the professional given (organisation mode) or the
//! card of `--workstation` (CPS mode).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use passerelle_proto::mss::v1::{
    self as api, Body, Document, ImportDirectoryRequest, SearchDirectoryRequest, SendRequest,
    mss_service_client::MssServiceClient, search_directory_request,
};
use tonic::transport::Channel;

use crate::commands::document::{ConfidentialityArg, HideArg};
use crate::commands::ins::{SexArg, TraitsArgs};
use crate::commands::who::{self, PatientArgs, ProfessionalArgs};
use crate::{documents, output};

pub mod inbox;
pub mod print;

pub const DEFAULT_MSS_ENDPOINT: &str = "http://127.0.0.1:50053";

#[derive(Debug, Subcommand)]
pub enum MssCommand {
    /// Send a message, with a letter when given, to professionals and/or to the patient's
    /// MSSanté Citoyen mailbox. Prints the Message-ID and the recipients the server accepted.
    Send(Box<SendArgs>),
    /// A professional's MSSanté addresses in the national directory, or the owner of an
    /// address.
    Directory(DirectoryArgs),
    /// Import the national directory's extraction file of MSSanté mailboxes
    /// (Extraction_Correspondance_MSSante_….zip as downloaded, or its .txt) into the service's
    /// index, replacing the previous import. Prints what was imported and the rejected lines.
    ImportDirectory(ImportDirectoryArgs),
    /// The messages a mailbox the service reads has received, newest first: sender, subject,
    /// attachments, the patient's INS, what became of each, and its acknowledgement.
    Inbox(inbox::InboxArgs),
    /// One received message written into a folder: its attachments, IHE_XDM.zip and the
    /// documents it holds (under IHE_XDM/), and message.json (the metadata).
    Fetch(inbox::FetchArgs),
    /// Print each message a mailbox receives as it arrives, until Ctrl-C.
    Watch(inbox::WatchArgs),
}

#[derive(Debug, Args)]
pub struct ImportDirectoryArgs {
    /// The extraction file: the zip as downloaded, or its .txt.
    pub file: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// gRPC endpoint of the MSS service.
    #[arg(long, env = "PASSERELLE_MSS_ENDPOINT", default_value = DEFAULT_MSS_ENDPOINT)]
    pub endpoint: String,
}

#[derive(Debug, Args)]
#[group(id = "attachment", required = false, multiple = false)]
pub struct AttachmentArgs {
    /// A PDF letter.
    #[arg(long, group = "attachment")]
    pub pdf: Option<PathBuf>,
    /// A plain-text (UTF-8) letter.
    #[arg(long, group = "attachment")]
    pub text: Option<PathBuf>,
    /// The patient's VSM, as JSON (see clinical-documents/README.md).
    #[arg(long, group = "attachment")]
    pub vsm: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Your mailbox (default: the card holder's in the directory, in CPS mode; the
    /// organisation's configured mailbox otherwise).
    #[arg(long)]
    pub from: Option<String>,
    /// A professional's MSSanté address; repeat for each.
    #[arg(long)]
    pub to: Vec<String>,
    /// A professional in copy; repeat for each.
    #[arg(long)]
    pub cc: Vec<String>,
    /// Also to the patient's own mailbox (MSSanté Citoyen): needs a qualified INS (--ins).
    #[arg(long)]
    pub citizen: bool,
    #[command(flatten)]
    pub patient: PatientArgs,
    #[command(flatten)]
    pub traits: LetterTraitsArgs,
    /// The message's subject.
    #[arg(long)]
    pub subject: String,
    /// The message's text.
    #[arg(long)]
    pub body: String,
    #[command(flatten)]
    pub attachment: AttachmentArgs,
    /// The letter's title (with a letter).
    #[arg(long)]
    pub title: Option<String>,
    /// Document type: a code of JDV J66 (LOINC, e.g. 11490-0 lettre de liaison).
    #[arg(long = "type")]
    pub type_code: Option<String>,
    #[arg(long, value_enum, ignore_case = true, default_value_t = ConfidentialityArg::N)]
    pub confidentiality: ConfidentialityArg,
    /// Hide the letter from someone; repeat for each. The MSSanté rules then decide who may
    /// receive it (a letter hidden from the patient never goes to the patient's mailbox).
    #[arg(long, value_enum)]
    pub hide_from: Vec<HideArg>,
    /// The patient may not answer (X-MSS-MES: FIN).
    #[arg(long)]
    pub no_reply: bool,
    /// Ask for a read acknowledgement (Disposition-Notification-To).
    #[arg(long)]
    pub ack: bool,
    /// Show the exact messages without sending anything.
    #[arg(long)]
    pub preview: bool,
    /// Each --to/--cc address must be an MSSanté mailbox in the directory, checked before
    /// anything is sent (catches a typo); the patient's mailbox is never looked up.
    #[arg(long)]
    pub check_directory: bool,
    /// Your stable id of this message: the same key, the same Message-ID. Without one, a key
    /// is generated and printed.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The patient's traits, as the letter's CDA header carries them: required with a letter only.
#[derive(Debug, Args)]
pub struct LetterTraitsArgs {
    /// With a letter: the patient's birth name (nom de naissance).
    #[arg(long)]
    pub birth_name: Option<String>,
    /// Used name (nom utilisé), when it differs.
    #[arg(long)]
    pub used_name: Option<String>,
    /// With a letter: a first name, in civil-status order; repeat for each.
    #[arg(long = "first-name")]
    pub first_names: Vec<String>,
    /// With a letter: sex, F or M.
    #[arg(long, value_enum, ignore_case = true)]
    pub sex: Option<SexArg>,
    /// With a letter: birth date YYYY-MM-DD.
    #[arg(long)]
    pub birth_date: Option<String>,
    /// Birth place, INSEE COG code.
    #[arg(long)]
    pub birth_place: Option<String>,
}

impl LetterTraitsArgs {
    /// The traits when any was given: all the required ones, or what is missing.
    pub(crate) fn traits(&self) -> Result<Option<TraitsArgs>, String> {
        let any = self.birth_name.is_some()
            || !self.first_names.is_empty()
            || self.sex.is_some()
            || self.birth_date.is_some();
        if !any {
            return Ok(None);
        }
        match (&self.birth_name, &self.sex, &self.birth_date) {
            (Some(birth_name), Some(sex), Some(birth_date)) if !self.first_names.is_empty() => {
                Ok(Some(TraitsArgs {
                    birth_name: birth_name.clone(),
                    used_name: self.used_name.clone(),
                    first_names: self.first_names.clone(),
                    sex: *sex,
                    birth_date: birth_date.clone(),
                    birth_place: self.birth_place.clone(),
                }))
            }
            _ => Err(
                "the patient's traits go together: --birth-name, --first-name, --sex and                  --birth-date"
                    .into(),
            ),
        }
    }
}

/// Where to send the request, as whom, and how to print the answer.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// gRPC endpoint of the MSS service.
    #[arg(long, env = "PASSERELLE_MSS_ENDPOINT", default_value = DEFAULT_MSS_ENDPOINT)]
    pub endpoint: String,
    /// Act in CPS mode with the card of this workstation (default: organisation mode).
    #[arg(long)]
    pub workstation: Option<String>,
    #[command(flatten)]
    pub professional: ProfessionalArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("who").required(true).multiple(false)))]
pub struct DirectoryArgs {
    /// The professional's RPPS number.
    #[arg(long, group = "who")]
    pub rpps: Option<String>,
    /// The professional's family name, optionally ",GIVEN" (e.g. FOUQUEREY or FOUQUEREY,JEAN).
    #[arg(long, group = "who")]
    pub name: Option<String>,
    /// An MSSanté address: who owns it (a professional, or an organisation).
    #[arg(long, group = "who")]
    pub address: Option<String>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// gRPC endpoint of the MSS service.
    #[arg(long, env = "PASSERELLE_MSS_ENDPOINT", default_value = DEFAULT_MSS_ENDPOINT)]
    pub endpoint: String,
}

pub async fn run(cmd: MssCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        MssCommand::Send(a) => send(*a).await,
        MssCommand::Directory(a) => directory(a).await,
        MssCommand::ImportDirectory(a) => import_directory(a).await,
        MssCommand::Inbox(a) => inbox::inbox(a).await,
        MssCommand::Fetch(a) => inbox::fetch(a).await,
        MssCommand::Watch(a) => inbox::watch(a).await,
    }
}

fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

async fn client(endpoint: &str) -> anyhow::Result<MssServiceClient<Channel>> {
    MssServiceClient::connect(endpoint.to_owned())
        .await
        .with_context(|| {
            format!("cannot reach the MSS service at {endpoint}: is `passerelle up` running?")
        })
}

/// The request of `passerelle mss send`, or what is wrong with the arguments.
fn send_request(a: &SendArgs, document_id: Option<String>) -> Result<SendRequest, String> {
    if a.to.is_empty() && !a.citizen {
        return Err(
            "no recipient: give --to ADDRESS (a professional) and/or --citizen (the patient's \
             own mailbox)"
                .into(),
        );
    }
    let actor = who::actor(a.common.workstation.as_deref(), &a.common.professional)?;
    let has_document = document_id.is_some();
    if (a.citizen || has_document) && a.patient.ins.is_none() {
        return Err(if a.citizen {
            "--citizen needs the patient: --ins (a qualified INS)".into()
        } else {
            "a letter needs its patient: --ins, and the traits (--birth-name, --first-name, \
             --sex, --birth-date)"
                .into()
        });
    }
    let traits = a.traits.traits()?;
    if has_document && traits.is_none() {
        return Err(
            "a letter needs the patient's traits for its CDA header: --birth-name, --first-name, \
             --sex, --birth-date"
                .into(),
        );
    }
    let patient = match a.patient.ins {
        Some(_) => Some(who::patient_identity(&a.patient, traits.as_ref())?),
        None => None,
    };
    let document = match document_id {
        Some(document_id) => {
            let hidden = |h: fn(&HideArg) -> bool| a.hide_from.iter().any(h);
            Some(Document {
                document_id,
                vsm: a.attachment.vsm.is_some(),
                title: a.title.clone().unwrap_or_default(),
                type_code: a.type_code.clone().unwrap_or_default(),
                confidentiality: (match a.confidentiality {
                    ConfidentialityArg::N => api::Confidentiality::Normal,
                    ConfidentialityArg::R => api::Confidentiality::Restricted,
                    ConfidentialityArg::V => api::Confidentiality::VeryRestricted,
                }) as i32,
                hide_from_professionals: hidden(|h| matches!(h, HideArg::Professionals)),
                hide_from_patient: hidden(|h| matches!(h, HideArg::Patient)),
                hide_from_legal_representatives: hidden(|h| {
                    matches!(h, HideArg::LegalRepresentatives)
                }),
            })
        }
        None => None,
    };
    Ok(SendRequest {
        actor: Some(actor),
        patient,
        from: a.from.clone().unwrap_or_default(),
        to: a.to.clone(),
        cc: a.cc.clone(),
        to_patient: a.citizen,
        subject: a.subject.clone(),
        body: Some(Body {
            text: a.body.clone(),
            html: String::new(),
        }),
        patient_body: None,
        document,
        patient_may_not_reply: a.no_reply,
        secret_connection: false,
        also_in_dmp: false,
        acknowledgement: a.ack,
        idempotency_key: a.idempotency_key.clone().unwrap_or_default(),
        check_recipients: a.check_directory,
    })
}

async fn send(a: SendArgs) -> anyhow::Result<ExitCode> {
    let letter = match (&a.attachment.pdf, &a.attachment.text, &a.attachment.vsm) {
        (Some(p), _, _) => Some((p, "application/pdf")),
        (_, Some(t), _) => Some((t, "text/plain")),
        (_, _, Some(v)) => Some((v, "application/json")),
        _ => None,
    };
    if letter.is_some()
        && (a.attachment.vsm.is_none())
        && (a.title.is_none() || a.type_code.is_none())
    {
        return Ok(bad_input(
            "a letter needs --title and --type (a LOINC code of JDV J66, e.g. 11490-0)",
        ));
    }
    // Checked before the upload, so that a mistake costs nothing.
    if let Err(e) = send_request(&a, letter.map(|_| String::new())) {
        return Ok(bad_input(e));
    }
    let endpoint = &a.common.endpoint;
    let document_id = match letter {
        Some((path, media_type)) => Some(documents::upload(endpoint, path, media_type).await?),
        None => None,
    };
    let request = match send_request(&a, document_id) {
        Ok(r) => r,
        Err(e) => return Ok(bad_input(e)),
    };
    let mut c = client(endpoint).await?;
    Ok(if a.preview {
        output::finish(
            c.preview(request).await,
            a.common.json,
            print::preview_json,
            print::preview_table,
        )
    } else {
        output::finish(
            c.send(request).await,
            a.common.json,
            print::send_json,
            print::send_table,
        )
    })
}

async fn directory(a: DirectoryArgs) -> anyhow::Result<ExitCode> {
    let by = match (&a.rpps, &a.name, &a.address) {
        (Some(rpps), _, _) => search_directory_request::By::Rpps(rpps.trim().to_owned()),
        (_, Some(name), _) => search_directory_request::By::Name(name.trim().to_owned()),
        (_, _, Some(address)) => search_directory_request::By::Address(address.trim().to_owned()),
        _ => return Ok(bad_input("give --rpps N, --name NAME or --address ADDRESS")),
    };
    let mut c = client(&a.endpoint).await?;
    let r = c
        .search_directory(SearchDirectoryRequest { by: Some(by) })
        .await;
    Ok(output::finish(
        r,
        a.json,
        print::directory_json,
        print::directory_table,
    ))
}

async fn import_directory(a: ImportDirectoryArgs) -> anyhow::Result<ExitCode> {
    if !a.file.is_file() {
        return Ok(bad_input(format!(
            "{} is not a file: give the extraction file (the .zip as downloaded, or its .txt)",
            a.file.display()
        )));
    }
    let is_zip = a
        .file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    let media_type = if is_zip {
        "application/zip"
    } else {
        "text/plain"
    };
    let document_id = documents::upload(&a.endpoint, &a.file, media_type).await?;
    let mut c = client(&a.endpoint).await?;
    let r = c
        .import_directory(ImportDirectoryRequest { document_id })
        .await;
    Ok(output::finish(
        r,
        a.json,
        print::import_json,
        print::import_table,
    ))
}
