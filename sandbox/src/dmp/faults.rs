//! Fault injection, with the INSi simulator's [`FaultInjection`] type: HTTP 503, a body
//! that is not XML, a closed connection, or a SOAP fault (`soap:Receiver`, the injected
//! subcode and text).

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};

use super::server::{CT_SOAP12, CloseConnection, plain, response};
use super::soap::Fault;
use super::{FaultInjection, FaultKind, FaultTrigger};

pub(crate) fn injected(injection: Option<&FaultInjection>, n: u64) -> Option<&FaultKind> {
    let injection = injection?;
    let fire = match injection.trigger {
        FaultTrigger::EveryNth(0) => false,
        FaultTrigger::EveryNth(k) => n.is_multiple_of(u64::from(k)),
        FaultTrigger::Probability(p) => rand::random::<f64>() < p,
    };
    fire.then_some(&injection.kind)
}

pub(crate) fn name(kind: &FaultKind) -> &'static str {
    match kind {
        FaultKind::Http503 => "http-503",
        FaultKind::SoapFault { .. } => "soap-fault",
        FaultKind::GarbageBody => "garbage-body",
        FaultKind::CloseConnection => "close-connection",
    }
}

pub(crate) fn respond(
    kind: &FaultKind,
    relates_to: Option<&str>,
) -> Result<Response<Full<Bytes>>, CloseConnection> {
    Ok(match kind {
        FaultKind::Http503 => plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n"),
        FaultKind::GarbageBody => response(
            StatusCode::OK,
            CT_SOAP12,
            b"\x00\x07<<< injected garbage, not XML >>>\xff".to_vec(),
        ),
        FaultKind::CloseConnection => return Err(CloseConnection),
        FaultKind::SoapFault {
            subcode,
            code,
            text,
        } => {
            let fault = Fault::receiver(subcode, format!("{code} : {text}"));
            response(
                StatusCode::INTERNAL_SERVER_ERROR,
                CT_SOAP12,
                fault.render(relates_to),
            )
        }
    })
}
