//! Progress of one request, streamed to a gRPC client as a worker publishes it on the bus.
//!
//! The face subscribes to the request's progress subject ([`progress_subject`]) with
//! [`subscribe_progress`] *before* sending the request on the bus, then returns the stream
//! as its tonic server stream. The worker publishes items with [`publish_progress`], the
//! last one marked final (or [`publish_progress_error`]). The stream ends after the final
//! item or an error, and with DEADLINE_EXCEEDED if nothing arrives within the idle timeout
//! (the worker vanished).

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt, stream};
use passerelle_bus::{BusError, Headers, SharedBus, subjects};
use serde::Deserialize;
use tonic::{Code, Status};

/// Prefix of the progress subjects: `passerelle.progress.v1.<request id>`.
pub const PROGRESS_PREFIX: &str = "passerelle.progress.v1";
/// Header of the last item.
pub const FINAL_HEADER: &str = "Passerelle-Progress-Final";
/// Header of an error ending the stream: the gRPC code, the payload is the message.
pub const ERROR_HEADER: &str = "Passerelle-Progress-Error";

/// Settings of a progress stream. In configuration files: `idle_timeout = "30s"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgressConfig {
    /// Longest wait for the next item before the stream ends with DEADLINE_EXCEEDED.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
}

impl Default for ProgressConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// Items of one request's progress, as a tonic server stream.
pub type ProgressStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The progress subject of the request `request_id` (one subject token: letters, digits,
/// `-`, `_`, as request ids are).
pub fn progress_subject(request_id: &str) -> Result<String, BusError> {
    subjects::validate_token(request_id)?;
    Ok(format!("{PROGRESS_PREFIX}.{request_id}"))
}

/// Subscribes to `subject`; call before sending the request the progress is about.
pub async fn subscribe_progress<T>(
    bus: &SharedBus,
    subject: &str,
    config: ProgressConfig,
) -> Result<ProgressStream<T>, BusError>
where
    T: prost::Message + Default + 'static,
{
    let messages = bus.subscribe(subject).await?;
    let idle = config.idle_timeout;
    let items = stream::unfold(Some(messages), move |state| async move {
        let mut messages = state?;
        let item = match tokio::time::timeout(idle, messages.next()).await {
            Err(_) => {
                return Some((
                    Err(Status::deadline_exceeded(format!(
                        "no progress for {idle:?}: the worker stopped or is stuck; retry the \
                         request"
                    ))),
                    None,
                ));
            }
            Ok(None) => {
                return Some((
                    Err(Status::unavailable(
                        "the bus closed the progress stream; retry",
                    )),
                    None,
                ));
            }
            Ok(Some(message)) => message,
        };
        if let Some(code) = item.headers.get(ERROR_HEADER) {
            let code = Code::from_i32(code.parse().unwrap_or(Code::Unknown as i32));
            let text = String::from_utf8_lossy(&item.payload).into_owned();
            return Some((Err(Status::new(code, text)), None));
        }
        let last = item.headers.contains_key(FINAL_HEADER);
        let decoded = T::decode(item.payload)
            .map_err(|e| Status::internal(format!("malformed progress item from the worker: {e}")));
        let next = if last || decoded.is_err() {
            None
        } else {
            Some(messages)
        };
        Some((decoded, next))
    });
    Ok(Box::pin(items))
}

/// Publishes one progress item; `last` ends the client's stream.
pub async fn publish_progress<T: prost::Message>(
    bus: &SharedBus,
    subject: &str,
    item: &T,
    last: bool,
) -> Result<(), BusError> {
    let mut headers = Headers::new();
    if last {
        headers.insert(FINAL_HEADER.to_owned(), "1".to_owned());
    }
    bus.publish(subject, headers, Bytes::from(item.encode_to_vec()))
        .await
}

/// Ends the client's stream with `status` (code and message).
pub async fn publish_progress_error(
    bus: &SharedBus,
    subject: &str,
    status: &Status,
) -> Result<(), BusError> {
    let headers = Headers::from([(ERROR_HEADER.to_owned(), (status.code() as i32).to_string())]);
    bus.publish(subject, headers, Bytes::from(status.message().to_owned()))
        .await
}
