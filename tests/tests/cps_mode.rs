//! CPS mode end to end with the real card-agent: gRPC (CPS actor) → ins-service → the
//! workstation's card-agent over the bus (`.read`, then `.sign` for the assertion and for the
//! TLS handshake) → INSi sandbox, which verifies the assertion and accepts the card's TLS
//! certificate.
//!
//! The card is the agent's software backend holding the sandbox's test CPS (authentication
//! pair `cps.crt`/`cps.key`, signature pair `cps-sign.crt`/`cps-sign.key`, PIN 1234): the
//! stand-in is for the hardware only, every line of the agent runs. The professional unlocks
//! the card on the workstation through the agent's local gRPC `Unlock`; the PIN never travels
//! over the bus.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use card_agent::backend::software::{SANDBOX_CPS_PIN, SoftwareToken, SoftwareTokenConfig};
use card_agent::{CardAgentConfig, RunningCardAgent};
use futures_util::StreamExt;
use passerelle_bus::nats::NatsBus;
use passerelle_bus::{MessageStream, SharedBus, subjects};
use passerelle_e2e::{BusKind, System, SystemOptions, on_both_buses, search};
use passerelle_proto::card::v1::{self as card, card_agent_client::CardAgentClient};
use passerelle_proto::common::v1::{Actor, CpsMode, actor};
use passerelle_proto::ins::v1::{SearchByTraitsRequest, SearchResult, Sex};
use passerelle_sandbox::pki::{CPS_CARD_ID, TestPki};
use passerelle_service_kit::Shutdown;
use passerelle_service_kit::errors::summarise;
use prost::Message as _;
use tonic::Code;

const WS: &str = "ward-3_pc12";
const TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_ID: &str = "cps-search-7f3a";

fn cps_actor(ws: &str) -> Option<Actor> {
    Some(Actor {
        mode: Some(actor::Mode::Cps(CpsMode {
            workstation_id: ws.to_owned(),
        })),
        professional: None,
    })
}

fn cps_search(ws: &str) -> SearchByTraitsRequest {
    let mut req = search("PAT-DOUZE", &["NATHALIE"], Sex::Female, "1948-03-21");
    req.actor = cps_actor(ws);
    req
}

/// The workstation's card-agent: `card_agent::start` on the software backend with the
/// sandbox's test CPS.
struct Workstation {
    running: Option<RunningCardAgent>,
    token: Arc<SoftwareToken>,
    shutdown: Shutdown,
}

impl Workstation {
    async fn start(sys: &System, ws: &str) -> Self {
        let mut cfg = CardAgentConfig {
            workstation: ws.to_owned(),
            ..Default::default()
        };
        cfg.grpc.listen = "127.0.0.1:0".parse().unwrap();
        cfg.backend.software = token_config(&sys.pki);
        let token = Arc::new(SoftwareToken::load(&cfg.backend.software).expect("test CPS loads"));
        // On NATS the agent has its own connection, as the workstation's process would.
        let bus: SharedBus = match &sys.nats {
            Some(n) => Arc::new(
                NatsBus::connect(&n.url(), Default::default())
                    .await
                    .expect("NATS connection"),
            ),
            None => sys.bus.clone(),
        };
        let shutdown = Shutdown::new();
        let running = card_agent::start(&cfg, token.clone(), bus, shutdown.clone())
            .await
            .expect("card-agent starts");
        Self {
            running: Some(running),
            token,
            shutdown,
        }
    }

    fn running(&self) -> &RunningCardAgent {
        self.running.as_ref().unwrap()
    }

    /// `Unlock` on the local gRPC channel, as `passerelle card unlock --pin-stdin` does.
    async fn unlock(&self, pin: &str) -> Result<card::UnlockResponse, tonic::Status> {
        CardAgentClient::connect(self.running().endpoint())
            .await
            .expect("local gRPC of the card-agent")
            .unlock(card::UnlockRequest {
                reader: String::new(),
                pin: pin.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    async fn stop(mut self) {
        self.shutdown.trigger();
        self.running.take().unwrap().wait().await.unwrap();
    }
}

fn token_config(pki: &TestPki) -> SoftwareTokenConfig {
    SoftwareTokenConfig::sandbox_cps(
        &pki.cps_cert,
        &pki.cps_key,
        &pki.cps_sign_cert,
        &pki.cps_sign_key,
    )
}

async fn audit_stream(sys: &System) -> MessageStream {
    sys.bus
        .subscribe(subjects::EVENTS_AUDIT_CARD)
        .await
        .expect("subscribe to the card audit")
}

/// The next audit record, within [`TIMEOUT`].
async fn next_audited(audit: &mut MessageStream) -> card::SignatureAudited {
    let m = tokio::time::timeout(TIMEOUT, audit.next())
        .await
        .expect("an audit record")
        .expect("audit stream open");
    card::SignatureAudited::decode(m.payload).expect("SignatureAudited")
}

fn reason(status: &tonic::Status) -> String {
    summarise(status).reason.unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------

async fn cps_search_succeeds_once_unlocked(bus: BusKind) {
    let sys = System::start(SystemOptions {
        bus,
        ..Default::default()
    })
    .await;
    let ws = Workstation::start(&sys, WS).await;
    let mut audit = audit_stream(&sys).await;
    let unlocked = ws.unlock(SANDBOX_CPS_PIN).await.expect("unlocked");
    assert!(unlocked.ok);
    assert_eq!(unlocked.card_serial, CPS_CARD_ID);

    // The caller's request id, to find it in the card's audit.
    let mut call = tonic::Request::new(cps_search(WS));
    call.metadata_mut()
        .insert("x-request-id", REQUEST_ID.parse().unwrap());
    let r = sys
        .ins_client()
        .await
        .search_by_traits(call)
        .await
        .expect("CPS-mode search")
        .into_inner();
    assert_eq!(r.result, SearchResult::Found as i32);
    assert_eq!(r.request_id, REQUEST_ID);
    let ins = r.identity.and_then(|i| i.ins).expect("an INS");
    assert_eq!(
        (ins.matricule.as_str(), ins.key.as_str()),
        ("2480392630010", "64")
    );

    // Every signature audited: the assertion with the signature key, the handshake with the
    // authentication key, both asked by ins-service for the caller's request, without PIN
    // nor patient data.
    let (mut assertion, mut tls) = (false, false);
    while !(assertion && tls) {
        let ev = next_audited(&mut audit).await;
        assert!(ev.ok, "{ev:?}");
        assert_eq!(ev.request_id, REQUEST_ID, "{ev:?}");
        assert_eq!(ev.workstation, WS);
        assert_eq!(ev.requester, "ins-service");
        assert_eq!(ev.card_serial, CPS_CARD_ID);
        let text = format!("{ev:?}");
        for secret in [SANDBOX_CPS_PIN, "PAT-DOUZE", "2480392630010"] {
            assert!(!text.contains(secret), "{text}");
        }
        match ev.purpose.as_str() {
            "insi-assertion" => {
                assert_eq!(ev.key, card::KeyUse::Signature as i32);
                assertion = true;
            }
            "tls-client-auth" => {
                assert_eq!(ev.key, card::KeyUse::Authentication as i32);
                tls = true;
            }
            other => panic!("unexpected purpose {other:?}"),
        }
    }
    assert!(ws.running().agent.has_cached_pin(CPS_CARD_ID));
    ws.stop().await;
    sys.stop().await;
}

async fn without_unlock_the_pin_is_required(bus: BusKind) {
    let sys = System::start(SystemOptions {
        bus,
        ..Default::default()
    })
    .await;
    let ws = Workstation::start(&sys, WS).await;
    let mut audit = audit_stream(&sys).await;
    let status = sys
        .ins_client()
        .await
        .search_by_traits(cps_search(WS))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(&status), "CPS_PIN_REQUIRED");
    assert!(
        status
            .message()
            .contains("enter the PIN on the workstation"),
        "{}",
        status.message()
    );
    // The refused signature is audited; no PIN try was spent, none retried.
    let ev = next_audited(&mut audit).await;
    assert!(!ev.ok);
    assert_eq!(ev.purpose, "insi-assertion");
    assert!(ev.error.contains("PIN"), "{}", ev.error);
    assert_eq!(ws.token.tries_left(), 3);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), audit.next())
            .await
            .is_err(),
        "one signature asked, not retried"
    );
    ws.stop().await;
    sys.stop().await;
}

async fn blocked_card_is_refused(bus: BusKind) {
    let sys = System::start(SystemOptions {
        bus,
        ..Default::default()
    })
    .await;
    let ws = Workstation::start(&sys, WS).await;
    for expected in ["WRONG_PIN", "WRONG_PIN", "CARD_BLOCKED"] {
        let e = ws.unlock("0000").await.unwrap_err();
        assert_eq!(reason(&e), expected);
    }
    let mut audit = audit_stream(&sys).await;
    let status = sys
        .ins_client()
        .await
        .search_by_traits(cps_search(WS))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(&status), "CPS_CARD_REFUSED");
    assert!(status.message().contains("blocked"), "{}", status.message());
    let ev = next_audited(&mut audit).await;
    assert!(!ev.ok);
    assert_eq!(ev.purpose, "insi-assertion");
    ws.stop().await;
    sys.stop().await;
}

async fn no_agent_for_the_workstation_is_unavailable(bus: BusKind) {
    let sys = System::start(SystemOptions {
        bus,
        ..Default::default()
    })
    .await;
    // An agent runs, for another workstation only.
    let ws = Workstation::start(&sys, WS).await;
    ws.unlock(SANDBOX_CPS_PIN).await.expect("unlocked");
    let status = sys
        .ins_client()
        .await
        .search_by_traits(cps_search("ward-9"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(&status), "CPS_MODE_UNAVAILABLE");
    assert!(
        status.message().contains("card-agent"),
        "{}",
        status.message()
    );
    ws.stop().await;
    sys.stop().await;
}

on_both_buses!(
    cps_search_succeeds_once_unlocked,
    without_unlock_the_pin_is_required,
    blocked_card_is_refused,
    no_agent_for_the_workstation_is_unavailable,
);

/// The assertion ins-service builds, signed through the real card-agent (over the bus, with
/// the card's signature key), verifies with Debian's xmlsec1 against the sandbox's CPS CA
/// chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xmlsec1_verifies_the_assertion_signed_through_the_agent() {
    let xmlsec1 = std::process::Command::new("xmlsec1")
        .arg("--version")
        .output();
    assert!(
        xmlsec1.is_ok_and(|o| o.status.success()),
        "\n*** xmlsec1 NOT FOUND: run shared/conformance/setup.sh (installs xmlsec1) ***\n"
    );
    let sys = System::start(SystemOptions::default()).await;
    let ws = Workstation::start(&sys, WS).await;
    ws.unlock(SANDBOX_CPS_PIN).await.expect("unlocked");
    let signer = ins_service::card_signer::AgentSigner::read(
        sys.bus.clone(),
        WS,
        TIMEOUT,
        passerelle_service_kit::RequestId::generate(),
    )
    .await
    .expect("the agent reads the CPS");
    let assertion = ins_service::insi::cps::signed_assertion(
        &signer,
        uuid::Uuid::new_v4(),
        time::OffsetDateTime::now_utc(),
    )
    .await
    .expect("signed assertion");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("assertion.xml");
    std::fs::write(&file, &assertion).unwrap();
    let pki = &sys.pki;
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
        "xmlsec1 refused the assertion signed through the agent:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Signed with the signature key's certificate, not the authentication one.
    let sign_pem = std::fs::read_to_string(&pki.cps_sign_cert).unwrap();
    let sign_b64: String = sign_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(assertion.contains(&sign_b64), "the signature certificate");
    // And refuses it tampered with (the check is not vacuous).
    assert!(assertion.contains("SA05"), "the card's activity sector");
    let tampered = dir.path().join("tampered.xml");
    std::fs::write(&tampered, assertion.replace("SA05", "SA08")).unwrap();
    assert!(!verify(&tampered).status.success());
    ws.stop().await;
    sys.stop().await;
}
