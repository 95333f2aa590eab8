//! SOAP faults: SOAP 1.2 `Fault` (Code/Subcode/Reason/Detail), SOAP 1.1 `faultcode`/`faultstring`
//! for robustness, with the CNAM `siram:Erreur` detail.

use crate::SoapError;
use crate::ns::{self, Ns};
use crate::read::{Element, Envelope, Limits, SoapVersion};
use crate::write::write_envelope;

/// A SOAP fault. Codes are local parts of the QNames sent (`Sender`, `siram_100`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SoapFault {
    /// `Code/Value`, e.g. `Sender` (`Client` in SOAP 1.1).
    pub code: String,
    /// `Subcode/Value`s from outermost to innermost, e.g. `siram_100`.
    pub subcodes: Vec<String>,
    /// `Reason/Text` (the first one), or `faultstring`.
    pub reason: String,
    /// `siram:Erreur/@code`, e.g. `desir_550`.
    pub detail_code: Option<String>,
    /// `siram:Erreur` text, or the text of the first detail element.
    pub detail_text: Option<String>,
    /// `siram:Erreur/@severite` (`erreur`, `fatale`…).
    pub severity: Option<String>,
    /// `siram:Erreur/@messageID`: the request's `wsa:MessageID` echoed.
    pub message_id: Option<String>,
}

/// The local part of a QName value (`soap:siram_100` → `siram_100`).
fn local_part(qname: &str) -> String {
    let q = qname.trim();
    q.rsplit_once(':').map_or(q, |(_, l)| l).to_owned()
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

impl SoapFault {
    /// The first subcode (e.g. `siram_100`).
    pub fn subcode(&self) -> Option<&str> {
        self.subcodes.first().map(String::as_str)
    }

    /// The caller's request is at fault (`Sender`, SOAP 1.1 `Client`): retrying it unchanged
    /// will fail again. Otherwise (`Receiver`/`Server`) the service failed.
    pub fn is_sender(&self) -> bool {
        matches!(self.code.as_str(), "Sender" | "Client")
    }

    /// The service's own error code from the detail (e.g. `desir_550`).
    pub fn upstream_code(&self) -> Option<&str> {
        self.detail_code.as_deref()
    }

    /// The fault in an envelope's body, if any.
    pub fn from_envelope(env: &Envelope) -> Result<Option<Self>, SoapError> {
        let env_ns = env.version.namespace();
        let Some(fault) = env.body_content().filter(|c| c.is(env_ns, "Fault")) else {
            return Ok(None);
        };
        match env.version {
            SoapVersion::V12 => Self::from_v12(fault).map(Some),
            SoapVersion::V11 => Ok(Some(Self::from_v11(fault))),
        }
    }

    fn from_v12(fault: &Element) -> Result<Self, SoapError> {
        let env = ns::SOAP12_ENV;
        let code_el = fault
            .child(env, "Code")
            .ok_or_else(|| SoapError::malformed("SOAP fault without Code"))?;
        let code = code_el
            .child_text(env, "Value")
            .map(local_part)
            .ok_or_else(|| SoapError::malformed("SOAP fault without Code/Value"))?;
        let mut subcodes = Vec::new();
        let mut cur = code_el.child(env, "Subcode");
        // Bounded by the document depth limit.
        while let Some(sub) = cur {
            if let Some(v) = sub.child_text(env, "Value") {
                subcodes.push(local_part(v));
            }
            cur = sub.child(env, "Subcode");
        }
        let reason = fault
            .child(env, "Reason")
            .and_then(|r| r.child(env, "Text"))
            .map(|t| t.text().trim().to_owned())
            .unwrap_or_default();
        let mut out = Self {
            code,
            subcodes,
            reason,
            ..Self::default()
        };
        if let Some(detail) = fault.child(env, "Detail") {
            out.read_detail(detail);
        }
        Ok(out)
    }

    fn from_v11(fault: &Element) -> Self {
        // SOAP 1.1 fault children are unqualified.
        let mut out = Self {
            code: fault
                .child_text("", "faultcode")
                .map(local_part)
                .unwrap_or_default(),
            reason: fault
                .child_text("", "faultstring")
                .unwrap_or_default()
                .to_owned(),
            ..Self::default()
        };
        if let Some(detail) = fault.child("", "detail") {
            out.read_detail(detail);
        }
        out
    }

    fn read_detail(&mut self, detail: &Element) {
        if let Some(err) = detail.descendant(ns::SIRAM, "Erreur") {
            self.detail_code = err.attr("code").and_then(non_empty);
            self.severity = err.attr("severite").and_then(non_empty);
            self.message_id = err.attr("messageID").and_then(non_empty);
            self.detail_text = non_empty(err.text());
        } else if let Some(first) = detail.first_child() {
            self.detail_text = non_empty(first.text());
        }
    }

    /// Writes this fault as a SOAP 1.2 envelope, the detail as `siram:Erreur` when it has a
    /// code (the shape the CNAM services send). For simulators and tests.
    pub fn to_envelope(&self) -> Result<Vec<u8>, SoapError> {
        let env = Ns::SOAP12;
        write_envelope::<SoapError>(
            &[],
            |_| Ok(()),
            |w| {
                w.start(env, "Fault", &[])?;
                w.start(env, "Code", &[])?;
                w.leaf(env, "Value", &[], &format!("soap:{}", self.code))?;
                for sub in &self.subcodes {
                    w.start(env, "Subcode", &[])?;
                    w.leaf(env, "Value", &[], &format!("soap:{sub}"))?;
                }
                for _ in &self.subcodes {
                    w.end()?;
                }
                w.end()?;
                w.start(env, "Reason", &[])?;
                w.leaf(env, "Text", &[("xml:lang", "fr")], &self.reason)?;
                w.end()?;
                if let Some(code) = &self.detail_code {
                    w.start(env, "Detail", &[])?;
                    let mut attrs = vec![("code", code.as_str())];
                    if let Some(m) = &self.message_id {
                        attrs.push(("messageID", m));
                    }
                    attrs.push(("severite", self.severity.as_deref().unwrap_or("erreur")));
                    w.leaf(
                        Ns::SIRAM,
                        "Erreur",
                        &attrs,
                        self.detail_text.as_deref().unwrap_or(""),
                    )?;
                    w.end()?;
                }
                w.end()
            },
        )
    }
}

/// The fault carried by a SOAP message, `None` when its body is not a fault.
pub fn parse_fault(message: &[u8], limits: &Limits) -> Result<Option<SoapFault>, SoapError> {
    Envelope::parse(message, limits)?.fault()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `service-errors/siram_100-desir_500-fake-idam.fakeIdamXmlResponse.xml` as captured, with
    /// its mixed prefixes (`soap` on the Envelope, `env` on the Body, `soap` again inside).
    const FAKE_IDAM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><env:Body xmlns:env="http://www.w3.org/2003/05/soap-envelope"><soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value><soap:Subcode><soap:Value>soap:siram_100</soap:Value></soap:Subcode></soap:Code><soap:Reason><soap:Text xml:lang="fr">L'accès par ce progiciel au service n'est pas autorisé. Contactez l'éditeur du progiciel ou votre responsable informatique.</soap:Text></soap:Reason><soap:Detail><siram:Erreur code="desir_550" messageID="uuid:b3549edd-4ae9-472a-b26f-fd2fb4ef397f" severite="erreur" xmlns:siram="urn:siram">Numéro d'autorisation du logiciel inconnu.</siram:Erreur></soap:Detail></soap:Fault></env:Body></soap:Envelope>"#;

    fn fake_idam_expected() -> SoapFault {
        SoapFault {
            code: "Sender".into(),
            subcodes: vec!["siram_100".into()],
            reason: "L'accès par ce progiciel au service n'est pas autorisé. Contactez l'éditeur du progiciel ou votre responsable informatique.".into(),
            detail_code: Some("desir_550".into()),
            detail_text: Some("Numéro d'autorisation du logiciel inconnu.".into()),
            severity: Some("erreur".into()),
            message_id: Some("uuid:b3549edd-4ae9-472a-b26f-fd2fb4ef397f".into()),
        }
    }

    #[test]
    fn captured_insi_fault_parses() {
        let f = parse_fault(FAKE_IDAM.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(f, fake_idam_expected());
        assert_eq!(f.subcode(), Some("siram_100"));
        assert_eq!(f.upstream_code(), Some("desir_550"));
        assert!(f.is_sender());
    }

    /// The shared fixture file itself, when the shared folder is beside the project.
    #[test]
    fn shared_fixture_file_parses() {
        let dir = std::env::var_os("PASSERELLE_SHARED_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
            });
        let path = dir.join(
            "specs/insi/fixtures/service-errors/siram_100-desir_500-fake-idam.fakeIdamXmlResponse.xml",
        );
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "shared test material not found at {} ({e}): set PASSERELLE_SHARED_DIR",
                path.display()
            )
        });
        let f = parse_fault(&bytes, &Limits::default()).unwrap().unwrap();
        assert_eq!(f, fake_idam_expected());
    }

    #[test]
    fn nested_subcodes_and_foreign_detail() {
        let xml = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault>
            <e:Code><e:Value>e:Receiver</e:Value><e:Subcode><e:Value>a:one</e:Value><e:Subcode><e:Value>two</e:Value></e:Subcode></e:Subcode></e:Code>
            <e:Reason><e:Text xml:lang="en">down</e:Text></e:Reason>
            <e:Detail><x:Info xmlns:x="urn:x"> busy </x:Info></e:Detail></e:Fault></e:Body></e:Envelope>"#;
        let f = parse_fault(xml.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(f.code, "Receiver");
        assert_eq!(f.subcodes, ["one", "two"]);
        assert_eq!(f.reason, "down");
        assert_eq!(f.detail_code, None);
        assert_eq!(f.detail_text.as_deref(), Some("busy"));
    }

    #[test]
    fn soap11_fault() {
        let xml = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>bad</faultstring><detail><siram:Erreur xmlns:siram="urn:siram" code="insi_102" severite="erreur">x</siram:Erreur></detail></s:Fault></s:Body></s:Envelope>"#;
        let f = parse_fault(xml.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(f.code, "Client");
        assert_eq!(f.reason, "bad");
        assert_eq!(f.upstream_code(), Some("insi_102"));
    }

    #[test]
    fn non_fault_bodies_and_broken_faults() {
        let ok = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><r/></s:Body></s:Envelope>"#;
        assert_eq!(parse_fault(ok.as_bytes(), &Limits::default()), Ok(None));
        let broken = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault/></s:Body></s:Envelope>"#;
        assert!(matches!(
            parse_fault(broken.as_bytes(), &Limits::default()),
            Err(SoapError::Malformed { .. })
        ));
    }

    #[test]
    fn written_fault_round_trips() {
        let f = fake_idam_expected();
        let xml = f.to_envelope().unwrap();
        assert_eq!(parse_fault(&xml, &Limits::default()).unwrap(), Some(f));
    }
}
