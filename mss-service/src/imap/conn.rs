//! One connection: tagged commands written, responses read (literals included) under a
//! timeout, the tagged status turned into typed errors.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::error::{ImapError, ImapStage};
use super::response::{Piece, Response, literal_len};
use crate::smtp::mask_patient_addresses;
use crate::smtp::tls as smtp_tls;

/// A response line longer than this is not IMAP as we use it.
const MAX_LINE: usize = 64 * 1024;
/// A literal larger than this (a message of the MSSanté limits is far smaller).
const MAX_LITERAL: u64 = 256 * 1024 * 1024;

pub(crate) struct Conn<S> {
    stream: S,
    server: String,
    buf: Vec<u8>,
    next_tag: u32,
    /// The text of an untagged `BYE` seen, for the error when the connection then ends.
    bye: Option<String>,
}

/// The untagged responses of a command completed with `OK`.
pub(crate) struct Completed {
    pub untagged: Vec<Response>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn new(stream: S, server: &str) -> Self {
        Self {
            stream,
            server: server.to_owned(),
            buf: Vec::new(),
            next_tag: 1,
            bye: None,
        }
    }

    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// The stream for the TLS upgrade, and the next tag. Bytes already sent after the
    /// reply to STARTTLS would be plaintext injected ahead of TLS: refused.
    pub fn into_parts(self) -> Result<(S, u32), ImapError> {
        if !self.buf.is_empty() {
            return Err(ImapError::protocol(
                "the server sent data after its reply to STARTTLS, before TLS (refused: it could be injected)",
            ));
        }
        Ok((self.stream, self.next_tag))
    }

    pub fn with_tag(mut self, next_tag: u32) -> Self {
        self.next_tag = next_tag;
        self
    }

    pub fn new_tag(&mut self) -> String {
        let tag = format!("A{:04}", self.next_tag);
        self.next_tag = self.next_tag.wrapping_add(1);
        tag
    }

    /// Writes one line (CRLF added).
    pub async fn write_line(&mut self, line: &[u8]) -> Result<(), ImapError> {
        let mut out = Vec::with_capacity(line.len() + 2);
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
        self.stream
            .write_all(&out)
            .await
            .map_err(|e| self.io_error(&e))?;
        self.stream.flush().await.map_err(|e| self.io_error(&e))
    }

    /// Sends `command` under a new tag and reads up to its tagged status: `OK` gives the
    /// untagged responses, `NO`/`BAD` their errors, a `BYE` or the end of the connection
    /// `Bye`.
    pub async fn command(
        &mut self,
        command: &str,
        name: &'static str,
        stage: ImapStage,
        timeout: Duration,
    ) -> Result<Completed, ImapError> {
        timed(stage, timeout, async {
            let tag = self.new_tag();
            self.write_line(format!("{tag} {command}").as_bytes())
                .await?;
            self.until_tagged(&tag, name).await
        })
        .await
    }

    /// Reads responses up to the one tagged `tag`.
    pub async fn until_tagged(
        &mut self,
        tag: &str,
        name: &'static str,
    ) -> Result<Completed, ImapError> {
        let mut untagged = Vec::new();
        loop {
            let response = self.response().await?;
            if let Some((status, text)) = response.tagged(tag) {
                let text = mask_patient_addresses(&text);
                return match status.as_str() {
                    "OK" => Ok(Completed { untagged }),
                    "NO" => Err(ImapError::No {
                        command: name,
                        text,
                    }),
                    "BAD" => Err(ImapError::Bad {
                        command: name,
                        text,
                    }),
                    other => Err(ImapError::protocol(format!(
                        "{name}: a tagged status {other:?}"
                    ))),
                };
            }
            if response.is_continuation() {
                return Err(ImapError::protocol(format!(
                    "{name}: the server asks for more (a continuation) where none is due"
                )));
            }
            if response.untagged().is_none() {
                return Err(ImapError::protocol(format!(
                    "{name}: a response neither tagged, untagged nor a continuation"
                )));
            }
            untagged.push(response);
        }
    }

    /// One response, its literals read. An untagged `BYE` is remembered for the error that
    /// follows when the server closes.
    pub async fn response(&mut self) -> Result<Response, ImapError> {
        let mut pieces = Vec::new();
        loop {
            let line = self.read_line().await?;
            let literal = literal_len(&line);
            pieces.push(Piece::Text(line));
            let Some(n) = literal else { break };
            if n > MAX_LITERAL {
                return Err(ImapError::protocol(format!(
                    "a literal of {n} bytes (more than {MAX_LITERAL})"
                )));
            }
            pieces.push(Piece::Literal(self.read_exact(n as usize).await?));
        }
        let response = Response { pieces };
        if let Some(rest) = response.untagged()
            && rest.len() >= 3
            && rest[..3].eq_ignore_ascii_case(b"BYE")
        {
            let text = String::from_utf8_lossy(&rest[3..]).trim().to_owned();
            self.bye = Some(mask_patient_addresses(&text));
        }
        Ok(response)
    }

    async fn fill(&mut self) -> Result<(), ImapError> {
        // Straight into the buffer's spare room: no array on the (async) stack.
        self.buf.reserve(16 * 1024);
        let n = self
            .stream
            .read_buf(&mut self.buf)
            .await
            .map_err(|e| self.io_error(&e))?;
        if n == 0 {
            return Err(self.closed());
        }
        Ok(())
    }

    /// The connection ended: the server's `BYE` text if it gave one.
    pub fn closed(&self) -> ImapError {
        ImapError::Bye {
            text: self
                .bye
                .clone()
                .unwrap_or_else(|| "the server closed the connection".to_owned()),
        }
    }

    async fn read_line(&mut self) -> Result<Vec<u8>, ImapError> {
        let mut searched = 0;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[searched..]) {
                let end = searched + i;
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            searched = self.buf.len();
            if searched > MAX_LINE {
                return Err(ImapError::protocol(format!(
                    "a response line longer than {MAX_LINE} bytes"
                )));
            }
            self.fill().await?;
        }
    }

    async fn read_exact(&mut self, n: usize) -> Result<Bytes, ImapError> {
        self.buf.reserve(n.saturating_sub(self.buf.len()));
        while self.buf.len() < n {
            self.fill().await?;
        }
        Ok(Bytes::from(self.buf.drain(..n).collect::<Vec<u8>>()))
    }

    pub async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    fn io_error(&self, e: &std::io::Error) -> ImapError {
        if let Some(t) = smtp_tls::rustls_error(e) {
            return ImapError::Tls {
                server: self.server.clone(),
                reason: tls_reason(&smtp_tls::failure_of(t)),
            };
        }
        ImapError::Bye {
            text: self
                .bye
                .clone()
                .unwrap_or_else(|| format!("the connection broke: {e}")),
        }
    }
}

/// The SMTP client's explanation of a TLS failure, in our settings' names.
pub(crate) fn tls_reason(failure: &crate::smtp::TlsFailure) -> String {
    failure
        .to_string()
        .replace("smtp.host", "imap.host")
        .replace("smtp.tls", "imap.tls")
        .replace(
            "smtp.mode = \"implicit\" is for port 465, \"starttls\" for 587",
            "imap.mode = \"implicit\" is for port 993, \"starttls\" for 143",
        )
}

/// `fut` under `timeout`, a timeout naming `stage`.
pub(crate) async fn timed<T>(
    stage: ImapStage,
    timeout: Duration,
    fut: impl Future<Output = Result<T, ImapError>>,
) -> Result<T, ImapError> {
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => Err(ImapError::Timeout {
            stage,
            after: timeout,
        }),
        Ok(r) => r,
    }
}
