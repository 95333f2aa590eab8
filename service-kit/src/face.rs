//! The gRPC face of a service: each call is put on the bus, so that any replica serving the
//! subject (this process or another) does the work. A service's tonic trait implementation
//! is one [`Forwarder::forward`] per method.

use std::time::Duration;

use bytes::Bytes;
use passerelle_bus::{BusError, SharedBus, proto_rpc};
use tonic::{Code, Request, Response, Status};

use crate::RequestId;
use crate::errors::RichError;

/// Reasons (google.rpc.ErrorInfo.reason) of the errors the face itself answers.
pub mod reasons {
    /// No worker serves the operation: start one (or check the bus and its permissions).
    pub const NO_WORKER: &str = "NO_WORKER";
    /// A worker took the request but did not answer within `grpc.request_timeout`.
    pub const WORKER_TIMEOUT: &str = "WORKER_TIMEOUT";
    /// The worker dropped the request (it was stopping): retry.
    pub const WORKER_DROPPED: &str = "WORKER_DROPPED";
    /// Every worker is busy: retry later.
    pub const WORKERS_OVERLOADED: &str = "WORKERS_OVERLOADED";
    /// The bus cannot be reached.
    pub const BUS_UNAVAILABLE: &str = "BUS_UNAVAILABLE";
    /// The request cannot travel on the bus (too large…).
    pub const REQUEST_NOT_SENDABLE: &str = "REQUEST_NOT_SENDABLE";
}

/// Forwards gRPC calls to the bus and their answers back.
#[derive(Clone)]
pub struct Forwarder {
    bus: SharedBus,
    timeout: Duration,
    service: &'static str,
}

impl Forwarder {
    /// `service`: the name used in messages ("ins-service"); `timeout`: how long a call
    /// waits for a worker's answer.
    pub fn new(bus: SharedBus, service: &'static str, timeout: Duration) -> Self {
        Self {
            bus,
            timeout,
            service,
        }
    }

    /// Sends the request on `subject` with its request id and answers with the worker's
    /// response or status. Nobody serving the subject is `UNAVAILABLE` (reason `NO_WORKER`)
    /// at once, not after the timeout: the bus knows there are no responders.
    pub async fn forward<Req, Resp>(
        &self,
        subject: &str,
        req: Request<Req>,
    ) -> Result<Response<Resp>, Status>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
    {
        let id = RequestId::of(&req);
        let payload = Bytes::from(req.get_ref().encode_to_vec());
        let reply = self
            .bus
            .request(subject, id.bus_headers(), payload, self.timeout)
            .await
            .map_err(|e| self.status_of(&e))?;
        proto_rpc::decode_reply(subject, reply.payload).map(Response::new)
    }

    /// What a caller reads when the bus could not bring an answer.
    fn status_of(&self, error: &BusError) -> Status {
        let service = self.service;
        let (code, reason, message) = match error {
            BusError::NoResponders { .. } => (
                Code::Unavailable,
                reasons::NO_WORKER,
                format!(
                    "no {service} worker is serving this operation: start one (ins-service \
                     without --grpc-only) or check the bus connection and its permissions"
                ),
            ),
            BusError::Timeout { after, .. } => (
                Code::DeadlineExceeded,
                reasons::WORKER_TIMEOUT,
                format!("no {service} worker answered within {after:?}; retry later"),
            ),
            BusError::NoReply { .. } => (
                Code::Unavailable,
                reasons::WORKER_DROPPED,
                format!("the {service} worker dropped the request (stopping?); retry"),
            ),
            BusError::Overloaded { .. } => (
                Code::ResourceExhausted,
                reasons::WORKERS_OVERLOADED,
                format!("every {service} worker is busy; retry later"),
            ),
            BusError::InvalidSubject { .. }
            | BusError::InvalidHeader { .. }
            | BusError::PayloadTooLarge { .. } => (
                Code::InvalidArgument,
                reasons::REQUEST_NOT_SENDABLE,
                format!("this request cannot be sent to the {service} workers: {error}"),
            ),
            _ => (
                Code::Unavailable,
                reasons::BUS_UNAVAILABLE,
                format!("the bus to the {service} workers is unavailable: {error}"),
            ),
        };
        RichError::new(code, reason, message).into_status()
    }

    pub fn bus(&self) -> &SharedBus {
        &self.bus
    }
}
