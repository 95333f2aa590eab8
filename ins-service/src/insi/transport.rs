//! HTTP over mutual TLS (reqwest with a preconfigured rustls configuration), reading at most
//! `max_response_bytes`, and telling TLS failures from a service that is down.

use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;

use super::InsiError;
use super::config::InsiClientConfig;
use super::envelope::Operation;

/// The HTTP side of the client.
#[derive(Debug, Clone)]
pub struct Transport {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    timeout: Duration,
    max_response_bytes: usize,
    /// The trusted CAs, for the per-call clients of CPS mode.
    roots: Arc<RootCertStore>,
}

/// An HTTP answer, body bounded.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Transport {
    pub fn new(config: &InsiClientConfig) -> Result<Self, InsiError> {
        let endpoint = reqwest::Url::parse(config.endpoint.trim()).map_err(|e| {
            InsiError::config(format!(
                "insi.endpoint {:?} is not a URL: {e}",
                config.endpoint
            ))
        })?;
        if endpoint.scheme() != "https" {
            return Err(InsiError::config(format!(
                "insi.endpoint {endpoint} must be https: INSi requires mutual TLS"
            )));
        }
        if config.max_response_bytes == 0 || config.timeout.is_zero() {
            return Err(InsiError::config(
                "insi.timeout and insi.max_response_bytes must be greater than zero",
            ));
        }
        let tls = super::tls::client_config(&config.tls)?;
        let roots = Arc::new(super::tls::load_roots(&config.tls.trusted_ca)?);
        Ok(Self {
            http: http_client(tls, config.timeout)?,
            endpoint,
            timeout: config.timeout,
            max_response_bytes: config.max_response_bytes,
            roots,
        })
    }

    /// [`post`](Self::post) over a TLS session the card authenticates. A client (and so
    /// a handshake, one card signature) per call: the card, its PIN session and its holder
    /// change between calls, and a pooled session would outlive them. A failure of the card
    /// during the handshake is reported as the card's error, not as a TLS one.
    pub async fn post_with_card(
        &self,
        op: Operation,
        envelope: Vec<u8>,
        card: &super::cps::CardTlsIdentity,
    ) -> Result<RawResponse, InsiError> {
        let tls = super::tls::card_client_config(self.roots.clone(), card)?;
        let http = http_client(tls, self.timeout)?;
        let outcome = self.post_on(&http, op, envelope).await;
        match outcome {
            Err(InsiError::Tls { .. } | InsiError::Connect { .. }) => match card.take_error() {
                Some(error) => Err(InsiError::Signer { error }),
                None => outcome,
            },
            other => other,
        }
    }

    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// POSTs the envelope and reads the answer, at most `max_response_bytes` of it.
    pub async fn post(&self, op: Operation, envelope: Vec<u8>) -> Result<RawResponse, InsiError> {
        self.post_on(&self.http, op, envelope).await
    }

    async fn post_on(
        &self,
        http: &reqwest::Client,
        op: Operation,
        envelope: Vec<u8>,
    ) -> Result<RawResponse, InsiError> {
        let mut response = http
            .post(self.endpoint.clone())
            .header(reqwest::header::CONTENT_TYPE, op.content_type())
            .header(reqwest::header::ACCEPT, "application/soap+xml")
            .body(envelope)
            .send()
            .await
            .map_err(|e| self.map_error(&e))?;
        let status = response.status().as_u16();
        let limit = self.max_response_bytes;
        if response.content_length().is_some_and(|l| l > limit as u64) {
            return Err(InsiError::ResponseTooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.map_error(&e))? {
            if body.len() + chunk.len() > limit {
                return Err(InsiError::ResponseTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawResponse { status, body })
    }

    fn map_error(&self, e: &reqwest::Error) -> InsiError {
        if e.is_timeout() {
            return InsiError::Timeout {
                after: self.timeout,
            };
        }
        if let Some(tls) = find_rustls_error(e) {
            return InsiError::Tls {
                reason: describe_tls(tls),
            };
        }
        if e.is_builder() {
            return InsiError::config(format!("cannot build the request: {e}"));
        }
        InsiError::Connect {
            endpoint: self.endpoint.to_string(),
            reason: error_chain(e),
        }
    }
}

fn http_client(tls: rustls::ClientConfig, timeout: Duration) -> Result<reqwest::Client, InsiError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only()
        .timeout(timeout)
        .connect_timeout(timeout)
        // Proxies would need their own configuration; never pick one up from the environment.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "passerelle-ins-service/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(|e| InsiError::config(format!("cannot build the HTTP client: {e}")))
}

/// The rustls error somewhere in the source chain. `io::Error::source` skips the error it
/// wraps, so wrapped errors are looked at with `get_ref` too.
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
            "the server refused our client certificate ({e}): check tls.identity and that INSi knows it"
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
