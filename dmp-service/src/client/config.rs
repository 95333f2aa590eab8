//! Configuration of the DMP client, loadable with the `config` crate.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A certificate and its key: PEM files or a PKCS#12 file.
pub use passerelle_mtls::ClientIdentity;

/// Where and how to call the DMP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DmpClientConfig {
    /// The services' base URL, `https://<host>/si-dmp-server/v2/services` (the sandbox's URL in
    /// tests); each service is `<endpoint>/<service>` (`patients`, `registry`…). Required.
    pub endpoint: String,
    /// Whole-call timeout, as text: `"30s"`, `"2m"`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Largest answer accepted (an ITI-43 answer carries the document).
    pub max_response_bytes: usize,
    pub tls: ClientTls,
    /// The software (`LPS_*` VIHF attributes); the sender device id of HL7v3 messages is
    /// `lps.id`.
    pub lps: LpsConfig,
    /// The authentication mode put in the VIHF: `DIRECTE` (CPS), `INDIRECTE`,
    /// `INDIRECTE_RENFORCEE` (organisation certificates).
    pub authentication_mode: AuthenticationModeConfig,
    /// A test platform (INS OID `1.2.250.1.213.1.4.10` expected in requests, …): informative
    /// for callers; the client writes what it is given.
    pub test_platform: bool,
    /// `sourceId` of the submission sets this installation sends (an OID of the editor or the
    /// structure).
    pub source_id: String,
}

impl Default for DmpClientConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            timeout: Duration::from_secs(60),
            max_response_bytes: 64 * 1024 * 1024,
            tls: ClientTls::default(),
            lps: LpsConfig::default(),
            authentication_mode: AuthenticationModeConfig::Indirecte,
            test_platform: false,
            source_id: String::new(),
        }
    }
}

/// `AuthenticationMode` as configured (the VIHF values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthenticationModeConfig {
    Directe,
    Indirecte,
    IndirecteRenforcee,
}

impl From<AuthenticationModeConfig> for crate::vihf::AuthenticationMode {
    fn from(m: AuthenticationModeConfig) -> Self {
        match m {
            AuthenticationModeConfig::Directe => Self::Directe,
            AuthenticationModeConfig::Indirecte => Self::Indirecte,
            AuthenticationModeConfig::IndirecteRenforcee => Self::IndirecteRenforcee,
        }
    }
}

impl From<&LpsConfig> for crate::vihf::LpsIdentity {
    fn from(l: &LpsConfig) -> Self {
        Self {
            id: l.id.clone(),
            name: l.name.clone(),
            version: l.version.clone(),
            homologation: l.homologation.clone(),
        }
    }
}

/// The software as the DMP knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LpsConfig {
    /// `LPS_ID` (an OID or the editor's id), also the HL7v3 sender device id root.
    pub id: String,
    pub name: String,
    pub version: String,
    /// `LPS_ID_HOMOLOGATION_DMP`: the DMP homologation number.
    pub homologation: String,
}

impl Default for LpsConfig {
    fn default() -> Self {
        Self {
            id: String::new(),
            name: "passerelle".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            homologation: String::new(),
        }
    }
}

/// Mutual TLS: the organisation's authentication certificate and the CAs we trust.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientTls {
    /// The organisation's TLS identity (organisation mode). CPS mode authenticates TLS with the
    /// card instead; then this may be left unset.
    pub identity: Option<ClientIdentity>,
    /// PEM files: the IGC-Santé roots in production, the sandbox CA in tests. Nothing else is
    /// trusted (no system roots).
    pub trusted_ca: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_from_a_file_shape_and_hides_the_password() {
        let cfg: DmpClientConfig = serde_json::from_str(
            r#"{"endpoint":"https://lps.dev9.dmp.gouv.fr/si-dmp-server/v2/services","timeout":"5s",
                "tls":{"identity":{"kind":"pkcs12","path":"auth.p12","password":"hunter2"},"trusted_ca":["ca.pem"]},
                "lps":{"id":"1.2.3","homologation":"H1"},"authentication_mode":"INDIRECTE_RENFORCEE"}"#,
        )
        .unwrap();
        assert_eq!(cfg.timeout, Duration::from_secs(5));
        assert_eq!(
            cfg.authentication_mode,
            AuthenticationModeConfig::IndirecteRenforcee
        );
        assert_eq!(cfg.lps.name, "passerelle");
        assert!(!format!("{cfg:?}").contains("hunter2"));
        let json = serde_json::to_string(&cfg).unwrap();
        assert!(!json.contains("hunter2"));
        let back: DmpClientConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.timeout, cfg.timeout);
    }
}
