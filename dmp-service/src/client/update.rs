//! TD3.3: ITI-57 UpdateDocumentSet — availability status (archive, unarchive, delete) and a
//! new version of the metadata with other confidentiality codes (mask, unmask, reveal).

use passerelle_clinical_documents::codes::Code;
use passerelle_clinical_documents::xds::registry::{self, UpdateSet};
use passerelle_clinical_documents::xds::xds_time;
use passerelle_soap::Element;
use time::OffsetDateTime;

use super::error::{DmpError, RegistryErrorItem};
use super::query::{EntryStatus, RegistryEntry};
use super::{Call, CallContext, DmpClient, Service};

pub const ACTION: &str = "urn:ihe:iti:2010:UpdateDocumentSet";
pub const RESPONSE_ACTION: &str = "urn:ihe:iti:2010:UpdateDocumentSet-Response";
const CALL: Call<'static> = Call::new(Service::Registry, ACTION, RESPONSE_ACTION);

/// The update set's `contentTypeCode` (JDV_J59), as in the official TD3.3 examples: the DMP
/// gives it no meaning for an update (*assumed*).
pub fn update_content_type() -> Code {
    Code::new("04", "1.2.250.1.213.2.2", "Hospitalisation de jour")
}

/// A new OID under `2.25` (a UUID).
pub fn new_uuid_oid() -> String {
    format!("2.25.{}", uuid::Uuid::new_v4().as_u128())
}

/// The update's submission set: the entry's patient and author (the registry's copy; the DMP
/// knows the actor from the VIHF), a new unique id, now.
pub fn update_set(
    entry: &RegistryEntry,
    source_id: &str,
    now: OffsetDateTime,
) -> Result<UpdateSet, DmpError> {
    let author = entry
        .stored
        .author()
        .ok_or_else(|| DmpError::request("the registry entry has no author to copy"))?;
    Ok(UpdateSet {
        unique_id: new_uuid_oid(),
        source_id: source_id.to_owned(),
        submission_time: xds_time(now),
        content_type: update_content_type(),
        patient_id: entry.patient_id.clone(),
        title: entry.title.clone(),
        author,
    })
}

/// Reads an ITI-57 (or ITI-41) `RegistryResponse`: its warnings on Success.
pub fn parse_registry_response(payload: &Element) -> Result<Vec<RegistryErrorItem>, DmpError> {
    if !payload.is(registry::NS_RS, "RegistryResponse") {
        return Err(DmpError::not_xds(format!(
            "{} is not a RegistryResponse",
            payload.name()
        )));
    }
    super::query::check_registry_status(payload)
}

/// Which status changes the DMP offers: archive (Approved→Archived), unarchive
/// (Archived→Approved), delete (Approved or Archived→Deleted).
fn allowed(from: EntryStatus, to: EntryStatus) -> bool {
    use EntryStatus::*;
    matches!(
        (from, to),
        (Approved, Archived) | (Archived, Approved) | (Approved | Archived, Deleted)
    )
}

impl DmpClient {
    async fn update(
        &self,
        ctx: &CallContext,
        body: impl FnOnce(&mut passerelle_soap::XmlWriter) -> Result<(), DmpError>,
    ) -> Result<(), DmpError> {
        let response = self.call(ctx, CALL, body, &[]).await?;
        parse_registry_response(response.payload()?).map(drop)
    }

    /// Archive, unarchive or delete an entry (UpdateAvailabilityStatus).
    pub async fn update_status(
        &self,
        ctx: &CallContext,
        entry: &RegistryEntry,
        new: EntryStatus,
    ) -> Result<(), DmpError> {
        if !allowed(entry.status, new) {
            return Err(DmpError::request(format!(
                "the DMP offers no change from {:?} to {new:?}",
                entry.status
            )));
        }
        let set = update_set(entry, &self.config.source_id, OffsetDateTime::now_utc())?;
        self.update(ctx, |w| {
            Ok(set.write_status_update(w, &entry.entry_uuid, entry.status.urn(), new.urn())?)
        })
        .await
    }

    /// A new version of the entry's metadata with `codes` as its confidentiality codes
    /// (e.g. `N` + `MASQUE_PS` to mask it to professionals).
    pub async fn update_confidentiality(
        &self,
        ctx: &CallContext,
        entry: &RegistryEntry,
        codes: &[Code],
    ) -> Result<(), DmpError> {
        if codes.is_empty() {
            return Err(DmpError::request("at least one confidentiality code"));
        }
        let set = update_set(entry, &self.config.source_id, OffsetDateTime::now_utc())?;
        self.update(ctx, |w| {
            Ok(set.write_metadata_update(w, &entry.stored, codes)?)
        })
        .await
    }
}

/// A visibility change the DMP offers after deposit (TD3.3a/b). Invisibility is chosen at
/// deposit and afterwards only lifted; no change hides a visible document again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisibilityChange {
    /// Add `MASQUE_PS`.
    MaskToProfessionals,
    /// Remove `MASQUE_PS`.
    UnmaskToProfessionals,
    /// Remove `INVISIBLE_PATIENT`.
    RevealToPatient,
    /// Remove `INVISIBLE_REPRESENTANTS_LEGAUX` (irreversible).
    RevealToLegalRepresentatives,
}

impl RegistryEntry {
    /// The confidentiality codes after `change`; an error when it changes nothing.
    pub fn confidentiality_after(&self, change: VisibilityChange) -> Result<Vec<Code>, DmpError> {
        use VisibilityChange::*;
        let (code, add) = match change {
            MaskToProfessionals => ("MASQUE_PS", true),
            UnmaskToProfessionals => ("MASQUE_PS", false),
            RevealToPatient => ("INVISIBLE_PATIENT", false),
            RevealToLegalRepresentatives => ("INVISIBLE_REPRESENTANTS_LEGAUX", false),
        };
        let has = self.has_code(code);
        if has == add {
            return Err(DmpError::request(format!(
                "the document {} {code} already",
                if add { "has" } else { "has no" }
            )));
        }
        let mut codes: Vec<Code> = self
            .confidentiality
            .iter()
            .filter(|c| c.code != code)
            .cloned()
            .collect();
        if add {
            let c = passerelle_clinical_documents::codes::confidentiality(code)
                .ok_or_else(|| DmpError::request(format!("{code} is not a known code")))?;
            codes.push(c.clone());
        }
        Ok(codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_clinical_documents::codes;
    use passerelle_clinical_documents::xds::registry::StoredEntry;

    fn entry(codes: &[&str]) -> RegistryEntry {
        RegistryEntry {
            entry_uuid: "urn:uuid:1".into(),
            lid: "urn:uuid:1".into(),
            unique_id: "1.2".into(),
            repository_id: "1.2.3".into(),
            patient_id: "x".into(),
            title: "t".into(),
            type_code: Code::new("11490-0", "2.16.840.1.113883.6.1", ""),
            class_code: Code::new("10", "1.2.250.1.213.1.1.4.1", ""),
            format_code: Code::new("urn:ihe:iti:xds-sd:pdf:2008", "1.3.6.1.4.1.19376.1.2.3", ""),
            status: EntryStatus::Approved,
            confidentiality: codes
                .iter()
                .map(|c| codes::confidentiality(c).unwrap().clone())
                .collect(),
            creation_time: None,
            author_person: None,
            mime_type: "text/xml".into(),
            size: None,
            hash: None,
            version: Some("1".into()),
            is_signature: false,
            stored: StoredEntry::default(),
        }
    }

    fn names(c: &[Code]) -> Vec<&str> {
        c.iter().map(|c| c.code.as_str()).collect()
    }

    #[test]
    fn visibility_changes_keep_the_other_codes() {
        let e = entry(&["N", "INVISIBLE_PATIENT"]);
        let masked = e
            .confidentiality_after(VisibilityChange::MaskToProfessionals)
            .unwrap();
        assert_eq!(names(&masked), ["N", "INVISIBLE_PATIENT", "MASQUE_PS"]);
        let revealed = e
            .confidentiality_after(VisibilityChange::RevealToPatient)
            .unwrap();
        assert_eq!(names(&revealed), ["N"]);
        assert!(
            e.confidentiality_after(VisibilityChange::UnmaskToProfessionals)
                .is_err()
        );
        assert!(
            e.confidentiality_after(VisibilityChange::RevealToLegalRepresentatives)
                .is_err()
        );
    }

    #[test]
    fn only_the_offered_status_changes() {
        use EntryStatus::*;
        assert!(allowed(Approved, Archived));
        assert!(allowed(Archived, Approved));
        assert!(allowed(Archived, Deleted));
        assert!(!allowed(Deleted, Approved));
        assert!(!allowed(Deprecated, Archived));
    }
}
