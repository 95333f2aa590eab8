//! How long a VSM takes to build: JSON checked, then the whole CDA document written (the
//! issue asks for under 1 ms). `cargo bench -p passerelle-clinical-documents --bench vsm`
//! prints the mean and the slowest of 2,000 builds of the full VSM (every section).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use passerelle_clinical_documents::testing::{VSM_FULL as FULL, vsm_header};
use passerelle_clinical_documents::vsm::{self, Vsm};

fn main() {
    let header = vsm_header();
    let build = || {
        let vsm = Vsm::from_json(FULL.as_bytes()).unwrap();
        vsm::write_document(Vec::with_capacity(32 * 1024), &header, &vsm)
            .unwrap()
            .out
    };
    let size = build().len();
    for _ in 0..200 {
        std::hint::black_box(build());
    }
    const RUNS: u32 = 2_000;
    let mut slowest = Duration::ZERO;
    let all = Instant::now();
    for _ in 0..RUNS {
        let one = Instant::now();
        std::hint::black_box(build());
        slowest = slowest.max(one.elapsed());
    }
    let mean = all.elapsed() / RUNS;
    println!("full VSM ({size} bytes): mean {mean:?}, slowest {slowest:?} over {RUNS} builds");
}
