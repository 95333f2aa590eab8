//! Bounded retries of transient INSi failures, with exponential backoff and full jitter, so
//! that the user never has to click twice. A business answer (CR 00/01/02) and a permanent
//! failure (refused software, bad certificate, invalid request) are never retried.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::insi::InsiError;

/// Retry policy of one upstream; in configuration as `[insi.retry]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubled each time, up to `max_backoff`.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Time budget for all attempts of one call, backoffs included: no retry starts once
    /// the next one could not finish within it.
    #[serde(with = "humantime_serde")]
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            budget: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// One attempt only.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The backoff ceiling before retry number `retry` (1-based); the wait is drawn
    /// uniformly below it ("full jitter"), so that many callers failing together do not
    /// come back together.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(20);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Why the last attempt was the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// An answer (business or not): nothing more to do.
    Answered,
    /// A failure that retrying cannot fix.
    Permanent,
    /// `max_attempts` reached.
    AttemptsExhausted,
    /// The time budget would be exceeded.
    BudgetExhausted,
}

/// Runs `attempt(n)` (n from 1) until it succeeds, fails permanently, or the policy says stop.
/// Returns the last outcome, the attempts made and why it stopped.
pub async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    mut attempt: F,
) -> (Result<T, InsiError>, u32, Stop)
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, InsiError>>,
{
    let started = Instant::now();
    let budget = policy.budget;
    let max = policy.max_attempts.max(1);
    let mut n = 1;
    loop {
        let began = Instant::now();
        let outcome = attempt(n).await;
        let took = began.elapsed();
        let err = match &outcome {
            Ok(_) => return (outcome, n, Stop::Answered),
            Err(e) => e,
        };
        if !err.is_transient() {
            return (outcome, n, Stop::Permanent);
        }
        if n >= max {
            return (outcome, n, Stop::AttemptsExhausted);
        }
        let ceiling = policy.backoff_ceiling(n);
        let wait = if ceiling.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_millis(rand::rng().random_range(0..=ceiling.as_millis() as u64))
        };
        // The next attempt should be able to take as long as the last one did.
        if started.elapsed() + wait + took > budget {
            return (outcome, n, Stop::BudgetExhausted);
        }
        tracing::info!(
            attempt = n,
            wait_ms = wait.as_millis() as u64,
            error = err.kind(),
            "INSi call failed transiently; retrying"
        );
        tokio::time::sleep(wait).await;
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn transient() -> InsiError {
        InsiError::Timeout {
            after: Duration::from_secs(1),
        }
    }

    fn fast(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
            budget: Duration::from_secs(10),
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_an_answer() {
        let calls = AtomicU32::new(0);
        let (out, n, stop) = run(&fast(3), |_| async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(transient())
            } else {
                Ok("answer")
            }
        })
        .await;
        assert_eq!(out.unwrap(), "answer");
        assert_eq!((n, stop), (3, Stop::Answered));
    }

    #[tokio::test]
    async fn answers_are_never_retried() {
        let calls = AtomicU32::new(0);
        let (_, n, stop) = run(&fast(5), |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, InsiError>(())
        })
        .await;
        assert_eq!((n, stop), (1, Stop::Answered));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let (out, n, stop) = run(&fast(5), |_| async {
            Err::<(), _>(InsiError::Config {
                reason: "bad".into(),
            })
        })
        .await;
        assert!(out.is_err());
        assert_eq!((n, stop), (1, Stop::Permanent));
    }

    #[tokio::test]
    async fn attempts_are_bounded() {
        let (out, n, stop) = run(&fast(4), |_| async { Err::<(), _>(transient()) }).await;
        assert!(matches!(out, Err(InsiError::Timeout { .. })));
        assert_eq!((n, stop), (4, Stop::AttemptsExhausted));
    }

    #[tokio::test]
    async fn the_time_budget_is_kept() {
        let policy = RetryPolicy {
            max_attempts: 100,
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
            budget: Duration::from_millis(50),
        };
        let began = Instant::now();
        let (_, n, stop) = run(&policy, |_| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err::<(), _>(transient())
        })
        .await;
        assert_eq!(stop, Stop::BudgetExhausted);
        assert!(n < 4, "{n} attempts");
        assert!(began.elapsed() < Duration::from_millis(200));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff_ceiling(1), Duration::from_millis(200));
        assert_eq!(p.backoff_ceiling(2), Duration::from_millis(400));
        assert_eq!(p.backoff_ceiling(10), Duration::from_millis(2_000));
        assert_eq!(p.backoff_ceiling(100), Duration::from_millis(2_000));
    }
}
