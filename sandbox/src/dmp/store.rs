//! The DMP sandbox's store, in the data directory (`<data dir>/dmp/`): patients (DMP state,
//! authorisations, médecin traitant, blocked professionals, oppositions) and registry
//! entries (metadata, status, versions) in `store.json`, document contents in
//! `content/<file>`. It survives restarts.
//!
//! Every change is made on a copy of the state and written through a temporary file, a
//! flush and a rename before it replaces the state in memory: a change is stored whole or
//! not at all. Contents are written (and flushed) before the metadata that points at them.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    #[error("unreadable store {path}: {message}")]
    Corrupt { path: PathBuf, message: String },
}

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
    /// File name under `content/`.
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
    dir: PathBuf,
    db: Mutex<Db>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Store {
    /// Opens (or creates) the store in `dir` and adds the seed patients it lacks.
    pub fn open(dir: &Path, seeds: &[Seed]) -> Result<Self, StoreError> {
        fs::create_dir_all(dir.join("content")).map_err(io(dir))?;
        let file = dir.join("store.json");
        let mut db: Db = match fs::read(&file) {
            Ok(data) => serde_json::from_slice(&data).map_err(|e| StoreError::Corrupt {
                path: file.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Db::default(),
            Err(e) => return Err(io(&file)(e)),
        };
        let before = db.clone();
        for seed in seeds {
            db.patients
                .entry(seed.ins.clone())
                .or_insert_with(|| seed.patient());
        }
        let store = Self {
            dir: dir.to_path_buf(),
            db: Mutex::new(before.clone()),
        };
        if db != before || !file.exists() {
            store.persist(&db)?;
        }
        *store.lock() = db;
        Ok(store)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Db> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A read-only look at the state.
    pub fn read<T>(&self, f: impl FnOnce(&Db) -> T) -> T {
        f(&self.lock())
    }

    /// A change: made on a copy, written, then kept; nothing is kept when `f` fails.
    pub fn update<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Db) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut guard = self.lock();
        let mut copy = guard.clone();
        let out = f(&mut copy)?;
        if copy != *guard {
            self.persist(&copy)?;
            *guard = copy;
        }
        Ok(out)
    }

    /// Writes a document's content (before the entry that points at it).
    pub fn put_content(&self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        write_atomic(&self.dir.join("content").join(name), data)
    }

    pub fn content(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.dir.join("content").join(name);
        fs::read(&path).map_err(io(&path))
    }

    fn persist(&self, db: &Db) -> Result<(), StoreError> {
        let file = self.dir.join("store.json");
        let data = serde_json::to_vec(db).map_err(|e| StoreError::Corrupt {
            path: file.clone(),
            message: e.to_string(),
        })?;
        write_atomic(&file, &data)
    }
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(data).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io(path))
}
