//! Client of the Annuaire Santé FHIR API v2: `Practitioner` searches (by identifier, by name,
//! by mailbox) with their `PractitionerRole`s (`_revinclude`), so that personal mailboxes are
//! found on both carriers, and the owner of an address among PractitionerRoles and
//! Organizations too (`mailbox-mss`); key in the `ESANTE-API-KEY` header; pages followed by the Bundle's `next`
//! link; at most `rate_per_sec` calls a second (the API allows 17 per application); failures
//! (an `OperationOutcome`, or the gateway's own answer) as typed errors.
//!
//! A `telecom` is an MSSanté mailbox when its e-mail type extension says `MSSANTE` or when it
//! carries the mailbox metadata extension (the ANS's own examples omit one or the other);
//! unknown extensions and fields are ignored. Red-listed mailboxes (`listeRouge`) are left out.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{ACCEPT, HeaderValue};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{DirectoryProfessional, DirectorySource, Mailbox, MailboxType, tidy_mailboxes};

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://gateway.api.esante.gouv.fr/fhir/v2";
/// The header carrying the API key (from the ANS's Gravitee portal).
pub const API_KEY_HEADER: &str = "ESANTE-API-KEY";
/// Calls a second the API allows an application.
pub const DEFAULT_RATE_PER_SEC: u32 = 17;
/// Entries a page (the API's own page size).
pub const DEFAULT_PAGE_SIZE: u32 = 50;

pub const EMAIL_TYPE_URL: &str =
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type";
pub const MAILBOX_METADATA_URL: &str = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-mailbox-mss-metadata";
pub const RPPS_SYSTEM: &str = "https://rpps.esante.gouv.fr";
pub const IDNPS_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.1";
/// A structure's national identifier (IDNST).
pub const IDNST_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.2";
/// TRE_G15 ProfessionSante (the profession's code system).
pub const PROFESSION_SYSTEM: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante";

const USER_AGENT: &str = concat!("passerelle-mss-service/", env!("CARGO_PKG_VERSION"));
const FHIR_JSON: &str = "application/fhir+json, application/json;q=0.9";

/// The FHIR API's settings (`[mss.directory.fhir]`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct FhirSettings {
    /// e.g. `https://gateway.api.esante.gouv.fr/fhir/v2`; searches go to `<base>/Practitioner`.
    pub base_url: String,
    /// The key of the application (`PASSERELLE__MSS__DIRECTORY__FHIR__API_KEY`). Empty: the
    /// FHIR API is not used. Never written back out nor shown in debug output.
    #[serde(skip_serializing)]
    pub api_key: String,
    /// CA files trusted for the API's certificate; empty: the system's trust store.
    pub trusted_ca: Vec<PathBuf>,
    /// Per call (the API gives up after 30 s).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    pub rate_per_sec: u32,
    /// `_count` of each page.
    pub page_size: u32,
    /// How many professionals a search may find before it asks for a narrower name.
    pub max_results: usize,
    /// Largest page accepted.
    pub max_response_bytes: usize,
}

impl Default for FhirSettings {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: String::new(),
            trusted_ca: Vec::new(),
            timeout: Duration::from_secs(30),
            rate_per_sec: DEFAULT_RATE_PER_SEC,
            page_size: DEFAULT_PAGE_SIZE,
            max_results: 200,
            max_response_bytes: 16 * 1024 * 1024,
        }
    }
}

impl fmt::Debug for FhirSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FhirSettings")
            .field("base_url", &self.base_url)
            .field(
                "api_key",
                &if self.api_key.is_empty() {
                    "<none>"
                } else {
                    "<redacted>"
                },
            )
            .field("trusted_ca", &self.trusted_ca)
            .field("timeout", &self.timeout)
            .field("rate_per_sec", &self.rate_per_sec)
            .field("page_size", &self.page_size)
            .field("max_results", &self.max_results)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// A failed call to the FHIR API, by what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FhirError {
    /// The settings cannot make a client.
    #[error("mss.directory.fhir: {reason}")]
    Setup { reason: String },
    /// 401/403: the key is missing, wrong, revoked, or not subscribed to the API.
    #[error(
        "the Annuaire Santé API refused the API key (HTTP {status}: {detail}): check mss.directory.fhir.api_key, a key of « API Annuaire Santé en libre accès » from the ANS's Gravitee portal, sent as ESANTE-API-KEY"
    )]
    Unauthorized { status: u16, detail: String },
    /// 400, 404, 410, 412…: the request is not one the API takes (a parameter, the base URL).
    #[error("the Annuaire Santé API refused the search (HTTP {status}): {detail}")]
    BadRequest { status: u16, detail: String },
    /// 429: more calls than the application's quota.
    #[error("the Annuaire Santé API limits the calls (HTTP 429): {detail}; retry later")]
    RateLimited { detail: String },
    /// 5xx, no connection, no answer in time.
    #[error("the Annuaire Santé API is unavailable: {reason}")]
    Unavailable { reason: String },
    /// The TLS handshake failed (the server's certificate, the trust store).
    #[error("TLS with the Annuaire Santé API failed: {reason}")]
    Tls { reason: String },
    /// An answer that is not a FHIR Bundle, or a page link elsewhere.
    #[error("unexpected answer from the Annuaire Santé API: {reason}")]
    InvalidResponse { reason: String },
    /// A name too common: say more (the given name).
    #[error(
        "{found} professionals match, more than the {limit} shown: give the given name too, or a longer family name"
    )]
    TooManyResults { found: u64, limit: usize },
}

impl FhirError {
    /// The API could not answer now (another source may).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::RateLimited { .. })
    }
}

/// Spaces calls `interval` apart, across every clone of the client.
#[derive(Debug)]
struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    async fn acquire(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(Instant::now());
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// The FHIR API client. Cheap to clone; clones share the rate limit.
#[derive(Clone)]
pub struct FhirClient {
    http: reqwest::Client,
    base: Url,
    api_key: HeaderValue,
    limiter: Arc<RateLimiter>,
    page_size: u32,
    max_results: usize,
    max_response_bytes: usize,
    timeout: Duration,
}

impl fmt::Debug for FhirClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FhirClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

fn setup(reason: impl Into<String>) -> FhirError {
    FhirError::Setup {
        reason: reason.into(),
    }
}

impl FhirClient {
    pub fn new(settings: &FhirSettings) -> Result<Self, FhirError> {
        let mut base = Url::parse(settings.base_url.trim()).map_err(|e| {
            setup(format!(
                "base_url {:?} is not a URL: {e}",
                settings.base_url
            ))
        })?;
        if base.scheme() != "https" {
            return Err(setup(format!(
                "base_url {base} must be https (the API key travels in a header)"
            )));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        let key = settings.api_key.trim();
        if key.is_empty() {
            return Err(setup("api_key is empty"));
        }
        let mut api_key = HeaderValue::from_str(key)
            .map_err(|_| setup("api_key holds characters a header cannot carry"))?;
        api_key.set_sensitive(true);
        if settings.rate_per_sec == 0
            || settings.page_size == 0
            || settings.max_results == 0
            || settings.max_response_bytes == 0
            || settings.timeout.is_zero()
        {
            return Err(setup(
                "timeout, rate_per_sec, page_size, max_results and max_response_bytes must be greater than zero",
            ));
        }
        let roots = if settings.trusted_ca.is_empty() {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(setup(
                    "no CA certificate in the system's trust store (install ca-certificates, or set trusted_ca)",
                ));
            }
            roots
        } else {
            passerelle_mtls::load_roots(&settings.trusted_ca).map_err(|e| setup(e.to_string()))?
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| setup(format!("TLS versions: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // A proxy would need its own settings; never pick one up from the environment.
            .no_proxy()
            // The key goes only where the base URL says.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| setup(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            api_key,
            limiter: Arc::new(RateLimiter {
                interval: Duration::from_secs(1) / settings.rate_per_sec,
                next: Mutex::new(Instant::now()),
            }),
            page_size: settings.page_size,
            max_results: settings.max_results,
            max_response_bytes: settings.max_response_bytes,
            timeout: settings.timeout,
        })
    }

    /// The professional with this RPPS (11 digits; searched as RPPS and as IDNPS `8`+RPPS).
    pub async fn by_rpps(&self, rpps: &str) -> Result<Vec<DirectoryProfessional>, FhirError> {
        let identifiers = format!("{rpps},8{rpps}");
        let pages = self
            .search(
                "Practitioner",
                &[
                    ("identifier", identifiers.as_str()),
                    ("_revinclude", "PractitionerRole:practitioner"),
                ],
            )
            .await?;
        let mut found = professionals(&pages);
        // The identifier search is exact already; this only guards against a server that
        // would answer more.
        found.retain(|p| p.rpps == rpps);
        Ok(found)
    }

    /// Professionals by family name (and given name), the API's string search: starts with,
    /// case and accents ignored.
    pub async fn by_name(
        &self,
        family: &str,
        given: Option<&str>,
    ) -> Result<Vec<DirectoryProfessional>, FhirError> {
        let mut params = vec![("family", family)];
        if let Some(given) = given {
            params.push(("given", given));
        }
        params.push(("_revinclude", "PractitionerRole:practitioner"));
        let pages = self.search("Practitioner", &params).await?;
        Ok(professionals(&pages))
    }

    /// The owner of an MSSanté address: the Practitioner carrying it (with the mailboxes of
    /// their activities), else the Practitioner of the active PractitionerRole carrying it
    /// (read by `_id`, with all their activities), else the Organization. `mailbox-mss` is searched as a plain
    /// FHIR string (starts with, case ignored) and the answers are compared whole, case
    /// ignored: `:exact` is case-sensitive by FHIR, and the live server's answers to it are
    /// not observed.
    pub async fn by_address(&self, address: &str) -> Result<Vec<DirectoryProfessional>, FhirError> {
        let holds = |p: &DirectoryProfessional| {
            p.addresses
                .iter()
                .any(|m| m.address.eq_ignore_ascii_case(address))
        };
        let pages = self
            .search(
                "Practitioner",
                &[
                    ("mailbox-mss", address),
                    ("_revinclude", "PractitionerRole:practitioner"),
                ],
            )
            .await?;
        let mut found = professionals(&pages);
        found.retain(holds);
        if !found.is_empty() {
            return Ok(found);
        }

        // On an activity: its professional, with the mailboxes of all their activities.
        let roles = self
            .search("PractitionerRole", &[("mailbox-mss", address)])
            .await?;
        let ids = role_practitioner_ids(&roles, address);
        if !ids.is_empty() {
            let ids = ids.join(",");
            let pages = self
                .search(
                    "Practitioner",
                    &[
                        ("_id", ids.as_str()),
                        ("_revinclude", "PractitionerRole:practitioner"),
                    ],
                )
                .await?;
            let mut found = professionals(&pages);
            found.retain(holds);
            return Ok(found);
        }

        let pages = self
            .search("Organization", &[("mailbox-mss", address)])
            .await?;
        let mut found = organisations(&pages);
        found.retain(holds);
        Ok(found)
    }

    /// Every page of a search, up to `max_results` matches.
    pub async fn search(
        &self,
        resource: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<Bundle>, FhirError> {
        let mut url = self
            .base
            .join(resource)
            .map_err(|e| setup(format!("base_url: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in params {
                query.append_pair(k, v);
            }
            query.append_pair("_count", &self.page_size.to_string());
        }
        let mut pages = Vec::new();
        let mut matches: u64 = 0;
        let limit = self.max_results as u64;
        // Each page brings at least one match, or the search ends: bounded either way.
        let max_pages = self.max_results + 1;
        let mut next = Some(url);
        while let Some(url) = next.take() {
            let page = self.get(url.clone()).await?;
            if let Some(total) = page.total
                && total > limit
            {
                return Err(FhirError::TooManyResults {
                    found: total,
                    limit: self.max_results,
                });
            }
            let on_page = page.entry.iter().filter(|e| e.is_match(resource)).count() as u64;
            matches += on_page;
            if matches > limit {
                return Err(FhirError::TooManyResults {
                    found: matches,
                    limit: self.max_results,
                });
            }
            next = match page.next_link() {
                Some(link) if on_page > 0 => {
                    let link = Url::parse(link).map_err(|e| FhirError::InvalidResponse {
                        reason: format!("next page link {link:?}: {e}"),
                    })?;
                    if link.origin() != self.base.origin() {
                        return Err(FhirError::InvalidResponse {
                            reason: format!(
                                "the next page is on another server ({}): not followed with the API key",
                                link.origin().ascii_serialization()
                            ),
                        });
                    }
                    if link == url {
                        return Err(FhirError::InvalidResponse {
                            reason: "the next page link is the page itself".into(),
                        });
                    }
                    Some(link)
                }
                _ => None,
            };
            pages.push(page);
            if pages.len() >= max_pages && next.is_some() {
                return Err(FhirError::InvalidResponse {
                    reason: format!("more than {max_pages} pages"),
                });
            }
        }
        Ok(pages)
    }

    async fn get(&self, url: Url) -> Result<Bundle, FhirError> {
        self.limiter.acquire().await;
        let mut response = self
            .http
            .get(url)
            .header(API_KEY_HEADER, self.api_key.clone())
            .header(ACCEPT, FHIR_JSON)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        let limit = self.max_response_bytes;
        let too_large = || FhirError::InvalidResponse {
            reason: format!("a page larger than {limit} bytes (max_response_bytes)"),
        };
        if response.content_length().is_some_and(|l| l > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(&e))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        match status {
            200..=299 => parse_bundle(&body),
            401 | 403 => Err(FhirError::Unauthorized {
                status,
                detail: error_detail(&body),
            }),
            429 => Err(FhirError::RateLimited {
                detail: error_detail(&body),
            }),
            500..=599 => Err(FhirError::Unavailable {
                reason: format!("HTTP {status}: {}", error_detail(&body)),
            }),
            _ => Err(FhirError::BadRequest {
                status,
                detail: error_detail(&body),
            }),
        }
    }

    fn transport_error(&self, e: &reqwest::Error) -> FhirError {
        if e.is_timeout() {
            return FhirError::Unavailable {
                reason: format!("no answer within {} s", self.timeout.as_secs_f32()),
            };
        }
        if let Some(tls) = find_rustls_error(e) {
            return FhirError::Tls {
                reason: match tls {
                    rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
                        "the server certificate is not issued by a trusted CA (check mss.directory.fhir.trusted_ca)".to_owned()
                    }
                    other => other.to_string(),
                },
            };
        }
        FhirError::Unavailable {
            reason: error_chain(e),
        }
    }
}

/// The rustls error somewhere in the source chain (an `io::Error` hides the error it wraps
/// from `source`, so it is looked into with `get_ref`).
fn find_rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(t) = find_rustls_error(inner)
        {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// What an error answer says: an OperationOutcome's diagnostics, a gateway's `message`, or
/// the start of the text.
fn error_detail(body: &[u8]) -> String {
    if let Ok(outcome) = serde_json::from_slice::<OperationOutcome>(body)
        && outcome.resource_type == "OperationOutcome"
    {
        let texts: Vec<String> = outcome
            .issue
            .iter()
            .filter_map(|i| {
                i.diagnostics
                    .clone()
                    .or_else(|| i.details.as_ref().and_then(|d| d.text.clone()))
                    .or_else(|| i.code.clone())
            })
            .collect();
        if !texts.is_empty() {
            return texts.join("; ");
        }
    }
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body)
        && let Some(serde_json::Value::String(message)) = map.get("message")
    {
        return message.clone();
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "no detail".to_owned();
    }
    let mut short: String = text.chars().take(200).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short.replace(['\r', '\n'], " ")
}

/// A page of search results (only what the directory needs of a FHIR Bundle).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Bundle {
    pub resource_type: String,
    #[serde(rename = "type")]
    pub bundle_type: Option<String>,
    pub total: Option<u64>,
    pub link: Vec<Link>,
    pub entry: Vec<Entry>,
}

impl Bundle {
    pub fn next_link(&self) -> Option<&str> {
        self.link
            .iter()
            .find(|l| l.relation == "next")
            .map(|l| l.url.as_str())
            .filter(|u| !u.is_empty())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Link {
    pub relation: String,
    pub url: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Entry {
    pub full_url: Option<String>,
    pub resource: Option<serde_json::Value>,
    pub search: Option<EntrySearch>,
}

impl Entry {
    fn resource_type(&self) -> Option<&str> {
        self.resource.as_ref()?.get("resourceType")?.as_str()
    }

    /// A match of a search on `resource` (not an included resource).
    fn is_match(&self, resource: &str) -> bool {
        self.resource_type() == Some(resource)
            && self
                .search
                .as_ref()
                .and_then(|s| s.mode.as_deref())
                .is_none_or(|m| m == "match")
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EntrySearch {
    pub mode: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct OperationOutcome {
    resource_type: String,
    issue: Vec<Issue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Issue {
    code: Option<String>,
    diagnostics: Option<String>,
    details: Option<CodeableConcept>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Coding {
    system: Option<String>,
    code: Option<String>,
    display: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct CodeableConcept {
    coding: Vec<Coding>,
    text: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Extension {
    url: String,
    extension: Vec<Extension>,
    value_coding: Option<Coding>,
    value_codeable_concept: Option<CodeableConcept>,
    value_string: Option<String>,
    value_boolean: Option<bool>,
}

impl Extension {
    fn code(&self) -> Option<&str> {
        self.value_coding
            .as_ref()
            .and_then(|c| c.code.as_deref())
            .or_else(|| {
                self.value_codeable_concept
                    .as_ref()?
                    .coding
                    .iter()
                    .find_map(|c| c.code.as_deref())
            })
    }

    fn sub(&self, url: &str) -> Option<&Extension> {
        self.extension.iter().find(|e| e.url == url)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct ContactPoint {
    system: Option<String>,
    value: Option<String>,
    rank: Option<u32>,
    extension: Vec<Extension>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Identifier {
    system: Option<String>,
    value: Option<String>,
    #[serde(rename = "type")]
    id_type: Option<CodeableConcept>,
}

impl Identifier {
    fn is(&self, system: &str, type_code: &str) -> bool {
        self.system.as_deref() == Some(system)
            || self.id_type.as_ref().is_some_and(|t| {
                t.coding
                    .iter()
                    .any(|c| c.code.as_deref() == Some(type_code))
            })
    }

    fn value(&self) -> Option<&str> {
        self.value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct HumanName {
    #[serde(rename = "use")]
    name_use: Option<String>,
    family: Option<String>,
    given: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Qualification {
    code: Option<CodeableConcept>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Reference {
    reference: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Practitioner {
    id: Option<String>,
    identifier: Vec<Identifier>,
    name: Vec<HumanName>,
    telecom: Vec<ContactPoint>,
    qualification: Vec<Qualification>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct PractitionerRole {
    active: Option<bool>,
    practitioner: Option<Reference>,
    telecom: Vec<ContactPoint>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Organization {
    name: Option<String>,
    identifier: Vec<Identifier>,
    telecom: Vec<ContactPoint>,
}

/// Any resource's telecoms (Organization's `name` is a string, Practitioner's a list: only
/// `telecom` is read here).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct WithTelecom {
    telecom: Vec<ContactPoint>,
}

/// Reads an answer as a Bundle (an OperationOutcome with 200 is refused as such).
pub fn parse_bundle(body: &[u8]) -> Result<Bundle, FhirError> {
    let bundle: Bundle = serde_json::from_slice(body).map_err(|e| FhirError::InvalidResponse {
        reason: format!("not a FHIR JSON Bundle: {e}"),
    })?;
    match bundle.resource_type.as_str() {
        "Bundle" => Ok(bundle),
        "OperationOutcome" => Err(FhirError::BadRequest {
            status: 200,
            detail: error_detail(body),
        }),
        other => Err(FhirError::InvalidResponse {
            reason: format!("a {other:?} instead of a Bundle"),
        }),
    }
}

/// The mailbox a telecom is, if it is one (and is not red-listed).
fn mailbox(telecom: &ContactPoint) -> Option<Mailbox> {
    if telecom.system.as_deref() != Some("email") {
        return None;
    }
    let address = telecom.value.as_deref()?.trim();
    if address.is_empty() {
        return None;
    }
    let email_type = telecom
        .extension
        .iter()
        .find(|e| e.url == EMAIL_TYPE_URL)
        .and_then(Extension::code);
    let metadata = telecom
        .extension
        .iter()
        .find(|e| e.url == MAILBOX_METADATA_URL);
    if email_type != Some("MSSANTE") && metadata.is_none() {
        return None;
    }
    if metadata
        .and_then(|m| m.sub("listeRouge"))
        .and_then(|e| e.value_boolean)
        == Some(true)
    {
        return None;
    }
    Some(Mailbox {
        address: address.to_owned(),
        mailbox_type: metadata
            .and_then(|m| m.sub("type"))
            .and_then(Extension::code)
            .and_then(MailboxType::from_code),
        description: metadata
            .and_then(|m| m.sub("description"))
            .and_then(|e| e.value_string.as_deref())
            .map(str::trim)
            .unwrap_or_default()
            .to_owned(),
        rank: telecom.rank,
    })
}

fn mailboxes(telecoms: &[ContactPoint]) -> Vec<Mailbox> {
    telecoms.iter().filter_map(mailbox).collect()
}

/// The MSSanté mailboxes of any one resource (Practitioner, PractitionerRole, Organization),
/// as JSON.
pub fn resource_mailboxes(resource: &[u8]) -> Result<Vec<Mailbox>, FhirError> {
    let r: WithTelecom =
        serde_json::from_slice(resource).map_err(|e| FhirError::InvalidResponse {
            reason: format!("not a FHIR JSON resource: {e}"),
        })?;
    Ok(mailboxes(&r.telecom))
}

/// The JDV J65 label of a TRE_G15 profession code.
pub fn profession_label(code: &str) -> Option<&'static str> {
    Some(match code {
        "10" => "Médecin",
        "21" => "Pharmacien",
        "26" => "Audioprothésiste",
        "28" => "Opticien-Lunetier",
        "31" => "Assistant dentaire",
        "32" => "Physicien médical",
        "35" => "Aide-soignant",
        "36" => "Ambulancier",
        "37" => "Auxiliaire de puériculture",
        "38" => "Préparateur en pharmacie hospitalière",
        "39" => "Préparateur en pharmacie (officine)",
        "40" => "Chirurgien-Dentiste",
        "50" => "Sage-Femme",
        "60" => "Infirmier",
        "69" => "Infirmier psychiatrique",
        "70" => "Masseur-Kinésithérapeute",
        "80" => "Pédicure-Podologue",
        "81" => "Orthoprothésiste",
        "82" => "Podo-Orthésiste",
        "83" => "Orthopédiste-Orthésiste",
        "84" => "Oculariste",
        "85" => "Epithésiste",
        "86" => "Technicien de laboratoire médical",
        "91" => "Orthophoniste",
        "92" => "Orthoptiste",
        "94" => "Ergothérapeute",
        "95" => "Diététicien",
        "96" => "Psychomotricien",
        "98" => "Manipulateur ERM",
        _ => return None,
    })
}

fn profession(p: &Practitioner) -> String {
    p.qualification
        .iter()
        .filter_map(|q| q.code.as_ref())
        .flat_map(|c| c.coding.iter())
        .find(|c| {
            c.system
                .as_deref()
                .is_some_and(|s| s == PROFESSION_SYSTEM || s.contains("TRE_G15"))
        })
        .map(|c| {
            let code = c.code.as_deref().unwrap_or_default().trim();
            c.display
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .or_else(|| profession_label(code))
                .unwrap_or(code)
                .to_owned()
        })
        .unwrap_or_default()
}

fn professional(p: &Practitioner) -> DirectoryProfessional {
    let rpps_id = p
        .identifier
        .iter()
        .find(|i| i.is(RPPS_SYSTEM, "RPPS"))
        .and_then(Identifier::value);
    let national_id = p
        .identifier
        .iter()
        .find(|i| i.is(IDNPS_SYSTEM, "IDNPS"))
        .and_then(Identifier::value)
        .unwrap_or_default();
    // Directory data is taken as given: no check digit is verified.
    let rpps = rpps_id
        .map(str::to_owned)
        .or_else(|| {
            national_id
                .strip_prefix('8')
                .filter(|r| r.len() == 11)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let name = ["usual", "official"]
        .iter()
        .find_map(|u| p.name.iter().find(|n| n.name_use.as_deref() == Some(u)))
        .or_else(|| p.name.first());
    DirectoryProfessional {
        rpps,
        national_id: national_id.to_owned(),
        last_name: name
            .and_then(|n| n.family.as_deref())
            .unwrap_or_default()
            .trim()
            .to_owned(),
        first_name: name
            .map(|n| {
                n.given
                    .iter()
                    .map(|g| g.trim())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
        profession: profession(p),
        addresses: mailboxes(&p.telecom),
        source: DirectorySource::Fhir,
    }
}

/// The id a reference points to when it is a `Practitioner` (`Practitioner/ID`, an absolute
/// URL ending so, or with `/_history/N`).
fn practitioner_id(reference: &str) -> Option<&str> {
    let path = reference.split(['?', '#']).next().unwrap_or(reference);
    let path = match path.find("/_history/") {
        Some(i) => &path[..i],
        None => path,
    };
    let (head, id) = path.rsplit_once('/')?;
    (head == "Practitioner" || head.ends_with("/Practitioner")).then_some(id)
}

/// The Practitioners' ids of the active PractitionerRoles of search pages that carry `address`
/// as a published mailbox.
fn role_practitioner_ids(pages: &[Bundle], address: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for entry in pages.iter().flat_map(|b| b.entry.iter()) {
        let Some(resource) = entry.resource.as_ref() else {
            continue;
        };
        if entry.resource_type() != Some("PractitionerRole") {
            continue;
        }
        let Ok(role) = serde_json::from_value::<PractitionerRole>(resource.clone()) else {
            tracing::warn!("unreadable PractitionerRole skipped");
            continue;
        };
        let carries = mailboxes(&role.telecom)
            .iter()
            .any(|m| m.address.eq_ignore_ascii_case(address));
        if role.active == Some(false) || !carries {
            continue;
        }
        if let Some(id) = role
            .practitioner
            .as_ref()
            .and_then(|r| r.reference.as_deref())
            .and_then(practitioner_id)
            && !ids.iter().any(|i| i == id)
        {
            ids.push(id.to_owned());
        }
    }
    ids
}

/// The professionals of search pages: each Practitioner with its mailboxes and those of its
/// PractitionerRoles (active or without status) found on any page; one per RPPS.
pub fn professionals(pages: &[Bundle]) -> Vec<DirectoryProfessional> {
    let mut practitioners: Vec<(Option<String>, DirectoryProfessional)> = Vec::new();
    let mut role_mailboxes: HashMap<String, Vec<Mailbox>> = HashMap::new();
    for entry in pages.iter().flat_map(|b| b.entry.iter()) {
        let Some(resource) = entry.resource.as_ref() else {
            continue;
        };
        match entry.resource_type() {
            Some("Practitioner") => {
                match serde_json::from_value::<Practitioner>(resource.clone()) {
                    Ok(p) => practitioners.push((p.id.clone(), professional(&p))),
                    Err(e) => tracing::warn!(error = %e, "unreadable Practitioner skipped"),
                }
            }
            Some("PractitionerRole") => {
                match serde_json::from_value::<PractitionerRole>(resource.clone()) {
                    Ok(role) if role.active != Some(false) => {
                        if let Some(id) = role
                            .practitioner
                            .as_ref()
                            .and_then(|r| r.reference.as_deref())
                            .and_then(practitioner_id)
                        {
                            role_mailboxes
                                .entry(id.to_owned())
                                .or_default()
                                .extend(mailboxes(&role.telecom));
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "unreadable PractitionerRole skipped"),
                }
            }
            _ => {}
        }
    }
    let mut out: Vec<DirectoryProfessional> = Vec::new();
    let mut seen_ids = std::collections::HashSet::new();
    for (id, mut p) in practitioners {
        if let Some(id) = &id {
            if !seen_ids.insert(id.clone()) {
                continue;
            }
            if let Some(more) = role_mailboxes.get(id) {
                p.addresses.extend(more.iter().cloned());
            }
        }
        match out
            .iter_mut()
            .find(|o| !p.rpps.is_empty() && o.rpps == p.rpps)
        {
            Some(same) => same.addresses.extend(p.addresses),
            None => out.push(p),
        }
    }
    for p in &mut out {
        tidy_mailboxes(&mut p.addresses);
    }
    out
}

/// The Organizations of search pages, each as an owner of mailboxes: its name as the last
/// name, its IDNST as the national id, no RPPS.
pub fn organisations(pages: &[Bundle]) -> Vec<DirectoryProfessional> {
    let mut out = Vec::new();
    for entry in pages.iter().flat_map(|b| b.entry.iter()) {
        let Some(resource) = entry.resource.as_ref() else {
            continue;
        };
        if entry.resource_type() != Some("Organization") {
            continue;
        }
        match serde_json::from_value::<Organization>(resource.clone()) {
            Ok(o) => {
                let mut addresses = mailboxes(&o.telecom);
                tidy_mailboxes(&mut addresses);
                out.push(DirectoryProfessional {
                    rpps: String::new(),
                    national_id: o
                        .identifier
                        .iter()
                        .find(|i| i.is(IDNST_SYSTEM, "IDNST"))
                        .and_then(Identifier::value)
                        .unwrap_or_default()
                        .to_owned(),
                    last_name: o.name.as_deref().unwrap_or_default().trim().to_owned(),
                    first_name: String::new(),
                    profession: String::new(),
                    addresses,
                    source: DirectorySource::Fhir,
                });
            }
            Err(e) => tracing::warn!(error = %e, "unreadable Organization skipped"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telecom(json: serde_json::Value) -> Option<Mailbox> {
        mailbox(&serde_json::from_value(json).unwrap())
    }

    #[test]
    fn a_mailbox_is_an_mssante_email_or_one_with_metadata() {
        let email_type =
            |code: &str| serde_json::json!({"url": EMAIL_TYPE_URL, "valueCoding": {"code": code}});
        let metadata = serde_json::json!({"url": MAILBOX_METADATA_URL, "extension": [
            {"url": "type", "valueCodeableConcept": {"coding": [{"code": "CAB"}]}},
            {"url": "description", "valueString": " Cabinet "},
            {"url": "digitization", "valueBoolean": true},
            {"url": "somethingNew", "valueInteger": 3}
        ]});
        let only_type = telecom(
            serde_json::json!({"system": "email", "value": "a@x.mssante.fr",
            "extension": [email_type("MSSANTE")]}),
        )
        .unwrap();
        assert_eq!(only_type.mailbox_type, None);
        let only_meta = telecom(serde_json::json!({"system": "email", "value": "b@x.mssante.fr",
            "rank": 2, "extension": [metadata, {"url": "https://example.org/unknown", "valueString": "x"}]}))
        .unwrap();
        assert_eq!(only_meta.mailbox_type, Some(MailboxType::Practice));
        assert_eq!(only_meta.description, "Cabinet");
        assert_eq!(only_meta.rank, Some(2));
        assert!(
            telecom(
                serde_json::json!({"system": "email", "value": "c@apicrypt.org",
            "extension": [email_type("APICRYPT")]})
            )
            .is_none()
        );
        assert!(telecom(serde_json::json!({"system": "email", "value": "d@orange.fr"})).is_none());
        assert!(
            telecom(serde_json::json!({"system": "phone", "value": "0102030405",
            "extension": [email_type("MSSANTE")]}))
            .is_none()
        );
        let red = serde_json::json!({"url": MAILBOX_METADATA_URL, "extension": [
            {"url": "listeRouge", "valueBoolean": true}]});
        assert!(
            telecom(
                serde_json::json!({"system": "email", "value": "e@x.mssante.fr",
            "extension": [red]})
            )
            .is_none()
        );
    }

    #[test]
    fn practitioner_references_in_their_forms() {
        assert_eq!(practitioner_id("Practitioner/003-1"), Some("003-1"));
        assert_eq!(
            practitioner_id("https://h/fhir/v2/Practitioner/003-1/_history/2"),
            Some("003-1")
        );
        assert_eq!(practitioner_id("Organization/1"), None);
        assert_eq!(practitioner_id("003-1"), None);
    }

    #[test]
    fn errors_say_what_the_server_said() {
        let oo = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"HAPI-0302: Unknown resource type"}]}"#;
        assert_eq!(error_detail(oo), "HAPI-0302: Unknown resource type");
        assert_eq!(
            error_detail(br#"{"message":"Unauthorized","http_status_code":401}"#),
            "Unauthorized"
        );
        assert_eq!(error_detail(b""), "no detail");
        assert!(matches!(
            parse_bundle(oo),
            Err(FhirError::BadRequest { status: 200, .. })
        ));
        assert!(matches!(
            parse_bundle(b"<html/>"),
            Err(FhirError::InvalidResponse { .. })
        ));
    }
}
