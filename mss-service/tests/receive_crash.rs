//! Receiving survives crashes and replicas: two replicas of the real `mss-service` binary on a
//! NATS server of their own (JetStream: the events stream, the `mss_inbox` bucket, the
//! document store) read two mailboxes of the MSSanté sandbox while letters arrive, and are
//! killed (SIGKILL) at random moments. At the end: `MssMessageReceived` once per message and
//! mailbox, no document stored beside the events' ones, at most one MDN per message and
//! mailbox (the missing ones are exactly among those recorded `uncertain`), every message
//! flagged done. And the lease: one replica reads a mailbox, the other takes it over within
//! about the lease when the first is killed.
//!
//! Reproducible schedule: `PASSERELLE_CRASH_SEED=<n>` replays the kills and the sending of
//! a run (the seed is printed); the interleaving with the processes is the machine's.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use futures::StreamExt;
use mss_service::imap::{ImapAuth, ImapClient, ImapSettings, ImapTls, TlsMode};
use mss_service::receiving::process::DONE_KEYWORD;
use mss_service::receiving::tracking::{self, AckState, MessageRecord, Phase, Tracking};
use mss_service::smtp::{ClientCert, Envelope, SmtpClient, SmtpSettings, SmtpTls, Timeouts};
use passerelle_bus::SharedBus;
use passerelle_bus::nats::NatsBus;
use passerelle_bus::subjects;
use passerelle_bus::testing::NatsServer;
use passerelle_mtls::ClientIdentity;
use passerelle_proto::events::v1::MssMessageReceived;
use passerelle_sandbox::mss::{
    DEFAULT_MAILBOX_PASSWORD, JEAN_FOUQUEREY, LPS_APP, MssSandbox, MssSandboxConfig,
    RunningMssSandbox, SECRETARIAT, read_mailbox,
};
use passerelle_sandbox::pki::TestPki;
use prost::Message as _;

const SERVICE: &str = env!("CARGO_BIN_EXE_mss-service");
const MAILBOXES: [&str; 2] = [SECRETARIAT, JEAN_FOUQUEREY];
/// Short, so that a takeover is quick; renewed every third of it.
const LEASE: Duration = Duration::from_secs(2);
/// The whole test, whatever happens (CI runs it).
const TIME_LIMIT: Duration = Duration::from_secs(120);

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::ensure(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("mss-crash-pki")).unwrap()
    })
}

use passerelle_service_kit::testing::SeededRng as Rng;

fn seed() -> u64 {
    passerelle_service_kit::testing::seed_from_env("PASSERELLE_CRASH_SEED")
}

// ---------------------------------------------------------------------------------------
// The system: NATS, the sandbox, the replicas.

struct System {
    nats: NatsServer,
    mss: RunningMssSandbox,
    config: PathBuf,
    dir: tempfile::TempDir,
}

impl System {
    async fn start() -> System {
        let pki = pki();
        let dir = tempfile::tempdir().unwrap();
        let mss = MssSandbox::start(
            MssSandboxConfig {
                data_dir: dir.path().join("sandbox"),
                ..MssSandboxConfig::default()
            },
            pki,
        )
        .await
        .expect("MSS sandbox starts");
        let nats = NatsServer::start().expect("nats-server (apt-get install nats-server)");
        let text = config_text(pki, &mss);
        // The same settings the binary reads: a typo here fails loudly, not as a silent default.
        let parsed: mss_service::MssSettings = toml::from_str(&text).expect("settings parse");
        assert_eq!(parsed.mss.receiving.mailboxes.len(), 2);
        assert!(matches!(
            parsed.mss.receiving.mailboxes[1].imap_auth,
            Some(ImapAuth::Password { .. })
        ));
        let config = dir.path().join("mss-service.toml");
        std::fs::write(&config, text).unwrap();
        System {
            nats,
            mss,
            config,
            dir,
        }
    }

    fn replica(&self, name: &str) -> Replica {
        let mut r = Replica {
            name: name.to_owned(),
            child: None,
            config: self.config.clone(),
            nats_url: self.nats.url(),
            tmp: self.dir.path().to_owned(),
            starts: 0,
        };
        r.start();
        r
    }

    async fn bus(&self) -> SharedBus {
        Arc::new(
            NatsBus::connect(&self.nats.url(), Default::default())
                .await
                .unwrap(),
        )
    }

    async fn jetstream(&self) -> async_nats::jetstream::Context {
        let client = async_nats::connect(self.nats.url()).await.unwrap();
        async_nats::jetstream::new(client)
    }
}

/// Two mailboxes: the secretariat by the organisation's certificate and SASL EXTERNAL, Dr
/// FOUQUEREY by his account (and his MDNs by his account too); MDNs through the sandbox's
/// SMTP with the organisation's certificate.
fn config_text(pki: &TestPki, mss: &RunningMssSandbox) -> String {
    let tls = format!(
        r#"trusted_ca = ["{ca}"]
identity = {{ kind = "pem", cert = "{cert}", key = "{key}" }}"#,
        ca = pki.ca_cert.display(),
        cert = pki.org_cert.display(),
        key = pki.org_key.display(),
    );
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

[mss.receiving]
lease = "{lease}ms"
poll_interval = "500ms"
max_backoff = "1s"
acknowledgements = true

[mss.receiving.imap]
host = "127.0.0.1"
port = {imap}
mode = "starttls"
auth = "external"

[mss.receiving.imap.tls]
{tls}

[[mss.receiving.mailboxes]]
address = "{SECRETARIAT}"

[[mss.receiving.mailboxes]]
address = "{JEAN_FOUQUEREY}"

[mss.receiving.mailboxes.imap_auth.password]
user = "{JEAN_FOUQUEREY}"
password = "{DEFAULT_MAILBOX_PASSWORD}"

[mss.receiving.mailboxes.smtp_auth.password]
user = "{JEAN_FOUQUEREY}"
password = "{DEFAULT_MAILBOX_PASSWORD}"
"#,
        smtp = mss.starttls_addr().port(),
        imap = mss.imap_addr().port(),
        lease = LEASE.as_millis(),
    )
}

/// One replica: the real binary, killed with SIGKILL when asked (and when dropped).
struct Replica {
    name: String,
    child: Option<Child>,
    config: PathBuf,
    nats_url: String,
    tmp: PathBuf,
    starts: u32,
}

impl Replica {
    /// Starts it and waits for its "mss-service ready" line; its warnings and errors are
    /// echoed (shown when the test fails).
    fn start(&mut self) {
        assert!(self.child.is_none(), "{} already runs", self.name);
        self.starts += 1;
        let mut child = Command::new(SERVICE)
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
            .expect("mss-service starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, ready) = mpsc::channel();
        let tag = format!("{}#{}", self.name, self.starts);
        // Read to the end, so that the service never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("mss-service ready") {
                    let _ = tx.send(());
                } else if (line.contains("\"WARN\"") || line.contains("\"ERROR\""))
                    && !line.contains("audit.hash_key")
                {
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

    /// SIGKILL: no shutdown, no lease released, whatever it was doing cut short.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap(); // SIGKILL on Unix
            child.wait().unwrap();
        }
    }
}

impl Replica {
    /// Whether the process has a TCP connection open to `port` on this machine (its
    /// sockets' inodes in /proc/<pid>/fd, matched in /proc/net/tcp).
    fn has_connection_to(&self, port: u16) -> bool {
        let Some(child) = &self.child else {
            return false;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{}/fd", child.id())) else {
            return false;
        };
        let inodes: BTreeSet<String> = fds
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .filter_map(|target| {
                let t = target.to_string_lossy();
                t.strip_prefix("socket:[")
                    .and_then(|rest| rest.strip_suffix(']'))
                    .map(str::to_owned)
            })
            .collect();
        let remote = format!(":{port:04X}");
        ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
            std::fs::read_to_string(table)
                .unwrap_or_default()
                .lines()
                .skip(1)
                .any(|line| {
                    let cols: Vec<&str> = line.split_whitespace().collect();
                    // local, remote, state ("01": established), ..., inode (10th)
                    cols.len() > 9
                        && cols[2].ends_with(&remote)
                        && cols[3] == "01"
                        && inodes.contains(cols[9])
                })
        })
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------------
// Letters arriving.

fn smtp_settings(mss: &RunningMssSandbox) -> SmtpSettings {
    let pki = pki();
    SmtpSettings {
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
    }
}

/// A small but real PDF, different per message.
fn pdf(n: usize) -> Vec<u8> {
    format!(
        "%PDF-1.4\n% lettre {n}\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    .into_bytes()
}

/// A letter from the organisation's applicative mailbox, acknowledgement asked (to the
/// sender itself, so RFC 8098 lets it go automatically); with a PDF when `with_pdf`.
fn letter(message_id: &str, to: &[&str], n: usize, with_pdf: bool) -> Vec<u8> {
    let mut m = format!(
        "From: <{LPS_APP}>\r\nTo: {to}\r\nSubject: Lettre {n}\r\nDate: Thu, 03 Dec 2026 18:00:00 +0000\r\n\
         Message-ID: {message_id}\r\nDisposition-Notification-To: <{LPS_APP}>\r\nMIME-Version: 1.0\r\n",
        to = to
            .iter()
            .map(|a| format!("<{a}>"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let text = format!("Bonjour,\r\nveuillez trouver la lettre {n}.\r\n");
    if !with_pdf {
        m.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
        m.push_str(&text);
        return m.into_bytes();
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(pdf(n));
    let wrapped: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    m.push_str(&format!(
        "Content-Type: multipart/mixed; boundary=\"b{n}\"\r\n\r\n\
         --b{n}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --b{n}\r\nContent-Type: application/pdf; name=\"lettre-{n}.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"lettre-{n}.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n--b{n}--\r\n",
        body = wrapped.join("\r\n"),
    ));
    m.into_bytes()
}

/// What was sent: Message-ID → (its number, its mailboxes).
type Sent = BTreeMap<String, (usize, Vec<&'static str>)>;

/// Every third letter is a plain note, the others carry a PDF.
fn has_pdf(n: usize) -> bool {
    !n.is_multiple_of(3)
}

async fn send(client: &SmtpClient, sent: &mut Sent, seed: u64, n: usize) {
    // One in five to both mailboxes: the same Message-ID, once per mailbox.
    let to: Vec<&'static str> = if n % 5 == 4 {
        MAILBOXES.to_vec()
    } else {
        vec![MAILBOXES[n % 2]]
    };
    let message_id = format!("<crash-{seed}-{n}@passerelle-sandbox.mssante.fr>");
    let raw = letter(&message_id, &to, n, has_pdf(n));
    client
        .send(
            ClientCert::Configured,
            &Envelope {
                from: LPS_APP.to_owned(),
                recipients: to.iter().map(|a| (*a).to_owned()).collect(),
                eight_bit: false,
                all_or_nothing: true,
                ..Envelope::default()
            },
            &[Bytes::from(raw)],
        )
        .await
        .expect("the sandbox takes the letter");
    sent.insert(message_id, (n, to));
}

// ---------------------------------------------------------------------------------------
// What the system did, read from the stores.

/// Every `MssMessageReceived` the events stream holds.
async fn stored_events(js: &async_nats::jetstream::Context) -> Vec<MssMessageReceived> {
    use async_nats::jetstream::consumer::{AckPolicy, pull};
    let stream = js
        .get_stream(subjects::EVENTS_STREAM)
        .await
        .expect("events stream");
    let consumer = stream
        .create_consumer(pull::Config {
            filter_subject: subjects::EVENTS_MSS_MESSAGE_RECEIVED.to_owned(),
            ack_policy: AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("pull consumer");
    let mut out = Vec::new();
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(500)
            .expires(Duration::from_millis(300))
            .messages()
            .await
            .expect("fetch");
        let before = out.len();
        while let Some(message) = batch.next().await {
            let message = message.expect("stored event");
            out.push(MssMessageReceived::decode(message.payload.clone()).expect("event decodes"));
        }
        if out.len() == before {
            return out;
        }
    }
}

/// The ids of the documents in the store (JetStream object store).
async fn stored_documents(js: &async_nats::jetstream::Context) -> Vec<String> {
    let Ok(store) = js.get_object_store(subjects::DOCUMENTS_BUCKET).await else {
        return Vec::new();
    };
    let mut list = store.list().await.expect("object list");
    let mut out = Vec::new();
    while let Some(info) = list.next().await {
        let info = info.expect("object info");
        if !info.deleted {
            out.push(info.name);
        }
    }
    out
}

/// The service's records of a mailbox (the `mss_inbox` bucket).
async fn records(bus: &SharedBus, mailbox: &str) -> Vec<MessageRecord> {
    let kv = bus.key_value(tracking::BUCKET).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), Tracking::new(kv, mailbox).all())
        .await
        .expect("listing the mss_inbox bucket stalled for 10 s")
        .unwrap()
}

/// Spots a message half-way through (recorded, not done), remembering those done so that
/// each look reads only the others.
#[derive(Default)]
struct HalfWay {
    done: BTreeSet<String>,
}

impl HalfWay {
    async fn any(&mut self, bus: &SharedBus) -> bool {
        async fn timed<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
            match tokio::time::timeout(Duration::from_millis(2500), f).await {
                Ok(v) => v,
                Err(_) => panic!("the mss_inbox bucket: {what} stalled for 2.5 s"),
            }
        }
        let kv = timed("opening it", bus.key_value(tracking::BUCKET))
            .await
            .unwrap();
        let keys = timed("listing its keys", kv.keys()).await.unwrap();
        for key in keys {
            if !key.starts_with("msg.") || self.done.contains(&key) {
                continue;
            }
            let Some(entry) = timed("reading a key", kv.get(&key)).await.unwrap() else {
                continue;
            };
            let record: MessageRecord = serde_json::from_slice(&entry.value).unwrap();
            if record.phase != Phase::Done {
                return true;
            }
            self.done.insert(key);
        }
        false
    }
}

/// The lease holder of a mailbox, if the lease is live.
async fn lease_holder(bus: &SharedBus, mailbox: &str) -> Option<String> {
    let kv = bus.key_value(tracking::BUCKET).await.unwrap();
    let entry = kv
        .get(&format!("lease.{}", tracking::mailbox_key(mailbox)))
        .await
        .unwrap()?;
    let lease: serde_json::Value = serde_json::from_slice(&entry.value).unwrap();
    let until = lease["until_unix_ms"].as_i64().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    (until > now).then(|| lease["owner"].as_str().unwrap().to_owned())
}

/// UIDs of `mailbox` matching `criteria`, read with the mailbox's account.
async fn search(mss: &RunningMssSandbox, mailbox: &str, criteria: &str) -> Vec<u32> {
    let client = ImapClient::new(&ImapSettings {
        host: "127.0.0.1".to_owned(),
        port: Some(mss.imap_addr().port()),
        mode: TlsMode::Starttls,
        auth: ImapAuth::Password {
            user: mailbox.to_owned(),
            password: DEFAULT_MAILBOX_PASSWORD.to_owned(),
        },
        tls: ImapTls {
            trusted_ca: vec![pki().ca_cert.clone()],
            ..ImapTls::default()
        },
        // A stuck server shows as a failure, not as the time limit.
        timeouts: mss_service::imap::ImapTimeouts {
            connect: Duration::from_secs(5),
            command: Duration::from_secs(10),
        },
    })
    .unwrap();
    let mut session = client.connect(ClientCert::Configured, None).await.unwrap();
    session.select("INBOX").await.unwrap();
    let uids = session.uid_search(criteria).await.unwrap();
    session.logout().await;
    uids
}

/// The MDNs back in the sender's mailbox: (reporting mailbox, Original-Message-ID) → count.
fn mdns(mss: &RunningMssSandbox) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for m in read_mailbox(mss.data_dir(), LPS_APP).unwrap_or_default() {
        let raw = String::from_utf8_lossy(&std::fs::read(&m.file).unwrap()).into_owned();
        if !raw.to_ascii_lowercase().contains("multipart/report") {
            continue;
        }
        const FIELD: &str = "original-message-id:";
        let original = raw
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(FIELD))
            .map(|l| l[FIELD.len()..].trim().to_owned())
            .expect("an MDN quotes the original's Message-ID");
        *out.entry((m.from.to_ascii_lowercase(), original))
            .or_insert(0) += 1;
    }
    out
}

/// (mailbox, Message-ID) → how many events.
fn tally(events: &[MssMessageReceived]) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for e in events {
        *out.entry((e.mailbox.to_ascii_lowercase(), e.message_id.clone()))
            .or_insert(0) += 1;
    }
    out
}

fn expected(sent: &Sent) -> BTreeSet<(String, String)> {
    sent.iter()
        .flat_map(|(id, (_, to))| to.iter().map(|m| (m.to_ascii_lowercase(), id.clone())))
        .collect()
}

/// Waits until every sent message is done: its event stored, its record done, flagged.
async fn settle(sys: &System, bus: &SharedBus, sent: &Sent, within: Duration) {
    let want = expected(sent);
    let deadline = Instant::now() + within;
    let js = sys.jetstream().await;
    loop {
        let events = stored_events(&js).await;
        let got: BTreeSet<_> = tally(&events).into_keys().collect();
        let mut done = 0;
        for mailbox in MAILBOXES {
            done += records(bus, mailbox)
                .await
                .iter()
                .filter(|r| r.phase == Phase::Done)
                .count();
        }
        let mut unflagged = 0;
        for mailbox in MAILBOXES {
            unflagged += search(&sys.mss, mailbox, &format!("UNKEYWORD {DONE_KEYWORD}"))
                .await
                .len();
        }
        if want.is_subset(&got) && done >= want.len() && unflagged == 0 {
            return;
        }
        eprintln!(
            "settling: {} of {} events, {done} records done, {unflagged} unflagged",
            got.len(),
            want.len()
        );
        assert!(
            Instant::now() < deadline,
            "not settled after {within:?}: {} of {} events, {done} records done, {unflagged} unflagged; \
             missing: {:?}",
            got.len(),
            want.len(),
            want.difference(&got).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

// ---------------------------------------------------------------------------------------
// The tests.

/// Letters arrive over ~30 s while replicas are SIGKILLed and restarted at random moments:
/// each message once (event, documents), its MDN at most once, every message flagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_replicas_lose_nothing_and_duplicate_nothing() {
    tokio::time::timeout(TIME_LIMIT, crash_run())
        .await
        .expect("the crash test stays within its time limit");
}

async fn crash_run() {
    const MESSAGES: usize = 60;
    const KILLS: usize = 6;
    let seed = seed();
    println!("crash test seed={seed} (replay: PASSERELLE_CRASH_SEED={seed})");
    eprintln!("crash test seed={seed} (replay: PASSERELLE_CRASH_SEED={seed})");
    let mut rng = Rng::new(seed);

    let sys = System::start().await;
    let bus = sys.bus().await;
    eprintln!("sandbox and NATS up");
    // What a live subscriber (core NATS, as WatchMessages listens) sees: counted, not
    // asserted — JetStream drops a republished event from the stream, not from the wire.
    let mut live_stream = bus
        .subscribe(subjects::EVENTS_MSS_MESSAGE_RECEIVED)
        .await
        .unwrap();
    let live_seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let live = {
        let seen = live_seen.clone();
        tokio::spawn(async move {
            while let Some(m) = live_stream.next().await {
                seen.lock()
                    .unwrap()
                    .push(MssMessageReceived::decode(m.payload).unwrap());
            }
        })
    };
    let mut replicas = [sys.replica("a"), sys.replica("b")];
    eprintln!("replicas up");

    // The schedule, all drawn from the seed before anything runs.
    let sending: Vec<(u64, usize)> = {
        // Bursts of 1 to 6 letters, 0.3 to 1.5 s apart.
        let mut out = Vec::new();
        let mut n = 0;
        while n < MESSAGES {
            let burst = (rng.range(1, 7) as usize).min(MESSAGES - n);
            out.push((rng.range(300, 1500), burst));
            n += burst;
        }
        out
    };
    // A kill follows a burst: as soon as one of its letters is half-way (recorded, not
    // done), or 0 to 40 ms later; after 1.5 s at the latest.
    let mut kill_after: Vec<usize> = Vec::new();
    while kill_after.len() < KILLS.min(sending.len()) {
        let burst = rng.range(0, sending.len() as u64) as usize;
        if !kill_after.contains(&burst) {
            kill_after.push(burst);
        }
    }
    kill_after.sort();
    eprintln!("kills after bursts {kill_after:?} of {}", sending.len());
    let kills: Vec<(usize, u64, u64, u64)> = kill_after
        .into_iter()
        .map(|burst| {
            (
                burst,
                rng.range(0, 40),
                rng.next_u64(),
                rng.range(100, 1200),
            )
        })
        .collect();

    let smtp = SmtpClient::new(&smtp_settings(&sys.mss)).unwrap();
    let (burst_sent, mut bursts) = tokio::sync::mpsc::unbounded_channel();
    let sender = tokio::spawn(async move {
        let mut sent = Sent::new();
        let mut n = 0;
        for (i, (pause, burst)) in sending.into_iter().enumerate() {
            tokio::time::sleep(Duration::from_millis(pause)).await;
            for _ in 0..burst {
                send(&smtp, &mut sent, seed, n).await;
                n += 1;
            }
            eprintln!("burst {i} sent ({n} letters)");
            let _ = burst_sent.send(i);
        }
        sent
    });

    let imap_port = sys.mss.imap_addr().port();
    let started = Instant::now();
    let mut half_way = HalfWay::default();
    let mut mid_message = 0;
    let mut hit_reader = 0;
    for (after, delay, choice, down) in &kills {
        while let Some(i) = bursts.recv().await {
            if i == *after {
                break;
            }
        }
        eprintln!("{:?} burst {after} seen; watching", started.elapsed());
        let watching = Instant::now();
        loop {
            let Ok(seen) = tokio::time::timeout(Duration::from_secs(3), half_way.any(&bus)).await
            else {
                panic!("reading the mss_inbox bucket stalled for 3 s");
            };
            if seen {
                mid_message += 1;
                break;
            }
            if watching.elapsed() > Duration::from_millis(1500) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(*delay)).await;
        // The replica reading (an IMAP connection open), else either.
        let reading: Vec<usize> = (0..2)
            .filter(|r| replicas[*r].has_connection_to(imap_port))
            .collect();
        let which = match reading.as_slice() {
            [one] => *one,
            _ => (*choice % 2) as usize,
        };
        hit_reader += usize::from(reading.contains(&which));
        eprintln!(
            "{:?} after burst {after}: killing {} (reading: {reading:?})",
            started.elapsed(),
            replicas[which].name
        );
        let replica = &mut replicas[which];
        tokio::task::block_in_place(|| replica.kill());
        tokio::time::sleep(Duration::from_millis(*down)).await;
        tokio::task::block_in_place(|| replica.start());
        eprintln!("{:?} {} back", started.elapsed(), replica.name);
    }
    let sent = sender.await.unwrap();
    eprintln!("{:?} all sent; settling", started.elapsed());
    settle(&sys, &bus, &sent, Duration::from_secs(40)).await;

    live.abort();
    let live_events = live_seen.lock().unwrap().clone();
    let live_duplicates = tally(&live_events).values().filter(|n| **n > 1).count();
    // Events: every message once per mailbox, nothing else.
    let js = sys.jetstream().await;
    let events = stored_events(&js).await;
    let tallied = tally(&events);
    let want = expected(&sent);
    let duplicates: Vec<_> = tallied.iter().filter(|(_, n)| **n > 1).collect();
    let unexpected: Vec<_> = tallied.keys().filter(|k| !want.contains(*k)).collect();

    // Documents: those the events name, each once, none beside.
    let in_events: BTreeSet<String> = events
        .iter()
        .flat_map(|e| e.documents.iter().map(|d| d.document_id.clone()))
        .collect();
    let stored = stored_documents(&js).await;
    let stored_set: BTreeSet<String> = stored.iter().cloned().collect();
    // Chunks and descriptions in the store's stream: a put cut by a kill may leave chunks of
    // no object (counted, not asserted: it holds no document twice).
    let pieces = js
        .get_stream(format!("OBJ_{}", subjects::DOCUMENTS_BUCKET))
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;
    let with_pdf = sent
        .values()
        .filter(|(n, _)| has_pdf(*n))
        .map(|(_, to)| to.len())
        .sum::<usize>();

    // Acknowledgements: at most one per message and mailbox; a missing one only where the
    // service recorded that it may not have left.
    let mut states: HashMap<(String, String), AckState> = HashMap::new();
    for mailbox in MAILBOXES {
        for r in records(&bus, mailbox).await {
            let ack = r.ack.expect("the acknowledgement settled");
            states.insert(
                (r.mailbox.to_ascii_lowercase(), r.message_id.clone()),
                ack.state,
            );
        }
    }
    let mdns = mdns(&sys.mss);
    let mdn_duplicates: Vec<_> = mdns.iter().filter(|(_, n)| **n > 1).collect();
    let uncertain = states
        .values()
        .filter(|s| **s == AckState::Uncertain)
        .count();
    let missing: Vec<_> = want.iter().filter(|k| !mdns.contains_key(*k)).collect();

    let flagged_not_done: usize = {
        let mut n = 0;
        for mailbox in MAILBOXES {
            n += search(&sys.mss, mailbox, &format!("UNKEYWORD {DONE_KEYWORD}"))
                .await
                .len();
        }
        n
    };
    let all_uids: usize = {
        let mut n = 0;
        for mailbox in MAILBOXES {
            n += search(&sys.mss, mailbox, "ALL").await.len();
        }
        n
    };

    println!(
        "crash test seed={seed} kills={} kills_of_a_reader={hit_reader} kills_mid_message={mid_message} messages={} deliveries={} events={} duplicates={} \
         documents={} document_pieces={pieces} mdn_sent={} mdn_uncertain={uncertain} mdn_missing={} mdn_duplicates={} \
         not_flagged={flagged_not_done} \
         live_events={} live_duplicates={live_duplicates}",
        kills.len(),
        sent.len(),
        want.len(),
        events.len(),
        duplicates.len(),
        stored.len(),
        mdns.values().sum::<usize>(),
        missing.len(),
        mdn_duplicates.len(),
        live_events.len(),
    );

    assert!(
        duplicates.is_empty(),
        "events published twice: {duplicates:?}"
    );
    assert!(
        unexpected.is_empty(),
        "events of no sent message: {unexpected:?}"
    );
    assert_eq!(
        events.len(),
        want.len(),
        "one event per message and mailbox"
    );
    assert_eq!(all_uids, want.len(), "the sandbox holds every delivery");
    assert_eq!(flagged_not_done, 0, "every message flagged {DONE_KEYWORD}");

    assert_eq!(
        in_events.len(),
        with_pdf,
        "one PDF per letter with one, per mailbox"
    );
    assert_eq!(stored.len(), stored_set.len());
    assert_eq!(
        stored_set, in_events,
        "the store holds the events' documents, no other"
    );

    assert!(
        mdn_duplicates.is_empty(),
        "MDNs sent twice: {mdn_duplicates:?}"
    );
    assert!(
        mdns.keys().all(|k| want.contains(k)),
        "MDNs of no sent message: {mdns:?}"
    );
    assert_eq!(
        states.len(),
        want.len(),
        "one record per message and mailbox"
    );
    for key in &missing {
        assert_eq!(
            states.get(*key),
            Some(&AckState::Uncertain),
            "{key:?}: no MDN arrived, yet the service did not record it as uncertain"
        );
    }
    for (key, state) in &states {
        assert!(
            matches!(state, AckState::Sent | AckState::Uncertain),
            "{key:?}: acknowledgement {state:?}"
        );
        if *state == AckState::Sent {
            assert!(
                mdns.contains_key(key),
                "{key:?} recorded sent, none arrived"
            );
        }
    }
}

/// Two replicas, no crash: one reads each mailbox (the other waits), every message once;
/// the holder killed, the other takes the mailboxes over within about the lease and reads on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_keeps_one_reader_and_passes_on_when_it_dies() {
    tokio::time::timeout(TIME_LIMIT, lease_run())
        .await
        .expect("the lease test stays within its time limit");
}

async fn lease_run() {
    let sys = System::start().await;
    let bus = sys.bus().await;
    let mut a = sys.replica("a");
    // `a` alone: it takes both mailboxes.
    let deadline = Instant::now() + Duration::from_secs(10);
    let holder = loop {
        let holders = [
            lease_holder(&bus, SECRETARIAT).await,
            lease_holder(&bus, JEAN_FOUQUEREY).await,
        ];
        if let [Some(x), Some(y)] = &holders {
            assert_eq!(x, y, "one replica, one owner");
            break x.clone();
        }
        assert!(Instant::now() < deadline, "a took no lease: {holders:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let b = sys.replica("b");

    let smtp = SmtpClient::new(&smtp_settings(&sys.mss)).unwrap();
    let mut sent = Sent::new();
    for n in 0..10 {
        send(&smtp, &mut sent, 0, n).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    settle(&sys, &bus, &sent, Duration::from_secs(30)).await;
    for mailbox in MAILBOXES {
        assert_eq!(
            lease_holder(&bus, mailbox).await.as_deref(),
            Some(holder.as_str()),
            "b waited: a still reads {mailbox}"
        );
    }

    // The reader dies: b takes both mailboxes over once a's lease runs out.
    let killed = Instant::now();
    tokio::task::block_in_place(|| a.kill());
    let mut taken = BTreeMap::new();
    while taken.len() < MAILBOXES.len() {
        for mailbox in MAILBOXES {
            if let Some(h) = lease_holder(&bus, mailbox).await
                && h != holder
            {
                taken
                    .entry(mailbox)
                    .or_insert_with(|| (h, killed.elapsed()));
            }
        }
        assert!(
            killed.elapsed() < LEASE * 3,
            "no takeover within {:?}: {taken:?}",
            LEASE * 3
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let owners: BTreeSet<_> = taken.values().map(|(h, _)| h.clone()).collect();
    assert_eq!(owners.len(), 1, "b, one owner: {taken:?}");
    let slowest = taken.values().map(|(_, t)| *t).max().unwrap();
    // Within the lease plus one look (a third of the lease) and some slack for the machine.
    assert!(
        slowest <= LEASE + LEASE / 3 + Duration::from_secs(1),
        "takeover took {slowest:?}"
    );

    // And b reads on.
    for n in 10..20 {
        send(&smtp, &mut sent, 0, n).await;
    }
    settle(&sys, &bus, &sent, Duration::from_secs(30)).await;
    // a back: it waits, b keeps the mailboxes.
    tokio::task::block_in_place(|| a.start());
    for n in 20..26 {
        send(&smtp, &mut sent, 0, n).await;
    }
    settle(&sys, &bus, &sent, Duration::from_secs(30)).await;
    let new_holder = owners.into_iter().next().unwrap();
    for mailbox in MAILBOXES {
        assert_eq!(
            lease_holder(&bus, mailbox).await.as_deref(),
            Some(new_holder.as_str()),
            "a back does not take {mailbox} from b"
        );
    }
    let js = sys.jetstream().await;
    let events = stored_events(&js).await;
    let tallied = tally(&events);
    let duplicates: Vec<_> = tallied.iter().filter(|(_, n)| **n > 1).collect();
    println!(
        "lease test messages={} deliveries={} events={} duplicates={} takeover_ms={}",
        sent.len(),
        expected(&sent).len(),
        events.len(),
        duplicates.len(),
        slowest.as_millis()
    );
    assert!(duplicates.is_empty(), "{duplicates:?}");
    assert_eq!(
        tallied.keys().cloned().collect::<BTreeSet<_>>(),
        expected(&sent)
    );
    drop(b);
}
