//! One system per test: the MSSanté SMTP sandbox and the directory sandbox on the test PKI, a
//! bus (in-process or a NATS server of its own), mss-service with its gRPC face in
//! organisation mode (the organisation's certificate), a workstation whose card-agent holds
//! the sandbox's test CPS; and the requests' parts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use mss_service::directory::FhirSettings;
use mss_service::smtp::{SmtpSettings, SmtpTls, Timeouts, TlsMode};
use mss_service::{MssSettings, RunningMssService};
use passerelle_bus::testing::{BusKind, NatsServer};
use passerelle_bus::{SharedBus, in_process::InProcessBus, nats::NatsBus};
use passerelle_mtls::ClientIdentity;
use passerelle_proto::common::v1::{
    Actor, CpsMode, IdentityStatus, OrganisationMode, PatientIdentity, Professional, Sex, actor,
};
use passerelle_proto::documents::v1::{
    UploadMetadata, UploadRequest, document_store_client::DocumentStoreClient, upload_request,
};
use passerelle_proto::mss::v1::{self as api, mss_service_client::MssServiceClient};
use passerelle_sandbox::mss::directory::{
    DirectorySandbox, DirectorySandboxConfig, RunningDirectorySandbox, SANDBOX_API_KEY,
};
use passerelle_sandbox::mss::{
    MssSandbox, MssSandboxConfig, RunningMssSandbox, StoredMessage, read_mailbox,
};
use passerelle_sandbox::pki::TestPki;
use passerelle_service_kit::errors::summarise;
use passerelle_service_kit::settings::{GrpcSettings, KitSettings};
use passerelle_service_kit::{Roles, Shutdown};
use tonic::transport::Channel;
use tonic_types::StatusExt;

/// The tutorial's patient, Nathalie PAT-DOUZE: INS and her citizen mailbox.
pub const PAT_DOUZE: (&str, &str) = ("2480392630010", "64");
pub const PAT_DOUZE_MAILBOX: &str = "248039263001064@patient.mssante.fr";
/// The software's OID (the XDM submission set's sourceId).
pub const SOURCE_ID: &str = "1.2.250.1.999.1.1";
/// `X-MSS-NIL` of the tests.
pub const NIL: &str = "PASSERELLE-TEST";

/// The sandbox PKI, made once for this test binary (RSA keys take a while).
pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::ensure(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("mss-e2e-pki")).unwrap()
    })
}

/// Another PKI: its CA did not sign the sandbox's server certificate.
pub fn other_pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::ensure(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("mss-e2e-other-pki")).unwrap()
    })
}

pub struct Fixture {
    pub bus: SharedBus,
    pub service: Option<RunningMssService>,
    pub mss: RunningMssSandbox,
    /// The workstation whose card-agent holds the sandbox's test CPS, unlocked.
    pub card: Option<card_agent::RunningCardAgent>,
    pub card_shutdown: Shutdown,
    // Kept alive for the test's length.
    _directory: RunningDirectorySandbox,
    _shutdown: Shutdown,
    _nats: Option<NatsServer>,
    _dir: tempfile::TempDir,
}

/// mss-service for the sandboxes: STARTTLS on the sandbox's port, the organisation's
/// certificate, the PKI's CA only, the sandbox directory.
pub fn settings(pki: &TestPki, mss: &RunningMssSandbox, directory: &str) -> MssSettings {
    let mut s = MssSettings::default();
    s.mss.smtp = SmtpSettings {
        host: "127.0.0.1".to_owned(),
        port: Some(mss.starttls_addr().port()),
        mode: TlsMode::Starttls,
        tls: SmtpTls {
            identity: Some(ClientIdentity::Pem {
                cert: pki.org_cert.clone(),
                key: pki.org_key.clone(),
            }),
            trusted_ca: vec![pki.ca_cert.clone()],
            ..SmtpTls::default()
        },
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            command: Duration::from_secs(10),
            data_end: Duration::from_secs(20),
        },
        ..SmtpSettings::default()
    };
    s.mss.default_from = Some(passerelle_sandbox::mss::LPS_APP.to_owned());
    s.mss.source_id = SOURCE_ID.to_owned();
    s.mss.test_platform = true;
    s.mss.nil = Some(NIL.to_owned());
    s.mss.directory.fhir = FhirSettings {
        base_url: directory.to_owned(),
        api_key: SANDBOX_API_KEY.to_owned(),
        trusted_ca: vec![pki.ca_cert.clone()],
        timeout: Duration::from_secs(10),
        ..FhirSettings::default()
    };
    s.card_timeout = Duration::from_secs(10);
    s
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

pub async fn start(kind: BusKind) -> Fixture {
    start_with(kind, |_| {}, |_, _| {}).await
}

/// A fixture whose SMTP sandbox and service settings the test adjusts (the settings edit
/// sees the running sandbox, for its ports).
pub async fn start_with(
    kind: BusKind,
    sandbox_edit: impl FnOnce(&mut MssSandboxConfig),
    edit: impl FnOnce(&mut MssSettings, &RunningMssSandbox),
) -> Fixture {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let mut sandbox_config = MssSandboxConfig {
        data_dir: dir.path().join("sandbox"),
        ..MssSandboxConfig::default()
    };
    sandbox_edit(&mut sandbox_config);
    let mss = MssSandbox::start(sandbox_config, pki)
        .await
        .expect("MSS sandbox starts");
    let directory = DirectorySandbox::start(DirectorySandboxConfig::default(), pki)
        .await
        .expect("directory sandbox starts");
    let (bus, nats) = bus(kind).await;
    let mut cfg = settings(pki, &mss, &directory.base_url());
    edit(&mut cfg, &mss);
    let shutdown = Shutdown::new();
    let kit = KitSettings {
        grpc: GrpcSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..KitSettings::default().grpc
        },
        ..KitSettings::default()
    };
    let service = mss_service::start(&kit, &cfg, bus.clone(), Roles::default(), shutdown.clone())
        .await
        .expect("mss-service starts");
    let card_shutdown = Shutdown::new();
    let card = workstation(bus.clone(), card_shutdown.clone(), WORKSTATION, true).await;
    Fixture {
        bus,
        service: Some(service),
        mss,
        card: Some(card),
        card_shutdown,
        _directory: directory,
        _shutdown: shutdown,
        _nats: nats,
        _dir: dir,
    }
}

impl Fixture {
    pub fn endpoint(&self) -> String {
        self.service
            .as_ref()
            .and_then(|s| s.endpoint())
            .expect("a gRPC face")
    }

    pub async fn client(&self) -> MssServiceClient<Channel> {
        MssServiceClient::connect(self.endpoint()).await.unwrap()
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

    /// The messages of a sandbox mailbox, as `passerelle sandbox mailbox` reads them.
    pub fn mailbox(&self, address: &str) -> Vec<StoredMessage> {
        read_mailbox(self.mss.data_dir(), address).unwrap()
    }

    /// Sends; the answer or the status.
    pub async fn send(&self, req: api::SendRequest) -> Result<api::SendResponse, tonic::Status> {
        self.client()
            .await
            .send(req)
            .await
            .map(tonic::Response::into_inner)
    }

    /// Subscribes to a subject of the bus (before what publishes on it).
    pub async fn subscribe(&self, subject: &str) -> passerelle_bus::MessageStream {
        self.bus.subscribe(subject).await.unwrap()
    }
}

/// The next message of a subscription, decoded; fails after a few seconds.
pub async fn next<M: prost::Message + Default>(stream: &mut passerelle_bus::MessageStream) -> M {
    let message = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a message on the bus")
        .expect("the subscription is open");
    M::decode(message.payload).unwrap()
}

/// Whether a subscription stays quiet for a moment.
pub async fn quiet(stream: &mut passerelle_bus::MessageStream) -> bool {
    tokio::time::timeout(Duration::from_millis(300), stream.next())
        .await
        .is_err()
}

/// A médecin of the sandbox's health centre: the author in organisation mode.
pub fn professional() -> Professional {
    passerelle_service_kit::testing::sandbox_medecin()
}

/// Organisation mode: the organisation's certificate, the professional who sends.
pub fn org_actor() -> Option<Actor> {
    Some(Actor {
        mode: Some(actor::Mode::Organisation(OrganisationMode {
            on_behalf_of: "mss-tests".to_owned(),
        })),
        professional: Some(professional()),
    })
}

/// CPS mode: the card in workstation `ws`.
pub fn cps_actor(ws: &str) -> Option<Actor> {
    Some(Actor {
        mode: Some(actor::Mode::Cps(CpsMode {
            workstation_id: ws.to_owned(),
        })),
        professional: None,
    })
}

/// The tutorial's patient with a qualified INS and her traits.
pub fn pat_douze() -> Option<PatientIdentity> {
    Some(PatientIdentity {
        matricule: PAT_DOUZE.0.to_owned(),
        key: PAT_DOUZE.1.to_owned(),
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

/// A small but real PDF.
pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec()
}

/// The tutorial's letter, « Courrier standard », as a document of the request.
pub fn letter(document_id: &str) -> Option<api::Document> {
    Some(api::Document {
        document_id: document_id.to_owned(),
        title: "Courrier standard".to_owned(),
        type_code: "11490-0".to_owned(),
        ..Default::default()
    })
}

/// A plain message (no document) from the organisation to `to`.
pub fn note(to: &[&str], key: &str) -> api::SendRequest {
    api::SendRequest {
        actor: org_actor(),
        to: to.iter().map(|a| (*a).to_owned()).collect(),
        subject: "Réunion de concertation".to_owned(),
        body: Some(api::Body {
            text: "Bonjour, la RCP de jeudi est avancée à 14 h.".to_owned(),
            html: String::new(),
        }),
        idempotency_key: key.to_owned(),
        ..Default::default()
    }
}

/// The workstation of the tests: the card-agent on its software backend holding the
/// sandbox's test CPS (the hardware is the only stand-in), unlocked as the professional does
/// on the workstation (local gRPC `Unlock`; the PIN never travels over the bus).
pub const WORKSTATION: &str = "ward-2_pc4";

pub async fn workstation(
    bus: SharedBus,
    shutdown: Shutdown,
    id: &str,
    unlock: bool,
) -> card_agent::RunningCardAgent {
    use card_agent::backend::software::{SANDBOX_CPS_PIN, SoftwareToken, SoftwareTokenConfig};
    let pki = pki();
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

// ---------------------------------------------------------------------------------------
// What a client reads of an error.

pub fn reason(s: &tonic::Status) -> String {
    summarise(s).reason.unwrap_or_default()
}

pub fn field(s: &tonic::Status) -> String {
    summarise(s).field.unwrap_or_default()
}

pub fn upstream_code(s: &tonic::Status) -> String {
    summarise(s).upstream_code.unwrap_or_default()
}

/// A metadata entry of the ErrorInfo (`rule`, `rules`…).
pub fn metadata(s: &tonic::Status, key: &str) -> String {
    s.get_error_details()
        .error_info()
        .and_then(|i| i.metadata.get(key).cloned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// The stored messages, read back by an independent MIME parser.

/// `$PASSERELLE_SHARED_DIR`, else `shared/` beside the project. Missing: the test fails.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("PASSERELLE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    assert!(
        dir.join("conformance/check-xdm.sh").is_file(),
        "shared test material not found at {}: set PASSERELLE_SHARED_DIR to the shared/ folder \
         (these tests must not pass without it)",
        dir.display()
    );
    dir
}

/// Runs check-xdm.sh on a package; panics with its report unless valid.
pub fn check_xdm(file: &Path) {
    let out = Command::new(shared_dir().join("conformance/check-xdm.sh"))
        .arg(file)
        .output()
        .expect("cannot run check-xdm.sh");
    match out.status.code() {
        Some(0) => {}
        Some(1) => panic!(
            "{} not conformant:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout)
        ),
        _ => panic!(
            "check-xdm.sh setup error:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Python's `email` package, not ours nor the sandbox's: the attachment named argv[2] of the
/// message argv[1], decoded, to argv[3]; exit 3 when there is none.
const EXTRACT: &str = r#"
import email, email.policy, sys
with open(sys.argv[1], 'rb') as f:
    msg = email.message_from_binary_file(f, policy=email.policy.default)
for part in msg.walk():
    if part.get_filename() == sys.argv[2]:
        with open(sys.argv[3], 'wb') as out:
            out.write(part.get_payload(decode=True))
        sys.exit(0)
sys.exit(3)
"#;

/// The attachment `name` of a stored `.eml`, written to `out`.
pub fn extract_attachment(eml: &Path, name: &str, out: &Path) {
    let status = Command::new("python3")
        .arg("-c")
        .arg(EXTRACT)
        .arg(eml)
        .arg(name)
        .arg(out)
        .status()
        .expect("python3 is needed to read the messages back");
    assert!(
        status.success(),
        "no attachment {name} in {}",
        eml.display()
    );
}
