//! What a clinical document says about itself: written once into the CDA header, and read
//! from there into the XDS metadata, so the two cannot disagree.

use passerelle_domain::{PatientIdentity, Professional, QualifiedIns, Structure};
use time::OffsetDateTime;

use crate::codes::Code;

pub mod builder;

/// The header of a document, every part checked on construction by its builder.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentHeader {
    /// `ClinicalDocument/id`: the document's unique id (XDS `uniqueId`).
    pub id: DocumentId,
    /// `setId` and `versionNumber`: a replacement keeps the set id and takes the next
    /// version.
    pub set_id: DocumentId,
    pub version: u32,
    pub title: String,
    /// `code`: the document type, LOINC from JDV J07 (XDS `typeCode`).
    pub type_code: Code,
    pub effective_time: OffsetDateTime,
    pub confidentiality: Confidentiality,
    /// Who must not see it in the DMP (the tutorial's "Cacher au patient / aux
    /// professionnels / aux représentants légaux").
    pub hidden_from: Vec<HiddenFrom>,
    /// `languageCode`, `fr-FR`.
    pub language: String,
    pub patient: Patient,
    pub author: Author,
    /// `custodian`: the organisation that keeps the document.
    pub custodian: Structure,
    /// `legalAuthenticator`, with the time of authentication.
    pub legal_authenticator: (Professional, OffsetDateTime),
    /// `documentationOf/serviceEvent`.
    pub service_event: ServiceEvent,
    /// `componentOf/encompassingEncounter/location/healthCareFacility/code` (JDV J02, XDS
    /// `healthcareFacilityTypeCode`).
    pub facility_type: Code,
}

/// A document id: an OID root and an optional extension (`root` alone when it is a UUID
/// turned OID, `2.25.…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocumentId {
    pub root: String,
    pub extension: Option<String>,
}

/// The patient: an INS that passed the qualified-INS rule, with the identity it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    pub ins: QualifiedIns,
    pub identity: PatientIdentity,
}

/// The author: a professional (of the actor), or the organisation's device acting for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Author {
    pub professional: Professional,
    /// `assignedAuthor/code`: profession and specialty, JDV J01 (XDS `authorSpecialty`).
    pub specialty: Code,
    pub time: OffsetDateTime,
}

/// `documentationOf/serviceEvent`: the act documented and its practice setting (JDV J04,
/// XDS `practiceSettingCode`).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceEvent {
    pub practice_setting: Code,
    pub start: OffsetDateTime,
    pub end: Option<OffsetDateTime>,
}

/// `confidentialityCode` (JDV J08 with HL7 Confidentiality): N, R, V.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Confidentiality {
    Normal,
    Restricted,
    VeryRestricted,
}

/// The DMP's masking and visibility codes, beside the confidentiality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HiddenFrom {
    /// `MASQUE_PS`: hidden from professionals.
    Professionals,
    /// `INVISIBLE_PATIENT`.
    Patient,
    /// `INVISIBLE_REPRESENTANTS_LEGAUX`.
    LegalRepresentatives,
}
