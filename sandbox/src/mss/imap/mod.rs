//! The receiving side: an IMAP4rev1 subset (RFC 3501) with IDLE (RFC 2177) over TLS, on
//! an implicit TLS port and a plain port with `STARTTLS`, serving the mailboxes the SMTP
//! side fills. A client certificate from the sandbox PKI opens its mailbox with
//! `AUTHENTICATE EXTERNAL` (the same fingerprint table as SMTP); the operator accounts
//! log in with `AUTHENTICATE PLAIN` or `LOGIN`, after TLS only. UIDs and flags are kept
//! on disk beside the messages (`state.rs`).

mod parse;
mod session;
mod state;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::server::{Conn, Shared};
use session::Session;

/// How long the stop waits for sessions to say goodbye.
const STOP_GRACE: Duration = Duration::from_secs(5);

pub(crate) async fn serve(
    plain: TcpListener,
    implicit: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut sessions = JoinSet::new();
    loop {
        let (accepted, implicit_tls) = tokio::select! {
            _ = stop.changed() => break,
            a = plain.accept() => (a, false),
            a = implicit.accept() => (a, true),
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let _ = tcp.set_nodelay(true);
                let session = Session::new(shared.clone(), peer, stop.clone());
                sessions.spawn(async move {
                    if implicit_tls {
                        if let Some(tls) = session.handshake(tcp).await {
                            session.run(Conn::Tls(Box::new(tls))).await;
                        }
                    } else {
                        session.run(Conn::Plain(tcp)).await;
                    }
                });
            }
            Err(error) => {
                tracing::warn!(%error, "MSS sandbox IMAP: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    drop((plain, implicit));
    let _ = tokio::time::timeout(STOP_GRACE, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    sessions.shutdown().await;
}
