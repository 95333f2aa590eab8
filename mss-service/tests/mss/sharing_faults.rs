//! Sharing when the MSSanté server fails: with refusals for now (451), refused recipients
//! (550) and reset connections on one message in five, every share's MSSanté channels end,
//! DONE or FAILED with what the server said, within a hard time limit; with a server failing
//! every message, the circuit breaker opens and the shares end FAILED with its message
//! without being sent again.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use mss_service::sharing::ShareSettings;
use passerelle_bus::MessageStream;
use passerelle_bus::subjects::EVENTS_SHARE_CHANNEL_RESULT;
use passerelle_bus::testing::BusKind;
use passerelle_proto::share::v1::{Channel, ChannelState, ShareChannelResult};
use passerelle_sandbox::mss::JEAN_FOUQUEREY;
use prost::Message as _;

use crate::sharing::{mss_request, publish, requested, share_id, state};
use crate::support::{self, Fixture, PAT_DOUZE_MAILBOX};

passerelle_bus::on_both_buses!(
    every_share_ends_under_faults_at_one_in_five,
    a_failing_server_opens_the_circuit,
);

/// Nothing may take longer than this: a channel that does not end is a hang.
const HARD_LIMIT: Duration = Duration::from_secs(120);

async fn fixture(kind: BusKind, faults: &[&str], breaker_failures: u32) -> Fixture {
    support::start_with(
        kind,
        |s| s.faults = faults.iter().map(|f| f.parse().unwrap()).collect(),
        |s, _| {
            s.share = ShareSettings {
                enabled: true,
                ack_wait: Duration::from_secs(10),
                max_deliver: 4,
                initial_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_millis(300),
                breaker_failures,
                breaker_cooldown: Duration::from_secs(5),
            }
        },
    )
    .await
}

/// `n` shares of the letter to Dr FOUQUEREY and to the patient's mailbox.
async fn publish_shares(f: &Fixture, n: usize) -> Vec<String> {
    let doc = f.upload(&support::pdf(), "application/pdf").await;
    let channels = [Channel::MssPro, Channel::MssCitizen];
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = share_id();
        publish(
            f,
            &requested(&id, 1, &channels, mss_request(&doc, &id, true, true)),
        )
        .await;
        ids.push(id);
    }
    ids
}

/// Both channels' results of every share, within the hard limit.
async fn all_results(
    stream: &mut MessageStream,
    ids: &[String],
) -> HashMap<(String, i32), ShareChannelResult> {
    let mut out = HashMap::new();
    let deadline = tokio::time::Instant::now() + HARD_LIMIT;
    while out.len() < ids.len() * 2 {
        let m = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} of {} channels ended within {HARD_LIMIT:?}: the others hang",
                    out.len(),
                    ids.len() * 2
                )
            })
            .expect("the subscription is open");
        let r = ShareChannelResult::decode(m.payload).unwrap();
        assert!(ids.contains(&r.share_id), "{r:?}");
        out.insert((r.share_id.clone(), r.channel), r);
    }
    out
}

async fn every_share_ends_under_faults_at_one_in_five(kind: BusKind) {
    // Two faults on the message step: a transaction fails for now about one time in three,
    // so five in a row happen; a higher threshold keeps this test about the faults, the
    // breaker has its own.
    let f = fixture(kind, &["data-451%0.2", "rcpt-550%0.2", "reset%0.2"], 10).await;
    let mut stream = f.subscribe(EVENTS_SHARE_CHANNEL_RESULT).await;
    let ids = publish_shares(&f, 10).await;
    let ended = all_results(&mut stream, &ids).await;
    let mut done = HashMap::new();
    for r in ended.values() {
        match state(r) {
            ChannelState::Done => {
                assert!(r.reference.contains('@'), "a Message-ID: {r:?}");
                *done.entry(r.channel).or_insert(0) += 1;
            }
            ChannelState::Failed => {
                // What the server said, in words and as a reason.
                assert!(!r.reason.is_empty(), "{r:?}");
                assert!(
                    ["550", "451", "given up", "connection", "MSSanté"]
                        .iter()
                        .any(|w| r.detail.contains(w)),
                    "the detail says what failed: {r:?}"
                );
            }
            other => panic!("a channel ended {other:?}: {r:?}"),
        }
    }
    // Each DONE channel's letter is in its mailbox.
    for (channel, mailbox) in [
        (Channel::MssPro, JEAN_FOUQUEREY),
        (Channel::MssCitizen, PAT_DOUZE_MAILBOX),
    ] {
        let sent = done.get(&(channel as i32)).copied().unwrap_or(0);
        assert!(
            f.mailbox(mailbox).len() >= sent,
            "{mailbox}: fewer letters than DONE channels"
        );
    }
    // Three faults on one step in five each, and a patient's message failing after the
    // professionals' one is not retried (the share is, by the user): about half get through.
    let total: usize = done.values().sum();
    assert!(
        total >= ids.len() / 2,
        "only {total} channels DONE: {ended:?}"
    );
}

async fn a_failing_server_opens_the_circuit(kind: BusKind) {
    let f = fixture(kind, &["data-451"], 2).await;
    let mut stream = f.subscribe(EVENTS_SHARE_CHANNEL_RESULT).await;
    let ids = publish_shares(&f, 6).await;
    let ended = all_results(&mut stream, &ids).await;
    let mut by_breaker = 0;
    for r in ended.values() {
        assert_eq!(state(r), ChannelState::Failed, "{r:?}");
        if r.reason == "CIRCUIT_OPEN" {
            assert!(
                r.detail
                    .starts_with("the MSSanté server is failing: circuit open since "),
                "{r:?}"
            );
            by_breaker += 1;
        } else {
            assert_eq!(r.reason, "SMTP_UNAVAILABLE", "{r:?}");
        }
    }
    // Without the breaker every share would be sent max_deliver times and end on the 451;
    // with it, after two failures the server is left alone for the cool-down.
    assert!(
        by_breaker >= 8,
        "most channels end on the open circuit: {ended:?}"
    );
    assert!(f.mailbox(JEAN_FOUQUEREY).is_empty());
}
