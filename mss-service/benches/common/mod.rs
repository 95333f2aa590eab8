//! What the benches share (`mod common;` in each): the `mss-service` binary started as a
//! child process, the letter with its PDF built as the service builds it, CPU and memory of
//! a process, log timestamps, medians. Linux only (reads /proc).

// Each bench uses a part of it.
#![allow(dead_code, unused_imports)]

use std::path::Path;
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

pub use passerelle_service_kit::testing::process::{
    ServiceProcess, load_average, proc_status_kb, process_cpu,
};

/// Starts `mss-service --config FILE ARGS…` (without `--nats`, the in-process bus: it serves
/// gRPC and the document store itself), its log in JSON filtered by `log_filter`, and waits
/// for its "mss-service ready" line.
pub fn start_service(config: &Path, tmp: &Path, args: &[&str], log_filter: &str) -> ServiceProcess {
    passerelle_service_kit::testing::process::start_service(
        SERVICE,
        "mss-service",
        config,
        tmp,
        args,
        log_filter,
    )
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
