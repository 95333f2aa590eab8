//! HTTP over mutual TLS (reqwest with a preconfigured rustls configuration): organisation mode
//! on one pooled client, CPS mode on a client per call authenticated by the card; answers read
//! up to `max_response_bytes`; TLS failures, refused connections and timeouts told apart.

use std::sync::Arc;
use std::time::Duration;

use passerelle_card_client::CardTlsIdentity;
use rustls::RootCertStore;

use super::config::DmpClientConfig;
use super::error::DmpError;
use crate::signer::SignerError;

/// The DMP web services, under the configured base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// TD0.2 (HL7v3 patient registry).
    Patients,
    /// TD0.3.
    Habilitations,
    /// TD0.4.
    PatientsSpecific,
    /// ITI-18, ITI-57.
    Registry,
    /// ITI-41, ITI-43.
    Repository,
}

impl Service {
    pub fn path(self) -> &'static str {
        match self {
            Self::Patients => "patients",
            Self::Habilitations => "habilitations",
            Self::PatientsSpecific => "patientsSpecific",
            Self::Registry => "registry",
            Self::Repository => "repository",
        }
    }
}

/// An HTTP answer, body bounded.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// The HTTP side of the client.
#[derive(Debug, Clone)]
pub struct Transport {
    /// Organisation mode's pooled client; `None` when no organisation identity is configured.
    http: Option<reqwest::Client>,
    base: String,
    timeout: Duration,
    max_response_bytes: usize,
    roots: Arc<RootCertStore>,
}

impl Transport {
    pub fn new(config: &DmpClientConfig) -> Result<Self, DmpError> {
        let base = config.endpoint.trim().trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base).map_err(|e| {
            DmpError::config(format!(
                "dmp.endpoint {:?} is not a URL: {e}",
                config.endpoint
            ))
        })?;
        if url.scheme() != "https" {
            return Err(DmpError::config(format!(
                "dmp.endpoint {url} must be https: the DMP requires mutual TLS"
            )));
        }
        if config.max_response_bytes == 0 || config.timeout.is_zero() {
            return Err(DmpError::config(
                "dmp.timeout and dmp.max_response_bytes must be greater than zero",
            ));
        }
        let roots = Arc::new(super::tls::load_roots(&config.tls.trusted_ca)?);
        let http = match &config.tls.identity {
            Some(identity) => Some(http_client(
                super::tls::organisation_config(roots.clone(), identity)?,
                config.timeout,
            )?),
            None => None,
        };
        Ok(Self {
            http,
            base,
            timeout: config.timeout,
            max_response_bytes: config.max_response_bytes,
            roots,
        })
    }

    /// `<base>/<service>`.
    pub fn url(&self, service: Service) -> String {
        format!("{}/{}", self.base, service.path())
    }

    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// POSTs `body` to the service with the organisation's TLS identity.
    pub async fn post(
        &self,
        service: Service,
        content_type: &str,
        body: reqwest::Body,
    ) -> Result<RawResponse, DmpError> {
        let http = self.http.as_ref().ok_or_else(|| {
            DmpError::config(
                "organisation mode needs tls.identity (the organisation's authentication certificate)",
            )
        })?;
        self.post_on(http, service, content_type, body).await
    }

    /// [`post`](Self::post) over a TLS session the card authenticates: a client (one
    /// handshake, one card signature) per call, since the card and its PIN session change
    /// between calls. A card failure during the handshake is the card's error, not a TLS one.
    pub async fn post_with_card(
        &self,
        service: Service,
        content_type: &str,
        body: reqwest::Body,
        card: &CardTlsIdentity,
    ) -> Result<RawResponse, DmpError> {
        let http = http_client(
            super::tls::card_config(self.roots.clone(), card)?,
            self.timeout,
        )?;
        let outcome = self.post_on(&http, service, content_type, body).await;
        match outcome {
            Err(DmpError::Tls { .. } | DmpError::Connect { .. }) => match card.take_error() {
                Some(error) => Err(DmpError::Signer(SignerError::Card(error))),
                None => outcome,
            },
            other => other,
        }
    }

    async fn post_on(
        &self,
        http: &reqwest::Client,
        service: Service,
        content_type: &str,
        body: reqwest::Body,
    ) -> Result<RawResponse, DmpError> {
        let url = self.url(service);
        let mut response = http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(
                reqwest::header::ACCEPT,
                "application/soap+xml, multipart/related",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| self.map_error(&e, &url))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let limit = self.max_response_bytes;
        if response.content_length().is_some_and(|l| l > limit as u64) {
            return Err(DmpError::ResponseTooLarge { limit });
        }
        let mut body = Vec::with_capacity(
            response
                .content_length()
                .map_or(0, |l| usize::try_from(l).unwrap_or(0)),
        );
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.map_error(&e, &url))?
        {
            if body.len() + chunk.len() > limit {
                return Err(DmpError::ResponseTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawResponse {
            status,
            content_type,
            body,
        })
    }

    fn map_error(&self, e: &reqwest::Error, url: &str) -> DmpError {
        if e.is_timeout() {
            return DmpError::Timeout {
                after: self.timeout,
            };
        }
        if let Some(tls) = find_rustls_error(e) {
            return DmpError::Tls {
                reason: describe_tls(tls),
            };
        }
        if e.is_builder() {
            return DmpError::config(format!("cannot build the request: {e}"));
        }
        DmpError::Connect {
            endpoint: url.to_owned(),
            reason: error_chain(e),
        }
    }
}

fn http_client(tls: rustls::ClientConfig, timeout: Duration) -> Result<reqwest::Client, DmpError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only()
        .timeout(timeout)
        .connect_timeout(timeout)
        // Proxies would need their own configuration; never pick one up from the environment.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "passerelle-dmp-service/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(|e| DmpError::config(format!("cannot build the HTTP client: {e}")))
}

/// The rustls error somewhere in the source chain (`io::Error::source` skips the error it
/// wraps, so wrapped errors are looked at with `get_ref` too).
fn find_rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            if let Some(t) = inner.downcast_ref::<rustls::Error>() {
                return Some(t);
            }
            if let Some(t) = find_rustls_error(inner) {
                return Some(t);
            }
        }
        cur = err.source();
    }
    None
}

fn describe_tls(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(C::UnknownIssuer) => {
            "the server certificate is not issued by a trusted CA (check tls.trusted_ca)".to_owned()
        }
        E::InvalidCertificate(C::BadSignature) => {
            "the server certificate is not issued by a trusted CA: its signature does not verify with the trusted CA of that name (check tls.trusted_ca)".to_owned()
        }
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "the server certificate has expired".to_owned()
        }
        E::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "the server certificate is not valid yet (check the clock)".to_owned()
        }
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "the server certificate does not match the endpoint host name".to_owned()
        }
        E::InvalidCertificate(C::Revoked) => "the server certificate is revoked".to_owned(),
        E::AlertReceived(
            A::BadCertificate
            | A::CertificateRequired
            | A::UnknownCA
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::AccessDenied,
        ) => format!(
            "the server refused our client certificate ({e}): check tls.identity (or the card) and that the DMP knows it"
        ),
        other => format!("handshake failed: {other}"),
    }
}

/// The error and its causes on one line, without duplicates.
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
