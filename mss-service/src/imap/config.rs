//! The IMAP client's settings (`[mss.imap]`): where the operator's IMAP server is, how TLS
//! starts, how we authenticate, the TLS identity and trusted CAs (the SMTP client's), timeouts.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::smtp::{SmtpTls as ImapTls, TlsMode};

/// Where and how to read a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImapSettings {
    /// The IMAP server's host name (checked against its certificate) or IP address.
    pub host: String,
    /// Unset: 993 in `implicit` mode, 143 in `starttls` mode.
    pub port: Option<u16>,
    pub mode: TlsMode,
    pub auth: ImapAuth,
    pub tls: ImapTls,
    pub timeouts: ImapTimeouts,
}

impl Default for ImapSettings {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: None,
            mode: TlsMode::Implicit,
            auth: ImapAuth::External,
            tls: ImapTls::default(),
            timeouts: ImapTimeouts::default(),
        }
    }
}

impl ImapSettings {
    /// The configured port, or the mode's usual one.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.mode {
            TlsMode::Implicit => 993,
            TlsMode::Starttls => 143,
        })
    }
}

/// How we authenticate after TLS: `auth = "external"`, or `[mss.imap.auth.password]` with
/// `user` and `password`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapAuth {
    /// `AUTHENTICATE EXTERNAL` (the TLS client certificate), the mailbox as authorisation
    /// identity when one is given at connection time.
    #[default]
    External,
    /// `LOGIN`, only inside TLS.
    Password {
        user: String,
        /// Never written back out nor shown in debug output or errors.
        #[serde(default, skip_serializing)]
        password: String,
    },
}

impl fmt::Debug for ImapAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::External => f.write_str("External"),
            Self::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", &crate::smtp::mask_patient_addresses(user))
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// How long each step may take, as text: `"30s"`, `"2m"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImapTimeouts {
    /// TCP connection and each TLS handshake.
    #[serde(with = "humantime_serde")]
    pub connect: Duration,
    /// Each command's complete answer (a message fetched included) and each write.
    #[serde(with = "humantime_serde")]
    pub command: Duration,
}

impl Default for ImapTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(30),
            command: Duration::from_secs(120),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_toml_section_and_hides_the_password() {
        let s: ImapSettings = toml::from_str(
            r#"
            host = "imap.mssante.example"
            mode = "starttls"
            [auth.password]
            user = "lps@passerelle-sandbox.mssante.fr"
            password = "hunter2"
            [tls]
            trusted_ca = ["ca.pem"]
            [timeouts]
            command = "5s"
            "#,
        )
        .unwrap();
        assert_eq!(s.port(), 143);
        assert_eq!(s.timeouts.command, Duration::from_secs(5));
        assert!(matches!(&s.auth, ImapAuth::Password { password, .. } if password == "hunter2"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
    }

    #[test]
    fn defaults_are_implicit_external_993() {
        let s: ImapSettings = toml::from_str(r#"host = "h""#).unwrap();
        assert_eq!(
            (s.mode, s.port(), &s.auth),
            (TlsMode::Implicit, 993, &ImapAuth::External)
        );
        let s: ImapSettings = toml::from_str("auth = \"external\"\nport = 1993").unwrap();
        assert_eq!(s.port(), 1993);
    }
}
