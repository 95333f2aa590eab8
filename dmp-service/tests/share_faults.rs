//! The DMP channel of sharing when the DMP fails: with faults on one call in five (503,
//! closed connections, SOAP faults) every share ends, DONE or FAILED with what the DMP said,
//! within a hard time limit; with a DMP failing every call, the circuit breaker opens, the DMP
//! is called a few times instead of shares × max_deliver, and the shares end FAILED with the
//! breaker's message.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "dmp/support.rs"]
#[allow(dead_code)]
mod support;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use passerelle_bus::consumer::{ConsumerConfig, DurableConsumer};
use passerelle_bus::testing::BusKind;
use passerelle_bus::{Headers, subjects};
use passerelle_proto::dmp::v1::{DepositOptions, DepositRequest};
use passerelle_proto::share::v1::{
    Channel, ChannelState, ShareChannelResult, ShareRequested, share_requested,
};
use prost::Message;

use support::{Fixture, pat_douze};

passerelle_bus::on_both_buses!(
    every_share_ends_under_faults_at_one_in_five,
    a_dead_dmp_opens_the_circuit_and_is_spared,
);

/// Nothing may take longer than this: a share that does not end is a hang.
const HARD_LIMIT: Duration = Duration::from_secs(120);

async fn start(kind: BusKind, fault: &str, breaker_failures: u32) -> Fixture {
    support::start_with_sandbox(
        kind,
        |s| s.fault_injection = Some(fault.parse().unwrap()),
        |s| {
            s.share.max_deliver = 4;
            s.share.backoff_base = Duration::from_millis(50);
            s.share.backoff_max = Duration::from_millis(300);
            s.share.breaker_failures = breaker_failures;
            s.share.breaker_cooldown = Duration::from_secs(2);
        },
    )
    .await
}

async fn results(f: &Fixture) -> Box<dyn DurableConsumer> {
    f.bus
        .durable_consumer(&ConsumerConfig::new(
            "test-share-results",
            subjects::EVENTS_SHARE_CHANNEL_RESULT,
        ))
        .await
        .unwrap()
}

/// `n` shares of one document to PAT-DOUZE's DMP, published as share-service does.
async fn publish_shares(f: &Fixture, n: usize) -> Vec<String> {
    let document_id = f.upload(&support::pdf(), "application/pdf").await;
    let mut ids = Vec::new();
    for i in 0..n {
        let share_id = uuid::Uuid::new_v4().to_string();
        let s = ShareRequested {
            share_id: share_id.clone(),
            attempt: 1,
            channels: vec![Channel::Dmp as i32],
            dmp: Some(share_requested::Dmp::Deposit(DepositRequest {
                access: support::access(),
                patient: pat_douze(),
                document_id: document_id.clone(),
                options: Some(DepositOptions {
                    title: format!("Courrier {i}"),
                    type_code: "11490-0".to_owned(),
                    idempotency_key: share_id.clone(),
                    ..Default::default()
                }),
                more: Vec::new(),
            })),
            mss: None,
            request_id: format!("test-{}", uuid::Uuid::new_v4()),
        };
        let headers =
            Headers::from([(subjects::HEADER_MSG_ID.to_owned(), format!("{share_id}.1"))]);
        f.bus
            .publish_durable(
                subjects::EVENTS_SHARE_REQUESTED,
                headers,
                Bytes::from(s.encode_to_vec()),
            )
            .await
            .unwrap();
        ids.push(share_id);
    }
    ids
}

/// One result per share, within the hard limit.
async fn all_results(
    results: &mut Box<dyn DurableConsumer>,
    ids: &[String],
) -> HashMap<String, ShareChannelResult> {
    let mut out = HashMap::new();
    let deadline = tokio::time::Instant::now() + HARD_LIMIT;
    while out.len() < ids.len() {
        let d = tokio::time::timeout_at(deadline, results.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} of {} shares ended within {HARD_LIMIT:?}: the others hang",
                    out.len(),
                    ids.len()
                )
            })
            .unwrap();
        let r = ShareChannelResult::decode(d.message.payload.clone()).unwrap();
        d.ack().await.unwrap();
        assert!(ids.contains(&r.share_id), "{r:?}");
        assert!(
            out.insert(r.share_id.clone(), r).is_none(),
            "one result per share"
        );
    }
    out
}

async fn every_share_ends_under_faults_at_one_in_five(kind: BusKind) {
    for fault in ["http-503%0.2", "close%0.2", "unavailable%0.2"] {
        // The breaker out of the way: at one failure in five, a run of failed deposits
        // (a deposit makes several calls) happens now and then and would open it; the
        // breaker has its own test below.
        let f = start(kind, fault, 1000).await;
        let mut results = results(&f).await;
        let ids = publish_shares(&f, 12).await;
        let ended = all_results(&mut results, &ids).await;
        let done = ended
            .values()
            .filter(|r| r.state == ChannelState::Done as i32)
            .count();
        for r in ended.values() {
            if r.state == ChannelState::Done as i32 {
                assert!(r.reference.starts_with("2.25."), "{fault}: {r:?}");
            } else {
                assert_eq!(r.state, ChannelState::Failed as i32, "{fault}: {r:?}");
                // What failed and why, in words and as a reason.
                assert!(!r.reason.is_empty(), "{fault}: {r:?}");
                assert!(
                    r.detail.contains("DMP") || r.detail.contains("given up"),
                    "{fault}: the detail names the DMP or the giving up: {r:?}"
                );
            }
        }
        // One call in five failing, four deliveries each: most shares get through.
        assert!(done * 2 > ids.len(), "{fault}: only {done} DONE: {ended:?}");
    }
}

async fn a_dead_dmp_opens_the_circuit_and_is_spared(kind: BusKind) {
    let f = start(kind, "http-503", 3).await;
    let mut results = results(&f).await;
    let before = f.sandbox.requests();
    let ids = publish_shares(&f, 10).await;
    let ended = all_results(&mut results, &ids).await;
    let calls = f.sandbox.requests() - before;
    // Without the breaker: 10 shares × 4 deliveries = 40 calls at least. With it: the three
    // that open it, then about one trial per cool-down.
    assert!(
        calls <= 10,
        "{calls} DMP calls for 10 shares: the circuit did not spare the DMP"
    );
    let mut by_breaker = 0;
    for r in ended.values() {
        assert_eq!(r.state, ChannelState::Failed as i32, "{r:?}");
        if r.reason == "CIRCUIT_OPEN" {
            assert!(
                r.detail
                    .starts_with("the DMP is failing: circuit open since "),
                "{r:?}"
            );
            by_breaker += 1;
        } else {
            assert_eq!(r.reason, "DMP_UNAVAILABLE", "{r:?}");
        }
    }
    assert!(
        by_breaker >= 7,
        "most shares end on the open circuit: {ended:?}"
    );
}
