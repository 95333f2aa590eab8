//! The `passerelle-sandbox` binary: prints where things are, stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;

#[tokio::test]
async fn binary_serves_and_stops_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_passerelle-sandbox"))
        .args([
            "--data-dir",
            data.path().to_str().unwrap(),
            "--insi-listen",
            "127.0.0.1:0",
            "--dmp-listen",
            "127.0.0.1:0",
            "--mss-directory-listen",
            "127.0.0.1:0",
            "--mss-listen",
            "127.0.0.1:0",
            "--mss-tls-listen",
            "127.0.0.1:0",
            "--mss-imap-listen",
            "127.0.0.1:0",
            "--mss-imaps-listen",
            "127.0.0.1:0",
            "--latency-ms",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let (endpoint, lines) = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        let mut endpoint = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(url) = line.strip_prefix("INSi sandbox endpoint: ") {
                endpoint = Some(url.trim().to_owned());
            }
            let done = line.contains("server key");
            lines.push(line);
            if done {
                break;
            }
        }
        (endpoint, lines)
    })
    .await
    .unwrap();
    let endpoint = endpoint.unwrap_or_else(|| panic!("no endpoint printed: {lines:?}"));
    let printed = lines.join("\n");
    assert!(printed.contains("?wsdl"), "{printed}");
    assert!(printed.contains("org.p12"), "{printed}");
    assert!(printed.contains("org-sign.p12"), "{printed}");
    assert!(
        printed.contains("MSS sandbox SMTP:      127.0.0.1:") && printed.contains("(implicit TLS)"),
        "{printed}"
    );
    assert!(
        printed.contains("MSS sandbox IMAP:      127.0.0.1:"),
        "{printed}"
    );
    assert!(
        printed.contains("DMP sandbox services:  https://127.0.0.1:")
            && printed.contains("/si-dmp-server/v2/services"),
        "{printed}"
    );

    // The binary's PKI is its own (in its data dir): use its certificates.
    let pki_dir = data.path().join("pki");
    let reply = {
        let read_pem = |name: &str| String::from_utf8(read(&pki_dir.join(name))).unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        use rustls_pki_types::pem::PemObject;
        roots
            .add(
                rustls_pki_types::CertificateDer::from_pem_slice(read_pem("ca.crt").as_bytes())
                    .unwrap(),
            )
            .unwrap();
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(
                vec![
                    rustls_pki_types::CertificateDer::from_pem_slice(
                        read_pem("org.crt").as_bytes(),
                    )
                    .unwrap(),
                ],
                rustls_pki_types::PrivateKeyDer::from_pem_slice(read_pem("org.key").as_bytes())
                    .unwrap(),
            )
            .unwrap();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .build()
            .unwrap();
        post_soap(
            &client,
            &endpoint,
            read(&fixtures_dir().join("persons/adrtrois-dominique.AdrtroisDominique.request.xml")),
        )
        .await
    };
    assert_eq!(reply.status, 200, "{}", reply.text());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the binary did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(exit.code(), Some(0), "clean exit on SIGTERM");
}
