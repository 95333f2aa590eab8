//! Progress streamed from a worker to a face over the bus, on both buses.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use passerelle_bus::SharedBus;
use passerelle_bus::in_process::InProcessBus;
use passerelle_bus::nats::{NatsBus, NatsOptions};
use passerelle_bus::testing::{BusKind, NatsServer};
use passerelle_proto::documents::v1::StatRequest as Step;
use passerelle_service_kit::streaming::{
    ProgressConfig, progress_subject, publish_progress, publish_progress_error, subscribe_progress,
};
use tonic::Code;

const JOB: &str = "passerelle.test.v1.job";

struct Fixture {
    bus: SharedBus,
    _nats: Option<NatsServer>,
}

async fn start(kind: BusKind) -> Fixture {
    match kind {
        BusKind::InProcess => Fixture {
            bus: Arc::new(InProcessBus::new()),
            _nats: None,
        },
        BusKind::Nats => {
            let server = NatsServer::start().expect("nats-server");
            let bus = NatsBus::connect(&server.url(), NatsOptions::default())
                .await
                .expect("connect");
            Fixture {
                bus: Arc::new(bus),
                _nats: Some(server),
            }
        }
    }
}

/// A worker that answers each job at once, then publishes `steps` progress items on the
/// job's progress subject (named in the payload), the last one final, or an error.
async fn spawn_worker(bus: &SharedBus, steps: usize, fail: bool) {
    let mut requests = bus.serve(JOB, "workers").await.expect("serve");
    let bus = bus.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let subject = String::from_utf8(request.payload.to_vec()).expect("subject");
            request
                .reply(Default::default(), Bytes::new())
                .await
                .expect("accept");
            for n in 1..=steps {
                let step = Step {
                    id: format!("step {n}"),
                };
                publish_progress(&bus, &subject, &step, n == steps && !fail)
                    .await
                    .expect("progress");
            }
            if fail {
                let status = tonic::Status::failed_precondition("the upstream refused the job");
                publish_progress_error(&bus, &subject, &status)
                    .await
                    .expect("error");
            }
        }
    });
}

async fn run(f: &Fixture, request_id: &str, idle: Duration) -> Vec<Result<String, tonic::Status>> {
    let subject = progress_subject(request_id).expect("subject");
    let progress =
        subscribe_progress::<Step>(&f.bus, &subject, ProgressConfig { idle_timeout: idle })
            .await
            .expect("subscribe");
    f.bus
        .request(
            JOB,
            Default::default(),
            Bytes::from(subject),
            Duration::from_secs(5),
        )
        .await
        .expect("job accepted");
    progress
        .map(|item| item.map(|step| step.id))
        .collect()
        .await
}

async fn progress_items_then_the_final_one(f: &Fixture) {
    spawn_worker(&f.bus, 3, false).await;
    let items = run(f, "req-1", Duration::from_secs(10)).await;
    let items: Vec<String> = items.into_iter().map(|i| i.expect("item")).collect();
    assert_eq!(items, ["step 1", "step 2", "step 3"]);
}

async fn worker_error_ends_the_stream(f: &Fixture) {
    spawn_worker(&f.bus, 1, true).await;
    let mut items = run(f, "req-2", Duration::from_secs(10)).await;
    let error = items.pop().expect("error").expect_err("an error last");
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert_eq!(error.message(), "the upstream refused the job");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().expect("item"), "step 1");
}

async fn vanished_worker_times_out(f: &Fixture) {
    // Takes the job, never reports.
    spawn_worker(&f.bus, 0, false).await;
    let items = run(f, "req-3", Duration::from_millis(300)).await;
    assert_eq!(items.len(), 1);
    let error = items[0].as_ref().expect_err("timeout");
    assert_eq!(error.code(), Code::DeadlineExceeded);
    assert!(
        error.message().contains("no progress"),
        "{}",
        error.message()
    );
}

passerelle_bus::on_both_buses!(with start:
    progress_items_then_the_final_one,
    worker_error_ends_the_stream,
    vanished_worker_times_out,
);
