//! Helpers shared by the CLI integration tests: run the `passerelle` binary, read its output,
//! start `passerelle up` on free ports and stop it.
//!
//! Each test file compiles this module on its own (`mod support;`), so a helper one file does
//! not use would warn there.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_passerelle");

/// `passerelle <args>`, waited for.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("passerelle runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Stdout as JSON; panics with both streams when it is not.
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

/// `passerelle card <args> --endpoint <endpoint>`, with `stdin` typed in (stdin is closed
/// either way).
pub fn card(endpoint: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .arg("card")
        .args(args)
        .args(["--endpoint", endpoint])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("passerelle card");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// A running `passerelle up` and the endpoints it printed. Dropping it stops the process
/// (SIGTERM, then SIGKILL after 30 s) unless [`terminate`] already did.
pub struct Up {
    pub child: Child,
    /// The ins-service gRPC endpoint.
    pub ins: String,
    /// The card-agent's local gRPC endpoint.
    pub card: String,
    /// The dmp-service gRPC endpoint.
    pub dmp: String,
    /// The DMP sandbox's services URL.
    pub dmp_sandbox: String,
    /// The mss-service gRPC endpoint.
    pub mss: String,
    /// The share-service gRPC endpoint.
    pub share: String,
    /// Everything `up` printed up to "Press Ctrl-C".
    pub banner: String,
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `passerelle up` on free ports with its data in `data_dir` and `extra` arguments after;
/// waits for "Press Ctrl-C" and returns the endpoints it printed.
pub fn up(data_dir: &Path, extra: &[&str]) -> Up {
    let mut child = Command::new(BIN)
        .args([
            "up",
            "--ins-listen",
            "127.0.0.1:0",
            "--insi-listen",
            "127.0.0.1:0",
            "--card-listen",
            "127.0.0.1:0",
            "--dmp-listen",
            "127.0.0.1:0",
            "--dmp-sandbox-listen",
            "127.0.0.1:0",
            "--mss-listen",
            "127.0.0.1:0",
            "--share-listen",
            "127.0.0.1:0",
            "--mss-sandbox-listen",
            "127.0.0.1:0",
            "--mss-sandbox-tls-listen",
            "127.0.0.1:0",
            "--mss-sandbox-imap-listen",
            "127.0.0.1:0",
            "--mss-sandbox-imaps-listen",
            "127.0.0.1:0",
            "--directory-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("passerelle up");
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = String::new();
    let (mut ins, mut card, mut dmp, mut dmp_sandbox, mut mss, mut share) =
        (None, None, None, None, None, None);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        seen.push_str(&line);
        seen.push('\n');
        let first_word = |rest: &str| rest.split_whitespace().next().map(str::to_owned);
        if let Some(rest) = line.trim().strip_prefix("ins-service   gRPC ") {
            ins = first_word(rest);
        }
        if let Some(rest) = line.trim().strip_prefix("card-agent    gRPC ") {
            card = first_word(rest);
        }
        if let Some(rest) = line.trim().strip_prefix("dmp-service   gRPC ") {
            dmp = first_word(rest);
        }
        if let Some(rest) = line.trim().strip_prefix("mss-service   gRPC ") {
            mss = first_word(rest);
        }
        if let Some(rest) = line.trim().strip_prefix("share-service gRPC ") {
            share = first_word(rest);
        }
        if let Some(rest) = line.trim().strip_prefix("DMP sandbox   ") {
            dmp_sandbox = first_word(rest);
        }
        if line.contains("Press Ctrl-C") {
            break;
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let up = Up {
        child,
        ins: ins.unwrap_or_else(|| panic!("no ins-service endpoint printed:\n{seen}")),
        card: card.unwrap_or_else(|| panic!("no card-agent endpoint printed:\n{seen}")),
        dmp: dmp.unwrap_or_else(|| panic!("no dmp-service endpoint printed:\n{seen}")),
        dmp_sandbox: dmp_sandbox.unwrap_or_else(|| panic!("no DMP sandbox URL printed:\n{seen}")),
        mss: mss.unwrap_or_else(|| panic!("no mss-service endpoint printed:\n{seen}")),
        share: share.unwrap_or_else(|| panic!("no share-service endpoint printed:\n{seen}")),
        banner: seen,
    };
    assert!(
        up.banner.contains("org.crt"),
        "PKI paths printed:\n{}",
        up.banner
    );
    up
}

/// SIGTERM to `passerelle up`, and its exit status; fails if it has not stopped within 30 s.
pub fn terminate(child: &mut Child) -> ExitStatus {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "passerelle up did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}
