//! The imported extraction, kept on disk in one redb file (pure Rust, ACID; already a
//! workspace dependency): `mailboxes` (address, lower case → the record), `by_rpps`
//! (RPPS → addresses), `by_family` (family name's search key → addresses) and `meta` (the
//! last import's report).
//!
//! An import writes a new file beside the index and renames it over the index once complete:
//! searches see the previous import until then, a failed import leaves it untouched, and no
//! search ever sees half an import. Searches open the file read-only (shared lock), so
//! several processes may read one index; it is reopened when an import replaced it.
//!
//! Why a file rather than a bus key-value bucket: a KV bucket has no range scan (name search
//! by prefix), no transaction (an import of ~535,000 lines would be visible half done, and
//! one put per key takes minutes), and its keys cannot hold `@`. The cost: the index is per
//! host (a shared volume or one import per replica).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use redb::{
    Database, MultimapTableDefinition, ReadOnlyDatabase, ReadableDatabase, ReadableMultimapTable,
    ReadableTable, TableDefinition,
};
use serde::{Deserialize, Serialize};

use super::extraction::{self, ExtractionRecord, ImportReport, Parsed};
use super::{
    DirectoryProfessional, DirectorySource, ImportError, Mailbox, MailboxType, search_key,
    tidy_mailboxes,
};

const MAILBOXES: TableDefinition<&str, &[u8]> = TableDefinition::new("mailboxes");
const BY_RPPS: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("by_rpps");
const BY_FAMILY: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("by_family");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const INFO_KEY: &str = "info";
/// Records a write transaction (bounds the import's memory).
const BATCH: usize = 20_000;

/// The index cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("extraction index: {reason}")]
    Storage { reason: String },
    #[error("extraction index {}: {reason}", .path.display())]
    Io { path: PathBuf, reason: String },
}

fn storage(e: impl std::fmt::Display) -> IndexError {
    IndexError::Storage {
        reason: e.to_string(),
    }
}

fn io(path: &Path, e: impl std::fmt::Display) -> IndexError {
    IndexError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// The last import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexInfo {
    /// RFC 3339, UTC.
    pub imported_at: String,
    pub report: ImportReport,
}

/// Identifies one version of the file (an import replaces it with a new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    /// The rename of an import gives the path a new inode.
    inode: u64,
}

struct Inner {
    path: PathBuf,
    max_results: usize,
    open: Mutex<Option<(Stamp, Arc<ReadOnlyDatabase>)>>,
    import: tokio::sync::Mutex<()>,
}

/// The extraction index. Cheap to clone.
#[derive(Clone)]
pub struct ExtractionIndex {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ExtractionIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtractionIndex")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl ExtractionIndex {
    /// The index at `path` (the file need not exist before the first import). A name search
    /// finding more than `max_results` professionals asks for a narrower name.
    pub fn new(path: &Path, max_results: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                max_results: max_results.max(1),
                open: Mutex::new(None),
                import: tokio::sync::Mutex::new(()),
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The database as last imported; `None` before the first import.
    fn db(&self) -> Result<Option<Arc<ReadOnlyDatabase>>, IndexError> {
        let path = &self.inner.path;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(path, e)),
        };
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        let stamp = Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        };
        let mut open = self
            .inner
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((s, db)) = open.as_ref()
            && *s == stamp
        {
            return Ok(Some(db.clone()));
        }
        let db = Arc::new(
            redb::Builder::new()
                .open_read_only(path)
                .map_err(|e| io(path, e))?,
        );
        *open = Some((stamp, db.clone()));
        Ok(Some(db))
    }

    /// The last import's report; `None` before the first import.
    pub fn info(&self) -> Result<Option<IndexInfo>, IndexError> {
        let Some(db) = self.db()? else {
            return Ok(None);
        };
        let txn = db.begin_read().map_err(storage)?;
        let meta = txn.open_table(META).map_err(storage)?;
        let Some(v) = meta.get(INFO_KEY).map_err(storage)? else {
            return Ok(None);
        };
        serde_json::from_slice(v.value()).map(Some).map_err(storage)
    }

    /// The professional with this RPPS; `None` before the first import.
    pub fn by_rpps(&self, rpps: &str) -> Result<Option<Vec<DirectoryProfessional>>, IndexError> {
        let Some(db) = self.db()? else {
            return Ok(None);
        };
        let txn = db.begin_read().map_err(storage)?;
        let by_rpps = txn.open_multimap_table(BY_RPPS).map_err(storage)?;
        let mailboxes = txn.open_table(MAILBOXES).map_err(storage)?;
        let mut records = Vec::new();
        for address in by_rpps.get(rpps).map_err(storage)? {
            let address = address.map_err(storage)?;
            if let Some(r) = mailboxes.get(address.value()).map_err(storage)? {
                records.push(decode(r.value())?);
            }
        }
        Ok(Some(group(records)))
    }

    /// The owner of this address (compared without case) with all their mailboxes: the
    /// professional of its RPPS, or the mailbox alone (an organisation's, named by its
    /// structure); `None` before the first import.
    pub fn by_address(
        &self,
        address: &str,
    ) -> Result<Option<Vec<DirectoryProfessional>>, IndexError> {
        let Some(db) = self.db()? else {
            return Ok(None);
        };
        let txn = db.begin_read().map_err(storage)?;
        let mailboxes = txn.open_table(MAILBOXES).map_err(storage)?;
        let key = address.trim().to_ascii_lowercase();
        let Some(record) = mailboxes.get(key.as_str()).map_err(storage)? else {
            return Ok(Some(Vec::new()));
        };
        let mut record = decode(record.value())?;
        if record.rpps.is_empty() {
            if record.last_name.is_empty() && record.first_name.is_empty() {
                // An organisation's mailbox: named as the API names an Organization.
                record.last_name = record.structure_name.clone();
                record.national_id = record.structure_id.clone();
            }
            return Ok(Some(group(vec![record])));
        }
        let by_rpps = txn.open_multimap_table(BY_RPPS).map_err(storage)?;
        let mut records = Vec::new();
        for other in by_rpps.get(record.rpps.as_str()).map_err(storage)? {
            let other = other.map_err(storage)?;
            if let Some(r) = mailboxes.get(other.value()).map_err(storage)? {
                records.push(decode(r.value())?);
            }
        }
        Ok(Some(group(records)))
    }

    /// Professionals whose family name starts with `family` (and a given name with `given`),
    /// compared through their search keys; `None` before the first import.
    pub fn by_name(
        &self,
        family: &str,
        given: Option<&str>,
    ) -> Result<Option<Vec<DirectoryProfessional>>, super::DirectoryError> {
        let Some(db) = self.db()? else {
            return Ok(None);
        };
        let family = search_key(family);
        let given = given.map(search_key).filter(|g| !g.is_empty());
        let txn = db.begin_read().map_err(storage)?;
        let by_family = txn.open_multimap_table(BY_FAMILY).map_err(storage)?;
        let mailboxes = txn.open_table(MAILBOXES).map_err(storage)?;
        let mut records = Vec::new();
        let mut people = std::collections::HashSet::new();
        for item in by_family.range(family.as_str()..).map_err(storage)? {
            let (key, addresses) = item.map_err(storage)?;
            if !key.value().starts_with(&family) {
                break;
            }
            for address in addresses {
                let address = address.map_err(storage)?;
                let Some(r) = mailboxes.get(address.value()).map_err(storage)? else {
                    continue;
                };
                let r = decode(r.value())?;
                if let Some(g) = &given
                    && !search_key(&r.first_name).starts_with(g.as_str())
                {
                    continue;
                }
                people.insert(person_key(&r));
                if people.len() > self.inner.max_results {
                    return Err(super::DirectoryError::TooManyResults {
                        found: people.len() as u64,
                        limit: self.inner.max_results,
                    });
                }
                records.push(r);
            }
        }
        Ok(Some(group(records)))
    }

    /// Imports the extraction file, replacing the index whole when done; one import at a time.
    pub async fn import(&self, file: &Path) -> Result<ImportReport, ImportError> {
        let _one_at_a_time = self.inner.import.lock().await;
        let index = self.clone();
        let file = file.to_owned();
        tokio::task::spawn_blocking(move || index.import_blocking(&file))
            .await
            .map_err(|e| storage(format!("import task failed: {e}")))?
    }

    fn import_blocking(&self, file: &Path) -> Result<ImportReport, ImportError> {
        let path = &self.inner.path;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "index".into());
        let temp = path.with_file_name(format!(
            ".{file_name}.importing-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let result = build(file, &temp);
        match result {
            Ok(report) => {
                sync_file(&temp)?;
                std::fs::rename(&temp, path).map_err(|e| io(path, e))?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    // The rename itself durable (best effort: not every platform opens a dir).
                    if let Ok(d) = std::fs::File::open(dir) {
                        let _ = d.sync_all();
                    }
                }
                tracing::info!(
                    lines = report.lines,
                    mailboxes = report.mailboxes,
                    duplicates = report.duplicates,
                    rejected = report.rejected,
                    "extraction imported"
                );
                Ok(report)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                Err(e)
            }
        }
    }
}

fn sync_file(path: &Path) -> Result<(), IndexError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(path, e))
}

/// A stored record: a JSON array of the fields in a fixed order, led by the format's
/// version (field names would double the index's size).
type Stored = (
    u8,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);
const FORMAT: u8 = 1;

fn encode(r: &ExtractionRecord) -> Result<Vec<u8>, IndexError> {
    serde_json::to_vec(&(
        FORMAT,
        &r.address,
        r.mailbox_type.code(),
        &r.rpps,
        &r.national_id,
        &r.last_name,
        &r.first_name,
        &r.profession,
        &r.service,
        &r.structure_name,
        &r.structure_id,
    ))
    .map_err(storage)
}

fn decode(bytes: &[u8]) -> Result<ExtractionRecord, IndexError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        storage(format!(
            "a record is unreadable ({e}): import the extraction file again"
        ))
    };
    let s: Stored = serde_json::from_slice(bytes).map_err(|e| unreadable(&e))?;
    if s.0 != FORMAT {
        return Err(unreadable(&format!("format {}", s.0)));
    }
    let mailbox_type =
        MailboxType::from_code(&s.2).ok_or_else(|| unreadable(&format!("type {:?}", s.2)))?;
    Ok(ExtractionRecord {
        address: s.1,
        mailbox_type,
        rpps: s.3,
        national_id: s.4,
        last_name: s.5,
        first_name: s.6,
        profession: s.7,
        service: s.8,
        structure_name: s.9,
        structure_id: s.10,
    })
}

/// Who a record belongs to: the RPPS, else the address itself.
fn person_key(r: &ExtractionRecord) -> String {
    if r.rpps.is_empty() {
        r.address.to_ascii_lowercase()
    } else {
        r.rpps.clone()
    }
}

/// One professional per RPPS (a mailbox without RPPS stands alone), by name.
fn group(records: Vec<ExtractionRecord>) -> Vec<DirectoryProfessional> {
    let mut out: Vec<(String, DirectoryProfessional)> = Vec::new();
    for r in records {
        let key = person_key(&r);
        let mailbox = Mailbox {
            address: r.address.clone(),
            mailbox_type: Some(r.mailbox_type),
            description: if r.service.is_empty() {
                r.structure_name.clone()
            } else {
                r.service.clone()
            },
            rank: None,
        };
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, p)) => {
                for (field, value) in [
                    (&mut p.last_name, &r.last_name),
                    (&mut p.first_name, &r.first_name),
                    (&mut p.profession, &r.profession),
                    (&mut p.national_id, &r.national_id),
                ] {
                    if field.is_empty() {
                        field.clone_from(value);
                    }
                }
                p.addresses.push(mailbox);
            }
            None => out.push((
                key,
                DirectoryProfessional {
                    rpps: r.rpps,
                    national_id: r.national_id,
                    last_name: r.last_name,
                    first_name: r.first_name,
                    profession: r.profession,
                    addresses: vec![mailbox],
                    source: DirectorySource::Extraction,
                },
            )),
        }
    }
    let mut out: Vec<DirectoryProfessional> = out.into_iter().map(|(_, p)| p).collect();
    for p in &mut out {
        tidy_mailboxes(&mut p.addresses);
    }
    out.sort_by_cached_key(|p| {
        (
            search_key(&p.last_name),
            search_key(&p.first_name),
            p.rpps.clone(),
        )
    });
    out
}

/// Writes the file's records into a new database at `temp`.
fn build(file: &Path, temp: &Path) -> Result<ImportReport, ImportError> {
    let db = Database::create(temp).map_err(|e| io(temp, e))?;
    let outcome = extraction::with_text(file, |reader, name| -> Result<_, ImportError> {
        let mut report = ImportReport {
            source: name.to_owned(),
            ..ImportReport::default()
        };
        let mut parser = extraction::Parser::new(reader)?;
        let mut done = false;
        while !done {
            let txn = db.begin_write().map_err(storage)?;
            {
                let mut mailboxes = txn.open_table(MAILBOXES).map_err(storage)?;
                let mut by_rpps = txn.open_multimap_table(BY_RPPS).map_err(storage)?;
                let mut by_family = txn.open_multimap_table(BY_FAMILY).map_err(storage)?;
                for _ in 0..BATCH {
                    let record = match parser.next_line()? {
                        None => {
                            done = true;
                            break;
                        }
                        Some(Parsed::Rejected(r)) => {
                            report.reject(r);
                            continue;
                        }
                        Some(Parsed::Record(r)) => r,
                    };
                    let key = record.address.to_ascii_lowercase();
                    if mailboxes.get(key.as_str()).map_err(storage)?.is_some() {
                        report.duplicates += 1;
                        continue;
                    }
                    let stored = encode(&record)?;
                    mailboxes
                        .insert(key.as_str(), stored.as_slice())
                        .map_err(storage)?;
                    if !record.rpps.is_empty() {
                        by_rpps
                            .insert(record.rpps.as_str(), key.as_str())
                            .map_err(storage)?;
                    }
                    let family = search_key(&record.last_name);
                    if !family.is_empty() {
                        by_family
                            .insert(family.as_str(), key.as_str())
                            .map_err(storage)?;
                    }
                    report.mailboxes += 1;
                }
            }
            txn.commit().map_err(storage)?;
        }
        report.lines = parser.lines;
        report.latin1_lines = parser.latin1_lines;
        if report.mailboxes == 0 {
            return Err(ImportError::NothingImported {
                lines: report.lines,
                rejected: report.rejected,
            });
        }
        let info = IndexInfo {
            imported_at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            report: report.clone(),
        };
        let txn = db.begin_write().map_err(storage)?;
        {
            let mut meta = txn.open_table(META).map_err(storage)?;
            let json = serde_json::to_vec(&info).map_err(storage)?;
            meta.insert(INFO_KEY, json.as_slice()).map_err(storage)?;
        }
        txn.commit().map_err(storage)?;
        Ok(report)
    });
    let report = outcome??;
    // The index is only read until the next import: pages packed full, the file's free space given back.
    let mut db = db;
    db.compact(redb::CompactionMode::Maximum).map_err(storage)?;
    drop(db);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_group_by_rpps_and_sort_by_name() {
        let r = |address: &str, rpps: &str, last: &str, first: &str| ExtractionRecord {
            address: address.into(),
            mailbox_type: MailboxType::Personal,
            rpps: rpps.into(),
            national_id: String::new(),
            last_name: last.into(),
            first_name: first.into(),
            profession: String::new(),
            service: String::new(),
            structure_name: "S".into(),
            structure_id: String::new(),
        };
        let grouped = group(vec![
            r("b@x.mssante.fr", "2", "ZOLA", "Emile"),
            r("a@x.mssante.fr", "1", "ARAGON", ""),
            r("a2@x.mssante.fr", "1", "ARAGON", "Louis"),
            r("org@x.mssante.fr", "", "", ""),
        ]);
        let summary: Vec<_> = grouped
            .iter()
            .map(|p| (p.rpps.as_str(), p.first_name.as_str(), p.addresses.len()))
            .collect();
        assert_eq!(summary, [("", "", 1), ("1", "Louis", 2), ("2", "Emile", 1)]);
        assert_eq!(grouped[1].addresses[0].description, "S");
    }
}
