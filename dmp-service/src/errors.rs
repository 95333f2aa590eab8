//! Every failure of the DMP service, by what the caller can do about it, and its gRPC status:
//! a code, a machine-readable reason (google.rpc.ErrorInfo) with the DMP's or XDS's own code
//! as `upstream_code`, the field at fault, and a message saying what to do.

use passerelle_card_client::CardError;
use passerelle_domain::NotQualified;
use passerelle_service_kit::errors::RichError;
use passerelle_service_kit::identity::{PatientError, reasons as identity_reasons};
use tonic::{Code, Status};

use crate::access::AccessError;
use crate::client::DmpError;
use crate::document::DocumentProblem;
use crate::signer::SignerError;

/// ErrorInfo reasons of the DMP service.
pub mod reasons {
    /// An emergency access without its reason.
    pub const REASON_REQUIRED: &str = "REASON_REQUIRED";
    /// The patient's INS is not qualified: no deposit.
    pub const INS_NOT_QUALIFIED: &str = "INS_NOT_QUALIFIED";
    /// A field of the request is missing or wrong.
    pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
    /// The document (its content, its header) cannot be made.
    pub const INVALID_DOCUMENT: &str = "INVALID_DOCUMENT";
    /// No document with this reference (document store) or uniqueId (DMP).
    pub const DOCUMENT_NOT_FOUND: &str = "DOCUMENT_NOT_FOUND";
    /// The patient has no DMP (never created).
    pub const DMP_NOT_FOUND: &str = "DMP_NOT_FOUND";
    /// The patient's DMP is closed.
    pub const DMP_CLOSED: &str = "DMP_CLOSED";
    /// The DMP refuses this professional (not authorised, blocked by the patient, the rights
    /// matrix).
    pub const DMP_ACCESS_DENIED: &str = "DMP_ACCESS_DENIED";
    /// The DMP refuses the certificate that signed the VIHF (`DMPInvalidCertificate`).
    pub const DMP_INVALID_CERTIFICATE: &str = "DMP_INVALID_CERTIFICATE";
    /// The DMP refused the metadata or the document (XDS registry or repository error).
    pub const DMP_REFUSED: &str = "DMP_REFUSED";
    /// Another SOAP fault of the DMP.
    pub const DMP_FAULT: &str = "DMP_FAULT";
    pub const DMP_UNAVAILABLE: &str = "DMP_UNAVAILABLE";
    pub const DMP_TIMEOUT: &str = "DMP_TIMEOUT";
    pub const DMP_TLS: &str = "DMP_TLS";
    /// The answer is not what the DMP's protocol says (not XDS, not SOAP).
    pub const DMP_BAD_RESPONSE: &str = "DMP_BAD_RESPONSE";
    pub const DMP_CONFIGURATION: &str = "DMP_CONFIGURATION";
    /// The change asked is not allowed (e.g. hiding a document from the patient afterwards).
    pub const CHANGE_NOT_ALLOWED: &str = "CHANGE_NOT_ALLOWED";
    pub const INTERNAL: &str = "INTERNAL";
}

#[derive(Debug, thiserror::Error)]
pub enum DmpServiceError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Patient(#[from] PatientError),
    #[error(
        "the patient's INS is not qualified ({0}): a DMP deposit needs a qualified INS (status qualifiée, a key that checks, the INS-NIR or INS-NIA OID)"
    )]
    NotQualified(NotQualified),
    #[error("{field}: {message}")]
    InvalidRequest {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Document(#[from] DocumentProblem),
    #[error("no document {unique_id} in the patient's DMP that you may see")]
    UnknownDocument { unique_id: String },
    #[error("{0}")]
    NotAllowed(String),
    #[error(transparent)]
    Dmp(#[from] DmpError),
    #[error("{0}")]
    Internal(String),
}

impl From<DmpServiceError> for Status {
    fn from(e: DmpServiceError) -> Self {
        status(&e)
    }
}

fn status(e: &DmpServiceError) -> Status {
    let message = e.to_string();
    match e {
        DmpServiceError::Access(a) => access_status(a),
        DmpServiceError::Patient(p) => p.to_status(),
        DmpServiceError::NotQualified(_) => RichError::new(
            Code::FailedPrecondition,
            reasons::INS_NOT_QUALIFIED,
            message.clone(),
        )
        .field("patient", message)
        .into(),
        DmpServiceError::InvalidRequest { field, .. } => RichError::new(
            Code::InvalidArgument,
            reasons::INVALID_REQUEST,
            message.clone(),
        )
        .field(*field, message)
        .into(),
        DmpServiceError::Document(d) => document_status(d, message),
        DmpServiceError::UnknownDocument { .. } => {
            RichError::new(Code::NotFound, reasons::DOCUMENT_NOT_FOUND, message)
                .field("unique_id", "not in the DMP")
                .into()
        }
        DmpServiceError::NotAllowed(_) => RichError::new(
            Code::FailedPrecondition,
            reasons::CHANGE_NOT_ALLOWED,
            message,
        )
        .into(),
        DmpServiceError::Dmp(d) => dmp_status(d),
        DmpServiceError::Internal(_) => {
            RichError::new(Code::Internal, reasons::INTERNAL, message).into()
        }
    }
}

fn access_status(a: &AccessError) -> Status {
    let message = a.to_string();
    match a {
        AccessError::Card(c) => c.to_rich_error().into(),
        AccessError::MissingReason(_) | AccessError::ReasonTooLong(_) => RichError::new(
            Code::InvalidArgument,
            reasons::REASON_REQUIRED,
            message.clone(),
        )
        .field("access.reason", message)
        .into(),
        AccessError::Professional(p) => passerelle_service_kit::identity::invalid_actor(p),
        AccessError::NoOrganisationSigner => RichError::new(
            Code::FailedPrecondition,
            reasons::DMP_CONFIGURATION,
            message,
        )
        .into(),
        AccessError::BadWorkstation(_) => RichError::new(
            Code::InvalidArgument,
            passerelle_card_client::reasons::INVALID_WORKSTATION,
            message.clone(),
        )
        .field("access.actor.cps.workstation_id", message)
        .into(),
        AccessError::CardHolder(_) => RichError::new(
            Code::FailedPrecondition,
            passerelle_card_client::reasons::CPS_CARD_ERROR,
            message.clone(),
        )
        .field("access.actor.cps", message)
        .into(),
        AccessError::MissingActor | AccessError::MissingProfessional => RichError::new(
            Code::InvalidArgument,
            identity_reasons::INVALID_ACTOR,
            message.clone(),
        )
        .field("access.actor", message)
        .into(),
    }
}

fn document_status(d: &DocumentProblem, _message: String) -> Status {
    d.status(
        reasons::DMP_CONFIGURATION,
        &passerelle_service_kit::letters::RequestFields {
            actor: "access.actor",
            idempotency_key: "options.idempotency_key",
            document_id: "document_id",
        },
    )
}

/// What a DMP or XDS code means for the caller.
fn upstream_reason(code: &str) -> (Code, &'static str, &'static str) {
    let c = code.to_ascii_lowercase();
    if c.contains("invalidcertificate") {
        (
            Code::FailedPrecondition,
            reasons::DMP_INVALID_CERTIFICATE,
            "the DMP refuses the certificate that signed the VIHF: it must be a signature certificate (the CPS's signature key, or the organisation's signature certificate), not an authentication one",
        )
    } else if c.contains("closed") || c.contains("ferme") {
        (
            Code::FailedPrecondition,
            reasons::DMP_CLOSED,
            "the patient's DMP is closed",
        )
    } else if c.contains("unknownpatient")
        || c.contains("notfound")
        || c.contains("nf") && c.len() == 2
    {
        (
            Code::FailedPrecondition,
            reasons::DMP_NOT_FOUND,
            "the patient has no DMP for this INS",
        )
    } else if c.contains("accessdenied")
        || c.contains("notauthori")
        || c.contains("unauthori")
        || c.contains("interdit")
        || c.contains("rights")
    {
        (
            Code::PermissionDenied,
            reasons::DMP_ACCESS_DENIED,
            "the DMP refuses this professional: check the authorisation (passerelle dmp status), or whether the patient blocked you",
        )
    } else if c.contains("documentuniqueid") {
        (
            Code::NotFound,
            reasons::DOCUMENT_NOT_FOUND,
            "no such document in the DMP",
        )
    } else if c.starts_with("xds") {
        (
            Code::InvalidArgument,
            reasons::DMP_REFUSED,
            "the DMP refused the submission",
        )
    } else {
        (
            Code::FailedPrecondition,
            reasons::DMP_FAULT,
            "the DMP refused the request",
        )
    }
}

/// The DMP refused this professional (rights, authorisation), as opposed to any other
/// failure.
pub fn is_access_denied(e: &DmpError) -> bool {
    e.upstream_code()
        .is_some_and(|c| upstream_reason(c).1 == reasons::DMP_ACCESS_DENIED)
}

/// The status of a failed DMP call.
pub fn dmp_status(e: &DmpError) -> Status {
    if let Some(code) = e.upstream_code() {
        let (grpc, reason, hint) = upstream_reason(code);
        return RichError::new(grpc, reason, format!("{hint}: {e}"))
            .upstream_code(code.to_owned())
            .into();
    }
    let message = e.to_string();
    let (code, reason) = match e {
        DmpError::Signer(SignerError::Card(card)) => return card_status(card),
        DmpError::Tls { .. } => (Code::Unavailable, reasons::DMP_TLS),
        DmpError::Timeout { .. } => (Code::DeadlineExceeded, reasons::DMP_TIMEOUT),
        DmpError::Connect { .. } | DmpError::Http { .. } => {
            (Code::Unavailable, reasons::DMP_UNAVAILABLE)
        }
        DmpError::NotXds { .. } | DmpError::ResponseTooLarge { .. } => {
            (Code::Unavailable, reasons::DMP_BAD_RESPONSE)
        }
        DmpError::Request { .. } => (Code::InvalidArgument, reasons::INVALID_REQUEST),
        DmpError::Config { .. } | DmpError::Signer(_) => {
            (Code::FailedPrecondition, reasons::DMP_CONFIGURATION)
        }
        DmpError::Fault { .. } | DmpError::Registry { .. } | DmpError::Hl7 { .. } => {
            (Code::FailedPrecondition, reasons::DMP_FAULT)
        }
    };
    RichError::new(code, reason, message).into()
}

fn card_status(card: &CardError) -> Status {
    card.to_rich_error().into()
}
