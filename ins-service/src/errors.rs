//! What can go wrong in the INS service, as the core says it ([`InsServiceError`]), and the
//! one place where it becomes a gRPC status with its details (`From<InsServiceError> for
//! Status`): the code, a reason a program can switch on, the upstream code and the field.

use passerelle_service_kit::errors::{RichError, UPSTREAM_SUBCODE_KEY};
use tonic::{Code, Status};

use crate::insi::{InsiError, SignerError};

/// Reasons (google.rpc.ErrorInfo.reason) of the errors this service returns.
pub mod reasons {
    pub use passerelle_card_client::reasons::{
        CPS_CARD_ABSENT, CPS_CARD_ERROR, CPS_CARD_REFUSED, CPS_MODE_UNAVAILABLE, CPS_PIN_REQUIRED,
        INVALID_WORKSTATION,
    };
    pub const INVALID_TRAITS: &str = "INVALID_TRAITS";
    pub const INVALID_MATRICULE: &str = "INVALID_MATRICULE";
    pub const MISSING_ACTOR: &str = "MISSING_ACTOR";
    pub const INSI_FAULT: &str = "INSI_FAULT";
    pub const INSI_UNAVAILABLE: &str = "INSI_UNAVAILABLE";
    pub const INSI_TIMEOUT: &str = "INSI_TIMEOUT";
    pub const INSI_TLS: &str = "INSI_TLS";
    pub const INSI_BAD_RESPONSE: &str = "INSI_BAD_RESPONSE";
    pub const INSI_CONFIGURATION: &str = "INSI_CONFIGURATION";
    pub const INVALID_DOCUMENT: &str = "INVALID_DOCUMENT";
    pub const INTERNAL: &str = "INTERNAL";
}

/// Why the INS service could not answer a request; one variant per thing the caller does
/// about it.
#[derive(Debug, thiserror::Error)]
pub enum InsServiceError {
    /// The identity traits are missing or malformed: fix `field`.
    #[error("{message}")]
    InvalidTraits { field: String, message: String },
    /// A matricule, key or OID given by the caller is malformed or does not check.
    #[error("{message}")]
    InvalidIns { field: String, message: String },
    /// The identity document check is incomplete.
    #[error("{message}")]
    InvalidDocument { field: String, message: String },
    #[error(
        "actor is required: say who acts, organisation mode or CPS mode with the workstation id"
    )]
    MissingActor,
    /// The professional in the actor is malformed (an RPPS that does not check…).
    #[error("actor.{0}")]
    InvalidActor(passerelle_domain::ProfessionalError),
    #[error("workstation id {0:?} is not valid: use letters, digits, '-' and '_' only")]
    InvalidWorkstation(String),
    #[error(
        "CPS mode needs the bus to reach the workstation's card-agent, and this service runs \
         without one: use organisation mode"
    )]
    CpsModeWithoutBus,
    /// The professional's card could not be used (see [`SignerError`]).
    #[error(transparent)]
    Card(SignerError),
    /// INSi failed or refused, after `tries` calls.
    #[error("{error}")]
    Insi { error: InsiError, tries: usize },
    /// INSi answered a result code this service does not know.
    #[error("INSi answered the unknown result code {0:?}")]
    UnknownResultCode(String),
    /// A broken invariant of this service: a bug to report.
    #[error("{0}; this is a bug, please report it")]
    Internal(&'static str),
}

impl From<InsServiceError> for Status {
    fn from(e: InsServiceError) -> Status {
        let message = e.to_string();
        let invalid = |reason: &'static str, field: String| {
            RichError::new(Code::InvalidArgument, reason, message.clone())
                .field(field, message.clone())
                .into_status()
        };
        match e {
            InsServiceError::InvalidTraits { field, .. } => invalid(reasons::INVALID_TRAITS, field),
            InsServiceError::InvalidIns { field, .. } => invalid(reasons::INVALID_MATRICULE, field),
            InsServiceError::InvalidDocument { field, .. } => {
                invalid(reasons::INVALID_DOCUMENT, field)
            }
            InsServiceError::MissingActor => {
                RichError::new(Code::InvalidArgument, reasons::MISSING_ACTOR, message)
                    .field("actor", "missing")
                    .into_status()
            }
            InsServiceError::InvalidActor(e) => passerelle_service_kit::identity::invalid_actor(&e),
            InsServiceError::InvalidWorkstation(_) => {
                RichError::new(Code::InvalidArgument, reasons::INVALID_WORKSTATION, message)
                    .field("actor.cps.workstation_id", "not a single subject token")
                    .into_status()
            }
            InsServiceError::CpsModeWithoutBus => RichError::new(
                Code::FailedPrecondition,
                reasons::CPS_MODE_UNAVAILABLE,
                message,
            )
            .field("actor.cps", "no bus to reach a card-agent")
            .into_status(),
            InsServiceError::Card(error) => status_from_signer_error(&error, 0),
            InsServiceError::Insi { error, tries } => status_from_insi_error(&error, tries),
            InsServiceError::UnknownResultCode(code) => {
                RichError::new(Code::Unavailable, reasons::INSI_BAD_RESPONSE, message)
                    .upstream_code(code)
                    .into_status()
            }
            InsServiceError::Internal(_) => {
                RichError::new(Code::Internal, reasons::INTERNAL, message).into_status()
            }
        }
    }
}

/// An INSi client error, after `tries` calls, as a status a caller can act on.
fn status_from_insi_error(e: &InsiError, tries: usize) -> Status {
    let (code, reason, message) = match e {
        InsiError::Fault(f) => {
            // A fault worth retrying later is Unavailable; one that needs a fix (unknown
            // software, refused certificate, invalid request) is FailedPrecondition.
            let code = if e.is_transient() {
                Code::Unavailable
            } else {
                Code::FailedPrecondition
            };
            let mut err = RichError::new(
                code,
                reasons::INSI_FAULT,
                format!("INSi refused the request: {e}"),
            )
            .metadata("tries", tries.to_string());
            if let Some(c) = f.upstream_code() {
                err = err.upstream_code(c);
            }
            if let Some(s) = f.subcode() {
                err = err.metadata(UPSTREAM_SUBCODE_KEY, s.to_owned());
            }
            return err.into();
        }
        InsiError::Timeout { .. } => (
            Code::DeadlineExceeded,
            reasons::INSI_TIMEOUT,
            format!("INSi did not answer in time: {e}"),
        ),
        InsiError::Tls { .. } => (
            Code::Unavailable,
            reasons::INSI_TLS,
            format!(
                "TLS with INSi failed: {e} — check the organisation certificate and the trusted CA"
            ),
        ),
        InsiError::Connect { .. } | InsiError::HttpStatus { .. } => (
            Code::Unavailable,
            reasons::INSI_UNAVAILABLE,
            format!("INSi is unavailable: {e}"),
        ),
        InsiError::ResponseTooLarge { .. } | InsiError::MalformedResponse { .. } => (
            Code::Unavailable,
            reasons::INSI_BAD_RESPONSE,
            format!("INSi answered something that is not a valid INSi response: {e}"),
        ),
        InsiError::Config { .. } => (
            Code::FailedPrecondition,
            reasons::INSI_CONFIGURATION,
            format!("the INSi client is misconfigured: {e}"),
        ),
        InsiError::Signer { error } => return status_from_signer_error(error, tries),
    };
    RichError::new(code, reason, message)
        .metadata("tries", tries.to_string())
        .into()
}

/// What the professional (or the operator) must do about the card.
fn status_from_signer_error(e: &SignerError, tries: usize) -> Status {
    e.to_rich_error()
        .metadata("tries", tries.to_string())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_service_kit::errors::summarise;

    #[test]
    fn each_error_keeps_its_code_reason_and_field() {
        let cases: Vec<(InsServiceError, Code, &str, Option<&str>)> = vec![
            (
                InsServiceError::InvalidTraits {
                    field: "traits.sex".into(),
                    message: "sex is required".into(),
                },
                Code::InvalidArgument,
                reasons::INVALID_TRAITS,
                Some("traits.sex"),
            ),
            (
                InsServiceError::MissingActor,
                Code::InvalidArgument,
                reasons::MISSING_ACTOR,
                Some("actor"),
            ),
            (
                InsServiceError::Card(SignerError::PinRequired),
                Code::FailedPrecondition,
                reasons::CPS_PIN_REQUIRED,
                Some("actor.cps"),
            ),
            (
                InsServiceError::Insi {
                    error: InsiError::Timeout {
                        after: std::time::Duration::from_secs(30),
                    },
                    tries: 3,
                },
                Code::DeadlineExceeded,
                reasons::INSI_TIMEOUT,
                None,
            ),
            (
                InsServiceError::UnknownResultCode("07".into()),
                Code::Unavailable,
                reasons::INSI_BAD_RESPONSE,
                None,
            ),
        ];
        for (error, code, reason, field) in cases {
            let status = Status::from(error);
            let s = summarise(&status);
            assert_eq!(status.code(), code, "{status:?}");
            assert_eq!(s.reason.as_deref(), Some(reason), "{status:?}");
            assert_eq!(s.field.as_deref(), field, "{status:?}");
        }
    }
}
