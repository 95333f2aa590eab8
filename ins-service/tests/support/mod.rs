//! The `ins-service` binary run as a separate process: its JSON log lines read as they come,
//! so that tests wait for what the service says (ready, stopped) instead of sleeping.

#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// A running `ins-service` process.
pub struct ServiceProcess {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    /// Every line read so far.
    pub log: Vec<String>,
}

impl ServiceProcess {
    /// Starts `ins-service ARGS` with JSON logs and `env` added to the environment.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> ServiceProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ins-service"));
        cmd.args(args)
            .env_remove("RUST_LOG")
            .env("PASSERELLE__LOG__FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("ins-service starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ServiceProcess {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// Waits for a log line matching `pred` (the whole log so far is kept in `log`).
    pub async fn wait_for_line(
        &mut self,
        within: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.log.push(line.clone());
                    if pred(&line) {
                        return Some(line);
                    }
                }
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Waits for the "ins-service ready" line and returns its gRPC address field.
    pub async fn wait_ready(&mut self) -> String {
        let line = self
            .wait_for_line(Duration::from_secs(30), |l| l.contains("ins-service ready"))
            .await
            .unwrap_or_else(|| panic!("ins-service never said ready:\n{}", self.log.join("\n")));
        let json: serde_json::Value = serde_json::from_str(&line).expect("JSON log line");
        json["fields"]["grpc"]
            .as_str()
            .expect("the ready line names the gRPC address")
            .to_owned()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("still running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit, reading its remaining log; `None` if it is still
    /// running after `within` (it is then killed).
    pub async fn exit_within(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let status = tokio::time::timeout(within, self.child.wait()).await;
        // The pipe closes with the process: read what is left.
        while let Ok(Some(line)) =
            tokio::time::timeout(Duration::from_secs(2), self.lines.recv()).await
        {
            self.log.push(line);
        }
        match status {
            Ok(s) => Some(s.expect("wait")),
            Err(_) => {
                let _ = self.child.kill().await;
                None
            }
        }
    }

    /// SIGTERM, then asserts a clean stop (exit 0) within 15 s.
    pub async fn stop_cleanly(&mut self) {
        self.terminate();
        let code = self
            .exit_within(Duration::from_secs(15))
            .await
            .and_then(|s| s.code());
        assert_eq!(code, Some(0), "clean exit on SIGTERM:\n{}", self.log_text());
    }

    /// A gRPC face on `nats`: `--grpc-only`, listening on a free port, `args` added.
    pub fn face(nats: &str, args: &[&str]) -> ServiceProcess {
        let mut all = vec!["--nats", nats, "--listen", "127.0.0.1:0", "--grpc-only"];
        all.extend_from_slice(args);
        ServiceProcess::spawn(&all, &[])
    }

    pub fn log_text(&self) -> String {
        self.log.join("\n")
    }
}

/// An ins-service configuration file in `dir` pointing at `insi_url`, with `extra` appended.
pub fn config_file(
    dir: &Path,
    insi: Option<(&str, &passerelle_sandbox::pki::TestPki)>,
    extra: &str,
) -> std::path::PathBuf {
    let mut text = String::from("[grpc]\nlisten = \"127.0.0.1:0\"\n");
    if let Some((url, pki)) = insi {
        text.push_str(&format!(
            r#"
[insi]
endpoint = "{url}"
emitter = "test@hospital.example"
[insi.tls]
trusted_ca = ["{ca}"]
[insi.tls.identity]
kind = "pem"
cert = "{cert}"
key = "{key}"
[insi.lps]
idam = "{idam}"
"#,
            ca = pki.ca_cert.display(),
            cert = pki.org_cert.display(),
            key = pki.org_key.display(),
            idam = passerelle_sandbox::insi::SANDBOX_IDAM,
        ));
    }
    text.push_str(extra);
    let path = dir.join("ins-service.toml");
    std::fs::write(&path, text).expect("config written");
    path
}
