//! Between the DMP's answers (registry entries, statuses) and the API's messages, and the
//! rules of masking and visibility: which codes a change leaves on a document.

use passerelle_clinical_documents::codes::Code;
use passerelle_clinical_documents::header::DocumentId;
use passerelle_proto::dmp::v1 as api;
use passerelle_service_kit::RequestId;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::client::update::VisibilityChange;
use crate::client::{
    AccessiblePatient, Authorization, DmpState, EntryStatus, FindDocuments, PatientStatus,
    RegistryEntry,
};
use crate::errors::DmpServiceError;

/// The DMP's masking and visibility codes (beside the confidentiality N/R/V).
pub const MASKED: &str = "MASQUE_PS";
pub const INVISIBLE_PATIENT: &str = "INVISIBLE_PATIENT";
pub const INVISIBLE_LEGAL_REPRESENTATIVES: &str = "INVISIBLE_REPRESENTANTS_LEGAUX";

pub fn status_response(s: &PatientStatus, id: &RequestId) -> api::GetStatusResponse {
    let state = match s.state {
        DmpState::Open => api::DmpState::Open,
        DmpState::Closed => api::DmpState::Closed,
        DmpState::NotCreated => api::DmpState::NotCreated,
        DmpState::Other(_) => api::DmpState::Unspecified,
    };
    let (authorization, code) = match &s.authorization {
        Authorization::Valide => (api::Authorization::Valid, "VALIDE".to_owned()),
        Authorization::Interdit => (api::Authorization::Forbidden, "INTERDIT".to_owned()),
        Authorization::Expired => (api::Authorization::None, "EXPIREE".to_owned()),
        Authorization::Absent => (api::Authorization::None, String::new()),
        Authorization::Other(code) => (api::Authorization::None, code.clone()),
    };
    api::GetStatusResponse {
        state: state as i32,
        authorization: authorization as i32,
        authorization_code: code,
        attending_physician: s.attending_physician,
        request_id: id.to_string(),
    }
}

pub fn accessible_patient(p: &AccessiblePatient) -> api::AccessiblePatient {
    api::AccessiblePatient {
        ins: p.ins().map(|i| i.id.clone()).unwrap_or_default(),
        ins_oid: p.ins().map(|i| i.oid.clone()).unwrap_or_default(),
        family_name: p.last_name.clone(),
        given_name: p.first_name.clone(),
        birth_date: p.birth_date.clone(),
        attending_physician: p.attending_physician,
        last_access: p.last_access.clone().unwrap_or_default(),
        last_update: p.last_update.clone().unwrap_or_default(),
    }
}

/// A `YYYY-MM-DD` date of a request, or none when empty.
pub fn parse_date(
    field: &'static str,
    value: &str,
) -> Result<Option<OffsetDateTime>, DmpServiceError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    time::Date::parse(value, format_description!("[year]-[month]-[day]"))
        .map(|d| Some(d.midnight().assume_utc()))
        .map_err(|_| DmpServiceError::InvalidRequest {
            field,
            message: format!("{value:?} is not a date: give YYYY-MM-DD"),
        })
}

pub fn status_from_api(s: i32) -> Option<EntryStatus> {
    match api::DocumentStatus::try_from(s) {
        Ok(api::DocumentStatus::Approved) => Some(EntryStatus::Approved),
        Ok(api::DocumentStatus::Archived) => Some(EntryStatus::Archived),
        Ok(api::DocumentStatus::Deprecated) => Some(EntryStatus::Deprecated),
        Ok(api::DocumentStatus::Deleted) => Some(EntryStatus::Deleted),
        _ => None,
    }
}

pub fn status_to_api(s: &EntryStatus) -> api::DocumentStatus {
    match s {
        EntryStatus::Approved => api::DocumentStatus::Approved,
        EntryStatus::Archived => api::DocumentStatus::Archived,
        EntryStatus::Deprecated => api::DocumentStatus::Deprecated,
        EntryStatus::Deleted => api::DocumentStatus::Deleted,
    }
}

/// The ITI-18 query of a list request: approved only unless other statuses are asked.
pub fn find_documents(req: &api::ListDocumentsRequest) -> Result<FindDocuments, DmpServiceError> {
    let mut statuses = Vec::new();
    for s in &req.statuses {
        statuses.push(
            status_from_api(*s).ok_or_else(|| DmpServiceError::InvalidRequest {
                field: "statuses",
                message: format!("{s} is not a document status"),
            })?,
        );
    }
    if statuses.is_empty() {
        statuses.push(EntryStatus::Approved);
    }
    let end_of = |d: Option<OffsetDateTime>| d.map(|d| d + time::Duration::days(1));
    Ok(FindDocuments {
        statuses,
        created_from: parse_date("created_from", &req.created_from)?,
        created_to: end_of(parse_date("created_to", &req.created_to)?),
        type_codes: req
            .type_codes
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(|t| {
                passerelle_clinical_documents::codes::type_code(t)
                    .cloned()
                    .ok_or_else(|| DmpServiceError::InvalidRequest {
                        field: "type_codes",
                        message: format!("{t:?} is not a document type of JDV J07 (e.g. 11490-0)"),
                    })
            })
            .collect::<Result<_, _>>()?,
    })
}

fn has(entry: &RegistryEntry, code: &str) -> bool {
    entry.has_code(code)
}

pub fn visibility(entry: &RegistryEntry) -> api::Visibility {
    api::Visibility {
        professionals: !has(entry, MASKED),
        patient: !has(entry, INVISIBLE_PATIENT),
        // The legal representatives act for the patient: what the patient may not see,
        // they may not either.
        legal_representatives: !has(entry, INVISIBLE_LEGAL_REPRESENTATIVES)
            && !has(entry, INVISIBLE_PATIENT),
    }
}

pub fn document_entry(e: &RegistryEntry) -> api::DocumentEntry {
    let level = e
        .confidentiality
        .iter()
        .find(|c| matches!(c.code.as_str(), "N" | "R" | "V"))
        .map(|c| c.code.clone())
        .unwrap_or_else(|| "N".to_owned());
    api::DocumentEntry {
        unique_id: e.unique_id.clone(),
        title: e.title.clone(),
        type_code: e.type_code.code.clone(),
        type_label: e.type_code.display.clone(),
        status: status_to_api(&e.status) as i32,
        confidentiality: level,
        visibility: Some(visibility(e)),
        created: e.creation_time.clone().unwrap_or_default(),
        mime_type: e.mime_type.clone(),
        size: e.size.unwrap_or_default(),
        author: e.author_person.clone().unwrap_or_default(),
        repository_id: e.repository_id.clone(),
    }
}

/// What the professional must be told when opening the document.
pub fn warnings(e: &api::DocumentEntry) -> Vec<String> {
    let v = e.visibility.unwrap_or_default();
    let mut w = Vec::new();
    if !v.patient {
        w.push("this document is not visible to the patient: do not discuss it with them before it is made visible".to_owned());
    }
    if !v.legal_representatives {
        w.push("this document is not visible to the patient's legal representatives".to_owned());
    }
    w
}

/// The client's visibility change of an API one.
pub fn visibility_change(change: api::VisibilityChange) -> Option<VisibilityChange> {
    match change {
        api::VisibilityChange::MaskFromProfessionals => Some(VisibilityChange::MaskToProfessionals),
        api::VisibilityChange::UnmaskToProfessionals => {
            Some(VisibilityChange::UnmaskToProfessionals)
        }
        api::VisibilityChange::RevealToPatient => Some(VisibilityChange::RevealToPatient),
        api::VisibilityChange::RevealToLegalRepresentatives => {
            Some(VisibilityChange::RevealToLegalRepresentatives)
        }
        api::VisibilityChange::Unspecified => None,
    }
}

/// Whether `change` would leave the entry as it is.
pub fn changes_nothing(entry: &RegistryEntry, change: VisibilityChange) -> bool {
    let (code, add) = match change {
        VisibilityChange::MaskToProfessionals => (MASKED, true),
        VisibilityChange::UnmaskToProfessionals => (MASKED, false),
        VisibilityChange::RevealToPatient => (INVISIBLE_PATIENT, false),
        VisibilityChange::RevealToLegalRepresentatives => (INVISIBLE_LEGAL_REPRESENTATIVES, false),
    };
    entry.has_code(code) == add
}

pub fn visibility_after(entry: &RegistryEntry, change: api::VisibilityChange) -> api::Visibility {
    let mut v = visibility(entry);
    match change {
        api::VisibilityChange::MaskFromProfessionals => v.professionals = false,
        api::VisibilityChange::UnmaskToProfessionals => v.professionals = true,
        api::VisibilityChange::RevealToPatient => {
            v.patient = true;
            v.legal_representatives = !has(entry, INVISIBLE_LEGAL_REPRESENTATIVES);
        }
        api::VisibilityChange::RevealToLegalRepresentatives => {
            v.legal_representatives = v.patient;
        }
        api::VisibilityChange::Unspecified => {}
    }
    v
}

/// The submission set's content type (J59): `04` "Hospitalisation de jour"… the DMP's
/// examples use it for a professional's deposit.
pub fn content_type() -> Code {
    Code::new("04", "1.2.250.1.213.2.2", "Hospitalisation de jour")
}

/// A uniqueId (`root` or `root^extension`) as a CDA id.
pub fn document_id(unique_id: &str) -> DocumentId {
    match unique_id.split_once('^') {
        Some((root, ext)) => DocumentId {
            root: root.to_owned(),
            extension: Some(ext.to_owned()),
        },
        None => DocumentId {
            root: unique_id.to_owned(),
            extension: None,
        },
    }
}
