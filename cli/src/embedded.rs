//! The whole system in one process: the sandbox (INSi simulator + test PKI) and every service,
//! on the in-process bus or on NATS. Used by `passerelle up` and `passerelle demo`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use card_agent::backend::software::{SANDBOX_CPS_PIN, SoftwareTokenConfig, TokenIdentity};
use card_agent::config::BackendKind;
use card_agent::{CardAgentConfig, RunningCardAgent};
use ins_service::insi::{ClientIdentity, ClientTls, InsiClientConfig, LpsContext};
use ins_service::{InsSettings, RunningInsService};
use passerelle_bus::{SharedBus, in_process::InProcessBus, nats::NatsBus};
use passerelle_sandbox::insi::SANDBOX_IDAM;
use passerelle_sandbox::insi::{
    FaultInjection, InsiSandbox, InsiSandboxConfig, RunningInsiSandbox,
};
use passerelle_sandbox::pki::{CPS_CARD_ID, TestPki};
use passerelle_service_kit::Roles;
use passerelle_service_kit::Shutdown;
use passerelle_service_kit::settings::KitSettings;

/// Default gRPC ports, one per service.
pub const INS_PORT: u16 = 50051;
pub const CARD_PORT: u16 = card_agent::config::DEFAULT_GRPC_PORT;
/// Workstation id of the embedded card-agent.
pub const CARD_WORKSTATION: &str = "local";

#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    pub data_dir: PathBuf,
    pub nats_url: Option<String>,
    pub ins_listen: SocketAddr,
    pub insi_listen: SocketAddr,
    pub insi_latency: Duration,
    pub insi_fault: Option<FaultInjection>,
    pub card_listen: SocketAddr,
}

pub struct Embedded {
    pub pki: TestPki,
    pub bus: SharedBus,
    pub insi: RunningInsiSandbox,
    pub ins: RunningInsService,
    pub card: RunningCardAgent,
    shutdown: Shutdown,
}

impl Embedded {
    pub async fn start(opts: &EmbeddedOptions, shutdown: Shutdown) -> anyhow::Result<Self> {
        Self::start_with_vitale(opts, None, shutdown).await
    }

    /// As [`Embedded::start`], with a software carte Vitale (test/demo device, a TOML file of
    /// persons: `card_agent::backend::software::VitaleFile`) in a second reader of the
    /// card-agent.
    pub async fn start_with_vitale(
        opts: &EmbeddedOptions,
        vitale_file: Option<PathBuf>,
        shutdown: Shutdown,
    ) -> anyhow::Result<Self> {
        let pki_dir = opts.data_dir.join("pki");
        let pki = TestPki::ensure(&pki_dir)
            .with_context(|| format!("preparing the test PKI in {}", pki_dir.display()))?;
        let insi = InsiSandbox::start(
            InsiSandboxConfig {
                listen: opts.insi_listen,
                latency: opts.insi_latency,
                fault_injection: opts.insi_fault.clone(),
                ..Default::default()
            },
            &pki,
        )
        .await
        .context("starting the INSi sandbox")?;

        let bus: SharedBus = match opts.nats_url.as_deref() {
            Some(url) => {
                let nats = NatsBus::connect(url, Default::default())
                    .await
                    .with_context(|| format!("connecting to NATS at {url}"))?;
                // Events and audit records are kept by JetStream from the first one on.
                nats.ensure_events_stream()
                    .await
                    .context("creating the JetStream events stream")?;
                Arc::new(nats)
            }
            // Key-value entries, durable consumers and documents survive a restart.
            None => {
                let bus_dir = opts.data_dir.join("bus");
                Arc::new(InProcessBus::open(&bus_dir).with_context(|| {
                    format!("opening the embedded bus store in {}", bus_dir.display())
                })?)
            }
        };

        let kit = KitSettings::with_grpc_port(INS_PORT);
        let kit = KitSettings {
            grpc: passerelle_service_kit::settings::GrpcSettings {
                listen: opts.ins_listen,
                ..kit.grpc
            },
            ..kit
        };
        let cfg = InsSettings {
            insi: InsiClientConfig {
                endpoint: insi.url(),
                tls: ClientTls {
                    identity: ClientIdentity::Pem {
                        cert: pki.org_cert.clone(),
                        key: pki.org_key.clone(),
                    },
                    trusted_ca: vec![pki.ca_cert.clone()],
                },
                lps: LpsContext {
                    idam: SANDBOX_IDAM.to_owned(),
                    ..LpsContext::default()
                },
                emitter: "passerelle@sandbox.invalid".to_owned(),
                ..InsiClientConfig::default()
            },
            ..InsSettings::default()
        };
        let ins = ins_service::start(&kit, &cfg, bus.clone(), Roles::default(), shutdown.clone())
            .await
            .context("starting the INS service")?;

        // The card-agent of this workstation, on the sandbox's test CPS (PIN 1234).
        let mut card_cfg = CardAgentConfig {
            workstation: CARD_WORKSTATION.to_owned(),
            ..CardAgentConfig::default()
        };
        card_cfg.grpc.listen = opts.card_listen;
        card_cfg.backend.kind = BackendKind::Software;
        card_cfg.backend.software = SoftwareTokenConfig {
            identity: TokenIdentity::Pem {
                cert: pki.cps_cert.clone(),
                key: pki.cps_key.clone(),
            },
            sign_identity: Some(TokenIdentity::Pem {
                cert: pki.cps_sign_cert.clone(),
                key: pki.cps_sign_key.clone(),
            }),
            pin: SANDBOX_CPS_PIN.to_owned(),
            card_serial: CPS_CARD_ID.to_owned(),
            vitale_file,
            ..SoftwareTokenConfig::default()
        };
        let backend = card_agent::build_backend(&card_cfg)
            .await
            .context("opening the sandbox's test CPS")?;
        let card = card_agent::start(&card_cfg, backend, bus.clone(), shutdown.clone())
            .await
            .context("starting the card-agent")?;
        Ok(Self {
            pki,
            bus,
            insi,
            ins,
            card,
            shutdown,
        })
    }

    /// Stops every service (in-flight calls finish), then the sandbox.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.trigger();
        self.ins.wait().await.context("stopping the INS service")?;
        self.card.wait().await.context("stopping the card-agent")?;
        self.insi.shutdown().await;
        Ok(())
    }

    pub fn card_endpoint(&self) -> String {
        self.card.endpoint()
    }

    pub fn ins_endpoint(&self) -> String {
        self.ins.endpoint().unwrap_or_default()
    }
}
