//! `passerelle demo`: the tutorial's workflow, step by step, against the embedded sandbox.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use card_agent::backend::software::SANDBOX_CPS_PIN;
use clap::Args;
use passerelle_proto::card::v1::{
    self as card, card_agent_client::CardAgentClient, read_card_response::Card,
};
use passerelle_proto::common::v1::{Actor, CpsMode, OrganisationMode, actor};
use passerelle_proto::ins::v1::{
    CheckMatriculeRequest, DocumentCheck, DocumentType, IdentityStatus, IdentityTraits, KnownIns,
    QualifyIdentityRequest, SearchByTraitsRequest, SearchResult, Sex, VerifyInsRequest,
    ins_service_client::InsServiceClient,
};
use passerelle_sandbox::tutorial;
use passerelle_service_kit::Shutdown;

use crate::commands::card::unlock_text;
use crate::embedded::{CARD_WORKSTATION, Embedded, EmbeddedOptions};
use crate::output;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Use this NATS server as the bus instead of the in-process bus.
    #[arg(long)]
    pub nats: Option<String>,
    /// Where the sandbox keeps its test PKI (default: a temporary folder).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

fn actor() -> Option<Actor> {
    Some(Actor {
        mode: Some(actor::Mode::Organisation(OrganisationMode {
            on_behalf_of: "passerelle-demo".to_owned(),
        })),
        professional: None,
    })
}

/// CPS mode: the professional's card in the reader of this workstation signs.
fn cps_actor() -> Option<Actor> {
    Some(Actor {
        mode: Some(actor::Mode::Cps(CpsMode {
            workstation_id: CARD_WORKSTATION.to_owned(),
        })),
        professional: None,
    })
}

fn step(n: u32, title: &str) {
    println!("\n== Step {n}: {title}");
}

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let temp = tempfile::tempdir().context("creating a temporary data folder")?;
    let data_dir = args.data_dir.unwrap_or_else(|| temp.path().to_owned());
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let opts = EmbeddedOptions {
        data_dir,
        nats_url: args.nats,
        ins_listen: any_port,
        insi_listen: any_port,
        insi_latency: Duration::ZERO,
        insi_fault: None,
        card_listen: any_port,
    };

    step(1, "start the sandbox and the services");
    let system = Embedded::start(&opts, Shutdown::new()).await?;
    println!("bus: {}", system.bus.describe());
    println!("ins-service: {}", system.ins_endpoint());
    println!("INSi sandbox: {}", system.insi.url());
    let mut ins = InsServiceClient::connect(system.ins_endpoint()).await?;

    let patient = tutorial::patient();
    step(
        2,
        "« Obtenir l'INSi sans carte Vitale »: search the patient's INS by identity traits",
    );
    println!(
        "traits typed by the professional: {} {} {}, born {}",
        patient.birth_name,
        patient.first_names.join(" "),
        patient.sex,
        patient.birth_date
    );
    let traits = IdentityTraits {
        birth_name: patient.birth_name.clone(),
        used_name: String::new(),
        first_names: patient.first_names.clone(),
        sex: if patient.sex == "F" {
            Sex::Female
        } else {
            Sex::Male
        } as i32,
        birth_date: patient.birth_date.clone(),
        birth_place: String::new(),
    };
    let request = SearchByTraitsRequest {
        actor: actor(),
        traits: Some(traits.clone()),
    };
    let found = match ins.search_by_traits(request).await {
        Ok(r) => r.into_inner(),
        Err(status) => anyhow::bail!("{}", output::status_message(&status)),
    };
    print!("{}", output::search_table(&found));
    if found.result != SearchResult::Found as i32 {
        anyhow::bail!("the sandbox did not find the tutorial's patient");
    }

    step(3, "check the INS returned (matricule key)");
    let id = found
        .identity
        .and_then(|i| i.ins)
        .context("the answer has no INS")?;
    let check = ins
        .check_matricule(CheckMatriculeRequest {
            matricule: id.matricule.clone(),
            key: id.key.clone(),
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", output::status_message(&s)))?
        .into_inner();
    println!("{}", check.message);

    step(
        4,
        "« Vérifiez les informations »: verify the INS against the patient's file, trait by trait",
    );
    let known = KnownIns {
        matricule: id.matricule.clone(),
        key: id.key.clone(),
        oid: id.oid.clone(),
    };
    let verified = ins
        .verify_ins(VerifyInsRequest {
            actor: actor(),
            ins: Some(known.clone()),
            traits: Some(traits.clone()),
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", output::status_message(&s)))?
        .into_inner();
    print!("{}", output::verify_table(&verified));

    step(
        5,
        "« validez pour qualifier l'INS »: identity checked on a passport, INS verified → qualifiée",
    );
    let qualified = ins
        .qualify_identity(QualifyIdentityRequest {
            actor: actor(),
            traits: Some(traits.clone()),
            ins: Some(known),
            document: Some(DocumentCheck {
                r#type: DocumentType::Passport as i32,
                checked_by: "demo-reception-desk".to_owned(),
                checked_at: String::new(),
            }),
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", output::status_message(&s)))?
        .into_inner();
    print!("{}", output::qualify_table(&qualified));
    if qualified.status != IdentityStatus::Qualifiee as i32 {
        anyhow::bail!("the tutorial's patient was not qualified");
    }

    step(
        6,
        "« Identité non trouvée »: the compound birth name typed with a space instead of a hyphen",
    );
    let mut typo = traits.clone();
    typo.birth_name = patient.birth_name.replace('-', " ");
    let not_found = ins
        .search_by_traits(SearchByTraitsRequest {
            actor: actor(),
            traits: Some(typo),
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", output::status_message(&s)))?
        .into_inner();
    print!("{}", output::search_table(&not_found));

    step(
        7,
        "the professional's CPS in the reader: the card-agent of this workstation reads it",
    );
    println!(
        "card-agent: {} (workstation {CARD_WORKSTATION}, local gRPC)",
        system.card_endpoint()
    );
    let mut agent = CardAgentClient::connect(system.card_endpoint()).await?;
    let read = agent
        .read_card(card::ReadCardRequest::default())
        .await
        .map_err(|s| anyhow::anyhow!("{}", output::status_message(&s)))?
        .into_inner();
    let Some(Card::Cps(holder)) = read.card else {
        anyhow::bail!("the card in {} is not a CPS", read.reader);
    };
    println!("Reader      {}", read.reader);
    println!("Holder      {} {}", holder.first_name, holder.last_name);
    println!(
        "{:<11} {}",
        match card::IdType::try_from(holder.id_type) {
            Ok(card::IdType::Adeli) => "ADELI",
            Ok(card::IdType::Other) => "Id",
            _ => "RPPS",
        },
        holder.id
    );
    println!(
        "Profession  {} {}",
        holder.profession, holder.profession_label
    );
    println!("Card serial {}", holder.card_serial);

    step(
        8,
        "« code porteur »: the professional types the CPS's PIN on the workstation",
    );
    println!(
        "test PIN {SANDBOX_CPS_PIN} of the sandbox's CPS, given to the card-agent on its local gRPC channel \
         (loopback, `passerelle card unlock --pin-stdin`); a PIN never travels over the bus"
    );
    let unlocked = agent
        .unlock(card::UnlockRequest {
            reader: read.reader.clone(),
            pin: SANDBOX_CPS_PIN.to_owned(),
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", output::status_message(&s)))?
        .into_inner();
    println!("{}", unlock_text(&unlocked));

    step(
        9,
        "« Obtenir l'INSi » in CPS mode: the assertion signed with the professional's CPS",
    );
    println!(
        "ins-service asks the card-agent of workstation {CARD_WORKSTATION} over the bus \
         (assertion: signature key; TLS: authentication key), without the PIN"
    );
    let cps_found = ins
        .search_by_traits(SearchByTraitsRequest {
            actor: cps_actor(),
            traits: Some(traits.clone()),
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}", output::status_message(&s)))?
        .into_inner();
    print!("{}", output::search_table(&cps_found));
    if cps_found.result != SearchResult::Found as i32 {
        anyhow::bail!("the sandbox did not find the tutorial's patient in CPS mode");
    }

    step(10, "stop");
    system.stop().await?;
    println!(
        "Demo finished: the tutorial's patient's INS was retrieved, verified and qualified with INSi (sandbox), \
         then retrieved again in CPS mode with the professional's card."
    );
    Ok(ExitCode::SUCCESS)
}
