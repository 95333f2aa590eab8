//! ITI-18 registry stored queries: FindDocuments (patient, statuses, creation time range,
//! type codes) and GetDocuments by uniqueId, as `query:AdhocQueryRequest`.

use passerelle_soap::{Ns, XmlWriter};

use super::XdsError;
use super::write::RIM;
use crate::codes::Code;

const QUERY: Ns = Ns::new("query", "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0");

/// FindDocuments stored query id.
pub const FIND_DOCUMENTS: &str = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d";
/// GetDocuments stored query id.
pub const GET_DOCUMENTS: &str = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4";

/// A FindDocuments query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindDocumentsQuery {
    /// `INS^^^&OID&ISO^NH`.
    pub patient_id: String,
    /// Availability statuses (full URNs); at least one.
    pub statuses: Vec<String>,
    /// `YYYYMMDDhhmmss` bounds on creationTime.
    pub creation_time_from: Option<String>,
    pub creation_time_to: Option<String>,
    pub type_codes: Vec<Code>,
    pub class_codes: Vec<Code>,
}

/// `'a'` with single quotes doubled (SQL-like literal of ebRS stored query values).
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn list(values: &[String]) -> String {
    format!(
        "({})",
        values
            .iter()
            .map(|v| quoted(v))
            .collect::<Vec<_>>()
            .join(",")
    )
}

fn write_query(
    w: &mut XmlWriter,
    id: &str,
    return_type: &str,
    slots: &[(&str, String)],
) -> Result<(), XdsError> {
    w.declare(&[RIM]);
    w.start(QUERY, "AdhocQueryRequest", &[])?;
    w.leaf(
        QUERY,
        "ResponseOption",
        &[
            ("returnComposedObjects", "true"),
            ("returnType", return_type),
        ],
        "",
    )?;
    w.start(RIM, "AdhocQuery", &[("id", id)])?;
    for (name, value) in slots {
        w.start(RIM, "Slot", &[("name", name)])?;
        w.start(RIM, "ValueList", &[])?;
        w.leaf(RIM, "Value", &[], value)?;
        w.end()?;
        w.end()?;
    }
    w.end()?;
    w.end()?;
    Ok(())
}

fn coded_list(codes: &[Code]) -> String {
    list(
        &codes
            .iter()
            .map(|c| format!("{}^^{}", c.code, c.system))
            .collect::<Vec<_>>(),
    )
}

impl FindDocumentsQuery {
    /// Writes the `AdhocQueryRequest` (returnType LeafClass) into `w`.
    pub fn write(&self, w: &mut XmlWriter) -> Result<(), XdsError> {
        if self.statuses.is_empty() {
            return Err(XdsError::Registry(
                "FindDocuments needs at least one status".into(),
            ));
        }
        let mut slots = vec![
            ("$XDSDocumentEntryPatientId", quoted(&self.patient_id)),
            ("$XDSDocumentEntryStatus", list(&self.statuses)),
        ];
        if let Some(from) = &self.creation_time_from {
            slots.push(("$XDSDocumentEntryCreationTimeFrom", from.clone()));
        }
        if let Some(to) = &self.creation_time_to {
            slots.push(("$XDSDocumentEntryCreationTimeTo", to.clone()));
        }
        if !self.class_codes.is_empty() {
            slots.push(("$XDSDocumentEntryClassCode", coded_list(&self.class_codes)));
        }
        if !self.type_codes.is_empty() {
            slots.push(("$XDSDocumentEntryTypeCode", coded_list(&self.type_codes)));
        }
        write_query(w, FIND_DOCUMENTS, "LeafClass", &slots)
    }

    pub fn request(&self) -> Result<Vec<u8>, XdsError> {
        let mut w = XmlWriter::new()?;
        self.write(&mut w)?;
        Ok(w.finish()?)
    }
}

/// GetDocuments by uniqueId(s), returnType LeafClass.
pub fn write_get_documents(w: &mut XmlWriter, unique_ids: &[String]) -> Result<(), XdsError> {
    if unique_ids.is_empty() {
        return Err(XdsError::Registry(
            "GetDocuments needs at least one uniqueId".into(),
        ));
    }
    write_query(
        w,
        GET_DOCUMENTS,
        "LeafClass",
        &[("$XDSDocumentEntryUniqueId", list(unique_ids))],
    )
}

/// The GetDocuments request as a document of its own.
pub fn get_documents_request(unique_ids: &[String]) -> Result<Vec<u8>, XdsError> {
    let mut w = XmlWriter::new()?;
    write_get_documents(&mut w, unique_ids)?;
    Ok(w.finish()?)
}
