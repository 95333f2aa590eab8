//! The DMP service's own settings, beside the kit's (`[grpc]`, `[bus]`, `[log]`, `[worker]`,
//! `[shutdown]`, `[documents]`): defaults, then the file, then `PASSERELLE__…` variables (e.g.
//! `PASSERELLE__DMP__ENDPOINT`).

use std::sync::Arc;
use std::time::Duration;

use passerelle_domain::Platform;
use passerelle_service_kit::audit::AuditSettings;
use serde::{Deserialize, Serialize};

use crate::client::{AuthenticationModeConfig, DmpClientConfig};
use crate::document::DocumentSettings;
use crate::signer::{SignerError, SoftwareSigner, XmlSigner};
use crate::vihf::AuthenticationMode;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DmpSettings {
    /// Where and how to call the DMP (endpoint, TLS, the software's LPS identity, the
    /// authentication mode of organisation mode, `test_platform` — on a CNAM test platform
    /// the test INS-NIR OID 1.2.250.1.213.1.4.10 is a qualified INS).
    pub dmp: DmpClientConfig,
    /// Organisation mode: the organisation's **signature** certificate and key, which sign
    /// the VIHF and the deposits' XAdES (its authentication certificate is `dmp.tls`). None:
    /// only CPS mode.
    pub organisation_signature: Option<SignatureKey>,
    pub document: DocumentSettings,
    pub audit: AuditSettings,
    /// How long the workstation's card-agent may take to answer (the PIN is entered there).
    #[serde(with = "humantime_serde")]
    pub card_timeout: Duration,
    /// `[share]`: the DMP channel of sharing (the `dmp-share` durable consumer).
    pub share: crate::share::ShareSettings,
}

impl Default for DmpSettings {
    fn default() -> Self {
        Self {
            dmp: DmpClientConfig::default(),
            organisation_signature: None,
            document: DocumentSettings::default(),
            audit: AuditSettings::default(),
            card_timeout: passerelle_card_client::DEFAULT_AGENT_TIMEOUT,
            share: crate::share::ShareSettings::default(),
        }
    }
}

impl DmpSettings {
    /// Where the INS is used: the test INS-NIR OID is qualified only on a test platform.
    pub fn platform(&self) -> Platform {
        if self.dmp.test_platform {
            Platform::Test
        } else {
            Platform::Production
        }
    }

    /// The VIHF authentication mode of organisation mode (CPS mode is always DIRECTE).
    pub fn organisation_mode(&self) -> AuthenticationMode {
        match self.dmp.authentication_mode {
            AuthenticationModeConfig::IndirecteRenforcee => AuthenticationMode::IndirecteRenforcee,
            _ => AuthenticationMode::Indirecte,
        }
    }
}

/// A software signature key: a PEM certificate and key, or a PKCS#12 — the same shape as a
/// TLS identity (`kind = "pem"`, `cert`, `key`; or `kind = "pkcs12"`, `path`, `password`).
pub type SignatureKey = passerelle_mtls::ClientIdentity;

/// The signer of a configured signature key.
pub fn signer(key: &SignatureKey) -> Result<Arc<dyn XmlSigner>, SignerError> {
    Ok(match key {
        SignatureKey::Pem { cert, key } => Arc::new(SoftwareSigner::from_pem_files(cert, key)?),
        SignatureKey::Pkcs12 { path, password } => {
            Arc::new(SoftwareSigner::from_p12(path, password)?)
        }
    })
}
