//! Every failure of the MSS service, by what the caller can do about it, and its gRPC status:
//! a code, a machine-readable reason (google.rpc.ErrorInfo) with the SMTP server's reply as
//! `upstream_code` (`550 5.1.1`) or the MSSanté rule at fault as `rule`, the field at fault,
//! and a message saying what to do.

use passerelle_service_kit::errors::RichError;
use passerelle_service_kit::identity::{PatientError, reasons as identity_reasons};
use passerelle_service_kit::letters::{DocumentProblem, RequestFields};
use tonic::{Code, Status};

use crate::access::AccessError;
use crate::address::AddressError;
use crate::directory::{DirectoryError, FhirError, ImportError, IndexError};
use crate::message::MessageError;
use crate::rules::Refusal;
use crate::smtp::SmtpError;

/// ErrorInfo reasons of the MSS service.
pub mod reasons {
    /// The MSSanté management matrix (or the patient's mailbox rules) refuses this send;
    /// metadata `rule` (the first) and `rules` (all).
    pub const MSS_RULE_REFUSED: &str = "MSS_RULE_REFUSED";
    /// The patient's INS is not qualified: no message to their mailbox.
    pub const INS_NOT_QUALIFIED: &str = "INS_NOT_QUALIFIED";
    /// An address is not an address.
    pub const INVALID_ADDRESS: &str = "INVALID_ADDRESS";
    /// A field of the request is missing or wrong.
    pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
    /// No sender: none given, none configured, none in the directory for the card holder.
    pub const NO_SENDER: &str = "NO_SENDER";
    /// The SMTP server refused the authentication.
    pub const SMTP_AUTH_FAILED: &str = "SMTP_AUTH_FAILED";
    /// The SMTP server refused the sender, every recipient, or the message.
    pub const SMTP_REFUSED: &str = "SMTP_REFUSED";
    /// The SMTP server cannot be reached or answered a temporary failure: retry.
    pub const SMTP_UNAVAILABLE: &str = "SMTP_UNAVAILABLE";
    /// TLS with the SMTP server failed.
    pub const SMTP_TLS: &str = "SMTP_TLS";
    /// The message is larger than the server takes.
    pub const MESSAGE_TOO_LARGE: &str = "MESSAGE_TOO_LARGE";
    /// The directory cannot answer (unreachable, key refused).
    pub const DIRECTORY_UNAVAILABLE: &str = "DIRECTORY_UNAVAILABLE";
    /// The service is not configured for this (SMTP server, directory, sender).
    pub const MSS_CONFIGURATION: &str = "MSS_CONFIGURATION";
    /// The document cannot be packed (its XDS metadata).
    pub const INVALID_DOCUMENT: &str = "INVALID_DOCUMENT";
    /// One audience's message went, the other's did not (`sent_message_id`).
    pub const PARTLY_SENT: &str = "PARTLY_SENT";
    /// The service does not read this mailbox (not under `[[mss.receiving.mailboxes]]`).
    pub const MAILBOX_NOT_READ: &str = "MAILBOX_NOT_READ";
    /// The mailbox holds no received message with this Message-ID.
    pub const MESSAGE_NOT_FOUND: &str = "MESSAGE_NOT_FOUND";
    /// The inbox bookkeeping (the bus's key-value store) cannot be read: retry.
    pub const INBOX_UNAVAILABLE: &str = "INBOX_UNAVAILABLE";
    pub const INTERNAL: &str = "INTERNAL";
}

#[derive(Debug, thiserror::Error)]
pub enum MssServiceError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Patient(#[from] PatientError),
    #[error("{field}: {error}")]
    Address { field: String, error: AddressError },
    #[error("{0}")]
    Refused(Refusal),
    #[error(
        "no sender: give `from` (your MSSanté mailbox){}",
        if *.cps { ", or register the card holder's personal mailbox in the directory" } else { ", or configure mss.default_from (the organisation's mailbox)" }
    )]
    NoSender { cps: bool },
    #[error("{field}: {message}")]
    InvalidRequest {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Document(#[from] DocumentProblem),
    #[error("the message: {0}")]
    Message(#[from] MessageError),
    #[error("the SMTP server: {0}")]
    Smtp(#[from] SmtpError),
    /// The professionals' message went; the patient's did not (send again with the same
    /// idempotency key: the same Message-IDs, so receivers can tell a repeat).
    #[error("the message {sent} was sent, the next one was not: {error}")]
    PartlySent { sent: String, error: SmtpError },
    #[error("the IHE_XDM.zip: {0}")]
    Xdm(#[from] passerelle_clinical_documents::xdm::XdmError),
    #[error("the directory: {0}")]
    Directory(#[from] DirectoryError),
    /// Recipients typed by the user that the directory does not publish (`check_recipients`),
    /// named by their fields (`to[1]`): an address is never repeated in an error.
    #[error(
        "{} {}: check the spelling, or pick the address from `passerelle mss directory --name NAME` (a mailbox on the red list is not published: send without the directory check)",
        .fields.join(", "),
        if .fields.len() == 1 { "is not an MSSanté mailbox in the directory" } else { "are not MSSanté mailboxes in the directory" }
    )]
    NotInDirectory { fields: Vec<String> },
    /// The directory could not check the recipients.
    #[error("the recipients could not be checked in the directory: {0}")]
    RecipientCheck(DirectoryError),
    #[error("the directory's import: {0}")]
    Import(#[from] ImportError),
    #[error(
        "mss-service does not read the mailbox {mailbox}: add it under [[mss.receiving.mailboxes]] (address, and imap_auth if it has its own account)"
    )]
    MailboxNotRead { mailbox: String },
    #[error(
        "the mailbox holds no received message {message_id}: list them with `passerelle mss inbox --mailbox ADDR`"
    )]
    MessageNotFound { message_id: String },
    #[error("the received messages cannot be read now: {0}")]
    Inbox(#[from] crate::receiving::tracking::TrackingError),
    #[error("{0}")]
    Configuration(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, MssServiceError>;

impl From<MssServiceError> for Status {
    fn from(e: MssServiceError) -> Self {
        status(&e)
    }
}

fn status(e: &MssServiceError) -> Status {
    let message = e.to_string();
    match e {
        MssServiceError::Access(a) => access_status(a),
        MssServiceError::Patient(p) => p.to_status(),
        MssServiceError::Address { field, .. } => RichError::new(
            Code::InvalidArgument,
            reasons::INVALID_ADDRESS,
            message.clone(),
        )
        .field(field.clone(), message)
        .into(),
        MssServiceError::Refused(r) => {
            let reason = if r.only_ins_not_qualified() {
                reasons::INS_NOT_QUALIFIED
            } else {
                reasons::MSS_RULE_REFUSED
            };
            let mut rich = RichError::new(Code::FailedPrecondition, reason, message);
            if let Some(first) = r.first() {
                rich = rich.metadata("rule", first.id());
            }
            rich.metadata("rules", r.ids().join(",")).into()
        }
        MssServiceError::NoSender { .. } => RichError::new(
            Code::FailedPrecondition,
            reasons::NO_SENDER,
            message.clone(),
        )
        .field("from", message)
        .into(),
        MssServiceError::InvalidRequest { field, .. } => RichError::new(
            Code::InvalidArgument,
            reasons::INVALID_REQUEST,
            message.clone(),
        )
        .field(*field, message)
        .into(),
        MssServiceError::Document(d) => d.status(
            reasons::MSS_CONFIGURATION,
            &RequestFields {
                actor: "actor",
                idempotency_key: "idempotency_key",
                document_id: "document.document_id",
            },
        ),
        MssServiceError::Message(m) => match m {
            MessageError::EmptyKey | MessageError::KeyTooLong(_) => RichError::new(
                Code::InvalidArgument,
                reasons::INVALID_REQUEST,
                message.clone(),
            )
            .field("idempotency_key", message)
            .into(),
            MessageError::FromPatient => RichError::new(
                Code::InvalidArgument,
                reasons::INVALID_ADDRESS,
                message.clone(),
            )
            .field("from", message)
            .into(),
            MessageError::NoSubject => RichError::new(
                Code::InvalidArgument,
                reasons::INVALID_REQUEST,
                message.clone(),
            )
            .field("subject", message)
            .into(),
            MessageError::BadNil => RichError::new(
                Code::FailedPrecondition,
                reasons::MSS_CONFIGURATION,
                message,
            )
            .into(),
        },
        MssServiceError::Smtp(s) => smtp_status(s, message),
        MssServiceError::PartlySent { sent, error } => {
            let status = smtp_status(error, message);
            let rich = RichError::new(status.code(), reasons::PARTLY_SENT, status.message())
                .metadata("sent_message_id", sent.clone());
            match error.reply() {
                Some(reply) => rich
                    .metadata(
                        "upstream_code",
                        match &reply.enhanced {
                            Some(e) => format!("{} {e}", reply.code),
                            None => reply.code.to_string(),
                        },
                    )
                    .into(),
                None => rich.into(),
            }
        }
        MssServiceError::Xdm(_) => RichError::new(
            Code::InvalidArgument,
            reasons::INVALID_DOCUMENT,
            message.clone(),
        )
        .field("document", message)
        .into(),
        MssServiceError::Directory(d) => directory_status(d, message),
        MssServiceError::NotInDirectory { fields } => {
            let mut rich = RichError::new(
                Code::InvalidArgument,
                reasons::INVALID_ADDRESS,
                message.clone(),
            )
            .metadata("fields", fields.join(","));
            if let Some(first) = fields.first() {
                rich = rich.field(first.clone(), message);
            }
            rich.into()
        }
        MssServiceError::RecipientCheck(d) => {
            let (code, reason) = match d {
                DirectoryError::NotConfigured | DirectoryError::NotImported { .. } => {
                    (Code::FailedPrecondition, reasons::MSS_CONFIGURATION)
                }
                _ => (Code::Unavailable, reasons::DIRECTORY_UNAVAILABLE),
            };
            RichError::new(code, reason, message).into()
        }
        MssServiceError::Import(i) => match i {
            ImportError::NotConfigured | ImportError::Index(IndexError::Io { .. }) => {
                RichError::new(
                    Code::FailedPrecondition,
                    reasons::MSS_CONFIGURATION,
                    message,
                )
                .into()
            }
            ImportError::Extraction(_) | ImportError::NothingImported { .. } => RichError::new(
                Code::InvalidArgument,
                reasons::INVALID_DOCUMENT,
                message.clone(),
            )
            .field("document_id", message)
            .into(),
            ImportError::Index(IndexError::Storage { .. }) => {
                RichError::new(Code::Internal, reasons::INTERNAL, message).into()
            }
        },
        MssServiceError::MailboxNotRead { .. } => {
            RichError::new(Code::NotFound, reasons::MAILBOX_NOT_READ, message.clone())
                .field("mailbox", message)
                .into()
        }
        MssServiceError::MessageNotFound { .. } => {
            RichError::new(Code::NotFound, reasons::MESSAGE_NOT_FOUND, message.clone())
                .field("message_id", message)
                .into()
        }
        MssServiceError::Inbox(_) => {
            RichError::new(Code::Unavailable, reasons::INBOX_UNAVAILABLE, message).into()
        }
        MssServiceError::Configuration(_) => RichError::new(
            Code::FailedPrecondition,
            reasons::MSS_CONFIGURATION,
            message,
        )
        .into(),
        MssServiceError::Internal(_) => {
            RichError::new(Code::Internal, reasons::INTERNAL, message).into()
        }
    }
}

fn smtp_status(s: &SmtpError, message: String) -> Status {
    use SmtpError as E;
    if let E::Card(c) = s {
        return c.to_rich_error().into();
    }
    let (code, reason) = match s {
        E::AuthUnavailable { .. } | E::AuthRefused { .. } => {
            (Code::Unauthenticated, reasons::SMTP_AUTH_FAILED)
        }
        // Every refusal temporary (`450 4.2.1` mailbox busy): the same send later goes.
        E::AllRecipientsRefused { .. } | E::RecipientsRefused { .. } if s.is_retryable() => {
            (Code::Unavailable, reasons::SMTP_UNAVAILABLE)
        }
        E::SenderRefused { .. }
        | E::AllRecipientsRefused { .. }
        | E::RecipientsRefused { .. }
        | E::Permanent { .. } => (Code::FailedPrecondition, reasons::SMTP_REFUSED),
        E::Transient { .. } | E::Connect { .. } | E::Timeout { .. } | E::ConnectionLost { .. } => {
            (Code::Unavailable, reasons::SMTP_UNAVAILABLE)
        }
        E::Tls { .. } | E::StartTlsUnavailable { .. } => (Code::Unavailable, reasons::SMTP_TLS),
        E::MessageTooLarge { .. } => (Code::InvalidArgument, reasons::MESSAGE_TOO_LARGE),
        E::InvalidAddress { .. } => (Code::InvalidArgument, reasons::INVALID_ADDRESS),
        E::Config { .. } | E::EightBitUnsupported => {
            (Code::FailedPrecondition, reasons::MSS_CONFIGURATION)
        }
        E::Protocol { .. } | E::Card(_) => (Code::Unavailable, reasons::SMTP_UNAVAILABLE),
    };
    let mut rich = RichError::new(code, reason, message);
    if let Some(reply) = s.reply() {
        let upstream = match &reply.enhanced {
            Some(e) => format!("{} {e}", reply.code),
            None => reply.code.to_string(),
        };
        rich = rich.metadata("upstream_code", upstream);
    }
    rich.into()
}

fn directory_status(d: &DirectoryError, message: String) -> Status {
    let (code, reason, field) = match d {
        DirectoryError::InvalidRpps { .. } => (
            Code::InvalidArgument,
            reasons::INVALID_REQUEST,
            Some("rpps"),
        ),
        DirectoryError::EmptyName => (
            Code::InvalidArgument,
            reasons::INVALID_REQUEST,
            Some("name"),
        ),
        DirectoryError::InvalidAddress { .. } => (
            Code::InvalidArgument,
            reasons::INVALID_ADDRESS,
            Some("address"),
        ),
        DirectoryError::TooManyResults { .. } => (
            Code::InvalidArgument,
            reasons::INVALID_REQUEST,
            Some("name"),
        ),
        DirectoryError::NotConfigured | DirectoryError::NotImported { .. } => {
            (Code::FailedPrecondition, reasons::MSS_CONFIGURATION, None)
        }
        DirectoryError::Fhir(FhirError::BadRequest { .. }) => {
            (Code::InvalidArgument, reasons::INVALID_REQUEST, None)
        }
        DirectoryError::Fhir(_) | DirectoryError::Index(_) => {
            (Code::Unavailable, reasons::DIRECTORY_UNAVAILABLE, None)
        }
    };
    let rich = RichError::new(code, reason, message.clone());
    match field {
        Some(f) => rich.field(f, message).into(),
        None => rich.into(),
    }
}

fn access_status(a: &AccessError) -> Status {
    let message = a.to_string();
    match a {
        AccessError::Card(c) => c.to_rich_error().into(),
        AccessError::Professional(p) => passerelle_service_kit::identity::invalid_actor(p),
        AccessError::BadWorkstation(_) => RichError::new(
            Code::InvalidArgument,
            passerelle_card_client::reasons::INVALID_WORKSTATION,
            message.clone(),
        )
        .field("actor.cps.workstation_id", message)
        .into(),
        AccessError::CardHolder(_) => RichError::new(
            Code::FailedPrecondition,
            passerelle_card_client::reasons::CPS_CARD_ERROR,
            message.clone(),
        )
        .field("actor.cps", message)
        .into(),
        AccessError::MissingActor | AccessError::MissingProfessional => RichError::new(
            Code::InvalidArgument,
            identity_reasons::INVALID_ACTOR,
            message.clone(),
        )
        .field("actor", message)
        .into(),
    }
}
