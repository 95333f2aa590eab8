//! Configuration of the INSi client, loadable with the `config` crate.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The organisation certificate (CN `INSI-AUTO` or `INSI-MANU`) and its key.
pub use passerelle_mtls::ClientIdentity;

/// Where and how to call INSi.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InsiClientConfig {
    /// The INSi SOAP endpoint, e.g. the sandbox's URL; required.
    pub endpoint: String,
    pub tls: ClientTls,
    pub lps: LpsContext,
    /// `ContexteBAM/Emetteur` and `ContexteLPS/Emetteur`: who sends (an e-mail or structure id).
    pub emitter: String,
    /// Whole-call timeout, as text: `"30s"`, `"1500ms"`, `"2m"`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Largest answer accepted; INSi answers are a few kilobytes.
    pub max_response_bytes: usize,
}

impl Default for InsiClientConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            tls: ClientTls::default(),
            lps: LpsContext::default(),
            emitter: String::new(),
            timeout: Duration::from_secs(30),
            max_response_bytes: 1024 * 1024,
        }
    }
}

/// Mutual TLS: our client certificate and the CAs we trust for the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientTls {
    pub identity: ClientIdentity,
    /// PEM files: the IGC-Santé roots in production, the sandbox CA in tests. Nothing else
    /// is trusted (no system roots).
    pub trusted_ca: Vec<PathBuf>,
}

/// The software context (`ContexteLPS/LPS`) the CNAM authorised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LpsContext {
    /// The software's authorisation number (IDAM) given by the CNAM; an unknown one gets the
    /// fault `siram_100` / `desir_550`.
    pub idam: String,
    /// The `R` attribute of `IDAM` ("4" in every capture).
    pub idam_r: String,
    pub software_name: String,
    pub software_version: String,
    /// This installation of the software; set one per installation.
    pub instance: uuid::Uuid,
}

impl Default for LpsContext {
    fn default() -> Self {
        Self {
            idam: String::new(),
            idam_r: "4".to_owned(),
            software_name: "passerelle".to_owned(),
            software_version: env!("CARGO_PKG_VERSION").to_owned(),
            instance: uuid::Uuid::nil(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_from_a_file_shape() {
        let cfg: InsiClientConfig = serde_json::from_str(
            r#"{"endpoint":"https://insi.test/lps","timeout":"5s",
                "tls":{"identity":{"kind":"pkcs12","path":"org.p12","password":"x"},"trusted_ca":["ca.pem"]},
                "lps":{"idam":"ABC","instance":"b3549edd-4ae9-472a-b26f-fd2fb4ef397f"}}"#,
        )
        .expect("parses");
        assert_eq!(cfg.timeout, Duration::from_secs(5));
        assert_eq!(cfg.lps.idam_r, "4");
        assert_eq!(cfg.max_response_bytes, 1024 * 1024);
        assert!(matches!(cfg.tls.identity, ClientIdentity::Pkcs12 { .. }));
        let again: InsiClientConfig =
            serde_json::from_str(&serde_json::to_string(&cfg).expect("writes")).expect("reads");
        assert_eq!(again.timeout, cfg.timeout);
    }
}
