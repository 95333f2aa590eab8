//! `ins-service` run alone, as in a distributed deployment: configuration file, NATS, JSON
//! logs with the request id and no patient data, clean stop on SIGTERM.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use passerelle_bus::testing::NatsServer;
use passerelle_proto::common::v1::{Actor, OrganisationMode, actor};
use passerelle_proto::ins::v1::{
    IdentityTraits, SearchByTraitsRequest, SearchResult, Sex, ins_service_client::InsServiceClient,
};
use passerelle_sandbox::insi::{InsiSandbox, InsiSandboxConfig, SANDBOX_IDAM};
use passerelle_sandbox::pki::TestPki;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_alone_on_nats_with_a_config_file_and_logs_no_patient_data() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::ensure(&dir.path().join("pki")).unwrap();
    let insi = InsiSandbox::start(InsiSandboxConfig::default(), &pki)
        .await
        .unwrap();
    let nats = NatsServer::start().expect("nats-server");
    let port = free_port();
    let config = dir.path().join("ins-service.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[grpc]
listen = "127.0.0.1:{port}"
[insi]
endpoint = "{endpoint}"
emitter = "test@hospital.example"
[insi.tls]
trusted_ca = ["{ca}"]
[insi.tls.identity]
kind = "pem"
cert = "{cert}"
key = "{key}"
[insi.lps]
idam = "{SANDBOX_IDAM}"
[log]
format = "json"
filter = "debug"
"#,
            endpoint = insi.url(),
            ca = pki.ca_cert.display(),
            cert = pki.org_cert.display(),
            key = pki.org_key.display(),
        ),
    )
    .unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_ins-service"))
        .arg("--config")
        .arg(&config)
        .args(["--nats", &nats.url()])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ins-service starts");

    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut client = loop {
        match InsServiceClient::connect(endpoint.clone()).await {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("ins-service never listened: {e}"),
        }
    };
    let mut req = tonic::Request::new(SearchByTraitsRequest {
        actor: Some(Actor {
            mode: Some(actor::Mode::Organisation(OrganisationMode::default())),
            professional: None,
        }),
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

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "ins-service did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "clean exit on SIGTERM");

    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.to_string().contains("binary-test-42")),
        "the request id appears in the logs:\n{logs}"
    );
    for secret in ["PAT-DOUZE", "NATHALIE", "2480392630010", "1948-03-21"] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs:\n{logs}"
        );
    }
    insi.shutdown().await;
}
