//! HTTPS front of the DMP simulator: mutual TLS 1.2, HTTP/1.1, one path per service,
//! SOAP 1.2 bodies plain or MTOM, WS-Addressing, the VIHF, then the transaction.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::soap::{self, Fault, FaultCode, NS_SOAP11, NS_SOAP12, NS_WSA};
use super::store::Store;
use super::vihf::{self, TlsClient, Trust, Vihf};
use super::{DMP_SERVICES_PATH, DMP_VIEW_PATH, DmpSandboxConfig, faults, mtom};
use crate::common::tls::TlsSetup;
use crate::common::xml::{self, Element};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const CT_SOAP12: &str = "application/soap+xml; charset=utf-8";

type Body = Full<Bytes>;

pub(crate) struct State {
    pub config: DmpSandboxConfig,
    pub store: Store,
    trust: Trust,
    cps_issuer: Vec<u8>,
    addr: SocketAddr,
    requests: AtomicU64,
}

impl State {
    pub fn new(config: DmpSandboxConfig, store: Store, tls: &TlsSetup, addr: SocketAddr) -> Self {
        let trust = Trust {
            ca_der: tls.ca_der.clone(),
            cps_ca_der: tls.cps_ca_der.clone(),
            max_skew: config.vihf_max_skew,
        };
        Self {
            config,
            store,
            trust,
            cps_issuer: tls.cps_issuer.clone(),
            addr,
            requests: AtomicU64::new(0),
        }
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// A transaction's input.
pub(crate) struct Call<'a> {
    /// The first element of the SOAP Body.
    pub body: &'a Element,
    /// MTOM parts by Content-ID.
    pub parts: &'a HashMap<String, Bytes>,
    pub vihf: Vihf,
    pub store: &'a Store,
    pub now: time::OffsetDateTime,
}

/// A transaction's answer: the response action, the body's content (an XML fragment) and
/// the XOP parts.
pub(crate) struct Reply {
    pub action: &'static str,
    pub body: Vec<u8>,
    pub attachments: Vec<(String, String, Vec<u8>)>,
    /// Answer as MTOM even without attachments.
    pub mtom: bool,
    /// For the access log (a status or code, never patient data).
    pub result: String,
}

type Handler = fn(&Call<'_>) -> Result<Reply, Fault>;

/// The services, their request actions (PROTOCOL-NOTES table) and handlers.
fn handler(service: &str, action: &str) -> Option<Handler> {
    use super::{habilitations, hl7v3, registry, repository};
    Some(match (service, action) {
        ("patients", "urn:hl7-org:v3:PRPA_IN201307UV02") => hl7v3::td02,
        ("habilitations", "urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorization") => {
            habilitations::set_authorization
        }
        ("patientsSpecific", "urn:si-dmp-patients:PatientSpecificEndPoint:patientList") => {
            habilitations::patient_list
        }
        ("registry", "urn:ihe:iti:2007:RegistryStoredQuery") => registry::query::stored_query,
        ("registry", "urn:ihe:iti:2010:UpdateDocumentSet") => registry::update::update_document_set,
        ("repository", "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b") => {
            registry::submit::provide_and_register
        }
        ("repository", "urn:ihe:iti:2007:RetrieveDocumentSet") => repository::retrieve,
        _ => return None,
    })
}

const SERVICES: [&str; 5] = [
    "patients",
    "habilitations",
    "patientsSpecific",
    "registry",
    "repository",
];

pub(crate) async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    stop: watch::Receiver<bool>,
) {
    let addr = state.addr;
    crate::common::serve::accept_until_stopped(listener, stop, "DMP sandbox", addr, |tcp, peer| {
        connection(tcp, peer, acceptor.clone(), state.clone())
    })
    .await;
}

/// Makes hyper drop the connection without answering (fault injection).
#[derive(Debug, thiserror::Error)]
#[error("connection closed")]
pub(crate) struct CloseConnection;

fn tls_client(
    certs: Option<&[rustls_pki_types::CertificateDer<'_>]>,
    cps_issuer: &[u8],
) -> TlsClient {
    let Some(leaf) = certs.and_then(|c| c.first()) else {
        return TlsClient::default();
    };
    match x509_parser::parse_x509_certificate(leaf) {
        Ok((_, cert)) => TlsClient {
            cn: cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_owned),
            is_cps: cert.issuer().as_raw() == cps_issuer,
        },
        Err(_) => TlsClient::default(),
    }
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
    let client = Arc::new(tls_client(
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

pub(crate) fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    response(
        status,
        "text/plain; charset=utf-8",
        text.as_bytes().to_vec(),
    )
}

pub(crate) fn response(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

async fn route(
    req: Request<Incoming>,
    state: &State,
    client: &TlsClient,
) -> Result<Response<Body>, CloseConnection> {
    let path = req.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix(DMP_VIEW_PATH) {
        if req.method() != Method::GET {
            return Ok(plain(StatusCode::METHOD_NOT_ALLOWED, "GET only\n"));
        }
        return Ok(super::view::answer(rest, req.uri().query(), &state.store));
    }
    let Some(service) = path
        .strip_prefix(DMP_SERVICES_PATH)
        .and_then(|s| s.strip_prefix('/'))
        .filter(|s| SERVICES.contains(s))
        .map(str::to_owned)
    else {
        return Ok(plain(StatusCode::NOT_FOUND, "Not Found\n"));
    };
    if req.method() != Method::POST {
        return Ok(plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "POST a SOAP 1.2 request\n",
        ));
    }
    soap_call(req, &service, state, client).await
}

/// The answer before latency and fault injection.
struct Answer {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
    relates_to: Option<String>,
    action: String,
    result: String,
}

impl Answer {
    fn fault(fault: &Fault, relates_to: Option<String>, action: &str) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            content_type: CT_SOAP12.into(),
            body: fault.render(relates_to.as_deref()),
            relates_to,
            action: action.to_owned(),
            result: fault.log_code(),
        }
    }
}

async fn soap_call(
    req: Request<Incoming>,
    service: &str,
    state: &State,
    client: &TlsClient,
) -> Result<Response<Body>, CloseConnection> {
    let started = Instant::now();
    let n = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let limit = state.config.max_body_bytes;
    let too_large = || {
        Answer::fault(
            &Fault::sender(
                "DMPRequestTooLarge",
                format!("La requête dépasse {limit} octets."),
            ),
            None,
            "-",
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let answer = if declared.is_some_and(|l| l > limit as u64) {
        too_large()
    } else {
        match Limited::new(req.into_body(), limit).collect().await {
            Ok(body) => process(
                &body.to_bytes(),
                &media,
                &content_type,
                service,
                client,
                state,
            ),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => too_large(),
            Err(_) => return Err(CloseConnection),
        }
    };
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    let latency_ms = started.elapsed().as_millis();
    let relates = answer.relates_to.as_deref().unwrap_or("-");
    if let Some(kind) = faults::injected(state.config.fault_injection.as_ref(), n) {
        tracing::info!(message_id = relates, service, action = %answer.action, injected = faults::name(kind), latency_ms, "DMP request (fault injected)");
        return faults::respond(kind, answer.relates_to.as_deref());
    }
    tracing::info!(message_id = relates, service, action = %answer.action, result = %answer.result, latency_ms, "DMP request");
    Ok(response(answer.status, &answer.content_type, answer.body))
}

fn process(
    raw: &Bytes,
    media: &str,
    content_type: &str,
    service: &str,
    client: &TlsClient,
    state: &State,
) -> Answer {
    let malformed =
        |what: String| Answer::fault(&Fault::sender("DMPMalformedRequest", what), None, "-");
    // 1. The body: plain SOAP 1.2, MTOM, or text/xml (only to answer VersionMismatch).
    let mut is_mtom = false;
    let (envelope_bytes, parts) = match media {
        "application/soap+xml" | "text/xml" => (raw.clone(), HashMap::new()),
        "multipart/related" => {
            let ok_type = mtom::param(content_type, "type")
                .is_some_and(|t| t.eq_ignore_ascii_case("application/xop+xml"));
            let Some(boundary) = mtom::param(content_type, "boundary").filter(|_| ok_type) else {
                return Answer {
                    status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    content_type: "text/plain; charset=utf-8".into(),
                    body: b"multipart/related needs type=\"application/xop+xml\" and a boundary\n"
                        .to_vec(),
                    relates_to: None,
                    action: "-".into(),
                    result: "415".into(),
                };
            };
            match mtom::parse(
                raw,
                &boundary,
                mtom::param(content_type, "start").as_deref(),
            ) {
                Ok(p) => {
                    is_mtom = true;
                    (p.root, p.parts)
                }
                Err(e) => return malformed(format!("Paquet MTOM illisible : {e}.")),
            }
        }
        _ => {
            return Answer {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                content_type: "text/plain; charset=utf-8".into(),
                body: b"Content-Type application/soap+xml (SOAP 1.2) or multipart/related (MTOM) expected\n".to_vec(),
                relates_to: None,
                action: "-".into(),
                result: "415".into(),
            };
        }
    };
    let envelope = match xml::parse(&envelope_bytes) {
        Ok(e) => e,
        Err(e) => {
            return malformed(format!(
                "Le message n'est pas un document XML acceptable : {e}."
            ));
        }
    };
    // 2. SOAP version. The official TD2.1 example is a SOAP 1.1 envelope inside an MTOM
    // package whose root part says application/soap+xml: accepted there only.
    let soap11 = envelope.is(NS_SOAP11, "Envelope");
    let soap_ns = if soap11 { NS_SOAP11 } else { NS_SOAP12 };
    if soap11 && !(is_mtom && service == "repository") {
        return Answer {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            content_type: "text/xml; charset=utf-8".into(),
            body: soap::version_mismatch_11(),
            relates_to: None,
            action: "-".into(),
            result: "fault VersionMismatch".into(),
        };
    }
    if !envelope.is(soap_ns, "Envelope") {
        let f = Fault {
            code: FaultCode::VersionMismatch,
            subcode: None,
            reason: "Enveloppe SOAP 1.2 attendue.".into(),
        };
        return Answer::fault(&f, None, "-");
    }
    if media == "text/xml" {
        return Answer {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            content_type: "text/plain; charset=utf-8".into(),
            body: b"SOAP 1.2 travels as application/soap+xml\n".to_vec(),
            relates_to: None,
            action: "-".into(),
            result: "415".into(),
        };
    }
    // 3. Header blocks the service must understand: WS-Addressing and WS-Security only.
    let header = envelope.child(soap_ns, "Header");
    if let Some(block) = header
        .into_iter()
        .flat_map(|h| h.children.iter())
        .find(|b| {
            b.attr_ns(soap_ns, "mustUnderstand")
                .is_some_and(|v| v == "true" || v == "1")
                && !matches!(b.ns.as_deref(), Some(NS_WSA) | Some(soap::NS_WSSE))
        })
    {
        let f = Fault {
            code: FaultCode::MustUnderstand,
            subcode: None,
            reason: format!(
                "En-tête {{{}}}{} non compris.",
                block.ns.as_deref().unwrap_or_default(),
                block.local
            ),
        };
        return Answer::fault(&f, None, "-");
    }
    // 4. WS-Addressing.
    let wsa = |local: &str| {
        header
            .and_then(|h| h.child(NS_WSA, local))
            .map(|e| e.text.trim().to_owned())
            .filter(|t| !t.is_empty())
    };
    let message_id = wsa("MessageID");
    let Some(action) = wsa("Action") else {
        return Answer::fault(
            &Fault::sender(
                "MessageAddressingHeaderRequired",
                "En-tête WS-Addressing Action absent.",
            ),
            message_id,
            "-",
        );
    };
    let Some(handle) = handler(service, &action) else {
        return Answer::fault(
            &Fault::sender(
                "ActionNotSupported",
                format!("L'action {action} n'est pas servie par le service {service}."),
            ),
            message_id,
            &action,
        );
    };
    if message_id.is_none() {
        return Answer::fault(
            &Fault::sender(
                "MessageAddressingHeaderRequired",
                "En-tête WS-Addressing MessageID absent.",
            ),
            None,
            &action,
        );
    }
    // 5. The VIHF.
    let now = time::OffsetDateTime::now_utc();
    let vihf = match vihf::verify(&envelope, &state.trust, client, now) {
        Ok(v) => v,
        Err(f) => return Answer::fault(&f, message_id, &action),
    };
    // 6. The transaction.
    let Some(body_el) = envelope
        .child(soap_ns, "Body")
        .and_then(|b| b.children.first())
    else {
        return Answer::fault(
            &Fault::sender("DMPMalformedRequest", "Corps SOAP vide."),
            message_id,
            &action,
        );
    };
    let call = Call {
        body: body_el,
        parts: &parts,
        vihf,
        store: &state.store,
        now,
    };
    match handle(&call) {
        Ok(reply) => {
            let env = soap::envelope(reply.action, message_id.as_deref(), |x| {
                x.raw(&reply.body);
            });
            let (ct, body) = if reply.mtom
                || !reply.attachments.is_empty()
                || (is_mtom && service == "repository")
            {
                mtom::build(&env, reply.action, &reply.attachments)
            } else {
                (CT_SOAP12.to_owned(), env)
            };
            Answer {
                status: StatusCode::OK,
                content_type: ct,
                body,
                relates_to: message_id,
                action,
                result: reply.result,
            }
        }
        Err(f) => Answer::fault(&f, message_id, &action),
    }
}
