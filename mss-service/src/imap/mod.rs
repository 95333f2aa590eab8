//! The IMAP client: reading an MSSanté mailbox on the operator's server, over TLS (implicit,
//! or STARTTLS), authenticated by a client certificate (the organisation's, or the CPS card's
//! through the card-agent) with `AUTHENTICATE EXTERNAL`, or by a mailbox password (`LOGIN`,
//! inside TLS only).
//!
//! Our own small client (RFC 3501 IMAP4rev1, 2177 IDLE, 4959 SASL-IR, 4422 EXTERNAL) on the
//! SMTP client's TLS configuration ([`crate::smtp`]): the same CAs, suites and card resolver.
//!
//! ```text
//! let client = ImapClient::new(&settings.imap)?;                  // reads the identity and CAs
//! let mut session = client.connect(ClientCert::Configured, Some(mailbox)).await?;
//! let inbox = session.select("INBOX").await?;
//! for uid in session.uid_search("UNSEEN").await? {
//!     let message = session.uid_fetch_message(uid).await?;        // the raw RFC 5322 bytes
//!     session.uid_store_flags(uid, &["\\Seen"]).await?;
//! }
//! session.logout().await;
//! ```
//!
//! Nothing but the greeting, CAPABILITY and STARTTLS before TLS. Neither passwords nor
//! commands are logged; a patient's mailbox name (their INS) never is; server texts in
//! errors have patients' addresses masked.

mod config;
mod conn;
mod error;
mod response;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

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

pub use crate::smtp::ClientCert;
pub use config::{ImapAuth, ImapSettings, ImapTimeouts, ImapTls, TlsMode};
pub use error::{ImapError, ImapStage};

use crate::smtp::mask_patient_addresses;
use crate::smtp::tls::{self as smtp_tls, Presenter};
use conn::{Conn, timed, tls_reason};
use response::{Token, response_code};

/// What `SELECT` tells of a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    /// Changes when the server renumbered the UIDs: what we remember by UID is void then.
    pub uid_validity: u32,
    /// How many messages it holds.
    pub exists: u32,
    /// The UID the next message will get (when the server says).
    pub uid_next: Option<u32>,
}

/// How an `IDLE` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleEvent {
    /// The mailbox now holds this many messages (a message arrived, or one was expunged).
    Exists(u32),
    /// Nothing happened within the time given.
    Timeout,
    /// The server ended the session (`BYE` or the connection closed): connect again.
    Closed,
}

/// The configured client: settings checked, certificate and CAs read once.
pub struct ImapClient {
    settings: ImapSettings,
    server: String,
    server_name: ServerName<'static>,
    roots: Arc<RootCertStore>,
    identity: Option<Arc<CertifiedKey>>,
}

impl fmt::Debug for ImapClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapClient")
            .field("server", &self.server)
            .field("mode", &self.settings.mode)
            .field("auth", &self.settings.auth)
            .finish_non_exhaustive()
    }
}

fn from_smtp(e: crate::smtp::SmtpError) -> ImapError {
    match e {
        crate::smtp::SmtpError::Config { reason } => ImapError::Config {
            reason: reason.replace("smtp.", "imap."),
        },
        other => ImapError::config(other.to_string()),
    }
}

impl ImapClient {
    pub fn new(settings: &ImapSettings) -> Result<Self, ImapError> {
        let host = settings.host.trim();
        if host.is_empty() {
            return Err(ImapError::config(
                "imap.host is empty: give the operator's IMAP server",
            ));
        }
        let server_name = ServerName::try_from(host.to_owned()).map_err(|e| {
            ImapError::config(format!(
                "imap.host {host:?} is not a host name or IP address: {e}"
            ))
        })?;
        let port = settings.port();
        if port == 0 {
            return Err(ImapError::config("imap.port must not be 0"));
        }
        let t = &settings.timeouts;
        if t.connect.is_zero() || t.command.is_zero() {
            return Err(ImapError::config(
                "imap.timeouts (connect, command) must be greater than zero",
            ));
        }
        if let ImapAuth::Password { user, password } = &settings.auth {
            if user.is_empty() || password.is_empty() {
                return Err(ImapError::config(
                    "imap.auth.password needs both user and password",
                ));
            }
            if !quotable(user) || !quotable(password) {
                return Err(ImapError::config(
                    "imap.auth.password: user and password must be printable ASCII (sent as IMAP quoted strings)",
                ));
            }
        }
        let roots = passerelle_mtls::load_roots(&settings.tls.trusted_ca)
            .map_err(|e| ImapError::config(format!("imap.{e}")))?;
        let identity = settings
            .tls
            .identity
            .as_ref()
            .map(smtp_tls::load_identity)
            .transpose()
            .map_err(from_smtp)?;
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

    /// Opens an authenticated session: greeting, CAPABILITY, (STARTTLS, CAPABILITY),
    /// AUTHENTICATE EXTERNAL (`mailbox` as the authorisation identity, when given) or LOGIN.
    pub async fn connect(
        &self,
        cert: ClientCert<'_>,
        mailbox: Option<&str>,
    ) -> Result<ImapSession, ImapError> {
        let (presenter, card) = match cert {
            ClientCert::Configured => (Presenter::Software(self.identity.as_ref()), None),
            ClientCert::Card(card) => (Presenter::Card(card), Some(card)),
        };
        let (config, presented) =
            smtp_tls::connection_config(&self.roots, self.settings.tls.min_version, presenter)
                .map_err(from_smtp)?;
        let connector = TlsConnector::from(config);
        let t = &self.settings.timeouts;
        let host = self.settings.host.trim();
        let tcp = match crate::transport::connect(host, self.settings.port(), t.connect).await {
            Ok(tcp) => tcp,
            Err(crate::transport::ConnectFailure::Timeout) => {
                return Err(ImapError::Timeout {
                    stage: ImapStage::Connect,
                    after: t.connect,
                });
            }
            Err(crate::transport::ConnectFailure::Io(e)) => {
                return Err(ImapError::Connect {
                    server: self.server.clone(),
                    reason: e.to_string(),
                });
            }
        };

        let (mut conn, preauth) = match self.settings.mode {
            TlsMode::Implicit => {
                let tls = self.handshake(&connector, tcp, card).await?;
                let mut conn = Conn::new(tls, &self.server);
                let preauth = self.greeting(&mut conn).await?;
                (conn, preauth)
            }
            TlsMode::Starttls => {
                let mut plain = Conn::new(tcp, &self.server);
                if self.greeting(&mut plain).await? {
                    return Err(ImapError::protocol(
                        "the server pre-authenticated a connection without TLS (refused)",
                    ));
                }
                // Not trusted (anyone on the path could write it): only STARTTLS is read
                // from it, the capabilities are asked again inside TLS.
                let caps = self.capabilities(&mut plain).await?;
                if !caps.iter().any(|c| c == "STARTTLS") {
                    return Err(ImapError::Tls {
                        server: self.server.clone(),
                        reason: "the server does not offer STARTTLS: check imap.port, or use imap.mode = \"implicit\" if it is an implicit-TLS port".to_owned(),
                    });
                }
                plain
                    .command("STARTTLS", "STARTTLS", ImapStage::StartTls, t.command)
                    .await
                    .map_err(|e| match e {
                        ImapError::No { text, .. } | ImapError::Bad { text, .. } => {
                            ImapError::Tls {
                                server: self.server.clone(),
                                reason: format!("the server refused STARTTLS: {text}"),
                            }
                        }
                        other => other,
                    })?;
                let (tcp, next_tag) = plain.into_parts()?;
                let tls = self.handshake(&connector, tcp, card).await?;
                (Conn::new(tls, &self.server).with_tag(next_tag), false)
            }
        };
        let capabilities = self.capabilities(&mut conn).await?;
        if !preauth {
            let outcome = self
                .authenticate(
                    &mut conn,
                    &capabilities,
                    presented.load(Ordering::SeqCst),
                    mailbox,
                )
                .await;
            if let Err(e) = outcome {
                if matches!(e, ImapError::AuthRefused { .. }) {
                    let _ = conn
                        .command("LOGOUT", "LOGOUT", ImapStage::Logout, t.command)
                        .await;
                    conn.shutdown().await;
                }
                return Err(e);
            }
        }
        let (_, tls_state) = conn.stream().get_ref();
        tracing::debug!(
            server = %self.server,
            tls = ?tls_state.protocol_version(),
            auth = ?self.settings.auth,
            "IMAP session open"
        );
        Ok(ImapSession {
            conn,
            timeouts: self.settings.timeouts.clone(),
            capabilities,
        })
    }

    async fn handshake(
        &self,
        connector: &TlsConnector,
        tcp: TcpStream,
        card: Option<&CardTlsIdentity>,
    ) -> Result<TlsStream<TcpStream>, ImapError> {
        let after = self.settings.timeouts.connect;
        let outcome =
            tokio::time::timeout(after, connector.connect(self.server_name.clone(), tcp)).await;
        let error = match outcome {
            Ok(Ok(tls)) => return Ok(tls),
            Err(_) => ImapError::Timeout {
                stage: ImapStage::Connect,
                after,
            },
            Ok(Err(e)) => ImapError::Tls {
                server: self.server.clone(),
                reason: match smtp_tls::rustls_error(&e) {
                    Some(t) => tls_reason(&smtp_tls::failure_of(t)),
                    None => format!("the connection ended during the handshake: {e}"),
                },
            },
        };
        // The card's own failure (PIN, card removed, agent gone) says what to do.
        match card.and_then(CardTlsIdentity::take_error) {
            Some(card_error) => Err(ImapError::Card(card_error)),
            None => Err(error),
        }
    }

    /// The greeting: `OK` (false), `PREAUTH` (true), `BYE` refused.
    async fn greeting<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        conn: &mut Conn<S>,
    ) -> Result<bool, ImapError> {
        let after = self.settings.timeouts.command;
        let response = timed(ImapStage::Greeting, after, conn.response()).await?;
        let head = response.untagged().map(|r| r.to_ascii_uppercase());
        match head {
            Some(h) if h.starts_with(b"OK") => Ok(false),
            Some(h) if h.starts_with(b"PREAUTH") => Ok(true),
            Some(h) if h.starts_with(b"BYE") => Err(conn.closed()),
            _ => Err(ImapError::protocol("the server's greeting is not IMAP")),
        }
    }

    async fn capabilities<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        conn: &mut Conn<S>,
    ) -> Result<Vec<String>, ImapError> {
        let done = conn
            .command(
                "CAPABILITY",
                "CAPABILITY",
                ImapStage::Capability,
                self.settings.timeouts.command,
            )
            .await?;
        let mut caps = Vec::new();
        for r in &done.untagged {
            let Some(tokens) = r.untagged_tokens() else {
                continue;
            };
            if tokens
                .first()
                .and_then(Token::atom)
                .is_some_and(|a| a.eq_ignore_ascii_case("CAPABILITY"))
            {
                caps.extend(
                    tokens[1..]
                        .iter()
                        .filter_map(Token::atom)
                        .map(str::to_ascii_uppercase),
                );
            }
        }
        Ok(caps)
    }

    async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        conn: &mut Conn<S>,
        caps: &[String],
        presented: bool,
        mailbox: Option<&str>,
    ) -> Result<(), ImapError> {
        let after = self.settings.timeouts.command;
        let refused = |e: ImapError| match e {
            ImapError::No { text, .. } => ImapError::AuthRefused { text },
            other => other,
        };
        match &self.settings.auth {
            ImapAuth::Password { user, password } => {
                if caps.iter().any(|c| c == "LOGINDISABLED") {
                    return Err(ImapError::AuthRefused {
                        text: "the server disables LOGIN (LOGINDISABLED)".to_owned(),
                    });
                }
                let line = format!("LOGIN {} {}", quoted(user), quoted(password));
                conn.command(&line, "LOGIN", ImapStage::Authenticate, after)
                    .await
                    .map(drop)
                    .map_err(refused)
            }
            ImapAuth::External => {
                if !caps.iter().any(|c| c == "AUTH=EXTERNAL") {
                    return Err(ImapError::AuthRefused {
                        text: if presented {
                            "the server does not offer AUTHENTICATE EXTERNAL".to_owned()
                        } else {
                            "the server does not offer AUTHENTICATE EXTERNAL (our certificate was not presented: check imap.tls.identity)".to_owned()
                        },
                    });
                }
                let authzid = match mailbox {
                    Some(m) if !m.is_empty() => BASE64.encode(m.as_bytes()),
                    _ => String::new(),
                };
                let sasl_ir = caps.iter().any(|c| c == "SASL-IR");
                timed(ImapStage::Authenticate, after, async {
                    let tag = conn.new_tag();
                    if sasl_ir {
                        let ir = if authzid.is_empty() { "=" } else { &authzid };
                        conn.write_line(format!("{tag} AUTHENTICATE EXTERNAL {ir}").as_bytes())
                            .await?;
                    } else {
                        conn.write_line(format!("{tag} AUTHENTICATE EXTERNAL").as_bytes())
                            .await?;
                        loop {
                            let r = conn.response().await?;
                            if r.is_continuation() {
                                break;
                            }
                            if let Some((status, text)) = r.tagged(&tag) {
                                let text = mask_patient_addresses(&text);
                                return Err(if status == "BAD" {
                                    ImapError::Bad {
                                        command: "AUTHENTICATE",
                                        text,
                                    }
                                } else {
                                    ImapError::AuthRefused { text }
                                });
                            }
                        }
                        conn.write_line(authzid.as_bytes()).await?;
                    }
                    conn.until_tagged(&tag, "AUTHENTICATE").await.map(drop)
                })
                .await
                .map_err(refused)
            }
        }
    }
}

/// An authenticated session.
pub struct ImapSession {
    conn: Conn<TlsStream<TcpStream>>,
    timeouts: ImapTimeouts,
    capabilities: Vec<String>,
}

impl fmt::Debug for ImapSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapSession")
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

impl ImapSession {
    /// The server's capabilities after TLS (before authentication), upper case.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// Opens `mailbox` read-write.
    pub async fn select(&mut self, mailbox: &str) -> Result<Selected, ImapError> {
        let name = mailbox_arg(mailbox)?;
        let done = self
            .conn
            .command(
                &format!("SELECT {name}"),
                "SELECT",
                ImapStage::Select,
                self.timeouts.command,
            )
            .await?;
        let (mut uid_validity, mut exists, mut uid_next) = (None, None, None);
        for r in &done.untagged {
            let Some(rest) = r.untagged() else { continue };
            let rest = String::from_utf8_lossy(rest);
            let mut words = rest.splitn(3, ' ');
            let (first, second) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            if second.eq_ignore_ascii_case("EXISTS") {
                exists = first.parse().ok();
            } else if first.eq_ignore_ascii_case("OK")
                && let Some((code, value)) = response_code(rest[2..].trim_start())
            {
                match code.as_str() {
                    "UIDVALIDITY" => uid_validity = value.trim().parse().ok(),
                    "UIDNEXT" => uid_next = value.trim().parse().ok(),
                    _ => {}
                }
            }
        }
        let uid_validity = uid_validity
            .ok_or_else(|| ImapError::protocol("SELECT: no UIDVALIDITY in the answer"))?;
        let exists =
            exists.ok_or_else(|| ImapError::protocol("SELECT: no EXISTS in the answer"))?;
        tracing::debug!(exists, uid_validity, "IMAP mailbox selected");
        Ok(Selected {
            uid_validity,
            exists,
            uid_next,
        })
    }

    /// `UID SEARCH criteria` (e.g. `UNSEEN`, `UID 12:*`): the UIDs found, ascending.
    pub async fn uid_search(&mut self, criteria: &str) -> Result<Vec<u32>, ImapError> {
        if criteria.trim().is_empty() || !criteria.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err(ImapError::config(
                "search criteria must be printable ASCII on one line",
            ));
        }
        let done = self
            .conn
            .command(
                &format!("UID SEARCH {criteria}"),
                "UID SEARCH",
                ImapStage::Search,
                self.timeouts.command,
            )
            .await?;
        let mut uids = Vec::new();
        for r in &done.untagged {
            let Some(tokens) = r.untagged_tokens() else {
                continue;
            };
            if tokens
                .first()
                .and_then(Token::atom)
                .is_some_and(|a| a.eq_ignore_ascii_case("SEARCH"))
            {
                for t in &tokens[1..] {
                    uids.push(t.number().ok_or_else(|| {
                        ImapError::protocol("SEARCH: a result that is not a number")
                    })?);
                }
            }
        }
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// The whole message (`BODY.PEEK[]`: not marked seen), byte for byte.
    pub async fn uid_fetch_message(&mut self, uid: u32) -> Result<Bytes, ImapError> {
        match self.uid_fetch_item(uid, "BODY.PEEK[]", "BODY[]").await? {
            Token::Str(body) => Ok(body),
            _ => Err(ImapError::protocol("BODY[] is not a string")),
        }
    }

    /// The message's header section (`BODY.PEEK[HEADER]`), to report a message too large to
    /// read whole.
    pub async fn uid_fetch_header(&mut self, uid: u32) -> Result<Bytes, ImapError> {
        match self
            .uid_fetch_item(uid, "BODY.PEEK[HEADER]", "BODY[HEADER]")
            .await?
        {
            Token::Str(header) => Ok(header),
            _ => Err(ImapError::protocol("BODY[HEADER] is not a string")),
        }
    }

    /// The message's size (`RFC822.SIZE`), before deciding to fetch it.
    pub async fn uid_size(&mut self, uid: u32) -> Result<u64, ImapError> {
        self.uid_fetch_item(uid, "RFC822.SIZE", "RFC822.SIZE")
            .await?
            .number()
            .map(u64::from)
            .ok_or_else(|| ImapError::protocol("RFC822.SIZE is not a number"))
    }

    /// `UID FETCH uid (UID <request>)`: the value the server gives under `key`.
    async fn uid_fetch_item(
        &mut self,
        uid: u32,
        request: &str,
        key: &str,
    ) -> Result<Token, ImapError> {
        let done = self
            .conn
            .command(
                &format!("UID FETCH {uid} (UID {request})"),
                "UID FETCH",
                ImapStage::Fetch,
                self.timeouts.command,
            )
            .await?;
        for r in done.untagged {
            let Some(tokens) = r.untagged_tokens() else {
                continue;
            };
            let [_, Token::Atom(kind), Token::List(items), ..] = tokens.as_slice() else {
                continue;
            };
            if !kind.eq_ignore_ascii_case("FETCH") {
                continue;
            }
            let mut value = None;
            let mut this_uid = None;
            for pair in items.chunks(2) {
                let [Token::Atom(name), v] = pair else {
                    continue;
                };
                if name.eq_ignore_ascii_case("UID") {
                    this_uid = v.number();
                }
                if name.eq_ignore_ascii_case(key) {
                    value = Some(v.clone());
                }
            }
            if let Some(value) = value
                && this_uid.is_none_or(|u| u == uid)
            {
                return Ok(value);
            }
        }
        Err(ImapError::No {
            command: "UID FETCH",
            text: format!("no message with UID {uid} (expunged, or never there)"),
        })
    }

    /// Adds flags or keywords to a message: `\Seen`, `$MDNSent`, our own keywords.
    pub async fn uid_store_flags(&mut self, uid: u32, add: &[&str]) -> Result<(), ImapError> {
        if add.is_empty() {
            return Ok(());
        }
        if let Some(bad) = add.iter().find(|f| !is_flag(f)) {
            return Err(ImapError::config(format!(
                "{bad:?} is not an IMAP flag or keyword"
            )));
        }
        self.conn
            .command(
                &format!("UID STORE {uid} +FLAGS.SILENT ({})", add.join(" ")),
                "UID STORE",
                ImapStage::Store,
                self.timeouts.command,
            )
            .await
            .map(drop)
    }

    /// Waits up to `timeout` for the selected mailbox to change (RFC 2177 IDLE, then DONE).
    /// Servers end IDLE after 30 minutes: give less (RFC 2177 says 29).
    pub async fn idle(&mut self, timeout: Duration) -> Result<IdleEvent, ImapError> {
        let after = self.timeouts.command;
        let tag = self.conn.new_tag();
        let mut exists = None;
        let started = timed(ImapStage::Idle, after, async {
            self.conn
                .write_line(format!("{tag} IDLE").as_bytes())
                .await?;
            loop {
                let r = self.conn.response().await?;
                if r.is_continuation() {
                    return Ok(());
                }
                if let Some((status, text)) = r.tagged(&tag) {
                    let text = mask_patient_addresses(&text);
                    return Err(match status.as_str() {
                        "BAD" => ImapError::Bad {
                            command: "IDLE",
                            text,
                        },
                        _ => ImapError::No {
                            command: "IDLE",
                            text,
                        },
                    });
                }
                if let Some(n) = exists_of(&r) {
                    exists = Some(n);
                }
            }
        })
        .await;
        match started {
            Ok(()) => {}
            Err(ImapError::Bye { .. }) => return Ok(IdleEvent::Closed),
            Err(e) => return Err(e),
        }
        let deadline = tokio::time::Instant::now() + timeout;
        while exists.is_none() {
            match tokio::time::timeout_at(deadline, self.conn.response()).await {
                Err(_) => break,
                Ok(Err(ImapError::Bye { .. })) => return Ok(IdleEvent::Closed),
                Ok(Err(e)) => return Err(e),
                Ok(Ok(r)) => {
                    if r.tagged(&tag).is_some() {
                        // The server ended IDLE itself.
                        return Ok(IdleEvent::Closed);
                    }
                    if let Some(n) = exists_of(&r) {
                        exists = Some(n);
                    }
                }
            }
        }
        let ended = timed(ImapStage::Idle, after, async {
            self.conn.write_line(b"DONE").await?;
            self.conn.until_tagged(&tag, "IDLE").await
        })
        .await;
        match ended {
            Ok(done) => {
                for r in &done.untagged {
                    if let Some(n) = exists_of(r) {
                        exists = Some(n);
                    }
                }
            }
            Err(ImapError::Bye { .. }) => return Ok(IdleEvent::Closed),
            Err(e) => return Err(e),
        }
        Ok(exists.map_or(IdleEvent::Timeout, IdleEvent::Exists))
    }

    /// Says goodbye and closes; errors do not matter any more.
    pub async fn logout(mut self) {
        let _ = self
            .conn
            .command("LOGOUT", "LOGOUT", ImapStage::Logout, self.timeouts.command)
            .await;
        self.conn.shutdown().await;
    }
}

/// `* n EXISTS`.
fn exists_of(r: &response::Response) -> Option<u32> {
    let rest = String::from_utf8_lossy(r.untagged()?).into_owned();
    let mut words = rest.split(' ');
    let n = words.next()?.parse().ok()?;
    words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("EXISTS"))
        .then_some(n)
}

/// Printable ASCII: sent as a quoted string.
fn quotable(s: &str) -> bool {
    s.bytes().all(|b| (b' '..=b'~').contains(&b))
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A mailbox name as a quoted string; names outside ASCII (modified UTF-7) are not ours.
fn mailbox_arg(mailbox: &str) -> Result<String, ImapError> {
    if mailbox.is_empty() || !quotable(mailbox) {
        return Err(ImapError::config(format!(
            "mailbox name {:?} must be printable ASCII",
            mask_patient_addresses(mailbox)
        )));
    }
    Ok(quoted(mailbox))
}

/// A system flag (`\Seen`) or a keyword (an atom: no space, parenthesis, quote, wildcard,
/// bracket or backslash inside).
fn is_flag(flag: &str) -> bool {
    let body = flag.strip_prefix('\\').unwrap_or(flag);
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_mailboxes_and_quoting() {
        assert!(is_flag("\\Seen") && is_flag("$MDNSent") && is_flag("passerelle-lu"));
        assert!(!is_flag("a b") && !is_flag("\\") && !is_flag("x)") && !is_flag("a\\b"));
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(mailbox_arg("INBOX").unwrap(), "\"INBOX\"");
        let e = mailbox_arg("248039263001064@patient.mssante.fr\r\nX").unwrap_err();
        assert!(!e.to_string().contains("248039263001064"), "{e}");
    }
}
