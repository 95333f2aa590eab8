//! What the benches share (`mod common;` in each): the `mss-service` binary started as a
//! child process, the letter with its PDF built as the service builds it, CPU and memory of
//! a process, log timestamps, medians. Linux only (reads /proc).

// Each bench uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mss_service::address::MssAddress;
use mss_service::message::{
    self, AttachedDocument, Body, DocumentAttachments, MessageSpec, OutboundMessage,
};
use mss_service::rules::{self, Flags, PatientIns, SendCase};
use passerelle_clinical_documents::header::HiddenFrom;

pub const SERVICE: &str = env!("CARGO_BIN_EXE_mss-service");
pub const MB: f64 = 1024.0 * 1024.0;

pub const FROM: &str = "lps@passerelle-sandbox.mssante.fr";
pub const SOURCE_ID: &str = "1.2.250.1.999.1.1";

// ---- the service process ----

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

/// The load average (1, 5, 15 min) while the bench runs: the machine is shared.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub struct ServiceProcess {
    child: Child,
    pub grpc: String,
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

/// Starts `mss-service --config FILE ARGS…` (without `--nats`, the in-process bus: it serves
/// gRPC and the document store itself), its log in JSON filtered by `log_filter`, and waits
/// for its "mss-service ready" line.
pub fn start_service(config: &Path, tmp: &Path, args: &[&str], log_filter: &str) -> ServiceProcess {
    let mut child = Command::new(SERVICE)
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
        .expect("mss-service starts");
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, lines) = mpsc::channel();
    // Read to the end, so that the service never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines.recv_timeout(left) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mss-service not ready within 30 s:\n{seen}");
        };
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("mss-service ready") {
            let json: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
            let grpc = json["fields"]["grpc"]
                .as_str()
                .expect("the ready line names the gRPC address")
                .to_owned();
            return ServiceProcess {
                child,
                grpc: format!("http://{grpc}"),
                lines,
            };
        }
    }
}

// ---- the XDM build ----

pub struct Built {
    pub cda: Duration,
    pub attachments: Duration,
    pub mime: Duration,
    pub message_bytes: usize,
    /// The message (its chunks shared with the attachments).
    pub message: OutboundMessage,
}

/// What the service does with the PDF once fetched: the level-1 CDA, the `IHE_XDM.zip` and the
/// attachments encoded, the professionals' message.
pub fn build_once(pdf: &Bytes, n: usize, to: &str) -> Built {
    let now = time::OffsetDateTime::now_utc();
    let key = format!("send-bench-build-{n}");
    let mut header = passerelle_clinical_documents::testing::letter(&key, now);
    header.hidden_from = vec![HiddenFrom::Patient];

    let t = Instant::now();
    let cda = passerelle_service_kit::letters::letter_cda(
        &header,
        passerelle_service_kit::letters::PDF,
        pdf,
    )
    .expect("CDA");
    let cda_time = t.elapsed();

    let t = Instant::now();
    let set = message::submission_set(&key, SOURCE_ID, now, message::default_content_type())
        .expect("submission set");
    let attachments = DocumentAttachments::new(
        vec![AttachedDocument {
            header: &header,
            cda,
            pdf: Some(pdf.clone()),
        }],
        &set,
    )
    .expect("XDM");
    let attachments_time = t.elapsed();

    let t = Instant::now();
    let to = [MssAddress::parse(to).expect("address")];
    let decision = rules::judge(&SendCase {
        to: &to,
        cc: &[],
        to_patient: false,
        patient: PatientIns::Qualified(&header.patient.ins),
        document: Some(Flags::hidden_from(&header.hidden_from)),
    })
    .expect("row M2");
    let spec = MessageSpec {
        from: MssAddress::parse(FROM).expect("address"),
        reply_to: None,
        subject: String::new(),
        body: Body::text("Cher confrère,\n\nci-joint la lettre de liaison."),
        patient_body: None,
        nil: None,
        patient_may_not_reply: false,
        acknowledgement: false,
        idempotency_key: key,
        date: now,
    };
    let mut messages = message::build(&decision, &spec, Some(&attachments)).expect("messages");
    let mime_time = t.elapsed();
    assert_eq!(messages.len(), 1);
    let message = messages.remove(0);
    Built {
        cda: cda_time,
        attachments: attachments_time,
        mime: mime_time,
        message_bytes: message.len(),
        message,
    }
}

// ---- times and logs ----

/// Now, in seconds since midnight UTC (the log lines' clock).
pub fn now_of_day() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
        % 86_400.0
}

/// A log line's `timestamp` (`…THH:MM:SS.ffffffZ`), in seconds since midnight UTC.
pub fn stamp_of_day(json: &serde_json::Value) -> Option<f64> {
    let t = json["timestamp"].as_str()?.get(11..)?.trim_end_matches('Z');
    let mut parts = t.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

/// The timestamps of the JSON lines whose message is `message`, in order.
pub fn stamps(lines: &[String], message: &str) -> Vec<f64> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|j| j["fields"]["message"] == message)
        .filter_map(|j| stamp_of_day(&j))
        .collect()
}

/// The first of `stamps` within a call's window.
pub fn within(stamps: &[f64], (from, to): (f64, f64)) -> Option<f64> {
    stamps.iter().copied().find(|s| *s >= from && *s <= to)
}

/// A point of a message's window: its start, its end, or the log line of a kind within it.
#[derive(Clone, Copy)]
pub enum Mark<'a> {
    Start,
    End,
    At(&'a [f64]),
}

impl Mark<'_> {
    pub fn of(self, window: (f64, f64)) -> Option<f64> {
        match self {
            Self::Start => Some(window.0),
            Self::End => Some(window.1),
            Self::At(stamps) => within(stamps, window),
        }
    }
}

/// The median time from `from` to `to` over the windows, in ms; says how many windows lacked
/// a line.
pub fn phase(windows: &[(f64, f64)], from: Mark<'_>, to: Mark<'_>) -> String {
    let v: Vec<f64> = windows
        .iter()
        .filter_map(|w| Some((to.of(*w)? - from.of(*w)?) * 1000.0))
        .collect();
    let median = median_f(&v);
    if v.len() == windows.len() {
        format!("{median:.1}")
    } else {
        format!("{median:.1} ({} of {} messages)", v.len(), windows.len())
    }
}

pub fn median_f(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn best_f(v: &[f64], highest: bool) -> f64 {
    let it = v.iter().copied();
    if highest {
        it.fold(f64::NAN, f64::max)
    } else {
        it.fold(f64::NAN, f64::min)
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
