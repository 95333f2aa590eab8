//! `ins-service` run alone, as in a distributed deployment: configuration file, NATS, roles,
//! JSON logs with the request id and no patient data, start-up errors that name the setting,
//! and a stop bounded in time. Tests wait for what the service logs, not for sleeps.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use passerelle_bus::testing::NatsServer;
use passerelle_proto::common::v1::{Actor, OrganisationMode, actor};
use passerelle_proto::ins::v1::{
    CheckMatriculeRequest, CheckMatriculeResponse, IdentityTraits, SearchByTraitsRequest,
    SearchResult, Sex, ins_service_client::InsServiceClient,
};
use passerelle_sandbox::insi::{InsiSandbox, InsiSandboxConfig};
use passerelle_sandbox::pki::TestPki;
use passerelle_service_kit::errors::summarise;
use support::{ServiceProcess, config_file};

fn organisation() -> Option<Actor> {
    Some(Actor {
        mode: Some(actor::Mode::Organisation(OrganisationMode::default())),
        professional: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_alone_on_nats_with_a_config_file_and_logs_no_patient_data() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::ensure(&dir.path().join("pki")).unwrap();
    let insi = InsiSandbox::start(InsiSandboxConfig::default(), &pki)
        .await
        .unwrap();
    let nats = NatsServer::start().expect("nats-server");
    let config = config_file(
        dir.path(),
        Some((&insi.url(), &pki)),
        "[log]\nfilter = \"debug\"\n",
    );
    let mut service = ServiceProcess::spawn(
        &["--config", config.to_str().unwrap(), "--nats", &nats.url()],
        &[],
    );
    let addr = service.wait_ready().await;
    let mut client = InsServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("the address it logged accepts gRPC");
    let mut req = tonic::Request::new(SearchByTraitsRequest {
        actor: organisation(),
        traits: Some(IdentityTraits {
            birth_name: "PAT-DOUZE".into(),
            first_names: vec!["NATHALIE".into()],
            sex: Sex::Female as i32,
            birth_date: "1948-03-21".into(),
            ..Default::default()
        }),
    });
    req.metadata_mut()
        .insert("x-request-id", "binary-test-42".parse().unwrap());
    let resp = client
        .search_by_traits(req)
        .await
        .expect("search")
        .into_inner();
    assert_eq!(resp.result, SearchResult::Found as i32);

    service.stop_cleanly().await;

    let logs = service.log_text();
    for line in &service.log {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    assert!(
        logs.contains("binary-test-42"),
        "the request id appears in the logs:\n{logs}"
    );
    assert!(logs.contains("ins-service stopped"), "{logs}");
    for secret in ["PAT-DOUZE", "NATHALIE", "2480392630010", "1948-03-21"] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs:\n{logs}"
        );
    }
    insi.shutdown().await;
}

/// A gRPC face loads no INSi certificate (the files named do not exist), and with no worker
/// on the bus its calls fail at once with a reason, not after the request timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_face_needs_no_certificate_and_answers_unavailable_at_once_without_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start().expect("nats-server");
    let config = config_file(
        dir.path(),
        None,
        "[grpc]\nrequest_timeout = \"60s\"\n[insi.tls.identity]\nkind = \"pem\"\n\
         cert = \"/nonexistent/org.crt\"\nkey = \"/nonexistent/org.key\"\n",
    );
    // The [grpc] table appears twice otherwise: name the listen address on the command line.
    std::fs::write(
        &config,
        std::fs::read_to_string(&config).unwrap().replacen(
            "[grpc]\nlisten = \"127.0.0.1:0\"\n",
            "",
            1,
        ),
    )
    .unwrap();
    let mut face = ServiceProcess::face(&nats.url(), &["--config", config.to_str().unwrap()]);
    let addr = face.wait_ready().await;
    let mut client = InsServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let began = Instant::now();
    let status = client
        .check_matricule(CheckMatriculeRequest {
            matricule: "2480392630010".into(),
            key: "64".into(),
        })
        .await
        .expect_err("no worker serves it");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert_eq!(summarise(&status).reason.as_deref(), Some("NO_WORKER"));
    assert!(status.message().contains("worker"), "{}", status.message());
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "answered after {:?}, the request timeout is 60 s",
        began.elapsed()
    );
    face.stop_cleanly().await;
}

/// A worker binds no gRPC port even when its configuration (shared with a face) names one,
/// and serves the bus: a face in another process answers through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_binds_no_port_and_a_separate_face_answers_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::ensure(&dir.path().join("pki")).unwrap();
    let insi = InsiSandbox::start(InsiSandboxConfig::default(), &pki)
        .await
        .unwrap();
    let nats = NatsServer::start().expect("nats-server");
    // A port known to be free, named in the configuration the worker reads.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let config = config_file(dir.path(), Some((&insi.url(), &pki)), "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    std::fs::write(&config, text).unwrap();

    let mut worker = ServiceProcess::spawn(
        &[
            "--config",
            config.to_str().unwrap(),
            "--nats",
            &nats.url(),
            "--worker-only",
        ],
        &[],
    );
    let ready = worker
        .wait_for_line(Duration::from_secs(30), |l| l.contains("ins-service ready"))
        .await
        .expect("the worker starts");
    assert!(ready.contains("worker only"), "{ready}");
    // The port it was configured with is still free: it binds nothing.
    std::net::TcpListener::bind(("127.0.0.1", port))
        .expect("a worker-only replica leaves the gRPC port free");

    let mut face = ServiceProcess::face(&nats.url(), &[]);
    let addr = face.wait_ready().await;
    let mut client = InsServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let answer: CheckMatriculeResponse = client
        .check_matricule(CheckMatriculeRequest {
            matricule: "2480392630010".into(),
            key: "64".into(),
        })
        .await
        .expect("the worker answers through the face")
        .into_inner();
    assert!(answer.valid);
    for p in [&mut face, &mut worker] {
        p.stop_cleanly().await;
    }
    insi.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_nats_credentials_stop_start_up_naming_the_setting() {
    let nats = NatsServer::start_with_config(
        "authorization { users = [ { user: \"ins\", password: \"right\" } ] }\n",
    )
    .expect("nats-server");
    let mut service = ServiceProcess::spawn(
        &["--nats", &nats.url(), "--worker-only"],
        &[
            ("PASSERELLE__BUS__USER", "ins"),
            ("PASSERELLE__BUS__PASSWORD", "wrong"),
            ("PASSERELLE__LOG__FORMAT", "human"),
        ],
    );
    let status = service
        .exit_within(Duration::from_secs(20))
        .await
        .expect("start-up fails instead of retrying forever");
    assert!(!status.success());
    let log = service.log_text();
    assert!(
        log.contains("bus.user") && log.contains("bus.password"),
        "{log}"
    );
    assert!(
        !log.contains("wrong"),
        "the password is never shown:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_nats_certificate_stops_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = test_ca("NATS test CA");
    let other_ca = test_ca("Some other CA");
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    let key = rcgen::KeyPair::generate().unwrap();
    let issuer = rcgen::Issuer::new(server_ca.2, server_ca.0);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let cert_file = write("server.crt", cert.pem());
    let key_file = write("server.key", key.serialize_pem());
    let other_ca_file = write("other-ca.crt", other_ca.1.pem());
    let nats = NatsServer::start_with_config(&format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
        cert_file.display(),
        key_file.display()
    ))
    .expect("nats-server with TLS");
    let mut service = ServiceProcess::spawn(
        &["--nats", &nats.url(), "--worker-only"],
        &[
            ("PASSERELLE__BUS__TLS__CA", other_ca_file.to_str().unwrap()),
            ("PASSERELLE__LOG__FORMAT", "human"),
        ],
    );
    let status = service
        .exit_within(Duration::from_secs(20))
        .await
        .expect("start-up fails");
    assert!(!status.success());
    let log = service.log_text();
    assert!(log.contains("bus.tls.ca"), "{log}");
}

/// SIGTERM while the NATS server is gone: the worker cannot drain (the server will never
/// confirm), yet it stops within `shutdown.grace`, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_nats_is_gone_stops_within_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::ensure(&dir.path().join("pki")).unwrap();
    let nats = NatsServer::start().expect("nats-server");
    let config = config_file(
        dir.path(),
        Some(("https://127.0.0.1:9/lps", &pki)),
        "[shutdown]\ngrace = \"2s\"\n",
    );
    let mut worker = ServiceProcess::spawn(
        &[
            "--config",
            config.to_str().unwrap(),
            "--nats",
            &nats.url(),
            "--worker-only",
        ],
        &[],
    );
    worker
        .wait_for_line(Duration::from_secs(30), |l| l.contains("ins-service ready"))
        .await
        .expect("the worker starts");
    drop(nats);
    worker
        .wait_for_line(Duration::from_secs(10), |l| {
            l.to_lowercase().contains("disconnect")
        })
        .await;
    let began = Instant::now();
    worker.terminate();
    let status = worker
        .exit_within(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("still running 10 s after SIGTERM:\n{}", worker.log_text()));
    assert!(
        began.elapsed() < Duration::from_secs(6),
        "stopped after {:?} with a 2 s grace",
        began.elapsed()
    );
    let log = worker.log_text();
    if !status.success() {
        assert!(log.contains("without finishing"), "{log}");
    }
}

fn test_ca(name: &str) -> (rcgen::KeyPair, rcgen::Certificate, rcgen::CertificateParams) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (key, cert, params)
}
