//! The embedded durable event log: the last `capacity` durable events, numbered from 1
//! like a JetStream stream, appended to a file when there is a data directory.
//!
//! Record: little-endian `u32` length and JSON `{seq, subject, headers}`, then `u32` length
//! and the payload. A record cut by a crash at the end of the file is dropped on open.
//! The file is rewritten with only the kept events once it holds twice as many.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::{Headers, Message};

#[derive(Serialize, Deserialize)]
struct RecordHead {
    seq: u64,
    subject: String,
    headers: Headers,
}

pub(super) struct EventLog {
    entries: VecDeque<(u64, Message)>,
    next_seq: u64,
    capacity: usize,
    file: Option<LogFile>,
}

struct LogFile {
    path: PathBuf,
    file: File,
    records: usize,
}

impl EventLog {
    pub(super) fn in_memory(capacity: usize) -> EventLog {
        EventLog {
            entries: VecDeque::new(),
            next_seq: 1,
            capacity,
            file: None,
        }
    }

    pub(super) fn open(path: &Path, capacity: usize) -> io::Result<EventLog> {
        let mut log = Self::in_memory(capacity);
        let (records, good_len) = match File::open(path) {
            Ok(mut file) => {
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes)?;
                read_records(&bytes)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => (Vec::new(), 0),
            Err(e) => return Err(e),
        };
        let count = records.len();
        for (seq, message) in records {
            log.next_seq = seq + 1;
            log.keep(seq, message);
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        // Drop a record cut by a crash, so that the next one starts on a boundary.
        file.set_len(good_len as u64)?;
        log.file = Some(LogFile {
            path: path.to_owned(),
            file,
            records: count,
        });
        if count > log.entries.len() {
            log.rewrite()?;
        }
        Ok(log)
    }

    fn keep(&mut self, seq: u64, message: Message) {
        if self.capacity == 0 {
            return;
        }
        while self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back((seq, message));
    }

    /// Stores `message`; returns its sequence, or `None` when it carries the
    /// deduplication id ([`crate::subjects::HEADER_MSG_ID`]) of an event still kept: that
    /// one is dropped, as JetStream drops a duplicate.
    pub(super) fn append(&mut self, message: Message) -> io::Result<Option<u64>> {
        if let Some(id) = message.headers.get(crate::subjects::HEADER_MSG_ID)
            && self
                .entries
                .iter()
                .any(|(_, kept)| kept.headers.get(crate::subjects::HEADER_MSG_ID) == Some(id))
        {
            return Ok(None);
        }
        let seq = self.next_seq;
        if self.capacity > 0
            && let Some(log) = &mut self.file
        {
            log.file.write_all(&encode(seq, &message)?)?;
            log.records += 1;
        }
        self.next_seq += 1;
        self.keep(seq, message);
        if let Some(log) = &self.file
            && log.records > 2 * self.capacity.max(8)
        {
            self.rewrite()?;
        }
        Ok(Some(seq))
    }

    /// Rewrites the file with the kept events only.
    fn rewrite(&mut self) -> io::Result<()> {
        let Some(log) = &mut self.file else {
            return Ok(());
        };
        let dir = log.path.parent().unwrap_or(Path::new("."));
        let mut temp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
        for (seq, message) in &self.entries {
            temp.write_all(&encode(*seq, message)?)?;
        }
        temp.persist(&log.path).map_err(|e| e.error)?;
        log.file = OpenOptions::new().append(true).open(&log.path)?;
        log.records = self.entries.len();
        Ok(())
    }

    pub(super) fn get(&self, seq: u64) -> Option<&Message> {
        let first = self.entries.front()?.0;
        let index = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.entries.get(index).map(|(_, m)| m)
    }

    /// The first kept event at or after `from` whose subject `accept`s.
    pub(super) fn first_from(
        &self,
        from: u64,
        accept: impl Fn(&str) -> bool,
    ) -> Option<(u64, &Message)> {
        self.entries
            .iter()
            .filter(|(seq, _)| *seq >= from)
            .find(|(_, m)| accept(&m.subject))
            .map(|(seq, m)| (*seq, m))
    }

    pub(super) fn messages(&self) -> Vec<Message> {
        self.entries.iter().map(|(_, m)| m.clone()).collect()
    }
}

fn encode(seq: u64, message: &Message) -> io::Result<Vec<u8>> {
    let head = serde_json::to_vec(&RecordHead {
        seq,
        subject: message.subject.clone(),
        headers: message.headers.clone(),
    })?;
    let too_large = |_| io::Error::new(io::ErrorKind::InvalidInput, "record too large");
    let head_len = u32::try_from(head.len()).map_err(too_large)?;
    let payload_len = u32::try_from(message.payload.len()).map_err(too_large)?;
    let mut out = Vec::with_capacity(8 + head.len() + message.payload.len());
    out.extend_from_slice(&head_len.to_le_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(&payload_len.to_le_bytes());
    out.extend_from_slice(&message.payload);
    Ok(out)
}

/// The whole records of `bytes`, and the length they span.
fn read_records(bytes: &[u8]) -> (Vec<(u64, Message)>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let Some((record, next)) = read_record(bytes, at) else {
            return (out, at);
        };
        out.push(record);
        at = next;
    }
}

fn read_record(bytes: &[u8], at: usize) -> Option<((u64, Message), usize)> {
    let (head, at) = read_chunk(bytes, at)?;
    let (payload, at) = read_chunk(bytes, at)?;
    let head: RecordHead = serde_json::from_slice(head).ok()?;
    let message = Message {
        subject: head.subject,
        headers: head.headers,
        payload: Bytes::copy_from_slice(payload),
    };
    Some(((head.seq, message), at))
}

fn read_chunk(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let len_bytes: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let start = at + 4;
    Some((bytes.get(start..start + len)?, start + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: u8) -> Message {
        Message {
            subject: format!("passerelle.events.v1.test.{n}"),
            headers: Headers::from([("h".to_owned(), n.to_string())]),
            payload: Bytes::from(vec![n; 3]),
        }
    }

    #[test]
    fn reopens_and_drops_a_cut_record() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("events.log");
        {
            let mut log = EventLog::open(&path, 100).expect("open");
            for n in 1..=3 {
                assert_eq!(log.append(message(n)).expect("append"), Some(u64::from(n)));
            }
        }
        // A crash in the middle of a fourth record.
        let mut file = OpenOptions::new().append(true).open(&path).expect("file");
        file.write_all(&encode(4, &message(4)).expect("encode")[..10])
            .expect("write");
        drop(file);

        let mut log = EventLog::open(&path, 100).expect("reopen");
        assert_eq!(log.messages(), [message(1), message(2), message(3)]);
        assert_eq!(log.append(message(5)).expect("append"), Some(4));
        drop(log);
        let log = EventLog::open(&path, 100).expect("reopen");
        assert_eq!(log.get(4), Some(&message(5)));
    }

    #[test]
    fn keeps_the_last_events_and_compacts_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("events.log");
        let mut log = EventLog::open(&path, 2).expect("open");
        for n in 1..=40 {
            log.append(message(n)).expect("append");
        }
        assert_eq!(log.messages(), [message(39), message(40)]);
        assert_eq!(log.get(39), Some(&message(39)));
        assert_eq!(log.get(38), None);
        let on_disk = read_records(&std::fs::read(&path).expect("read")).0;
        assert!(on_disk.len() <= 17, "{} records on disk", on_disk.len());
        drop(log);
        let log = EventLog::open(&path, 2).expect("reopen");
        assert_eq!(log.messages(), [message(39), message(40)]);
    }
}
