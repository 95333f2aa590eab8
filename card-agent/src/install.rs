//! Starting the card-agent with the workstation: one agent per user session, started at logon
//! by the platform's own per-user mechanism.
//!
//! - Linux: a systemd **user** unit `~/.config/systemd/user/passerelle-card-agent.service`
//!   (`Restart=on-failure`, `WantedBy=default.target`), enabled with `systemctl --user`.
//! - macOS: a LaunchAgent `~/Library/LaunchAgents/fr.passerelle.card-agent.plist` (`RunAtLoad`,
//!   `KeepAlive` unless it exits successfully), loaded with `launchctl`.
//! - Windows: a command file in the user's Startup folder
//!   (`%APPDATA%\Microsoft\Windows\Start Menu\Programs\Startup\passerelle-card-agent.cmd`). Not a
//!   Windows service: a service runs in session 0, away from the user's session and from the
//!   readers that RDP/Citrix redirect into it, and the agent does not speak the service control
//!   protocol.
//!
//! The generation functions are pure; [`install`] and [`uninstall`] write or remove the file and
//! run the activation commands when the service manager is reachable, and otherwise report the
//! commands to run.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// systemd user unit name.
pub const SYSTEMD_UNIT_NAME: &str = "passerelle-card-agent.service";
/// launchd label (and plist file stem).
pub const LAUNCHD_LABEL: &str = "fr.passerelle.card-agent";
/// Windows Startup-folder command file name.
pub const WINDOWS_STARTUP_FILE: &str = "passerelle-card-agent.cmd";

/// A platform with a per-user start mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Linux,
    MacOs,
    Windows,
}

impl Platform {
    /// The platform this binary runs on; None for others (BSDs…).
    pub fn current() -> Option<Self> {
        if cfg!(target_os = "linux") {
            Some(Self::Linux)
        } else if cfg!(target_os = "macos") {
            Some(Self::MacOs)
        } else if cfg!(target_os = "windows") {
            Some(Self::Windows)
        } else {
            None
        }
    }
}

/// Errors of [`install`] and [`uninstall`].
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("this platform has no supported start-with-the-session mechanism")]
    UnsupportedPlatform,
    #[error("cannot find the user's home directory (HOME / USERPROFILE not set)")]
    NoHome,
    #[error("cannot find the user's application data directory (APPDATA not set)")]
    NoAppData,
    #[error("cannot find the card-agent executable: {0}")]
    NoBinary(std::io::Error),
    #[error("the path {0:?} is not absolute: the service manager needs absolute paths")]
    RelativePath(PathBuf),
    #[error("the path {0:?} is not valid UTF-8")]
    NonUtf8Path(PathBuf),
    #[error("cannot write {path:?}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot remove {path:?}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
}

/// Where things are, for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallPaths {
    pub platform: Platform,
    /// The card-agent executable (absolute).
    pub binary: PathBuf,
    /// Its configuration file (absolute): the agent runs as `card-agent run --config <file>`.
    pub config: PathBuf,
    /// The user's home directory (Linux, macOS).
    pub home: PathBuf,
    /// `%APPDATA%` (Windows; unused elsewhere).
    pub app_data: Option<PathBuf>,
}

impl InstallPaths {
    /// For the current user and platform, with the running executable as the agent.
    pub fn detect(config: impl Into<PathBuf>) -> Result<Self, InstallError> {
        let platform = Platform::current().ok_or(InstallError::UnsupportedPlatform)?;
        let binary = std::env::current_exe().map_err(InstallError::NoBinary)?;
        let home_var = if platform == Platform::Windows {
            "USERPROFILE"
        } else {
            "HOME"
        };
        let home = std::env::var_os(home_var)
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .ok_or(InstallError::NoHome)?;
        let app_data = std::env::var_os("APPDATA")
            .filter(|a| !a.is_empty())
            .map(PathBuf::from);
        if platform == Platform::Windows && app_data.is_none() {
            return Err(InstallError::NoAppData);
        }
        let config = config.into();
        let config = if config.is_absolute() {
            config
        } else {
            std::env::current_dir()
                .map(|d| d.join(&config))
                .unwrap_or(config)
        };
        Ok(Self {
            platform,
            binary,
            config,
            home,
            app_data,
        })
    }

    /// The service definition's path.
    pub fn definition_path(&self) -> Result<PathBuf, InstallError> {
        Ok(match self.platform {
            Platform::Linux => self
                .home
                .join(".config/systemd/user")
                .join(SYSTEMD_UNIT_NAME),
            Platform::MacOs => self
                .home
                .join("Library/LaunchAgents")
                .join(format!("{LAUNCHD_LABEL}.plist")),
            // Built as text so that Windows paths are handled alike on any host.
            Platform::Windows => {
                let app_data = self.app_data.as_ref().ok_or(InstallError::NoAppData)?;
                let app_data = app_data
                    .to_str()
                    .ok_or_else(|| InstallError::NonUtf8Path(app_data.clone()))?;
                PathBuf::from(format!(
                    "{}\\Microsoft\\Windows\\Start Menu\\Programs\\Startup\\{WINDOWS_STARTUP_FILE}",
                    app_data.trim_end_matches(['\\', '/'])
                ))
            }
        })
    }
}

/// A service definition: a file, what activates it now, and what undoes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDefinition {
    pub path: PathBuf,
    pub contents: String,
    /// Commands (program and arguments) that start it now and at each logon.
    pub activate: Vec<Vec<String>>,
    /// Commands that stop and disable it, run before the file is removed.
    pub deactivate: Vec<Vec<String>>,
    /// Commands run after the file is removed.
    pub after_remove: Vec<Vec<String>>,
}

/// The definition for `paths` (pure).
pub fn definition(paths: &InstallPaths) -> Result<ServiceDefinition, InstallError> {
    let binary = utf8_absolute(paths.platform, &paths.binary)?;
    let config = utf8_absolute(paths.platform, &paths.config)?;
    let path = paths.definition_path()?;
    let argv = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    Ok(match paths.platform {
        Platform::Linux => ServiceDefinition {
            contents: systemd_unit(binary, config),
            activate: vec![
                argv(&["systemctl", "--user", "daemon-reload"]),
                argv(&["systemctl", "--user", "enable", "--now", SYSTEMD_UNIT_NAME]),
            ],
            deactivate: vec![argv(&[
                "systemctl",
                "--user",
                "disable",
                "--now",
                SYSTEMD_UNIT_NAME,
            ])],
            after_remove: vec![argv(&["systemctl", "--user", "daemon-reload"])],
            path,
        },
        Platform::MacOs => {
            let plist = utf8_absolute(paths.platform, &path)?.to_owned();
            let log = paths.home.join("Library/Logs/passerelle-card-agent.log");
            ServiceDefinition {
                contents: launchd_plist(binary, config, utf8_absolute(paths.platform, &log)?),
                activate: vec![argv(&["launchctl", "load", "-w", &plist])],
                deactivate: vec![argv(&["launchctl", "unload", "-w", &plist])],
                after_remove: Vec::new(),
                path,
            }
        }
        Platform::Windows => ServiceDefinition {
            contents: windows_startup_cmd(binary, config),
            // Takes effect at the next logon; `cmd /C <file>` starts it now.
            activate: Vec::new(),
            deactivate: Vec::new(),
            after_remove: Vec::new(),
            path,
        },
    })
}

/// The path as UTF-8 text, refused unless absolute on `platform` (whatever the host).
fn utf8_absolute(platform: Platform, path: &Path) -> Result<&str, InstallError> {
    let text = path
        .to_str()
        .ok_or_else(|| InstallError::NonUtf8Path(path.to_owned()))?;
    let absolute = match platform {
        Platform::Windows => {
            let b = text.as_bytes();
            text.starts_with(r"\\")
                || (b.len() >= 3
                    && b[0].is_ascii_alphabetic()
                    && b[1] == b':'
                    && (b[2] == b'\\' || b[2] == b'/'))
        }
        Platform::Linux | Platform::MacOs => text.starts_with('/'),
    };
    if absolute {
        Ok(text)
    } else {
        Err(InstallError::RelativePath(path.to_owned()))
    }
}

/// A systemd user unit running `binary run --config config`.
pub fn systemd_unit(binary: &str, config: &str) -> String {
    let mut unit = String::new();
    unit.push_str("[Unit]\n");
    unit.push_str("Description=Passerelle card-agent (CPS and Vitale cards, signatures)\n");
    unit.push_str("\n[Service]\n");
    unit.push_str("Type=simple\n");
    let _ = writeln!(
        unit,
        "ExecStart={} run --config {}",
        systemd_quote(binary),
        systemd_quote(config)
    );
    unit.push_str("Restart=on-failure\n");
    unit.push_str("RestartSec=5\n");
    unit.push_str("\n[Install]\n");
    unit.push_str("WantedBy=default.target\n");
    unit
}

/// Quotes one `ExecStart=` word: double quotes with C escapes, `%` specifiers and `$`
/// variables made literal.
fn systemd_quote(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A LaunchAgent running `binary run --config config` at login, restarted unless it exits
/// successfully, logging to `log`.
pub fn launchd_plist(binary: &str, config: &str, log: &str) -> String {
    let mut plist = String::new();
    plist.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    plist.push_str(
        "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n",
    );
    plist.push_str("<plist version=\"1.0\">\n<dict>\n");
    let _ = writeln!(
        plist,
        "  <key>Label</key>\n  <string>{}</string>",
        xml_escape(LAUNCHD_LABEL)
    );
    plist.push_str("  <key>ProgramArguments</key>\n  <array>\n");
    for arg in [binary, "run", "--config", config] {
        let _ = writeln!(plist, "    <string>{}</string>", xml_escape(arg));
    }
    plist.push_str("  </array>\n");
    plist.push_str("  <key>RunAtLoad</key>\n  <true/>\n");
    plist.push_str(
        "  <key>KeepAlive</key>\n  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>\n",
    );
    plist.push_str("  <key>ProcessType</key>\n  <string>Interactive</string>\n");
    for key in ["StandardOutPath", "StandardErrorPath"] {
        let _ = writeln!(
            plist,
            "  <key>{key}</key>\n  <string>{}</string>",
            xml_escape(log)
        );
    }
    plist.push_str("</dict>\n</plist>\n");
    plist
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A Startup-folder command file starting `binary run --config config` minimised (CRLF lines).
pub fn windows_startup_cmd(binary: &str, config: &str) -> String {
    // In a batch file `%` starts a variable: double it. Paths cannot contain `"`.
    let batch = |s: &str| s.replace('%', "%%");
    format!(
        "@echo off\r\nrem Passerelle card-agent: started at logon, one per user session.\r\n\
         start \"Passerelle card-agent\" /MIN \"{}\" run --config \"{}\"\r\n",
        batch(binary),
        batch(config)
    )
}

/// What [`install`] or [`uninstall`] did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallReport {
    pub definition: ServiceDefinition,
    /// The file was written (install) or removed (uninstall).
    pub changed_file: bool,
    /// Commands run, as shell text.
    pub ran: Vec<String>,
    /// Commands the user still has to run (service manager not reachable, or dry run).
    pub to_run: Vec<String>,
}

/// Whether the platform's service manager can be driven from here: systemd running (the
/// `sd_booted` test: `/run/systemd/system` exists) and `systemctl` on the PATH; `launchctl` on
/// the PATH on macOS.
pub fn service_manager_available(platform: Platform) -> bool {
    match platform {
        Platform::Linux => {
            Path::new("/run/systemd/system").is_dir() && on_path(OsStr::new("systemctl"))
        }
        Platform::MacOs => on_path(OsStr::new("launchctl")),
        Platform::Windows => false,
    }
}

fn on_path(program: &OsStr) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Shell text of a command.
pub fn command_text(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"\\$`".contains(c)) {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(argv: &[String]) -> Result<(), InstallError> {
    let command = command_text(argv);
    let (program, args) = argv.split_first().ok_or_else(|| InstallError::Command {
        command: command.clone(),
        detail: "empty command".into(),
    })?;
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| InstallError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(InstallError::Command {
            command,
            detail: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        })
    }
}

/// Writes the service definition and activates it when the service manager is reachable;
/// otherwise (or with `dry_run`, which changes nothing) reports the commands to run.
pub fn install(paths: &InstallPaths, dry_run: bool) -> Result<InstallReport, InstallError> {
    let definition = definition(paths)?;
    let mut report = InstallReport {
        definition,
        changed_file: false,
        ran: Vec::new(),
        to_run: Vec::new(),
    };
    let d = &report.definition;
    if dry_run {
        report.to_run = d.activate.iter().map(|c| command_text(c)).collect();
        return Ok(report);
    }
    if let Some(dir) = d.path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| InstallError::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    std::fs::write(&d.path, &d.contents).map_err(|source| InstallError::Write {
        path: d.path.clone(),
        source,
    })?;
    report.changed_file = true;
    let activate = report.definition.activate.clone();
    run_or_report(paths.platform, &activate, &mut report)?;
    Ok(report)
}

/// Deactivates the service when the service manager is reachable, and removes the definition
/// (absent already: not an error). With `dry_run`, changes nothing.
pub fn uninstall(paths: &InstallPaths, dry_run: bool) -> Result<InstallReport, InstallError> {
    let definition = definition(paths)?;
    let mut report = InstallReport {
        definition,
        changed_file: false,
        ran: Vec::new(),
        to_run: Vec::new(),
    };
    let deactivate = report.definition.deactivate.clone();
    let after_remove = report.definition.after_remove.clone();
    if dry_run {
        report.to_run = deactivate
            .iter()
            .chain(&after_remove)
            .map(|c| command_text(c))
            .collect();
        return Ok(report);
    }
    let exists = report.definition.path.exists();
    if exists {
        run_or_report(paths.platform, &deactivate, &mut report)?;
        let path = report.definition.path.clone();
        std::fs::remove_file(&path).map_err(|source| InstallError::Remove { path, source })?;
        report.changed_file = true;
        run_or_report(paths.platform, &after_remove, &mut report)?;
    }
    Ok(report)
}

fn run_or_report(
    platform: Platform,
    commands: &[Vec<String>],
    report: &mut InstallReport,
) -> Result<(), InstallError> {
    if commands.is_empty() {
        return Ok(());
    }
    if service_manager_available(platform) {
        for command in commands {
            run(command)?;
            report.ran.push(command_text(command));
        }
    } else {
        report
            .to_run
            .extend(commands.iter().map(|c| command_text(c)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(platform: Platform) -> InstallPaths {
        let (binary, config, home) = match platform {
            Platform::Windows => (
                r"C:\Program Files\Passerelle\card-agent.exe",
                r"C:\Users\dr\AppData\Roaming\Passerelle\card-agent.toml",
                r"C:\Users\dr",
            ),
            _ => (
                "/opt/passerelle/bin/card-agent",
                "/home/dr/.config/passerelle/card agent.toml",
                "/home/dr",
            ),
        };
        InstallPaths {
            platform,
            binary: binary.into(),
            config: config.into(),
            home: home.into(),
            app_data: Some(r"C:\Users\dr\AppData\Roaming".into()),
        }
    }

    #[test]
    fn systemd_unit_has_the_expected_keys() {
        let unit = systemd_unit("/opt/p/card-agent", "/home/dr/50% $HOME \"x\".toml");
        assert!(unit.contains(
            "ExecStart=\"/opt/p/card-agent\" run --config \"/home/dr/50%% $$HOME \\\"x\\\".toml\"\n"
        ));
        assert!(unit.contains("Restart=on-failure\n"));
        assert!(unit.contains("[Install]\nWantedBy=default.target\n"));
    }

    #[test]
    fn linux_definition_lives_in_the_user_unit_dir() {
        let d = definition(&paths(Platform::Linux)).unwrap();
        assert_eq!(
            d.path,
            PathBuf::from("/home/dr/.config/systemd/user/passerelle-card-agent.service")
        );
        assert_eq!(
            d.activate
                .iter()
                .map(|c| command_text(c))
                .collect::<Vec<_>>(),
            [
                "systemctl --user daemon-reload",
                "systemctl --user enable --now passerelle-card-agent.service"
            ]
        );
    }

    #[test]
    fn macos_definition_is_a_launch_agent() {
        let d = definition(&paths(Platform::MacOs)).unwrap();
        assert_eq!(
            d.path,
            PathBuf::from("/home/dr/Library/LaunchAgents/fr.passerelle.card-agent.plist")
        );
        assert!(d.contents.contains("<key>RunAtLoad</key>\n  <true/>"));
        assert!(
            d.contents
                .contains("<string>fr.passerelle.card-agent</string>")
        );
        assert_eq!(xml_escape("a<b>&'\""), "a&lt;b&gt;&amp;&apos;&quot;");
    }

    #[test]
    fn windows_definition_is_a_startup_command() {
        let d = definition(&paths(Platform::Windows)).unwrap();
        assert!(
            d.path
                .to_string_lossy()
                .ends_with("passerelle-card-agent.cmd")
        );
        assert!(d.contents.contains(
            "start \"Passerelle card-agent\" /MIN \"C:\\Program Files\\Passerelle\\card-agent.exe\" run --config"
        ));
        assert!(d.contents.ends_with("\r\n"));
        assert!(windows_startup_cmd("C:\\a%b", "c").contains("a%%b"));
    }

    #[test]
    fn relative_paths_are_refused() {
        let mut p = paths(Platform::Linux);
        p.binary = "card-agent".into();
        assert!(matches!(definition(&p), Err(InstallError::RelativePath(_))));
    }

    #[test]
    fn commands_are_shell_quoted() {
        let argv = vec!["launchctl".to_owned(), "load".into(), "/a b/it's".into()];
        assert_eq!(command_text(&argv), r"launchctl load '/a b/it'\''s'");
    }
}
