//! `passerelle ins search --vitale` end to end: `passerelle up --vitale-file` puts a software
//! carte Vitale (test/demo device) in a second reader of its card-agent; the CLI reads it over
//! the card-agent's local gRPC and searches the INSi sandbox (RECVITALE) through ins-service.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_passerelle");

/// Identities the sandbox knows (sandbox/data/insi-identities.toml): the insured person
/// ECETINSI PIERRE-ALAIN, and PAT-DOUZE NATHALIE as a beneficiary of the card.
const VITALE: &str = r#"
serial = "VITALE-TEST-0001"
[insured]
matricule = "1090763220834"
key = "89"
birth_name = "ECETINSI"
first_name = "PIERRE-ALAIN"
birth_date = "2009-07-14"

[[beneficiaries]]
matricule = "2480392630010"
key = "64"
birth_name = "PAT-DOUZE"
first_name = "NATHALIE"
birth_date = "1948-03-21"
"#;

struct Up {
    child: Child,
    ins: String,
    card: String,
}

impl Drop for Up {
    fn drop(&mut self) {
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

/// `passerelle up --vitale-file` on free ports, and the endpoints it printed.
fn up(data_dir: &Path, vitale_file: &Path) -> Up {
    let mut child = Command::new(BIN)
        .args([
            "up",
            "--ins-listen",
            "127.0.0.1:0",
            "--insi-listen",
            "127.0.0.1:0",
            "--card-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .arg("--vitale-file")
        .arg(vitale_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("passerelle up");
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = String::new();
    let (mut ins, mut card) = (None, None);
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
        if line.contains("Press Ctrl-C") {
            break;
        }
    }
    assert!(seen.contains("software carte Vitale"), "{seen}");
    std::thread::spawn(move || for _ in lines {});
    Up {
        child,
        ins: ins.unwrap_or_else(|| panic!("no ins-service endpoint printed:\n{seen}")),
        card: card.unwrap_or_else(|| panic!("no card-agent endpoint printed:\n{seen}")),
    }
}

fn search(up: &Up, extra: &[&str]) -> Output {
    Command::new(BIN)
        .args(["ins", "search", "--vitale", "--json", "--endpoint", &up.ins])
        .args(["--card-endpoint", &up.card])
        .args(extra)
        .output()
        .expect("passerelle ins search")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
fn ins_search_with_the_carte_vitale_against_passerelle_up() {
    let dir = tempfile::tempdir().unwrap();
    let vitale_file = dir.path().join("vitale.toml");
    std::fs::write(&vitale_file, VITALE).unwrap();
    let up = up(&dir.path().join("data"), &vitale_file);

    // The card reads as a carte Vitale in its own reader, next to the test CPS.
    let o = Command::new(BIN)
        .args(["card", "readers", "--json", "--endpoint", &up.card])
        .output()
        .unwrap();
    let readers = String::from_utf8_lossy(&o.stdout);
    assert!(readers.contains("Passerelle software Vitale"), "{readers}");

    // Default: the insured person; the other persons are listed, with how to choose.
    let o = search(&up, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = json(&o);
    assert_eq!(v["result"], "FOUND", "{v}");
    assert_eq!(v["ins"]["matricule"], "1090763220834", "{v}");
    assert_eq!(v["ins"]["birth_name"], "ECETINSI", "{v}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("--person"), "{stderr}");
    assert!(stderr.contains("PAT-DOUZE"), "{stderr}");

    // The beneficiary.
    let o = search(&up, &["--person", "2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = json(&o);
    assert_eq!(v["result"], "FOUND", "{v}");
    assert_eq!(v["ins"]["matricule"], "2480392630010", "{v}");

    // No such person: the persons are listed, exit 2.
    let o = search(&up, &["--person", "3"]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("no person 3") && stderr.contains("ECETINSI"),
        "{stderr}"
    );

    // A reader without a carte Vitale.
    let o = search(&up, &["--reader", "Passerelle software token"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a carte Vitale"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn ins_search_without_traits_needs_vitale() {
    let o = Command::new(BIN)
        .args(["ins", "search", "--birth-name", "X"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("--first-name"), "{stderr}");
}
