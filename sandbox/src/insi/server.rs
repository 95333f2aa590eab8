//! HTTPS front of the simulator: mutual TLS (client certificate required, chained to
//! the test CA, refused at the handshake otherwise), then HTTP/1.1 with one endpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls_pki_types::CertificateDer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::assertion::{self, AssertionError, CpsTrust, VerifiedCps};
use super::identities::Registry;
use super::request::{self, Headers, Operation, Query};
use super::soap::{self, CONTENT_TYPE_SOAP12, Fault, NS_SOAP12, Outcome, SiramFault};
use super::xml::{self, XmlError};
use super::{FaultKind, FaultTrigger, INSI_ENDPOINT_PATH, InsiSandboxConfig, SandboxError};
use crate::common::tls::{self, TlsSetup};
use crate::pki::TestPki;

/// The WSDL we serve; `{ENDPOINT}` becomes the endpoint URL.
const WSDL_TEMPLATE: &str = include_str!("../../data/insi-sandbox.wsdl");
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Certificate CNs the service accepts for organisation (non-CPS) calls.
const ORG_CNS: [&str; 2] = ["INSI-AUTO", "INSI-MANU"];

type Body = Full<Bytes>;

pub(crate) fn tls_config(pki: &TestPki) -> Result<TlsSetup, SandboxError> {
    tls::config(pki, &[&rustls::version::TLS12, &rustls::version::TLS13])
}

pub(crate) struct State {
    config: InsiSandboxConfig,
    registry: Registry,
    cps_issuer: Vec<u8>,
    cps_trust: CpsTrust,
    addr: SocketAddr,
    soap_requests: AtomicU64,
}

impl State {
    pub fn new(
        config: InsiSandboxConfig,
        registry: Registry,
        cps_issuer: Vec<u8>,
        cps_ca_der: Vec<u8>,
        addr: SocketAddr,
    ) -> Self {
        let cps_trust = CpsTrust {
            ca_der: cps_ca_der,
            max_skew: config.assertion_max_skew,
        };
        Self {
            config,
            registry,
            cps_issuer,
            cps_trust,
            addr,
            soap_requests: AtomicU64::new(0),
        }
    }

    fn injected_fault(&self, n: u64) -> Option<&FaultKind> {
        let injection = self.config.fault_injection.as_ref()?;
        let fire = match injection.trigger {
            FaultTrigger::EveryNth(0) => false,
            FaultTrigger::EveryNth(k) => n.is_multiple_of(u64::from(k)),
            FaultTrigger::Probability(p) => rand::random::<f64>() < p,
        };
        fire.then_some(&injection.kind)
    }
}

/// Who is calling, from the TLS client certificate.
#[derive(Debug, Default)]
struct Client {
    cn: Option<String>,
    /// Issued by the sandbox's `TEST AC IGC-SANTE FORT PERSONNES`.
    test_cps: bool,
}

impl Client {
    fn from_certificates(certs: Option<&[CertificateDer<'_>]>, cps_issuer: &[u8]) -> Self {
        let Some(leaf) = certs.and_then(<[_]>::first) else {
            return Self::default();
        };
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf) else {
            return Self::default();
        };
        Self {
            cn: cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_owned),
            test_cps: cert.issuer().as_raw() == cps_issuer,
        }
    }

    /// Access: an organisation certificate (`INSI-AUTO`/`INSI-MANU`) without assertion;
    /// in CPS mode a verified assertion, over a session authenticated either by an
    /// organisation certificate or by the same card's authentication certificate.
    fn authorise(&self, cps: Option<&VerifiedCps>) -> Result<(), Fault> {
        let organisation = self.cn.as_deref().is_some_and(|cn| ORG_CNS.contains(&cn));
        match cps {
            None if organisation => Ok(()),
            Some(_) if organisation => Ok(()),
            Some(v) if self.test_cps => {
                if self.cn.as_deref() == Some(v.card_id.as_str()) {
                    Ok(())
                } else {
                    Err(SiramFault::bad_assertion(
                        DESIR_ASSERTION_IDENTITY,
                        "La carte de la session TLS n'est pas celle qui a signé l'assertion.",
                    )
                    .into())
                }
            }
            _ => Err(SiramFault::insufficient_rights().into()),
        }
    }
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
        "INSi sandbox",
        addr,
        |tcp, peer| connection(tcp, peer, acceptor.clone(), state.clone()),
    )
    .await;
}

/// Makes hyper drop the connection without answering (fault injection).
#[derive(Debug, thiserror::Error)]
#[error("connection closed")]
struct CloseConnection;

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
    let client = Arc::new(Client::from_certificates(
        tls.get_ref().1.peer_certificates(),
        &state.cps_issuer,
    ));
    let service = service_fn(move |req| {
        let state = state.clone();
        let client = client.clone();
        async move { route(req, &state, &client).await }
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

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn xml_response(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

async fn route(
    req: Request<Incoming>,
    state: &State,
    client: &Client,
) -> Result<Response<Body>, CloseConnection> {
    if req.uri().path() != INSI_ENDPOINT_PATH {
        return Ok(plain(StatusCode::NOT_FOUND, "Not Found\n"));
    }
    match *req.method() {
        Method::POST => soap_call(req, state, client).await,
        Method::GET
            if req
                .uri()
                .query()
                .is_some_and(|q| q.eq_ignore_ascii_case("wsdl")) =>
        {
            Ok(wsdl(&req, state))
        }
        _ => {
            let mut response = plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "POST a SOAP 1.2 request, or GET ?wsdl\n",
            );
            response
                .headers_mut()
                .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, POST"));
            Ok(response)
        }
    }
}

fn wsdl(req: &Request<Incoming>, state: &State) -> Response<Body> {
    // The address advertised is the one the client used, when it is a plain host[:port].
    let authority = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b".-:[]".contains(&c))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| state.addr.to_string());
    let endpoint = format!("https://{authority}{INSI_ENDPOINT_PATH}");
    xml_response(
        StatusCode::OK,
        "text/xml; charset=utf-8",
        WSDL_TEMPLATE.replace("{ENDPOINT}", &endpoint).into_bytes(),
    )
}

/// Media type (lower case) and `action` parameter of a Content-Type.
fn content_type(req: &Request<Incoming>) -> (String, Option<String>) {
    let value = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let action = parts.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("action")
            .then(|| value.trim().trim_matches('"').to_owned())
    });
    (media, action)
}

/// The answer to a SOAP request, with what the access log needs.
struct Answer {
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    message_id: Option<String>,
    operation: Option<Operation>,
    /// `CR 00`, a fault code…
    result: String,
}

impl Answer {
    fn fault(fault: &Fault, message_id: Option<String>, operation: Option<Operation>) -> Self {
        let body = match fault.render(message_id.as_deref()) {
            Ok(body) => body,
            Err(error) => return Self::internal(&error, message_id),
        };
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            content_type: fault.content_type(),
            body,
            message_id,
            operation,
            result: fault.log_code(),
        }
    }

    fn internal(error: &std::io::Error, message_id: Option<String>) -> Self {
        tracing::error!(%error, "cannot write the answer");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            content_type: "text/plain; charset=utf-8",
            body: b"Internal Server Error\n".to_vec(),
            message_id,
            operation: None,
            result: "internal error".into(),
        }
    }
}

async fn soap_call(
    req: Request<Incoming>,
    state: &State,
    client: &Client,
) -> Result<Response<Body>, CloseConnection> {
    let started = Instant::now();
    let n = state.soap_requests.fetch_add(1, Ordering::Relaxed) + 1;
    let (media, action) = content_type(&req);
    let soap11_media = match media.as_str() {
        "application/soap+xml" => false,
        // Only to tell a SOAP 1.1 client it has the wrong version.
        "text/xml" => true,
        _ => {
            return Ok(plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type application/soap+xml (SOAP 1.2) expected\n",
            ));
        }
    };
    let limit = state.config.max_body_bytes;
    let declared_length = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let answer = if declared_length.is_some_and(|l| l > limit as u64) {
        Answer::fault(&SiramFault::too_large(limit).into(), None, None)
    } else {
        match Limited::new(req.into_body(), limit).collect().await {
            Ok(body) => process(
                &body.to_bytes(),
                soap11_media,
                action.as_deref(),
                client,
                state,
            ),
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                Answer::fault(&SiramFault::too_large(limit).into(), None, None)
            }
            // The client went away or sent a broken body.
            Err(_) => return Err(CloseConnection),
        }
    };
    if answer.status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return Ok(plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type application/soap+xml (SOAP 1.2) expected\n",
        ));
    }

    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    let injected = state.injected_fault(n);
    let message_id = answer.message_id.as_deref().unwrap_or("-");
    let operation = answer.operation.map_or("-", Operation::name);
    let latency_ms = started.elapsed().as_millis();
    let response = match injected {
        None => {
            tracing::info!(message_id, operation, result = %answer.result, latency_ms, "INSi request");
            xml_response(answer.status, answer.content_type, answer.body)
        }
        Some(kind) => {
            tracing::info!(message_id, operation, injected = ?kind_name(kind), latency_ms, "INSi request (fault injected)");
            match kind {
                FaultKind::Http503 => {
                    plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n")
                }
                FaultKind::GarbageBody => xml_response(
                    StatusCode::OK,
                    CONTENT_TYPE_SOAP12,
                    b"\x00\x07<<< injected garbage, not XML >>>\xff".to_vec(),
                ),
                FaultKind::CloseConnection => return Err(CloseConnection),
                FaultKind::SoapFault {
                    subcode,
                    code,
                    text,
                } => {
                    let fault: Fault = SiramFault::injected(subcode, code, text).into();
                    let a = Answer::fault(&fault, answer.message_id.clone(), answer.operation);
                    xml_response(a.status, a.content_type, a.body)
                }
            }
        }
    };
    Ok(response)
}

// Detail codes of refused CPS assertions. None was captured: they are assumed (README).
const DESIR_ASSERTION_SIGNATURE: &str = "desir_561";
const DESIR_ASSERTION_CERTIFICATE: &str = "desir_562";
const DESIR_ASSERTION_IDENTITY: &str = "desir_563";
const DESIR_ASSERTION_INSTANT: &str = "desir_564";

/// The CPS assertion, verified, when the request carries one.
fn verify_assertion(
    envelope: &xml::Element,
    trust: &CpsTrust,
) -> Result<Option<VerifiedCps>, Fault> {
    let checked = assertion::find(envelope).and_then(|path| {
        path.map(|p| assertion::verify(&p, trust, time::OffsetDateTime::now_utc()))
            .transpose()
    });
    checked.map_err(|e| {
        let (code, detail) = match e {
            AssertionError::Signature(d) => (DESIR_ASSERTION_SIGNATURE, d),
            AssertionError::Certificate(d) => (DESIR_ASSERTION_CERTIFICATE, d),
            AssertionError::Identity(d) => (DESIR_ASSERTION_IDENTITY, d),
            AssertionError::Instant(d) => (DESIR_ASSERTION_INSTANT, d),
        };
        let detail = format!("Assertion CPS refusée : {detail}.");
        SiramFault::bad_assertion(code, detail).into()
    })
}

fn kind_name(kind: &FaultKind) -> &'static str {
    match kind {
        FaultKind::Http503 => "http-503",
        FaultKind::SoapFault { .. } => "soap-fault",
        FaultKind::GarbageBody => "garbage-body",
        FaultKind::CloseConnection => "close-connection",
    }
}

/// Everything after the body is read: parse, check, search, answer.
fn process(
    body: &[u8],
    soap11_media: bool,
    content_type_action: Option<&str>,
    client: &Client,
    state: &State,
) -> Answer {
    let envelope = match xml::parse(body) {
        Ok(root) => root,
        Err(error) => {
            // The detail names the kind of problem only, never request content.
            let detail = match error {
                XmlError::Doctype => "Les déclarations de type de document (DTD) sont interdites.",
                XmlError::TooDeep => "Le message est trop profondément imbriqué.",
                XmlError::Encoding => "Le message doit être encodé en UTF-8.",
                XmlError::Malformed(_) => "Le message n'est pas un document XML bien formé.",
            };
            return Answer::fault(&SiramFault::malformed(detail).into(), None, None);
        }
    };
    let message_id = request::message_id(&envelope);
    if soap11_media && envelope.is(NS_SOAP12, "Envelope") {
        // A SOAP 1.2 envelope sent as text/xml: the SOAP 1.2 HTTP binding refuses it.
        return Answer {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            content_type: "text/plain; charset=utf-8",
            body: Vec::new(),
            message_id,
            operation: None,
            result: "415".into(),
        };
    }
    let headers = match request::check_envelope(&envelope, content_type_action) {
        Ok(headers) => headers,
        Err(fault) => return Answer::fault(&fault, message_id, None),
    };
    let Headers {
        operation,
        message_id,
        idam,
    } = headers;
    let message_id = Some(message_id);
    let cps = match verify_assertion(&envelope, &state.cps_trust) {
        Ok(cps) => cps,
        Err(fault) => return Answer::fault(&fault, message_id, Some(operation)),
    };
    if let Err(fault) = client.authorise(cps.as_ref()) {
        return Answer::fault(&fault, message_id, Some(operation));
    }
    if !state.config.accepted_idams.is_empty() && !state.config.accepted_idams.contains(&idam) {
        return Answer::fault(
            &SiramFault::unknown_idam().into(),
            message_id,
            Some(operation),
        );
    }
    let query = match request::parse_body(&envelope, operation) {
        Ok(query) => query,
        Err(fault) => return Answer::fault(&fault, message_id, Some(operation)),
    };
    let found = match &query {
        Query::Traits(q) => state.registry.search_traits(q),
        Query::Vitale(q) => state.registry.search_vitale(q),
    };
    let outcome = match found.as_slice() {
        [] => Outcome::NotFound,
        [one] => Outcome::One(one),
        _ => Outcome::Several,
    };
    match soap::render_resultat(&outcome) {
        Ok(body) => Answer {
            status: StatusCode::OK,
            content_type: CONTENT_TYPE_SOAP12,
            body,
            message_id,
            operation: Some(operation),
            result: format!("CR {}", outcome.code()),
        },
        Err(error) => Answer::internal(&error, message_id),
    }
}
