//! Reading INSi answers: a SOAP fault, or `RESULTAT` (ns `http://www.cnamts.fr/INSiResultat`)
//! read namespace-aware, in any element order (the CNDA test book puts `DateDeb`/`DateFin`
//! before `IdIndividu`), with any prefixes, `TypeMatricule` present, absent or `undefined`.

use passerelle_domain::{Ins, InsOid, LunarDate, Sex};
use passerelle_soap::{Element, Envelope, Limits};

use super::InsiError;
use super::envelope::NS_RESULTAT;

/// `CR/CodeCR`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CrCode {
    /// `00`: one identity.
    Found,
    /// `01`: "Aucune identite trouvee".
    NotFound,
    /// `02`: "Plusieurs identites trouvees".
    Multiple,
    /// Any other code, kept as sent.
    Other(String),
}

impl CrCode {
    pub fn parse(code: &str) -> Self {
        match code.trim() {
            "00" => Self::Found,
            "01" => Self::NotFound,
            "02" => Self::Multiple,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The code as INSi sends it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Found => "00",
            Self::NotFound => "01",
            Self::Multiple => "02",
            Self::Other(s) => s,
        }
    }
}

/// An INSi answer (`RESULTAT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsiAnswer {
    pub code: CrCode,
    /// `CR/LibelleCR`.
    pub label: String,
    /// `INDIVIDU`, present with code `00`.
    pub individual: Option<Individual>,
}

/// `INDIVIDU`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Individual {
    /// `INSACTIF`.
    pub active: Ins,
    /// `INSHISTO`, in the order sent.
    pub history: Vec<HistoricalIns>,
    /// `TIQ`: the reference traits.
    pub traits: ReturnedTraits,
}

/// One `INSHISTO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoricalIns {
    pub ins: Ins,
    /// `DateDeb` as sent.
    pub valid_from: Option<String>,
    /// `DateFin` as sent.
    pub valid_until: Option<String>,
}

/// `TIQ`, the identity's reference traits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReturnedTraits {
    pub birth_name: String,
    /// `ListePrenom` split on spaces, or `Prenom` when there is no list.
    pub first_names: Vec<String>,
    pub sex: Option<Sex>,
    pub birth_date: Option<LunarDate>,
    /// `LieuNaissance` (COG code) as sent.
    pub birth_place: Option<String>,
}

fn text_of<'a>(el: &'a Element, local: &str) -> Option<&'a str> {
    el.child_text(NS_RESULTAT, local).filter(|s| !s.is_empty())
}

fn required<'a>(el: &'a Element, local: &str, path: &str) -> Result<&'a Element, InsiError> {
    el.child(NS_RESULTAT, local)
        .ok_or_else(|| InsiError::malformed(format!("{path}/{local} is missing")))
}

/// An INS from `INSACTIF` / `INSHISTO` (`IdIndividu` + `OID`). Values are not put in error
/// messages: they are personal data.
fn ins_of(el: &Element, path: &str) -> Result<Ins, InsiError> {
    let id = required(el, "IdIndividu", path)?;
    let path_id = format!("{path}/IdIndividu");
    let num = text_of(id, "NumIdentifiant")
        .ok_or_else(|| InsiError::malformed(format!("{path_id}/NumIdentifiant is missing")))?;
    let key = text_of(id, "Cle")
        .ok_or_else(|| InsiError::malformed(format!("{path_id}/Cle is missing")))?;
    let oid_text =
        text_of(el, "OID").ok_or_else(|| InsiError::malformed(format!("{path}/OID is missing")))?;
    let oid = InsOid::parse(oid_text)
        .map_err(|_| InsiError::malformed(format!("{path}/OID: unknown INS OID {oid_text:?}")))?;
    // The service is authoritative: a key that does not check is kept and flagged.
    Ins::from_service(num, key, oid).map_err(|e| {
        let what = match e {
            passerelle_domain::InsError::KeyFormat(_) => "Cle is not a two-digit key",
            _ => "NumIdentifiant is not a 13-character matricule",
        };
        InsiError::malformed(format!("{path_id}: {what}"))
    })
}

fn traits_of(tiq: &Element) -> Result<ReturnedTraits, InsiError> {
    let first_names = match text_of(tiq, "ListePrenom").or_else(|| text_of(tiq, "Prenom")) {
        Some(list) => list.split_whitespace().map(str::to_owned).collect(),
        None => Vec::new(),
    };
    let birth_date = text_of(tiq, "DateNaissance")
        .map(LunarDate::parse)
        .transpose()
        .map_err(|_| InsiError::malformed("TIQ/DateNaissance is not a YYYY-MM-DD date"))?;
    Ok(ReturnedTraits {
        birth_name: text_of(tiq, "NomNaissance").unwrap_or_default().to_owned(),
        first_names,
        // A sex code other than M/F is not refused: the traits stay usable.
        sex: text_of(tiq, "Sexe").and_then(|s| Sex::parse(s).ok()),
        birth_date,
        birth_place: text_of(tiq, "LieuNaissance").map(str::to_owned),
    })
}

fn individual_of(ind: &Element) -> Result<Individual, InsiError> {
    let active = ins_of(required(ind, "INSACTIF", "INDIVIDU")?, "INDIVIDU/INSACTIF")?;
    let history = ind
        .children_named(NS_RESULTAT, "INSHISTO")
        .map(|h| {
            Ok(HistoricalIns {
                ins: ins_of(h, "INDIVIDU/INSHISTO")?,
                valid_from: text_of(h, "DateDeb").map(str::to_owned),
                valid_until: text_of(h, "DateFin").map(str::to_owned),
            })
        })
        .collect::<Result<Vec<_>, InsiError>>()?;
    let traits = traits_of(required(ind, "TIQ", "INDIVIDU")?)?;
    Ok(Individual {
        active,
        history,
        traits,
    })
}

/// Reads a `RESULTAT` element.
pub fn parse_resultat(resultat: &Element) -> Result<InsiAnswer, InsiError> {
    if !resultat.is(NS_RESULTAT, "RESULTAT") {
        return Err(InsiError::malformed(format!(
            "expected {{{NS_RESULTAT}}}RESULTAT in the SOAP Body, found {}",
            resultat.name()
        )));
    }
    let cr = required(resultat, "CR", "RESULTAT")?;
    let code = text_of(cr, "CodeCR")
        .map(CrCode::parse)
        .ok_or_else(|| InsiError::malformed("RESULTAT/CR/CodeCR is missing"))?;
    let label = text_of(cr, "LibelleCR").unwrap_or_default().to_owned();
    let individual = resultat
        .child(NS_RESULTAT, "INDIVIDU")
        .map(individual_of)
        .transpose()?;
    if code == CrCode::Found && individual.is_none() {
        return Err(InsiError::malformed(
            "RESULTAT has CodeCR 00 (one identity) but no INDIVIDU",
        ));
    }
    Ok(InsiAnswer {
        code,
        label,
        individual,
    })
}

/// Interprets an HTTP answer of INSi: a SOAP fault (whatever the status, INSi sends them with
/// 500), an HTTP error, or a `RESULTAT`.
pub fn interpret_response(
    status: u16,
    body: &[u8],
    max_response_bytes: usize,
) -> Result<InsiAnswer, InsiError> {
    let limits = Limits {
        max_bytes: max_response_bytes,
        ..Limits::default()
    };
    let http_error = || InsiError::HttpStatus {
        status,
        body_excerpt: excerpt(body),
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(if status == 200 {
            InsiError::malformed("empty answer (HTTP 200 without a body)")
        } else {
            http_error()
        });
    }
    let envelope = match Envelope::parse(body, &limits) {
        Ok(env) => env,
        Err(passerelle_soap::SoapError::TooLarge { limit }) => {
            return Err(InsiError::ResponseTooLarge { limit });
        }
        Err(_) if status != 200 => return Err(http_error()),
        Err(e) => return Err(e.into()),
    };
    if let Some(fault) = envelope.fault()? {
        return Err(InsiError::Fault(Box::new(fault)));
    }
    if status != 200 {
        return Err(http_error());
    }
    let content = envelope
        .body_content()
        .ok_or_else(|| InsiError::malformed("the SOAP Body is empty"))?;
    parse_resultat(content)
}

/// The start of a body, printable, for an error message.
fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX * 4)]);
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX)
        .collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    out.trim().to_owned()
}
