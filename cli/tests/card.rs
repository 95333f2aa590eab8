//! `passerelle card …` against `passerelle up`: the card-agent on the sandbox's test CPS
//! (PIN 1234). Signatures are checked with OpenSSL.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;

use support::{card, json, stderr, stdout, terminate, up};

fn openssl_verifies(dir: &Path, cert_pem: &str, data: &[u8], signature: &[u8]) -> bool {
    let cert = dir.join("signer.crt");
    let public = dir.join("signer.pub");
    let data_path = dir.join("data.bin");
    let sig = dir.join("data.sig");
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&data_path, data).unwrap();
    std::fs::write(&sig, signature).unwrap();
    let ok = Command::new("openssl")
        .args(["x509", "-pubkey", "-noout", "-in"])
        .arg(&cert)
        .arg("-out")
        .arg(&public)
        .status()
        .expect("openssl")
        .success();
    assert!(ok, "openssl x509");
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&public)
        .arg("-signature")
        .arg(&sig)
        .arg(&data_path)
        .output()
        .unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

fn sha256_hex(dir: &Path, data: &[u8]) -> String {
    let path = dir.join("to-sign.bin");
    std::fs::write(&path, data).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .arg(&path)
        .output()
        .expect("openssl dgst");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

#[test]
fn card_read_and_sign_against_passerelle_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = up(dir.path(), &[]);
    let endpoint = up.card.clone();

    let o = card(&endpoint, &["readers", "--json"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["readers"][0]["card"], "CPS");
    assert_eq!(v["readers"][0]["card_serial"], "00B9900001");

    let o = card(&endpoint, &["read", "--json"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["kind"], "CPS");
    let h = &v["holder"];
    assert_eq!(h["id_type"], "RPPS");
    assert!(!h["id"].as_str().unwrap().is_empty());
    assert_eq!(h["last_name"], "MEDECIN SANDBOX0001");
    assert_eq!(h["first_name"], "JEANNE");
    assert_eq!(h["profession"], "10");
    for c in ["auth_certificate", "sign_certificate"] {
        assert!(
            h[c].as_str()
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----"),
            "{c}"
        );
    }

    let data = b"<saml2:Assertion ID=\"x\">tutorial</saml2:Assertion>";
    let digest = sha256_hex(dir.path(), data);

    // No PIN yet: the agent says it needs one.
    let o = card(&endpoint, &["sign", "--digest", &digest, "--json"], None);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stderr(&o).contains("PIN_REQUIRED"), "{}", stderr(&o));

    // A wrong PIN: tries left told, not retried.
    let o = card(
        &endpoint,
        &["sign", "--digest", &digest, "--pin-stdin", "--json"],
        Some("0000\n"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("2 tries left"), "{}", stderr(&o));

    let o = card(
        &endpoint,
        &["sign", "--digest", &digest, "--pin-stdin", "--json"],
        Some("1234\n"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["algorithm"], "rsa-pkcs1-sha256");
    let cert = v["certificate"].as_str().unwrap();
    let sig = base64_decode(v["signature"].as_str().unwrap());
    assert!(
        openssl_verifies(dir.path(), cert, data, &sig),
        "OpenSSL verifies the CPS signature"
    );
    assert_eq!(
        cert, h["sign_certificate"],
        "signed with the signature key by default"
    );

    // Bad digest: refused by the command line.
    let o = card(&endpoint, &["sign", "--digest", "abcd"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("64 hex digits"), "{}", stderr(&o));

    let status = terminate(&mut up.child);
    assert!(status.success(), "clean stop: {status:?}");
}

#[test]
fn card_without_agent_says_so() {
    let o = card("http://127.0.0.1:9", &["readers"], None);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("cannot reach the card-agent"),
        "{}",
        stderr(&o)
    );
}
