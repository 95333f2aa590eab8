//! Reading one mailbox, for as long as the service runs: take its lease, connect, look for
//! messages not yet done, process them, then wait (IDLE, or the poll interval) and look
//! again. A failure closes the session and connects again after a growing pause; the
//! messages not done stay unflagged and are found again.

use std::sync::Arc;
use std::time::Duration;

use passerelle_service_kit::Shutdown;

use super::config::{MailboxSettings, ReceivingSettings};
use super::process::{DONE_KEYWORD, ProcessError, Processor, SET_ASIDE_KEYWORD};
use super::tracking::{Lease, Tracking, TrackingError};
use super::{MailboxStatus, ReceiverStats};
use crate::imap::{ClientCert, IdleEvent, ImapClient, ImapError, ImapSession};

/// What ended a session with the mailbox.
#[derive(Debug, thiserror::Error)]
enum SessionEnd {
    #[error(transparent)]
    Imap(#[from] ImapError),
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error(transparent)]
    Tracking(#[from] TrackingError),
    #[error("shutting down")]
    Shutdown,
}

pub(super) struct MailboxReader {
    pub settings: Arc<ReceivingSettings>,
    pub mailbox: MailboxSettings,
    pub client: ImapClient,
    pub tracking: Tracking,
    pub processor: Arc<Processor>,
    pub owner: String,
    pub stats: Arc<ReceiverStats>,
    pub shutdown: Shutdown,
}

impl MailboxReader {
    pub async fn run(self) {
        let mut backoff = Duration::from_secs(1);
        while !self.shutdown.is_triggered() {
            let lease = match self
                .tracking
                .acquire(&self.owner, self.settings.lease)
                .await
            {
                Ok(Some(lease)) => lease,
                Ok(None) => {
                    self.stats
                        .set(&self.mailbox.address, MailboxStatus::HeldElsewhere);
                    self.pause(self.settings.lease / 3).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "mailbox lease unavailable");
                    self.stats
                        .set(&self.mailbox.address, MailboxStatus::Failing(e.to_string()));
                    self.pause(backoff).await;
                    backoff = (backoff * 2).min(self.settings.max_backoff);
                    continue;
                }
            };
            let mut lease = lease;
            match self.session(&mut lease, &mut backoff).await {
                Err(SessionEnd::Shutdown) | Ok(()) => {
                    self.tracking.release(lease).await;
                    break;
                }
                Err(e) => {
                    // The mailbox's address may be a patient's: not logged, its hash is.
                    tracing::warn!(
                        mailbox = %super::tracking::mailbox_key(&self.mailbox.address),
                        error = %e,
                        "mailbox session ended; connecting again"
                    );
                    self.stats
                        .set(&self.mailbox.address, MailboxStatus::Failing(e.to_string()));
                    if matches!(e, SessionEnd::Tracking(TrackingError::LeaseLost { .. })) {
                        continue;
                    }
                    self.pause(backoff).await;
                    backoff = (backoff * 2).min(self.settings.max_backoff);
                }
            }
        }
    }

    /// Sleeps unless shutting down.
    async fn pause(&self, how_long: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(how_long) => {}
            _ = self.shutdown.wait() => {}
        }
    }

    async fn session(&self, lease: &mut Lease, backoff: &mut Duration) -> Result<(), SessionEnd> {
        let mut session = tokio::select! {
            s = self.client.connect(ClientCert::Configured, Some(&self.mailbox.address)) => s?,
            _ = self.shutdown.wait() => return Err(SessionEnd::Shutdown),
        };
        let result = self.read(&mut session, lease, backoff).await;
        // Shutting down may have cut a command (IDLE) short: just close then.
        if !matches!(result, Err(SessionEnd::Shutdown)) {
            session.logout().await;
        }
        result
    }

    async fn read(
        &self,
        session: &mut ImapSession,
        lease: &mut Lease,
        backoff: &mut Duration,
    ) -> Result<(), SessionEnd> {
        let selected = session.select(&self.mailbox.folder).await?;
        let can_idle = self.settings.idle
            && session
                .capabilities()
                .iter()
                .any(|c| c.eq_ignore_ascii_case("IDLE"));
        let renew_every = self.settings.lease / 3;
        let criteria = format!("UNKEYWORD {DONE_KEYWORD} UNKEYWORD {SET_ASIDE_KEYWORD}");
        loop {
            self.renew(lease).await?;
            let uids = session.uid_search(&criteria).await?;
            for uid in uids {
                if self.shutdown.is_triggered() {
                    return Err(SessionEnd::Shutdown);
                }
                self.renew(lease).await?;
                let outcome = self
                    .processor
                    .process(session, &self.tracking, selected.uid_validity, uid)
                    .await?;
                self.stats.count(outcome);
            }
            *backoff = Duration::from_secs(1);
            self.stats
                .set(&self.mailbox.address, MailboxStatus::Reading);
            if self.shutdown.is_triggered() {
                return Err(SessionEnd::Shutdown);
            }
            if can_idle {
                let wait = renew_every.min(Duration::from_secs(29 * 60));
                let event = tokio::select! {
                    e = session.idle(wait) => e?,
                    _ = self.shutdown.wait() => return Err(SessionEnd::Shutdown),
                };
                if event == IdleEvent::Closed {
                    return Err(SessionEnd::Imap(ImapError::Bye {
                        text: "the server ended IDLE".to_owned(),
                    }));
                }
            } else {
                // Polling: renew on time even when the interval is longer than the lease.
                let mut left = self.settings.poll_interval;
                while !left.is_zero() {
                    let step = left.min(renew_every);
                    self.pause(step).await;
                    if self.shutdown.is_triggered() {
                        return Err(SessionEnd::Shutdown);
                    }
                    self.renew(lease).await?;
                    left = left.saturating_sub(step);
                }
            }
        }
    }

    async fn renew(&self, lease: &mut Lease) -> Result<(), TrackingError> {
        self.tracking
            .renew(lease, &self.owner, self.settings.lease)
            .await
    }
}
