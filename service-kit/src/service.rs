//! Start-up by role and the life of a service: the bus worker (its [`Handlers`]) and the gRPC
//! face (its [`Face`]), each started only when its role is asked, and stopped in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use passerelle_bus::SharedBus;
use tokio::task::JoinHandle;
use tonic::service::Routes;

use crate::Shutdown;
use crate::documents::DocumentStoreGrpc;
use crate::face::Forwarder;
use crate::grpc::{self, GrpcError};
use crate::settings::KitSettings;
use crate::worker::{Handlers, Worker, WorkerLoad};
use passerelle_proto::documents::v1::document_store_server;

/// What a process runs: the gRPC face, the bus worker, or both (the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Serve gRPC, forwarding every call to the bus.
    pub grpc: bool,
    /// Serve the bus subjects (do the work).
    pub worker: bool,
}

impl Default for Roles {
    fn default() -> Self {
        Self::BOTH
    }
}

impl Roles {
    pub const BOTH: Roles = Roles {
        grpc: true,
        worker: true,
    };
    pub const GRPC_ONLY: Roles = Roles {
        grpc: true,
        worker: false,
    };
    pub const WORKER_ONLY: Roles = Roles {
        grpc: false,
        worker: true,
    };
}

/// The gRPC services of a face and their names (for health checking).
pub struct Face {
    routes: Routes,
    names: Vec<&'static str>,
}

impl Face {
    /// A face serving `routes`, whose services are named `names` (their `SERVICE_NAME`).
    pub fn new(routes: Routes, names: &[&'static str]) -> Self {
        Self {
            routes,
            names: names.to_vec(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Grpc(#[from] GrpcError),
    #[error("bus: {0}")]
    Bus(#[from] passerelle_bus::BusError),
    /// The service's own set-up failed (its worker's dependencies: certificates, keys…).
    #[error(transparent)]
    Service(Box<dyn std::error::Error + Send + Sync>),
}

/// A started service.
pub struct RunningService {
    /// Where the gRPC face listens; `None` for a worker-only replica.
    pub grpc_addr: Option<SocketAddr>,
    served: Arc<AtomicU64>,
    load: Option<WorkerLoad>,
    task: JoinHandle<Result<(), StartError>>,
}

/// What a stop that ran out of time left undone.
#[derive(Debug, thiserror::Error)]
#[error(
    "stopped after {grace:?} without finishing: {in_flight} bus request(s) still being worked on \
     (their callers will retry or time out); raise shutdown.grace if this recurs"
)]
pub struct Unfinished {
    pub grace: Duration,
    pub in_flight: usize,
}

impl RunningService {
    /// Requests this replica's worker has taken from the bus.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Requests this replica's worker is working on now.
    pub fn in_flight(&self) -> usize {
        self.load.as_ref().map_or(0, WorkerLoad::in_flight)
    }

    /// `http://ADDR` of the gRPC face, if this process serves one.
    pub fn endpoint(&self) -> Option<String> {
        self.grpc_addr.map(|a| format!("http://{a}"))
    }

    /// Waits until the service stopped (after its shutdown was triggered).
    pub async fn wait(self) -> Result<(), StartError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(StartError::Grpc(GrpcError::Serve(e.to_string()))),
        }
    }

    /// Runs until the service stops by itself or `shutdown` triggers; then waits at most
    /// `grace` for it to finish its work, and abandons it past that.
    pub async fn run_until(
        self,
        shutdown: &Shutdown,
        grace: Duration,
    ) -> Result<Result<(), StartError>, Unfinished> {
        let load = self.load;
        let mut task = self.task;
        let joined = |r: Result<Result<(), StartError>, tokio::task::JoinError>| match r {
            Ok(r) => r,
            Err(e) => Err(StartError::Grpc(GrpcError::Serve(e.to_string()))),
        };
        tokio::select! {
            r = &mut task => return Ok(joined(r)),
            () = shutdown.wait() => {}
        }
        match tokio::time::timeout(grace, &mut task).await {
            Ok(r) => Ok(joined(r)),
            Err(_) => {
                task.abort();
                Err(Unfinished {
                    grace,
                    in_flight: load.as_ref().map_or(0, WorkerLoad::in_flight),
                })
            }
        }
    }
}

/// Starts a service on `bus` in the given roles. `handlers` builds the worker (called only
/// with the worker role: a gRPC face loads none of the worker's certificates or keys);
/// `face` builds the gRPC services around a [`Forwarder`] (called only with the gRPC role: a
/// worker binds no port). The worker subscribes before the face accepts, so no call finds
/// nobody serving. On shutdown the face reports NOT_SERVING, stops accepting and finishes its
/// calls, then the worker drains and answers the requests it holds.
pub async fn start<HF, HFut, E>(
    name: &'static str,
    kit: &KitSettings,
    bus: SharedBus,
    roles: Roles,
    face: impl FnOnce(Forwarder) -> Face,
    handlers: HF,
    shutdown: Shutdown,
) -> Result<RunningService, StartError>
where
    HF: FnOnce() -> HFut,
    HFut: Future<Output = Result<Handlers, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let worker_stop = Shutdown::new();
    let worker = if roles.worker {
        let handlers = handlers()
            .await
            .map_err(|e| StartError::Service(Box::new(e)))?;
        Some(Worker::start(&bus, handlers, kit.worker.concurrency, worker_stop.clone()).await?)
    } else {
        None
    };
    let served = worker.as_ref().map_or_else(Arc::default, |w| w.served());
    let load = worker.as_ref().map(Worker::load);

    let (grpc_addr, grpc_task) = if roles.grpc {
        let (listener, addr) = grpc::bind(kit.grpc.listen).await?;
        let Face { routes, mut names } =
            face(Forwarder::new(bus.clone(), name, kit.grpc.request_timeout));
        // Every face takes documents by upload, so that requests can name them by reference.
        let routes = routes.add_service(DocumentStoreGrpc::new(bus.clone(), kit.documents));
        names.push(document_store_server::SERVICE_NAME);
        let stop = shutdown.clone();
        let task = tokio::spawn(async move { grpc::serve(listener, routes, &names, stop).await });
        (Some(addr), Some(task))
    } else {
        (None, None)
    };

    let task = tokio::spawn(async move {
        let result = match grpc_task {
            Some(t) => match t.await {
                Ok(r) => r.map_err(StartError::from),
                Err(e) => Err(StartError::Grpc(GrpcError::Serve(e.to_string()))),
            },
            None => {
                shutdown.wait().await;
                Ok(())
            }
        };
        worker_stop.trigger();
        if let Some(w) = worker {
            w.wait().await;
        }
        result
    });
    Ok(RunningService {
        grpc_addr,
        served,
        load,
        task,
    })
}
