//! Building the level-1 CDA of a 20 MB PDF, against a baseline measured in the same run:
//! base64-encoding and SHA-1-hashing the same bytes. Prints the ratio (target ≤ 1.5) and the
//! peak memory allocated (target < 2 × PDF + 20 MB), counted by a global allocator.
//!
//! `cargo bench -p passerelle-clinical-documents --bench level1`

#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine;
use passerelle_clinical_documents::cda::level1::{self, Content};
use passerelle_clinical_documents::codes::Code;
use passerelle_clinical_documents::header::Confidentiality;
use passerelle_clinical_documents::header::builder::HeaderInput;
use passerelle_clinical_documents::ids::DocumentIds;
use passerelle_clinical_documents::testing::{self, CountingAllocator};
use passerelle_domain::Platform;
use sha1::{Digest, Sha1};
use time::macros::datetime;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const PDF_BYTES: usize = 20 * 1024 * 1024;
const RUNS: usize = 5;
const MB: f64 = 1024.0 * 1024.0;

fn pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n".to_vec();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    // Incompressible-looking bytes, like the images and fonts a real PDF is made of.
    pdf.extend((pdf.len()..PDF_BYTES).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    pdf.extend_from_slice(b"\n%%EOF\n");
    pdf
}

fn header_input() -> HeaderInput {
    let author = testing::doctor();
    HeaderInput {
        ids: DocumentIds::from_key("bench").expect("key"),
        version: 1,
        replaces: None,
        title: "Lettre de liaison".into(),
        type_code: "11490-0".into(),
        effective_time: datetime!(2024-10-02 14:30:00 +2),
        confidentiality: Confidentiality::Normal,
        hidden_from: vec![],
        patient: testing::patient_identity(),
        platform: Platform::Production,
        custodian: author.structure().expect("structure").clone(),
        author: author.into(),
        legal_authenticator: None,
        practice_setting: Code::new("AMBULATOIRE", "1.2.250.1.213.1.1.4.9", "Ambulatoire"),
        service_start: datetime!(2024-10-02 14:00:00 +2),
        service_end: None,
        facility_type: Code::new("SA07", "1.2.250.1.71.4.2.4", "Cabinet individuel"),
    }
}

/// Best of `RUNS`, and the peak bytes allocated above what was live before.
fn measure(mut f: impl FnMut()) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let before = CountingAllocator::reset_peak();
    for _ in 0..RUNS {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed());
    }
    (best, CountingAllocator::peak() - before)
}

fn main() {
    let pdf = pdf();
    let header = header_input().build().expect("header");
    let live_with_pdf = CountingAllocator::current();

    let (baseline, baseline_peak) = measure(|| {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&pdf);
        black_box(Sha1::digest(&pdf));
        black_box(encoded);
    });
    // The document goes to a sink: what a service streaming it to a file or a socket does.
    let mut size = 0;
    let (build, build_peak) = measure(|| {
        let written = level1::write(
            std::io::sink(),
            &header,
            Content::Pdf,
            pdf.as_slice(),
            pdf.len() as u64,
            level1::DEFAULT_MAX_CONTENT_BYTES,
        )
        .expect("build");
        size = written.size;
        black_box(written.sha1);
    });

    let ratio = build.as_secs_f64() / baseline.as_secs_f64();
    let peak_total = live_with_pdf + build_peak;
    let limit = 2 * pdf.len() + 20 * 1024 * 1024;
    println!(
        "PDF: {:.1} MB, CDA: {:.1} MB",
        pdf.len() as f64 / MB,
        size as f64 / MB
    );
    println!(
        "baseline (base64 + SHA-1): {:.1} ms, peak +{:.1} MB",
        baseline.as_secs_f64() * 1e3,
        baseline_peak as f64 / MB
    );
    println!(
        "CDA level 1 build:         {:.1} ms, peak +{:.2} MB",
        build.as_secs_f64() * 1e3,
        build_peak as f64 / MB
    );
    println!(
        "ratio {ratio:.2} (target <= 1.5): {}",
        if ratio <= 1.5 { "ok" } else { "OVER" }
    );
    println!(
        "peak memory {:.1} MB incl. the PDF (target < {:.1} MB): {}",
        peak_total as f64 / MB,
        limit as f64 / MB,
        if peak_total < limit { "ok" } else { "OVER" }
    );
}
