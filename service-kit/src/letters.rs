//! The document of a request (a DMP deposit, an MSSanté letter): the caller's file taken from
//! the document store (never inside a bus message), made into a CDA R2 by the
//! clinical-documents crate — a level 1 around a PDF or a text, or the structured VSM — with
//! the header the request and the professional give. Shared by every service that sends
//! documents, with the status each problem gets.

use futures::StreamExt;
use passerelle_bus::documents::{DocumentError, SharedDocumentStore};
use passerelle_clinical_documents::cda::level1::{Content, Level1Error};
use passerelle_clinical_documents::codes::{self, Code};
use passerelle_clinical_documents::header::builder::{AuthorInput, HeaderError, HeaderInput};
use passerelle_clinical_documents::header::{
    Confidentiality, DocumentHeader, DocumentId, HiddenFrom,
};
use passerelle_clinical_documents::ids::{DocumentIds, IdError};
use passerelle_clinical_documents::letter;
use passerelle_clinical_documents::vsm::VsmError;
use passerelle_domain::{PatientIdentity, Platform, Professional};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tonic::{Code as StatusCode, Status};

use crate::errors::RichError;
use crate::identity::reasons as identity_reasons;

/// The document named is not in the store.
pub const DOCUMENT_NOT_FOUND: &str = crate::documents::DOCUMENT_NOT_FOUND;
/// The document cannot be made into a CDA (its type, size, header…): the message says why.
pub const INVALID_DOCUMENT: &str = "INVALID_DOCUMENT";
/// The request's idempotency key is not usable.
pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
/// The document store cannot be read.
pub const DOCUMENT_STORE_UNAVAILABLE: &str = crate::documents::DOCUMENT_STORE_UNAVAILABLE;

/// Media types a letter may have.
pub use passerelle_clinical_documents::letter::{PDF, TEXT};

/// `[document]` settings: what the structure's documents share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DocumentSettings {
    /// Practice setting, JDV J04 (e.g. `AMBULATOIRE`).
    pub practice_setting: String,
    /// Healthcare facility type, JDV J02 (e.g. `SA05` centre de santé).
    pub facility_type: String,
    /// Largest document taken from the store, in bytes.
    pub max_size: u64,
}

impl Default for DocumentSettings {
    fn default() -> Self {
        Self {
            practice_setting: "AMBULATOIRE".to_owned(),
            facility_type: "SA05".to_owned(),
            max_size: 64 * 1024 * 1024,
        }
    }
}

/// Why the document of a request cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum DocumentProblem {
    #[error("document {id}: {error}")]
    Store { id: String, error: DocumentError },
    #[error(
        "document {id} is {media_type:?}: a letter is a PDF (application/pdf) or a text (text/plain)"
    )]
    MediaType { id: String, media_type: String },
    #[error("document {id} is {size} bytes: at most {limit} are accepted")]
    TooLarge { id: String, size: u64, limit: u64 },
    #[error("the document's header: {0}")]
    Header(#[from] HeaderError),
    #[error("the letter: {0}")]
    Level1(#[from] Level1Error),
    #[error("the VSM: {0}")]
    Vsm(#[from] VsmError),
    #[error("options.idempotency_key: {0}")]
    Id(#[from] IdError),
    #[error(
        "the professional has no structure: a document needs the structure that keeps it (actor.professional.structure)"
    )]
    NoStructure,
    #[error("document.{field} {value:?} is not a code of {set}")]
    Setting {
        field: &'static str,
        value: String,
        set: &'static str,
    },
}

/// Where a service's request carries the actor and the idempotency key.
#[derive(Debug, Clone, Copy)]
pub struct RequestFields {
    /// e.g. `access.actor`.
    pub actor: &'static str,
    /// e.g. `options.idempotency_key`.
    pub idempotency_key: &'static str,
    /// The stored document's id, e.g. `document_id` or `document.document_id`.
    pub document_id: &'static str,
}

impl DocumentProblem {
    /// The status a client gets: `configuration_reason` is the service's own reason for a
    /// `[document]` setting that is not a code (the operator's to fix); `fields` name the
    /// request's fields as the service's API spells them.
    pub fn status(&self, configuration_reason: &'static str, fields: &RequestFields) -> Status {
        let message = self.to_string();
        let structure = format!("{}.professional.structure", fields.actor);
        let (code, reason, field) = match self {
            Self::Store { error, .. } => match error {
                DocumentError::NotFound { .. } | DocumentError::InvalidId { .. } => {
                    (StatusCode::NotFound, DOCUMENT_NOT_FOUND, fields.document_id)
                }
                _ => (
                    StatusCode::Unavailable,
                    DOCUMENT_STORE_UNAVAILABLE,
                    fields.document_id,
                ),
            },
            Self::MediaType { .. } | Self::TooLarge { .. } => (
                StatusCode::InvalidArgument,
                INVALID_DOCUMENT,
                fields.document_id,
            ),
            Self::Id(_) => (
                StatusCode::InvalidArgument,
                INVALID_REQUEST,
                fields.idempotency_key,
            ),
            Self::NoStructure => (
                StatusCode::InvalidArgument,
                identity_reasons::INVALID_ACTOR,
                structure.as_str(),
            ),
            Self::Setting { .. } => (
                StatusCode::FailedPrecondition,
                configuration_reason,
                "document",
            ),
            Self::Header(_) | Self::Level1(_) | Self::Vsm(_) => {
                (StatusCode::InvalidArgument, INVALID_DOCUMENT, "document")
            }
        };
        RichError::new(code, reason, message.clone())
            .field(field, message)
            .into()
    }
}

/// The content of a stored document, at most `limit` bytes.
pub async fn fetch(
    store: &SharedDocumentStore,
    id: &str,
    limit: u64,
) -> Result<(String, Vec<u8>), DocumentProblem> {
    let store_error = |error| DocumentProblem::Store {
        id: id.to_owned(),
        error,
    };
    let (reference, mut chunks) = store.get(id).await.map_err(store_error)?;
    if reference.size > limit {
        return Err(DocumentProblem::TooLarge {
            id: id.to_owned(),
            size: reference.size,
            limit,
        });
    }
    let mut content = Vec::with_capacity(usize::try_from(reference.size).unwrap_or(0));
    while let Some(chunk) = chunks.next().await {
        content.extend_from_slice(&chunk.map_err(store_error)?);
    }
    Ok((reference.media_type, content))
}

/// What a request says of the document, besides its content.
#[derive(Debug, Clone)]
pub struct DocumentRequest {
    pub ids: DocumentIds,
    /// 1, or the replaced version + 1.
    pub version: u32,
    /// The document this one replaces (its CDA id), if any.
    pub replaces: Option<DocumentId>,
    pub title: String,
    pub type_code: String,
    pub confidentiality: Confidentiality,
    pub hidden_from: Vec<HiddenFrom>,
    pub patient: PatientIdentity,
    pub platform: Platform,
    pub author: Professional,
}

/// The ids of a new document: from the caller's key, or generated.
pub fn ids(key: &str) -> Result<DocumentIds, IdError> {
    if key.trim().is_empty() {
        Ok(DocumentIds::generate())
    } else {
        DocumentIds::from_key(key)
    }
}

/// The ids of a replacement: from the caller's key (generated when empty), in the set of the
/// document replaced.
pub fn replacement_ids(key: &str, set_id: DocumentId) -> Result<DocumentIds, IdError> {
    let key = if key.trim().is_empty() {
        DocumentIds::generate().key
    } else {
        key.to_owned()
    };
    DocumentIds::replacement(&key, set_id)
}

fn setting(
    value: &str,
    field: &'static str,
    set: &'static str,
    lookup: fn(&str) -> Option<&'static Code>,
) -> Result<Code, DocumentProblem> {
    lookup(value)
        .cloned()
        .ok_or_else(|| DocumentProblem::Setting {
            field,
            value: value.to_owned(),
            set,
        })
}

/// The checked CDA header.
pub fn header(
    r: DocumentRequest,
    settings: &DocumentSettings,
    now: OffsetDateTime,
) -> Result<DocumentHeader, DocumentProblem> {
    let custodian = r
        .author
        .structure()
        .cloned()
        .ok_or(DocumentProblem::NoStructure)?;
    let practice_setting = setting(
        &settings.practice_setting,
        "practice_setting",
        "JDV J04",
        codes::practice_setting,
    )?;
    let facility_type = setting(
        &settings.facility_type,
        "facility_type",
        "JDV J02",
        codes::healthcare_facility_type,
    )?;
    Ok(HeaderInput {
        ids: r.ids,
        version: r.version,
        replaces: r.replaces,
        title: r.title,
        type_code: r.type_code,
        effective_time: now,
        confidentiality: r.confidentiality,
        hidden_from: r.hidden_from,
        patient: r.patient,
        platform: r.platform,
        author: AuthorInput::Professional(r.author),
        custodian,
        legal_authenticator: None,
        practice_setting,
        service_start: now,
        service_end: None,
        facility_type,
    }
    .build()?)
}

/// A written CDA and its XDS facts (SHA-1 and size, computed while writing); shared with
/// mss-service in the clinical-documents crate.
pub use passerelle_clinical_documents::letter::Cda;

/// A letter as a CDA level 1.
pub fn letter_cda(
    header: &DocumentHeader,
    media_type: &str,
    content: &[u8],
) -> Result<Cda, DocumentProblem> {
    let kind = if media_type == PDF {
        Content::Pdf
    } else {
        Content::Text
    };
    Ok(letter::level1_cda(header, kind, content)?)
}

/// The VSM as its structured CDA.
pub fn vsm_cda(header: &DocumentHeader, input: &[u8]) -> Result<Cda, DocumentProblem> {
    Ok(letter::vsm_cda(header, input)?)
}

/// Who a document is hidden from, as a request's three flags say it.
pub fn hidden_from(
    professionals: bool,
    patient: bool,
    legal_representatives: bool,
) -> Vec<HiddenFrom> {
    [
        (professionals, HiddenFrom::Professionals),
        (patient, HiddenFrom::Patient),
        (legal_representatives, HiddenFrom::LegalRepresentatives),
    ]
    .into_iter()
    .filter_map(|(hidden, who)| hidden.then_some(who))
    .collect()
}
