//! mss-service: MSSanté secure health mail for any hospital or health-centre software, over
//! gRPC and the bus — a letter to professionals (MSSanté Professionnel) and to the patient's
//! own mailbox (MSSanté Citoyen), and the directory's MSSanté addresses.
//!
//! - [`address`]: MSSanté addresses, the patient's from a qualified INS;
//! - [`rules`]: the MSSanté management matrix (recipients × the document's visibility);
//! - [`message`]: the messages by the MSSanté rules (MIME, IHE_XDM.zip, `X-MSS-*` headers);
//! - [`inbox`]: reading a received message (MIME, the `IHE_XDM.zip` checked against its
//!   metadata, `X-MSS-*` headers, the patient's INS), a pure library;
//! - [`mdn`]: the acknowledgement (MDN, RFC 8098) of a received message, and whether it may go;
//! - [`smtp`]: the SMTP submission client (STARTTLS or implicit TLS, certificate, SASL
//!   EXTERNAL or password);
//! - [`imap`]: the IMAP client reading a mailbox (implicit TLS or STARTTLS, certificate with
//!   SASL EXTERNAL, or password; SELECT, UID SEARCH/FETCH/STORE, IDLE);
//! - [`receiving`]: the mailboxes read (IMAP IDLE or polling), each message's documents
//!   stored and `MssMessageReceived` published exactly once, its MDN at most once;
//! - [`sharing`]: the MSSanté channels of a share (`ShareRequested` → `ShareChannelResult`),
//!   sent once through an outbox;
//! - [`directory`]: the national directory (Annuaire Santé FHIR API, extraction file);
//! - [`access`]: who sends (the professional, the card or the organisation's certificate);
//! - [`service`]: the logic, independent of transport, with its typed [`errors`];
//! - [`events`]: `MssMessageSent` and the audit record of each message sent (or failed session);
//! - [`worker`]: which subject each operation answers; [`grpc`]: the gRPC face;
//! - [`config`]: the service's own settings; [`start`] assembles them with the service kit.

pub mod access;
pub mod address;
pub mod config;
pub mod directory;
pub mod errors;
pub mod events;
pub mod grpc;
pub mod imap;
pub mod inbox;
pub mod mdn;
pub mod message;
pub mod receiving;
pub mod rules;
pub mod service;
pub mod sharing;
pub mod smtp;
mod transport;
pub mod worker;

use passerelle_bus::SharedBus;
use passerelle_proto::mss::v1::mss_service_server::{self, MssServiceServer};
use passerelle_service_kit::settings::KitSettings;
use passerelle_service_kit::{Face, Roles, RunningService, Shutdown, StartError};

pub use config::MssSettings;

/// The service's name: its queue group on the bus, its NATS connection name.
pub const SERVICE_NAME: &str = "mss-service";
/// Default port of the gRPC face.
pub const GRPC_PORT: u16 = 50053;

/// A started MSS service.
pub type RunningMssService = RunningService;

/// What can stop the worker from starting.
#[derive(Debug, thiserror::Error)]
pub enum WorkerSetupError {
    #[error("mss.smtp: {0}")]
    Smtp(#[from] smtp::SmtpError),
    #[error("mss.directory: {0}")]
    Directory(#[from] directory::FhirError),
    #[error(
        "mss.source_id {0:?} is not an OID: give the OID of your software (the XDM submission set's sourceId)"
    )]
    SourceId(String),
    #[error(transparent)]
    Audit(#[from] passerelle_service_kit::audit::AuditError),
    #[error("the document store: {0}")]
    Documents(#[from] passerelle_bus::BusError),
    #[error(transparent)]
    Receiving(#[from] receiving::ReceivingSetupError),
    #[error("sharing (the mss-share consumer, the outbox): {0}")]
    Sharing(passerelle_bus::BusError),
}

/// Starts the MSS service on `bus` in `roles`: the worker (a replica sharing MSS requests,
/// with its SMTP client and directory) and the gRPC face (forwarding to the bus).
pub async fn start(
    kit: &KitSettings,
    settings: &MssSettings,
    bus: SharedBus,
    roles: Roles,
    shutdown: Shutdown,
) -> Result<RunningMssService, StartError> {
    let worker_bus = bus.clone();
    let limits = kit.documents;
    let receiver_shutdown = shutdown.clone();
    let share_shutdown = shutdown.clone();
    let handlers = || async move {
        let source_id = settings.mss.source_id.trim();
        if !is_oid(source_id) {
            return Err(WorkerSetupError::SourceId(source_id.to_owned()));
        }
        // No SMTP host: the directory and the preview still work; a send says what to set.
        let smtp = if settings.mss.smtp.host.trim().is_empty() {
            None
        } else {
            Some(smtp::SmtpClient::new(&settings.mss.smtp)?)
        };
        let directory = directory::Directory::new(&settings.mss.directory)?;
        let hasher = passerelle_service_kit::audit::InsHasher::from_settings(&settings.audit)?;
        let documents = worker_bus.documents(limits).await?;
        let resolver = access::Resolver {
            bus: worker_bus.clone(),
            card_timeout: settings.card_timeout,
        };
        let receiving = &settings.mss.receiving;
        let receiver = receiving::Receiver::start(
            receiving,
            &settings.mss.smtp,
            worker_bus.clone(),
            documents.clone(),
            settings.platform(),
            format!("{SERVICE_NAME}-{}", uuid::Uuid::new_v4()),
            receiver_shutdown,
        )
        .await?;
        let mut core = service::MssCore::new(
            settings.clone(),
            smtp,
            directory,
            resolver,
            documents,
            hasher,
            Some(worker_bus.clone()),
        );
        if !receiving.mailboxes.is_empty() {
            core = core.with_inbox(worker_bus.key_value(receiving::tracking::BUCKET).await?);
        }
        let sharing = sharing::Sharing::start(
            &settings.share,
            worker_bus.clone(),
            core.clone(),
            share_shutdown,
        )
        .await
        .map_err(WorkerSetupError::Sharing)?;
        let handlers = worker::handlers(core.clone()).on_stopped(async move {
            receiver.wait().await;
            sharing.wait().await;
            core.flush().await;
        });
        Ok::<_, WorkerSetupError>(handlers)
    };
    let face = |forwarder| {
        let routes = tonic::service::Routes::new(MssServiceServer::new(grpc::MssGrpc(forwarder)));
        Face::new(routes, &[mss_service_server::SERVICE_NAME])
    };
    passerelle_service_kit::service::start(SERVICE_NAME, kit, bus, roles, face, handlers, shutdown)
        .await
}

/// An OID in dotted form: arcs of digits, no leading zero, at least two.
fn is_oid(s: &str) -> bool {
    let arcs: Vec<&str> = s.split('.').collect();
    arcs.len() >= 2
        && arcs.iter().all(|a| {
            !a.is_empty()
                && a.bytes().all(|b| b.is_ascii_digit())
                && (a.len() == 1 || !a.starts_with('0'))
        })
}
