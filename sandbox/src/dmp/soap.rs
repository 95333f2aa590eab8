//! SOAP 1.2 envelopes of the answers (WS-Addressing headers as in the official responses:
//! `Action`, `MessageID`, `To` anonymous, `RelatesTo`) and SOAP faults.

use super::writer::Xml;

pub(crate) const NS_SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
pub(crate) const NS_SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub(crate) const NS_WSA: &str = "http://www.w3.org/2005/08/addressing";
pub(crate) const NS_WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
pub(crate) const NS_SAML2: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub(crate) const NS_HL7: &str = "urn:hl7-org:v3";
pub(crate) const NS_RIM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0";
pub(crate) const NS_RS: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0";
pub(crate) const NS_LCM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0";
pub(crate) const NS_QUERY: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0";
pub(crate) const NS_XDSB: &str = "urn:ihe:iti:xds-b:2007";
pub(crate) const NS_XOP: &str = "http://www.w3.org/2004/08/xop/include";
pub(crate) const NS_HABILITATIONS: &str = "urn:si-dmp-habilitations";
pub(crate) const NS_PATIENTS: &str = "urn:si-dmp-patients";
pub(crate) const ANONYMOUS: &str = "http://www.w3.org/2005/08/addressing/anonymous";
pub(crate) const FAULT_ACTION: &str = "http://www.w3.org/2005/08/addressing/soap/fault";

/// A SOAP 1.2 fault: `soap:Sender` or `soap:Receiver`, a subcode (DMP code such as
/// `DMPInvalidCertificate`), a French reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    pub code: FaultCode,
    pub subcode: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultCode {
    Sender,
    Receiver,
    VersionMismatch,
    MustUnderstand,
}

impl Fault {
    pub fn sender(subcode: &str, reason: impl Into<String>) -> Self {
        Self {
            code: FaultCode::Sender,
            subcode: Some(subcode.to_owned()),
            reason: reason.into(),
        }
    }

    pub fn receiver(subcode: &str, reason: impl Into<String>) -> Self {
        Self {
            code: FaultCode::Receiver,
            subcode: Some(subcode.to_owned()),
            reason: reason.into(),
        }
    }

    /// What the access log shows.
    pub fn log_code(&self) -> String {
        match &self.subcode {
            Some(s) => format!("fault {s}"),
            None => format!("fault {:?}", self.code),
        }
    }

    pub fn render(&self, relates_to: Option<&str>) -> Vec<u8> {
        let code = match self.code {
            FaultCode::Sender => "soap:Sender",
            FaultCode::Receiver => "soap:Receiver",
            FaultCode::VersionMismatch => "soap:VersionMismatch",
            FaultCode::MustUnderstand => "soap:MustUnderstand",
        };
        envelope(FAULT_ACTION, relates_to, |x| {
            x.start("soap:Fault", &[]).start("soap:Code", &[]);
            x.leaf("soap:Value", &[], code);
            if let Some(sub) = &self.subcode {
                x.start("soap:Subcode", &[]);
                x.leaf("soap:Value", &[], &format!("soap:{sub}"));
                x.end("soap:Subcode");
            }
            x.end("soap:Code").start("soap:Reason", &[]);
            x.leaf("soap:Text", &[("xml:lang", "fr")], &self.reason);
            x.end("soap:Reason").end("soap:Fault");
        })
    }
}

/// A SOAP 1.2 envelope with the response's WS-Addressing headers.
pub(crate) fn envelope(
    action: &str,
    relates_to: Option<&str>,
    body: impl FnOnce(&mut Xml),
) -> Vec<u8> {
    let mut x = Xml::new();
    x.start("soap:Envelope", &[("xmlns:soap", NS_SOAP12)]);
    x.start("soap:Header", &[]);
    x.leaf("Action", &[("xmlns", NS_WSA)], action);
    x.leaf(
        "MessageID",
        &[("xmlns", NS_WSA)],
        &format!("urn:uuid:{}", uuid::Uuid::new_v4()),
    );
    x.leaf("To", &[("xmlns", NS_WSA)], ANONYMOUS);
    if let Some(r) = relates_to {
        x.leaf("RelatesTo", &[("xmlns", NS_WSA)], r);
    }
    x.end("soap:Header");
    x.start("soap:Body", &[]);
    body(&mut x);
    x.end("soap:Body").end("soap:Envelope");
    x.finish()
}

/// The SOAP 1.1 VersionMismatch fault (SOAP 1.2 §5.4.7 with the `Upgrade` header).
pub(crate) fn version_mismatch_11() -> Vec<u8> {
    let mut x = Xml::new();
    x.start("env:Envelope", &[("xmlns:env", NS_SOAP11)]);
    x.start("env:Header", &[]);
    x.start("upg:Upgrade", &[("xmlns:upg", NS_SOAP12)]);
    x.empty(
        "upg:SupportedEnvelope",
        &[("qname", "ns1:Envelope"), ("xmlns:ns1", NS_SOAP12)],
    );
    x.end("upg:Upgrade").end("env:Header");
    x.start("env:Body", &[]).start("env:Fault", &[]);
    x.leaf("faultcode", &[], "env:VersionMismatch");
    x.leaf(
        "faultstring",
        &[],
        "Version mismatch: the DMP web services take SOAP 1.2 envelopes",
    );
    x.end("env:Fault").end("env:Body").end("env:Envelope");
    x.finish()
}
