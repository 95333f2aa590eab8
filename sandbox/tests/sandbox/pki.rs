//! The test PKI: generated once, loaded afterwards, repaired piece by piece.

use std::process::Command;

use passerelle_sandbox::{ORG_P12_PASSWORD, TestPki};

fn files(pki: &TestPki) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    [
        &pki.ca_cert,
        &pki.ca_key,
        &pki.cps_ca_cert,
        &pki.cps_ca_key,
        &pki.org_cert,
        &pki.org_key,
        &pki.org_p12,
        &pki.cps_cert,
        &pki.cps_key,
        &pki.server_cert,
        &pki.server_key,
    ]
    .into_iter()
    .map(|p| {
        (
            p.clone(),
            std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
    })
    .collect()
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ensure_is_idempotent_and_repairs() {
    let dir = tempfile::tempdir().unwrap();
    let first = TestPki::ensure(dir.path()).unwrap();
    let before = files(&first);
    let second = TestPki::ensure(dir.path()).unwrap();
    assert_eq!(first, second);
    assert_eq!(before, files(&second), "a second ensure changes nothing");

    // A missing PKCS#12 is rebuilt from the same certificate; nothing else moves.
    std::fs::remove_file(&first.org_p12).unwrap();
    TestPki::ensure(dir.path()).unwrap();
    let after = files(&first);
    for ((path, old), (_, new)) in before.iter().zip(&after) {
        if *path != first.org_p12 {
            assert_eq!(old, new, "{} changed", path.display());
        }
    }

    // A corrupt leaf is reissued by the same CA.
    std::fs::write(&first.cps_cert, b"garbage").unwrap();
    TestPki::ensure(dir.path()).unwrap();
    let after = files(&first);
    assert_eq!(before[0], after[0], "same root CA");
    assert_ne!(std::fs::read(&first.cps_cert).unwrap(), b"garbage");
    openssl(&[
        "verify",
        "-CAfile",
        first.ca_cert.to_str().unwrap(),
        "-untrusted",
        first.cps_ca_cert.to_str().unwrap(),
        first.cps_cert.to_str().unwrap(),
    ]);

    // A key that does not match its certificate counts as corrupt too.
    std::fs::copy(&first.server_key, &first.org_key).unwrap();
    TestPki::ensure(dir.path()).unwrap();
    let modulus = |args: &[&str]| openssl(args);
    let cert_pub = modulus(&[
        "x509",
        "-in",
        first.org_cert.to_str().unwrap(),
        "-noout",
        "-pubkey",
    ]);
    let key_pub = modulus(&["pkey", "-in", first.org_key.to_str().unwrap(), "-pubout"]);
    assert_eq!(cert_pub, key_pub);

    // A new root CA means everything is reissued under it.
    std::fs::write(&first.ca_key, b"not a key").unwrap();
    TestPki::ensure(dir.path()).unwrap();
    assert_ne!(std::fs::read(&first.ca_cert).unwrap(), before[0].1);
    for leaf in [&first.org_cert, &first.server_cert] {
        openssl(&[
            "verify",
            "-CAfile",
            first.ca_cert.to_str().unwrap(),
            leaf.to_str().unwrap(),
        ]);
    }
}

#[test]
fn certificates_have_the_expected_shape() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::ensure(dir.path()).unwrap();

    let org = openssl(&[
        "x509",
        "-in",
        pki.org_cert.to_str().unwrap(),
        "-noout",
        "-subject",
        "-ext",
        "extendedKeyUsage",
    ]);
    assert!(org.contains("CN = INSI-AUTO"), "{org}");
    assert!(org.contains("O = ") && org.contains("OU = "), "{org}");
    assert!(org.contains("TLS Web Client Authentication"), "{org}");

    let cps = openssl(&[
        "x509",
        "-in",
        pki.cps_cert.to_str().unwrap(),
        "-noout",
        "-subject",
        "-issuer",
    ]);
    for part in ["C = FR", "title = ", "GN = ", "SN = ", "CN = 00B"] {
        assert!(cps.contains(part), "CPS subject lacks {part}: {cps}");
    }
    assert!(
        cps.contains("CN = TEST AC IGC-SANTE FORT PERSONNES"),
        "{cps}"
    );
    assert!(cps.contains("O = Passerelle sandbox"), "{cps}");

    let server = openssl(&[
        "x509",
        "-in",
        pki.server_cert.to_str().unwrap(),
        "-noout",
        "-ext",
        "subjectAltName",
    ]);
    assert!(
        server.contains("DNS:localhost") && server.contains("IP Address:127.0.0.1"),
        "{server}"
    );

    // The PKCS#12 opens with the documented password.
    let p12 = openssl(&[
        "pkcs12",
        "-in",
        pki.org_p12.to_str().unwrap(),
        "-passin",
        &format!("pass:{ORG_P12_PASSWORD}"),
        "-nokeys",
    ]);
    assert!(p12.contains("INSI-AUTO"), "{p12}");
    let keys = openssl(&[
        "pkcs12",
        "-in",
        pki.org_p12.to_str().unwrap(),
        "-passin",
        &format!("pass:{ORG_P12_PASSWORD}"),
        "-nocerts",
        "-nodes",
    ]);
    assert!(keys.contains("PRIVATE KEY"), "the PKCS#12 holds the key");

    let described = pki.describe();
    for path in [
        &pki.ca_cert,
        &pki.org_cert,
        &pki.org_key,
        &pki.org_p12,
        &pki.cps_cert,
        &pki.cps_key,
        &pki.server_cert,
        &pki.server_key,
    ] {
        assert!(
            described.contains(&path.display().to_string()),
            "{described}"
        );
    }
    assert!(described.contains(ORG_P12_PASSWORD));
}
