//! Sharing survives crashes: the real binaries — share-service (one replica), dmp-service and
//! mss-service (two replicas each) — on a NATS server of their own (JetStream file store),
//! the DMP and MSSanté sandboxes in-process. S shares of the tutorial's letter (PAT-DOUZE,
//! qualified INS, a small PDF, to Dr FOUQUEREY) on the three channels while dmp-service and
//! mss-service replicas are SIGKILLed at seeded random moments (short ack waits: a cut
//! delivery comes back within seconds). At the end: every channel of every share DONE; one
//! DMP document per share; one mail per share and recipient, a second one only for a share
//! whose outbox counted a resend inside the SMTP window (`resent_in_window`); a deposit run
//! again after a crash between the DMP's answer and the acknowledgement is counted apart
//! (its result says "already in the DMP").
//!
//! `PASSERELLE_SHARE_CRASH_SEED=<n>` replays the schedule (kills, pacing; the seed is
//! printed), `PASSERELLE_SHARE_CRASH_SHARES=<n>` sets the number of shares (default 200:
//! both tests in about a minute on 2 cores; 500 take about 70 s a test).
//! dmp-service and mss-service binaries are built by the test (`cargo build -p dmp-service
//! -p mss-service`) next to share-service's.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mss_service::sharing::{OUTBOX_BUCKET, OutboxRecord};
use passerelle_bus::SharedBus;
use passerelle_bus::documents::{DocumentLimits, NewDocument};
use passerelle_bus::nats::NatsBus;
use passerelle_bus::testing::NatsServer;
use passerelle_proto::common::v1::{
    Actor, IdentityStatus, OrganisationMode, PatientIdentity, Professional, ProfessionalIdType,
    Sex, Structure, StructureIdType, actor,
};
use passerelle_proto::share::v1::{
    Channel, ChannelState, DocumentKind, GetShareRequest, ShareDocument, ShareRequest, ShareStatus,
    share_service_client::ShareServiceClient,
};
use passerelle_sandbox::dmp::view::{self, ViewClientTls};
use passerelle_sandbox::dmp::{DmpSandbox, DmpSandboxConfig, RunningDmpSandbox};
use passerelle_sandbox::mss::{
    JEAN_FOUQUEREY, LPS_APP, MssSandbox, MssSandboxConfig, RunningMssSandbox, read_mailbox,
};
use passerelle_sandbox::pki::TestPki;

const SHARE_SERVICE: &str = env!("CARGO_BIN_EXE_share-service");
/// PAT-DOUZE's INS and her MSSanté Citoyen address.
const INS: &str = "248039263001064";
const PATIENT_MAILBOX: &str = "248039263001064@patient.mssante.fr";
/// The whole test, whatever happens.
const TIME_LIMIT: Duration = Duration::from_secs(180);
/// What the DMP channel's result says when the deposit was already there.
const ALREADY_IN_THE_DMP: &str = "already in the DMP";

/// One crash run at a time: each takes the machine's two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::ensure(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("share-crash-pki")).unwrap()
    })
}

use passerelle_service_kit::testing::SeededRng as Rng;

fn seed() -> u64 {
    passerelle_service_kit::testing::seed_from_env("PASSERELLE_SHARE_CRASH_SEED")
}

fn shares() -> usize {
    std::env::var("PASSERELLE_SHARE_CRASH_SHARES")
        .ok()
        .map(|s| s.trim().parse().expect("PASSERELLE_SHARE_CRASH_SHARES"))
        .unwrap_or(200)
}

/// dmp-service's and mss-service's binaries, beside share-service's: built now, so that a
/// stale one never runs (cargo builds only what changed).
fn sibling_binaries() -> (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = Path::new(SHARE_SERVICE).parent().unwrap().to_owned();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let mut build = Command::new(cargo);
            build.args(["build", "-p", "dmp-service", "-p", "mss-service", "--bins"]);
            // The variables cargo sets for this test (package, manifest…) would make build
            // scripts that watch them run again, and the next `cargo test` rebuild after.
            for (name, _) in std::env::vars() {
                let keep = ["CARGO_HOME", "CARGO_TARGET_DIR"].contains(&name.as_str())
                    || [
                        "CARGO_BUILD_",
                        "CARGO_PROFILE_",
                        "CARGO_NET_",
                        "CARGO_TERM_",
                    ]
                    .iter()
                    .any(|p| name.starts_with(p));
                if name.starts_with("CARGO_") && !keep {
                    build.env_remove(&name);
                }
            }
            if dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let status = build.status().expect("cargo runs");
            assert!(status.success(), "building dmp-service and mss-service");
            let pair = (dir.join("dmp-service"), dir.join("mss-service"));
            assert!(pair.0.exists() && pair.1.exists(), "{pair:?}");
            pair
        })
        .clone()
}

// ---------------------------------------------------------------------------------------
// The processes.

/// One replica of a service binary, killed with SIGKILL when asked (and when dropped).
struct Replica {
    name: String,
    binary: PathBuf,
    ready: String,
    config: PathBuf,
    nats_url: String,
    tmp: PathBuf,
    child: Option<Child>,
    starts: u32,
    errors: Arc<AtomicUsize>,
}

impl Replica {
    fn new(name: &str, binary: &Path, service: &str, config: &Path, sys: &System) -> Replica {
        let mut r = Replica {
            name: name.to_owned(),
            binary: binary.to_owned(),
            ready: format!("{service} ready"),
            config: config.to_owned(),
            nats_url: sys.nats.url(),
            tmp: sys.dir.path().to_owned(),
            child: None,
            starts: 0,
            errors: Arc::new(AtomicUsize::new(0)),
        };
        r.start();
        r
    }

    /// Starts it and waits for its ready line; its errors are echoed (shown when the test
    /// fails) and counted.
    fn start(&mut self) {
        assert!(self.child.is_none(), "{} already runs", self.name);
        self.starts += 1;
        let mut child = Command::new(&self.binary)
            .arg("--config")
            .arg(&self.config)
            .arg("--nats")
            .arg(&self.nats_url)
            .env_remove("RUST_LOG")
            .env("PASSERELLE__LOG__FORMAT", "json")
            .env("PASSERELLE__LOG__FILTER", "info")
            .env("TMPDIR", &self.tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the service starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, ready) = mpsc::channel();
        let tag = format!("{}#{}", self.name, self.starts);
        let line_ready = self.ready.clone();
        let errors = self.errors.clone();
        // Read to the end, so that the service never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(&line_ready) {
                    let _ = tx.send(());
                } else if line.contains("\"ERROR\"") {
                    errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("[{tag}] {line}");
                }
            }
        });
        if ready.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} not ready within 30 s", self.name);
        }
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown, whatever it was doing cut short.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap(); // SIGKILL on Unix
            child.wait().unwrap();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

struct System {
    nats: NatsServer,
    dmp: RunningDmpSandbox,
    mss: RunningMssSandbox,
    share_port: u16,
    dir: tempfile::TempDir,
}

impl System {
    async fn start() -> System {
        let pki = pki();
        let dir = tempfile::tempdir().unwrap();
        let dmp = DmpSandbox::start(
            DmpSandboxConfig {
                data_dir: dir.path().join("dmp-sandbox"),
                ..DmpSandboxConfig::default()
            },
            pki,
        )
        .await
        .expect("DMP sandbox starts");
        let mss = MssSandbox::start(
            MssSandboxConfig {
                data_dir: dir.path().join("mss-sandbox"),
                ..MssSandboxConfig::default()
            },
            pki,
        )
        .await
        .expect("MSS sandbox starts");
        let nats = NatsServer::start().expect("nats-server (apt-get install nats-server)");
        // share-service is never killed: a fixed port for its gRPC face, free now.
        let share_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        System {
            nats,
            dmp,
            mss,
            share_port,
            dir,
        }
    }

    fn write(&self, name: &str, text: String) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    async fn bus(&self) -> SharedBus {
        let bus = NatsBus::connect(&self.nats.url(), Default::default())
            .await
            .unwrap();
        bus.ensure_events_stream().await.unwrap();
        Arc::new(bus)
    }
}

fn tls(pki: &TestPki) -> String {
    format!(
        r#"trusted_ca = ["{ca}"]
identity = {{ kind = "pem", cert = "{cert}", key = "{key}" }}"#,
        ca = pki.ca_cert.display(),
        cert = pki.org_cert.display(),
        key = pki.org_key.display(),
    )
}

/// Short ack waits everywhere: a delivery cut by a kill comes back within seconds; enough
/// deliveries that the kills alone never exhaust them.
fn share_config(sys: &System) -> String {
    format!(
        r#"[grpc]
listen = "127.0.0.1:{port}"

[share]
test_platform = true
consumer_ack_wait = "3s"
consumer_max_deliver = 20
"#,
        port = sys.share_port
    )
}

fn dmp_config(sys: &System) -> String {
    let pki = pki();
    format!(
        r#"[grpc]
listen = "127.0.0.1:0"

[dmp]
endpoint = "{endpoint}"
test_platform = true
source_id = "1.2.250.1.999.1.1"

[dmp.tls]
{tls}

[dmp.lps]
id = "1.2.250.1.999.1.1"
homologation = "PASSERELLE-SANDBOX"

[organisation_signature]
kind = "pem"
cert = "{sign_cert}"
key = "{sign_key}"

[share]
ack_wait = "3s"
max_deliver = 10
backoff_base = "200ms"
backoff_max = "1s"
"#,
        endpoint = sys.dmp.url(),
        tls = tls(pki),
        sign_cert = pki.org_sign_cert.display(),
        sign_key = pki.org_sign_key.display(),
    )
}

fn mss_config(sys: &System) -> String {
    format!(
        r#"[grpc]
listen = "127.0.0.1:0"

[mss]
default_from = "{LPS_APP}"
source_id = "1.2.250.1.999.1.1"
test_platform = true

[mss.smtp]
host = "127.0.0.1"
port = {smtp}
mode = "starttls"

[mss.smtp.tls]
{tls}

[share]
ack_wait = "3s"
max_deliver = 10
initial_backoff = "200ms"
max_backoff = "1s"
"#,
        smtp = sys.mss.starttls_addr().port(),
        tls = tls(pki()),
    )
}

// ---------------------------------------------------------------------------------------
// The shares.

fn actor_medecin() -> Option<Actor> {
    Some(Actor {
        mode: Some(actor::Mode::Organisation(OrganisationMode {
            on_behalf_of: "share-crash".to_owned(),
        })),
        professional: Some(Professional {
            id_type: ProfessionalIdType::Rpps as i32,
            id: "10001234565".to_owned(),
            family_name: "MEDECIN".to_owned(),
            given_name: "JEANNE".to_owned(),
            profession: "10".to_owned(),
            specialty: "SM54".to_owned(),
            structure: Some(Structure {
                id_type: StructureIdType::Finess as i32,
                id: "999000003".to_owned(),
                name: "CENTRE DE SANTE PASSERELLE SANDBOX".to_owned(),
            }),
            // The DMP's VIHF needs it (SA07, as the tutorial).
            activity_sector: "SA07".to_owned(),
        }),
    })
}

fn pat_douze() -> Option<PatientIdentity> {
    Some(PatientIdentity {
        matricule: "2480392630010".to_owned(),
        key: "64".to_owned(),
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

fn request(document_id: &str, key: &str) -> ShareRequest {
    ShareRequest {
        actor: actor_medecin(),
        patient: pat_douze(),
        document: Some(ShareDocument {
            document_id: document_id.to_owned(),
            kind: DocumentKind::Pdf as i32,
            title: "Courrier standard".to_owned(),
            type_code: "11490-0".to_owned(),
            ..Default::default()
        }),
        channels: [Channel::Dmp, Channel::MssPro, Channel::MssCitizen]
            .iter()
            .map(|&c| c as i32)
            .collect(),
        to: vec![JEAN_FOUQUEREY.to_owned()],
        idempotency_key: key.to_owned(),
        ..Default::default()
    }
}

async fn store_pdf(bus: &SharedBus) -> String {
    let content = passerelle_clinical_documents::testing::scanned_pdf(4_000);
    let store = bus.documents(DocumentLimits::default()).await.unwrap();
    let chunk: Result<Bytes, std::io::Error> = Ok(Bytes::from(content.clone()));
    store
        .put(
            NewDocument {
                media_type: "application/pdf".to_owned(),
                file_name: Some("courrier.pdf".to_owned()),
                declared_size: Some(content.len() as u64),
            },
            Box::pin(futures::stream::iter([chunk])),
        )
        .await
        .unwrap()
        .id
}

/// Share, asked again (the same key, the same share) while share-service or NATS does not
/// answer, as a client would.
async fn share(endpoint: &str, document_id: &str, key: &str) -> String {
    let mut last = String::new();
    for _ in 0..60 {
        match ShareServiceClient::connect(endpoint.to_owned()).await {
            Ok(mut client) => match client.share(request(document_id, key)).await {
                Ok(status) => return status.into_inner().share_id,
                Err(e) => last = format!("{e:?}"),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("share {key} never accepted: {last}");
}

fn state_of(
    status: &ShareStatus,
    channel: Channel,
) -> Option<&passerelle_proto::share::v1::ChannelStatus> {
    status.channels.iter().find(|c| c.channel == channel as i32)
}

/// GetShare of every share until all are finished (or `deadline`): the last statuses.
async fn settle(
    endpoint: &str,
    ids: &[String],
    deadline: Instant,
) -> BTreeMap<String, ShareStatus> {
    let mut done: BTreeMap<String, ShareStatus> = BTreeMap::new();
    let mut client = ShareServiceClient::connect(endpoint.to_owned())
        .await
        .unwrap();
    loop {
        let mut open = Vec::new();
        let pending: Vec<&String> = ids.iter().filter(|id| !done.contains_key(*id)).collect();
        for id in pending {
            match client
                .get_share(GetShareRequest {
                    share_id: id.clone(),
                })
                .await
            {
                Ok(s) => {
                    let s = s.into_inner();
                    if s.finished {
                        done.insert(id.clone(), s);
                    } else {
                        open.push(s);
                    }
                }
                Err(e) => {
                    eprintln!("GetShare {id}: {e:?}");
                    break;
                }
            }
        }
        if done.len() == ids.len() {
            return done;
        }
        if Instant::now() > deadline {
            for s in open.iter().take(5) {
                eprintln!("not finished: {s:?}");
            }
            panic!(
                "{} of {} shares finished; the others stuck (first above)",
                done.len(),
                ids.len()
            );
        }
        eprintln!("settling: {} of {} shares finished", done.len(), ids.len());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Message-ID → how many copies in `mailbox`.
fn mails(mss: &RunningMssSandbox, mailbox: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for m in read_mailbox(mss.data_dir(), mailbox).unwrap_or_default() {
        *out.entry(m.message_id).or_insert(0) += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------
// The tests.

/// S shares on the three channels while dmp-service and mss-service replicas are killed.
#[test]
fn shares_survive_killed_replicas() {
    crash_test(false);
}

/// The same, with the NATS server itself killed and restarted (same port, same store) in
/// the middle.
#[test]
fn shares_survive_killed_replicas_and_a_nats_restart() {
    crash_test(true);
}

fn crash_test(nats_restart: bool) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let binaries = sibling_binaries();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(TIME_LIMIT, crash_run(binaries, nats_restart))
                .await
                .expect("the crash test stays within its time limit")
        });
}

async fn crash_run((dmp_bin, mss_bin): (PathBuf, PathBuf), nats_restart: bool) {
    let shares = shares();
    let seed = seed();
    let replay =
        format!("PASSERELLE_SHARE_CRASH_SEED={seed} PASSERELLE_SHARE_CRASH_SHARES={shares}");
    println!("share crash seed={seed} nats_restart={nats_restart} (replay: {replay})");
    eprintln!("share crash seed={seed} nats_restart={nats_restart} (replay: {replay})");
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let deadline = started + TIME_LIMIT - Duration::from_secs(15);

    let mut sys = System::start().await;
    let share_cfg = sys.write("share-service.toml", share_config(&sys));
    let dmp_cfg = sys.write("dmp-service.toml", dmp_config(&sys));
    let mss_cfg = sys.write("mss-service.toml", mss_config(&sys));
    let bus = sys.bus().await;
    let document_id = store_pdf(&bus).await;
    let dmp_view = ViewClientTls::organisation(pki());
    let before = view::fetch(&sys.dmp.url(), &dmp_view, INS, "professionals")
        .await
        .unwrap()
        .documents
        .len();

    let share_service = Replica::new(
        "share",
        Path::new(SHARE_SERVICE),
        "share-service",
        &share_cfg,
        &sys,
    );
    let mut replicas = [
        Replica::new("dmp-a", &dmp_bin, "dmp-service", &dmp_cfg, &sys),
        Replica::new("dmp-b", &dmp_bin, "dmp-service", &dmp_cfg, &sys),
        Replica::new("mss-a", &mss_bin, "mss-service", &mss_cfg, &sys),
        Replica::new("mss-b", &mss_bin, "mss-service", &mss_cfg, &sys),
    ];
    eprintln!("{:?} system up", started.elapsed());

    // The schedule, all drawn from the seed before anything runs: the shares paced 0 to
    // 120 ms apart; the kills spread over about the time the work takes (~120 ms a share on
    // this machine), each replica down 100 ms to 1.5 s.
    let pauses: Vec<u64> = (0..shares).map(|_| rng.range(0, 120)).collect();
    let span = (shares as u64 * 120).max(8_000);
    let kills_wanted = (shares / 12).clamp(4, 40);
    let mut kills: Vec<(u64, usize, u64)> = (0..kills_wanted)
        .map(|_| {
            (
                rng.range(500, span),
                rng.range(0, 4) as usize,
                rng.range(100, 1500),
            )
        })
        .collect();
    kills.sort();
    let nats_restart_at = nats_restart.then_some(span / 2);

    let endpoint = format!("http://127.0.0.1:{}", sys.share_port);
    let submitter = {
        let endpoint = endpoint.clone();
        let document_id = document_id.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for (n, pause) in pauses.into_iter().enumerate() {
                tokio::time::sleep(Duration::from_millis(pause)).await;
                ids.push(share(&endpoint, &document_id, &format!("crash-{seed}-{n}")).await);
            }
            ids
        })
    };

    let t0 = Instant::now();
    let mut restarted = false;
    for (at, which, down) in &kills {
        if let Some(mid) = nats_restart_at
            && !restarted
            && *at >= mid
        {
            tokio::time::sleep_until((t0 + Duration::from_millis(mid)).into()).await;
            eprintln!("{:?} restarting nats-server", started.elapsed());
            tokio::task::block_in_place(|| sys.nats.restart()).expect("nats-server again");
            restarted = true;
        }
        tokio::time::sleep_until((t0 + Duration::from_millis(*at)).into()).await;
        let replica = &mut replicas[*which];
        eprintln!("{:?} killing {}", started.elapsed(), replica.name);
        tokio::task::block_in_place(|| replica.kill());
        tokio::time::sleep(Duration::from_millis(*down)).await;
        tokio::task::block_in_place(|| replica.start());
        eprintln!("{:?} {} back", started.elapsed(), replica.name);
    }
    if let Some(mid) = nats_restart_at
        && !restarted
    {
        tokio::time::sleep_until((t0 + Duration::from_millis(mid)).into()).await;
        tokio::task::block_in_place(|| sys.nats.restart()).expect("nats-server again");
    }
    let ids = submitter.await.unwrap();
    eprintln!(
        "{:?} all {} shares accepted; settling",
        started.elapsed(),
        ids.len()
    );
    let statuses = settle(&endpoint, &ids, deadline).await;
    eprintln!("{:?} all finished", started.elapsed());

    // Every channel DONE, each with what it did.
    let mut failed = Vec::new();
    let mut dmp_repeats = 0;
    for s in statuses.values() {
        for c in &s.channels {
            if c.state != ChannelState::Done as i32 || c.reference.is_empty() {
                failed.push(format!("{} {:?}", s.share_id, c));
            }
        }
        if state_of(s, Channel::Dmp).is_some_and(|c| c.detail.contains(ALREADY_IN_THE_DMP)) {
            dmp_repeats += 1;
        }
    }

    // The DMP: one document per share (its uniqueId is the DMP channel's reference).
    let documents = view::fetch(&sys.dmp.url(), &dmp_view, INS, "professionals")
        .await
        .unwrap()
        .documents;
    let mut per_unique_id: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &documents {
        *per_unique_id.entry(d.unique_id.as_str()).or_insert(0) += 1;
    }
    let dmp_docs = documents.len() - before;
    let mut dmp_wrong = Vec::new();
    for s in statuses.values() {
        let reference = state_of(s, Channel::Dmp)
            .map(|c| c.reference.as_str())
            .unwrap_or("");
        let n = per_unique_id.get(reference).copied().unwrap_or(0);
        if n != 1 {
            dmp_wrong.push(format!("{} {reference}: {n}", s.share_id));
        }
    }

    let referenced: std::collections::BTreeSet<&str> = statuses
        .values()
        .filter_map(|s| state_of(s, Channel::Dmp).map(|c| c.reference.as_str()))
        .collect();
    for d in documents
        .iter()
        .filter(|d| !referenced.contains(d.unique_id.as_str()))
    {
        eprintln!("DMP document of no share: {d:?}");
    }

    // The mailboxes: one mail per share and recipient; a second only where the outbox
    // counted a resend inside the SMTP window.
    let outbox = bus.key_value(OUTBOX_BUCKET).await.unwrap();
    let fouquerey = mails(&sys.mss, JEAN_FOUQUEREY);
    let patient = mails(&sys.mss, PATIENT_MAILBOX);
    let mut mail_total = 0;
    let mut mail_duplicates = 0;
    let mut window_resends = 0;
    let mut mail_wrong = Vec::new();
    for s in statuses.values() {
        let record: Option<OutboxRecord> = outbox
            .get(&s.share_id)
            .await
            .unwrap()
            .map(|e| serde_json::from_slice(&e.value).unwrap());
        let resent = record.as_ref().map_or(0, |r| r.resent_in_window as usize);
        window_resends += resent;
        for (channel, mailbox) in [
            (Channel::MssPro, &fouquerey),
            (Channel::MssCitizen, &patient),
        ] {
            let reference = state_of(s, channel)
                .map(|c| c.reference.as_str())
                .unwrap_or("");
            let n = mailbox.get(reference).copied().unwrap_or(0);
            mail_total += n;
            mail_duplicates += n.saturating_sub(1);
            if n == 0 || n > 1 + resent {
                mail_wrong.push(format!(
                    "{} {channel:?} {reference}: {n} mails, {resent} resent in the window",
                    s.share_id
                ));
            }
        }
    }
    let stray_mails =
        fouquerey.values().sum::<usize>() + patient.values().sum::<usize>() - mail_total;
    let errors: usize = replicas
        .iter()
        .chain([&share_service])
        .map(|r| r.errors.load(Ordering::Relaxed))
        .sum();

    let summary = format!(
        "share crash seed={seed} shares={} kills={} nats_restart={nats_restart} dmp_docs={dmp_docs} \
         dmp_repeats={dmp_repeats} mails={mail_total} mail_duplicates={mail_duplicates} \
         window_resends={window_resends} stray_mails={stray_mails} error_lines={errors} \
         failed={} elapsed={:?}",
        ids.len(),
        kills.len(),
        failed.len(),
        started.elapsed(),
    );
    println!("{summary}");
    eprintln!("{summary}");

    assert!(failed.is_empty(), "channels not DONE: {failed:#?}");
    assert!(
        dmp_wrong.is_empty(),
        "DMP documents per share: {dmp_wrong:#?}"
    );
    assert_eq!(
        dmp_docs,
        ids.len(),
        "one DMP document per share, none beside"
    );
    assert!(mail_wrong.is_empty(), "mails per share: {mail_wrong:#?}");
    assert_eq!(stray_mails, 0, "mails of no share's Message-ID");
    drop(share_service);
}
