//! What the CLI prints: a readable table, or one JSON object with stable field names.

use std::fmt::Write;
use std::process::ExitCode;

use passerelle_proto::ins::v1::{
    Comparison, IdentityStatus, Ins, QualifyIdentityResponse, SearchResponse, SearchResult, Sex,
    TraitComparison, VerifyInsResponse, VerifyResult,
};
use passerelle_service_kit::errors::summarise;
use serde_json::{Value, json};

fn result_name(r: i32) -> &'static str {
    match SearchResult::try_from(r).unwrap_or(SearchResult::Unspecified) {
        SearchResult::Found => "FOUND",
        SearchResult::NotFound => "NOT_FOUND",
        SearchResult::Multiple => "MULTIPLE",
        SearchResult::Unspecified => "UNSPECIFIED",
    }
}

fn sex_code(s: i32) -> &'static str {
    match Sex::try_from(s).unwrap_or(Sex::Unspecified) {
        Sex::Female => "F",
        Sex::Male => "M",
        Sex::Unspecified => "",
    }
}

fn ins_json(i: &Ins) -> Value {
    json!({
        "matricule": i.matricule,
        "key": i.key,
        "oid": i.oid,
        "key_valid": i.key_valid,
        "valid_from": i.valid_from,
        "valid_until": i.valid_until,
    })
}

pub fn search_json(r: &SearchResponse) -> String {
    search_value(r).to_string()
}

fn search_value(r: &SearchResponse) -> Value {
    let ins = r.identity.as_ref().map(|id| {
        let i = id.ins.clone().unwrap_or_default();
        json!({
            "matricule": i.matricule,
            "key": i.key,
            "oid": i.oid,
            "key_valid": i.key_valid,
            "birth_name": id.birth_name,
            "first_names": id.first_names,
            "sex": sex_code(id.sex),
            "birth_date": id.birth_date,
            "birth_place": id.birth_place,
        })
    });
    let history: Vec<Value> = r
        .identity
        .as_ref()
        .map(|id| id.history.iter().map(ins_json).collect())
        .unwrap_or_default();
    let tries: Vec<Value> = r
        .tries
        .iter()
        .map(|t| {
            json!({
                "first_names": t.first_names_sent,
                "result": result_name(t.result),
                "code": t.code,
                "label": t.label,
                "matched": t.matched,
                "fault": t.fault,
            })
        })
        .collect();
    let v = json!({
        "result": result_name(r.result),
        "ins": ins,
        "history": history,
        "tries": tries,
        "normalisations": r.normalisations.iter().map(|n| json!({
            "field": n.field, "original": n.original, "normalised": n.normalised, "changes": n.changes,
        })).collect::<Vec<_>>(),
        "diagnostics": r.diagnostics.iter().map(|d| json!({"code": d.code, "message": d.message})).collect::<Vec<_>>(),
        "patient": r.patient.as_ref().map(patient_value),
        "request_id": r.request_id,
    });
    v
}

/// The patient identity an answer gives (`passerelle.common.v1.PatientIdentity`).
fn patient_value(p: &passerelle_proto::common::v1::PatientIdentity) -> Value {
    json!({
        "ins": format!("{}{}", p.matricule, p.key),
        "oid": p.oid,
        "birth_name": p.birth_name,
        "first_names": p.first_names,
        "sex": sex_code(p.sex),
        "birth_date": p.birth_date,
        "birth_place": p.birth_place,
        // Same numbers as passerelle.ins.v1.IdentityStatus.
        "identity_status": status_name(p.status),
    })
}

pub fn search_table(r: &SearchResponse) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Result      {}", result_name(r.result));
    if let Some(id) = &r.identity {
        if let Some(i) = &id.ins {
            let flag = if i.key_valid {
                ""
            } else {
                "  (key does not check: as given by INSi)"
            };
            let _ = writeln!(
                s,
                "INS         {} {}  OID {}{flag}",
                i.matricule, i.key, i.oid
            );
        }
        let _ = writeln!(s, "Birth name  {}", id.birth_name);
        let _ = writeln!(s, "First names {}", id.first_names.join(" "));
        let _ = writeln!(s, "Sex         {}", sex_code(id.sex));
        let _ = writeln!(s, "Birth date  {}", id.birth_date);
        if !id.birth_place.is_empty() {
            let _ = writeln!(s, "Birth place {}", id.birth_place);
        }
        for h in &id.history {
            let _ = writeln!(
                s,
                "Former INS  {} {}  OID {}  {}..{}",
                h.matricule, h.key, h.oid, h.valid_from, h.valid_until
            );
        }
    }
    for n in &r.normalisations {
        let _ = writeln!(
            s,
            "Normalised  {}: {:?} -> {:?} ({})",
            n.field,
            n.original,
            n.normalised,
            n.changes.join(", ")
        );
    }
    let _ = writeln!(s, "Tries");
    for (i, t) in r.tries.iter().enumerate() {
        let outcome = if t.fault.is_empty() {
            format!("{} {} {}", t.code, result_name(t.result), t.label)
        } else {
            format!("fault {}", t.fault)
        };
        let mark = if t.matched { "  <= matched" } else { "" };
        let _ = writeln!(
            s,
            "  {}. first names {:<30} {outcome}{mark}",
            i + 1,
            t.first_names_sent.join(" ")
        );
    }
    if !r.diagnostics.is_empty() {
        let _ = writeln!(s, "What to check");
        for d in &r.diagnostics {
            let _ = writeln!(s, "  - [{}] {}", d.code, d.message);
        }
    }
    let _ = writeln!(s, "Request id  {}", r.request_id);
    s
}

/// An error status as the user reads it: the message, then the machine-readable reason.
pub fn status_message(status: &tonic::Status) -> String {
    let sum = summarise(status);
    let mut s = format!("error: {}", status.message());
    let mut extra = vec![format!("code {:?}", status.code())];
    if let Some(r) = sum.reason {
        extra.push(format!("reason {r}"));
    }
    if let Some(u) = sum.upstream_code {
        extra.push(format!("upstream {u}"));
    }
    if let Some(f) = sum.field {
        extra.push(format!("field {f}"));
    }
    let _ = write!(s, " [{}]", extra.join(", "));
    s
}

fn verify_result_name(r: i32) -> &'static str {
    match VerifyResult::try_from(r).unwrap_or(VerifyResult::Unspecified) {
        VerifyResult::Verified => "VERIFIED",
        VerifyResult::Mismatch => "MISMATCH",
        VerifyResult::NotFound => "NOT_FOUND",
        VerifyResult::Multiple => "MULTIPLE",
        VerifyResult::Unspecified => "UNSPECIFIED",
    }
}

fn comparison_name(c: i32) -> &'static str {
    match Comparison::try_from(c).unwrap_or(Comparison::Unspecified) {
        Comparison::Match => "MATCH",
        Comparison::Mismatch => "MISMATCH",
        Comparison::NotCompared => "NOT_COMPARED",
        Comparison::Unspecified => "UNSPECIFIED",
    }
}

pub fn status_name(s: i32) -> &'static str {
    match IdentityStatus::try_from(s).unwrap_or(IdentityStatus::Unspecified) {
        IdentityStatus::Provisoire => "PROVISOIRE",
        IdentityStatus::Recuperee => "RECUPEREE",
        IdentityStatus::Validee => "VALIDEE",
        IdentityStatus::Qualifiee => "QUALIFIEE",
        IdentityStatus::Unspecified => "UNSPECIFIED",
    }
}

fn comparisons_value(c: &[TraitComparison]) -> Vec<Value> {
    c.iter()
        .map(|c| {
            json!({
                "trait": c.name,
                "local": c.local,
                "insi": c.insi,
                "comparison": comparison_name(c.comparison),
                "note": c.note,
            })
        })
        .collect()
}

fn verify_value(r: &VerifyInsResponse) -> Value {
    json!({
        "result": verify_result_name(r.result),
        "comparisons": comparisons_value(&r.comparisons),
        "search": r.search.as_ref().map(search_value),
        "patient": r.patient.as_ref().map(patient_value),
        "request_id": r.request_id,
    })
}

pub fn verify_json(r: &VerifyInsResponse) -> String {
    verify_value(r).to_string()
}

fn comparisons_table(s: &mut String, c: &[TraitComparison]) {
    if c.is_empty() {
        return;
    }
    let _ = writeln!(s, "{:<12} {:<13} {:<32} INSi", "Trait", "", "Local");
    for c in c {
        let _ = writeln!(
            s,
            "{:<12} {:<13} {:<32} {}",
            c.name,
            comparison_name(c.comparison),
            c.local,
            c.insi
        );
        if !c.note.is_empty() {
            let _ = writeln!(s, "{:<12} -> {}", "", c.note);
        }
    }
}

pub fn verify_table(r: &VerifyInsResponse) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Verification {}", verify_result_name(r.result));
    comparisons_table(&mut s, &r.comparisons);
    if r.comparisons.is_empty()
        && let Some(search) = &r.search
    {
        s.push_str(&search_table(search));
    } else {
        let _ = writeln!(s, "Request id  {}", r.request_id);
    }
    s
}

pub fn qualify_json(r: &QualifyIdentityResponse) -> String {
    json!({
        "status": status_name(r.status),
        "actions": r.actions.iter().map(|d| json!({"code": d.code, "message": d.message})).collect::<Vec<_>>(),
        "verification": r.verification.as_ref().map(verify_value),
        "patient": r.patient.as_ref().map(patient_value),
        "request_id": r.request_id,
    })
    .to_string()
}

pub fn qualify_table(r: &QualifyIdentityResponse) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Identity status {}", status_name(r.status));
    if let Some(v) = &r.verification {
        let _ = writeln!(s, "INSi check      {}", verify_result_name(v.result));
        comparisons_table(&mut s, &v.comparisons);
    }
    if !r.actions.is_empty() {
        let _ = writeln!(s, "To do");
        for a in &r.actions {
            let _ = writeln!(s, "  - [{}] {}", a.code, a.message);
        }
    }
    let _ = writeln!(s, "Request id  {}", r.request_id);
    s
}

/// Prints a business answer (exit 0) or the error status (exit 2).
pub fn finish<T>(
    result: Result<tonic::Response<T>, tonic::Status>,
    json: bool,
    as_json: impl Fn(&T) -> String,
    as_table: impl Fn(&T) -> String,
) -> ExitCode {
    match result {
        Ok(resp) => {
            let r = resp.into_inner();
            if json {
                println!("{}", as_json(&r));
            } else {
                print!("{}", as_table(&r));
            }
            ExitCode::SUCCESS
        }
        Err(status) => {
            eprintln!("{}", status_message(&status));
            ExitCode::from(2)
        }
    }
}
