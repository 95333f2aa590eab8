//! A share's life: accepted and published once, its channels' results applied, retried,
//! watched, and kept across a restart.

use futures::StreamExt;
use passerelle_proto::dmp::v1::DepositRequest;
use passerelle_proto::share::v1::{
    Channel, ChannelState, GetShareRequest, RetryShareRequest, share_requested,
};
use tonic::Code;

use crate::support::{self, ALL, Fixture, channel, request};

async fn share_publishes_one_share_requested_with_the_requests(f: &Fixture) {
    let doc = f.store(&support::pdf(), "application/pdf").await;
    let mut events = f.requested_events().await;
    let mut client = f.client().await;
    let mut req = request(&doc, &ALL);
    req.idempotency_key = "letter-42".into();
    req.cc = vec!["secretariat@passerelle-sandbox.mssante.fr".into()];
    req.acknowledgement = true;
    let s = client.share(req.clone()).await.unwrap().into_inner();
    assert!(!s.share_id.is_empty());
    assert!(!s.finished);
    for c in ALL {
        assert_eq!(channel(&s, c).0, ChannelState::Pending);
    }

    let (event, msg_id) = support::next_requested(&mut events).await;
    assert_eq!(msg_id, format!("{}.1", s.share_id));
    assert_eq!(event.share_id, s.share_id);
    assert_eq!(event.attempt, 1);
    assert_eq!(event.channels, vec![1, 2, 3]);
    let Some(share_requested::Dmp::Deposit(DepositRequest {
        document_id,
        options: Some(options),
        patient: Some(patient),
        ..
    })) = event.dmp
    else {
        panic!("a deposit: {:?}", event.dmp)
    };
    assert_eq!(document_id, doc);
    assert_eq!(options.idempotency_key, s.share_id);
    assert_eq!(options.type_code, "11490-0");
    assert_eq!(patient.matricule, "2480392630010");
    let mss = event.mss.expect("one MSSanté send");
    assert_eq!(mss.idempotency_key, s.share_id);
    assert_eq!(mss.to, vec![support::FOUQUEREY.to_owned()]);
    assert_eq!(mss.cc.len(), 1);
    assert!(mss.to_patient && mss.acknowledgement);
    assert_eq!(mss.document.unwrap().document_id, doc);

    // The same key: the same share, no second ShareRequested.
    let again = client.share(req.clone()).await.unwrap().into_inner();
    assert_eq!(again.share_id, s.share_id);
    // Another key: another share.
    req.idempotency_key = "letter-43".into();
    let other = client.share(req).await.unwrap().into_inner();
    assert_ne!(other.share_id, s.share_id);
    let (event, _) = support::next_requested(&mut events).await;
    assert_eq!(event.share_id, other.share_id);
    support::no_more(&mut events).await;
}

async fn results_finish_the_share_and_a_retry_sends_only_the_failed(f: &Fixture) {
    let doc = f.store(&support::pdf(), "application/pdf").await;
    let mut events = f.requested_events().await;
    let mut client = f.client().await;
    let s = client
        .share(request(&doc, &ALL))
        .await
        .unwrap()
        .into_inner();
    let id = s.share_id.clone();
    support::next_requested(&mut events).await;

    let mut watch = client
        .watch_share(GetShareRequest {
            share_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert!(!first.finished);

    f.result(
        &id,
        1,
        Channel::Dmp,
        ChannelState::Done,
        "1.2.250.1.999.1.1.42",
    )
    .await;
    f.result(
        &id,
        1,
        Channel::MssPro,
        ChannelState::Done,
        "<pro@passerelle>",
    )
    .await;
    f.result(&id, 1, Channel::MssCitizen, ChannelState::Failed, "")
        .await;
    let done = f.status_until(&id, |s| s.finished).await;
    assert_eq!(channel(&done, Channel::Dmp).0, ChannelState::Done);
    let dmp = done.channels.iter().find(|c| c.channel == 1).unwrap();
    assert_eq!(dmp.reference, "1.2.250.1.999.1.1.42");
    let citizen = done.channels.iter().find(|c| c.channel == 3).unwrap();
    assert_eq!(citizen.state, ChannelState::Failed as i32);
    assert!(
        citizen.detail.contains("SMTP_UNAVAILABLE"),
        "{}",
        citizen.detail
    );

    // The watch streamed the changes and ended on the finished status.
    let mut last = first;
    while let Some(item) = watch.next().await {
        last = item.unwrap();
    }
    assert!(last.finished, "{last:?}");
    assert_eq!(last, done);

    // Retry: only the FAILED channel, attempt 2.
    let retried = client
        .retry_share(RetryShareRequest {
            share_id: id.clone(),
            channel: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!retried.finished);
    assert_eq!(
        channel(&retried, Channel::MssCitizen).0,
        ChannelState::Pending
    );
    assert_eq!(channel(&retried, Channel::Dmp).0, ChannelState::Done);
    let citizen = retried.channels.iter().find(|c| c.channel == 3).unwrap();
    assert_eq!(citizen.attempts, 2);
    let (event, msg_id) = support::next_requested(&mut events).await;
    assert_eq!(msg_id, format!("{id}.2"));
    assert_eq!(event.attempt, 2);
    assert_eq!(event.channels, vec![Channel::MssCitizen as i32]);
    assert!(event.dmp.is_none());
    let mss = event.mss.unwrap();
    assert!(mss.to_patient && mss.to.is_empty());
    assert_eq!(mss.idempotency_key, id);

    // A late result of attempt 1 does not overwrite attempt 2.
    f.result(&id, 1, Channel::MssCitizen, ChannelState::Failed, "")
        .await;
    f.result(&id, 2, Channel::Dmp, ChannelState::Failed, "")
        .await;
    f.result(
        &id,
        2,
        Channel::MssCitizen,
        ChannelState::Done,
        "<patient@passerelle>",
    )
    .await;
    let done = f.status_until(&id, |s| s.finished).await;
    assert_eq!(channel(&done, Channel::MssCitizen).0, ChannelState::Done);
    assert_eq!(
        channel(&done, Channel::Dmp).0,
        ChannelState::Done,
        "not of attempt 2"
    );

    // Nothing FAILED: nothing to retry; a DONE channel named is not sent again.
    for c in [0, Channel::Dmp as i32] {
        let status = client
            .retry_share(RetryShareRequest {
                share_id: id.clone(),
                channel: c,
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    }
    support::no_more(&mut events).await;
}

async fn a_retry_of_one_channel_names_it(f: &Fixture) {
    let doc = f.store(&support::pdf(), "application/pdf").await;
    let mut events = f.requested_events().await;
    let mut client = f.client().await;
    let id = client
        .share(request(&doc, &ALL))
        .await
        .unwrap()
        .into_inner()
        .share_id;
    support::next_requested(&mut events).await;
    f.result(&id, 1, Channel::Dmp, ChannelState::Failed, "")
        .await;
    f.result(&id, 1, Channel::MssPro, ChannelState::Failed, "")
        .await;
    f.result(&id, 1, Channel::MssCitizen, ChannelState::Done, "<p@x>")
        .await;
    f.status_until(&id, |s| s.finished).await;
    let s = client
        .retry_share(RetryShareRequest {
            share_id: id.clone(),
            channel: Channel::MssPro as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(channel(&s, Channel::MssPro).0, ChannelState::Pending);
    assert_eq!(channel(&s, Channel::Dmp).0, ChannelState::Failed);
    let (event, _) = support::next_requested(&mut events).await;
    assert_eq!(event.channels, vec![Channel::MssPro as i32]);
    let mss = event.mss.unwrap();
    assert!(!mss.to_patient && mss.to.len() == 1);
}

async fn the_status_survives_a_restart(kind: passerelle_bus::testing::BusKind) {
    let mut f = support::start(kind).await;
    let doc = f.store(&support::pdf(), "application/pdf").await;
    let id = f
        .client()
        .await
        .share(request(&doc, &ALL))
        .await
        .unwrap()
        .into_inner()
        .share_id;
    f.result(&id, 1, Channel::Dmp, ChannelState::Done, "uid-1")
        .await;
    f.status_until(&id, |s| channel(s, Channel::Dmp).0 == ChannelState::Done)
        .await;
    f.restart().await;
    let s = f.status_until(&id, |_| true).await;
    assert_eq!(channel(&s, Channel::Dmp).0, ChannelState::Done);
    assert_eq!(channel(&s, Channel::MssPro).0, ChannelState::Pending);
    // The projection goes on where it was after the restart.
    f.result(&id, 1, Channel::MssPro, ChannelState::Done, "<m1>")
        .await;
    f.result(&id, 1, Channel::MssCitizen, ChannelState::Done, "<m2>")
        .await;
    let s = f.status_until(&id, |s| s.finished).await;
    assert!(
        s.channels
            .iter()
            .all(|c| c.state == ChannelState::Done as i32),
        "{s:?}"
    );
}

async fn a_stop_ends_the_open_watches(kind: passerelle_bus::testing::BusKind) {
    let mut f = support::start(kind).await;
    let doc = f.store(&support::pdf(), "application/pdf").await;
    let mut client = f.client().await;
    let id = client
        .share(request(&doc, &ALL))
        .await
        .unwrap()
        .into_inner()
        .share_id;
    let mut watch = client
        .watch_share(GetShareRequest { share_id: id })
        .await
        .unwrap()
        .into_inner();
    assert!(!watch.next().await.unwrap().unwrap().finished);
    let (service, shutdown) = f.service.take().unwrap();
    shutdown.trigger();
    // The watch does not hold the stop until its share is finished.
    tokio::time::timeout(std::time::Duration::from_secs(10), service.wait())
        .await
        .expect("stopped while a watch was open")
        .unwrap();
    let ended = watch.next().await.unwrap().unwrap_err();
    assert_eq!(ended.code(), Code::Unavailable, "{ended:?}");
}

passerelle_bus::on_both_buses!(with support::start:
    share_publishes_one_share_requested_with_the_requests,
    results_finish_the_share_and_a_retry_sends_only_the_failed,
    a_retry_of_one_channel_names_it,
);

mod restart {
    passerelle_bus::on_both_buses!(the_status_survives_a_restart, a_stop_ends_the_open_watches);
    use super::{a_stop_ends_the_open_watches, the_status_survives_a_restart};
}
