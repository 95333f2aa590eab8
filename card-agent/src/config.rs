//! Configuration of the card-agent: defaults, then the file, then `PASSERELLE__…` variables
//! (e.g. `PASSERELLE__WORKSTATION`, `PASSERELLE__BACKEND__KIND`, `PASSERELLE__BUS__NATS_URL`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use passerelle_service_kit::settings::{BusSettings, LogSettings, ShutdownSettings};
use serde::{Deserialize, Serialize};

use crate::agent::AgentSettings;
use crate::backend::software::SoftwareTokenConfig;

/// Default port of the local gRPC service.
pub const DEFAULT_GRPC_PORT: u16 = 50054;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CardAgentConfig {
    /// Workstation id: one subject token (letters, digits, `-`, `_`); the agent serves
    /// `passerelle.card.v1.<workstation>.*`.
    pub workstation: String,
    pub backend: BackendConfig,
    pub pin: PinSettings,
    pub grpc: GrpcSettings,
    /// The service kit's `[bus]`: NATS URL, credentials (this agent's NATS user decides what
    /// it may serve), TLS.
    pub bus: BusSettings,
    pub log: LogSettings,
    pub shutdown: ShutdownSettings,
}

impl Default for CardAgentConfig {
    fn default() -> Self {
        Self {
            workstation: "local".to_owned(),
            backend: BackendConfig::default(),
            pin: PinSettings::default(),
            grpc: GrpcSettings::default(),
            bus: BusSettings::default(),
            log: LogSettings::default(),
            shutdown: ShutdownSettings::default(),
        }
    }
}

impl CardAgentConfig {
    pub fn agent_settings(&self) -> AgentSettings {
        AgentSettings {
            workstation: self.workstation.clone(),
            pin_idle_timeout: self.pin.idle_timeout,
            pinentry: self.pin.pinentry.clone(),
            pinentry_timeout: self.pin.pinentry_timeout,
        }
    }
}

/// Which backend reaches the cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Key and certificate in files (organisation certificate, sandbox test CPS).
    #[default]
    Software,
    /// A PKCS#11 module (Cryptolib CPS, SoftHSM).
    Pkcs11,
    /// PC/SC readers, cards spoken to directly.
    Pcsc,
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Software => "software",
            Self::Pkcs11 => "pkcs11",
            Self::Pcsc => "pcsc",
        })
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BackendConfig {
    pub kind: BackendKind,
    /// `[backend.software]`: used when `kind = "software"`.
    pub software: SoftwareTokenConfig,
    /// `[backend.pkcs11]`: used when `kind = "pkcs11"`.
    pub pkcs11: Pkcs11Settings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Pkcs11Settings {
    /// Path of the PKCS#11 module.
    pub module: PathBuf,
    /// Token labels always treated as CPS (e.g. a test token).
    pub cps_token_labels: Vec<String>,
}

impl Default for Pkcs11Settings {
    fn default() -> Self {
        Self {
            module: PathBuf::from(crate::backend::pkcs11::CRYPTOLIB_CPS_MODULE),
            cps_token_labels: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PinSettings {
    /// A cached PIN unused this long is forgotten (`"0s"`: never cached).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Program and arguments asking the user for the PIN, printing it on stdout (exit status
    /// non-zero: cancelled). It gets `PASSERELLE_PIN_PROMPT`, `PASSERELLE_CARD_READER` and
    /// `PASSERELLE_CARD_SERIAL` in its environment. Empty: no prompt; the PIN then comes from
    /// the local CLI only.
    pub pinentry: Vec<String>,
    /// How long the prompt may take.
    #[serde(with = "humantime_serde")]
    pub pinentry_timeout: Duration,
}

impl Default for PinSettings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(15 * 60),
            pinentry: Vec::new(),
            pinentry_timeout: Duration::from_secs(120),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GrpcSettings {
    /// Address of the local gRPC server: a loopback address (the PIN travels on it); port 0
    /// picks a free one.
    pub listen: SocketAddr,
}

impl Default for GrpcSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_GRPC_PORT)),
        }
    }
}
