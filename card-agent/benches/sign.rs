//! The card-agent's two targets, measured in one run against a nats-server started here:
//!
//! - **idle RSS** of the real `card-agent run` binary (software backend, an RSA-2048 test CPS
//!   made with OpenSSL), connected to NATS, once idle: `VmRSS` of `/proc/<pid>/status`, against
//!   the 15 MB target;
//! - **what a sign request over NATS adds** to the same signature made in-process: the same
//!   agent, the same digest, `CardAgent::sign` called directly (the baseline) against the bus
//!   request on `passerelle.card.v1.<ws>.sign` through `proto_rpc::call`; N sequential requests
//!   per path, in alternating rounds; p50 and p99 of each, and the added p50 against the 2 ms
//!   target. Both paths do the same work besides the transport: PIN (cached) presented to the
//!   token, RSA-2048 signature, audit record acknowledged by JetStream.
//!
//! ```text
//! cargo bench -p card-agent --bench sign            # N = 500 per path, 5 rounds
//! cargo bench -p card-agent --bench sign -- 2000    # N per path
//! ```
//! Linux only (reads /proc); needs `nats-server` and `openssl` (`./dev test` installs them).

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use card_agent::backend::software::{SoftwareToken, SoftwareTokenConfig, TokenIdentity};
use card_agent::{CardAgentConfig, Channel};
use passerelle_bus::nats::{NatsBus, NatsOptions};
use passerelle_bus::subjects::{CardOp, card_subject};
use passerelle_bus::testing::NatsServer;
use passerelle_bus::{Headers, SharedBus, proto_rpc};
use passerelle_proto::card::v1 as api;
use passerelle_service_kit::{RequestId, Shutdown};

const AGENT: &str = env!("CARGO_BIN_EXE_card-agent");
const WS: &str = "bench-ws";
const PIN: &str = "1234";
const RSS_TARGET_MB: f64 = 15.0;
const ADDED_P50_TARGET_MS: f64 = 2.0;
const ROUNDS: usize = 5;

fn openssl_identity(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("cps.key");
    let cert = dir.join("cps.crt");
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        ])
        .arg("/C=FR/title=Medecin/GN=JEANNE/CN=00B9900001/SN=MEDECIN SANDBOX0001")
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// A field of /proc/<pid>/status, in kB.
fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} not in /proc/{pid}/status"))
}

fn threads(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count() as u64)
}

struct AgentProcess {
    child: Child,
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `card-agent run` on `config` and waits for its "card-agent ready" line;
/// `workers` sets TOKIO_WORKER_THREADS (as many as CPUs by default).
fn start_agent_process(config: &Path, nats_url: &str, workers: Option<usize>) -> AgentProcess {
    let mut command = Command::new(AGENT);
    if let Some(n) = workers {
        command.env("TOKIO_WORKER_THREADS", n.to_string());
    }
    let mut child = command
        .args(["run", "--config"])
        .arg(config)
        .args(["--nats", nats_url])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("card-agent starts");
    let (tx, rx) = std::sync::mpsc::channel();
    for out in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains("card-agent ready") {
                    break;
                }
            }
            Err(_) => panic!("card-agent not ready within 30 s:\n{seen}"),
        }
    }
    AgentProcess { child }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn sign_req(digest: &[u8]) -> api::SignRequest {
    api::SignRequest {
        digest: digest.to_vec(),
        purpose: "bench".to_owned(),
        requester: "bench".to_owned(),
        ..Default::default()
    }
}

fn main() {
    let per_path: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = openssl_identity(dir.path());
    let nats = NatsServer::start().expect("nats-server (./dev test installs it)");
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");

    // The events stream the audit records go to (an operator or a service creates it).
    let requester: SharedBus = runtime.block_on(async {
        let bus = NatsBus::connect(&nats.url(), NatsOptions::default())
            .await
            .expect("NATS");
        bus.ensure_events_stream().await.expect("events stream");
        Arc::new(bus)
    });

    // (a) Idle RSS of the real binary.
    let config = dir.path().join("card-agent.toml");
    std::fs::write(
        &config,
        format!(
            "workstation = \"bench-proc\"\n\
             [backend]\nkind = \"software\"\n\
             [backend.software]\npin = \"{PIN}\"\n\
             identity = {{ kind = \"pem\", cert = {cert:?}, key = {key:?} }}\n\
             [grpc]\nlisten = \"127.0.0.1:0\"\n\
             [log]\nfilter = \"warn,card_agent=info\"\n"
        ),
    )
    .expect("config");
    let idle = |workers: Option<usize>| {
        let process = start_agent_process(&config, &nats.url(), workers);
        let pid = process.child.id();
        // Idle: several reader polls (every 500 ms) after start-up.
        std::thread::sleep(Duration::from_secs(3));
        let mut samples = Vec::new();
        for _ in 0..10 {
            samples.push(proc_status_kb(pid, "VmRSS:"));
            std::thread::sleep(Duration::from_millis(200));
        }
        let rss_kb = *samples.iter().max().expect("samples");
        (
            rss_kb as f64 / 1024.0,
            proc_status_kb(pid, "VmHWM:") as f64 / 1024.0,
            threads(pid),
        )
    };
    let (rss_mb, hwm_mb, nthreads) = idle(None);
    // As on a 16-core workstation (one tokio worker per core by default).
    let (rss16_mb, hwm16_mb, nthreads16) = idle(Some(16));

    // (b) The same agent, the same digest: in-process call against the bus request.
    let (in_process, over_bus) = runtime.block_on(async {
        let agent_bus: SharedBus = Arc::new(
            NatsBus::connect(&nats.url(), NatsOptions::default())
                .await
                .expect("NATS"),
        );
        let mut cfg = CardAgentConfig {
            workstation: WS.to_owned(),
            ..Default::default()
        };
        cfg.grpc.listen = "127.0.0.1:0".parse().expect("addr");
        cfg.backend.software = SoftwareTokenConfig {
            identity: TokenIdentity::Pem { cert, key },
            pin: PIN.to_owned(),
            ..Default::default()
        };
        let token = Arc::new(SoftwareToken::load(&cfg.backend.software).expect("token"));
        let shutdown = Shutdown::new();
        let running = card_agent::start(&cfg, token, agent_bus, shutdown.clone())
            .await
            .expect("agent starts");
        let agent = running.agent.clone();
        let digest = [7u8; 32];
        // The PIN, given once on the local channel, is then cached for both paths.
        let mut first = sign_req(&digest);
        first.pin = PIN.to_owned();
        agent
            .sign(Channel::Local, "bench", &RequestId::generate(), first)
            .await
            .expect("first signature");
        let subject = card_subject(WS, CardOp::Sign).expect("subject");
        let direct = || {
            let agent = agent.clone();
            async move {
                let t = Instant::now();
                agent
                    .sign(
                        Channel::Bus,
                        "bus",
                        &RequestId::generate(),
                        sign_req(&digest),
                    )
                    .await
                    .expect("in-process signature");
                t.elapsed()
            }
        };
        let bus_call = || {
            let requester = requester.clone();
            let subject = subject.clone();
            async move {
                let t = Instant::now();
                let _: api::SignResponse = proto_rpc::call(
                    requester.as_ref(),
                    &subject,
                    Headers::new(),
                    &sign_req(&digest),
                    Duration::from_secs(10),
                )
                .await
                .expect("signature over NATS");
                t.elapsed()
            }
        };
        // Warm-up, then alternating rounds so that drift hits both paths alike.
        for _ in 0..20 {
            direct().await;
            bus_call().await;
        }
        let mut in_process = Vec::with_capacity(per_path);
        let mut over_bus = Vec::with_capacity(per_path);
        let per_round = per_path.div_ceil(ROUNDS);
        while in_process.len() < per_path {
            let n = per_round.min(per_path - in_process.len());
            for _ in 0..n {
                in_process.push(direct().await);
            }
            for _ in 0..n {
                over_bus.push(bus_call().await);
            }
        }
        shutdown.trigger();
        running.wait().await.expect("agent stops");
        in_process.sort();
        over_bus.sort();
        (in_process, over_bus)
    });
    drop(nats);

    let (p50_in, p99_in) = (percentile(&in_process, 0.5), percentile(&in_process, 0.99));
    let (p50_bus, p99_bus) = (percentile(&over_bus, 0.5), percentile(&over_bus, 0.99));
    let added = ms(p50_bus) - ms(p50_in);
    let verdict = |ok: bool| if ok { "MET" } else { "NOT MET" };
    println!("card-agent bench (release build, {} CPUs)", num_cpus());
    println!(
        "(a) idle RSS, card-agent run + NATS, software token: {rss_mb:.1} MB \
         (peak {hwm_mb:.1} MB, {nthreads} threads) — target 15 MB: {}",
        verdict(rss_mb <= RSS_TARGET_MB)
    );
    println!(
        "    with TOKIO_WORKER_THREADS=16 (a 16-core workstation): {rss16_mb:.1} MB \
         (peak {hwm16_mb:.1} MB, {nthreads16} threads) — target 15 MB: {}",
        verdict(rss16_mb <= RSS_TARGET_MB)
    );
    println!("(b) signature, N = {per_path} sequential per path, {ROUNDS} alternating rounds");
    println!(
        "    in-process CardAgent::sign   p50 {:7.3} ms   p99 {:7.3} ms   (baseline)",
        ms(p50_in),
        ms(p99_in)
    );
    println!(
        "    over NATS (proto_rpc::call)  p50 {:7.3} ms   p99 {:7.3} ms   (p50 x{:.2})",
        ms(p50_bus),
        ms(p99_bus),
        ms(p50_bus) / ms(p50_in)
    );
    println!(
        "    added by NATS: p50 {added:.3} ms, p99 {:.3} ms — target 2 ms (p50): {}",
        ms(p99_bus) - ms(p99_in),
        verdict(added <= ADDED_P50_TARGET_MS)
    );
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
