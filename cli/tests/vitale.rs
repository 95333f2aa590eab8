//! `passerelle ins search --vitale` end to end: `passerelle up --vitale-file` puts a software
//! carte Vitale (test/demo device) in a second reader of its card-agent; the CLI reads it over
//! the card-agent's local gRPC and searches the INSi sandbox (RECVITALE) through ins-service.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Output;

use support::{Up, json, run, stderr};

/// Identities the sandbox knows (sandbox/data/insi-identities.toml): the insured person
/// ECETINSI PIERRE-ALAIN, and PAT-DOUZE NATHALIE as a beneficiary of the card.
const VITALE: &str = r#"
serial = "VITALE-TEST-0001"
[insured]
matricule = "1090763220834"
key = "89"
birth_name = "ECETINSI"
first_name = "PIERRE-ALAIN"
birth_date = "2009-07-14"

[[beneficiaries]]
matricule = "2480392630010"
key = "64"
birth_name = "PAT-DOUZE"
first_name = "NATHALIE"
birth_date = "1948-03-21"
"#;

fn search(up: &Up, extra: &[&str]) -> Output {
    let mut args = vec!["ins", "search", "--vitale", "--json", "--endpoint", &up.ins];
    args.extend_from_slice(&["--card-endpoint", &up.card]);
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn ins_search_with_the_carte_vitale_against_passerelle_up() {
    let dir = tempfile::tempdir().unwrap();
    let vitale_file = dir.path().join("vitale.toml");
    std::fs::write(&vitale_file, VITALE).unwrap();
    let vitale_file = vitale_file.to_str().expect("a UTF-8 temporary path");
    let up = support::up(&dir.path().join("data"), &["--vitale-file", vitale_file]);
    assert!(up.banner.contains("software carte Vitale"), "{}", up.banner);

    // The card reads as a carte Vitale in its own reader, next to the test CPS.
    let o = run(&["card", "readers", "--json", "--endpoint", &up.card]);
    let readers = support::stdout(&o);
    assert!(readers.contains("Passerelle software Vitale"), "{readers}");

    // Default: the insured person; the other persons are listed, with how to choose.
    let o = search(&up, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["result"], "FOUND", "{v}");
    assert_eq!(v["ins"]["matricule"], "1090763220834", "{v}");
    assert_eq!(v["ins"]["birth_name"], "ECETINSI", "{v}");
    let err = stderr(&o);
    assert!(err.contains("--person"), "{err}");
    assert!(err.contains("PAT-DOUZE"), "{err}");

    // The beneficiary.
    let o = search(&up, &["--person", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["result"], "FOUND", "{v}");
    assert_eq!(v["ins"]["matricule"], "2480392630010", "{v}");

    // No such person: the persons are listed, exit 2.
    let o = search(&up, &["--person", "3"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("no person 3") && err.contains("ECETINSI"),
        "{err}"
    );

    // A reader without a carte Vitale.
    let o = search(&up, &["--reader", "Passerelle software token"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a carte Vitale"), "{}", stderr(&o));
}

#[test]
fn ins_search_without_traits_needs_vitale() {
    let o = run(&["ins", "search", "--birth-name", "X"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("--first-name"), "{err}");
}
