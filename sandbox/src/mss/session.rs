//! One SMTP submission session (RFC 5321, 3207 STARTTLS, 4954 AUTH, 1870 SIZE, 3461 DSN
//! parameters, 2034 enhanced status codes, 2920 pipelining).
//!
//! Who may send: a client certificate the sandbox knows (by fingerprint) authenticates
//! the session by itself, unless SASL is required; `AUTH EXTERNAL` binds the session to
//! that certificate (optionally narrowed to one address, the authzid); `AUTH PLAIN` /
//! `LOGIN` check an operator account. Nothing but `EHLO`, `STARTTLS`, `NOOP`, `RSET` and
//! `QUIT` before TLS.
//!
//! Citizen addresses (`…@patient.mssante.fr`) are INS: they never reach a log, nor a
//! reply.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;

use super::SaslMode;
use super::checks;
use super::faults::{MssFaultKind, Stage};
use super::mailboxes::{MailboxType, is_patient_address, normalise};
use super::senders::{CertIdentity, subject_cn};
use super::server::{Conn, Shared};
use super::store::{self, Envelope};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A command line (RFC 5321 says 512; SASL responses run to 12288, RFC 4954 §4).
const MAX_COMMAND_LINE: usize = 12 * 1024 + 2;
/// Errors after which the session is dropped (a client in a loop).
const MAX_ERRORS: u32 = 20;

/// How a session authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthMethod {
    /// The client certificate alone (no AUTH).
    Certificate,
    External,
    Password,
}

impl AuthMethod {
    fn name(self) -> &'static str {
        match self {
            Self::Certificate => "certificate",
            Self::External => "external",
            Self::Password => "password",
        }
    }
}

#[derive(Debug, Clone)]
struct Authenticated {
    method: AuthMethod,
    /// Certificate CN or account user name.
    identity: String,
    /// The `From` addresses allowed.
    addresses: Vec<String>,
}

#[derive(Debug, Clone, Default)]
struct TlsInfo {
    version: String,
    cipher: String,
    /// Subject CN of the client certificate, when one was presented.
    client_cn: Option<String>,
    /// What that certificate may do, when the sandbox knows it.
    client: Option<CertIdentity>,
}

#[derive(Debug, Clone)]
struct Recipient {
    address: String,
    notify: Option<String>,
    orcpt: Option<String>,
}

#[derive(Debug)]
struct Transaction {
    mail_from: String,
    auth: Authenticated,
    ret: Option<String>,
    envid: Option<String>,
    recipients: Vec<Recipient>,
}

/// Why a read ended without a line.
enum ReadEnd {
    Eof,
    Timeout,
    Stopped,
    Io,
}

pub(crate) enum Line {
    Complete,
    TooLong,
}

/// What to do after a command.
enum Next {
    Continue,
    Close,
}

pub(crate) struct Session {
    shared: Arc<Shared>,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
}

/// The mutable state of a running session.
struct State {
    io: BufReader<Conn>,
    tls: Option<TlsInfo>,
    helo: Option<String>,
    auth: Option<Authenticated>,
    txn: Option<Transaction>,
    errors: u32,
}

impl Session {
    pub fn new(shared: Arc<Shared>, peer: SocketAddr, stop: watch::Receiver<bool>) -> Self {
        Self { shared, peer, stop }
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The TLS handshake on a fresh connection (implicit TLS) or after `STARTTLS`.
    pub async fn handshake(&self, tcp: TcpStream) -> Option<TlsStream<TcpStream>> {
        let peer = self.peer;
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.shared.acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => Some(tls),
            Ok(Err(error)) => {
                tracing::info!(%peer, %error, "MSS sandbox: TLS handshake refused");
                None
            }
            Err(_) => {
                tracing::info!(%peer, "MSS sandbox: TLS handshake timed out");
                None
            }
        }
    }

    pub async fn run(mut self, conn: Conn, implicit_tls: bool) {
        let tls = match (&conn, implicit_tls) {
            (Conn::Tls(stream), true) => Some(self.tls_info(stream)),
            _ => None,
        };
        let mut st = State {
            io: BufReader::new(conn),
            tls,
            helo: None,
            auth: None,
            txn: None,
            errors: 0,
        };
        let host = self.shared.config.hostname.clone();
        if self.shared.faults.fire(Stage::Connection) == Some(MssFaultKind::Greeting421) {
            tracing::info!(peer = %self.peer, fault = "greeting-421", "MSS sandbox: fault injected");
            let _ = reply(
                &mut st,
                &format!("421 4.3.2 {host} Service not available, closing transmission channel"),
            )
            .await;
            return;
        }
        if reply(
            &mut st,
            &format!("220 {host} ESMTP Passerelle MSSante sandbox"),
        )
        .await
        .is_err()
        {
            return;
        }
        let mut line = Vec::new();
        loop {
            match self.read_line(&mut st, &mut line, MAX_COMMAND_LINE).await {
                Ok(Line::Complete) => {}
                Ok(Line::TooLong) => {
                    if self
                        .error(&mut st, "500 5.5.2 Error: line too long")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
                Err(end) => {
                    self.say_goodbye(&mut st, end).await;
                    return;
                }
            }
            let text = String::from_utf8_lossy(trim_crlf(&line)).into_owned();
            match self.command(&mut st, &text).await {
                Ok(Next::Continue) => {}
                Ok(Next::Close) | Err(()) => {
                    let _ = st.io.get_mut().shutdown().await;
                    return;
                }
            }
        }
    }

    async fn say_goodbye(&self, st: &mut State, end: ReadEnd) {
        let host = &self.shared.config.hostname;
        let text = match end {
            ReadEnd::Timeout => format!("421 4.4.2 {host} Error: timeout exceeded"),
            ReadEnd::Stopped => format!("421 4.3.2 {host} Service shutting down"),
            ReadEnd::Eof | ReadEnd::Io => return,
        };
        let _ = reply(st, &text).await;
        let _ = st.io.get_mut().shutdown().await;
    }

    fn tls_info(&self, stream: &TlsStream<TcpStream>) -> TlsInfo {
        let (_, conn) = stream.get_ref();
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
            Some(other) => format!("{other:?}"),
            None => String::new(),
        };
        let cipher = conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .unwrap_or("")
            .to_owned();
        let leaf = conn.peer_certificates().and_then(|c| c.first());
        TlsInfo {
            version,
            cipher,
            client_cn: leaf.map(|c| subject_cn(c)),
            client: leaf.and_then(|c| self.shared.senders.for_certificate(c).cloned()),
        }
    }

    /// One line (with its line break) into `buf`, at most `max` bytes; a longer line is
    /// read to its end and dropped.
    async fn read_line(
        &mut self,
        st: &mut State,
        buf: &mut Vec<u8>,
        max: usize,
    ) -> Result<Line, ReadEnd> {
        if *self.stop.borrow() {
            return Err(ReadEnd::Stopped);
        }
        let timeout = self.shared.config.timeout;
        tokio::select! {
            read = tokio::time::timeout(timeout, read_bounded(&mut st.io, buf, max)) => match read {
                Err(_) => Err(ReadEnd::Timeout),
                Ok(Err(_)) => Err(ReadEnd::Io),
                Ok(Ok(None)) => Err(ReadEnd::Eof),
                Ok(Ok(Some(line))) => Ok(line),
            },
            _ = self.stop.changed() => Err(ReadEnd::Stopped),
        }
    }

    /// A reply to a command that failed; too many of them end the session.
    async fn error(&self, st: &mut State, text: &str) -> Result<Next, ()> {
        st.errors += 1;
        if st.errors > MAX_ERRORS {
            let host = &self.shared.config.hostname;
            reply(st, &format!("421 4.7.0 {host} Error: too many errors")).await?;
            return Ok(Next::Close);
        }
        reply(st, text).await?;
        Ok(Next::Continue)
    }

    async fn command(&mut self, st: &mut State, line: &str) -> Result<Next, ()> {
        let (verb, args) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a),
            None => (line.to_ascii_uppercase(), ""),
        };
        match verb.as_str() {
            "EHLO" | "HELO" => self.ehlo(st, &verb, args.trim()).await,
            "STARTTLS" => self.starttls(st, args).await,
            "AUTH" => self.auth(st, args).await,
            "MAIL" => self.mail(st, args).await,
            "RCPT" => self.rcpt(st, args).await,
            "DATA" => self.data(st, args).await,
            "RSET" => {
                st.txn = None;
                reply(st, "250 2.0.0 Ok").await?;
                Ok(Next::Continue)
            }
            "NOOP" => {
                reply(st, "250 2.0.0 Ok").await?;
                Ok(Next::Continue)
            }
            "QUIT" => {
                reply(st, "221 2.0.0 Bye").await?;
                Ok(Next::Close)
            }
            "VRFY" => {
                reply(st, "252 2.0.0 Cannot VRFY user, but will accept message").await?;
                Ok(Next::Continue)
            }
            "HELP" => {
                reply(st, "214 2.0.0 See RFC 5321").await?;
                Ok(Next::Continue)
            }
            "EXPN" | "BDAT" | "ETRN" | "TURN" => {
                self.error(st, "502 5.5.1 Error: command not implemented")
                    .await
            }
            _ => {
                self.error(st, "500 5.5.2 Error: command not recognized")
                    .await
            }
        }
    }

    fn external_offered(&self, st: &State) -> bool {
        self.shared.config.sasl != SaslMode::Off
            && st.tls.as_ref().is_some_and(|t| t.client_cn.is_some())
    }

    async fn ehlo(&mut self, st: &mut State, verb: &str, domain: &str) -> Result<Next, ()> {
        if domain.is_empty() || domain.contains(' ') {
            return self.error(st, "501 5.5.4 Syntax: EHLO hostname").await;
        }
        st.helo = Some(domain.to_owned());
        st.txn = None;
        let host = self.shared.config.hostname.clone();
        if verb == "HELO" {
            reply(st, &format!("250 {host}")).await?;
            return Ok(Next::Continue);
        }
        let mut lines = vec![
            host,
            "PIPELINING".to_owned(),
            format!("SIZE {}", self.shared.config.max_message_bytes),
            "8BITMIME".to_owned(),
            "DSN".to_owned(),
            "ENHANCEDSTATUSCODES".to_owned(),
        ];
        if st.tls.is_none() {
            lines.push("STARTTLS".to_owned());
        } else {
            let mut mechanisms = Vec::new();
            if self.external_offered(st) {
                mechanisms.push("EXTERNAL");
            }
            if self.shared.senders.has_accounts() {
                mechanisms.extend(["PLAIN", "LOGIN"]);
            }
            if !mechanisms.is_empty() {
                lines.push(format!("AUTH {}", mechanisms.join(" ")));
            }
        }
        let last = lines.len() - 1;
        let text: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
            .collect();
        reply(st, &text.join("\r\n")).await?;
        Ok(Next::Continue)
    }

    async fn starttls(&mut self, st: &mut State, args: &str) -> Result<Next, ()> {
        if st.tls.is_some() {
            return self.error(st, "503 5.5.1 Error: TLS already active").await;
        }
        if !args.trim().is_empty() {
            return self.error(st, "501 5.5.4 Syntax: STARTTLS").await;
        }
        reply(st, "220 2.0.0 Ready to start TLS").await?;
        // Whatever the client pipelined after STARTTLS is dropped unread (RFC 3207 §4.2:
        // it could be an injection), with the plain stream's buffer.
        let Conn::Plain(tcp) = std::mem::replace(st.io.get_mut(), Conn::Closed) else {
            return Ok(Next::Close);
        };
        let Some(tls) = self.handshake(tcp).await else {
            return Ok(Next::Close);
        };
        let info = self.tls_info(&tls);
        st.io = BufReader::new(Conn::Tls(Box::new(tls)));
        st.tls = Some(info);
        // RFC 3207 §4.2: the session starts over.
        st.helo = None;
        st.auth = None;
        st.txn = None;
        Ok(Next::Continue)
    }

    /// A SASL response line: `None` when the client cancelled (`*`).
    async fn sasl_response(
        &mut self,
        st: &mut State,
        challenge: &str,
    ) -> Result<Option<String>, ()> {
        reply(st, &format!("334 {challenge}")).await?;
        let mut line = Vec::new();
        match self.read_line(st, &mut line, MAX_COMMAND_LINE).await {
            Ok(Line::Complete) => {}
            Ok(Line::TooLong) => return Ok(None),
            Err(end) => {
                self.say_goodbye(st, end).await;
                return Err(());
            }
        }
        let text = String::from_utf8_lossy(trim_crlf(&line)).trim().to_owned();
        Ok((text != "*").then_some(text))
    }

    async fn auth(&mut self, st: &mut State, args: &str) -> Result<Next, ()> {
        if st.tls.is_none() {
            return self
                .error(st, "530 5.7.0 Must issue a STARTTLS command first")
                .await;
        }
        if st.helo.is_none() {
            return self.error(st, "503 5.5.1 Error: send EHLO first").await;
        }
        if st.auth.is_some() {
            return self
                .error(st, "503 5.5.1 Error: already authenticated")
                .await;
        }
        if st.txn.is_some() {
            return self
                .error(st, "503 5.5.1 Error: MAIL transaction in progress")
                .await;
        }
        let mut words = args.splitn(2, ' ');
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        // `AUTH EXTERNAL ` (smtplib's empty initial response) reads as an empty response.
        let initial = words.next().map(|r| r.trim().to_owned());
        let outcome = match mechanism.as_str() {
            "EXTERNAL" if self.external_offered(st) => self.auth_external(st, initial).await?,
            "PLAIN" if self.shared.senders.has_accounts() => self.auth_plain(st, initial).await?,
            "LOGIN" if self.shared.senders.has_accounts() => self.auth_login(st, initial).await?,
            "" => Err("501 5.5.4 Syntax: AUTH mechanism"),
            _ => Err("504 5.5.4 Unrecognized authentication type"),
        };
        match outcome {
            Ok(auth) => {
                tracing::info!(
                    peer = %self.peer,
                    method = auth.method.name(),
                    identity = %auth.identity,
                    "MSS sandbox: authenticated"
                );
                st.auth = Some(auth);
                reply(st, "235 2.7.0 Authentication successful").await?;
                Ok(Next::Continue)
            }
            Err(text) => self.error(st, text).await,
        }
    }

    async fn auth_external(
        &mut self,
        st: &mut State,
        initial: Option<String>,
    ) -> Result<Result<Authenticated, &'static str>, ()> {
        let response = match initial {
            Some(r) => r,
            None => match self.sasl_response(st, "").await? {
                Some(r) => r,
                None => return Ok(Err("501 5.7.0 Authentication aborted")),
            },
        };
        let authzid = match decode_sasl(&response) {
            Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            None => return Ok(Err("501 5.5.2 Cannot decode response")),
        };
        let Some(tls) = &st.tls else {
            return Ok(Err("530 5.7.0 Must issue a STARTTLS command first"));
        };
        let Some(identity) = &tls.client else {
            return Ok(Err(
                "535 5.7.8 Authentication credentials invalid: certificate not bound to a mailbox",
            ));
        };
        let addresses = if authzid.is_empty() {
            identity.addresses.clone()
        } else {
            match normalise(&authzid).filter(|a| identity.addresses.contains(a)) {
                Some(a) => vec![a],
                None => {
                    return Ok(Err(
                        "535 5.7.8 Authentication credentials invalid: authzid not allowed",
                    ));
                }
            }
        };
        Ok(Ok(Authenticated {
            method: AuthMethod::External,
            identity: identity.label.clone(),
            addresses,
        }))
    }

    async fn auth_plain(
        &mut self,
        st: &mut State,
        initial: Option<String>,
    ) -> Result<Result<Authenticated, &'static str>, ()> {
        let response = match initial.filter(|r| !r.is_empty()) {
            Some(r) => r,
            None => match self.sasl_response(st, "").await? {
                Some(r) => r,
                None => return Ok(Err("501 5.7.0 Authentication aborted")),
            },
        };
        let Some(bytes) = decode_sasl(&response) else {
            return Ok(Err("501 5.5.2 Cannot decode response"));
        };
        let mut fields = bytes.split(|&b| b == 0);
        let (Some(authzid), Some(user), Some(password), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Ok(Err("501 5.5.2 Cannot decode response"));
        };
        Ok(self.password_login(
            &String::from_utf8_lossy(authzid),
            &String::from_utf8_lossy(user),
            &String::from_utf8_lossy(password),
        ))
    }

    async fn auth_login(
        &mut self,
        st: &mut State,
        initial: Option<String>,
    ) -> Result<Result<Authenticated, &'static str>, ()> {
        let user = match initial.filter(|r| !r.is_empty()) {
            Some(r) => r,
            None => match self.sasl_response(st, "VXNlcm5hbWU6").await? {
                Some(r) => r,
                None => return Ok(Err("501 5.7.0 Authentication aborted")),
            },
        };
        let password = match self.sasl_response(st, "UGFzc3dvcmQ6").await? {
            Some(r) => r,
            None => return Ok(Err("501 5.7.0 Authentication aborted")),
        };
        let (Some(user), Some(password)) = (decode_sasl(&user), decode_sasl(&password)) else {
            return Ok(Err("501 5.5.2 Cannot decode response"));
        };
        Ok(self.password_login(
            "",
            &String::from_utf8_lossy(&user),
            &String::from_utf8_lossy(&password),
        ))
    }

    fn password_login(
        &self,
        authzid: &str,
        user: &str,
        password: &str,
    ) -> Result<Authenticated, &'static str> {
        let Some(account) = self.shared.senders.account(user, password) else {
            return Err("535 5.7.8 Authentication credentials invalid");
        };
        let addresses = if authzid.is_empty() {
            account.addresses.clone()
        } else {
            match normalise(authzid).filter(|a| account.addresses.contains(a)) {
                Some(a) => vec![a],
                None => return Err("535 5.7.8 Authentication credentials invalid"),
            }
        };
        Ok(Authenticated {
            method: AuthMethod::Password,
            identity: account.user.clone(),
            addresses,
        })
    }

    /// The session's identity: what AUTH established, else the certificate alone (unless
    /// SASL is required).
    fn identity(&self, st: &State) -> Option<Authenticated> {
        if let Some(auth) = &st.auth {
            return Some(auth.clone());
        }
        if self.shared.config.sasl == SaslMode::Require {
            return None;
        }
        let tls = st.tls.as_ref()?;
        let cert = tls.client.as_ref()?;
        Some(Authenticated {
            method: AuthMethod::Certificate,
            identity: cert.label.clone(),
            addresses: cert.addresses.clone(),
        })
    }

    async fn mail(&mut self, st: &mut State, args: &str) -> Result<Next, ()> {
        if st.tls.is_none() {
            return self
                .error(st, "530 5.7.0 Must issue a STARTTLS command first")
                .await;
        }
        if st.helo.is_none() {
            return self.error(st, "503 5.5.1 Error: send EHLO first").await;
        }
        if st.txn.is_some() {
            return self.error(st, "503 5.5.1 Error: nested MAIL command").await;
        }
        let Some((path, params)) = parse_path(args, "FROM:") else {
            return self
                .error(st, "501 5.5.4 Syntax: MAIL FROM:<address>")
                .await;
        };
        let mut ret = None;
        let mut envid = None;
        for (name, value) in params {
            match (name.as_str(), value) {
                ("SIZE", Some(v)) => match v.parse::<u64>() {
                    Ok(n) if n > self.shared.config.max_message_bytes as u64 => {
                        return self
                            .error(
                                st,
                                "552 5.3.4 Message size exceeds fixed maximum message size",
                            )
                            .await;
                    }
                    Ok(_) => {}
                    Err(_) => return self.error(st, "501 5.5.4 Bad SIZE parameter").await,
                },
                ("BODY", Some(v))
                    if matches!(v.to_ascii_uppercase().as_str(), "7BIT" | "8BITMIME") => {}
                ("RET", Some(v)) if matches!(v.to_ascii_uppercase().as_str(), "FULL" | "HDRS") => {
                    ret = Some(v.to_ascii_uppercase());
                }
                ("ENVID", Some(v)) if !v.is_empty() && v.len() <= 100 => envid = Some(v),
                // RFC 4954 §5: the submitter's identity, informational.
                ("AUTH", Some(_)) => {}
                ("BODY" | "RET" | "ENVID" | "SIZE" | "AUTH", _) => {
                    return self
                        .error(st, &format!("501 5.5.4 Bad {name} parameter"))
                        .await;
                }
                _ => {
                    return self
                        .error(st, &format!("555 5.5.4 Unsupported option: {name}"))
                        .await;
                }
            }
        }
        let Some(auth) = self.identity(st) else {
            return self.error(st, "530 5.7.0 Authentication required").await;
        };
        // The null reverse-path (RFC 5321 §4.5.5): notifications such as MDNs go with it, and
        // an authenticated client may send one, as real MTAs let it; its From is still checked
        // at DATA. Stored with `Return-Path: <>`.
        let allowed = if path.is_empty() {
            Some(String::new())
        } else {
            normalise(&path).filter(|a| auth.addresses.contains(a))
        };
        let Some(mail_from) = allowed else {
            tracing::info!(
                peer = %self.peer,
                identity = %auth.identity,
                "MSS sandbox: sender address refused"
            );
            return self
                .error(
                    st,
                    "550 5.7.1 Sender address rejected: not owned by the authenticated identity",
                )
                .await;
        };
        st.txn = Some(Transaction {
            mail_from,
            auth,
            ret,
            envid,
            recipients: Vec::new(),
        });
        reply(st, "250 2.1.0 Ok").await?;
        Ok(Next::Continue)
    }

    async fn rcpt(&mut self, st: &mut State, args: &str) -> Result<Next, ()> {
        if st.txn.is_none() {
            return self.error(st, "503 5.5.1 Error: need MAIL command").await;
        }
        let Some((path, params)) = parse_path(args, "TO:") else {
            return self.error(st, "501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        let mut notify = None;
        let mut orcpt = None;
        for (name, value) in params {
            match (name.as_str(), value) {
                ("NOTIFY", Some(v)) if valid_notify(&v) => notify = Some(v.to_ascii_uppercase()),
                ("ORCPT", Some(v)) if v.contains(';') => orcpt = Some(v),
                ("NOTIFY" | "ORCPT", _) => {
                    return self
                        .error(st, &format!("501 5.5.4 Bad {name} parameter"))
                        .await;
                }
                _ => {
                    return self
                        .error(st, &format!("555 5.5.4 Unsupported option: {name}"))
                        .await;
                }
            }
        }
        let Some(address) = normalise(&path) else {
            return self
                .error(st, "501 5.1.3 Bad recipient address syntax")
                .await;
        };
        let count = st.txn.as_ref().map_or(0, |t| t.recipients.len());
        if count >= self.shared.config.max_recipients {
            return self.error(st, "452 4.5.3 Error: too many recipients").await;
        }
        let kind = if is_patient_address(&address) {
            "patient"
        } else {
            "professional"
        };
        match self.shared.faults.fire(Stage::Recipient) {
            Some(MssFaultKind::Rcpt550) => {
                tracing::info!(peer = %self.peer, recipient = kind, fault = "rcpt-550", "MSS sandbox: fault injected");
                return self
                    .error(st, "550 5.1.1 Recipient address rejected: user unknown")
                    .await;
            }
            Some(MssFaultKind::Rcpt450) => {
                tracing::info!(peer = %self.peer, recipient = kind, fault = "rcpt-450", "MSS sandbox: fault injected");
                return self
                    .error(st, "450 4.2.1 Recipient mailbox busy, try again later")
                    .await;
            }
            _ => {}
        }
        if self.shared.directory.lookup(&address).is_none() {
            tracing::info!(peer = %self.peer, recipient = kind, "MSS sandbox: unknown recipient");
            return self
                .error(st, "550 5.1.1 Recipient address rejected: user unknown")
                .await;
        }
        if let Some(txn) = st.txn.as_mut()
            && !txn.recipients.iter().any(|r| r.address == address)
        {
            txn.recipients.push(Recipient {
                address,
                notify,
                orcpt,
            });
        }
        reply(st, "250 2.1.5 Ok").await?;
        Ok(Next::Continue)
    }

    async fn data(&mut self, st: &mut State, args: &str) -> Result<Next, ()> {
        if !args.trim().is_empty() {
            return self.error(st, "501 5.5.4 Syntax: DATA").await;
        }
        let Some(txn) = st.txn.take() else {
            return self.error(st, "503 5.5.1 Error: need MAIL command").await;
        };
        if txn.recipients.is_empty() {
            st.txn = Some(txn);
            return self.error(st, "554 5.5.1 Error: no valid recipients").await;
        }
        reply(st, "354 End data with <CR><LF>.<CR><LF>").await?;
        let fault = self.shared.faults.fire(Stage::Message);
        let body = match self.read_data(st, fault == Some(MssFaultKind::Reset)).await {
            Ok(body) => body,
            Err(end) => {
                if let Some(end) = end {
                    self.say_goodbye(st, end).await;
                } else {
                    tracing::info!(peer = %self.peer, fault = "reset", "MSS sandbox: fault injected");
                }
                return Ok(Next::Close);
            }
        };
        if !self.shared.config.latency.is_zero() {
            tokio::time::sleep(self.shared.config.latency).await;
        }
        let outcome = if body.too_big {
            Err("552 5.3.4 Message size exceeds fixed maximum message size".to_owned())
        } else if body.long_line {
            Err(format!(
                "554 5.6.0 Message refused: a line is longer than {} characters",
                self.shared.config.max_line_bytes
            ))
        } else if body.bare_lf {
            Err("554 5.6.0 Message refused: bare <LF> (line break without <CR>)".to_owned())
        } else {
            match fault {
                Some(MssFaultKind::Data451) => {
                    tracing::info!(peer = %self.peer, fault = "data-451", "MSS sandbox: fault injected");
                    Err("451 4.3.0 Error: queue file write error, try again later".to_owned())
                }
                Some(MssFaultKind::Data554) => {
                    tracing::info!(peer = %self.peer, fault = "data-554", "MSS sandbox: fault injected");
                    Err("554 5.6.0 Message refused by the operator's content policy".to_owned())
                }
                _ => self.accept(st, &txn, body.message).await,
            }
        };
        // The transaction ends either way (RFC 5321 §4.1.1.4).
        let (Ok(text) | Err(text)) = outcome;
        reply(st, &text).await?;
        Ok(Next::Continue)
    }

    /// Reads the message up to `.`: dot-unstuffed, at most the size limit kept. With
    /// `reset`, the connection is dropped after the first line (`Err(None)`).
    async fn read_data(&mut self, st: &mut State, reset: bool) -> Result<Data, Option<ReadEnd>> {
        let max_size = self.shared.config.max_message_bytes;
        // The limit applies to the text (checked below); a dot-stuffed line carries one
        // more byte, and a line break two.
        let max_line = self.shared.config.max_line_bytes + 3;
        let mut data = Data::default();
        let mut line = Vec::new();
        loop {
            match self.read_line(st, &mut line, max_line).await {
                Ok(Line::Complete) => {}
                Ok(Line::TooLong) => {
                    data.long_line = true;
                    continue;
                }
                Err(end) => return Err(Some(end)),
            }
            if reset {
                return Err(None);
            }
            if line == b".\r\n" {
                return Ok(data);
            }
            if !line.ends_with(b"\r\n") {
                data.bare_lf = true;
            }
            let text = line.strip_prefix(b".").unwrap_or(&line);
            if trim_crlf(text).len() > self.shared.config.max_line_bytes {
                data.long_line = true;
            }
            if data.message.len() + text.len() > max_size {
                data.too_big = true;
            } else {
                data.message.extend_from_slice(text);
            }
        }
    }

    /// Checks the message, puts it in each recipient's mailbox, sends the DSNs asked for.
    async fn accept(
        &self,
        st: &State,
        txn: &Transaction,
        message: Vec<u8>,
    ) -> Result<String, String> {
        let checked = checks::check(&message, &txn.auth.addresses).map_err(|r| r.0)?;
        let queue_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_ascii_uppercase();
        let now = OffsetDateTime::now_utc();
        let tls = st.tls.clone().unwrap_or_default();
        let helo = st.helo.clone().unwrap_or_default();
        let host = self.shared.config.hostname.clone();
        let protocol = if txn.auth.method == AuthMethod::Certificate {
            "ESMTPS"
        } else {
            "ESMTPSA"
        };
        let trace = format!(
            "Return-Path: <{}>\r\nReceived: from {helo} ([{}])\r\n\tby {host} with {protocol} ({} {})\r\n\tid {queue_id}; {}\r\n",
            txn.mail_from,
            self.peer.ip(),
            tls.version,
            tls.cipher,
            now.format(&Rfc2822).unwrap_or_default(),
        );
        let envelopes: Vec<Envelope> = txn
            .recipients
            .iter()
            .map(|r| Envelope {
                mail_from: txn.mail_from.clone(),
                recipient: r.address.clone(),
                received_at: now.format(&Rfc3339).unwrap_or_default(),
                queue_id: queue_id.clone(),
                auth_method: txn.auth.method.name().to_owned(),
                auth_identity: txn.auth.identity.clone(),
                tls_version: tls.version.clone(),
                tls_cipher: tls.cipher.clone(),
                notify: r.notify.clone(),
                orcpt: r.orcpt.clone(),
                ret: txn.ret.clone(),
                envid: txn.envid.clone(),
            })
            .collect();
        let dsn = self.success_dsn(txn, &message, &queue_id, now);
        let data_dir = self.shared.config.data_dir.clone();
        let size = message.len();
        let stored = tokio::task::spawn_blocking(move || {
            for envelope in &envelopes {
                store::deliver(
                    &data_dir,
                    &envelope.recipient,
                    trace.as_bytes(),
                    &message,
                    envelope,
                )?;
            }
            if let Some((to, dsn, envelope)) = dsn {
                store::deliver(&data_dir, &to, b"Return-Path: <>\r\n", &dsn, &envelope)?;
            }
            Ok::<_, store::MailboxError>(())
        })
        .await;
        match stored {
            // IMAP sessions waiting in IDLE look at their mailbox again.
            Ok(Ok(())) => self.shared.arrivals.send_modify(|n| *n = n.wrapping_add(1)),
            Ok(Err(error)) => {
                // The path names the mailbox, and a citizen's mailbox is an INS: the cause
                // only.
                let cause = match &error {
                    store::MailboxError::Io { source, .. } => source.to_string(),
                    store::MailboxError::InvalidAddress(_) => "invalid address".to_owned(),
                };
                tracing::error!(%cause, "MSS sandbox: storing a message failed");
                return Err("451 4.3.0 Error: local storage failure, try again later".into());
            }
            Err(error) => {
                tracing::error!(%error, "MSS sandbox: storing a message failed");
                return Err("451 4.3.0 Error: local storage failure, try again later".into());
            }
        }
        let patients = txn
            .recipients
            .iter()
            .filter(|r| self.shared.directory.lookup(&r.address) == Some(MailboxType::Patient))
            .count();
        tracing::info!(
            peer = %self.peer,
            queue_id,
            from = %checked.from,
            recipients = txn.recipients.len(),
            patient_recipients = patients,
            size,
            auth = txn.auth.method.name(),
            x_mss_mes = checked.mss_mes.as_deref().unwrap_or(""),
            "MSS sandbox: message accepted"
        );
        Ok(format!("250 2.0.0 Ok: queued as {queue_id}"))
    }

    /// A delivery report (RFC 3464) to the sender's mailbox for the recipients that asked
    /// `NOTIFY=SUCCESS`, when the sender is a sandbox mailbox.
    fn success_dsn(
        &self,
        txn: &Transaction,
        message: &[u8],
        queue_id: &str,
        now: OffsetDateTime,
    ) -> Option<(String, Vec<u8>, Envelope)> {
        let notified: Vec<&Recipient> = txn
            .recipients
            .iter()
            .filter(|r| {
                r.notify
                    .as_deref()
                    .is_some_and(|n| n.split(',').any(|k| k == "SUCCESS"))
            })
            .collect();
        if notified.is_empty() || self.shared.directory.lookup(&txn.mail_from).is_none() {
            return None;
        }
        let host = &self.shared.config.hostname;
        let date = now.format(&Rfc2822).unwrap_or_default();
        let boundary = format!("{queue_id}.dsn/{host}");
        let mut per_recipient = String::new();
        for r in &notified {
            if let Some(orcpt) = &r.orcpt {
                per_recipient.push_str(&format!("Original-Recipient: {orcpt}\r\n"));
            }
            per_recipient.push_str(&format!(
                "Final-Recipient: rfc822; {}\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n",
                r.address
            ));
        }
        let envid = txn
            .envid
            .as_ref()
            .map(|e| format!("Original-Envelope-Id: {e}\r\n"))
            .unwrap_or_default();
        let (original_type, original) = if txn.ret.as_deref() == Some("FULL") {
            ("message/rfc822", message)
        } else {
            let end = memchr::memmem::find(message, b"\r\n\r\n").map_or(message.len(), |i| i + 4);
            ("text/rfc822-headers", &message[..end])
        };
        let mut out = format!(
            "From: Mail Delivery System <MAILER-DAEMON@{host}>\r\n\
             To: <{to}>\r\n\
             Subject: Successful Mail Delivery Report\r\n\
             Date: {date}\r\n\
             Message-ID: <{queue_id}.dsn@{host}>\r\n\
             Auto-Submitted: auto-replied\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status;\r\n\
             \tboundary=\"{boundary}\"\r\n\
             \r\n\
             --{boundary}\r\n\
             Content-Type: text/plain; charset=us-ascii\r\n\
             \r\n\
             Your message {queue_id} was delivered to {n} recipient(s).\r\n\
             \r\n\
             --{boundary}\r\n\
             Content-Type: message/delivery-status\r\n\
             \r\n\
             Reporting-MTA: dns; {host}\r\n\
             {envid}\
             Arrival-Date: {date}\r\n\
             \r\n\
             {per_recipient}\
             --{boundary}\r\n\
             Content-Type: {original_type}\r\n\
             \r\n",
            to = txn.mail_from,
            n = notified.len(),
        )
        .into_bytes();
        out.extend_from_slice(original);
        if !original.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let envelope = Envelope {
            mail_from: String::new(),
            recipient: txn.mail_from.clone(),
            received_at: now.format(&Rfc3339).unwrap_or_default(),
            queue_id: format!("{queue_id}D"),
            auth_method: "dsn".into(),
            ..Envelope::default()
        };
        Some((txn.mail_from.clone(), out, envelope))
    }
}

#[derive(Default)]
struct Data {
    message: Vec<u8>,
    too_big: bool,
    long_line: bool,
    bare_lf: bool,
}

async fn reply(st: &mut State, text: &str) -> Result<(), ()> {
    let conn = st.io.get_mut();
    let mut out = Vec::with_capacity(text.len() + 2);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
    conn.write_all(&out).await.map_err(|_| ())?;
    conn.flush().await.map_err(|_| ())
}

/// Reads one line into `buf` (cleared first); `None` at the end of the stream (a partial
/// last line is dropped with it).
pub(crate) async fn read_bounded(
    io: &mut BufReader<Conn>,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<Line>> {
    buf.clear();
    let mut too_long = false;
    loop {
        let available = io.fill_buf().await?;
        if available.is_empty() {
            return Ok(None);
        }
        let (chunk, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let n = chunk.len();
        if !too_long {
            if buf.len() + n > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        io.consume(n);
        if done {
            return Ok(Some(if too_long {
                Line::TooLong
            } else {
                Line::Complete
            }));
        }
    }
}

pub(crate) fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// ESMTP parameters: `NAME[=value]`.
type Params = Vec<(String, Option<String>)>;

/// `FROM:<path> PARAM=value …` → the path (without brackets) and the parameters (names
/// in upper case). `<>` gives an empty path.
fn parse_path(args: &str, keyword: &str) -> Option<(String, Params)> {
    let head = args.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = args[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    let path = rest[..end].trim().to_owned();
    // A source route (`@a,@b:user@c`, RFC 5321 §4.1.2) is read as its mailbox.
    let path = match path.rsplit_once(':') {
        Some((route, mailbox)) if route.starts_with('@') => mailbox.to_owned(),
        _ => path,
    };
    let params = rest[end + 1..]
        .split_ascii_whitespace()
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (n.to_ascii_uppercase(), Some(v.to_owned())),
            None => (p.to_ascii_uppercase(), None),
        })
        .collect();
    Some((path, params))
}

/// `NEVER`, or a list of `SUCCESS`, `FAILURE`, `DELAY` (RFC 3461 §4.1).
fn valid_notify(value: &str) -> bool {
    let value = value.to_ascii_uppercase();
    if value == "NEVER" {
        return true;
    }
    !value.is_empty()
        && value
            .split(',')
            .all(|k| matches!(k, "SUCCESS" | "FAILURE" | "DELAY"))
}

/// A SASL response: `=` or nothing is empty, anything else base64.
pub(crate) fn decode_sasl(response: &str) -> Option<Vec<u8>> {
    match response.trim() {
        "" | "=" => Some(Vec::new()),
        r => B64.decode(r).ok(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn paths_and_parameters_parse() {
        let (p, params) = parse_path("FROM:<A@b.fr> SIZE=12 body=8BITMIME", "FROM:").unwrap();
        assert_eq!(p, "A@b.fr");
        assert_eq!(
            params,
            vec![
                ("SIZE".into(), Some("12".into())),
                ("BODY".into(), Some("8BITMIME".into()))
            ]
        );
        assert_eq!(parse_path("from: <>", "FROM:").unwrap().0, "");
        assert_eq!(parse_path("TO:<@x.fr:a@b.fr>", "TO:").unwrap().0, "a@b.fr");
        assert!(parse_path("TO:a@b.fr", "TO:").is_none());
        assert!(parse_path("FROM:<a@b.fr>", "TO:").is_none());
        assert!(valid_notify("success,FAILURE"));
        assert!(!valid_notify("NEVER,SUCCESS"));
        assert_eq!(decode_sasl("=").unwrap(), b"");
        assert_eq!(decode_sasl("YQ==").unwrap(), b"a");
        assert!(decode_sasl("!").is_none());
    }
}
