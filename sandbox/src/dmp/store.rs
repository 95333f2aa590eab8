//! The DMP sandbox's store: a redb database (pure Rust, ACID, crash-safe) in the data
//! directory, `<data dir>/dmp/dmp.redb`, with two tables: `patients` (INS → the patient
//! as JSON: DMP state, authorisations, médecin traitant, blocked professionals,
//! oppositions) and `entries` (entryUUID → the registry entry as JSON: metadata, status,
//! versions); the documents' bytes are files beside it, `<data dir>/dmp/contents/<name>`,
//! written once and synced (a document of tens of megabytes copied into database pages took
//! as long again). It survives restarts.
//!
//! The state is also kept in memory. Every change is made on a copy, then what differs is
//! written in one write transaction, committed before the copy replaces the state: a change
//! is stored whole or not at all. Contents are committed before the entries that point at
//! them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::patients::Seed;

#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("store {path}: {message}")]
    Db { path: PathBuf, message: String },
}

const PATIENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("patients");
const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum DmpState {
    /// A DMP with documents.
    Open,
    /// A DMP created, with no documents (at the CNAM: "vide").
    Empty,
    NotCreated,
    Closed,
}

impl DmpState {
    pub fn exists(self) -> bool {
        matches!(self, Self::Open | Self::Empty | Self::Closed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Patient {
    /// The 15-character INS (matricule + key).
    pub ins: String,
    pub state: DmpState,
    pub last_name: String,
    pub first_name: String,
    /// yyyyMMdd.
    pub birth_date: String,
    /// Authorised professionals (VIHF NameID) → since (yyyyMMddHHmmss).
    pub authorised: BTreeMap<String, String>,
    /// The médecin traitant (VIHF NameID).
    pub attending: Option<String>,
    /// Professionals the patient blocked; `*` = all.
    pub blocked: Vec<String>,
    /// Professionals the patient refused (AUTORISATION INTERDIT); `*` = all.
    pub forbidden: Vec<String>,
    /// Professionals whose authorisation expired (`*` = all): they have none until they
    /// add it again (TD0.3 AJOUT).
    pub expired: Vec<String>,
    pub opposes_bris_de_glace: bool,
    pub opposes_centre_15: bool,
    pub minor: bool,
    /// The patient allowed reading masked documents in bris de glace / centre 15.
    #[serde(default)]
    pub allows_masked_in_emergency: bool,
    /// Last deposit or update (yyyyMMddHHmmss).
    pub last_update: Option<String>,
}

fn listed(list: &[String], who: &str) -> bool {
    list.iter().any(|p| p == "*" || p == who)
}

impl Patient {
    pub fn is_blocked(&self, who: &str) -> bool {
        listed(&self.blocked, who)
    }
    pub fn is_forbidden(&self, who: &str) -> bool {
        listed(&self.forbidden, who)
    }
    pub fn is_attending(&self, who: &str) -> bool {
        self.attending.as_deref() == Some(who)
    }
    /// A valid authorisation (the médecin traitant is authorised).
    pub fn is_authorised(&self, who: &str) -> bool {
        !self.is_blocked(who)
            && !self.is_forbidden(who)
            && (self.authorised.contains_key(who) || self.is_attending(who))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Slot {
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Classification {
    /// `classificationScheme` (a `urn:uuid:`).
    pub scheme: String,
    pub node: String,
    pub slots: Vec<Slot>,
    pub name: Option<String>,
}

impl Classification {
    pub fn coding_scheme(&self) -> Option<&str> {
        self.slots
            .iter()
            .find(|s| s.name == "codingScheme")
            .and_then(|s| s.values.first())
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub entry_uuid: String,
    pub lid: String,
    pub unique_id: String,
    /// The patient's 15-character INS.
    pub ins: String,
    /// The patientId CX as deposited.
    pub patient_id: String,
    /// Full status URN.
    pub status: String,
    pub version: u32,
    pub mime_type: String,
    pub title: String,
    pub description: Option<String>,
    pub slots: Vec<Slot>,
    pub classifications: Vec<Classification>,
    /// VIHF NameID of the professional who deposited it.
    pub author_id: String,
    /// `Identifiant_Structure` of the deposit.
    pub author_structure: String,
    /// SHA-1 (hex, lower case) and size of the content.
    pub hash: String,
    pub size: u64,
    /// Key of the content in the `contents` table.
    pub content_file: String,
    pub is_signature: bool,
    pub submission_set_unique_id: String,
    /// RFC 3339, when the registry recorded it.
    pub recorded: String,
}

pub(crate) const SCHEME_CONFIDENTIALITY: &str = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f";
pub(crate) const SCHEME_CLASS: &str = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a";
pub(crate) const SCHEME_TYPE: &str = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983";
pub(crate) const SCHEME_FORMAT: &str = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d";

impl Entry {
    pub fn codes(&self, scheme: &str) -> impl Iterator<Item = &Classification> {
        self.classifications
            .iter()
            .filter(move |c| c.scheme == scheme)
    }
    pub fn confidentiality(&self) -> Vec<String> {
        self.codes(SCHEME_CONFIDENTIALITY)
            .map(|c| c.node.clone())
            .collect()
    }
    pub fn has_confidentiality(&self, code: &str) -> bool {
        self.codes(SCHEME_CONFIDENTIALITY).any(|c| c.node == code)
    }
    pub fn slot(&self, name: &str) -> Option<&str> {
        self.slots
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.values.first())
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Db {
    pub patients: BTreeMap<String, Patient>,
    pub entries: Vec<Entry>,
}

impl Db {
    pub fn by_unique_id(&self, unique_id: &str) -> Option<&Entry> {
        // The latest version of the logical document.
        self.entries
            .iter()
            .filter(|e| e.unique_id == unique_id)
            .max_by_key(|e| e.version)
    }
}

pub(crate) struct Store {
    path: PathBuf,
    db: Database,
    state: Mutex<Db>,
}

impl Store {
    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Db {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Opens (or creates) the store in `dir` and adds the seed patients it lacks.
    pub fn open(dir: &Path, seeds: &[Seed]) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("dmp.redb");
        let db = Database::create(&path).map_err(|e| StoreError::Db {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut store = Self {
            path,
            db,
            state: Mutex::new(Db::default()),
        };
        let loaded = store.load()?;
        store.state = Mutex::new(loaded);
        store.update(|db| -> Result<(), StoreError> {
            for seed in seeds {
                db.patients
                    .entry(seed.ins.clone())
                    .or_insert_with(|| seed.patient());
            }
            Ok(())
        })?;
        Ok(store)
    }

    fn load(&self) -> Result<Db, StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            // Create the tables of a new database.
            txn.open_table(PATIENTS).map_err(|e| self.err(e))?;
            txn.open_table(ENTRIES).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))?;
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let mut db = Db::default();
        let patients = txn.open_table(PATIENTS).map_err(|e| self.err(e))?;
        for item in patients.iter().map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let p: Patient = serde_json::from_slice(v.value()).map_err(|e| self.err(e))?;
            db.patients.insert(k.value().to_owned(), p);
        }
        let entries = txn.open_table(ENTRIES).map_err(|e| self.err(e))?;
        for item in entries.iter().map_err(|e| self.err(e))? {
            let (_, v) = item.map_err(|e| self.err(e))?;
            db.entries
                .push(serde_json::from_slice(v.value()).map_err(|e| self.err(e))?);
        }
        // In recording order (versions after the entries they replace).
        db.entries
            .sort_by(|a, b| (&a.recorded, a.version).cmp(&(&b.recorded, b.version)));
        Ok(db)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Db> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A read-only look at the state.
    pub fn read<T>(&self, f: impl FnOnce(&Db) -> T) -> T {
        f(&self.lock())
    }

    /// A change: made on a copy, committed, then kept; nothing is kept when `f` fails.
    pub fn update<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Db) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut guard = self.lock();
        let mut copy = guard.clone();
        let out = f(&mut copy)?;
        if copy != *guard {
            self.persist(&guard, &copy)?;
            *guard = copy;
        }
        Ok(out)
    }

    /// Writes what differs between `old` and `new` in one transaction.
    fn persist(&self, old: &Db, new: &Db) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut patients = txn.open_table(PATIENTS).map_err(|e| self.err(e))?;
            for (ins, p) in &new.patients {
                if old.patients.get(ins) != Some(p) {
                    let json = serde_json::to_vec(p).map_err(|e| self.err(e))?;
                    patients
                        .insert(ins.as_str(), json.as_slice())
                        .map_err(|e| self.err(e))?;
                }
            }
            let mut entries = txn.open_table(ENTRIES).map_err(|e| self.err(e))?;
            let before: BTreeMap<&str, &Entry> = old
                .entries
                .iter()
                .map(|e| (e.entry_uuid.as_str(), e))
                .collect();
            for e in &new.entries {
                if before.get(e.entry_uuid.as_str()) != Some(&e) {
                    let json = serde_json::to_vec(e).map_err(|e| self.err(e))?;
                    entries
                        .insert(e.entry_uuid.as_str(), json.as_slice())
                        .map_err(|e| self.err(e))?;
                }
            }
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// Stores a document's content (synced before the entry that points at it is
    /// committed): a temporary file, synced, then renamed, so a content is whole or absent.
    pub fn put_content(&self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        use std::io::Write;
        let dir = self.contents_dir();
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = self.content_path(name)?;
        let partial = dir.join(format!(".{name}.partial"));
        let mut file = std::fs::File::create(&partial).map_err(io(&partial))?;
        file.write_all(data).map_err(io(&partial))?;
        file.sync_all().map_err(io(&partial))?;
        drop_cached(&file);
        std::fs::rename(&partial, &path).map_err(io(&path))?;
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&dir))
    }

    pub fn content(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.content_path(name)?;
        std::fs::read(&path).map_err(|source| StoreError::Io { path, source })
    }

    fn contents_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(|d| d.join("contents"))
            .unwrap_or_else(|| PathBuf::from("contents"))
    }

    /// The file of a content; names are the store's own (UUIDs): anything else is refused.
    fn content_path(&self, name: &str) -> Result<PathBuf, StoreError> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(self.err(format!("content name {name:?} is not one of the store's")));
        }
        Ok(self.contents_dir().join(name))
    }
}

/// Lets the kernel drop a synced content's pages from its cache: a deposited document is
/// read again rarely, and on a virtual machine every new page-cache page costs the host a
/// first touch (seen: 27 MB written in 75 ms instead of 7 when the cache kept growing).
#[cfg(target_os = "linux")]
fn drop_cached(file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: posix_fadvise only reads the descriptor, which `file` keeps open; advice only.
    let _ = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
}

#[cfg(not(target_os = "linux"))]
fn drop_cached(_file: &std::fs::File) {}
