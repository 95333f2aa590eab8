//! The SOAP 1.2 envelope of every DMP request (WS-Addressing headers, the signed VIHF in
//! `wsse:Security`) and the reading of every answer (plain SOAP or MTOM, faults, `RelatesTo`).

use passerelle_soap::{Element, Envelope, Limits, Ns, SoapError, XmlWriter, write_envelope};

use super::error::DmpError;
use super::mtom::{self, Attachments};
use super::transport::RawResponse;

pub const WSA_ANONYMOUS: &str = "http://www.w3.org/2005/08/addressing/anonymous";

/// A request's addressing: what the DMP needs to route it and match the answer.
#[derive(Debug, Clone)]
pub struct Addressing<'a> {
    /// `wsa:Action`, e.g. `urn:ihe:iti:2007:RegistryStoredQuery`.
    pub action: &'a str,
    /// `wsa:To`: the service URL.
    pub to: &'a str,
    /// `wsa:MessageID`, written `urn:uuid:…`.
    pub message_id: uuid::Uuid,
}

/// `urn:uuid:<id>`.
pub fn message_id_urn(id: uuid::Uuid) -> String {
    format!("urn:uuid:{id}")
}

/// Writes the envelope: `MessageID`, `To`, `ReplyTo` (anonymous, mustUnderstand), `Action`
/// (mustUnderstand), then `wsse:Security` holding `vihf` verbatim (a signed assertion must not
/// change by a byte); `body` writes the content of `soap:Body`.
pub fn write_request(
    addressing: &Addressing<'_>,
    vihf: &str,
    body: impl FnOnce(&mut XmlWriter) -> Result<(), DmpError>,
) -> Result<Vec<u8>, DmpError> {
    write_envelope::<DmpError>(
        &[Ns::WSA],
        |w| {
            let must = [("soap:mustUnderstand", "true")];
            w.leaf(
                Ns::WSA,
                "MessageID",
                &[],
                &message_id_urn(addressing.message_id),
            )?;
            w.leaf(Ns::WSA, "To", &[], addressing.to)?;
            w.start(Ns::WSA, "ReplyTo", &must)?;
            w.leaf(Ns::WSA, "Address", &[], WSA_ANONYMOUS)?;
            w.end()?;
            w.leaf(Ns::WSA, "Action", &must, addressing.action)?;
            w.start(Ns::WSSE, "Security", &[])?;
            w.raw_element(vihf)?;
            w.end()?;
            Ok(())
        },
        body,
    )
}

/// An answer read: its envelope and, for MTOM answers, the parts its `xop:Include`s point to.
#[derive(Debug)]
pub struct Response {
    pub envelope: Envelope,
    pub attachments: Attachments,
}

impl Response {
    /// The body's payload element.
    pub fn payload(&self) -> Result<&Element, DmpError> {
        self.envelope
            .body_content()
            .ok_or_else(|| DmpError::not_xds("the SOAP Body is empty"))
    }
}

/// Reads an answer: MTOM or plain SOAP; a SOAP fault → [`DmpError::Fault`]; a non-200
/// status without a fault → [`DmpError::Http`]; an answer whose `RelatesTo` is not our
/// `MessageID`, or whose `Action` is not `expected_action` (when given) → [`DmpError::NotXds`].
pub fn read_response(
    raw: RawResponse,
    message_id: Option<uuid::Uuid>,
    expected_action: Option<&str>,
    max_bytes: usize,
) -> Result<Response, DmpError> {
    let RawResponse {
        status,
        content_type,
        body,
    } = raw;
    let parsed = parse_message(content_type.as_deref(), body, max_bytes);
    let (envelope, attachments) = match parsed {
        Ok(v) => v,
        Err(_) if status != 200 => return Err(DmpError::Http { status }),
        Err(e) => return Err(e),
    };
    if let Some(fault) = envelope.fault().map_err(DmpError::from)? {
        return Err(DmpError::from_fault(fault));
    }
    if status != 200 {
        return Err(DmpError::Http { status });
    }
    let wsa = passerelle_soap::ns::WSA;
    if let (Some(id), Some(relates)) = (
        message_id,
        envelope
            .header_block(wsa, "RelatesTo")
            .map(|e| e.text().trim().to_owned()),
    ) {
        let ours = message_id_urn(id);
        if relates != ours && relates != id.to_string() && relates != format!("uuid:{id}") {
            return Err(DmpError::not_xds(format!(
                "the answer relates to {relates}, not to our request {ours}"
            )));
        }
    }
    if let (Some(expected), Some(action)) = (
        expected_action,
        envelope
            .header_block(wsa, "Action")
            .map(|e| e.text().trim().to_owned()),
    ) && !same_action(&action, expected)
    {
        return Err(DmpError::not_xds(format!(
            "answer action {action:?}, expected {expected:?}"
        )));
    }
    Ok(Response {
        envelope,
        attachments,
    })
}

/// The same action, `…-Response` and `…Response` taken as one: IHE names the ITI-57 answer
/// `urn:ihe:iti:2010:UpdateDocumentSetResponse`, the DMP's examples
/// `urn:ihe:iti:2010:UpdateDocumentSet-Response`.
fn same_action(got: &str, expected: &str) -> bool {
    let norm = |a: &str| a.trim().replace("-Response", "Response");
    norm(got) == norm(expected)
}

/// Parses the SOAP message of an HTTP body, MTOM or not.
pub fn parse_message(
    content_type: Option<&str>,
    body: Vec<u8>,
    max_bytes: usize,
) -> Result<(Envelope, Attachments), DmpError> {
    let limits = Limits {
        max_bytes,
        max_depth: 64,
    };
    let is_multipart = content_type
        .map(|c| {
            c.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        })
        .unwrap_or(false);
    if is_multipart {
        let ct = content_type.unwrap_or_default();
        let attachments = mtom::read(ct, body)?;
        let envelope = Envelope::parse(attachments.root(), &limits).map_err(not_soap)?;
        Ok((envelope, attachments))
    } else {
        let envelope = Envelope::parse(&body, &limits).map_err(not_soap)?;
        Ok((envelope, Attachments::none()))
    }
}

fn not_soap(e: SoapError) -> DmpError {
    match e {
        SoapError::TooLarge { limit } => DmpError::ResponseTooLarge { limit },
        other => DmpError::not_xds(format!("not a SOAP message: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIHF: &str = r#"<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x" Version="2.0"><saml2:Issuer>CN=x</saml2:Issuer></saml2:Assertion>"#;

    #[test]
    fn request_has_the_addressing_headers_and_the_assertion_verbatim() {
        let id = uuid::Uuid::new_v4();
        let xml = write_request(
            &Addressing {
                action: "urn:ihe:iti:2007:RegistryStoredQuery",
                to: "https://dmp.test/si-dmp-server/v2/services/registry",
                message_id: id,
            },
            VIHF,
            |w| Ok(w.leaf(Ns::new("x", "urn:x"), "Req", &[], "")?),
        )
        .unwrap();
        let text = String::from_utf8(xml.clone()).unwrap();
        assert!(text.contains(VIHF));
        let env = Envelope::parse(&xml, &Limits::default()).unwrap();
        let wsa = passerelle_soap::ns::WSA;
        assert_eq!(
            env.header_block(wsa, "MessageID").unwrap().text(),
            format!("urn:uuid:{id}")
        );
        let action = env.header_block(wsa, "Action").unwrap();
        assert_eq!(
            action.attr_ns(passerelle_soap::ns::SOAP12_ENV, "mustUnderstand"),
            Some("true")
        );
        let reply = env.header_block(wsa, "ReplyTo").unwrap();
        assert_eq!(reply.child_text(wsa, "Address"), Some(WSA_ANONYMOUS));
        assert!(
            env.header_block(passerelle_soap::ns::WSSE, "Security")
                .unwrap()
                .child(passerelle_soap::ns::SAML2, "Assertion")
                .is_some()
        );
    }

    fn answer(relates: &str, body: &str) -> RawResponse {
        RawResponse {
            status: 200,
            content_type: Some("application/soap+xml; charset=UTF-8".into()),
            body: format!(
                r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><Action xmlns="http://www.w3.org/2005/08/addressing">urn:a</Action><RelatesTo xmlns="http://www.w3.org/2005/08/addressing">{relates}</RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"#
            )
            .into_bytes(),
        }
    }

    #[test]
    fn relates_to_and_action_are_checked() {
        let id = uuid::Uuid::new_v4();
        let ok = read_response(
            answer(&format!("urn:uuid:{id}"), "<r/>"),
            Some(id),
            Some("urn:a"),
            1 << 20,
        )
        .unwrap();
        assert_eq!(ok.payload().unwrap().local, "r");
        let other = uuid::Uuid::new_v4();
        let e = read_response(
            answer(&format!("urn:uuid:{other}"), "<r/>"),
            Some(id),
            None,
            1 << 20,
        )
        .unwrap_err();
        assert!(matches!(e, DmpError::NotXds { .. }), "{e:?}");
        let e = read_response(
            answer(&format!("urn:uuid:{id}"), "<r/>"),
            Some(id),
            Some("urn:b"),
            1 << 20,
        )
        .unwrap_err();
        assert!(matches!(e, DmpError::NotXds { .. }), "{e:?}");
    }

    #[test]
    fn a_fault_is_a_fault_with_its_subcode_whatever_the_status() {
        let fault = r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value><soap:Subcode><soap:Value>soap:DMPInvalidCertificate</soap:Value></soap:Subcode></soap:Code><soap:Reason><soap:Text xml:lang="fr">Le certificat ayant signé le VIHF est invalide : Not a valid signature certificate</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>"#;
        let raw = RawResponse {
            status: 500,
            content_type: Some("application/soap+xml".into()),
            body: fault.as_bytes().to_vec(),
        };
        let e = read_response(raw, None, None, 1 << 20).unwrap_err();
        match &e {
            DmpError::Fault {
                code, fault_code, ..
            } => {
                assert_eq!(code, "DMPInvalidCertificate");
                assert_eq!(fault_code, "Sender");
            }
            other => panic!("{other:?}"),
        }
        assert!(!e.is_transient());
        assert_eq!(e.upstream_code(), Some("DMPInvalidCertificate"));
    }

    #[test]
    fn html_or_garbage_is_http_or_not_xds() {
        let raw = RawResponse {
            status: 503,
            content_type: Some("text/html".into()),
            body: b"<html><body>maintenance</body></html>".to_vec(),
        };
        let e = read_response(raw, None, None, 1 << 20).unwrap_err();
        assert!(matches!(e, DmpError::Http { status: 503 }), "{e:?}");
        assert!(e.is_transient());
        let raw = RawResponse {
            status: 200,
            content_type: Some("text/html".into()),
            body: b"<html><body>hello</body></html>".to_vec(),
        };
        let e = read_response(raw, None, None, 1 << 20).unwrap_err();
        assert!(matches!(e, DmpError::NotXds { .. }), "{e:?}");
    }
}
