//! One IMAP connection: not authenticated → authenticated (one mailbox, its `INBOX`) →
//! selected. Responses are written whole, literals as `{n}` and the bytes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;

use super::parse::{Token, in_set, sequence_set, split_command, tokens};
use super::state::{self, FlagOp, Mailbox};
use super::{Conn, Shared};
use crate::mss::faults::{MssFaultKind, Stage};
use crate::mss::mailboxes::normalise;
use crate::mss::senders::CertIdentity;
use crate::mss::session::{Line, decode_sasl, read_bounded, trim_crlf};
use crate::mss::store::mailbox_dir;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest command line; SASL responses fit.
const MAX_LINE: usize = 16 * 1024;
/// Bad commands after which the session is dropped.
const MAX_ERRORS: u32 = 20;
/// RFC 2177: clients re-issue IDLE within 29 minutes; the server ends it after 30.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub(crate) struct Session {
    shared: Arc<Shared>,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
    arrivals: watch::Receiver<u64>,
}

struct Selected {
    dir: PathBuf,
    read_only: bool,
    /// UID of each sequence number (index + 1); grows only (no EXPUNGE).
    uids: Vec<u32>,
}

struct State {
    io: BufReader<Conn>,
    tls: bool,
    /// The client certificate's mailboxes, when the sandbox knows it.
    client: Option<CertIdentity>,
    /// The authenticated mailbox.
    mailbox: Option<String>,
    selected: Option<Selected>,
    errors: u32,
}

enum Next {
    Continue,
    Close,
}

/// The end of a session's input.
enum End {
    Eof,
    Timeout,
    Stopped,
}

type Reply = Result<Next, ()>;

/// A `SEARCH` key: whether the message (sequence number, message) matches.
type SearchKey = Box<dyn Fn(usize, &state::Message) -> bool>;

impl Session {
    pub fn new(shared: Arc<Shared>, peer: SocketAddr, stop: watch::Receiver<bool>) -> Self {
        let arrivals = shared.arrivals.subscribe();
        Self {
            shared,
            peer,
            stop,
            arrivals,
        }
    }

    pub async fn handshake(&self, tcp: TcpStream) -> Option<TlsStream<TcpStream>> {
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.shared.acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => Some(tls),
            Ok(Err(error)) => {
                tracing::info!(peer = %self.peer, %error, "MSS sandbox IMAP: TLS handshake refused");
                None
            }
            Err(_) => None,
        }
    }

    fn client_of(&self, conn: &Conn) -> Option<CertIdentity> {
        let Conn::Tls(tls) = conn else { return None };
        let leaf = tls.get_ref().1.peer_certificates()?.first()?.clone();
        self.shared.senders.for_certificate(&leaf).cloned()
    }

    pub async fn run(mut self, conn: Conn) {
        let tls = matches!(conn, Conn::Tls(_));
        let client = self.client_of(&conn);
        let mut st = State {
            io: BufReader::new(conn),
            tls,
            client,
            mailbox: None,
            selected: None,
            errors: 0,
        };
        let greeting = format!(
            "* OK [CAPABILITY {}] {} IMAP4rev1 Passerelle MSSante sandbox ready",
            capabilities(&st, self.shared.senders.has_accounts()),
            self.shared.config.hostname
        );
        if send(&mut st, &greeting).await.is_err() {
            return;
        }
        let mut line = Vec::new();
        loop {
            match self
                .read_line(&mut st, &mut line, self.shared.config.timeout)
                .await
            {
                Ok(Line::Complete) => {}
                Ok(Line::TooLong) => {
                    if self.bad(&mut st, "*", "line too long").await.is_err() {
                        return;
                    }
                    continue;
                }
                Err(end) => {
                    let text = match end {
                        End::Timeout => "* BYE autologout; idle for too long",
                        End::Stopped => "* BYE server shutting down",
                        End::Eof => return,
                    };
                    let _ = send(&mut st, text).await;
                    let _ = st.io.get_mut().shutdown().await;
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

    async fn read_line(
        &mut self,
        st: &mut State,
        buf: &mut Vec<u8>,
        timeout: Duration,
    ) -> Result<Line, End> {
        if *self.stop.borrow() {
            return Err(End::Stopped);
        }
        tokio::select! {
            read = tokio::time::timeout(timeout, read_bounded(&mut st.io, buf, MAX_LINE)) => match read {
                Err(_) => Err(End::Timeout),
                Ok(Err(_)) | Ok(Ok(None)) => Err(End::Eof),
                Ok(Ok(Some(line))) => Ok(line),
            },
            _ = self.stop.changed() => Err(End::Stopped),
        }
    }

    async fn bad(&self, st: &mut State, tag: &str, text: &str) -> Reply {
        st.errors += 1;
        if st.errors > MAX_ERRORS {
            send(st, "* BYE too many errors").await?;
            return Ok(Next::Close);
        }
        send(st, &format!("{tag} BAD {text}")).await?;
        Ok(Next::Continue)
    }

    async fn command(&mut self, st: &mut State, line: &str) -> Reply {
        let Some((tag, command, args)) = split_command(line) else {
            return self.bad(st, "*", "expected: tag command").await;
        };
        let tag = tag.to_owned();
        let args = match tokens(args) {
            Ok(a) => a,
            Err(why) => return self.bad(st, &tag, why).await,
        };
        let authenticated = st.mailbox.is_some();
        let selected = st.selected.is_some();
        match command.as_str() {
            "CAPABILITY" => {
                let caps = capabilities(st, self.shared.senders.has_accounts());
                send(st, &format!("* CAPABILITY {caps}")).await?;
                ok(st, &tag, "CAPABILITY completed").await
            }
            "NOOP" | "CHECK" => {
                self.refresh(st).await?;
                ok(st, &tag, &format!("{command} completed")).await
            }
            "LOGOUT" => {
                send(st, "* BYE logging out").await?;
                ok(st, &tag, "LOGOUT completed").await?;
                Ok(Next::Close)
            }
            "STARTTLS" if !st.tls && !authenticated => self.starttls(st, &tag).await,
            "AUTHENTICATE" if !authenticated => self.authenticate(st, &tag, &args).await,
            "LOGIN" if !authenticated => {
                if !st.tls {
                    return no(st, &tag, "[PRIVACYREQUIRED] LOGIN is disabled before TLS").await;
                }
                match (
                    args.first().and_then(Token::text),
                    args.get(1).and_then(Token::text),
                ) {
                    (Some(user), Some(password)) if args.len() == 2 => {
                        let (user, password) = (user.to_owned(), password.to_owned());
                        self.password_login(st, &tag, "", &user, &password).await
                    }
                    _ => self.bad(st, &tag, "LOGIN user password").await,
                }
            }
            "SELECT" | "EXAMINE" if authenticated => {
                self.select(st, &tag, &args, command == "EXAMINE").await
            }
            "LIST" if authenticated => {
                let pattern = args.get(1).and_then(Token::text).unwrap_or("");
                if pattern.is_empty() {
                    send(st, "* LIST (\\Noselect) \"/\" \"\"").await?;
                } else if ["*", "%", "INBOX"]
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(pattern))
                {
                    send(st, "* LIST (\\HasNoChildren) \"/\" INBOX").await?;
                }
                ok(st, &tag, "LIST completed").await
            }
            "IDLE" if authenticated => self.idle(st, &tag).await,
            "CLOSE" if selected => {
                st.selected = None;
                ok(st, &tag, "CLOSE completed").await
            }
            "UID" if selected => {
                let sub = args
                    .first()
                    .and_then(Token::text)
                    .unwrap_or("")
                    .to_ascii_uppercase();
                let rest = args.get(1..).unwrap_or(&[]);
                match sub.as_str() {
                    "FETCH" => self.fetch(st, &tag, rest, true).await,
                    "SEARCH" => self.search(st, &tag, rest, true).await,
                    "STORE" => self.store(st, &tag, rest, true).await,
                    _ => self.bad(st, &tag, "UID FETCH, SEARCH or STORE").await,
                }
            }
            "FETCH" if selected => self.fetch(st, &tag, &args, false).await,
            "SEARCH" if selected => self.search(st, &tag, &args, false).await,
            "STORE" if selected => self.store(st, &tag, &args, false).await,
            _ => {
                self.bad(st, &tag, "command unknown or not valid in this state")
                    .await
            }
        }
    }

    async fn starttls(&mut self, st: &mut State, tag: &str) -> Reply {
        ok(st, tag, "begin TLS negotiation now").await?;
        // Whatever the client sent after STARTTLS in clear is dropped with the buffer.
        let io = std::mem::replace(&mut st.io, BufReader::new(Conn::Closed));
        let Conn::Plain(tcp) = io.into_inner() else {
            return Ok(Next::Close);
        };
        let Some(tls) = self.handshake(tcp).await else {
            return Ok(Next::Close);
        };
        let conn = Conn::Tls(Box::new(tls));
        st.client = self.client_of(&conn);
        st.io = BufReader::new(conn);
        st.tls = true;
        Ok(Next::Continue)
    }

    /// A SASL response: the initial one, or asked for with `+`.
    async fn sasl_response(
        &mut self,
        st: &mut State,
        initial: Option<&str>,
    ) -> Result<Option<Vec<u8>>, ()> {
        let text = match initial {
            Some(t) => t.to_owned(),
            None => {
                send(st, "+ ").await?;
                let mut line = Vec::new();
                match self
                    .read_line(st, &mut line, self.shared.config.timeout)
                    .await
                {
                    Ok(Line::Complete) => String::from_utf8_lossy(trim_crlf(&line)).into_owned(),
                    Ok(Line::TooLong) => return Ok(None),
                    Err(_) => return Err(()),
                }
            }
        };
        if text.trim() == "*" {
            return Ok(None);
        }
        Ok(decode_sasl(&text))
    }

    async fn authenticate(&mut self, st: &mut State, tag: &str, args: &[Token]) -> Reply {
        let mechanism = args
            .first()
            .and_then(Token::text)
            .unwrap_or("")
            .to_ascii_uppercase();
        let initial = args.get(1).and_then(Token::text).map(str::to_owned);
        match mechanism.as_str() {
            "EXTERNAL" if st.tls => {
                let Some(response) = self.sasl_response(st, initial.as_deref()).await? else {
                    return self
                        .bad(st, tag, "AUTHENTICATE cancelled or not base64")
                        .await;
                };
                let Some(client) = st.client.clone() else {
                    return no(
                        st,
                        tag,
                        "[AUTHENTICATIONFAILED] no known client certificate",
                    )
                    .await;
                };
                let authzid = String::from_utf8_lossy(&response).into_owned();
                let mailbox = if authzid.is_empty() {
                    client.addresses.first().cloned()
                } else {
                    normalise(&authzid).filter(|a| client.addresses.contains(a))
                };
                let Some(mailbox) = mailbox else {
                    return no(
                        st,
                        tag,
                        "[AUTHORIZATIONFAILED] mailbox not allowed to this certificate",
                    )
                    .await;
                };
                tracing::info!(peer = %self.peer, method = "external", identity = %client.label, "MSS sandbox IMAP: authenticated");
                st.mailbox = Some(mailbox);
                ok(st, tag, "AUTHENTICATE completed").await
            }
            "PLAIN" if st.tls && self.shared.senders.has_accounts() => {
                let Some(response) = self.sasl_response(st, initial.as_deref()).await? else {
                    return self
                        .bad(st, tag, "AUTHENTICATE cancelled or not base64")
                        .await;
                };
                let parts: Vec<&[u8]> = response.split(|b| *b == 0).collect();
                let [authzid, user, password] = parts.as_slice() else {
                    return no(st, tag, "[AUTHENTICATIONFAILED] malformed PLAIN response").await;
                };
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                let (authzid, user, password) = (text(authzid), text(user), text(password));
                self.password_login(st, tag, &authzid, &user, &password)
                    .await
            }
            "EXTERNAL" | "PLAIN" => no(st, tag, "[PRIVACYREQUIRED] TLS first").await,
            _ => no(st, tag, "unsupported authentication mechanism").await,
        }
    }

    async fn password_login(
        &mut self,
        st: &mut State,
        tag: &str,
        authzid: &str,
        user: &str,
        password: &str,
    ) -> Reply {
        let Some(account) = self.shared.senders.account(user, password) else {
            return no(st, tag, "[AUTHENTICATIONFAILED] invalid credentials").await;
        };
        let mailbox = if authzid.is_empty() {
            account.addresses.first().cloned()
        } else {
            normalise(authzid).filter(|a| account.addresses.contains(a))
        };
        let Some(mailbox) = mailbox else {
            return no(
                st,
                tag,
                "[AUTHORIZATIONFAILED] mailbox not allowed to this account",
            )
            .await;
        };
        tracing::info!(peer = %self.peer, method = "password", identity = %account.user, "MSS sandbox IMAP: authenticated");
        st.mailbox = Some(mailbox);
        ok(st, tag, "LOGIN completed").await
    }

    /// The mailbox's state, under the lock, off the runtime's threads.
    async fn sync(&self, dir: PathBuf) -> Option<Mailbox> {
        let shared = self.shared.clone();
        let result = tokio::task::spawn_blocking(move || {
            let _guard = shared.imap_state.lock().unwrap_or_else(|p| p.into_inner());
            state::sync(&dir)
        })
        .await;
        match result {
            Ok(Ok(mailbox)) => Some(mailbox),
            Ok(Err(error)) => {
                tracing::error!(%error, "MSS sandbox IMAP: mailbox state unreadable");
                None
            }
            Err(_) => None,
        }
    }

    async fn select(
        &mut self,
        st: &mut State,
        tag: &str,
        args: &[Token],
        read_only: bool,
    ) -> Reply {
        st.selected = None;
        let name = args.first().and_then(Token::text).unwrap_or("");
        if !name.eq_ignore_ascii_case("INBOX") || args.len() != 1 {
            return no(st, tag, "[NONEXISTENT] only INBOX exists").await;
        }
        let Some(address) = st.mailbox.clone() else {
            return no(st, tag, "not authenticated").await;
        };
        let Ok(dir) = mailbox_dir(&self.shared.config.data_dir, &address) else {
            return no(st, tag, "mailbox unavailable").await;
        };
        let Some(mailbox) = self.sync(dir.clone()).await else {
            return no(st, tag, "[SERVERBUG] mailbox unavailable").await;
        };
        self.arrivals.mark_unchanged();
        let exists = mailbox.messages.len();
        send(
            st,
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
        )
        .await?;
        send(
            st,
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] flags kept",
        )
        .await?;
        send(st, &format!("* {exists} EXISTS")).await?;
        send(st, "* 0 RECENT").await?;
        if let Some(first) = mailbox
            .messages
            .iter()
            .position(|m| !has_flag(&m.flags, "\\Seen"))
        {
            send(st, &format!("* OK [UNSEEN {}] first unseen", first + 1)).await?;
        }
        send(
            st,
            &format!("* OK [UIDVALIDITY {}] UIDs valid", mailbox.uid_validity),
        )
        .await?;
        send(
            st,
            &format!("* OK [UIDNEXT {}] predicted next UID", mailbox.next_uid),
        )
        .await?;
        st.selected = Some(Selected {
            dir,
            read_only,
            uids: mailbox.messages.iter().map(|m| m.uid).collect(),
        });
        let mode = if read_only {
            "[READ-ONLY] EXAMINE"
        } else {
            "[READ-WRITE] SELECT"
        };
        ok(st, tag, &format!("{mode} completed")).await
    }

    /// Takes in new messages: `* n EXISTS` when there are.
    async fn refresh(&mut self, st: &mut State) -> Result<Option<Mailbox>, ()> {
        let Some(dir) = st.selected.as_ref().map(|s| s.dir.clone()) else {
            return Ok(None);
        };
        self.arrivals.mark_unchanged();
        let Some(mailbox) = self.sync(dir).await else {
            return Ok(None);
        };
        let Some(sel) = st.selected.as_mut() else {
            return Ok(None);
        };
        let last = sel.uids.last().copied().unwrap_or(0);
        let before = sel.uids.len();
        sel.uids
            .extend(mailbox.messages.iter().map(|m| m.uid).filter(|u| *u > last));
        let after = sel.uids.len();
        if after != before {
            send(st, &format!("* {after} EXISTS")).await?;
        }
        Ok(Some(mailbox))
    }

    /// `(sequence number, message)` of the messages a set names.
    fn resolve<'m>(
        sel: &Selected,
        mailbox: &'m Mailbox,
        set: &str,
        uid: bool,
    ) -> Option<Vec<(usize, &'m state::Message)>> {
        let max = if uid {
            sel.uids.last().copied().unwrap_or(0)
        } else {
            u32::try_from(sel.uids.len()).unwrap_or(u32::MAX)
        };
        let ranges = sequence_set(set, max)?;
        Some(
            sel.uids
                .iter()
                .enumerate()
                .filter(|(i, u)| {
                    let n = if uid {
                        **u
                    } else {
                        u32::try_from(i + 1).unwrap_or(u32::MAX)
                    };
                    in_set(&ranges, n)
                })
                .filter_map(|(i, u)| {
                    mailbox
                        .messages
                        .iter()
                        .find(|m| m.uid == *u)
                        .map(|m| (i + 1, m))
                })
                .collect(),
        )
    }

    async fn fetch(&mut self, st: &mut State, tag: &str, args: &[Token], uid: bool) -> Reply {
        let (Some(set), Some(items)) = (args.first().and_then(Token::text), args.get(1)) else {
            return self.bad(st, tag, "FETCH set items").await;
        };
        let mut wanted = match items {
            Token::List(l) => l
                .iter()
                .filter_map(Token::text)
                .map(str::to_ascii_uppercase)
                .collect(),
            t => match t.text().unwrap_or("").to_ascii_uppercase().as_str() {
                "FAST" | "ALL" => vec!["FLAGS".into(), "INTERNALDATE".into(), "RFC822.SIZE".into()],
                one => vec![one.to_owned()],
            },
        };
        if args.len() != 2 || wanted.iter().any(|w| item_kind(w).is_none()) {
            return self.bad(st, tag, "FETCH items: UID FLAGS RFC822.SIZE INTERNALDATE BODY[] BODY.PEEK[] BODY[HEADER] BODY[TEXT] RFC822 RFC822.HEADER RFC822.TEXT").await;
        }
        if uid && !wanted.iter().any(|w| w == "UID") {
            wanted.insert(0, "UID".into());
        }
        match self.shared.faults.fire(Stage::ImapFetch) {
            Some(MssFaultKind::ImapNo) => {
                tracing::info!(peer = %self.peer, fault = "imap-no", "MSS sandbox IMAP: fault injected");
                return no(st, tag, "[UNAVAILABLE] FETCH failed (fault injected)").await;
            }
            Some(MssFaultKind::ImapBye) => {
                tracing::info!(peer = %self.peer, fault = "imap-bye", "MSS sandbox IMAP: fault injected");
                send(st, "* BYE connection lost (fault injected)").await?;
                return Ok(Next::Close);
            }
            _ => {}
        }
        let Some(mailbox) = self.refresh(st).await? else {
            return no(st, tag, "[SERVERBUG] mailbox unavailable").await;
        };
        let Some(sel) = st.selected.as_ref() else {
            return no(st, tag, "no mailbox selected").await;
        };
        let Some(targets) = Self::resolve(sel, &mailbox, set, uid) else {
            return self.bad(st, tag, "invalid sequence set").await;
        };
        let marks_seen = !sel.read_only
            && wanted
                .iter()
                .any(|w| item_kind(w) == Some(Item::Body { peek: false }));
        let dir = sel.dir.clone();
        let targets: Vec<(usize, state::Message)> =
            targets.into_iter().map(|(n, m)| (n, m.clone())).collect();
        let mut seen_now = Vec::new();
        for (seq, message) in &targets {
            let Ok(raw) = tokio::fs::read(&message.file).await else {
                continue;
            };
            let mut flags = message.flags.clone();
            if marks_seen && !has_flag(&flags, "\\Seen") {
                flags.push("\\Seen".into());
                seen_now.push(message.uid);
            }
            let internal_date = tokio::fs::metadata(&message.file)
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .map(time::OffsetDateTime::from)
                .unwrap_or_else(time::OffsetDateTime::now_utc);
            let mut out = format!("* {seq} FETCH (").into_bytes();
            let mut first = true;
            let mut flags_sent = false;
            for w in &wanted {
                if !first {
                    out.push(b' ');
                }
                first = false;
                let (name, bytes): (&str, &[u8]) = match item_kind(w) {
                    Some(Item::Uid) => {
                        out.extend_from_slice(format!("UID {}", message.uid).as_bytes());
                        continue;
                    }
                    Some(Item::Flags) => {
                        flags_sent = true;
                        out.extend_from_slice(format!("FLAGS ({})", flags.join(" ")).as_bytes());
                        continue;
                    }
                    Some(Item::Size) => {
                        out.extend_from_slice(format!("RFC822.SIZE {}", raw.len()).as_bytes());
                        continue;
                    }
                    Some(Item::InternalDate) => {
                        out.extend_from_slice(
                            format!("INTERNALDATE \"{}\"", imap_date(internal_date)).as_bytes(),
                        );
                        continue;
                    }
                    Some(Item::Body { .. }) => match w.as_str() {
                        "RFC822" => ("RFC822", &raw[..]),
                        "RFC822.HEADER" => ("RFC822.HEADER", header(&raw)),
                        "RFC822.TEXT" => ("RFC822.TEXT", &raw[header(&raw).len()..]),
                        w if w.ends_with("[HEADER]") => ("BODY[HEADER]", header(&raw)),
                        w if w.ends_with("[TEXT]") => ("BODY[TEXT]", &raw[header(&raw).len()..]),
                        _ => ("BODY[]", &raw[..]),
                    },
                    None => continue,
                };
                out.extend_from_slice(format!("{name} {{{}}}\r\n", bytes.len()).as_bytes());
                out.extend_from_slice(bytes);
            }
            if !flags_sent && seen_now.last() == Some(&message.uid) {
                out.extend_from_slice(format!(" FLAGS ({})", flags.join(" ")).as_bytes());
            }
            out.extend_from_slice(b")\r\n");
            write(st, &out).await?;
        }
        if !seen_now.is_empty() {
            self.change_flags(dir, seen_now, FlagOp::Add, vec!["\\Seen".into()])
                .await;
        }
        ok(
            st,
            tag,
            &format!("{}FETCH completed", if uid { "UID " } else { "" }),
        )
        .await
    }

    async fn change_flags(
        &self,
        dir: PathBuf,
        uids: Vec<u32>,
        op: FlagOp,
        flags: Vec<String>,
    ) -> Option<Mailbox> {
        let shared = self.shared.clone();
        let result = tokio::task::spawn_blocking(move || {
            let _guard = shared.imap_state.lock().unwrap_or_else(|p| p.into_inner());
            state::store_flags(&dir, &uids, op, &flags)
        })
        .await;
        match result {
            Ok(Ok(m)) => Some(m),
            Ok(Err(error)) => {
                tracing::error!(%error, "MSS sandbox IMAP: flags not saved");
                None
            }
            Err(_) => None,
        }
    }

    async fn search(&mut self, st: &mut State, tag: &str, args: &[Token], uid: bool) -> Reply {
        let Some(mailbox) = self.refresh(st).await? else {
            return no(st, tag, "[SERVERBUG] mailbox unavailable").await;
        };
        let Some(sel) = st.selected.as_ref() else {
            return no(st, tag, "no mailbox selected").await;
        };
        let mut args: Vec<String> = args
            .iter()
            .filter_map(Token::text)
            .map(str::to_owned)
            .collect();
        if args
            .first()
            .is_some_and(|a| a.eq_ignore_ascii_case("CHARSET"))
        {
            args.drain(..args.len().min(2));
        }
        let mut candidates = Self::resolve(sel, &mailbox, "1:*", false).unwrap_or_default();
        let mut words = args.iter();
        while let Some(word) = words.next() {
            let upper = word.to_ascii_uppercase();
            let keep: SearchKey = match upper.as_str() {
                "ALL" => Box::new(|_, _| true),
                "SEEN" => Box::new(|_, m| has_flag(&m.flags, "\\Seen")),
                "UNSEEN" => Box::new(|_, m| !has_flag(&m.flags, "\\Seen")),
                "FLAGGED" => Box::new(|_, m| has_flag(&m.flags, "\\Flagged")),
                "UNFLAGGED" => Box::new(|_, m| !has_flag(&m.flags, "\\Flagged")),
                "KEYWORD" | "UNKEYWORD" => {
                    let Some(k) = words.next().cloned() else {
                        return self.bad(st, tag, "KEYWORD needs a flag").await;
                    };
                    let want = upper == "KEYWORD";
                    Box::new(move |_, m| has_flag(&m.flags, &k) == want)
                }
                "UID" => {
                    let Some(ranges) = words
                        .next()
                        .and_then(|s| sequence_set(s, sel.uids.last().copied().unwrap_or(0)))
                    else {
                        return self.bad(st, tag, "UID needs a set").await;
                    };
                    Box::new(move |_, m| in_set(&ranges, m.uid))
                }
                set => {
                    let max = u32::try_from(sel.uids.len()).unwrap_or(u32::MAX);
                    let Some(ranges) = sequence_set(set, max) else {
                        return self.bad(st, tag, "SEARCH keys: ALL SEEN UNSEEN FLAGGED UNFLAGGED KEYWORD UNKEYWORD UID set").await;
                    };
                    Box::new(move |n, _| in_set(&ranges, u32::try_from(n).unwrap_or(u32::MAX)))
                }
            };
            candidates.retain(|(n, m)| keep(*n, m));
        }
        let found: Vec<String> = candidates
            .iter()
            .map(|(n, m)| {
                if uid {
                    m.uid.to_string()
                } else {
                    n.to_string()
                }
            })
            .collect();
        let line = if found.is_empty() {
            "* SEARCH".to_owned()
        } else {
            format!("* SEARCH {}", found.join(" "))
        };
        send(st, &line).await?;
        ok(st, tag, "SEARCH completed").await
    }

    async fn store(&mut self, st: &mut State, tag: &str, args: &[Token], uid: bool) -> Reply {
        let (Some(set), Some(action)) = (
            args.first().and_then(Token::text),
            args.get(1).and_then(Token::text),
        ) else {
            return self
                .bad(st, tag, "STORE set (+|-)FLAGS[.SILENT] (flags)")
                .await;
        };
        let action = action.to_ascii_uppercase();
        let (op, silent) = match action.as_str() {
            "FLAGS" => (FlagOp::Replace, false),
            "FLAGS.SILENT" => (FlagOp::Replace, true),
            "+FLAGS" => (FlagOp::Add, false),
            "+FLAGS.SILENT" => (FlagOp::Add, true),
            "-FLAGS" => (FlagOp::Remove, false),
            "-FLAGS.SILENT" => (FlagOp::Remove, true),
            _ => {
                return self
                    .bad(st, tag, "STORE set (+|-)FLAGS[.SILENT] (flags)")
                    .await;
            }
        };
        let mut flags = Vec::new();
        for t in args.get(2..).unwrap_or(&[]) {
            match t {
                Token::List(l) => flags.extend(l.iter().filter_map(Token::text).map(str::to_owned)),
                Token::Atom(a) => flags.push(a.clone()),
                Token::Quoted(_) => return self.bad(st, tag, "flags are atoms").await,
            }
        }
        let valid = |f: &str| match f.strip_prefix('\\') {
            Some(system) => ["Seen", "Answered", "Flagged", "Deleted", "Draft"]
                .iter()
                .any(|s| s.eq_ignore_ascii_case(system)),
            None => {
                !f.is_empty()
                    && f.bytes()
                        .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
            }
        };
        if !flags.iter().all(|f| valid(f)) {
            return self.bad(st, tag, "invalid flag").await;
        }
        let Some(mailbox) = self.refresh(st).await? else {
            return no(st, tag, "[SERVERBUG] mailbox unavailable").await;
        };
        let Some(sel) = st.selected.as_ref() else {
            return no(st, tag, "no mailbox selected").await;
        };
        if sel.read_only {
            return no(st, tag, "[READ-ONLY] mailbox examined, not selected").await;
        }
        let Some(targets) = Self::resolve(sel, &mailbox, set, uid) else {
            return self.bad(st, tag, "invalid sequence set").await;
        };
        let seqs: Vec<(usize, u32)> = targets.iter().map(|(n, m)| (*n, m.uid)).collect();
        let dir = sel.dir.clone();
        let uids = seqs.iter().map(|(_, u)| *u).collect();
        let Some(after) = self.change_flags(dir, uids, op, flags).await else {
            return no(st, tag, "[SERVERBUG] flags not saved").await;
        };
        if !silent {
            for (n, u) in seqs {
                if let Some(m) = after.messages.iter().find(|m| m.uid == u) {
                    let uid_part = if uid {
                        format!("UID {u} ")
                    } else {
                        String::new()
                    };
                    send(
                        st,
                        &format!("* {n} FETCH ({uid_part}FLAGS ({}))", m.flags.join(" ")),
                    )
                    .await?;
                }
            }
        }
        ok(st, tag, "STORE completed").await
    }

    async fn idle(&mut self, st: &mut State, tag: &str) -> Reply {
        send(st, "+ idling").await?;
        let deadline = tokio::time::Instant::now() + IDLE_TIMEOUT;
        loop {
            // `fill_buf` loses nothing when another branch wins; the line is read after.
            tokio::select! {
                read = st.io.fill_buf() => {
                    if read.map(|b| b.is_empty()).unwrap_or(true) {
                        return Ok(Next::Close);
                    }
                    break;
                }
                changed = self.arrivals.changed() => {
                    if changed.is_err() {
                        return Ok(Next::Close);
                    }
                    self.refresh(st).await?;
                }
                _ = self.stop.changed() => {
                    send(st, "* BYE server shutting down").await?;
                    return Ok(Next::Close);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    send(st, "* BYE IDLE for too long").await?;
                    return Ok(Next::Close);
                }
            }
        }
        let mut line = Vec::new();
        match self
            .read_line(st, &mut line, self.shared.config.timeout)
            .await
        {
            Ok(Line::Complete) if trim_crlf(&line).eq_ignore_ascii_case(b"DONE") => {
                self.refresh(st).await?;
                ok(st, tag, "IDLE terminated").await
            }
            Ok(_) => self.bad(st, tag, "expected DONE").await,
            Err(_) => Ok(Next::Close),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Uid,
    Flags,
    Size,
    InternalDate,
    Body { peek: bool },
}

fn item_kind(item: &str) -> Option<Item> {
    Some(match item {
        "UID" => Item::Uid,
        "FLAGS" => Item::Flags,
        "RFC822.SIZE" => Item::Size,
        "INTERNALDATE" => Item::InternalDate,
        "RFC822" | "BODY[]" | "BODY[HEADER]" | "BODY[TEXT]" | "RFC822.TEXT" => {
            Item::Body { peek: false }
        }
        "RFC822.HEADER" | "BODY.PEEK[]" | "BODY.PEEK[HEADER]" | "BODY.PEEK[TEXT]" => {
            Item::Body { peek: true }
        }
        _ => return None,
    })
}

/// The header fields with the blank line after them (the whole message when there is none).
fn header(raw: &[u8]) -> &[u8] {
    memchr::memmem::find(raw, b"\r\n\r\n").map_or(raw, |i| &raw[..i + 4])
}

fn has_flag(flags: &[String], flag: &str) -> bool {
    flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
}

/// `date-time` of RFC 3501: `03-Dec-2026 16:41:13 +0000`.
fn imap_date(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let month = t.month().to_string();
    format!(
        "{:02}-{}-{:04} {:02}:{:02}:{:02} +0000",
        t.day(),
        month.get(..3).unwrap_or("Jan"),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn capabilities(st: &State, accounts: bool) -> String {
    let mut caps = vec!["IMAP4rev1", "IDLE"];
    if st.mailbox.is_some() {
        return caps.join(" ");
    }
    if !st.tls {
        caps.extend(["STARTTLS", "LOGINDISABLED"]);
    } else {
        if st.client.is_some() {
            caps.push("AUTH=EXTERNAL");
        }
        if accounts {
            caps.push("AUTH=PLAIN");
        }
    }
    caps.join(" ")
}

async fn write(st: &mut State, bytes: &[u8]) -> Result<(), ()> {
    let conn = st.io.get_mut();
    conn.write_all(bytes).await.map_err(|_| ())?;
    conn.flush().await.map_err(|_| ())
}

async fn send(st: &mut State, line: &str) -> Result<(), ()> {
    let mut out = Vec::with_capacity(line.len() + 2);
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
    write(st, &out).await
}

async fn ok(st: &mut State, tag: &str, text: &str) -> Reply {
    send(st, &format!("{tag} OK {text}")).await?;
    Ok(Next::Continue)
}

async fn no(st: &mut State, tag: &str, text: &str) -> Reply {
    send(st, &format!("{tag} NO {text}")).await?;
    Ok(Next::Continue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_headers() {
        let t = time::OffsetDateTime::from_unix_timestamp(1_796_316_073)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        assert_eq!(imap_date(t), "03-Dec-2026 16:41:13 +0000");
        assert_eq!(header(b"A: b\r\n\r\nbody"), b"A: b\r\n\r\n");
        assert_eq!(item_kind("BODY.PEEK[]"), Some(Item::Body { peek: true }));
        assert_eq!(item_kind("ENVELOPE"), None);
    }
}
