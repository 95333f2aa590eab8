//! Mutual TLS and access control: what the national service's front refuses.

use passerelle_sandbox::{InsiSandboxConfig, TestPki};
use time::{Duration, OffsetDateTime};

use crate::helpers::*;

fn adrtrois_request() -> Vec<u8> {
    read(&fixtures_dir().join("persons/adrtrois-dominique.AdrtroisDominique.request.xml"))
}

/// No answer at all: the TLS handshake fails, with TLS 1.2 (where the client sees it
/// during the handshake) and TLS 1.3 (where the server's alert follows it).
async fn assert_refused(make: impl Fn() -> Identity, what: &str) {
    let sandbox = start_default().await;
    for versions in [
        &[&rustls::version::TLS12][..],
        &[&rustls::version::TLS13][..],
    ] {
        let client = client_with_versions(make(), versions);
        let result = post(&client, &sandbox.url(), SOAP12_CT, adrtrois_request()).await;
        assert!(
            result.is_err(),
            "{what}: the handshake must fail, got HTTP {:?}",
            result.map(|r| r.status).ok()
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn missing_client_certificate_is_refused() {
    assert_refused(|| Identity::None, "no client certificate").await;
}

#[tokio::test]
async fn unknown_ca_is_refused() {
    let (cert, key) = TestPki::foreign_ca_client_cert("INSI-AUTO").unwrap();
    assert_refused(
        || Identity::Pem {
            cert: cert.clone(),
            key: key.clone(),
        },
        "foreign CA",
    )
    .await;
}

#[tokio::test]
async fn expired_certificate_is_refused() {
    let now = OffsetDateTime::now_utc();
    let (cert, key) = pki()
        .issue_client_cert(
            "INSI-AUTO",
            now - Duration::days(400),
            now - Duration::days(35),
        )
        .unwrap();
    assert_refused(
        || Identity::Pem {
            cert: cert.clone(),
            key: key.clone(),
        },
        "expired certificate",
    )
    .await;
}

#[tokio::test]
async fn a_certificate_of_the_test_ca_is_accepted() {
    let now = OffsetDateTime::now_utc();
    let (cert, key) = pki()
        .issue_client_cert(
            "INSI-MANU",
            now - Duration::days(1),
            now + Duration::days(30),
        )
        .unwrap();
    let sandbox = start_default().await;
    let reply = post_soap(
        &client(Identity::Pem { cert, key }),
        &sandbox.url(),
        adrtrois_request(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn other_cn_gets_desir_560() {
    let now = OffsetDateTime::now_utc();
    let (cert, key) = pki()
        .issue_client_cert("Padoa", now - Duration::days(1), now + Duration::days(30))
        .unwrap();
    let sandbox = start_default().await;
    let reply = post_soap(
        &client(Identity::Pem { cert, key }),
        &sandbox.url(),
        adrtrois_request(),
    )
    .await;
    let fault = fault_of(&reply);
    assert_eq!(fault.code, "soap:Sender");
    assert_eq!(fault.detail_code.as_deref(), Some("desir_560"));
    assert_eq!(
        fault.message_id.as_deref(),
        Some("uuid:b3549edd-4ae9-472a-b26f-fd2fb4ef397f")
    );
    check_insi("desir_560", &reply.body, true);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn cps_mode_needs_an_assertion() {
    let sandbox = start_default().await;
    let cps = client(Identity::Cps);
    let cps_dir = fixtures_dir().join("cps-mode");

    // The real capture's assertion: signed by a real IGC-Santé TEST card, which the
    // sandbox's CPS CA did not issue (correctly signed ones: `cps.rs`).
    let reply = post_soap(
        &cps,
        &sandbox.url(),
        read(&cps_dir.join("assertion-ps-request.2.xml")),
    )
    .await;
    assert_eq!(fault_of(&reply).detail_code.as_deref(), Some("desir_562"));

    // The same call without it: the card's certificate alone is not an INSI-* one.
    let reply = post_soap(
        &cps,
        &sandbox.url(),
        read(&cps_dir.join("assertion-ps-request.1.xml")),
    )
    .await;
    assert_eq!(fault_of(&reply).detail_code.as_deref(), Some("desir_560"));
    sandbox.shutdown().await;
}

/// The captured answer for an unknown IDAM, element for element (prefixes aside).
#[tokio::test]
async fn unknown_idam_gets_the_captured_fault() {
    let sandbox = start(InsiSandboxConfig {
        accepted_idams: vec!["PASSERELLE-IDAM".into()],
        ..InsiSandboxConfig::default()
    })
    .await;
    let reply = post_soap(&client(Identity::Org), &sandbox.url(), adrtrois_request()).await;
    assert_eq!(reply.status, 500);
    let got = reply.xml();
    let captured = parse(&read(&fixtures_dir().join(
        "service-errors/siram_100-desir_500-fake-idam.fakeIdamXmlResponse.xml",
    )))
    .unwrap();
    let fault = |doc: &Node| doc.find(NS_SOAP12, "Fault").expect("Fault").without_scope();
    assert_eq!(fault(&got), fault(&captured), "\n{}", reply.text());
    let info = fault_of(&reply);
    assert_eq!(info.subcode.as_deref(), Some("soap:siram_100"));
    assert_eq!(info.detail_code.as_deref(), Some("desir_550"));
    check_insi("siram_100", &reply.body, true);

    // An accepted IDAM passes.
    let body = String::from_utf8(adrtrois_request())
        .unwrap()
        .replace("IDAM-PLACEHOLDER", "PASSERELLE-IDAM");
    let reply = post_soap(&client(Identity::Org), &sandbox.url(), body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    sandbox.shutdown().await;
}
