//! The bus face of the INS service: serves the INS subjects in the `ins-service` queue group,
//! so N replicas share the requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use passerelle_bus::{BusError, DrainHandle, RequestStream, SharedBus, proto_rpc, subjects};
use passerelle_service_kit::{RequestId, Shutdown};
use tonic::Status;
use tracing::Instrument;

use crate::service::InsCore;

/// Requests one replica works on at once; more wait on the bus.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// Serves every INS subject until `shutdown`, then drains: the requests already delivered to
/// this replica are served and in-flight ones finish before it returns, new ones go to the
/// other replicas.
pub async fn run(
    bus: SharedBus,
    core: InsCore,
    concurrency: usize,
    shutdown: Shutdown,
) -> Result<(), BusError> {
    let (tx, _rx) = tokio::sync::oneshot::channel();
    run_with_ready(bus, core, concurrency, shutdown, tx, Arc::default()).await
}

/// As [`run`], telling `ready` once every subject is subscribed (or why not), and counting
/// the requests this replica served in `served`.
pub async fn run_with_ready(
    bus: SharedBus,
    core: InsCore,
    concurrency: usize,
    shutdown: Shutdown,
    ready: tokio::sync::oneshot::Sender<Result<(), BusError>>,
    served: Arc<AtomicU64>,
) -> Result<(), BusError> {
    let group = subjects::INS_QUEUE_GROUP;
    let subscribed = async {
        Ok::<_, BusError>([
            bus.serve_drainable(subjects::INS_SEARCH_BY_TRAITS, group)
                .await?,
            bus.serve_drainable(subjects::INS_SEARCH_BY_VITALE, group)
                .await?,
            bus.serve_drainable(subjects::INS_CHECK_MATRICULE, group)
                .await?,
            bus.serve_drainable(subjects::INS_VERIFY, group).await?,
            bus.serve_drainable(subjects::INS_QUALIFY, group).await?,
        ])
    }
    .await;
    let [traits, vitale, check, verify, qualify] = match subscribed {
        Ok(s) => {
            let _ = ready.send(Ok(()));
            s
        }
        Err(e) => {
            let _ = ready.send(Err(e.clone()));
            return Err(e);
        }
    };
    let serving = Serving {
        shutdown,
        concurrency,
        served,
    };
    let c = core.clone();
    let traits = serving.serve("ins.search_by_traits", traits, move |id, req| {
        let c = c.clone();
        async move { c.search_by_traits(&id, req).await }
    });
    let c = core.clone();
    let vitale = serving.serve("ins.search_by_vitale", vitale, move |id, req| {
        let c = c.clone();
        async move { c.search_by_vitale(&id, req).await }
    });
    let c = core.clone();
    let check = serving.serve("ins.check_matricule", check, move |_, req| {
        let result = c.check_matricule(&req);
        async move { result }
    });
    let c = core.clone();
    let verify = serving.serve("ins.verify", verify, move |id, req| {
        let c = c.clone();
        async move { c.verify_ins(&id, req).await }
    });
    let c = core.clone();
    let qualify = serving.serve("ins.qualify", qualify, move |id, req| {
        let c = c.clone();
        async move { c.qualify_identity(&id, req).await }
    });
    tokio::join!(traits, vitale, check, verify, qualify);
    core.flush().await;
    Ok(())
}

/// What every subject's serving loop shares.
struct Serving {
    shutdown: Shutdown,
    concurrency: usize,
    served: Arc<AtomicU64>,
}

impl Serving {
    /// Serves one subject until shutdown, then drains it: new requests go to the other
    /// replicas, those already delivered here are served, then in-flight work finishes. Each
    /// request runs in a span carrying its request id.
    fn serve<Req, Resp, F, Fut>(
        &self,
        operation: &'static str,
        (stream, drain): (RequestStream, DrainHandle),
        handler: F,
    ) -> impl Future<Output = ()> + use<Req, Resp, F, Fut>
    where
        Req: prost::Message + Default + Send + 'static,
        Resp: prost::Message + Send + 'static,
        F: Fn(RequestId, Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
    {
        let stop = self.shutdown.clone();
        let served = self.served.clone();
        proto_rpc::serve_typed_until(
            stream,
            drain,
            async move { stop.wait().await },
            self.concurrency,
            move |headers, req: Req| {
                served.fetch_add(1, Ordering::Relaxed);
                let id = RequestId::from_bus(&headers);
                let span = tracing::info_span!("request", op = operation, request_id = %id);
                handler(id, req).instrument(span)
            },
        )
    }
}
