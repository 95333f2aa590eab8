//! Namespace URIs, and the prefixes this project writes them with (readers never rely on them).

/// SOAP 1.2 envelope.
pub const SOAP12_ENV: &str = "http://www.w3.org/2003/05/soap-envelope";
/// SOAP 1.1 envelope; only recognised when reading, for robustness.
pub const SOAP11_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// WS-Addressing 1.0 (`Action`, `MessageID`).
pub const WSA: &str = "http://www.w3.org/2005/08/addressing";
/// WS-Security 1.0 `Security` header.
pub const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WS-Security utility (`wsu:Id`, `Timestamp`).
pub const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// SIRAM (CNAM) fault details: `siram:Erreur`.
pub const SIRAM: &str = "urn:siram";
/// SAML 2.0 assertions.
pub const SAML2: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// XML Signature.
pub const XMLDSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The `xml:` prefix, bound by definition.
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
/// XML Schema instance (`xsi:type`, `xsi:nil`).
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// A namespace with the prefix to write it with. An empty prefix writes it as the default
/// namespace; an empty URI means "no namespace".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ns {
    pub prefix: &'static str,
    pub uri: &'static str,
}

impl Ns {
    pub const fn new(prefix: &'static str, uri: &'static str) -> Self {
        Self { prefix, uri }
    }

    /// Elements in no namespace.
    pub const NONE: Ns = Ns::new("", "");
    pub const SOAP12: Ns = Ns::new("soap", SOAP12_ENV);
    pub const WSA: Ns = Ns::new("wsa", WSA);
    pub const WSSE: Ns = Ns::new("wsse", WSSE);
    pub const WSU: Ns = Ns::new("wsu", WSU);
    pub const SIRAM: Ns = Ns::new("siram", SIRAM);
    pub const SAML2: Ns = Ns::new("saml", SAML2);
    pub const XMLDSIG: Ns = Ns::new("ds", XMLDSIG);
}
