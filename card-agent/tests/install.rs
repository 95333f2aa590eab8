//! Starting with the workstation: the generated definitions are checked by the platform's own
//! tools where this machine has them (`systemd-analyze verify`), and parsed otherwise (the
//! plist with quick-xml, the unit's keys in Rust).

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use card_agent::install::{
    self, InstallPaths, LAUNCHD_LABEL, Platform, SYSTEMD_UNIT_NAME, launchd_plist, systemd_unit,
};
use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;

fn linux_paths(home: &Path, binary: &Path) -> InstallPaths {
    InstallPaths {
        platform: Platform::Linux,
        binary: binary.to_owned(),
        config: home.join(".config/passerelle/card agent.toml"),
        home: home.to_owned(),
        app_data: None,
    }
}

/// The unit's sections and keys are ones systemd knows, each once, with the values we mean.
fn check_unit_keys(unit: &str, binary: &str) {
    let known: &[(&str, &[&str])] = &[
        ("Unit", &["Description"]),
        ("Service", &["Type", "ExecStart", "Restart", "RestartSec"]),
        ("Install", &["WantedBy"]),
    ];
    let mut section = "";
    let mut seen = Vec::new();
    for line in unit.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = known
                .iter()
                .find(|(s, _)| *s == name)
                .unwrap_or_else(|| panic!("unknown section [{name}]"))
                .0;
            continue;
        }
        let (key, value) = line.split_once('=').expect("key=value");
        let keys = known.iter().find(|(s, _)| *s == section).unwrap().1;
        assert!(keys.contains(&key), "unknown key {key} in [{section}]");
        assert!(!seen.contains(&(section, key)), "{key} twice");
        seen.push((section, key));
        match key {
            "Type" => assert_eq!(value, "simple"),
            "Restart" => assert_eq!(value, "on-failure"),
            "WantedBy" => assert_eq!(value, "default.target"),
            "ExecStart" => assert!(value.starts_with(&format!("\"{binary}\" run --config \""))),
            _ => {}
        }
    }
    for needed in ["ExecStart", "Restart", "WantedBy"] {
        assert!(seen.iter().any(|(_, k)| *k == needed), "{needed} missing");
    }
}

#[test]
fn systemd_unit_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    // systemd-analyze checks that the program exists and is executable: use this test binary.
    let binary = std::env::current_exe().unwrap();
    let binary = binary.to_str().unwrap();
    let config = dir.path().join("50% of $HOME/card agent.toml");
    let unit = systemd_unit(binary, config.to_str().unwrap());
    check_unit_keys(&unit, binary);

    let file = dir.path().join(SYSTEMD_UNIT_NAME);
    std::fs::write(&file, &unit).unwrap();
    match Command::new("systemd-analyze")
        .arg("verify")
        .arg(&file)
        .output()
    {
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "systemd-analyze verify: {stderr}");
            // It reports unknown keys and bad values as warnings, with the file name.
            assert!(
                !stderr.contains(SYSTEMD_UNIT_NAME),
                "systemd-analyze verify complained:\n{stderr}\n{unit}"
            );
        }
        Err(e) => eprintln!(
            "NOTE: systemd-analyze not runnable here ({e}): the unit was checked by the Rust key \
             check only (Debian package `systemd` provides systemd-analyze)"
        ),
    }
}

#[test]
fn launch_agent_plist_is_well_formed() {
    let plist = launchd_plist(
        "/Applications/Passerelle/card-agent",
        "/Users/dr/Library/Application Support/Passerelle/a&b <c>.toml",
        "/Users/dr/Library/Logs/passerelle-card-agent.log",
    );
    let mut reader = Reader::from_str(&plist);
    let mut depth = 0i32;
    let mut root = None;
    let mut keys = Vec::new();
    let mut strings = Vec::new();
    // The element being read and its text (quick-xml reports `&amp;` & co. apart).
    let mut current = String::new();
    let mut text = String::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                if depth == 0 {
                    root = Some(name.clone());
                }
                current = name;
                text.clear();
                depth += 1;
            }
            Event::End(_) => {
                depth -= 1;
                match current.as_str() {
                    "key" => keys.push(std::mem::take(&mut text)),
                    "string" => strings.push(std::mem::take(&mut text)),
                    _ => {}
                }
                current.clear();
            }
            Event::Text(t) => text.push_str(&t.xml_content().unwrap()),
            Event::GeneralRef(r) => {
                let name = r.decode().unwrap();
                let resolved = resolve_predefined_entity(&name)
                    .unwrap_or_else(|| panic!("unknown entity &{name};"));
                text.push_str(resolved);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unbalanced elements");
    assert_eq!(root.as_deref(), Some("plist"));
    for key in ["Label", "ProgramArguments", "RunAtLoad", "KeepAlive"] {
        assert!(keys.iter().any(|k| k == key), "{key} missing: {keys:?}");
    }
    assert!(strings.iter().any(|s| s == LAUNCHD_LABEL));
    assert!(
        strings
            .iter()
            .any(|s| s == "/Users/dr/Library/Application Support/Passerelle/a&b <c>.toml"),
        "escaped argument not read back: {strings:?}"
    );
    assert!(plist.contains("<key>RunAtLoad</key>\n  <true/>"));
}

#[test]
fn install_and_uninstall_in_a_home_without_systemd() {
    if install::service_manager_available(Platform::Linux) {
        // Never enable a real user service from a test: only the dry run here.
        let home = tempfile::tempdir().unwrap();
        let paths = linux_paths(home.path(), &PathBuf::from("/usr/bin/true"));
        let report = install::install(&paths, true).unwrap();
        assert!(!report.changed_file && !report.definition.path.exists());
        eprintln!("NOTE: systemd runs here: the real install was not exercised");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let paths = linux_paths(home.path(), &PathBuf::from("/usr/bin/true"));
    let unit_path = home
        .path()
        .join(".config/systemd/user/passerelle-card-agent.service");

    let dry = install::install(&paths, true).unwrap();
    assert!(!dry.changed_file);
    assert!(!unit_path.exists());
    assert_eq!(dry.definition.path, unit_path);

    let report = install::install(&paths, false).unwrap();
    assert!(report.changed_file);
    assert!(report.ran.is_empty(), "no systemd here: nothing run");
    assert_eq!(
        report.to_run,
        [
            "systemctl --user daemon-reload",
            "systemctl --user enable --now passerelle-card-agent.service"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(&unit_path).unwrap(),
        report.definition.contents
    );

    let removed = install::uninstall(&paths, false).unwrap();
    assert!(removed.changed_file);
    assert!(!unit_path.exists());
    assert_eq!(
        removed.to_run,
        [
            "systemctl --user disable --now passerelle-card-agent.service",
            "systemctl --user daemon-reload"
        ]
    );
    // Uninstalling twice is fine.
    assert!(!install::uninstall(&paths, false).unwrap().changed_file);
}

#[test]
fn relative_paths_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let paths = linux_paths(home.path(), Path::new("bin/card-agent"));
    assert!(matches!(
        install::install(&paths, true),
        Err(install::InstallError::RelativePath(_))
    ));
}

/// `card-agent install` / `uninstall`, the real binary, with a temporary HOME: the dry run
/// changes nothing, the real run writes a unit whose ExecStart is the real CLI
/// (`card-agent run --config FILE`, accepted by the binary's own parser), and uninstall
/// removes it. This machine has no running systemd (a container): the commands to run are
/// printed instead of being run.
#[test]
fn install_subcommands_with_a_temporary_home() {
    const AGENT: &str = env!("CARGO_BIN_EXE_card-agent");
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("conf/card agent.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "workstation = \"ws-1\"\n").unwrap();
    let unit_path = home
        .path()
        .join(".config/systemd/user")
        .join(SYSTEMD_UNIT_NAME);
    let agent = |args: &[&str]| {
        let out = Command::new(AGENT)
            .args(args)
            .env("HOME", home.path())
            .env_remove("PASSERELLE_CONFIG")
            .output()
            .expect("card-agent runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "card-agent {args:?}: {stdout}\n{stderr}"
        );
        (stdout, stderr)
    };
    let config_arg = config.to_str().unwrap();

    let (out, _) = agent(&["install", "--config", config_arg, "--dry-run"]);
    assert!(!unit_path.exists(), "a dry run wrote the unit");
    assert!(
        out.contains(&format!("Would write {}", unit_path.display())),
        "{out}"
    );
    assert!(out.contains("ExecStart="), "{out}");
    assert!(
        out.contains("systemctl --user enable --now passerelle-card-agent.service"),
        "{out}"
    );

    if install::service_manager_available(Platform::Linux) {
        // Never enable a real user service from a test: only the dry run here.
        eprintln!("NOTE: systemd is running here: only the dry run was tested");
        return;
    }
    let (out, err) = agent(&["install", "--config", config_arg]);
    assert!(
        out.contains(&format!("Wrote {}", unit_path.display())),
        "{out}"
    );
    assert!(!err.contains("does not exist"), "{err}");
    assert!(out.contains("not reachable"), "{out}");
    assert!(out.contains("systemctl --user daemon-reload"), "{out}");
    assert!(
        out.contains("systemctl --user enable --now passerelle-card-agent.service"),
        "{out}"
    );
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    check_unit_keys(&unit, AGENT);
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    assert_eq!(exec, format!("\"{AGENT}\" run --config \"{config_arg}\""));
    // The same words, given to the binary, are a command it accepts (`--help` after them
    // stops before anything starts).
    let help = Command::new(AGENT)
        .args(["run", "--config", config_arg, "--help"])
        .output()
        .unwrap();
    assert!(help.status.success());

    // Without --config: the default configuration file, said to be missing.
    let (_, err) = agent(&["install", "--dry-run"]);
    assert!(err.contains(".config/passerelle/card-agent.toml"), "{err}");

    let (out, _) = agent(&["uninstall", "--dry-run"]);
    assert!(unit_path.exists(), "a dry run removed the unit");
    assert!(out.contains("systemctl --user disable --now"), "{out}");
    let (out, _) = agent(&["uninstall"]);
    assert!(!unit_path.exists(), "uninstall left the unit");
    assert!(
        out.contains(&format!("Removed {}", unit_path.display())),
        "{out}"
    );
    let (out, _) = agent(&["uninstall"]);
    assert!(out.contains("Nothing to remove"), "{out}");
}
