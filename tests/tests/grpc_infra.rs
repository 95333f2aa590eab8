//! What every service's gRPC server offers besides its API: health checking, server
//! reflection (tried with a reflection client, as grpcurl would, and with one we did not write),
//! request ids.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use passerelle_e2e::{BusKind, System, SystemOptions};
use serde_json::{Value, json};
use tonic::transport::Channel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

async fn channel(endpoint: &str) -> Result<Channel, tonic::transport::Error> {
    Channel::from_shared(endpoint.to_owned())
        .expect("endpoint URI")
        .connect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_serving_and_the_port_closes_on_stop() {
    let sys = System::start(SystemOptions {
        bus: BusKind::InProcess,
        ..Default::default()
    })
    .await;
    let endpoint = sys.ins_endpoint(0);
    let mut health = HealthClient::new(channel(&endpoint).await.unwrap());
    let status = health
        .check(HealthCheckRequest {
            service: "passerelle.ins.v1.InsService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    let unknown = health
        .check(HealthCheckRequest {
            service: "passerelle.nope.v1.Nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    sys.stop().await;
    // After a graceful stop nothing listens any more.
    assert!(channel(&endpoint).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_and_describes_the_services() {
    let sys = System::start(SystemOptions::default()).await;
    let mut client = ServerReflectionClient::new(channel(&sys.ins_endpoint(0)).await.unwrap());
    let requests = tokio_stream::iter(vec![
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "passerelle.ins.v1.InsService".into(),
            )),
        },
    ]);
    let mut responses = client
        .server_reflection_info(requests)
        .await
        .unwrap()
        .into_inner();
    let first = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = first.message_response else {
        panic!("expected a service list, got {first:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "passerelle.ins.v1.InsService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    let second = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::FileDescriptorResponse(files)) = second.message_response else {
        panic!("expected file descriptors, got {second:?}");
    };
    assert!(!files.file_descriptor_proto.is_empty());
    sys.stop().await;
}

/// The Python interpreter of the venv holding grpcio-reflection (tests/reflection), which
/// `./dev test` creates; `PASSERELLE_REFLECTION_PYTHON` names another one.
fn reflection_python() -> PathBuf {
    std::env::var_os("PASSERELLE_REFLECTION_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/reflection-venv/bin/python")
        })
}

/// Calls `method` (`package.Service/Method`) through tests/reflection/reflection_client.py, which
/// knows the method by name only: services listed and descriptors resolved by reflection
/// `version`. Returns the client's JSON report.
async fn call_by_reflection(address: &str, version: &str, method: &str, request: Value) -> Value {
    let python = reflection_python();
    assert!(
        python.exists(),
        "{} not found: the reflection client (Python grpcio-reflection, \
         tests/reflection/requirements.txt) is installed by `./dev test`; \
         or set PASSERELLE_REFLECTION_PYTHON to a python that has it",
        python.display()
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reflection/reflection_client.py");
    let output = tokio::process::Command::new(&python)
        .arg(script)
        .args([address, version, method, &request.to_string()])
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        output.status.success(),
        "reflection client ({version}, {method}) failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "reflection client printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Python's grpcio-reflection asks reflection `v1alpha`, grpcurl and Postman `v1`: with either,
/// a client that knows nothing of our protos lists the services and calls the methods by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reflection_client_we_did_not_write_lists_and_calls_methods_in_both_versions() {
    let sys = System::start(SystemOptions::default()).await;
    let address = sys.replicas[0]
        .grpc_addr
        .expect("the replica serves gRPC")
        .to_string();
    for version in ["v1alpha", "v1"] {
        let valid = call_by_reflection(
            &address,
            version,
            "passerelle.ins.v1.InsService/CheckMatricule",
            json!({"matricule": "2480392630010", "key": "64"}),
        )
        .await;
        let services = valid["services"].as_array().expect("services listed");
        for expected in [
            "passerelle.ins.v1.InsService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ] {
            assert!(
                services.iter().any(|s| s == expected),
                "{version}: {expected} missing from {services:?}"
            );
        }
        assert_eq!(
            valid["input_type"],
            "passerelle.ins.v1.CheckMatriculeRequest"
        );
        assert_eq!(
            valid["output_type"],
            "passerelle.ins.v1.CheckMatriculeResponse"
        );
        assert_eq!(valid["response"]["valid"], true, "{version}: {valid}");
        if version == "v1" {
            // The descriptors really came through v1, not a fallback to v1alpha.
            assert!(valid["v1_reflection_calls"].as_u64() > Some(0), "{valid}");
        }

        let typo = call_by_reflection(
            &address,
            version,
            "passerelle.ins.v1.InsService/CheckMatricule",
            json!({"matricule": "2480392630010", "key": "65"}),
        )
        .await;
        assert_eq!(typo["response"]["valid"], false, "{version}: {typo}");
        assert_eq!(typo["response"]["expected_key"], "64", "{version}: {typo}");

        // Nested messages from another file (the actor), an enum and a repeated field, through
        // the bus to INSi and back.
        let found = call_by_reflection(
            &address,
            version,
            "passerelle.ins.v1.InsService/SearchByTraits",
            json!({
                "actor": {"organisation": {"on_behalf_of": "reflection-test"}},
                "traits": {
                    "birth_name": "PAT-DOUZE",
                    "first_names": ["NATHALIE"],
                    "sex": "SEX_FEMALE",
                    "birth_date": "1948-03-21",
                },
            }),
        )
        .await;
        assert_eq!(
            found["response"]["result"], "SEARCH_RESULT_FOUND",
            "{version}: {found}"
        );
        assert_eq!(
            found["response"]["identity"]["ins"]["matricule"], "2480392630010",
            "{version}: {found}"
        );
    }
    sys.stop().await;
}
