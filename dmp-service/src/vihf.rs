//! The VIHF v3 (SAML 2.0 assertion) every DMP call carries in `wsse:Security`, as the
//! official examples write it (`VIHF_*_signe.xml`): `saml2:` prefix; `Issuer` (format
//! X509SubjectName) = the signing certificate's subject DN in Java's RFC 2253 form, as the
//! examples ([`CertSubject::dn_strict`]); an enveloped `Signature` right
//! after `Issuer`; `Subject/NameID` = the professional's national identifier; `AuthnStatement`
//! with the mode's `AuthnContextClassRef` (and `AuthnContextDecl` for INDIRECTE_RENFORCEE);
//! the attributes in the examples' order: `Identifiant_Structure` (`1`+FINESS or `3`+SIRET),
//! `Secteur_Activite` (`SAxx^1.2.250.1.71.4.2.4`), `subject-id` (the professional's names,
//! family name first, as the examples), `role` (HL7 `Role` CE values: the profession, with
//! its JDV_J65 display name, then the specialty, without), `VIHF_Version` 3.0,
//! `Authentification_mode`, `resource-id` (`INS^^^&OID&ISO^NH`, only when the call is about a
//! patient), `Ressource_URN` `urn:dmp`,
//! `purposeofuse` (HL7 `PurposeOfUse`, code system `1.2.250.1.213.1.1.4.248`), `LPS_ID`,
//! `LPS_Nom`, `LPS_Version`, `LPS_ID_HOMOLOGATION_DMP`. Text values carry
//! `xsi:type="xs:string"` as in the examples.
//!
//! Signature: exclusive C14N, **RSA-SHA256 with a SHA-256 digest**, where the official
//! examples use RSA-SHA1/SHA-1. Our choice: the card-agent signs SHA-256 digests only (a CPS
//! signature goes through it), SHA-1 is deprecated for signatures, and RSA-SHA256 VIHFs are
//! reported accepted by the DMP (prosanteconnect's generator, a third-party client).
//!
//! The assertion is written directly in exclusive canonical form (its structure is fixed), so
//! that the digested bytes are the bytes sent, but for one thing: the `xmlns:xs` declarations
//! that `xsi:type="xs:string"` needs, which exclusive C14N drops, are added to the sent form
//! (canonicalising the sent form gives back the digested bytes; the tests verify with
//! xmlsec1).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use passerelle_clinical_documents::header::structure_national_id;
use passerelle_domain::{Professional, VihfRole, vihf_role};
use passerelle_soap::dsig::{
    self, CertSubject, DigestMethod, SignatureMethod, c14n_attr, c14n_text,
};
use passerelle_soap::{Limits, ns, parse_document};
use sha2::{Digest, Sha256};
use time::macros::format_description;

use crate::signer::{PURPOSE_VIHF, SignerError, XmlSigner};

/// How the professional authenticated (VIHF `AuthnContextClassRef`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthenticationMode {
    /// CPS mode: the professional's own card.
    Directe,
    /// Organisation mode: the structure authenticated its user itself.
    Indirecte,
    /// Organisation mode with strong local authentication.
    IndirecteRenforcee,
}

/// Why the DMP is accessed (VIHF `PurposeOfUse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PurposeOfUse {
    /// `normal`.
    Normal,
    /// `bris_de_glace`: emergency access.
    BrisDeGlace,
    /// `centre_15`: the SAMU regulation centre.
    Centre15,
}

/// The software (LPS) and its DMP homologation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LpsIdentity {
    /// `LPS_ID`: the instance's identifier.
    pub id: String,
    /// `LPS_Nom`.
    pub name: String,
    /// `LPS_Version`.
    pub version: String,
    /// `LPS_ID_HOMOLOGATION_DMP`.
    pub homologation: String,
}

/// The patient a call is about: `INS^^^&OID&ISO^NH`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PatientResource {
    /// The INS (matricule INS and key, 15 characters).
    pub ins: String,
    /// The OID of the INS assigning authority (e.g. `1.2.250.1.213.1.4.8`).
    pub oid: String,
}

/// What the VIHF asserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VihfClaims {
    /// Identifier, names, roles (JDV_J65), structure, sector.
    pub professional: Professional,
    pub mode: AuthenticationMode,
    pub purpose: PurposeOfUse,
    pub lps: LpsIdentity,
    /// The patient as `INS^^^&OID&ISO^NH` resource-id; None for calls with no patient (TD0.4).
    pub patient: Option<PatientResource>,
}

/// What went wrong building the VIHF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VihfError {
    /// The signer failed (card, key).
    #[error(transparent)]
    Signer(#[from] SignerError),
    /// The signing certificate cannot be read (its subject is the assertion's Issuer).
    #[error("the signing certificate cannot be read: {reason}")]
    Certificate { reason: String },
    /// A claim cannot be put in a VIHF.
    #[error("VIHF claim {field}: {reason}")]
    Claim { field: &'static str, reason: String },
}

/// The sector code system (TRE_R02 secteur d'activité).
const SECTOR_SYSTEM: &str = "1.2.250.1.71.4.2.4";
/// PurposeOfUse code system ("mode acces VIHF 2.0").
const PURPOSE_SYSTEM: &str = "1.2.250.1.213.1.1.4.248";
const SMARTCARD_PKI: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI";
const XS: &str = "http://www.w3.org/2001/XMLSchema";
const HL7: &str = "urn:hl7-org:v3";
/// `Issuer/@Format`.
const X509_SUBJECT_NAME: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName";

impl AuthenticationMode {
    /// `Authentification_mode`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Directe => "DIRECTE",
            Self::Indirecte => "INDIRECTE",
            Self::IndirecteRenforcee => "INDIRECTE_RENFORCEE",
        }
    }

    /// `AuthnContextClassRef`: SmartcardPKI in every mode, as the official examples (DRIM
    /// writes `TLSClient` for INDIRECTE, the KIT `Password`).
    pub fn authn_context_class_ref(self) -> &'static str {
        SMARTCARD_PKI
    }

    /// `AuthnContextDecl` (INDIRECTE_RENFORCEE only): how the structure authenticated its
    /// user; SmartcardPKI as the official example.
    pub fn authn_context_decl(self) -> Option<&'static str> {
        match self {
            Self::IndirecteRenforcee => Some(SMARTCARD_PKI),
            Self::Directe | Self::Indirecte => None,
        }
    }
}

impl PurposeOfUse {
    /// The code (code system `1.2.250.1.213.1.1.4.248`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::BrisDeGlace => "bris_de_glace",
            Self::Centre15 => "centre_15",
        }
    }

    /// The display name ("Accès normal" is the examples'; the other two are ours).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Normal => "Accès normal",
            Self::BrisDeGlace => "Accès en mode bris de glace",
            Self::Centre15 => "Accès en mode centre de régulation",
        }
    }
}

/// The display name of a profession or non-PS role (JDV_J65 labels); None for specialties
/// (the role is sent without one: HL7 CE makes it optional).
fn role_display_name(role: VihfRole) -> Option<&'static str> {
    Some(match (role.code, role.code_system) {
        ("ALIM_AM", vihf_role::NON_PS_ROLE_SYSTEM) => {
            "Alimentation automatique à partir du Système d'Information de l'Assurance Maladie"
        }
        ("DISPOSITIF", vihf_role::NON_PS_ROLE_SYSTEM) => "Dispositif médical",
        ("EXP_PATIENT", vihf_role::NON_PS_ROLE_SYSTEM) => "Expression personnelle du patient",
        ("SECRETARIAT_MEDICAL", vihf_role::NON_PS_ROLE_SYSTEM) => "Secrétariat médical",
        ("AUTOMATE", vihf_role::NON_PS_ROLE_SYSTEM) => "Automate",
        ("10", vihf_role::PROFESSION_SYSTEM) => "Médecin",
        ("21", vihf_role::PROFESSION_SYSTEM) => "Pharmacien",
        ("26", vihf_role::PROFESSION_SYSTEM) => "Audioprothésiste",
        ("28", vihf_role::PROFESSION_SYSTEM) => "Opticien-Lunetier",
        ("31", vihf_role::PROFESSION_SYSTEM) => "Assistant dentaire",
        ("32", vihf_role::PROFESSION_SYSTEM) => "Physicien médical",
        ("35", vihf_role::PROFESSION_SYSTEM) => "Aide-soignant",
        ("36", vihf_role::PROFESSION_SYSTEM) => "Ambulancier",
        ("37", vihf_role::PROFESSION_SYSTEM) => "Auxiliaire de puériculture",
        ("38", vihf_role::PROFESSION_SYSTEM) => "Préparateur en pharmacie hospitalière",
        ("39", vihf_role::PROFESSION_SYSTEM) => "Préparateur en pharmacie (officine)",
        ("40", vihf_role::PROFESSION_SYSTEM) => "Chirurgien-Dentiste",
        ("50", vihf_role::PROFESSION_SYSTEM) => "Sage-Femme",
        ("60", vihf_role::PROFESSION_SYSTEM) => "Infirmier",
        ("69", vihf_role::PROFESSION_SYSTEM) => "Infirmier psychiatrique",
        ("70", vihf_role::PROFESSION_SYSTEM) => "Masseur-Kinésithérapeute",
        ("80", vihf_role::PROFESSION_SYSTEM) => "Pédicure-Podologue",
        ("81", vihf_role::PROFESSION_SYSTEM) => "Orthoprothésiste",
        ("82", vihf_role::PROFESSION_SYSTEM) => "Podo-Orthésiste",
        ("83", vihf_role::PROFESSION_SYSTEM) => "Orthopédiste-Orthésiste",
        ("84", vihf_role::PROFESSION_SYSTEM) => "Oculariste",
        ("85", vihf_role::PROFESSION_SYSTEM) => "Epithésiste",
        ("86", vihf_role::PROFESSION_SYSTEM) => "Technicien de laboratoire médical",
        ("91", vihf_role::PROFESSION_SYSTEM) => "Orthophoniste",
        ("92", vihf_role::PROFESSION_SYSTEM) => "Orthoptiste",
        ("94", vihf_role::PROFESSION_SYSTEM) => "Ergothérapeute",
        ("95", vihf_role::PROFESSION_SYSTEM) => "Diététicien",
        ("96", vihf_role::PROFESSION_SYSTEM) => "Psychomotricien",
        ("98", vihf_role::PROFESSION_SYSTEM) => "Manipulateur ERM",
        _ => return None,
    })
}

/// The assertion's content, checked, before signing.
struct Vihf<'a> {
    id: String,
    instant: String,
    issuer: String,
    claims: &'a VihfClaims,
    structure_id: String,
    sector: String,
}

/// How an attribute value is written.
enum Value<'a> {
    /// `xsi:type="xs:string"` text.
    Text(&'a str),
    /// An HL7 CE element (`Role`, `PurposeOfUse`).
    Coded {
        element: &'static str,
        code: &'a str,
        code_system: &'a str,
        code_system_name: Option<&'a str>,
        display_name: Option<&'a str>,
    },
}

impl Vihf<'_> {
    /// The assertion, exclusive-canonical when `sent` is false (what the digest covers, with
    /// `signature` None). `sent` adds the `xmlns:xs` declarations that `xsi:type="xs:string"`
    /// needs and that exclusive C14N drops (a prefix used only in an attribute value is not
    /// "visibly utilised"): canonicalising the sent form gives back the digested bytes.
    fn write(&self, signature: Option<&str>, sent: bool) -> String {
        let c = self.claims;
        let p = &c.professional;
        let mut x = String::with_capacity(4096);
        x.push_str(&format!(
            "<saml2:Assertion xmlns:saml2=\"{}\" ID=\"{}\" IssueInstant=\"{}\" Version=\"2.0\">",
            ns::SAML2,
            c14n_attr(&self.id),
            c14n_attr(&self.instant)
        ));
        x.push_str(&format!(
            "<saml2:Issuer Format=\"{X509_SUBJECT_NAME}\">{}</saml2:Issuer>",
            c14n_text(&self.issuer)
        ));
        if let Some(sig) = signature {
            x.push_str(sig);
        }
        x.push_str(&format!(
            "<saml2:Subject><saml2:NameID>{}</saml2:NameID></saml2:Subject>",
            c14n_text(&p.id().national_id())
        ));
        x.push_str(&format!(
            "<saml2:AuthnStatement AuthnInstant=\"{}\"><saml2:AuthnContext>\
             <saml2:AuthnContextClassRef>{}</saml2:AuthnContextClassRef>",
            c14n_attr(&self.instant),
            c.mode.authn_context_class_ref()
        ));
        if let Some(decl) = c.mode.authn_context_decl() {
            x.push_str(&format!(
                "<saml2:AuthnContextDecl>{decl}</saml2:AuthnContextDecl>"
            ));
        }
        x.push_str("</saml2:AuthnContext></saml2:AuthnStatement><saml2:AttributeStatement>");

        let subject_name = format!("{} {}", p.family_name(), p.given_name());
        let roles = p.vihf_roles();
        let resource = c
            .patient
            .as_ref()
            .map(|r| format!("{}^^^&{}&ISO^NH", r.ins, r.oid));
        let mut attributes: Vec<(&str, Vec<Value<'_>>)> = vec![
            (
                "Identifiant_Structure",
                vec![Value::Text(&self.structure_id)],
            ),
            ("Secteur_Activite", vec![Value::Text(&self.sector)]),
            (
                "urn:oasis:names:tc:xspa:1.0:subject:subject-id",
                vec![Value::Text(&subject_name)],
            ),
            (
                "urn:oasis:names:tc:xacml:2.0:subject:role",
                roles
                    .iter()
                    .map(|r| Value::Coded {
                        element: "Role",
                        code: r.code,
                        code_system: r.code_system,
                        code_system_name: None,
                        display_name: role_display_name(*r),
                    })
                    .collect(),
            ),
            ("VIHF_Version", vec![Value::Text("3.0")]),
            ("Authentification_mode", vec![Value::Text(c.mode.code())]),
        ];
        if let Some(resource) = &resource {
            attributes.push((
                "urn:oasis:names:tc:xacml:2.0:resource:resource-id",
                vec![Value::Text(resource)],
            ));
        }
        attributes.extend([
            ("Ressource_URN", vec![Value::Text("urn:dmp")]),
            (
                "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse",
                vec![Value::Coded {
                    element: "PurposeOfUse",
                    code: c.purpose.code(),
                    code_system: PURPOSE_SYSTEM,
                    code_system_name: Some("mode acces VIHF 2.0"),
                    display_name: Some(c.purpose.display_name()),
                }],
            ),
            ("LPS_ID", vec![Value::Text(&c.lps.id)]),
            ("LPS_Nom", vec![Value::Text(&c.lps.name)]),
            ("LPS_Version", vec![Value::Text(&c.lps.version)]),
            (
                "LPS_ID_HOMOLOGATION_DMP",
                vec![Value::Text(&c.lps.homologation)],
            ),
        ]);
        let xs = if sent {
            format!(" xmlns:xs=\"{XS}\"")
        } else {
            String::new()
        };
        for (name, values) in attributes {
            x.push_str(&format!("<saml2:Attribute Name=\"{}\">", c14n_attr(name)));
            for value in values {
                match value {
                    Value::Text(t) => x.push_str(&format!(
                        "<saml2:AttributeValue{xs} xmlns:xsi=\"{}\" xsi:type=\"xs:string\">{}</saml2:AttributeValue>",
                        ns::XSI,
                        c14n_text(t)
                    )),
                    Value::Coded {
                        element,
                        code,
                        code_system,
                        code_system_name,
                        display_name,
                    } => {
                        x.push_str(&format!(
                            "<saml2:AttributeValue><{element} xmlns=\"{HL7}\" xmlns:xsi=\"{}\" code=\"{}\" codeSystem=\"{}\"",
                            ns::XSI,
                            c14n_attr(code),
                            c14n_attr(code_system)
                        ));
                        if let Some(n) = code_system_name {
                            x.push_str(&format!(" codeSystemName=\"{}\"", c14n_attr(n)));
                        }
                        if let Some(d) = display_name {
                            x.push_str(&format!(" displayName=\"{}\"", c14n_attr(d)));
                        }
                        x.push_str(&format!(
                            " xsi:type=\"CE\"></{element}></saml2:AttributeValue>"
                        ));
                    }
                }
            }
            x.push_str("</saml2:Attribute>");
        }
        x.push_str("</saml2:AttributeStatement></saml2:Assertion>");
        x
    }
}

/// A signed `saml2:Assertion` (VIHF v3), exclusive C14N, RSA-SHA256, ready to put in
/// wsse:Security.
pub async fn signed_vihf(
    claims: &VihfClaims,
    signer: &dyn XmlSigner,
    id: uuid::Uuid,
    now: time::OffsetDateTime,
) -> Result<String, VihfError> {
    let certificate = signer.certificate_der();
    let subject =
        CertSubject::parse(certificate).map_err(|e| VihfError::Certificate { reason: e.reason })?;
    if !subject.rsa {
        return Err(VihfError::Certificate {
            reason: "its key is not RSA: only RSA-SHA256 signatures are made".to_owned(),
        });
    }
    let p = &claims.professional;
    let structure_id =
        p.structure()
            .map(structure_national_id)
            .ok_or_else(|| VihfError::Claim {
                field: "professional.structure",
                reason:
                    "the DMP needs the structure the professional acts for (Identifiant_Structure)"
                        .to_owned(),
            })?;
    let sector = p
        .activity_sector()
        .map(|s| format!("{s}^{SECTOR_SYSTEM}"))
        .ok_or_else(|| VihfError::Claim {
            field: "professional.activity_sector",
            reason: "the DMP needs the activity sector (Secteur_Activite, e.g. SA07)".to_owned(),
        })?;
    for (field, value) in [
        ("lps.id", &claims.lps.id),
        ("lps.name", &claims.lps.name),
        ("lps.version", &claims.lps.version),
        ("lps.homologation", &claims.lps.homologation),
    ] {
        if value.trim().is_empty() {
            return Err(VihfError::Claim {
                field,
                reason: "is required".to_owned(),
            });
        }
    }
    if let Some(patient) = &claims.patient {
        let ins_ok =
            patient.ins.len() == 15 && patient.ins.bytes().all(|b| b.is_ascii_alphanumeric());
        let oid_ok = !patient.oid.is_empty()
            && patient
                .oid
                .split('.')
                .all(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()));
        if !ins_ok || !oid_ok {
            return Err(VihfError::Claim {
                field: "patient",
                reason: "the INS is 15 characters and its authority an OID".to_owned(),
            });
        }
    }
    let instant = now
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .map_err(|e| VihfError::Claim {
            field: "now",
            reason: e.to_string(),
        })?;
    let vihf = Vihf {
        id: format!("_{id}"),
        instant,
        issuer: subject.dn_strict,
        claims,
        structure_id,
        sector,
    };
    let digest = B64.encode(Sha256::digest(vihf.write(None, false).as_bytes()));
    let signed_info = |apex| {
        dsig::enveloped_signed_info(
            &vihf.id,
            DigestMethod::Sha256,
            &digest,
            SignatureMethod::RsaSha256,
            apex,
        )
    };
    let signature = signer
        .sign(PURPOSE_VIHF, signed_info(true).as_bytes())
        .await?;
    let signature_xml =
        dsig::signature_element(None, &signed_info(false), &signature, certificate, "");
    let sent = vihf.write(Some(&signature_xml), true);
    // Cheap guard: what we send must be well-formed.
    parse_document(sent.as_bytes(), &Limits::default()).map_err(|e| VihfError::Claim {
        field: "vihf",
        reason: format!("the assertion is not well-formed, a bug: {e}"),
    })?;
    Ok(sent)
}
