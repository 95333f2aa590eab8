//! What `passerelle mss …` prints: a readable table, or one JSON object with stable names.

use std::fmt::Write;

use passerelle_proto::mss::v1::{
    AcknowledgementState, Audience, ImportDirectoryResponse, ListMessagesResponse, MailboxType,
    PreviewResponse, ReceivedDocument, ReceivedMessage, ReceivedMessageSummary, ReceivedStatus,
    SearchDirectoryResponse, SendResponse,
};
use serde_json::{Value, json};

fn audience_name(a: i32) -> &'static str {
    match Audience::try_from(a).unwrap_or(Audience::Unspecified) {
        Audience::Professionals => "professionals",
        Audience::Patient => "patient",
        Audience::Unspecified => "unspecified",
    }
}

fn mailbox_type_name(t: i32) -> &'static str {
    match MailboxType::try_from(t).unwrap_or(MailboxType::Unspecified) {
        MailboxType::Personal => "PER",
        MailboxType::Organisational => "ORG",
        MailboxType::Applicative => "APP",
        MailboxType::Practice => "CAB",
        MailboxType::Unspecified => "",
    }
}

/// `message_id` is the first message's (the professionals' when there are two); `recipients`
/// every address the server accepted; `messages` one entry per audience.
pub fn send_json(r: &SendResponse) -> String {
    let recipients: Vec<&String> = r.messages.iter().flat_map(|m| &m.recipients).collect();
    json!({
        "message_id": r.messages.first().map(|m| m.message_id.as_str()).unwrap_or_default(),
        "recipients": recipients,
        "messages": r.messages.iter().map(|m| json!({
            "audience": audience_name(m.audience),
            "message_id": m.message_id,
            "recipients": m.recipients,
        })).collect::<Vec<Value>>(),
        "rule": r.rule,
        "idempotency_key": r.idempotency_key,
    })
    .to_string()
}

pub fn send_table(r: &SendResponse) -> String {
    let mut s = String::new();
    for m in &r.messages {
        let _ = writeln!(s, "✔ sent to the {}", audience_name(m.audience));
        let _ = writeln!(s, "  Message-ID   {}", m.message_id);
        for to in &m.recipients {
            let _ = writeln!(s, "  accepted     {to}");
        }
    }
    let _ = writeln!(s, "MSSanté rule   {}", r.rule);
    let _ = writeln!(s, "Idempotency key {}", r.idempotency_key);
    s
}

pub fn preview_json(r: &PreviewResponse) -> String {
    json!({
        "messages": r.messages.iter().map(|m| json!({
            "audience": audience_name(m.audience),
            "message_id": m.message_id,
            "from": m.from,
            "to": m.to,
            "cc": m.cc,
            "subject": m.subject,
            "headers": m.headers.iter().map(|h| json!({"name": h.name, "value": h.value})).collect::<Vec<Value>>(),
            "text": m.text,
            "html": m.html,
            "attachments": m.attachments.iter().map(|a| json!({
                "file_name": a.file_name,
                "media_type": a.media_type,
                "size": a.size,
            })).collect::<Vec<Value>>(),
            "xdm_entries": m.xdm_entries,
        })).collect::<Vec<Value>>(),
        "rule": r.rule,
        "idempotency_key": r.idempotency_key,
    })
    .to_string()
}

pub fn preview_table(r: &PreviewResponse) -> String {
    let mut s = String::new();
    for m in &r.messages {
        let _ = writeln!(
            s,
            "── message to the {} (not sent) ──",
            audience_name(m.audience)
        );
        for h in &m.headers {
            let _ = writeln!(s, "{}: {}", h.name, h.value);
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "{}", m.text.trim_end());
        let _ = writeln!(s);
        for a in &m.attachments {
            let _ = writeln!(s, "📎 {} ({}, {} bytes)", a.file_name, a.media_type, a.size);
        }
        for e in &m.xdm_entries {
            let _ = writeln!(s, "   IHE_XDM.zip: {e}");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "MSSanté rule   {}", r.rule);
    s
}

pub fn directory_json(r: &SearchDirectoryResponse) -> String {
    json!({
        "professionals": r.professionals.iter().map(|p| json!({
            "rpps": p.rpps,
            "last_name": p.last_name,
            "first_name": p.first_name,
            "profession": p.profession,
            "addresses": p.addresses.iter().map(|a| json!({
                "address": a.address,
                "type": mailbox_type_name(a.r#type),
                "description": a.description,
            })).collect::<Vec<Value>>(),
        })).collect::<Vec<Value>>(),
    })
    .to_string()
}

pub fn directory_table(r: &SearchDirectoryResponse) -> String {
    let mut s = String::new();
    if r.professionals.is_empty() {
        let _ = writeln!(s, "No professional found.");
    }
    for p in &r.professionals {
        if p.rpps.is_empty() && p.first_name.is_empty() && p.profession.is_empty() {
            // An organisation, found by one of its addresses.
            let _ = writeln!(s, "{} (organisation)", p.last_name);
        } else {
            let _ = writeln!(
                s,
                "{} {} (RPPS {}) {}",
                p.last_name, p.first_name, p.rpps, p.profession
            );
        }
        if p.addresses.is_empty() {
            let _ = writeln!(s, "  no MSSanté mailbox");
        }
        for a in &p.addresses {
            let _ = writeln!(
                s,
                "  {:<4} {}{}",
                mailbox_type_name(a.r#type),
                a.address,
                if a.description.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", a.description)
                }
            );
        }
    }
    s
}

pub fn import_json(r: &ImportDirectoryResponse) -> String {
    json!({
        "source": r.source,
        "lines": r.lines,
        "mailboxes": r.mailboxes,
        "duplicates": r.duplicates,
        "rejected": r.rejected,
        "rejected_lines": r.rejected_lines.iter().map(|l| json!({
            "line": l.line,
            "reason": l.reason,
        })).collect::<Vec<Value>>(),
        "latin1_lines": r.latin1_lines,
    })
    .to_string()
}

pub fn import_table(r: &ImportDirectoryResponse) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "✔ imported {}", r.source);
    let _ = writeln!(s, "  lines        {}", r.lines);
    let _ = writeln!(s, "  mailboxes    {}", r.mailboxes);
    let _ = writeln!(s, "  duplicates   {}", r.duplicates);
    let _ = writeln!(s, "  rejected     {}", r.rejected);
    if r.latin1_lines > 0 {
        let _ = writeln!(s, "  read as Latin-1 {}", r.latin1_lines);
    }
    for l in &r.rejected_lines {
        let _ = writeln!(s, "  line {:>7}: {}", l.line, l.reason);
    }
    if (r.rejected_lines.len() as u64) < r.rejected {
        let _ = writeln!(
            s,
            "  … and {} more rejected line(s)",
            r.rejected - r.rejected_lines.len() as u64
        );
    }
    s
}

/// What the human output says of a Message-ID the service derived.
pub const DERIVED_NOTE: &str = "(no Message-ID: derived from the mailbox, UIDVALIDITY and UID)";

/// A reception time in RFC 3339 (UTC); empty when unknown.
pub fn rfc3339(unix_ms: i64) -> String {
    if unix_ms <= 0 {
        return String::new();
    }
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub fn received_status_name(s: i32) -> &'static str {
    match ReceivedStatus::try_from(s).unwrap_or(ReceivedStatus::Unspecified) {
        ReceivedStatus::Processed => "PROCESSED",
        ReceivedStatus::SetAside => "SET_ASIDE",
        ReceivedStatus::Unspecified => "UNSPECIFIED",
    }
}

pub fn acknowledgement_state_name(s: i32) -> &'static str {
    match AcknowledgementState::try_from(s).unwrap_or(AcknowledgementState::Unspecified) {
        AcknowledgementState::AcknowledgementNotRequested => "NOT_REQUESTED",
        AcknowledgementState::AcknowledgementSent => "SENT",
        AcknowledgementState::AcknowledgementHeld => "HELD",
        AcknowledgementState::AcknowledgementFailed => "FAILED",
        AcknowledgementState::AcknowledgementUncertain => "UNCERTAIN",
        AcknowledgementState::Unspecified => "UNSPECIFIED",
    }
}

fn non_empty(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::from(s)
    }
}

fn received_document_value(d: &ReceivedDocument) -> Value {
    json!({
        "file_name": d.file_name,
        "media_type": d.media_type,
        "size": d.size,
        "document_id": d.document_id,
        "role": d.role,
        "sha256": d.sha256,
    })
}

/// One received message as `passerelle mss inbox --json` and `watch --json` print it.
pub fn summary_value(m: &ReceivedMessageSummary) -> Value {
    json!({
        "mailbox": m.mailbox,
        "message_id": m.message_id,
        "message_id_derived": m.message_id_derived,
        "from": m.from,
        "subject": m.subject,
        "received": rfc3339(m.received_unix_ms),
        "attachments": m.attachments.iter().map(received_document_value).collect::<Vec<Value>>(),
        "patient_ins": m.patient_ins.as_ref().map(|i| json!({
            "matricule": i.matricule,
            "key": i.key,
            "oid": i.oid,
            "oid_qualifies": i.oid_qualifies,
        })),
        "status": received_status_name(m.status),
        "problem": non_empty(&m.problem),
        "problem_code": non_empty(&m.problem_code),
        "acknowledgement": m.acknowledgement.as_ref().map(|a| json!({
            "state": acknowledgement_state_name(a.state),
            "to": a.to,
            "detail": a.detail,
            "mdn_message_id": a.mdn_message_id,
        })),
    })
}

pub fn inbox_json(r: &ListMessagesResponse) -> String {
    json!({
        "messages": r.messages.iter().map(summary_value).collect::<Vec<Value>>(),
    })
    .to_string()
}

/// One received message, a few readable lines.
pub fn summary_table(m: &ReceivedMessageSummary) -> String {
    let mut s = String::new();
    if m.message_id_derived {
        let _ = writeln!(s, "✉ {}  {DERIVED_NOTE}", m.message_id);
    } else {
        let _ = writeln!(s, "✉ {}", m.message_id);
    }
    let _ = writeln!(s, "  From         {}", m.from);
    let _ = writeln!(s, "  Subject      {}", m.subject);
    let _ = writeln!(s, "  Received     {}", rfc3339(m.received_unix_ms));
    match &m.patient_ins {
        Some(i) => {
            let _ = writeln!(
                s,
                "  Patient INS  {}{}  OID {}{}",
                i.matricule,
                i.key,
                i.oid,
                if i.oid_qualifies {
                    ""
                } else {
                    "  (not a qualified INS's OID)"
                }
            );
        }
        None => {
            let _ = writeln!(s, "  Patient INS  none");
        }
    }
    for a in &m.attachments {
        let _ = writeln!(
            s,
            "  📎 {} ({}, {} bytes)",
            a.file_name, a.media_type, a.size
        );
    }
    if m.status == ReceivedStatus::SetAside as i32 {
        let code = if m.problem_code.is_empty() {
            String::new()
        } else {
            format!(" [{}]", m.problem_code)
        };
        let _ = writeln!(s, "  Status       SET ASIDE: {}{code}", m.problem);
    } else {
        let _ = writeln!(s, "  Status       {}", received_status_name(m.status));
    }
    if let Some(a) = &m.acknowledgement {
        let mut line = acknowledgement_state_name(a.state).to_owned();
        if !a.to.is_empty() {
            let _ = write!(line, " to {}", a.to);
        }
        if !a.detail.is_empty() {
            let _ = write!(line, " ({})", a.detail);
        }
        let _ = writeln!(s, "  Acknowledgement {line}");
    }
    s
}

pub fn inbox_table(r: &ListMessagesResponse) -> String {
    if r.messages.is_empty() {
        return "No message received.\n".to_owned();
    }
    r.messages
        .iter()
        .map(summary_table)
        .collect::<Vec<String>>()
        .join("\n")
}

/// `message.json` of `passerelle mss fetch`: the whole message, each document with the
/// file it was written to (relative to the folder), if any.
pub fn message_value(m: &ReceivedMessage, paths: &[Option<String>]) -> Value {
    let mut v = m.summary.as_ref().map(summary_value).unwrap_or(json!({}));
    if let Value::Object(o) = &mut v {
        o.insert("to".into(), json!(m.to));
        o.insert("cc".into(), json!(m.cc));
        o.insert("date".into(), json!(m.date));
        o.insert("text".into(), json!(m.text));
        o.insert("html".into(), json!(m.html));
        o.insert(
            "mss_headers".into(),
            m.mss_headers
                .iter()
                .map(|h| json!({"name": h.name, "value": h.value}))
                .collect::<Vec<Value>>()
                .into(),
        );
        o.insert("uid_validity".into(), json!(m.uid_validity));
        o.insert("uid".into(), json!(m.uid));
        o.insert(
            "documents".into(),
            m.documents
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let mut v = received_document_value(d);
                    if let Value::Object(o) = &mut v {
                        o.insert("unique_id".into(), non_empty(&d.unique_id));
                        o.insert("title".into(), non_empty(&d.title));
                        o.insert("type_code".into(), non_empty(&d.type_code));
                        o.insert("creation_time".into(), non_empty(&d.creation_time));
                        o.insert(
                            "path".into(),
                            paths
                                .get(i)
                                .cloned()
                                .flatten()
                                .map_or(Value::Null, Value::from),
                        );
                    }
                    v
                })
                .collect::<Vec<Value>>()
                .into(),
        );
    }
    v
}
