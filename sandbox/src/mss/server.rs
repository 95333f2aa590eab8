//! The two listeners (submission with STARTTLS, implicit TLS), the connection a session
//! runs on (plain TCP until STARTTLS, then TLS), and the graceful stop: sessions are told
//! (`421`), then awaited for a moment, then dropped.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::MssSandboxConfig;
use super::faults::Faults;
use super::mailboxes::Directory;
use super::senders::Senders;
use super::session::Session;

/// How long the stop waits for sessions to say goodbye.
const STOP_GRACE: Duration = Duration::from_secs(5);

pub(crate) struct Shared {
    pub config: MssSandboxConfig,
    pub directory: Directory,
    pub senders: Senders,
    pub faults: Faults,
    pub acceptor: TlsAcceptor,
    /// Bumped after each delivery: the IMAP side's sessions watch it.
    pub arrivals: watch::Sender<u64>,
    /// Serialises the IMAP side's read-modify-write of its per-mailbox state files.
    pub imap_state: std::sync::Mutex<()>,
}

/// Which listener a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Port {
    /// Plain, TLS after `STARTTLS` (587).
    StartTls,
    /// TLS from the first byte (465).
    ImplicitTls,
}

/// A session's byte stream.
pub(crate) enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Between the plain stream's hand-over to the TLS handshake and its end.
    Closed,
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection being upgraded")
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Closed => Poll::Ready(Err(closed())),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Closed => Poll::Ready(Err(closed())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Closed => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Closed => Poll::Ready(Ok(())),
        }
    }
}

pub(crate) async fn serve(
    starttls: TcpListener,
    implicit: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut sessions = JoinSet::new();
    loop {
        let (accepted, port) = tokio::select! {
            _ = stop.changed() => break,
            a = starttls.accept() => (a, Port::StartTls),
            a = implicit.accept() => (a, Port::ImplicitTls),
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
        };
        match accepted {
            Ok((tcp, peer)) => {
                // Replies go out at once: with Nagle, a reply written while the client has
                // not yet acknowledged our previous segment (TLS 1.3 session tickets, sent
                // just before the answer to the first EHLO) waits for its delayed ACK, 40 ms.
                let _ = tcp.set_nodelay(true);
                let session = Session::new(shared.clone(), peer, stop.clone());
                sessions.spawn(connection(session, tcp, port));
            }
            Err(error) => {
                tracing::warn!(%error, "MSS sandbox: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop((starttls, implicit));
    let _ = tokio::time::timeout(STOP_GRACE, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    sessions.shutdown().await;
    tracing::info!("MSS sandbox stopped");
}

async fn connection(session: Session, tcp: TcpStream, port: Port) {
    let peer: SocketAddr = session.peer();
    match port {
        Port::StartTls => session.run(Conn::Plain(tcp), false).await,
        Port::ImplicitTls => match session.handshake(tcp).await {
            Some(tls) => session.run(Conn::Tls(Box::new(tls)), true).await,
            None => tracing::debug!(%peer, "MSS sandbox: implicit TLS connection ended"),
        },
    }
}
