//! A letter with a 1 MB PDF sent to Dr FOUQUEREY through the real `mss-service` binary into
//! the MSSanté sandbox, as a hospital's software does it: the PDF uploaded once to the
//! service's `DocumentStore` over gRPC, then one `MssService.Send` per message, each a new
//! message (its own idempotency key), in organisation mode (`org.crt`, STARTTLS, sender
//! `lps@…`). Three measures, in one run:
//!
//! - **end to end**: messages per second, one client calling `Send` after the other, then
//!   4 clients at once;
//! - **baseline**, alternated with the above: a bare SMTP client (the service's own
//!   `SmtpClient`, in this process) sending the very bytes the service sent (read back from
//!   the sandbox's mailbox) over the same path — a new session per message, STARTTLS, the
//!   organisation's certificate, AUTH EXTERNAL, the same sandbox — to the same mailbox.
//!   Target: end to end ≥ 0.5 × the baseline's rate;
//! - **XDM build**, in this process: the level-1 CDA of the PDF, the `IHE_XDM.zip` and the
//!   attachments' base64 (`DocumentAttachments`), the MIME message (`message::build`) —
//!   messages built per second and MB of PDF per second — against base64-encoding the PDF.
//!
//! Each Send is row M2 of the MSSanté matrix (professionals only) with the document hidden
//! from the patient: one Send is one message, as one baseline send is; a letter the patient
//! may see would have to go to the patient's mailbox too (row M1: two messages, two
//! transactions in one session), which the baseline would not match message for message.
//!
//! Where a Send's time goes is read from the service's log lines (JSON: "MSS messages built",
//! "SMTP session open", "SMTP message sent" at debug) and the sandbox's ("MSS sandbox: message
//! accepted", once the message is checked and stored, fsync'd). `BENCH_VERBOSE=1` prints each
//! round.
//!
//! ```text
//! cargo bench -p mss-service --bench send             # 5 rounds of 16 messages, 1 MB PDF
//! cargo bench -p mss-service --bench send -- 9        # rounds
//! BENCH_MESSAGES=32 BENCH_CLIENTS=0 BENCH_PDF_KB=4096 BENCH_BUILDS=50 cargo bench …
//! BENCH_VERBOSE=1 BENCH_SHOW_LOG=1 BENCH_SANDBOX_LOG=/tmp/sandbox.log …  # each round; logs
//! ```
//! Linux only (reads /proc).

// Test code: a failed unwrap is a failed bench (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use mss_service::MssSettings;
use mss_service::message::mime;
use mss_service::smtp::{ClientCert, Envelope, SmtpClient};
use passerelle_proto::common::v1::{
    Actor, IdentityStatus, OrganisationMode, PatientIdentity, Sex, actor,
};
use passerelle_proto::documents::v1::{
    UploadMetadata, UploadRequest, document_store_client::DocumentStoreClient, upload_request,
};
use passerelle_proto::mss::v1 as api;
use passerelle_proto::mss::v1::mss_service_client::MssServiceClient;
use passerelle_sandbox::mss::{MssSandbox, MssSandboxConfig, mailbox_dir};
use passerelle_sandbox::pki::TestPki;
use tonic::transport::Channel;

mod common;
use common::*;

const CHUNK: usize = 1024 * 1024;
const DEFAULT_ROUNDS: usize = 5;
const DEFAULT_MESSAGES: usize = 16;
const DEFAULT_CLIENTS: usize = 4;
const DEFAULT_BUILDS: usize = 20;
/// End to end at least this share of the bare client's rate.
const RATE_TARGET: f64 = 0.5;

const FOUQUEREY: &str = "jean.fouquerey@passerelle-sandbox.mssante.fr";

// ---- the PDF ----

/// The service's configuration: organisation mode, STARTTLS to the sandbox with `org.crt`.
fn config_text(pki: &TestPki, smtp_port: u16) -> String {
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
"#,
        ca = pki.ca_cert.display(),
        org_cert = pki.org_cert.display(),
        org_key = pki.org_key.display(),
    )
}

// ---- the send, as a hospital's software does it ----

/// The organisation, Dr MEDECIN sending (the letter's author).
fn actor() -> Actor {
    Actor {
        mode: Some(actor::Mode::Organisation(OrganisationMode {
            on_behalf_of: "send-bench".to_owned(),
        })),
        professional: Some(passerelle_service_kit::testing::sandbox_medecin()),
    }
}

/// PAT-DOUZE, qualified.
fn pat_douze() -> PatientIdentity {
    PatientIdentity {
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
    }
}

/// The letter to Dr FOUQUEREY, hidden from the patient (row M2: one message).
fn send_request(document_id: &str, key: String) -> api::SendRequest {
    api::SendRequest {
        actor: Some(actor()),
        patient: Some(pat_douze()),
        to: vec![FOUQUEREY.to_owned()],
        body: Some(api::Body {
            text: "Cher confrère,\n\nVous trouverez ci-joint la lettre de liaison de votre patiente.\n\nBien confraternellement,\nDr Jeanne MEDECIN".to_owned(),
            html: String::new(),
        }),
        document: Some(api::Document {
            document_id: document_id.to_owned(),
            title: "Lettre de liaison".to_owned(),
            type_code: "11490-0".to_owned(),
            hide_from_patient: true,
            ..Default::default()
        }),
        idempotency_key: key,
        ..Default::default()
    }
}

/// Uploads the PDF in 1 MiB chunks; the document's id.
async fn upload(channel: Channel, pdf: &[u8]) -> String {
    let mut parts = vec![UploadRequest {
        part: Some(upload_request::Part::Metadata(UploadMetadata {
            media_type: "application/pdf".to_owned(),
            file_name: Some("lettre.pdf".to_owned()),
            declared_size: Some(pdf.len() as u64),
        })),
    }];
    parts.extend(pdf.chunks(CHUNK).map(|c| UploadRequest {
        part: Some(upload_request::Part::Chunk(c.to_vec())),
    }));
    DocumentStoreClient::new(channel)
        .upload(futures::stream::iter(parts))
        .await
        .expect("upload accepted")
        .into_inner()
        .id
}

async fn send(channel: Channel, document_id: &str, key: String) {
    let response = MssServiceClient::new(channel)
        .send(send_request(document_id, key))
        .await
        .expect("send accepted")
        .into_inner();
    assert_eq!(response.rule, "M2");
    assert_eq!(response.messages.len(), 1, "one message per send");
}

// ---- the baseline: the bare SMTP client ----

/// Connects (STARTTLS, the organisation's certificate, AUTH EXTERNAL), sends the message,
/// quits: what the service does for one message.
async fn bare_send(client: &SmtpClient, message: &Bytes) {
    let envelope = Envelope {
        from: FROM.to_owned(),
        recipients: vec![FOUQUEREY.to_owned()],
        eight_bit: false,
        dsn: None,
        all_or_nothing: true,
    };
    let delivery = client
        .send(
            ClientCert::Configured,
            &envelope,
            std::slice::from_ref(message),
        )
        .await
        .expect("bare send accepted");
    assert_eq!(delivery.accepted.len(), 1);
}

/// The message as the service sent it: the last one in Dr FOUQUEREY's mailbox, less the
/// trace fields the sandbox put before it (our messages begin with `From:`).
fn sent_message(data_dir: &Path) -> Bytes {
    let stored = passerelle_sandbox::mss::read_mailbox(data_dir, FOUQUEREY).expect("mailbox");
    let last = stored.last().expect("the warm-up message was delivered");
    let eml = std::fs::read(&last.file).expect("stored message");
    let start = memchr::memmem::find(&eml, b"\r\nFrom: ").expect("a From field") + 2;
    Bytes::from(eml[start..].to_vec())
}

/// Empties the mailbox between phases (not timed): 2.8 MB a message adds up.
fn empty_mailbox(data_dir: &Path) {
    let dir = mailbox_dir(data_dir, FOUQUEREY).expect("mailbox directory");
    let _ = std::fs::remove_dir_all(dir);
}

/// The CDA alone in a zip, deflated at `level` (None: the zip crate's default, which the XDM
/// uses) or stored: where the XDM step's time goes, and what a faster level would give.
fn zip_cda(cda: &[u8], method: zip::CompressionMethod, level: Option<i64>) -> (Duration, usize) {
    use std::io::Write as _;
    let t = Instant::now();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::with_capacity(cda.len() + 4096)));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .compression_level(level);
    zip.start_file("IHE_XDM/SUBSET01/DOC0001.XML", options)
        .expect("zip entry");
    zip.write_all(cda).expect("zip written");
    let len = zip.finish().expect("zip").into_inner().len();
    (t.elapsed(), len)
}

/// The zip variants measured: name, method, level.
/// The first is what the XDM does with a PDF's CDA (the message measured is built with it).
const ZIP_VARIANTS: [(&str, zip::CompressionMethod, Option<i64>); 5] = [
    (
        "stored (no compression): the XDM's, for a PDF's CDA",
        zip::CompressionMethod::Stored,
        None,
    ),
    (
        "deflate, default level (6)",
        zip::CompressionMethod::Deflated,
        None,
    ),
    (
        "deflate, level 1",
        zip::CompressionMethod::Deflated,
        Some(1),
    ),
    (
        "deflate, level 2",
        zip::CompressionMethod::Deflated,
        Some(2),
    ),
    (
        "deflate, level 3",
        zip::CompressionMethod::Deflated,
        Some(3),
    ),
];

/// The bench process's log (JSON, in a file): the sandbox's lines, and the bare client's
/// "SMTP session open" (the same client code as the service's).
fn bench_log(dir: &Path) -> PathBuf {
    let path = std::env::var_os("BENCH_SANDBOX_LOG")
        .map_or_else(|| dir.join("sandbox.log"), PathBuf::from);
    let file = std::fs::File::create(&path).expect("sandbox log");
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "passerelle_sandbox=info,mss_service::smtp=debug",
        ))
        .with_writer(std::sync::Mutex::new(file))
        .init();
    path
}

fn main() {
    // cargo bench passes `--bench`; the first bare number is the number of rounds.
    let rounds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(DEFAULT_ROUNDS)
        .max(1);
    let options = Options {
        rounds,
        messages: env_usize("BENCH_MESSAGES", DEFAULT_MESSAGES).max(1),
        clients: env_usize("BENCH_CLIENTS", DEFAULT_CLIENTS),
        builds: env_usize("BENCH_BUILDS", DEFAULT_BUILDS).max(1),
        pdf_bytes: env_usize("BENCH_PDF_KB", 1024) * 1024,
    };
    // `cargo bench` has just written hundreds of MB of build output: flushed first, so that
    // the sandbox's fsyncs do not wait behind it.
    let _ = Command::new("sync").status();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(&options));
}

struct Options {
    rounds: usize,
    /// Messages per phase (sequential; with clients, spread over them).
    messages: usize,
    /// Concurrent clients (0: sequential only).
    clients: usize,
    builds: usize,
    pdf_bytes: usize,
}

/// One phase's measure: messages, wall time, CPU of the service and of this process.
#[derive(Clone, Copy, Default)]
struct Phase {
    messages: usize,
    wall: Duration,
    service_cpu: Duration,
    bench_cpu: Duration,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.messages as f64 / self.wall.as_secs_f64()
    }
    fn service_cpu_ms(&self) -> f64 {
        ms(self.service_cpu) / self.messages as f64
    }
    fn bench_cpu_ms(&self) -> f64 {
        ms(self.bench_cpu) / self.messages as f64
    }
}

/// Measures `work` (which sends `messages` messages): wall time and both processes' CPU.
async fn measured<F: std::future::Future<Output = ()>>(
    service_pid: u32,
    messages: usize,
    work: F,
) -> Phase {
    let me = std::process::id();
    let (service_cpu, bench_cpu) = (process_cpu(service_pid), process_cpu(me));
    let t = Instant::now();
    work.await;
    Phase {
        messages,
        wall: t.elapsed(),
        service_cpu: process_cpu(service_pid).saturating_sub(service_cpu),
        bench_cpu: process_cpu(me).saturating_sub(bench_cpu),
    }
}

async fn run(o: &Options) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let bench_log = bench_log(dir.path());
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
    let pdf = Bytes::from(passerelle_clinical_documents::testing::scanned_pdf(
        o.pdf_bytes,
    ));
    let pdf_mb = pdf.len() as f64 / MB;

    let config = config_text(&pki, sandbox.starttls_addr().port());
    let config_file = dir.path().join("mss-service.toml");
    std::fs::write(&config_file, &config).expect("configuration written");
    let settings: MssSettings = toml::from_str(&config).expect("the same settings");
    // The bare client: the service's SMTP settings, in this process.
    let bare = Arc::new(SmtpClient::new(&settings.mss.smtp).expect("SMTP client"));

    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp");
    let service = start_service(
        &config_file,
        &tmp,
        &[],
        // "MSS messages built", "SMTP session open", "SMTP message sent": the phases.
        "info,mss_service::service=debug,mss_service::smtp=debug",
    );
    let pid = service.pid();
    let connect = || async {
        Channel::from_shared(service.grpc.clone())
            .expect("endpoint")
            .connect()
            .await
            .expect("gRPC channel")
    };
    // One channel per client, kept open as the hospital's software does.
    let mut channels = Vec::new();
    for _ in 0..o.clients.max(1) {
        channels.push(connect().await);
    }
    let channel = channels[0].clone();
    let document_id = upload(channel.clone(), &pdf).await;
    let tag = uuid::Uuid::new_v4();

    // Warm-up (not measured): one send each way; the bytes the service sends.
    let preview = MssServiceClient::new(channel.clone())
        .preview(send_request(
            &document_id,
            format!("send-bench-{tag}-preview"),
        ))
        .await
        .expect("preview")
        .into_inner();
    send(
        channel.clone(),
        &document_id,
        format!("send-bench-{tag}-warm-up"),
    )
    .await;
    let message = sent_message(&data_dir);
    bare_send(&bare, &message).await;
    empty_mailbox(&data_dir);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let load_before = load_average();

    let mut base_seq = Vec::new();
    let mut e2e_seq = Vec::new();
    let mut base_par = Vec::new();
    let mut e2e_par = Vec::new();
    // Each sequential message's window (start, end), for the log lines.
    let mut base_windows = Vec::new();
    let mut e2e_windows = Vec::new();
    let per_client = o.messages.div_ceil(o.clients.max(1));
    let mut serial = 0usize;
    for _ in 0..o.rounds {
        // 1. Bare client, one message after the other.
        base_seq.push(
            measured(pid, o.messages, async {
                for _ in 0..o.messages {
                    let start = now_of_day();
                    bare_send(&bare, &message).await;
                    base_windows.push((start, now_of_day()));
                }
            })
            .await,
        );
        empty_mailbox(&data_dir);
        // 2. The service, one Send after the other.
        e2e_seq.push(
            measured(pid, o.messages, async {
                for _ in 0..o.messages {
                    serial += 1;
                    let key = format!("send-bench-{tag}-{serial}");
                    let start = now_of_day();
                    send(channel.clone(), &document_id, key).await;
                    e2e_windows.push((start, now_of_day()));
                }
            })
            .await,
        );
        empty_mailbox(&data_dir);
        if o.clients == 0 {
            continue;
        }
        // 3. Bare clients at once.
        let total = per_client * o.clients;
        base_par.push(
            measured(pid, total, async {
                let tasks: Vec<_> = (0..o.clients)
                    .map(|_| {
                        let bare = bare.clone();
                        let message = message.clone();
                        tokio::spawn(async move {
                            for _ in 0..per_client {
                                bare_send(&bare, &message).await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("bare client");
                }
            })
            .await,
        );
        empty_mailbox(&data_dir);
        // 4. The service, clients calling Send at once.
        e2e_par.push(
            measured(pid, total, async {
                let tasks: Vec<_> = channels
                    .iter()
                    .take(o.clients)
                    .enumerate()
                    .map(|(c, channel)| {
                        let channel = channel.clone();
                        let document_id = document_id.clone();
                        let first = serial + c * per_client;
                        tokio::spawn(async move {
                            for n in 0..per_client {
                                let key = format!("send-bench-{tag}-{}", first + n + 1);
                                send(channel.clone(), &document_id, key).await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("Send client");
                }
            })
            .await,
        );
        serial += total;
        empty_mailbox(&data_dir);
        print!(".");
        let _ = std::io::stdout().flush();
    }
    println!();
    let load_after = load_average();
    // The last lines are read by the stderr thread.
    std::thread::sleep(Duration::from_millis(200));
    let log: Vec<String> = service.lines.try_iter().collect();
    drop(channels);
    drop(channel);
    service.stop();
    sandbox.shutdown().await;

    // The XDM build, alone on the machine's share (service and sandbox stopped), alternated
    // with the base64 baseline.
    let mut encode_times = Vec::with_capacity(o.builds);
    let mut builds = Vec::with_capacity(o.builds);
    for n in 0..=o.builds {
        let t = Instant::now();
        std::hint::black_box(base64::engine::general_purpose::STANDARD.encode(&pdf));
        let encoded = t.elapsed();
        let built = build_once(&pdf, n, FOUQUEREY);
        // The first of each warms the allocator and caches.
        if n > 0 {
            encode_times.push(encoded);
            builds.push(built);
        }
    }

    // Where the XDM step's time goes: the CDA's deflate, by level.
    let cda = passerelle_service_kit::letters::letter_cda(
        &passerelle_clinical_documents::testing::letter(
            "send-bench-zip",
            time::OffsetDateTime::now_utc(),
        ),
        passerelle_service_kit::letters::PDF,
        &pdf,
    )
    .expect("CDA")
    .bytes;
    let mut zips: Vec<Vec<(Duration, usize)>> = vec![Vec::new(); ZIP_VARIANTS.len()];
    for _ in 0..o.builds {
        for (v, (_, method, level)) in zips.iter_mut().zip(ZIP_VARIANTS) {
            v.push(zip_cda(&cda, method, level));
        }
    }

    report(
        o,
        &Report {
            cda_len: cda.len(),
            zips: &zips,
            pdf_len: pdf.len(),
            pdf_mb,
            message_len: message.len(),
            preview: &preview,
            base_seq: &base_seq,
            e2e_seq: &e2e_seq,
            base_par: &base_par,
            e2e_par: &e2e_par,
            base_windows: &base_windows,
            e2e_windows: &e2e_windows,
            service_log: &log,
            bench_log: &std::fs::read_to_string(&bench_log)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>(),
            encode_times: &encode_times,
            builds: &builds,
            load: (load_before, load_after),
        },
    );
}

struct Report<'a> {
    cda_len: usize,
    zips: &'a [Vec<(Duration, usize)>],
    pdf_len: usize,
    pdf_mb: f64,
    message_len: usize,
    preview: &'a api::PreviewResponse,
    base_seq: &'a [Phase],
    e2e_seq: &'a [Phase],
    base_par: &'a [Phase],
    e2e_par: &'a [Phase],
    base_windows: &'a [(f64, f64)],
    e2e_windows: &'a [(f64, f64)],
    service_log: &'a [String],
    bench_log: &'a [String],
    encode_times: &'a [Duration],
    builds: &'a [Built],
    load: (String, String),
}

fn report(o: &Options, r: &Report<'_>) {
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let rates = |v: &[Phase]| v.iter().map(Phase::rate).collect::<Vec<_>>();
    let attachments = r
        .preview
        .messages
        .first()
        .map(|m| {
            m.attachments
                .iter()
                .map(|a| format!("{} {:.2} MB", a.file_name, a.size as f64 / MB))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    println!(
        "MSSanté letter with a {:.2} MB PDF ({} bytes) to Dr FOUQUEREY through the mss-service binary into the sandbox: {} rounds of {} messages; load average {} before, {} after",
        r.pdf_mb, r.pdf_len, o.rounds, o.messages, r.load.0, r.load.1
    );
    println!(
        "The message: {:.2} MB ({} bytes; attachments decoded: {attachments}), row {}",
        r.message_len as f64 / MB,
        r.message_len,
        r.preview.rule
    );
    println!();
    println!(
        "| messages/s (median of {} rounds) | median | best | ms a message | service CPU ms a message | bench process CPU ms a message (sandbox + client) |",
        o.rounds
    );
    println!("|---|---|---|---|---|---|");
    let row = |name: &str, v: &[Phase]| {
        if v.is_empty() {
            return;
        }
        let rates = rates(v);
        let median_rate = median_f(&rates);
        let service_cpu = median_f(&v.iter().map(Phase::service_cpu_ms).collect::<Vec<_>>());
        let bench_cpu = median_f(&v.iter().map(Phase::bench_cpu_ms).collect::<Vec<_>>());
        println!(
            "| {name} | {median_rate:.1} | {:.1} | {:.1} | {service_cpu:.1} | {bench_cpu:.1} |",
            best_f(&rates, true),
            1000.0 / median_rate
        );
    };
    row("baseline: bare SMTP client, 1 at a time", r.base_seq);
    row("end to end: `Send`, 1 client", r.e2e_seq);
    row(
        &format!("baseline: bare SMTP clients, {} at once", o.clients),
        r.base_par,
    );
    row(
        &format!("end to end: `Send`, {} clients", o.clients),
        r.e2e_par,
    );
    println!();

    let ratio_seq = median_f(&rates(r.e2e_seq)) / median_f(&rates(r.base_seq));
    let paired = |e: &[Phase], b: &[Phase]| {
        let v: Vec<f64> = e.iter().zip(b).map(|(e, b)| e.rate() / b.rate()).collect();
        (median_f(&v), best_f(&v, true))
    };
    let (paired_seq, best_seq) = paired(r.e2e_seq, r.base_seq);
    println!(
        "ratio end to end / baseline, 1 client: {ratio_seq:.2} (of the medians); per round median {paired_seq:.2}, best {best_seq:.2} (target ≥ {RATE_TARGET}) → {}",
        verdict(ratio_seq >= RATE_TARGET)
    );
    let mut all_pass = ratio_seq >= RATE_TARGET;
    if !r.e2e_par.is_empty() {
        let ratio_par = median_f(&rates(r.e2e_par)) / median_f(&rates(r.base_par));
        let (paired_par, best_par) = paired(r.e2e_par, r.base_par);
        println!(
            "ratio end to end / baseline, {} clients: {ratio_par:.2} (of the medians); per round median {paired_par:.2}, best {best_par:.2} (target ≥ {RATE_TARGET}) → {}",
            o.clients,
            verdict(ratio_par >= RATE_TARGET)
        );
        all_pass &= ratio_par >= RATE_TARGET;
    }
    println!();

    // Where a message's time goes, one at a time (medians over the sequential messages).
    let built = stamps(r.service_log, "MSS messages built");
    let open = stamps(r.service_log, "SMTP session open");
    let sent = stamps(r.service_log, "SMTP message sent");
    let accepted = stamps(r.bench_log, "MSS sandbox: message accepted");
    let bare_open = stamps(r.bench_log, "SMTP session open");
    let e2e = |from: Mark<'_>, to: Mark<'_>| phase(r.e2e_windows, from, to);
    let bare = |from: Mark<'_>, to: Mark<'_>| phase(r.base_windows, from, to);
    println!("| one message, 1 client (medians) | end to end ms | bare client ms |");
    println!("|---|---|---|");
    println!(
        "| gRPC, bus, PDF from the store, CDA, IHE_XDM.zip, base64, MIME (→ \"MSS messages built\") | {} | — |",
        e2e(Mark::Start, Mark::At(&built))
    );
    println!(
        "| TCP connect, EHLO, STARTTLS, TLS handshake (org.crt), EHLO, AUTH EXTERNAL (→ \"SMTP session open\") | {} | {} |",
        e2e(Mark::At(&built), Mark::At(&open)),
        bare(Mark::Start, Mark::At(&bare_open))
    );
    println!(
        "| MAIL, RCPT, DATA: the message sent, read, checked and stored (fsync) by the sandbox (→ \"message accepted\") | {} | {} |",
        e2e(Mark::At(&open), Mark::At(&accepted)),
        bare(Mark::At(&bare_open), Mark::At(&accepted))
    );
    println!(
        "| the sandbox's 250 read (→ \"SMTP message sent\") | {} | — |",
        e2e(Mark::At(&accepted), Mark::At(&sent))
    );
    println!(
        "| QUIT, audit record and event, gRPC answer (bare: 250 read, QUIT) | {} | {} |",
        e2e(Mark::At(&sent), Mark::End),
        bare(Mark::At(&accepted), Mark::End)
    );
    println!(
        "| **whole message** | **{}** | **{}** |",
        e2e(Mark::Start, Mark::End),
        bare(Mark::Start, Mark::End)
    );
    println!();

    // The XDM build.
    let n = r.builds.len();
    let med = |v: Vec<Duration>| {
        let mut s = v;
        s.sort();
        (s[s.len() / 2], s[0])
    };
    let (cda, cda_best) = med(r.builds.iter().map(|b| b.cda).collect());
    let (att, att_best) = med(r.builds.iter().map(|b| b.attachments).collect());
    let (mime, mime_best) = med(r.builds.iter().map(|b| b.mime).collect());
    let (total, total_best) = med(r
        .builds
        .iter()
        .map(|b| b.cda + b.attachments + b.mime)
        .collect());
    let (enc, enc_best) = med(r.encode_times.to_vec());
    let out_mb = r.builds.first().map_or(0, |b| b.message_bytes) as f64 / MB;
    println!(
        "| XDM build of the {:.2} MB letter, in process (medians of {n}) | ms | best ms | messages/s | MB of PDF/s |",
        r.pdf_mb
    );
    println!("|---|---|---|---|---|");
    let line = |name: &str, d: Duration, best: Duration| {
        println!(
            "| {name} | {:.2} | {:.2} | {:.1} | {:.1} |",
            ms(d),
            ms(best),
            1.0 / d.as_secs_f64(),
            r.pdf_mb / d.as_secs_f64()
        );
    };
    line("baseline: base64 of the PDF", enc, enc_best);
    line("level-1 CDA (the PDF in base64 inside)", cda, cda_best);
    line(
        "IHE_XDM.zip (the CDA stored, the metadata deflated) and the attachments' base64 (zip + PDF)",
        att,
        att_best,
    );
    line(
        &format!("rules and MIME message ({out_mb:.2} MB, chunks shared)"),
        mime,
        mime_best,
    );
    line("**whole build**", total, total_best);
    println!(
        "ratio whole build / base64: {:.1}",
        total.as_secs_f64() / enc.as_secs_f64()
    );
    println!();
    println!(
        "| the CDA ({:.2} MB) alone in a zip (medians of {n}) | ms | zip MB | message MB |",
        r.cda_len as f64 / MB
    );
    println!("|---|---|---|---|");
    let default_zip = r.zips[0].first().map_or(0, |z| z.1);
    for ((name, _, _), v) in ZIP_VARIANTS.iter().zip(r.zips) {
        let (d, _) = med(v.iter().map(|z| z.0).collect());
        let len = v.first().map_or(0, |z| z.1);
        // The message changes by the zip's base64 lines.
        let message =
            r.message_len + mime::base64_lines_len(len) - mime::base64_lines_len(default_zip);
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} |",
            ms(d),
            len as f64 / MB,
            message as f64 / MB
        );
    }
    println!();
    println!("rate: {}", verdict(all_pass));

    if std::env::var_os("BENCH_VERBOSE").is_some() {
        for (i, (b, e)) in r.base_seq.iter().zip(r.e2e_seq).enumerate() {
            print!(
                "round {i}: 1 at a time: bare {:.1}/s, Send {:.1}/s (service CPU {:.1} ms a message)",
                b.rate(),
                e.rate(),
                e.service_cpu_ms()
            );
            if let (Some(b), Some(e)) = (r.base_par.get(i), r.e2e_par.get(i)) {
                print!(
                    "; {} at once: bare {:.1}/s, Send {:.1}/s",
                    o.clients,
                    b.rate(),
                    e.rate()
                );
            }
            println!();
        }
    }
    if std::env::var_os("BENCH_SHOW_LOG").is_some() {
        for line in r.service_log {
            println!("{line}");
        }
    }
}
