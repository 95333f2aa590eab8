//! Graceful shutdown: on SIGTERM or Ctrl-C, stop accepting, let in-flight work finish, exit 0.

use tokio_util::sync::CancellationToken;

/// A shutdown signal shared by every task of a process. Cloning is cheap.
#[derive(Clone, Debug, Default)]
pub struct Shutdown(CancellationToken);

impl Shutdown {
    pub fn new() -> Self {
        Self(CancellationToken::new())
    }

    /// A shutdown triggered by SIGTERM or Ctrl-C (SIGINT).
    pub fn on_signals() -> Self {
        let s = Self::new();
        let trigger = s.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested: finishing in-flight work");
            trigger.trigger();
        });
        s
    }

    pub fn trigger(&self) {
        self.0.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Resolves once shutdown was triggered.
    pub async fn wait(&self) {
        self.0.cancelled().await;
    }

    /// A child that is triggered with this one, and can also be triggered alone.
    pub fn child(&self) -> Self {
        Self(self.0.child_token())
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
