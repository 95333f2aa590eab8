//! The rustls client configuration of an SMTP connection ([`passerelle_mtls::client_config`]):
//! the MSS cipher suites, TLS 1.2+ (1.2 only with a card), the configured CAs only, the
//! server's name checked, no ALPN (SMTP has none), and a client-certificate resolver that
//! records whether our certificate was actually presented (the server may not ask for it;
//! `auth = "auto"` depends on it). Handshake failures are told apart by their cause.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use passerelle_card_client::CardTlsIdentity;
use passerelle_mtls::{ClientAuth, ClientIdentity, TlsPolicy};
use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;
use rustls::{CipherSuite as C, ClientConfig, RootCertStore, SignatureScheme};

use super::config::TlsVersion;
use super::error::{SmtpError, TlsFailure};

const TLS12_SUITES: [C; 6] = [
    C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
];

const TLS13_SUITES: [C; 3] = [
    C::TLS13_AES_256_GCM_SHA384,
    C::TLS13_AES_128_GCM_SHA256,
    C::TLS13_CHACHA20_POLY1305_SHA256,
];

const ALL_SUITES: [C; 9] = {
    let mut all = [C::Unknown(0); 9];
    let mut i = 0;
    while i < 6 {
        all[i] = TLS12_SUITES[i];
        i += 1;
    }
    while i < 9 {
        all[i] = TLS13_SUITES[i - 6];
        i += 1;
    }
    all
};

/// With a software identity: TLS 1.2 and 1.3 (rustls leaves TLS 1.2 out of the hello when
/// no TLS 1.2 suite is kept, hence TLS 1.3 only by its suites).
fn software_policy(min: TlsVersion) -> TlsPolicy {
    TlsPolicy {
        tls12_only: false,
        cipher_suites: Some(match min {
            TlsVersion::Tls12 => &ALL_SUITES,
            TlsVersion::Tls13 => &TLS13_SUITES,
        }),
    }
}

/// A CPS signs RSA PKCS#1 v1.5 only; TLS 1.3 requires RSA-PSS in CertificateVerify.
const CARD_POLICY: TlsPolicy = TlsPolicy {
    tls12_only: true,
    cipher_suites: Some(&TLS12_SUITES),
};

/// Our certificate and key from the settings, read once.
pub(crate) fn load_identity(identity: &ClientIdentity) -> Result<Arc<CertifiedKey>, SmtpError> {
    let id = passerelle_mtls::load_identity(identity)
        .map_err(|e| SmtpError::config(format!("smtp.tls.identity: {e}")))?;
    let key = rustls::crypto::ring::sign::any_supported_type(&id.key).map_err(|e| {
        SmtpError::config(format!(
            "smtp.tls.identity: the private key is not usable: {e}"
        ))
    })?;
    let certified = CertifiedKey::new(id.chain, key);
    certified.keys_match().map_err(|e| {
        SmtpError::config(format!(
            "smtp.tls.identity: the certificate and private key do not go together: {e}"
        ))
    })?;
    Ok(Arc::new(certified))
}

/// Whose certificate a connection presents.
pub(crate) enum Presenter<'a> {
    Software(Option<&'a Arc<CertifiedKey>>),
    Card(&'a CardTlsIdentity),
}

/// The configuration of one connection, and the flag its handshake sets when our
/// certificate goes out.
pub(crate) fn connection_config(
    roots: &Arc<RootCertStore>,
    min: TlsVersion,
    presenter: Presenter<'_>,
) -> Result<(Arc<ClientConfig>, Arc<AtomicBool>), SmtpError> {
    let presented = Arc::new(AtomicBool::new(false));
    let (policy, inner): (TlsPolicy, Option<Arc<dyn ResolvesClientCert>>) = match presenter {
        Presenter::Software(key) => (
            software_policy(min),
            key.map(|k| Arc::new(Fixed(k.clone())) as Arc<dyn ResolvesClientCert>),
        ),
        Presenter::Card(card) => {
            if min == TlsVersion::Tls13 {
                return Err(SmtpError::config(
                    "smtp.tls.min_version = \"1.3\" cannot be used with a CPS card (TLS 1.2 only): set it to \"1.2\"",
                ));
            }
            (CARD_POLICY, Some(card.resolver()))
        }
    };
    let resolver = Arc::new(Recording {
        inner,
        presented: presented.clone(),
    });
    let mut config =
        passerelle_mtls::client_config(&policy, roots.clone(), ClientAuth::Resolver(resolver))
            .map_err(|e| SmtpError::config(e.to_string()))?;
    config.alpn_protocols.clear();
    Ok((Arc::new(config), presented))
}

/// Always the same certificate (the settings' identity).
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesClientCert for Fixed {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Sets `presented` when the server asks for a certificate and ours can answer with one of
/// its signature schemes (else rustls sends an empty certificate list).
#[derive(Debug)]
struct Recording {
    inner: Option<Arc<dyn ResolvesClientCert>>,
    presented: Arc<AtomicBool>,
}

impl ResolvesClientCert for Recording {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let certified = self
            .inner
            .as_ref()?
            .resolve(root_hint_subjects, sigschemes)?;
        if certified.key.choose_scheme(sigschemes).is_some() {
            self.presented.store(true, Ordering::SeqCst);
        }
        Some(certified)
    }

    fn has_certs(&self) -> bool {
        self.inner.as_ref().is_some_and(|r| r.has_certs())
    }
}

/// The rustls error in an I/O error's chain, if any.
pub(crate) fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|i| i as _);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

/// What a rustls error means for the operator.
pub(crate) fn failure_of(e: &rustls::Error) -> TlsFailure {
    use rustls::{AlertDescription as A, CertificateError as CE, Error as E};
    match e {
        E::InvalidCertificate(CE::UnknownIssuer | CE::BadSignature) => TlsFailure::UnknownCa,
        E::InvalidCertificate(CE::NotValidForName | CE::NotValidForNameContext { .. }) => {
            TlsFailure::NameMismatch
        }
        E::InvalidCertificate(other) => TlsFailure::BadServerCertificate {
            reason: format!("{other:?}"),
        },
        E::AlertReceived(
            alert @ (A::BadCertificate
            | A::CertificateRequired
            | A::UnknownCA
            | A::CertificateExpired
            | A::CertificateRevoked
            | A::CertificateUnknown
            | A::UnsupportedCertificate
            | A::AccessDenied),
        ) => TlsFailure::ClientCertificateRefused {
            alert: format!("{alert:?}"),
        },
        E::AlertReceived(
            alert @ (A::HandshakeFailure | A::ProtocolVersion | A::InsufficientSecurity),
        ) => TlsFailure::NothingInCommon {
            reason: format!("{alert:?}"),
        },
        E::PeerIncompatible(reason) => TlsFailure::NothingInCommon {
            reason: format!("{reason:?}"),
        },
        E::InvalidMessage(reason) => TlsFailure::NotTls {
            reason: format!("{reason:?}"),
        },
        other => TlsFailure::Other {
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_by_policy() {
        let all = software_policy(TlsVersion::Tls12).supported_cipher_suites();
        assert_eq!(all.len(), 9);
        let tls13 = software_policy(TlsVersion::Tls13).supported_cipher_suites();
        assert!(tls13.len() == 3 && tls13.iter().all(|s| s.version() == &rustls::version::TLS13));
        let card = CARD_POLICY.supported_cipher_suites();
        assert!(card.len() == 6 && card.iter().all(|s| s.version() == &rustls::version::TLS12));
    }

    #[test]
    fn failures_say_what_to_check() {
        let e = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert!(failure_of(&e).to_string().contains("smtp.tls.trusted_ca"));
        let io = std::io::Error::other(e.clone());
        assert_eq!(rustls_error(&io), Some(&e));
        let e = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateUnknown);
        assert!(matches!(
            failure_of(&e),
            TlsFailure::ClientCertificateRefused { .. }
        ));
    }
}
