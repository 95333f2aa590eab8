//! INS lookups per second end to end (gRPC → NATS → ins-service → INSi sandbox) against the
//! same lookups sent straight to the sandbox by the same INSi client code, in one run.
//!
//! ```text
//! cargo bench -p passerelle-e2e --bench ins_lookup            # 64 callers, 2000 lookups, 5 rounds
//! cargo bench -p passerelle-e2e --bench ins_lookup -- 64 5000 # callers, lookups per path and round
//! BENCH_ROUNDS=9 BENCH_CHANNELS=4 BENCH_BUS=in-process …       # rounds, gRPC connections, bus
//! PROFILE_TRANSPORT=1 PROFILE_CORE=1 …  # also: a call without INSi work; the service logic alone
//! PROFILE_ONLY=gateway perf record …    # one path alone, to profile it
//! ```
//! Each path's CPU time per lookup is shown for this process (load generator, gRPC, bus
//! clients, ins-service, sandbox) and for the NATS server.
//! Sandbox latency is 0, so the figures measure the software, not a simulated network.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ins_service::insi::{CallAuth, CallContext, InsiClient, TraitsQuery};
use passerelle_domain::{LunarDate, Name, Sex};
use passerelle_e2e::{BusKind, System, SystemOptions, search};
use passerelle_proto::ins::v1::{
    SearchResult, Sex as ApiSex, ins_service_client::InsServiceClient,
};
use tokio::sync::Semaphore;

struct Run {
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// CPU time used during the run: this process, and the NATS server when there is one.
    cpu: CpuTime,
}

/// CPU time of a process, summed over its threads (Linux schedstat: nanoseconds, unlike the
/// 10 ms ticks of /proc/<pid>/stat), so that a cost can be told per lookup and per process.
#[derive(Clone, Copy, Default)]
struct CpuTime {
    bench: Duration,
    nats: Duration,
}

fn process_cpu(pid: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let mut ns = 0u64;
    for task in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat")) {
            ns += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(ns)
}

fn cpu_now() -> CpuTime {
    CpuTime {
        bench: process_cpu("self"),
        nats: NATS_PID
            .get()
            .map(|pid| process_cpu(&pid.to_string()))
            .unwrap_or_default(),
    }
}

static NATS_PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

impl Run {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
    /// CPU microseconds per lookup: (this process, the NATS server).
    fn cpu_per_lookup(&self) -> (f64, f64) {
        let n = self.latencies.len() as f64;
        (
            self.cpu.bench.as_secs_f64() * 1e6 / n,
            self.cpu.nats.as_secs_f64() * 1e6 / n,
        )
    }
    fn percentile(&self, p: f64) -> Duration {
        let mut l = self.latencies.clone();
        l.sort();
        l[((l.len() as f64 - 1.0) * p).round() as usize]
    }
}

async fn drive<F, Fut>(callers: usize, total: usize, one: F) -> Run
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let one = Arc::new(one);
    let permits = Arc::new(Semaphore::new(callers));
    let cpu_before = cpu_now();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for _ in 0..total {
        let permit = permits.clone().acquire_owned().await.expect("semaphore");
        let one = one.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            one().await;
            drop(permit);
            t.elapsed()
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for t in tasks {
        latencies.push(t.await.expect("lookup task"));
    }
    let elapsed = started.elapsed();
    let cpu_after = cpu_now();
    Run {
        elapsed,
        latencies,
        cpu: CpuTime {
            bench: cpu_after.bench - cpu_before.bench,
            nats: cpu_after.nats - cpu_before.nats,
        },
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let callers = args.first().copied().unwrap_or(64);
    let total = args.get(1).copied().unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        // BENCH_BUS=in-process measures the gateway without NATS, to see what NATS costs.
        let bus = match std::env::var("BENCH_BUS").as_deref() {
            Ok("in-process") => BusKind::InProcess,
            _ => BusKind::Nats,
        };
        let sys = System::start(SystemOptions {
            bus,
            ..Default::default()
        })
        .await;
        if let Some(nats) = &sys.nats {
            let _ = NATS_PID.set(nats.pid());
        }

        // Direct: the INSi client of ins-service, straight to the sandbox.
        let cfg = passerelle_e2e::ins_config(&sys.pki, sys.insi_url());
        let client = Arc::new(InsiClient::new(cfg.ins.insi).expect("INSi client"));
        let query = Arc::new(TraitsQuery {
            birth_name: Name::normalise("birth_name", "PAT-DOUZE").unwrap().value,
            first_names: "NATHALIE".to_owned(),
            sex: Sex::Female,
            birth_date: LunarDate::parse("1948-03-21").unwrap(),
            birth_place: None,
        });
        let direct_once = {
            let client = client.clone();
            let query = query.clone();
            move || {
                let client = client.clone();
                let query = query.clone();
                async move {
                    let call = CallContext {
                        message_id: uuid::Uuid::new_v4(),
                        auth: CallAuth::Organisation,
                    };
                    let a = client
                        .search_by_traits(&query, &call)
                        .await
                        .expect("direct lookup");
                    assert_eq!(a.code.as_str(), "00");
                }
            }
        };
        // Gateway: gRPC → NATS → worker → sandbox, over BENCH_CHANNELS connections (default
        // one: HTTP/2 multiplexes the callers), used in turn.
        let channels: usize = std::env::var("BENCH_CHANNELS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let mut grpcs = Vec::new();
        for _ in 0..channels.max(1) {
            grpcs.push(
                InsServiceClient::connect(sys.ins_endpoint(0))
                    .await
                    .expect("gRPC"),
            );
        }
        let grpcs = Arc::new(grpcs);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let gateway_once = move || {
            let turn = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut grpc = grpcs[turn % grpcs.len()].clone();
            async move {
                let r = grpc
                    .search_by_traits(search(
                        "PAT-DOUZE",
                        &["NATHALIE"],
                        ApiSex::Female,
                        "1948-03-21",
                    ))
                    .await
                    .expect("gateway lookup")
                    .into_inner();
                assert_eq!(r.result, SearchResult::Found as i32);
            }
        };

        // PROFILE_CORE=1 adds the service logic alone (no gRPC, no bus), to locate costs.
        let core = ins_service::service::InsCore::new(
            client.clone(),
            ins_service::retry::RetryPolicy::default(),
            ins_service::audit::InsHasher::from_settings(&Default::default()).unwrap(),
            None,
        );
        if std::env::var_os("PROFILE_CORE").is_some() {
            let once = move || {
                let core = core.clone();
                async move {
                    let id = passerelle_service_kit::RequestId::generate();
                    let r = core
                        .search_by_traits(&id, search("PAT-DOUZE", &["NATHALIE"], ApiSex::Female, "1948-03-21"))
                        .await
                        .expect("core lookup");
                    assert_eq!(r.result, SearchResult::Found as i32);
                }
            };
            drive(callers, callers * 2, once.clone()).await;
            let r = drive(callers, total, once).await;
            println!(
                "service logic alone: {:.0} lookups/s, p50 {:.2} ms, CPU {:.0} µs/lookup",
                r.per_second(),
                ms(r.percentile(0.5)),
                r.cpu_per_lookup().0
            );
        }

        // Warm both paths (TLS sessions, JetStream stream, connection pools).
        drive(callers, callers * 2, direct_once.clone()).await;
        drive(callers, callers * 2, gateway_once.clone()).await;

        // Alternate the two paths over several rounds and keep each path's median round, so
        // that a burst of noise on this shared 2-core machine does not decide the ratio.
        let rounds: usize = std::env::var("BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        let mut directs = Vec::new();
        let mut gateways = Vec::new();
        // PROFILE_TRANSPORT=1: a call that does no INSi work (check_matricule) through the same
        // gRPC → bus → ins-service path, to measure the transport alone.
        if std::env::var_os("PROFILE_TRANSPORT").is_some() {
            let grpc = InsServiceClient::connect(sys.ins_endpoint(0))
                .await
                .expect("gRPC");
            let once = move || {
                let mut grpc = grpc.clone();
                async move {
                    let r = grpc
                        .check_matricule(passerelle_proto::ins::v1::CheckMatriculeRequest {
                            matricule: "1090763220834".into(),
                            key: "89".into(),
                        })
                        .await
                        .expect("check_matricule")
                        .into_inner();
                    assert!(r.valid);
                }
            };
            drive(callers, callers * 2, once.clone()).await;
            let r = drive(callers, total, once).await;
            let (bench, nats) = r.cpu_per_lookup();
            println!(
                "transport alone (check_matricule): {:.0} calls/s, p50 {:.2} ms, CPU {bench:.0} + {nats:.0} µs/call",
                r.per_second(),
                ms(r.percentile(0.5)),
            );
        }
        // PROFILE_ONLY=gateway|direct runs one path alone, e.g. under `perf record`.
        let only = std::env::var("PROFILE_ONLY").ok();
        if let Some(path) = only.as_deref() {
            let r = if path == "direct" {
                drive(callers, total * rounds, direct_once.clone()).await
            } else {
                drive(callers, total * rounds, gateway_once.clone()).await
            };
            println!("{path} alone: {:.0} lookups/s", r.per_second());
            sys.stop().await;
            return;
        }
        for _ in 0..rounds.max(1) {
            directs.push(drive(callers, total, direct_once.clone()).await);
            gateways.push(drive(callers, total, gateway_once.clone()).await);
        }
        let median = |mut runs: Vec<Run>| {
            runs.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
            runs.swap_remove(runs.len() / 2)
        };
        let direct = median(directs);
        let gateway = median(gateways);

        println!(
            "INS lookups, {callers} concurrent callers, {total} lookups per path and round, median of {rounds} rounds, sandbox latency 0, bus {bus:?}"
        );
        println!(
            "{:<28} {:>12} {:>10} {:>10} {:>14}",
            "path", "lookups/s", "p50 ms", "p99 ms", "CPU µs/lookup"
        );
        for (name, r) in [
            ("direct to sandbox", &direct),
            (
                if bus == BusKind::Nats {
                    "gRPC → NATS → ins-service"
                } else {
                    "gRPC → in-process bus → ins"
                },
                &gateway,
            ),
        ] {
            let (bench, nats) = r.cpu_per_lookup();
            println!(
                "{:<28} {:>12.0} {:>10.2} {:>10.2} {:>8.0} + {:<5.0}",
                name,
                r.per_second(),
                ms(r.percentile(0.5)),
                ms(r.percentile(0.99)),
                bench,
                nats,
            );
        }
        println!(
            "gateway/direct throughput: {:.0} %   added p50: {:.2} ms   added p99: {:.2} ms",
            100.0 * gateway.per_second() / direct.per_second(),
            ms(gateway.percentile(0.5)) - ms(direct.percentile(0.5)),
            ms(gateway.percentile(0.99)) - ms(direct.percentile(0.99)),
        );
        sys.stop().await;
    });
}
