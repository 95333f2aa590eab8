//! Fault injection of the SMTP server, on the trigger syntax of the INSi and DMP sandboxes
//! (`KIND`, `KIND@N` every N-th time, `KIND%P` with probability P), with SMTP's own
//! kinds. Each kind counts the events it applies to (connections, recipients, messages, IMAP fetches).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::insi::FaultTrigger;

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MssFaultKind {
    /// `421 4.3.2` instead of the greeting, then the connection is closed.
    Greeting421,
    /// A recipient refused permanently: `550 5.1.1`, as for an unknown mailbox.
    Rcpt550,
    /// A recipient refused for now: `450 4.2.1` (mailbox busy).
    Rcpt450,
    /// The message refused for now at the end of DATA: `451 4.3.0`.
    Data451,
    /// The message refused for good at the end of DATA: `554 5.6.0`.
    Data554,
    /// The connection closed during DATA, without a reply.
    Reset,
    /// IMAP: `* BYE` and the connection closed at a FETCH, without its tagged reply.
    ImapBye,
    /// IMAP: `NO` to a FETCH.
    ImapNo,
}

impl MssFaultKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Greeting421 => "greeting-421",
            Self::Rcpt550 => "rcpt-550",
            Self::Rcpt450 => "rcpt-450",
            Self::Data451 => "data-451",
            Self::Data554 => "data-554",
            Self::Reset => "reset",
            Self::ImapBye => "imap-bye",
            Self::ImapNo => "imap-no",
        }
    }

    const ALL: [Self; 8] = [
        Self::Greeting421,
        Self::Rcpt550,
        Self::Rcpt450,
        Self::Data451,
        Self::Data554,
        Self::Reset,
        Self::ImapBye,
        Self::ImapNo,
    ];

    /// The SMTP stage at which the fault applies.
    pub(crate) fn stage(self) -> Stage {
        match self {
            Self::Greeting421 => Stage::Connection,
            Self::Rcpt550 | Self::Rcpt450 => Stage::Recipient,
            Self::Data451 | Self::Data554 | Self::Reset => Stage::Message,
            Self::ImapBye | Self::ImapNo => Stage::ImapFetch,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Connection,
    Recipient,
    Message,
    /// An IMAP `FETCH` / `UID FETCH`.
    ImapFetch,
}

/// One injected fault: what, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct MssFault {
    pub trigger: FaultTrigger,
    pub kind: MssFaultKind,
}

/// As written on a command line: `KIND`, `KIND@N` or `KIND%P`.
impl std::str::FromStr for MssFault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || {
            let kinds: Vec<&str> = MssFaultKind::ALL.iter().map(|k| k.name()).collect();
            format!(
                "MSS fault {s:?}: write KIND, KIND@N or KIND%P with KIND one of {} \
                 (e.g. rcpt-450@2, reset%0.1)",
                kinds.join(", ")
            )
        };
        let (kind, trigger) = if let Some((k, n)) = s.split_once('@') {
            let n: u32 = n.trim().parse().map_err(|_| usage())?;
            (k, FaultTrigger::EveryNth(n))
        } else if let Some((k, p)) = s.split_once('%') {
            let p: f64 = p.trim().parse().map_err(|_| usage())?;
            if !(0.0..=1.0).contains(&p) {
                return Err(usage());
            }
            (k, FaultTrigger::Probability(p))
        } else {
            (s, FaultTrigger::EveryNth(1))
        };
        let kind = MssFaultKind::ALL
            .into_iter()
            .find(|k| k.name() == kind.trim())
            .ok_or_else(usage)?;
        Ok(Self { trigger, kind })
    }
}

/// The configured faults and, for each, how many events of its stage it has seen.
#[derive(Debug)]
pub(crate) struct Faults {
    faults: Vec<(MssFault, AtomicU64)>,
}

impl Faults {
    pub fn new(faults: &[MssFault]) -> Self {
        Self {
            faults: faults
                .iter()
                .map(|f| (f.clone(), AtomicU64::new(0)))
                .collect(),
        }
    }

    /// Counts one event of `stage`; returns the first fault of that stage that fires.
    pub fn fire(&self, stage: Stage) -> Option<MssFaultKind> {
        let mut fired = None;
        for (fault, count) in &self.faults {
            if fault.kind.stage() != stage {
                continue;
            }
            let n = count.fetch_add(1, Ordering::Relaxed) + 1;
            let fire = match fault.trigger {
                FaultTrigger::EveryNth(0) => false,
                FaultTrigger::EveryNth(k) => n.is_multiple_of(u64::from(k)),
                FaultTrigger::Probability(p) => rand::random::<f64>() < p,
            };
            if fire && fired.is_none() {
                fired = Some(fault.kind);
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn specs_parse_and_fire_on_their_stage() {
        let f: MssFault = "rcpt-450@2".parse().unwrap();
        assert_eq!(f.kind, MssFaultKind::Rcpt450);
        assert_eq!(f.trigger, FaultTrigger::EveryNth(2));
        let f: MssFault = "reset%0.5".parse().unwrap();
        assert_eq!(f.trigger, FaultTrigger::Probability(0.5));
        for bad in ["rcpt-451", "reset%2", "data-451@x", ""] {
            let err = bad.parse::<MssFault>().unwrap_err();
            assert!(err.contains("greeting-421"), "{err}");
        }
        let faults = Faults::new(&["rcpt-450@2".parse().unwrap(), "data-554".parse().unwrap()]);
        assert_eq!(faults.fire(Stage::Recipient), None);
        assert_eq!(faults.fire(Stage::Recipient), Some(MssFaultKind::Rcpt450));
        assert_eq!(faults.fire(Stage::Connection), None);
        assert_eq!(faults.fire(Stage::Message), Some(MssFaultKind::Data554));
        let faults = Faults::new(&["imap-bye@2".parse().unwrap(), "imap-no".parse().unwrap()]);
        assert_eq!(faults.fire(Stage::Message), None);
        assert_eq!(faults.fire(Stage::ImapFetch), Some(MssFaultKind::ImapNo));
        assert_eq!(faults.fire(Stage::ImapFetch), Some(MssFaultKind::ImapBye));
    }
}
