//! `passerelle sandbox …`: what only the sandbox can show — e.g. a DMP as the patient and the
//! legal representatives see it in « Mon espace santé » (not through the DMP's professional
//! interface), or what arrived in an MSSanté mailbox, for tests and demos.

use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use passerelle_sandbox::mss;
use passerelle_sandbox::pki::TestPki;

use crate::commands::dmp::print;
use crate::commands::who::PatientArgs;
use passerelle_sandbox::dmp::view::{self, ViewClientTls};

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// A patient's DMP in the sandbox, as an audience sees it.
    Dmp(DmpViewArgs),
    /// The messages an MSSanté mailbox of the sandbox received. Sandbox only: a citizen's
    /// address is an INS (`<INS>@patient.mssante.fr`), and no one reads another's mailbox on
    /// the real MSSanté.
    Mailbox(MailboxArgs),
}

#[derive(Debug, Args)]
pub struct MailboxArgs {
    /// The mailbox's address, e.g. 248039263001064@patient.mssante.fr or
    /// jean.fouquerey@passerelle-sandbox.mssante.fr.
    pub address: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The data directory of `passerelle up` or `passerelle-sandbox` (the mailboxes are files
    /// in its `mss/` folder; no server is needed).
    #[arg(long, env = "PASSERELLE_DATA_DIR", default_value = ".passerelle")]
    pub data_dir: PathBuf,
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
        SandboxCommand::Mailbox(a) => Ok(mailbox(&a)),
    }
}

fn mailbox(a: &MailboxArgs) -> ExitCode {
    let messages = match mss::read_mailbox(&a.data_dir, &a.address) {
        Ok(m) => m,
        Err(e @ mss::MailboxError::InvalidAddress(_)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!(
                "error: reading the sandbox's mailboxes in {}: {e}",
                a.data_dir.join("mss").display()
            );
            return ExitCode::from(1);
        }
    };
    let address = a.address.trim().to_ascii_lowercase();
    if a.json {
        println!("{}", mailbox_json(&address, &messages));
    } else {
        print!("{}", mailbox_table(&address, &messages));
    }
    ExitCode::SUCCESS
}

fn mailbox_json(address: &str, messages: &[mss::StoredMessage]) -> serde_json::Value {
    let messages: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "message_id": m.message_id,
                "from": m.from,
                "to": m.to,
                "cc": m.cc,
                "subject": m.subject,
                "date": m.date,
                "received_at": m.envelope.as_ref().map(|e| e.received_at.as_str()),
                "attachments": m.attachments.iter().map(|a| serde_json::json!({
                    "file_name": a.file_name,
                    "media_type": a.media_type,
                    "size": a.size,
                })).collect::<Vec<_>>(),
                "x_mss": m.mss_headers,
                "replies_refused": m.replies_refused(),
                "size": m.size,
                "file": m.file,
            })
        })
        .collect();
    serde_json::json!({ "address": address, "messages": messages })
}

fn mailbox_table(address: &str, messages: &[mss::StoredMessage]) -> String {
    let mut s = format!("{address}: {} message(s)\n", messages.len());
    for (i, m) in messages.iter().enumerate() {
        let received = m
            .envelope
            .as_ref()
            .map_or(m.date.as_str(), |e| e.received_at.as_str());
        let _ = writeln!(s, "\n#{}  {received}  from {}", i + 1, m.from);
        let _ = writeln!(s, "    Subject:      {}", m.subject);
        let _ = writeln!(s, "    Message-ID:   {}", m.message_id);
        let attachments = if m.attachments.is_empty() {
            "none".to_owned()
        } else {
            m.attachments
                .iter()
                .map(|a| format!("{} ({}, {} bytes)", a.file_name, a.media_type, a.size))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let _ = writeln!(s, "    Attachments:  {attachments}");
        for (name, value) in &m.mss_headers {
            let _ = writeln!(s, "    {:<13} {value}", format!("{name}:"));
        }
        if m.replies_refused() {
            let _ = writeln!(s, "    (the patient may not reply)");
        }
    }
    s
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
