//! The gRPC face of the share service: Share, GetShare and RetryShare go to the bus (see the
//! service kit's [`Forwarder`]); WatchShare is served here, from the bus: the face listens to
//! the share's channel results and reads the status again (GetShare on the bus) after each,
//! and at least every `watch_poll`, streaming every new status until the share is finished.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use passerelle_bus::subjects;
use passerelle_proto::share::v1::{
    self as api, ShareChannelResult, ShareStatus, share_service_server::ShareService,
};
use passerelle_service_kit::Shutdown;
use passerelle_service_kit::errors::RichError;
use passerelle_service_kit::face::{Forwarder, reasons};
use prost::Message;
use tokio::sync::mpsc;
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Response, Status};

/// After a result of the share, how often the status is read again until it shows it (the
/// projection applies it at the same time the face hears of it).
const EAGER_DELAY: Duration = Duration::from_millis(50);
const EAGER_READS: u32 = 40;

/// ErrorInfo reason of a watch ended by the service's stop.
pub const STOPPING: &str = "SERVICE_STOPPING";

/// gRPC server of `passerelle.share.v1.ShareService`.
#[derive(Clone)]
pub struct ShareGrpc {
    pub forwarder: Forwarder,
    /// WatchShare reads the status at least this often.
    pub watch_poll: Duration,
    /// The service's stop: open watches end (UNAVAILABLE, watch again) so that they do not
    /// hold the face's graceful stop until their share is finished.
    pub shutdown: Shutdown,
}

pub type WatchStream = Pin<Box<dyn Stream<Item = Result<ShareStatus, Status>> + Send>>;

impl ShareGrpc {
    async fn get(&self, metadata: &MetadataMap, share_id: &str) -> Result<ShareStatus, Status> {
        let req = Request::from_parts(
            metadata.clone(),
            tonic::Extensions::default(),
            api::GetShareRequest {
                share_id: share_id.to_owned(),
            },
        );
        self.forwarder
            .forward(subjects::SHARE_GET, req)
            .await
            .map(Response::into_inner)
    }
}

#[tonic::async_trait]
impl ShareService for ShareGrpc {
    async fn share(
        &self,
        req: Request<api::ShareRequest>,
    ) -> Result<Response<ShareStatus>, Status> {
        self.forwarder.forward(subjects::SHARE_SHARE, req).await
    }

    async fn get_share(
        &self,
        req: Request<api::GetShareRequest>,
    ) -> Result<Response<ShareStatus>, Status> {
        self.forwarder.forward(subjects::SHARE_GET, req).await
    }

    type WatchShareStream = WatchStream;

    async fn watch_share(
        &self,
        req: Request<api::GetShareRequest>,
    ) -> Result<Response<Self::WatchShareStream>, Status> {
        let metadata = req.metadata().clone();
        let share_id = req.into_inner().share_id;
        // Listening before the first read: no result falls between the two.
        let mut events = self
            .forwarder
            .bus()
            .subscribe(subjects::EVENTS_SHARE_CHANNEL_RESULT)
            .await
            .map_err(|e| {
                RichError::new(
                    Code::Unavailable,
                    reasons::BUS_UNAVAILABLE,
                    format!(
                        "the bus is unavailable, the share cannot be watched: {e}; retry later"
                    ),
                )
                .into_status()
            })?;
        // An unknown share or a bad id is answered at once, not in the stream.
        let first = self.get(&metadata, &share_id).await?;
        let (tx, rx) = mpsc::channel::<Result<ShareStatus, Status>>(8);
        let face = self.clone();
        tokio::spawn(async move {
            let finished = first.finished;
            let mut last = first.clone();
            if tx.send(Ok(first)).await.is_err() || finished {
                return;
            }
            let mut eager = 0u32;
            loop {
                let delay = if eager > 0 {
                    EAGER_DELAY
                } else {
                    face.watch_poll
                };
                tokio::select! {
                    () = tx.closed() => return,
                    () = face.shutdown.wait() => {
                        let stopping = RichError::new(
                            Code::Unavailable,
                            STOPPING,
                            "share-service is stopping: watch the share again (or read it with GetShare)",
                        );
                        let _ = tx.send(Err(stopping.into_status())).await;
                        return;
                    }
                    m = events.next() => match m {
                        Some(m) => {
                            let ours = ShareChannelResult::decode(m.payload)
                                .is_ok_and(|r| r.share_id == share_id);
                            if !ours {
                                continue;
                            }
                            eager = EAGER_READS;
                        }
                        // The subscription ended: polling alone from now on.
                        None => events = Box::pin(futures::stream::pending()),
                    },
                    () = tokio::time::sleep(delay) => eager = eager.saturating_sub(1),
                }
                match face.get(&metadata, &share_id).await {
                    Ok(status) if status != last => {
                        let finished = status.finished;
                        last = status.clone();
                        eager = 0;
                        if tx.send(Ok(status)).await.is_err() || finished {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn retry_share(
        &self,
        req: Request<api::RetryShareRequest>,
    ) -> Result<Response<ShareStatus>, Status> {
        self.forwarder.forward(subjects::SHARE_RETRY, req).await
    }
}
