//! The CDA R2 document: its French header written from a [`DocumentHeader`] (ANS CI-SIS
//! "Modèles de contenus CDA", IHE), and a body written by the caller — the level-1 body of
//! [`level1`], or the VSM's structured body.
//!
//! ```text
//! pub fn write_document<W: Write, E: From<CdaError>>(
//!     out: W,
//!     header: &DocumentHeader,
//!     templates: &[TemplateId],
//!     body: impl FnOnce(&mut CdaWriter<W>) -> Result<(), E>,
//! ) -> Result<WrittenDocument<W>, E>
//! ```
//! `body` writes the content of `ClinicalDocument/component` (`nonXMLBody` or
//! `structuredBody`); the [`WrittenDocument`] carries the SHA-1 and size of the whole
//! document (XDS `hash`, `size`), computed as it was written.

pub mod level1;
mod writer;

use std::io::Write;

use passerelle_domain::{LunarDate, Professional, Sex, Structure};
use time::OffsetDateTime;
use time::macros::format_description;

pub use writer::{CdaWriter, WrittenDocument};

use crate::codes::Code;
use crate::header::{Author, Confidentiality, DocumentHeader, DocumentId, structure_national_id};

/// A failure writing a document.
#[derive(Debug, thiserror::Error)]
pub enum CdaError {
    /// The output could not be written (disk full, closed pipe…), or the writer was misused.
    #[error("cannot write the CDA document: {0}")]
    Write(String),
    /// The patient identity has no traits: the CDA header needs the birth name, first names,
    /// sex and birth date that go with the INS.
    #[error(
        "the patient identity has no traits: a CDA header needs the birth name, first names, sex and birth date of the qualified INS"
    )]
    MissingTraits,
}

/// A `templateId` the document declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateId {
    pub root: &'static str,
    pub extension: Option<&'static str>,
}

impl TemplateId {
    pub const fn new(root: &'static str) -> Self {
        Self {
            root,
            extension: None,
        }
    }
    pub const fn with_extension(root: &'static str, extension: &'static str) -> Self {
        Self {
            root,
            extension: Some(extension),
        }
    }
}

/// HL7 v3, the namespace of every CDA element.
pub const HL7_V3: &str = "urn:hl7-org:v3";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Declared by every document: HL7 France, then the CI-SIS header model.
const HL7_FRANCE: TemplateId = TemplateId::new("2.16.840.1.113883.2.8.2.1");
const CI_SIS: TemplateId = TemplateId::new("1.2.250.1.213.1.1.1.1");

/// CDA R2 `typeId`.
const CDA_TYPE_ID_ROOT: &str = "2.16.840.1.113883.1.3";
const CDA_TYPE_ID_EXTENSION: &str = "POCD_HD000040";
/// HL7 code systems.
const CONFIDENTIALITY_SYSTEM: &str = "2.16.840.1.113883.5.25";
const ADMINISTRATIVE_GENDER_SYSTEM: &str = "2.16.840.1.113883.5.1";
/// Assigning authorities of the national ids: professionals (RPPS/ADELI as `8…`/`0…`) and
/// structures (FINESS `1…`, SIRET `3…`).
const PROFESSIONAL_ID_ROOT: &str = "1.2.250.1.71.4.2.1";
const STRUCTURE_ID_ROOT: &str = "1.2.250.1.71.4.2.2";

/// Writes a whole `ClinicalDocument`: the header from `header` declaring the common
/// templates then `templates` (the model's own, e.g. IHE XDS-SD for level 1), then
/// `<component>`, whose content `body` writes.
pub fn write_document<W: Write, E: From<CdaError>>(
    out: W,
    header: &DocumentHeader,
    templates: &[TemplateId],
    body: impl FnOnce(&mut CdaWriter<W>) -> Result<(), E>,
) -> Result<WrittenDocument<W>, E> {
    write_document_with(out, header, templates, |_, _| Ok(()), body)
}

/// Where a content model adds its own parts to the header (the VSM's trusted person,
/// attending physician and service event code), in CDA order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderSlot {
    /// After `author`: `informant` elements.
    Informants,
    /// After `legalAuthenticator`: `participant` elements.
    Participants,
    /// First in `documentationOf/serviceEvent`: its `code`.
    ServiceEventCode,
}

/// [`write_document`], with `extra` called at each [`HeaderSlot`] to write the model's own
/// header parts.
pub fn write_document_with<W: Write, E: From<CdaError>>(
    out: W,
    header: &DocumentHeader,
    templates: &[TemplateId],
    mut extra: impl FnMut(HeaderSlot, &mut CdaWriter<W>) -> Result<(), CdaError>,
    body: impl FnOnce(&mut CdaWriter<W>) -> Result<(), E>,
) -> Result<WrittenDocument<W>, E> {
    // Checked before a byte is written: nothing is produced half-way for a missing trait.
    if header.patient.identity.traits.is_none() {
        return Err(CdaError::MissingTraits.into());
    }
    let mut w = CdaWriter::new(out)?;
    w.start("ClinicalDocument", &[("xmlns", HL7_V3), ("xmlns:xsi", XSI)])?;
    write_header(&mut w, header, templates, &mut extra)?;
    w.start("component", &[])?;
    body(&mut w)?;
    w.end()?;
    w.end()?;
    Ok(w.finish()?)
}

/// `YYYYMMDDhhmmss+zzzz`, the HL7 TS form the ANS examples use.
pub fn hl7_time(t: OffsetDateTime) -> String {
    let f = format_description!(
        "[year][month][day][hour][minute][second][offset_hour sign:mandatory][offset_minute]"
    );
    t.format(&f).unwrap_or_default()
}

/// A birth date as HL7 TS: `YYYYMMDD`, or `YYYYMM` / `YYYY` when the day / month is unknown.
fn hl7_birth_date(d: LunarDate) -> String {
    match (d.month(), d.day()) {
        (0, _) => format!("{:04}", d.year()),
        (m, 0) => format!("{:04}{m:02}", d.year()),
        (m, day) => format!("{:04}{m:02}{day:02}", d.year()),
    }
}

fn code_attrs(c: &Code) -> [(&str, &str); 3] {
    [
        ("code", c.code.as_str()),
        ("displayName", c.display.as_str()),
        ("codeSystem", c.system.as_str()),
    ]
}

fn write_id<W: Write>(
    w: &mut CdaWriter<W>,
    name: &'static str,
    id: &DocumentId,
) -> Result<(), CdaError> {
    match &id.extension {
        Some(ext) => w.empty(name, &[("root", &id.root), ("extension", ext)]),
        None => w.empty(name, &[("root", &id.root)]),
    }
}

type Extra<'a, W> = dyn FnMut(HeaderSlot, &mut CdaWriter<W>) -> Result<(), CdaError> + 'a;

fn write_header<W: Write>(
    w: &mut CdaWriter<W>,
    h: &DocumentHeader,
    templates: &[TemplateId],
    extra: &mut Extra<'_, W>,
) -> Result<(), CdaError> {
    w.empty("realmCode", &[("code", "FR")])?;
    w.empty(
        "typeId",
        &[
            ("root", CDA_TYPE_ID_ROOT),
            ("extension", CDA_TYPE_ID_EXTENSION),
        ],
    )?;
    for t in [HL7_FRANCE, CI_SIS].iter().chain(templates) {
        match t.extension {
            Some(ext) => w.empty("templateId", &[("root", t.root), ("extension", ext)])?,
            None => w.empty("templateId", &[("root", t.root)])?,
        }
    }
    write_id(w, "id", &h.id)?;
    w.empty("code", &code_attrs(&h.type_code))?;
    w.leaf("title", &[], &h.title)?;
    w.empty("effectiveTime", &[("value", &hl7_time(h.effective_time))])?;
    let (code, display) = match h.confidentiality {
        Confidentiality::Normal => ("N", "Normal"),
        Confidentiality::Restricted => ("R", "Restreint"),
        Confidentiality::VeryRestricted => ("V", "Très restreint"),
    };
    w.empty(
        "confidentialityCode",
        &[
            ("code", code),
            ("displayName", display),
            ("codeSystem", CONFIDENTIALITY_SYSTEM),
        ],
    )?;
    w.empty("languageCode", &[("code", &h.language)])?;
    write_id(w, "setId", &h.set_id)?;
    w.empty("versionNumber", &[("value", &h.version.to_string())])?;
    write_record_target(w, h)?;
    write_author(w, h)?;
    extra(HeaderSlot::Informants, w)?;
    w.start("custodian", &[])?;
    w.start("assignedCustodian", &[])?;
    write_organization(w, "representedCustodianOrganization", &h.custodian, None)?;
    w.end()?;
    w.end()?;
    let (authenticator, at) = &h.legal_authenticator;
    w.start("legalAuthenticator", &[])?;
    w.empty("time", &[("value", &hl7_time(*at))])?;
    w.empty("signatureCode", &[("code", "S")])?;
    w.start("assignedEntity", &[])?;
    write_professional_id(w, authenticator)?;
    write_person(w, "assignedPerson", authenticator)?;
    w.end()?;
    w.end()?;
    extra(HeaderSlot::Participants, w)?;
    write_service_event(w, h, extra)?;
    write_encompassing_encounter(w, h)
}

fn write_record_target<W: Write>(w: &mut CdaWriter<W>, h: &DocumentHeader) -> Result<(), CdaError> {
    let ins = h.patient.ins.ins();
    let traits = h
        .patient
        .identity
        .traits
        .as_ref()
        .ok_or(CdaError::MissingTraits)?;
    w.start("recordTarget", &[])?;
    w.start("patientRole", &[])?;
    // The INS: matricule and key, under the OID of its assigning authority.
    let number = format!("{}{}", ins.matricule(), ins.key());
    w.empty(
        "id",
        &[("extension", &number), ("root", ins.oid().as_str())],
    )?;
    w.start("patient", &[("classCode", "PSN")])?;
    w.start("name", &[])?;
    w.leaf("family", &[("qualifier", "BR")], traits.birth_name.as_str())?;
    let all_first: Vec<&str> = traits.first_names.iter().map(|n| n.as_str()).collect();
    w.leaf("given", &[], &all_first.join(" "))?;
    if let Some(first) = all_first.first() {
        w.leaf("given", &[("qualifier", "BR")], first)?;
    }
    if let Some(used) = &traits.used_name {
        w.leaf("family", &[("qualifier", "CL")], used.as_str())?;
    }
    w.end()?;
    let (sex, display) = match traits.sex {
        Sex::Female => ("F", "Féminin"),
        Sex::Male => ("M", "Masculin"),
    };
    w.empty(
        "administrativeGenderCode",
        &[
            ("code", sex),
            ("displayName", display),
            ("codeSystem", ADMINISTRATIVE_GENDER_SYSTEM),
        ],
    )?;
    w.empty(
        "birthTime",
        &[("value", &hl7_birth_date(traits.birth_date))],
    )?;
    if let Some(place) = &traits.birth_place {
        w.start("birthplace", &[])?;
        w.start("place", &[])?;
        w.start("addr", &[])?;
        w.leaf("county", &[], place.as_str())?;
        w.end()?;
        w.end()?;
        w.end()?;
    }
    w.end()?;
    w.end()?;
    w.end()
}

fn write_author<W: Write>(w: &mut CdaWriter<W>, h: &DocumentHeader) -> Result<(), CdaError> {
    w.start("author", &[])?;
    w.empty("time", &[("value", &hl7_time(h.author.time()))])?;
    w.start("assignedAuthor", &[])?;
    match &h.author {
        Author::Professional(a) => {
            write_professional_id(w, &a.professional)?;
            w.empty("code", &code_attrs(&a.specialty))?;
            write_person(w, "assignedPerson", &a.professional)?;
            let organisation = a.professional.structure().unwrap_or(&h.custodian);
            write_organization(w, "representedOrganization", organisation, None)?;
        }
        Author::Organisation(a) => {
            // A structure's system: an IDNPS id built on the structure's, the J01 code of a
            // non-PS producer, the software, the structure it acts for.
            w.empty(
                "id",
                &[
                    ("root", PROFESSIONAL_ID_ROOT),
                    ("extension", &a.device.national_id(&a.structure)),
                ],
            )?;
            w.empty("code", &code_attrs(&a.role))?;
            w.start("assignedAuthoringDevice", &[])?;
            w.leaf("manufacturerModelName", &[], &a.device.software_name)?;
            let software = format!("{} {}", a.device.software_name, a.device.software_version);
            w.leaf("softwareName", &[], &software)?;
            w.end()?;
            write_organization(w, "representedOrganization", &a.structure, None)?;
        }
    }
    w.end()?;
    w.end()
}

fn write_professional_id<W: Write>(w: &mut CdaWriter<W>, p: &Professional) -> Result<(), CdaError> {
    w.empty(
        "id",
        &[
            ("root", PROFESSIONAL_ID_ROOT),
            ("extension", &p.id().national_id()),
        ],
    )
}

fn write_person<W: Write>(
    w: &mut CdaWriter<W>,
    element: &'static str,
    p: &Professional,
) -> Result<(), CdaError> {
    w.start(element, &[])?;
    w.start("name", &[])?;
    w.leaf("given", &[], p.given_name())?;
    w.leaf("family", &[], p.family_name())?;
    w.end()?;
    w.end()
}

fn write_organization<W: Write>(
    w: &mut CdaWriter<W>,
    element: &'static str,
    s: &Structure,
    practice_setting: Option<&Code>,
) -> Result<(), CdaError> {
    w.start(element, &[])?;
    w.empty(
        "id",
        &[
            ("root", STRUCTURE_ID_ROOT),
            ("extension", &structure_national_id(s)),
        ],
    )?;
    w.leaf("name", &[], &s.name)?;
    if let Some(setting) = practice_setting {
        w.empty("standardIndustryClassCode", &code_attrs(setting))?;
    }
    w.end()
}

fn write_time_interval<W: Write>(
    w: &mut CdaWriter<W>,
    start: OffsetDateTime,
    end: Option<OffsetDateTime>,
) -> Result<(), CdaError> {
    w.start("effectiveTime", &[])?;
    w.empty("low", &[("value", &hl7_time(start))])?;
    if let Some(end) = end {
        w.empty("high", &[("value", &hl7_time(end))])?;
    }
    w.end()
}

fn write_service_event<W: Write>(
    w: &mut CdaWriter<W>,
    h: &DocumentHeader,
    extra: &mut Extra<'_, W>,
) -> Result<(), CdaError> {
    let e = &h.service_event;
    // The professional who did the act: the author, or for a document the organisation
    // authors, the professional who takes responsibility for it.
    let performer = h.author.professional().unwrap_or(&h.legal_authenticator.0);
    w.start("documentationOf", &[])?;
    w.start("serviceEvent", &[])?;
    extra(HeaderSlot::ServiceEventCode, w)?;
    write_time_interval(w, e.start, e.end)?;
    w.start("performer", &[("typeCode", "PRF")])?;
    w.start("assignedEntity", &[])?;
    write_professional_id(w, performer)?;
    write_person(w, "assignedPerson", performer)?;
    let organisation = performer.structure().unwrap_or(&h.custodian);
    write_organization(
        w,
        "representedOrganization",
        organisation,
        Some(&e.practice_setting),
    )?;
    w.end()?;
    w.end()?;
    w.end()?;
    w.end()?;
    // A new version replaces the previous one (same setId, versionNumber + 1).
    if let Some(parent) = &h.replaces {
        w.start("relatedDocument", &[("typeCode", "RPLC")])?;
        w.start("parentDocument", &[])?;
        write_id(w, "id", parent)?;
        w.end()?;
        w.end()?;
    }
    Ok(())
}

fn write_encompassing_encounter<W: Write>(
    w: &mut CdaWriter<W>,
    h: &DocumentHeader,
) -> Result<(), CdaError> {
    w.start("componentOf", &[])?;
    w.start("encompassingEncounter", &[])?;
    write_time_interval(w, h.service_event.start, h.service_event.end)?;
    w.start("location", &[])?;
    w.start("healthCareFacility", &[])?;
    w.empty("code", &code_attrs(&h.facility_type))?;
    w.end()?;
    w.end()?;
    w.end()?;
    w.end()
}
