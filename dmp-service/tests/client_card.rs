//! CPS mode (DIRECTE) with the DMP sandbox: the TLS handshake is signed by the card's
//! authentication key and the VIHF by its signature key, both through a card-agent (here
//! one on the in-process bus, signing with the test PKI's CPS keys); the card-agent gone is
//! the card's error, not a TLS one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dmp_service::client::{
    AuthorizationAction, AuthorizationChange, CallAuth, CallContext, DmpError, DmpState,
    FindDocuments, deposit,
};
use dmp_service::signer::SignerError;
use dmp_service::vihf::AuthenticationMode;
use passerelle_bus::in_process::InProcessBus;
use passerelle_bus::subjects::{CardOp, card_subject};
use passerelle_bus::{SharedBus, proto_rpc};
use passerelle_card_client::{CardAgentClient, CardError, CpsSession};
use passerelle_clinical_documents::testing;
use passerelle_proto::card::v1 as card;
use passerelle_sandbox::pki::TestPki;
use passerelle_service_kit::RequestId;
use passerelle_service_kit::errors::RichError;
use rsa::RsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use tonic::Status;

mod client_support;

const WS: &str = "ws-1";

fn key(path: &std::path::Path) -> RsaPrivateKey {
    let pem = std::fs::read_to_string(path).unwrap();
    RsaPrivateKey::from_pkcs8_pem(&pem)
        .or_else(|_| {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            RsaPrivateKey::from_pkcs1_pem(&pem)
        })
        .unwrap()
}

/// A card-agent answering `.read` with the test CPS and `.sign` with its keys.
/// While `refuse_auth` is set, the authentication key's signatures are refused `PIN_REQUIRED`.
async fn agent(
    pki: &TestPki,
    refuse_auth: Arc<AtomicBool>,
) -> (SharedBus, Vec<tokio::task::JoinHandle<()>>) {
    let bus: SharedBus = Arc::new(InProcessBus::new());
    let auth_pem = std::fs::read_to_string(&pki.cps_cert).unwrap();
    let sign_pem = std::fs::read_to_string(&pki.cps_sign_cert).unwrap();
    let auth_key = Arc::new(key(&pki.cps_key));
    let sign_key = Arc::new(key(&pki.cps_sign_key));

    let reads = bus
        .serve(&card_subject(WS, CardOp::Read).unwrap(), WS)
        .await
        .unwrap();
    let (a, s) = (auth_pem.clone(), sign_pem.clone());
    let h1 = tokio::spawn(proto_rpc::serve_typed(
        reads,
        1,
        move |_h, _req: card::ReadCardRequest| {
            let (a, s) = (a.clone(), s.clone());
            async move {
                Ok::<_, Status>(card::ReadCardResponse {
                    reader: "R".to_owned(),
                    kind: card::CardKind::Cps as i32,
                    card: Some(card::read_card_response::Card::Cps(card::CpsHolder {
                        id: passerelle_sandbox::pki::CPS_CARD_ID.to_owned(),
                        sign_certificate: s,
                        auth_certificate: a,
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
    let h2 = tokio::spawn(proto_rpc::serve_typed(
        signs,
        2,
        move |_h, req: card::SignRequest| {
            let auth = req.key == card::KeyUse::Authentication as i32;
            let refuse = auth && refuse_auth.load(Ordering::SeqCst);
            let (k, cert) = if auth {
                (auth_key.clone(), auth_pem.clone())
            } else {
                (sign_key.clone(), sign_pem.clone())
            };
            async move {
                if refuse {
                    return Err(RichError::new(
                        tonic::Code::FailedPrecondition,
                        "PIN_REQUIRED",
                        "the card's PIN is not entered",
                    )
                    .into_status());
                }
                let signature = k
                    .sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &req.digest)
                    .map_err(|e| Status::internal(e.to_string()))?;
                Ok::<_, Status>(card::SignResponse {
                    signature,
                    certificate: cert,
                    algorithm: passerelle_card_client::ALGORITHM.to_owned(),
                })
            }
        },
    ));
    (bus, vec![h1, h2])
}

fn a_deposit() -> deposit::Deposit {
    let doc = uuid::Uuid::new_v4().simple().to_string();
    client_support::deposit_of(
        &testing::letter(&doc, time::OffsetDateTime::now_utc()),
        &format!("2.25.{}", uuid::Uuid::new_v4().as_u128()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cps_mode_status_and_authorisation_then_the_agent_gone_mid_call() {
    let (_dir, pki, dmp) = client_support::sandbox().await;
    // No organisation identity at all: CPS mode only.
    let c = client_support::client(dmp.url(), &pki, false);
    let refuse_auth = Arc::new(AtomicBool::new(false));
    let (bus, handles) = agent(&pki, refuse_auth.clone()).await;
    let agent_client = CardAgentClient::new(bus, WS, "dmp-service")
        .unwrap()
        .with_timeout(Duration::from_secs(5));
    let card = CpsSession::open(agent_client, RequestId::parse("req-1").unwrap())
        .await
        .unwrap();
    let ctx = |card: &CpsSession| CallContext {
        message_id: uuid::Uuid::new_v4(),
        auth: CallAuth::Card { card: card.clone() },
        claims: client_support::claims(AuthenticationMode::Directe),
    };

    let status = c.patient_status(&ctx(&card)).await.unwrap();
    assert!(status.exists);
    assert_eq!(status.state, DmpState::Open);
    let outcome = c
        .set_authorization(
            &ctx(&card),
            AuthorizationChange {
                action: AuthorizationAction::Add,
                attending_physician: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(outcome.status, "DMPOk");

    // A deposit signed (XAdES) by the card, found back.
    let d = a_deposit();
    let unique_id = d.submission.document.unique_id.clone();
    let outcome = c.deposit(&ctx(&card), &d).await.unwrap();
    assert_eq!(
        outcome.document_unique_ids,
        std::slice::from_ref(&unique_id)
    );
    let found = c
        .find_documents(&ctx(&card), &FindDocuments::default())
        .await
        .unwrap();
    assert!(found.iter().any(|e| e.unique_id == unique_id));

    // The card refuses the TLS handshake signature: the card's error, not a TLS one.
    refuse_auth.store(true, Ordering::SeqCst);
    let e = c.patient_status(&ctx(&card)).await.unwrap_err();
    assert!(
        matches!(
            &e,
            DmpError::Signer(SignerError::Card(CardError::PinRequired))
        ),
        "{e:?}"
    );
    refuse_auth.store(false, Ordering::SeqCst);

    // The card-agent gone after the card was read: the VIHF cannot be signed, and the error
    // is the card's (what the holder must do), not a TLS or DMP one.
    for h in &handles {
        h.abort();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let e = c.patient_status(&ctx(&card)).await.unwrap_err();
    assert!(
        matches!(&e, DmpError::Signer(SignerError::Card(_))),
        "{e:?}"
    );
    assert_eq!(e.kind(), "signer");
    dmp.shutdown().await;
}
