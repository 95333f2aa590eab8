//! What `passerelle dmp …` prints: a readable table, or one JSON object with stable names.

use std::fmt::Write;
use std::path::Path;

use passerelle_proto::dmp::v1::{
    Authorization, DepositResponse, DmpState, DocumentChangeResponse, DocumentEntry,
    DocumentStatus, GetDocumentResponse, GetStatusResponse, ListAccessibleResponse,
    ListDocumentsResponse, SetAuthorizationResponse, Visibility,
};
use serde_json::{Value, json};

fn state_name(s: i32) -> &'static str {
    match DmpState::try_from(s).unwrap_or(DmpState::Unspecified) {
        DmpState::NotCreated => "NOT_CREATED",
        DmpState::Open => "OPEN",
        DmpState::Closed => "CLOSED",
        DmpState::Unspecified => "UNSPECIFIED",
    }
}

fn authorization_name(a: i32) -> &'static str {
    match Authorization::try_from(a).unwrap_or(Authorization::Unspecified) {
        Authorization::None => "NONE",
        Authorization::Valid => "VALID",
        Authorization::Forbidden => "FORBIDDEN",
        Authorization::Unspecified => "UNSPECIFIED",
    }
}

pub fn document_status_name(s: i32) -> &'static str {
    match DocumentStatus::try_from(s).unwrap_or(DocumentStatus::Unspecified) {
        DocumentStatus::Approved => "APPROVED",
        DocumentStatus::Archived => "ARCHIVED",
        DocumentStatus::Deprecated => "DEPRECATED",
        DocumentStatus::Deleted => "DELETED",
        DocumentStatus::Unspecified => "UNSPECIFIED",
    }
}

pub fn status_json(r: &GetStatusResponse) -> String {
    json!({
        "state": state_name(r.state),
        "authorization": authorization_name(r.authorization),
        "authorization_code": r.authorization_code,
        "attending_physician": r.attending_physician,
        "request_id": r.request_id,
    })
    .to_string()
}

pub fn status_table(r: &GetStatusResponse) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "DMP                  {}", state_name(r.state));
    let _ = writeln!(
        s,
        "Your authorisation   {}{}",
        authorization_name(r.authorization),
        if r.authorization_code.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.authorization_code)
        }
    );
    let _ = writeln!(
        s,
        "Médecin traitant     {}",
        if r.attending_physician { "yes" } else { "no" }
    );
    if r.authorization == Authorization::None as i32 {
        let _ = writeln!(
            s,
            "To access it, with the patient's consent: passerelle dmp authorize --ins …"
        );
    }
    let _ = writeln!(s, "Request id           {}", r.request_id);
    s
}

pub fn authorization_json(r: &SetAuthorizationResponse) -> String {
    json!({"status": r.status, "context": r.context, "request_id": r.request_id}).to_string()
}

pub fn authorization_table(r: &SetAuthorizationResponse) -> String {
    let mut s = r.status.clone();
    if !r.context.is_empty() {
        let _ = write!(s, ": {}", r.context);
    }
    let _ = writeln!(s, "\nRequest id  {}", r.request_id);
    s
}

pub fn accessible_json(r: &ListAccessibleResponse) -> String {
    let patients: Vec<Value> = r
        .patients
        .iter()
        .map(|p| {
            json!({
                "ins": p.ins, "ins_oid": p.ins_oid, "family_name": p.family_name,
                "given_name": p.given_name, "birth_date": p.birth_date,
                "attending_physician": p.attending_physician,
                "last_access": p.last_access, "last_update": p.last_update,
            })
        })
        .collect();
    json!({"patients": patients, "request_id": r.request_id}).to_string()
}

pub fn accessible_table(r: &ListAccessibleResponse) -> String {
    let mut s = format!("{} DMP(s)\n", r.patients.len());
    for p in &r.patients {
        let _ = writeln!(
            s,
            "  {}  {} {}  born {}{}",
            p.ins,
            p.family_name,
            p.given_name,
            p.birth_date,
            if p.attending_physician {
                "  (médecin traitant)"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(s, "Request id  {}", r.request_id);
    s
}

fn visibility_json(v: Option<&Visibility>) -> Value {
    let v = v.copied().unwrap_or_default();
    json!({
        "professionals": v.professionals,
        "patient": v.patient,
        "legal_representatives": v.legal_representatives,
    })
}

pub fn entry_json(d: &DocumentEntry) -> Value {
    json!({
        "unique_id": d.unique_id,
        "title": d.title,
        "type_code": d.type_code,
        "type_label": d.type_label,
        "status": document_status_name(d.status),
        "confidentiality": d.confidentiality,
        "visibility": visibility_json(d.visibility.as_ref()),
        "created": d.created,
        "mime_type": d.mime_type,
        "size": d.size,
        "author": d.author,
    })
}

/// Who does not see the document, in words.
fn hidden_from(v: Option<&Visibility>) -> String {
    let v = v.copied().unwrap_or_default();
    let mut hidden = Vec::new();
    if !v.professionals {
        hidden.push("professionals");
    }
    if !v.patient {
        hidden.push("patient");
    }
    if !v.legal_representatives {
        hidden.push("legal representatives");
    }
    if hidden.is_empty() {
        "visible to all".to_owned()
    } else {
        format!("hidden from {}", hidden.join(", "))
    }
}

fn entry_line(d: &DocumentEntry) -> String {
    format!(
        "  {}  {}  [{} {}]  {}  {}  {}\n",
        d.created,
        d.title,
        d.type_code,
        document_status_name(d.status),
        d.confidentiality,
        hidden_from(d.visibility.as_ref()),
        d.unique_id
    )
}

pub fn list_json(r: &ListDocumentsResponse) -> String {
    let documents: Vec<Value> = r.documents.iter().map(entry_json).collect();
    json!({"documents": documents, "request_id": r.request_id}).to_string()
}

pub fn list_table(r: &ListDocumentsResponse) -> String {
    let mut s = format!("{} document(s)\n", r.documents.len());
    for d in &r.documents {
        s.push_str(&entry_line(d));
    }
    let _ = writeln!(s, "Request id  {}", r.request_id);
    s
}

pub fn deposit_json(r: &DepositResponse) -> String {
    json!({
        "unique_id": r.unique_id,
        "idempotency_key": r.idempotency_key,
        "already_present": r.already_present,
        "replaced_unique_id": r.replaced_unique_id,
        "request_id": r.request_id,
    })
    .to_string()
}

pub fn deposit_table(r: &DepositResponse) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}  {}",
        if r.already_present {
            "Already in the DMP (nothing deposited again)"
        } else {
            "Deposited"
        },
        r.unique_id
    );
    if !r.replaced_unique_id.is_empty() {
        let _ = writeln!(s, "Replaces    {}", r.replaced_unique_id);
    }
    let _ = writeln!(s, "Idempotency key  {}", r.idempotency_key);
    let _ = writeln!(s, "Request id  {}", r.request_id);
    s
}

pub fn get_json(r: &GetDocumentResponse, output: &Path, written: u64) -> String {
    json!({
        "entry": r.entry.as_ref().map(entry_json),
        "output": output.display().to_string(),
        "size": written,
        "warnings": r.warnings,
        "request_id": r.request_id,
    })
    .to_string()
}

pub fn get_table(r: &GetDocumentResponse, output: &Path, written: u64) -> String {
    let mut s = String::new();
    if let Some(e) = &r.entry {
        s.push_str(&entry_line(e));
    }
    let _ = writeln!(s, "Written     {} ({written} bytes)", output.display());
    let _ = writeln!(s, "Request id  {}", r.request_id);
    s
}

pub fn change_json(r: &DocumentChangeResponse) -> String {
    json!({
        "entry": r.entry.as_ref().map(entry_json),
        "unchanged": r.unchanged,
        "request_id": r.request_id,
    })
    .to_string()
}

pub fn change_table(r: &DocumentChangeResponse) -> String {
    let mut s = String::new();
    if r.unchanged {
        s.push_str("Unchanged: the document already was in that state\n");
    }
    if let Some(e) = &r.entry {
        s.push_str(&entry_line(e));
    }
    let _ = writeln!(s, "Request id  {}", r.request_id);
    s
}

/// The sandbox's view of a DMP, with the fields and names of `dmp list --json`.
pub fn view_json(v: &passerelle_sandbox::dmp::view::View) -> String {
    let documents: Vec<Value> = v
        .documents
        .iter()
        .map(|d| {
            json!({
                "unique_id": d.unique_id,
                "title": d.title,
                "type_code": d.type_code,
                "status": d.status,
                "confidentiality": d.confidentiality,
                "visibility": {
                    "professionals": d.visibility.professionals,
                    "patient": d.visibility.patient,
                    "legal_representatives": d.visibility.legal_representatives,
                },
                "created": d.created,
            })
        })
        .collect();
    json!({ "documents": documents }).to_string()
}

pub fn view_table(v: &passerelle_sandbox::dmp::view::View) -> String {
    let mut s = format!("{} document(s)\n", v.documents.len());
    for d in &v.documents {
        let _ = writeln!(
            s,
            "  {}  {}  [{} {}]  {}",
            d.created, d.title, d.type_code, d.status, d.unique_id
        );
    }
    s
}
