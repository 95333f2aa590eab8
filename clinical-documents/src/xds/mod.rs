//! XDS.b metadata of a document, derived from its [`DocumentHeader`] (the one source of
//! truth) and the facts of its content, written as ebRIM 3.0 for an ITI-41
//! `ProvideAndRegisterDocumentSetRequest` and for an XDM `METADATA.XML`.
//!
//! Field formats follow the DMP's own examples (CNAM "exemples de messages" TD2.1, the
//! official C# kit's `template_XDS.xml`): HL7v2 CX/XCN/XON values, UTC `YYYYMMDDhhmmss` times.

pub mod query;
pub mod registry;
pub mod set;
mod write;

use passerelle_domain::{ProfessionalId, Sex};
use time::OffsetDateTime;

use crate::codes::{self, Code};
use crate::header::{
    Author, Confidentiality, DocumentHeader, DocumentId, HiddenFrom, OrganisationAuthor,
    structure_national_id,
};

pub use set::{Content, DepositSet, SetMember};
pub use write::MetadataTarget;

/// What is wrong with the input of the metadata, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum XdsError {
    #[error(
        "document type {code:?} (code system {system}) is not in JDV_J07 XdsTypeCode: use a LOINC or TRE_A05 code of that value set, e.g. 11490-0 (lettre de liaison)"
    )]
    UnknownTypeCode { code: String, system: String },
    #[error(
        "no XDS class code is known for document type {0:?}: give a type whose class the ANS tables map (a LOINC report or letter type, SYNTH, CERT_DECL…)"
    )]
    NoClassForType(String),
    #[error(
        "practice setting {0:?} is not in JDV_J04 XdsPracticeSettingCode: use one of its codes, e.g. AMBULATOIRE"
    )]
    UnknownPracticeSetting(String),
    #[error(
        "healthcare facility type {0:?} is not in JDV_J02 XdsHealthcareFacilityTypeCode: use one of its codes, e.g. SA07 (cabinet individuel)"
    )]
    UnknownFacilityType(String),
    #[error(
        "the author's roles {0} give no author specialty of JDV_J01 XdsAuthorSpecialty: check the professional's profession and specialty codes"
    )]
    UnknownAuthorSpecialty(String),
    #[error("format code {0:?} is missing from the project's format table")]
    UnknownFormat(&'static str),
    #[error("content hash {0:?} is not a SHA-1: 40 hexadecimal digits")]
    BadHash(String),
    #[error("the document is empty: nothing to register")]
    EmptyContent,
    #[error("mime type {0:?} is not a media type, e.g. text/xml")]
    BadMimeType(String),
    #[error("{field} {value:?} is not an OID (digits and dots, e.g. 1.2.250.1.999.1.2.3)")]
    NotAnOid { field: &'static str, value: String },
    #[error("every document of a submission set must be of the same patient")]
    PatientMismatch,
    #[error("the submission set already holds a document with unique id {0:?}")]
    DuplicateUniqueId(String),
    #[error("no member {0:?} in the submission set")]
    UnknownMember(String),
    #[error("registry metadata: {0}")]
    Registry(String),
    #[error("writing the metadata failed: {0}")]
    Write(#[from] passerelle_soap::SoapError),
}

/// The content format of a document, which gives its XDS `formatCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentFormat {
    /// CDA R2 level 1 with a PDF body.
    CdaPdf,
    /// CDA R2 level 1 with a plain-text body.
    CdaText,
    /// The Volet de Synthèse Médicale (CDA level 3).
    Vsm,
}

impl DocumentFormat {
    fn format_code_value(self) -> &'static str {
        match self {
            Self::CdaPdf => "urn:ihe:iti:xds-sd:pdf:2008",
            Self::CdaText => "urn:ihe:iti:xds-sd:text:2008",
            Self::Vsm => "urn:asip:ci-sis:vsm:2012",
        }
    }

    /// The XDS `formatCode` (JDV_J10/J60).
    pub fn format_code(self) -> Option<&'static Code> {
        codes::format_code(self.format_code_value())
    }
}

/// What the metadata needs to know of the content: the registered bytes (the CDA file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentFacts {
    pub size: u64,
    /// SHA-1 of the content, lowercase hexadecimal.
    pub sha1_hex: String,
    /// `text/xml` for a CDA.
    pub mime_type: String,
    pub format: DocumentFormat,
}

impl ContentFacts {
    /// The facts of content held in memory (a CDA of a few hundred kB): SHA-1 and size, mime
    /// type `text/xml`.
    pub fn of_cda(content: &[u8], format: DocumentFormat) -> Self {
        use sha1::Digest as _;
        let digest = sha1::Sha1::digest(content);
        Self {
            size: content.len() as u64,
            sha1_hex: hex::encode(digest),
            mime_type: "text/xml".to_owned(),
            format,
        }
    }

    fn check(&self) -> Result<(), XdsError> {
        if self.size == 0 {
            return Err(XdsError::EmptyContent);
        }
        let h = &self.sha1_hex;
        if h.len() != 40 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(XdsError::BadHash(h.clone()));
        }
        let m = &self.mime_type;
        let valid = m.split_once('/').is_some_and(|(a, b)| {
            !a.is_empty() && !b.is_empty() && !m.contains(|c: char| c.is_whitespace())
        });
        if !valid {
            return Err(XdsError::BadMimeType(m.clone()));
        }
        Ok(())
    }
}

/// The author as XDS says it (`author` classification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdsAuthor {
    /// `authorPerson`, an XCN.
    pub person: String,
    /// `authorInstitution`, an XON, when the author acts for a structure.
    pub institution: Option<String>,
    /// `authorSpecialty` (JDV_J01), written `code^display^system`.
    pub specialty: Code,
}

/// An XDS DocumentEntry, every value derived from the header and content facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentEntry {
    pub unique_id: String,
    pub patient_id: String,
    pub source_patient_id: String,
    /// `PID-5|…`, `PID-7|…`, `PID-8|…` when the identity's traits are known.
    pub source_patient_info: Vec<String>,
    pub title: String,
    pub type_code: Code,
    pub class_code: Code,
    pub format_code: Code,
    pub practice_setting: Code,
    pub facility_type: Code,
    /// The HL7 confidentiality first, then the DMP's masking/visibility codes.
    pub confidentiality: Vec<Code>,
    pub author: XdsAuthor,
    pub legal_authenticator: String,
    pub creation_time: String,
    pub service_start: String,
    pub service_stop: Option<String>,
    pub language: String,
    pub mime_type: String,
    pub size: u64,
    pub hash: String,
}

/// What the submitter adds to a submission set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionSetInput {
    /// The submission set's own unique id (an OID), new for every submission.
    pub unique_id: String,
    /// `sourceId`: the OID of the submitting system.
    pub source_id: String,
    pub submission_time: OffsetDateTime,
    /// `contentTypeCode` (JDV_J59 for the DMP, e.g. `04`, `1.2.250.1.213.2.2`).
    pub content_type: Code,
}

/// A submission set and the one document it registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub unique_id: String,
    pub source_id: String,
    pub submission_time: String,
    pub content_type: Code,
    pub patient_id: String,
    pub title: String,
    pub author: XdsAuthor,
    pub document: DocumentEntry,
}

/// An XDS DTM in UTC, `YYYYMMDDhhmmss`.
pub fn xds_time(t: OffsetDateTime) -> String {
    let u = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        u.year(),
        u8::from(u.month()),
        u.day(),
        u.hour(),
        u.minute(),
        u.second()
    )
}

/// The XDS uniqueId of a CDA id: `root^extension`, or the root alone.
pub fn unique_id(id: &DocumentId) -> String {
    match &id.extension {
        Some(ext) => format!("{}^{ext}", id.root),
        None => id.root.clone(),
    }
}

pub(crate) fn check_oid(field: &'static str, value: &str) -> Result<(), XdsError> {
    let ok = !value.is_empty()
        && value
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(XdsError::NotAnOid {
            field,
            value: value.to_owned(),
        })
    }
}

/// HL7v2 escapes for the characters that delimit CX/XCN/XON values.
fn hl7(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\E\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '|' => out.push_str("\\F\\"),
            '~' => out.push_str("\\R\\"),
            c => out.push(c),
        }
    }
    out
}

/// IDNPS, the national identifier of professionals.
const IDNPS: &str = "1.2.250.1.71.4.2.1";
/// IDNST, the national identifier of structures.
const IDNST: &str = "1.2.250.1.71.4.2.2";

/// `authorPerson` / `legalAuthenticator` XCN: national id, names, IDNPS.
fn xcn(p: &passerelle_domain::Professional) -> String {
    let names = format!("{}^{}", hl7(p.family_name()), hl7(p.given_name()));
    match p.id() {
        ProfessionalId::Rpps(_) | ProfessionalId::Adeli(_) => format!(
            "{}^{names}^^^^^^&{IDNPS}&ISO^D^^^IDNPS",
            p.id().national_id()
        ),
        // No assigning authority for a structure's internal id: the name alone.
        ProfessionalId::Internal(_) => format!("^{names}"),
    }
}

/// `authorInstitution` XON: name, IDNST, the national structure id (`1` + FINESS, `3` +
/// SIRET).
fn xon(s: &passerelle_domain::Structure) -> String {
    let id = structure_national_id(s);
    format!("{}^^^^^&{IDNST}&ISO^IDNST^^^{id}", hl7(&s.name))
}

/// The XCN of an organisation's software (a structure's system): its IDNPS id built on the
/// structure's, the software's name as the family name.
fn device_xcn(a: &OrganisationAuthor) -> String {
    format!(
        "{}^{}^^^^^^^&{IDNPS}&ISO^D^^^IDNPS",
        hl7(&a.device.national_id(&a.structure)),
        hl7(&a.device.software_name)
    )
}

fn author(header: &DocumentHeader) -> Result<XdsAuthor, XdsError> {
    // The specialty the CDA header says: one source of truth.
    let specialty = header.author.code();
    if codes::author_specialty(&specialty.code).is_none_or(|c| c.system != specialty.system) {
        return Err(XdsError::UnknownAuthorSpecialty(specialty.code.clone()));
    }
    let (person, institution) = match &header.author {
        Author::Professional(a) => (
            xcn(&a.professional),
            xon(a.professional.structure().unwrap_or(&header.custodian)),
        ),
        Author::Organisation(a) => (device_xcn(a), xon(&a.structure)),
    };
    Ok(XdsAuthor {
        person,
        institution: Some(institution),
        specialty: specialty.clone(),
    })
}

fn patient_cx(header: &DocumentHeader) -> String {
    let ins = header.patient.ins.ins();
    format!("{ins}^^^&{}&ISO^NH", ins.oid())
}

fn source_patient_info(header: &DocumentHeader) -> Vec<String> {
    let Some(t) = &header.patient.identity.traits else {
        return Vec::new();
    };
    let first = t.first_names.first().map(|n| n.as_str()).unwrap_or("");
    let d = t.birth_date;
    vec![
        format!("PID-5|{}^{}^^^^^L", hl7(t.birth_name.as_str()), hl7(first)),
        format!("PID-7|{:04}{:02}{:02}", d.year(), d.month(), d.day()),
        format!(
            "PID-8|{}",
            match t.sex {
                Sex::Female => "F",
                Sex::Male => "M",
            }
        ),
    ]
}

fn confidentiality(header: &DocumentHeader) -> Vec<Code> {
    let level = match header.confidentiality {
        Confidentiality::Normal => "N",
        Confidentiality::Restricted => "R",
        Confidentiality::VeryRestricted => "V",
    };
    let mut list: Vec<&str> = vec![level];
    for h in &header.hidden_from {
        let code = match h {
            HiddenFrom::Professionals => "MASQUE_PS",
            HiddenFrom::Patient => "INVISIBLE_PATIENT",
            HiddenFrom::LegalRepresentatives => "INVISIBLE_REPRESENTANTS_LEGAUX",
        };
        if !list.contains(&code) {
            list.push(code);
        }
    }
    list.into_iter()
        .filter_map(codes::confidentiality)
        .cloned()
        .collect()
}

/// The value-set entry this coded header field must be, looked up by code and code system.
fn in_set<'a>(
    found: Option<&'a Code>,
    given: &Code,
    err: impl FnOnce() -> XdsError,
) -> Result<&'a Code, XdsError> {
    match found {
        Some(c) if c.system == given.system => Ok(c),
        _ => Err(err()),
    }
}

impl DocumentEntry {
    /// The DocumentEntry of the document this header describes; every code is checked
    /// against the project's tables.
    pub fn from_header(header: &DocumentHeader, facts: &ContentFacts) -> Result<Self, XdsError> {
        facts.check()?;
        let t = &header.type_code;
        let type_code = in_set(codes::type_code(&t.code), t, || XdsError::UnknownTypeCode {
            code: t.code.clone(),
            system: t.system.clone(),
        })?;
        let class_code = codes::class_code_for_type(type_code)
            .ok_or_else(|| XdsError::NoClassForType(t.code.clone()))?;
        let ps = &header.service_event.practice_setting;
        let practice_setting = in_set(codes::practice_setting(&ps.code), ps, || {
            XdsError::UnknownPracticeSetting(ps.code.clone())
        })?;
        let ft = &header.facility_type;
        let facility_type = in_set(codes::healthcare_facility_type(&ft.code), ft, || {
            XdsError::UnknownFacilityType(ft.code.clone())
        })?;
        let format_code = facts
            .format
            .format_code()
            .ok_or(XdsError::UnknownFormat(facts.format.format_code_value()))?;
        let patient_id = patient_cx(header);
        Ok(Self {
            unique_id: unique_id(&header.id),
            source_patient_id: patient_id.clone(),
            patient_id,
            source_patient_info: source_patient_info(header),
            title: header.title.clone(),
            type_code: type_code.clone(),
            class_code: class_code.clone(),
            format_code: format_code.clone(),
            practice_setting: practice_setting.clone(),
            facility_type: facility_type.clone(),
            confidentiality: confidentiality(header),
            author: author(header)?,
            legal_authenticator: xcn(&header.legal_authenticator.0),
            creation_time: xds_time(header.effective_time),
            service_start: xds_time(header.service_event.start),
            service_stop: header.service_event.end.map(xds_time),
            language: header.language.clone(),
            mime_type: facts.mime_type.clone(),
            size: facts.size,
            hash: facts.sha1_hex.to_ascii_lowercase(),
        })
    }
}

impl Submission {
    /// A submission set registering the document this header describes.
    pub fn from_header(
        header: &DocumentHeader,
        facts: &ContentFacts,
        set: &SubmissionSetInput,
    ) -> Result<Self, XdsError> {
        check_oid("submission set unique id", &set.unique_id)?;
        check_oid("submission set source id", &set.source_id)?;
        let document = DocumentEntry::from_header(header, facts)?;
        Ok(Self {
            unique_id: set.unique_id.clone(),
            source_id: set.source_id.clone(),
            submission_time: xds_time(set.submission_time),
            content_type: set.content_type.clone(),
            patient_id: document.patient_id.clone(),
            title: header.title.clone(),
            author: document.author.clone(),
            document,
        })
    }
}
