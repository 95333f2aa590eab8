//! CPS mode end to end: gRPC (CPS actor) → ins-service → the workstation's card-agent over
//! the bus (`.read`, then `.sign` for the assertion and for the TLS handshake) → INSi
//! sandbox, which verifies the assertion and accepts the card's TLS certificate.
//!
//! Until the card-agent's software backend lands, the card is a test double answering
//! `passerelle.card.v1.<ws>.read|sign` with the sandbox's test CPS keys (the `rsa` crate): a
//! stand-in for the hardware, not for our code.

use std::sync::{Arc, Mutex};

use passerelle_bus::subjects::{CardOp, card_subject};
use passerelle_bus::{SharedBus, proto_rpc};
use passerelle_e2e::{BusKind, System, SystemOptions, search};
use passerelle_proto::card::v1 as card;
use passerelle_proto::common::v1::{Actor, CpsMode, actor};
use passerelle_proto::ins::v1::{SearchResult, Sex};
use passerelle_sandbox::pki::TestPki;
use passerelle_service_kit::errors::summarise;
use rsa::pkcs8::DecodePrivateKey;
use tonic::Code;

const WS: &str = "ward-3_pc12";

fn cps_actor(ws: &str) -> Option<Actor> {
    Some(Actor {
        mode: Some(actor::Mode::Cps(CpsMode {
            workstation_id: ws.to_owned(),
        })),
    })
}

/// What the stand-in card was asked to sign: (key, purpose, requester).
type Log = Arc<Mutex<Vec<(i32, String, String)>>>;

fn key_of(path: &std::path::Path) -> rsa::RsaPrivateKey {
    rsa::RsaPrivateKey::from_pkcs8_pem(&std::fs::read_to_string(path).expect("key"))
        .expect("PKCS#8 RSA key")
}

fn sign_digest(key: &rsa::RsaPrivateKey, digest: &[u8]) -> Vec<u8> {
    key.sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), digest)
        .expect("RSA signature")
}

/// Serves `.read` and `.sign` for `ws` with the sandbox's test CPS. `refuse_sign`: answer
/// every signature with this status instead (PIN not entered…).
async fn stand_in_card(
    bus: &SharedBus,
    pki: &TestPki,
    ws: &str,
    refuse_sign: Option<tonic::Status>,
) -> Log {
    let auth_pem = std::fs::read_to_string(&pki.cps_cert).expect("cps.crt");
    let sign_pem = std::fs::read_to_string(&pki.cps_sign_cert).expect("cps-sign.crt");
    let auth_key = Arc::new(key_of(&pki.cps_key));
    let sign_key = Arc::new(key_of(&pki.cps_sign_key));
    let log: Log = Arc::default();

    let read = bus
        .serve(&card_subject(ws, CardOp::Read).unwrap(), "card-agent")
        .await
        .expect("serve .read");
    let (a, s) = (auth_pem.clone(), sign_pem.clone());
    tokio::spawn(proto_rpc::serve_typed(
        read,
        4,
        move |_, _req: card::ReadCardRequest| {
            let (a, s) = (a.clone(), s.clone());
            async move {
                Ok::<_, tonic::Status>(card::ReadCardResponse {
                    reader: "Virtual PCD 00 00".into(),
                    kind: card::CardKind::Cps as i32,
                    card: Some(card::read_card_response::Card::Cps(card::CpsHolder {
                        id: "810000000001".into(),
                        id_type: card::IdType::Rpps as i32,
                        last_name: "MEDECIN SANDBOX0001".into(),
                        first_name: "JEANNE".into(),
                        profession: "10".into(),
                        situations: vec![card::PracticeSituation {
                            activity_sector: "SA07".into(),
                            billing_id: "991234567".into(),
                            ..Default::default()
                        }],
                        card_serial: "0000000001".into(),
                        auth_certificate: a,
                        sign_certificate: s,
                        ..Default::default()
                    })),
                })
            }
        },
    ));

    let sign = bus
        .serve(&card_subject(ws, CardOp::Sign).unwrap(), "card-agent")
        .await
        .expect("serve .sign");
    let log_in = log.clone();
    tokio::spawn(proto_rpc::serve_typed(
        sign,
        4,
        move |_, req: card::SignRequest| {
            let (auth_key, sign_key) = (auth_key.clone(), sign_key.clone());
            let (auth_pem, sign_pem) = (auth_pem.clone(), sign_pem.clone());
            let refuse = refuse_sign.clone();
            let log = log_in.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push((req.key, req.purpose.clone(), req.requester.clone()));
                if let Some(status) = refuse {
                    return Err(status);
                }
                if req.digest.len() != 32 || !req.pin.is_empty() {
                    return Err(tonic::Status::invalid_argument("32-byte digest, no PIN"));
                }
                let (key, pem) = if req.key == card::KeyUse::Authentication as i32 {
                    (auth_key, auth_pem)
                } else {
                    (sign_key, sign_pem)
                };
                Ok(card::SignResponse {
                    signature: sign_digest(&key, &req.digest),
                    certificate: pem,
                    algorithm: "rsa-pkcs1-sha256".into(),
                })
            }
        },
    ));
    log
}

async fn cps_search_succeeds(bus: BusKind) {
    let sys = System::start(SystemOptions {
        bus,
        ..Default::default()
    })
    .await;
    let log = stand_in_card(&sys.bus, &sys.pki, WS, None).await;
    let mut client = sys.ins_client().await;
    let mut req = search("PAT-DOUZE", &["NATHALIE"], Sex::Female, "1948-03-21");
    req.actor = cps_actor(WS);
    let r = client
        .search_by_traits(req)
        .await
        .expect("CPS-mode search")
        .into_inner();
    assert_eq!(r.result, SearchResult::Found as i32);
    let ins = r.identity.and_then(|i| i.ins).expect("an INS");
    assert_eq!(
        (ins.matricule.as_str(), ins.key.as_str()),
        ("2480392630010", "64")
    );

    // The assertion with the signature key, the handshake with the authentication key.
    let signed = log.lock().unwrap().clone();
    assert!(
        signed.contains(&(
            card::KeyUse::Signature as i32,
            "insi-assertion".into(),
            "ins-service".into()
        )),
        "{signed:?}"
    );
    assert!(
        signed.contains(&(
            card::KeyUse::Authentication as i32,
            "tls-client-auth".into(),
            "ins-service".into()
        )),
        "{signed:?}"
    );
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cps_search_succeeds_in_process() {
    cps_search_succeeds(BusKind::InProcess).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cps_search_succeeds_on_nats() {
    cps_search_succeeds(BusKind::Nats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_card_agent_or_no_pin_is_a_clear_failed_precondition() {
    let sys = System::start(SystemOptions::default()).await;
    let mut client = sys.ins_client().await;

    // Nobody serves this workstation.
    let mut req = search("PAT-DOUZE", &["NATHALIE"], Sex::Female, "1948-03-21");
    req.actor = cps_actor("ward-9");
    let status = client.search_by_traits(req).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        summarise(&status).reason.as_deref(),
        Some("CPS_MODE_UNAVAILABLE")
    );
    assert!(
        status.message().contains("card-agent"),
        "{}",
        status.message()
    );

    // A card whose PIN was not entered on the workstation.
    let pin = <tonic::Status as tonic_types::StatusExt>::with_error_details(
        tonic::Code::FailedPrecondition,
        "a PIN is required",
        tonic_types::ErrorDetails::with_error_info("PIN_REQUIRED", "card-agent", []),
    );
    let log = stand_in_card(&sys.bus, &sys.pki, WS, Some(pin)).await;
    let mut req = search("PAT-DOUZE", &["NATHALIE"], Sex::Female, "1948-03-21");
    req.actor = cps_actor(WS);
    let status = client.search_by_traits(req).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        summarise(&status).reason.as_deref(),
        Some("CPS_PIN_REQUIRED")
    );
    assert!(
        status
            .message()
            .contains("enter the PIN on the workstation"),
        "{}",
        status.message()
    );
    // Not retried: one signature asked.
    assert_eq!(log.lock().unwrap().len(), 1);
    sys.stop().await;
}

/// The assertion our client builds verifies with Debian's xmlsec1 against the sandbox's CPS
/// CA chain.
#[tokio::test]
async fn xmlsec1_verifies_the_assertion_our_client_builds() {
    struct TestCard {
        cert: Vec<u8>,
        key: rsa::RsaPrivateKey,
    }
    #[async_trait::async_trait]
    impl ins_service::insi::AssertionSigner for TestCard {
        fn certificate_der(&self) -> Vec<u8> {
            self.cert.clone()
        }
        fn situation(&self) -> ins_service::insi::PracticeSituation {
            ins_service::insi::PracticeSituation {
                billing_id: "991234567".into(),
                activity_sector: "SA07".into(),
            }
        }
        async fn sign(&self, data: &[u8]) -> Result<Vec<u8>, ins_service::insi::SignerError> {
            use sha2::Digest;
            Ok(sign_digest(&self.key, &sha2::Sha256::digest(data)))
        }
    }
    let xmlsec1 = std::process::Command::new("xmlsec1")
        .arg("--version")
        .output();
    assert!(
        xmlsec1.is_ok_and(|o| o.status.success()),
        "\n*** xmlsec1 NOT FOUND: run shared/conformance/setup.sh (installs xmlsec1) ***\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::ensure(&dir.path().join("pki")).unwrap();
    let pem = std::fs::read(&pki.cps_sign_cert).unwrap();
    let cert = {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_slice(&pem)
            .unwrap()
            .to_vec()
    };
    let card = TestCard {
        cert,
        key: key_of(&pki.cps_sign_key),
    };
    let assertion = ins_service::insi::cps::signed_assertion(
        &card,
        uuid::Uuid::new_v4(),
        time::OffsetDateTime::now_utc(),
    )
    .await
    .expect("signed assertion");
    let file = dir.path().join("assertion.xml");
    std::fs::write(&file, &assertion).unwrap();
    let verify = |file: &std::path::Path| {
        std::process::Command::new("xmlsec1")
            .args([
                "--verify",
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                "--trusted-pem",
            ])
            .arg(&pki.ca_cert)
            .arg("--trusted-pem")
            .arg(&pki.cps_ca_cert)
            .arg(file)
            .output()
            .expect("xmlsec1 runs")
    };
    let out = verify(&file);
    assert!(
        out.status.success(),
        "xmlsec1 refused our assertion:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And refuses it tampered with (the check is not vacuous).
    let tampered = dir.path().join("tampered.xml");
    std::fs::write(&tampered, assertion.replace("SA07", "SA08")).unwrap();
    assert!(!verify(&tampered).status.success());
}
