//! Building a [`DocumentHeader`] from a caller's inputs, each checked: the patient's INS by
//! the one qualified-INS rule of the domain, the type against the J07 entries the caller
//! accepts, the rest for what a CDA header cannot do without.

use passerelle_domain::{
    NotQualified, PatientIdentity, Platform, Professional, QualifiedIns, Structure,
};
use time::OffsetDateTime;

use super::{
    Author, AuthoringDevice, Confidentiality, DocumentHeader, HiddenFrom, OrganisationAuthor,
    Patient, ProfessionalAuthor, ServiceEvent,
};
use crate::codes::{self, Code};
use crate::header::DocumentId;
use crate::ids::DocumentIds;

/// What a caller gives to describe a document.
#[derive(Debug, Clone)]
pub struct HeaderInput {
    pub ids: DocumentIds,
    /// 1 for a new document; previous + 1 for a replacement (same set id).
    pub version: u32,
    /// The document this one replaces (a new version), if any.
    pub replaces: Option<DocumentId>,
    pub title: String,
    /// The document type's code (LOINC or TRE_A05), looked up in the accepted J07 entries.
    pub type_code: String,
    pub effective_time: OffsetDateTime,
    pub confidentiality: Confidentiality,
    pub hidden_from: Vec<HiddenFrom>,
    pub patient: PatientIdentity,
    /// Where the INS will be used: the test INS-NIR OID is qualified only on a test platform.
    pub platform: Platform,
    /// The author: a professional, or the organisation's software.
    pub author: AuthorInput,
    pub custodian: Structure,
    /// Who authenticates the document and when, always a professional. `None`: the author at
    /// `effective_time` — only when the author is a professional; a document the
    /// organisation authors needs the professional who takes responsibility for it.
    pub legal_authenticator: Option<(Professional, OffsetDateTime)>,
    /// JDV J04 entry.
    pub practice_setting: Code,
    pub service_start: OffsetDateTime,
    pub service_end: Option<OffsetDateTime>,
    /// JDV J02 entry.
    pub facility_type: Code,
}

/// Who wrote the document, as a caller gives it.
#[derive(Debug, Clone)]
pub enum AuthorInput {
    /// A professional; their J01 specialty (CDA `assignedAuthor/code`, XDS
    /// `authorSpecialty`) follows from their profession and specialty.
    Professional(Professional),
    /// The organisation, through its software.
    Organisation {
        structure: Structure,
        device: AuthoringDevice,
        /// The J01 code of the kind of producer: one of [`ORGANISATION_ROLES`].
        role: String,
    },
}

impl From<Professional> for AuthorInput {
    fn from(p: Professional) -> Self {
        Self::Professional(p)
    }
}

/// The JDV J01 codes (TRE_A00 "producteur de document non PS") an organisation's software
/// may author under: the ones naming a system. `EXP_PATIENT` and `SECRETARIAT_MEDICAL` name
/// persons; `ALIM_AM` (the Assurance Maladie) and `SNR` (identified by its editor's OID) are
/// other producers.
pub const ORGANISATION_ROLES: [&str; 3] = ["DISPOSITIF", "AUTOMATE", "LOGICIEL_DUI"];

/// The J01 code system of TRE_A00.
const NON_PS_PRODUCER_SYSTEM: &str = "1.2.250.1.213.1.1.4.6";

/// Longest device field accepted (ids and names of the CI-SIS header are short strings).
const MAX_DEVICE_FIELD: usize = 100;

/// Why a header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the patient's INS is not qualified: {0}")]
    NotQualified(#[from] NotQualified),
    #[error(
        "the patient identity has no traits: give the birth name, first names, sex and birth date that go with the INS"
    )]
    MissingTraits,
    #[error(
        "unknown document type code {0:?}: give a code of the JDV J07 XdsTypeCode (LOINC, e.g. 11490-0 for a lettre de liaison)"
    )]
    UnknownTypeCode(String),
    #[error(
        "the author's profession and specialty ({0}) have no entry in JDV J01 (authorSpecialty): check the professional's profession and specialty codes"
    )]
    UnknownAuthorSpecialty(String),
    #[error(
        "the organisation's role {0:?} is not a J01 code of a system producing documents: use DISPOSITIF, AUTOMATE or LOGICIEL_DUI"
    )]
    UnknownOrganisationRole(String),
    #[error(
        "the authoring software's {field} {value:?} is not usable: 1 to 100 printable characters{hint}"
    )]
    BadDevice {
        field: &'static str,
        value: String,
        hint: &'static str,
    },
    #[error(
        "a document the organisation authors needs a legal authenticator: give the professional who takes responsibility for it"
    )]
    MissingLegalAuthenticator,
    #[error("the title is empty: give the document's title as it should appear in the DMP")]
    EmptyTitle,
    #[error("the version number is 0: versions start at 1 (a replacement takes the previous + 1)")]
    VersionZero,
    #[error("the service event ends before it starts: check service_start and service_end")]
    ServiceEndsBeforeStart,
}

/// `fr-FR`, the only language of the French CDA models.
const LANGUAGE: &str = "fr-FR";

impl HeaderInput {
    /// Checks every part; the type must be an entry of the project's J07 table.
    pub fn build(self) -> Result<DocumentHeader, HeaderError> {
        self.build_with(|code| codes::type_code(code).cloned())
    }

    /// As [`HeaderInput::build`], the type looked up by `type_code` (a narrower set of types).
    pub fn build_with(
        self,
        type_code: impl Fn(&str) -> Option<Code>,
    ) -> Result<DocumentHeader, HeaderError> {
        let ins = QualifiedIns::try_new(&self.patient, self.platform)?;
        if self.patient.traits.is_none() {
            return Err(HeaderError::MissingTraits);
        }
        let wanted = self.type_code.trim();
        let type_code = type_code(wanted)
            .ok_or_else(|| HeaderError::UnknownTypeCode(self.type_code.clone()))?;
        let author = check_author(self.author, self.effective_time)?;
        let title = self.title.trim();
        if title.is_empty() {
            return Err(HeaderError::EmptyTitle);
        }
        if self.version == 0 {
            return Err(HeaderError::VersionZero);
        }
        if self.service_end.is_some_and(|end| end < self.service_start) {
            return Err(HeaderError::ServiceEndsBeforeStart);
        }
        let legal_authenticator = match (self.legal_authenticator, author.professional()) {
            (Some(given), _) => given,
            (None, Some(p)) => (p.clone(), self.effective_time),
            (None, None) => return Err(HeaderError::MissingLegalAuthenticator),
        };
        Ok(DocumentHeader {
            id: self.ids.id,
            set_id: self.ids.set_id,
            version: self.version,
            replaces: self.replaces,
            title: title.to_owned(),
            type_code,
            effective_time: self.effective_time,
            confidentiality: self.confidentiality,
            hidden_from: self.hidden_from,
            language: LANGUAGE.to_owned(),
            patient: Patient {
                ins,
                identity: self.patient,
            },
            author,
            custodian: self.custodian,
            legal_authenticator,
            service_event: ServiceEvent {
                practice_setting: self.practice_setting,
                start: self.service_start,
                end: self.service_end,
            },
            facility_type: self.facility_type,
        })
    }
}

fn check_author(input: AuthorInput, time: OffsetDateTime) -> Result<Author, HeaderError> {
    match input {
        AuthorInput::Professional(professional) => {
            let roles = professional.vihf_roles();
            let specialty = codes::author_specialty_of(&roles).cloned().ok_or_else(|| {
                let list: Vec<&str> = roles.iter().map(|r| r.code).collect();
                HeaderError::UnknownAuthorSpecialty(list.join("/"))
            })?;
            Ok(Author::Professional(ProfessionalAuthor {
                professional,
                specialty,
                time,
            }))
        }
        AuthorInput::Organisation {
            structure,
            device,
            role,
        } => {
            let wanted = role.trim();
            let role = codes::author_specialty(wanted)
                .filter(|c| c.system == NON_PS_PRODUCER_SYSTEM)
                .filter(|c| ORGANISATION_ROLES.contains(&c.code.as_str()))
                .cloned()
                .ok_or_else(|| HeaderError::UnknownOrganisationRole(role.clone()))?;
            let device = AuthoringDevice {
                // The id is written after the structure's id and a `/`: it cannot hold one.
                id: device_field("id", &device.id, true)?,
                software_name: device_field("software name", &device.software_name, false)?,
                software_version: device_field(
                    "software version",
                    &device.software_version,
                    false,
                )?,
            };
            Ok(Author::Organisation(OrganisationAuthor {
                structure,
                device,
                role,
                time,
            }))
        }
    }
}

fn device_field(field: &'static str, value: &str, is_id: bool) -> Result<String, HeaderError> {
    let v = value.trim();
    let ok = !v.is_empty()
        && v.chars().count() <= MAX_DEVICE_FIELD
        && !v.chars().any(char::is_control)
        && !(is_id && (v.contains('/') || v.contains(char::is_whitespace)));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(HeaderError::BadDevice {
            field,
            value: value.to_owned(),
            hint: if is_id { ", no '/' nor space" } else { "" },
        })
    }
}
