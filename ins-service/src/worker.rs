//! The bus face of the INS service: serves the INS subjects in the `ins-service` queue group,
//! so N replicas share the requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use passerelle_bus::{BusError, SharedBus, proto_rpc, subjects};
use passerelle_proto::ins::v1 as api;
use passerelle_service_kit::{RequestId, Shutdown};
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
        Ok::<_, BusError>((
            bus.serve_drainable(subjects::INS_SEARCH_BY_TRAITS, group)
                .await?,
            bus.serve_drainable(subjects::INS_SEARCH_BY_VITALE, group)
                .await?,
            bus.serve_drainable(subjects::INS_CHECK_MATRICULE, group)
                .await?,
        ))
    }
    .await;
    let ((traits, traits_drain), (vitale, vitale_drain), (check, check_drain)) = match subscribed {
        Ok(s) => {
            let _ = ready.send(Ok(()));
            s
        }
        Err(e) => {
            let _ = ready.send(Err(e.clone()));
            return Err(e);
        }
    };
    // On shutdown each subject is drained: new requests go to the other replicas, those
    // already delivered to this one are served, then in-flight work finishes.
    let stopped = || {
        let stop = shutdown.clone();
        async move { stop.wait().await }
    };

    let counted = |served: Arc<AtomicU64>| move || served.fetch_add(1, Ordering::Relaxed);

    let (c, count) = (core.clone(), counted(served.clone()));
    let traits = proto_rpc::serve_typed_until(
        traits,
        traits_drain,
        stopped(),
        concurrency,
        move |headers, req: api::SearchByTraitsRequest| {
            count();
            let c = c.clone();
            async move {
                let id = RequestId::from_bus(&headers);
                let span = tracing::info_span!("ins.search_by_traits", request_id = %id);
                c.search_by_traits(&id, req).instrument(span).await
            }
        },
    );
    let (c, count) = (core.clone(), counted(served.clone()));
    let vitale = proto_rpc::serve_typed_until(
        vitale,
        vitale_drain,
        stopped(),
        concurrency,
        move |headers, req: api::SearchByVitaleRequest| {
            count();
            let c = c.clone();
            async move {
                let id = RequestId::from_bus(&headers);
                let span = tracing::info_span!("ins.search_by_vitale", request_id = %id);
                c.search_by_vitale(&id, req).instrument(span).await
            }
        },
    );
    let (c, count) = (core, counted(served));
    let check = proto_rpc::serve_typed_until(
        check,
        check_drain,
        stopped(),
        concurrency,
        move |_headers, req: api::CheckMatriculeRequest| {
            count();
            let result = c.check_matricule(&req);
            async move { result }
        },
    );
    tokio::join!(traits, vitale, check);
    Ok(())
}
