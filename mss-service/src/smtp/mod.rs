//! The SMTP submission client: a message to the MSSanté operator's server, over TLS (implicit,
//! or STARTTLS), authenticated by a client certificate (the organisation's, or the CPS card's
//! through the card-agent), with or without SASL `EXTERNAL`, or by a mailbox password.
//!
//! Our own small client (RFC 5321, 3207 STARTTLS, 4954 AUTH, 1870 SIZE, 6152 8BITMIME, 3461
//! DSN, 3463 enhanced codes): STARTTLS upgrades the connection mid-dialogue, `EXTERNAL` and the
//! card's TLS key plug into rustls, and the message is streamed from its chunks.
//!
//! ```text
//! let client = SmtpClient::new(&settings.smtp)?;              // reads the identity and CAs
//! let mut session = client.connect(ClientCert::Configured).await?;  // or ClientCert::Card(&card)
//! let delivery = session.send(&envelope, &chunks).await?;     // one transaction per message
//! session.quit().await;
//! ```
//!
//! Never in clear: nothing but the greeting, EHLO and STARTTLS before TLS, so no credential
//! and no address. Neither passwords nor commands are logged; replies shown in errors hide
//! patients' addresses (which are their INS).

mod config;
mod conn;
mod error;
mod reply;
pub(crate) mod tls;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use passerelle_card_client::CardTlsIdentity;
use rustls::RootCertStore;
use rustls::sign::CertifiedKey;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub use config::{AuthSettings, SmtpSettings, SmtpTls, Timeouts, TlsMode, TlsVersion};
pub use error::{AddressRole, RecipientReply, SizeLimit, SmtpError, Stage, TlsFailure};
pub use passerelle_mtls::ClientIdentity;
pub use reply::{Capabilities, EnhancedCode, Reply, mask_patient_addresses};

use conn::Conn;
use tls::Presenter;

/// Whose certificate the TLS connection presents.
#[derive(Debug, Clone, Copy)]
pub enum ClientCert<'a> {
    /// `smtp.tls.identity` (the organisation's certificate), or none when it is unset
    /// (password mode).
    Configured,
    /// The CPS card, through the workstation's card-agent (`CpsSession::tls_identity()`):
    /// TLS 1.2, the handshake signed by the card.
    Card(&'a CardTlsIdentity),
}

/// How the session authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthUsed {
    /// `AUTH EXTERNAL`, the identity being the TLS client certificate.
    External,
    /// The client certificate alone, no `AUTH`.
    Certificate,
    Plain,
    Login,
}

/// What was negotiated, for the audit record.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// `host:port`.
    pub server: String,
    /// `TLSv1_2`, `TLSv1_3`.
    pub tls_version: String,
    pub cipher_suite: String,
    /// Our client certificate went out in the handshake.
    pub certificate_presented: bool,
    pub auth: AuthUsed,
    /// The server's offer after TLS.
    pub capabilities: Capabilities,
}

/// One message's envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// `MAIL FROM`: the sender mailbox; empty for the null reverse-path `<>` (RFC 5321
    /// §4.5.5), which notifications (MDN, RFC 8098 §2.1) are sent with so that no
    /// notification answers them.
    pub from: String,
    /// `RCPT TO`, one each, in this order.
    pub recipients: Vec<String>,
    /// The message has 8-bit content: `BODY=8BITMIME` (refused if the server lacks it).
    pub eight_bit: bool,
    /// Delivery status notifications to ask for, when the server offers DSN.
    pub dsn: Option<Dsn>,
    /// Every recipient or none: when the server refuses one, the transaction is reset before
    /// `DATA` (no one receives a message meant for a group).
    pub all_or_nothing: bool,
}

impl Envelope {
    /// The envelope of a notification: the null reverse-path `<>` to `recipients`.
    pub fn null_sender(recipients: Vec<String>) -> Self {
        Self {
            from: String::new(),
            recipients,
            ..Self::default()
        }
    }

    /// `MAIL FROM:<>`.
    pub fn is_null_sender(&self) -> bool {
        self.from.is_empty()
    }
}

/// DSN parameters (RFC 3461).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dsn {
    pub notify_success: bool,
    pub notify_failure: bool,
    pub notify_delay: bool,
    /// `RET=FULL` (the whole message in a failure report) rather than `RET=HDRS`.
    pub return_full: bool,
    /// `ENVID`: quoted back in the reports (e.g. our Message-ID).
    pub envelope_id: Option<String>,
}

/// A message taken by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub accepted: Vec<RecipientReply>,
    /// Recipients the server refused (4xx or 5xx at `RCPT TO`); the message went to the
    /// others.
    pub refused: Vec<RecipientReply>,
    /// The server's reply to the message (its queue id, often).
    pub reply: Reply,
    /// DSN parameters were sent (asked for, and offered by the server).
    pub dsn_requested: bool,
}

/// The configured client: settings checked, certificate and CAs read once.
pub struct SmtpClient {
    settings: SmtpSettings,
    server: String,
    server_name: ServerName<'static>,
    roots: Arc<RootCertStore>,
    identity: Option<Arc<CertifiedKey>>,
}

impl fmt::Debug for SmtpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpClient")
            .field("server", &self.server)
            .field("mode", &self.settings.mode)
            .field("auth", &self.settings.auth)
            .finish_non_exhaustive()
    }
}

impl SmtpClient {
    pub fn new(settings: &SmtpSettings) -> Result<Self, SmtpError> {
        let host = settings.host.trim();
        if host.is_empty() {
            return Err(SmtpError::config(
                "smtp.host is empty: give the operator's submission server",
            ));
        }
        let server_name = ServerName::try_from(host.to_owned()).map_err(|e| {
            SmtpError::config(format!(
                "smtp.host {host:?} is not a host name or IP address: {e}"
            ))
        })?;
        let port = settings.port();
        if port == 0 {
            return Err(SmtpError::config("smtp.port must not be 0"));
        }
        let t = &settings.timeouts;
        if t.connect.is_zero() || t.command.is_zero() || t.data_end.is_zero() {
            return Err(SmtpError::config(
                "smtp.timeouts (connect, command, data_end) must be greater than zero",
            ));
        }
        if let Some(name) = &settings.ehlo_name
            && (name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(SmtpError::config(format!(
                "smtp.ehlo_name {name:?} must be a host name (printable ASCII, no space)"
            )));
        }
        if let AuthSettings::Password { user, password } = &settings.auth
            && (user.is_empty() || password.is_empty())
        {
            return Err(SmtpError::config(
                "smtp.auth.password needs both user and password (an environment variable keeps the password out of files)",
            ));
        }
        let roots = passerelle_mtls::load_roots(&settings.tls.trusted_ca)
            .map_err(|e| SmtpError::config(format!("smtp.{e}")))?;
        let identity = settings
            .tls
            .identity
            .as_ref()
            .map(tls::load_identity)
            .transpose()?;
        let server = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Ok(Self {
            settings: settings.clone(),
            server,
            server_name,
            roots: Arc::new(roots),
            identity,
        })
    }

    /// `host:port`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Connects, sends one message, quits.
    pub async fn send(
        &self,
        cert: ClientCert<'_>,
        envelope: &Envelope,
        message: &[Bytes],
    ) -> Result<Delivery, SmtpError> {
        check_envelope(envelope)?;
        check_size(message_size(message), self.settings.max_message_bytes, None)?;
        let mut session = self.connect(cert).await?;
        let delivery = session.send(envelope, message).await;
        session.quit().await;
        delivery
    }

    /// Opens an authenticated session: greeting, EHLO, (STARTTLS, EHLO), AUTH.
    pub async fn connect(&self, cert: ClientCert<'_>) -> Result<Session, SmtpError> {
        let (presenter, card, has_cert) = match cert {
            ClientCert::Configured => (
                Presenter::Software(self.identity.as_ref()),
                None,
                self.identity.is_some(),
            ),
            ClientCert::Card(card) => (Presenter::Card(card), Some(card), true),
        };
        let (config, presented) =
            tls::connection_config(&self.roots, self.settings.tls.min_version, presenter)?;
        let connector = TlsConnector::from(config);
        let t = &self.settings.timeouts;
        let host = self.settings.host.trim();
        let tcp = match crate::transport::connect(host, self.settings.port(), t.connect).await {
            Ok(tcp) => tcp,
            Err(crate::transport::ConnectFailure::Timeout) => {
                return Err(SmtpError::Timeout {
                    stage: Stage::Connect,
                    after: t.connect,
                });
            }
            Err(crate::transport::ConnectFailure::Io(e)) => {
                return Err(SmtpError::Connect {
                    server: self.server.clone(),
                    reason: e.to_string(),
                });
            }
        };
        let ehlo_name = self.ehlo_name(&tcp);

        let mut conn = match self.settings.mode {
            TlsMode::Implicit => {
                let tls = self
                    .handshake(&connector, tcp, card, Stage::Connect)
                    .await?;
                let mut conn = Conn::new(tls, &self.server);
                self.greeting(&mut conn).await?;
                conn
            }
            TlsMode::Starttls => {
                let mut plain = Conn::new(tcp, &self.server);
                self.greeting(&mut plain).await?;
                // This offer is not trusted (anyone on the path could write it): only
                // STARTTLS is read from it, the rest is asked again inside TLS.
                let caps = self.ehlo(&mut plain, &ehlo_name).await?;
                if !caps.starttls {
                    self.quit_quietly(&mut plain).await;
                    return Err(SmtpError::StartTlsUnavailable {
                        server: self.server.clone(),
                    });
                }
                plain
                    .command("STARTTLS", Stage::StartTls, t.command)
                    .await?;
                let reply = plain.reply(Stage::StartTls, t.command).await?;
                if reply.code != 220 {
                    return Err(unexpected(Stage::StartTls, reply));
                }
                let tcp = plain.into_stream(Stage::StartTls)?;
                let tls = self
                    .handshake(&connector, tcp, card, Stage::StartTls)
                    .await?;
                Conn::new(tls, &self.server)
            }
        };
        let capabilities = self.ehlo(&mut conn, &ehlo_name).await?;
        let certificate_presented = presented.load(Ordering::SeqCst);
        let auth = match self
            .authenticate(&mut conn, &capabilities, certificate_presented, has_cert)
            .await
        {
            Ok(auth) => auth,
            Err(e) => {
                if matches!(
                    e,
                    SmtpError::AuthUnavailable { .. } | SmtpError::AuthRefused { .. }
                ) {
                    self.quit_quietly(&mut conn).await;
                }
                return Err(e);
            }
        };
        let (_, tls_state) = conn.stream().get_ref();
        let info = SessionInfo {
            server: self.server.clone(),
            tls_version: tls_state
                .protocol_version()
                .map_or_else(String::new, |v| format!("{v:?}")),
            cipher_suite: tls_state
                .negotiated_cipher_suite()
                .map_or_else(String::new, |s| format!("{:?}", s.suite())),
            certificate_presented,
            auth,
            capabilities,
        };
        tracing::debug!(
            server = %info.server,
            tls = %info.tls_version,
            suite = %info.cipher_suite,
            auth = ?info.auth,
            "SMTP session open"
        );
        Ok(Session {
            conn,
            info,
            timeouts: self.settings.timeouts.clone(),
            max_message_bytes: self.settings.max_message_bytes,
            usable: true,
        })
    }

    /// The configured name, or our address as an address literal.
    fn ehlo_name(&self, tcp: &TcpStream) -> String {
        if let Some(name) = &self.settings.ehlo_name {
            return name.clone();
        }
        match tcp.local_addr().map(|a| a.ip()) {
            Ok(std::net::IpAddr::V4(ip)) => format!("[{ip}]"),
            Ok(std::net::IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
            Err(_) => "[127.0.0.1]".to_owned(),
        }
    }

    async fn handshake(
        &self,
        connector: &TlsConnector,
        tcp: TcpStream,
        card: Option<&CardTlsIdentity>,
        stage: Stage,
    ) -> Result<TlsStream<TcpStream>, SmtpError> {
        let after = self.settings.timeouts.connect;
        let outcome =
            tokio::time::timeout(after, connector.connect(self.server_name.clone(), tcp)).await;
        let error = match outcome {
            Ok(Ok(tls)) => return Ok(tls),
            Err(_) => SmtpError::Timeout { stage, after },
            Ok(Err(e)) => SmtpError::Tls {
                server: self.server.clone(),
                failure: match tls::rustls_error(&e) {
                    Some(t) => tls::failure_of(t),
                    None => TlsFailure::Other {
                        reason: format!("the connection ended during the handshake: {e}"),
                    },
                },
            },
        };
        // The card's own failure (PIN, card removed, agent gone) says what to do; rustls
        // only knows that signing failed.
        match card.and_then(CardTlsIdentity::take_error) {
            Some(card_error) => Err(SmtpError::Card(card_error)),
            None => Err(error),
        }
    }

    async fn greeting<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        conn: &mut Conn<S>,
    ) -> Result<(), SmtpError> {
        let reply = conn
            .reply(Stage::Greeting, self.settings.timeouts.command)
            .await?;
        if reply.code == 220 {
            Ok(())
        } else {
            Err(unexpected(Stage::Greeting, reply))
        }
    }

    async fn ehlo<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        conn: &mut Conn<S>,
        name: &str,
    ) -> Result<Capabilities, SmtpError> {
        let t = self.settings.timeouts.command;
        conn.command(&format!("EHLO {name}"), Stage::Ehlo, t)
            .await?;
        let reply = conn.reply(Stage::Ehlo, t).await?;
        if reply.code == 250 {
            Ok(Capabilities::of_ehlo(&reply))
        } else {
            Err(unexpected(Stage::Ehlo, reply))
        }
    }

    async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        conn: &mut Conn<S>,
        caps: &Capabilities,
        presented: bool,
        has_cert: bool,
    ) -> Result<AuthUsed, SmtpError> {
        let no_certificate = || SmtpError::AuthUnavailable {
            reason: if has_cert {
                "the server did not ask for our client certificate, so it cannot know us by it: use smtp.auth password, or ask the operator".to_owned()
            } else {
                "no client certificate: set smtp.tls.identity, use the CPS card, or use smtp.auth password".to_owned()
            },
        };
        let offered = || {
            if caps.auth.is_empty() {
                "it offers no AUTH".to_owned()
            } else {
                format!("it offers {}", caps.auth.join(" "))
            }
        };
        let t = self.settings.timeouts.command;
        match &self.settings.auth {
            AuthSettings::Auto | AuthSettings::Certificate | AuthSettings::External
                if !presented =>
            {
                Err(no_certificate())
            }
            AuthSettings::Auto if caps.offers_auth("EXTERNAL") => auth_external(conn, t).await,
            AuthSettings::Auto | AuthSettings::Certificate => Ok(AuthUsed::Certificate),
            AuthSettings::External => {
                if caps.offers_auth("EXTERNAL") {
                    auth_external(conn, t).await
                } else {
                    Err(SmtpError::AuthUnavailable {
                        reason: format!(
                            "the server does not offer AUTH EXTERNAL ({}): use smtp.auth = \"certificate\" or \"auto\"",
                            offered()
                        ),
                    })
                }
            }
            AuthSettings::Password { user, password } => {
                if caps.offers_auth("PLAIN") {
                    auth_plain(conn, user, password, t).await
                } else if caps.offers_auth("LOGIN") {
                    auth_login(conn, user, password, t).await
                } else {
                    Err(SmtpError::AuthUnavailable {
                        reason: format!(
                            "the server offers neither AUTH PLAIN nor LOGIN ({}): use a certificate (smtp.auth = \"auto\")",
                            offered()
                        ),
                    })
                }
            }
        }
    }

    /// QUIT when we give up on a dialogue that is still in order.
    async fn quit_quietly<S: AsyncRead + AsyncWrite + Unpin>(&self, conn: &mut Conn<S>) {
        let t = self.settings.timeouts.command;
        if conn.command("QUIT", Stage::Quit, t).await.is_ok() {
            let _ = conn.reply(Stage::Quit, t).await;
        }
        conn.shutdown().await;
    }
}

const EXTERNAL_HINT: &str = "that the operator knows our certificate and binds it to a mailbox";
const PASSWORD_HINT: &str = "smtp.auth.password (user and password)";

async fn auth_external<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    t: std::time::Duration,
) -> Result<AuthUsed, SmtpError> {
    // `=`: an empty authorisation identity, the server derives it from the certificate.
    conn.command("AUTH EXTERNAL =", Stage::Auth, t).await?;
    let mut reply = conn.reply(Stage::Auth, t).await?;
    if reply.code == 334 {
        conn.command("", Stage::Auth, t).await?;
        reply = conn.reply(Stage::Auth, t).await?;
    }
    auth_outcome(reply, "EXTERNAL", EXTERNAL_HINT, AuthUsed::External)
}

async fn auth_plain<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    user: &str,
    password: &str,
    t: std::time::Duration,
) -> Result<AuthUsed, SmtpError> {
    let credentials = BASE64.encode(format!("\0{user}\0{password}"));
    conn.command(&format!("AUTH PLAIN {credentials}"), Stage::Auth, t)
        .await?;
    let mut reply = conn.reply(Stage::Auth, t).await?;
    if reply.code == 334 {
        conn.command(&credentials, Stage::Auth, t).await?;
        reply = conn.reply(Stage::Auth, t).await?;
    }
    auth_outcome(reply, "PLAIN", PASSWORD_HINT, AuthUsed::Plain)
}

async fn auth_login<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    user: &str,
    password: &str,
    t: std::time::Duration,
) -> Result<AuthUsed, SmtpError> {
    conn.command("AUTH LOGIN", Stage::Auth, t).await?;
    for secret in [user, password] {
        let reply = conn.reply(Stage::Auth, t).await?;
        if reply.code != 334 {
            return auth_outcome(reply, "LOGIN", PASSWORD_HINT, AuthUsed::Login);
        }
        conn.command(&BASE64.encode(secret), Stage::Auth, t).await?;
    }
    let reply = conn.reply(Stage::Auth, t).await?;
    auth_outcome(reply, "LOGIN", PASSWORD_HINT, AuthUsed::Login)
}

fn auth_outcome(
    reply: Reply,
    mechanism: &'static str,
    hint: &'static str,
    used: AuthUsed,
) -> Result<AuthUsed, SmtpError> {
    match reply.code {
        235 => Ok(used),
        _ if reply.is_permanent() => Err(SmtpError::AuthRefused {
            mechanism,
            reply,
            hint,
        }),
        _ => Err(unexpected(Stage::Auth, reply)),
    }
}

/// A reply the step does not expect: 4xx transient, 5xx permanent, anything else a protocol
/// error.
fn unexpected(stage: Stage, reply: Reply) -> SmtpError {
    if reply.is_transient() {
        SmtpError::Transient { stage, reply }
    } else if reply.is_permanent() {
        SmtpError::Permanent { stage, reply }
    } else {
        SmtpError::Protocol {
            stage,
            reason: format!("unexpected reply {reply}"),
        }
    }
}

/// An authenticated connection: one or more messages, then [`quit`](Self::quit).
pub struct Session {
    conn: Conn<TlsStream<TcpStream>>,
    info: SessionInfo,
    timeouts: Timeouts,
    max_message_bytes: Option<u64>,
    /// False once a failure left the dialogue in an unknown state.
    usable: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("info", &self.info)
            .field("usable", &self.usable)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// Sends one message: `MAIL FROM`, `RCPT TO` each recipient (the refused ones reported,
    /// the message sent to the others), `DATA` and the message streamed from `message`'s
    /// chunks (CRLF line ends expected). Limits are checked before anything is sent. After a
    /// refusal the transaction is reset and the session may send another message.
    pub async fn send(
        &mut self,
        envelope: &Envelope,
        message: &[Bytes],
    ) -> Result<Delivery, SmtpError> {
        if !self.usable {
            return Err(SmtpError::Protocol {
                stage: Stage::MailFrom,
                reason: "this session ended with an earlier failure: connect again".to_owned(),
            });
        }
        check_envelope(envelope)?;
        let size = message_size(message);
        check_size(
            size,
            self.max_message_bytes,
            self.info.capabilities.size_limit,
        )?;
        if envelope.eight_bit && !self.info.capabilities.eight_bit_mime {
            return Err(SmtpError::EightBitUnsupported);
        }
        let outcome = self.transaction(envelope, message, size).await;
        match &outcome {
            Ok(delivery) => tracing::debug!(
                server = %self.info.server,
                accepted = delivery.accepted.len(),
                refused = delivery.refused.len(),
                reply = delivery.reply.code,
                "SMTP message sent"
            ),
            Err(e) => {
                tracing::debug!(server = %self.info.server, error = %e, "SMTP message not sent");
                self.after_failure(e).await;
            }
        }
        outcome
    }

    async fn transaction(
        &mut self,
        envelope: &Envelope,
        message: &[Bytes],
        size: u64,
    ) -> Result<Delivery, SmtpError> {
        let caps = &self.info.capabilities;
        let t = self.timeouts.command;
        let dsn = envelope.dsn.as_ref().filter(|_| caps.dsn);

        let mut mail = format!("MAIL FROM:<{}>", envelope.from);
        if caps.size {
            mail.push_str(&format!(" SIZE={size}"));
        }
        if envelope.eight_bit {
            mail.push_str(" BODY=8BITMIME");
        }
        if let Some(d) = dsn {
            mail.push_str(if d.return_full {
                " RET=FULL"
            } else {
                " RET=HDRS"
            });
            if let Some(id) = &d.envelope_id {
                mail.push_str(&format!(" ENVID={}", xtext(id)));
            }
        }
        self.conn.command(&mail, Stage::MailFrom, t).await?;
        let reply = self.conn.reply(Stage::MailFrom, t).await?;
        if reply.code != 250 {
            return Err(if reply.is_size_refusal() {
                SmtpError::MessageTooLarge {
                    size,
                    limit: SizeLimit::Server(caps.size_limit),
                    reply: Some(reply),
                }
            } else if reply.is_permanent() {
                SmtpError::SenderRefused { reply }
            } else {
                unexpected(Stage::MailFrom, reply)
            });
        }

        let mut accepted = Vec::new();
        let mut refused = Vec::new();
        for address in &envelope.recipients {
            let mut rcpt = format!("RCPT TO:<{address}>");
            if let Some(d) = dsn {
                rcpt.push_str(&format!(
                    " NOTIFY={} ORCPT=rfc822;{}",
                    notify(d),
                    xtext(address)
                ));
            }
            self.conn.command(&rcpt, Stage::RcptTo, t).await?;
            let reply = self.conn.reply(Stage::RcptTo, t).await?;
            let entry = |reply| RecipientReply {
                address: address.clone(),
                reply,
            };
            match reply.code {
                250 | 251 => accepted.push(entry(reply)),
                // The server is closing the connection.
                421 => return Err(unexpected(Stage::RcptTo, reply)),
                _ if reply.is_transient() || reply.is_permanent() => refused.push(entry(reply)),
                _ => return Err(unexpected(Stage::RcptTo, reply)),
            }
        }
        if envelope.all_or_nothing && !refused.is_empty() && !accepted.is_empty() {
            return Err(SmtpError::RecipientsRefused { refused });
        }
        if accepted.is_empty() {
            return Err(SmtpError::AllRecipientsRefused { refused });
        }

        self.conn.command("DATA", Stage::Data, t).await?;
        let reply = self.conn.reply(Stage::Data, t).await?;
        if reply.code != 354 {
            return Err(unexpected(Stage::Data, reply));
        }
        self.conn.message(message, t).await?;
        let reply = self
            .conn
            .reply(Stage::Message, self.timeouts.data_end)
            .await?;
        if reply.code == 250 {
            Ok(Delivery {
                accepted,
                refused,
                reply,
                dsn_requested: dsn.is_some(),
            })
        } else if reply.is_size_refusal() {
            Err(SmtpError::MessageTooLarge {
                size,
                limit: SizeLimit::Server(caps.size_limit),
                reply: Some(reply),
            })
        } else {
            Err(unexpected(Stage::Message, reply))
        }
    }

    /// After a refusal, `RSET` so the session can go on; after a broken dialogue, nothing
    /// more.
    async fn after_failure(&mut self, e: &SmtpError) {
        let reset = match e {
            SmtpError::Timeout { .. }
            | SmtpError::ConnectionLost { .. }
            | SmtpError::Protocol { .. }
            | SmtpError::Tls { .. } => false,
            _ if e.reply().is_some_and(|r| r.code == 421) => false,
            // The transaction is over once the server answered the message.
            SmtpError::Transient {
                stage: Stage::Message,
                ..
            }
            | SmtpError::Permanent {
                stage: Stage::Message,
                ..
            } => return,
            _ => true,
        };
        if !reset {
            self.usable = false;
            return;
        }
        let t = self.timeouts.command;
        let ok = match self.conn.command("RSET", Stage::Rset, t).await {
            Ok(()) => matches!(self.conn.reply(Stage::Rset, t).await, Ok(r) if r.code == 250),
            Err(_) => false,
        };
        self.usable = ok;
    }

    /// `QUIT` and close; failures are ignored (the messages are already sent or not).
    pub async fn quit(mut self) {
        let t = self.timeouts.command;
        if self.usable && self.conn.command("QUIT", Stage::Quit, t).await.is_ok() {
            let _ = self.conn.reply(Stage::Quit, t).await;
        }
        self.conn.shutdown().await;
    }
}

fn message_size(message: &[Bytes]) -> u64 {
    message.iter().map(|c| c.len() as u64).sum()
}

fn check_size(size: u64, ours: Option<u64>, server: Option<u64>) -> Result<(), SmtpError> {
    if let Some(max) = ours
        && size > max
    {
        return Err(SmtpError::MessageTooLarge {
            size,
            limit: SizeLimit::Settings(max),
            reply: None,
        });
    }
    if let Some(max) = server
        && size > max
    {
        return Err(SmtpError::MessageTooLarge {
            size,
            limit: SizeLimit::Server(Some(max)),
            reply: None,
        });
    }
    Ok(())
}

fn check_envelope(envelope: &Envelope) -> Result<(), SmtpError> {
    // Empty: the null reverse-path, `MAIL FROM:<>`.
    if !envelope.from.is_empty() {
        check_address(AddressRole::Sender, &envelope.from)?;
    }
    if envelope.recipients.is_empty() {
        return Err(SmtpError::InvalidAddress {
            role: AddressRole::Recipient,
            address: String::new(),
            reason: "the envelope has no recipient",
        });
    }
    for r in &envelope.recipients {
        check_address(AddressRole::Recipient, r)?;
    }
    if let Some(id) = envelope.dsn.as_ref().and_then(|d| d.envelope_id.as_ref())
        && (id.is_empty() || id.len() > 100 || !id.is_ascii())
    {
        return Err(SmtpError::config(
            "the DSN envelope id must be 1 to 100 ASCII characters",
        ));
    }
    Ok(())
}

/// Addresses go into a command line between angle brackets: nothing that could end or
/// change it, ASCII only (SMTPUTF8 is not used).
fn check_address(role: AddressRole, address: &str) -> Result<(), SmtpError> {
    let reason = if address.is_empty() {
        "it is empty"
    } else if !address.is_ascii() {
        "it is not ASCII (internationalised addresses are not supported)"
    } else if address
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || b == b'<' || b == b'>')
    {
        "it holds a space, a control character or an angle bracket"
    } else if !matches!(address.rsplit_once('@'), Some((l, d)) if !l.is_empty() && !d.is_empty()) {
        "it is not local@domain"
    } else {
        return Ok(());
    };
    Err(SmtpError::InvalidAddress {
        role,
        address: address.to_owned(),
        reason,
    })
}

fn notify(d: &Dsn) -> String {
    let kinds: Vec<&str> = [
        (d.notify_success, "SUCCESS"),
        (d.notify_failure, "FAILURE"),
        (d.notify_delay, "DELAY"),
    ]
    .into_iter()
    .filter_map(|(on, k)| on.then_some(k))
    .collect();
    if kinds.is_empty() {
        "NEVER".to_owned()
    } else {
        kinds.join(",")
    }
}

/// RFC 3461 xtext: printable ASCII but `+` and `=` as is, the rest `+HH`.
fn xtext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_addresses_cannot_break_a_command() {
        for bad in [
            "",
            "a b@c.fr",
            "a@c.fr\r\nRCPT TO:<x@y>",
            "<a@c.fr>",
            "é@c.fr",
            "abc",
            "@c.fr",
        ] {
            assert!(
                matches!(
                    check_address(AddressRole::Recipient, bad),
                    Err(SmtpError::InvalidAddress { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(check_address(AddressRole::Sender, "lps@passerelle-sandbox.mssante.fr").is_ok());
    }

    #[test]
    fn dsn_parameters() {
        assert_eq!(xtext("a+b=c d"), "a+2Bb+3Dc+20d");
        let d = Dsn {
            notify_success: true,
            notify_failure: true,
            ..Dsn::default()
        };
        assert_eq!(notify(&d), "SUCCESS,FAILURE");
        assert_eq!(notify(&Dsn::default()), "NEVER");
    }

    #[test]
    fn settings_are_checked_when_the_client_is_made() {
        let mut s = SmtpSettings::default();
        let e = SmtpClient::new(&s).unwrap_err().to_string();
        assert!(e.contains("smtp.host is empty"), "{e}");
        s.host = "smtp.example".to_owned();
        let e = SmtpClient::new(&s).unwrap_err().to_string();
        assert!(e.contains("smtp.tls.trusted_ca is empty"), "{e}");
        s.auth = AuthSettings::Password {
            user: "u".to_owned(),
            password: String::new(),
        };
        let e = SmtpClient::new(&s).unwrap_err().to_string();
        assert!(e.contains("needs both user and password"), "{e}");
    }
}
