//! `passerelle dmp …` against `passerelle up`: the tutorial's professional, with the CPS of
//! the workstation, opens the patient's DMP, deposits a letter hidden from her, lists it,
//! gets it back, and the patient's view does not show it; mistakes exit 2 with a clear
//! message.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{json, run, stderr, stdout, terminate, up};

const INS: &str = "248039263001064";

fn dmp(endpoint: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["dmp"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--endpoint", endpoint]);
    run(&all)
}

#[test]
fn a_letter_hidden_from_the_patient_deposited_listed_and_got_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = up(dir.path(), &[]);
    let o = support::card(&up.card, &["unlock", "--pin-stdin"], Some("1234\n"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let cps = ["--ins", INS, "--workstation", "local"];

    let o = dmp(&up.dmp, &[&["status", "--json"][..], &cps].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["state"], "OPEN");
    assert_eq!(v["authorization"], "NONE");

    let o = dmp(&up.dmp, &[&["authorize"][..], &cps].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = dmp(&up.dmp, &["accessible", "--json", "--workstation", "local"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert!(
        v["patients"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["ins"].as_str().is_some_and(|i| i.starts_with(&INS[..13]))),
        "the DMP just authorised is accessible: {v}"
    );

    let letter = dir.path().join("lettre.txt");
    std::fs::write(&letter, "Chère consœur,\nbilan joint.\n").unwrap();
    let deposit = |key: &str| {
        dmp(
            &up.dmp,
            &[
                &[
                    "deposit",
                    "--json",
                    "--text",
                    letter.to_str().unwrap(),
                    "--title",
                    "Courrier standard",
                    "--type",
                    "11490-0",
                    "--hide-from",
                    "patient",
                    "--idempotency-key",
                    key,
                    "--birth-name",
                    "PAT-DOUZE",
                    "--first-name",
                    "NATHALIE",
                    "--sex",
                    "F",
                    "--birth-date",
                    "1948-03-21",
                ][..],
                &cps,
            ]
            .concat(),
        )
    };
    let o = deposit("LETTRE-1");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first = json(&o);
    let uid = first["unique_id"].as_str().unwrap().to_owned();
    assert_eq!(first["already_present"], false);
    let o = deposit("LETTRE-1");
    assert_eq!(
        json(&o)["already_present"],
        true,
        "sent again: already there"
    );
    assert_eq!(json(&o)["unique_id"], uid.as_str());

    let o = dmp(&up.dmp, &[&["list", "--json"][..], &cps].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    let docs = v["documents"].as_array().unwrap();
    let doc = docs
        .iter()
        .find(|d| d["unique_id"] == uid.as_str())
        .expect("the letter is listed");
    assert_eq!(doc["title"], "Courrier standard");
    assert_eq!(doc["type_code"], "11490-0");
    assert_eq!(doc["status"], "APPROVED");
    assert_eq!(doc["confidentiality"], "N");
    assert_eq!(doc["visibility"]["patient"], false);
    assert_eq!(doc["visibility"]["professionals"], true);
    assert!(doc["created"].as_str().unwrap().len() >= 8);

    let cda = dir.path().join("got.xml");
    let o = dmp(
        &up.dmp,
        &[
            &[
                "get",
                "--unique-id",
                &uid,
                "--output",
                cda.to_str().unwrap(),
            ][..],
            &cps,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not visible to the patient"),
        "{}",
        stderr(&o)
    );
    let text = std::fs::read_to_string(&cda).unwrap();
    assert!(text.contains("<ClinicalDocument"), "the CDA is written");

    let o = run(&[
        "sandbox",
        "dmp",
        "--ins",
        INS,
        "--as",
        "patient",
        "--json",
        "--url",
        &up.dmp_sandbox,
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let seen = json(&o);
    assert!(
        !seen["documents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["unique_id"] == uid.as_str()),
        "the patient does not see the letter: {}",
        stdout(&o)
    );

    let o = dmp(
        &up.dmp,
        &[
            &["reveal", "--unique-id", &uid, "--to", "patient"][..],
            &cps,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(terminate(&mut up.child).success());
}

#[test]
fn mistakes_exit_2_before_any_call() {
    // No service needed: each is refused by the command itself.
    let o = run(&[
        "dmp",
        "status",
        "--ins",
        "248039263001065",
        "--workstation",
        "local",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("key"), "{}", stderr(&o));
    let o = run(&[
        "dmp",
        "list",
        "--ins",
        INS,
        "--workstation",
        "local",
        "--mode",
        "bris-de-glace",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--reason"), "{}", stderr(&o));
}
