//! The Volet de Synthèse Médicale (VSM 2023.01, CDA R2 level 3) from JSON input.
//!
//! [`Vsm::from_json`] checks the input into a [`Vsm`] (every error names the JSON path at
//! fault, e.g. `allergies[2].start`); [`write_body`] writes its `structuredBody`, and
//! [`persons`] the header parts it brings (attending physician, trusted person). The
//! document-level constants ([`document_type`], [`TEMPLATE_ID`], [`service_event_code`]) are
//! what the CDA header writer needs to make it a VSM.

mod allergies;
mod history;
pub mod persons;
mod problems;
mod risk_factors;
mod treatments;
mod vigilance;
mod xml;

use std::io::Write;

use serde_json::{Map, Value};
use time::{Date, Month};

use crate::cda::{self, CdaError, CdaWriter, HeaderSlot, TemplateId, WrittenDocument};
use crate::codes::Code;
use crate::header::DocumentHeader;

/// `ClinicalDocument/templateId` of the VSM 2023.01 model, with its extension.
pub const TEMPLATE_ID: &str = "1.2.250.1.213.1.1.1.13";
pub const TEMPLATE_VERSION: &str = "2023.01";

/// `ClinicalDocument/code`: `SYNTH` in TRE_A05 (XDS typeCode; classCode `11`).
pub fn document_type() -> Code {
    Code::new("SYNTH", "1.2.250.1.213.1.1.4.12", "Synthèse")
}

/// `documentationOf/serviceEvent/code` the VSM model requires (LOINC, with `codeSystemName`
/// `LOINC`).
pub fn service_event_code() -> Code {
    Code::new("34117-2", "2.16.840.1.113883.6.1", "Historique et clinique")
}

/// The XDS formatCode of a VSM (TRE_A06).
pub fn format_code() -> Code {
    Code::new(
        "urn:asip:ci-sis:vsm:2012",
        "1.2.250.1.213.1.1.4.2.282",
        "VSM",
    )
}

/// A checked VSM: each section a list (empty when the input left it out or empty, which is
/// written as "no information").
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Vsm {
    pub chronic_pathologies: Vec<Item>,
    pub medical_history: Vec<Item>,
    pub surgical_history: Vec<Item>,
    pub allergies: Vec<Allergy>,
    pub lifestyle_risk_factors: Vec<Item>,
    pub occupational_risk_factors: Vec<Item>,
    pub family_history: Vec<Item>,
    pub vigilance_points: Vec<Item>,
    pub long_term_treatments: Vec<Item>,
    pub attending_physician: Option<Person>,
    pub trusted_person: Option<Person>,
}

/// One line of a section.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub label: String,
    pub code: Option<Code>,
    pub start: Option<PartialDate>,
    pub end: Option<PartialDate>,
}

/// An allergy: the item, and its type coded in SNOMED CT as the value set
/// JDV_TypeEvenementIndesirablePrevisible_CISIS requires (the item's `code`, when given, is
/// the allergen or the reaction: the observation's value).
#[derive(Debug, Clone, PartialEq)]
pub struct Allergy {
    pub item: Item,
    pub kind: AllergyType,
}

/// The input key `type` of an allergy; `allergy` when left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AllergyType {
    #[default]
    Allergy,
    DrugAllergy,
    FoodAllergy,
    SubstanceAllergy,
    NonAllergicHypersensitivity,
    Intolerance,
    DrugIntolerance,
    FoodIntolerance,
    AdverseReactionPropensity,
}

impl AllergyType {
    const ALL: [(&'static str, AllergyType); 9] = [
        ("allergy", AllergyType::Allergy),
        ("drug_allergy", AllergyType::DrugAllergy),
        ("food_allergy", AllergyType::FoodAllergy),
        ("substance_allergy", AllergyType::SubstanceAllergy),
        (
            "non_allergic_hypersensitivity",
            AllergyType::NonAllergicHypersensitivity,
        ),
        ("intolerance", AllergyType::Intolerance),
        ("drug_intolerance", AllergyType::DrugIntolerance),
        ("food_intolerance", AllergyType::FoodIntolerance),
        (
            "adverse_reaction_propensity",
            AllergyType::AdverseReactionPropensity,
        ),
    ];

    /// The SNOMED CT concept of JDV_TypeEvenementIndesirablePrevisible_CISIS (2024).
    pub fn code(self) -> Code {
        let (code, display) = match self {
            AllergyType::Allergy => ("609328004", "allergie"),
            AllergyType::DrugAllergy => ("416098002", "allergie médicamenteuse"),
            AllergyType::FoodAllergy => ("414285001", "allergie alimentaire"),
            AllergyType::SubstanceAllergy => ("419199007", "allergie à une substance"),
            AllergyType::NonAllergicHypersensitivity => {
                ("609396006", "hypersensibilité non allergique")
            }
            AllergyType::Intolerance => ("782197009", "intolérance à une substance"),
            AllergyType::DrugIntolerance => {
                ("59037007", "intolérance aux drogues et/ou médicaments")
            }
            AllergyType::FoodIntolerance => ("235719002", "intolérance alimentaire"),
            AllergyType::AdverseReactionPropensity => {
                ("420134006", "propension aux effets indésirables")
            }
        };
        Code::new(code, xml::SNOMED_CT, display)
    }
}

/// A date as precise as the input gave it: a year, a month or a day (all checked to exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PartialDate {
    Year(i32),
    Month(i32, Month),
    Day(Date),
}

impl PartialDate {
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    fn parse(input: &str, path: &str) -> Result<Self, VsmError> {
        let bad = || VsmError::BadDate {
            path: path.to_owned(),
            value: input.to_owned(),
        };
        let parts: Vec<&str> = input.split('-').collect();
        let number = |s: &str, len: usize| -> Result<u16, VsmError> {
            if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse().map_err(|_| bad())
        };
        let missing = || VsmError::NonexistentDate {
            path: path.to_owned(),
            value: input.to_owned(),
        };
        match parts.as_slice() {
            [y] => Ok(Self::Year(i32::from(number(y, 4)?))),
            [y, m] => {
                let month = u8::try_from(number(m, 2)?).map_err(|_| missing())?;
                let month = Month::try_from(month).map_err(|_| missing())?;
                Ok(Self::Month(i32::from(number(y, 4)?), month))
            }
            [y, m, d] => {
                let (y, m, d) = (number(y, 4)?, number(m, 2)?, number(d, 2)?);
                let month = u8::try_from(m)
                    .ok()
                    .and_then(|m| Month::try_from(m).ok())
                    .ok_or_else(missing)?;
                let day = u8::try_from(d).map_err(|_| missing())?;
                Date::from_calendar_date(i32::from(y), month, day)
                    .map(Self::Day)
                    .map_err(|_| missing())
            }
            _ => Err(bad()),
        }
    }

    /// The HL7 TS value: `YYYY`, `YYYYMM` or `YYYYMMDD`.
    pub fn hl7(self) -> String {
        match self {
            Self::Year(y) => format!("{y:04}"),
            Self::Month(y, m) => format!("{y:04}{:02}", u8::from(m)),
            Self::Day(d) => format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day()),
        }
    }

    /// As a reader of the narrative expects it: `2012`, `09/2024`, `23/09/2024`.
    pub fn french(self) -> String {
        match self {
            Self::Year(y) => format!("{y:04}"),
            Self::Month(y, m) => format!("{:02}/{y:04}", u8::from(m)),
            Self::Day(d) => format!("{:02}/{:02}/{:04}", d.day(), u8::from(d.month()), d.year()),
        }
    }

    /// The first day it covers, to compare a start and an end of different precision.
    fn first_day(self) -> Option<Date> {
        match self {
            Self::Year(y) => Date::from_calendar_date(y, Month::January, 1).ok(),
            Self::Month(y, m) => Date::from_calendar_date(y, m, 1).ok(),
            Self::Day(d) => Some(d),
        }
    }

    /// The last day it covers.
    fn last_day(self) -> Option<Date> {
        match self {
            Self::Year(y) => Date::from_calendar_date(y, Month::December, 31).ok(),
            Self::Month(y, m) => {
                Date::from_calendar_date(y, m, time::util::days_in_month(m, y)).ok()
            }
            Self::Day(d) => Some(d),
        }
    }
}

/// The attending physician or the trusted person.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub last_name: String,
    pub first_name: String,
    /// The RPPS number (11 digits), for a professional.
    pub rpps: Option<String>,
    /// A phone number, digits with an optional leading `+`.
    pub phone: Option<String>,
}

/// What is wrong with a VSM input; every variant but [`VsmError::NotJson`] and
/// [`VsmError::Write`] names the JSON path at fault.
#[derive(Debug, thiserror::Error)]
pub enum VsmError {
    #[error("the VSM input is not JSON: {0}")]
    NotJson(String),
    #[error("{path}: expected {expected}")]
    WrongType {
        path: String,
        expected: &'static str,
    },
    #[error("{path}: unknown key; the keys here are {allowed}")]
    UnknownKey { path: String, allowed: String },
    #[error("{path}: required")]
    Missing { path: String },
    #[error("{path}: must not be empty")]
    Empty { path: String },
    #[error("{path}: {value:?} is not a date; write YYYY, YYYY-MM or YYYY-MM-DD")]
    BadDate { path: String, value: String },
    #[error("{path}: {value:?} is a date that does not exist")]
    NonexistentDate { path: String, value: String },
    #[error("{path}: the end is before the start")]
    EndBeforeStart { path: String },
    #[error(
        "{path}: {value:?} is not an OID (digits separated by dots, e.g. 2.16.840.1.113883.6.3)"
    )]
    BadOid { path: String, value: String },
    #[error("{path}: {value:?} is not an RPPS number (11 digits)")]
    BadRpps { path: String, value: String },
    #[error("{path}: {value:?} is not a phone number (digits, optionally a leading +)")]
    BadPhone { path: String, value: String },
    #[error("{path}: give `rpps` or `phone`")]
    NoContact { path: String },
    #[error("{path}: a trusted person has no RPPS number in the VSM model; give `phone`")]
    RppsNotAllowed { path: String },
    #[error("{path}: unknown allergy type {value:?}; one of {allowed}")]
    UnknownAllergyType {
        path: String,
        value: String,
        allowed: String,
    },
    #[error("the document type is {found:?}: a VSM is of type SYNTH (1.2.250.1.213.1.1.4.12)")]
    NotAVsmType { found: String },
    #[error("writing the VSM: {0}")]
    Write(#[from] CdaError),
}

impl VsmError {
    /// The JSON path at fault, when the error is about one field.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::NotJson(_) | Self::Write(_) | Self::NotAVsmType { .. } => None,
            Self::WrongType { path, .. }
            | Self::UnknownKey { path, .. }
            | Self::Missing { path }
            | Self::Empty { path }
            | Self::BadDate { path, .. }
            | Self::NonexistentDate { path, .. }
            | Self::EndBeforeStart { path }
            | Self::BadOid { path, .. }
            | Self::BadRpps { path, .. }
            | Self::BadPhone { path, .. }
            | Self::NoContact { path }
            | Self::RppsNotAllowed { path }
            | Self::UnknownAllergyType { path, .. } => Some(path),
        }
    }
}

const SECTIONS: [&str; 9] = [
    "chronic_pathologies",
    "medical_history",
    "surgical_history",
    "allergies",
    "lifestyle_risk_factors",
    "occupational_risk_factors",
    "family_history",
    "vigilance_points",
    "long_term_treatments",
];
const TOP_KEYS: [&str; 11] = [
    "chronic_pathologies",
    "medical_history",
    "surgical_history",
    "allergies",
    "lifestyle_risk_factors",
    "occupational_risk_factors",
    "family_history",
    "vigilance_points",
    "long_term_treatments",
    "attending_physician",
    "trusted_person",
];
const ITEM_KEYS: [&str; 4] = ["label", "code", "start", "end"];
const ALLERGY_KEYS: [&str; 5] = ["label", "code", "start", "end", "type"];
const CODE_KEYS: [&str; 3] = ["code", "system", "display"];
const PERSON_KEYS: [&str; 4] = ["last_name", "first_name", "rpps", "phone"];

impl Vsm {
    /// Checks a VSM given as JSON (the keys of the issue; see the crate README).
    pub fn from_json(input: &[u8]) -> Result<Self, VsmError> {
        let value: Value =
            serde_json::from_slice(input).map_err(|e| VsmError::NotJson(e.to_string()))?;
        Self::from_value(&value)
    }

    /// Checks a VSM already parsed as a JSON value.
    pub fn from_value(value: &Value) -> Result<Self, VsmError> {
        let root = object(value, "$")?;
        known_keys(root, "", &TOP_KEYS)?;
        let list = |key: &str| items(root.get(key), key);
        let mut vsm = Vsm {
            chronic_pathologies: list(SECTIONS[0])?,
            medical_history: list(SECTIONS[1])?,
            surgical_history: list(SECTIONS[2])?,
            allergies: allergies(root.get(SECTIONS[3]), SECTIONS[3])?,
            lifestyle_risk_factors: list(SECTIONS[4])?,
            occupational_risk_factors: list(SECTIONS[5])?,
            family_history: list(SECTIONS[6])?,
            vigilance_points: list(SECTIONS[7])?,
            long_term_treatments: list(SECTIONS[8])?,
            attending_physician: None,
            trusted_person: None,
        };
        vsm.attending_physician = person(root.get("attending_physician"), "attending_physician")?;
        vsm.trusted_person = person(root.get("trusted_person"), "trusted_person")?;
        if let Some(p) = &vsm.trusted_person {
            if p.rpps.is_some() {
                return Err(VsmError::RppsNotAllowed {
                    path: "trusted_person.rpps".into(),
                });
            }
            if p.phone.is_none() {
                return Err(VsmError::Missing {
                    path: "trusted_person.phone".into(),
                });
            }
        }
        Ok(vsm)
    }
}

/// Writes the whole VSM document: the CDA header of `header` (whose type must be
/// [`document_type`]) with the VSM's template, service event code, trusted person and
/// attending physician, then the structured body.
pub fn write_document<W: Write>(
    out: W,
    header: &DocumentHeader,
    vsm: &Vsm,
) -> Result<WrittenDocument<W>, VsmError> {
    let expected = document_type();
    if header.type_code.code != expected.code || header.type_code.system != expected.system {
        return Err(VsmError::NotAVsmType {
            found: header.type_code.code.clone(),
        });
    }
    let templates = [TemplateId::with_extension(TEMPLATE_ID, TEMPLATE_VERSION)];
    cda::write_document_with(
        out,
        header,
        &templates,
        |slot, w| match slot {
            HeaderSlot::Informants => match &vsm.trusted_person {
                Some(p) => persons::write_trusted_person(w, p),
                None => Ok(()),
            },
            HeaderSlot::Participants => match &vsm.attending_physician {
                Some(p) => persons::write_attending_physician(w, p),
                None => Ok(()),
            },
            HeaderSlot::ServiceEventCode => {
                let c = service_event_code();
                w.empty(
                    "code",
                    &[
                        ("code", &c.code),
                        ("displayName", &c.display),
                        ("codeSystem", &c.system),
                        ("codeSystemName", "LOINC"),
                    ],
                )
            }
        },
        |w| write_body(w, vsm),
    )
}

/// Writes `<structuredBody>` of the VSM (in the HL7 v3 namespace; `xsi` declared on it).
pub fn write_body<W: Write>(w: &mut CdaWriter<W>, vsm: &Vsm) -> Result<(), VsmError> {
    w.start("structuredBody", &[])?;
    // [1..1] Pathologies, antécédents, allergies et facteurs de risque
    w.start("component", &[])?;
    xml::section_start(
        w,
        &["1.2.250.1.213.1.1.2.29"],
        ("46612-8", "Conclusions de synthèse"),
        "Pathologies en cours, antécédents, allergies et facteurs de risque",
    )?;
    // Every optional sub-section is written (empty ones say "no information"), so the
    // model wants no text at this level.
    w.start("component", &[])?;
    xml::section_start(
        w,
        &["1.2.250.1.213.1.1.2.30"],
        ("34117-2", "Historique et physique"),
        "Pathologies en cours, antécédents et allergies",
    )?;
    problems::write_active_problems(w, &vsm.chronic_pathologies)?;
    history::write_medical_history(w, &vsm.medical_history)?;
    history::write_surgical_history(w, &vsm.surgical_history)?;
    allergies::write_allergies(w, &vsm.allergies)?;
    xml::section_end(w)?;
    w.start("component", &[])?;
    xml::section_start(
        w,
        &["1.2.250.1.213.1.1.2.31"],
        (
            "57207-3",
            "Facteurs de risque présents ou passés affectant l'état de santé et/ou une circonstance",
        ),
        "Facteurs de risque",
    )?;
    risk_factors::write_lifestyle(w, &vsm.lifestyle_risk_factors)?;
    risk_factors::write_occupational(w, &vsm.occupational_risk_factors)?;
    history::write_family_history(w, &vsm.family_history)?;
    xml::section_end(w)?;
    xml::section_end(w)?;
    // [1..1] Résultats: the model's place for the points de vigilance.
    vigilance::write_vigilance_points(w, &vsm.vigilance_points)?;
    // [1..1] Traitement au long cours
    treatments::write_long_term_treatments(w, &vsm.long_term_treatments)?;
    w.end()?;
    Ok(())
}

fn path_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, VsmError> {
    value.as_object().ok_or_else(|| VsmError::WrongType {
        path: path.to_owned(),
        expected: "an object",
    })
}

fn known_keys(map: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), VsmError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(VsmError::UnknownKey {
            path: path_key(path, k),
            allowed: allowed.join(", "),
        }),
        None => Ok(()),
    }
}

/// A string field; `null` is "not given". Blank strings are refused: nothing would be written.
fn string(map: &Map<String, Value>, parent: &str, key: &str) -> Result<Option<String>, VsmError> {
    let path = || path_key(parent, key);
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Err(VsmError::Empty { path: path() }),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(VsmError::WrongType {
            path: path(),
            expected: "a string",
        }),
    }
}

fn required(map: &Map<String, Value>, parent: &str, key: &str) -> Result<String, VsmError> {
    string(map, parent, key)?.ok_or_else(|| VsmError::Missing {
        path: path_key(parent, key),
    })
}

fn array<'a>(value: Option<&'a Value>, path: &str) -> Result<&'a [Value], VsmError> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(VsmError::WrongType {
            path: path.to_owned(),
            expected: "a list",
        }),
    }
}

fn items(value: Option<&Value>, path: &str) -> Result<Vec<Item>, VsmError> {
    array(value, path)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let path = format!("{path}[{i}]");
            let map = object(v, &path)?;
            known_keys(map, &path, &ITEM_KEYS)?;
            item(map, &path)
        })
        .collect()
}

fn allergies(value: Option<&Value>, path: &str) -> Result<Vec<Allergy>, VsmError> {
    array(value, path)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let path = format!("{path}[{i}]");
            let map = object(v, &path)?;
            known_keys(map, &path, &ALLERGY_KEYS)?;
            let item = item(map, &path)?;
            let kind = match string(map, &path, "type")? {
                None => AllergyType::default(),
                Some(name) => AllergyType::ALL
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, t)| *t)
                    .ok_or_else(|| VsmError::UnknownAllergyType {
                        path: path_key(&path, "type"),
                        value: name,
                        allowed: AllergyType::ALL.map(|(n, _)| n).join(", "),
                    })?,
            };
            Ok(Allergy { item, kind })
        })
        .collect()
}

fn item(map: &Map<String, Value>, path: &str) -> Result<Item, VsmError> {
    let label = required(map, path, "label")?;
    let code = match map.get("code") {
        None | Some(Value::Null) => None,
        Some(v) => Some(code(v, &path_key(path, "code"))?),
    };
    let date = |key: &str| -> Result<Option<PartialDate>, VsmError> {
        string(map, path, key)?
            .map(|s| PartialDate::parse(&s, &path_key(path, key)))
            .transpose()
    };
    let start = date("start")?;
    let end = date("end")?;
    if let (Some(s), Some(e)) = (start, end)
        && e.last_day() < s.first_day()
    {
        return Err(VsmError::EndBeforeStart {
            path: path_key(path, "end"),
        });
    }
    Ok(Item {
        label,
        code,
        start,
        end,
    })
}

fn code(value: &Value, path: &str) -> Result<Code, VsmError> {
    let map = object(value, path)?;
    known_keys(map, path, &CODE_KEYS)?;
    let code = required(map, path, "code")?;
    let system = required(map, path, "system")?;
    let is_oid = system
        .split('.')
        .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()))
        && system.contains('.');
    if !is_oid {
        return Err(VsmError::BadOid {
            path: path_key(path, "system"),
            value: system,
        });
    }
    let display = string(map, path, "display")?.unwrap_or_default();
    Ok(Code {
        code,
        system,
        display,
    })
}

fn person(value: Option<&Value>, path: &str) -> Result<Option<Person>, VsmError> {
    let value = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let map = object(value, path)?;
    known_keys(map, path, &PERSON_KEYS)?;
    let last_name = required(map, path, "last_name")?;
    let first_name = required(map, path, "first_name")?;
    let rpps = string(map, path, "rpps")?
        .map(|r| {
            let compact: String = r.chars().filter(|c| !c.is_whitespace()).collect();
            if compact.len() == 11 && compact.bytes().all(|b| b.is_ascii_digit()) {
                Ok(compact)
            } else {
                Err(VsmError::BadRpps {
                    path: path_key(path, "rpps"),
                    value: r,
                })
            }
        })
        .transpose()?;
    let phone = string(map, path, "phone")?
        .map(|p| {
            // People write numbers in groups: spaces, dots and dashes are dropped.
            let compact: String = p
                .chars()
                .filter(|c| !matches!(c, ' ' | '.' | '-'))
                .collect();
            let digits = compact.strip_prefix('+').unwrap_or(&compact);
            if (4..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                Ok(compact)
            } else {
                Err(VsmError::BadPhone {
                    path: path_key(path, "phone"),
                    value: p,
                })
            }
        })
        .transpose()?;
    if rpps.is_none() && phone.is_none() {
        return Err(VsmError::NoContact {
            path: path.to_owned(),
        });
    }
    Ok(Some(Person {
        last_name,
        first_name,
        rpps,
        phone,
    }))
}
