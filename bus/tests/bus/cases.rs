//! The raw bus contract (requests, queue groups, subscriptions, durable events).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use passerelle_bus::subjects::{EVENTS_ALL, EVENTS_INS_SEARCHED};
use passerelle_bus::{BusError, IncomingRequest, SharedBus};
use tokio::sync::oneshot;

use crate::harness::{Harness, assert_quiet, headers, take};

const ECHO: &str = "passerelle.test.v1.echo";

/// Serves `subject` in `group`, echoing payload and headers plus `served-by: name`; counts
/// the requests it answered.
async fn spawn_echo(bus: &SharedBus, subject: &str, group: &str, name: &str) -> Arc<AtomicUsize> {
    let mut requests = bus.serve(subject, group).await.expect("serve");
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let name = name.to_owned();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut reply_headers = request.headers.clone();
            reply_headers.insert("served-by".to_owned(), name.clone());
            let payload = request.payload.clone();
            request.reply(reply_headers, payload).await.expect("reply");
        }
    });
    count
}

pub async fn request_reply_roundtrip(h: &impl Harness) {
    let server = h.connect().await;
    let client = h.connect().await;
    spawn_echo(&server, ECHO, "echo", "s1").await;

    let reply = client
        .request(
            ECHO,
            headers(&[("request-id", "r-42"), ("X-Caller", "tests")]),
            Bytes::from_static(b"ping"),
            Duration::from_secs(5),
        )
        .await
        .expect("reply");
    assert_eq!(reply.subject, ECHO);
    assert_eq!(&reply.payload[..], b"ping");
    assert_eq!(
        reply.headers,
        headers(&[
            ("request-id", "r-42"),
            ("X-Caller", "tests"),
            ("served-by", "s1")
        ])
    );

    // No headers at all and an empty payload travel too.
    let reply = client
        .request(
            ECHO,
            Default::default(),
            Bytes::new(),
            Duration::from_secs(5),
        )
        .await
        .expect("reply");
    assert!(reply.payload.is_empty());
    assert_eq!(reply.headers, headers(&[("served-by", "s1")]));
}

pub async fn no_responders(h: &impl Harness) {
    let bus = h.connect().await;
    let started = Instant::now();
    let err = bus
        .request(
            "passerelle.test.v1.nobody",
            Default::default(),
            Bytes::new(),
            Duration::from_secs(5),
        )
        .await
        .expect_err("nobody serves it");
    assert_eq!(
        err,
        BusError::NoResponders {
            subject: "passerelle.test.v1.nobody".to_owned()
        }
    );
    assert!(started.elapsed() < Duration::from_secs(2), "not immediate");
}

pub async fn timeout(h: &impl Harness) {
    let server = h.connect().await;
    let client = h.connect().await;
    let mut requests = server.serve(ECHO, "slow").await.expect("serve");
    // Hold the requests without answering until the test is over.
    let (done_tx, done_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut held: Vec<IncomingRequest> = Vec::new();
        tokio::select! {
            _ = async { while let Some(r) = requests.next().await { held.push(r) } } => {}
            _ = done_rx => {}
        }
    });

    let after = Duration::from_millis(300);
    let started = Instant::now();
    let err = client
        .request(ECHO, Default::default(), Bytes::new(), after)
        .await
        .expect_err("never answered");
    assert_eq!(
        err,
        BusError::Timeout {
            subject: ECHO.to_owned(),
            after
        }
    );
    assert!(started.elapsed() >= after);
    let _ = done_tx.send(());
}

pub async fn dropped_request_answers_no_reply(h: &impl Harness) {
    let server = h.connect().await;
    let client = h.connect().await;
    let mut requests = server.serve(ECHO, "careless").await.expect("serve");
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            drop(request);
        }
    });
    let started = Instant::now();
    let err = client
        .request(
            ECHO,
            Default::default(),
            Bytes::new(),
            Duration::from_secs(10),
        )
        .await
        .expect_err("dropped");
    assert_eq!(
        err,
        BusError::NoReply {
            subject: ECHO.to_owned()
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "waited for the timeout"
    );
}

pub async fn dropped_stream_unregisters(h: &impl Harness) {
    let bus = h.connect().await;
    let requests = bus.serve(ECHO, "gone").await.expect("serve");
    drop(requests);
    // The unsubscription is asynchronous on NATS: allow it a moment.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match bus
            .request(
                ECHO,
                Default::default(),
                Bytes::new(),
                Duration::from_millis(300),
            )
            .await
        {
            Err(BusError::NoResponders { .. }) => break,
            other if Instant::now() > deadline => panic!("still served: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

pub async fn queue_group_shares_load(h: &impl Harness) {
    let server1 = h.connect().await;
    let server2 = h.connect().await;
    let watcher = h.connect().await;
    let client = h.connect().await;
    let c1 = spawn_echo(&server1, ECHO, "workers", "s1").await;
    let c2 = spawn_echo(&server2, ECHO, "workers", "s2").await;
    let mut seen = watcher.subscribe(ECHO).await.expect("subscribe");

    let mut served_by = [0usize; 2];
    for i in 0..40 {
        let reply = client
            .request(
                ECHO,
                headers(&[("request-id", &format!("r-{i}"))]),
                Bytes::from(format!("{i}")),
                Duration::from_secs(5),
            )
            .await
            .expect("reply");
        assert_eq!(reply.payload, Bytes::from(format!("{i}")));
        match reply.headers["served-by"].as_str() {
            "s1" => served_by[0] += 1,
            "s2" => served_by[1] += 1,
            other => panic!("served by {other}"),
        }
    }
    // Each request went to exactly one member, and both took a share.
    assert_eq!(c1.load(Ordering::SeqCst) + c2.load(Ordering::SeqCst), 40);
    assert_eq!(served_by[0], c1.load(Ordering::SeqCst));
    assert!(served_by[0] > 0 && served_by[1] > 0, "{served_by:?}");

    // The plain subscriber saw every request.
    let seen = take(&mut seen, 40).await;
    for (i, m) in seen.iter().enumerate() {
        assert_eq!(m.subject, ECHO);
        assert_eq!(m.headers["request-id"], format!("r-{i}"));
    }
}

pub async fn wildcard_subscribe(h: &impl Harness) {
    let subscriber = h.connect().await;
    let publisher = h.connect().await;
    let mut star = subscriber
        .subscribe("passerelle.test.*.x")
        .await
        .expect("subscribe *");
    let mut rest = subscriber
        .subscribe("passerelle.test.>")
        .await
        .expect("subscribe >");
    let mut exact = subscriber
        .subscribe("passerelle.test.a")
        .await
        .expect("subscribe exact");

    let subjects = [
        "passerelle.test.a.x",
        "passerelle.test.b.x",
        "passerelle.test.a.y",
        "passerelle.test.a",
        "passerelle.test.a.x.z",
        "passerelle.other.a.x",
    ];
    for s in subjects {
        publisher
            .publish(s, headers(&[("k", s)]), Bytes::from(s))
            .await
            .expect("publish");
    }

    let got: Vec<String> = take(&mut star, 2)
        .await
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(got, ["passerelle.test.a.x", "passerelle.test.b.x"]);
    let got: Vec<String> = take(&mut rest, 5)
        .await
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(got, subjects[..5]);
    let got = take(&mut exact, 1).await;
    assert_eq!(got[0].subject, "passerelle.test.a");
    assert_eq!(got[0].headers["k"], "passerelle.test.a");
    assert_eq!(&got[0].payload[..], b"passerelle.test.a");
    assert_quiet(&mut star).await;
    assert_quiet(&mut rest).await;
    assert_quiet(&mut exact).await;
}

pub async fn publish_durable_delivers_and_stores(h: &impl Harness) {
    let publisher = h.connect().await;
    let watcher = h.connect().await;
    let mut events = watcher.subscribe(EVENTS_ALL).await.expect("subscribe");
    for i in 0..3 {
        publisher
            .publish_durable(
                EVENTS_INS_SEARCHED,
                headers(&[("request-id", &format!("ev-{i}"))]),
                Bytes::from(format!("event {i}")),
            )
            .await
            .expect("durable publish");
    }
    let live = take(&mut events, 3).await;
    let stored = h.stored_events(EVENTS_INS_SEARCHED).await;
    assert_eq!(stored.len(), 3);
    for (i, (live, stored)) in live.iter().zip(&stored).enumerate() {
        for m in [live, stored] {
            assert_eq!(m.subject, EVENTS_INS_SEARCHED);
            assert_eq!(m.headers["request-id"], format!("ev-{i}"));
            assert_eq!(m.payload, Bytes::from(format!("event {i}")));
        }
    }
}

pub async fn publish_durable_outside_events_fails(h: &impl Harness) {
    let bus = h.connect().await;
    let err = bus
        .publish_durable(
            "passerelle.test.not_an_event",
            Default::default(),
            Bytes::new(),
        )
        .await
        .expect_err("not captured");
    assert!(matches!(err, BusError::Durable(_)), "{err:?}");
}

pub async fn invalid_subjects_and_headers_rejected(h: &impl Harness) {
    let bus = h.connect().await;
    let timeout = Duration::from_secs(1);
    for subject in ["", "a..b", "a b", "passerelle.*", "passerelle.>"] {
        let err = bus
            .request(subject, Default::default(), Bytes::new(), timeout)
            .await
            .expect_err("invalid request subject");
        assert!(
            matches!(err, BusError::InvalidSubject { .. }),
            "{subject:?}: {err:?}"
        );
        let err = bus
            .publish(subject, Default::default(), Bytes::new())
            .await
            .expect_err("invalid publish subject");
        assert!(
            matches!(err, BusError::InvalidSubject { .. }),
            "{subject:?}: {err:?}"
        );
    }
    for pattern in ["a.>.b", "a.b*", "a..b"] {
        let err = bus.subscribe(pattern).await.err().expect("invalid pattern");
        assert!(
            matches!(err, BusError::InvalidSubject { .. }),
            "{pattern:?}: {err:?}"
        );
    }
    for group in ["", "a.b", "a b", "*"] {
        let err = bus.serve(ECHO, group).await.err().expect("invalid group");
        assert!(
            matches!(err, BusError::InvalidSubject { .. }),
            "{group:?}: {err:?}"
        );
    }
    let err = bus
        .publish(ECHO, headers(&[("bad:name", "v")]), Bytes::new())
        .await
        .expect_err("invalid header");
    assert!(matches!(err, BusError::InvalidHeader { .. }), "{err:?}");
    let err = bus
        .publish(ECHO, headers(&[("name", "two\r\nlines")]), Bytes::new())
        .await
        .expect_err("invalid header value");
    assert!(matches!(err, BusError::InvalidHeader { .. }), "{err:?}");
}

pub async fn oversized_message_rejected(h: &impl Harness) {
    let bus = h.connect().await;
    let big = Bytes::from(vec![0u8; 2 << 20]);
    let err = bus
        .publish(ECHO, Default::default(), big.clone())
        .await
        .expect_err("too large");
    assert!(matches!(err, BusError::PayloadTooLarge { .. }), "{err:?}");
    spawn_echo(&bus, ECHO, "echo", "s1").await;
    let err = bus
        .request(ECHO, Default::default(), big, Duration::from_secs(2))
        .await
        .expect_err("too large");
    assert!(matches!(err, BusError::PayloadTooLarge { .. }), "{err:?}");
}
