//! The accept loop every HTTPS simulator runs: one task per connection, none left behind at
//! the stop.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Accepts connections on `listener` and runs `connection` for each, until `stop` changes (a
/// stop request, or its handle dropped); then ends the connections still open.
pub(crate) async fn accept_until_stopped<F, Fut>(
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    name: &'static str,
    addr: SocketAddr,
    connection: F,
) where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    connections.spawn(connection(tcp, peer));
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    // Out of descriptors and the like: do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
    tracing::info!(%addr, "{name} stopped");
}

/// A simulator's server task and its stop signal: dropping it stops the server too, without
/// waiting.
#[derive(Debug)]
pub(crate) struct ServerTask {
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ServerTask {
    pub(crate) fn new(stop: watch::Sender<bool>, task: tokio::task::JoinHandle<()>) -> Self {
        Self {
            stop,
            task: Some(task),
        }
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub(crate) async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerTask {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
