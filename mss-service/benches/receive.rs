//! Letters with a 1 MB PDF received by the real `mss-service` binary from the MSSanté
//! sandbox's IMAP server: messages per second fetched, parsed, their documents stored and
//! `MssMessageReceived` published, against a bare IMAP client fetching the same messages in
//! the same run.
//!
//! - the letter is the one `mss-service` itself sends (the message builder of `Send`): the
//!   PDF attached, and `IHE_XDM.zip` holding the level-1 CDA that embeds the PDF; one copy is
//!   sent through the sandbox's SMTP to `secretariat@…` (warm-up, and the stored form, behind
//!   the sandbox's trace fields), then each round drops N copies, each with its own
//!   Message-ID, into the sandbox's folder of that mailbox at once (files renamed in);
//! - **service**: the binary runs on a `nats-server` the bench starts (JetStream in a
//!   temporary directory: the event stream, the `mss_inbox` bucket and the document store
//!   are JetStream's), reading `secretariat@…` with the organisation's certificate (STARTTLS,
//!   `AUTHENTICATE EXTERNAL`, the mailbox as authorisation identity), polling every 100 ms
//!   (the sandbox's IDLE wakes on SMTP arrivals only, not on files dropped in its folder),
//!   acknowledgements off (the letters ask for none anyway); the time from the drop until the
//!   N-th `MssMessageReceived` reaches the bench's subscription;
//! - **baseline**, right after, on the same messages: `mss_service::imap::ImapClient` in this
//!   process, the service's IMAP settings, one session (STARTTLS, org certificate, EXTERNAL,
//!   `SELECT`, `UID SEARCH ALL`), then `UID FETCH` of each message's bytes, nothing else.
//!
//! Each event is checked: N distinct events a round, none more, each with the PDF attached
//! (its SHA-256 and size), the `IHE_XDM.zip` and the CDA inside it.
//!
//! ```text
//! cargo bench -p mss-service --bench receive           # 3 rounds of 50 messages, 1 MB PDF
//! cargo bench -p mss-service --bench receive -- 100    # messages a round
//! BENCH_ROUNDS=5 BENCH_PDF_KB=4096 BENCH_VERBOSE=1 BENCH_SHOW_LOG=1 cargo bench …
//! ```
//! Linux only (reads /proc).

// Test code: a failed unwrap is a failed bench (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use mss_service::MssSettings;
use mss_service::imap::ImapClient;
use mss_service::smtp::{ClientCert, Envelope, SmtpClient};
use passerelle_bus::nats::NatsBus;
use passerelle_bus::subjects;
use passerelle_bus::testing::NatsServer;
use passerelle_bus::{Bus, MessageStream};
use passerelle_proto::events::v1::MssMessageReceived;
use passerelle_sandbox::mss::{MssSandbox, MssSandboxConfig, SECRETARIAT, mailbox_dir};
use passerelle_sandbox::pki::TestPki;
use prost::Message as _;
use sha2::{Digest, Sha256};

mod common;
use common::*;

const DEFAULT_MESSAGES: usize = 50;
const DEFAULT_ROUNDS: usize = 3;
/// The longest a round may take before the bench gives up.
const ROUND_TIMEOUT: Duration = Duration::from_secs(300);

/// The service's configuration: sending as in `send.rs` (unused here: no MDN), receiving
/// `secretariat@…` with the organisation's certificate.
fn config_text(pki: &TestPki, smtp_port: u16, imap_port: u16) -> String {
    format!(
        r#"[grpc]
listen = "127.0.0.1:0"

[mss]
default_from = "{FROM}"
source_id = "{SOURCE_ID}"
test_platform = true

[mss.smtp]
host = "127.0.0.1"
port = {smtp_port}
mode = "starttls"

[mss.smtp.tls]
trusted_ca = ["{ca}"]

[mss.smtp.tls.identity]
kind = "pem"
cert = "{org_cert}"
key = "{org_key}"

[mss.receiving]
idle = false
poll_interval = "100ms"
acknowledgements = false

[mss.receiving.imap]
host = "127.0.0.1"
port = {imap_port}
mode = "starttls"
auth = "external"

[mss.receiving.imap.tls]
trusted_ca = ["{ca}"]

[mss.receiving.imap.tls.identity]
kind = "pem"
cert = "{org_cert}"
key = "{org_key}"

[[mss.receiving.mailboxes]]
address = "{SECRETARIAT}"
"#,
        ca = pki.ca_cert.display(),
        org_cert = pki.org_cert.display(),
        org_key = pki.org_key.display(),
    )
}

/// A process's peak and current resident memory (kB), from /proc.
fn memory_kb(pid: u32) -> (u64, u64) {
    let field = |name| common::proc_status_kb(pid, name).unwrap_or(0);
    (field("VmHWM:"), field("VmRSS:"))
}

/// `eml` with its `Message-ID` field's value replaced by `id` (the field must be there).
fn with_message_id(eml: &[u8], id: &str) -> Vec<u8> {
    let header_end = memchr::memmem::find(eml, b"\r\n\r\n").expect("a header");
    let field = memchr::memmem::find(&eml[..header_end], b"\r\nMessage-ID: ")
        .expect("a Message-ID field")
        + 2;
    let end = field + memchr::memmem::find(&eml[field..], b"\r\n").expect("end of field");
    let mut out = Vec::with_capacity(eml.len() + id.len());
    out.extend_from_slice(&eml[..field]);
    out.extend_from_slice(b"Message-ID: ");
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&eml[end..]);
    out
}

/// Writes `n` copies of `eml` into the mailbox's folder under hidden names (the sandbox lists
/// no dot file), not timed; returns the renames that deliver them.
fn stage(dir: &Path, eml: &[u8], round: usize, n: usize) -> Vec<(PathBuf, PathBuf)> {
    (0..n)
        .map(|i| {
            let id = format!("bench-{round}-{i}");
            let tmp = dir.join(format!(".{id}.tmp"));
            let bytes = with_message_id(eml, &format!("<{id}@passerelle-sandbox.mssante.fr>"));
            std::fs::write(&tmp, bytes).expect("staged copy");
            let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
            (tmp, dir.join(format!("{nanos:020}-{id}.eml")))
        })
        .collect()
}

/// The next event, or `None` after `timeout`.
async fn next_event(stream: &mut MessageStream, timeout: Duration) -> Option<MssMessageReceived> {
    let message = tokio::time::timeout(timeout, stream.next()).await.ok()??;
    Some(MssMessageReceived::decode(message.payload).expect("MssMessageReceived"))
}

/// What every event must say about the letter.
fn check(event: &MssMessageReceived, pdf_sha256: &str, pdf_len: u64) {
    assert_eq!(event.status, "processed", "{:?}", event.problem);
    let pdf = event
        .documents
        .iter()
        .find(|d| d.role == "attachment" && d.media_type == "application/pdf")
        .expect("the PDF attached");
    assert_eq!(pdf.sha256, pdf_sha256, "the PDF as sent");
    assert_eq!(pdf.size, pdf_len);
    assert!(
        event.documents.iter().any(|d| d.role == "xdm"),
        "IHE_XDM.zip kept"
    );
    assert!(
        event
            .documents
            .iter()
            .any(|d| d.role == "xdm-document" && d.type_code == "11490-0"),
        "the CDA inside the XDM: {:?}",
        event.documents
    );
}

/// The steps of one message as the service logs them at debug (`receiving::process`), in
/// order; the time before the first runs from the previous message's last step (lease
/// renewed, record looked up, `UID FETCH`).
const STEPS: [(&str, &str); 7] = [
    (
        "message fetched",
        "lease renewed, record looked up, `UID FETCH` (from the previous message flagged)",
    ),
    (
        "message parsed",
        "MIME, `IHE_XDM.zip`, METADATA.XML, INS parsed",
    ),
    (
        "documents stored",
        "documents stored (attachment, zip, CDA: `put_with_id`)",
    ),
    ("message recorded", "record `Stored` written (KV)"),
    (
        "message published",
        "`MssMessageReceived` published (JetStream ack)",
    ),
    (
        "message done",
        "record `Published`, acknowledgement settled, record `Done` (KV ×2)",
    ),
    ("message flagged", "`UID STORE $PasserelleDone`"),
];

/// Medians of each step over the measured messages (not the warm-up: uid > 1).
fn steps(log: &[String]) {
    let mut by_step: Vec<Vec<f64>> = vec![Vec::new(); STEPS.len()];
    let mut previous: Option<f64> = None;
    for line in log {
        let Ok(json) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(i) = STEPS
            .iter()
            .position(|(m, _)| json["fields"]["message"] == *m)
        else {
            continue;
        };
        let Some(at) = stamp_of_day(&json) else {
            continue;
        };
        let uid = json["fields"]["uid"].as_u64().unwrap_or(0);
        // The first measured message's fetch follows a poll's pause: not counted.
        if let Some(p) = previous
            && uid > 2
        {
            by_step[i].push((at - p) * 1000.0);
        }
        previous = Some(at);
    }
    if by_step.iter().all(Vec::is_empty) {
        return;
    }
    println!();
    println!("| one message in mss-service (medians, from its debug log) | ms |");
    println!("|---|---|");
    let mut total = 0.0;
    for ((_, name), v) in STEPS.iter().zip(&by_step) {
        let m = median_f(v);
        total += m;
        println!("| {name} | {m:.1} |");
    }
    println!("| **sum of the medians** | **{total:.1}** |");
}

struct Round {
    /// From the drop to the N-th event.
    service: Duration,
    /// From the first event to the N-th.
    service_steady: Duration,
    service_cpu: Duration,
    /// Connect, SELECT, SEARCH, then every fetch.
    bare: Duration,
    /// The fetches alone.
    bare_fetch: Duration,
    bench_cpu_bare: Duration,
}

struct Options {
    messages: usize,
    rounds: usize,
    pdf_bytes: usize,
}

fn main() {
    // cargo bench passes `--bench`; the first bare number is the number of messages a round.
    let messages = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(DEFAULT_MESSAGES)
        .max(2);
    let options = Options {
        messages,
        rounds: env_usize("BENCH_ROUNDS", DEFAULT_ROUNDS).max(1),
        pdf_bytes: env_usize("BENCH_PDF_KB", 1024) * 1024,
    };
    // `cargo bench` has just written hundreds of MB of build output: flushed first.
    let _ = Command::new("sync").status();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(&options));
}

async fn run(o: &Options) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = TestPki::ensure(&dir.path().join("pki")).expect("test PKI");
    let data_dir = dir.path().join("sandbox");
    let sandbox = MssSandbox::start(
        MssSandboxConfig {
            data_dir: data_dir.clone(),
            ..Default::default()
        },
        &pki,
    )
    .await
    .expect("MSS sandbox starts");
    let nats = NatsServer::start().expect("nats-server (apt-get install nats-server)");
    let bus = NatsBus::connect(&nats.url(), Default::default())
        .await
        .expect("NATS connection");
    bus.ensure_events_stream().await.expect("events stream");
    let mut events = bus
        .subscribe(subjects::EVENTS_MSS_MESSAGE_RECEIVED)
        .await
        .expect("subscription");

    let pdf = Bytes::from(passerelle_clinical_documents::testing::scanned_pdf(
        o.pdf_bytes,
    ));
    let pdf_sha256 = hex::encode(Sha256::digest(&pdf));
    let pdf_len = pdf.len() as u64;
    let letter = build_once(&pdf, 0, SECRETARIAT).message;

    let config = config_text(
        &pki,
        sandbox.starttls_addr().port(),
        sandbox.imap_addr().port(),
    );
    let config_file = dir.path().join("mss-service.toml");
    std::fs::write(&config_file, &config).expect("configuration written");
    let settings: MssSettings = toml::from_str(&config).expect("the same settings");
    // The bare client: the service's IMAP settings, in this process.
    let bare = ImapClient::new(&settings.mss.receiving.imap).expect("IMAP client");

    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp");
    let service = start_service(
        &config_file,
        &tmp,
        &["--nats", &nats.url()],
        "info,mss_service::receiving=debug,mss_service::imap=debug",
    );
    let pid = service.pid();
    let (_, rss_idle) = memory_kb(pid);

    // Warm-up (not measured): the letter through the sandbox's SMTP, read by the service.
    let smtp = SmtpClient::new(&settings.mss.smtp).expect("SMTP client");
    smtp.send(
        ClientCert::Configured,
        &Envelope {
            from: FROM.to_owned(),
            recipients: vec![SECRETARIAT.to_owned()],
            eight_bit: false,
            dsn: None,
            all_or_nothing: true,
        },
        letter.chunks(),
    )
    .await
    .expect("warm-up letter accepted");
    let warm = next_event(&mut events, Duration::from_secs(60))
        .await
        .expect("the warm-up letter read by the service");
    check(&warm, &pdf_sha256, pdf_len);
    let stored = passerelle_sandbox::mss::read_mailbox(&data_dir, SECRETARIAT).expect("mailbox");
    let eml = std::fs::read(&stored.first().expect("the warm-up letter").file).expect("eml");
    let folder = mailbox_dir(&data_dir, SECRETARIAT).expect("mailbox directory");
    // The bare client too, once.
    {
        let mut s = bare
            .connect(ClientCert::Configured, Some(SECRETARIAT))
            .await
            .expect("bare IMAP session");
        s.select("INBOX").await.expect("SELECT");
        let uids = s.uid_search("ALL").await.expect("SEARCH");
        s.uid_fetch_message(uids[0]).await.expect("FETCH");
        s.logout().await;
    }
    let load_before = load_average();

    let mut rounds = Vec::new();
    let mut seen = HashSet::new();
    seen.insert(warm.event_id.clone());
    for round in 0..o.rounds {
        let renames = stage(&folder, &eml, round, o.messages);
        let _ = Command::new("sync").status();
        tokio::time::sleep(Duration::from_millis(300)).await;

        // The service: the letters dropped in at once, until the N-th event.
        let cpu0 = process_cpu(pid);
        let t0 = Instant::now();
        for (from, to) in &renames {
            std::fs::rename(from, to).expect("delivered");
        }
        let mut first = None;
        let mut got = 0;
        while got < o.messages {
            let left = ROUND_TIMEOUT.saturating_sub(t0.elapsed());
            let event = next_event(&mut events, left)
                .await
                .unwrap_or_else(|| panic!("round {round}: {got} events of {}", o.messages));
            first.get_or_insert_with(Instant::now);
            assert!(
                seen.insert(event.event_id.clone()),
                "event {} twice",
                event.event_id
            );
            assert!(
                event.message_id.starts_with(&format!("<bench-{round}-")),
                "{}",
                event.message_id
            );
            check(&event, &pdf_sha256, pdf_len);
            got += 1;
        }
        let service = t0.elapsed();
        let service_steady = first.expect("an event").elapsed();
        let service_cpu = process_cpu(pid).saturating_sub(cpu0);
        // Not one more.
        if let Some(extra) = next_event(&mut events, Duration::from_millis(500)).await {
            panic!("an event too many: {}", extra.event_id);
        }

        // The baseline, on the same messages.
        let me = std::process::id();
        let cpu0 = process_cpu(me);
        let t0 = Instant::now();
        let mut s = bare
            .connect(ClientCert::Configured, Some(SECRETARIAT))
            .await
            .expect("bare IMAP session");
        s.select("INBOX").await.expect("SELECT");
        let uids = s.uid_search("ALL").await.expect("SEARCH");
        let t1 = Instant::now();
        let mut bytes = 0usize;
        for uid in &uids[uids.len() - o.messages..] {
            bytes += s.uid_fetch_message(*uid).await.expect("FETCH").len();
        }
        let bare_fetch = t1.elapsed();
        let bare_time = t0.elapsed();
        let bench_cpu_bare = process_cpu(me).saturating_sub(cpu0);
        s.logout().await;
        // Every message whole (the copies' Message-IDs differ in length from the original's).
        assert!(
            bytes + 100 * o.messages >= o.messages * eml.len(),
            "{bytes} bytes fetched"
        );

        if std::env::var_os("BENCH_VERBOSE").is_some() {
            println!(
                "round {round}: service {:.1}/s ({:.1}/s first to last event), bare {:.1}/s ({:.1}/s the fetches alone)",
                o.messages as f64 / service.as_secs_f64(),
                (o.messages - 1) as f64 / service_steady.as_secs_f64(),
                o.messages as f64 / bare_time.as_secs_f64(),
                o.messages as f64 / bare_fetch.as_secs_f64(),
            );
        } else {
            print!(".");
            let _ = std::io::stdout().flush();
        }
        rounds.push(Round {
            service,
            service_steady,
            service_cpu,
            bare: bare_time,
            bare_fetch,
            bench_cpu_bare,
        });
    }
    println!();
    let load_after = load_average();
    let (rss_peak, rss_end) = memory_kb(pid);
    std::thread::sleep(Duration::from_millis(200));
    let log: Vec<String> = service.lines.try_iter().collect();
    service.stop();
    sandbox.shutdown().await;
    drop(nats);

    let n = o.messages as f64;
    let rate = |d: Duration| n / d.as_secs_f64();
    let col = |f: &dyn Fn(&Round) -> f64| {
        let v: Vec<f64> = rounds.iter().map(f).collect();
        (median_f(&v), best_f(&v, false), best_f(&v, true))
    };
    println!(
        "MSSanté letter with a {:.2} MB PDF (message stored {:.2} MB, {} bytes) received from secretariat@… by the mss-service binary on NATS: {} rounds of {} messages; load average {} before, {} after",
        pdf_len as f64 / MB,
        eml.len() as f64 / MB,
        eml.len(),
        o.rounds,
        o.messages,
        load_before,
        load_after
    );
    println!();
    println!(
        "| messages/s ({} rounds) | median | lowest | highest | ms a message (median) | CPU ms a message |",
        o.rounds
    );
    println!("|---|---|---|---|---|---|");
    let line = |name: &str, f: &dyn Fn(&Round) -> f64, cpu: Option<f64>| {
        let (m, lo, hi) = col(f);
        let cpu = cpu.map_or("—".to_owned(), |c| format!("{c:.1}"));
        println!(
            "| {name} | {m:.1} | {lo:.1} | {hi:.1} | {:.1} | {cpu} |",
            1000.0 / m
        );
    };
    let service_cpu = col(&|r| ms(r.service_cpu) / n).0;
    let bare_cpu = col(&|r| ms(r.bench_cpu_bare) / n).0;
    line(
        "baseline: bare IMAP fetch (session, SELECT, SEARCH, N × UID FETCH)",
        &|r| rate(r.bare),
        Some(bare_cpu),
    );
    line(
        "baseline: the UID FETCHes alone",
        &|r| rate(r.bare_fetch),
        None,
    );
    line(
        "**mss-service: dropped in → N-th event**",
        &|r| rate(r.service),
        Some(service_cpu),
    );
    line(
        "mss-service: first → N-th event",
        &|r| (n - 1.0) / r.service_steady.as_secs_f64(),
        None,
    );
    println!();
    let ratios: Vec<f64> = rounds
        .iter()
        .map(|r| rate(r.bare) / rate(r.service))
        .collect();
    let added: Vec<f64> = rounds
        .iter()
        .map(|r| (ms(r.service) - ms(r.bare)) / n)
        .collect();
    println!(
        "ratio bare fetch rate / service rate: {:.2} (median; rounds {:.2}–{:.2}); added a message: {:.1} ms (median)",
        median_f(&ratios),
        best_f(&ratios, false),
        best_f(&ratios, true),
        median_f(&added)
    );
    println!(
        "mss-service memory: VmRSS {:.1} MB idle, peak VmHWM {:.1} MB ({:.1} × the stored message), VmRSS {:.1} MB at the end",
        rss_idle as f64 / 1024.0,
        rss_peak as f64 / 1024.0,
        rss_peak as f64 * 1024.0 / eml.len() as f64,
        rss_end as f64 / 1024.0
    );
    steps(&log);
    if std::env::var_os("BENCH_SHOW_LOG").is_some() {
        for line in &log {
            println!("{line}");
        }
    }
}
