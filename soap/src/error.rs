/// What went wrong reading or writing a SOAP message; one variant per thing a caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoapError {
    /// Not well-formed XML, bad encoding, an unknown entity, a missing required part.
    #[error("malformed XML message: {reason}")]
    Malformed { reason: String },
    /// Well-formed XML whose document element is not a SOAP `Envelope`.
    #[error("not a SOAP envelope: the document element is {found}")]
    NotAnEnvelope { found: String },
    /// A SOAP element in a namespace other than the expected one.
    #[error("unexpected namespace {found:?}, expected {expected:?}")]
    UnexpectedNamespace { found: String, expected: String },
    /// A document type declaration: refused, so that no entity can ever be expanded.
    #[error("the message has a DOCTYPE declaration, refused (no DTD or entity expansion)")]
    Doctype,
    /// The input is larger than the configured bound.
    #[error("the message is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    /// Elements nested deeper than the configured bound.
    #[error("the message nests elements deeper than {limit} levels")]
    TooDeep { limit: usize },
    /// Misuse of the writer (unbalanced elements, a fragment that is not well-formed).
    #[error("cannot write the XML message: {reason}")]
    Write { reason: String },
}

impl SoapError {
    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        Self::Malformed {
            reason: reason.into(),
        }
    }

    pub(crate) fn write(reason: impl Into<String>) -> Self {
        Self::Write {
            reason: reason.into(),
        }
    }
}
