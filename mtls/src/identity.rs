//! The client's TLS identity as configured (PEM files or a PKCS#12 file) and the trusted CAs,
//! read into what rustls takes.

use std::fmt;
use std::path::{Path, PathBuf};

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};

use crate::SetupError;

/// A certificate (the organisation's authentication certificate) and its key, as configured:
/// `{ kind = "pem", cert = "…", key = "…" }` or `{ kind = "pkcs12", path = "…", password = "…" }`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ClientIdentity {
    /// A PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    Pem { cert: PathBuf, key: PathBuf },
    /// A PKCS#12 (.p12/.pfx) file holding the key and its chain.
    Pkcs12 {
        path: PathBuf,
        /// Never written back out nor shown in debug output.
        #[serde(default, skip_serializing)]
        password: String,
    },
}

/// PEM, no files: loading it says what is missing.
impl Default for ClientIdentity {
    fn default() -> Self {
        Self::Pem {
            cert: PathBuf::new(),
            key: PathBuf::new(),
        }
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pem { cert, key } => f
                .debug_struct("Pem")
                .field("cert", cert)
                .field("key", key)
                .finish(),
            Self::Pkcs12 { path, .. } => f
                .debug_struct("Pkcs12")
                .field("path", path)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// A certificate chain (leaf first) and its private key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, SetupError> {
    if path.as_os_str().is_empty() {
        return Err(SetupError::NotConfigured { what });
    }
    std::fs::read(path).map_err(|e| SetupError::Read {
        what,
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn pem_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, SetupError> {
    let bytes = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SetupError::NotPem {
            what,
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(SetupError::NoPemCertificate {
            what,
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// Reads the identity: PEM files or a PKCS#12 file.
pub fn load_identity(identity: &ClientIdentity) -> Result<Identity, SetupError> {
    match identity {
        ClientIdentity::Pem { cert, key } => {
            let chain = pem_certs(cert, "client certificate")?;
            let key_bytes = read(key, "client private key")?;
            let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| {
                SetupError::NotAPrivateKey {
                    path: key.clone(),
                    reason: e.to_string(),
                }
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
            .map_err(|e| match e {
                p12_keystore::error::Error::MacError(_) => {
                    SetupError::Pkcs12Password { path: path.clone() }
                }
                other => SetupError::Pkcs12Unreadable {
                    path: path.clone(),
                    reason: other.to_string(),
                },
            })?;
            let (_, chain) = store
                .private_key_chain()
                .ok_or_else(|| SetupError::Pkcs12NoKey { path: path.clone() })?;
            let certs: Vec<CertificateDer<'static>> = chain
                .certs()
                .iter()
                .map(|c| CertificateDer::from(c.as_der().to_vec()))
                .collect();
            if certs.is_empty() {
                return Err(SetupError::Pkcs12NoCertificate { path: path.clone() });
            }
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
            Ok(Identity { chain: certs, key })
        }
    }
}

/// The trust anchors: only the configured CA files (no system roots).
pub fn load_roots(files: &[PathBuf]) -> Result<RootCertStore, SetupError> {
    if files.is_empty() {
        return Err(SetupError::NoTrustedCa);
    }
    let mut roots = RootCertStore::empty();
    for f in files {
        for cert in pem_certs(f, "trusted CA")? {
            roots.add(cert).map_err(|e| SetupError::UnusableCa {
                path: f.clone(),
                reason: e.to_string(),
            })?;
        }
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_neither_shown_nor_serialised() {
        let id = ClientIdentity::Pkcs12 {
            path: "org.p12".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{id:?}").contains("hunter2"));
        let json = serde_json::to_string(&id).expect("serialises");
        assert!(!json.contains("hunter2"), "{json}");
        let back: ClientIdentity = serde_json::from_str(&json).expect("reads back");
        assert!(matches!(back, ClientIdentity::Pkcs12 { password, .. } if password.is_empty()));
    }

    #[test]
    fn missing_files_are_named() {
        let e = load_identity(&ClientIdentity::default())
            .err()
            .map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("no client certificate file configured"));
        let e = load_roots(&[]).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.starts_with("tls.trusted_ca is empty")));
        let e = load_roots(&["/nonexistent/ca.pem".into()])
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_ref()
                .is_some_and(|e| e.starts_with("cannot read trusted CA /nonexistent/ca.pem: ")),
            "{e:?}"
        );
    }
}
