//! Sharing: a `ShareRequested` published as share-service does it → the `mss-share` consumer
//! → the MSSanté sandbox's mailboxes and one `ShareChannelResult` per MSSanté channel; sent
//! once through the outbox, sent again (and counted) after a stop inside the SMTP window,
//! refusals and transient failures reported FAILED.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use mss_service::sharing::{self, OUTBOX_BUCKET, OutboxRecord, OutboxState, ShareSettings};
use passerelle_bus::subjects::{
    EVENTS_SHARE_CHANNEL_RESULT, EVENTS_SHARE_REQUESTED, HEADER_MSG_ID,
};
use passerelle_bus::testing::BusKind;
use passerelle_bus::{Headers, MessageStream};
use passerelle_proto::mss::v1::{Body, SendRequest};
use passerelle_proto::share::v1::{Channel, ChannelState, ShareChannelResult, ShareRequested};
use passerelle_sandbox::mss::JEAN_FOUQUEREY;
use prost::Message as _;

use crate::support::{self, Fixture, PAT_DOUZE_MAILBOX, letter, org_actor, pat_douze};

passerelle_bus::on_both_buses!(
    a_share_reaches_the_doctor_and_the_patient_once,
    a_send_stopped_inside_the_smtp_window_is_sent_again_and_counted,
    a_matrix_refusal_fails_the_channel_with_its_rule,
    a_server_refusing_for_now_is_retried_then_failed,
    a_dmp_only_share_is_not_for_mss,
    a_partly_sent_share_fails_the_patient_channel_only_and_a_retry_completes_it,
);

/// Small delivery settings: a transient failure is given up quickly.
async fn fixture(kind: BusKind, faults: &[&str]) -> Fixture {
    support::start_with(
        kind,
        |s| s.faults = faults.iter().map(|f| f.parse().unwrap()).collect(),
        |s, _| {
            s.share = ShareSettings {
                enabled: true,
                ack_wait: Duration::from_secs(10),
                max_deliver: 3,
                initial_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_millis(200),
                ..ShareSettings::default()
            }
        },
    )
    .await
}

/// The MSSanté request share-service makes: the letter to Dr FOUQUEREY and to PAT-DOUZE's
/// mailbox, keyed by the share id.
pub(crate) fn mss_request(
    document_id: &str,
    share_id: &str,
    pros: bool,
    patient: bool,
) -> SendRequest {
    SendRequest {
        actor: org_actor(),
        patient: pat_douze(),
        to: if pros {
            vec![JEAN_FOUQUEREY.to_owned()]
        } else {
            Vec::new()
        },
        to_patient: patient,
        subject: "Courrier standard".to_owned(),
        body: Some(Body {
            text: "Ci-joint le courrier.".to_owned(),
            html: String::new(),
        }),
        document: letter(document_id),
        idempotency_key: share_id.to_owned(),
        ..Default::default()
    }
}

pub(crate) fn requested(
    share_id: &str,
    attempt: u32,
    channels: &[Channel],
    mss: SendRequest,
) -> ShareRequested {
    ShareRequested {
        share_id: share_id.to_owned(),
        attempt,
        channels: channels.iter().map(|c| *c as i32).collect(),
        mss: Some(mss),
        request_id: format!("share-test-{attempt}"),
        ..Default::default()
    }
}

pub(crate) async fn publish(f: &Fixture, event: &ShareRequested) {
    let mut headers = Headers::new();
    headers.insert(
        HEADER_MSG_ID.to_owned(),
        format!("{}.{}", event.share_id, event.attempt),
    );
    f.bus
        .publish_durable(
            EVENTS_SHARE_REQUESTED,
            headers,
            Bytes::from(event.encode_to_vec()),
        )
        .await
        .unwrap();
}

/// The next `n` results (of any share), by channel.
async fn results(stream: &mut MessageStream, n: usize) -> Vec<ShareChannelResult> {
    let mut out = Vec::new();
    while out.len() < n {
        let m = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("a ShareChannelResult")
            .expect("the subscription is open");
        out.push(ShareChannelResult::decode(m.payload).unwrap());
    }
    out.sort_by_key(|r| r.channel);
    out
}

pub(crate) fn share_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn outbox(f: &Fixture, share_id: &str) -> Option<OutboxRecord> {
    let kv = f.bus.key_value(OUTBOX_BUCKET).await.unwrap();
    kv.get(share_id)
        .await
        .unwrap()
        .map(|e| serde_json::from_slice(&e.value).unwrap())
}

pub(crate) fn state(r: &ShareChannelResult) -> ChannelState {
    ChannelState::try_from(r.state).unwrap()
}

async fn a_share_reaches_the_doctor_and_the_patient_once(kind: BusKind) {
    let f = fixture(kind, &[]).await;
    let mut stream = f.subscribe(EVENTS_SHARE_CHANNEL_RESULT).await;
    let doc = f.upload(&support::pdf(), "application/pdf").await;
    let id = share_id();
    let all = [Channel::Dmp, Channel::MssPro, Channel::MssCitizen];
    publish(
        &f,
        &requested(&id, 1, &all, mss_request(&doc, &id, true, true)),
    )
    .await;

    let first = results(&mut stream, 2).await;
    let (pro, citizen) = (&first[0], &first[1]);
    assert_eq!(pro.channel, Channel::MssPro as i32);
    assert_eq!(citizen.channel, Channel::MssCitizen as i32);
    for r in &first {
        assert_eq!(state(r), ChannelState::Done, "{r:?}");
        assert_eq!((r.share_id.as_str(), r.attempt), (id.as_str(), 1));
    }
    let doctor = f.mailbox(JEAN_FOUQUEREY);
    let patient = f.mailbox(PAT_DOUZE_MAILBOX);
    assert_eq!(doctor.len(), 1, "{doctor:?}");
    assert_eq!(patient.len(), 1, "{patient:?}");
    assert_eq!(pro.reference, doctor[0].message_id);
    assert_eq!(citizen.reference, patient[0].message_id);
    assert_ne!(pro.reference, citizen.reference);
    let record = outbox(&f, &id).await.expect("the outbox record");
    assert_eq!(record.state, OutboxState::Sent);
    assert_eq!(
        record.professionals.as_deref(),
        Some(pro.reference.as_str())
    );
    assert_eq!(record.patient.as_deref(), Some(citizen.reference.as_str()));

    // The same share published again (a new attempt: new deduplication ids): the outbox
    // answers, nothing is sent again.
    publish(
        &f,
        &requested(&id, 2, &all, mss_request(&doc, &id, true, true)),
    )
    .await;
    let again = results(&mut stream, 2).await;
    for (r, before) in again.iter().zip(&first) {
        assert_eq!(state(r), ChannelState::Done, "{r:?}");
        assert_eq!(r.attempt, 2);
        assert_eq!(r.reference, before.reference);
        assert!(r.detail.contains("not sent again"), "{}", r.detail);
    }
    assert_eq!(f.mailbox(JEAN_FOUQUEREY).len(), 1);
    assert_eq!(f.mailbox(PAT_DOUZE_MAILBOX).len(), 1);
    assert_eq!(outbox(&f, &id).await.unwrap().resent_in_window, 0);
}

async fn a_send_stopped_inside_the_smtp_window_is_sent_again_and_counted(kind: BusKind) {
    let f = fixture(kind, &[]).await;
    let mut stream = f.subscribe(EVENTS_SHARE_CHANNEL_RESULT).await;
    let doc = f.upload(&support::pdf(), "application/pdf").await;
    let id = share_id();
    // What a service stopped after the server's 250 and before its record leaves behind.
    let kv = f.bus.key_value(OUTBOX_BUCKET).await.unwrap();
    kv.put(
        &id,
        Bytes::from(serde_json::to_vec(&OutboxRecord::sending(1)).unwrap()),
    )
    .await
    .unwrap();
    let before = sharing::resent_in_window();
    let channels = [Channel::MssPro, Channel::MssCitizen];
    publish(
        &f,
        &requested(&id, 1, &channels, mss_request(&doc, &id, true, true)),
    )
    .await;

    let done = results(&mut stream, 2).await;
    for r in &done {
        assert_eq!(state(r), ChannelState::Done, "{r:?}");
    }
    let record = outbox(&f, &id).await.unwrap();
    assert_eq!(record.state, OutboxState::Sent);
    assert_eq!(record.resent_in_window, 1, "counted once");
    assert!(sharing::resent_in_window() > before);
    // Nothing had really gone before: the mail is there once, with the recorded id.
    let doctor = f.mailbox(JEAN_FOUQUEREY);
    assert_eq!(doctor.len(), 1);
    assert_eq!(done[0].reference, doctor[0].message_id);
    assert_eq!(f.mailbox(PAT_DOUZE_MAILBOX).len(), 1);
}

async fn a_matrix_refusal_fails_the_channel_with_its_rule(kind: BusKind) {
    let f = fixture(kind, &[]).await;
    let mut stream = f.subscribe(EVENTS_SHARE_CHANNEL_RESULT).await;
    let doc = f.upload(&support::pdf(), "application/pdf").await;
    let id = share_id();
    // Professionals only, the document visible to the patient: row M2 refuses it.
    publish(
        &f,
        &requested(
            &id,
            1,
            &[Channel::MssPro],
            mss_request(&doc, &id, true, false),
        ),
    )
    .await;
    let r = results(&mut stream, 1).await.remove(0);
    assert_eq!(r.channel, Channel::MssPro as i32);
    assert_eq!(state(&r), ChannelState::Failed, "{r:?}");
    assert_eq!(r.reason, "MSS_RULE_REFUSED");
    assert!(r.detail.contains("M2.INVISIBLE_PATIENT"), "{}", r.detail);
    assert!(r.reference.is_empty());
    assert!(f.mailbox(JEAN_FOUQUEREY).is_empty());
    assert!(support::quiet(&mut stream).await, "one result only");
}

async fn a_server_refusing_for_now_is_retried_then_failed(kind: BusKind) {
    let f = fixture(kind, &["data-451"]).await;
    let mut stream = f.subscribe(EVENTS_SHARE_CHANNEL_RESULT).await;
    let doc = f.upload(&support::pdf(), "application/pdf").await;
    let id = share_id();
    let channels = [Channel::MssPro, Channel::MssCitizen];
    publish(
        &f,
        &requested(&id, 1, &channels, mss_request(&doc, &id, true, true)),
    )
    .await;
    let failed = results(&mut stream, 2).await;
    for r in &failed {
        assert_eq!(state(r), ChannelState::Failed, "{r:?}");
        assert_eq!(r.reason, "SMTP_UNAVAILABLE", "{r:?}");
        assert!(
            r.detail.contains("given up after 3 deliveries"),
            "{}",
            r.detail
        );
        assert!(r.detail.contains("451"), "{}", r.detail);
    }
    assert!(f.mailbox(JEAN_FOUQUEREY).is_empty());
    assert!(f.mailbox(PAT_DOUZE_MAILBOX).is_empty());
    assert_eq!(outbox(&f, &id).await.unwrap().state, OutboxState::Failed);
}

async fn a_dmp_only_share_is_not_for_mss(kind: BusKind) {
    let f = fixture(kind, &[]).await;
    let mut stream = f.subscribe(EVENTS_SHARE_CHANNEL_RESULT).await;
    let doc = f.upload(&support::pdf(), "application/pdf").await;
    let dmp_only = share_id();
    publish(
        &f,
        &requested(
            &dmp_only,
            1,
            &[Channel::Dmp],
            mss_request(&doc, &dmp_only, true, true),
        ),
    )
    .await;
    // A share for MSS behind it: its result comes first and alone, so the DMP one was
    // taken and left.
    let id = share_id();
    publish(
        &f,
        &requested(
            &id,
            1,
            &[Channel::MssPro, Channel::MssCitizen],
            mss_request(&doc, &id, true, true),
        ),
    )
    .await;
    let done = results(&mut stream, 2).await;
    for r in &done {
        assert_eq!(r.share_id, id, "{r:?}");
        assert_eq!(state(r), ChannelState::Done, "{r:?}");
    }
    assert!(support::quiet(&mut stream).await);
    assert_eq!(f.mailbox(JEAN_FOUQUEREY).len(), 1);
    assert!(outbox(&f, &dmp_only).await.is_none());
}

async fn a_partly_sent_share_fails_the_patient_channel_only_and_a_retry_completes_it(
    kind: BusKind,
) {
    // Every second message refused for now: the professionals' goes, the patient's does not.
    let f = fixture(kind, &["data-451@2"]).await;
    let mut stream = f.subscribe(EVENTS_SHARE_CHANNEL_RESULT).await;
    let doc = f.upload(&support::pdf(), "application/pdf").await;
    let id = share_id();
    let channels = [Channel::MssPro, Channel::MssCitizen];
    publish(
        &f,
        &requested(&id, 1, &channels, mss_request(&doc, &id, true, true)),
    )
    .await;
    let first = results(&mut stream, 2).await;
    let (pro, citizen) = (&first[0], &first[1]);
    assert_eq!(state(pro), ChannelState::Done, "{pro:?}");
    assert_eq!(pro.reference, f.mailbox(JEAN_FOUQUEREY)[0].message_id);
    assert_eq!(state(citizen), ChannelState::Failed, "{citizen:?}");
    assert_eq!(citizen.reason, "SMTP_UNAVAILABLE");
    assert!(citizen.detail.contains("451"), "{}", citizen.detail);
    assert!(f.mailbox(PAT_DOUZE_MAILBOX).is_empty());

    // RetryShare's event: the failed channel only, the patient only.
    publish(
        &f,
        &requested(
            &id,
            2,
            &[Channel::MssCitizen],
            mss_request(&doc, &id, false, true),
        ),
    )
    .await;
    let retried = results(&mut stream, 1).await.remove(0);
    assert_eq!(retried.channel, Channel::MssCitizen as i32);
    assert_eq!(state(&retried), ChannelState::Done, "{retried:?}");
    let patient = f.mailbox(PAT_DOUZE_MAILBOX);
    assert_eq!(patient.len(), 1);
    assert_eq!(retried.reference, patient[0].message_id);
    assert_eq!(f.mailbox(JEAN_FOUQUEREY).len(), 1, "not sent again");
}
