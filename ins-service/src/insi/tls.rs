//! The TLS side of the client: our identity (PEM or PKCS#12) and the CAs we trust, as a rustls
//! client configuration with the ring provider chosen explicitly.

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::InsiError;
use super::config::{ClientIdentity, ClientTls};

/// A certificate chain (leaf first) and its private key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, InsiError> {
    if path.as_os_str().is_empty() {
        return Err(InsiError::config(format!("no {what} file configured")));
    }
    std::fs::read(path)
        .map_err(|e| InsiError::config(format!("cannot read {what} {}: {e}", path.display())))
}

fn pem_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, InsiError> {
    let bytes = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            InsiError::config(format!("{what} {} is not valid PEM: {e}", path.display()))
        })?;
    if certs.is_empty() {
        return Err(InsiError::config(format!(
            "{what} {} holds no PEM CERTIFICATE",
            path.display()
        )));
    }
    Ok(certs)
}

/// Loads the client identity from PEM files or a PKCS#12 file.
pub fn load_identity(identity: &ClientIdentity) -> Result<Identity, InsiError> {
    match identity {
        ClientIdentity::Pem { cert, key } => {
            let chain = pem_certs(cert, "client certificate")?;
            let key_bytes = read(key, "client private key")?;
            let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| {
                InsiError::config(format!(
                    "client private key {} is not a PEM private key (PKCS#8, PKCS#1 or SEC1): {e}",
                    key.display()
                ))
            })?;
            Ok(Identity { chain, key })
        }
        ClientIdentity::Pkcs12 { path, password } => {
            let bytes = read(path, "PKCS#12")?;
            let store = p12_keystore::KeyStore::from_pkcs12(
                &bytes,
                password,
                p12_keystore::Pkcs12ImportPolicy::Strict,
            )
            .map_err(|e| {
                let why = match e {
                    p12_keystore::error::Error::MacError(_) => {
                        "wrong password (or the file is corrupted)".to_owned()
                    }
                    other => format!("not a readable PKCS#12 file ({other})"),
                };
                InsiError::config(format!("PKCS#12 {}: {why}", path.display()))
            })?;
            let (_, chain) = store.private_key_chain().ok_or_else(|| {
                InsiError::config(format!(
                    "PKCS#12 {} holds no private key with its certificate",
                    path.display()
                ))
            })?;
            let certs: Vec<CertificateDer<'static>> = chain
                .certs()
                .iter()
                .map(|c| CertificateDer::from(c.as_der().to_vec()))
                .collect();
            if certs.is_empty() {
                return Err(InsiError::config(format!(
                    "PKCS#12 {} has a key without certificate",
                    path.display()
                )));
            }
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
            Ok(Identity { chain: certs, key })
        }
    }
}

/// The trust anchors: only the configured CA files.
pub fn load_roots(files: &[std::path::PathBuf]) -> Result<RootCertStore, InsiError> {
    if files.is_empty() {
        return Err(InsiError::config(
            "tls.trusted_ca is empty: give the CA PEM files to trust (IGC-Santé roots in production, the sandbox CA in tests)",
        ));
    }
    let mut roots = RootCertStore::empty();
    for f in files {
        for cert in pem_certs(f, "trusted CA")? {
            roots.add(cert).map_err(|e| {
                InsiError::config(format!(
                    "trusted CA {} is not a usable CA certificate: {e}",
                    f.display()
                ))
            })?;
        }
    }
    Ok(roots)
}

/// The rustls configuration for INSi in CPS mode with TLS authenticated by the card: the
/// card's authentication key signs the handshake through `card`. TLS 1.2 only: a CPS signs
/// RSA PKCS#1 v1.5 only, and TLS 1.3 requires RSA-PSS for the client's CertificateVerify.
pub fn card_client_config(
    roots: Arc<RootCertStore>,
    card: &super::cps::CardTlsIdentity,
) -> Result<ClientConfig, InsiError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .map_err(|e| InsiError::config(format!("TLS versions: {e}")))?
        .with_root_certificates(roots)
        .with_client_cert_resolver(card.resolver());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The rustls configuration for INSi: ring provider, TLS 1.2/1.3, configured roots only,
/// client authentication, HTTP/1.1.
pub fn client_config(tls: &ClientTls) -> Result<ClientConfig, InsiError> {
    let roots = load_roots(&tls.trusted_ca)?;
    let identity = load_identity(&tls.identity)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| InsiError::config(format!("TLS versions: {e}")))?
        .with_root_certificates(roots)
        .with_client_auth_cert(identity.chain, identity.key)
        .map_err(|e| {
            InsiError::config(format!(
                "the client certificate and private key do not go together or are unsupported: {e}"
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
