//! A request id on every call and every log line: taken from the caller's `x-request-id` when
//! it is a sane token, generated otherwise, echoed in the response, carried on the bus.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tracing::Instrument;

/// gRPC metadata / HTTP header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Bus header carrying the request id.
pub const REQUEST_ID_BUS_HEADER: &str = "request-id";

const MAX_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// Accepts a caller's id when it is short printable ASCII without spaces: ids end up in
    /// logs, so anything else is replaced rather than trusted.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = !s.is_empty()
            && s.len() <= MAX_LEN
            && s.bytes().all(|b| b.is_ascii_graphic() && b != b'"');
        ok.then(|| Self(s.to_owned()))
    }

    /// The id of a gRPC request (set by [`RequestIdLayer`]), or a new one.
    pub fn of<T>(req: &tonic::Request<T>) -> Self {
        req.metadata()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(Self::parse)
            .unwrap_or_else(Self::generate)
    }

    /// The id carried in bus headers, or a new one.
    pub fn from_bus(headers: &passerelle_bus::Headers) -> Self {
        headers
            .get(REQUEST_ID_BUS_HEADER)
            .and_then(|v| Self::parse(v))
            .unwrap_or_else(Self::generate)
    }

    /// Bus headers carrying this id.
    pub fn bus_headers(&self) -> passerelle_bus::Headers {
        let mut h = passerelle_bus::Headers::new();
        h.insert(REQUEST_ID_BUS_HEADER.to_owned(), self.0.clone());
        h
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Tower layer that makes sure every gRPC request has a request id, runs it inside a span
/// carrying that id, and echoes the id in the response headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> tower::Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RequestIdService<S> {
    inner: S,
}

impl<S, B, RB> tower::Service<http::Request<B>> for RequestIdService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let id = req
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(RequestId::parse)
            .unwrap_or_else(RequestId::generate);
        // The id was checked to be visible ASCII, so it is always a valid header value.
        let value = http::HeaderValue::from_str(id.as_str()).ok();
        if let Some(v) = &value {
            req.headers_mut().insert(REQUEST_ID_HEADER, v.clone());
        }
        let span = tracing::info_span!("grpc", request_id = %id, method = %req.uri().path());
        let fut = self.inner.call(req);
        Box::pin(
            async move {
                let mut resp = fut.await?;
                if let Some(v) = value {
                    resp.headers_mut().insert(REQUEST_ID_HEADER, v);
                }
                Ok(resp)
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept_others_replaced() {
        assert_eq!(RequestId::parse("abc-123").unwrap().as_str(), "abc-123");
        assert!(RequestId::parse("").is_none());
        assert!(RequestId::parse("has space").is_none());
        assert!(RequestId::parse(&"x".repeat(129)).is_none());
        assert!(RequestId::parse("é").is_none());
    }
}
