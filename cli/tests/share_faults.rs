//! Sharing on `passerelle up` when the national services fail (issue 13, point 6): with the
//! sandboxes failing one call in five (the DMP: 503; the MSSanté server: 451, refused
//! recipients, reset connections) every share ends, each channel DONE or FAILED with what
//! failed, none left PENDING, within a hard time limit; with the DMP failing every call, its
//! circuit opens and the DMP channels end FAILED on the breaker's message while the MSSanté
//! channels are still delivered (one upstream's breaker does not hold the other).

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use support::{json, run, stderr, terminate, up};

/// A share that has not ended by then hangs.
const HARD_LIMIT: Duration = Duration::from_secs(240);

const AS_MEDECIN: &[&str] = &[
    "--ps-id",
    "10001234565",
    "--ps-family-name",
    "MEDECIN",
    "--ps-given-name",
    "JEANNE",
    "--ps-profession",
    "10",
    "--ps-specialty",
    "SM54",
    "--structure-id",
    "999000003",
    "--structure-name",
    "CENTRE DE SANTE PASSERELLE SANDBOX",
    "--activity-sector",
    "SA07",
];

const PATIENT: &[&str] = &[
    "--ins",
    "248039263001064",
    "--birth-name",
    "PAT-DOUZE",
    "--first-name",
    "NATHALIE",
    "--sex",
    "F",
    "--birth-date",
    "1948-03-21",
    "--identity-status",
    "qualifiee",
];

/// `n` shares of the tutorial's letter on the three channels; their ids.
fn share_n(dir: &std::path::Path, endpoint: &str, n: usize) -> Vec<String> {
    let pdf = dir.join("courrier.pdf");
    std::fs::write(
        &pdf,
        passerelle_clinical_documents::testing::scanned_pdf(20_000),
    )
    .unwrap();
    let pdf = pdf.to_str().unwrap();
    (0..n)
        .map(|i| {
            let title = format!("Courrier {i}");
            let mut args = vec!["share"];
            args.extend_from_slice(PATIENT);
            args.extend_from_slice(AS_MEDECIN);
            args.extend_from_slice(&[
                "--pdf",
                pdf,
                "--title",
                &title,
                "--type",
                "11490-0",
                "--channels",
                "dmp,mss-pro,mss-citizen",
                "--to",
                "jean.fouquerey@passerelle-sandbox.mssante.fr",
                "--json",
                "--endpoint",
                endpoint,
            ]);
            let o = run(&args);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            json(&o)["share_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Every share's status once none of its channels is PENDING; panics past the hard limit.
fn ended(endpoint: &str, ids: &[String]) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + HARD_LIMIT;
    let mut out = Vec::new();
    for id in ids {
        loop {
            let o = run(&["share", "status", id, "--json", "--endpoint", endpoint]);
            assert!(o.status.success(), "{}", stderr(&o));
            let s = json(&o);
            let channels = s["channels"].as_array().unwrap();
            assert_eq!(channels.len(), 3, "{s}");
            if channels.iter().all(|c| c["state"] != "PENDING") {
                out.push(s);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "share {id} still PENDING after {HARD_LIMIT:?}: {s}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    out
}

fn channel<'a>(s: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    s["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == name)
        .unwrap()
}

#[test]
fn under_faults_at_one_in_five_every_share_ends() {
    let dir = tempfile::tempdir().unwrap();
    let mut system = up(
        dir.path(),
        &[
            "--dmp-fault",
            "http-503%0.2",
            "--mss-fault",
            "data-451%0.2",
            "--mss-fault",
            "rcpt-550%0.2",
            "--mss-fault",
            "reset%0.2",
        ],
    );
    let endpoint = system.share.clone();
    let ids = share_n(dir.path(), &endpoint, 10);
    let statuses = ended(&endpoint, &ids);
    let mut done = 0;
    for s in &statuses {
        for c in s["channels"].as_array().unwrap() {
            match c["state"].as_str().unwrap() {
                "DONE" => {
                    assert!(!c["reference"].as_str().unwrap().is_empty(), "{s}");
                    done += 1;
                }
                "FAILED" => {
                    // What failed, in words.
                    let detail = c["detail"].as_str().unwrap();
                    assert!(!detail.is_empty(), "{s}");
                }
                other => panic!("a channel ended {other}: {s}"),
            }
        }
    }
    // The MSSanté faults fail about one transaction in three: the breaker (five in a row)
    // may open for a while and end some channels on it; still, many get through.
    assert!(
        done >= ids.len() / 2,
        "only {done} of 30 channels DONE: {statuses:?}"
    );
    assert!(terminate(&mut system.child).success());
}

#[test]
fn a_dead_dmp_opens_its_circuit_and_mssante_still_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let mut system = up(dir.path(), &["--dmp-fault", "http-503"]);
    let endpoint = system.share.clone();
    let ids = share_n(dir.path(), &endpoint, 8);
    let statuses = ended(&endpoint, &ids);
    let mut by_breaker = 0;
    for s in &statuses {
        let dmp = channel(s, "dmp");
        assert_eq!(dmp["state"], "FAILED", "{s}");
        let detail = dmp["detail"].as_str().unwrap();
        if detail.starts_with("the DMP is failing: circuit open since ") {
            by_breaker += 1;
        }
        // The DMP's breaker does not hold the MSSanté channels.
        for name in ["mss-pro", "mss-citizen"] {
            assert_eq!(channel(s, name)["state"], "DONE", "{s}");
        }
    }
    // Five failures open it (breaker_failures = 5): the shares after end on the open
    // circuit, without calling the DMP on their last delivery.
    assert!(
        by_breaker >= 4,
        "only {by_breaker} of 8 DMP channels ended on the open circuit: {statuses:?}"
    );
    assert!(terminate(&mut system.child).success());
}
