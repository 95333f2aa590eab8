//! What can go wrong calling the DMP, one variant per thing a caller can act on.

use std::time::Duration;

use passerelle_soap::{SoapError, SoapFault};

use crate::signer::SignerError;

/// One error of a `RegistryResponse` with `status=…Failure` (or `PartialSuccess`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryErrorItem {
    /// `errorCode`, e.g. `XDSDuplicateUniqueIdInRegistry`, `XDSRegistryMetadataError`.
    pub code: String,
    /// `severity` without its URN prefix: `Error` or `Warning`.
    pub severity: String,
    /// `codeContext`: the registry's explanation.
    pub context: String,
    /// `location`, when given.
    pub location: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DmpError {
    /// The DMP refused the request with a SOAP fault; `code` is the first subcode when there is
    /// one (e.g. `DMPInvalidCertificate`, `XDSDocumentUniqueIdError`), else the fault code.
    #[error("DMP fault {code}: {message}")]
    Fault {
        code: String,
        /// `Sender` / `Receiver` (or SOAP 1.1 `Client` / `Server`).
        fault_code: String,
        message: String,
    },
    /// An XDS `RegistryResponse` with status Failure (or PartialSuccess with errors).
    #[error("DMP registry refused: {}", registry_summary(.errors))]
    Registry { errors: Vec<RegistryErrorItem> },
    /// An HL7v3 acknowledgement `AE`/`AR` (TD0.2), or a DMP web-service status other than
    /// `DMPOk` (TD0.3, TD0.4): the code (e.g. `DMPClosed`) and its text.
    #[error("DMP refused: {code} {text}")]
    Hl7 { code: String, text: String },
    /// The TLS handshake failed: server certificate not trusted, client certificate refused.
    #[error("TLS with the DMP failed: {reason}")]
    Tls { reason: String },
    /// The service could not be reached (refused, DNS, reset).
    #[error("cannot reach the DMP at {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
    /// No complete answer within the configured timeout.
    #[error("the DMP did not answer within {} ms", .after.as_millis())]
    Timeout { after: Duration },
    /// A non-200 HTTP answer that is not a SOAP fault.
    #[error("the DMP answered HTTP {status} without a SOAP fault")]
    Http { status: u16 },
    /// The answer exceeds `max_response_bytes`.
    #[error("the DMP's answer is larger than the limit of {limit} bytes")]
    ResponseTooLarge { limit: usize },
    /// An answer that is not what the protocol says (not SOAP, not XDS, wrong action,
    /// `RelatesTo` not our message, missing part…).
    #[error("the DMP's answer is not a valid response: {what}")]
    NotXds { what: String },
    /// Signing the VIHF or the XAdES failed (card-agent gone, no card, PIN, key).
    #[error("signature: {0}")]
    Signer(#[from] SignerError),
    /// The request cannot be built from what was given (metadata codes, ids…).
    #[error("invalid request: {reason}")]
    Request { reason: String },
    /// The client configuration is unusable (certificate file, key, PKCS#12 password…).
    #[error("DMP client configuration: {reason}")]
    Config { reason: String },
}

fn registry_summary(errors: &[RegistryErrorItem]) -> String {
    if errors.is_empty() {
        return "status Failure without error list".to_owned();
    }
    errors
        .iter()
        .map(|e| format!("{} ({})", e.code, e.context))
        .collect::<Vec<_>>()
        .join("; ")
}

impl DmpError {
    /// Worth retrying later: timeouts, connection failures, 5xx answers, a Receiver fault,
    /// the card's passing failures. A TLS failure, a Sender fault, a registry error are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Connect { .. } => true,
            Self::Http { status } => (500..600).contains(status),
            Self::Fault { fault_code, .. } => matches!(fault_code.as_str(), "Receiver" | "Server"),
            Self::Registry { errors } => {
                !errors.is_empty()
                    && errors
                        .iter()
                        .all(|e| matches!(e.code.as_str(), "XDSRegistryBusy" | "XDSRepositoryBusy"))
            }
            Self::Signer(SignerError::Card(e)) => e.is_transient(),
            _ => false,
        }
    }

    /// The DMP or XDS code of a refusal (`DMPInvalidCertificate`, the first registry error
    /// code, the HL7 acknowledgement detail code).
    pub fn upstream_code(&self) -> Option<&str> {
        match self {
            Self::Fault { code, .. } | Self::Hl7 { code, .. } => Some(code),
            Self::Registry { errors } => errors.first().map(|e| e.code.as_str()),
            _ => None,
        }
    }

    /// A short stable label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Fault { .. } => "fault",
            Self::Registry { .. } => "registry",
            Self::Hl7 { .. } => "hl7",
            Self::Tls { .. } => "tls",
            Self::Connect { .. } => "connect",
            Self::Timeout { .. } => "timeout",
            Self::Http { .. } => "http",
            Self::ResponseTooLarge { .. } => "response_too_large",
            Self::NotXds { .. } => "not_xds",
            Self::Signer(_) => "signer",
            Self::Request { .. } => "request",
            Self::Config { .. } => "config",
        }
    }

    pub(crate) fn config(reason: impl Into<String>) -> Self {
        Self::Config {
            reason: reason.into(),
        }
    }

    pub(crate) fn not_xds(what: impl Into<String>) -> Self {
        Self::NotXds { what: what.into() }
    }

    pub(crate) fn request(reason: impl Into<String>) -> Self {
        Self::Request {
            reason: reason.into(),
        }
    }

    pub(crate) fn from_fault(f: SoapFault) -> Self {
        let code = f
            .subcode()
            .map(str::to_owned)
            .unwrap_or_else(|| f.code.clone());
        let message = match &f.detail_text {
            Some(d) if !f.reason.contains(d.as_str()) => format!("{} ({d})", f.reason),
            _ => f.reason.clone(),
        };
        Self::Fault {
            code,
            fault_code: f.code,
            message,
        }
    }
}

/// Reading an answer: size has its own meaning, the rest is a bad answer. Writing a request
/// cannot fail on data; a writer error is a bug, reported as a request error.
impl From<SoapError> for DmpError {
    fn from(e: SoapError) -> Self {
        match e {
            SoapError::TooLarge { limit } => Self::ResponseTooLarge { limit },
            SoapError::Write { reason } => Self::request(format!(
                "cannot write the request ({reason}); this is a bug, please report it"
            )),
            other => Self::not_xds(other.to_string()),
        }
    }
}

impl From<passerelle_clinical_documents::xds::XdsError> for DmpError {
    fn from(e: passerelle_clinical_documents::xds::XdsError) -> Self {
        Self::request(e.to_string())
    }
}

impl From<crate::vihf::VihfError> for DmpError {
    fn from(e: crate::vihf::VihfError) -> Self {
        use crate::vihf::VihfError as V;
        match e {
            V::Signer(s) => Self::Signer(s),
            V::Certificate { reason } => {
                Self::config(format!("VIHF signing certificate: {reason}"))
            }
            other => Self::request(other.to_string()),
        }
    }
}

impl From<crate::xades::XadesError> for DmpError {
    fn from(e: crate::xades::XadesError) -> Self {
        use crate::xades::XadesError as X;
        match e {
            X::Signer(s) => Self::Signer(s),
            X::Certificate { reason } => {
                Self::config(format!("XAdES signing certificate: {reason}"))
            }
            other => Self::request(other.to_string()),
        }
    }
}
