//! rustls client configurations: the ring provider chosen explicitly, the service's protocol
//! versions and cipher suites, the configured roots only, the client's identity or a resolver
//! (the card's), HTTP/1.1.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::{CipherSuite, ClientConfig, RootCertStore, SupportedCipherSuite};

use crate::{ClientIdentity, load_identity};

/// Setting up the client failed: the endpoint, a file, a key, a password, the TLS parameters.
/// The message names the setting or file and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("{prefix}.endpoint {given:?} is not a URL: {reason}")]
    EndpointNotUrl {
        prefix: &'static str,
        given: String,
        reason: String,
    },
    #[error("{prefix}.endpoint {url} must be https: {peer} requires mutual TLS")]
    EndpointNotHttps {
        prefix: &'static str,
        url: String,
        peer: &'static str,
    },
    #[error("{prefix}.timeout and {prefix}.max_response_bytes must be greater than zero")]
    ZeroLimit { prefix: &'static str },
    #[error("no {what} file configured")]
    NotConfigured { what: &'static str },
    #[error("cannot read {what} {}: {reason}", .path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{what} {} is not valid PEM: {reason}", .path.display())]
    NotPem {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{what} {} holds no PEM CERTIFICATE", .path.display())]
    NoPemCertificate { what: &'static str, path: PathBuf },
    #[error(
        "client private key {} is not a PEM private key (PKCS#8, PKCS#1 or SEC1): {reason}",
        .path.display()
    )]
    NotAPrivateKey { path: PathBuf, reason: String },
    #[error("PKCS#12 {}: wrong password (or the file is corrupted)", .path.display())]
    Pkcs12Password { path: PathBuf },
    #[error("PKCS#12 {}: not a readable PKCS#12 file ({reason})", .path.display())]
    Pkcs12Unreadable { path: PathBuf, reason: String },
    #[error("PKCS#12 {} holds no private key with its certificate", .path.display())]
    Pkcs12NoKey { path: PathBuf },
    #[error("PKCS#12 {} has a key without certificate", .path.display())]
    Pkcs12NoCertificate { path: PathBuf },
    #[error(
        "tls.trusted_ca is empty: give the CA PEM files to trust (IGC-Santé roots in production, the sandbox CA in tests)"
    )]
    NoTrustedCa,
    #[error("trusted CA {} is not a usable CA certificate: {reason}", .path.display())]
    UnusableCa { path: PathBuf, reason: String },
    #[error("TLS versions: {reason}")]
    Versions { reason: String },
    #[error(
        "the client certificate and private key do not go together or are unsupported: {reason}"
    )]
    KeyMismatch { reason: String },
    #[error("cannot build the HTTP client: {reason}")]
    HttpClient { reason: String },
}

/// What a service accepts of TLS: its protocol versions and cipher suites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TlsPolicy {
    /// TLS 1.2 only (a CPS signs RSA PKCS#1 v1.5 only, and TLS 1.3 requires RSA-PSS for the
    /// client's CertificateVerify); otherwise rustls' safe defaults (TLS 1.2 and 1.3).
    pub tls12_only: bool,
    /// Only these suites of the ring provider (in the provider's order of preference);
    /// `None`: all of them.
    pub cipher_suites: Option<&'static [CipherSuite]>,
}

impl TlsPolicy {
    /// TLS 1.2 and 1.3, every suite of the ring provider.
    pub const DEFAULT: Self = Self {
        tls12_only: false,
        cipher_suites: None,
    };
    /// TLS 1.2 only, every TLS 1.2 suite of the ring provider.
    pub const TLS12_ONLY: Self = Self {
        tls12_only: true,
        cipher_suites: None,
    };

    /// The suites of the ring provider this policy keeps.
    pub fn supported_cipher_suites(&self) -> Vec<SupportedCipherSuite> {
        let all = rustls::crypto::ring::default_provider().cipher_suites;
        match self.cipher_suites {
            None => all,
            Some(wanted) => all
                .into_iter()
                .filter(|s| wanted.contains(&s.suite()))
                .collect(),
        }
    }

    fn provider(&self) -> Arc<CryptoProvider> {
        Arc::new(CryptoProvider {
            cipher_suites: self.supported_cipher_suites(),
            ..rustls::crypto::ring::default_provider()
        })
    }
}

/// How the client authenticates itself.
pub enum ClientAuth<'a> {
    /// With a certificate and key read from the configuration.
    Identity(&'a ClientIdentity),
    /// With a resolver: the card's TLS identity, whose key signs the handshake.
    Resolver(Arc<dyn ResolvesClientCert>),
}

/// The rustls client configuration: `policy`'s versions and suites, `roots` only, the client
/// authenticated by `auth`, HTTP/1.1.
pub fn client_config(
    policy: &TlsPolicy,
    roots: Arc<RootCertStore>,
    auth: ClientAuth<'_>,
) -> Result<ClientConfig, SetupError> {
    let builder = ClientConfig::builder_with_provider(policy.provider());
    let builder = if policy.tls12_only {
        builder.with_protocol_versions(&[&rustls::version::TLS12])
    } else {
        builder.with_safe_default_protocol_versions()
    }
    .map_err(|e| SetupError::Versions {
        reason: e.to_string(),
    })?
    .with_root_certificates(roots);
    let mut config = match auth {
        ClientAuth::Identity(identity) => {
            let identity = load_identity(identity)?;
            builder
                .with_client_auth_cert(identity.chain, identity.key)
                .map_err(|e| SetupError::KeyMismatch {
                    reason: e.to_string(),
                })?
        }
        ClientAuth::Resolver(resolver) => builder.with_client_cert_resolver(resolver),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
