//! The card-agent on a software token, served on local gRPC and on the bus (in-process and a
//! NATS server started for the test). Signatures are checked with OpenSSL, not our own code.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use card_agent::backend::software::{SoftwareToken, SoftwareTokenConfig, TokenIdentity};
use card_agent::{CardAgentConfig, RunningCardAgent, StartError};
use futures::StreamExt;
use passerelle_bus::nats::{NatsBus, NatsOptions};
use passerelle_bus::subjects::{self, CardOp, card_subject};
use passerelle_bus::testing::NatsServer;
use passerelle_bus::{Headers, SharedBus, in_process::InProcessBus, proto_rpc};
use passerelle_proto::bus::v1::{Reply, reply::Outcome};
use passerelle_proto::card::v1::{
    self as api, card_agent_client::CardAgentClient, read_card_response::Card,
};
use passerelle_service_kit::errors::summarise;
use passerelle_service_kit::{RequestId, Shutdown};
use prost::Message as _;
use tonic::Code;
use tonic_types::StatusExt;

const WS: &str = "ws-test_1";
const PIN: &str = "1234";
const SERIAL: &str = "00B9900001";
const TIMEOUT: Duration = Duration::from_secs(10);

use passerelle_bus::testing::BusKind;

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An RSA-2048 key and a CPS-like certificate (title, given name, card id as CN, surname).
fn rsa_identity(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("cps.key");
    let cert = dir.join("cps.crt");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/C=FR/title=Medecin/GN=JEANNE/CN={SERIAL}/SN=MEDECIN SANDBOX0001"),
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    (cert, key)
}

fn token_config(dir: &Path) -> SoftwareTokenConfig {
    let (cert, key) = rsa_identity(dir);
    SoftwareTokenConfig {
        identity: TokenIdentity::Pem { cert, key },
        pin: PIN.to_owned(),
        ..Default::default()
    }
}

/// An agent of workstation `workstation` on a software token in `dir`, gRPC on a free port.
fn agent_config(workstation: &str, dir: &Path) -> CardAgentConfig {
    let mut cfg = CardAgentConfig {
        workstation: workstation.to_owned(),
        ..Default::default()
    };
    cfg.grpc.listen = "127.0.0.1:0".parse().unwrap();
    cfg.backend.software = token_config(dir);
    cfg
}

struct Fixture {
    bus: SharedBus,
    token: Arc<SoftwareToken>,
    running: Option<RunningCardAgent>,
    shutdown: Shutdown,
    dir: tempfile::TempDir,
    _nats: Option<NatsServer>,
}

impl Fixture {
    async fn start(bus: BusKind) -> Self {
        Self::start_with(bus, |_| {}).await
    }

    async fn start_with(kind: BusKind, tune: impl FnOnce(&mut CardAgentConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = agent_config(WS, dir.path());
        tune(&mut cfg);
        let (bus, nats): (SharedBus, _) = match kind {
            BusKind::InProcess => (Arc::new(InProcessBus::new()), None),
            BusKind::Nats => {
                let server = NatsServer::start().expect("nats-server");
                let bus = NatsBus::connect(&server.url(), NatsOptions::default())
                    .await
                    .unwrap();
                bus.ensure_events_stream().await.unwrap();
                (Arc::new(bus), Some(server))
            }
        };
        let token = Arc::new(SoftwareToken::load(&cfg.backend.software).expect("token loads"));
        let shutdown = Shutdown::new();
        let running = card_agent::start(&cfg, token.clone(), bus.clone(), shutdown.clone())
            .await
            .expect("agent starts");
        Self {
            bus,
            token,
            running: Some(running),
            shutdown,
            dir,
            _nats: nats,
        }
    }

    fn running(&self) -> &RunningCardAgent {
        self.running.as_ref().unwrap()
    }

    async fn grpc(&self) -> CardAgentClient<tonic::transport::Channel> {
        CardAgentClient::connect(self.running().endpoint())
            .await
            .unwrap()
    }

    async fn bus_call<Req: prost::Message, Resp: prost::Message + Default>(
        &self,
        op: CardOp,
        req: &Req,
    ) -> Result<Resp, tonic::Status> {
        proto_rpc::call(
            self.bus.as_ref(),
            &card_subject(WS, op).unwrap(),
            Headers::new(),
            req,
            TIMEOUT,
        )
        .await
    }

    /// A service asks over the bus without a PIN: the kept PIN serves. The signature key's
    /// signature is checked with OpenSSL; the authentication key signs too.
    async fn signs_over_the_bus_without_pin(&self, data: &[u8]) {
        let resp: api::SignResponse = self
            .bus_call(CardOp::Sign, &sign_req(digest_of(data), ""))
            .await
            .expect("signed with the kept PIN");
        assert!(openssl_verifies(
            self.dir.path(),
            &resp.certificate,
            data,
            &resp.signature
        ));
        let mut req = sign_req(digest_of(data), "");
        req.key = api::KeyUse::Authentication as i32;
        let _: api::SignResponse = self.bus_call(CardOp::Sign, &req).await.expect("auth key");
    }

    async fn stop(mut self) {
        self.shutdown.trigger();
        self.running.take().unwrap().wait().await.unwrap();
    }
}

fn digest_of(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

fn sign_req(digest: Vec<u8>, pin: &str) -> api::SignRequest {
    api::SignRequest {
        digest,
        pin: pin.to_owned(),
        purpose: "test-assertion".to_owned(),
        requester: "agent-tests".to_owned(),
        ..Default::default()
    }
}

fn tries_left(status: &tonic::Status) -> Option<String> {
    status
        .get_error_details()
        .error_info()
        .and_then(|i| i.metadata.get(card_agent::agent::TRIES_LEFT_KEY).cloned())
}

fn reason(status: &tonic::Status) -> String {
    summarise(status).reason.unwrap_or_default()
}

/// Verifies `signature` over `data` with OpenSSL and the certificate's public key.
fn openssl_verifies(dir: &Path, cert_pem: &str, data: &[u8], signature: &[u8]) -> bool {
    let cert = dir.join("signer.crt");
    let public = dir.join("signer.pub");
    let data_path = dir.join("data.bin");
    let sig = dir.join("data.sig");
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&data_path, data).unwrap();
    std::fs::write(&sig, signature).unwrap();
    openssl(&[
        "x509",
        "-pubkey",
        "-noout",
        "-in",
        cert.to_str().unwrap(),
        "-out",
        public.to_str().unwrap(),
    ]);
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&public)
        .arg("-signature")
        .arg(&sig)
        .arg(&data_path)
        .output()
        .unwrap();
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

// ---------------------------------------------------------------------------------------------

async fn reads_the_cps(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let mut c = f.grpc().await;
    let readers = c
        .list_readers(api::ListReadersRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(readers.readers.len(), 1);
    assert_eq!(readers.readers[0].name, "Passerelle software token");
    assert_eq!(readers.readers[0].card, api::CardKind::Cps as i32);
    assert_eq!(readers.readers[0].card_serial, SERIAL);

    let over_grpc = c
        .read_card(api::ReadCardRequest::default())
        .await
        .unwrap()
        .into_inner();
    let over_bus: api::ReadCardResponse = f
        .bus_call(CardOp::Read, &api::ReadCardRequest::default())
        .await
        .unwrap();
    assert_eq!(over_grpc, over_bus);
    assert_eq!(over_grpc.kind, api::CardKind::Cps as i32);
    let Some(Card::Cps(h)) = over_grpc.card else {
        panic!("a CPS")
    };
    assert_eq!(h.id, "810001234565");
    assert_eq!(h.id_type, api::IdType::Rpps as i32);
    assert_eq!(h.last_name, "MEDECIN SANDBOX0001");
    assert_eq!(h.first_name, "JEANNE");
    assert_eq!(h.profession, "10");
    assert_eq!(h.card_serial, SERIAL);
    assert_eq!(h.situations[0].activity_sector, "SA05");
    assert!(
        h.sign_certificate
            .starts_with("-----BEGIN CERTIFICATE-----\n")
    );
    let readers_bus: api::ListReadersResponse = f
        .bus_call(CardOp::Readers, &api::ListReadersRequest {})
        .await
        .unwrap();
    assert_eq!(readers_bus, readers);
    // A reader that does not exist.
    let e = c
        .read_card(api::ReadCardRequest {
            reader: "nope".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    f.stop().await;
}

async fn signs_with_the_right_pin_then_from_the_cache(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let data = b"<saml:Assertion>...</saml:Assertion>";
    let resp = f
        .grpc()
        .await
        .sign(sign_req(digest_of(data), PIN))
        .await
        .expect("signed")
        .into_inner();
    assert_eq!(resp.algorithm, "rsa-pkcs1-sha256");
    assert_eq!(resp.signature.len(), 256);
    assert!(
        openssl_verifies(f.dir.path(), &resp.certificate, data, &resp.signature),
        "OpenSSL verifies the signature"
    );
    assert!(f.running().agent.has_cached_pin(SERIAL));

    // A service over the bus, without PIN: the PIN typed locally is re-presented to this card.
    f.signs_over_the_bus_without_pin(b"second assertion").await;
    f.stop().await;
}

async fn without_pin_a_bus_request_is_told_to_enter_it(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let e = f
        .bus_call::<_, api::SignResponse>(CardOp::Sign, &sign_req(digest_of(b"x"), ""))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(reason(&e), "PIN_REQUIRED");
    assert_eq!(f.token.tries_left(), 3, "no try spent");
    f.stop().await;
}

async fn wrong_pin_tells_tries_left_and_is_not_retried_then_blocks(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let mut c = f.grpc().await;
    for expected in [2u8, 1] {
        let e = c.sign(sign_req(digest_of(b"x"), "0000")).await.unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        assert_eq!(reason(&e), "WRONG_PIN");
        assert_eq!(tries_left(&e), Some(expected.to_string()));
        assert!(
            e.message().contains(&format!("{expected} tr")),
            "{}",
            e.message()
        );
        assert_eq!(
            f.token.tries_left(),
            expected,
            "one try per request: never retried"
        );
        assert!(!f.running().agent.has_cached_pin(SERIAL));
    }
    let e = c.sign(sign_req(digest_of(b"x"), "9999")).await.unwrap_err();
    assert_eq!(reason(&e), "CARD_BLOCKED");
    assert_eq!(tries_left(&e).as_deref(), Some("0"));
    // Blocked: even the right PIN is refused.
    let e = c.sign(sign_req(digest_of(b"x"), PIN)).await.unwrap_err();
    assert_eq!(reason(&e), "CARD_BLOCKED");
    f.stop().await;
}

async fn right_pin_resets_the_tries(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let mut c = f.grpc().await;
    c.sign(sign_req(digest_of(b"x"), "0000")).await.unwrap_err();
    assert_eq!(f.token.tries_left(), 2);
    c.sign(sign_req(digest_of(b"x"), PIN))
        .await
        .expect("signed");
    assert_eq!(f.token.tries_left(), 3);
    f.stop().await;
}

async fn pin_over_the_bus_is_refused(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let e = f
        .bus_call::<_, api::SignResponse>(CardOp::Sign, &sign_req(digest_of(b"x"), PIN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("the PIN never travels over the bus"));
    assert_eq!(reason(&e), "PIN_OVER_BUS");
    assert_eq!(summarise(&e).field.as_deref(), Some("pin"));
    assert_eq!(f.token.tries_left(), 3, "never presented to the card");
    assert!(!f.running().agent.has_cached_pin(SERIAL));
    f.stop().await;
}

async fn garbage_sign_request_is_invalid_argument(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let reply = f
        .bus
        .request(
            &card_subject(WS, CardOp::Sign).unwrap(),
            Headers::new(),
            Bytes::from_static(b"\xff\xff\xff\xff garbage"),
            TIMEOUT,
        )
        .await
        .unwrap();
    let reply = Reply::decode(reply.payload).unwrap();
    let Some(Outcome::Error(s)) = reply.outcome else {
        panic!("an error reply")
    };
    assert_eq!(s.code, Code::InvalidArgument as i32, "{}", s.message);
    f.stop().await;
}

async fn digest_of_the_wrong_length_is_refused(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let e = f
        .grpc()
        .await
        .sign(sign_req(vec![0u8; 20], PIN))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(summarise(&e).field.as_deref(), Some("digest"));
    assert!(e.message().contains("20 bytes"), "{}", e.message());
    let e = f
        .bus_call::<_, api::SignResponse>(CardOp::Sign, &sign_req(vec![1u8; 33], ""))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(summarise(&e).field.as_deref(), Some("digest"));
    assert_eq!(f.token.tries_left(), 3);
    f.stop().await;
}

async fn every_signature_is_audited_without_pin_or_data(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let mut audit = f.bus.subscribe(subjects::EVENTS_AUDIT_CARD).await.unwrap();
    let data = b"patient PAT-DOUZE 2480392630010";
    let digest = digest_of(data);
    // The caller's request id joins the record to the call (local gRPC: `x-request-id`).
    let mut call = tonic::Request::new(sign_req(digest.clone(), PIN));
    call.metadata_mut()
        .insert("x-request-id", "local-req-1".parse().unwrap());
    f.grpc().await.sign(call).await.expect("signed");
    let m = tokio::time::timeout(TIMEOUT, audit.next())
        .await
        .expect("audit event")
        .unwrap();
    let ev = api::SignatureAudited::decode(m.payload.clone()).unwrap();
    assert_eq!(ev.workstation, WS);
    assert_eq!(ev.requester, "agent-tests");
    assert_eq!(ev.purpose, "test-assertion");
    assert_eq!(ev.card_serial, SERIAL);
    assert!(ev.ok);
    assert!(ev.error.is_empty());
    assert_eq!(ev.key, api::KeyUse::Signature as i32);
    assert_eq!(ev.request_id, "local-req-1");
    assert_eq!(ev.digest_hash, hex::encode(digest_of(&digest)));
    let raw = String::from_utf8_lossy(&m.payload);
    for secret in [PIN, "PAT-DOUZE", "2480392630010"] {
        assert!(!raw.contains(secret) && !format!("{ev:?}").contains(secret));
    }
    // A refused request is audited too.
    let _ = f
        .grpc()
        .await
        .sign(sign_req(digest_of(b"y"), "guessed-pin"))
        .await
        .unwrap_err();
    let m = tokio::time::timeout(TIMEOUT, audit.next())
        .await
        .expect("audit event")
        .unwrap();
    let ev = api::SignatureAudited::decode(m.payload).unwrap();
    assert!(!ev.ok);
    assert!(ev.error.contains("wrong PIN"), "{}", ev.error);
    assert!(!format!("{ev:?}").contains("guessed-pin"));
    // Over the bus, the `request-id` header; a refusal keeps it too.
    f.running().agent.forget_pins();
    let e = proto_rpc::call::<_, api::SignResponse>(
        f.bus.as_ref(),
        &card_subject(WS, CardOp::Sign).unwrap(),
        RequestId::parse("bus-req-2").unwrap().bus_headers(),
        &sign_req(digest_of(b"z"), ""),
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert_eq!(reason(&e), "PIN_REQUIRED");
    let m = tokio::time::timeout(TIMEOUT, audit.next())
        .await
        .expect("audit event")
        .unwrap();
    let ev = api::SignatureAudited::decode(m.payload).unwrap();
    assert!(!ev.ok);
    assert_eq!(ev.request_id, "bus-req-2");
    f.stop().await;
}

async fn transient_error_is_retried_once_with_the_cached_pin(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let mut c = f.grpc().await;
    c.sign(sign_req(digest_of(b"a"), PIN))
        .await
        .expect("signed");
    // First call of the day: the card resets once. The user does not click twice.
    f.token.fail_transiently(1);
    let _: api::SignResponse = f
        .bus_call(CardOp::Sign, &sign_req(digest_of(b"b"), ""))
        .await
        .expect("retried transparently");
    // Only once.
    f.token.fail_transiently(2);
    let e = f
        .bus_call::<_, api::SignResponse>(CardOp::Sign, &sign_req(digest_of(b"c"), ""))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unavailable);
    assert_eq!(reason(&e), "CARD_TRANSIENT");
    assert_eq!(f.token.tries_left(), 3);
    f.stop().await;
}

async fn pin_is_forgotten_when_the_card_leaves(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let mut events = f
        .bus
        .subscribe(&card_subject(WS, CardOp::Events).unwrap())
        .await
        .unwrap();
    f.grpc()
        .await
        .sign(sign_req(digest_of(b"a"), PIN))
        .await
        .expect("signed");
    assert!(f.running().agent.has_cached_pin(SERIAL));
    f.token.remove_card();
    let m = tokio::time::timeout(TIMEOUT, events.next())
        .await
        .expect("removal event")
        .unwrap();
    let ev = api::CardEvent::decode(m.payload).unwrap();
    assert_eq!(ev.kind, api::card_event::Kind::Removed as i32);
    assert_eq!(ev.card_serial, SERIAL);
    assert!(!f.running().agent.has_cached_pin(SERIAL));
    f.token.insert_card();
    let m = tokio::time::timeout(TIMEOUT, events.next())
        .await
        .expect("insertion event")
        .unwrap();
    let ev = api::CardEvent::decode(m.payload).unwrap();
    assert_eq!(ev.kind, api::card_event::Kind::Inserted as i32);
    let e = f
        .bus_call::<_, api::SignResponse>(CardOp::Sign, &sign_req(digest_of(b"b"), ""))
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "PIN_REQUIRED");
    f.stop().await;
}

async fn pin_prompt_asks_the_user(bus: BusKind) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("prompt.log");
    let script = format!(
        "echo \"$PASSERELLE_CARD_SERIAL\" >> '{}'; echo {PIN}",
        log.display()
    );
    let f = Fixture::start_with(bus, |c| {
        c.pin.pinentry = vec!["sh".to_owned(), "-c".to_owned(), script];
    })
    .await;
    let resp: api::SignResponse = f
        .bus_call(CardOp::Sign, &sign_req(digest_of(b"a"), ""))
        .await
        .expect("PIN typed in the agent's prompt");
    assert!(openssl_verifies(
        f.dir.path(),
        &resp.certificate,
        b"a",
        &resp.signature
    ));
    // Cached now: no second prompt.
    let _: api::SignResponse = f
        .bus_call(CardOp::Sign, &sign_req(digest_of(b"b"), ""))
        .await
        .unwrap();
    let asked = std::fs::read_to_string(&log).unwrap();
    assert_eq!(asked.lines().collect::<Vec<_>>(), vec![SERIAL]);
    f.stop().await;
}

fn unlock_req(pin: &str) -> api::UnlockRequest {
    api::UnlockRequest {
        reader: String::new(),
        pin: pin.to_owned(),
    }
}

async fn unlock_tells_tries_left_then_serves_the_bus_without_pin(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let mut c = f.grpc().await;
    let e = c.unlock(unlock_req("0000")).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert_eq!(reason(&e), "WRONG_PIN");
    assert_eq!(tries_left(&e), Some("2".to_owned()));
    assert!(!f.running().agent.has_cached_pin(SERIAL));
    // Still locked: a service asking over the bus is told to have the PIN entered.
    let e = f
        .bus_call::<_, api::SignResponse>(CardOp::Sign, &sign_req(digest_of(b"x"), ""))
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "PIN_REQUIRED");
    assert!(
        e.message().contains("passerelle card unlock"),
        "{}",
        e.message()
    );

    let r = c
        .unlock(unlock_req(PIN))
        .await
        .expect("unlocked")
        .into_inner();
    assert!(r.ok);
    assert_eq!(r.card_serial, SERIAL);
    assert_eq!(r.reader, "Passerelle software token");
    assert_eq!(r.idle_timeout_secs, 900);
    assert_eq!(f.token.tries_left(), 3, "the right PIN resets the tries");
    assert!(f.running().agent.has_cached_pin(SERIAL));

    // Services over the bus, without PIN, both keys.
    f.signs_over_the_bus_without_pin(b"<saml:Assertion>unlocked</saml:Assertion>")
        .await;
    f.stop().await;
}

async fn unlock_then_blocked_card(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let mut c = f.grpc().await;
    for _ in 0..2 {
        let e = c.unlock(unlock_req("0000")).await.unwrap_err();
        assert_eq!(reason(&e), "WRONG_PIN");
    }
    let e = c.unlock(unlock_req("0000")).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert_eq!(reason(&e), "CARD_BLOCKED");
    assert_eq!(tries_left(&e), Some("0".to_owned()));
    // The right PIN no longer helps, and nothing is cached.
    let e = c.unlock(unlock_req(PIN)).await.unwrap_err();
    assert_eq!(reason(&e), "CARD_BLOCKED");
    assert!(!f.running().agent.has_cached_pin(SERIAL));
    f.stop().await;
}

async fn unlock_is_forgotten_when_the_card_leaves(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let mut events = f
        .bus
        .subscribe(&card_subject(WS, CardOp::Events).unwrap())
        .await
        .unwrap();
    f.grpc()
        .await
        .unlock(unlock_req(PIN))
        .await
        .expect("unlocked");
    assert!(f.running().agent.has_cached_pin(SERIAL));
    f.token.remove_card();
    let m = tokio::time::timeout(TIMEOUT, events.next())
        .await
        .expect("removal event")
        .unwrap();
    let ev = api::CardEvent::decode(m.payload).unwrap();
    assert_eq!(ev.kind, api::card_event::Kind::Removed as i32);
    assert!(!f.running().agent.has_cached_pin(SERIAL));
    f.token.insert_card();
    let m = tokio::time::timeout(TIMEOUT, events.next())
        .await
        .expect("insertion event")
        .unwrap();
    let ev = api::CardEvent::decode(m.payload).unwrap();
    assert_eq!(ev.kind, api::card_event::Kind::Inserted as i32);
    let e = f
        .bus_call::<_, api::SignResponse>(CardOp::Sign, &sign_req(digest_of(b"b"), ""))
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "PIN_REQUIRED");
    f.stop().await;
}

/// Unlock has no bus subject (the PIN never travels over the bus), and the core refuses it
/// from the bus channel all the same.
async fn unlock_is_local_only(bus: BusKind) {
    let f = Fixture::start(bus).await;
    let subject = format!("passerelle.card.v1.{WS}.unlock");
    let asked = f
        .bus
        .request(
            &subject,
            Headers::new(),
            Bytes::from(unlock_req(PIN).encode_to_vec()),
            Duration::from_secs(2),
        )
        .await;
    assert!(asked.is_err(), "nobody serves {subject}");
    let e = f
        .running()
        .agent
        .unlock(card_agent::Channel::Bus, unlock_req(PIN))
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "PIN_OVER_BUS");
    assert_eq!(f.token.tries_left(), 3, "the card was not touched");
    assert!(!f.running().agent.has_cached_pin(SERIAL));
    // No PIN, or a cache that keeps nothing: refused before the card is touched.
    let e = f.grpc().await.unlock(unlock_req("")).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(reason(&e), "NO_PIN");
    f.stop().await;

    let f = Fixture::start_with(bus, |c| c.pin.idle_timeout = Duration::ZERO).await;
    let e = f.grpc().await.unlock(unlock_req(PIN)).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(reason(&e), "PIN_NOT_CACHED");
    assert_eq!(f.token.tries_left(), 3);
    f.stop().await;
}

passerelle_bus::on_both_buses!(
    reads_the_cps,
    signs_with_the_right_pin_then_from_the_cache,
    without_pin_a_bus_request_is_told_to_enter_it,
    wrong_pin_tells_tries_left_and_is_not_retried_then_blocks,
    right_pin_resets_the_tries,
    pin_over_the_bus_is_refused,
    garbage_sign_request_is_invalid_argument,
    digest_of_the_wrong_length_is_refused,
    every_signature_is_audited_without_pin_or_data,
    transient_error_is_retried_once_with_the_cached_pin,
    pin_is_forgotten_when_the_card_leaves,
    pin_prompt_asks_the_user,
    unlock_tells_tries_left_then_serves_the_bus_without_pin,
    unlock_then_blocked_card,
    unlock_is_forgotten_when_the_card_leaves,
    unlock_is_local_only,
);

// ---------------------------------------------------------------------------------------------

/// The idle timeout on tokio's paused clock: the agent core, as the bus serves it, without
/// waiting for real. (The bus plays no part in the timeout; a NATS client cannot run on a
/// paused clock, its own timers would fire.)
#[tokio::test(start_paused = true)]
async fn pin_is_forgotten_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let token = Arc::new(SoftwareToken::load(&token_config(dir.path())).expect("token loads"));
    let mut settings = card_agent::AgentSettings::new(WS);
    settings.pin_idle_timeout = Duration::from_secs(15 * 60);
    let idle = settings.pin_idle_timeout;
    let bus: SharedBus = Arc::new(InProcessBus::new());
    let agent = card_agent::CardAgent::new(settings, token.clone(), bus).unwrap();
    let over_the_bus = |data: &'static [u8]| {
        let agent = agent.clone();
        async move {
            agent
                .sign(
                    card_agent::Channel::Bus,
                    "bus",
                    &RequestId::generate(),
                    sign_req(digest_of(data), ""),
                )
                .await
        }
    };
    agent
        .sign(
            card_agent::Channel::Local,
            "local",
            &RequestId::generate(),
            sign_req(digest_of(b"a"), PIN),
        )
        .await
        .expect("signed with the PIN");
    // Used just before the timeout: kept, and the idle time starts again.
    tokio::time::advance(idle - Duration::from_secs(1)).await;
    over_the_bus(b"b").await.expect("the kept PIN serves");
    tokio::time::advance(idle - Duration::from_secs(1)).await;
    over_the_bus(b"c").await.expect("still kept");
    // Idle longer than the timeout: forgotten, the holder must enter it again.
    tokio::time::advance(idle + Duration::from_secs(1)).await;
    assert!(!agent.has_cached_pin(SERIAL));
    let e = over_the_bus(b"d").await.unwrap_err();
    assert_eq!(reason(&e), "PIN_REQUIRED");
    assert_eq!(token.tries_left(), 3, "no PIN presented");
}

#[tokio::test]
async fn invalid_workstation_id_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["", "ws.1", "*", ">", "ws 1", "ws.>"] {
        let cfg = agent_config(bad, dir.path());
        let backend = card_agent::build_backend(&cfg).await.unwrap();
        let bus: SharedBus = Arc::new(InProcessBus::new());
        let err = card_agent::start(&cfg, backend, bus, Shutdown::new())
            .await
            .err()
            .unwrap_or_else(|| panic!("{bad:?} accepted"));
        assert!(matches!(err, StartError::Agent(_)), "{bad:?}: {err}");
        assert!(err.to_string().contains("invalid workstation id"), "{err}");
    }
}

#[tokio::test]
async fn grpc_off_loopback_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = CardAgentConfig::default();
    cfg.grpc.listen = "0.0.0.0:0".parse().unwrap();
    cfg.backend.software = token_config(dir.path());
    let backend = card_agent::build_backend(&cfg).await.unwrap();
    let err = card_agent::start(
        &cfg,
        backend,
        Arc::new(InProcessBus::new()),
        Shutdown::new(),
    )
    .await
    .err()
    .expect("refused");
    assert!(matches!(err, StartError::NotLoopback(_)), "{err}");
}

#[tokio::test]
async fn ecdsa_key_reads_but_refuses_to_sign_clearly() {
    use card_agent::backend::{CardBackend, KeyUse};
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ec.key");
    let cert = dir.path().join("ec.crt");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=00B9900002",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    let token = SoftwareToken::load(&SoftwareTokenConfig {
        identity: TokenIdentity::Pem { cert, key },
        pin: PIN.to_owned(),
        ..Default::default()
    })
    .expect("loads for reading");
    assert!(!token.can_sign());
    let reader = token.reader().to_owned();
    token.read(&reader).await.expect("readable");
    token
        .verify_pin(&reader, &zeroize::Zeroizing::new(PIN.to_owned()))
        .await
        .unwrap();
    let e = token
        .sign(&reader, KeyUse::Signature, &[0u8; 32])
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("ECDSA") && msg.contains("RSA"), "{msg}");
}

#[tokio::test]
async fn pkcs12_token_signs() {
    use card_agent::backend::{CardBackend, KeyUse};
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = rsa_identity(dir.path());
    let p12 = dir.path().join("org.p12");
    openssl(&[
        "pkcs12",
        "-export",
        "-in",
        cert.to_str().unwrap(),
        "-inkey",
        key.to_str().unwrap(),
        "-out",
        p12.to_str().unwrap(),
        "-passout",
        "pass:secret",
    ]);
    // An organisation certificate on a server: no PIN.
    let token = SoftwareToken::load(&SoftwareTokenConfig {
        identity: TokenIdentity::Pkcs12 {
            path: p12,
            password: "secret".to_owned(),
        },
        ..Default::default()
    })
    .expect("PKCS#12 loads");
    let reader = token.reader().to_owned();
    let digest = digest_of(b"org");
    let (sig, cert_der) = token
        .sign(&reader, KeyUse::Signature, &digest)
        .await
        .expect("signs without PIN");
    let cert_pem = card_agent::agent::certificate_pem(&cert_der);
    assert!(openssl_verifies(dir.path(), &cert_pem, b"org", &sig));
}

#[tokio::test]
async fn key_not_matching_the_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = tempfile::tempdir().unwrap();
    let (cert, _) = rsa_identity(dir.path());
    let (_, other_key) = rsa_identity(a.path());
    let err = SoftwareToken::load(&SoftwareTokenConfig {
        identity: TokenIdentity::Pem {
            cert,
            key: other_key,
        },
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}

/// Who may ask is decided by NATS permissions: a user without the right to publish on the
/// workstation's subjects gets an error, an allowed one is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_permissions_decide_who_may_ask() {
    let conf = format!(
        r#"
authorization {{
  users = [
    {{ user: admin, password: admin }}
    {{ user: card_agent_{ws}, password: agentpw, permissions: {{
        subscribe: ["passerelle.card.v1.{ws}.>", "_INBOX.>"]
        publish: ["_INBOX.>", "passerelle.card.v1.{ws}.events", "passerelle.events.v1.audit.card",
                  "$JS.API.STREAM.INFO.PASSERELLE_EVENTS"]
    }} }}
    {{ user: ins_service, password: inspw, permissions: {{
        publish: ["passerelle.card.v1.*.sign", "passerelle.card.v1.*.read"]
        subscribe: ["_INBOX.>"]
    }} }}
    {{ user: intruder, password: intruderpw, permissions: {{
        publish: ["_INBOX.>"]
        subscribe: ["_INBOX.>"]
    }} }}
  ]
}}
"#,
        ws = WS
    );
    let server = NatsServer::start_with_config(&conf).expect("nats-server with permissions");
    let url = server.url();
    let connect = |user: &str, password: &str| {
        NatsBus::connect(
            &url,
            NatsOptions {
                user_password: Some((user.to_owned(), password.to_owned())),
                request_timeout: Some(Duration::from_secs(3)),
                ..Default::default()
            },
        )
    };
    // The operator creates the stream.
    connect("admin", "admin")
        .await
        .unwrap()
        .ensure_events_stream()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = agent_config(WS, dir.path());
    cfg.pin.pinentry = vec!["echo".to_owned(), PIN.to_owned()];
    let agent_bus: SharedBus = Arc::new(
        connect(&format!("card_agent_{WS}"), "agentpw")
            .await
            .unwrap(),
    );
    let backend = card_agent::build_backend(&cfg).await.unwrap();
    let shutdown = Shutdown::new();
    let running = card_agent::start(&cfg, backend, agent_bus, shutdown.clone())
        .await
        .expect("agent starts with its permissions");

    let call = |bus: SharedBus, op: CardOp, timeout: Duration| async move {
        let subject = card_subject(WS, op).unwrap();
        match op {
            CardOp::Sign => proto_rpc::call::<_, api::SignResponse>(
                bus.as_ref(),
                &subject,
                Headers::new(),
                &sign_req(digest_of(b"perm"), ""),
                timeout,
            )
            .await
            .map(|_| ()),
            _ => proto_rpc::call::<_, api::ReadCardResponse>(
                bus.as_ref(),
                &subject,
                Headers::new(),
                &api::ReadCardRequest::default(),
                timeout,
            )
            .await
            .map(|_| ()),
        }
    };

    let ins: SharedBus = Arc::new(connect("ins_service", "inspw").await.unwrap());
    call(ins.clone(), CardOp::Read, TIMEOUT)
        .await
        .expect("ins-service may read");
    call(ins.clone(), CardOp::Sign, TIMEOUT)
        .await
        .expect("ins-service may sign (PIN from the agent's prompt)");
    // Not `readers`: not in its permissions.
    let e = call(ins.clone(), CardOp::Readers, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert_ne!(e.code(), Code::Ok);

    let intruder: SharedBus = Arc::new(connect("intruder", "intruderpw").await.unwrap());
    for op in [CardOp::Sign, CardOp::Read] {
        let e = call(intruder.clone(), op, Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(
            matches!(e.code(), Code::DeadlineExceeded | Code::Unavailable),
            "{op:?}: {e:?}"
        );
    }
    // Another workstation's subjects: nobody serves them for this agent.
    let other = proto_rpc::call::<_, api::ReadCardResponse>(
        ins.as_ref(),
        "passerelle.card.v1.other-ws.read",
        Headers::new(),
        &api::ReadCardRequest::default(),
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    assert_eq!(other.code(), Code::Unavailable, "{other:?}");

    shutdown.trigger();
    running.wait().await.unwrap();
}

/// The software token's test/demo carte Vitale (`vitale_file`): a second reader, read like a
/// card; the CPS is still the one signing, and a bad file is refused at load.
#[tokio::test]
async fn software_vitale_file_is_a_second_reader() {
    let files = tempfile::tempdir().unwrap();
    let vitale = files.path().join("vitale.toml");
    std::fs::write(
        &vitale,
        r#"
[insured]
matricule = "1090763220834"
key = "89"
birth_name = "ECETINSI"
first_name = "PIERRE-ALAIN"
birth_date = "2009-07-14"
[[beneficiaries]]
matricule = "2090763220834"
key = "39"
birth_name = "ECETINSI"
first_name = "MARIE"
birth_date = "2011-00-00"
birth_rank = 2
"#,
    )
    .unwrap();
    let file = vitale.clone();
    let f = Fixture::start_with(BusKind::InProcess, move |cfg| {
        cfg.backend.software.vitale_file = Some(file);
    })
    .await;
    let mut c = f.grpc().await;
    let readers = c
        .list_readers(api::ListReadersRequest {})
        .await
        .unwrap()
        .into_inner()
        .readers;
    assert_eq!(readers.len(), 2);
    assert_eq!(readers[1].name, "Passerelle software Vitale");
    assert_eq!(readers[1].card, api::CardKind::Vitale as i32);
    assert_eq!(readers[1].card_serial, "SOFTWARE-VITALE");

    // Two cards: the reader must be named to read one.
    let err = c
        .read_card(api::ReadCardRequest::default())
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "SEVERAL_CARDS");
    let read: api::ReadCardResponse = f
        .bus_call(
            CardOp::Read,
            &api::ReadCardRequest {
                reader: "Passerelle software Vitale".to_owned(),
            },
        )
        .await
        .unwrap();
    assert_eq!(read.kind, api::CardKind::Vitale as i32);
    let Some(Card::Vitale(card)) = read.card else {
        panic!("not a Vitale: {read:?}")
    };
    let insured = card.insured.unwrap();
    assert_eq!(
        (
            insured.matricule.as_str(),
            insured.quality.as_str(),
            insured.birth_rank
        ),
        ("1090763220834", "00", 1)
    );
    assert_eq!(card.beneficiaries.len(), 1);
    assert_eq!(card.beneficiaries[0].quality, "01");
    assert_eq!(card.beneficiaries[0].birth_date, "2011-00-00");
    assert_eq!(card.beneficiaries[0].birth_rank, 2);

    // Signing still finds the only CPS; the Vitale reader cannot sign.
    let digest = digest_of(b"vitale and cps");
    let signed = c.sign(sign_req(digest.clone(), PIN)).await;
    assert!(signed.is_ok(), "{signed:?}");
    let mut req = sign_req(digest, PIN);
    req.reader = "Passerelle software Vitale".to_owned();
    let err = c.sign(req).await.unwrap_err();
    assert_eq!(reason(&err), "NOT_A_CPS");
    f.stop().await;

    // A file missing a person's birth name, or with an unknown key, is refused.
    let mut cfg = token_config(files.path());
    for bad in [
        "[insured]\nmatricule = \"1\"\nkey = \"2\"\nbirth_name = \"\"\nfirst_name = \"A\"\nbirth_date = \"2000-01-01\"\n",
        "[insured]\nmatricule = \"1\"\nkey = \"2\"\nbirth_name = \"B\"\nfirst_name = \"A\"\nbirth_date = \"2000-01-01\"\nnir = \"x\"\n",
    ] {
        std::fs::write(&vitale, bad).unwrap();
        cfg.vitale_file = Some(vitale.clone());
        let err = SoftwareToken::load(&cfg).unwrap_err();
        assert!(err.to_string().contains("vitale.toml"), "{err}");
    }
}

/// A token whose reader can be unplugged in the middle of a signature (vpcd readers cannot).
struct Unpluggable {
    token: Arc<SoftwareToken>,
    unplug_on_sign: std::sync::atomic::AtomicBool,
    unplugged: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl card_agent::backend::CardBackend for Unpluggable {
    async fn readers(
        &self,
    ) -> Result<Vec<card_agent::backend::ReaderState>, card_agent::backend::CardError> {
        if self.unplugged.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(Vec::new());
        }
        self.token.readers().await
    }
    async fn read(
        &self,
        reader: &str,
    ) -> Result<card_agent::backend::CardData, card_agent::backend::CardError> {
        self.token.read(reader).await
    }
    async fn verify_pin(
        &self,
        reader: &str,
        pin: &zeroize::Zeroizing<String>,
    ) -> Result<(), card_agent::backend::CardError> {
        self.token.verify_pin(reader, pin).await
    }
    async fn sign(
        &self,
        reader: &str,
        key: card_agent::backend::KeyUse,
        digest: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), card_agent::backend::CardError> {
        if self
            .unplug_on_sign
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            self.unplugged
                .store(true, std::sync::atomic::Ordering::SeqCst);
            return Err(card_agent::backend::CardError::ReaderRemoved(
                reader.to_owned(),
            ));
        }
        self.token.sign(reader, key, digest).await
    }
}

#[tokio::test]
async fn reader_unplugged_mid_signature_is_a_clear_error_and_the_agent_goes_on() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let cfg = agent_config(WS, dir.path());
    let token = Arc::new(SoftwareToken::load(&cfg.backend.software).expect("token loads"));
    let backend = Arc::new(Unpluggable {
        token: token.clone(),
        unplug_on_sign: true.into(),
        unplugged: false.into(),
    });
    let bus: SharedBus = Arc::new(InProcessBus::new());
    let shutdown = Shutdown::new();
    let running = card_agent::start(&cfg, backend.clone(), bus, shutdown.clone())
        .await
        .expect("agent starts");
    let mut grpc = CardAgentClient::connect(running.endpoint()).await.unwrap();

    let err = grpc
        .sign(sign_req(digest_of(b"unplugged"), PIN))
        .await
        .expect_err("the reader went away");
    assert_eq!(err.code(), Code::Aborted);
    assert_eq!(reason(&err), "READER_REMOVED");
    assert!(err.message().contains(token.reader()), "{}", err.message());

    // Still serving: the reader is gone from the list, and comes back.
    let readers = grpc
        .list_readers(api::ListReadersRequest {})
        .await
        .expect("still serving")
        .into_inner();
    assert!(readers.readers.is_empty());
    backend.unplugged.store(false, Ordering::SeqCst);
    let signed = grpc
        .sign(sign_req(digest_of(b"plugged again"), PIN))
        .await
        .expect("signs once the reader is back")
        .into_inner();
    assert!(!signed.signature.is_empty());
    shutdown.trigger();
    running.wait().await.unwrap();
}
