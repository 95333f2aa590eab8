//! The transport tells a TLS failure from a refused connection and from a timeout, and talks
//! TLS 1.2 with the DMP suites to a server of the test PKI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use dmp_service::client::transport::{Service, Transport};
use dmp_service::client::{ClientIdentity, ClientTls, DmpClientConfig, DmpError};
use passerelle_sandbox::insi::{InsiSandbox, InsiSandboxConfig};
use passerelle_sandbox::pki::TestPki;

fn config(endpoint: String, pki: &TestPki, trusted: &TestPki) -> DmpClientConfig {
    DmpClientConfig {
        endpoint,
        timeout: Duration::from_secs(10),
        tls: ClientTls {
            identity: Some(ClientIdentity::Pem {
                cert: pki.org_cert.clone(),
                key: pki.org_key.clone(),
            }),
            trusted_ca: vec![trusted.ca_cert.clone()],
        },
        ..DmpClientConfig::default()
    }
}

async fn post(t: &Transport) -> Result<u16, DmpError> {
    t.post(
        Service::Patients,
        "application/soap+xml; charset=UTF-8",
        b"<x/>".to_vec().into(),
    )
    .await
    .map(|r| r.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_failure_refused_connection_and_timeout_are_told_apart() {
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let a = TestPki::ensure(dir_a.path()).unwrap();
    let b = TestPki::ensure(dir_b.path()).unwrap();
    let server = InsiSandbox::start(InsiSandboxConfig::default(), &a)
        .await
        .unwrap();
    let base = format!("https://{}/si-dmp-server/v2/services", server.addr());

    // The right CA and a client certificate the server knows: TLS 1.2 with our suites works
    // (the server answers HTTP, whatever it says about the path).
    let ok = Transport::new(&config(base.clone(), &a, &a)).unwrap();
    let status = post(&ok).await.unwrap();
    assert!(status >= 200, "{status}");

    // A server certificate from a CA we do not trust.
    let untrusted = Transport::new(&config(base.clone(), &a, &b)).unwrap();
    let e = post(&untrusted).await.unwrap_err();
    assert!(
        matches!(&e, DmpError::Tls { reason } if reason.contains("trusted CA")),
        "{e:?}"
    );
    assert!(!e.is_transient());

    // Our certificate is from a CA the server does not trust.
    let foreign = Transport::new(&config(base.clone(), &b, &a)).unwrap();
    let e = post(&foreign).await.unwrap_err();
    assert!(matches!(&e, DmpError::Tls { .. }), "{e:?}");

    server.shutdown().await;

    // Nobody listens.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refused = Transport::new(&config(
        format!("https://127.0.0.1:{port}/si-dmp-server/v2/services"),
        &a,
        &a,
    ))
    .unwrap();
    let e = post(&refused).await.unwrap_err();
    assert!(matches!(&e, DmpError::Connect { .. }), "{e:?}");
    assert!(e.is_transient());

    // Accepts, never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let mut cfg = config(format!("https://{addr}/si-dmp-server/v2/services"), &a, &a);
    cfg.timeout = Duration::from_millis(400);
    let slow = Transport::new(&cfg).unwrap();
    let e = post(&slow).await.unwrap_err();
    assert!(matches!(&e, DmpError::Timeout { .. }), "{e:?}");
    assert!(e.is_transient());
    hold.abort();
}

#[test]
fn configuration_errors_are_config() {
    let dir = tempfile::tempdir().unwrap();
    let a = TestPki::ensure(dir.path()).unwrap();
    let mut c = config("http://dmp.test/si-dmp-server/v2/services".into(), &a, &a);
    assert!(matches!(Transport::new(&c), Err(DmpError::Config { .. })));
    c.endpoint = "https://dmp.test/si-dmp-server/v2/services".into();
    c.tls.trusted_ca.clear();
    assert!(matches!(Transport::new(&c), Err(DmpError::Config { .. })));
    let mut c = config("https://dmp.test/si-dmp-server/v2/services/".into(), &a, &a);
    c.tls.identity = Some(ClientIdentity::Pkcs12 {
        path: a.org_p12.clone(),
        password: "wrong".into(),
    });
    assert!(
        matches!(Transport::new(&c), Err(DmpError::Config { reason }) if reason.contains("password"))
    );
    c.tls.identity = Some(ClientIdentity::Pkcs12 {
        path: a.org_p12.clone(),
        password: passerelle_sandbox::pki::ORG_P12_PASSWORD.into(),
    });
    let t = Transport::new(&c).unwrap();
    assert_eq!(
        t.url(Service::Registry),
        "https://dmp.test/si-dmp-server/v2/services/registry"
    );
}
