//! Simulator of INSi, the CNAM's téléservice INS (`ServiceIdentiteCertifiee` v1):
//! SOAP 1.2 over mutual TLS, `rechercherInsAvecTraitsIdentite` and
//! `rechercherInsAvecCarteVitale`, answered from a table of test identities.

mod assertion;
mod identities;
mod request;
mod server;
mod soap;

pub(crate) use crate::common::xml;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::pki::{PkiError, TestPki};

/// Path of the endpoint, as on the CNAM's servers
/// (`https://qualiflps-services-ps-tlsm.ameli.fr:443/lps`).
pub const INSI_ENDPOINT_PATH: &str = "/lps";
/// Software authorisation number (IDAM) Passerelle's own configurations send to the sandbox.
/// The real one comes with the CNDA accreditation.
pub const SANDBOX_IDAM: &str = "PASSERELLE-SANDBOX";
/// Default cap on a request body: INSi requests weigh a few kilobytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// When an injected fault fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultTrigger {
    /// Every n-th SOAP request (1 = every request; 0 = never).
    EveryNth(u32),
    /// Each SOAP request with this probability (0.0 ..= 1.0).
    Probability(f64),
}

/// What an injected fault does instead of the normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// HTTP 503 with a plain text body, as a load balancer answers.
    Http503,
    /// A SOAP fault in the service's format: `subcode` (e.g. `siram_40`), detail `code`
    /// (e.g. `insi_102`) and detail `text`.
    SoapFault {
        subcode: String,
        code: String,
        text: String,
    },
    /// HTTP 200 whose body is not XML.
    GarbageBody,
    /// The connection is closed without an answer.
    CloseConnection,
}

impl FaultKind {
    /// The captured `siram_40` / `desir_1020` fault ("service temporarily unavailable").
    pub fn service_unavailable() -> Self {
        Self::SoapFault {
            subcode: "siram_40".into(),
            code: "desir_1020".into(),
            text: "Le service appelé est temporairement indisponible".into(),
        }
    }

    /// The captured `siram_40` / `insi_102` fault (technical error of the traits search).
    pub fn technical_error() -> Self {
        Self::SoapFault {
            subcode: "siram_40".into(),
            code: "insi_102".into(),
            text: "L'appel au service de recherche avec les traits d'identité renvoie une \
                   erreur technique."
                .into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FaultInjection {
    pub trigger: FaultTrigger,
    pub kind: FaultKind,
}

/// Fault injection as written on a command line: `KIND`, `KIND@N` (every N-th request) or
/// `KIND%P` (with probability P, 0 to 1). KIND: `http-503`, `garbage`, `close`,
/// `unavailable` (siram_40/desir_1020) or `technical` (siram_40/insi_102).
impl std::str::FromStr for FaultInjection {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "fault {s:?}: write KIND, KIND@N or KIND%P with KIND one of http-503, garbage, \
                 close, unavailable, technical (e.g. unavailable@3, close%0.1)"
            )
        };
        let (kind, trigger) = if let Some((k, n)) = s.split_once('@') {
            let n: u32 = n.trim().parse().map_err(|_| usage())?;
            (k, FaultTrigger::EveryNth(n))
        } else if let Some((k, p)) = s.split_once('%') {
            let p: f64 = p.trim().parse().map_err(|_| usage())?;
            if !(0.0..=1.0).contains(&p) {
                return Err(usage());
            }
            (k, FaultTrigger::Probability(p))
        } else {
            (s, FaultTrigger::EveryNth(1))
        };
        let kind = match kind.trim() {
            "http-503" => FaultKind::Http503,
            "garbage" => FaultKind::GarbageBody,
            "close" => FaultKind::CloseConnection,
            "unavailable" => FaultKind::service_unavailable(),
            "technical" => FaultKind::technical_error(),
            _ => return Err(usage()),
        };
        Ok(Self { trigger, kind })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InsiSandboxConfig {
    /// Listening address (default `127.0.0.1:0`, any free port).
    pub listen: SocketAddr,
    /// Delay before every SOAP answer.
    pub latency: Duration,
    pub fault_injection: Option<FaultInjection>,
    /// Accepted software authorisation numbers (`ContexteLPS/LPS/IDAM`); empty accepts
    /// any, otherwise an unknown one gets the `siram_100` / `desir_550` fault.
    pub accepted_idams: Vec<String>,
    pub max_body_bytes: usize,
    /// Identities file (TOML, the format of `data/insi-identities.toml`); `None` serves
    /// the identities shipped with the crate.
    pub identities_file: Option<PathBuf>,
    /// CPS mode: how far the assertion's `IssueInstant` may be from the sandbox's clock,
    /// either way.
    pub assertion_max_skew: Duration,
}

/// Default of [`InsiSandboxConfig::assertion_max_skew`].
pub const DEFAULT_ASSERTION_MAX_SKEW: Duration = Duration::from_secs(300);

impl Default for InsiSandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            latency: Duration::ZERO,
            fault_injection: None,
            accepted_idams: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            identities_file: None,
            assertion_max_skew: DEFAULT_ASSERTION_MAX_SKEW,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("test PKI: {0}")]
    Pki(#[from] PkiError),
    #[error("TLS configuration: {0}")]
    Tls(String),
    #[error("identities ({source_name}): {message}")]
    Identities {
        source_name: String,
        message: String,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Entry point of the simulator.
pub struct InsiSandbox;

impl InsiSandbox {
    /// Binds, then serves in the background until [`RunningInsiSandbox::shutdown`].
    pub async fn start(
        config: InsiSandboxConfig,
        pki: &TestPki,
    ) -> Result<RunningInsiSandbox, SandboxError> {
        if let Some(FaultInjection {
            trigger: FaultTrigger::Probability(p),
            ..
        }) = &config.fault_injection
            && !(0.0..=1.0).contains(p)
        {
            return Err(SandboxError::Config(format!(
                "fault probability {p} is not within 0..=1"
            )));
        }
        let registry = match &config.identities_file {
            None => {
                identities::Registry::builtin().map_err(|message| SandboxError::Identities {
                    source_name: "built-in".into(),
                    message,
                })?
            }
            Some(path) => identities::Registry::from_file(path).map_err(|message| {
                SandboxError::Identities {
                    source_name: path.display().to_string(),
                    message,
                }
            })?,
        };
        let registry_len = registry.len();
        let tls = server::tls_config(pki)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: config.listen,
            source,
        })?;
        let state = Arc::new(server::State::new(
            config,
            registry,
            tls.cps_issuer,
            tls.cps_ca_der,
            addr,
        ));
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, tls.acceptor, state, stop_rx));
        tracing::info!(
            %addr,
            path = INSI_ENDPOINT_PATH,
            identities = registry_len,
            "INSi sandbox listening"
        );
        Ok(RunningInsiSandbox {
            addr,
            server: crate::common::serve::ServerTask::new(stop_tx, task),
        })
    }
}

/// A running simulator. Dropping it stops it too, without waiting.
#[derive(Debug)]
pub struct RunningInsiSandbox {
    addr: SocketAddr,
    server: crate::common::serve::ServerTask,
}

impl RunningInsiSandbox {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint, e.g. `https://127.0.0.1:8443/lps`.
    pub fn url(&self) -> String {
        format!("https://{}{INSI_ENDPOINT_PATH}", self.addr)
    }

    /// The WSDL, e.g. `https://127.0.0.1:8443/lps?wsdl`.
    pub fn wsdl_url(&self) -> String {
        format!("{}?wsdl", self.url())
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(self) {
        self.server.stop().await;
    }
}

#[cfg(test)]
mod fault_spec_tests {
    use super::*;

    #[test]
    fn fault_specs_parse() {
        let f: FaultInjection = "unavailable@3".parse().unwrap();
        assert_eq!(f.trigger, FaultTrigger::EveryNth(3));
        assert_eq!(f.kind, FaultKind::service_unavailable());
        let f: FaultInjection = "close%0.25".parse().unwrap();
        assert_eq!(f.trigger, FaultTrigger::Probability(0.25));
        assert_eq!(f.kind, FaultKind::CloseConnection);
        let f: FaultInjection = "http-503".parse().unwrap();
        assert_eq!(f.trigger, FaultTrigger::EveryNth(1));
        for bad in ["", "boom", "close%2", "close@x", "garbage@"] {
            let err = bad.parse::<FaultInjection>().unwrap_err();
            assert!(err.contains("KIND@N"), "{bad}: {err}");
        }
    }
}
