//! Registry objects as the registry returns them (ITI-18 `AdhocQueryResponse`), the errors of
//! a `RegistryResponse`, and the ITI-57 update requests built from them (availability status;
//! a new version with other confidentiality codes, as the DMP kit's `template_masquage.xml`).

use passerelle_soap::{Element, XmlWriter};

use super::write::{
    DOC_AUTHOR, DOC_CLASS, DOC_CONFIDENTIALITY, DOC_ENTRY_TYPE, DOC_FORMAT, DOC_PATIENT_ID,
    DOC_TYPE, DOC_UNIQUE_ID, HAS_MEMBER, ORIGINAL, RIM, Rim, SET_ID, association, write_set,
};
use super::{XdsAuthor, XdsError};
use crate::codes::Code;

pub const NS_RIM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0";
pub const NS_RS: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0";
pub const NS_QUERY: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0";
pub const NS_XDS: &str = "urn:ihe:iti:xds-b:2007";
pub const NS_LCM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0";

pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success";
pub const STATUS_FAILURE: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure";
pub const STATUS_PARTIAL: &str = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess";

/// Entry availability statuses (ebRS and the DMP's own).
pub mod status {
    pub const APPROVED: &str = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved";
    pub const DEPRECATED: &str = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated";
    /// The DMP's archived status (CI-SIS).
    pub const ARCHIVED: &str = "urn:asip:ci-sis:2010:StatusType:Archived";
    /// The DMP's deleted status (CI-SIS).
    pub const DELETED: &str = "urn:asip:ci-sis:2010:StatusType:Deleted";
}

/// `urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus`.
pub const UPDATE_AVAILABILITY_STATUS: &str =
    "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus";

/// A slot: name and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub name: String,
    pub values: Vec<String>,
}

/// A classification as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClassification {
    pub scheme: String,
    pub node_representation: String,
    pub slots: Vec<Slot>,
    pub name: Option<String>,
}

impl StoredClassification {
    /// The code it carries: node representation, `codingScheme` slot, name.
    pub fn code(&self) -> Code {
        Code {
            code: self.node_representation.clone(),
            system: slot_first(&self.slots, "codingScheme")
                .unwrap_or_default()
                .to_owned(),
            display: self.name.clone().unwrap_or_default(),
        }
    }
}

/// An external identifier as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredExternalId {
    pub scheme: String,
    pub value: String,
    pub name: Option<String>,
}

/// A DocumentEntry (`ExtrinsicObject`) as the registry returned it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredEntry {
    /// entryUUID.
    pub id: String,
    pub lid: String,
    pub status: String,
    pub mime_type: String,
    pub object_type: String,
    pub slots: Vec<Slot>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// `VersionInfo/@versionName`.
    pub version: Option<String>,
    pub classifications: Vec<StoredClassification>,
    pub external_ids: Vec<StoredExternalId>,
}

fn slot_first<'a>(slots: &'a [Slot], name: &str) -> Option<&'a str> {
    slots
        .iter()
        .find(|s| s.name == name)
        .and_then(|s| s.values.first())
        .map(String::as_str)
}

fn read_slots(e: &Element) -> Vec<Slot> {
    e.children_named(NS_RIM, "Slot")
        .map(|s| Slot {
            name: s.attr("name").unwrap_or_default().to_owned(),
            values: s
                .child(NS_RIM, "ValueList")
                .map(|vl| {
                    vl.children_named(NS_RIM, "Value")
                        .map(|v| v.text().trim().to_owned())
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

fn localized(e: &Element, what: &str) -> Option<String> {
    e.child(NS_RIM, what)
        .and_then(|n| n.child(NS_RIM, "LocalizedString"))
        .and_then(|l| l.attr("value"))
        .map(str::to_owned)
}

impl StoredEntry {
    /// Reads an `rim:ExtrinsicObject`.
    pub fn from_element(e: &Element) -> Result<Self, XdsError> {
        if !e.is(NS_RIM, "ExtrinsicObject") {
            return Err(XdsError::Registry(format!(
                "{} is not an ExtrinsicObject",
                e.name()
            )));
        }
        let id = e
            .attr("id")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| XdsError::Registry("ExtrinsicObject without id".into()))?
            .to_owned();
        Ok(Self {
            lid: e.attr("lid").unwrap_or(&id).to_owned(),
            id,
            status: e.attr("status").unwrap_or_default().to_owned(),
            mime_type: e.attr("mimeType").unwrap_or_default().to_owned(),
            object_type: e.attr("objectType").unwrap_or(DOC_ENTRY_TYPE).to_owned(),
            slots: read_slots(e),
            name: localized(e, "Name"),
            description: localized(e, "Description"),
            version: e
                .child(NS_RIM, "VersionInfo")
                .and_then(|v| v.attr("versionName"))
                .map(str::to_owned),
            classifications: e
                .children_named(NS_RIM, "Classification")
                .map(|c| StoredClassification {
                    scheme: c
                        .attr("classificationScheme")
                        .unwrap_or_default()
                        .to_owned(),
                    node_representation: c
                        .attr("nodeRepresentation")
                        .unwrap_or_default()
                        .to_owned(),
                    slots: read_slots(c),
                    name: localized(c, "Name"),
                })
                .collect(),
            external_ids: e
                .children_named(NS_RIM, "ExternalIdentifier")
                .map(|x| StoredExternalId {
                    scheme: x
                        .attr("identificationScheme")
                        .unwrap_or_default()
                        .to_owned(),
                    value: x.attr("value").unwrap_or_default().to_owned(),
                    name: localized(x, "Name"),
                })
                .collect(),
        })
    }

    /// The first value of slot `name`.
    pub fn slot(&self, name: &str) -> Option<&str> {
        slot_first(&self.slots, name)
    }

    /// Every value of slot `name`.
    pub fn slot_values(&self, name: &str) -> &[String] {
        self.slots
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.values.as_slice())
            .unwrap_or(&[])
    }

    /// The codes of classification scheme `scheme`.
    pub fn codes(&self, scheme: &str) -> Vec<Code> {
        self.classifications
            .iter()
            .filter(|c| c.scheme == scheme)
            .map(StoredClassification::code)
            .collect()
    }

    fn code(&self, scheme: &str) -> Option<Code> {
        self.codes(scheme).into_iter().next()
    }

    pub fn class_code(&self) -> Option<Code> {
        self.code(DOC_CLASS)
    }
    pub fn type_code(&self) -> Option<Code> {
        self.code(DOC_TYPE)
    }
    pub fn format_code(&self) -> Option<Code> {
        self.code(DOC_FORMAT)
    }
    pub fn confidentiality(&self) -> Vec<Code> {
        self.codes(DOC_CONFIDENTIALITY)
    }

    /// The author classification's values.
    pub fn author(&self) -> Option<XdsAuthor> {
        let c = self
            .classifications
            .iter()
            .find(|c| c.scheme == DOC_AUTHOR)?;
        let specialty = slot_first(&c.slots, "authorSpecialty").unwrap_or_default();
        let mut parts = specialty.splitn(3, '^');
        Some(XdsAuthor {
            person: slot_first(&c.slots, "authorPerson")
                .unwrap_or_default()
                .to_owned(),
            institution: slot_first(&c.slots, "authorInstitution").map(str::to_owned),
            specialty: Code {
                code: parts.next().unwrap_or_default().to_owned(),
                display: parts.next().unwrap_or_default().to_owned(),
                system: parts.next().unwrap_or_default().to_owned(),
            },
        })
    }

    fn external(&self, scheme: &str) -> Option<&str> {
        self.external_ids
            .iter()
            .find(|x| x.scheme == scheme)
            .map(|x| x.value.as_str())
    }

    pub fn unique_id(&self) -> Option<&str> {
        self.external(DOC_UNIQUE_ID)
    }
    pub fn patient_id(&self) -> Option<&str> {
        self.external(DOC_PATIENT_ID)
    }

    /// A signature entry (XAdES of a submission set): class or format of the signature.
    pub fn is_signature(&self) -> bool {
        let class = super::set::signature_codes::class_code();
        let format = super::set::signature_codes::format_code();
        self.class_code().is_some_and(|c| c.code == class.code)
            || self.format_code().is_some_and(|c| c.code == format.code)
            || self.type_code().is_some_and(|c| c.code == "E1762")
    }

    /// Writes this entry as a new version (`ExtrinsicObject id=<symbolic> lid=<lid>`, status
    /// Approved) with the confidentiality codes replaced by `confidentiality`; classifications
    /// are classified to the lid, as the DMP kit does.
    fn write_new_version(
        &self,
        rim: &mut Rim,
        symbolic_id: &str,
        confidentiality: &[Code],
    ) -> Result<(), XdsError> {
        rim.w.start(
            RIM,
            "ExtrinsicObject",
            &[
                ("id", symbolic_id),
                ("lid", &self.lid),
                ("mimeType", &self.mime_type),
                ("objectType", &self.object_type),
                ("status", status::APPROVED),
                ("isOpaque", "false"),
            ],
        )?;
        write_slots_and_name(rim, &self.slots, self.name.as_deref())?;
        if let Some(d) = &self.description {
            rim.localized("Description", d)?;
        }
        if let Some(v) = &self.version {
            rim.w.leaf(RIM, "VersionInfo", &[("versionName", v)], "")?;
        }
        let mut confidentiality_written = false;
        for c in &self.classifications {
            if c.scheme == DOC_CONFIDENTIALITY {
                if !confidentiality_written {
                    for code in confidentiality {
                        rim.coded(DOC_CONFIDENTIALITY, &self.lid, code)?;
                    }
                    confidentiality_written = true;
                }
                continue;
            }
            let id = rim.id("cl");
            let attributes = [
                ("id", id.as_str()),
                ("objectType", super::write::CLASSIFICATION),
                ("classificationScheme", &c.scheme),
                ("classifiedObject", &self.lid),
                ("nodeRepresentation", &c.node_representation),
            ];
            rim.w.start(RIM, "Classification", &attributes)?;
            write_slots_and_name(rim, &c.slots, c.name.as_deref())?;
            rim.w.end()?;
        }
        if !confidentiality_written {
            for code in confidentiality {
                rim.coded(DOC_CONFIDENTIALITY, &self.lid, code)?;
            }
        }
        for x in &self.external_ids {
            let id = rim.id("ei");
            let attributes = [
                ("id", id.as_str()),
                ("objectType", super::write::EXTERNAL_IDENTIFIER),
                ("registryObject", &self.lid),
                ("identificationScheme", &x.scheme),
                ("value", &x.value),
            ];
            rim.w.start(RIM, "ExternalIdentifier", &attributes)?;
            write_slots_and_name(rim, &[], x.name.as_deref())?;
            rim.w.end()?;
        }
        rim.w.end()?;
        Ok(())
    }
}

/// An object's slots, then its `Name`, as the registry gave them.
fn write_slots_and_name(rim: &mut Rim, slots: &[Slot], name: Option<&str>) -> Result<(), XdsError> {
    for s in slots {
        let values: Vec<&str> = s.values.iter().map(String::as_str).collect();
        rim.slot(&s.name, &values)?;
    }
    if let Some(n) = name {
        rim.localized("Name", n)?;
    }
    Ok(())
}

/// One `RegistryError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryError {
    pub code: String,
    /// Without its URN prefix: `Error`, `Warning`.
    pub severity: String,
    pub context: String,
    pub location: Option<String>,
}

/// The status and errors of an element holding a `RegistryResponse`'s content
/// (`rs:RegistryResponse`, `query:AdhocQueryResponse`).
pub fn response_status(e: &Element) -> (String, Vec<RegistryError>) {
    let status = e.attr("status").unwrap_or_default().to_owned();
    let errors = e
        .child(NS_RS, "RegistryErrorList")
        .map(|l| {
            l.children_named(NS_RS, "RegistryError")
                .map(|r| RegistryError {
                    code: r.attr("errorCode").unwrap_or_default().to_owned(),
                    severity: r
                        .attr("severity")
                        .map(|s| s.rsplit(':').next().unwrap_or(s).to_owned())
                        .unwrap_or_else(|| "Error".to_owned()),
                    context: r
                        .attr("codeContext")
                        .map(str::to_owned)
                        .unwrap_or_else(|| r.text().trim().to_owned()),
                    location: r.attr("location").map(str::to_owned),
                })
                .collect()
        })
        .unwrap_or_default();
    (status, errors)
}

/// What an ITI-18 query returned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryResult {
    pub status: String,
    pub errors: Vec<RegistryError>,
    pub entries: Vec<StoredEntry>,
    /// `ObjectRef` ids (returnType ObjectRef).
    pub object_refs: Vec<String>,
}

/// Reads a `query:AdhocQueryResponse`.
pub fn parse_query_response(e: &Element) -> Result<QueryResult, XdsError> {
    if !e.is(NS_QUERY, "AdhocQueryResponse") {
        return Err(XdsError::Registry(format!(
            "{} is not an AdhocQueryResponse",
            e.name()
        )));
    }
    let (status, errors) = response_status(e);
    let mut out = QueryResult {
        status,
        errors,
        ..QueryResult::default()
    };
    if let Some(list) = e.child(NS_RIM, "RegistryObjectList") {
        for c in &list.children {
            if c.is(NS_RIM, "ExtrinsicObject") {
                out.entries.push(StoredEntry::from_element(c)?);
            } else if c.is(NS_RIM, "ObjectRef")
                && let Some(id) = c.attr("id")
            {
                out.object_refs.push(id.to_owned());
            }
        }
    }
    Ok(out)
}

/// The submission set of an ITI-57 update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateSet {
    pub unique_id: String,
    pub source_id: String,
    /// `YYYYMMDDhhmmss`, UTC.
    pub submission_time: String,
    pub content_type: Code,
    pub patient_id: String,
    pub title: String,
    pub author: XdsAuthor,
}

impl UpdateSet {
    /// ITI-57 availability status change (archive, unarchive, delete): the set and an
    /// `UpdateAvailabilityStatus` association set→entry with `OriginalStatus`, `NewStatus`.
    pub fn write_status_update(
        &self,
        w: &mut XmlWriter,
        entry_uuid: &str,
        original_status: &str,
        new_status: &str,
    ) -> Result<(), XdsError> {
        let mut rim = Rim::new(w);
        rim.submit_objects(|rim| {
            write_set(rim, &self.header())?;
            association(
                rim,
                UPDATE_AVAILABILITY_STATUS,
                SET_ID,
                entry_uuid,
                &[
                    ("OriginalStatus", &[original_status]),
                    ("NewStatus", &[new_status]),
                ],
            )?;
            Ok(())
        })
    }

    /// ITI-57 metadata update: the set, a `HasMember` association set→`Document01` with
    /// `SubmissionSetStatus=Original` and `PreviousVersion`, and the entry's new version
    /// (same lid) with `confidentiality` as its codes.
    pub fn write_metadata_update(
        &self,
        w: &mut XmlWriter,
        entry: &StoredEntry,
        confidentiality: &[Code],
    ) -> Result<(), XdsError> {
        let previous = entry
            .version
            .clone()
            .ok_or_else(|| XdsError::Registry("the entry has no VersionInfo".into()))?;
        let mut rim = Rim::new(w);
        rim.submit_objects(|rim| {
            write_set(rim, &self.header())?;
            association(
                rim,
                HAS_MEMBER,
                SET_ID,
                "Document01",
                &[ORIGINAL, ("PreviousVersion", &[&previous])],
            )?;
            entry.write_new_version(rim, "Document01", confidentiality)?;
            Ok(())
        })
    }
}
