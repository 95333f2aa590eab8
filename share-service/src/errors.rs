//! What can go wrong in a share, and the gRPC status each becomes: a code, an ErrorInfo
//! reason a program can switch on, the field at fault, and a message saying what to do.

use passerelle_bus::BusError;
use passerelle_bus::documents::DocumentError;
use passerelle_bus::kv::KvError;
use passerelle_domain::ProfessionalError;
use passerelle_service_kit::errors::RichError;
use passerelle_service_kit::identity::{PatientError, invalid_actor};
use tonic::{Code, Status};

/// ErrorInfo reasons of the share service's own errors.
pub mod reasons {
    /// A field of the request is missing or wrong (the field is named).
    pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
    /// No share has this id.
    pub const SHARE_NOT_FOUND: &str = "SHARE_NOT_FOUND";
    /// RetryShare found no channel to send again.
    pub const NOTHING_TO_RETRY: &str = "NOTHING_TO_RETRY";
    /// The status store (KV bucket `share_status`) cannot be reached.
    pub const SHARE_STORE_UNAVAILABLE: &str = "SHARE_STORE_UNAVAILABLE";
    /// The share could not be published to the services that do the work.
    pub const EVENTS_UNAVAILABLE: &str = "EVENTS_UNAVAILABLE";
    /// The share's record changed too often under us.
    pub const SHARE_CONFLICT: &str = "SHARE_CONFLICT";
    /// A stored record cannot be read.
    pub const SHARE_RECORD_CORRUPT: &str = "SHARE_RECORD_CORRUPT";
}

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("{field}: {message}")]
    InvalidRequest { field: String, message: String },
    #[error(transparent)]
    Patient(#[from] PatientError),
    #[error("actor.{0}")]
    Actor(ProfessionalError),
    #[error("document {id}: {error}")]
    Document { id: String, error: DocumentError },
    #[error(
        "no share {0}: it was never made here (or its record was removed); check the id Share answered"
    )]
    NotFound(String),
    #[error("{0}")]
    NothingToRetry(String),
    #[error("the share status store is unavailable: {0}; retry later")]
    Store(#[from] KvError),
    #[error(
        "the share could not be handed to the DMP and MSSanté services (event bus: {0}); nothing was shared, retry later"
    )]
    Publish(BusError),
    #[error("share {0} was changed concurrently too many times; retry")]
    Conflict(String),
    #[error("the record of share {id} cannot be read: {message}")]
    Corrupt { id: String, message: String },
}

impl ShareError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn to_status(&self) -> Status {
        use reasons::*;
        let rich = |code, reason, message: String| RichError::new(code, reason, message);
        match self {
            Self::InvalidRequest { field, message } => {
                rich(Code::InvalidArgument, INVALID_REQUEST, self.to_string())
                    .field(field.clone(), message.clone())
                    .into_status()
            }
            Self::Patient(e) => e.to_status(),
            Self::Actor(e) => invalid_actor(e),
            Self::Document { id, error } => {
                passerelle_service_kit::documents::status(error.clone(), Some(id))
            }
            Self::NotFound(id) => rich(Code::NotFound, SHARE_NOT_FOUND, self.to_string())
                .metadata("share_id", id.clone())
                .into_status(),
            Self::NothingToRetry(_) => {
                rich(Code::FailedPrecondition, NOTHING_TO_RETRY, self.to_string()).into_status()
            }
            Self::Store(_) => {
                rich(Code::Unavailable, SHARE_STORE_UNAVAILABLE, self.to_string()).into_status()
            }
            Self::Publish(_) => {
                rich(Code::Unavailable, EVENTS_UNAVAILABLE, self.to_string()).into_status()
            }
            Self::Conflict(_) => {
                rich(Code::Aborted, SHARE_CONFLICT, self.to_string()).into_status()
            }
            Self::Corrupt { .. } => {
                rich(Code::Internal, SHARE_RECORD_CORRUPT, self.to_string()).into_status()
            }
        }
    }
}

impl From<ShareError> for Status {
    fn from(e: ShareError) -> Self {
        e.to_status()
    }
}

pub type Result<T, E = ShareError> = std::result::Result<T, E>;
