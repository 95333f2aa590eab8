//! The `passerelle` command as a user runs it: exit codes, tables, JSON, `up` and its clean stop.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Output;
use std::time::Duration;

use support::{json, run, stderr, stdout, terminate, up};

#[test]
fn check_matricule_accepts_a_good_key() {
    let o = run(&["ins", "check-matricule", "2480392630010", "64"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("matches"));
}

#[test]
fn check_matricule_refuses_a_typo_and_says_the_expected_key() {
    let o = run(&["ins", "check-matricule", "2480392630010", "46"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("expected 64"), "{}", stderr(&o));
    let o = run(&["ins", "check-matricule", "24803926300", "64"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("13 characters"), "{}", stderr(&o));
}

#[test]
fn search_without_a_running_service_says_so() {
    let o = run(&[
        "ins",
        "search",
        "--birth-name",
        "X",
        "--first-name",
        "Y",
        "--sex",
        "F",
        "--birth-date",
        "2000-01-01",
        "--endpoint",
        "http://127.0.0.1:9",
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("cannot reach the INS service"),
        "{}",
        stderr(&o)
    );
}

/// `ins verify` with the tutorial's traits and `extra` options (no service needed: each case
/// is refused before any call).
fn verify_with(extra: &[&str]) -> Output {
    let mut args = vec![
        "ins",
        "verify",
        "--endpoint",
        "http://127.0.0.1:9",
        "--birth-name",
        "PAT-DOUZE",
        "--first-name",
        "NATHALIE",
        "--sex",
        "F",
        "--birth-date",
        "1948-03-21",
    ];
    args.extend(extra);
    run(&args)
}

#[test]
fn a_wrong_patient_group_is_refused_by_the_command_line() {
    let o = verify_with(&["--ins", "24803926300106"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--ins") && stderr(&o).contains("15 characters"),
        "{}",
        stderr(&o)
    );
    let o = verify_with(&["--ins", "248039263001046"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("expected 64"), "{}", stderr(&o));
    let o = verify_with(&["--ins", "248039263001064", "--identity-status", "verified"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("--identity-status") && err.contains("qualifiee"),
        "{err}"
    );
    let o = verify_with(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--ins"), "{}", stderr(&o));
    let o = run(&["ins", "verify", "--help"]);
    assert!(
        stdout(&o).contains("[default: qualifiee]"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_wrong_professional_is_refused_before_any_call() {
    let o = verify_with(&[
        "--ins",
        "248039263001064",
        "--ps-id",
        "10001234567",
        "--ps-family-name",
        "MEDECIN",
        "--ps-given-name",
        "PAUL",
        "--ps-profession",
        "10",
        "--ps-specialty",
        "SM54",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("--ps-id") && err.contains("check digit"),
        "{err}"
    );
    assert!(
        !err.contains("cannot reach"),
        "refused before connecting: {err}"
    );
}

#[test]
fn unknown_sex_is_refused_by_the_command_line() {
    let o = run(&[
        "ins",
        "search",
        "--birth-name",
        "X",
        "--first-name",
        "Y",
        "--sex",
        "X",
        "--birth-date",
        "2000-01-01",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--sex"), "{}", stderr(&o));
}

#[test]
fn demo_walks_through_the_tutorial() {
    let o = run(&["demo"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", stderr(&o));
    assert!(out.contains("Result      FOUND"), "{out}");
    assert!(out.contains("2480392630010 64"), "{out}");
    assert!(out.contains("Verification VERIFIED"), "{out}");
    assert!(out.contains("Identity status QUALIFIEE"), "{out}");
    assert!(out.contains("[COMPOUND_NAME]"), "{out}");
    // CPS mode: the card read through the agent, unlocked on the local channel, then INSi.
    assert!(
        out.contains("the professional's CPS in the reader"),
        "{out}"
    );
    assert!(out.contains("RPPS        810001234565"), "{out}");
    assert!(out.contains("Holder      "), "{out}");
    assert!(out.contains("« code porteur »"), "{out}");
    assert!(out.contains("test PIN 1234"), "{out}");
    assert!(out.contains("local gRPC channel"), "{out}");
    assert!(out.contains("PIN accepted by the card"), "{out}");
    let cps = out
        .split("« Obtenir l'INSi » in CPS mode")
        .nth(1)
        .expect("the CPS-mode step");
    assert!(cps.contains("Result      FOUND"), "{out}");
    assert!(cps.contains("2480392630010 64"), "{out}");
    assert!(out.contains("Demo finished"), "{out}");
    assert!(
        out.contains("in CPS mode with the professional's card"),
        "{out}"
    );
    // Dr FOUQUEREY's side: the letter read from his mailbox, then acknowledged to the sender.
    let received = out
        .split("== Step 18:")
        .nth(1)
        .and_then(|s| s.split("== Step 19:").next())
        .unwrap_or_else(|| panic!("no step 18:\n{out}"));
    assert!(received.contains("Subject      Courrier standard"), "{out}");
    assert!(received.contains("Patient INS  248039263001064"), "{out}");
    assert!(received.contains("📎 IHE_XDM.zip"), "{out}");
    let acknowledged = out
        .split("== Step 19:")
        .nth(1)
        .and_then(|s| s.split("== Step 20:").next())
        .unwrap_or_else(|| panic!("no step 19 then 20:\n{out}"));
    assert!(
        acknowledged.contains("acknowledgement SENT by jean.fouquerey@"),
        "{out}"
    );
    assert!(
        acknowledged.contains("from jean.fouquerey@passerelle-sandbox.mssante.fr"),
        "the MDN in the sender's mailbox: {out}"
    );
    // « Partager » in one action: a confirmation per channel.
    let shared = out
        .split("== Step 20:")
        .nth(1)
        .and_then(|s| s.split("== Step 21: stop").next())
        .unwrap_or_else(|| panic!("no step 20 then 21:\n{out}"));
    for channel in ["dmp", "mss-pro", "mss-citizen"] {
        assert!(
            shared
                .lines()
                .any(|l| l.trim_start().starts_with(channel) && l.contains(" DONE ")),
            "{channel} confirmed: {out}"
        );
    }
    assert!(shared.contains("Finished    yes"), "{out}");
}

#[test]
fn card_unlock_lets_ins_search_in_cps_mode() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = up(dir.path(), &[]);
    let cps_search = || {
        search_json(
            &up.ins,
            &[
                "--workstation",
                "local",
                "--birth-name",
                "PAT-DOUZE",
                "--first-name",
                "NATHALIE",
                "--sex",
                "F",
                "--birth-date",
                "1948-03-21",
            ],
        )
    };
    // Locked: the service says to enter the PIN on the workstation.
    let o = cps_search();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("CPS_PIN_REQUIRED"), "{}", stderr(&o));

    // The PIN is never an argument.
    let o = card_unlock(&up.card, &[], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--pin-stdin"), "{}", stderr(&o));
    let o = card_unlock(&up.card, &["--pin-stdin"], "0000\n");
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("WRONG_PIN"), "{}", stderr(&o));
    assert!(stderr(&o).contains("2 tries left"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("0000"), "the PIN is never shown");
    let o = card_unlock(&up.card, &["--pin-stdin", "--json"], "1234\n");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["ok"], true);
    assert_eq!(v["card_serial"], "00B9900001");
    assert!(!stdout(&o).contains("1234"), "the PIN is never shown");

    let o = cps_search();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["result"], "FOUND");
    assert!(terminate(&mut up.child).success());
}

/// `passerelle card unlock --pin-stdin` with `stdin` typed in.
fn card_unlock(endpoint: &str, extra: &[&str], stdin: &str) -> Output {
    let mut args = vec!["unlock"];
    args.extend_from_slice(extra);
    support::card(endpoint, &args, Some(stdin))
}

fn search_json(endpoint: &str, args: &[&str]) -> Output {
    let mut all = vec!["ins", "search", "--json", "--endpoint", endpoint];
    all.extend_from_slice(args);
    run(&all)
}

fn up_then_search(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let mut up = up(dir.path(), extra);
    let endpoint = up.ins.clone();

    let o = search_json(
        &endpoint,
        &[
            "--birth-name",
            "PAT-DOUZE",
            "--first-name",
            "Nathalie",
            "--sex",
            "F",
            "--birth-date",
            "1948-03-21",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["result"], "FOUND");
    assert_eq!(v["ins"]["matricule"], "2480392630010");
    assert_eq!(v["ins"]["key"], "64");
    assert_eq!(v["ins"]["oid"], "1.2.250.1.213.1.4.8");
    assert_eq!(v["ins"]["birth_name"], "PAT-DOUZE");
    assert_eq!(v["ins"]["first_names"][0], "NATHALIE");
    assert_eq!(v["ins"]["sex"], "F");
    assert_eq!(v["ins"]["birth_date"], "1948-03-21");
    assert!(v["history"].is_array());
    assert_eq!(v["tries"].as_array().unwrap().len(), 1);
    assert!(v["diagnostics"].is_array());
    assert_eq!(v["normalisations"][0]["field"], "first_names");

    let o = search_json(
        &endpoint,
        &[
            "--birth-name",
            "HOUILLES",
            "--first-name",
            "PIERRE",
            "--first-name",
            "PAUL",
            "--sex",
            "M",
            "--birth-date",
            "1993-01-27",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "a business answer exits 0");
    let v = json(&o);
    assert_eq!(v["result"], "NOT_FOUND");
    assert!(v["ins"].is_null());
    assert_eq!(v["tries"].as_array().unwrap().len(), 3);

    let o = search_json(
        &endpoint,
        &[
            "--birth-name",
            "PAT-DOUZE",
            "--first-name",
            "NATHALIE",
            "--sex",
            "F",
            "--birth-date",
            "21-03-1948",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("YYYY-MM-DD") && err.contains("field traits.birth_date"),
        "{err}"
    );

    let o = run(&[
        "ins",
        "verify",
        "--json",
        "--endpoint",
        &endpoint,
        "--ins",
        "248039263001064",
        "--identity-status",
        "recuperee",
        "--birth-name",
        "PAT-DOUZE",
        "--first-name",
        "NATHALIE",
        "--sex",
        "F",
        "--birth-date",
        "1948-03-21",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["result"], "VERIFIED");
    assert_eq!(v["patient"]["ins"], "248039263001064");
    assert_eq!(v["patient"]["identity_status"], "RECUPEREE");
    assert!(
        v["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["trait"] == "ins" && c["comparison"] == "MATCH")
    );

    let o = run(&[
        "ins",
        "qualify",
        "--json",
        "--endpoint",
        &endpoint,
        "--document",
        "passport",
        "--checked-by",
        "desk-1",
        "--birth-name",
        "PAT-DOUZE",
        "--first-name",
        "NATHALIE",
        "--sex",
        "F",
        "--birth-date",
        "1948-03-21",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["status"], "QUALIFIEE");

    let o = run(&[
        "ins",
        "qualify",
        "--json",
        "--endpoint",
        &endpoint,
        "--birth-name",
        "PAT-DOUZE",
        "--first-name",
        "NATHALIE",
        "--sex",
        "F",
        "--birth-date",
        "1948-03-21",
    ]);
    let v = json(&o);
    assert_eq!(v["status"], "RECUPEREE");
    assert_eq!(v["actions"][0]["code"], "CHECK_DOCUMENT");

    let status = terminate(&mut up.child);
    assert_eq!(status.code(), Some(0), "clean stop on SIGTERM");
}

#[test]
fn up_serves_searches_and_stops_cleanly() {
    up_then_search(&[]);
}

#[test]
fn up_on_nats_serves_searches_and_stops_cleanly() {
    let nats = passerelle_bus::testing::NatsServer::start().expect("nats-server");
    let url = nats.url();
    up_then_search(&["--nats", &url]);
}

#[test]
fn sigterm_lets_the_call_in_flight_finish() {
    // On NATS, so that the test sees the request travel to the worker: SIGTERM is sent once
    // the call is on its way, not after a guessed delay.
    let nats = passerelle_bus::testing::NatsServer::start().expect("nats-server");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut requests = runtime.block_on(async {
        use passerelle_bus::Bus;
        let bus = passerelle_bus::nats::NatsBus::connect(&nats.url(), Default::default())
            .await
            .expect("NATS");
        bus.subscribe(passerelle_bus::subjects::INS_SEARCH_BY_TRAITS)
            .await
            .expect("subscribe")
    });
    let dir = tempfile::tempdir().unwrap();
    let url = nats.url();
    let mut up = up(dir.path(), &["--insi-latency-ms", "1500", "--nats", &url]);
    let endpoint = up.ins.clone();
    let search = std::thread::spawn(move || {
        search_json(
            &endpoint,
            &[
                "--birth-name",
                "PAT-DOUZE",
                "--first-name",
                "NATHALIE",
                "--sex",
                "F",
                "--birth-date",
                "1948-03-21",
            ],
        )
    });
    runtime.block_on(async {
        use futures::StreamExt;
        tokio::time::timeout(Duration::from_secs(60), requests.next())
            .await
            .expect("the search reaches the bus")
            .expect("subscription open");
    });
    let status = terminate(&mut up.child);
    let o = search.join().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        json(&o)["result"],
        "FOUND",
        "the call in flight was answered"
    );
    assert_eq!(status.code(), Some(0));
}
