//! A circuit breaker per upstream (the DMP, the MSSanté server): after `failures`
//! consecutive transient failures it opens, and for `cooldown` nobody calls the upstream;
//! then one trial call goes (half-open): its success closes the circuit, its failure opens it
//! again. A dead national service then costs one call per cool-down instead of holding every
//! worker for every retry.
//!
//! Time is passed in (`*_at` methods) so that the state machine is tested without waiting;
//! the plain methods read the clock.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// The machine-readable reason of a call not made because the circuit is open.
pub const REASON_CIRCUIT_OPEN: &str = "CIRCUIT_OPEN";

/// What the breaker says at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go; `consecutive_failures` transient failures in a row so far.
    Closed { consecutive_failures: u32 },
    /// No call goes until the cool-down ends.
    Open {
        /// When it opened (wall clock, for messages).
        since: OffsetDateTime,
        /// What is left of the cool-down.
        remaining: Duration,
    },
    /// The cool-down ended: one trial call is (or may be) under way.
    HalfOpen { since: OffsetDateTime },
}

/// Whether a call may go now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permit {
    /// Call the upstream, then report with [`CircuitBreaker::record_success`] or
    /// [`CircuitBreaker::record_failure`].
    Allowed,
    /// Do not call: the circuit is open since `since` (or its trial is under way); try again
    /// in `retry_in`.
    Rejected {
        since: OffsetDateTime,
        retry_in: Duration,
    },
}

#[derive(Debug)]
enum Inner {
    Closed {
        failures: u32,
    },
    Open {
        at: Instant,
        since: OffsetDateTime,
    },
    /// `trial`: when the trial call was let through.
    HalfOpen {
        trial: Instant,
        since: OffsetDateTime,
    },
}

/// One upstream's breaker, shared by the tasks calling it.
#[derive(Debug)]
pub struct CircuitBreaker {
    failures: u32,
    cooldown: Duration,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// Opens after `failures` consecutive transient failures (at least 1) for `cooldown`.
    pub fn new(failures: u32, cooldown: Duration) -> Self {
        Self {
            failures: failures.max(1),
            cooldown,
            inner: Mutex::new(Inner::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding it left a valid state: the breaker goes on.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// May a call go now?
    pub fn try_acquire(&self) -> Permit {
        self.try_acquire_at(Instant::now())
    }

    /// May a call go at `now`? After the cool-down, the first asker gets the trial; the
    /// others wait for it (a trial never reported is given up after a cool-down).
    pub fn try_acquire_at(&self, now: Instant) -> Permit {
        let mut inner = self.lock();
        match *inner {
            Inner::Closed { .. } => Permit::Allowed,
            Inner::Open { at, since } | Inner::HalfOpen { trial: at, since } => {
                let elapsed = now.saturating_duration_since(at);
                if elapsed >= self.cooldown {
                    *inner = Inner::HalfOpen { trial: now, since };
                    Permit::Allowed
                } else {
                    Permit::Rejected {
                        since,
                        retry_in: self.cooldown - elapsed,
                    }
                }
            }
        }
    }

    /// The upstream answered (even a refusal): the circuit closes.
    pub fn record_success(&self) {
        *self.lock() = Inner::Closed { failures: 0 };
    }

    /// The upstream failed transiently.
    pub fn record_failure(&self) {
        self.record_failure_at(Instant::now(), OffsetDateTime::now_utc());
    }

    /// The upstream failed transiently at `now` (`wall`: the same instant, for messages).
    pub fn record_failure_at(&self, now: Instant, wall: OffsetDateTime) {
        let mut inner = self.lock();
        *inner = match *inner {
            Inner::Closed { failures } if failures + 1 < self.failures => Inner::Closed {
                failures: failures + 1,
            },
            Inner::Closed { .. } => Inner::Open {
                at: now,
                since: wall,
            },
            // The trial failed: open again, from now, still "since" the first opening.
            Inner::HalfOpen { since, .. } => Inner::Open { at: now, since },
            // A call let through before it opened: the cool-down runs on.
            Inner::Open { at, since } => Inner::Open { at, since },
        };
    }

    /// The state now.
    pub fn state(&self) -> BreakerState {
        self.state_at(Instant::now())
    }

    /// The state at `now` (an open circuit whose cool-down ended reads half-open).
    pub fn state_at(&self, now: Instant) -> BreakerState {
        match *self.lock() {
            Inner::Closed { failures } => BreakerState::Closed {
                consecutive_failures: failures,
            },
            Inner::Open { at, since } => {
                let elapsed = now.saturating_duration_since(at);
                if elapsed >= self.cooldown {
                    BreakerState::HalfOpen { since }
                } else {
                    BreakerState::Open {
                        since,
                        remaining: self.cooldown - elapsed,
                    }
                }
            }
            Inner::HalfOpen { since, .. } => BreakerState::HalfOpen { since },
        }
    }
}

/// `since` as a message shows it (RFC 3339, UTC, to the second).
pub fn format_since(since: OffsetDateTime) -> String {
    let since = since.replace_nanosecond(0).unwrap_or(since);
    since
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| since.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const COOL: Duration = Duration::from_secs(30);

    fn wall() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH
    }

    #[test]
    fn opens_after_n_consecutive_failures_only() {
        let b = CircuitBreaker::new(3, COOL);
        let t0 = Instant::now();
        b.record_failure_at(t0, wall());
        b.record_failure_at(t0, wall());
        // A success in between starts the count again.
        b.record_success();
        b.record_failure_at(t0, wall());
        b.record_failure_at(t0, wall());
        assert_eq!(
            b.state_at(t0),
            BreakerState::Closed {
                consecutive_failures: 2
            }
        );
        assert_eq!(b.try_acquire_at(t0), Permit::Allowed);
        b.record_failure_at(t0, wall());
        assert_eq!(
            b.state_at(t0 + Duration::from_secs(10)),
            BreakerState::Open {
                since: wall(),
                remaining: Duration::from_secs(20)
            }
        );
        assert_eq!(
            b.try_acquire_at(t0 + Duration::from_secs(10)),
            Permit::Rejected {
                since: wall(),
                retry_in: Duration::from_secs(20)
            }
        );
    }

    #[test]
    fn after_the_cooldown_one_trial_goes_and_decides() {
        let b = CircuitBreaker::new(1, COOL);
        let t0 = Instant::now();
        b.record_failure_at(t0, wall());
        let later = t0 + COOL;
        assert_eq!(b.state_at(later), BreakerState::HalfOpen { since: wall() });
        assert_eq!(b.try_acquire_at(later), Permit::Allowed);
        // Only one trial: the next caller waits for it.
        assert!(matches!(
            b.try_acquire_at(later + Duration::from_secs(1)),
            Permit::Rejected { retry_in, .. } if retry_in == COOL - Duration::from_secs(1)
        ));
        // The trial fails: open again for a whole cool-down, still since the first opening.
        let t1 = later + Duration::from_secs(2);
        b.record_failure_at(t1, wall() + Duration::from_secs(99));
        assert_eq!(
            b.state_at(t1),
            BreakerState::Open {
                since: wall(),
                remaining: COOL
            }
        );
        // The next trial succeeds: closed.
        assert_eq!(b.try_acquire_at(t1 + COOL), Permit::Allowed);
        b.record_success();
        assert_eq!(
            b.state_at(t1 + COOL),
            BreakerState::Closed {
                consecutive_failures: 0
            }
        );
        assert_eq!(b.try_acquire_at(t1 + COOL), Permit::Allowed);
    }

    #[test]
    fn a_trial_never_reported_is_given_up_after_a_cooldown() {
        let b = CircuitBreaker::new(1, COOL);
        let t0 = Instant::now();
        b.record_failure_at(t0, wall());
        assert_eq!(b.try_acquire_at(t0 + COOL), Permit::Allowed);
        assert_eq!(b.try_acquire_at(t0 + COOL + COOL), Permit::Allowed);
    }

    #[test]
    fn failures_of_calls_let_through_before_the_opening_do_not_extend_it() {
        let b = CircuitBreaker::new(1, COOL);
        let t0 = Instant::now();
        b.record_failure_at(t0, wall());
        b.record_failure_at(t0 + Duration::from_secs(20), wall());
        assert_eq!(b.try_acquire_at(t0 + COOL), Permit::Allowed);
    }

    #[test]
    fn since_reads_as_rfc3339() {
        assert_eq!(format_since(wall()), "1970-01-01T00:00:00Z");
    }
}
