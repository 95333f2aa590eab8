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

/// The TLS files a view client presents: the sandbox's root CA, and a client certificate
/// and key of the test PKI (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewClientTls {
    pub ca_cert: std::path::PathBuf,
    pub client_cert: std::path::PathBuf,
    pub client_key: std::path::PathBuf,
}

impl ViewClientTls {
    /// The organisation's TLS certificate of the sandbox PKI.
    pub fn organisation(pki: &crate::pki::TestPki) -> Self {
        Self {
            ca_cert: pki.ca_cert.clone(),
            client_cert: pki.org_cert.clone(),
            client_key: pki.org_key.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("not an https://host:port URL: {0}")]
    Url(String),
    #[error("unknown audience {0:?} (patient, legal-representatives, professionals)")]
    Audience(String),
    #[error("TLS set-up: {0}")]
    Tls(String),
    #[error("connection to the DMP sandbox: {0}")]
    Io(#[from] std::io::Error),
    #[error("the DMP sandbox answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("not the view's JSON: {0}")]
    Json(String),
}

/// Fetches the view of `ins` for `audience` from the DMP sandbox at `base_url`
/// (`https://host:port`, with or without the services path).
pub async fn fetch(
    base_url: &str,
    tls: &ViewClientTls,
    ins: &str,
    audience: &str,
) -> Result<View, ViewError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    if !AUDIENCES.contains(&audience) {
        return Err(ViewError::Audience(audience.to_owned()));
    }
    if !super::patients::is_ins(ins) {
        return Err(ViewError::Url(format!("INS of {} characters", ins.len())));
    }
    let authority = base_url
        .strip_prefix("https://")
        .and_then(|r| r.split('/').next())
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ViewError::Url(base_url.to_owned()))?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h.trim_start_matches('[').trim_end_matches(']').to_owned(),
            p.parse::<u16>()
                .map_err(|_| ViewError::Url(base_url.to_owned()))?,
        ),
        _ => (authority.to_owned(), 443),
    };
    let tls_err = |what: &str, e: &dyn std::fmt::Display| ViewError::Tls(format!("{what}: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    let ca = CertificateDer::from_pem_file(&tls.ca_cert).map_err(|e| tls_err("CA", &e))?;
    roots.add(ca).map_err(|e| tls_err("CA", &e))?;
    let chain = CertificateDer::pem_file_iter(&tls.client_cert)
        .map_err(|e| tls_err("client certificate", &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err("client certificate", &e))?;
    let key =
        PrivateKeyDer::from_pem_file(&tls.client_key).map_err(|e| tls_err("client key", &e))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .map_err(|e| tls_err("versions", &e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| tls_err("client identity", &e))?;
    let name = ServerName::try_from(host.clone()).map_err(|e| tls_err("server name", &e))?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
    let mut stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        path(ins, audience)
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| ViewError::Json("no HTTP header end".into()))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ViewError::Json("no HTTP status".into()))?;
    let body = &raw[split + 4..];
    if status != 200 {
        return Err(ViewError::Http {
            status,
            body: String::from_utf8_lossy(body).trim().to_owned(),
        });
    }
    serde_json::from_slice(body).map_err(|e| ViewError::Json(e.to_string()))
}
