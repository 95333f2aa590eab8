//! Typed protobuf request/reply over any [`Bus`], with errors travelling as gRPC statuses.
//!
//! The request payload is the protobuf request itself; the reply is a
//! `passerelle.bus.v1.Reply`: either the encoded response or a status with its code, message
//! and `details` (the encoded `google.rpc.Status`, as in the `grpc-status-details-bin`
//! trailer). A gateway can thus hand the caller exactly the status the service produced,
//! rich error details (tonic-types) included, as if the service had been called over gRPC.

use std::any::type_name;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use passerelle_proto::bus::v1::{Reply, Status as ReplyStatus, reply::Outcome};
use prost::Message as _;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tonic::{Code, Status};

use crate::subjects::{HEADER_REQUEST_ID, serving_service};
use crate::{Bus, BusError, DrainHandle, Headers, IncomingRequest, RequestStream};

/// Sends `req` on `subject` and decodes the typed response, or the status the server
/// replied with. Bus failures become statuses a gRPC client understands (see
/// [`status_from_bus_error`]).
pub async fn call<Req, Resp>(
    bus: &dyn Bus,
    subject: &str,
    headers: Headers,
    req: &Req,
    timeout: Duration,
) -> Result<Resp, Status>
where
    Req: prost::Message,
    Resp: prost::Message + Default,
{
    let reply = bus
        .request(subject, headers, Bytes::from(req.encode_to_vec()), timeout)
        .await
        .map_err(|e| status_from_bus_error(&e))?;
    decode_reply(subject, reply.payload)
}

/// The typed response in a reply envelope from [`reply_ok`], or the status of [`reply_err`].
pub fn decode_reply<Resp>(subject: &str, payload: Bytes) -> Result<Resp, Status>
where
    Resp: prost::Message + Default,
{
    let reply = Reply::decode(payload)
        .map_err(|e| Status::internal(format!("malformed reply envelope on {subject}: {e}")))?;
    match reply.outcome {
        Some(Outcome::Ok(bytes)) => Resp::decode(bytes.as_slice()).map_err(|e| {
            Status::internal(format!(
                "malformed {} in the reply on {subject}: {e}",
                type_name::<Resp>()
            ))
        }),
        Some(Outcome::Error(status)) => Err(Status::with_details(
            Code::from_i32(status.code),
            status.message,
            Bytes::from(status.details),
        )),
        None => Err(Status::internal(format!("empty reply on {subject}"))),
    }
}

/// The reply carrying a successful response.
pub fn reply_ok<M: prost::Message>(m: &M) -> Bytes {
    Reply {
        outcome: Some(Outcome::Ok(m.encode_to_vec())),
    }
    .encode_to_vec()
    .into()
}

/// The reply carrying an error status, details included.
pub fn reply_err(status: &Status) -> Bytes {
    Reply {
        outcome: Some(Outcome::Error(ReplyStatus {
            code: status.code() as i32,
            message: status.message().to_owned(),
            details: status.details().to_vec(),
        })),
    }
    .encode_to_vec()
    .into()
}

/// The status a caller gets for a bus failure. The message says what to do about it: these
/// end up in front of operators.
pub fn status_from_bus_error(error: &BusError) -> Status {
    match error {
        BusError::NoResponders { subject } => Status::unavailable(format!(
            "no {} is serving {subject}: start one or check the bus",
            serving_service(subject).unwrap_or("service")
        )),
        BusError::Timeout { subject, after } => {
            Status::deadline_exceeded(format!("no answer on {subject} within {after:?}"))
        }
        BusError::NoReply { subject } => Status::unavailable(format!(
            "the {} serving {subject} dropped the request (shutting down?); retry",
            serving_service(subject).unwrap_or("service")
        )),
        BusError::Overloaded { subject } => Status::resource_exhausted(format!(
            "every {} serving {subject} is overloaded; retry later",
            serving_service(subject).unwrap_or("service")
        )),
        BusError::Connection(_)
        | BusError::Closed
        | BusError::Authentication(_)
        | BusError::Tls(_) => Status::unavailable(format!("bus unavailable: {error}")),
        BusError::InvalidSubject { .. }
        | BusError::InvalidHeader { .. }
        | BusError::PayloadTooLarge { .. } => Status::invalid_argument(error.to_string()),
        BusError::Storage(_) => Status::unavailable(format!(
            "durable store unavailable: {error}; check the NATS server's JetStream or the \
             embedded data directory, then retry"
        )),
        BusError::Durable(_) | BusError::Decode(_) => Status::internal(error.to_string()),
    }
}

/// Serves typed requests from `stream`: decodes each one (a malformed payload is answered
/// `InvalidArgument`), runs `handler(headers, request)` with at most `concurrency` requests
/// in flight (each on its own task, so handlers run in parallel), and replies.
///
/// Returns once the stream has ended **and** the in-flight handlers have replied. A
/// panicking handler is answered `Internal` and does not stop the others. Replies carry the
/// request's [`HEADER_REQUEST_ID`] header back.
///
/// For graceful shutdown use [`serve_typed_until`]: ending the stream some other way (e.g.
/// `take_until` on a shutdown signal) drops it, and with it the requests it still holds.
pub async fn serve_typed<Req, Resp, F, Fut>(stream: RequestStream, concurrency: usize, handler: F)
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: Fn(Headers, Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    serve_loop(stream, permits, handler, SlotFirst::Yes).await
}

/// As [`serve_typed`], the requests in flight bounded by `permits`, which several subjects
/// may share: one limit for everything a server does. Each subject takes its next request
/// before waiting for a slot (an idle subject holding a slot would starve the others), so a
/// saturated server holds at most one waiting request per subject.
pub async fn serve_typed_with_permits<Req, Resp, F, Fut>(
    stream: RequestStream,
    permits: Arc<Semaphore>,
    handler: F,
) where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: Fn(Headers, Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    serve_loop(stream, permits, handler, SlotFirst::No).await
}

/// Whether a serving loop takes a slot before its next request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SlotFirst {
    /// The semaphore is this loop's own: waiting requests stay queued on the bus side.
    Yes,
    /// The semaphore is shared with other loops: take the request, then wait for a slot.
    No,
}

async fn serve_loop<Req, Resp, F, Fut>(
    mut stream: RequestStream,
    permits: Arc<Semaphore>,
    handler: F,
    slot_first: SlotFirst,
) where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: Fn(Headers, Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    let handler = Arc::new(handler);
    let mut in_flight = JoinSet::new();
    loop {
        let early = if slot_first == SlotFirst::Yes {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            Some(permit)
        } else {
            None
        };
        // Reap finished tasks as we go so the set does not grow with the uptime.
        while in_flight.try_join_next().is_some() {}
        let Some(request) = stream.next().await else {
            break;
        };
        let permit = match early {
            Some(p) => p,
            None => match permits.clone().acquire_owned().await {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let handler = handler.clone();
        in_flight.spawn(async move {
            handle_one::<Req, Resp, F, Fut>(request, handler.as_ref()).await;
            drop(permit);
        });
    }
    // The stream is over: drop it (unsubscribes) and let the accepted requests finish.
    drop(stream);
    while in_flight.join_next().await.is_some() {}
}

/// [`serve_typed`] until `shutdown` resolves, then a graceful stop: drains the subscription
/// (`drain`, from [`Bus::serve_drainable`] with `stream`) so that new requests go to the
/// other members of the queue group, serves every request already delivered to this server,
/// waits for the in-flight handlers, and returns.
///
/// Also returns if the stream ends by itself (connection closed), without waiting for
/// `shutdown`.
///
/// ```no_run
/// # use passerelle_bus::{BusError, SharedBus, subjects};
/// # use passerelle_proto::ins::v1::{CheckMatriculeRequest, CheckMatriculeResponse};
/// # async fn example(
/// #     bus: SharedBus,
/// #     mut stop: tokio::sync::watch::Receiver<bool>,
/// # ) -> Result<(), BusError> {
/// let (stream, drain) = bus
///     .serve_drainable(subjects::INS_CHECK_MATRICULE, subjects::INS_QUEUE_GROUP)
///     .await?;
/// let shutdown = async move {
///     let _ = stop.wait_for(|stop| *stop).await;
/// };
/// passerelle_bus::proto_rpc::serve_typed_until(
///     stream,
///     drain,
///     shutdown,
///     8,
///     |_headers, req: CheckMatriculeRequest| async move {
///         Ok::<_, tonic::Status>(CheckMatriculeResponse {
///             valid: true,
///             expected_key: req.key,
///             message: String::new(),
///         })
///     },
/// )
/// .await;
/// # Ok(())
/// # }
/// ```
pub async fn serve_typed_until<Req, Resp, F, Fut, S>(
    stream: RequestStream,
    drain: DrainHandle,
    shutdown: S,
    concurrency: usize,
    handler: F,
) where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: Fn(Headers, Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
    S: Future<Output = ()> + Send,
{
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    serve_typed_until_with_permits(stream, drain, shutdown, permits, handler).await
}

/// As [`serve_typed_until`], the requests in flight bounded by `permits` (see
/// [`serve_typed_with_permits`]).
pub async fn serve_typed_until_with_permits<Req, Resp, F, Fut, S>(
    stream: RequestStream,
    drain: DrainHandle,
    shutdown: S,
    permits: Arc<Semaphore>,
    handler: F,
) where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: Fn(Headers, Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, Status>> + Send + 'static,
    S: Future<Output = ()> + Send,
{
    let serving = serve_typed_with_permits(stream, permits, handler);
    let drain_on_shutdown = async move {
        shutdown.await;
        if let Err(e) = drain.drain().await {
            // The stream still ends, with the connection; nothing more to do here.
            tracing::warn!(error = %e, "could not confirm the drain of a subscription");
        }
        // From here on, only the end of the stream (serving) finishes the select.
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = serving => {}
        () = drain_on_shutdown => {}
    }
}

async fn handle_one<Req, Resp, F, Fut>(request: IncomingRequest, handler: &F)
where
    Req: prost::Message + Default,
    Resp: prost::Message,
    F: Fn(Headers, Req) -> Fut,
    Fut: Future<Output = Result<Resp, Status>>,
{
    let subject = request.subject.clone();
    let reply = match Req::decode(request.payload.clone()) {
        Err(e) => reply_err(&Status::invalid_argument(format!(
            "malformed {} on {subject}: {e}",
            type_name::<Req>()
        ))),
        Ok(req) => {
            // The handler is only reached through `&F` and its own future: a panic leaves
            // nothing of ours half-updated, so answering and carrying on is sound.
            let headers = request.headers.clone();
            let outcome = std::panic::AssertUnwindSafe(async move { handler(headers, req).await })
                .catch_unwind()
                .await;
            match outcome {
                Ok(Ok(resp)) => reply_ok(&resp),
                Ok(Err(status)) => reply_err(&status),
                Err(_) => {
                    tracing::error!(%subject, "request handler panicked");
                    reply_err(&Status::internal(format!(
                        "the handler of {subject} failed unexpectedly"
                    )))
                }
            }
        }
    };
    // The request id comes back with the reply, so a requester juggling several can match.
    let reply_headers: Headers = request
        .headers
        .get_key_value(HEADER_REQUEST_ID)
        .map(|(k, v)| (k.clone(), v.clone()))
        .into_iter()
        .collect();
    if let Err(e) = request.reply(reply_headers, reply).await {
        tracing::warn!(%subject, error = %e, "could not send the reply");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_errors_map_to_statuses() {
        let s = status_from_bus_error(&BusError::NoResponders {
            subject: crate::subjects::INS_SEARCH_BY_TRAITS.to_owned(),
        });
        assert_eq!(s.code(), Code::Unavailable);
        assert_eq!(
            s.message(),
            "no ins-service is serving passerelle.ins.v1.search: start one or check the bus"
        );
        let s = status_from_bus_error(&BusError::Timeout {
            subject: "a.b".to_owned(),
            after: Duration::from_secs(1),
        });
        assert_eq!(s.code(), Code::DeadlineExceeded);
        let s = status_from_bus_error(&BusError::InvalidSubject {
            subject: "a..b".to_owned(),
            reason: "empty token".to_owned(),
        });
        assert_eq!(s.code(), Code::InvalidArgument);
    }

    #[test]
    fn reply_err_keeps_details() {
        let status = Status::with_details(Code::NotFound, "gone", Bytes::from_static(b"\x01\x02"));
        let reply = Reply::decode(reply_err(&status)).expect("valid reply");
        let Some(Outcome::Error(s)) = reply.outcome else {
            panic!("expected an error outcome");
        };
        assert_eq!(s.code, Code::NotFound as i32);
        assert_eq!(s.message, "gone");
        assert_eq!(&s.details[..], b"\x01\x02");
    }
}
