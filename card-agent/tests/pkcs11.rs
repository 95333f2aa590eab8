//! The PKCS#11 backend against a real module: SoftHSM (Debian `softhsm2`), with RSA-2048 keys and
//! certificates made by `openssl`, and signatures checked by `openssl` (not by our code).
//!
//! Each test makes its own SoftHSM configuration and token directory. SoftHSM reads
//! `SOFTHSM2_CONF` when initialised and is one library per process, so the tests take a lock and
//! finalise the module before the next one.
//!
//! SoftHSM never locks a PIN: after a wrong PIN it sets only `CKF_USER_PIN_COUNT_LOW`. The locked
//! case is produced by setting `CKF_USER_PIN_LOCKED` in the token's own flags file (see
//! [`lock_user_pin`]).

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};

use card_agent::backend::pkcs11::{Pkcs11Backend, Pkcs11Config, SOFTHSM_MODULE};
use card_agent::backend::{CardBackend, CardData, CardError, CardKind, IdType, KeyUse};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, CertificateType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use tempfile::TempDir;
use x509_parser::prelude::{FromDer, X509Certificate};
use zeroize::Zeroizing;

const PIN: &str = "1234";
const SO_PIN: &str = "12345678";
const TOKEN: &str = "CPS TEST";
const CA_SUBJECT: &str = "/C=FR/O=ASIP-SANTE/OU=IGC-SANTE TEST/CN=TEST AC IGC-SANTE FORT PERSONNES";
const CPS_SUBJECT: &str = "/C=FR/title=Medecin/GN=JEANNE/CN=00B9900001/SN=MEDECIN TEST0001";

static LOCK: Mutex<()> = Mutex::new(());

/// SoftHSM and openssl must be here: never pass silently without them.
fn require_tools() {
    let missing: Vec<&str> = [
        (Path::new(SOFTHSM_MODULE).is_file(), "the SoftHSM module"),
        (tool_exists("softhsm2-util"), "softhsm2-util"),
        (tool_exists("openssl"), "openssl"),
    ]
    .into_iter()
    .filter(|(ok, _)| !ok)
    .map(|(_, what)| what)
    .collect();
    assert!(
        missing.is_empty(),
        "PKCS#11 tests need SoftHSM and openssl; missing: {missing:?} \
         (apt-get install -y softhsm2 openssl, or run ./dev test which installs them)"
    );
}

fn tool_exists(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() || !o.stdout.is_empty() || !o.stderr.is_empty())
}

fn run(dir: &Path, conf: Option<&Path>, program: &str, args: &[&str]) -> Vec<u8> {
    let mut command = Command::new(program);
    command.args(args).current_dir(dir);
    if let Some(conf) = conf {
        command.env("SOFTHSM2_CONF", conf);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A SoftHSM environment of its own, holding the process-wide lock.
struct Hsm {
    dir: TempDir,
    conf: PathBuf,
    _guard: MutexGuard<'static, ()>,
}

impl Hsm {
    fn new() -> Self {
        require_tools();
        let guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        // SAFETY: every test of this binary that touches the environment or SoftHSM holds
        // LOCK; nothing else in this process reads the environment concurrently.
        unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
        Self {
            dir,
            conf,
            _guard: guard,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, program: &str, args: &[&str]) -> Vec<u8> {
        run(self.dir.path(), Some(&self.conf), program, args)
    }

    fn init_token(&self, label: &str) {
        self.run(
            "softhsm2-util",
            &[
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                PIN,
                "--so-pin",
                SO_PIN,
            ],
        );
    }

    fn openssl(&self, args: &[&str]) {
        self.run("openssl", args);
    }

    /// A test CA with the IGC-Santé TEST issuer name.
    fn make_ca(&self) {
        self.openssl(&[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", CA_SUBJECT,
        ]);
    }

    /// An RSA-2048 key (PKCS#8) and a certificate for it, signed by the CA (or self-signed),
    /// with the given key usage. Returns the DER certificate.
    fn make_cert(&self, name: &str, subject: &str, ext: &str, by_ca: bool) -> Vec<u8> {
        let key = format!("{name}.pk8");
        let csr = format!("{name}.csr");
        let pem = format!("{name}.pem");
        let der = format!("{name}.der");
        let ext_file = format!("{name}.ext");
        std::fs::write(self.path(&ext_file), ext).unwrap();
        self.openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &key,
        ]);
        self.openssl(&["req", "-new", "-key", &key, "-subj", subject, "-out", &csr]);
        if by_ca {
            self.openssl(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext_file,
                "-out",
                &pem,
            ]);
        } else {
            self.openssl(&[
                "x509", "-req", "-in", &csr, "-signkey", &key, "-days", "2", "-extfile", &ext_file,
                "-out", &pem,
            ]);
        }
        self.openssl(&["x509", "-in", &pem, "-outform", "DER", "-out", &der]);
        self.openssl(&[
            "x509",
            "-in",
            &pem,
            "-pubkey",
            "-noout",
            "-out",
            &format!("{name}.pub"),
        ]);
        std::fs::read(self.path(&der)).unwrap()
    }

    /// Imports `name`'s private key with softhsm2-util and its certificate through cryptoki.
    fn import(&self, token: &str, name: &str, id_hex: &str, label: &str, cert_der: &[u8]) {
        self.run(
            "softhsm2-util",
            &[
                "--import",
                &format!("{name}.pk8"),
                "--token",
                token,
                "--id",
                id_hex,
                "--label",
                label,
                "--pin",
                PIN,
            ],
        );
        let (_, cert) = X509Certificate::from_der(cert_der).unwrap();
        let subject = cert.subject().as_raw().to_vec();
        let ctx = Pkcs11::new(SOFTHSM_MODULE).unwrap();
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        let slot = ctx
            .get_slots_with_initialized_token()
            .unwrap()
            .into_iter()
            .find(|s| ctx.get_token_info(*s).unwrap().label().trim() == token)
            .unwrap();
        let session = ctx.open_rw_session(slot).unwrap();
        session
            .login(UserType::User, Some(&AuthPin::from(PIN)))
            .unwrap();
        session
            .create_object(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::CertificateType(CertificateType::X_509),
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Id(hex::decode(id_hex).unwrap()),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Subject(subject),
                Attribute::Value(cert_der.to_vec()),
            ])
            .unwrap();
        drop(session);
        ctx.finalize().unwrap();
    }

    /// A CPS-like token: an authentication key (digitalSignature, clientAuth) and a signature
    /// key (nonRepudiation), neutral labels so that the key usage decides.
    fn cps_token(&self) -> CpsToken {
        self.init_token(TOKEN);
        self.make_ca();
        let auth = self.make_cert(
            "auth",
            CPS_SUBJECT,
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
            true,
        );
        let sign = self.make_cert(
            "sign",
            CPS_SUBJECT,
            "keyUsage=critical,nonRepudiation\nextendedKeyUsage=emailProtection\n",
            true,
        );
        self.import(TOKEN, "auth", "01", "CPS key 1", &auth);
        self.import(TOKEN, "sign", "02", "CPS key 2", &sign);
        CpsToken { auth, sign }
    }

    fn backend(&self, config: Pkcs11Config) -> Pkcs11Backend {
        Pkcs11Backend::open_blocking(config).unwrap()
    }

    /// Verifies `signature` over `data` with openssl and `name`'s certificate public key.
    fn openssl_verifies(&self, name: &str, data: &[u8], signature: &[u8]) -> bool {
        std::fs::write(self.path("data.bin"), data).unwrap();
        std::fs::write(self.path("sig.bin"), signature).unwrap();
        Command::new("openssl")
            .args([
                "dgst",
                "-sha256",
                "-verify",
                &format!("{name}.pub"),
                "-signature",
                "sig.bin",
                "data.bin",
            ])
            .current_dir(self.dir.path())
            .output()
            .unwrap()
            .status
            .success()
    }
}

struct CpsToken {
    auth: Vec<u8>,
    sign: Vec<u8>,
}

fn softhsm() -> Pkcs11Config {
    Pkcs11Config::with_module(SOFTHSM_MODULE)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn pin(s: &str) -> Zeroizing<String> {
    Zeroizing::new(s.to_owned())
}

fn sha256(hsm: &Hsm, data: &[u8]) -> Vec<u8> {
    std::fs::write(hsm.path("digest-in.bin"), data).unwrap();
    hsm.run("openssl", &["dgst", "-sha256", "-binary", "digest-in.bin"])
}

/// The reader holding the CPS test token.
async fn cps_reader(backend: &Pkcs11Backend) -> String {
    let readers = backend.readers().await.unwrap();
    let cps: Vec<_> = readers
        .iter()
        .filter(|r| r.card == Some(CardKind::Cps))
        .collect();
    assert_eq!(cps.len(), 1, "one CPS expected among {readers:?}");
    assert!(cps[0].card_serial.as_deref().is_some_and(|s| !s.is_empty()));
    cps[0].name.clone()
}

#[test]
fn reads_readers_certificates_and_holder() {
    let hsm = Hsm::new();
    let token = hsm.cps_token();
    let backend = hsm.backend(softhsm());
    block_on(async {
        let reader = cps_reader(&backend).await;
        // SoftHSM always offers a blank token in a free slot: a card of unknown kind.
        let readers = backend.readers().await.unwrap();
        assert!(
            readers.iter().any(|r| r.card == Some(CardKind::Unknown)),
            "{readers:?}"
        );

        let CardData::Cps(cps) = backend.read(&reader).await.unwrap() else {
            panic!("not a CPS");
        };
        assert_eq!(cps.id, "00B9900001");
        assert_eq!(cps.id_type, IdType::Other);
        assert_eq!(cps.last_name, "MEDECIN TEST0001");
        assert_eq!(cps.first_name, "JEANNE");
        assert_eq!(cps.profession_label, "Medecin");
        assert_eq!(cps.profession, "10");
        assert!(!cps.card_serial.is_empty());
        assert_eq!(cps.sign_certificate, token.sign);
        assert_eq!(cps.auth_certificate, token.auth);

        // The token label names the reader too.
        assert_eq!(
            backend.read(TOKEN).await.unwrap(),
            CardData::Cps(cps.clone())
        );
        assert_eq!(
            backend.read("no such reader").await,
            Err(CardError::NoSuchReader("no such reader".into()))
        );
    });
}

#[test]
fn a_token_without_cps_certificate_is_unknown_unless_configured() {
    let hsm = Hsm::new();
    hsm.init_token("OTHER");
    let cert = hsm.make_cert(
        "server",
        "/C=FR/O=Somewhere/CN=server.example",
        "keyUsage=critical,digitalSignature\n",
        false,
    );
    hsm.import("OTHER", "server", "0a", "server", &cert);

    let backend = hsm.backend(softhsm());
    block_on(async {
        let readers = backend.readers().await.unwrap();
        assert!(
            readers.iter().all(|r| r.card != Some(CardKind::Cps)),
            "{readers:?}"
        );
        assert!(matches!(
            backend.read("OTHER").await,
            Err(CardError::UnknownCard(_))
        ));
    });
    drop(backend);

    let mut config = softhsm();
    config.cps_token_labels = vec!["OTHER".into()];
    let backend = hsm.backend(config);
    block_on(async {
        let reader = cps_reader(&backend).await;
        let CardData::Cps(cps) = backend.read(&reader).await.unwrap() else {
            panic!("not a CPS");
        };
        assert_eq!(cps.id, "server.example");
    });
}

#[test]
fn pin_right_wrong_and_never_locked_by_softhsm() {
    let hsm = Hsm::new();
    hsm.cps_token();
    let backend = hsm.backend(softhsm());
    block_on(async {
        let reader = cps_reader(&backend).await;
        let digest = [1u8; 32];
        assert_eq!(
            backend.sign(&reader, KeyUse::Signature, &digest).await,
            Err(CardError::PinRequired),
            "no signature before the PIN"
        );
        // SoftHSM sets CKF_USER_PIN_COUNT_LOW only: "at least 2 tries left", every time.
        for _ in 0..4 {
            assert_eq!(
                backend.verify_pin(&reader, &pin("0000")).await,
                Err(CardError::WrongPin { tries_left: 2 })
            );
        }
        backend.verify_pin(&reader, &pin(PIN)).await.unwrap();
        backend
            .sign(&reader, KeyUse::Signature, &digest)
            .await
            .unwrap();
        // A wrong PIN afterwards drops the earlier login.
        assert!(matches!(
            backend.verify_pin(&reader, &pin("9999")).await,
            Err(CardError::WrongPin { .. })
        ));
        assert_eq!(
            backend.sign(&reader, KeyUse::Signature, &digest).await,
            Err(CardError::PinRequired)
        );
        // Verifying again (a fresh verification, not "already logged in").
        backend.verify_pin(&reader, &pin(PIN)).await.unwrap();
        backend.verify_pin(&reader, &pin(PIN)).await.unwrap();
    });
}

#[test]
fn signs_with_both_keys_and_openssl_verifies() {
    let hsm = Hsm::new();
    let token = hsm.cps_token();
    let backend = hsm.backend(softhsm());
    let data = b"<saml:Assertion>SignedInfo of a VIHF</saml:Assertion>".to_vec();
    let digest = sha256(&hsm, &data);
    assert_eq!(digest.len(), 32);
    let (sig_sign, cert_sign, sig_auth, cert_auth) = block_on(async {
        let reader = cps_reader(&backend).await;
        backend.verify_pin(&reader, &pin(PIN)).await.unwrap();
        let (sig_sign, cert_sign) = backend
            .sign(&reader, KeyUse::Signature, &digest)
            .await
            .unwrap();
        let (sig_auth, cert_auth) = backend
            .sign(&reader, KeyUse::Authentication, &digest)
            .await
            .unwrap();
        (sig_sign, cert_sign, sig_auth, cert_auth)
    });
    assert_eq!(cert_sign, token.sign);
    assert_eq!(cert_auth, token.auth);
    assert_eq!(sig_sign.len(), 256);
    assert_eq!(sig_auth.len(), 256);
    assert!(hsm.openssl_verifies("sign", &data, &sig_sign));
    assert!(hsm.openssl_verifies("auth", &data, &sig_auth));
    // And each key is the one claimed.
    assert!(!hsm.openssl_verifies("auth", &data, &sig_sign));
    assert!(!hsm.openssl_verifies("sign", &data, &sig_auth));
}

#[test]
fn digest_of_wrong_length_is_refused() {
    let hsm = Hsm::new();
    hsm.cps_token();
    let backend = hsm.backend(softhsm());
    block_on(async {
        let reader = cps_reader(&backend).await;
        backend.verify_pin(&reader, &pin(PIN)).await.unwrap();
        for len in [0usize, 20, 31, 33, 64] {
            assert_eq!(
                backend
                    .sign(&reader, KeyUse::Signature, &vec![0u8; len])
                    .await,
                Err(CardError::BadDigest(len))
            );
        }
    });
}

/// Sets `CKF_USER_PIN_LOCKED` in the flags SoftHSM keeps in the token's `token.object` (an
/// attribute `CKA_OS_TOKENFLAGS` = 0x80005348 + 3, stored as type u64, kind u64 = 2 (unsigned
/// long), value u64, big-endian). SoftHSM reports these flags in `C_GetTokenInfo`.
fn lock_user_pin(hsm: &Hsm) {
    const CKA_OS_TOKENFLAGS: u64 = 0x8000_5348 + 3;
    const CKF_USER_PIN_LOCKED: u64 = 0x0004_0000;
    let tokens = hsm.path("tokens");
    let mut patched = 0;
    for entry in std::fs::read_dir(&tokens).unwrap() {
        let path = entry.unwrap().path().join("token.object");
        let Ok(mut bytes) = std::fs::read(&path) else {
            continue;
        };
        let marker = [CKA_OS_TOKENFLAGS.to_be_bytes(), 2u64.to_be_bytes()].concat();
        let at = bytes
            .windows(marker.len())
            .position(|w| w == marker.as_slice())
            .unwrap_or_else(|| panic!("no token flags attribute in {}", path.display()));
        let value_at = at + marker.len();
        let mut value = [0u8; 8];
        value.copy_from_slice(&bytes[value_at..value_at + 8]);
        let flags = u64::from_be_bytes(value) | CKF_USER_PIN_LOCKED;
        bytes[value_at..value_at + 8].copy_from_slice(&flags.to_be_bytes());
        std::fs::write(&path, bytes).unwrap();
        patched += 1;
    }
    assert!(
        patched > 0,
        "no SoftHSM token found in {}",
        tokens.display()
    );
}

#[test]
fn a_locked_pin_is_blocked_and_not_presented() {
    let hsm = Hsm::new();
    hsm.cps_token();
    lock_user_pin(&hsm);
    let backend = hsm.backend(softhsm());
    block_on(async {
        let reader = cps_reader(&backend).await;
        assert_eq!(
            backend.verify_pin(&reader, &pin(PIN)).await,
            Err(CardError::Blocked)
        );
        // Refused before C_Login: even the right PIN gave no login.
        assert_eq!(
            backend.sign(&reader, KeyUse::Signature, &[0u8; 32]).await,
            Err(CardError::PinRequired)
        );
    });
}
