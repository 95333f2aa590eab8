//! The sandboxes' people as the APIs carry them, for tests and benches (feature `testing`):
//! one definition instead of one per test binary.

use passerelle_proto::common::v1::{
    Actor, OrganisationMode, Professional, ProfessionalIdType, Structure, StructureIdType, actor,
};

/// Dr Jeanne MEDECIN of the sandbox's health centre (the test CPS's holder): RPPS
/// 10001234565, FINESS 999000003, médecin (10) en médecine générale (SM54), sector SA05.
pub fn sandbox_medecin() -> Professional {
    Professional {
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
        activity_sector: "SA05".to_owned(),
    }
}

/// Organisation mode (the organisation's certificate), Dr MEDECIN acting, for `on_behalf_of`.
pub fn organisation_actor(on_behalf_of: &str) -> Actor {
    Actor {
        mode: Some(actor::Mode::Organisation(OrganisationMode {
            on_behalf_of: on_behalf_of.to_owned(),
        })),
        professional: Some(sandbox_medecin()),
    }
}

/// A crash test's schedule from its seed (splitmix64): the same seed, the same kills.
pub struct SeededRng(u64);

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In `[lo, hi)`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}

/// The seed given in the environment variable `var` (to replay a run), else one from the
/// clock. Panics on a value that is not a number: a test helper.
pub fn seed_from_env(var: &str) -> u64 {
    match std::env::var(var) {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var} is a number (the seed a crash test printed)")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    }
}

/// A service binary run as a child process by a bench, as an operator runs it: its log
/// read line by line (JSON), its CPU and memory read from /proc (Linux).
pub mod process {
    use std::io::{BufRead, BufReader};
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    /// CPU time of a process, summed over its threads (schedstat: nanoseconds).
    pub fn process_cpu(pid: u32) -> Duration {
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

    /// A field of /proc/<pid>/status (`VmHWM:`, `VmRSS:`), in kB.
    pub fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// The load average (1, 5, 15 min): the machine may be shared.
    pub fn load_average() -> String {
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }

    pub struct ServiceProcess {
        child: Child,
        /// `http://host:port` of its gRPC face, from its ready line.
        pub grpc: String,
        /// Its log lines, as they come.
        pub lines: mpsc::Receiver<String>,
    }

    impl ServiceProcess {
        pub fn pid(&self) -> u32 {
            self.child.id()
        }

        /// SIGTERM, then a bounded wait (killed after 15 s).
        pub fn stop(mut self) {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Drop for ServiceProcess {
        fn drop(&mut self) {
            if let Ok(None) = self.child.try_wait() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }

    /// Starts `binary --config FILE ARGS…`, its log in JSON filtered by `log_filter`, its
    /// temporary files in `tmp`, and waits (30 s at most) for the "`name` ready" line, which
    /// names the gRPC address. Panics otherwise, with what it logged: a bench helper.
    pub fn start_service(
        binary: &str,
        name: &str,
        config: &Path,
        tmp: &Path,
        args: &[&str],
        log_filter: &str,
    ) -> ServiceProcess {
        let mut child = Command::new(binary)
            .arg("--config")
            .arg(config)
            .args(args)
            .env_remove("RUST_LOG")
            .env("PASSERELLE__LOG__FORMAT", "json")
            .env("PASSERELLE__LOG__FILTER", log_filter)
            // The store's temporary directory goes away with the bench's.
            .env("TMPDIR", tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} does not start: {e}"));
        let Some(stderr) = child.stderr.take() else {
            panic!("{name}'s stderr is not piped");
        };
        let (tx, lines) = mpsc::channel();
        // Read to the end, so that the service never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let ready = format!("{name} ready");
        let mut seen = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = lines.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name} not ready within 30 s:\n{seen}");
            };
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(&ready) {
                let grpc = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|json| json["fields"]["grpc"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| panic!("{name}'s ready line names no gRPC address: {line}"));
                return ServiceProcess {
                    child,
                    grpc: format!("http://{grpc}"),
                    lines,
                };
            }
        }
    }
}
