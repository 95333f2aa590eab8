//! HTTPS front of the directory sandbox: TLS 1.2/1.3 with the sandbox's server certificate
//! (no client certificate: the real API authenticates the application by its key), HTTP/1.1,
//! the `ESANTE-API-KEY` header checked before anything else (401 OperationOutcome), then
//! `GET [base]/Type?…`, `POST [base]/Type/_search` (form body), `GET [base]/Type/id` and
//! `GET [base]/metadata`. PUT and DELETE are refused, as the gateway refuses them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::resources::outcome;
use super::search::{self, Refusal};
use super::seed::Seed;
use super::{API_KEY_HEADER, DIRECTORY_FHIR_PATH};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A `_search` form body: parameters only.
const MAX_BODY_BYTES: usize = 64 * 1024;
const CT_FHIR_JSON: &str = "application/fhir+json;charset=utf-8";

type Body = Full<Bytes>;

pub(crate) struct State {
    pub seed: Seed,
    pub api_keys: Vec<String>,
    pub addr: SocketAddr,
    pub requests: AtomicU64,
}

pub(crate) async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    stop: watch::Receiver<bool>,
) {
    let addr = state.addr;
    crate::common::serve::accept_until_stopped(
        listener,
        stop,
        "directory sandbox",
        addr,
        |tcp, peer| connection(tcp, peer, acceptor.clone(), state.clone()),
    )
    .await;
}

async fn connection(tcp: TcpStream, peer: SocketAddr, acceptor: TlsAcceptor, state: Arc<State>) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::info!(%peer, %error, "TLS handshake refused");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let service = service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, std::convert::Infallible>(route(req, &state).await) }
    });
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(tls), service)
        .await;
    if let Err(error) = served {
        tracing::debug!(%peer, %error, "connection ended");
    }
}

fn json(status: StatusCode, body: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec_pretty(body).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(CT_FHIR_JSON));
    r
}

fn refusal(r: &Refusal) -> Response<Body> {
    json(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
        &outcome(r.code, &r.diagnostics),
    )
}

/// The base URL as the client reached it (links must lead back to the same origin).
fn base_url(req: &Request<Incoming>, addr: SocketAddr) -> String {
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .map_or_else(|| addr.to_string(), str::to_owned);
    format!("https://{host}{DIRECTORY_FHIR_PATH}")
}

async fn route(req: Request<Incoming>, state: &State) -> Response<Body> {
    let n = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = answer(req, state).await;
    // Only the resource path and the outcome: queries name professionals.
    tracing::info!(request = n, %method, %path, status = response.status().as_u16(), "directory sandbox");
    response
}

async fn answer(req: Request<Incoming>, state: &State) -> Response<Body> {
    let Some(rest) = req
        .uri()
        .path()
        .strip_prefix(DIRECTORY_FHIR_PATH)
        .map(str::to_owned)
    else {
        return json(
            StatusCode::NOT_FOUND,
            &outcome("not-found", "no route: the API is under /fhir/v2"),
        );
    };
    // The gateway checks the key before routing.
    let key = req
        .headers()
        .get(API_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    match key {
        None | Some("") => {
            return json(
                StatusCode::UNAUTHORIZED,
                &outcome(
                    "security",
                    "Unauthorized: no API key (header ESANTE-API-KEY) in the request",
                ),
            );
        }
        Some(k) if !state.api_keys.iter().any(|known| known == k) => {
            return json(
                StatusCode::UNAUTHORIZED,
                &outcome("security", "Unauthorized: the API key is not valid"),
            );
        }
        Some(_) => {}
    }
    let base = base_url(&req, state.addr);
    let segments: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let method = req.method().clone();
    let query = req.uri().query().unwrap_or_default().to_owned();
    match (&method, segments.as_slice()) {
        (&Method::GET, []) | (&Method::POST, []) => json(
            StatusCode::NOT_FOUND,
            &outcome(
                "not-supported",
                "route root non gérée par la gateway: one request per resource type",
            ),
        ),
        (&Method::GET, [m]) if m == "metadata" => {
            json(StatusCode::OK, &search::capability_statement())
        }
        (&Method::GET, [t]) => {
            let params = search::parse_query(&query);
            match search::search(&state.seed, t, &params, &base) {
                Ok(bundle) => json(StatusCode::OK, &bundle),
                Err(r) => refusal(&r),
            }
        }
        (&Method::POST, [t, s]) if s == "_search" => {
            let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
            {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    return json(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &outcome("too-costly", "the _search body is too large"),
                    );
                }
            };
            let mut params = search::parse_query(&query);
            params.extend(search::parse_query(&String::from_utf8_lossy(&body)));
            match search::search(&state.seed, t, &params, &base) {
                Ok(bundle) => json(StatusCode::OK, &bundle),
                Err(r) => refusal(&r),
            }
        }
        (&Method::GET, [t, id]) => {
            if !search::TYPES.contains(&t.as_str()) {
                return refusal(&Refusal {
                    status: 404,
                    code: "processing",
                    diagnostics: format!(
                        "HAPI-0302: Unknown resource type '{t}' - Server knows how to handle: [{}]",
                        search::TYPES.join(", ")
                    ),
                });
            }
            match search::read(&state.seed, t, id) {
                Some(r) => json(StatusCode::OK, &r),
                None => json(
                    StatusCode::NOT_FOUND,
                    &outcome(
                        "processing",
                        &format!("HAPI-2001: Resource {t}/{id} is not known"),
                    ),
                ),
            }
        }
        (&Method::PUT | &Method::DELETE | &Method::PATCH, _) => json(
            StatusCode::METHOD_NOT_ALLOWED,
            &outcome("not-supported", "PUT, PATCH and DELETE are not allowed"),
        ),
        _ => json(
            StatusCode::BAD_REQUEST,
            &outcome(
                "not-supported",
                "GET [base]/Type?… or POST [base]/Type/_search",
            ),
        ),
    }
}
