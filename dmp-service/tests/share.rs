//! The DMP channel of sharing, end to end on both buses: a `ShareRequested` published as
//! share-service publishes it → dmp-service's `dmp-share` consumer → the DMP sandbox → a
//! `ShareChannelResult` on the bus. Once deposited, a share run again deposits nothing new;
//! refusals and failures come back FAILED with what the DMP said.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "dmp/support.rs"]
#[allow(dead_code)]
mod support;

use std::time::Duration;

use bytes::Bytes;
use passerelle_bus::consumer::{ConsumerConfig, DurableConsumer};
use passerelle_bus::testing::BusKind;
use passerelle_bus::{Headers, subjects};
use passerelle_proto::common::v1::{IdentityStatus, PatientIdentity};
use passerelle_proto::dmp::v1::{AccessMode, DepositOptions, DepositRequest, ListDocumentsRequest};
use passerelle_proto::share::v1::{
    Channel, ChannelState, ShareChannelResult, ShareRequested, share_requested,
};
use prost::Message;

use support::{Fixture, pat_douze, patient};

passerelle_bus::on_both_buses!(
    a_share_is_deposited_once,
    refusals_come_back_failed,
    a_passing_failure_is_retried,
    a_dmp_that_keeps_failing_ends_failed,
    a_share_without_the_dmp_is_left_alone,
    a_replica_without_sharing_takes_none,
);

/// A CNAM test patient of the sandbox whose DMP is closed.
const CLOSED: (&str, &str) = ("2281114390617", "74");

/// Short waits between deliveries so that the retries fit in a test.
async fn start(kind: BusKind, fault: Option<&str>) -> Fixture {
    support::start_with_sandbox(
        kind,
        |s| s.fault_injection = fault.map(|f| f.parse().unwrap()),
        |s| {
            s.share.max_deliver = 3;
            s.share.backoff_base = Duration::from_millis(50);
            s.share.backoff_max = Duration::from_millis(200);
        },
    )
    .await
}

/// The results, as share-service's projection takes them (a durable consumer of its own).
async fn results(f: &Fixture) -> Box<dyn DurableConsumer> {
    f.bus
        .durable_consumer(&ConsumerConfig::new(
            "test-share-results",
            subjects::EVENTS_SHARE_CHANNEL_RESULT,
        ))
        .await
        .unwrap()
}

async fn next_result(results: &mut Box<dyn DurableConsumer>) -> ShareChannelResult {
    let d = tokio::time::timeout(Duration::from_secs(60), results.next())
        .await
        .expect("a ShareChannelResult")
        .unwrap();
    let r = ShareChannelResult::decode(d.message.payload.clone()).unwrap();
    assert_eq!(
        d.message.headers.get(subjects::HEADER_MSG_ID),
        Some(&format!("{}.dmp.{}", r.share_id, r.attempt)),
        "the result is deduplicated by share, channel and attempt"
    );
    d.ack().await.unwrap();
    r
}

/// A share as share-service makes it: the deposit keyed by the share id, in organisation
/// mode.
async fn share(
    f: &Fixture,
    patient: Option<PatientIdentity>,
    channels: &[Channel],
) -> ShareRequested {
    let share_id = uuid::Uuid::new_v4().to_string();
    let document_id = f.upload(&support::pdf(), "application/pdf").await;
    ShareRequested {
        share_id: share_id.clone(),
        attempt: 1,
        channels: channels.iter().map(|c| *c as i32).collect(),
        dmp: Some(share_requested::Dmp::Deposit(DepositRequest {
            access: support::access(),
            patient,
            document_id,
            options: Some(DepositOptions {
                title: "Courrier de sortie".to_owned(),
                type_code: "11490-0".to_owned(),
                idempotency_key: share_id,
                ..Default::default()
            }),
            more: Vec::new(),
        })),
        mss: None,
        request_id: format!("test-{}", uuid::Uuid::new_v4()),
    }
}

async fn publish(f: &Fixture, s: &ShareRequested) {
    let headers = Headers::from([(
        subjects::HEADER_MSG_ID.to_owned(),
        format!("{}.{}", s.share_id, s.attempt),
    )]);
    f.bus
        .publish_durable(
            subjects::EVENTS_SHARE_REQUESTED,
            headers,
            Bytes::from(s.encode_to_vec()),
        )
        .await
        .unwrap();
}

/// The uniqueIds of PAT-DOUZE's documents in the DMP (read in bris de glace with the CPS).
async fn documents(f: &Fixture) -> Vec<String> {
    f.client()
        .await
        .list_documents(ListDocumentsRequest {
            access: support::cps_access_in(AccessMode::BrisDeGlace, "test: count what is there"),
            patient: pat_douze(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .documents
        .into_iter()
        .map(|d| d.unique_id)
        .collect()
}

async fn a_share_is_deposited_once(kind: BusKind) {
    let f = start(kind, None).await;
    let mut results = results(&f).await;
    let before = documents(&f).await;

    let mut s = share(&f, pat_douze(), &[Channel::Dmp, Channel::MssPro]).await;
    publish(&f, &s).await;
    let done = next_result(&mut results).await;
    assert_eq!(
        (done.share_id.as_str(), done.attempt, done.channel),
        (s.share_id.as_str(), 1, Channel::Dmp as i32)
    );
    assert_eq!(done.state, ChannelState::Done as i32, "{done:?}");
    assert_eq!(done.detail, "deposited");
    assert!(done.reference.starts_with("2.25."), "{done:?}");
    let after = documents(&f).await;
    assert_eq!(after.len(), before.len() + 1, "one document deposited");
    assert_eq!(
        after.iter().filter(|u| **u == done.reference).count(),
        1,
        "the result names the deposited document"
    );

    // Run again (a retried share): the same document, nothing new in the DMP.
    s.attempt = 2;
    publish(&f, &s).await;
    let again = next_result(&mut results).await;
    assert_eq!(again.attempt, 2);
    assert_eq!(again.state, ChannelState::Done as i32, "{again:?}");
    assert_eq!(again.reference, done.reference, "the same uniqueId");
    assert_eq!(again.detail, "already in the DMP");
    assert_eq!(documents(&f).await.len(), before.len() + 1, "still one");

    // The same attempt delivered again (its event published once more, as after a crash
    // that hid the first acknowledgement, under another id so that the bus keeps it): the
    // deposit runs, finds its document, and its result is the one already stored.
    let headers = Headers::from([(
        subjects::HEADER_MSG_ID.to_owned(),
        format!("{}.2.redelivered", s.share_id),
    )]);
    f.bus
        .publish_durable(
            subjects::EVENTS_SHARE_REQUESTED,
            headers,
            Bytes::from(s.encode_to_vec()),
        )
        .await
        .unwrap();
    // A marker share behind it: its result comes first if the redelivery's was dropped.
    let marker = share(&f, pat_douze(), &[Channel::Dmp]).await;
    publish(&f, &marker).await;
    let next = next_result(&mut results).await;
    assert_eq!(
        next.share_id, marker.share_id,
        "the redelivered attempt's result is stored once: {next:?}"
    );
    assert_eq!(next.state, ChannelState::Done as i32);
    assert_eq!(documents(&f).await.len(), before.len() + 2);
}

async fn refusals_come_back_failed(kind: BusKind) {
    let f = start(kind, None).await;
    let mut results = results(&f).await;
    let before = documents(&f).await;

    // The DMP refuses: the patient's DMP is closed.
    let closed = share(&f, patient(CLOSED.0, CLOSED.1), &[Channel::Dmp]).await;
    publish(&f, &closed).await;
    let r = next_result(&mut results).await;
    assert_eq!(r.share_id, closed.share_id);
    assert_eq!(r.state, ChannelState::Failed as i32, "{r:?}");
    assert_eq!(r.reason, "DMP_CLOSED", "{r:?}");
    assert!(r.detail.contains("closed"), "{r:?}");
    assert!(r.reference.is_empty());

    // The core refuses: no deposit on an INS that is not qualified.
    let mut p = pat_douze().unwrap();
    p.status = IdentityStatus::Recuperee as i32;
    let unqualified = share(&f, Some(p), &[Channel::Dmp]).await;
    publish(&f, &unqualified).await;
    let r = next_result(&mut results).await;
    assert_eq!(r.share_id, unqualified.share_id);
    assert_eq!(r.state, ChannelState::Failed as i32, "{r:?}");
    assert_eq!(r.reason, "INS_NOT_QUALIFIED", "{r:?}");
    assert!(r.detail.contains("qualif"), "{r:?}");

    // A share naming the DMP without a deposit.
    let mut empty = share(&f, pat_douze(), &[Channel::Dmp]).await;
    empty.dmp = None;
    publish(&f, &empty).await;
    let r = next_result(&mut results).await;
    assert_eq!(r.share_id, empty.share_id);
    assert_eq!(r.state, ChannelState::Failed as i32, "{r:?}");
    assert_eq!(r.reason, "INVALID_REQUEST", "{r:?}");

    assert_eq!(documents(&f).await.len(), before.len(), "nothing deposited");
}

async fn a_passing_failure_is_retried(kind: BusKind) {
    // Every third call to the DMP answers 503 — after doing its work, as an answer lost on
    // the way back. The count before takes the first call; the share's first delivery reads
    // the registry (2nd) and deposits (3rd: stored, 503); the next delivery reads the
    // registry again (4th), finds its document and deposits nothing more.
    let f = start(kind, Some("http-503@3")).await;
    let mut results = results(&f).await;
    let before = documents(&f).await;
    let s = share(&f, pat_douze(), &[Channel::Dmp]).await;
    publish(&f, &s).await;
    let r = next_result(&mut results).await;
    assert_eq!(r.share_id, s.share_id);
    assert_eq!(r.state, ChannelState::Done as i32, "{r:?}");
    assert_eq!(
        r.detail, "already in the DMP",
        "the lost answer's deposit is found again: {r:?}"
    );
    assert!(r.reference.starts_with("2.25."));
    let after = documents(&f).await;
    assert_eq!(after.len(), before.len() + 1, "one document, not two");
    assert!(after.contains(&r.reference), "{r:?}");
}

async fn a_dmp_that_keeps_failing_ends_failed(kind: BusKind) {
    // Every DMP call answers 503: after max_deliver (3) deliveries, FAILED.
    let f = start(kind, Some("http-503")).await;
    let mut results = results(&f).await;
    let s = share(&f, pat_douze(), &[Channel::Dmp]).await;
    let published = std::time::Instant::now();
    publish(&f, &s).await;
    let r = next_result(&mut results).await;
    assert_eq!(r.share_id, s.share_id);
    assert_eq!(r.state, ChannelState::Failed as i32, "{r:?}");
    assert_eq!(r.reason, "DMP_UNAVAILABLE", "{r:?}");
    assert!(r.detail.contains("after 3 tries"), "{r:?}");
    assert!(r.reference.is_empty());
    // Two waits between the three deliveries: at least half of 50 ms, then of 100 ms.
    assert!(
        published.elapsed() >= Duration::from_millis(75),
        "delivered again after a backoff"
    );
}

async fn a_share_without_the_dmp_is_left_alone(kind: BusKind) {
    let f = start(kind, None).await;
    let mut results = results(&f).await;
    let mss_only = share(&f, pat_douze(), &[Channel::MssPro, Channel::MssCitizen]).await;
    publish(&f, &mss_only).await;
    // Not a share either: set aside, the consumer goes on.
    f.bus
        .publish_durable(
            subjects::EVENTS_SHARE_REQUESTED,
            Headers::new(),
            Bytes::from_static(b"\xff\xff not protobuf"),
        )
        .await
        .unwrap();
    let marker = share(&f, pat_douze(), &[Channel::Dmp]).await;
    publish(&f, &marker).await;
    let r = next_result(&mut results).await;
    assert_eq!(
        r.share_id, marker.share_id,
        "no result for a share without the DMP: {r:?}"
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(1), results.next())
            .await
            .is_err(),
        "nothing else published"
    );
}

async fn a_replica_without_sharing_takes_none(kind: BusKind) {
    let f = support::start_with(kind, |s| s.share.enabled = false).await;
    let mut results = results(&f).await;
    let before = documents(&f).await;
    let s = share(&f, pat_douze(), &[Channel::Dmp]).await;
    publish(&f, &s).await;
    assert!(
        tokio::time::timeout(Duration::from_secs(2), results.next())
            .await
            .is_err(),
        "share.enabled = false: no result"
    );
    assert_eq!(documents(&f).await, before, "nothing deposited");
}
