//! A 20 MB PDF deposited in the DMP sandbox through the real `dmp-service` binary, as a
//! hospital's software does it: upload to the service's `DocumentStore` over gRPC (1 MiB
//! chunks), then `DmpService.Deposit` in organisation mode (PAT-DOUZE, qualified INS). Two
//! targets, measured in one run:
//!
//! - **memory**: the service's peak RSS (`VmHWM` of `/proc/<pid>/status`, the service alone:
//!   the sandbox and this load generator run in the bench process) below 3 × the PDF + 50 MB;
//! - **time**: the whole deposit (upload + `Deposit` answered) within 3 × the baseline measured
//!   in the same run: base64-encoding the same PDF, SHA-1-hashing the encoded bytes (what the
//!   XDS hash covers) and sending them over a new loopback TLS 1.2 connection (the DMP
//!   client's suites, mutual TLS with the sandbox's certificates) to a tokio-rustls server that
//!   reads and discards them, then acknowledges.
//!
//! The runs alternate baseline and deposit; each deposit is a new document (its own
//! idempotency key). The memory verdict is on the peak over all the runs (`VmHWM` at the
//! end), the time verdict on the medians; best runs are shown too. Where the time goes is
//! read from the service's log lines (JSON; the client's "DMP request" line at debug) and the
//! sandbox's (`latency_ms` of its "DMP request" line); `BENCH_VERBOSE=1` prints each run.
//!
//! ```text
//! cargo bench -p dmp-service --bench deposit            # 20 MB PDF, 9 runs
//! cargo bench -p dmp-service --bench deposit -- 5       # runs
//! BENCH_PDF_MB=50 cargo bench -p dmp-service --bench deposit
//! BENCH_VERBOSE=1 BENCH_SHOW_LOG=1 BENCH_SANDBOX_LOG=/tmp/sandbox.log …  # each run; logs
//! ```
//! Linux only (reads /proc).

// Test code: a failed unwrap is a failed bench (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use passerelle_proto::common::v1::{
    Actor, IdentityStatus, OrganisationMode, PatientIdentity, Sex, actor,
};
use passerelle_proto::dmp::v1::{
    Access, AccessMode, DepositOptions, DepositRequest, dmp_service_client::DmpServiceClient,
};
use passerelle_proto::documents::v1::{
    UploadMetadata, UploadRequest, document_store_client::DocumentStoreClient, upload_request,
};
use passerelle_sandbox::dmp::{DmpSandbox, DmpSandboxConfig};
use passerelle_sandbox::pki::TestPki;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;

const SERVICE: &str = env!("CARGO_BIN_EXE_dmp-service");
const MB: f64 = 1024.0 * 1024.0;
const CHUNK: usize = 1024 * 1024;
const DEFAULT_RUNS: usize = 9;
const RSS_FACTOR: f64 = 3.0;
const RSS_ALLOWANCE_MB: f64 = 50.0;
const TIME_FACTOR: f64 = 3.0;

// ---- the PDF ----

/// A real PDF of about `size` bytes (the clinical-documents crate's test letter: an image of
/// random, incompressible samples), written to `path`; its size.
fn write_pdf(path: &Path, size: usize) -> u64 {
    let pdf = passerelle_clinical_documents::testing::scanned_pdf(size);
    std::fs::write(path, &pdf).expect("PDF written");
    pdf.len() as u64
}

// ---- the service process ----

use passerelle_service_kit::testing::process::{ServiceProcess, process_cpu};

/// A field of /proc/<pid>/status, in kB.
fn proc_status_kb(pid: u32, field: &str) -> u64 {
    passerelle_service_kit::testing::process::proc_status_kb(pid, field)
        .unwrap_or_else(|| panic!("{field} not in /proc/{pid}/status"))
}

fn mb_of_kb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn config_file(dir: &Path, pki: &TestPki, endpoint: &str) -> PathBuf {
    let text = format!(
        r#"[grpc]
listen = "127.0.0.1:0"

[dmp]
endpoint = "{endpoint}"
test_platform = true
source_id = "1.2.250.1.999.1.1"

[dmp.tls]
trusted_ca = ["{ca}"]

[dmp.tls.identity]
kind = "pem"
cert = "{org_cert}"
key = "{org_key}"

[dmp.lps]
id = "1.2.250.1.999.1.1"
homologation = "PASSERELLE-TEST"

[organisation_signature]
kind = "pem"
cert = "{sign_cert}"
key = "{sign_key}"
"#,
        ca = pki.ca_cert.display(),
        org_cert = pki.org_cert.display(),
        org_key = pki.org_key.display(),
        sign_cert = pki.org_sign_cert.display(),
        sign_key = pki.org_sign_key.display(),
    );
    let path = dir.join("dmp-service.toml");
    std::fs::write(&path, text).expect("configuration written");
    path
}

/// Starts `dmp-service --config FILE` (in-process bus: it serves gRPC and the document store
/// itself) and waits for its "dmp-service ready" line. The client's "DMP request" line (debug)
/// marks the MTOM body ready to send.
fn start_service(config: &Path, tmp: &Path) -> ServiceProcess {
    passerelle_service_kit::testing::process::start_service(
        SERVICE,
        "dmp-service",
        config,
        tmp,
        &[],
        "info,dmp_service::client=debug",
    )
}

// ---- the deposit, as a hospital's software does it ----

fn access() -> Option<Access> {
    Some(Access {
        actor: Some(Actor {
            mode: Some(actor::Mode::Organisation(OrganisationMode {
                on_behalf_of: "deposit-bench".to_owned(),
            })),
            professional: Some(passerelle_service_kit::testing::sandbox_medecin()),
        }),
        mode: AccessMode::Normal as i32,
        reason: String::new(),
    })
}

/// PAT-DOUZE, qualified.
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

/// Uploads the file in 1 MiB chunks, read as they are sent; the document's id.
async fn upload(channel: Channel, pdf: &Path) -> String {
    let mut file = tokio::fs::File::open(pdf).await.expect("PDF opens");
    let size = file.metadata().await.expect("PDF size").len();
    let (tx, rx) = tokio::sync::mpsc::channel::<UploadRequest>(4);
    let reader = tokio::spawn(async move {
        let metadata = UploadRequest {
            part: Some(upload_request::Part::Metadata(UploadMetadata {
                media_type: "application/pdf".to_owned(),
                file_name: Some("lettre.pdf".to_owned()),
                declared_size: Some(size),
            })),
        };
        tx.send(metadata).await.expect("upload open");
        loop {
            let mut chunk = vec![0u8; CHUNK];
            let mut n = 0;
            while n < CHUNK {
                match file.read(&mut chunk[n..]).await.expect("PDF read") {
                    0 => break,
                    k => n += k,
                }
            }
            if n == 0 {
                break;
            }
            chunk.truncate(n);
            let part = UploadRequest {
                part: Some(upload_request::Part::Chunk(chunk)),
            };
            tx.send(part).await.expect("upload open");
        }
    });
    let stream = tokio_stream_from(rx);
    let id = DocumentStoreClient::new(channel)
        .upload(stream)
        .await
        .expect("upload accepted")
        .into_inner()
        .id;
    reader.await.expect("reader");
    id
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn deposit(channel: Channel, document_id: String, key: String) -> String {
    let response = DmpServiceClient::new(channel)
        .deposit(DepositRequest {
            access: access(),
            patient: pat_douze(),
            document_id,
            options: Some(DepositOptions {
                title: "Compte rendu d'hospitalisation".to_owned(),
                type_code: "11490-0".to_owned(),
                idempotency_key: key,
                ..Default::default()
            }),
            more: Vec::new(),
        })
        .await
        .expect("deposit accepted")
        .into_inner();
    assert!(!response.already_present, "a new document each run");
    response.unique_id
}

// ---- the baseline: base64 + SHA-1 + loopback TLS 1.2 ----

/// The DMP client's suites (ECDHE with AES-GCM or ChaCha20-Poly1305), TLS 1.2 only.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::CipherSuite as C;
    const WANTED: [C; 6] = [
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    let ring = rustls::crypto::ring::default_provider();
    Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: ring
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| WANTED.contains(&s.suite()))
            .collect(),
        ..ring
    })
}

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .expect("certificate file")
        .collect::<Result<Vec<_>, _>>()
        .expect("PEM certificates")
}

fn roots(pki: &TestPki) -> Arc<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(&pki.ca_cert) {
        roots.add(c).expect("CA");
    }
    Arc::new(roots)
}

/// A TLS 1.2 server as the sandbox's (its certificate, client certificate required) that
/// reads each connection to its end, discarding, then answers the byte count.
async fn discard_server(pki: &TestPki) -> SocketAddr {
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots(pki), provider())
            .build()
            .expect("client verifier");
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("TLS 1.2")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certs(&pki.server_cert),
            PrivateKeyDer::from_pem_file(&pki.server_key).expect("server key"),
        )
        .expect("server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 64 * 1024];
                let mut expected = [0u8; 8];
                if tls.read_exact(&mut expected).await.is_err() {
                    return;
                }
                let expected = u64::from_be_bytes(expected);
                let mut read = 0u64;
                while read < expected {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n as u64,
                    }
                }
                let _ = tls.write_all(&read.to_be_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

fn client_config(pki: &TestPki) -> Arc<rustls::ClientConfig> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("TLS 1.2")
        .with_root_certificates(roots(pki))
        .with_client_auth_cert(
            certs(&pki.org_cert),
            PrivateKeyDer::from_pem_file(&pki.org_key).expect("organisation key"),
        )
        .expect("client certificate");
    Arc::new(config)
}

/// Reads the PDF, base64-encodes it, SHA-1-hashes the encoded bytes and sends them over a
/// new TLS connection; done when the server has read them all.
async fn baseline(pdf: &Path, server: SocketAddr, config: Arc<rustls::ClientConfig>) {
    let bytes = tokio::fs::read(pdf).await.expect("PDF read");
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    drop(bytes);
    std::hint::black_box(Sha1::digest(encoded.as_bytes()));
    let tcp = tokio::net::TcpStream::connect(server)
        .await
        .expect("connect");
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
        .await
        .expect("handshake");
    let len = encoded.len() as u64;
    tls.write_all(&len.to_be_bytes()).await.expect("send");
    tls.write_all(encoded.as_bytes()).await.expect("send");
    tls.flush().await.expect("flush");
    let mut ack = [0u8; 8];
    tls.read_exact(&mut ack).await.expect("acknowledged");
    assert_eq!(u64::from_be_bytes(ack), len);
}

// ---- the run ----

/// Now, in seconds since midnight UTC (the log lines' clock).
fn now_of_day() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
        % 86_400.0
}

/// A log line's `timestamp` (`…THH:MM:SS.ffffffZ`), in seconds since midnight UTC.
fn stamp_of_day(json: &serde_json::Value) -> Option<f64> {
    let t = json["timestamp"].as_str()?.get(11..)?.trim_end_matches('Z');
    let mut parts = t.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// The timestamps of the JSON lines of `lines` that `pred` picks, in order.
fn stamps(lines: &[String], pred: impl Fn(&serde_json::Value) -> bool) -> Vec<f64> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|j| pred(j))
        .filter_map(|j| stamp_of_day(&j))
        .collect()
}

fn median_f(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(f64::NAN)
}

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s[s.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // cargo bench passes `--bench`; the first bare number is the number of runs.
    let runs = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(DEFAULT_RUNS)
        .max(1);
    let pdf_mb: usize = std::env::var("BENCH_PDF_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    // `cargo bench` has just written hundreds of MB of build output: their writeback throttles
    // the first documents' writes (seen: 27 MB written in 73 ms instead of 6). Flushed first,
    // so that every run starts from the same state.
    let _ = Command::new("sync").status();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(runs, pdf_mb * 1024 * 1024));
}

/// The sandbox's own account of each request ("DMP request" log lines, JSON, in a file):
/// `(action, latency_ms)`, from the request's head received to its answer ready.
fn sandbox_log(dir: &Path) -> PathBuf {
    let path = std::env::var_os("BENCH_SANDBOX_LOG")
        .map_or_else(|| dir.join("sandbox.log"), PathBuf::from);
    let file = std::fs::File::create(&path).expect("sandbox log");
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "passerelle_sandbox=info",
        ))
        .with_writer(std::sync::Mutex::new(file))
        .init();
    path
}

fn sandbox_latencies(log: &Path, action: &str) -> Vec<Duration> {
    std::fs::read_to_string(log)
        .expect("sandbox log")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|j| j["fields"]["message"] == "DMP request" && j["fields"]["action"] == action)
        // u128 in the sandbox: written as a string.
        .filter_map(|j| {
            let v = &j["fields"]["latency_ms"];
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .map(Duration::from_millis)
        .collect()
}

async fn run(runs: usize, pdf_bytes: usize) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let sandbox_log = sandbox_log(dir.path());
    let pki = TestPki::ensure(&dir.path().join("pki")).expect("test PKI");
    let sandbox = DmpSandbox::start(
        DmpSandboxConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            data_dir: dir.path().join("dmp"),
            ..Default::default()
        },
        &pki,
    )
    .await
    .expect("DMP sandbox starts");
    let pdf = dir.path().join("lettre.pdf");
    let pdf_size = write_pdf(&pdf, pdf_bytes);
    let pdf_mb = pdf_size as f64 / MB;

    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp");
    let config = config_file(dir.path(), &pki, &sandbox.url());
    let service = start_service(&config, &tmp);
    let pid = service.pid();
    // Settled: the runtime's threads started, nothing in flight.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_kb = proc_status_kb(pid, "VmRSS:");
    let idle_hwm_kb = proc_status_kb(pid, "VmHWM:");

    let server = discard_server(&pki).await;
    let tls = client_config(&pki);
    // The hospital's software keeps its channel to the service open.
    let channel = Channel::from_shared(service.grpc.clone())
        .expect("endpoint")
        .connect()
        .await
        .expect("gRPC channel");

    let mut base_times = Vec::with_capacity(runs);
    let mut upload_times = Vec::with_capacity(runs);
    let mut deposit_times = Vec::with_capacity(runs);
    let mut hwm_after_upload = Vec::with_capacity(runs);
    let mut hwm_after_deposit = Vec::with_capacity(runs);
    let mut rss_after = Vec::with_capacity(runs);
    let mut service_cpu = Vec::with_capacity(runs);
    let mut deposit_marks = Vec::with_capacity(runs);
    let tag = uuid::Uuid::new_v4();
    for n in 0..runs {
        let t = Instant::now();
        baseline(&pdf, server, tls.clone()).await;
        base_times.push(t.elapsed());

        let cpu = process_cpu(pid);
        let t = Instant::now();
        let id = upload(channel.clone(), &pdf).await;
        let uploaded = t.elapsed();
        hwm_after_upload.push(proc_status_kb(pid, "VmHWM:"));
        let started = now_of_day();
        deposit(channel.clone(), id, format!("deposit-bench-{tag}-{n}")).await;
        deposit_times.push(t.elapsed());
        deposit_marks.push((started, now_of_day()));
        upload_times.push(uploaded);
        service_cpu.push(process_cpu(pid).saturating_sub(cpu));
        hwm_after_deposit.push(proc_status_kb(pid, "VmHWM:"));
        rss_after.push(proc_status_kb(pid, "VmRSS:"));
        print!(".");
        let _ = std::io::stdout().flush();
    }
    println!();
    // The last lines are read by the stderr thread.
    std::thread::sleep(Duration::from_millis(200));
    let log: Vec<String> = service.lines.try_iter().collect();
    service.stop();
    drop(sandbox);

    let peak_kb = *hwm_after_deposit.last().expect("a run");
    let peak_mb = mb_of_kb(peak_kb);
    let idle_mb = mb_of_kb(idle_kb);
    let rss_target = RSS_FACTOR * pdf_mb + RSS_ALLOWANCE_MB;
    let base = median(&base_times);
    let whole = median(&deposit_times);
    let ratio = whole.as_secs_f64() / base.as_secs_f64();
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };

    println!(
        "DMP deposit of a {pdf_mb:.1} MB PDF ({pdf_size} bytes) through the dmp-service binary, {runs} runs"
    );
    println!();
    println!("| memory of dmp-service | MB | × PDF |");
    println!("|---|---|---|");
    println!(
        "| RSS idle, after start (VmRSS) | {idle_mb:.1} | |\n| peak after the 1st upload (VmHWM) | {:.1} | |\n| peak after the 1st deposit (VmHWM) | {:.1} | (peak − idle) / PDF = {:.2} |\n| peak after {runs} deposits (VmHWM) | {peak_mb:.1} | (peak − idle) / PDF = {:.2} |\n| RSS after the last deposit (VmRSS) | {:.1} | |\n| target: 3 × PDF + 50 MB | {rss_target:.1} | peak / target = {:.2} → {} |",
        mb_of_kb(hwm_after_upload[0]),
        mb_of_kb(hwm_after_deposit[0]),
        (mb_of_kb(hwm_after_deposit[0]) - idle_mb) / pdf_mb,
        (peak_mb - idle_mb) / pdf_mb,
        mb_of_kb(*rss_after.last().expect("a run")),
        peak_mb / rss_target,
        verdict(peak_mb < rss_target),
    );
    let _ = idle_hwm_kb;
    println!();
    println!("| time | median ms | best ms |");
    println!("|---|---|---|");
    let best = |v: &[Duration]| v.iter().min().copied().expect("a run");
    println!(
        "| baseline: base64 + SHA-1 + loopback TLS 1.2 send | {:.1} | {:.1} |",
        ms(base),
        ms(best(&base_times))
    );
    println!(
        "| upload to the DocumentStore (gRPC, 1 MiB chunks) | {:.1} | {:.1} |",
        ms(median(&upload_times)),
        ms(best(&upload_times))
    );
    let calls: Vec<Duration> = deposit_times
        .iter()
        .zip(&upload_times)
        .map(|(d, u)| d.saturating_sub(*u))
        .collect();
    println!(
        "| Deposit call (CDA, TD3.1 check, TD2.1 with XAdES and MTOM) | {:.1} | {:.1} |",
        ms(median(&calls)),
        ms(best(&calls))
    );
    let td21 = sandbox_latencies(
        &sandbox_log,
        "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b",
    );
    if !td21.is_empty() {
        println!(
            "| … of which the sandbox's TD2.1 (body received, parsed, checked, stored) | {:.1} | {:.1} |",
            ms(median(&td21)),
            ms(best(&td21))
        );
    }
    // Where the Deposit call's time goes, from the service's and the sandbox's log lines.
    let td31_done = stamps(&log, |j| {
        j["fields"]["message"] == "DMP call" && j["fields"]["transaction"] == "TD3.1"
    });
    let td21_sent = stamps(&log, |j| {
        j["fields"]["message"] == "DMP request"
            && j["fields"]["action"] == "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
    });
    let log_text = std::fs::read_to_string(&sandbox_log).unwrap_or_default();
    let sandbox_lines: Vec<String> = log_text.lines().map(str::to_owned).collect();
    let td21_answered = stamps(&sandbox_lines, |j| {
        j["fields"]["message"] == "DMP request"
            && j["fields"]["action"] == "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
    });
    if td31_done.len() == runs && td21_sent.len() == runs && td21_answered.len() == runs {
        let phase = |f: &dyn Fn(usize) -> f64| {
            let v: Vec<f64> = (0..runs).map(f).collect();
            median_f(&v) * 1000.0
        };
        println!(
            "| … gRPC, PDF from the store, CDA built, TD3.1 (already there?) answered | {:.1} | |",
            phase(&|n| td31_done[n] - deposit_marks[n].0)
        );
        println!(
            "| … SHA-1 of the CDA, XAdES (SHA-256), VIHF, MTOM body | {:.1} | |",
            phase(&|n| td21_sent[n] - td31_done[n])
        );
        println!(
            "| … TD2.1 sent, received and processed by the sandbox | {:.1} | |",
            phase(&|n| td21_answered[n] - td21_sent[n])
        );
        println!(
            "| … TD2.1 answer read, event, gRPC answer | {:.1} | |",
            phase(&|n| deposit_marks[n].1 - td21_answered[n])
        );
    }
    println!(
        "| whole deposit: upload + Deposit answered | {:.1} | {:.1} |",
        ms(whole),
        ms(best(&deposit_times))
    );
    if td21.len() == runs {
        let own: Vec<Duration> = deposit_times
            .iter()
            .zip(&td21)
            .map(|(d, s)| d.saturating_sub(*s))
            .collect();
        println!(
            "| whole deposit less the sandbox's TD2.1 (ratio to the baseline: {:.2}) | {:.1} | {:.1} |",
            median(&own).as_secs_f64() / base.as_secs_f64(),
            ms(median(&own)),
            ms(best(&own))
        );
    }
    println!(
        "| dmp-service CPU time during the whole deposit | {:.1} | {:.1} |",
        ms(median(&service_cpu)),
        ms(best(&service_cpu))
    );
    println!(
        "| ratio deposit / baseline (target ≤ {TIME_FACTOR}) | {ratio:.2} | {:.2} |",
        best(&deposit_times).as_secs_f64() / best(&base_times).as_secs_f64()
    );
    println!();
    println!(
        "memory: {}; time: {}",
        verdict(peak_mb < rss_target),
        verdict(ratio <= TIME_FACTOR)
    );
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        for n in 0..runs {
            println!(
                "run {n}: baseline {:.1} ms, upload {:.1} ms, deposit {:.1} ms, service CPU {:.1} ms, VmHWM {:.1} MB after upload, {:.1} MB after deposit, VmRSS {:.1} MB",
                ms(base_times[n]),
                ms(upload_times[n]),
                ms(deposit_times[n]),
                ms(service_cpu[n]),
                mb_of_kb(hwm_after_upload[n]),
                mb_of_kb(hwm_after_deposit[n]),
                mb_of_kb(rss_after[n]),
            );
        }
    }
    if std::env::var_os("BENCH_SHOW_LOG").is_some() {
        for line in log {
            println!("{line}");
        }
    }
}
