//! What can go wrong calling INSi, one variant per thing an operator or caller can act on.

use std::time::Duration;

use passerelle_soap::{SoapError, SoapFault};

use super::cps::SignerError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsiError {
    /// INSi refused the request with a SOAP fault (e.g. `siram_100` / `desir_550`: unknown
    /// software IDAM; `desir_560`: certificate not allowed).
    #[error("INSi fault {}: {}", fault_codes(.0), .0.reason)]
    /// Boxed: a fault is much larger than the other variants.
    Fault(Box<SoapFault>),
    /// No complete answer within the configured timeout.
    #[error("INSi did not answer within {} ms", .after.as_millis())]
    Timeout { after: Duration },
    /// The service could not be reached (refused, DNS, reset): it is down or the endpoint is wrong.
    #[error("cannot reach INSi at {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
    /// The TLS handshake failed: unknown CA, expired or wrong certificate, client certificate
    /// refused.
    #[error("TLS with INSi failed: {reason}")]
    Tls { reason: String },
    /// A non-200 HTTP answer that is not a SOAP fault (a proxy, maintenance page…).
    #[error("INSi answered HTTP {status} without a SOAP fault: {body_excerpt:?}")]
    HttpStatus { status: u16, body_excerpt: String },
    /// The answer exceeds `max_response_bytes`.
    #[error("INSi's answer is larger than the limit of {limit} bytes")]
    ResponseTooLarge { limit: usize },
    /// The answer is not a valid INSi response (garbage, wrong namespace, missing CR…).
    #[error("INSi's answer is not a valid response: {reason}")]
    MalformedResponse { reason: String },
    /// The client configuration is unusable (certificate file, key, PKCS#12 password…).
    #[error("INSi client configuration: {reason}")]
    Config { reason: String },
    /// CPS mode: the card-agent could not read the card or sign (no agent, no card, PIN
    /// not entered, card error).
    #[error("CPS card: {error}")]
    Signer { error: SignerError },
}

fn fault_codes(f: &SoapFault) -> String {
    let mut s = f.code.clone();
    for sub in &f.subcodes {
        s.push('/');
        s.push_str(sub);
    }
    if let Some(d) = &f.detail_code {
        s.push_str(&format!(" ({d})"));
    }
    s
}

impl InsiError {
    /// Worth retrying later: timeouts, connection failures, 5xx answers without a fault.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Connect { .. } => true,
            Self::HttpStatus { status, .. } => (500..600).contains(status),
            // siram_40 is INSi's "service temporarily unavailable / technical error" (captured
            // with desir_1020 and insi_102); a Receiver fault is the service's own failure.
            Self::Fault(f) => f.subcode() == Some("siram_40") || !f.is_sender(),
            // Only the card's passing failures; a missing card, PIN or agent needs a person.
            Self::Signer { error } => error.is_transient(),
            _ => false,
        }
    }

    /// The service's own error code of a fault (e.g. `desir_550`).
    pub fn upstream_code(&self) -> Option<&str> {
        match self {
            Self::Fault(f) => f.upstream_code(),
            _ => None,
        }
    }

    /// The first SOAP subcode of a fault (e.g. `siram_100`).
    pub fn fault_subcode(&self) -> Option<&str> {
        match self {
            Self::Fault(f) => f.subcode(),
            _ => None,
        }
    }

    /// A short stable label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Fault(_) => "fault",
            Self::Timeout { .. } => "timeout",
            Self::Connect { .. } => "connect",
            Self::Tls { .. } => "tls",
            Self::HttpStatus { .. } => "http_status",
            Self::ResponseTooLarge { .. } => "response_too_large",
            Self::MalformedResponse { .. } => "malformed_response",
            Self::Config { .. } => "config",
            Self::Signer { .. } => "signer",
        }
    }

    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Self::Config {
            reason: reason.into(),
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        Self::MalformedResponse {
            reason: reason.into(),
        }
    }
}

/// Reading an answer: size has its own meaning, the rest is a bad answer. Writing a request
/// cannot fail on data (quick-xml escapes it); a writer error is a bug, reported as such.
impl From<SoapError> for InsiError {
    fn from(e: SoapError) -> Self {
        match e {
            SoapError::TooLarge { limit } => Self::ResponseTooLarge { limit },
            SoapError::Write { reason } => Self::config(format!(
                "cannot write the INSi request ({reason}); this is a bug, please report it"
            )),
            other => Self::malformed(other.to_string()),
        }
    }
}
