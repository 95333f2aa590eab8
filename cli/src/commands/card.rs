//! `passerelle card …`: the card-agent of this workstation, over its local gRPC channel (the
//! only one on which the PIN may travel).

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine as _;
use clap::{Args, Subcommand, ValueEnum};
use passerelle_proto::card::v1::{
    self as api, card_agent_client::CardAgentClient, read_card_response::Card,
};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::output;

pub const DEFAULT_CARD_ENDPOINT: &str = "http://127.0.0.1:50054";

#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// List the card readers and what they hold.
    Readers(CommonArgs),
    /// Read the card (CPS: the professional and the certificates; Vitale: the persons).
    Read(ReadArgs),
    /// Sign a SHA-256 digest with the CPS (RSA PKCS#1 v1.5).
    Sign(SignArgs),
    /// Enter the CPS's PIN (code porteur) on this workstation: the agent verifies it and keeps
    /// it for the card, so that services (INSi in CPS mode…) are served without asking it.
    Unlock(UnlockArgs),
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Local gRPC endpoint of the card-agent.
    #[arg(long, env = "PASSERELLE_CARD_ENDPOINT", default_value = DEFAULT_CARD_ENDPOINT)]
    pub endpoint: String,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Reader name (default: the only reader holding a card).
    #[arg(long)]
    pub reader: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyArg {
    /// The authentication key.
    Auth,
    /// The signature (non-repudiation) key.
    Sign,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The SHA-256 digest to sign, hex (64 digits).
    #[arg(long)]
    pub digest: String,
    #[arg(long, value_enum, default_value = "sign")]
    pub key: KeyArg,
    /// Read the PIN from the first line of standard input (otherwise the agent uses the PIN
    /// it holds for the card, or asks with its own prompt).
    #[arg(long)]
    pub pin_stdin: bool,
    /// Reader name (default: the only reader holding a CPS).
    #[arg(long)]
    pub reader: Option<String>,
    /// Why, for the audit.
    #[arg(long, default_value = "passerelle-cli")]
    pub purpose: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Read the PIN from the first line of standard input (required: the PIN is never an
    /// argument, which other users could see).
    #[arg(long)]
    pub pin_stdin: bool,
    /// Reader name (default: the only reader holding a CPS).
    #[arg(long)]
    pub reader: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub async fn run(cmd: CardCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CardCommand::Readers(c) => readers(c).await,
        CardCommand::Read(a) => read(a).await,
        CardCommand::Sign(a) => sign(a).await,
        CardCommand::Unlock(a) => unlock(a).await,
    }
}

async fn client(common: &CommonArgs) -> anyhow::Result<CardAgentClient<tonic::transport::Channel>> {
    CardAgentClient::connect(common.endpoint.clone())
        .await
        .with_context(|| {
            format!(
                "cannot reach the card-agent at {}: is it (or `passerelle up`) running?",
                common.endpoint
            )
        })
}

fn fail(status: &tonic::Status) -> ExitCode {
    eprintln!("{}", output::status_message(status));
    ExitCode::from(2)
}

fn kind_name(k: i32) -> &'static str {
    match api::CardKind::try_from(k) {
        Ok(api::CardKind::Cps) => "CPS",
        Ok(api::CardKind::Vitale) => "VITALE",
        Ok(api::CardKind::Unknown) => "UNKNOWN",
        Ok(api::CardKind::None) => "NONE",
        _ => "UNSPECIFIED",
    }
}

fn id_type_name(t: i32) -> &'static str {
    match api::IdType::try_from(t) {
        Ok(api::IdType::Rpps) => "RPPS",
        Ok(api::IdType::Adeli) => "ADELI",
        Ok(api::IdType::Other) => "OTHER",
        _ => "UNSPECIFIED",
    }
}

async fn readers(common: CommonArgs) -> anyhow::Result<ExitCode> {
    let mut c = client(&common).await?;
    let r = match c.list_readers(api::ListReadersRequest {}).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Ok(fail(&s)),
    };
    if common.json {
        let readers: Vec<Value> = r
            .readers
            .iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "card": kind_name(r.card),
                    "card_model": r.card_model,
                    "card_serial": r.card_serial,
                })
            })
            .collect();
        println!("{}", json!({ "readers": readers }));
    } else if r.readers.is_empty() {
        println!("No card reader.");
    } else {
        for r in &r.readers {
            let kind = if r.card_model.is_empty() {
                kind_name(r.card).to_owned()
            } else {
                format!("{} ({})", kind_name(r.card), r.card_model)
            };
            println!("{:<32} {:<14} {}", r.name, kind, r.card_serial);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn read(args: ReadArgs) -> anyhow::Result<ExitCode> {
    let mut c = client(&args.common).await?;
    let req = api::ReadCardRequest {
        reader: args.reader.unwrap_or_default(),
    };
    let r = match c.read_card(req).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Ok(fail(&s)),
    };
    let value = read_value(&r);
    if args.common.json {
        println!("{value}");
    } else {
        print!("{}", read_text(&r));
    }
    Ok(ExitCode::SUCCESS)
}

fn person_value(p: &api::VitalePerson) -> Value {
    json!({
        "matricule": p.matricule, "key": p.key, "birth_name": p.birth_name,
        "used_name": p.used_name, "first_name": p.first_name, "birth_date": p.birth_date,
        "birth_rank": p.birth_rank, "quality": p.quality,
    })
}

fn read_value(r: &api::ReadCardResponse) -> Value {
    let mut v = json!({"reader": r.reader, "kind": kind_name(r.kind)});
    match &r.card {
        Some(Card::Cps(h)) => {
            v["holder"] = json!({
                "id": h.id,
                "id_type": id_type_name(h.id_type),
                "last_name": h.last_name,
                "first_name": h.first_name,
                "profession": h.profession,
                "profession_label": h.profession_label,
                "specialty": h.specialty,
                "situations_need_pin": h.situations_need_pin,
                "situations": h.situations.iter().map(|s| json!({
                    "structure_id": s.structure_id,
                    "structure_id_type": s.structure_id_type,
                    "structure_name": s.structure_name,
                    "activity_sector": s.activity_sector,
                    "billing_id": s.billing_id,
                })).collect::<Vec<_>>(),
                "card_serial": h.card_serial,
                "auth_certificate": h.auth_certificate,
                "sign_certificate": h.sign_certificate,
            });
        }
        Some(Card::Vitale(card)) => {
            v["insured"] = card
                .insured
                .as_ref()
                .map(person_value)
                .unwrap_or(Value::Null);
            v["beneficiaries"] = card.beneficiaries.iter().map(person_value).collect();
        }
        None => {}
    }
    v
}

fn read_text(r: &api::ReadCardResponse) -> String {
    let mut s = format!(
        "Reader      {}\nCard        {}\n",
        r.reader,
        kind_name(r.kind)
    );
    match &r.card {
        Some(Card::Cps(h)) => {
            s.push_str(&format!(
                "Holder      {} {}\nId          {} ({})\nProfession  {} {}\nSpecialty   {}\nCard serial {}\n",
                h.last_name,
                h.first_name,
                h.id,
                id_type_name(h.id_type),
                h.profession,
                h.profession_label,
                h.specialty,
                h.card_serial
            ));
            for sit in &h.situations {
                s.push_str(&format!(
                    "Situation   {} {} ({} {}), sector {}, billing {}\n",
                    sit.structure_name,
                    sit.structure_id,
                    sit.structure_id_type,
                    sit.structure_id,
                    sit.activity_sector,
                    sit.billing_id
                ));
            }
            if h.situations_need_pin {
                s.push_str(
                    "Situations  given by the card after the code porteur: passerelle card unlock, then read again\n",
                );
            }
            s.push_str("Certificates: use --json for the PEM text.\n");
        }
        Some(Card::Vitale(card)) => {
            for p in card.insured.iter().chain(&card.beneficiaries) {
                s.push_str(&format!(
                    "Person      {} {} {} born {} rank {} quality {}\n",
                    p.matricule, p.birth_name, p.first_name, p.birth_date, p.birth_rank, p.quality
                ));
            }
        }
        None => {}
    }
    s
}

fn parse_digest(digits: &str) -> Option<Vec<u8>> {
    let digest = hex::decode(digits.trim()).ok()?;
    (digest.len() == 32).then_some(digest)
}

/// The PIN on the first line of standard input; `None` (said on stderr) when there is none.
fn pin_from_stdin() -> anyhow::Result<Option<Zeroizing<String>>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the PIN from standard input")?;
    let pin = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if pin.is_empty() {
        eprintln!("error: --pin-stdin given but no PIN on standard input");
        return Ok(None);
    }
    Ok(Some(pin))
}

async fn unlock(args: UnlockArgs) -> anyhow::Result<ExitCode> {
    if !args.pin_stdin {
        eprintln!(
            "error: give the PIN on standard input with --pin-stdin (never as an argument), \
             e.g. `passerelle card unlock --pin-stdin` then type it"
        );
        return Ok(ExitCode::from(2));
    }
    let Some(pin) = pin_from_stdin()? else {
        return Ok(ExitCode::from(2));
    };
    let mut c = client(&args.common).await?;
    let req = api::UnlockRequest {
        reader: args.reader.clone().unwrap_or_default(),
        pin: pin.to_string(),
    };
    let r = match c.unlock(req).await {
        Ok(r) => r.into_inner(),
        Err(s) => return Ok(fail(&s)),
    };
    if args.common.json {
        println!(
            "{}",
            json!({
                "ok": r.ok,
                "reader": r.reader,
                "card_serial": r.card_serial,
                "idle_timeout_secs": r.idle_timeout_secs,
            })
        );
    } else {
        println!("{}", unlock_text(&r));
    }
    Ok(ExitCode::SUCCESS)
}

/// What the user is told once the card is unlocked.
pub fn unlock_text(r: &api::UnlockResponse) -> String {
    format!(
        "PIN accepted by the card {} ({}): kept by the card-agent for this card, services may \
         sign with it until the card leaves the reader or after {} s without use.",
        r.card_serial, r.reader, r.idle_timeout_secs
    )
}

async fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let Some(digest) = parse_digest(&args.digest) else {
        eprintln!("error: --digest must be a SHA-256 digest: 64 hex digits");
        return Ok(ExitCode::from(2));
    };
    let pin = if args.pin_stdin {
        let Some(pin) = pin_from_stdin()? else {
            return Ok(ExitCode::from(2));
        };
        pin
    } else {
        Zeroizing::new(String::new())
    };
    let mut c = client(&args.common).await?;
    let req = api::SignRequest {
        reader: args.reader.clone().unwrap_or_default(),
        digest,
        key: match args.key {
            KeyArg::Sign => api::KeyUse::Signature,
            KeyArg::Auth => api::KeyUse::Authentication,
        } as i32,
        purpose: args.purpose.clone(),
        requester: "passerelle-cli".to_owned(),
        pin: pin.to_string(),
    };
    let result = c.sign(req).await;
    let r = match result {
        Ok(r) => r.into_inner(),
        Err(s) => return Ok(fail(&s)),
    };
    let signature = base64::engine::general_purpose::STANDARD.encode(&r.signature);
    if args.common.json {
        println!(
            "{}",
            json!({"signature": signature, "certificate": r.certificate, "algorithm": r.algorithm})
        );
    } else {
        println!("Algorithm   {}", r.algorithm);
        println!("Signature   {signature}");
        print!("{}", r.certificate);
    }
    Ok(ExitCode::SUCCESS)
}
