//! HTTP over mutual TLS with reqwest on a preconfigured rustls configuration: answers read up
//! to a bound, TLS failures told from a service that is down by walking the error chain.

use std::time::Duration;

use crate::SetupError;

/// Checks a client's settings `<prefix>.endpoint`, `<prefix>.timeout` and
/// `<prefix>.max_response_bytes` (e.g. `insi.…`): an https URL (mutual TLS with `peer`, e.g.
/// "INSi"), limits above zero. Returns the URL.
pub fn https_endpoint(
    prefix: &'static str,
    peer: &'static str,
    endpoint: &str,
    timeout: Duration,
    max_response_bytes: usize,
) -> Result<reqwest::Url, SetupError> {
    let url = reqwest::Url::parse(endpoint.trim()).map_err(|e| SetupError::EndpointNotUrl {
        prefix,
        given: endpoint.to_owned(),
        reason: e.to_string(),
    })?;
    if url.scheme() != "https" {
        return Err(SetupError::EndpointNotHttps {
            prefix,
            url: url.to_string(),
            peer,
        });
    }
    if max_response_bytes == 0 || timeout.is_zero() {
        return Err(SetupError::ZeroLimit { prefix });
    }
    Ok(url)
}

/// A request that did not get a complete answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// No complete answer within the client's timeout.
    #[error("no answer within {} ms", .after.as_millis())]
    Timeout { after: Duration },
    /// The TLS handshake failed; `reason` says what to check.
    #[error("TLS failed: {reason}")]
    Tls { reason: String },
    /// The service could not be reached (refused, DNS, reset); `reason` is the error chain.
    #[error("cannot connect: {reason}")]
    Connect { reason: String },
    /// The request could not be built (a bad URL, header…).
    #[error("cannot build the request: {reason}")]
    Request { reason: String },
    /// The answer is larger than the client's bound.
    #[error("the answer is larger than the limit of {limit} bytes")]
    ResponseTooLarge { limit: usize },
}

/// An HTTP answer, body bounded.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// A reqwest client over one rustls configuration: HTTP/1.1, no proxy from the environment,
/// no redirect, a whole-call timeout, answers of at most `max_response_bytes`.
#[derive(Debug, Clone)]
pub struct HttpsClient {
    http: reqwest::Client,
    timeout: Duration,
    max_response_bytes: usize,
    refused_hint: &'static str,
}

impl HttpsClient {
    /// `user_agent`: e.g. `passerelle-dmp-service/0.1.0`. `refused_hint`: what to check when
    /// the server refuses our client certificate (which setting, who must know it).
    pub fn new(
        tls: rustls::ClientConfig,
        timeout: Duration,
        max_response_bytes: usize,
        user_agent: &'static str,
        refused_hint: &'static str,
    ) -> Result<Self, SetupError> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .timeout(timeout)
            .connect_timeout(timeout)
            // Proxies would need their own configuration; never pick one up from the environment.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(user_agent)
            .build()
            .map_err(|e| SetupError::HttpClient {
                reason: e.to_string(),
            })?;
        Ok(Self {
            http,
            timeout,
            max_response_bytes,
            refused_hint,
        })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// POSTs `body` to `url` and reads the answer, at most `max_response_bytes` of it (an
    /// announced larger length is refused before reading).
    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        accept: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<Response, HttpError> {
        let mut response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(reqwest::header::ACCEPT, accept)
            .body(body)
            .send()
            .await
            .map_err(|e| self.classify(&e))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let limit = self.max_response_bytes;
        if response.content_length().is_some_and(|l| l > limit as u64) {
            return Err(HttpError::ResponseTooLarge { limit });
        }
        let mut body = Vec::with_capacity(
            response
                .content_length()
                .map_or(0, |l| usize::try_from(l).unwrap_or(0)),
        );
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(&e))? {
            if body.len() + chunk.len() > limit {
                return Err(HttpError::ResponseTooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            content_type,
            body,
        })
    }

    fn classify(&self, e: &reqwest::Error) -> HttpError {
        if e.is_timeout() {
            return HttpError::Timeout {
                after: self.timeout,
            };
        }
        if let Some(tls) = find_rustls_error(e) {
            return HttpError::Tls {
                reason: describe_tls(tls, self.refused_hint),
            };
        }
        if e.is_builder() {
            return HttpError::Request {
                reason: e.to_string(),
            };
        }
        HttpError::Connect {
            reason: error_chain(e),
        }
    }
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

fn describe_tls(e: &rustls::Error, refused_hint: &str) -> String {
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
        ) => format!("the server refused our client certificate ({e}): {refused_hint}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_urls_with_limits() {
        let ok = https_endpoint(
            "dmp",
            "the DMP",
            " https://dmp.test/v2 ",
            Duration::from_secs(1),
            1,
        );
        assert_eq!(
            ok.map(|u| u.to_string()).ok().as_deref(),
            Some("https://dmp.test/v2")
        );
        let e = https_endpoint(
            "insi",
            "INSi",
            "http://insi.test/",
            Duration::from_secs(1),
            1,
        );
        assert_eq!(
            e.err().map(|e| e.to_string()).as_deref(),
            Some("insi.endpoint http://insi.test/ must be https: INSi requires mutual TLS")
        );
        let e = https_endpoint("insi", "INSi", "nope", Duration::from_secs(1), 1);
        assert!(matches!(e, Err(SetupError::EndpointNotUrl { .. })));
        let e = https_endpoint("insi", "INSi", "https://insi.test/", Duration::ZERO, 1);
        assert_eq!(
            e.err().map(|e| e.to_string()).as_deref(),
            Some("insi.timeout and insi.max_response_bytes must be greater than zero")
        );
    }

    #[test]
    fn tls_failures_say_what_to_check() {
        let unknown = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert!(describe_tls(&unknown, "hint").contains("tls.trusted_ca"));
        let refused = rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA);
        assert!(describe_tls(&refused, "check tls.identity").ends_with(": check tls.identity"));
        let wrapped = std::io::Error::other(unknown.clone());
        assert_eq!(find_rustls_error(&wrapped), Some(&unknown));
    }
}
