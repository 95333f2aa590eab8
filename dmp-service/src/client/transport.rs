//! HTTP over mutual TLS ([`passerelle_mtls`]): TLS 1.2 only with the DMP's cipher suites,
//! organisation mode on one pooled client, CPS mode on a client per call authenticated by the
//! card; answers read up to `max_response_bytes`; TLS failures, refused connections and
//! timeouts told apart.

use std::sync::Arc;
use std::time::Duration;

use passerelle_card_client::CardTlsIdentity;
use passerelle_mtls::{ClientAuth, HttpError, HttpsClient, SetupError, TlsPolicy};
use rustls::{CipherSuite as C, RootCertStore};

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
pub use passerelle_mtls::Response as RawResponse;

/// The TLS of the DMP's LPS access (PDT-INF-579v4): TLS 1.2 only, ECDHE-RSA with
/// ChaCha20-Poly1305, AES-128-GCM and AES-256-GCM (rustls has no CBC suite, so
/// `…_AES_256_CBC_SHA384` is left out), and their ECDHE-ECDSA counterparts for servers with an
/// ECDSA key (the sandbox's).
const DMP_TLS: TlsPolicy = TlsPolicy {
    tls12_only: true,
    cipher_suites: Some(&[
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ]),
};

const USER_AGENT: &str = concat!("passerelle-dmp-service/", env!("CARGO_PKG_VERSION"));
const REFUSED_HINT: &str = "check tls.identity (or the card) and that the DMP knows it";

impl From<SetupError> for DmpError {
    fn from(e: SetupError) -> Self {
        Self::config(e.to_string())
    }
}

/// The HTTP side of the client.
#[derive(Debug, Clone)]
pub struct Transport {
    /// Organisation mode's pooled client; `None` when no organisation identity is configured.
    http: Option<HttpsClient>,
    base: String,
    timeout: Duration,
    max_response_bytes: usize,
    roots: Arc<RootCertStore>,
}

impl Transport {
    pub fn new(config: &DmpClientConfig) -> Result<Self, DmpError> {
        let base = config.endpoint.trim().trim_end_matches('/').to_owned();
        passerelle_mtls::https_endpoint(
            "dmp",
            "the DMP",
            &config.endpoint,
            config.timeout,
            config.max_response_bytes,
        )?;
        let roots = Arc::new(passerelle_mtls::load_roots(&config.tls.trusted_ca)?);
        let http = match &config.tls.identity {
            Some(identity) => Some(https_client(
                passerelle_mtls::client_config(
                    &DMP_TLS,
                    roots.clone(),
                    ClientAuth::Identity(identity),
                )?,
                config.timeout,
                config.max_response_bytes,
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
        let http = https_client(
            passerelle_mtls::client_config(
                &DMP_TLS,
                self.roots.clone(),
                ClientAuth::Resolver(card.resolver()),
            )?,
            self.timeout,
            self.max_response_bytes,
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
        http: &HttpsClient,
        service: Service,
        content_type: &str,
        body: reqwest::Body,
    ) -> Result<RawResponse, DmpError> {
        let url = self.url(service);
        http.post(
            &url,
            content_type,
            "application/soap+xml, multipart/related",
            body,
        )
        .await
        .map_err(|e| match e {
            HttpError::Timeout { after } => DmpError::Timeout { after },
            HttpError::Tls { reason } => DmpError::Tls { reason },
            HttpError::Connect { reason } => DmpError::Connect {
                endpoint: url,
                reason,
            },
            HttpError::ResponseTooLarge { limit } => DmpError::ResponseTooLarge { limit },
            request @ HttpError::Request { .. } => DmpError::config(request.to_string()),
        })
    }
}

fn https_client(
    tls: rustls::ClientConfig,
    timeout: Duration,
    max_response_bytes: usize,
) -> Result<HttpsClient, SetupError> {
    HttpsClient::new(tls, timeout, max_response_bytes, USER_AGENT, REFUSED_HINT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tls12_suites_of_the_dmp_list() {
        let suites = DMP_TLS.supported_cipher_suites();
        assert_eq!(suites.len(), 6);
        assert!(
            suites
                .iter()
                .all(|s| s.version() == &rustls::version::TLS12)
        );
    }
}
