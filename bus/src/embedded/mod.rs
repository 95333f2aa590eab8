//! The embedded durable state of the in-process bus: the durable event log, key-value
//! buckets, durable consumers and documents. In a data directory when given one (and then
//! read back on the next start), else in memory (documents: a temporary directory).
//!
//! Layout of the data directory:
//! - `events.log`: the durable events, appended (see [`log`]);
//! - `kv/<bucket>.json`: one file per bucket, rewritten whole on each write;
//! - `consumers/<name>.json`: each consumer's position and unacknowledged messages;
//! - `documents/<id>` and `documents/<id>.json`: content, then the reference that makes it
//!   visible (written last, removed first).
//!
//! Files are replaced by writing a temporary file then renaming it, so a crash leaves the
//! old or the new version, never half of one.

mod consumer;
mod documents;
mod kv;
mod log;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use tokio::sync::Notify;

pub(crate) use consumer::EmbeddedConsumer;
pub(crate) use documents::EmbeddedDocuments;
pub(crate) use kv::EmbeddedKv;

use crate::{BusError, Message};

/// Everything durable of one in-process bus.
pub(crate) struct Embedded {
    /// The data directory, `None` in memory.
    dir: Option<PathBuf>,
    /// Where documents go without a data directory, made on first use.
    temp_documents: OnceLock<Result<tempfile::TempDir, String>>,
    state: Mutex<State>,
    /// Woken on every change consumers wait for: a durable event, a nak, a consumer state.
    changed: Notify,
    /// Largest KV value, as the bus's largest message.
    max_value: usize,
}

struct State {
    log: log::EventLog,
    buckets: HashMap<String, kv::Bucket>,
    consumers: HashMap<String, consumer::ConsumerState>,
}

impl Embedded {
    /// A store in memory (documents in a temporary directory).
    pub(crate) fn in_memory(log_capacity: usize, max_value: usize) -> Embedded {
        Self::with_log(None, log::EventLog::in_memory(log_capacity), max_value)
    }

    /// Opens `dir`, creating it if needed, and reads back what it holds.
    pub(crate) fn open(
        dir: &Path,
        log_capacity: usize,
        max_value: usize,
    ) -> Result<Embedded, BusError> {
        for sub in ["kv", "consumers", "documents"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| storage(dir, e))?;
        }
        documents::clean_up(&dir.join("documents"))
            .map_err(|e| storage(&dir.join("documents"), e))?;
        let path = dir.join("events.log");
        let log = log::EventLog::open(&path, log_capacity).map_err(|e| storage(&path, e))?;
        Ok(Self::with_log(Some(dir.to_owned()), log, max_value))
    }

    fn with_log(dir: Option<PathBuf>, log: log::EventLog, max_value: usize) -> Embedded {
        Embedded {
            dir,
            temp_documents: OnceLock::new(),
            state: Mutex::new(State {
                log,
                buckets: HashMap::new(),
                consumers: HashMap::new(),
            }),
            changed: Notify::new(),
            max_value,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update persists before it changes memory, or changes memory in one step:
        // a panic elsewhere while holding the lock leaves nothing half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a durable event; returns its sequence.
    /// Stores a durable event; `None` when it was a duplicate, dropped.
    pub(crate) fn append(&self, message: Message) -> Result<Option<u64>, BusError> {
        let seq =
            self.lock().log.append(message).map_err(|e| {
                BusError::Durable(format!("cannot write the embedded event log: {e}"))
            })?;
        if seq.is_some() {
            self.changed.notify_waiters();
        }
        Ok(seq)
    }

    /// The durable events kept, oldest first.
    pub(crate) fn events(&self) -> Vec<Message> {
        self.lock().log.messages()
    }

    /// The documents directory.
    pub(crate) fn documents_dir(&self) -> Result<PathBuf, BusError> {
        if let Some(dir) = &self.dir {
            return Ok(dir.join("documents"));
        }
        let temp = self.temp_documents.get_or_init(|| {
            tempfile::Builder::new()
                .prefix("passerelle-documents-")
                .tempdir()
                .map_err(|e| format!("cannot create a temporary documents directory: {e}"))
        });
        match temp {
            Ok(temp) => Ok(temp.path().to_owned()),
            Err(e) => Err(BusError::Storage(e.clone())),
        }
    }

    fn file(&self, sub: &str, name: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|dir| dir.join(sub).join(format!("{name}.json")))
    }
}

fn storage(path: &Path, e: io::Error) -> BusError {
    BusError::Storage(format!("{}: {e}", path.display()))
}

/// Replaces `path` with `bytes`: the old or the new content, whatever happens.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BusError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| storage(path, e))?;
    io::Write::write_all(&mut temp, bytes).map_err(|e| storage(path, e))?;
    temp.persist(path).map_err(|e| storage(path, e.error))?;
    Ok(())
}

/// Reads a JSON file written by [`write_atomically`], `None` if absent.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, BusError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| BusError::Storage(format!("{}: unreadable: {e}", path.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(storage(path, e)),
    }
}

/// Shared by the handles of one embedded store.
pub(crate) type SharedEmbedded = Arc<Embedded>;
