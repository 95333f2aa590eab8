//! Typed protobuf request/reply (`proto_rpc`) over the bus.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use passerelle_bus::proto_rpc::{call, serve_typed, serve_typed_until};
use passerelle_bus::subjects::{INS_CHECK_MATRICULE, INS_QUEUE_GROUP};
use passerelle_bus::{Headers, SharedBus};
use passerelle_proto::bus::v1::{Reply, reply::Outcome};
use passerelle_proto::ins::v1::{CheckMatriculeRequest, CheckMatriculeResponse};
use prost::Message as _;
use tokio::sync::{mpsc, oneshot, watch};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::harness::{Harness, fence, headers, take};

const TIMEOUT: Duration = Duration::from_secs(5);

fn req(matricule: &str) -> CheckMatriculeRequest {
    CheckMatriculeRequest {
        matricule: matricule.to_owned(),
        key: "00".to_owned(),
    }
}

/// The INSi fault a real handler reports: rich details a gRPC client can read.
fn insi_fault() -> Status {
    Status::with_error_details(
        Code::Unavailable,
        "INSi answered with a SOAP fault",
        ErrorDetails::with_error_info(
            "INSI_FAULT",
            "passerelle.ins",
            HashMap::from([("upstream_code".to_owned(), "desir_550".to_owned())]),
        ),
    )
}

/// Serves INS_CHECK_MATRICULE: matricule "fault" fails with [`insi_fault`], "panic" panics,
/// anything else is valid and echoes the request id in `message`.
async fn spawn_checker(bus: &SharedBus) {
    let stream = bus
        .serve(INS_CHECK_MATRICULE, INS_QUEUE_GROUP)
        .await
        .expect("serve");
    tokio::spawn(serve_typed(
        stream,
        4,
        |headers: Headers, req: CheckMatriculeRequest| async move {
            match req.matricule.as_str() {
                "fault" => Err(insi_fault()),
                "panic" => panic!("handler bug"),
                _ => Ok(CheckMatriculeResponse {
                    valid: true,
                    expected_key: req.key,
                    message: headers.get("request-id").cloned().unwrap_or_default(),
                }),
            }
        },
    ));
}

pub async fn call_ok(h: &impl Harness) {
    let server = h.connect().await;
    let client = h.connect().await;
    spawn_checker(&server).await;
    let resp: CheckMatriculeResponse = call(
        client.as_ref(),
        INS_CHECK_MATRICULE,
        headers(&[("request-id", "typed-1")]),
        &req("1800175123456"),
        TIMEOUT,
    )
    .await
    .expect("ok");
    assert_eq!(
        resp,
        CheckMatriculeResponse {
            valid: true,
            expected_key: "00".to_owned(),
            message: "typed-1".to_owned(),
        }
    );
}

pub async fn rich_error_details_round_trip(h: &impl Harness) {
    let server = h.connect().await;
    let client = h.connect().await;
    spawn_checker(&server).await;
    let status = call::<_, CheckMatriculeResponse>(
        client.as_ref(),
        INS_CHECK_MATRICULE,
        Headers::new(),
        &req("fault"),
        TIMEOUT,
    )
    .await
    .expect_err("fault");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(status.message(), "INSi answered with a SOAP fault");
    let details = status.get_error_details();
    let info = details.error_info().expect("ErrorInfo survived the bus");
    assert_eq!(info.reason, "INSI_FAULT");
    assert_eq!(info.domain, "passerelle.ins");
    assert_eq!(info.metadata["upstream_code"], "desir_550");
}

pub async fn malformed_request_gets_invalid_argument(h: &impl Harness) {
    let server = h.connect().await;
    let client = h.connect().await;
    spawn_checker(&server).await;
    // A truncated varint: not a protobuf message.
    let reply = client
        .request(
            INS_CHECK_MATRICULE,
            headers(&[("request-id", "bad-1"), ("X-Other", "not echoed")]),
            Bytes::from_static(b"\xff\xff\xff"),
            TIMEOUT,
        )
        .await
        .expect("the server answers");
    assert_eq!(reply.headers, headers(&[("request-id", "bad-1")]));
    let reply = Reply::decode(reply.payload).expect("a Reply envelope");
    let Some(Outcome::Error(status)) = reply.outcome else {
        panic!("expected an error, got {:?}", reply.outcome);
    };
    assert_eq!(status.code, Code::InvalidArgument as i32);
    assert!(
        status.message.contains("CheckMatriculeRequest"),
        "{}",
        status.message
    );

    // The server survived it.
    let resp: Result<CheckMatriculeResponse, _> = call(
        client.as_ref(),
        INS_CHECK_MATRICULE,
        Headers::new(),
        &req("1800175123456"),
        TIMEOUT,
    )
    .await;
    assert!(resp.is_ok(), "{resp:?}");
}

pub async fn no_responders_is_unavailable(h: &impl Harness) {
    let client = h.connect().await;
    let status = call::<_, CheckMatriculeResponse>(
        client.as_ref(),
        INS_CHECK_MATRICULE,
        Headers::new(),
        &req("x"),
        TIMEOUT,
    )
    .await
    .expect_err("nobody serves");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        status.message(),
        "no ins-service is serving passerelle.ins.v1.check_matricule: start one or check the bus"
    );
}

pub async fn handler_panic_answers_internal(h: &impl Harness) {
    let server = h.connect().await;
    let client = h.connect().await;
    spawn_checker(&server).await;
    let status = call::<_, CheckMatriculeResponse>(
        client.as_ref(),
        INS_CHECK_MATRICULE,
        Headers::new(),
        &req("panic"),
        TIMEOUT,
    )
    .await
    .expect_err("panicked");
    assert_eq!(status.code(), Code::Internal);
    // And the server goes on.
    let ok: Result<CheckMatriculeResponse, _> = call(
        client.as_ref(),
        INS_CHECK_MATRICULE,
        Headers::new(),
        &req("1800175123456"),
        TIMEOUT,
    )
    .await;
    assert!(ok.is_ok(), "{ok:?}");
}

pub async fn concurrency_is_bounded(h: &impl Harness) {
    let server = h.connect().await;
    let client = h.connect().await;
    let stream = server
        .serve(INS_CHECK_MATRICULE, INS_QUEUE_GROUP)
        .await
        .expect("serve");
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (f, p) = (in_flight.clone(), peak.clone());
    tokio::spawn(serve_typed(
        stream,
        2,
        move |_h: Headers, _req: CheckMatriculeRequest| {
            let (f, p) = (f.clone(), p.clone());
            async move {
                let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                f.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, Status>(CheckMatriculeResponse::default())
            }
        },
    ));
    let request = req("x");
    let calls = (0..6).map(|_| {
        call::<_, CheckMatriculeResponse>(
            client.as_ref(),
            INS_CHECK_MATRICULE,
            Headers::new(),
            &request,
            TIMEOUT,
        )
    });
    for result in futures::future::join_all(calls).await {
        assert!(result.is_ok(), "{result:?}");
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
}

/// Graceful shutdown: once the stream ends, `serve_typed` returns only after the request
/// it was handling has been answered.
pub async fn serve_typed_finishes_in_flight_work(h: &impl Harness) {
    let server = h.connect().await;
    let client = h.connect().await;
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let stream = server
        .serve(INS_CHECK_MATRICULE, INS_QUEUE_GROUP)
        .await
        .expect("serve")
        .take_until(shutdown_rx);
    let (started_tx, mut started_rx) = mpsc::channel::<()>(1);
    let finished = Arc::new(AtomicBool::new(false));
    let done = finished.clone();
    let serving = tokio::spawn(serve_typed(
        Box::pin(stream),
        4,
        move |_h: Headers, req: CheckMatriculeRequest| {
            let (started_tx, done) = (started_tx.clone(), done.clone());
            async move {
                let _ = started_tx.send(()).await;
                tokio::time::sleep(Duration::from_millis(400)).await;
                done.store(true, Ordering::SeqCst);
                Ok::<_, Status>(CheckMatriculeResponse {
                    valid: true,
                    expected_key: req.key,
                    message: "finished".to_owned(),
                })
            }
        },
    ));
    let requester = tokio::spawn(async move {
        call::<_, CheckMatriculeResponse>(
            client.as_ref(),
            INS_CHECK_MATRICULE,
            Headers::new(),
            &req("x"),
            TIMEOUT,
        )
        .await
    });

    started_rx.recv().await.expect("handler started");
    shutdown_tx.send(()).expect("serve_typed still running");
    tokio::time::timeout(TIMEOUT, serving)
        .await
        .expect("serve_typed returned")
        .expect("serve_typed did not panic");
    assert!(
        finished.load(Ordering::SeqCst),
        "serve_typed returned before its in-flight handler finished"
    );
    let resp = requester
        .await
        .expect("requester task")
        .expect("the in-flight request was answered");
    assert_eq!(resp.message, "finished");
}

/// Graceful shutdown with `serve_typed_until`: on the signal the subscription is drained
/// (nobody serves the subject any more), yet every request already delivered is answered
/// before it returns, with concurrency 1 and a handler held back so that they pile up.
pub async fn serve_typed_until_drains_on_shutdown(h: &impl Harness) {
    const HELD: usize = 4;
    let server = h.connect().await;
    let client = h.connect().await;
    let watcher = h.connect().await;
    let mut seen = watcher
        .subscribe(INS_CHECK_MATRICULE)
        .await
        .expect("subscribe");
    let (stream, drain) = server
        .serve_drainable(INS_CHECK_MATRICULE, INS_QUEUE_GROUP)
        .await
        .expect("serve");
    let (gate, open) = watch::channel(false);
    let (taken_tx, mut taken) = mpsc::unbounded_channel::<()>();
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let serving = tokio::spawn(serve_typed_until(
        stream,
        drain.clone(),
        async {
            let _ = shutdown_rx.await;
        },
        1,
        move |_h: Headers, req: CheckMatriculeRequest| {
            let (taken_tx, mut open) = (taken_tx.clone(), open.clone());
            async move {
                let _ = taken_tx.send(());
                let _ = open.wait_for(|open| *open).await;
                Ok::<_, Status>(CheckMatriculeResponse {
                    valid: true,
                    expected_key: req.key,
                    message: req.matricule,
                })
            }
        },
    ));
    let calls: Vec<_> = (0..HELD)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                call::<_, CheckMatriculeResponse>(
                    client.as_ref(),
                    INS_CHECK_MATRICULE,
                    Headers::new(),
                    &req(&i.to_string()),
                    Duration::from_secs(10),
                )
                .await
            })
        })
        .collect();
    // All delivered: one in the handler, the others waiting in the buffer.
    take(&mut seen, HELD).await;
    fence(&server).await;
    taken.recv().await.expect("handler started");
    // A plain subscriber is interest enough for NATS not to answer no-responders.
    drop(seen);
    fence(&watcher).await;

    shutdown_tx
        .send(())
        .expect("serve_typed_until still running");
    // Joins the drain the shutdown started: once it returns, the subject is unserved.
    drain.drain().await.expect("drain");
    let status = call::<_, CheckMatriculeResponse>(
        client.as_ref(),
        INS_CHECK_MATRICULE,
        Headers::new(),
        &req("late"),
        TIMEOUT,
    )
    .await
    .expect_err("nobody serves any more");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(!serving.is_finished(), "returned with requests pending");

    gate.send_replace(true);
    for (i, call) in calls.into_iter().enumerate() {
        let resp = call
            .await
            .expect("caller task")
            .unwrap_or_else(|s| panic!("call {i} was not answered: {s:?}"));
        assert_eq!(resp.message, i.to_string());
    }
    tokio::time::timeout(TIMEOUT, serving)
        .await
        .expect("serve_typed_until returned")
        .expect("serve_typed_until did not panic");
}
