//! `passerelle share …`: one document to the patient's DMP, to professionals by MSSanté and
//! to the patient's MSSanté Citoyen mailbox, through share-service; each channel's state
//! (`share status`), the failed channels sent again (`share retry`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use passerelle_proto::dmp::v1::Confidentiality;
use passerelle_proto::share::v1::{
    Channel, ChannelState, DocumentKind, GetShareRequest, RetryShareRequest, ShareDocument,
    ShareRequest, ShareStatus, share_service_client::ShareServiceClient,
};
use share_service::channels;
use tonic::transport::Channel as GrpcChannel;

use crate::commands::document::{ConfidentialityArg, HideArg};
use crate::commands::mss::{AttachmentArgs, LetterTraitsArgs};
use crate::commands::who::{self, PatientArgs, ProfessionalArgs};
use crate::{documents, output};

pub const DEFAULT_SHARE_ENDPOINT: &str = "http://127.0.0.1:50055";

/// Exit code when a channel FAILED or was REFUSED.
const SOME_CHANNEL_NOT_DONE: u8 = 3;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ShareCommand {
    #[command(subcommand)]
    pub sub: Option<ShareSub>,
    #[command(flatten)]
    pub share: Box<ShareArgs>,
}

#[derive(Debug, Subcommand)]
pub enum ShareSub {
    /// A share's state, channel by channel.
    Status(StatusArgs),
    /// Send the FAILED channels of a share again (or the one named), with the same keys: no
    /// second DMP document, no second mail where one was sent.
    Retry(RetryArgs),
}

#[derive(Debug, Args)]
pub struct ShareArgs {
    #[command(flatten)]
    pub patient: PatientArgs,
    /// The patient's traits, as the document's header and the DMP metadata carry them.
    #[command(flatten)]
    pub traits: LetterTraitsArgs,
    #[command(flatten)]
    pub attachment: AttachmentArgs,
    /// The document's title.
    #[arg(long)]
    pub title: Option<String>,
    /// Document type: a code of JDV J66 (LOINC, e.g. 11490-0 lettre de liaison).
    #[arg(long = "type")]
    pub type_code: Option<String>,
    /// Where to share it: dmp, mss-pro (the professionals of --to/--cc), mss-citizen (the
    /// patient's own mailbox, from a qualified INS); comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub channels: Vec<String>,
    /// Your mailbox (default: the card holder's in CPS mode, the organisation's otherwise).
    #[arg(long)]
    pub from: Option<String>,
    /// A professional's MSSanté address (mss-pro); repeat for each.
    #[arg(long)]
    pub to: Vec<String>,
    /// A professional in copy (mss-pro); repeat for each.
    #[arg(long)]
    pub cc: Vec<String>,
    /// The message's subject (default: the title).
    #[arg(long)]
    pub subject: Option<String>,
    /// The message's text (default: made from the title).
    #[arg(long)]
    pub body: Option<String>,
    #[arg(long, value_enum, ignore_case = true, default_value_t = ConfidentialityArg::N)]
    pub confidentiality: ConfidentialityArg,
    /// Hide the document from someone; repeat for each. A document hidden from the patient
    /// never goes to the patient's mailbox.
    #[arg(long, value_enum)]
    pub hide_from: Vec<HideArg>,
    /// Ask for a read acknowledgement of the mail.
    #[arg(long)]
    pub ack: bool,
    /// Your stable id of this share: the same key, the same share (nothing sent twice).
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Follow the share until every channel is finished, a line per change. Exit 0 when all
    /// are DONE, 3 when one FAILED or was REFUSED.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Where to send the request, as whom, and how to print the answer.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// gRPC endpoint of the share service.
    #[arg(long, env = "PASSERELLE_SHARE_ENDPOINT", default_value = DEFAULT_SHARE_ENDPOINT)]
    pub endpoint: String,
    /// Act in CPS mode with the card of this workstation (default: organisation mode).
    #[arg(long)]
    pub workstation: Option<String>,
    #[command(flatten)]
    pub professional: ProfessionalArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The share id Share printed.
    pub share_id: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// gRPC endpoint of the share service.
    #[arg(long, env = "PASSERELLE_SHARE_ENDPOINT", default_value = DEFAULT_SHARE_ENDPOINT)]
    pub endpoint: String,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The share id Share printed.
    pub share_id: String,
    /// Only this channel (dmp, mss-pro, mss-citizen); default: every FAILED one.
    #[arg(long)]
    pub channel: Option<String>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// gRPC endpoint of the share service.
    #[arg(long, env = "PASSERELLE_SHARE_ENDPOINT", default_value = DEFAULT_SHARE_ENDPOINT)]
    pub endpoint: String,
}

pub async fn run(cmd: ShareCommand) -> anyhow::Result<ExitCode> {
    match cmd.sub {
        Some(ShareSub::Status(a)) => status(a).await,
        Some(ShareSub::Retry(a)) => retry(a).await,
        None => share(*cmd.share).await,
    }
}

fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

async fn client(endpoint: &str) -> anyhow::Result<ShareServiceClient<GrpcChannel>> {
    ShareServiceClient::connect(endpoint.to_owned())
        .await
        .with_context(|| {
            format!("cannot reach the share service at {endpoint}: is `passerelle up` running?")
        })
}

/// The channels of `--channels`, or what is wrong.
fn parse_channels(names: &[String]) -> Result<Vec<Channel>, String> {
    if names.is_empty() {
        return Err("--channels is required: dmp, mss-pro, mss-citizen (comma-separated)".into());
    }
    names
        .iter()
        .map(|n| {
            channels::parse_name(n)
                .ok_or_else(|| format!("unknown channel {n:?}: use dmp, mss-pro or mss-citizen"))
        })
        .collect()
}

/// The document's path, media type and kind.
fn letter(a: &AttachmentArgs) -> Option<(&PathBuf, &'static str, DocumentKind)> {
    match (&a.pdf, &a.text, &a.vsm) {
        (Some(p), _, _) => Some((p, "application/pdf", DocumentKind::Pdf)),
        (_, Some(t), _) => Some((t, "text/plain", DocumentKind::Text)),
        (_, _, Some(v)) => Some((v, "application/json", DocumentKind::Vsm)),
        _ => None,
    }
}

/// The request of `passerelle share`, or what is wrong with the arguments.
fn share_request(a: &ShareArgs, document_id: String) -> Result<ShareRequest, String> {
    let channels = parse_channels(&a.channels)?;
    let (_, _, kind) = letter(&a.attachment)
        .ok_or("the document to share is required: --pdf FILE, --text FILE or --vsm FILE")?;
    if kind != DocumentKind::Vsm && (a.title.is_none() || a.type_code.is_none()) {
        return Err(
            "a letter needs --title and --type (a LOINC code of JDV J66, e.g. 11490-0)".into(),
        );
    }
    if a.patient.ins.is_none() {
        return Err("--ins is required: the patient's INS (15 characters)".into());
    }
    let traits = a.traits.traits()?.ok_or(
        "the patient's traits are required for the document's header: --birth-name, \
         --first-name, --sex, --birth-date",
    )?;
    let actor = who::actor(a.common.workstation.as_deref(), &a.common.professional)?;
    let patient = who::patient_identity(&a.patient, Some(&traits))?;
    let hidden = |h: fn(&HideArg) -> bool| a.hide_from.iter().any(h);
    Ok(ShareRequest {
        actor: Some(actor),
        patient: Some(patient),
        document: Some(ShareDocument {
            document_id,
            kind: kind as i32,
            title: a.title.clone().unwrap_or_default(),
            type_code: a.type_code.clone().unwrap_or_default(),
            confidentiality: (match a.confidentiality {
                ConfidentialityArg::N => Confidentiality::Normal,
                ConfidentialityArg::R => Confidentiality::Restricted,
                ConfidentialityArg::V => Confidentiality::VeryRestricted,
            }) as i32,
            hide_from_professionals: hidden(|h| matches!(h, HideArg::Professionals)),
            hide_from_patient: hidden(|h| matches!(h, HideArg::Patient)),
            hide_from_legal_representatives: hidden(|h| matches!(h, HideArg::LegalRepresentatives)),
        }),
        channels: channels.into_iter().map(|c| c as i32).collect(),
        from: a.from.clone().unwrap_or_default(),
        to: a.to.clone(),
        cc: a.cc.clone(),
        subject: a.subject.clone().unwrap_or_default(),
        body: a.body.clone().unwrap_or_default(),
        acknowledgement: a.ack,
        idempotency_key: a.idempotency_key.clone().unwrap_or_default(),
    })
}

async fn share(a: ShareArgs) -> anyhow::Result<ExitCode> {
    // Checked before the upload, so that a mistake costs nothing.
    if let Err(e) = share_request(&a, String::new()) {
        return Ok(bad_input(e));
    }
    let Some((path, media_type, _)) = letter(&a.attachment) else {
        return Ok(bad_input("--pdf, --text or --vsm is required"));
    };
    let endpoint = &a.common.endpoint;
    let document_id = documents::upload(endpoint, path, media_type).await?;
    let request = match share_request(&a, document_id) {
        Ok(r) => r,
        Err(e) => return Ok(bad_input(e)),
    };
    let mut c = client(endpoint).await?;
    let status = match c.share(request).await {
        Ok(r) => r.into_inner(),
        Err(status) => {
            eprintln!("{}", output::status_message(&status));
            return Ok(ExitCode::from(2));
        }
    };
    if !a.wait || status.finished {
        return Ok(print_final(&status, a.common.json));
    }
    if !a.common.json {
        print!("{}", status_table(&status));
    }
    watch(&mut c, status, a.common.json).await
}

/// Follows the share, printing each channel's change, until it is finished.
async fn watch(
    c: &mut ShareServiceClient<GrpcChannel>,
    first: ShareStatus,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let request = GetShareRequest {
        share_id: first.share_id.clone(),
    };
    let mut stream = match c.watch_share(request).await {
        Ok(r) => r.into_inner(),
        Err(status) => {
            eprintln!("{}", output::status_message(&status));
            return Ok(ExitCode::from(2));
        }
    };
    let mut last = first;
    loop {
        let status = match stream.message().await {
            Ok(Some(s)) => s,
            Ok(None) => break,
            Err(status) => {
                eprintln!("{}", output::status_message(&status));
                return Ok(ExitCode::from(2));
            }
        };
        if !json {
            for line in changes(&last, &status) {
                println!("{line}");
            }
        }
        last = status;
        if last.finished {
            break;
        }
    }
    if json {
        println!("{}", status_json(&last));
    } else if !last.finished {
        eprintln!(
            "error: the watch ended before the share was finished; see `passerelle share status {}`",
            last.share_id
        );
        return Ok(ExitCode::from(2));
    }
    Ok(exit_code(&last))
}

async fn status(a: StatusArgs) -> anyhow::Result<ExitCode> {
    let mut c = client(&a.endpoint).await?;
    let r = c
        .get_share(GetShareRequest {
            share_id: a.share_id,
        })
        .await;
    Ok(output::finish(r, a.json, status_json, status_table))
}

async fn retry(a: RetryArgs) -> anyhow::Result<ExitCode> {
    let channel = match a.channel.as_deref().map(channels::parse_name) {
        None => Channel::Unspecified,
        Some(Some(c)) => c,
        Some(None) => {
            return Ok(bad_input(
                "unknown --channel: use dmp, mss-pro or mss-citizen",
            ));
        }
    };
    let mut c = client(&a.endpoint).await?;
    let r = c
        .retry_share(RetryShareRequest {
            share_id: a.share_id,
            channel: channel as i32,
        })
        .await;
    Ok(output::finish(r, a.json, status_json, status_table))
}

fn print_final(status: &ShareStatus, json: bool) -> ExitCode {
    if json {
        println!("{}", status_json(status));
    } else {
        print!("{}", status_table(status));
    }
    exit_code(status)
}

/// 0 unless a channel FAILED or was REFUSED (3).
fn exit_code(status: &ShareStatus) -> ExitCode {
    let not_done = status.channels.iter().any(|c| {
        matches!(
            ChannelState::try_from(c.state),
            Ok(ChannelState::Failed | ChannelState::Refused)
        )
    });
    if not_done {
        ExitCode::from(SOME_CHANNEL_NOT_DONE)
    } else {
        ExitCode::SUCCESS
    }
}

fn channel_name(c: i32) -> &'static str {
    channels::name(Channel::try_from(c).unwrap_or(Channel::Unspecified))
}

fn state_name(s: i32) -> &'static str {
    match ChannelState::try_from(s).unwrap_or(ChannelState::Unspecified) {
        ChannelState::Pending => "PENDING",
        ChannelState::Done => "DONE",
        ChannelState::Failed => "FAILED",
        ChannelState::Refused => "REFUSED",
        ChannelState::Unspecified => "UNSPECIFIED",
    }
}

fn channel_line(c: &passerelle_proto::share::v1::ChannelStatus) -> String {
    let mut line = format!(
        "  {:<12} {:<8}",
        channel_name(c.channel),
        state_name(c.state)
    );
    if !c.reference.is_empty() {
        line.push_str(&format!(" {}", c.reference));
    }
    if !c.rule.is_empty() {
        line.push_str(&format!(" [rule {}]", c.rule));
    }
    if !c.detail.is_empty() && c.state != ChannelState::Done as i32 {
        line.push_str(&format!(" {}", c.detail));
    }
    line
}

/// The lines of the channels whose state changed from `before` to `after`.
fn changes(before: &ShareStatus, after: &ShareStatus) -> Vec<String> {
    after
        .channels
        .iter()
        .filter(|c| {
            !before
                .channels
                .iter()
                .any(|b| b.channel == c.channel && b.state == c.state && b.attempts == c.attempts)
        })
        .map(channel_line)
        .collect()
}

pub fn status_table(s: &ShareStatus) -> String {
    let mut out = format!("Share       {}\n", s.share_id);
    for c in &s.channels {
        out.push_str(&channel_line(c));
        out.push('\n');
    }
    out.push_str(&format!(
        "Finished    {}\n",
        if s.finished { "yes" } else { "no" }
    ));
    out
}

pub fn status_json(s: &ShareStatus) -> String {
    let channels: Vec<_> = s
        .channels
        .iter()
        .map(|c| {
            serde_json::json!({
                "channel": channel_name(c.channel),
                "state": state_name(c.state),
                "detail": c.detail,
                "rule": c.rule,
                "reference": c.reference,
                "attempts": c.attempts,
            })
        })
        .collect();
    serde_json::json!({
        "share_id": s.share_id,
        "finished": s.finished,
        "channels": channels,
    })
    .to_string()
}
