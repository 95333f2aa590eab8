//! The organisation's signature certificate: RSA-2048, nonRepudiation only, no extended
//! key usage, in its PKCS#12 too; kept by a second `ensure`, regenerated when missing.

use std::process::Command;

use passerelle_sandbox::{ORG_P12_PASSWORD, TestPki};

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_organisation_signature_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::ensure(dir.path()).unwrap();
    let text = openssl(&[
        "x509",
        "-in",
        pki.org_sign_cert.to_str().unwrap(),
        "-noout",
        "-text",
    ]);
    assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
    assert!(text.contains("rsaEncryption"), "{text}");
    assert!(text.contains("Non Repudiation"), "{text}");
    assert!(!text.contains("Digital Signature"), "{text}");
    assert!(!text.contains("Extended Key Usage"), "{text}");
    assert!(
        text.contains("CN = INSI-AUTO") || text.contains("CN=INSI-AUTO"),
        "{text}"
    );
    // Issued by the root CA.
    let verify = openssl(&[
        "verify",
        "-CAfile",
        pki.ca_cert.to_str().unwrap(),
        pki.org_sign_cert.to_str().unwrap(),
    ]);
    assert!(verify.contains("OK"), "{verify}");
    // The PKCS#12 opens with the organisation password and holds it.
    let pass = format!("pass:{ORG_P12_PASSWORD}");
    let p12 = openssl(&[
        "pkcs12",
        "-in",
        pki.org_sign_p12.to_str().unwrap(),
        "-passin",
        &pass,
        "-nokeys",
        "-clcerts",
    ]);
    let pem = std::fs::read_to_string(&pki.org_sign_cert).unwrap();
    let body = |s: &str| -> String {
        let a = s.find("-----BEGIN CERTIFICATE-----").unwrap();
        let b = s.find("-----END CERTIFICATE-----").unwrap();
        s[a..b].split_whitespace().collect()
    };
    assert_eq!(body(&p12), body(&pem));
    assert!(pki.describe().contains("org-sign.crt"));

    // Idempotent; a missing key regenerates the pair and its PKCS#12.
    let before = std::fs::read(&pki.org_sign_cert).unwrap();
    TestPki::ensure(dir.path()).unwrap();
    assert_eq!(before, std::fs::read(&pki.org_sign_cert).unwrap());
    std::fs::remove_file(&pki.org_sign_key).unwrap();
    TestPki::ensure(dir.path()).unwrap();
    assert_ne!(before, std::fs::read(&pki.org_sign_cert).unwrap());
    let p12 = openssl(&[
        "pkcs12",
        "-in",
        pki.org_sign_p12.to_str().unwrap(),
        "-passin",
        &pass,
        "-nokeys",
        "-clcerts",
    ]);
    assert_eq!(
        body(&p12),
        body(&std::fs::read_to_string(&pki.org_sign_cert).unwrap())
    );
}
