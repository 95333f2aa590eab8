//! A mailbox's IMAP state, `<mailbox dir>/.imap-state.json`: its UIDVALIDITY (chosen once),
//! the next UID, and each message's UID and flags by the message's file stem. UIDs are
//! given in arrival order (the stems sort by arrival time) and never reused: a message
//! removed by hand leaves a gap. Read-modify-write under the caller's lock; written to a
//! temporary name and renamed.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const STATE_FILE: &str = ".imap-state.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct OnDisk {
    uid_validity: u32,
    next_uid: u32,
    messages: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    uid: u32,
    flags: Vec<String>,
}

/// A message as IMAP sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub uid: u32,
    pub file: PathBuf,
    pub flags: Vec<String>,
}

/// The mailbox as IMAP sees it, messages by ascending UID.
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    pub uid_validity: u32,
    pub next_uid: u32,
    pub messages: Vec<Message>,
}

/// How `STORE` changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagOp {
    Add,
    Remove,
    Replace,
}

fn load(dir: &Path) -> io::Result<OnDisk> {
    match fs::read(dir.join(STATE_FILE)) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(io::Error::other),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Seconds since the epoch: a mailbox recreated later gets another value.
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            Ok(OnDisk {
                uid_validity: u32::try_from(now).unwrap_or(1).max(1),
                next_uid: 1,
                messages: BTreeMap::new(),
            })
        }
        Err(e) => Err(e),
    }
}

fn save(dir: &Path, state: &OnDisk) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{STATE_FILE}.tmp-{}", std::process::id()));
    fs::write(
        &tmp,
        serde_json::to_vec_pretty(state).map_err(io::Error::other)?,
    )?;
    fs::rename(tmp, dir.join(STATE_FILE))
}

/// Gives the new messages their UIDs, forgets the removed ones; the mailbox.
pub(crate) fn sync(dir: &Path) -> io::Result<Mailbox> {
    let mut state = load(dir)?;
    let mut stems: Vec<String> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".eml")?;
                (!stem.starts_with('.')).then(|| stem.to_owned())
            })
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    stems.sort();
    let mut changed = false;
    for stem in &stems {
        if !state.messages.contains_key(stem) {
            let uid = state.next_uid;
            state.next_uid = state.next_uid.saturating_add(1);
            state.messages.insert(
                stem.clone(),
                Entry {
                    uid,
                    flags: Vec::new(),
                },
            );
            changed = true;
        }
    }
    let before = state.messages.len();
    state
        .messages
        .retain(|stem, _| stems.binary_search(stem).is_ok());
    changed |= before != state.messages.len();
    if changed || !dir.join(STATE_FILE).exists() {
        save(dir, &state)?;
    }
    Ok(view(dir, &state))
}

fn view(dir: &Path, state: &OnDisk) -> Mailbox {
    let mut messages: Vec<Message> = state
        .messages
        .iter()
        .map(|(stem, e)| Message {
            uid: e.uid,
            file: dir.join(format!("{stem}.eml")),
            flags: e.flags.clone(),
        })
        .collect();
    messages.sort_by_key(|m| m.uid);
    Mailbox {
        uid_validity: state.uid_validity,
        next_uid: state.next_uid,
        messages,
    }
}

/// Changes the flags of the messages with these UIDs; the mailbox after.
pub(crate) fn store_flags(
    dir: &Path,
    uids: &[u32],
    op: FlagOp,
    flags: &[String],
) -> io::Result<Mailbox> {
    let mut state = load(dir)?;
    for entry in state.messages.values_mut() {
        if !uids.contains(&entry.uid) {
            continue;
        }
        match op {
            FlagOp::Replace => entry.flags.clear(),
            FlagOp::Remove => {
                entry
                    .flags
                    .retain(|f| !flags.iter().any(|g| g.eq_ignore_ascii_case(f)));
                continue;
            }
            FlagOp::Add => {}
        }
        for flag in flags {
            if !entry.flags.iter().any(|f| f.eq_ignore_ascii_case(flag)) {
                entry.flags.push(flag.clone());
            }
        }
    }
    save(dir, &state)?;
    Ok(view(dir, &state))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn uids_follow_arrival_are_kept_and_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(sync(d).unwrap().messages.is_empty());
        for stem in ["002-b", "001-a"] {
            fs::write(d.join(format!("{stem}.eml")), b"x").unwrap();
        }
        let first = sync(d).unwrap();
        let uids: Vec<u32> = first.messages.iter().map(|m| m.uid).collect();
        assert_eq!(uids, vec![1, 2]);
        assert!(first.messages[0].file.ends_with("001-a.eml"));
        store_flags(d, &[2], FlagOp::Add, &["\\Seen".into(), "$MDNSent".into()]).unwrap();
        store_flags(d, &[2], FlagOp::Remove, &["\\seen".into()]).unwrap();
        fs::remove_file(d.join("002-b.eml")).unwrap();
        fs::write(d.join("003-c.eml"), b"x").unwrap();
        let again = sync(d).unwrap();
        assert_eq!(again.uid_validity, first.uid_validity);
        let uids: Vec<u32> = again.messages.iter().map(|m| m.uid).collect();
        assert_eq!(uids, vec![1, 3]);
        fs::write(d.join("002-b.eml"), b"x").unwrap();
        let back = sync(d).unwrap();
        assert_eq!(back.messages.last().unwrap().uid, 4);
        assert!(back.messages.iter().all(|m| m.flags.is_empty()));
    }
}
