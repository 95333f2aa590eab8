//! The client against a scripted card-agent on the in-process bus.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use passerelle_bus::in_process::InProcessBus;
use passerelle_bus::subjects::{CardOp, card_subject};
use passerelle_bus::{Headers, SharedBus, proto_rpc};
use passerelle_proto::card::v1 as card;
use passerelle_service_kit::RequestId;
use passerelle_service_kit::errors::RichError;
use rustls::SignatureScheme;
use tonic::{Code, Status};

use crate::agent::sha256;
use crate::{CardAgentClient, CardError, CpsSession, purposes};

const WS: &str = "ws-1";
// Certificates are only compared by the client, never parsed: any DER will do.
const SIGN_CERT: &str = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
const AUTH_CERT: &str = "-----BEGIN CERTIFICATE-----\nBAUG\n-----END CERTIFICATE-----\n";
const OTHER_CERT: &str = "-----BEGIN CERTIFICATE-----\nBwgJ\n-----END CERTIFICATE-----\n";

/// What the scripted agent answers to `.sign`.
#[derive(Clone)]
enum SignAnswer {
    /// Signs, reporting the certificate of the key asked for.
    Sign,
    /// Signs with another card's key.
    OtherCard,
    Refuse(&'static str),
}

/// What the scripted agent was asked: operation, request-id header, sign request.
type Asked = Arc<Mutex<Vec<(CardOp, Option<String>, Option<card::SignRequest>)>>>;

async fn scripted_agent(answer: SignAnswer) -> (SharedBus, Asked) {
    let bus: SharedBus = Arc::new(InProcessBus::new());
    let asked: Asked = Arc::default();
    let request_id = |h: &Headers| h.get("request-id").cloned();

    let reads = bus
        .serve(&card_subject(WS, CardOp::Read).unwrap(), WS)
        .await
        .unwrap();
    let log = asked.clone();
    tokio::spawn(proto_rpc::serve_typed(
        reads,
        1,
        move |h, _req: card::ReadCardRequest| {
            log.lock()
                .unwrap()
                .push((CardOp::Read, request_id(&h), None));
            async move {
                Ok::<_, Status>(card::ReadCardResponse {
                    reader: "R".to_owned(),
                    kind: card::CardKind::Cps as i32,
                    card: Some(card::read_card_response::Card::Cps(card::CpsHolder {
                        id: "899700001".to_owned(),
                        sign_certificate: SIGN_CERT.to_owned(),
                        auth_certificate: AUTH_CERT.to_owned(),
                        ..Default::default()
                    })),
                })
            }
        },
    ));

    let signs = bus
        .serve(&card_subject(WS, CardOp::Sign).unwrap(), WS)
        .await
        .unwrap();
    let log = asked.clone();
    tokio::spawn(proto_rpc::serve_typed(
        signs,
        1,
        move |h, req: card::SignRequest| {
            log.lock()
                .unwrap()
                .push((CardOp::Sign, request_id(&h), Some(req.clone())));
            let answer = answer.clone();
            async move {
                let certificate = match answer {
                    SignAnswer::Refuse(reason) => {
                        return Err(RichError::new(
                            Code::FailedPrecondition,
                            reason,
                            "the card says no",
                        )
                        .into_status());
                    }
                    SignAnswer::OtherCard => OTHER_CERT,
                    SignAnswer::Sign if req.key == card::KeyUse::Authentication as i32 => AUTH_CERT,
                    SignAnswer::Sign => SIGN_CERT,
                };
                Ok(card::SignResponse {
                    signature: b"signed".to_vec(),
                    certificate: certificate.to_owned(),
                    algorithm: crate::ALGORITHM.to_owned(),
                })
            }
        },
    ));
    (bus, asked)
}

fn client(bus: SharedBus) -> CardAgentClient {
    CardAgentClient::new(bus, WS, "test-service")
        .unwrap()
        .with_timeout(Duration::from_secs(5))
}

fn request_id() -> RequestId {
    RequestId::parse("req-42").unwrap()
}

#[tokio::test]
async fn reads_then_signs_carrying_the_callers_request_id() {
    let (bus, asked) = scripted_agent(SignAnswer::Sign).await;
    let session = CpsSession::open(client(bus), request_id())
        .await
        .expect("card read");
    assert_eq!(session.holder().id, "899700001");
    assert_eq!(session.signature_certificate(), &[1, 2, 3]);
    assert_eq!(session.authentication_certificate(), &[4, 5, 6]);

    let signature = session.sign("test-purpose", b"data").await.expect("signed");
    assert_eq!(signature, b"signed");

    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2);
    for (_, id, _) in &asked {
        assert_eq!(id.as_deref(), Some("req-42"));
    }
    let sign = asked[1].2.clone().expect("a sign request");
    assert_eq!(sign.digest, sha256(b"data"));
    assert_eq!(sign.key, card::KeyUse::Signature as i32);
    assert_eq!(sign.purpose, "test-purpose");
    assert_eq!(sign.requester, "test-service");
    assert!(sign.pin.is_empty(), "the PIN never travels on the bus");
}

#[tokio::test]
async fn a_card_swapped_since_the_read_is_no_card() {
    let (bus, _) = scripted_agent(SignAnswer::OtherCard).await;
    let session = CpsSession::open(client(bus), request_id()).await.unwrap();
    assert_eq!(
        session.sign("test-purpose", b"data").await,
        Err(CardError::NoCard)
    );
}

#[tokio::test]
async fn the_agents_refusals_say_what_the_holder_must_do() {
    let (bus, _) = scripted_agent(SignAnswer::Refuse("PIN_REQUIRED")).await;
    let session = CpsSession::open(client(bus), request_id()).await.unwrap();
    assert_eq!(
        session.sign("test-purpose", b"data").await,
        Err(CardError::PinRequired)
    );
    let (bus, _) = scripted_agent(SignAnswer::Refuse("CARD_BLOCKED")).await;
    let session = CpsSession::open(client(bus), request_id()).await.unwrap();
    assert!(matches!(
        session.sign("test-purpose", b"data").await,
        Err(CardError::Refused { reason }) if reason.contains("the card says no")
    ));
}

#[tokio::test]
async fn no_agent_for_the_workstation_is_agent_unavailable() {
    let bus: SharedBus = Arc::new(InProcessBus::new());
    let e = CpsSession::open(client(bus), request_id())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, CardError::AgentUnavailable { reason } if reason.contains("start the card-agent")),
        "{e}"
    );
}

#[test]
fn a_workstation_id_that_is_not_a_subject_token_is_refused() {
    let bus: SharedBus = Arc::new(InProcessBus::new());
    let e = CardAgentClient::new(bus, "ward 3.pc", "test-service").unwrap_err();
    assert!(matches!(e, CardError::InvalidWorkstation { .. }), "{e}");
}

/// The TLS handshake signature: the authentication key, the TLS purpose and the request id;
/// a card failure is kept for the caller, rustls only reporting a generic error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshake_is_signed_by_the_authentication_key_for_the_request() {
    let (bus, asked) = scripted_agent(SignAnswer::Sign).await;
    let session = CpsSession::open(client(bus), request_id()).await.unwrap();
    let identity = session.tls_identity();
    let resolver = identity.resolver();
    assert!(resolver.has_certs());
    assert!(
        resolver
            .resolve(&[], &[SignatureScheme::RSA_PSS_SHA256])
            .is_none(),
        "a CPS signs PKCS#1 v1.5 only"
    );
    let certified = resolver
        .resolve(&[], &[SignatureScheme::RSA_PKCS1_SHA256])
        .expect("the card's certificate");
    assert_eq!(certified.cert[0].as_ref(), &[4, 5, 6]);
    let signer = certified
        .key
        .choose_scheme(&[SignatureScheme::RSA_PKCS1_SHA256])
        .expect("a signer");
    assert_eq!(signer.sign(b"handshake").expect("signed"), b"signed");
    assert_eq!(identity.take_error(), None);
    let (op, id, req) = asked.lock().unwrap().last().cloned().unwrap();
    let req = req.unwrap();
    assert_eq!(op, CardOp::Sign);
    assert_eq!(id.as_deref(), Some("req-42"));
    assert_eq!(req.key, card::KeyUse::Authentication as i32);
    assert_eq!(req.purpose, purposes::TLS_CLIENT_AUTH);
    assert_eq!(req.digest, sha256(b"handshake"));

    let (bus, _) = scripted_agent(SignAnswer::Refuse("PIN_REQUIRED")).await;
    let session = CpsSession::open(client(bus), request_id()).await.unwrap();
    let identity = session.tls_identity();
    let certified = identity
        .resolver()
        .resolve(&[], &[SignatureScheme::RSA_PKCS1_SHA256])
        .unwrap();
    let signer = certified
        .key
        .choose_scheme(&[SignatureScheme::RSA_PKCS1_SHA256])
        .unwrap();
    assert!(signer.sign(b"handshake").is_err());
    assert_eq!(identity.take_error(), Some(CardError::PinRequired));
    assert_eq!(identity.take_error(), None, "told once");
}
