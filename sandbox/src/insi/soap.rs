//! What the simulated service writes: `RESULTAT` answers and SOAP faults, in the
//! shapes of the captured answers of the CNAM service (same prefixes and namespace
//! declarations), written with quick-xml's `Writer` (escaping included).

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::identities::Identity;

pub(crate) const NS_SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
pub(crate) const NS_SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub(crate) const NS_WSA: &str = "http://www.w3.org/2005/08/addressing";
pub(crate) const NS_WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
pub(crate) const NS_SAML2: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub(crate) const NS_CTXBAM: &str = "urn:siram:bam:ctxbam";
pub(crate) const NS_CTXLPS: &str = "urn:siram:lps:ctxlps";
pub(crate) const NS_SIRAM: &str = "urn:siram";
pub(crate) const NS_RECSANS: &str = "http://www.cnamts.fr/INSiRecSans";
pub(crate) const NS_RECVIT: &str = "http://www.cnamts.fr/INSiRecVit";
pub(crate) const NS_RESULTAT: &str = "http://www.cnamts.fr/INSiResultat";

pub(crate) const CONTENT_TYPE_SOAP12: &str = "application/soap+xml; charset=utf-8";
pub(crate) const CONTENT_TYPE_SOAP11: &str = "text/xml; charset=utf-8";

/// Result of a search, as `RESULTAT/CR` reports it.
#[derive(Debug)]
pub(crate) enum Outcome<'a> {
    /// CR 00: exactly one identity.
    One(&'a Identity),
    /// CR 01.
    NotFound,
    /// CR 02.
    Several,
}

impl Outcome<'_> {
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::One(_) => "00",
            Outcome::NotFound => "01",
            Outcome::Several => "02",
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Outcome::One(_) => "OK",
            Outcome::NotFound => "Aucune identite trouvee",
            Outcome::Several => "Plusieurs identites trouvees",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultCode {
    Sender,
    Receiver,
}

/// A fault in the service's own format: `siram_*` subcode, `siram:Erreur` detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiramFault {
    pub code: FaultCode,
    pub subcode: String,
    pub reason: String,
    pub detail_code: String,
    pub severite: &'static str,
    pub detail: String,
}

/// Every fault the sandbox can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    Siram(SiramFault),
    /// WS-Addressing 1.0 (SOAP binding, §6) faults: missing or unknown action, missing
    /// message id. `subcodes` nest (`InvalidAddressingHeader` / `ActionMismatch`).
    Addressing {
        subcodes: &'static [&'static str],
        reason: &'static str,
        problem_header: Option<&'static str>,
        problem_action: Option<String>,
    },
    /// SOAP 1.2 Part 1 §5.4.8: a `mustUnderstand` header block the service ignores.
    MustUnderstand {
        ns: String,
        local: String,
    },
    /// SOAP 1.2 Part 1 §5.4.7 and appendix A: another envelope version. A SOAP 1.1
    /// sender gets a SOAP 1.1 fault it can read.
    VersionMismatch {
        soap11: bool,
    },
}

const REASON_ACCESS_SOFTWARE: &str = "L'accès par ce progiciel au service n'est pas autorisé. \
Contactez l'éditeur du progiciel ou votre responsable informatique.";
const REASON_UNAVAILABLE: &str = "Le service est temporairement inaccessible. Veuillez \
renouveler votre demande ultérieurement. Si le problème persiste, contactez l'éditeur du \
progiciel ou votre responsable informatique.";
const REASON_ACCESS_RIGHTS: &str = "L'accès au service n'est pas autorisé. Contactez votre \
responsable informatique.";
const REASON_INVALID: &str = "La requête n'est pas conforme. Contactez l'éditeur du progiciel \
ou votre responsable informatique.";

impl SiramFault {
    fn sender(subcode: &str, reason: &str, detail_code: &str, detail: impl Into<String>) -> Self {
        Self {
            code: FaultCode::Sender,
            subcode: subcode.into(),
            reason: reason.into(),
            detail_code: detail_code.into(),
            severite: "erreur",
            detail: detail.into(),
        }
    }

    /// Observed (captured): unknown software authorisation number (IDAM).
    pub fn unknown_idam() -> Self {
        Self::sender(
            "siram_100",
            REASON_ACCESS_SOFTWARE,
            "desir_550",
            "Numéro d'autorisation du logiciel inconnu.",
        )
    }

    /// `desir_560` and its text are documented (certificate CN other than INSI-AUTO /
    /// INSI-MANU); the subcode and reason are assumed.
    pub fn insufficient_rights() -> Self {
        Self::sender(
            "siram_100",
            REASON_ACCESS_RIGHTS,
            "desir_560",
            "Vous ne disposez pas des droits suffisants pour accéder à ce service",
        )
    }

    /// Assumed: the CPS assertion is refused (`desir_561` signature, `desir_562`
    /// certificate, `desir_563` identity, `desir_564` instant; see the README).
    pub fn bad_assertion(detail_code: &str, detail: impl Into<String>) -> Self {
        Self::sender("siram_100", REASON_ACCESS_RIGHTS, detail_code, detail)
    }

    /// Assumed: the message is not a well-formed INSi SOAP request.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::sender("siram_10", REASON_INVALID, "desir_100", detail)
    }

    /// Assumed: the message exceeds the size the service accepts.
    pub fn too_large(limit: usize) -> Self {
        Self::sender(
            "siram_10",
            REASON_INVALID,
            "desir_101",
            format!("La taille du message dépasse la limite autorisée ({limit} octets)."),
        )
    }

    /// Assumed: `ContexteBAM` / `ContexteLPS` missing or invalid.
    pub fn bad_context(detail: impl Into<String>) -> Self {
        Self::sender("siram_10", REASON_INVALID, "desir_102", detail)
    }

    /// Assumed: a trait is missing or malformed (`insi_19`… see the README).
    pub fn invalid_trait(detail_code: &str, detail: impl Into<String>) -> Self {
        Self::sender("siram_10", REASON_INVALID, detail_code, detail)
    }

    /// A fault chosen by the fault injection. Code, severity and reason follow the
    /// captures when the pair is known (`siram_40`/`desir_1020`: Sender;
    /// `siram_40`/`insi_102`: Receiver), else `siram_40` is a Receiver fault.
    pub fn injected(subcode: &str, detail_code: &str, detail: &str) -> Self {
        let (code, severite, reason) = match (subcode, detail_code) {
            ("siram_40", "desir_1020") => (FaultCode::Sender, "fatale", REASON_UNAVAILABLE),
            ("siram_40", _) => (FaultCode::Receiver, "fatale", REASON_UNAVAILABLE),
            ("siram_100", _) => (FaultCode::Sender, "erreur", REASON_ACCESS_SOFTWARE),
            _ => (FaultCode::Sender, "erreur", REASON_INVALID),
        };
        Self {
            code,
            subcode: subcode.into(),
            reason: reason.into(),
            detail_code: detail_code.into(),
            severite,
            detail: detail.into(),
        }
    }
}

impl Fault {
    /// What the access log records: codes only.
    pub fn log_code(&self) -> String {
        match self {
            Fault::Siram(f) => format!("{}/{}", f.subcode, f.detail_code),
            Fault::Addressing { subcodes, .. } => format!("wsa:{}", subcodes.join("/")),
            Fault::MustUnderstand { .. } => "MustUnderstand".into(),
            Fault::VersionMismatch { .. } => "VersionMismatch".into(),
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            Fault::VersionMismatch { soap11: true } => CONTENT_TYPE_SOAP11,
            _ => CONTENT_TYPE_SOAP12,
        }
    }

    /// The fault envelope; `message_id` is the request's `wsa:MessageID` when known.
    pub fn render(&self, message_id: Option<&str>) -> io::Result<Vec<u8>> {
        let mut w = document()?;
        match self {
            Fault::Siram(f) => render_siram(&mut w, f, message_id)?,
            Fault::Addressing {
                subcodes,
                reason,
                problem_header,
                problem_action,
            } => render_addressing(
                &mut w,
                subcodes,
                reason,
                *problem_header,
                problem_action.as_deref(),
                message_id,
            )?,
            Fault::MustUnderstand { ns, local } => render_must_understand(&mut w, ns, local)?,
            Fault::VersionMismatch { soap11: true } => render_version_mismatch_11(&mut w)?,
            Fault::VersionMismatch { soap11: false } => render_version_mismatch_12(&mut w)?,
        }
        Ok(w.into_inner())
    }
}

type W = Writer<Vec<u8>>;

/// `<?xml …?>` then a line break, as the service writes it.
fn document() -> io::Result<W> {
    let mut w = Writer::new(Vec::with_capacity(2048));
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.write_event(Event::Text(BytesText::from_escaped("\n")))?;
    Ok(w)
}

fn text_el(w: &mut W, name: &str, text: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(text))?;
    Ok(())
}

fn code_value(code: FaultCode) -> &'static str {
    match code {
        FaultCode::Sender => "soap:Sender",
        FaultCode::Receiver => "soap:Receiver",
    }
}

fn render_siram(w: &mut W, f: &SiramFault, message_id: Option<&str>) -> io::Result<()> {
    w.create_element("soap:Envelope")
        .with_attribute(("xmlns:soap", NS_SOAP12))
        .write_inner_content(|w| {
            w.create_element("env:Body")
                .with_attribute(("xmlns:env", NS_SOAP12))
                .write_inner_content(|w| {
                    w.create_element("soap:Fault").write_inner_content(|w| {
                        w.create_element("soap:Code").write_inner_content(|w| {
                            text_el(w, "soap:Value", code_value(f.code))?;
                            w.create_element("soap:Subcode").write_inner_content(|w| {
                                // The service qualifies its subcodes with the envelope
                                // prefix (captured), odd as that is.
                                text_el(w, "soap:Value", &format!("soap:{}", f.subcode))
                            })?;
                            Ok(())
                        })?;
                        w.create_element("soap:Reason").write_inner_content(|w| {
                            w.create_element("soap:Text")
                                .with_attribute(("xml:lang", "fr"))
                                .write_text_content(BytesText::new(&f.reason))?;
                            Ok(())
                        })?;
                        w.create_element("soap:Detail").write_inner_content(|w| {
                            let mut erreur = w
                                .create_element("siram:Erreur")
                                .with_attribute(("code", f.detail_code.as_str()));
                            if let Some(id) = message_id {
                                erreur = erreur.with_attribute(("messageID", id));
                            }
                            erreur
                                .with_attribute(("severite", f.severite))
                                .with_attribute(("xmlns:siram", NS_SIRAM))
                                .write_text_content(BytesText::new(&f.detail))?;
                            Ok(())
                        })?;
                        Ok(())
                    })?;
                    Ok(())
                })?;
            Ok(())
        })?;
    Ok(())
}

fn render_addressing(
    w: &mut W,
    subcodes: &[&str],
    reason: &str,
    problem_header: Option<&str>,
    problem_action: Option<&str>,
    message_id: Option<&str>,
) -> io::Result<()> {
    w.create_element("soap:Envelope")
        .with_attribute(("xmlns:soap", NS_SOAP12))
        .with_attribute(("xmlns:wsa", NS_WSA))
        .write_inner_content(|w| {
            w.create_element("soap:Header").write_inner_content(|w| {
                text_el(
                    w,
                    "wsa:Action",
                    "http://www.w3.org/2005/08/addressing/fault",
                )?;
                if let Some(id) = message_id {
                    text_el(w, "wsa:RelatesTo", id)?;
                }
                Ok(())
            })?;
            w.create_element("soap:Body").write_inner_content(|w| {
                w.create_element("soap:Fault").write_inner_content(|w| {
                    w.create_element("soap:Code").write_inner_content(|w| {
                        text_el(w, "soap:Value", "soap:Sender")?;
                        write_subcodes(w, subcodes)
                    })?;
                    w.create_element("soap:Reason").write_inner_content(|w| {
                        w.create_element("soap:Text")
                            .with_attribute(("xml:lang", "en"))
                            .write_text_content(BytesText::new(reason))?;
                        Ok(())
                    })?;
                    if problem_header.is_some() || problem_action.is_some() {
                        w.create_element("soap:Detail").write_inner_content(|w| {
                            if let Some(h) = problem_header {
                                text_el(w, "wsa:ProblemHeaderQName", h)?;
                            }
                            if let Some(a) = problem_action {
                                w.create_element("wsa:ProblemAction")
                                    .write_inner_content(|w| text_el(w, "wsa:Action", a))?;
                            }
                            Ok(())
                        })?;
                    }
                    Ok(())
                })?;
                Ok(())
            })?;
            Ok(())
        })?;
    Ok(())
}

fn write_subcodes(w: &mut W, subcodes: &[&str]) -> io::Result<()> {
    let Some((first, rest)) = subcodes.split_first() else {
        return Ok(());
    };
    w.create_element("soap:Subcode").write_inner_content(|w| {
        text_el(w, "soap:Value", &format!("wsa:{first}"))?;
        write_subcodes(w, rest)
    })?;
    Ok(())
}

fn render_must_understand(w: &mut W, ns: &str, local: &str) -> io::Result<()> {
    w.create_element("soap:Envelope")
        .with_attribute(("xmlns:soap", NS_SOAP12))
        .write_inner_content(|w| {
            w.create_element("soap:Header").write_inner_content(|w| {
                w.create_element("soap:NotUnderstood")
                    .with_attribute(("qname", format!("nu:{local}").as_str()))
                    .with_attribute(("xmlns:nu", ns))
                    .write_empty()?;
                Ok(())
            })?;
            w.create_element("soap:Body").write_inner_content(|w| {
                w.create_element("soap:Fault").write_inner_content(|w| {
                    w.create_element("soap:Code")
                        .write_inner_content(|w| text_el(w, "soap:Value", "soap:MustUnderstand"))?;
                    w.create_element("soap:Reason").write_inner_content(|w| {
                        w.create_element("soap:Text")
                            .with_attribute(("xml:lang", "en"))
                            .write_text_content(BytesText::new(
                                "One or more mandatory SOAP header blocks not understood",
                            ))?;
                        Ok(())
                    })?;
                    Ok(())
                })?;
                Ok(())
            })?;
            Ok(())
        })?;
    Ok(())
}

/// The `Upgrade` header block tells the sender which envelope the service speaks.
fn write_upgrade(w: &mut W) -> io::Result<()> {
    w.create_element("upg:Upgrade")
        .with_attribute(("xmlns:upg", NS_SOAP12))
        .write_inner_content(|w| {
            w.create_element("upg:SupportedEnvelope")
                .with_attribute(("qname", "upg:Envelope"))
                .write_empty()?;
            Ok(())
        })?;
    Ok(())
}

const VERSION_MISMATCH_TEXT: &str =
    "Wrong SOAP envelope version: this service accepts SOAP 1.2 only";

fn render_version_mismatch_11(w: &mut W) -> io::Result<()> {
    w.create_element("soap11:Envelope")
        .with_attribute(("xmlns:soap11", NS_SOAP11))
        .write_inner_content(|w| {
            w.create_element("soap11:Header")
                .write_inner_content(write_upgrade)?;
            w.create_element("soap11:Body").write_inner_content(|w| {
                w.create_element("soap11:Fault").write_inner_content(|w| {
                    text_el(w, "faultcode", "soap11:VersionMismatch")?;
                    text_el(w, "faultstring", VERSION_MISMATCH_TEXT)
                })?;
                Ok(())
            })?;
            Ok(())
        })?;
    Ok(())
}

fn render_version_mismatch_12(w: &mut W) -> io::Result<()> {
    w.create_element("soap:Envelope")
        .with_attribute(("xmlns:soap", NS_SOAP12))
        .write_inner_content(|w| {
            w.create_element("soap:Header")
                .write_inner_content(write_upgrade)?;
            w.create_element("soap:Body").write_inner_content(|w| {
                w.create_element("soap:Fault").write_inner_content(|w| {
                    w.create_element("soap:Code").write_inner_content(|w| {
                        text_el(w, "soap:Value", "soap:VersionMismatch")
                    })?;
                    w.create_element("soap:Reason").write_inner_content(|w| {
                        w.create_element("soap:Text")
                            .with_attribute(("xml:lang", "en"))
                            .write_text_content(BytesText::new(VERSION_MISMATCH_TEXT))?;
                        Ok(())
                    })?;
                    Ok(())
                })?;
                Ok(())
            })?;
            Ok(())
        })?;
    Ok(())
}

/// The answer of a search, in the live service's shape and the XSD's element order.
pub(crate) fn render_resultat(outcome: &Outcome<'_>) -> io::Result<Vec<u8>> {
    let mut w = document()?;
    w.create_element("soap:Envelope")
        .with_attribute(("xmlns:soap", NS_SOAP12))
        .write_inner_content(|w| {
            w.create_element("env:Body")
                .with_attribute(("xmlns:S", NS_SOAP12))
                .with_attribute(("xmlns:env", NS_SOAP12))
                .write_inner_content(|w| {
                    w.create_element("RESULTAT")
                        .with_attribute(("xmlns", NS_RESULTAT))
                        .with_attribute(("xmlns:ns0", NS_RECVIT))
                        .with_attribute(("xmlns:ns1", NS_RECSANS))
                        .write_inner_content(|w| {
                            w.create_element("CR").write_inner_content(|w| {
                                text_el(w, "CodeCR", outcome.code())?;
                                text_el(w, "LibelleCR", outcome.label())
                            })?;
                            if let Outcome::One(id) = outcome {
                                write_individu(w, id)?;
                            }
                            Ok(())
                        })?;
                    Ok(())
                })?;
            Ok(())
        })?;
    Ok(w.into_inner())
}

fn write_individu(w: &mut W, id: &Identity) -> io::Result<()> {
    w.create_element("INDIVIDU").write_inner_content(|w| {
        w.create_element("INSACTIF").write_inner_content(|w| {
            w.create_element("IdIndividu").write_inner_content(|w| {
                text_el(w, "NumIdentifiant", &id.matricule)?;
                text_el(w, "Cle", &id.key)
            })?;
            text_el(w, "OID", id.oid())
        })?;
        for h in &id.history {
            w.create_element("INSHISTO").write_inner_content(|w| {
                w.create_element("IdIndividu").write_inner_content(|w| {
                    text_el(w, "NumIdentifiant", &h.matricule)?;
                    text_el(w, "Cle", &h.key)?;
                    if let Some(t) = &h.type_matricule {
                        text_el(w, "TypeMatricule", t)?;
                    }
                    Ok(())
                })?;
                text_el(w, "OID", h.oid())?;
                if let Some(d) = &h.date_start {
                    text_el(w, "DateDeb", d)?;
                }
                if let Some(d) = &h.date_end {
                    text_el(w, "DateFin", d)?;
                }
                Ok(())
            })?;
        }
        w.create_element("TIQ").write_inner_content(|w| {
            text_el(w, "NomNaissance", &id.birth_name)?;
            text_el(w, "ListePrenom", &id.first_names)?;
            text_el(w, "Sexe", &id.sex)?;
            text_el(w, "DateNaissance", &id.birth_date)?;
            if let Some(place) = &id.birth_place {
                text_el(w, "LieuNaissance", place)?;
            }
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siram_fault_has_the_captured_shape() {
        let xml = Fault::Siram(SiramFault::unknown_idam())
            .render(Some("uuid:1"))
            .unwrap();
        let xml = String::from_utf8(xml).unwrap();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope"));
        assert!(xml.contains("<soap:Value>soap:siram_100</soap:Value>"));
        assert!(xml.contains(
            "<siram:Erreur code=\"desir_550\" messageID=\"uuid:1\" severite=\"erreur\" xmlns:siram=\"urn:siram\">"
        ));
    }

    #[test]
    fn texts_are_escaped() {
        let fault = Fault::Siram(SiramFault::malformed("<&>"));
        let xml = String::from_utf8(fault.render(Some("a\"b")).unwrap()).unwrap();
        assert!(xml.contains("&lt;&amp;&gt;"));
        assert!(xml.contains("messageID=\"a&quot;b\""));
    }
}
