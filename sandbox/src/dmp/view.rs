//! Sandbox-only view of a patient's documents, as an audience sees them (the patient and
//! the legal representatives see their DMP through "Mon espace santé", not through the
//! LPS services): `GET /sandbox/dmp/patients/<INS>/documents?as=<audience>` on the DMP
//! listener (mutual TLS, a client certificate of the test PKI), answered in JSON:
//!
//! ```json
//! {"documents":[{"unique_id":"…","title":"…","type_code":"11488-4","status":"approved",
//!   "confidentiality":["N"],"visibility":{"professionals":true,"patient":false,
//!   "legal_representatives":true},"created":"20250101120000"}]}
//! ```
//!
//! `audience`: `patient`, `legal-representatives` or `professionals`. Listed: the current
//! versions (Approved or Archived) that audience sees, signatures left out. Visibility:
//! professionals do not see `MASQUE_PS` (its author and the médecin traitant do: not
//! shown here); the patient does not see `INVISIBLE_PATIENT`; the legal representatives
//! see neither `INVISIBLE_PATIENT` nor `INVISIBLE_REPRESENTANTS_LEGAUX`.

use serde::{Deserialize, Serialize};

use super::registry::{STATUS_APPROVED, STATUS_ARCHIVED, STATUS_DELETED, STATUS_DEPRECATED};
use super::server::{plain, response};
use super::store::{Entry, SCHEME_TYPE, Store};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub documents: Vec<ViewDocument>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewDocument {
    pub unique_id: String,
    pub title: String,
    pub type_code: String,
    /// `approved`, `archived`, `deprecated` or `deleted`.
    pub status: String,
    pub confidentiality: Vec<String>,
    pub visibility: Visibility,
    /// The entry's creationTime (yyyyMMdd[HHmmss]).
    pub created: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visibility {
    pub professionals: bool,
    pub patient: bool,
    pub legal_representatives: bool,
}

/// The audiences of the view.
pub const AUDIENCES: [&str; 3] = ["patient", "legal-representatives", "professionals"];

/// The view's path for a patient and an audience, under the DMP sandbox's address
/// (`https://host:port` + this).
pub fn path(ins: &str, audience: &str) -> String {
    format!("{}/{ins}/documents?as={audience}", super::DMP_VIEW_PATH)
}

fn visibility(e: &Entry) -> Visibility {
    let c = |code: &str| e.has_confidentiality(code);
    Visibility {
        professionals: !c("MASQUE_PS"),
        patient: !c("INVISIBLE_PATIENT"),
        legal_representatives: !c("INVISIBLE_PATIENT") && !c("INVISIBLE_REPRESENTANTS_LEGAUX"),
    }
}

fn status_name(s: &str) -> &'static str {
    match s {
        STATUS_APPROVED => "approved",
        STATUS_ARCHIVED => "archived",
        STATUS_DEPRECATED => "deprecated",
        STATUS_DELETED => "deleted",
        _ => "other",
    }
}

/// The view of `ins` for `audience`; `None` for an unknown audience.
pub(crate) fn build(store: &Store, ins: &str, audience: &str) -> Option<View> {
    if !AUDIENCES.contains(&audience) {
        return None;
    }
    let documents = store.read(|db| {
        db.entries
            .iter()
            .filter(|e| e.ins == ins && !e.is_signature)
            .filter(|e| e.status == STATUS_APPROVED || e.status == STATUS_ARCHIVED)
            .filter(|e| {
                let v = visibility(e);
                match audience {
                    "patient" => v.patient,
                    "legal-representatives" => v.legal_representatives,
                    _ => v.professionals,
                }
            })
            .map(|e| ViewDocument {
                unique_id: e.unique_id.clone(),
                title: e.title.clone(),
                type_code: e
                    .codes(SCHEME_TYPE)
                    .next()
                    .map(|c| c.node.clone())
                    .unwrap_or_default(),
                status: status_name(&e.status).into(),
                confidentiality: e.confidentiality(),
                visibility: visibility(e),
                created: e.slot("creationTime").unwrap_or_default().to_owned(),
            })
            .collect()
    });
    Some(View { documents })
}

pub(crate) fn answer(
    rest: &str,
    query: Option<&str>,
    store: &Store,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let Some(ins) = rest
        .strip_prefix('/')
        .and_then(|r| r.strip_suffix("/documents"))
        .filter(|i| super::patients::is_ins(i))
    else {
        return plain(
            hyper::StatusCode::NOT_FOUND,
            "GET /sandbox/dmp/patients/<INS>/documents?as=<audience>\n",
        );
    };
    let audience = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|p| p.strip_prefix("as="))
        .unwrap_or("professionals");
    match build(store, ins, audience) {
        Some(view) => match serde_json::to_vec(&view) {
            Ok(body) => response(hyper::StatusCode::OK, "application/json", body),
            Err(_) => plain(
                hyper::StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error\n",
            ),
        },
        None => plain(
            hyper::StatusCode::BAD_REQUEST,
            "as= must be patient, legal-representatives or professionals\n",
        ),
    }
}
