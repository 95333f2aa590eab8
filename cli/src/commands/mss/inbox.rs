//! `passerelle mss inbox | fetch | watch`: what the mailboxes mss-service reads received —
//! listed, one message written into a folder with its documents, or each message printed as
//! it arrives.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use passerelle_proto::mss::v1::{
    GetMessageRequest, ListMessagesRequest, ReceivedDocument, WatchMessagesRequest,
};

use super::{DEFAULT_MSS_ENDPOINT, client, print};
use crate::{documents, output};

#[derive(Debug, Args)]
pub struct InboxArgs {
    /// The mailbox's MSSanté address, one the service reads ([mss.receiving]).
    #[arg(long)]
    pub mailbox: String,
    /// At most this many messages, newest first (default: the service's, 100).
    #[arg(long, default_value_t = 0)]
    pub limit: u32,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// gRPC endpoint of the MSS service.
    #[arg(long, env = "PASSERELLE_MSS_ENDPOINT", default_value = DEFAULT_MSS_ENDPOINT)]
    pub endpoint: String,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The mailbox's MSSanté address, one the service reads.
    #[arg(long)]
    pub mailbox: String,
    /// The message's Message-ID as `passerelle mss inbox` lists it (angle brackets optional).
    #[arg(long)]
    pub message_id: String,
    /// The folder written: the attachments, IHE_XDM.zip, the documents it holds under
    /// IHE_XDM/, and message.json (created if missing).
    #[arg(long)]
    pub output: PathBuf,
    /// Replace files that already exist (otherwise nothing is written when one does).
    #[arg(long)]
    pub force: bool,
    /// gRPC endpoint of the MSS service.
    #[arg(long, env = "PASSERELLE_MSS_ENDPOINT", default_value = DEFAULT_MSS_ENDPOINT)]
    pub endpoint: String,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The mailbox's MSSanté address, one the service reads.
    #[arg(long)]
    pub mailbox: String,
    /// One JSON object per line instead of readable lines.
    #[arg(long)]
    pub json: bool,
    /// gRPC endpoint of the MSS service.
    #[arg(long, env = "PASSERELLE_MSS_ENDPOINT", default_value = DEFAULT_MSS_ENDPOINT)]
    pub endpoint: String,
}

pub async fn inbox(a: InboxArgs) -> anyhow::Result<ExitCode> {
    let mut c = client(&a.endpoint).await?;
    let r = c
        .list_messages(ListMessagesRequest {
            mailbox: a.mailbox.trim().to_owned(),
            limit: a.limit,
        })
        .await;
    Ok(output::finish(
        r,
        a.json,
        print::inbox_json,
        print::inbox_table,
    ))
}

pub async fn watch(a: WatchArgs) -> anyhow::Result<ExitCode> {
    let mailbox = a.mailbox.trim().to_owned();
    let mut c = client(&a.endpoint).await?;
    // WatchMessages filters whatever it is given: ask first whether the service reads this
    // mailbox, so that a typo is an error rather than an endless silence.
    if let Err(status) = c
        .list_messages(ListMessagesRequest {
            mailbox: mailbox.clone(),
            limit: 1,
        })
        .await
    {
        eprintln!("{}", output::status_message(&status));
        return Ok(ExitCode::from(2));
    }
    let mut stream = match c
        .watch_messages(WatchMessagesRequest {
            mailbox: mailbox.clone(),
        })
        .await
    {
        Ok(r) => r.into_inner(),
        Err(status) => {
            eprintln!("{}", output::status_message(&status));
            return Ok(ExitCode::from(2));
        }
    };
    // On stderr, so that stdout holds the messages only (and a script knows when the watch
    // has begun).
    eprintln!("Watching {mailbox} (Ctrl-C to stop)…");
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = &mut interrupted => return Ok(ExitCode::SUCCESS),
            next = stream.message() => match next {
                Ok(Some(m)) => {
                    let mut out = std::io::stdout().lock();
                    if a.json {
                        writeln!(out, "{}", print::summary_value(&m))?;
                    } else {
                        writeln!(out, "{}", print::summary_table(&m))?;
                    }
                    out.flush()?;
                }
                Ok(None) => {
                    eprintln!("error: the MSS service ended the watch (stopped?)");
                    return Ok(ExitCode::FAILURE);
                }
                Err(status) => {
                    eprintln!("{}", output::status_message(&status));
                    return Ok(ExitCode::from(2));
                }
            },
        }
    }
}

/// A file name from a message (the sender's choice) as one safe path component: `/`, `\`,
/// NUL and control characters become `_`, a name that is empty, `.`, `..` or hidden gets a
/// `_` in front, and it is cut to 200 bytes. `fallback` when the name is empty.
pub fn safe_file_name(name: &str, fallback: &str) -> String {
    let mut out: String = name
        .trim()
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c == '\0' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if out.is_empty() {
        out = fallback.to_owned();
    }
    if out.starts_with('.') {
        out.insert(0, '_');
    }
    if out.len() > 200 {
        let mut cut = 200;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// `name` made unique among `taken` (case-insensitively, as some file systems compare):
/// `lettre.pdf`, `lettre-2.pdf`, …
fn unique_name(name: &str, taken: &mut HashSet<String>) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    let mut candidate = name.to_owned();
    let mut n = 2;
    while !taken.insert(candidate.to_lowercase()) {
        candidate = format!("{stem}-{n}{ext}");
        n += 1;
    }
    candidate
}

/// Where each document of a message goes, relative to the output folder (`None`: not
/// written), and the names that were rewritten (original, written).
pub fn plan(documents: &[ReceivedDocument]) -> (Vec<Option<String>>, Vec<(String, String)>) {
    let mut top = HashSet::from(["message.json".to_owned(), "ihe_xdm".to_owned()]);
    let mut inside = HashSet::new();
    let mut renamed = Vec::new();
    let mut paths = Vec::with_capacity(documents.len());
    for (i, d) in documents.iter().enumerate() {
        let fallback = match d.role.as_str() {
            "xdm" => "IHE_XDM.zip".to_owned(),
            "raw" => "message.eml".to_owned(),
            _ => format!("document-{}", i + 1),
        };
        let safe = safe_file_name(&d.file_name, &fallback);
        let path = if d.role == "xdm-document" {
            let name = unique_name(&safe, &mut inside);
            format!("IHE_XDM/{name}")
        } else {
            unique_name(&safe, &mut top)
        };
        let written_name = path.rsplit('/').next().unwrap_or(&path);
        if !d.file_name.is_empty() && written_name != d.file_name {
            renamed.push((d.file_name.clone(), path.clone()));
        }
        paths.push(Some(path));
    }
    (paths, renamed)
}

pub async fn fetch(a: FetchArgs) -> anyhow::Result<ExitCode> {
    let mut c = client(&a.endpoint).await?;
    let message = match c
        .get_message(GetMessageRequest {
            mailbox: a.mailbox.trim().to_owned(),
            message_id: a.message_id.trim().to_owned(),
        })
        .await
    {
        Ok(r) => r.into_inner(),
        Err(status) => {
            eprintln!("{}", output::status_message(&status));
            return Ok(ExitCode::from(2));
        }
    };
    let (paths, renamed) = plan(&message.documents);
    let dir = &a.output;
    let targets: Vec<PathBuf> = paths
        .iter()
        .flatten()
        .map(|p| dir.join(p))
        .chain([dir.join("message.json")])
        .collect();
    if !a.force {
        let existing: Vec<String> = targets
            .iter()
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            eprintln!(
                "error: already there, not overwritten (--force to replace them; nothing was \
                 written): {}",
                existing.join(", ")
            );
            return Ok(ExitCode::from(2));
        }
    }
    if paths.iter().flatten().any(|p| p.starts_with("IHE_XDM/")) {
        std::fs::create_dir_all(dir.join("IHE_XDM"))
    } else {
        std::fs::create_dir_all(dir)
    }
    .with_context(|| format!("cannot create {}", dir.display()))?;

    let mut lines = Vec::new();
    for (d, path) in message.documents.iter().zip(&paths) {
        let Some(path) = path else { continue };
        let written = documents::download_to(&a.endpoint, &d.document_id, &dir.join(path), a.force)
            .await
            .with_context(|| format!("downloading {path}"))?;
        lines.push(format!(
            "  {path}  ({}, {written} bytes, {})",
            d.media_type, d.role
        ));
    }
    let json = serde_json::to_vec_pretty(&print::message_value(&message, &paths))?;
    write_new(&dir.join("message.json"), &json, a.force)?;

    let summary = message.summary.unwrap_or_default();
    println!(
        "✔ message {} written to {}",
        summary.message_id,
        dir.display()
    );
    if summary.message_id_derived {
        println!("  {}", print::DERIVED_NOTE);
    }
    println!("  message.json  (the metadata)");
    for line in lines {
        println!("{line}");
    }
    for (original, written) in renamed {
        println!("  note: {original:?} written as {written} (not a safe file name as sent)");
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to `path`, which must not exist unless `overwrite`.
fn write_new(path: &Path, bytes: &[u8], overwrite: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists: not overwritten (--force to replace it)",
                path.display()
            )
        } else {
            anyhow::Error::new(e).context(format!("cannot write {}", path.display()))
        }
    })?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(role: &str, name: &str) -> ReceivedDocument {
        ReceivedDocument {
            role: role.to_owned(),
            file_name: name.to_owned(),
            ..ReceivedDocument::default()
        }
    }

    #[test]
    fn names_never_leave_the_folder() {
        for (name, safe) in [
            ("lettre.pdf", "lettre.pdf"),
            ("../../etc/passwd", "_.._.._etc_passwd"),
            ("..", "_.."),
            (".", "_."),
            ("/etc/passwd", "_etc_passwd"),
            ("a\0b.pdf", "a_b.pdf"),
            ("..\\..\\boot.ini", "_.._.._boot.ini"),
            (".bashrc", "_.bashrc"),
            ("", "document-1"),
            ("compte rendu é.pdf", "compte rendu é.pdf"),
        ] {
            let got = safe_file_name(name, "document-1");
            assert_eq!(got, safe, "{name:?}");
            assert!(!got.contains('/') && !got.contains('\0') && got != "..");
            assert_eq!(Path::new(&got).components().count(), 1, "{got}");
        }
        assert!(safe_file_name(&"é".repeat(300), "x").len() <= 200);
    }

    #[test]
    fn plan_puts_the_xdm_documents_in_their_folder_and_keeps_names_apart() {
        let docs = [
            doc("attachment", "lettre.pdf"),
            doc("xdm", "IHE_XDM.zip"),
            doc("xdm-document", "DOC0001.XML"),
            doc("attachment", "LETTRE.pdf"),
            doc("attachment", "../message.json"),
            doc("attachment", "message.json"),
            doc("attachment", ""),
        ];
        let (paths, renamed) = plan(&docs);
        let paths: Vec<String> = paths.into_iter().flatten().collect();
        assert_eq!(
            paths,
            [
                "lettre.pdf",
                "IHE_XDM.zip",
                "IHE_XDM/DOC0001.XML",
                "LETTRE-2.pdf",
                "_.._message.json",
                "message-2.json",
                "document-7",
            ]
        );
        assert_eq!(renamed.len(), 3, "{renamed:?}");
    }
}
