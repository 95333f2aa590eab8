//! The VIHF (SAML 2.0 assertion in `wsse:Security`) of every request, checked as the DMP
//! does (the first failure answers):
//!
//! 1. exactly one `saml2:Assertion` (else `DMPVIHFAbsent`, assumed code);
//! 2. the certificate in `KeyInfo`, checked before the signature: issued by the test root
//!    CA or the CPS CA, valid now and a **signature** certificate (keyUsage
//!    nonRepudiation); an authentication certificate gets `DMPInvalidCertificate` "Le
//!    certificat ayant signé le VIHF est invalide : Not a valid signature certificate"
//!    (observed, DEH);
//! 3. the enveloped signature: exclusive C14N, RSA-SHA1 or RSA-SHA256, SHA-1 or SHA-256
//!    digest (`DMPInvalidSignature`, assumed);
//! 4. the TLS certificate: in `DIRECTE` mode the same card's authentication certificate
//!    (issued by the CPS CA, same CN), in the indirect modes an organisation certificate
//!    (issued by the root CA) (`DMPInvalidCertificate`);
//! 5. `IssueInstant` within the skew (`DMPVIHFExpired`, assumed);
//! 6. the attributes (`DMPInvalidVIHF`, assumed code; DEH's text for the missing specialty).

use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::patients::{INS_OIDS, parse_cx};
use super::soap::{Fault, NS_HL7, NS_SAML2, NS_SOAP11, NS_SOAP12, NS_WSSE};
use crate::common::dsig;
use crate::common::xml::Element;

pub(crate) const CODE_ABSENT: &str = "DMPVIHFAbsent";
pub(crate) const CODE_SIGNATURE: &str = "DMPInvalidSignature";
pub(crate) const CODE_CERTIFICATE: &str = "DMPInvalidCertificate";
pub(crate) const CODE_EXPIRED: &str = "DMPVIHFExpired";
pub(crate) const CODE_INVALID: &str = "DMPInvalidVIHF";

const OID_PROFESSION: &str = "1.2.250.1.71.1.2.7";
const OID_SPECIALTY: &str = "1.2.250.1.71.4.2.5";
const PROFESSION_DOCTOR: &str = "10";
const OID_PURPOSE: &str = "1.2.250.1.213.1.1.4.248";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Directe,
    Indirecte,
    IndirecteRenforcee,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Normal,
    BrisDeGlace,
    Centre15,
}

/// What a verified VIHF says about the caller.
#[derive(Debug, Clone)]
pub(crate) struct Vihf {
    /// `Subject/NameID`: the professional's identifier.
    pub actor: String,
    pub mode: Mode,
    pub purpose: Purpose,
    pub structure: String,
    /// The profession code (JDV_J65 / 1.2.250.1.71.1.2.7) and specialties.
    pub profession: String,
    /// The patient (15-character INS and OID) when the VIHF names one.
    pub patient: Option<(String, String)>,
}

impl Vihf {
    pub fn is_doctor(&self) -> bool {
        self.profession == PROFESSION_DOCTOR
    }
}

/// The sandbox's trust: DER of the root CA and of the CPS CA, the skew.
pub(crate) struct Trust {
    pub ca_der: Vec<u8>,
    pub cps_ca_der: Vec<u8>,
    pub max_skew: Duration,
}

/// The TLS client certificate, as the handshake gave it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsClient {
    pub cn: Option<String>,
    /// Issued by the CPS CA (a card's authentication certificate).
    pub is_cps: bool,
}

fn invalid(text: impl Into<String>) -> Fault {
    Fault::sender(CODE_INVALID, format!("VIHF invalide : {}", text.into()))
}

fn bad_cert(text: &str) -> Fault {
    Fault::sender(
        CODE_CERTIFICATE,
        format!("Le certificat ayant signé le VIHF est invalide : {text}"),
    )
}

/// The assertion's path (envelope, header, security, assertion).
fn find(envelope: &Element) -> Result<Vec<&Element>, Fault> {
    let absent = || {
        Fault::sender(
            CODE_ABSENT,
            "Le VIHF est absent de la requête (wsse:Security/saml2:Assertion).",
        )
    };
    let header = envelope
        .child(NS_SOAP12, "Header")
        .or_else(|| envelope.child(NS_SOAP11, "Header"))
        .ok_or_else(absent)?;
    let mut found = None;
    for security in header.children_named(NS_WSSE, "Security") {
        for assertion in security.children_named(NS_SAML2, "Assertion") {
            if found.is_some() {
                return Err(Fault::sender(
                    CODE_SIGNATURE,
                    "Plusieurs assertions SAML dans wsse:Security.",
                ));
            }
            found = Some(vec![envelope, header, security, assertion]);
        }
    }
    found.ok_or_else(absent)
}

pub(crate) fn verify(
    envelope: &Element,
    trust: &Trust,
    tls: &TlsClient,
    now: OffsetDateTime,
) -> Result<Vihf, Fault> {
    let path = find(envelope)?;
    let assertion = path[path.len() - 1];
    if assertion.attr("Version") != Some("2.0") {
        return Err(Fault::sender(
            CODE_SIGNATURE,
            "Le VIHF doit être une assertion SAML 2.0.",
        ));
    }
    let cert_der = dsig::signer_certificate(assertion).map_err(|e| {
        Fault::sender(
            CODE_SIGNATURE,
            format!("La signature du VIHF est invalide : {}.", e.0),
        )
    })?;
    // The signing certificate, checked first.
    let (_, cert) =
        X509Certificate::from_der(&cert_der).map_err(|_| bad_cert("certificat illisible"))?;
    let issuer_ok = [&trust.ca_der, &trust.cps_ca_der].iter().any(|ca| {
        X509Certificate::from_der(ca).is_ok_and(|(_, ca)| {
            cert.issuer().as_raw() == ca.subject().as_raw()
                && cert.verify_signature(Some(ca.public_key())).is_ok()
        })
    });
    if !issuer_ok {
        return Err(bad_cert("Unknown certificate authority"));
    }
    let validity = cert.validity();
    if validity.not_before.to_datetime() > now || validity.not_after.to_datetime() < now {
        return Err(bad_cert("Certificate expired or not yet valid"));
    }
    let non_repudiation = cert
        .key_usage()
        .ok()
        .flatten()
        .is_some_and(|ku| ku.value.non_repudiation());
    if !non_repudiation {
        return Err(bad_cert("Not a valid signature certificate"));
    }
    let verified = dsig::verify_enveloped(&path, "ID").map_err(|e| {
        Fault::sender(
            CODE_SIGNATURE,
            format!("La signature du VIHF est invalide : {}.", e.0),
        )
    })?;
    if verified.cert_der != cert_der {
        return Err(Fault::sender(
            CODE_SIGNATURE,
            "La signature du VIHF est invalide.",
        ));
    }
    tracing::debug!(algorithm = verified.algorithm, "VIHF signature verified");
    let signer_cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned();

    let attrs = Attributes(assertion.child(NS_SAML2, "AttributeStatement"));
    let version = attrs
        .string("VIHF_Version")
        .ok_or_else(|| invalid("VIHF_Version absent"))?;
    if !version.starts_with('3') {
        return Err(invalid(format!(
            "VIHF_Version {version} non supportée (3.0 attendue)"
        )));
    }
    let mode = match attrs
        .string("Authentification_mode")
        .or_else(|| attrs.string("Authentification_Mode"))
        .as_deref()
    {
        Some("DIRECTE") => Mode::Directe,
        Some("INDIRECTE") => Mode::Indirecte,
        Some("INDIRECTE_RENFORCEE") => Mode::IndirecteRenforcee,
        Some(_) => return Err(invalid("mode d'authentification inconnu")),
        None => return Err(invalid("Authentification_mode absent")),
    };

    // The TLS session against the mode.
    match mode {
        Mode::Directe => {
            if !tls.is_cps || tls.cn.as_deref() != Some(signer_cn.as_str()) {
                return Err(Fault::sender(
                    CODE_CERTIFICATE,
                    "Le certificat d'authentification de la session TLS n'est pas celui de la carte qui a signé le VIHF (mode DIRECTE).",
                ));
            }
        }
        Mode::Indirecte | Mode::IndirecteRenforcee => {
            if tls.is_cps {
                return Err(Fault::sender(
                    CODE_CERTIFICATE,
                    "En mode indirect la session TLS doit être authentifiée par un certificat de structure.",
                ));
            }
        }
    }

    // IssueInstant.
    let instant = assertion
        .attr("IssueInstant")
        .and_then(|t| OffsetDateTime::parse(t.trim(), &Rfc3339).ok())
        .ok_or_else(|| invalid("IssueInstant absent ou illisible"))?;
    let skew = time::Duration::try_from(trust.max_skew).unwrap_or(time::Duration::MAX);
    if instant < now - skew || instant > now + skew {
        return Err(Fault::sender(
            CODE_EXPIRED,
            "Le VIHF n'est pas valide à cette date (IssueInstant hors tolérance).",
        ));
    }

    let actor = assertion
        .child(NS_SAML2, "Subject")
        .and_then(|s| s.child(NS_SAML2, "NameID"))
        .map(|n| n.text.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("Subject/NameID absent"))?;
    if mode != Mode::Directe
        && attrs
            .string("urn:oasis:names:tc:xspa:1.0:subject:subject-id")
            .is_none()
    {
        return Err(invalid("subject-id absent"));
    }
    let roles = attrs.hl7("urn:oasis:names:tc:xacml:2.0:subject:role", "Role");
    let profession = roles
        .iter()
        .find(|(_, system)| system == OID_PROFESSION)
        .map(|(code, _)| code.clone())
        .ok_or_else(|| invalid("rôle (profession, JDV_J65) absent"))?;
    if profession == PROFESSION_DOCTOR && !roles.iter().any(|(_, s)| s == OID_SPECIALTY) {
        return Err(Fault::sender(
            CODE_INVALID,
            "Aucune spécialité dans le vihf. Spécialité obligatoire pour les Médecins.",
        ));
    }
    let structure = attrs
        .string("Identifiant_Structure")
        .ok_or_else(|| invalid("Identifiant_Structure absent"))?;
    let sector = attrs
        .string("Secteur_Activite")
        .ok_or_else(|| invalid("Secteur_Activite absent"))?;
    if !sector.ends_with("^1.2.250.1.71.4.2.4") {
        return Err(invalid(
            "Secteur_Activite doit être SAxx^1.2.250.1.71.4.2.4",
        ));
    }
    for name in ["LPS_Nom", "LPS_Version", "LPS_ID_HOMOLOGATION_DMP"] {
        if attrs.string(name).is_none() {
            return Err(invalid(format!("{name} absent")));
        }
    }
    let purpose = match attrs
        .hl7(
            "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse",
            "PurposeOfUse",
        )
        .into_iter()
        .find(|(_, s)| s == OID_PURPOSE)
        .map(|(c, _)| c)
        .as_deref()
    {
        Some("normal") => Purpose::Normal,
        Some("bris_de_glace") => Purpose::BrisDeGlace,
        Some("centre_15") => Purpose::Centre15,
        Some(_) => {
            return Err(invalid(
                "PurposeOfUse inconnu (normal, bris_de_glace, centre_15)",
            ));
        }
        None => return Err(invalid("PurposeOfUse absent")),
    };
    let patient = match attrs.string("urn:oasis:names:tc:xacml:2.0:resource:resource-id") {
        None => None,
        Some(cx) => {
            let (ins, oid) =
                parse_cx(&cx).ok_or_else(|| invalid("resource-id doit être INS^^^&OID&ISO^NH"))?;
            if !INS_OIDS.contains(&oid.as_str()) {
                return Err(invalid("resource-id : OID d'INS non accepté"));
            }
            Some((ins, oid))
        }
    };
    Ok(Vihf {
        actor,
        mode,
        purpose,
        structure,
        profession,
        patient,
    })
}

struct Attributes<'a>(Option<&'a Element>);

impl<'a> Attributes<'a> {
    fn values(&self, name: &str) -> Vec<&'a Element> {
        self.0
            .into_iter()
            .flat_map(|s| s.children_named(NS_SAML2, "Attribute"))
            .filter(|a| a.attr("Name") == Some(name))
            .flat_map(|a| a.children_named(NS_SAML2, "AttributeValue"))
            .collect()
    }

    fn string(&self, name: &str) -> Option<String> {
        self.values(name)
            .into_iter()
            .map(|v| v.text.trim().to_owned())
            .find(|v| !v.is_empty())
    }

    /// (code, codeSystem) of the HL7 CE elements `local` in the attribute's values.
    fn hl7(&self, name: &str, local: &str) -> Vec<(String, String)> {
        self.values(name)
            .into_iter()
            .flat_map(|v| v.children_named(NS_HL7, local))
            .map(|e| {
                (
                    e.attr("code").unwrap_or_default().to_owned(),
                    e.attr("codeSystem").unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}
