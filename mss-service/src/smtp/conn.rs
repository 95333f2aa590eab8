//! One connection's reading of replies and writing of commands and of the message (dot-stuffed,
//! streamed from its chunks), each step under a timeout.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};

use super::error::{SmtpError, Stage};
use super::reply::{Reply, parse_line, reply_of};
use super::tls;

/// A reply line longer than this is not SMTP (RFC 5321 allows 512 bytes).
const MAX_LINE: usize = 8 * 1024;
/// Nor a reply of more lines than this.
const MAX_LINES: usize = 200;
/// The message is written in pieces of at most this size, each under the command timeout: a
/// stalled server is noticed, a slow link is not punished for a large message.
const WRITE_PIECE: usize = 64 * 1024;

pub(crate) struct Conn<S> {
    stream: S,
    /// `host:port`, for errors.
    server: String,
    /// Bytes read past the last reply.
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn new(stream: S, server: &str) -> Self {
        Self {
            stream,
            server: server.to_owned(),
            buf: Vec::new(),
        }
    }

    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// The stream, for the TLS upgrade. Anything the server sent after its reply to STARTTLS
    /// would be plaintext injected ahead of TLS: refused.
    pub fn into_stream(self, stage: Stage) -> Result<S, SmtpError> {
        if !self.buf.is_empty() {
            return Err(SmtpError::Protocol {
                stage,
                reason: "the server sent data after its reply to STARTTLS, before TLS (refused: it could be injected)".to_owned(),
            });
        }
        Ok(self.stream)
    }

    /// Sends one command line.
    pub async fn command(
        &mut self,
        line: &str,
        stage: Stage,
        timeout: Duration,
    ) -> Result<(), SmtpError> {
        let write = async {
            self.stream.write_all(line.as_bytes()).await?;
            self.stream.write_all(b"\r\n").await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(timeout, write).await {
            Err(_) => Err(SmtpError::Timeout {
                stage,
                after: timeout,
            }),
            Ok(r) => r.map_err(|e| io_error(&e, stage, &self.server)),
        }
    }

    /// Reads one reply, all its lines.
    pub async fn reply(&mut self, stage: Stage, timeout: Duration) -> Result<Reply, SmtpError> {
        match tokio::time::timeout(timeout, self.read_reply(stage)).await {
            Err(_) => Err(SmtpError::Timeout {
                stage,
                after: timeout,
            }),
            Ok(r) => r,
        }
    }

    async fn read_reply(&mut self, stage: Stage) -> Result<Reply, SmtpError> {
        let mut code = None;
        let mut lines = Vec::new();
        loop {
            let raw = self.read_line(stage).await?;
            let line = parse_line(&raw).ok_or_else(|| SmtpError::Protocol {
                stage,
                reason: format!(
                    "not an SMTP reply line: {:?}",
                    String::from_utf8_lossy(&raw[..raw.len().min(80)])
                ),
            })?;
            if *code.get_or_insert(line.code) != line.code {
                return Err(SmtpError::Protocol {
                    stage,
                    reason: "a multi-line reply changes its code".to_owned(),
                });
            }
            lines.push(line.text);
            if line.last {
                return Ok(reply_of(line.code, lines));
            }
            if lines.len() >= MAX_LINES {
                return Err(SmtpError::Protocol {
                    stage,
                    reason: format!("a reply of more than {MAX_LINES} lines"),
                });
            }
        }
    }

    /// One line without its line end (CRLF, or a bare LF some servers send).
    async fn read_line(&mut self, stage: Stage) -> Result<Vec<u8>, SmtpError> {
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
                return Err(SmtpError::Protocol {
                    stage,
                    reason: format!("a reply line longer than {MAX_LINE} bytes"),
                });
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .stream
                .read(&mut chunk)
                .await
                .map_err(|e| io_error(&e, stage, &self.server))?;
            if n == 0 {
                return Err(SmtpError::ConnectionLost {
                    stage,
                    reason: "the server closed the connection".to_owned(),
                });
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Writes the message after `354`: dot-stuffed (a line starting with `.` gets one more),
    /// chunk by chunk without joining them, a CRLF added if it does not end with one, then
    /// the terminating `.`.
    pub async fn message(&mut self, chunks: &[Bytes], timeout: Duration) -> Result<(), SmtpError> {
        let stage = Stage::Message;
        let server = self.server.as_str();
        let mut out = BufWriter::with_capacity(WRITE_PIECE, &mut self.stream);
        let mut stuffer = DotStuffer::default();
        for chunk in chunks {
            for piece in stuffer.pieces(chunk) {
                for part in piece.chunks(WRITE_PIECE) {
                    timed_write(&mut out, part, stage, timeout, server).await?;
                }
            }
        }
        timed_write(&mut out, stuffer.terminator(), stage, timeout, server).await?;
        match tokio::time::timeout(timeout, out.flush()).await {
            Err(_) => Err(SmtpError::Timeout {
                stage,
                after: timeout,
            }),
            Ok(r) => r.map_err(|e| io_error(&e, stage, server)),
        }
    }

    pub async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

async fn timed_write<W: AsyncWrite + Unpin>(
    out: &mut W,
    bytes: &[u8],
    stage: Stage,
    timeout: Duration,
    server: &str,
) -> Result<(), SmtpError> {
    match tokio::time::timeout(timeout, out.write_all(bytes)).await {
        Err(_) => Err(SmtpError::Timeout {
            stage,
            after: timeout,
        }),
        Ok(r) => r.map_err(|e| io_error(&e, stage, server)),
    }
}

/// An I/O failure after the handshake: a TLS alert (the server refusing our certificate after
/// a TLS 1.3 handshake) or the connection lost.
pub(crate) fn io_error(e: &std::io::Error, stage: Stage, server: &str) -> SmtpError {
    if let Some(t) = tls::rustls_error(e) {
        return SmtpError::Tls {
            server: server.to_owned(),
            failure: tls::failure_of(t),
        };
    }
    SmtpError::ConnectionLost {
        stage,
        reason: e.to_string(),
    }
}

/// Dot-stuffing across chunk boundaries (RFC 5321 §4.5.2). A line starts after LF (a bare
/// LF too, as servers that accept one would see a line there).
#[derive(Default)]
pub(crate) struct DotStuffer {
    /// The last two bytes written of the message (`None` before any).
    tail: [Option<u8>; 2],
}

impl DotStuffer {
    /// The slices to write for `chunk`: its parts, with `"."` before each line starting with
    /// a dot.
    pub fn pieces<'a>(&mut self, chunk: &'a [u8]) -> Vec<&'a [u8]> {
        const DOT: &[u8] = b".";
        let mut pieces = Vec::new();
        if chunk.is_empty() {
            return pieces;
        }
        let at_line_start = matches!(self.tail[1], None | Some(b'\n'));
        let mut start = 0;
        if at_line_start && chunk[0] == b'.' {
            pieces.push(DOT);
        }
        for nl in memchr::memchr_iter(b'\n', chunk) {
            if chunk.get(nl + 1) == Some(&b'.') {
                pieces.push(&chunk[start..=nl]);
                pieces.push(DOT);
                start = nl + 1;
            }
        }
        pieces.push(&chunk[start..]);
        self.tail = match chunk {
            [.., a, b] => [Some(*a), Some(*b)],
            [b] => [self.tail[1], Some(*b)],
            [] => self.tail,
        };
        pieces
    }

    /// The end of data: `.` on its own line.
    pub fn terminator(&self) -> &'static [u8] {
        match self.tail {
            [Some(b'\r'), Some(b'\n')] => b".\r\n",
            // An empty message is an empty line of data.
            [_, None] => b".\r\n",
            _ => b"\r\n.\r\n",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuffed(chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = DotStuffer::default();
        let mut out = Vec::new();
        for c in chunks {
            for p in s.pieces(c) {
                out.extend_from_slice(p);
            }
        }
        out.extend_from_slice(s.terminator());
        out
    }

    #[test]
    fn dots_at_line_starts_across_chunks() {
        assert_eq!(stuffed(&[b".a\r\nb\r\n"]), b"..a\r\nb\r\n.\r\n");
        assert_eq!(
            stuffed(&[b"a\r\n", b".", b"\r\n..\r\nx.y\r\n"]),
            b"a\r\n..\r\n...\r\nx.y\r\n.\r\n"
        );
        assert_eq!(stuffed(&[b"a\r", b"\n.b"]), b"a\r\n..b\r\n.\r\n");
        assert_eq!(stuffed(&[b"no end"]), b"no end\r\n.\r\n");
        assert_eq!(stuffed(&[b"x\r\n\r", b"\n"]), b"x\r\n\r\n.\r\n");
        assert_eq!(stuffed(&[b"x\r", b"", b"\n"]), b"x\r\n.\r\n");
        assert_eq!(stuffed(&[]), b".\r\n");
    }
}
