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

/// The tutorial's patient as the demo shares for her: the INS retrieved, qualified.
fn qualified_patient(
    id: &passerelle_proto::ins::v1::Ins,
    traits: &IdentityTraits,
) -> passerelle_proto::common::v1::PatientIdentity {
    passerelle_proto::common::v1::PatientIdentity {
        matricule: id.matricule.clone(),
        key: id.key.clone(),
        oid: id.oid.clone(),
        birth_name: traits.birth_name.clone(),
        used_name: String::new(),
        first_names: traits.first_names.clone(),
        sex: traits.sex,
        birth_date: traits.birth_date.clone(),
        birth_place: String::new(),
        status: passerelle_proto::common::v1::IdentityStatus::Qualifiee as i32,
    }
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
        dmp_listen: any_port,
        dmp_sandbox_listen: any_port,
        dmp_latency: Duration::ZERO,
        dmp_fault: None,
        mss_listen: any_port,
        mss_smtp_listen: any_port,
        mss_smtp_tls_listen: any_port,
        mss_imap_listen: any_port,
        mss_imaps_listen: any_port,
        directory_listen: any_port,
        mss_latency: Duration::ZERO,
        mss_faults: Vec::new(),
        share_listen: any_port,
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

    dmp_steps(&system, &id, &traits, data_dir_of(&opts)).await?;
    mss_steps(&system, &id, &traits, data_dir_of(&opts)).await?;
    share_step(&system, &id, &traits, data_dir_of(&opts)).await?;

    step(21, "stop");
    system.stop().await?;
    println!(
        "Demo finished: the tutorial's patient's INS was retrieved, verified and qualified with INSi (sandbox), \
         retrieved again in CPS mode with the professional's card, her VSM and a letter hidden \
         from her were deposited in her DMP (sandbox) and listed back, and a letter was sent by \
         MSSanté to her médecin traitant, found in the directory, and to her own mailbox; his \
         mailbox, read by mss-service, received it and acknowledged it to the sender; the \
         letter « Courrier standard » was then shared in one action to her DMP, to him and to \
         her own mailbox, with a confirmation per channel."
    );
    Ok(ExitCode::SUCCESS)
}

/// Step 20: the tutorial's « Partager » in one action (share-service): the letter « Courrier
/// standard » to her DMP, to Dr FOUQUEREY and to her own mailbox, followed until each channel
/// is confirmed.
async fn share_step(
    system: &Embedded,
    id: &passerelle_proto::ins::v1::Ins,
    traits: &IdentityTraits,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    use passerelle_proto::share::v1::{
        Channel, ChannelState, DocumentKind, GetShareRequest, ShareDocument, ShareRequest,
        share_service_client::ShareServiceClient,
    };

    use crate::commands::share::status_table;

    step(
        20,
        "« Partager » in one action: « Courrier standard » to her DMP, to Dr FOUQUEREY and to her own mailbox (share-service)",
    );
    let fail = |s: tonic::Status| anyhow::anyhow!("{}", output::status_message(&s));
    let endpoint = system.share_endpoint();
    let letter_file = dir.join("demo-courrier-standard.txt");
    // The patient's name from the identity the demo retrieved, not written here.
    std::fs::write(
        &letter_file,
        format!(
            "Cher confrère,\nJe vous adresse Mme {}, vue ce jour en consultation.\n",
            traits.birth_name
        ),
    )
    .with_context(|| format!("writing {}", letter_file.display()))?;
    let document_id = crate::documents::upload(&endpoint, &letter_file, "text/plain").await?;
    let mut client = ShareServiceClient::connect(endpoint).await?;
    let accepted = client
        .share(ShareRequest {
            actor: cps_actor(),
            patient: Some(qualified_patient(id, traits)),
            document: Some(ShareDocument {
                document_id,
                kind: DocumentKind::Text as i32,
                title: "Courrier standard".to_owned(),
                type_code: "11490-0".to_owned(),
                ..ShareDocument::default()
            }),
            channels: vec![
                Channel::Dmp as i32,
                Channel::MssPro as i32,
                Channel::MssCitizen as i32,
            ],
            to: vec![passerelle_sandbox::mss::JEAN_FOUQUEREY.to_owned()],
            subject: "Courrier standard".to_owned(),
            ..ShareRequest::default()
        })
        .await
        .map_err(fail)?
        .into_inner();
    println!(
        "share {} recorded; each channel runs on its own:",
        accepted.share_id
    );
    let mut stream = client
        .watch_share(GetShareRequest {
            share_id: accepted.share_id.clone(),
        })
        .await
        .map_err(fail)?
        .into_inner();
    let mut last = accepted;
    while !last.finished {
        match tokio::time::timeout(Duration::from_secs(60), stream.message()).await {
            Ok(Ok(Some(status))) => last = status,
            Ok(Ok(None)) => break,
            Ok(Err(status)) => return Err(fail(status)),
            Err(_) => anyhow::bail!("the share {} did not finish within 60 s", last.share_id),
        }
    }
    print!("{}", status_table(&last));
    if let Some(c) = last
        .channels
        .iter()
        .find(|c| c.state != ChannelState::Done as i32)
    {
        anyhow::bail!("a channel of the share is not done: {}", c.detail);
    }
    println!("✔ confirmed on each channel: DMP, MSSanté Professionnel, MSSanté Citoyen");
    Ok(())
}

/// Steps 15–19: « Partager » by MSSanté in CPS mode — the médecin traitant's address from the
/// directory, the letter to him and to the patient's own mailbox, what both mailboxes hold
/// (sandbox view), then his side: the letter read from his mailbox and acknowledged.
async fn mss_steps(
    system: &Embedded,
    id: &passerelle_proto::ins::v1::Ins,
    traits: &IdentityTraits,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    use passerelle_proto::mss::v1::{
        self as mss, Body, Document, SearchDirectoryRequest, SendRequest,
        mss_service_client::MssServiceClient, search_directory_request,
    };

    use crate::commands::mss::print;

    let fail = |s: tonic::Status| anyhow::anyhow!("{}", output::status_message(&s));
    let endpoint = system.mss_endpoint();
    let mut client = MssServiceClient::connect(endpoint.clone()).await?;

    step(
        15,
        "« Obtenir l'email »: the médecin traitant's MSSanté address in the directory",
    );
    let found = client
        .search_directory(SearchDirectoryRequest {
            by: Some(search_directory_request::By::Name("FOUQUEREY".to_owned())),
        })
        .await
        .map_err(fail)?
        .into_inner();
    print!("{}", print::directory_table(&found));
    let doctor = found
        .professionals
        .iter()
        .flat_map(|p| &p.addresses)
        .find(|a| a.r#type == mss::MailboxType::Personal as i32)
        .map(|a| a.address.clone())
        .context("Dr FOUQUEREY has no personal mailbox in the directory")?;

    step(
        16,
        "« Partager » by MSSanté: the letter to Dr FOUQUEREY and to the patient's own mailbox (CPS mode)",
    );
    let letter_file = dir.join("demo-mss-letter.txt");
    std::fs::write(
        &letter_file,
        "Cher confrère,\nVeuillez trouver ci-joint le compte rendu de consultation de notre patiente.\n",
    )
    .with_context(|| format!("writing {}", letter_file.display()))?;
    let letter_id = crate::documents::upload(&endpoint, &letter_file, "text/plain").await?;
    let sent = client
        .send(SendRequest {
            actor: cps_actor(),
            patient: Some(qualified_patient(id, traits)),
            from: String::new(),
            to: vec![doctor.clone()],
            cc: Vec::new(),
            to_patient: true,
            subject: "Courrier standard".to_owned(),
            body: Some(Body {
                text: "Bonjour,\nVeuillez trouver ci-joint le compte rendu de consultation.\n"
                    .to_owned(),
                html: String::new(),
            }),
            patient_body: None,
            document: Some(Document {
                document_id: letter_id,
                vsm: false,
                title: "Compte rendu de consultation".to_owned(),
                type_code: "11488-4".to_owned(),
                ..Document::default()
            }),
            patient_may_not_reply: true,
            secret_connection: false,
            also_in_dmp: false,
            // Dr FOUQUEREY's mailbox acknowledges it (steps 18–19).
            acknowledgement: true,
            idempotency_key: String::new(),
            check_recipients: false,
        })
        .await
        .map_err(fail)?
        .into_inner();
    print!("{}", print::send_table(&sent));

    step(
        17,
        "what the two mailboxes hold (sandbox view: the doctor's, and the patient's in « Mon espace santé »)",
    );
    let data_dir = system.mss_sandbox.data_dir();
    let patient_box = format!("{}{}@patient.mssante.fr", id.matricule, id.key);
    for (who, address) in [
        ("Dr FOUQUEREY", doctor.as_str()),
        ("the patient", patient_box.as_str()),
    ] {
        let messages = passerelle_sandbox::mss::read_mailbox(data_dir, address)
            .with_context(|| format!("reading the mailbox of {who}"))?;
        let Some(m) = messages
            .iter()
            .find(|m| sent.messages.iter().any(|s| s.message_id == m.message_id))
        else {
            anyhow::bail!("the message did not reach the mailbox of {who}");
        };
        let files: Vec<&str> = m.attachments.iter().map(|a| a.file_name.as_str()).collect();
        println!(
            "{who}: « {} » from {}, attachments: {}",
            m.subject,
            m.from,
            files.join(", ")
        );
    }

    let to_doctor = sent
        .messages
        .iter()
        .find(|m| m.audience == mss::Audience::Professionals as i32)
        .map(|m| m.message_id.clone())
        .context("no message was sent to the professionals")?;
    receiving_steps(&mut client, system, &doctor, &to_doctor).await
}

/// How long the demo waits for the mailbox to be read, then for the acknowledgement.
const RECEIVING_TIMEOUT: Duration = Duration::from_secs(60);

fn same_message_id(a: &str, b: &str) -> bool {
    a.trim().trim_matches(['<', '>']) == b.trim().trim_matches(['<', '>'])
}

/// Steps 18–19: Dr FOUQUEREY's side — mss-service reads his mailbox (IMAP, his account),
/// shows the letter as `passerelle mss inbox` does, and sends the acknowledgement (MDN) back
/// to the sender, whose mailbox then holds it.
async fn receiving_steps(
    client: &mut passerelle_proto::mss::v1::mss_service_client::MssServiceClient<
        tonic::transport::Channel,
    >,
    system: &Embedded,
    doctor: &str,
    message_id: &str,
) -> anyhow::Result<()> {
    use passerelle_proto::mss::v1::{AcknowledgementState, ListMessagesRequest};

    use crate::commands::mss::print;

    let fail = |s: tonic::Status| anyhow::anyhow!("{}", output::status_message(&s));
    step(
        18,
        "Dr FOUQUEREY's mailbox, read by mss-service (IMAP): the letter received (`passerelle mss inbox`)",
    );
    let list = |client: &mut passerelle_proto::mss::v1::mss_service_client::MssServiceClient<
        tonic::transport::Channel,
    >| {
        let mut client = client.clone();
        let mailbox = doctor.to_owned();
        async move {
            client
                .list_messages(ListMessagesRequest { mailbox, limit: 0 })
                .await
                .map(|r| r.into_inner().messages)
        }
    };
    let deadline = tokio::time::Instant::now() + RECEIVING_TIMEOUT;
    let received = loop {
        let messages = list(client).await.map_err(fail)?;
        if let Some(m) = messages
            .into_iter()
            .find(|m| same_message_id(&m.message_id, message_id))
        {
            break m;
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!(
                "Dr FOUQUEREY's mailbox did not show the letter {message_id} within {}s: \
                 mss-service did not read it (see its log for the IMAP errors)",
                RECEIVING_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // Its acknowledgement is step 19's (it may be on its way still).
    let shown = passerelle_proto::mss::v1::ReceivedMessageSummary {
        acknowledgement: None,
        ..received.clone()
    };
    print!("{}", print::summary_table(&shown));
    if received.patient_ins.is_none() {
        anyhow::bail!("the letter received carries no patient INS");
    }

    step(
        19,
        "the acknowledgement (MDN) goes back to the sender, and reaches the sender's mailbox (sandbox view)",
    );
    let ack = loop {
        let messages = list(client).await.map_err(fail)?;
        let ack = messages
            .into_iter()
            .find(|m| same_message_id(&m.message_id, message_id))
            .and_then(|m| m.acknowledgement)
            .unwrap_or_default();
        let state = AcknowledgementState::try_from(ack.state).unwrap_or_default();
        match state {
            AcknowledgementState::AcknowledgementSent => break ack,
            AcknowledgementState::AcknowledgementHeld
            | AcknowledgementState::AcknowledgementFailed
            | AcknowledgementState::AcknowledgementNotRequested => anyhow::bail!(
                "the acknowledgement was not sent: {} {}",
                print::acknowledgement_state_name(ack.state),
                ack.detail
            ),
            AcknowledgementState::AcknowledgementUncertain => anyhow::bail!(
                "the acknowledgement may or may not have left (the service stopped while sending it): {}",
                ack.detail
            ),
            // Not settled yet (the listing shows none while the MDN is being sent).
            AcknowledgementState::Unspecified => {}
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!(
                "the acknowledgement of {message_id} was not sent within {}s (last state: {})",
                RECEIVING_TIMEOUT.as_secs(),
                print::acknowledgement_state_name(ack.state)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    println!(
        "acknowledgement SENT by {doctor} to {} (Message-ID {})",
        ack.to, ack.mdn_message_id
    );
    let deadline = tokio::time::Instant::now() + RECEIVING_TIMEOUT;
    let mdn = loop {
        let messages =
            passerelle_sandbox::mss::read_mailbox(system.mss_sandbox.data_dir(), &ack.to)
                .with_context(|| format!("reading the mailbox of {}", ack.to))?;
        // By its Message-ID; by its form and the letter it answers if none was reported.
        if let Some(m) = messages.into_iter().find(|m| {
            if ack.mdn_message_id.is_empty() {
                std::fs::read_to_string(&m.file).is_ok_and(|raw| {
                    raw.contains("disposition-notification")
                        && raw.contains(message_id.trim_matches(['<', '>']))
                })
            } else {
                same_message_id(&m.message_id, &ack.mdn_message_id)
            }
        }) {
            break m;
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!(
                "the acknowledgement {} did not reach the mailbox of {}",
                ack.mdn_message_id,
                ack.to
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    println!("{}: « {} » from {}", ack.to, mdn.subject, mdn.from);
    Ok(())
}

fn data_dir_of(opts: &EmbeddedOptions) -> &std::path::Path {
    &opts.data_dir
}

/// The tutorial's VSM for Nathalie PAT-DOUZE: her history as the tutorial's screen shows it,
/// her long-term treatment and her médecin traitant.
const TUTORIAL_VSM: &str = r#"{
  "chronic_pathologies": [{"label": "Asthme à l'effort", "start": "2012"}],
  "surgical_history": [{"label": "HTA", "start": "2020"}],
  "long_term_treatments": [{"label": "DOLIPRANE 1000 mg", "start": "2024-09-23", "end": "2024-10-02"}],
  "attending_physician": {"last_name": "FOUQUEREY", "first_name": "JEAN", "rpps": "99900063480"}
}"#;

/// Steps 10–14: the patient's DMP in CPS mode — status, the VSM, a letter hidden from the
/// patient, the list, and what the patient sees.
async fn dmp_steps(
    system: &Embedded,
    id: &passerelle_proto::ins::v1::Ins,
    traits: &IdentityTraits,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    use passerelle_proto::dmp::v1::{
        self as dmp, Access, AccessMode, AuthorizationAction, DepositOptions, DepositRequest,
        DepositVsmRequest, GetStatusRequest, ListDocumentsRequest, SetAuthorizationRequest,
        dmp_service_client::DmpServiceClient,
    };

    use crate::commands::dmp::print;

    let endpoint = system.dmp_endpoint();
    let mut dmp_client = DmpServiceClient::connect(endpoint.clone()).await?;
    let access = || {
        Some(Access {
            actor: cps_actor(),
            mode: AccessMode::Normal as i32,
            reason: String::new(),
        })
    };
    let patient = Some(qualified_patient(id, traits));
    let fail = |s: tonic::Status| {
        let message = output::status_message(&s);
        anyhow::anyhow!("{}", message.trim_start_matches("error: ").to_owned())
    };

    step(
        10,
        "« DMP → Accueil »: the patient's DMP, and whether the professional is authorised (TD0.2)",
    );
    println!(
        "dmp-service: {endpoint}; DMP sandbox: {}",
        system.dmp_sandbox.url()
    );
    let status = dmp_client
        .get_status(GetStatusRequest {
            access: access(),
            patient: patient.clone(),
        })
        .await
        .map_err(fail)?
        .into_inner();
    print!("{}", print::status_table(&status));
    if status.authorization != dmp::Authorization::Valid as i32 {
        println!("the patient consents: the professional declares themself authorised (TD0.3)");
        let set = dmp_client
            .set_authorization(SetAuthorizationRequest {
                access: access(),
                patient: patient.clone(),
                action: AuthorizationAction::Add as i32,
                attending_physician: false,
            })
            .await
            .map_err(fail)?
            .into_inner();
        print!("{}", print::authorization_table(&set));
    }

    step(
        11,
        "« Valider et partager dans le DMP »: the VSM (chronic pathology, surgical history, treatment)",
    );
    let vsm_file = dir.join("demo-vsm.json");
    std::fs::write(&vsm_file, TUTORIAL_VSM)
        .with_context(|| format!("writing {}", vsm_file.display()))?;
    let vsm_id = crate::documents::upload(&endpoint, &vsm_file, "application/json").await?;
    let vsm = dmp_client
        .deposit_vsm(DepositVsmRequest {
            access: access(),
            patient: patient.clone(),
            vsm_document_id: vsm_id,
            idempotency_key: String::new(),
        })
        .await
        .map_err(fail)?
        .into_inner();
    print!("{}", print::deposit_table(&vsm));

    step(
        12,
        "a letter deposited hidden from the patient (« non visible par le patient »)",
    );
    let letter_file = dir.join("demo-letter.txt");
    std::fs::write(
        &letter_file,
        "Chère consœur,\nJe vous adresse notre patiente pour le suivi de son asthme d'effort.\n",
    )
    .with_context(|| format!("writing {}", letter_file.display()))?;
    let letter_id = crate::documents::upload(&endpoint, &letter_file, "text/plain").await?;
    let letter = dmp_client
        .deposit(DepositRequest {
            access: access(),
            patient: patient.clone(),
            document_id: letter_id,
            options: Some(DepositOptions {
                title: "Courrier standard".to_owned(),
                type_code: "11490-0".to_owned(),
                confidentiality: dmp::Confidentiality::Normal as i32,
                hide_from_patient: true,
                ..DepositOptions::default()
            }),
            more: Vec::new(),
        })
        .await
        .map_err(fail)?
        .into_inner();
    print!("{}", print::deposit_table(&letter));

    step(13, "the patient's documents, listed back (TD3.1)");
    let list = dmp_client
        .list_documents(ListDocumentsRequest {
            access: access(),
            patient: patient.clone(),
            ..ListDocumentsRequest::default()
        })
        .await
        .map_err(fail)?
        .into_inner();
    print!("{}", print::list_table(&list));
    let listed = list
        .documents
        .iter()
        .find(|d| d.unique_id == letter.unique_id)
        .context("the letter deposited is not in the list")?;
    let visibility = listed.visibility.unwrap_or_default();
    println!(
        "the letter: visible to professionals {}, to the patient {}, to her legal representatives {}",
        yes_no(visibility.professionals),
        yes_no(visibility.patient),
        yes_no(visibility.legal_representatives)
    );
    if visibility.patient {
        anyhow::bail!("the letter should be hidden from the patient");
    }

    step(
        14,
        "what the patient sees in « Mon espace santé » (sandbox view): the VSM, not the letter",
    );
    let seen = passerelle_sandbox::dmp::view::fetch(
        &system.dmp_sandbox.url(),
        &passerelle_sandbox::dmp::view::ViewClientTls::organisation(&system.pki),
        &format!("{}{}", id.matricule, id.key),
        "patient",
    )
    .await
    .context("reading the sandbox's patient view")?;
    for d in &seen.documents {
        println!("  {}  {}  [{}]", d.created, d.title, d.type_code);
    }
    if seen
        .documents
        .iter()
        .any(|d| d.unique_id == letter.unique_id)
    {
        anyhow::bail!("the patient sees the letter hidden from her");
    }
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
