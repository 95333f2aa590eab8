//! The INSi client over real mutual TLS, against a small HTTPS server written here (tokio-rustls,
//! certificates made with rcgen on the fly) on 127.0.0.1: identities (PEM, PKCS#12), TLS
//! failures, service down, slow service, HTTP errors and bad answers.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ins_service::insi::{
    CallAuth, CallContext, ClientIdentity, ClientTls, CrCode, InsiClient, InsiClientConfig,
    InsiError, LpsContext, TraitsQuery, VitaleQuery,
};
use passerelle_domain::{InsOid, Key, LunarDate, Matricule, Name, Sex};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

// ---------------------------------------------------------------------------------------
// Shared material

fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("PASSERELLE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    assert!(
        dir.join("specs/insi/fixtures").is_dir(),
        "shared test material not found at {}: set PASSERELLE_SHARED_DIR (this test must not pass without it)",
        dir.display()
    );
    dir
}

fn fixture(rel: &str) -> Vec<u8> {
    let p = shared_dir().join("specs/insi/fixtures").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

// ---------------------------------------------------------------------------------------
// Test PKI

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
    der: CertificateDer<'static>,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        der: cert.der().clone(),
        issuer: Issuer::new(params, key),
    }
}

struct Leaf {
    cert: CertificateDer<'static>,
    cert_pem: String,
    key_der: Vec<u8>,
    key_pem: String,
}

fn leaf(ca: &Ca, cn: &str, server: bool, expired: bool) -> Leaf {
    let sans = if server {
        vec!["127.0.0.1".to_owned()]
    } else {
        Vec::new()
    };
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let now = time::OffsetDateTime::now_utc();
    if expired {
        params.not_before = now - time::Duration::days(30);
        params.not_after = now - time::Duration::days(1);
    } else {
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(30);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    Leaf {
        cert_pem: cert.pem(),
        cert: cert.der().clone(),
        key_der: key.serialize_der(),
        key_pem: key.serialize_pem(),
    }
}

/// A CA, the server's and the client's (organisation) certificates, written to a temp dir.
struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
    client: Leaf,
}

impl Pki {
    fn new() -> Self {
        let ca = ca("Passerelle test CA");
        let client = leaf(&ca, "INSI-AUTO", false, false);
        let dir = tempfile::tempdir().unwrap();
        let pki = Self { dir, ca, client };
        pki.write("ca.pem", pki.ca.pem.as_bytes());
        pki.write("client.pem", pki.client.cert_pem.as_bytes());
        pki.write("client.key", pki.client.key_pem.as_bytes());
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn pem_identity(&self) -> ClientIdentity {
        ClientIdentity::Pem {
            cert: self.path("client.pem"),
            key: self.path("client.key"),
        }
    }

    fn pkcs12_identity(&self, password: &str) -> ClientIdentity {
        let mut store = p12_keystore::KeyStore::new();
        let chain = p12_keystore::PrivateKeyChain::new(
            b"client-key".to_vec(),
            p12_keystore::PrivateKey::from_der(&self.client.key_der).unwrap(),
            [
                p12_keystore::Certificate::from_der(&self.client.cert).unwrap(),
                p12_keystore::Certificate::from_der(&self.ca.der).unwrap(),
            ],
        );
        store.add_entry(
            "insi-auto",
            p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
        );
        let bytes = store.writer("p12-secret").write().unwrap();
        ClientIdentity::Pkcs12 {
            path: self.write("client.p12", &bytes),
            password: password.to_owned(),
        }
    }

    fn config(&self, addr: SocketAddr, identity: ClientIdentity) -> InsiClientConfig {
        InsiClientConfig {
            endpoint: format!("https://{addr}/lps"),
            tls: ClientTls {
                identity,
                trusted_ca: vec![self.path("ca.pem")],
            },
            lps: LpsContext {
                idam: "TEST-IDAM".into(),
                software_name: "passerelle".into(),
                software_version: "0.1.0".into(),
                instance: uuid::Uuid::new_v4(),
                ..LpsContext::default()
            },
            emitter: "test@passerelle.invalid".into(),
            timeout: Duration::from_secs(5),
            max_response_bytes: 64 * 1024,
        }
    }

    /// A server TLS configuration requiring a client certificate from this PKI's CA.
    fn server_tls(&self, server: &Leaf, client_ca: &Ca) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(client_ca.der.clone()).unwrap();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![server.cert.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server.key_der.clone())),
            )
            .unwrap();
        Arc::new(config)
    }
}

// ---------------------------------------------------------------------------------------
// Test HTTPS server

#[derive(Clone)]
enum Reply {
    /// Status, body, whether to send Content-Length (else: close-delimited body).
    Send(u16, Vec<u8>, bool),
    /// Read the request, then wait this long before answering 200 with an empty body.
    Slow(Duration),
}

#[derive(Debug, Default, Clone)]
struct Seen {
    head: String,
    body: Vec<u8>,
    client_cn_der: Option<Vec<u8>>,
}

struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

async fn serve(tls: Arc<rustls::ServerConfig>, reply: Reply) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let acceptor = TlsAcceptor::from(tls);
    let seen2 = seen.clone();
    let task = tokio::spawn(async move {
        // Bounded: a test makes a handful of connections at most.
        for _ in 0..16 {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = seen2.clone();
            let reply = reply.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let client_cn_der = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.to_vec());
                let Some((head, body)) = read_request(&mut tls).await else {
                    return;
                };
                seen.lock().unwrap().push(Seen {
                    head,
                    body,
                    client_cn_der,
                });
                let (status, body, with_len) = match reply {
                    Reply::Send(s, b, l) => (s, b, l),
                    Reply::Slow(d) => {
                        tokio::time::sleep(d).await;
                        (200, Vec::new(), true)
                    }
                };
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/soap+xml; charset=utf-8\r\nConnection: close\r\n"
                );
                if with_len {
                    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
                }
                head.push_str("\r\n");
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(&body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Server { addr, seen, task }
}

/// A normal server of this PKI answering `reply`.
async fn good_server(pki: &Pki, reply: Reply) -> Server {
    let server_leaf = leaf(&pki.ca, "insi.sandbox", true, false);
    serve(pki.server_tls(&server_leaf, &pki.ca), reply).await
}

fn ok(body: Vec<u8>) -> Reply {
    Reply::Send(200, body, true)
}

// ---------------------------------------------------------------------------------------
// Queries

fn traits() -> TraitsQuery {
    TraitsQuery {
        birth_name: Name::normalise("birth_name", "ECETINSI").unwrap().value,
        first_names: "PIERRE-ALAIN".into(),
        sex: Sex::Male,
        birth_date: LunarDate::parse("2009-07-14").unwrap(),
        birth_place: None,
    }
}

fn vitale() -> VitaleQuery {
    VitaleQuery {
        matricule: Matricule::parse("1090763220888").unwrap(),
        key: Key::parse("35").unwrap(),
        insured: None,
        birth_name: Name::normalise("birth_name", "PROVISOIRE").unwrap().value,
        birth_date: LunarDate::parse("2009-07-01").unwrap(),
        birth_rank: 1,
    }
}

fn call() -> CallContext {
    CallContext {
        message_id: uuid::Uuid::new_v4(),
        auth: CallAuth::Organisation,
    }
}

async fn search(cfg: InsiClientConfig) -> Result<ins_service::insi::InsiAnswer, InsiError> {
    let client = InsiClient::new(cfg)?;
    client.search_by_traits(&traits(), &call()).await
}

// ---------------------------------------------------------------------------------------
// Tests

/// In a module named after INSi so that `cargo test -p ins-service insi` selects them.
mod insi_transport {
    use super::*;

    #[tokio::test]
    async fn mutual_tls_with_pem_identity() {
        let pki = Pki::new();
        let server = good_server(
            &pki,
            ok(fixture("persons/pierre-alain.PierreAlainLive.response.xml")),
        )
        .await;
        let client = InsiClient::new(pki.config(server.addr, pki.pem_identity())).unwrap();
        let c = call();
        let answer = client.search_by_traits(&traits(), &c).await.unwrap();
        assert_eq!(answer.code, CrCode::Found);
        let ind = answer.individual.unwrap();
        assert_eq!(ind.active.to_string(), "109076322083489");
        assert_eq!(ind.history[0].ins.to_string(), "209076322083439");

        let seen = server.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        let s = &seen[0];
        assert!(s.head.starts_with("POST /lps HTTP/1.1\r\n"), "{}", s.head);
        assert!(
            s.head.to_ascii_lowercase().contains(
                "content-type: application/soap+xml; charset=utf-8; action=\"urn:serviceidentitecertifiee:1.0.0:rechercherinsavectraitsidentite\""
            ),
            "{}",
            s.head
        );
        let body = String::from_utf8(s.body.clone()).unwrap();
        assert!(body.contains(&format!("uuid:{}", c.message_id)), "{body}");
        assert!(body.contains("RECSANSVITALE"), "{body}");
        assert_eq!(
            s.client_cn_der.as_deref(),
            Some(pki.client.cert.as_ref()),
            "the server saw our organisation certificate"
        );
    }

    #[tokio::test]
    async fn mutual_tls_with_pkcs12_identity() {
        let pki = Pki::new();
        let server = good_server(&pki, ok(fixture("TEST_2.05.xml"))).await;
        let client =
            InsiClient::new(pki.config(server.addr, pki.pkcs12_identity("p12-secret"))).unwrap();
        let answer = client.search_by_vitale(&vitale(), &call()).await.unwrap();
        let ind = answer.individual.unwrap();
        assert_eq!(ind.active.oid(), InsOid::Nia);
        let seen = server.seen.lock().unwrap().clone();
        assert!(
            String::from_utf8_lossy(&seen[0].body).contains("RECVITALE"),
            "Vitale body sent"
        );
        assert!(
            seen[0].head.contains("rechercherInsAvecCarteVitale"),
            "{}",
            seen[0].head
        );
        assert_eq!(
            seen[0].client_cn_der.as_deref(),
            Some(pki.client.cert.as_ref())
        );
    }

    #[tokio::test]
    async fn configuration_errors() {
        let pki = Pki::new();
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let err = InsiClient::new(pki.config(addr, pki.pkcs12_identity("wrong"))).unwrap_err();
        assert!(
            matches!(&err, InsiError::Config { reason } if reason.contains("wrong password")),
            "{err:?}"
        );
        let missing = ClientIdentity::Pem {
            cert: pki.path("nope.pem"),
            key: pki.path("client.key"),
        };
        let err = InsiClient::new(pki.config(addr, missing)).unwrap_err();
        assert!(
            matches!(&err, InsiError::Config { reason } if reason.contains("nope.pem")),
            "{err:?}"
        );
        let not_pem = pki.write("garbage.pem", b"not a certificate");
        let bad = ClientIdentity::Pem {
            cert: not_pem,
            key: pki.path("client.key"),
        };
        assert!(matches!(
            InsiClient::new(pki.config(addr, bad)),
            Err(InsiError::Config { .. })
        ));
        // A key that does not match the certificate.
        let other = leaf(&pki.ca, "OTHER", false, false);
        let other_key = pki.write("other.key", other.key_pem.as_bytes());
        let mismatched = ClientIdentity::Pem {
            cert: pki.path("client.pem"),
            key: other_key,
        };
        assert!(matches!(
            InsiClient::new(pki.config(addr, mismatched)),
            Err(InsiError::Config { .. })
        ));
        let mut cfg = pki.config(addr, pki.pem_identity());
        cfg.tls.trusted_ca.clear();
        assert!(matches!(
            InsiClient::new(cfg),
            Err(InsiError::Config { .. })
        ));
        let mut cfg = pki.config(addr, pki.pem_identity());
        cfg.endpoint = "http://127.0.0.1:9/lps".into();
        assert!(matches!(
            InsiClient::new(cfg),
            Err(InsiError::Config { .. })
        ));
    }

    #[tokio::test]
    async fn server_certificate_from_unknown_ca_is_a_tls_error() {
        let pki = Pki::new();
        let rogue = ca("Rogue CA");
        let server_leaf = leaf(&rogue, "insi.rogue", true, false);
        let server = serve(pki.server_tls(&server_leaf, &pki.ca), ok(Vec::new())).await;
        let err = search(pki.config(server.addr, pki.pem_identity()))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, InsiError::Tls { reason } if reason.contains("trusted CA")),
            "{err:?}"
        );
        assert!(!err.is_transient());
    }

    #[tokio::test]
    async fn expired_server_certificate_is_a_tls_error() {
        let pki = Pki::new();
        let server_leaf = leaf(&pki.ca, "insi.expired", true, true);
        let server = serve(pki.server_tls(&server_leaf, &pki.ca), ok(Vec::new())).await;
        let err = search(pki.config(server.addr, pki.pem_identity()))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, InsiError::Tls { reason } if reason.contains("expired")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn client_certificate_refused_by_the_server_is_a_tls_error() {
        let pki = Pki::new();
        let other = ca("Another client CA");
        let server_leaf = leaf(&pki.ca, "insi.sandbox", true, false);
        let server = serve(
            pki.server_tls(&server_leaf, &other),
            ok(fixture("REP_CR01.xml")),
        )
        .await;
        let err = search(pki.config(server.addr, pki.pem_identity()))
            .await
            .unwrap_err();
        assert!(matches!(&err, InsiError::Tls { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error() {
        let pki = Pki::new();
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        let err = search(pki.config(addr, pki.pem_identity()))
            .await
            .unwrap_err();
        assert!(matches!(&err, InsiError::Connect { .. }), "{err:?}");
        assert!(err.is_transient());
    }

    #[tokio::test]
    async fn slow_server_is_a_timeout() {
        let pki = Pki::new();
        let server = good_server(&pki, Reply::Slow(Duration::from_secs(5))).await;
        let mut cfg = pki.config(server.addr, pki.pem_identity());
        cfg.timeout = Duration::from_millis(700);
        let started = std::time::Instant::now();
        let err = search(cfg).await.unwrap_err();
        assert!(matches!(&err, InsiError::Timeout { .. }), "{err:?}");
        assert!(err.is_transient());
        assert!(started.elapsed() < Duration::from_secs(4));
    }

    #[tokio::test]
    async fn http_500_with_a_soap_fault_is_a_fault() {
        let pki = Pki::new();
        let server = good_server(
            &pki,
            Reply::Send(
                500,
                fixture("service-errors/siram_100-desir_500-fake-idam.fakeIdamXmlResponse.xml"),
                true,
            ),
        )
        .await;
        let err = search(pki.config(server.addr, pki.pem_identity()))
            .await
            .unwrap_err();
        let InsiError::Fault(f) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(f.subcode(), Some("siram_100"));
        assert_eq!(f.upstream_code(), Some("desir_550"));
    }

    #[tokio::test]
    async fn http_503_without_fault_is_an_http_error() {
        let pki = Pki::new();
        let server = good_server(
            &pki,
            Reply::Send(503, b"<html>Maintenance en cours</html>".to_vec(), true),
        )
        .await;
        let err = search(pki.config(server.addr, pki.pem_identity()))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, InsiError::HttpStatus { status: 503, body_excerpt } if body_excerpt.contains("Maintenance")),
            "{err:?}"
        );
        assert!(err.is_transient());
    }

    #[tokio::test]
    async fn oversized_answers_are_refused() {
        let pki = Pki::new();
        let mut big = fixture("REP_CR01.xml");
        big.extend(std::iter::repeat_n(b' ', 100 * 1024));
        for with_len in [true, false] {
            let server = good_server(&pki, Reply::Send(200, big.clone(), with_len)).await;
            let err = search(pki.config(server.addr, pki.pem_identity()))
                .await
                .unwrap_err();
            assert_eq!(
                err,
                InsiError::ResponseTooLarge { limit: 64 * 1024 },
                "content-length sent: {with_len}"
            );
        }
    }

    #[tokio::test]
    async fn bad_bodies_are_malformed_responses() {
        let pki = Pki::new();
        let wrong_ns = br#"<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body><RESULTAT xmlns="urn:wrong"><CR><CodeCR>00</CodeCR></CR></RESULTAT></S:Body></S:Envelope>"#;
        let doctype = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body>&lol;</S:Body></S:Envelope>"#;
        for body in [
            b"".to_vec(),
            b"\x00\x01garbage\xff".to_vec(),
            b"<S:Envelope xmlns:S=\"http://www.w3.org/2003/05/soap-envelope\"><S:Body>".to_vec(),
            wrong_ns.to_vec(),
            doctype.to_vec(),
        ] {
            let server = good_server(&pki, ok(body.clone())).await;
            let err = search(pki.config(server.addr, pki.pem_identity()))
                .await
                .unwrap_err();
            assert!(
                matches!(&err, InsiError::MalformedResponse { .. }),
                "{:?} -> {err:?}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    #[tokio::test]
    async fn cps_mode_fails_before_any_connection() {
        struct NoCard;
        #[async_trait::async_trait]
        impl ins_service::insi::AssertionSigner for NoCard {
            fn certificate_der(&self) -> Vec<u8> {
                Vec::new()
            }
            fn situation(&self) -> ins_service::insi::PracticeSituation {
                ins_service::insi::PracticeSituation {
                    billing_id: String::new(),
                    activity_sector: String::new(),
                }
            }
            async fn sign(&self, _: &[u8]) -> Result<Vec<u8>, ins_service::insi::SignerError> {
                Err(ins_service::insi::SignerError::NoCard)
            }
        }
        let pki = Pki::new();
        let server = good_server(&pki, ok(fixture("REP_CR01.xml"))).await;
        let client = InsiClient::new(pki.config(server.addr, pki.pem_identity())).unwrap();
        let call = CallContext {
            message_id: uuid::Uuid::new_v4(),
            auth: CallAuth::Cps(Arc::new(NoCard)),
        };
        let err = client.search_by_traits(&traits(), &call).await.unwrap_err();
        // The assertion cannot be made (no certificate): refused before any connection.
        assert!(matches!(err, InsiError::Config { .. }), "{err:?}");
        assert!(server.seen.lock().unwrap().is_empty(), "nothing was sent");
    }
}
