//! Building a [`DocumentHeader`] from a caller's inputs, each checked: the patient's INS by
//! the one qualified-INS rule of the domain, the type against the J07 entries the caller
//! accepts, the rest for what a CDA header cannot do without.

use passerelle_domain::{
    NotQualified, PatientIdentity, Platform, Professional, QualifiedIns, Structure,
};
use time::OffsetDateTime;

use super::{Author, Confidentiality, DocumentHeader, HiddenFrom, Patient, ServiceEvent};
use crate::codes::{self, Code};
use crate::ids::DocumentIds;

/// What a caller gives to describe a document.
#[derive(Debug, Clone)]
pub struct HeaderInput {
    pub ids: DocumentIds,
    /// 1 for a new document; previous + 1 for a replacement (same set id).
    pub version: u32,
    pub title: String,
    /// The document type's code (LOINC or TRE_A05), looked up in the accepted J07 entries.
    pub type_code: String,
    pub effective_time: OffsetDateTime,
    pub confidentiality: Confidentiality,
    pub hidden_from: Vec<HiddenFrom>,
    pub patient: PatientIdentity,
    /// Where the INS will be used: the test INS-NIR OID is qualified only on a test platform.
    pub platform: Platform,
    /// The author; their J01 specialty (CDA `assignedAuthor/code`, XDS `authorSpecialty`)
    /// follows from their profession and specialty.
    pub author: Professional,
    pub custodian: Structure,
    /// Who authenticates the document and when; the author at `effective_time` if `None`.
    pub legal_authenticator: Option<(Professional, OffsetDateTime)>,
    /// JDV J04 entry.
    pub practice_setting: Code,
    pub service_start: OffsetDateTime,
    pub service_end: Option<OffsetDateTime>,
    /// JDV J02 entry.
    pub facility_type: Code,
}

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
        let roles = self.author.vihf_roles();
        let specialty = codes::author_specialty_of(&roles).cloned().ok_or_else(|| {
            let list: Vec<&str> = roles.iter().map(|r| r.code).collect();
            HeaderError::UnknownAuthorSpecialty(list.join("/"))
        })?;
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
        let legal_authenticator = self
            .legal_authenticator
            .unwrap_or_else(|| (self.author.clone(), self.effective_time));
        Ok(DocumentHeader {
            id: self.ids.id,
            set_id: self.ids.set_id,
            version: self.version,
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
            author: Author {
                professional: self.author,
                specialty,
                time: self.effective_time,
            },
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
