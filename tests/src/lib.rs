//! Shared helpers of the end-to-end tests: a whole system (INSi sandbox with its test PKI, INS
//! service replicas, a bus — in-process or a NATS server started for the test) on free ports.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ins_service::insi::{ClientIdentity, ClientTls, InsiClientConfig, LpsContext};
use ins_service::{InsSettings, RunningInsService};
use passerelle_bus::testing::NatsServer;
use passerelle_bus::{SharedBus, in_process::InProcessBus, nats::NatsBus};
use passerelle_proto::common::v1::{Actor, OrganisationMode, actor};
use passerelle_proto::ins::v1::{
    IdentityTraits, SearchByTraitsRequest, Sex, ins_service_client::InsServiceClient,
};
use passerelle_sandbox::insi::SANDBOX_IDAM;
use passerelle_sandbox::insi::{
    FaultInjection, InsiSandbox, InsiSandboxConfig, RunningInsiSandbox,
};
use passerelle_sandbox::pki::TestPki;
use passerelle_service_kit::Roles;
use passerelle_service_kit::Shutdown;
use passerelle_service_kit::settings::KitSettings;
use tonic::transport::Channel;

/// Which bus the system runs on; every end-to-end case runs on both.
pub use passerelle_bus::testing::BusKind;

pub struct System {
    pub pki: TestPki,
    pub insi: Option<RunningInsiSandbox>,
    pub replicas: Vec<RunningInsService>,
    pub bus: SharedBus,
    shutdown: Shutdown,
    // Kept for their Drop: the NATS server stops and the folders go with the system.
    pub nats: Option<NatsServer>,
    _dir: tempfile::TempDir,
}

pub struct SystemOptions {
    pub bus: BusKind,
    pub replicas: usize,
    pub insi_latency: Duration,
    /// IDAMs the INSi sandbox accepts; empty accepts any.
    pub accepted_idams: Vec<String>,
    pub insi_fault: Option<FaultInjection>,
}

impl Default for SystemOptions {
    fn default() -> Self {
        Self {
            bus: BusKind::InProcess,
            replicas: 1,
            insi_latency: Duration::ZERO,
            accepted_idams: Vec::new(),
            insi_fault: None,
        }
    }
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The configuration of one INS service replica: the kit's settings and the service's own.
#[derive(Debug, Clone, Default)]
pub struct InsConfig {
    pub kit: KitSettings,
    pub ins: InsSettings,
}

/// The INS service configuration pointing at the sandbox with the organisation certificate.
pub fn ins_config(pki: &TestPki, insi_url: String) -> InsConfig {
    let mut cfg = InsConfig::default();
    cfg.kit.grpc.listen = any_port();
    cfg.kit.grpc.request_timeout = Duration::from_secs(20);
    cfg.ins.insi = InsiClientConfig {
        endpoint: insi_url,
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
    };
    cfg
}

impl System {
    pub async fn start(opts: SystemOptions) -> System {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = TestPki::ensure(&dir.path().join("pki")).expect("test PKI");
        let insi = InsiSandbox::start(
            InsiSandboxConfig {
                listen: any_port(),
                latency: opts.insi_latency,
                accepted_idams: opts.accepted_idams.clone(),
                fault_injection: opts.insi_fault.clone(),
                ..Default::default()
            },
            &pki,
        )
        .await
        .expect("INSi sandbox");
        let (bus, nats) = Self::bus(opts.bus).await;
        let shutdown = Shutdown::new();
        let mut replicas = Vec::new();
        for _ in 0..opts.replicas {
            let cfg = ins_config(&pki, insi.url());
            let bus = match (&nats, opts.bus) {
                // Each replica has its own connection, as separate processes would.
                (Some(n), BusKind::Nats) => Arc::new(
                    NatsBus::connect(&n.url(), Default::default())
                        .await
                        .expect("NATS connection"),
                ) as SharedBus,
                _ => bus.clone(),
            };
            replicas.push(
                ins_service::start(&cfg.kit, &cfg.ins, bus, Roles::default(), shutdown.clone())
                    .await
                    .expect("ins-service"),
            );
        }
        System {
            pki,
            insi: Some(insi),
            replicas,
            bus,
            shutdown,
            nats,
            _dir: dir,
        }
    }

    pub async fn bus(kind: BusKind) -> (SharedBus, Option<NatsServer>) {
        match kind {
            BusKind::InProcess => (Arc::new(InProcessBus::new()), None),
            BusKind::Nats => {
                let server =
                    NatsServer::start().expect("nats-server (apt-get install nats-server)");
                let bus = NatsBus::connect(&server.url(), Default::default())
                    .await
                    .expect("NATS connection");
                (Arc::new(bus), Some(server))
            }
        }
    }

    /// Starts one more INS service replica with its own configuration, on the system's bus.
    pub async fn add_replica(&mut self, cfg: InsConfig) -> usize {
        let running = ins_service::start(
            &cfg.kit,
            &cfg.ins,
            self.bus.clone(),
            Roles::default(),
            self.shutdown.clone(),
        )
        .await
        .expect("ins-service");
        self.replicas.push(running);
        self.replicas.len() - 1
    }

    pub fn ins_endpoint(&self, replica: usize) -> String {
        self.replicas[replica]
            .endpoint()
            .expect("the replica serves gRPC")
    }

    pub async fn ins_client(&self) -> InsServiceClient<Channel> {
        InsServiceClient::connect(self.ins_endpoint(0))
            .await
            .expect("gRPC connection to ins-service")
    }

    pub fn insi_url(&self) -> String {
        self.insi.as_ref().map(|s| s.url()).unwrap_or_default()
    }

    /// Stops the INSi sandbox only (the "service down" case).
    pub async fn stop_insi(&mut self) {
        if let Some(s) = self.insi.take() {
            s.shutdown().await;
        }
    }

    pub async fn stop(mut self) {
        self.shutdown.trigger();
        for r in self.replicas.drain(..) {
            r.wait().await.expect("ins-service stops cleanly");
        }
        self.stop_insi().await;
    }
}

pub fn organisation() -> Option<Actor> {
    Some(Actor {
        mode: Some(actor::Mode::Organisation(OrganisationMode {
            on_behalf_of: "e2e-test".to_owned(),
        })),
        professional: None,
    })
}

/// A traits search request in organisation mode.
pub fn search(
    birth_name: &str,
    first_names: &[&str],
    sex: Sex,
    birth_date: &str,
) -> SearchByTraitsRequest {
    SearchByTraitsRequest {
        actor: organisation(),
        traits: Some(IdentityTraits {
            birth_name: birth_name.to_owned(),
            used_name: String::new(),
            first_names: first_names.iter().map(|s| (*s).to_owned()).collect(),
            sex: sex as i32,
            birth_date: birth_date.to_owned(),
            birth_place: String::new(),
        }),
    }
}

/// Runs each `async fn case(bus: BusKind)` as two tests, `in_process::case` and `nats::case`:
/// the same behaviour is asserted on both buses (the workspace's one macro, from the bus).
pub use passerelle_bus::on_both_buses;
