//! One system per test: a test PKI, the DMP sandbox, a bus (in-process or a NATS server of
//! its own), dmp-service with its gRPC face, in organisation mode; and the requests' parts.

use std::sync::Arc;

use dmp_service::client::{ClientIdentity, ClientTls, DmpClientConfig, LpsConfig};
use dmp_service::config::SignatureKey;
use dmp_service::{DmpSettings, RunningDmpService};
use passerelle_bus::testing::{BusKind, NatsServer};
use passerelle_bus::{SharedBus, in_process::InProcessBus, nats::NatsBus};
use passerelle_proto::common::v1::{
    Actor, CpsMode, IdentityStatus, OrganisationMode, PatientIdentity, Professional, Sex, actor,
};
use passerelle_proto::dmp::v1::{Access, AccessMode, dmp_service_client::DmpServiceClient};
use passerelle_proto::documents::v1::{
    UploadMetadata, UploadRequest, document_store_client::DocumentStoreClient, upload_request,
};
use passerelle_sandbox::dmp::{DmpSandbox, DmpSandboxConfig, RunningDmpSandbox};
use passerelle_sandbox::pki::TestPki;
use passerelle_service_kit::settings::{GrpcSettings, KitSettings};
use passerelle_service_kit::{Roles, Shutdown};
use tonic::transport::Channel;

/// The tutorial's patient: open DMP.
pub const PAT_DOUZE: (&str, &str) = ("2480392630010", "64");

pub struct Fixture {
    pub pki: TestPki,
    pub bus: SharedBus,
    pub service: Option<RunningDmpService>,
    /// The workstation whose card-agent holds the sandbox's test CPS, unlocked.
    _card: card_agent::RunningCardAgent,
    // Kept alive for the test's length.
    /// Read by the tests that count the DMP's calls.
    #[allow(dead_code)]
    pub sandbox: RunningDmpSandbox,
    _shutdown: Shutdown,
    _nats: Option<NatsServer>,
    _dir: tempfile::TempDir,
}

pub fn settings(pki: &TestPki, endpoint: &str) -> DmpSettings {
    DmpSettings {
        dmp: DmpClientConfig {
            endpoint: endpoint.to_owned(),
            tls: ClientTls {
                identity: Some(ClientIdentity::Pem {
                    cert: pki.org_cert.clone(),
                    key: pki.org_key.clone(),
                }),
                trusted_ca: vec![pki.ca_cert.clone()],
            },
            lps: LpsConfig {
                id: "1.2.250.1.999.1.1".to_owned(),
                homologation: "PASSERELLE-TEST".to_owned(),
                ..LpsConfig::default()
            },
            test_platform: true,
            source_id: "1.2.250.1.999.1.1".to_owned(),
            ..Default::default()
        },
        organisation_signature: Some(SignatureKey::Pem {
            cert: pki.org_sign_cert.clone(),
            key: pki.org_sign_key.clone(),
        }),
        ..DmpSettings::default()
    }
}

pub async fn bus(kind: BusKind) -> (SharedBus, Option<NatsServer>) {
    match kind {
        BusKind::InProcess => (Arc::new(InProcessBus::new()), None),
        BusKind::Nats => {
            let server = NatsServer::start().expect("nats-server (apt-get install nats-server)");
            let bus = NatsBus::connect(&server.url(), Default::default())
                .await
                .expect("NATS connection");
            bus.ensure_events_stream().await.expect("events stream");
            (Arc::new(bus), Some(server))
        }
    }
}

pub async fn start_with(kind: BusKind, edit: impl FnOnce(&mut DmpSettings)) -> Fixture {
    start_with_sandbox(kind, |_| {}, edit).await
}

/// A fixture whose sandbox and settings the test adjusts.
pub async fn start_with_sandbox(
    kind: BusKind,
    sandbox_edit: impl FnOnce(&mut DmpSandboxConfig),
    edit: impl FnOnce(&mut DmpSettings),
) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::ensure(&dir.path().join("pki")).unwrap();
    let mut sandbox_config = DmpSandboxConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("dmp"),
        ..Default::default()
    };
    sandbox_edit(&mut sandbox_config);
    let sandbox = DmpSandbox::start(sandbox_config, &pki)
        .await
        .expect("DMP sandbox starts");
    let (bus, nats) = bus(kind).await;
    let mut cfg = settings(&pki, &sandbox.url());
    edit(&mut cfg);
    let shutdown = Shutdown::new();
    let kit = KitSettings {
        grpc: GrpcSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..KitSettings::default().grpc
        },
        ..KitSettings::default()
    };
    let service = dmp_service::start(&kit, &cfg, bus.clone(), Roles::default(), shutdown.clone())
        .await
        .expect("dmp-service starts");
    let card = workstation(&pki, bus.clone(), shutdown.clone(), WORKSTATION, true).await;
    Fixture {
        pki,
        bus,
        service: Some(service),
        _card: card,
        sandbox,
        _shutdown: shutdown,
        _nats: nats,
        _dir: dir,
    }
}

pub async fn start(kind: BusKind) -> Fixture {
    start_with(kind, |_| {}).await
}

impl Fixture {
    pub fn endpoint(&self) -> String {
        self.service
            .as_ref()
            .and_then(|s| s.endpoint())
            .expect("a gRPC face")
    }

    pub async fn client(&self) -> DmpServiceClient<Channel> {
        DmpServiceClient::connect(self.endpoint()).await.unwrap()
    }

    /// Uploads `content` to the service's document store; its id.
    pub async fn upload(&self, content: &[u8], media_type: &str) -> String {
        let mut store = DocumentStoreClient::connect(self.endpoint()).await.unwrap();
        let parts = vec![
            UploadRequest {
                part: Some(upload_request::Part::Metadata(UploadMetadata {
                    media_type: media_type.to_owned(),
                    file_name: None,
                    declared_size: Some(content.len() as u64),
                })),
            },
            UploadRequest {
                part: Some(upload_request::Part::Chunk(content.to_vec())),
            },
        ];
        store
            .upload(futures::stream::iter(parts))
            .await
            .unwrap()
            .into_inner()
            .id
    }
}

/// A médecin of the sandbox's health centre, in organisation mode.
pub fn professional() -> Professional {
    passerelle_service_kit::testing::sandbox_medecin()
}

pub fn access() -> Option<Access> {
    access_in(AccessMode::Normal, "")
}

pub fn access_in(mode: AccessMode, reason: &str) -> Option<Access> {
    Some(Access {
        actor: Some(Actor {
            mode: Some(actor::Mode::Organisation(OrganisationMode {
                on_behalf_of: "dmp-tests".to_owned(),
            })),
            professional: Some(professional()),
        }),
        mode: mode as i32,
        reason: reason.to_owned(),
    })
}

/// A patient by INS, qualified, with the traits a deposit needs.
pub fn patient(matricule: &str, key: &str) -> Option<PatientIdentity> {
    Some(PatientIdentity {
        matricule: matricule.to_owned(),
        key: key.to_owned(),
        oid: "1.2.250.1.213.1.4.8".to_owned(),
        birth_name: "PAT-DOUZE".to_owned(),
        used_name: String::new(),
        first_names: vec!["NATHALIE".to_owned()],
        sex: Sex::Female as i32,
        birth_date: "1948-03-21".to_owned(),
        birth_place: String::new(),
        status: IdentityStatus::Qualifiee as i32,
    })
}

pub fn pat_douze() -> Option<PatientIdentity> {
    patient(PAT_DOUZE.0, PAT_DOUZE.1)
}

/// A small but real PDF.
pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec()
}

/// The workstation of the tests: the card-agent on its software backend holding the
/// sandbox's test CPS (the hardware is the only stand-in), unlocked as the professional does
/// on the workstation (local gRPC `Unlock`; the PIN never travels over the bus).
pub const WORKSTATION: &str = "ward-2_pc4";

pub async fn workstation(
    pki: &TestPki,
    bus: SharedBus,
    shutdown: Shutdown,
    id: &str,
    unlock: bool,
) -> card_agent::RunningCardAgent {
    use card_agent::backend::software::{SANDBOX_CPS_PIN, SoftwareToken, SoftwareTokenConfig};
    let mut cfg = card_agent::CardAgentConfig {
        workstation: id.to_owned(),
        ..Default::default()
    };
    cfg.grpc.listen = "127.0.0.1:0".parse().unwrap();
    cfg.backend.software = SoftwareTokenConfig::sandbox_cps(
        &pki.cps_cert,
        &pki.cps_key,
        &pki.cps_sign_cert,
        &pki.cps_sign_key,
    );
    let token = Arc::new(SoftwareToken::load(&cfg.backend.software).expect("test CPS loads"));
    let running = card_agent::start(&cfg, token, bus, shutdown)
        .await
        .expect("card-agent starts");
    if !unlock {
        return running;
    }
    let mut local =
        passerelle_proto::card::v1::card_agent_client::CardAgentClient::connect(running.endpoint())
            .await
            .unwrap();
    local
        .unlock(passerelle_proto::card::v1::UnlockRequest {
            reader: String::new(),
            pin: SANDBOX_CPS_PIN.to_owned(),
        })
        .await
        .expect("the test CPS unlocks");
    running
}

/// CPS mode: the professional's card in the tests' workstation.
pub fn cps_access() -> Option<Access> {
    cps_access_in(AccessMode::Normal, "")
}

pub fn cps_access_in(mode: AccessMode, reason: &str) -> Option<Access> {
    cps_access_on(WORKSTATION, mode, reason)
}

/// CPS mode with the card of workstation `ws`.
pub fn cps_access_on(ws: &str, mode: AccessMode, reason: &str) -> Option<Access> {
    Some(Access {
        actor: Some(Actor {
            mode: Some(actor::Mode::Cps(CpsMode {
                workstation_id: ws.to_owned(),
            })),
            professional: None,
        }),
        mode: mode as i32,
        reason: reason.to_owned(),
    })
}
