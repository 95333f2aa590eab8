//! The gRPC face of a service: each call is put on the bus, so that any replica serving the
//! subject (this process or another) does the work. A service's tonic trait implementation
//! is one [`Forwarder::forward`] per method.

use std::time::Duration;

use passerelle_bus::{SharedBus, proto_rpc};
use tonic::{Request, Response, Status};

use crate::RequestId;

/// Forwards gRPC calls to the bus and their answers back.
#[derive(Clone)]
pub struct Forwarder {
    bus: SharedBus,
    timeout: Duration,
}

impl Forwarder {
    /// `timeout`: how long a call waits for a worker's answer.
    pub fn new(bus: SharedBus, timeout: Duration) -> Self {
        Self { bus, timeout }
    }

    /// Sends the request on `subject` with its request id and answers with the worker's
    /// response or status. Nobody serving the subject is `UNAVAILABLE` at once (the bus
    /// knows there are no responders), not after the timeout.
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
        let reply: Resp = proto_rpc::call(
            self.bus.as_ref(),
            subject,
            id.bus_headers(),
            req.get_ref(),
            self.timeout,
        )
        .await?;
        Ok(Response::new(reply))
    }

    pub fn bus(&self) -> &SharedBus {
        &self.bus
    }
}
