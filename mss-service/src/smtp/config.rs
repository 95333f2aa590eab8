//! The SMTP client's settings (`[mss.smtp]`): where the operator's submission server is, how
//! TLS starts, how we authenticate, the TLS identity and trusted CAs, timeouts.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use passerelle_mtls::ClientIdentity;
use serde::{Deserialize, Serialize};

/// Where and how to submit messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmtpSettings {
    /// The submission server's host name (checked against its certificate) or IP address.
    pub host: String,
    /// Unset: 587 in `starttls` mode, 465 in `implicit` mode.
    pub port: Option<u16>,
    pub mode: TlsMode,
    pub auth: AuthSettings,
    pub tls: SmtpTls,
    /// The name we give in EHLO: this host's fully qualified name. Unset: our address as an
    /// address literal (`[10.0.0.5]`), which RFC 5321 allows when there is no name.
    pub ehlo_name: Option<String>,
    pub timeouts: Timeouts,
    /// Our own ceiling on a message's size, checked before connecting beside the server's
    /// `SIZE`. Unset: only the server's.
    pub max_message_bytes: Option<u64>,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: None,
            mode: TlsMode::Starttls,
            auth: AuthSettings::Auto,
            tls: SmtpTls::default(),
            ehlo_name: None,
            timeouts: Timeouts::default(),
            max_message_bytes: None,
        }
    }
}

impl SmtpSettings {
    /// The configured port, or the mode's usual one.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.mode {
            TlsMode::Starttls => 587,
            TlsMode::Implicit => 465,
        })
    }
}

/// How TLS starts. Never without it: a server that does not offer STARTTLS is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain connection, then `STARTTLS` (port 587).
    Starttls,
    /// TLS from the first byte (port 465, "SMTPS").
    Implicit,
}

/// How we authenticate after TLS. `auth = "auto"`, or
/// `[mss.smtp.auth.password]` with `user` and `password`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthSettings {
    /// `AUTH EXTERNAL` when the server offers it and our certificate was presented; else
    /// the certificate alone.
    #[default]
    Auto,
    /// The client certificate alone, no `AUTH` (e.g. Postfix `permit_tls_clientcerts`).
    Certificate,
    /// `AUTH EXTERNAL` (SASL, RFC 4422): the server must offer it.
    External,
    /// A mailbox account: `AUTH PLAIN`, else `AUTH LOGIN`. Sent only inside TLS.
    Password {
        user: String,
        /// Never written back out nor shown in debug output or errors.
        #[serde(default, skip_serializing)]
        password: String,
    },
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("Auto"),
            Self::Certificate => f.write_str("Certificate"),
            Self::External => f.write_str("External"),
            Self::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// TLS: our identity, the CAs we trust, the lowest version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmtpTls {
    /// The organisation's certificate (PEM or PKCS#12). In CPS mode the card is given at
    /// connection time instead, and this may be unset.
    pub identity: Option<ClientIdentity>,
    /// PEM files: the IGC-Santé roots in production, the sandbox CA in tests. Nothing else is
    /// trusted (no system roots).
    pub trusted_ca: Vec<PathBuf>,
    /// `"1.2"` (TLS 1.2 and 1.3) or `"1.3"` (TLS 1.3 only). A CPS card always uses 1.2.
    pub min_version: TlsVersion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TlsVersion {
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    #[serde(rename = "1.3")]
    Tls13,
}

/// How long each step may take, as text: `"30s"`, `"2m"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timeouts {
    /// TCP connection and each TLS handshake.
    #[serde(with = "humantime_serde")]
    pub connect: Duration,
    /// Each reply of the server (greeting, EHLO, AUTH, MAIL, RCPT, DATA) and each write.
    #[serde(with = "humantime_serde")]
    pub command: Duration,
    /// The server's reply once the whole message is sent (it may scan it first; RFC 5321
    /// §4.5.3.2 suggests 10 minutes).
    #[serde(with = "humantime_serde")]
    pub data_end: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(30),
            command: Duration::from_secs(60),
            data_end: Duration::from_secs(600),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_toml_section_and_hides_the_password() {
        let s: SmtpSettings = toml::from_str(
            r#"
            host = "smtp.mssante.example"
            mode = "implicit"
            ehlo_name = "lps.example.fr"
            [auth.password]
            user = "lps@passerelle-sandbox.mssante.fr"
            password = "hunter2"
            [tls]
            identity = { kind = "pkcs12", path = "org.p12", password = "p12pass" }
            trusted_ca = ["ca.pem"]
            min_version = "1.3"
            [timeouts]
            command = "5s"
            "#,
        )
        .unwrap();
        assert_eq!(s.port(), 465);
        assert_eq!(s.tls.min_version, TlsVersion::Tls13);
        assert_eq!(s.timeouts.command, Duration::from_secs(5));
        assert_eq!(s.timeouts.connect, Duration::from_secs(30));
        assert!(
            matches!(&s.auth, AuthSettings::Password { user, password } if user.starts_with("lps@") && password == "hunter2")
        );
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("p12pass"),
            "{shown}"
        );
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            !json.contains("hunter2") && !json.contains("p12pass"),
            "{json}"
        );
        let back: SmtpSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back.timeouts, s.timeouts);
    }

    #[test]
    fn defaults_are_starttls_auto_and_the_mode_port() {
        let s: SmtpSettings = toml::from_str(r#"host = "h""#).unwrap();
        assert_eq!((s.mode, s.port()), (TlsMode::Starttls, 587));
        assert_eq!(s.auth, AuthSettings::Auto);
        let s: SmtpSettings = toml::from_str("auth = \"certificate\"\nport = 2587").unwrap();
        assert_eq!((&s.auth, s.port()), (&AuthSettings::Certificate, 2587));
    }
}
