//! `passerelle share …`: argument mistakes exit 2 before anything is uploaded; against
//! `passerelle up`, a share is accepted with each channel's first state (a refused channel
//! with its rule, exit 3), `share status` shows it, an unknown share is NOT_FOUND.
//! The tutorial's share on the three channels runs end to end (share-service, dmp-service and
//! mss-service consumers, the sandboxes) and `--wait` follows it to DONE.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{json, run, stderr, stdout, terminate, up};

const INS: &str = "248039263001064";

/// The organisation's user who shares (organisation mode).
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
    // The DMP's VIHF needs it (TRE_R02: SA07, cabinet individuel).
    "--activity-sector",
    "SA07",
];

const PATIENT: &[&str] = &[
    "--ins",
    INS,
    "--birth-name",
    "PAT-DOUZE",
    "--first-name",
    "NATHALIE",
    "--sex",
    "F",
    "--birth-date",
    "1948-03-21",
];

fn share(endpoint: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["share"];
    all.extend_from_slice(PATIENT);
    all.extend_from_slice(AS_MEDECIN);
    all.extend_from_slice(args);
    all.extend_from_slice(&["--endpoint", endpoint]);
    run(&all)
}

#[test]
fn argument_mistakes_exit_2_before_any_upload() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("letter.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n%%EOF\n").unwrap();
    let pdf = pdf.to_str().unwrap();
    // Nobody listens there: an argument mistake must be reported before any connection.
    let nowhere = "http://127.0.0.1:9";
    let letter = ["--pdf", pdf, "--title", "Lettre", "--type", "11490-0"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            [&letter[..], &["--channels", "dmp,fax"]].concat(),
            "unknown channel \"fax\"",
        ),
        (letter.to_vec(), "--channels is required"),
        (
            vec![
                "--title",
                "Lettre",
                "--type",
                "11490-0",
                "--channels",
                "dmp",
            ],
            "--pdf FILE, --text FILE or --vsm FILE",
        ),
        (
            vec!["--pdf", pdf, "--channels", "dmp"],
            "--title and --type",
        ),
    ];
    for (args, message) in cases {
        let o = share(nowhere, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
    }
    let o = run(&[
        "share",
        "retry",
        "some-id",
        "--channel",
        "fax",
        "--endpoint",
        nowhere,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown --channel"), "{}", stderr(&o));
}

#[test]
fn a_share_is_accepted_and_its_status_read_an_unknown_one_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut system = up(dir.path(), &[]);
    let endpoint = system.share.clone();

    let o = run(&[
        "share",
        "status",
        "0b0e7f1e-8c7a-4f57-a0a4-3a0d7c3f7e11",
        "--endpoint",
        &endpoint,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("SHARE_NOT_FOUND"), "{}", stderr(&o));

    // The patient's mailbox needs a qualified INS: that channel is refused, the DMP goes on.
    let pdf = dir.path().join("letter.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n%%EOF\n").unwrap();
    let o = share(
        &endpoint,
        &[
            "--identity-status",
            "validee",
            "--pdf",
            pdf.to_str().unwrap(),
            "--title",
            "Lettre de liaison",
            "--type",
            "11490-0",
            "--channels",
            "dmp,mss-citizen",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let accepted = json(&o);
    let id = accepted["share_id"].as_str().unwrap().to_owned();

    let o = run(&["share", "status", &id, "--json", "--endpoint", &endpoint]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = json(&o);
    assert_eq!(s["share_id"], id.as_str());
    assert_eq!(s["channels"][0]["channel"], "dmp");
    assert_eq!(s["channels"][1]["channel"], "mss-citizen");
    assert_eq!(s["channels"][1]["state"], "REFUSED");
    assert_eq!(s["channels"][1]["rule"], "CITIZEN_NEEDS_QUALIFIED_INS");

    let o = run(&["share", "status", &id, "--endpoint", &endpoint]);
    assert!(
        stdout(&o).contains("[rule CITIZEN_NEEDS_QUALIFIED_INS]"),
        "{}",
        stdout(&o)
    );
    assert!(terminate(&mut system.child).success());
}

/// The tutorial's « Partager »: one share of the letter to the DMP, to Dr FOUQUEREY and to
/// the patient's own mailbox; `--wait` follows it until every channel is DONE (exit 0), each
/// with what it did (the DMP's uniqueId, the Message-IDs), and each mailbox holds the letter
/// once.
#[test]
fn the_tutorial_share_is_done_on_the_three_channels() {
    let dir = tempfile::tempdir().unwrap();
    let mut system = up(dir.path(), &[]);
    let endpoint = system.share.clone();
    let pdf = dir.path().join("courrier.pdf");
    std::fs::write(&pdf, clinical_pdf()).unwrap();
    let o = share(
        &endpoint,
        &[
            "--identity-status",
            "qualifiee",
            "--pdf",
            pdf.to_str().unwrap(),
            "--title",
            "Courrier standard",
            "--type",
            "11490-0",
            "--channels",
            "dmp,mss-pro,mss-citizen",
            "--to",
            "jean.fouquerey@passerelle-sandbox.mssante.fr",
            "--wait",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    let last = out
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap();
    let status: serde_json::Value = serde_json::from_str(last).unwrap();
    let channels = status["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 3, "{status}");
    for c in channels {
        assert_eq!(c["state"], "DONE", "{status}");
        assert!(!c["reference"].as_str().unwrap().is_empty(), "{status}");
    }
    for mailbox in [
        "jean.fouquerey@passerelle-sandbox.mssante.fr",
        "248039263001064@patient.mssante.fr",
    ] {
        let o = run(&[
            "sandbox",
            "mailbox",
            mailbox,
            "--json",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let held = json(&o);
        let letters = held["messages"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|m| m["subject"] == "Courrier standard")
                    .count()
            })
            .unwrap_or_default();
        assert_eq!(letters, 1, "{mailbox}: {held}");
    }
    assert!(terminate(&mut system.child).success());
}

/// A small PDF the DMP sandbox and the CDA builder take.
fn clinical_pdf() -> Vec<u8> {
    passerelle_clinical_documents::testing::scanned_pdf(20_000)
}
