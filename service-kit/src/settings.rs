//! The settings every service shares, read from the same layers as the service's own (see
//! [`crate::config`]): `[grpc]`, `[bus]`, `[log]`, `[worker]` and `[shutdown]`.
//!
//! Durations are written one way, as text: `"30s"`, `"1500ms"`, `"2m"`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use passerelle_bus::documents::DocumentLimits;
use passerelle_bus::in_process::InProcessBus;
use passerelle_bus::nats::{NatsBus, NatsOptions};
use passerelle_bus::{BusError, SharedBus};
use serde::{Deserialize, Serialize};

use crate::telemetry::LogFormat;

/// What the service kit reads for every service.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct KitSettings {
    pub grpc: GrpcSettings,
    pub bus: BusSettings,
    pub log: LogSettings,
    pub worker: WorkerSettings,
    pub shutdown: ShutdownSettings,
    /// `[documents]`: uploads through the face's `DocumentStore` (`max_size` in bytes).
    pub documents: DocumentLimits,
}

impl KitSettings {
    /// The defaults of a service whose gRPC face listens on `port` (loopback).
    pub fn with_grpc_port(port: u16) -> Self {
        Self {
            grpc: GrpcSettings {
                listen: SocketAddr::from(([127, 0, 0, 1], port)),
                ..GrpcSettings::default()
            },
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct GrpcSettings {
    /// Address of the gRPC server; port 0 picks a free one. A worker-only replica binds none.
    pub listen: SocketAddr,
    /// How long a gRPC call waits for a worker's answer on the bus.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

impl Default for GrpcSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// How to reach the bus. Without `nats_url`, the in-process bus (everything in one process).
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BusSettings {
    /// NATS server URL (several servers of a cluster: comma-separated).
    pub nats_url: Option<String>,
    /// User and password (with `password`).
    pub user: Option<String>,
    /// Never written back out nor shown in debug output; better set by
    /// `PASSERELLE__BUS__PASSWORD`.
    #[serde(skip_serializing)]
    pub password: Option<String>,
    /// Authentication token.
    #[serde(skip_serializing)]
    pub token: Option<String>,
    /// NKey seed (`SU…`) of this service's user.
    #[serde(skip_serializing)]
    pub nkey_seed: Option<String>,
    /// NATS credentials file (`.creds`: user JWT and NKey seed, decentralised auth).
    pub credentials_file: Option<PathBuf>,
    pub tls: BusTlsSettings,
    /// How long connecting may take before start-up fails.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
}

impl Default for BusSettings {
    fn default() -> Self {
        Self {
            nats_url: None,
            user: None,
            password: None,
            token: None,
            nkey_seed: None,
            credentials_file: None,
            tls: BusTlsSettings::default(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for BusSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("BusSettings")
            .field("nats_url", &self.nats_url)
            .field("user", &self.user)
            .field("password", &redacted(&self.password))
            .field("token", &redacted(&self.token))
            .field("nkey_seed", &redacted(&self.nkey_seed))
            .field("credentials_file", &self.credentials_file)
            .field("tls", &self.tls)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// TLS to the NATS server: the CA that signed its certificate, and this service's own
/// certificate when the server asks for one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BusTlsSettings {
    /// PEM file of the CA of the server's certificate; setting it requires TLS.
    pub ca: Option<PathBuf>,
    /// PEM certificate of this service (with `client_key`).
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
}

/// Why the bus named by the settings could not be reached; each names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum BusConnectError {
    #[error("bus.{setting}: {problem}")]
    Setting {
        setting: &'static str,
        problem: String,
    },
    #[error(
        "bus.nats_url = {url}: authentication refused: check bus.user/bus.password, bus.token, \
         bus.nkey_seed or bus.credentials_file ({detail})"
    )]
    Authentication { url: String, detail: String },
    #[error(
        "bus.nats_url = {url}: TLS failed: check bus.tls.ca (the CA of the server's \
         certificate) and bus.tls.client_cert/client_key ({detail})"
    )]
    Tls { url: String, detail: String },
    #[error("bus.nats_url = {url}: cannot connect: {detail}")]
    Unreachable { url: String, detail: String },
}

impl BusSettings {
    /// The NATS URL, when one is set and not empty.
    pub fn nats_url(&self) -> Option<&str> {
        self.nats_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
    }

    /// Connection options for the NATS client, checked: a half-given setting is an error
    /// naming it, never a silent anonymous connection.
    pub fn nats_options(&self, name: &str) -> Result<NatsOptions, BusConnectError> {
        let setting = |setting, problem: &str| BusConnectError::Setting {
            setting,
            problem: problem.to_owned(),
        };
        let user_password = match (&self.user, &self.password) {
            (Some(u), p) if !u.is_empty() => Some((u.clone(), p.clone().unwrap_or_default())),
            (_, Some(p)) if !p.is_empty() => {
                return Err(setting("user", "bus.password is set without bus.user"));
            }
            _ => None,
        };
        for (name, path) in [
            ("credentials_file", &self.credentials_file),
            ("tls.ca", &self.tls.ca),
            ("tls.client_cert", &self.tls.client_cert),
            ("tls.client_key", &self.tls.client_key),
        ] {
            if let Some(p) = path
                && !p.is_file()
            {
                return Err(BusConnectError::Setting {
                    setting: name,
                    problem: format!("{} is not a readable file", p.display()),
                });
            }
        }
        let client_certificate = match (&self.tls.client_cert, &self.tls.client_key) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            (None, None) => None,
            (Some(_), None) => {
                return Err(setting("tls.client_key", "needed with bus.tls.client_cert"));
            }
            (None, Some(_)) => {
                return Err(setting("tls.client_cert", "needed with bus.tls.client_key"));
            }
        };
        Ok(NatsOptions {
            name: Some(name.to_owned()),
            credentials_file: self.credentials_file.clone(),
            user_password,
            token: self.token.clone().filter(|t| !t.is_empty()),
            nkey_seed: self.nkey_seed.clone().filter(|s| !s.is_empty()),
            tls_ca: self.tls.ca.clone(),
            tls_client_certificate: client_certificate,
            connect_timeout: Some(self.connect_timeout),
            ..NatsOptions::default()
        })
    }

    /// Connects the bus once for the whole service: NATS when a URL is set (with the events
    /// stream created if missing, when `events` says so), the in-process bus otherwise.
    pub async fn connect(
        &self,
        name: &str,
        events: EventsStream,
    ) -> Result<SharedBus, BusConnectError> {
        let Some(url) = self.nats_url() else {
            return Ok(Arc::new(InProcessBus::new()));
        };
        let options = self.nats_options(name)?;
        let nats = NatsBus::connect(url, options)
            .await
            .map_err(|e| connect_error(url, e))?;
        if events == EventsStream::Ensure {
            // Events and audit records are kept by JetStream from the first one on.
            nats.ensure_events_stream()
                .await
                .map_err(|e| BusConnectError::Unreachable {
                    url: redact(url),
                    detail: e.to_string(),
                })?;
        }
        Ok(Arc::new(nats))
    }
}

/// Whether connecting also makes sure the JetStream events stream exists: services do; a
/// card-agent, whose NATS user may not manage streams, leaves it to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsStream {
    Ensure,
    Leave,
}

fn connect_error(url: &str, e: BusError) -> BusConnectError {
    let url = redact(url);
    match e {
        BusError::Authentication(detail) => BusConnectError::Authentication { url, detail },
        BusError::Tls(detail) => BusConnectError::Tls { url, detail },
        other => BusConnectError::Unreachable {
            url,
            detail: other.to_string(),
        },
    }
}

/// A URL without its `user:password@` part, for messages.
fn redact(url: &str) -> String {
    url.split(',')
        .map(|u| match (u.find("://"), u.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}://<redacted>@{}", &u[..scheme], &u[at + 1..])
            }
            _ => u.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// `tracing` filter, overridden by `RUST_LOG`.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            filter: "info".to_owned(),
        }
    }
}

/// Requests one worker replica works on at once, all its subjects together.
pub const DEFAULT_WORKER_CONCURRENCY: usize = 64;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct WorkerSettings {
    /// Requests this replica works on at once, across all its subjects; more wait on the bus
    /// (on NATS, other replicas take them). Per replica: N replicas serve N times this.
    pub concurrency: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_WORKER_CONCURRENCY,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ShutdownSettings {
    /// Longest a stop may take (SIGTERM, Ctrl-C): in-flight work gets this long, then the
    /// service says what it could not finish and exits. Container engines wait 10 s before
    /// SIGKILL.
    #[serde(with = "humantime_serde")]
    pub grace: Duration,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_text() {
        let env = vec![
            (
                "PASSERELLE__GRPC__REQUEST_TIMEOUT".to_owned(),
                "1500ms".to_owned(),
            ),
            ("PASSERELLE__SHUTDOWN__GRACE".to_owned(), "3s".to_owned()),
        ];
        let s: KitSettings = crate::config::load_with_env(None, env).unwrap();
        assert_eq!(s.grpc.request_timeout, Duration::from_millis(1500));
        assert_eq!(s.shutdown.grace, Duration::from_secs(3));
        let bad = vec![("PASSERELLE__SHUTDOWN__GRACE".to_owned(), "soon".to_owned())];
        let err = crate::config::load_with_env::<KitSettings, _>(None, bad).unwrap_err();
        assert!(err.to_string().contains("grace"), "{err}");
    }

    #[test]
    fn half_given_credentials_name_the_setting() {
        let s = BusSettings {
            password: Some("secret".into()),
            ..Default::default()
        };
        let err = s.nats_options("x").unwrap_err().to_string();
        assert!(err.contains("bus.user"), "{err}");
        let s = BusSettings {
            tls: BusTlsSettings {
                client_cert: Some("/nonexistent.pem".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let err = s.nats_options("x").unwrap_err().to_string();
        assert!(err.contains("bus.tls.client_cert"), "{err}");
    }

    #[test]
    fn secrets_stay_out_of_debug_and_messages() {
        let s = BusSettings {
            user: Some("svc".into()),
            password: Some("hunter2".into()),
            nkey_seed: Some("SUAseed".into()),
            ..Default::default()
        };
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("SUAseed"),
            "{shown}"
        );
        assert_eq!(
            redact("nats://svc:hunter2@host:4222"),
            "nats://<redacted>@host:4222"
        );
    }
}
