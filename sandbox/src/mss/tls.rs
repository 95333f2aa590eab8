//! Server TLS of the SMTP submission: the sandbox server certificate, TLS 1.2 and 1.3
//! with the ECDHE AES-GCM / ChaCha20 suites only (the MSS policy as far as it is known),
//! no ALPN. A client certificate is asked for, not required (a password session has
//! none); one that is presented must chain to the test root CA or the CPS CA, otherwise
//! the handshake fails.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::ring::cipher_suite;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::insi::SandboxError;
use crate::pki::TestPki;

fn tls_error(what: &str, e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Tls(format!("MSS {what}: {e}"))
}

pub(crate) fn acceptor(pki: &TestPki) -> Result<TlsAcceptor, SandboxError> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = vec![
        cipher_suite::TLS13_AES_256_GCM_SHA384,
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        // The sandbox server's key is ECDSA: these are the ones it actually negotiates.
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    let provider = Arc::new(provider);
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&pki.ca_cert).map_err(|e| tls_error("CA", e))?)
        .map_err(|e| tls_error("CA", e))?;
    // An anchor by itself too: a card middleware may send the CPS certificate alone.
    roots
        .add(CertificateDer::from_pem_file(&pki.cps_ca_cert).map_err(|e| tls_error("CPS CA", e))?)
        .map_err(|e| tls_error("CPS CA", e))?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| tls_error("client verifier", e))?;
    let chain = CertificateDer::pem_file_iter(&pki.server_cert)
        .map_err(|e| tls_error("server certificate", e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error("server certificate", e))?;
    let key =
        PrivateKeyDer::from_pem_file(&pki.server_key).map_err(|e| tls_error("server key", e))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| tls_error("protocol versions", e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| tls_error("server certificate", e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
