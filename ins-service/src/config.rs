//! Configuration of the INS service: defaults, then the file, then `PASSERELLE__…` variables
//! (e.g. `PASSERELLE__INSI__ENDPOINT`, `PASSERELLE__BUS__NATS_URL`).

use std::net::SocketAddr;

use passerelle_service_kit::telemetry::LogFormat;
use serde::{Deserialize, Serialize};

use crate::audit::AuditSettings;
use crate::insi::InsiClientConfig;
use crate::retry::RetryPolicy;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InsServiceConfig {
    pub grpc: GrpcSettings,
    pub bus: BusSettings,
    pub insi: InsiClientConfig,
    /// Retries of transient INSi failures (the timeout of one call is `insi.timeout`).
    pub insi_retry: RetryPolicy,
    pub audit: AuditSettings,
    pub log: LogSettings,
    pub worker: WorkerSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GrpcSettings {
    /// Address of the gRPC server; port 0 picks a free one.
    pub listen: SocketAddr,
    /// How long a gRPC call waits for a worker's answer on the bus.
    pub request_timeout_ms: u64,
}

impl Default for GrpcSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            request_timeout_ms: 60_000,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BusSettings {
    /// NATS server URL; empty means the in-process bus (single process deployments).
    pub nats_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkerSettings {
    /// Requests one replica works on at once.
    pub concurrency: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: crate::worker::DEFAULT_CONCURRENCY,
        }
    }
}
