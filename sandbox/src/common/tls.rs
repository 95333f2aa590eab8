//! Mutual TLS of the simulators: the sandbox server certificate, a client certificate
//! required, chained to the test root CA or to the CPS intermediate CA (refused at the
//! handshake otherwise).

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::insi::SandboxError;
use crate::pki::TestPki;

pub(crate) struct TlsSetup {
    pub acceptor: TlsAcceptor,
    /// Raw subject of the CPS intermediate CA: a client certificate it issued is a CPS.
    pub cps_issuer: Vec<u8>,
    /// DER of the CPS intermediate CA: CPS assertions' certificates must chain to it.
    pub cps_ca_der: Vec<u8>,
    /// DER of the test root CA.
    pub ca_der: Vec<u8>,
}

fn tls_error(what: &str, e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Tls(format!("{what}: {e}"))
}

/// Server TLS for a simulator: the sandbox server certificate, a client certificate
/// required and chained to the test root CA or the CPS CA, the given protocol versions.
pub(crate) fn config(
    pki: &TestPki,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<TlsSetup, SandboxError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca = CertificateDer::from_pem_file(&pki.ca_cert).map_err(|e| tls_error("CA", e))?;
    let cps_ca =
        CertificateDer::from_pem_file(&pki.cps_ca_cert).map_err(|e| tls_error("CPS CA", e))?;
    let cps_issuer = x509_parser::parse_x509_certificate(&cps_ca)
        .map_err(|e| tls_error("CPS CA", e))?
        .1
        .subject()
        .as_raw()
        .to_vec();
    let cps_ca_der = cps_ca.to_vec();
    let ca_der = ca.to_vec();
    let mut roots = RootCertStore::empty();
    roots.add(ca).map_err(|e| tls_error("CA", e))?;
    // Also an anchor by itself, so that a CPS client sending only its own certificate
    // (no chain) is accepted, as card middlewares often do.
    roots.add(cps_ca).map_err(|e| tls_error("CPS CA", e))?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| tls_error("client verifier", e))?;
    let chain = CertificateDer::pem_file_iter(&pki.server_cert)
        .map_err(|e| tls_error("server certificate", e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error("server certificate", e))?;
    let key =
        PrivateKeyDer::from_pem_file(&pki.server_key).map_err(|e| tls_error("server key", e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| tls_error("protocol versions", e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| tls_error("server certificate", e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsSetup {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        cps_issuer,
        cps_ca_der,
        ca_der,
    })
}
