//! The TLS side of the client: the organisation's identity (PEM or PKCS#12), the CAs we trust,
//! TLS 1.2 only with the DMP's cipher suites, as rustls client configurations (ring provider).

use std::path::Path;
use std::sync::Arc;

use passerelle_card_client::CardTlsIdentity;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore, SupportedCipherSuite};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::config::ClientIdentity;
use super::error::DmpError;

/// A certificate chain (leaf first) and its private key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, DmpError> {
    if path.as_os_str().is_empty() {
        return Err(DmpError::config(format!("no {what} file configured")));
    }
    std::fs::read(path)
        .map_err(|e| DmpError::config(format!("cannot read {what} {}: {e}", path.display())))
}

fn pem_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, DmpError> {
    let bytes = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            DmpError::config(format!("{what} {} is not valid PEM: {e}", path.display()))
        })?;
    if certs.is_empty() {
        return Err(DmpError::config(format!(
            "{what} {} holds no PEM CERTIFICATE",
            path.display()
        )));
    }
    Ok(certs)
}

/// Loads a certificate and key from PEM files or a PKCS#12 file.
pub fn load_identity(identity: &ClientIdentity) -> Result<Identity, DmpError> {
    match identity {
        ClientIdentity::Pem { cert, key } => {
            let chain = pem_certs(cert, "client certificate")?;
            let key_bytes = read(key, "client private key")?;
            let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| {
                DmpError::config(format!(
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
                DmpError::config(format!("PKCS#12 {}: {why}", path.display()))
            })?;
            let (_, chain) = store.private_key_chain().ok_or_else(|| {
                DmpError::config(format!(
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
                return Err(DmpError::config(format!(
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
pub fn load_roots(files: &[std::path::PathBuf]) -> Result<RootCertStore, DmpError> {
    if files.is_empty() {
        return Err(DmpError::config(
            "tls.trusted_ca is empty: give the CA PEM files to trust (IGC-Santé roots in production, the sandbox CA in tests)",
        ));
    }
    let mut roots = RootCertStore::empty();
    for f in files {
        for cert in pem_certs(f, "trusted CA")? {
            roots.add(cert).map_err(|e| {
                DmpError::config(format!(
                    "trusted CA {} is not a usable CA certificate: {e}",
                    f.display()
                ))
            })?;
        }
    }
    Ok(roots)
}

/// The cipher suites of the DMP's LPS access (PDT-INF-579v4): ECDHE-RSA with ChaCha20-Poly1305,
/// AES-128-GCM and AES-256-GCM (rustls has no CBC suite, so `…_AES_256_CBC_SHA384` is left
/// out), and their ECDHE-ECDSA counterparts for servers with an ECDSA key (the sandbox's).
fn dmp_cipher_suites() -> Vec<SupportedCipherSuite> {
    use rustls::CipherSuite as C;
    const WANTED: [C; 6] = [
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    rustls::crypto::ring::default_provider()
        .cipher_suites
        .into_iter()
        .filter(|s| WANTED.contains(&s.suite()))
        .collect()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: dmp_cipher_suites(),
        ..rustls::crypto::ring::default_provider()
    })
}

/// Organisation mode: TLS 1.2, the DMP suites, configured roots only, the organisation's
/// authentication certificate, HTTP/1.1.
pub fn organisation_config(
    roots: Arc<RootCertStore>,
    identity: &ClientIdentity,
) -> Result<ClientConfig, DmpError> {
    let identity = load_identity(identity)?;
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .map_err(|e| DmpError::config(format!("TLS versions: {e}")))?
        .with_root_certificates(roots)
        .with_client_auth_cert(identity.chain, identity.key)
        .map_err(|e| {
            DmpError::config(format!(
                "the client certificate and private key do not go together or are unsupported: {e}"
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// CPS mode: the card's authentication key signs the handshake through the card-agent.
pub fn card_config(
    roots: Arc<RootCertStore>,
    card: &CardTlsIdentity,
) -> Result<ClientConfig, DmpError> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .map_err(|e| DmpError::config(format!("TLS versions: {e}")))?
        .with_root_certificates(roots)
        .with_client_cert_resolver(card.resolver());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tls12_suites_of_the_dmp_list() {
        let suites = dmp_cipher_suites();
        assert_eq!(suites.len(), 6);
        assert!(
            suites
                .iter()
                .all(|s| s.version() == &rustls::version::TLS12)
        );
    }
}
