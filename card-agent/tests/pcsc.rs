//! The PC/SC backend against emulated cards through the real stack: our own `pcscd -f` with
//! the vpcd driver (Debian `pcscd`, `vsmartcard-vpcd`) on two free ports, the `card-emulator`
//! crate connected to them. Nothing is skipped: if pcscd or vpcd cannot start, tests fail and
//! say why. Signatures are checked with the `openssl` CLI.
//!
//! pcscd is one per machine (its socket is `/run/pcscd/pcscd.comm`): tests take a lock and
//! run one at a time; a pcscd already running (not ours) is an error.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]
// One test at a time on the single pcscd: each test holds a std mutex for its whole run, on
// its own runtime, across awaits; that serialisation is the point.
#![allow(clippy::await_holding_lock)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use card_agent::backend::pcsc::{CardEventKind, PcscBackend, PinSource};
use card_agent::backend::{CardBackend, CardData, CardError, CardKind, IdType, KeyUse};
use card_agent::config::BackendKind;
use card_agent::{CardAgentConfig, RunningCardAgent};
use card_emulator::cps::{CpsCard, CpsSpec, SituationSpec};
use card_emulator::vitale::{PersonSpec, VitaleCard};
use card_emulator::{Card, Emulator};
use passerelle_bus::subjects::{CardOp, card_subject};
use passerelle_bus::{Headers, SharedBus, in_process::InProcessBus, proto_rpc};
use passerelle_proto::card::v1::{self as api, card_agent_client::CardAgentClient};
use passerelle_service_kit::Shutdown;
use passerelle_service_kit::errors::summarise;
use rsa::RsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use tonic_types::StatusExt;
use zeroize::Zeroizing;

const READER0: &str = "Virtual PCD 00 00";
const READER1: &str = "Virtual PCD 00 01";
const PIN: &str = "1234";

struct Fixture {
    port: u16,
    dir: tempfile::TempDir,
}

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port_pair() -> u16 {
    for base in (41000..60000u16).step_by(37) {
        let a = std::net::TcpListener::bind(("0.0.0.0", base));
        let b = std::net::TcpListener::bind(("0.0.0.0", base + 1));
        if a.is_ok() && b.is_ok() {
            return base;
        }
    }
    panic!("no two consecutive free TCP ports for vpcd");
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let pcscd = ["/usr/sbin/pcscd", "/usr/bin/pcscd"].into_iter().find(|p| Path::new(p).exists()).unwrap_or_else(
            || panic!("pcscd is not installed: apt-get install pcscd vsmartcard-vpcd (./dev test installs them)"),
        );
        let driver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
        assert!(Path::new(driver).exists(), "vpcd driver {driver} missing: apt-get install vsmartcard-vpcd");
        if let Ok(pid) = std::fs::read_to_string("/run/pcscd/pcscd.pid") {
            let pid = pid.trim();
            assert!(
                !Path::new(&format!("/proc/{pid}")).exists(),
                "a pcscd (pid {pid}) is already running; these tests start their own: stop it first"
            );
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port_pair();
        let conf = dir.path().join("reader.conf.d");
        std::fs::create_dir_all(&conf).expect("conf dir");
        std::fs::write(
            conf.join("vpcd"),
            format!(
                "FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME   /dev/null:0x{port:04X}\nLIBPATH      {driver}\nCHANNELID    0x{port:04X}\n"
            ),
        )
        .expect("vpcd conf");
        let log = dir.path().join("pcscd.log");
        // pcscd in the foreground, killed by a watchdog when this test process ends (the shell
        // outlives the fixture on purpose, so it is not waited for).
        let script = format!(
            "{pcscd} -f -d -c {} >{} 2>&1 & p=$!; while kill -0 {} 2>/dev/null && kill -0 $p 2>/dev/null; do sleep 0.3; done; kill $p 2>/dev/null",
            conf.display(),
            log.display(),
            std::process::id()
        );
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot spawn sh for pcscd");
        // Wait for the two vpcd readers.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(ctx) = pcsc::Context::establish(pcsc::Scope::User)
                && let Ok(readers) = ctx.list_readers_owned()
                && readers.iter().any(|r| r.to_string_lossy() == READER1)
            {
                break;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("pcscd with vpcd did not come up with reader {READER1:?} in 15 s; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Fixture { port, dir }
    })
}

struct Keys {
    auth_key: RsaPrivateKey,
    auth_cert: Vec<u8>,
    sign_key: RsaPrivateKey,
    sign_cert: Vec<u8>,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let dir = fixture().dir.path();
        let make = |name: &str| {
            let key = dir.join(format!("{name}.key.pem"));
            let crt = dir.join(format!("{name}.crt.der"));
            run(Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-outform",
                    "DER",
                ])
                .args([
                    "-subj",
                    &format!("/C=FR/O=PASSERELLE TEST/CN=810010001234567 {name}"),
                    "-keyout",
                    path(&key),
                    "-out",
                    path(&crt),
                ]));
            let pem = std::fs::read_to_string(&key).expect("key");
            (
                RsaPrivateKey::from_pkcs8_pem(&pem).expect("pkcs8 key"),
                std::fs::read(&crt).expect("cert"),
            )
        };
        let (auth_key, auth_cert) = make("auth");
        let (sign_key, sign_cert) = make("sign");
        Keys {
            auth_key,
            auth_cert,
            sign_key,
            sign_cert,
        }
    })
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Which CPS the emulator plays: both generations are driven differently (see
/// `card_agent::backend::pcsc::cps`).
#[derive(Clone, Copy)]
enum Gen {
    Cps3,
    Cps4,
}

/// Runs `async fn case(generation: Gen)` as two tests, `case::cps3` and `case::cps4`.
macro_rules! on_both_generations {
    ($case:ident) => {
        mod $case {
            #[tokio::test]
            async fn cps3() {
                super::$case(super::Gen::Cps3).await;
            }

            #[tokio::test]
            async fn cps4() {
                super::$case(super::Gen::Cps4).await;
            }
        }
    };
}

fn cps_card() -> Card {
    cps_card_of(Gen::Cps3)
}

fn cps_card_of(generation: Gen) -> Card {
    let k = keys();
    let spec = CpsSpec {
        serial: "0012345678".into(),
        id_type: "8".into(),
        id: "10001234567".into(),
        last_name: "FOUQUEREY".into(),
        first_name: "JEAN".into(),
        profession: "10".into(),
        profession_label: "Médecin".into(),
        specialty: "SM54".into(),
        situations: vec![
            SituationSpec {
                structure_id_type: "4".into(),
                structure_id: "10B0123456".into(),
                structure_name: "CENTRE DE SANTE DES LILAS".into(),
                activity_sector: "SA07".into(),
                billing_id: "101234567".into(),
            },
            SituationSpec {
                structure_id_type: "3".into(),
                structure_id: "12345678900017".into(),
                structure_name: "CABINET FOUQUEREY".into(),
                activity_sector: "SA01".into(),
                billing_id: "101234568".into(),
            },
        ],
        pin: Zeroizing::new(PIN.into()),
        auth_key: k.auth_key.clone(),
        auth_cert_der: k.auth_cert.clone(),
        sign_key: k.sign_key.clone(),
        sign_cert_der: k.sign_cert.clone(),
    };
    Card::Cps(Box::new(match generation {
        Gen::Cps3 => CpsCard::new(spec),
        Gen::Cps4 => CpsCard::new_cps4(spec),
    }))
}

fn vitale_card() -> Card {
    Card::Vitale(VitaleCard::new(&[
        PersonSpec {
            matricule: "2480392630010".into(),
            key: "64".into(),
            used_name: "PAT-DOUZE".into(),
            birth_name: String::new(),
            first_name: "NATHALIE".into(),
            birth_date: "19480321".into(),
            birth_rank: 1,
            quality: "00".into(),
        },
        PersonSpec {
            matricule: "2480392630010".into(),
            key: "64".into(),
            used_name: "PAT-DOUZE".into(),
            birth_name: "MARTIN".into(),
            first_name: "LEA".into(),
            birth_date: "20120031".into(),
            birth_rank: 2,
            quality: "06".into(),
        },
    ]))
}

/// Puts `card` in reader `slot` and waits until PC/SC sees it.
fn insert(card: Card, slot: u16) -> Emulator {
    let reader = if slot == 0 { READER0 } else { READER1 };
    // pcscd must have seen the previous card go before a new one comes.
    wait_card(reader, false);
    let em = Emulator::start(card, fixture().port + slot).expect("emulator");
    wait_card(reader, true);
    em
}

fn wait_card(reader: &str, present: bool) {
    // pcscd must be running (the first test to run starts it).
    let _ = fixture();
    let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("pc/sc context");
    let name = std::ffi::CString::new(reader).expect("name");
    let mut states = vec![pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let _ = ctx.get_status_change(Duration::from_millis(300), &mut states);
        let s = states[0].event_state();
        if s.contains(pcsc::State::PRESENT) == present && !s.contains(pcsc::State::MUTE) {
            return;
        }
        states[0].sync_current_state();
        if Instant::now() > deadline {
            let log =
                std::fs::read_to_string(fixture().dir.path().join("pcscd.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!(
                "card in {reader:?} present={present} not seen in 10 s (state {s:?}); pcscd log tail:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

fn sha256(data: &[u8], dir: &Path) -> Vec<u8> {
    let f = dir.join("data.bin");
    std::fs::write(&f, data).expect("write");
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary", path(&f)])
        .output()
        .expect("openssl dgst");
    assert!(out.status.success());
    out.stdout
}

/// Verifies an RSA PKCS#1 v1.5 SHA-256 signature of `data` with the certificate's public key.
fn openssl_verify(data: &[u8], signature: &[u8], cert_der: &[u8]) -> bool {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    std::fs::write(d.join("data.bin"), data).expect("w");
    std::fs::write(d.join("sig.bin"), signature).expect("w");
    std::fs::write(d.join("cert.der"), cert_der).expect("w");
    let pubkey = Command::new("openssl")
        .args([
            "x509",
            "-inform",
            "DER",
            "-in",
            path(&d.join("cert.der")),
            "-pubkey",
            "-noout",
        ])
        .output()
        .expect("openssl x509");
    assert!(
        pubkey.status.success(),
        "{}",
        String::from_utf8_lossy(&pubkey.stderr)
    );
    std::fs::write(d.join("pub.pem"), &pubkey.stdout).expect("w");
    let out = Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-verify",
            path(&d.join("pub.pem")),
            "-signature",
            path(&d.join("sig.bin")),
        ])
        .arg(d.join("data.bin"))
        .output()
        .expect("openssl dgst -verify");
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

fn pin(p: &str) -> Zeroizing<String> {
    Zeroizing::new(p.to_owned())
}

on_both_generations!(reads_cps_holder_situations_and_certificates);
async fn reads_cps_holder_situations_and_certificates(generation: Gen) {
    let _g = serial();
    let _cps = insert(cps_card_of(generation), 0);
    let backend = PcscBackend::new().expect("backend");
    let readers = backend.readers().await.expect("readers");
    let r0 = readers
        .iter()
        .find(|r| r.name == READER0)
        .expect("reader 0");
    assert_eq!(r0.card, Some(CardKind::Cps));
    assert_eq!(
        r0.model,
        Some(match generation {
            Gen::Cps3 => "CPS3",
            Gen::Cps4 => "CPS4",
        })
    );
    let CardData::Cps(cps) = backend.read(READER0).await.expect("read") else {
        panic!("not a CPS")
    };
    assert_eq!(
        (cps.id.as_str(), cps.id_type),
        ("10001234567", IdType::Rpps)
    );
    assert_eq!(
        (cps.last_name.as_str(), cps.first_name.as_str()),
        ("FOUQUEREY", "JEAN")
    );
    assert_eq!(
        (
            cps.profession.as_str(),
            cps.profession_label.as_str(),
            cps.specialty.as_str()
        ),
        ("10", "Médecin", "SM54")
    );
    assert_eq!(cps.card_serial, "0012345678");
    // The practice situations are protected by the PIN ("Protégé" in Cryptolib's table).
    assert!(cps.situations.is_empty());
    assert!(cps.situations_need_pin);
    assert_eq!(cps.auth_certificate, keys().auth_cert);
    backend
        .verify_pin(READER0, &pin(PIN))
        .await
        .expect("pin ok");
    let CardData::Cps(cps) = backend.read(READER0).await.expect("read") else {
        panic!("not a CPS")
    };
    assert!(!cps.situations_need_pin);
    assert_eq!(cps.situations.len(), 2);
    assert_eq!(cps.situations[0].structure_id, "10B0123456");
    assert_eq!(cps.situations[0].activity_sector, "SA07");
    assert_eq!(cps.situations[1].structure_id_type, "3");
    assert_eq!(cps.auth_certificate, keys().auth_cert);
    assert_eq!(cps.sign_certificate, keys().sign_cert);
}

on_both_generations!(pin_ok_then_signs_with_both_keys_verified_by_openssl);
async fn pin_ok_then_signs_with_both_keys_verified_by_openssl(generation: Gen) {
    let _g = serial();
    let _cps = insert(cps_card_of(generation), 0);
    let backend = PcscBackend::new().expect("backend");
    // Before the PIN: refused.
    let digest = sha256(b"assertion VIHF", fixture().dir.path());
    assert_eq!(
        backend.sign(READER0, KeyUse::Signature, &digest).await,
        Err(CardError::PinRequired)
    );
    backend
        .verify_pin(READER0, &pin(PIN))
        .await
        .expect("pin ok");
    let (sig, cert) = backend
        .sign(READER0, KeyUse::Signature, &digest)
        .await
        .expect("sign");
    assert_eq!(sig.len(), 256);
    assert_eq!(cert, keys().sign_cert);
    assert!(
        openssl_verify(b"assertion VIHF", &sig, &cert),
        "openssl rejects the signature-key signature"
    );
    let (sig, cert) = backend
        .sign(READER0, KeyUse::Authentication, &digest)
        .await
        .expect("sign auth");
    assert_eq!(cert, keys().auth_cert);
    assert!(
        openssl_verify(b"assertion VIHF", &sig, &cert),
        "openssl rejects the auth-key signature"
    );
    assert!(!openssl_verify(b"something else", &sig, &cert));
    assert_eq!(
        backend.sign(READER0, KeyUse::Signature, &[0; 20]).await,
        Err(CardError::BadDigest(20))
    );
}

on_both_generations!(wrong_pin_shows_tries_left_then_blocks);
async fn wrong_pin_shows_tries_left_then_blocks(generation: Gen) {
    let _g = serial();
    let cps = insert(cps_card_of(generation), 0);
    let backend = PcscBackend::new().expect("backend");
    assert_eq!(backend.pin_tries_left(READER0).await, Ok(Some(3)));
    assert_eq!(
        backend.verify_pin(READER0, &pin("0000")).await,
        Err(CardError::WrongPin { tries_left: 2 })
    );
    // A good PIN resets the counter.
    backend
        .verify_pin(READER0, &pin(PIN))
        .await
        .expect("pin ok");
    assert_eq!(cps.tries_left(), Some(3));
    assert_eq!(
        backend.verify_pin(READER0, &pin("1111")).await,
        Err(CardError::WrongPin { tries_left: 2 })
    );
    assert_eq!(
        backend.verify_pin(READER0, &pin("2222")).await,
        Err(CardError::WrongPin { tries_left: 1 })
    );
    assert_eq!(
        backend.verify_pin(READER0, &pin("3333")).await,
        Err(CardError::Blocked)
    );
    assert_eq!(cps.tries_left(), Some(0));
    // Blocked: even the right PIN is refused, and signing too.
    assert_eq!(
        backend.verify_pin(READER0, &pin(PIN)).await,
        Err(CardError::Blocked)
    );
    let digest = [7u8; 32];
    assert_eq!(
        backend.sign(READER0, KeyUse::Signature, &digest).await,
        Err(CardError::Blocked)
    );
}

#[tokio::test]
async fn reads_vitale_insured_and_beneficiaries() {
    let _g = serial();
    let _v = insert(vitale_card(), 0);
    let backend = PcscBackend::new().expect("backend");
    let states = backend.readers().await.expect("readers");
    let r0 = states.iter().find(|s| s.name == READER0).expect("reader 0");
    assert_eq!(r0.card, Some(CardKind::Vitale));
    let CardData::Vitale(v) = backend.read(READER0).await.expect("read") else {
        panic!("not Vitale")
    };
    assert_eq!(
        (v.insured.matricule.as_str(), v.insured.key.as_str()),
        ("2480392630010", "64")
    );
    assert_eq!(
        (v.insured.used_name.as_str(), v.insured.first_name.as_str()),
        ("PAT-DOUZE", "NATHALIE")
    );
    assert_eq!(v.insured.birth_date, "1948-03-21");
    assert_eq!(
        (v.insured.birth_rank, v.insured.quality.as_str()),
        (1, "00")
    );
    assert_eq!(v.beneficiaries.len(), 1);
    let b = &v.beneficiaries[0];
    assert_eq!(b.birth_date, "2012-00-31", "lunar date kept as is");
    assert_eq!(
        (b.birth_name.as_str(), b.used_name.as_str()),
        ("MARTIN", "PAT-DOUZE")
    );
    assert_eq!((b.birth_rank, b.quality.as_str()), (2, "06"));
    assert_eq!(
        backend.verify_pin(READER0, &pin(PIN)).await,
        Err(CardError::NotACps(READER0.into()))
    );
}

#[tokio::test]
async fn unknown_card_is_reported_as_such() {
    let _g = serial();
    let _u = insert(Card::Unknown, 0);
    let backend = PcscBackend::new().expect("backend");
    let states = backend.readers().await.expect("readers");
    assert_eq!(
        states
            .iter()
            .find(|s| s.name == READER0)
            .and_then(|s| s.card),
        Some(CardKind::Unknown)
    );
    assert_eq!(
        backend.read(READER0).await,
        Err(CardError::UnknownCard(READER0.into()))
    );
    assert_eq!(
        backend.sign(READER0, KeyUse::Signature, &[0; 32]).await,
        Err(CardError::NotACps(READER0.into()))
    );
}

#[tokio::test]
async fn two_readers_cps_and_vitale() {
    let _g = serial();
    let _cps = insert(cps_card(), 0);
    let _v = insert(vitale_card(), 1);
    let backend = PcscBackend::new().expect("backend");
    let states = backend.readers().await.expect("readers");
    let kind = |r: &str| states.iter().find(|s| s.name == r).and_then(|s| s.card);
    assert_eq!(kind(READER0), Some(CardKind::Cps));
    assert_eq!(kind(READER1), Some(CardKind::Vitale));
    assert_eq!(
        states
            .iter()
            .find(|s| s.name == READER0)
            .and_then(|s| s.card_serial.clone())
            .as_deref(),
        Some("0012345678")
    );
    assert!(matches!(backend.read(READER0).await, Ok(CardData::Cps(_))));
    assert!(matches!(
        backend.read(READER1).await,
        Ok(CardData::Vitale(_))
    ));
    assert_eq!(
        backend.read("No Such Reader 00 00").await,
        Err(CardError::NoSuchReader("No Such Reader 00 00".into()))
    );
}

async fn next_event(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<card_agent::backend::pcsc::CardEvent>,
) -> card_agent::backend::pcsc::CardEvent {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let e = events.recv().await.expect("watch ended");
            if e.reader == READER0 {
                return e;
            }
        }
    })
    .await
    .expect("no card event in 10 s")
}

#[tokio::test]
async fn empty_reader_and_watch_insertion_removal() {
    let _g = serial();
    wait_card(READER0, false);
    let backend = PcscBackend::new().expect("backend");
    assert_eq!(
        backend.read(READER0).await,
        Err(CardError::NoCard(READER0.into()))
    );
    let mut events = backend.watch().expect("watch");
    // What wakes the agent: one notification per change, from the same PC/SC status change.
    let mut changes = backend
        .changes()
        .expect("the PC/SC backend notifies changes");
    let cps = insert(cps_card(), 0);
    tokio::time::timeout(Duration::from_secs(2), changes.recv())
        .await
        .expect("notified within 2 s")
        .expect("notifications go on");
    let e = next_event(&mut events).await;
    assert_eq!(e.kind, CardEventKind::Inserted);
    // The watching thread does not read cards; the backend identifies them.
    let r = backend.readers().await.expect("readers");
    let r0 = r.iter().find(|r| r.name == READER0).expect("reader 0");
    assert_eq!(
        (r0.card, r0.card_serial.as_deref()),
        (Some(CardKind::Cps), Some("0012345678"))
    );
    cps.remove();
    let e = next_event(&mut events).await;
    assert_eq!(e.kind, CardEventKind::Removed);
}

on_both_generations!(card_removed_while_signing);
async fn card_removed_while_signing(generation: Gen) {
    let _g = serial();
    let cps = insert(cps_card_of(generation), 0);
    let backend = PcscBackend::new().expect("backend");
    backend.verify_pin(READER0, &pin(PIN)).await.expect("pin");
    cps.remove_on_next_signature();
    assert_eq!(
        backend.sign(READER0, KeyUse::Signature, &[1; 32]).await,
        Err(CardError::CardRemoved)
    );
    wait_card(READER0, false);
    assert_eq!(
        backend.read(READER0).await,
        Err(CardError::NoCard(READER0.into()))
    );
}

struct Cache(Option<String>);
impl PinSource for Cache {
    fn cached_pin(&self, card_serial: &str) -> Option<Zeroizing<String>> {
        (card_serial == "0012345678")
            .then(|| self.0.clone().map(Zeroizing::new))
            .flatten()
    }
}

/// Another application resets the card (as happens with other middleware on a workstation).
fn reset_by_another_application(reader: &str) {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("ctx");
    let name = std::ffi::CString::new(reader).expect("name");
    let card = ctx
        .connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .expect("connect");
    card.disconnect(pcsc::Disposition::ResetCard)
        .map_err(|(_, e)| e)
        .expect("reset");
}

on_both_generations!(card_reset_is_recovered_transparently);
async fn card_reset_is_recovered_transparently(generation: Gen) {
    let _g = serial();
    let cps = insert(cps_card_of(generation), 0);
    let backend = PcscBackend::with_pin_source(Arc::new(Cache(Some(PIN.into())))).expect("backend");
    backend.verify_pin(READER0, &pin(PIN)).await.expect("pin");
    let digest = sha256(b"first INSi call of the day", fixture().dir.path());
    reset_by_another_application(READER0);
    let (sig, cert) = backend
        .sign(READER0, KeyUse::Signature, &digest)
        .await
        .expect("sign after reset");
    assert!(openssl_verify(b"first INSi call of the day", &sig, &cert));
    // Reading after a reset needs no PIN: transparent too.
    reset_by_another_application(READER0);
    assert!(matches!(backend.read(READER0).await, Ok(CardData::Cps(_))));
    assert_eq!(cps.tries_left(), Some(3));

    // Without a cached PIN: a transient error, then the caller presents the PIN again.
    let bare = PcscBackend::new().expect("backend");
    bare.verify_pin(READER0, &pin(PIN)).await.expect("pin");
    reset_by_another_application(READER0);
    let err = bare
        .sign(READER0, KeyUse::Signature, &digest)
        .await
        .expect_err("needs the PIN again");
    assert!(err.is_transient(), "{err:?}");
    bare.verify_pin(READER0, &pin(PIN))
        .await
        .expect("pin again");
    assert!(bare.sign(READER0, KeyUse::Signature, &digest).await.is_ok());
}

on_both_generations!(cached_pin_refused_after_reset_is_not_retried);
async fn cached_pin_refused_after_reset_is_not_retried(generation: Gen) {
    let _g = serial();
    let cps = insert(cps_card_of(generation), 0);
    // The cache holds a wrong PIN (changed meanwhile): presented once, refused, not retried.
    let backend =
        PcscBackend::with_pin_source(Arc::new(Cache(Some("9999".into())))).expect("backend");
    backend.verify_pin(READER0, &pin(PIN)).await.expect("pin");
    reset_by_another_application(READER0);
    assert_eq!(
        backend.sign(READER0, KeyUse::Signature, &[3; 32]).await,
        Err(CardError::WrongPin { tries_left: 2 })
    );
    assert_eq!(cps.tries_left(), Some(2));
}

// --- The agent on the PC/SC backend: the one recovery path (see `card_agent::agent`) ---------

const WS: &str = "ws-pcsc";
const CPS_SERIAL: &str = "0012345678";

/// The agent as `main` builds it: `build_backend` (PC/SC) then `start`, on an in-process bus.
async fn agent_on_pcsc() -> (SharedBus, RunningCardAgent, Shutdown) {
    let mut cfg = CardAgentConfig {
        workstation: WS.to_owned(),
        ..Default::default()
    };
    cfg.grpc.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.backend.kind = BackendKind::Pcsc;
    let backend = card_agent::build_backend(&cfg)
        .await
        .expect("PC/SC backend");
    let bus: SharedBus = Arc::new(InProcessBus::new());
    let shutdown = Shutdown::new();
    let running = card_agent::start(&cfg, backend, bus.clone(), shutdown.clone())
        .await
        .expect("agent starts");
    (bus, running, shutdown)
}

/// `Unlock` on the local channel (loopback gRPC), as `passerelle card unlock --pin-stdin`.
async fn unlock_locally(running: &RunningCardAgent, pin: &str) -> api::UnlockResponse {
    CardAgentClient::connect(running.endpoint())
        .await
        .expect("grpc")
        .unlock(api::UnlockRequest {
            reader: READER0.to_owned(),
            pin: pin.to_owned(),
        })
        .await
        .expect("unlock")
        .into_inner()
}

/// A signature asked by a service over the bus: never with a PIN.
async fn sign_over_bus(bus: &SharedBus, data: &[u8]) -> Result<api::SignResponse, tonic::Status> {
    proto_rpc::call(
        bus.as_ref(),
        &card_subject(WS, CardOp::Sign).expect("subject"),
        Headers::new(),
        &api::SignRequest {
            reader: READER0.to_owned(),
            digest: sha256(data, fixture().dir.path()),
            purpose: "insi-assertion".to_owned(),
            requester: "pcsc-tests".to_owned(),
            ..Default::default()
        },
        Duration::from_secs(20),
    )
    .await
}

fn reason_of(status: &tonic::Status) -> String {
    summarise(status).reason.unwrap_or_default()
}

fn tries_left_of(status: &tonic::Status) -> Option<String> {
    status
        .get_error_details()
        .error_info()
        .and_then(|i| i.metadata.get(card_agent::agent::TRIES_LEFT_KEY).cloned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_tells_insertion_and_removal_as_pcsc_reports_them() {
    use futures::StreamExt;
    use prost::Message;
    let _g = serial();
    wait_card(READER0, false);
    let (bus, running, shutdown) = agent_on_pcsc().await;
    let mut events = bus
        .subscribe(&card_subject(WS, CardOp::Events).expect("subject"))
        .await
        .expect("subscribe");
    // The agent's own look at the readers comes every NOTIFIED_POLL_INTERVAL (5 s); an event
    // within 2 s comes from PC/SC's status change notification.
    let within = Duration::from_secs(2);
    assert!(card_agent::NOTIFIED_POLL_INTERVAL > within * 2);
    async fn next(
        events: &mut passerelle_bus::MessageStream,
        within: Duration,
    ) -> Result<api::CardEvent, tokio::time::error::Elapsed> {
        tokio::time::timeout(within, async {
            loop {
                let m = events.next().await.expect("events stream");
                let e = api::CardEvent::decode(m.payload).expect("CardEvent");
                if e.reader == READER0 {
                    return e;
                }
            }
        })
        .await
    }
    let cps = insert(cps_card_of(Gen::Cps4), 0);
    let e = next(&mut events, within)
        .await
        .expect("insertion told within 2 s");
    assert_eq!(e.kind, api::card_event::Kind::Inserted as i32);
    assert_eq!(e.card, api::CardKind::Cps as i32);
    assert_eq!(e.card_serial, CPS_SERIAL);
    cps.remove();
    let e = next(&mut events, within)
        .await
        .expect("removal told within 2 s");
    assert_eq!(e.kind, api::card_event::Kind::Removed as i32);
    shutdown.trigger();
    running.wait().await.expect("agent stops");
}

async fn read_over_bus(bus: &SharedBus) -> api::CpsHolder {
    let read: api::ReadCardResponse = proto_rpc::call(
        bus.as_ref(),
        &card_subject(WS, CardOp::Read).expect("subject"),
        Headers::new(),
        &api::ReadCardRequest::default(),
        Duration::from_secs(20),
    )
    .await
    .expect("read over the bus");
    match read.card {
        Some(api::read_card_response::Card::Cps(h)) => h,
        other => panic!("not a CPS: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_reads_situations_once_the_pin_is_kept_even_after_a_reset() {
    let _g = serial();
    let cps = insert(cps_card_of(Gen::Cps4), 0);
    let (bus, running, shutdown) = agent_on_pcsc().await;
    let before = read_over_bus(&bus).await;
    assert_eq!(before.last_name, "FOUQUEREY");
    assert!(before.situations.is_empty());
    assert!(before.situations_need_pin);
    unlock_locally(&running, PIN).await;
    let after = read_over_bus(&bus).await;
    assert_eq!(after.situations.len(), 2);
    assert!(!after.situations_need_pin);
    // A reset clears the card's security state: the kept PIN is presented again, once.
    reset_by_another_application(READER0);
    let again = read_over_bus(&bus).await;
    assert_eq!(again.situations.len(), 2);
    assert_eq!(cps.tries_left(), Some(3));
    shutdown.trigger();
    running.wait().await.expect("agent stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_signs_over_the_bus_after_a_reset_without_a_new_pin() {
    let _g = serial();
    let cps = insert(cps_card(), 0);
    let (bus, running, shutdown) = agent_on_pcsc().await;
    let unlocked = unlock_locally(&running, PIN).await;
    assert_eq!(unlocked.card_serial, CPS_SERIAL);
    assert!(running.agent.has_cached_pin(CPS_SERIAL));
    for round in 0..2 {
        reset_by_another_application(READER0);
        let data = format!("INSi assertion after reset {round}");
        let signed = sign_over_bus(&bus, data.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("signature after reset {round}: {e:?}"));
        assert_eq!(
            signed.certificate,
            card_agent::agent::certificate_pem(&keys().sign_cert)
        );
        assert!(
            openssl_verify(data.as_bytes(), &signed.signature, &keys().sign_cert),
            "openssl rejects the signature made after reset {round}"
        );
    }
    // Only accepted presentations: the counter never moved, and the PIN is still kept.
    assert_eq!(cps.tries_left(), Some(3));
    assert!(running.agent.has_cached_pin(CPS_SERIAL));
    shutdown.trigger();
    running.wait().await.expect("agent stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_presents_a_refused_cached_pin_once_only() {
    let _g = serial();
    let cps = insert(cps_card(), 0);
    let (bus, running, shutdown) = agent_on_pcsc().await;
    unlock_locally(&running, PIN).await;
    assert_eq!(cps.tries_left(), Some(3));

    // The holder changed the PIN with another tool (which reset the card): the cached PIN is
    // presented once, refused, dropped from the cache, never presented again.
    assert!(cps.change_pin("5678"));
    reset_by_another_application(READER0);
    let e = sign_over_bus(&bus, b"after the PIN change")
        .await
        .expect_err("refused PIN");
    assert_eq!(reason_of(&e), "WRONG_PIN", "{e:?}");
    assert_eq!(tries_left_of(&e).as_deref(), Some("2"));
    assert_eq!(cps.tries_left(), Some(2), "exactly one presentation");
    assert!(!running.agent.has_cached_pin(CPS_SERIAL));
    let e = sign_over_bus(&bus, b"and again")
        .await
        .expect_err("no PIN any more");
    assert_eq!(reason_of(&e), "PIN_REQUIRED", "{e:?}");
    assert_eq!(
        cps.tries_left(),
        Some(2),
        "the refused PIN was not presented again"
    );

    // Same without a reset: the PIN changed under a card still verified.
    unlock_locally(&running, "5678").await;
    assert_eq!(cps.tries_left(), Some(3));
    assert!(cps.change_pin("4321"));
    let e = sign_over_bus(&bus, b"changed again")
        .await
        .expect_err("refused PIN");
    assert_eq!(reason_of(&e), "WRONG_PIN", "{e:?}");
    assert_eq!(cps.tries_left(), Some(2), "exactly one presentation");
    assert!(!running.agent.has_cached_pin(CPS_SERIAL));
    shutdown.trigger();
    running.wait().await.expect("agent stops");
}

/// The agent hands its PIN cache to the PC/SC backend: a reset between the PIN and the
/// signature is recovered by the backend with the agent's cached PIN; a refusal there is
/// reported to the agent's cache, so the agent never presents that PIN again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcsc_backend_recovers_with_the_agents_pin_cache() {
    let _g = serial();
    let cps = insert(cps_card(), 0);
    let backend = Arc::new(PcscBackend::new().expect("backend"));
    let bus: SharedBus = Arc::new(InProcessBus::new());
    let agent = card_agent::CardAgent::new(
        card_agent::AgentSettings::new(WS),
        backend.clone(),
        bus.clone(),
    )
    .expect("agent");
    agent
        .unlock(
            card_agent::Channel::Local,
            api::UnlockRequest {
                reader: READER0.to_owned(),
                pin: PIN.to_owned(),
            },
        )
        .await
        .expect("unlock");
    // The reset comes after the PIN was verified: the backend's signature re-presents the
    // agent's cached PIN itself.
    reset_by_another_application(READER0);
    let data = b"reset between PIN and signature";
    let digest = sha256(data, fixture().dir.path());
    let (sig, cert) = backend
        .sign(READER0, KeyUse::Signature, &digest)
        .await
        .expect("signed with the agent's cached PIN");
    assert!(openssl_verify(data, &sig, &cert));
    assert_eq!(cps.tries_left(), Some(3));

    // The PIN changed, then a reset: the backend presents the cached PIN once, refused; the
    // agent's cache drops it at once.
    assert!(cps.change_pin("5678"));
    reset_by_another_application(READER0);
    assert_eq!(
        backend.sign(READER0, KeyUse::Signature, &digest).await,
        Err(CardError::WrongPin { tries_left: 2 })
    );
    assert_eq!(cps.tries_left(), Some(2));
    assert!(!agent.has_cached_pin(CPS_SERIAL));
    let e = agent
        .sign(
            card_agent::Channel::Bus,
            "pcsc-tests",
            &passerelle_service_kit::RequestId::generate(),
            api::SignRequest {
                reader: READER0.to_owned(),
                digest,
                ..Default::default()
            },
        )
        .await
        .expect_err("no PIN any more");
    assert_eq!(reason_of(&e), "PIN_REQUIRED", "{e:?}");
    assert_eq!(
        cps.tries_left(),
        Some(2),
        "the refused PIN was not presented again"
    );
}
