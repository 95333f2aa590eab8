//! What `passerelle mss …` prints: a readable table, or one JSON object with stable names.

use std::fmt::Write;

use passerelle_proto::mss::v1::{
    Audience, ImportDirectoryResponse, MailboxType, PreviewResponse, SearchDirectoryResponse,
    SendResponse,
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
