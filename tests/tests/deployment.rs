//! docker-compose.yml and the Dockerfile cannot run here (no Docker engine): validate what can
//! be validated — the YAML, the binaries and files they name, the ports and hosts they wire.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use ins_service::InsSettings;
use ins_service::insi::ClientIdentity;
use passerelle_service_kit::settings::KitSettings;
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn compose() -> Yaml {
    let text =
        std::fs::read_to_string(root().join("docker-compose.yml")).expect("docker-compose.yml");
    YamlLoader::load_from_str(&text)
        .expect("docker-compose.yml is valid YAML")
        .remove(0)
}

/// Binary names the workspace builds (`[[bin]]` names or package names with a main.rs).
fn workspace_binaries() -> Vec<String> {
    let mut bins = Vec::new();
    for krate in ["cli", "ins-service", "sandbox"] {
        let manifest: toml::Table = std::fs::read_to_string(root().join(krate).join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        if let Some(list) = manifest.get("bin").and_then(|b| b.as_array()) {
            for b in list {
                bins.push(b["name"].as_str().unwrap().to_owned());
            }
        } else if root().join(krate).join("src/main.rs").exists() {
            bins.push(manifest["package"]["name"].as_str().unwrap().to_owned());
        }
    }
    bins
}

fn commands(c: &Yaml) -> Vec<(String, Vec<String>)> {
    c["services"]
        .as_hash()
        .expect("services")
        .iter()
        .filter(|(_, s)| !s["build"].is_badvalue())
        .map(|(name, s)| {
            let cmd: Vec<String> = s["command"]
                .as_vec()
                .expect("command as a list")
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            (name.as_str().unwrap().to_owned(), cmd)
        })
        .collect()
}

#[test]
fn every_binary_named_is_built_and_shipped() {
    let c = compose();
    let bins = workspace_binaries();
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    for (service, cmd) in commands(&c) {
        let bin = &cmd[0];
        assert!(
            bins.contains(bin),
            "{service} runs {bin}, not a workspace binary ({bins:?})"
        );
        assert!(
            dockerfile.contains(&format!("--bin {bin}"))
                && dockerfile.contains(&format!("release/{bin}")),
            "Dockerfile does not build and copy {bin}"
        );
    }
    for needed in ["nats", "sandbox", "ins-service"] {
        assert!(
            !c["services"][needed].is_badvalue(),
            "service {needed} missing"
        );
    }
}

#[test]
fn files_mounted_exist_and_the_configuration_loads() {
    let c = compose();
    let volumes = c["services"]["ins-service"]["volumes"].as_vec().unwrap();
    let mut config_file = None;
    for v in volumes {
        let v = v.as_str().unwrap();
        if let Some(local) = v.strip_prefix("./") {
            let host = local.split(':').next().unwrap();
            assert!(root().join(host).exists(), "{host} is mounted but missing");
            config_file = Some(root().join(host));
        }
    }
    let path = config_file.expect("ins-service mounts its configuration file");
    let cfg: InsSettings =
        passerelle_service_kit::config::load_with_env(Some(&path), Vec::new()).expect("loads");
    let kit: KitSettings =
        passerelle_service_kit::config::load_with_env(Some(&path), Vec::new()).expect("loads");

    // The endpoint's host and port are the sandbox service and the port it listens on.
    let sandbox_cmd = &commands(&c)
        .into_iter()
        .find(|(s, _)| s == "sandbox")
        .unwrap()
        .1;
    let listen = sandbox_cmd
        .iter()
        .skip_while(|a| *a != "--insi-listen")
        .nth(1)
        .expect("sandbox --insi-listen");
    let port = listen.rsplit(':').next().unwrap();
    assert_eq!(cfg.insi.endpoint, format!("https://sandbox:{port}/lps"));
    // The certificate paths are inside the sandbox's data volume, under pki/.
    let ClientIdentity::Pem { cert, key } = &cfg.insi.tls.identity else {
        panic!("PEM identity expected");
    };
    for p in [cert, key, &cfg.insi.tls.trusted_ca[0]] {
        assert!(p.starts_with("/data/pki"), "{}", p.display());
    }
    // The gRPC port published is the one configured.
    let ports = c["services"]["ins-service"]["ports"].as_vec().unwrap();
    assert!(
        ports
            .iter()
            .any(|p| p.as_str() == Some(&kit.grpc.listen.port().to_string()))
    );
    assert_eq!(kit.bus.nats_url.as_deref(), Some("nats://nats:4222"));
}

#[test]
fn the_sandbox_certificate_names_the_compose_host() {
    let dir = tempfile::tempdir().unwrap();
    let pki = passerelle_sandbox::pki::TestPki::ensure(dir.path()).unwrap();
    let pem = std::fs::read_to_string(&pki.server_cert).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(pem.as_bytes())?;
            child.wait_with_output()
        })
        .expect("openssl (apt-get install openssl)");
    let sans = String::from_utf8_lossy(&out.stdout);
    for name in ["DNS:localhost", "DNS:sandbox", "IP Address:127.0.0.1"] {
        assert!(sans.contains(name), "{name} missing from {sans}");
    }
}
