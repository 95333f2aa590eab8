//! The one bus-serving loop: a service names its subjects and handlers, the kit subscribes
//! them in the service's queue group (N replicas share the requests), serves them with one
//! concurrency limit per replica, and drains them on shutdown.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use passerelle_bus::{BusError, DrainHandle, RequestStream, SharedBus, proto_rpc};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tonic::Status;
use tracing::Instrument;

use crate::{RequestId, Shutdown};

type ServeFn = Box<
    dyn FnOnce(
            RequestStream,
            DrainHandle,
            Shutdown,
            Arc<Semaphore>,
            Arc<AtomicU64>,
        ) -> BoxFuture<'static, ()>
        + Send,
>;

struct Route {
    subject: String,
    serve: ServeFn,
}

/// The subjects a service serves and what answers each: the service's whole bus face.
pub struct Handlers {
    queue_group: String,
    routes: Vec<Route>,
    on_stopped: Option<BoxFuture<'static, ()>>,
}

impl Handlers {
    /// Handlers served in `queue_group` (the service's name: replicas share its requests).
    pub fn new(queue_group: impl Into<String>) -> Self {
        Self {
            queue_group: queue_group.into(),
            routes: Vec::new(),
            on_stopped: None,
        }
    }

    /// Serves `subject` with `handler`: the request decoded as `Req`, its request id from the
    /// bus headers; `Ok` is answered as `Resp`, an error as its gRPC status. Each request runs
    /// in a span named `operation` carrying the request id.
    pub fn on<Req, Resp, E, F, Fut>(
        mut self,
        subject: impl Into<String>,
        operation: &'static str,
        handler: F,
    ) -> Self
    where
        Req: prost::Message + Default + Send + 'static,
        Resp: prost::Message + Send + 'static,
        E: Into<Status> + Send + 'static,
        F: Fn(RequestId, Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, E>> + Send + 'static,
    {
        let serve: ServeFn = Box::new(move |stream, drain, shutdown, permits, served| {
            Box::pin(proto_rpc::serve_typed_until_with_permits(
                stream,
                drain,
                async move { shutdown.wait().await },
                permits,
                move |headers, req: Req| {
                    served.fetch_add(1, Ordering::Relaxed);
                    let id = RequestId::from_bus(&headers);
                    let span = tracing::info_span!("request", op = operation, request_id = %id);
                    let fut = handler(id, req);
                    async move { fut.await.map_err(Into::into) }.instrument(span)
                },
            ))
        });
        self.routes.push(Route {
            subject: subject.into(),
            serve,
        });
        self
    }

    /// Runs once every subject is drained and every request answered (e.g. flush audit
    /// records still being acknowledged).
    pub fn on_stopped(mut self, finish: impl Future<Output = ()> + Send + 'static) -> Self {
        self.on_stopped = Some(Box::pin(finish));
        self
    }

    /// The subjects served, in order.
    pub fn subjects(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(|r| r.subject.as_str())
    }
}

/// A running worker: what it serves, how much, until it stops.
pub struct Worker {
    served: Arc<AtomicU64>,
    permits: Arc<Semaphore>,
    concurrency: usize,
    task: JoinHandle<()>,
}

impl Worker {
    /// Subscribes every subject (start-up fails if the bus refuses one), then serves them
    /// with at most `concurrency` requests in flight in all, until `shutdown`; then drains:
    /// new requests go to the other replicas, those already delivered here are answered.
    pub async fn start(
        bus: &SharedBus,
        handlers: Handlers,
        concurrency: usize,
        shutdown: Shutdown,
    ) -> Result<Worker, BusError> {
        let mut subscribed = Vec::with_capacity(handlers.routes.len());
        for route in handlers.routes {
            let (stream, drain) = bus
                .serve_drainable(&route.subject, &handlers.queue_group)
                .await?;
            subscribed.push((route.serve, stream, drain));
        }
        let concurrency = concurrency.max(1);
        let permits = Arc::new(Semaphore::new(concurrency));
        let served = Arc::new(AtomicU64::new(0));
        let serving: Vec<_> = subscribed
            .into_iter()
            .map(|(serve, stream, drain)| {
                serve(
                    stream,
                    drain,
                    shutdown.clone(),
                    permits.clone(),
                    served.clone(),
                )
            })
            .collect();
        let on_stopped = handlers.on_stopped;
        let task = tokio::spawn(async move {
            futures::future::join_all(serving).await;
            if let Some(finish) = on_stopped {
                finish.await;
            }
        });
        Ok(Worker {
            served,
            permits,
            concurrency,
            task,
        })
    }

    /// Requests this replica has taken from the bus.
    pub fn served(&self) -> Arc<AtomicU64> {
        self.served.clone()
    }

    /// A view of the requests being worked on, readable after the worker moved.
    pub fn load(&self) -> WorkerLoad {
        WorkerLoad {
            permits: self.permits.clone(),
            concurrency: self.concurrency,
        }
    }

    /// Waits until every subject is drained and every request answered.
    pub async fn wait(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the bus worker failed");
        }
    }
}

/// How many requests a worker is working on now.
#[derive(Clone)]
pub struct WorkerLoad {
    permits: Arc<Semaphore>,
    concurrency: usize,
}

impl WorkerLoad {
    pub fn in_flight(&self) -> usize {
        self.concurrency
            .saturating_sub(self.permits.available_permits())
    }
}

/// A handler calling one async operation of a service's core (`core.method(&request_id,
/// request)`): every worker binds its subjects this way.
///
/// ```ignore
/// Handlers::new(QUEUE_GROUP).on(SUBJECT, "svc.op", passerelle_service_kit::core_op!(core, op))
/// ```
#[macro_export]
macro_rules! core_op {
    ($core:expr, $method:ident) => {{
        let c = $core.clone();
        move |id, req| {
            let c = c.clone();
            async move { c.$method(&id, req).await }
        }
    }};
}
