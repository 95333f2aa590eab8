//! The sandbox's mailboxes on disk, `<data dir>/mss/mailboxes/<address>/`: one `.eml` per
//! message (the message as received, behind a `Return-Path` and a `Received` field) and a
//! `.json` beside it with the envelope (SMTP sender, recipient, authentication, TLS, DSN
//! parameters). Both are written to a temporary name, synced and renamed, the `.json`
//! first: a message is listed once its `.eml` exists, whole. Plain files, so the
//! sandbox-only command `passerelle sandbox mailbox` reads them without a server and
//! while the sandbox runs; they survive restarts.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::mailboxes::normalise;
use super::mime;

/// Errors reading or writing a mailbox.
#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("not a mailbox address: {0:?}")]
    InvalidAddress(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A message in a mailbox, as far as its top-level header fields and parts tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// The sandbox's id of the message in this mailbox (its file's stem).
    pub id: String,
    /// `Message-ID`, with its angle brackets.
    pub message_id: String,
    /// The address of `From`.
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// `Subject`, RFC 2047 words decoded.
    pub subject: String,
    /// `Date`, as written.
    pub date: String,
    pub attachments: Vec<StoredAttachment>,
    /// The `X-MSS-*` header fields (`X-MSS-MES`, `X-MSS-INS`, `X-MSS-CODECDA`,
    /// `X-MSS-NIL`), names in upper case.
    pub mss_headers: BTreeMap<String, String>,
    /// Size of the stored `.eml`.
    pub size: u64,
    /// The `.eml` file.
    pub file: PathBuf,
    /// How it arrived (absent if its `.json` is missing or unreadable).
    pub envelope: Option<Envelope>,
}

impl StoredMessage {
    /// True when the sender refused the patient's replies: `X-MSS-MES: FIN`, or the older
    /// convention, a subject that is exactly `[FIN]`.
    pub fn replies_refused(&self) -> bool {
        self.mss_headers
            .get("X-MSS-MES")
            .is_some_and(|v| v.trim() == "FIN")
            || self.subject.trim() == "[FIN]"
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAttachment {
    pub file_name: String,
    pub media_type: String,
    /// Decoded size in bytes.
    pub size: u64,
}

/// The SMTP envelope and session of a received message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Envelope {
    /// `MAIL FROM`.
    pub mail_from: String,
    /// The `RCPT TO` of this mailbox.
    pub recipient: String,
    /// RFC 3339, UTC.
    pub received_at: String,
    /// The sandbox's queue id (the `250` reply to DATA says it).
    pub queue_id: String,
    /// `certificate`, `external` or `password`.
    pub auth_method: String,
    /// The certificate's subject CN or the account's user name.
    pub auth_identity: String,
    pub tls_version: String,
    pub tls_cipher: String,
    /// DSN parameters (RFC 3461) as sent.
    pub notify: Option<String>,
    pub orcpt: Option<String>,
    pub ret: Option<String>,
    pub envid: Option<String>,
}

/// The folder of a mailbox: `<data dir>/mss/mailboxes/<address in lower case>`.
pub fn mailbox_dir(data_dir: &Path, address: &str) -> Result<PathBuf, MailboxError> {
    let address =
        normalise(address).ok_or_else(|| MailboxError::InvalidAddress(address.to_owned()))?;
    Ok(data_dir.join("mss").join("mailboxes").join(address))
}

/// The messages of a mailbox, oldest first; none when it never received any.
pub fn read_mailbox(data_dir: &Path, address: &str) -> Result<Vec<StoredMessage>, MailboxError> {
    let dir = mailbox_dir(data_dir, address)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MailboxError::Io { path, source }
    };
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&dir)(e)),
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let path = entry.map_err(io(&dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".eml") && !name.starts_with('.') {
            files.push(path);
        }
    }
    files.sort();
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let raw = match fs::read(&file) {
            Ok(raw) => raw,
            // Removed by hand between the listing and now.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&file)(e)),
        };
        let envelope = fs::read(file.with_extension("json"))
            .ok()
            .and_then(|j| serde_json::from_slice::<Envelope>(&j).ok());
        out.push(summarise(&raw, file, envelope));
    }
    Ok(out)
}

/// A message's summary from its bytes.
pub(crate) fn summarise(raw: &[u8], file: PathBuf, envelope: Option<Envelope>) -> StoredMessage {
    let (headers, _) = mime::split(raw);
    let text = |name: &str| headers.get(name).unwrap_or("").to_owned();
    let list = |name: &str| {
        headers
            .all(name)
            .flat_map(mime::addresses)
            .collect::<Vec<_>>()
    };
    let mut mss_headers = BTreeMap::new();
    for (name, value) in headers.iter() {
        if name.len() > 6
            && name
                .get(..6)
                .is_some_and(|p| p.eq_ignore_ascii_case("X-MSS-"))
        {
            mss_headers
                .entry(name.to_ascii_uppercase())
                .or_insert_with(|| value.to_owned());
        }
    }
    StoredMessage {
        id: file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_owned(),
        message_id: text("Message-ID"),
        from: list("From").into_iter().next().unwrap_or_default(),
        to: list("To"),
        cc: list("Cc"),
        subject: mime::decode_words(&text("Subject")),
        date: text("Date"),
        attachments: mime::attachments(raw)
            .into_iter()
            .map(|a| StoredAttachment {
                file_name: a.file_name,
                media_type: a.media_type,
                size: a.size,
            })
            .collect(),
        mss_headers,
        size: raw.len() as u64,
        file,
        envelope,
    }
}

/// Puts a message in a mailbox: `trace` (the `Return-Path` and `Received` fields), then
/// the message's bytes. The envelope is written first, the message last (its rename is
/// the commit). Returns the new message's path.
pub(crate) fn deliver(
    data_dir: &Path,
    address: &str,
    trace: &[u8],
    message: &[u8],
    envelope: &Envelope,
) -> Result<PathBuf, MailboxError> {
    let dir = mailbox_dir(data_dir, address)?;
    fs::create_dir_all(&dir).map_err(|source| MailboxError::Io {
        path: dir.clone(),
        source,
    })?;
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let stem = format!("{nanos:020}-{}", envelope.queue_id);
    let json = serde_json::to_vec_pretty(envelope).unwrap_or_default();
    write_atomic(&dir.join(format!("{stem}.json")), &[&json])?;
    let eml = dir.join(format!("{stem}.eml"));
    write_atomic(&eml, &[trace, message])?;
    // The renames themselves survive a crash once the folder is synced (best effort: not
    // every platform opens folders).
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(eml)
}

fn write_atomic(path: &Path, chunks: &[&[u8]]) -> Result<(), MailboxError> {
    let io = |source| MailboxError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("message");
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let mut file = fs::File::create(&tmp).map_err(io)?;
    for chunk in chunks {
        file.write_all(chunk).map_err(io)?;
    }
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn delivered_messages_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let addr = "Secretariat@passerelle-sandbox.mssante.fr";
        assert!(read_mailbox(dir.path(), addr).unwrap().is_empty());
        for (n, subject) in ["=?utf-8?Q?premi=C3=A8re?=", "[FIN]"].iter().enumerate() {
            let msg = format!(
                "From: <lps@passerelle-sandbox.mssante.fr>\r\nTo: a@b.fr, \"C, D\" <c@d.fr>\r\n\
                 Subject: {subject}\r\nDate: Mon, 1 Jun 2026 10:00:00 +0200\r\n\
                 Message-ID: <{n}@x>\r\nX-MSS-MES: FIN\r\n\r\nbody\r\n"
            );
            let envelope = Envelope {
                mail_from: "lps@passerelle-sandbox.mssante.fr".into(),
                queue_id: format!("Q{n}"),
                ..Envelope::default()
            };
            deliver(
                dir.path(),
                addr,
                b"Return-Path: <lps@passerelle-sandbox.mssante.fr>\r\n",
                msg.as_bytes(),
                &envelope,
            )
            .unwrap();
        }
        let got = read_mailbox(dir.path(), addr).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].subject, "première");
        assert_eq!(got[0].message_id, "<0@x>");
        assert_eq!(got[0].to, vec!["a@b.fr", "c@d.fr"]);
        assert_eq!(got[0].envelope.as_ref().unwrap().queue_id, "Q0");
        assert_eq!(got[1].mss_headers.get("X-MSS-MES").unwrap(), "FIN");
        assert!(got[1].replies_refused());
        assert!(matches!(
            read_mailbox(dir.path(), "../etc@x.fr"),
            Err(MailboxError::InvalidAddress(_))
        ));
    }
}
