//! Checks of an incoming envelope, in the order the service applies them: envelope
//! version and structure, `mustUnderstand` blocks, WS-Addressing headers, the CNAM
//! contexts, then (after the caller's access checks) the body.

use super::identities::{
    Matricule, TraitsQuery, VitaleQuery, is_cog, is_key, is_lunar_date, is_matricule, is_sex,
};
use super::soap::{
    Fault, NS_CTXBAM, NS_CTXLPS, NS_RECSANS, NS_RECVIT, NS_SOAP11, NS_SOAP12, NS_WSA, NS_WSSE,
    SiramFault,
};
use super::xml::Element;

pub(crate) const ACTION_TRAITS: &str =
    "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite";
pub(crate) const ACTION_VITALE: &str =
    "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale";

// Detail codes of trait errors. None was captured: they are assumed (see README).
const INSI_BIRTH_NAME: &str = "insi_19";
const INSI_FIRST_NAME: &str = "insi_20";
const INSI_SEX: &str = "insi_21";
const INSI_BIRTH_DATE: &str = "insi_22";
const INSI_BIRTH_PLACE: &str = "insi_23";
const INSI_MATRICULE_MISSING: &str = "insi_24";
const INSI_MATRICULE_FORMAT: &str = "insi_25";
const INSI_BIRTH_RANK: &str = "insi_26";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Traits,
    Vitale,
}

impl Operation {
    fn from_action(action: &str) -> Option<Self> {
        match action {
            ACTION_TRAITS => Some(Self::Traits),
            ACTION_VITALE => Some(Self::Vitale),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Traits => "rechercherInsAvecTraitsIdentite",
            Self::Vitale => "rechercherInsAvecCarteVitale",
        }
    }

    fn body_element(self) -> (&'static str, &'static str) {
        match self {
            Self::Traits => (NS_RECSANS, "RECSANSVITALE"),
            Self::Vitale => (NS_RECVIT, "RECVITALE"),
        }
    }
}

/// What the headers told.
#[derive(Debug, Clone)]
pub(crate) struct Headers {
    pub operation: Operation,
    pub message_id: String,
    pub idam: String,
}

#[derive(Debug, Clone)]
pub(crate) enum Query {
    Traits(TraitsQuery),
    Vitale(VitaleQuery),
}

fn header(envelope: &Element) -> Option<&Element> {
    envelope.child(NS_SOAP12, "Header")
}

/// The request's `wsa:MessageID`, read before any other check so that every fault can
/// echo it.
pub(crate) fn message_id(envelope: &Element) -> Option<String> {
    let id = header(envelope)?.child(NS_WSA, "MessageID")?.text.trim();
    (!id.is_empty()).then(|| id.to_owned())
}

/// Checks the envelope and its headers. `content_type_action` is the `action`
/// parameter of the Content-Type (SOAP 1.2 HTTP binding), when sent.
pub(crate) fn check_envelope(
    envelope: &Element,
    content_type_action: Option<&str>,
) -> Result<Headers, Fault> {
    if envelope.local == "Envelope" && envelope.ns.as_deref() != Some(NS_SOAP12) {
        return Err(Fault::VersionMismatch {
            soap11: envelope.ns.as_deref() == Some(NS_SOAP11),
        });
    }
    if !envelope.is(NS_SOAP12, "Envelope") {
        return Err(SiramFault::malformed("Le message n'est pas une enveloppe SOAP 1.2.").into());
    }
    let names: Vec<_> = envelope
        .children
        .iter()
        .map(|c| (c.ns.as_deref(), c.local.as_str()))
        .collect();
    let structure_ok = matches!(
        names.as_slice(),
        [(Some(NS_SOAP12), "Body")] | [(Some(NS_SOAP12), "Header"), (Some(NS_SOAP12), "Body")]
    );
    if !structure_ok {
        return Err(SiramFault::malformed(
            "L'enveloppe SOAP doit contenir un en-tête facultatif puis un corps.",
        )
        .into());
    }

    let blocks: &[Element] = header(envelope).map_or(&[], |h| h.children.as_slice());
    for block in blocks {
        let must = block
            .attr_ns(NS_SOAP12, "mustUnderstand")
            .is_some_and(|v| matches!(v.trim(), "true" | "1"));
        let understood = block.ns.as_deref() == Some(NS_WSA)
            || block.is(NS_CTXBAM, "ContexteBAM")
            || block.is(NS_CTXLPS, "ContexteLPS")
            || block.is(NS_WSSE, "Security");
        if must && !understood {
            return Err(Fault::MustUnderstand {
                ns: block.ns.clone().unwrap_or_default(),
                local: block.local.clone(),
            });
        }
    }
    let find = |ns: &str, local: &str| blocks.iter().find(|b| b.is(ns, local));

    let header_action = find(NS_WSA, "Action").map(|a| a.text.trim().to_owned());
    let action = match (header_action.as_deref(), content_type_action) {
        (None, None) => {
            return Err(Fault::Addressing {
                subcodes: &["MessageAddressingHeaderRequired"],
                reason: "A required header representing a Message Addressing Property is not present",
                problem_header: Some("wsa:Action"),
                problem_action: None,
            });
        }
        (Some(h), Some(c)) if h != c => {
            return Err(Fault::Addressing {
                subcodes: &["InvalidAddressingHeader", "ActionMismatch"],
                reason: "The wsa:Action header does not match the action of the Content-Type",
                problem_header: Some("wsa:Action"),
                problem_action: None,
            });
        }
        (Some(a), _) | (None, Some(a)) => a.to_owned(),
    };
    let operation = Operation::from_action(&action).ok_or_else(|| Fault::Addressing {
        subcodes: &["ActionNotSupported"],
        reason: "The [action] cannot be processed at the receiver",
        problem_header: None,
        problem_action: Some(action.clone()),
    })?;
    let message_id = message_id(envelope).ok_or(Fault::Addressing {
        subcodes: &["MessageAddressingHeaderRequired"],
        reason: "A required header representing a Message Addressing Property is not present",
        problem_header: Some("wsa:MessageID"),
        problem_action: None,
    })?;

    check_bam(find(NS_CTXBAM, "ContexteBAM"))?;
    let idam = check_lps(find(NS_CTXLPS, "ContexteLPS"))?;

    Ok(Headers {
        operation,
        message_id,
        idam,
    })
}

fn has_text(parent: &Element, ns: &str, local: &str) -> bool {
    parent
        .child(ns, local)
        .is_some_and(|e| !e.text.trim().is_empty())
}

fn check_bam(bam: Option<&Element>) -> Result<(), Fault> {
    let ok = bam.is_some_and(|b| {
        b.attr("Version") == Some("01_02")
            && has_text(b, NS_CTXBAM, "Id")
            && has_text(b, NS_CTXBAM, "Temps")
    });
    if ok {
        Ok(())
    } else {
        Err(SiramFault::bad_context(
            "Le contexte ContexteBAM est absent ou invalide (Version 01_02, Id et Temps attendus).",
        )
        .into())
    }
}

/// Returns the IDAM (software authorisation number).
fn check_lps(lps: Option<&Element>) -> Result<String, Fault> {
    let invalid = || {
        Fault::from(SiramFault::bad_context(
            "Le contexte ContexteLPS est absent ou invalide (Nature CTXLPS, Version 01_00, Id, \
             Temps et LPS avec IDAM, Version, Instance et Nom attendus).",
        ))
    };
    let lps = lps.ok_or_else(invalid)?;
    if lps.attr("Nature") != Some("CTXLPS")
        || lps.attr("Version") != Some("01_00")
        || !has_text(lps, NS_CTXLPS, "Id")
        || !has_text(lps, NS_CTXLPS, "Temps")
    {
        return Err(invalid());
    }
    let software = lps.child(NS_CTXLPS, "LPS").ok_or_else(invalid)?;
    if !["IDAM", "Version", "Instance", "Nom"]
        .iter()
        .all(|name| has_text(software, NS_CTXLPS, name))
    {
        return Err(invalid());
    }
    Ok(software
        .child(NS_CTXLPS, "IDAM")
        .map(|e| e.text.trim().to_owned())
        .unwrap_or_default())
}

/// Reads and checks the body of the operation the headers announced.
pub(crate) fn parse_body(envelope: &Element, operation: Operation) -> Result<Query, Fault> {
    let body = envelope
        .child(NS_SOAP12, "Body")
        .ok_or_else(|| SiramFault::malformed("Le corps SOAP est absent."))?;
    let [payload] = body.children.as_slice() else {
        return Err(SiramFault::malformed("Le corps SOAP doit contenir un seul élément.").into());
    };
    let (ns, local) = operation.body_element();
    if !payload.is(ns, local) {
        return Err(SiramFault::malformed(format!(
            "Le corps SOAP ne contient pas l'élément {{{ns}}}{local} attendu par l'opération {}.",
            operation.name()
        ))
        .into());
    }
    match operation {
        Operation::Traits => parse_traits(payload).map(Query::Traits),
        Operation::Vitale => parse_vitale(payload).map(Query::Vitale),
    }
}

/// Rejects elements the XSD does not declare and repeated single elements.
fn check_children(payload: &Element, ns: &str, allowed: &[(&str, bool)]) -> Result<(), Fault> {
    for (i, child) in payload.children.iter().enumerate() {
        let declared = allowed
            .iter()
            .find(|(name, _)| child.ns.as_deref() == Some(ns) && child.local == *name);
        match declared {
            None => {
                return Err(SiramFault::malformed(format!(
                    "Élément inattendu {} dans {}.",
                    child.local, payload.local
                ))
                .into());
            }
            Some((name, false)) if payload.children[..i].iter().any(|c| c.is(ns, name)) => {
                return Err(SiramFault::malformed(format!(
                    "L'élément {name} est répété dans {}.",
                    payload.local
                ))
                .into());
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn text_of(parent: &Element, ns: &str, local: &str) -> Option<String> {
    parent
        .child(ns, local)
        .map(|e| e.text.clone())
        .filter(|t| !t.is_empty())
}

fn birth_name(payload: &Element, ns: &str) -> Result<String, Fault> {
    text_of(payload, ns, "NomNaissance").ok_or_else(|| {
        SiramFault::invalid_trait(
            INSI_BIRTH_NAME,
            "Le champ nom de naissance est obligatoire.",
        )
        .into()
    })
}

fn birth_date(payload: &Element, ns: &str) -> Result<String, Fault> {
    match text_of(payload, ns, "DateNaissance") {
        Some(d) if is_lunar_date(&d) => Ok(d),
        Some(_) => Err(SiramFault::invalid_trait(
            INSI_BIRTH_DATE,
            "Le format de la date de naissance est invalide (AAAA-MM-JJ attendu).",
        )
        .into()),
        None => Err(SiramFault::invalid_trait(
            INSI_BIRTH_DATE,
            "Le champ date de naissance est obligatoire.",
        )
        .into()),
    }
}

fn parse_traits(payload: &Element) -> Result<TraitsQuery, Fault> {
    let ns = NS_RECSANS;
    check_children(
        payload,
        ns,
        &[
            ("NomNaissance", false),
            ("Prenom", true),
            ("Sexe", false),
            ("DateNaissance", false),
            ("LieuNaissance", false),
        ],
    )?;
    let birth_name = birth_name(payload, ns)?;
    // Prenom repeats (0..n); clients also send the whole list in one element.
    let first_names = payload
        .children_named(ns, "Prenom")
        .map(|p| p.text.as_str())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if first_names.is_empty() {
        return Err(
            SiramFault::invalid_trait(INSI_FIRST_NAME, "Le champ prénom est obligatoire.").into(),
        );
    }
    let sex = match text_of(payload, ns, "Sexe") {
        Some(s) if is_sex(&s) => s,
        Some(_) => {
            return Err(SiramFault::invalid_trait(
                INSI_SEX,
                "La valeur du sexe est invalide (M ou F attendu).",
            )
            .into());
        }
        None => {
            return Err(
                SiramFault::invalid_trait(INSI_SEX, "Le champ sexe est obligatoire.").into(),
            );
        }
    };
    let birth_date = birth_date(payload, ns)?;
    let birth_place = match payload.child(ns, "LieuNaissance") {
        None => None,
        Some(e) if is_cog(&e.text) => Some(e.text.clone()),
        Some(_) => {
            return Err(SiramFault::invalid_trait(
                INSI_BIRTH_PLACE,
                "Le lieu de naissance doit être un code COG sur 5 caractères.",
            )
            .into());
        }
    };
    Ok(TraitsQuery {
        birth_name,
        first_names,
        sex,
        birth_date,
        birth_place,
    })
}

fn matricule(payload: &Element, local: &str) -> Result<Option<Matricule>, Fault> {
    let ns = NS_RECVIT;
    let Some(m) = payload.child(ns, local) else {
        return Ok(None);
    };
    check_children(
        m,
        ns,
        &[
            ("NumIdentifiant", false),
            ("Cle", false),
            ("TypeMatricule", false),
        ],
    )?;
    let Some(number) = text_of(m, ns, "NumIdentifiant") else {
        return Ok(None);
    };
    let key = text_of(m, ns, "Cle");
    if !is_matricule(&number) || key.as_deref().is_some_and(|k| !is_key(k)) {
        return Err(SiramFault::invalid_trait(
            INSI_MATRICULE_FORMAT,
            format!("Le format du matricule {local} est invalide."),
        )
        .into());
    }
    Ok(Some(Matricule { number, key }))
}

fn parse_vitale(payload: &Element) -> Result<VitaleQuery, Fault> {
    let ns = NS_RECVIT;
    check_children(
        payload,
        ns,
        &[
            ("MatriculeIndividu", false),
            ("MatriculeOD", false),
            ("NomNaissance", false),
            ("DateNaissance", false),
            ("RangNaissance", false),
        ],
    )?;
    let individual = matricule(payload, "MatriculeIndividu")?;
    let insured = matricule(payload, "MatriculeOD")?;
    if individual.is_none() && insured.is_none() {
        return Err(SiramFault::invalid_trait(
            INSI_MATRICULE_MISSING,
            "Le matricule de l'individu ou de l'ouvrant droit est obligatoire.",
        )
        .into());
    }
    let birth_name = birth_name(payload, ns)?;
    let birth_date = birth_date(payload, ns)?;
    let birth_rank = match text_of(payload, ns, "RangNaissance") {
        None => None,
        Some(r) => Some(
            r.parse::<u8>()
                .ok()
                .filter(|r| (1..=99).contains(r) && r.to_string().len() <= 2)
                .ok_or_else(|| {
                    SiramFault::invalid_trait(INSI_BIRTH_RANK, "Le rang de naissance est invalide.")
                })?,
        ),
    };
    Ok(VitaleQuery {
        individual,
        insured,
        birth_name,
        birth_date,
        birth_rank,
    })
}

impl From<SiramFault> for Fault {
    fn from(f: SiramFault) -> Self {
        Fault::Siram(f)
    }
}
