//! HTTP over mutual TLS ([`passerelle_mtls`]): the INSi endpoint, TLS 1.2/1.3 with the
//! organisation's certificate or TLS 1.2 authenticated by the card, answers read up to
//! `max_response_bytes`, TLS failures told from a service that is down.

use std::sync::Arc;
use std::time::Duration;

use passerelle_mtls::{ClientAuth, HttpError, HttpsClient, SetupError, TlsPolicy};
use rustls::RootCertStore;

use super::InsiError;
use super::config::InsiClientConfig;
use super::envelope::Operation;

const USER_AGENT: &str = concat!("passerelle-ins-service/", env!("CARGO_PKG_VERSION"));
const REFUSED_HINT: &str = "check tls.identity and that INSi knows it";

/// The HTTP side of the client.
#[derive(Debug, Clone)]
pub struct Transport {
    http: HttpsClient,
    endpoint: reqwest::Url,
    /// The trusted CAs, for the per-call clients of CPS mode.
    roots: Arc<RootCertStore>,
}

/// An HTTP answer, body bounded.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl From<SetupError> for InsiError {
    fn from(e: SetupError) -> Self {
        Self::config(e.to_string())
    }
}

impl Transport {
    pub fn new(config: &InsiClientConfig) -> Result<Self, InsiError> {
        let endpoint = passerelle_mtls::https_endpoint(
            "insi",
            "INSi",
            &config.endpoint,
            config.timeout,
            config.max_response_bytes,
        )?;
        let roots = Arc::new(passerelle_mtls::load_roots(&config.tls.trusted_ca)?);
        let tls = passerelle_mtls::client_config(
            &TlsPolicy::DEFAULT,
            roots.clone(),
            ClientAuth::Identity(&config.tls.identity),
        )?;
        Ok(Self {
            http: https_client(tls, config.timeout, config.max_response_bytes)?,
            endpoint,
            roots,
        })
    }

    /// [`post`](Self::post) over a TLS session the card authenticates (TLS 1.2 only: a CPS
    /// signs RSA PKCS#1 v1.5 only, and TLS 1.3 requires RSA-PSS). A client (and so a
    /// handshake, one card signature) per call: the card, its PIN session and its holder
    /// change between calls, and a pooled session would outlive them. A failure of the card
    /// during the handshake is reported as the card's error, not as a TLS one.
    pub async fn post_with_card(
        &self,
        op: Operation,
        envelope: Vec<u8>,
        card: &super::cps::CardTlsIdentity,
    ) -> Result<RawResponse, InsiError> {
        let tls = passerelle_mtls::client_config(
            &TlsPolicy::TLS12_ONLY,
            self.roots.clone(),
            ClientAuth::Resolver(card.resolver()),
        )?;
        let http = https_client(tls, self.http.timeout(), self.http.max_response_bytes())?;
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
        self.http.max_response_bytes()
    }

    /// POSTs the envelope and reads the answer, at most `max_response_bytes` of it.
    pub async fn post(&self, op: Operation, envelope: Vec<u8>) -> Result<RawResponse, InsiError> {
        self.post_on(&self.http, op, envelope).await
    }

    async fn post_on(
        &self,
        http: &HttpsClient,
        op: Operation,
        envelope: Vec<u8>,
    ) -> Result<RawResponse, InsiError> {
        let response = http
            .post(
                self.endpoint.as_str(),
                &op.content_type(),
                "application/soap+xml",
                envelope,
            )
            .await
            .map_err(|e| self.map_error(e))?;
        Ok(RawResponse {
            status: response.status,
            body: response.body,
        })
    }

    fn map_error(&self, e: HttpError) -> InsiError {
        match e {
            HttpError::Timeout { after } => InsiError::Timeout { after },
            HttpError::Tls { reason } => InsiError::Tls { reason },
            HttpError::Connect { reason } => InsiError::Connect {
                endpoint: self.endpoint.to_string(),
                reason,
            },
            HttpError::ResponseTooLarge { limit } => InsiError::ResponseTooLarge { limit },
            request @ HttpError::Request { .. } => InsiError::config(request.to_string()),
        }
    }
}

fn https_client(
    tls: rustls::ClientConfig,
    timeout: Duration,
    max_response_bytes: usize,
) -> Result<HttpsClient, SetupError> {
    HttpsClient::new(tls, timeout, max_response_bytes, USER_AGENT, REFUSED_HINT)
}
