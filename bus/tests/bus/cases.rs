//! The raw bus contract (requests, queue groups, subscriptions, durable events).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use passerelle_bus::subjects::{
    EVENTS_ALL, EVENTS_IDENTITY_QUALIFIED, EVENTS_INS_SEARCHED, HEADER_MSG_ID,
};
use passerelle_bus::{BusError, IncomingRequest, Message, RequestStream, SharedBus};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::harness::{Harness, assert_quiet, fence, headers, take};

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

/// An event published again with the same deduplication id (a retry after a crash that
/// hid the first acknowledgement) is stored once, so durable consumers get it once; another
/// id is not dropped. (Live subscribers on NATS see every publish, the retry included: core
/// NATS delivers before the stream judges.)
pub async fn publish_durable_drops_duplicate_ids(h: &impl Harness) {
    let publisher = h.connect().await;
    for (id, body) in [("msg-1", "first"), ("msg-1", "again"), ("msg-2", "other")] {
        publisher
            .publish_durable(
                EVENTS_IDENTITY_QUALIFIED,
                headers(&[(HEADER_MSG_ID, id)]),
                Bytes::from(body),
            )
            .await
            .expect("durable publish");
    }
    let stored = h.stored_events(EVENTS_IDENTITY_QUALIFIED).await;
    let bodies: Vec<_> = stored.iter().map(|m| m.payload.clone()).collect();
    assert_eq!(bodies, [Bytes::from("first"), Bytes::from("other")]);
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

/// A server taking one request at a time (concurrency 1) and answering it, with
/// `served-by: name`, only once its gate is open: the requests routed to it meanwhile pile
/// up in its buffer.
struct GatedServer {
    /// One message per request taken from the stream.
    taken: mpsc::UnboundedReceiver<()>,
    /// `true` opens the gate.
    gate: watch::Sender<bool>,
    /// How many requests it answered, once its stream has ended.
    ended: oneshot::Receiver<usize>,
}

fn spawn_gated(mut requests: RequestStream, name: &str) -> GatedServer {
    let (taken_tx, taken) = mpsc::unbounded_channel();
    let (gate, mut open) = watch::channel(false);
    let (ended_tx, ended) = oneshot::channel();
    let name = name.to_owned();
    tokio::spawn(async move {
        let mut answered = 0;
        while let Some(request) = requests.next().await {
            let _ = taken_tx.send(());
            open.wait_for(|open| *open)
                .await
                .expect("gate kept by the test");
            let payload = request.payload.clone();
            request
                .reply(headers(&[("served-by", &name)]), payload)
                .await
                .expect("reply");
            answered += 1;
        }
        let _ = ended_tx.send(answered);
    });
    GatedServer { taken, gate, ended }
}

/// Sends requests `0..n` on ECHO at once, each in its own task (payload: its number).
fn spawn_requests(client: &SharedBus, n: usize) -> Vec<JoinHandle<Result<Message, BusError>>> {
    (0..n)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .request(
                        ECHO,
                        Default::default(),
                        Bytes::from(i.to_string()),
                        Duration::from_secs(10),
                    )
                    .await
            })
        })
        .collect()
}

/// Every request answered (none timed out) with its own payload, by `server`.
async fn assert_all_served_by(requests: Vec<JoinHandle<Result<Message, BusError>>>, server: &str) {
    for (i, request) in requests.into_iter().enumerate() {
        let reply = request
            .await
            .expect("requester task")
            .unwrap_or_else(|e| panic!("request {i} was not answered: {e}"));
        assert_eq!(reply.payload, Bytes::from(i.to_string()));
        assert_eq!(reply.headers["served-by"], server, "request {i}");
    }
}

const HELD: usize = 5;

/// Graceful hand-over in a queue group: the server that drains answers every request it
/// held, while the requests sent after the drain go to the other member.
pub async fn drain_hands_over_to_the_group(h: &impl Harness) {
    let a = h.connect().await;
    let b = h.connect().await;
    let client = h.connect().await;
    let watcher = h.connect().await;
    let mut seen = watcher.subscribe(ECHO).await.expect("subscribe");
    let (requests, drain) = a.serve_drainable(ECHO, "workers").await.expect("serve");
    let mut server_a = spawn_gated(requests, "a");

    // A is alone in the group: it takes every request, holds the first and buffers the rest.
    let held = spawn_requests(&client, HELD);
    take(&mut seen, HELD).await;
    fence(&a).await;
    server_a.taken.recv().await.expect("A took a request");

    // B joins, A drains while still stuck on its first request.
    spawn_echo(&b, ECHO, "workers", "b").await;
    drain.drain().await.expect("drain");
    for i in 0..5 {
        let reply = client
            .request(
                ECHO,
                Default::default(),
                Bytes::from(format!("after {i}")),
                Duration::from_secs(5),
            )
            .await
            .expect("served after the drain");
        assert_eq!(
            reply.headers["served-by"], "b",
            "request {i} after the drain"
        );
    }

    // A is let go: it answers all it held, then its stream ends.
    server_a.gate.send_replace(true);
    assert_all_served_by(held, "a").await;
    let answered = tokio::time::timeout(Duration::from_secs(5), server_a.ended)
        .await
        .expect("A's stream ended")
        .expect("A's task");
    assert_eq!(answered, HELD);
}

/// The last server of a subject drains: the subject has no responders at once, yet every
/// request the server held is answered, then its stream ends.
pub async fn drain_last_server_answers_what_it_holds(h: &impl Harness) {
    let server = h.connect().await;
    let client = h.connect().await;
    let watcher = h.connect().await;
    let mut seen = watcher.subscribe(ECHO).await.expect("subscribe");
    let (requests, drain) = server.serve_drainable(ECHO, "solo").await.expect("serve");
    let mut solo = spawn_gated(requests, "solo");

    let held = spawn_requests(&client, HELD);
    take(&mut seen, HELD).await;
    fence(&server).await;
    solo.taken.recv().await.expect("took a request");
    // A plain subscriber is interest enough for NATS not to answer no-responders.
    drop(seen);
    fence(&watcher).await;

    drain.drain().await.expect("drain");
    let err = client
        .request(
            ECHO,
            Default::default(),
            Bytes::new(),
            Duration::from_secs(2),
        )
        .await
        .expect_err("nobody serves it any more");
    assert_eq!(
        err,
        BusError::NoResponders {
            subject: ECHO.to_owned()
        }
    );
    drain
        .clone()
        .drain()
        .await
        .expect("draining again does nothing");

    solo.gate.send_replace(true);
    assert_all_served_by(held, "solo").await;
    let answered = tokio::time::timeout(Duration::from_secs(5), solo.ended)
        .await
        .expect("the stream ended")
        .expect("server task");
    assert_eq!(answered, HELD);
    drain
        .drain()
        .await
        .expect("draining an ended stream does nothing");
}

/// Dropping a stream (instead of draining it) fails the requests it still buffers at once,
/// rather than letting their requesters wait for the timeout.
pub async fn dropped_stream_fails_buffered_requests_fast(h: &impl Harness) {
    let server = h.connect().await;
    let client = h.connect().await;
    let watcher = h.connect().await;
    let mut seen = watcher.subscribe(ECHO).await.expect("subscribe");
    let mut requests = server.serve(ECHO, "dropper").await.expect("serve");

    let started = Instant::now();
    let sent = spawn_requests(&client, HELD);
    take(&mut seen, HELD).await;
    fence(&server).await;
    let first = requests.next().await.expect("a request");
    drop(requests);
    // The request taken before the drop can still be answered.
    let payload = first.payload.clone();
    first
        .reply(Default::default(), payload)
        .await
        .expect("reply");

    let mut answered = 0;
    for request in sent {
        match request.await.expect("requester task") {
            Ok(_) => answered += 1,
            Err(BusError::NoReply { .. }) => {}
            Err(e) => panic!("expected NoReply, got {e:?}"),
        }
    }
    assert_eq!(answered, 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited for the timeout"
    );
}
