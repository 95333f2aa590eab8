//! What can go wrong asking the workstation's card-agent, by what the caller must do about it.

use bytes::Bytes;
use passerelle_bus::BusError;
use passerelle_proto::bus::v1::Status as BusStatus;
use passerelle_service_kit::errors::RichError;
use tonic::Code;
use tonic_types::StatusExt;

/// ErrorInfo reasons of [`CardError::to_rich_error`].
pub mod reasons {
    pub const INVALID_WORKSTATION: &str = "INVALID_WORKSTATION";
    /// CPS mode cannot be used: no card-agent answers for the workstation (or no bus).
    pub const CPS_MODE_UNAVAILABLE: &str = "CPS_MODE_UNAVAILABLE";
    /// No CPS in the workstation's reader (or it was removed or swapped).
    pub const CPS_CARD_ABSENT: &str = "CPS_CARD_ABSENT";
    /// The CPS needs its PIN, entered on the workstation.
    pub const CPS_PIN_REQUIRED: &str = "CPS_PIN_REQUIRED";
    /// The holder must act (wrong or blocked PIN, cancelled prompt).
    pub const CPS_CARD_REFUSED: &str = "CPS_CARD_REFUSED";
    /// The card or its middleware failed.
    pub const CPS_CARD_ERROR: &str = "CPS_CARD_ERROR";
}

/// A failure of the card, of its holder or of the card-agent, as the service sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// The workstation id cannot name a card-agent (it is one bus subject token).
    #[error("workstation id {workstation:?} is not valid: {reason}")]
    InvalidWorkstation { workstation: String, reason: String },
    /// No card-agent answers for the workstation (not started, bus down, no answer in time).
    #[error("the card-agent is not reachable: {reason}")]
    AgentUnavailable { reason: String },
    /// No CPS in the reader, or it was removed or swapped since it was read.
    #[error("no CPS card in the reader, or it was removed")]
    NoCard,
    /// The card's PIN has not been entered on the workstation (it never travels here).
    #[error("the CPS PIN is needed: enter the PIN on the workstation")]
    PinRequired,
    /// The holder must act: a wrong or blocked PIN, a cancelled prompt, a reader to choose.
    #[error("the card holder refused or the PIN is blocked: {reason}")]
    Refused { reason: String },
    /// A passing card or reader failure (reset, sharing violation, first use of the day):
    /// worth retrying.
    #[error("transient card error: {reason}")]
    Transient { reason: String },
    /// The card or the agent failed otherwise (malformed answer, unusable card data).
    #[error("the card failed to sign: {reason}")]
    Failed { reason: String },
}

impl CardError {
    /// The gRPC error of a service that could not use the card: what the professional (or the
    /// operator) must do about it, the field `actor.cps`.
    pub fn to_rich_error(&self) -> RichError {
        let e = self;
        let (code, reason, message) = match e {
            Self::InvalidWorkstation { .. } => (
                Code::InvalidArgument,
                reasons::INVALID_WORKSTATION,
                format!("{e}: use letters, digits, '-' and '_' only"),
            ),
            Self::AgentUnavailable { .. } => (
                Code::FailedPrecondition,
                reasons::CPS_MODE_UNAVAILABLE,
                format!("CPS mode needs the workstation's card-agent: {e}"),
            ),
            Self::NoCard => (
                Code::FailedPrecondition,
                reasons::CPS_CARD_ABSENT,
                format!("{e}: insert the professional's CPS in the workstation's reader"),
            ),
            Self::PinRequired => (
                Code::FailedPrecondition,
                reasons::CPS_PIN_REQUIRED,
                "the CPS needs its PIN: enter the PIN on the workstation, then try again"
                    .to_owned(),
            ),
            Self::Refused { .. } => (
                Code::FailedPrecondition,
                reasons::CPS_CARD_REFUSED,
                e.to_string(),
            ),
            Self::Transient { .. } => (
                Code::Unavailable,
                reasons::CPS_CARD_ERROR,
                format!("{e}; try again"),
            ),
            Self::Failed { .. } => (
                Code::FailedPrecondition,
                reasons::CPS_CARD_ERROR,
                e.to_string(),
            ),
        };
        RichError::new(code, reason, message).field("actor.cps", e.to_string())
    }

    /// Only a transient card error is worth retrying: a missing card, PIN or agent needs
    /// someone to act.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }

    pub(crate) fn failed(reason: impl Into<String>) -> Self {
        Self::Failed {
            reason: reason.into(),
        }
    }

    /// A bus failure asking the agent of `workstation`: `NoResponders` means no agent runs
    /// for it.
    pub(crate) fn from_bus(workstation: &str, e: &BusError) -> Self {
        let reason = match e {
            BusError::NoResponders { .. } => format!(
                "no card-agent is running for workstation {workstation:?}: start the card-agent \
                 on the workstation"
            ),
            BusError::Timeout { after, .. } => format!(
                "the card-agent of workstation {workstation:?} did not answer within {after:?}"
            ),
            other => {
                format!("cannot reach the card-agent of workstation {workstation:?}: {other}")
            }
        };
        Self::AgentUnavailable { reason }
    }

    /// The agent's error answer on the bus.
    pub(crate) fn from_agent_reply(status: BusStatus) -> Self {
        Self::from_agent_status(&tonic::Status::with_details(
            Code::from_i32(status.code),
            status.message,
            Bytes::from(status.details),
        ))
    }

    /// What the agent's error status means for the caller: by its `ErrorInfo` reason when it
    /// sends one, else by its code.
    pub fn from_agent_status(status: &tonic::Status) -> Self {
        let reason = status
            .get_error_details()
            .error_info()
            .map(|i| i.reason.to_ascii_uppercase())
            .unwrap_or_default();
        let message = status.message().to_owned();
        match reason.as_str() {
            "PIN_REQUIRED" => return Self::PinRequired,
            "NO_CARD" | "CARD_REMOVED" | "NOT_A_CPS" | "UNKNOWN_CARD" | "NO_SUCH_READER"
            | "READER_REMOVED" => return Self::NoCard,
            // The holder must act: unblock the card, choose the reader, enter the PIN again.
            "CARD_BLOCKED" | "BLOCKED" | "PIN_BLOCKED" | "WRONG_PIN" | "PIN_CANCELLED"
            | "SEVERAL_CARDS" => return Self::Refused { reason: message },
            "CARD_DEVICE" => return Self::Failed { reason: message },
            "TRANSIENT" | "CARD_TRANSIENT" => return Self::Transient { reason: message },
            _ => {}
        }
        match status.code() {
            Code::NotFound => Self::NoCard,
            Code::Unavailable | Code::Aborted => Self::Transient { reason: message },
            Code::FailedPrecondition if message.to_ascii_uppercase().contains("PIN") => {
                if message.to_ascii_lowercase().contains("blocked") {
                    Self::Refused { reason: message }
                } else {
                    Self::PinRequired
                }
            }
            Code::FailedPrecondition | Code::PermissionDenied => Self::Refused { reason: message },
            _ => Self::Failed { reason: message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn agent_statuses_map_to_what_the_user_must_do() {
        use tonic_types::ErrorDetails;
        let with_reason = |code, reason: &str| {
            tonic::Status::with_error_details(
                code,
                "card says no",
                ErrorDetails::with_error_info(reason, "card-agent", []),
            )
        };
        let map = CardError::from_agent_status;
        assert_eq!(
            map(&with_reason(Code::FailedPrecondition, "PIN_REQUIRED")),
            CardError::PinRequired
        );
        assert_eq!(
            map(&with_reason(Code::FailedPrecondition, "NO_CARD")),
            CardError::NoCard
        );
        assert!(matches!(
            map(&with_reason(Code::FailedPrecondition, "BLOCKED")),
            CardError::Refused { .. }
        ));
        assert!(map(&tonic::Status::unavailable("reader reset")).is_transient());
        assert_eq!(
            map(&tonic::Status::failed_precondition("a PIN is required")),
            CardError::PinRequired
        );
        assert!(!map(&tonic::Status::internal("boom")).is_transient());
    }

    #[test]
    fn bus_failures_say_the_agent_is_unavailable_and_why() {
        let none = CardError::from_bus(
            "ws-1",
            &BusError::NoResponders {
                subject: "passerelle.card.v1.ws-1.sign".to_owned(),
            },
        );
        assert!(
            matches!(&none, CardError::AgentUnavailable { reason } if reason.contains("start the card-agent")),
            "{none}"
        );
        let slow = CardError::from_bus(
            "ws-1",
            &BusError::Timeout {
                subject: "passerelle.card.v1.ws-1.sign".to_owned(),
                after: Duration::from_secs(10),
            },
        );
        assert!(
            matches!(&slow, CardError::AgentUnavailable { reason } if reason.contains("did not answer within 10s")),
            "{slow}"
        );
    }
}
