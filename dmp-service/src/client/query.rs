//! TD3.1: ITI-18 registry stored queries, FindDocuments and GetDocuments, read into
//! [`RegistryEntry`]s.

use passerelle_clinical_documents::codes::Code;
use passerelle_clinical_documents::xds::query::{FindDocumentsQuery, write_get_documents};
use passerelle_clinical_documents::xds::registry::{
    self, QueryResult, STATUS_FAILURE, STATUS_SUCCESS, StoredEntry, status,
};
use passerelle_clinical_documents::xds::xds_time;
use passerelle_soap::Element;
use time::OffsetDateTime;

use super::error::{DmpError, RegistryErrorItem};
use super::{Call, CallContext, DmpClient, Service};

pub const ACTION: &str = "urn:ihe:iti:2007:RegistryStoredQuery";
pub const RESPONSE_ACTION: &str = "urn:ihe:iti:2007:RegistryStoredQueryResponse";
const CALL: Call<'static> = Call::new(Service::Registry, ACTION, RESPONSE_ACTION);

/// An entry's availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryStatus {
    Approved,
    /// `urn:asip:ci-sis:2010:StatusType:Archived`.
    Archived,
    /// Replaced (RPLC).
    Deprecated,
    /// `urn:asip:ci-sis:2010:StatusType:Deleted`.
    Deleted,
}

impl EntryStatus {
    pub fn urn(self) -> &'static str {
        match self {
            Self::Approved => status::APPROVED,
            Self::Archived => status::ARCHIVED,
            Self::Deprecated => status::DEPRECATED,
            Self::Deleted => status::DELETED,
        }
    }

    /// From the status URN (ebRS or CI-SIS; the local name is enough).
    pub fn from_urn(urn: &str) -> Option<Self> {
        Some(match urn.rsplit(':').next()? {
            "Approved" => Self::Approved,
            "Archived" => Self::Archived,
            "Deprecated" => Self::Deprecated,
            "Deleted" => Self::Deleted,
            _ => return None,
        })
    }
}

/// A DocumentEntry as the registry returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEntry {
    pub entry_uuid: String,
    pub lid: String,
    pub unique_id: String,
    pub repository_id: String,
    pub patient_id: String,
    pub title: String,
    pub type_code: Code,
    pub class_code: Code,
    pub format_code: Code,
    pub status: EntryStatus,
    pub confidentiality: Vec<Code>,
    /// `YYYYMMDDhhmmss`.
    pub creation_time: Option<String>,
    pub author_person: Option<String>,
    pub mime_type: String,
    pub size: Option<u64>,
    pub hash: Option<String>,
    /// `VersionInfo/@versionName`.
    pub version: Option<String>,
    /// The XAdES signature entry of a submission set.
    pub is_signature: bool,
    /// Everything the registry returned, for ITI-57 updates.
    pub stored: StoredEntry,
}

impl RegistryEntry {
    /// Reads a stored entry; missing identifiers or codes make the answer not XDS.
    pub fn from_stored(e: StoredEntry) -> Result<Self, DmpError> {
        let missing =
            |what: &str| DmpError::not_xds(format!("registry entry {} without {what}", e.id));
        let status = EntryStatus::from_urn(&e.status)
            .ok_or_else(|| DmpError::not_xds(format!("unknown entry status {:?}", e.status)))?;
        Ok(Self {
            entry_uuid: e.id.clone(),
            lid: e.lid.clone(),
            unique_id: e.unique_id().ok_or_else(|| missing("uniqueId"))?.to_owned(),
            repository_id: e.slot("repositoryUniqueId").unwrap_or_default().to_owned(),
            patient_id: e
                .patient_id()
                .ok_or_else(|| missing("patientId"))?
                .to_owned(),
            title: e.name.clone().unwrap_or_default(),
            type_code: e.type_code().ok_or_else(|| missing("typeCode"))?,
            class_code: e.class_code().ok_or_else(|| missing("classCode"))?,
            format_code: e.format_code().ok_or_else(|| missing("formatCode"))?,
            status,
            confidentiality: e.confidentiality(),
            creation_time: e.slot("creationTime").map(str::to_owned),
            author_person: e.author().map(|a| a.person).filter(|p| !p.is_empty()),
            mime_type: e.mime_type.clone(),
            size: e.slot("size").and_then(|s| s.parse().ok()),
            hash: e.slot("hash").map(str::to_owned),
            version: e.version.clone(),
            is_signature: e.is_signature(),
            stored: e,
        })
    }

    /// Has this confidentiality code (`MASQUE_PS`, `INVISIBLE_PATIENT`…).
    pub fn has_code(&self, code: &str) -> bool {
        self.confidentiality.iter().any(|c| c.code == code)
    }
}

/// A FindDocuments query for the patient of the VIHF claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindDocuments {
    /// Empty means Approved only (the DMP's default search).
    pub statuses: Vec<EntryStatus>,
    pub created_from: Option<OffsetDateTime>,
    pub created_to: Option<OffsetDateTime>,
    pub type_codes: Vec<Code>,
}

impl Default for FindDocuments {
    fn default() -> Self {
        Self {
            statuses: vec![EntryStatus::Approved],
            created_from: None,
            created_to: None,
            type_codes: Vec::new(),
        }
    }
}

impl FindDocuments {
    pub fn to_query(&self, patient_id: &str) -> FindDocumentsQuery {
        let statuses = if self.statuses.is_empty() {
            vec![EntryStatus::Approved]
        } else {
            self.statuses.clone()
        };
        FindDocumentsQuery {
            patient_id: patient_id.to_owned(),
            statuses: statuses.iter().map(|s| s.urn().to_owned()).collect(),
            creation_time_from: self.created_from.map(xds_time),
            creation_time_to: self.created_to.map(xds_time),
            type_codes: self.type_codes.clone(),
            class_codes: Vec::new(),
        }
    }
}

/// The registry errors of a response element as [`DmpError::Registry`] when its status is
/// Failure (or PartialSuccess with errors); on Success, its warnings.
pub(crate) fn check_registry_status(e: &Element) -> Result<Vec<RegistryErrorItem>, DmpError> {
    let (status, errors) = registry::response_status(e);
    let errors: Vec<RegistryErrorItem> = errors
        .into_iter()
        .map(|r| RegistryErrorItem {
            code: r.code,
            severity: r.severity,
            context: r.context,
            location: r.location,
        })
        .collect();
    if status == STATUS_SUCCESS {
        return Ok(errors);
    }
    if status == STATUS_FAILURE || status.ends_with(":Failure") {
        return Err(DmpError::Registry { errors });
    }
    if status.ends_with(":PartialSuccess") {
        if errors.iter().any(|e| e.severity == "Error") {
            return Err(DmpError::Registry { errors });
        }
        return Ok(errors);
    }
    Err(DmpError::not_xds(format!(
        "unknown registry response status {status:?}"
    )))
}

/// Reads an `AdhocQueryResponse` into entries.
pub fn parse_response(payload: &Element) -> Result<Vec<RegistryEntry>, DmpError> {
    if !payload.is(registry::NS_QUERY, "AdhocQueryResponse") {
        return Err(DmpError::not_xds(format!(
            "{} is not an AdhocQueryResponse",
            payload.name()
        )));
    }
    check_registry_status(payload)?;
    let QueryResult { entries, .. } =
        registry::parse_query_response(payload).map_err(|e| DmpError::not_xds(e.to_string()))?;
    entries
        .into_iter()
        .map(RegistryEntry::from_stored)
        .collect()
}

/// `INS^^^&OID&ISO^NH`.
pub fn patient_cx(ins: &str, oid: &str) -> String {
    format!("{ins}^^^&{oid}&ISO^NH")
}

impl DmpClient {
    /// ITI-18 FindDocuments for the patient of the VIHF claims.
    pub async fn find_documents(
        &self,
        ctx: &CallContext,
        query: &FindDocuments,
    ) -> Result<Vec<RegistryEntry>, DmpError> {
        let patient = ctx
            .claims
            .patient
            .as_ref()
            .ok_or_else(|| DmpError::request("ITI-18 needs the patient in the VIHF claims"))?;
        let q = query.to_query(&patient_cx(&patient.ins, &patient.oid));
        let response = self.call(ctx, CALL, |w| Ok(q.write(w)?), &[]).await?;
        parse_response(response.payload()?)
    }

    /// ITI-18 GetDocuments by uniqueId: the entry, or None when the registry has none (or
    /// does not show it to this professional).
    pub async fn document_by_unique_id(
        &self,
        ctx: &CallContext,
        unique_id: &str,
    ) -> Result<Option<RegistryEntry>, DmpError> {
        let ids = [unique_id.to_owned()];
        let response = self
            .call(ctx, CALL, |w| Ok(write_get_documents(w, &ids)?), &[])
            .await?;
        let entries = parse_response(response.payload()?)?;
        // Several versions may share the uniqueId (metadata updates): the Approved one first.
        Ok(entries
            .iter()
            .find(|e| e.status == EntryStatus::Approved)
            .or_else(|| entries.first())
            .cloned())
    }
}
