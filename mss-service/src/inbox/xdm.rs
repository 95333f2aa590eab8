//! The reading of a received `IHE_XDM.zip`: the zip opened with guards (entry names, count,
//! total uncompressed size and compression ratio — a zip bomb is refused before it is
//! inflated, and inflating stops at the declared size), each subset's `METADATA.XML` (ebRIM
//! 3.0, namespace-aware, no DTD) read into document entries, and every document checked
//! against its entry's `size` and SHA-1 `hash`.

use std::io::{Cursor, Read};

use bytes::Bytes;
use passerelle_clinical_documents::codes::Code;
use passerelle_soap::{Element, Limits as XmlLimits};
use sha1::{Digest, Sha1};

const RIM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0";
const LCM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0";
const RS21: &str = "urn:oasis:names:tc:ebxml-regrep:registry:xsd:2.1";

// IHE ITI TF-3 §4.2.5.
const DOC_CLASS: &str = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a";
const DOC_CONFIDENTIALITY: &str = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f";
const DOC_FORMAT: &str = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d";
const DOC_TYPE: &str = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983";
const DOC_PATIENT_ID: &str = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427";
const DOC_UNIQUE_ID: &str = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab";
const SET_CONTENT_TYPE: &str = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500";
const SET_PATIENT_ID: &str = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446";
const SET_SOURCE_ID: &str = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832";
const SET_UNIQUE_ID: &str = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8";

/// Bounds of a package.
#[derive(Debug, Clone, Copy)]
pub struct XdmLimits {
    /// Most entries in the zip.
    pub max_entries: usize,
    /// Most bytes once all entries are inflated.
    pub max_uncompressed: u64,
    /// Highest ratio uncompressed / compressed of an entry larger than 1 MiB.
    pub max_ratio: u64,
    /// Largest `METADATA.XML`.
    pub max_metadata: usize,
}

impl Default for XdmLimits {
    fn default() -> Self {
        Self {
            max_entries: 1024,
            max_uncompressed: 256 * 1024 * 1024,
            max_ratio: 100,
            max_metadata: 8 * 1024 * 1024,
        }
    }
}

/// Entries at most this large are not checked for their ratio (a small XML deflates well).
const RATIO_FLOOR: u64 = 1024 * 1024;

/// What is wrong in the metadata (no personal data in the messages: entry ids and field
/// names only).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("{file} is not well-formed XML: {reason}")]
    Xml { file: String, reason: String },
    #[error("{file} is not an ebRIM 3.0 lcm:SubmitObjectsRequest with a rim:RegistryObjectList")]
    NotSubmitObjectsRequest { file: String },
    #[error(
        "{file} uses ebXML RIM 2.1 (XDS.a-era metadata): XDM requires ebRIM 3.0 lcm:SubmitObjectsRequest"
    )]
    EbRim21 { file: String },
    #[error("{file} describes no document (no rim:ExtrinsicObject)")]
    NoDocument { file: String },
    #[error("{file}: document entry {entry:?} has no {field}")]
    MissingField {
        file: String,
        entry: String,
        field: &'static str,
    },
    #[error("{file}: document entry {entry:?} has an invalid {field}")]
    InvalidField {
        file: String,
        entry: String,
        field: &'static str,
    },
}

/// Why a package is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XdmError {
    #[error("IHE_XDM.zip is not a readable zip archive: {0}")]
    NotAZip(String),
    #[error("IHE_XDM.zip has {count} entries: at most {limit} are read")]
    TooManyEntries { count: usize, limit: usize },
    #[error(
        "IHE_XDM.zip entry {name:?} has an unsafe name (absolute, `..`, backslash, drive or control character)"
    )]
    UnsafeEntryName { name: String },
    #[error("IHE_XDM.zip looks like a zip bomb: {uncompressed} bytes once inflated ({reason})")]
    ZipBomb { uncompressed: u64, reason: String },
    #[error("IHE_XDM.zip entry {name:?} is encrypted or uses an unsupported compression")]
    UnreadableEntry { name: String },
    #[error("IHE_XDM.zip entry {name:?} is damaged: {reason}")]
    DamagedEntry { name: String, reason: String },
    #[error("IHE_XDM.zip has no IHE_XDM/<subset>/METADATA.XML")]
    NoMetadata,
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("IHE_XDM.zip: the document {uri:?} of the metadata is not in the archive")]
    MissingDocument { uri: String },
    #[error("IHE_XDM.zip: {uri:?} has {actual} bytes, its metadata says {expected}")]
    SizeMismatch {
        uri: String,
        expected: u64,
        actual: u64,
    },
    #[error("IHE_XDM.zip: {uri:?} has SHA-1 {actual}, its metadata says {expected}")]
    HashMismatch {
        uri: String,
        expected: String,
        actual: String,
    },
    #[error("IHE_XDM.zip: the documents are not all of the same patient (one patient per message)")]
    SeveralPatients,
}

/// A patient identifier as XDS writes it (CX: `id^^^&OID&ISO`).
#[derive(Clone, PartialEq, Eq)]
pub struct PatientId {
    pub id: String,
    /// The assigning authority's OID.
    pub authority: String,
}

impl std::fmt::Debug for PatientId {
    // The id may be an INS: the authority only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatientId")
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

impl PatientId {
    /// Reads `id^^^&OID&ISO` (the namespace before the OID may be given).
    pub fn parse_cx(cx: &str) -> Option<Self> {
        let mut fields = cx.trim().split('^');
        let id = fields.next()?.trim();
        let authority = fields.nth(2)?;
        let mut sub = authority.split('&');
        let _namespace = sub.next();
        let oid = sub.next()?.trim();
        let kind = sub.next().unwrap_or("ISO");
        if id.is_empty() || oid.is_empty() || !kind.eq_ignore_ascii_case("ISO") {
            return None;
        }
        Some(Self {
            id: id.to_owned(),
            authority: oid.to_owned(),
        })
    }
}

/// A document entry of the metadata (`rim:ExtrinsicObject`).
#[derive(Clone, PartialEq, Eq)]
pub struct DocumentEntry {
    /// Its symbolic id in the metadata (`Document01`…).
    pub entry_id: String,
    pub unique_id: String,
    pub title: String,
    pub mime_type: String,
    pub class_code: Option<Code>,
    pub type_code: Option<Code>,
    pub format_code: Option<Code>,
    pub confidentiality: Vec<Code>,
    pub patient_id: PatientId,
    /// `sourcePatientId`, when given (often the same).
    pub source_patient_id: Option<PatientId>,
    pub creation_time: Option<String>,
    pub size: u64,
    /// SHA-1, lower-case hex.
    pub hash: String,
    /// The file name in its subset folder, as the metadata says.
    pub uri: String,
}

impl std::fmt::Debug for DocumentEntry {
    // The title may name the patient: codes, sizes and names of files only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentEntry")
            .field("entry_id", &self.entry_id)
            .field("unique_id", &self.unique_id)
            .field("mime_type", &self.mime_type)
            .field("type_code", &self.type_code.as_ref().map(|c| &c.code))
            .field("size", &self.size)
            .field("hash", &self.hash)
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

/// A document of the package: its entry and its bytes, checked against the entry.
#[derive(Clone)]
pub struct XdmDocument {
    pub entry: DocumentEntry,
    /// The path in the zip (`IHE_XDM/SUBSET01/DOC0001.XML`).
    pub path: String,
    pub bytes: Bytes,
}

impl std::fmt::Debug for XdmDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdmDocument")
            .field("entry", &self.entry)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The submission set of a subset (`rim:RegistryPackage`).
#[derive(Clone, PartialEq, Eq)]
pub struct SubmissionSet {
    /// The subset folder (`IHE_XDM/SUBSET01/`).
    pub folder: String,
    pub unique_id: Option<String>,
    pub source_id: Option<String>,
    pub submission_time: Option<String>,
    pub content_type: Option<Code>,
    pub patient_id: Option<PatientId>,
}

impl std::fmt::Debug for SubmissionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubmissionSet")
            .field("folder", &self.folder)
            .field("unique_id", &self.unique_id)
            .field("source_id", &self.source_id)
            .finish_non_exhaustive()
    }
}

/// A received package: its submission sets (one per subset) and documents, in metadata order.
#[derive(Debug, Clone)]
pub struct XdmPackage {
    pub submission_sets: Vec<SubmissionSet>,
    pub documents: Vec<XdmDocument>,
    /// Every entry of the zip, in order.
    pub entries: Vec<String>,
}

impl XdmPackage {
    /// The patient of the documents (all the same, checked on reading).
    pub fn patient_id(&self) -> Option<&PatientId> {
        self.documents.first().map(|d| &d.entry.patient_id)
    }
}

/// A zip entry name that cannot escape a folder it is extracted to.
fn safe_name(name: &str) -> bool {
    let absolute = name.starts_with('/') || name.as_bytes().get(1) == Some(&b':');
    let escapes = name.split('/').any(|c| c == ".." || c == ".");
    let odd = name.contains('\\') || name.chars().any(char::is_control);
    !(name.is_empty() || absolute || escapes || odd)
}

/// Opens, checks and reads a package.
pub fn read(zip: &[u8], limits: &XdmLimits) -> Result<XdmPackage, XdmError> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip)).map_err(|e| XdmError::NotAZip(e.to_string()))?;
    let count = archive.len();
    if count > limits.max_entries {
        return Err(XdmError::TooManyEntries {
            count,
            limit: limits.max_entries,
        });
    }
    // Everything is checked on the central directory before anything is inflated.
    let mut declared_total: u64 = 0;
    let mut names = Vec::with_capacity(count);
    for i in 0..count {
        let file = archive
            .by_index_raw(i)
            .map_err(|e| XdmError::NotAZip(e.to_string()))?;
        let name = match file.name() {
            Ok(n) => n.into_owned(),
            Err(_) => {
                return Err(XdmError::UnsafeEntryName {
                    name: String::from_utf8_lossy(file.name_raw()).into_owned(),
                });
            }
        };
        if !safe_name(&name) || file.enclosed_name().is_none() {
            return Err(XdmError::UnsafeEntryName {
                name: name.chars().take(200).collect(),
            });
        }
        if file.encrypted() {
            return Err(XdmError::UnreadableEntry { name });
        }
        let size = file.size();
        let compressed = file.compressed_size().max(1);
        if size > RATIO_FLOOR && size / compressed > limits.max_ratio {
            return Err(XdmError::ZipBomb {
                uncompressed: size,
                reason: format!(
                    "{name:?} inflates {}-fold, at most {} accepted",
                    size / compressed,
                    limits.max_ratio
                ),
            });
        }
        declared_total = declared_total.saturating_add(size);
        if declared_total > limits.max_uncompressed {
            return Err(XdmError::ZipBomb {
                uncompressed: declared_total,
                reason: format!("at most {} bytes accepted", limits.max_uncompressed),
            });
        }
        names.push((name, file.is_dir(), size));
    }

    // The metadata of each subset: `IHE_XDM/<subset>/METADATA.XML`, any case.
    let metadata_files: Vec<(usize, String)> = names
        .iter()
        .enumerate()
        .filter(|(_, (n, dir, _))| {
            let parts: Vec<&str> = n.split('/').collect();
            !dir && parts.len() == 3
                && parts[0].eq_ignore_ascii_case("IHE_XDM")
                && parts[2].eq_ignore_ascii_case("METADATA.XML")
        })
        .map(|(i, (n, ..))| (i, n.clone()))
        .collect();
    if metadata_files.is_empty() {
        return Err(XdmError::NoMetadata);
    }

    let mut package = XdmPackage {
        submission_sets: Vec::new(),
        documents: Vec::new(),
        entries: names.iter().map(|(n, ..)| n.clone()).collect(),
    };
    for (index, file) in metadata_files {
        let folder = file[..file.len() - "METADATA.XML".len()].to_owned();
        if names[index].2 > limits.max_metadata as u64 {
            return Err(XdmError::Metadata(MetadataError::Xml {
                file,
                reason: format!("larger than {} bytes", limits.max_metadata),
            }));
        }
        let xml = read_entry(&mut archive, index, &names[index].0, names[index].2)?;
        let (set, entries) = parse_metadata(&xml, &file, &folder, limits.max_metadata)?;
        package.submission_sets.push(set);
        for entry in entries {
            let path = format!("{folder}{}", entry.uri);
            let found = names
                .iter()
                .position(|(n, dir, _)| !dir && n.eq_ignore_ascii_case(&path));
            let Some(i) = found else {
                return Err(XdmError::MissingDocument { uri: entry.uri });
            };
            let bytes = read_entry(&mut archive, i, &names[i].0, names[i].2)?;
            check(&entry, &bytes)?;
            package.documents.push(XdmDocument {
                entry,
                path: names[i].0.clone(),
                bytes: Bytes::from(bytes),
            });
        }
    }
    let first = package.patient_id().cloned();
    let same = |p: &PatientId| first.as_ref().is_none_or(|f| f == p);
    if !package.documents.iter().all(|d| same(&d.entry.patient_id))
        || !package
            .submission_sets
            .iter()
            .filter_map(|s| s.patient_id.as_ref())
            .all(same)
    {
        return Err(XdmError::SeveralPatients);
    }
    Ok(package)
}

/// Inflates entry `i`, never more than its declared size (a lying header stops there).
fn read_entry(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    i: usize,
    name: &str,
    declared: u64,
) -> Result<Vec<u8>, XdmError> {
    let file = archive.by_index(i).map_err(|e| match e {
        zip::result::ZipError::UnsupportedArchive(_) => XdmError::UnreadableEntry {
            name: name.to_owned(),
        },
        e => XdmError::DamagedEntry {
            name: name.to_owned(),
            reason: e.to_string(),
        },
    })?;
    let capacity = usize::try_from(declared).unwrap_or(0).min(64 * 1024 * 1024);
    let mut out = Vec::with_capacity(capacity);
    file.take(declared.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| XdmError::DamagedEntry {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
    if out.len() as u64 != declared {
        return Err(XdmError::DamagedEntry {
            name: name.to_owned(),
            reason: format!("{} bytes inflated, {declared} declared", out.len()),
        });
    }
    Ok(out)
}

/// Size first (cheap), then the SHA-1.
fn check(entry: &DocumentEntry, bytes: &[u8]) -> Result<(), XdmError> {
    let actual = bytes.len() as u64;
    if actual != entry.size {
        return Err(XdmError::SizeMismatch {
            uri: entry.uri.clone(),
            expected: entry.size,
            actual,
        });
    }
    let digest = Sha1::digest(bytes);
    let actual: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    if actual != entry.hash {
        return Err(XdmError::HashMismatch {
            uri: entry.uri.clone(),
            expected: entry.hash.clone(),
            actual,
        });
    }
    Ok(())
}

fn slot_values<'a>(e: &'a Element, name: &str) -> Vec<&'a str> {
    e.children_named(RIM, "Slot")
        .filter(|s| s.attr("name") == Some(name))
        .flat_map(|s| s.children_named(RIM, "ValueList"))
        .flat_map(|l| l.children_named(RIM, "Value"))
        .map(|v| v.text().trim())
        .collect()
}

fn slot<'a>(e: &'a Element, name: &str) -> Option<&'a str> {
    slot_values(e, name)
        .into_iter()
        .next()
        .filter(|v| !v.is_empty())
}

fn localized(e: &Element, element: &str) -> Option<String> {
    e.child(RIM, element)
        .and_then(|n| n.child(RIM, "LocalizedString"))
        .and_then(|l| l.attr("value"))
        .map(str::to_owned)
}

fn codes(e: &Element, scheme: &str) -> Vec<Code> {
    e.children_named(RIM, "Classification")
        .filter(|c| c.attr("classificationScheme") == Some(scheme))
        .map(|c| {
            Code::new(
                c.attr("nodeRepresentation").unwrap_or(""),
                slot(c, "codingScheme").unwrap_or(""),
                &localized(c, "Name").unwrap_or_default(),
            )
        })
        .collect()
}

fn external_id<'a>(e: &'a Element, scheme: &str) -> Option<&'a str> {
    e.children_named(RIM, "ExternalIdentifier")
        .find(|x| x.attr("identificationScheme") == Some(scheme))
        .and_then(|x| x.attr("value"))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn parse_metadata(
    xml: &[u8],
    file: &str,
    folder: &str,
    max_bytes: usize,
) -> Result<(SubmissionSet, Vec<DocumentEntry>), MetadataError> {
    let root = passerelle_soap::parse_document(
        xml,
        &XmlLimits {
            max_bytes,
            max_depth: 32,
        },
    )
    .map_err(|e| MetadataError::Xml {
        file: file.to_owned(),
        reason: e.to_string(),
    })?;
    if root.is(RS21, "SubmitObjectsRequest") {
        return Err(MetadataError::EbRim21 {
            file: file.to_owned(),
        });
    }
    let list = root
        .is(LCM, "SubmitObjectsRequest")
        .then(|| root.child(RIM, "RegistryObjectList"))
        .flatten()
        .ok_or_else(|| MetadataError::NotSubmitObjectsRequest {
            file: file.to_owned(),
        })?;
    let mut entries = Vec::new();
    for e in list.children_named(RIM, "ExtrinsicObject") {
        let entry_id = e.attr("id").unwrap_or("").to_owned();
        let missing = |field| MetadataError::MissingField {
            file: file.to_owned(),
            entry: entry_id.clone(),
            field,
        };
        let invalid = |field| MetadataError::InvalidField {
            file: file.to_owned(),
            entry: entry_id.clone(),
            field,
        };
        let unique_id = external_id(e, DOC_UNIQUE_ID).ok_or_else(|| missing("uniqueId"))?;
        let patient_cx = external_id(e, DOC_PATIENT_ID).ok_or_else(|| missing("patientId"))?;
        let patient_id = PatientId::parse_cx(patient_cx).ok_or_else(|| invalid("patientId"))?;
        let source_patient_id = match slot(e, "sourcePatientId") {
            Some(cx) => Some(PatientId::parse_cx(cx).ok_or_else(|| invalid("sourcePatientId"))?),
            None => None,
        };
        let size = slot(e, "size").ok_or_else(|| missing("size"))?;
        let size: u64 = size.parse().map_err(|_| invalid("size"))?;
        let hash = slot(e, "hash").ok_or_else(|| missing("hash"))?;
        if hash.len() != 40 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid("hash"));
        }
        let uri = slot(e, "URI").ok_or_else(|| missing("URI"))?;
        // A file of the subset folder, never a path out of it.
        if !safe_name(uri) || uri.contains('/') {
            return Err(invalid("URI"));
        }
        let one = |scheme| codes(e, scheme).into_iter().next();
        entries.push(DocumentEntry {
            unique_id: unique_id.to_owned(),
            title: localized(e, "Name").unwrap_or_default(),
            mime_type: e.attr("mimeType").unwrap_or("").to_owned(),
            class_code: one(DOC_CLASS),
            type_code: one(DOC_TYPE),
            format_code: one(DOC_FORMAT),
            confidentiality: codes(e, DOC_CONFIDENTIALITY),
            patient_id,
            source_patient_id,
            creation_time: slot(e, "creationTime").map(str::to_owned),
            size,
            hash: hash.to_ascii_lowercase(),
            uri: uri.to_owned(),
            entry_id,
        });
    }
    if entries.is_empty() {
        return Err(MetadataError::NoDocument {
            file: file.to_owned(),
        });
    }
    let package = list
        .children_named(RIM, "RegistryPackage")
        .find(|p| external_id(p, SET_UNIQUE_ID).is_some());
    let set = SubmissionSet {
        folder: folder.to_owned(),
        unique_id: package
            .and_then(|p| external_id(p, SET_UNIQUE_ID))
            .map(str::to_owned),
        source_id: package
            .and_then(|p| external_id(p, SET_SOURCE_ID))
            .map(str::to_owned),
        submission_time: package
            .and_then(|p| slot(p, "submissionTime"))
            .map(str::to_owned),
        content_type: package.and_then(|p| codes(p, SET_CONTENT_TYPE).into_iter().next()),
        patient_id: package
            .and_then(|p| external_id(p, SET_PATIENT_ID))
            .and_then(PatientId::parse_cx),
    };
    Ok((set, entries))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn entry_names_that_escape_are_unsafe() {
        for bad in [
            "/etc/passwd",
            "../x",
            "IHE_XDM/../../x",
            "a\\b",
            "C:x",
            "a/./b",
            "",
            "a\u{0}b",
        ] {
            assert!(!safe_name(bad), "{bad:?}");
        }
        assert!(safe_name("IHE_XDM/SUBSET01/DOC0001.XML"));
        assert!(safe_name("IHE_XDM/SUBSET01/"));
    }

    #[test]
    fn patient_ids_are_read_from_cx() {
        let p = PatientId::parse_cx("248039263001064^^^&1.2.250.1.213.1.4.10&ISO").unwrap();
        assert_eq!(p.id, "248039263001064");
        assert_eq!(p.authority, "1.2.250.1.213.1.4.10");
        assert!(!format!("{p:?}").contains("2480392"));
        assert!(PatientId::parse_cx("248039263001064").is_none());
        assert!(PatientId::parse_cx("^^^&1.2&ISO").is_none());
    }
}
