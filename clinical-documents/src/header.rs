//! What a clinical document says about itself: written once into the CDA header, and read
//! from there into the XDS metadata, so the two cannot disagree.

use passerelle_domain::{PatientIdentity, Professional, QualifiedIns, Structure, StructureId};
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
    /// The document this version replaces (CDA `relatedDocument typeCode="RPLC"`), with
    /// `set_id` kept and `version` = previous + 1.
    pub replaces: Option<DocumentId>,
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
    /// `legalAuthenticator`, with the time of authentication: always a professional (for a
    /// document the organisation authors, the one who takes responsibility for it).
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

/// The author: a professional (of the actor), or the organisation — its software acting for
/// it, the way the CI-SIS header model writes a "système de structure" author.
#[derive(Debug, Clone, PartialEq)]
pub enum Author {
    Professional(ProfessionalAuthor),
    Organisation(OrganisationAuthor),
}

/// A professional author: `assignedAuthor` with `assignedPerson`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfessionalAuthor {
    pub professional: Professional,
    /// `assignedAuthor/code`: profession and specialty, JDV J01 (XDS `authorSpecialty`).
    pub specialty: Code,
    pub time: OffsetDateTime,
}

/// The organisation as author: `assignedAuthor` with `assignedAuthoringDevice` (its
/// software) and `representedOrganization` (the structure).
#[derive(Debug, Clone, PartialEq)]
pub struct OrganisationAuthor {
    pub structure: Structure,
    pub device: AuthoringDevice,
    /// `assignedAuthor/code`: the kind of non-professional producer, a JDV J01 entry of
    /// TRE_A00 (`1.2.250.1.213.1.1.4.6`, e.g. `DISPOSITIF`; XDS `authorSpecialty`).
    pub role: Code,
    pub time: OffsetDateTime,
}

/// The software that wrote the document for the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthoringDevice {
    /// The structure's own id of this system (no `/`, no space).
    pub id: String,
    /// `manufacturerModelName`.
    pub software_name: String,
    /// With the name, `softwareName` (`<name> <version>`).
    pub software_version: String,
}

impl AuthoringDevice {
    /// `assignedAuthor/id/@extension` (root IDNPS) and the XDS `authorPerson` id of a
    /// structure's system: the structure's national id (`1`+FINESS, `3`+SIRET), `/`, the
    /// device's own id — the form of the national ids of a structure's own staff.
    pub fn national_id(&self, structure: &Structure) -> String {
        format!("{}/{}", structure_national_id(structure), self.id)
    }
}

/// The national id of a structure, as the IDNST assigning authority writes it: `1` + FINESS,
/// `3` + SIRET.
pub fn structure_national_id(s: &Structure) -> String {
    match &s.id {
        StructureId::Finess(f) => format!("1{}", f.as_str()),
        StructureId::Siret(s) => format!("3{}", s.as_str()),
    }
}

impl Author {
    /// `author/time`.
    pub fn time(&self) -> OffsetDateTime {
        match self {
            Self::Professional(a) => a.time,
            Self::Organisation(a) => a.time,
        }
    }

    /// `assignedAuthor/code`, JDV J01 (XDS `authorSpecialty`).
    pub fn code(&self) -> &Code {
        match self {
            Self::Professional(a) => &a.specialty,
            Self::Organisation(a) => &a.role,
        }
    }

    /// The professional, when the author is one.
    pub fn professional(&self) -> Option<&Professional> {
        match self {
            Self::Professional(a) => Some(&a.professional),
            Self::Organisation(_) => None,
        }
    }
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
