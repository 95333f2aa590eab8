//! gRPC errors with a machine-readable reason (google.rpc.ErrorInfo: reason, domain, upstream
//! code) and the field at fault (google.rpc.BadRequest), beside a message saying what is wrong
//! and how to fix it.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `ErrorInfo.domain` of every Passerelle error.
pub const ERROR_DOMAIN: &str = "passerelle";
/// `ErrorInfo.metadata` key holding the national service's own code (e.g. `desir_550`).
pub const UPSTREAM_CODE_KEY: &str = "upstream_code";
/// `ErrorInfo.metadata` key holding the upstream SOAP fault subcode (e.g. `siram_100`).
pub const UPSTREAM_SUBCODE_KEY: &str = "upstream_subcode";

/// Builder for a rich error status.
#[derive(Debug, Clone)]
pub struct RichError {
    code: Code,
    message: String,
    reason: &'static str,
    metadata: Vec<(String, String)>,
    field: Option<(String, String)>,
}

impl RichError {
    /// `reason` is an UPPER_SNAKE_CASE constant a program can switch on.
    pub fn new(code: Code, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reason,
            metadata: Vec::new(),
            field: None,
        }
    }

    pub fn upstream_code(mut self, code: impl Into<String>) -> Self {
        self.metadata
            .push((UPSTREAM_CODE_KEY.to_owned(), code.into()));
        self
    }

    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// The request field at fault, with what is wrong with it.
    pub fn field(mut self, field: impl Into<String>, description: impl Into<String>) -> Self {
        self.field = Some((field.into(), description.into()));
        self
    }

    pub fn into_status(self) -> Status {
        let mut details = ErrorDetails::with_error_info(
            self.reason,
            ERROR_DOMAIN,
            self.metadata
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        );
        if let Some((field, description)) = self.field {
            details.add_bad_request_violation(field, description);
        }
        Status::with_error_details(self.code, self.message, details)
    }
}

impl From<RichError> for Status {
    fn from(e: RichError) -> Self {
        e.into_status()
    }
}

/// What a client reads back from a rich status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorSummary {
    pub reason: Option<String>,
    pub upstream_code: Option<String>,
    pub field: Option<String>,
}

pub fn summarise(status: &Status) -> ErrorSummary {
    let details = status.get_error_details();
    let info = details.error_info();
    ErrorSummary {
        reason: info.map(|i| i.reason.clone()),
        upstream_code: info.and_then(|i| i.metadata.get(UPSTREAM_CODE_KEY).cloned()),
        field: details
            .bad_request()
            .and_then(|b| b.field_violations.first())
            .map(|v| v.field.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_upstream_code_and_field_round_trip() {
        let status = RichError::new(Code::FailedPrecondition, "INSI_FAULT", "refused")
            .upstream_code("desir_550")
            .field("actor", "unknown software")
            .into_status();
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(status.message(), "refused");
        let s = summarise(&status);
        assert_eq!(s.reason.as_deref(), Some("INSI_FAULT"));
        assert_eq!(s.upstream_code.as_deref(), Some("desir_550"));
        assert_eq!(s.field.as_deref(), Some("actor"));
    }
}
