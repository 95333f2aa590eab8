//! Who may send as whom: client certificates by SHA-256 fingerprint (as Postfix's
//! `relay_clientcerts`) and operator accounts (user, password) → the `From` addresses
//! each may use.

use std::collections::HashMap;
use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::mailboxes::{JEAN_FOUQUEREY, JEANNE_MEDECIN, LPS_APP, SECRETARIAT, normalise};
use crate::insi::SandboxError;
use crate::pki::TestPki;

/// Password of the sandbox's default operator accounts (one per professional mailbox, the
/// user name being the address).
pub const DEFAULT_MAILBOX_PASSWORD: &str = "passerelle-sandbox";

/// An operator account for `AUTH PLAIN` / `AUTH LOGIN`.
#[derive(Clone, PartialEq, Eq)]
pub struct MssAccount {
    pub user: String,
    pub password: String,
    /// The `From` addresses the account may use.
    pub addresses: Vec<String>,
}

impl std::fmt::Debug for MssAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MssAccount")
            .field("user", &self.user)
            .field("password", &"…")
            .field("addresses", &self.addresses)
            .finish()
    }
}

/// The default accounts: each professional mailbox, user = its address, password
/// [`DEFAULT_MAILBOX_PASSWORD`].
pub fn default_accounts() -> Vec<MssAccount> {
    [JEANNE_MEDECIN, JEAN_FOUQUEREY, LPS_APP, SECRETARIAT]
        .into_iter()
        .map(|a| MssAccount {
            user: a.to_owned(),
            password: DEFAULT_MAILBOX_PASSWORD.to_owned(),
            addresses: vec![a.to_owned()],
        })
        .collect()
}

/// A client certificate allowed to send, besides the test PKI's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSenders {
    /// SHA-256 of the certificate's DER, in hex (colons allowed).
    pub fingerprint_sha256: String,
    pub addresses: Vec<String>,
}

/// What a known client certificate may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertIdentity {
    /// Subject CN, for traces.
    pub label: String,
    pub addresses: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct Senders {
    certificates: HashMap<[u8; 32], CertIdentity>,
    accounts: Vec<MssAccount>,
}

impl Senders {
    /// The test PKI's certificates (`cps.crt` → the holder's mailbox; `org.crt` → the
    /// organisation's applicative and organisational mailboxes; `mss-app.crt` → the
    /// applicative one), then `extra`, and the accounts.
    pub fn new(
        pki: &TestPki,
        extra: &[CertificateSenders],
        accounts: &[MssAccount],
    ) -> Result<Self, SandboxError> {
        let mut certificates = HashMap::new();
        let known: [(&Path, &[&str]); 3] = [
            (&pki.cps_cert, &[JEANNE_MEDECIN]),
            (&pki.org_cert, &[LPS_APP, SECRETARIAT]),
            (&pki.mss_app_cert, &[LPS_APP]),
        ];
        for (path, addresses) in known {
            let der = CertificateDer::from_pem_file(path).map_err(|e| {
                SandboxError::Tls(format!("MSS sender certificate {}: {e}", path.display()))
            })?;
            certificates.insert(
                fingerprint(&der),
                CertIdentity {
                    label: subject_cn(&der),
                    addresses: addresses.iter().map(|a| (*a).to_owned()).collect(),
                },
            );
        }
        for entry in extra {
            let hex: String = entry
                .fingerprint_sha256
                .chars()
                .filter(|c| *c != ':')
                .collect();
            let bytes = decode_hex(&hex).ok_or_else(|| {
                SandboxError::Config(format!(
                    "not a SHA-256 fingerprint: {:?}",
                    entry.fingerprint_sha256
                ))
            })?;
            certificates.insert(
                bytes,
                CertIdentity {
                    label: format!("sha256:{}", hex.to_ascii_lowercase()),
                    addresses: normalised(&entry.addresses)?,
                },
            );
        }
        let accounts = accounts
            .iter()
            .map(|a| {
                Ok(MssAccount {
                    addresses: normalised(&a.addresses)?,
                    ..a.clone()
                })
            })
            .collect::<Result<_, SandboxError>>()?;
        Ok(Self {
            certificates,
            accounts,
        })
    }

    pub fn for_certificate(&self, der: &[u8]) -> Option<&CertIdentity> {
        self.certificates.get(&fingerprint(der))
    }

    pub fn has_accounts(&self) -> bool {
        !self.accounts.is_empty()
    }

    pub fn account(&self, user: &str, password: &str) -> Option<&MssAccount> {
        // Digests compared, not the passwords: a timing difference says nothing about
        // the password.
        let sent = fingerprint(password.as_bytes());
        self.accounts.iter().find(|a| {
            a.user.eq_ignore_ascii_case(user) && fingerprint(a.password.as_bytes()) == sent
        })
    }
}

fn normalised(addresses: &[String]) -> Result<Vec<String>, SandboxError> {
    addresses
        .iter()
        .map(|a| {
            normalise(a)
                .ok_or_else(|| SandboxError::Config(format!("not a mailbox address: {a:?}")))
        })
        .collect()
}

pub(crate) fn fingerprint(der: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The subject's first CN, or `?`.
pub(crate) fn subject_cn(der: &[u8]) -> String {
    x509_parser::parse_x509_certificate(der)
        .ok()
        .and_then(|(_, c)| {
            c.subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "?".into())
}
