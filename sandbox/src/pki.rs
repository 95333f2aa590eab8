//! Test PKI of the sandbox: a root CA, an IGC-Santé-like CPS intermediate, the
//! organisation (INSI-AUTO), CPS (authentication and signature, RSA-2048 like a real
//! card) and server certificates.
//!
//! Everything is generated on the first run into the directory the caller passes
//! (`<data dir>/pki/`) and loaded afterwards. A piece that is missing, unreadable,
//! expired, not signed by its issuer or not matching its key is regenerated, together
//! with everything it signed, so the directory always ends up consistent.
//!
//! None of these certificates is trusted anywhere but by the sandbox itself.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy, PrivateKeyChain};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// Password of `org.p12` (a test keystore: the password only satisfies tools that
/// refuse empty ones).
pub const ORG_P12_PASSWORD: &str = "passerelle-sandbox";
/// CN of the organisation certificate: the one the INSi service accepts for
/// automatic (unattended) calls.
pub const ORG_CN: &str = "INSI-AUTO";
/// Organisation name (O) of the organisation certificate.
pub const ORG_NAME: &str = "CENTRE DE SANTE PASSERELLE SANDBOX";
/// Test structure identifier (OU), shaped like a FINESS number (9 digits, Luhn key).
pub const ORG_STRUCTURE_ID: &str = "999000003";
/// Card identifier (CN) of the test CPS.
pub const CPS_CARD_ID: &str = "00B9900001";
/// CN of the certificate of the organisation's applicative MSSanté mailbox (`mss-app.crt`):
/// the mailbox's address (our choice; the IGC-Santé's naming of such certificates was not
/// found).
pub const MSS_APP_CN: &str = "lps@passerelle-sandbox.mssante.fr";
/// CN of the CPS intermediate CA, named like the IGC-Santé test CA that issues CPS
/// certificates (`TEST AC IGC-SANTE FORT PERSONNES`).
pub const CPS_CA_CN: &str = "TEST AC IGC-SANTE FORT PERSONNES";
/// Organisation (O) of the sandbox CAs: says plainly that they are not the IGC-Santé.
pub const SANDBOX_CA_ORG: &str = "Passerelle sandbox";

const ROOT_CN: &str = "PASSERELLE SANDBOX TEST AC RACINE";
const CA_YEARS: i64 = 10;
const LEAF_YEARS: i64 = 3;
/// A certificate closer than this to its end is renewed, so that a long-lived data
/// directory never serves an expired certificate.
const RENEW_MARGIN_DAYS: i64 = 7;

const OID_TITLE: &[u64] = &[2, 5, 4, 12];
const OID_GIVEN_NAME: &[u64] = &[2, 5, 4, 42];
const OID_SURNAME: &[u64] = &[2, 5, 4, 4];

/// Serialises `ensure` within the process: tests start several sandboxes at once.
static ENSURE_LOCK: Mutex<()> = Mutex::new(());

/// Errors of the test PKI.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("PKCS#12 error: {0}")]
    Pkcs12(String),
    #[error("invalid certificate or key: {0}")]
    Invalid(String),
    #[error("RSA key generation failed: {0}")]
    Rsa(String),
}

/// The sandbox's test PKI: paths of every file, all under one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPki {
    pub dir: PathBuf,
    /// Root CA certificate: the trust anchor of the sandbox services and of clients.
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    /// Intermediate CA issuing the test CPS (`TEST AC IGC-SANTE FORT PERSONNES`).
    pub cps_ca_cert: PathBuf,
    pub cps_ca_key: PathBuf,
    /// Organisation certificate, CN `INSI-AUTO`.
    pub org_cert: PathBuf,
    pub org_key: PathBuf,
    /// The organisation certificate, key and root CA as PKCS#12 ([`ORG_P12_PASSWORD`]).
    pub org_p12: PathBuf,
    /// Organisation **signature** certificate (RSA-2048, keyUsage nonRepudiation only, no
    /// extended key usage): VIHF assertions and XAdES signatures in organisation mode. The
    /// DMP refuses a VIHF signed with the authentication certificate (`org.crt`).
    pub org_sign_cert: PathBuf,
    pub org_sign_key: PathBuf,
    /// The signature certificate, key and root CA as PKCS#12 ([`ORG_P12_PASSWORD`]).
    pub org_sign_p12: PathBuf,
    /// Test CPS (professional card) authentication certificate (digitalSignature,
    /// clientAuth) and its RSA-2048 key: TLS client authentication.
    pub cps_cert: PathBuf,
    pub cps_key: PathBuf,
    /// Test CPS signature certificate (nonRepudiation) and its RSA-2048 key: assertions
    /// (INSi, VIHF) and documents.
    pub cps_sign_cert: PathBuf,
    pub cps_sign_key: PathBuf,
    /// Server certificate for `localhost`, `sandbox` (docker-compose), `127.0.0.1` and `::1`.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// Software certificate of the organisation's applicative MSSanté mailbox
    /// ([`MSS_APP_CN`], clientAuth and emailProtection): the MSS sandbox lets it send as
    /// that mailbox only.
    pub mss_app_cert: PathBuf,
    pub mss_app_key: PathBuf,
    /// The applicative mailbox's certificate, key and root CA as PKCS#12
    /// ([`ORG_P12_PASSWORD`]).
    pub mss_app_p12: PathBuf,
}

/// A certificate (DER and PEM) with its key.
struct Pair {
    cert_der: Vec<u8>,
    cert_pem: String,
    key: KeyPair,
}

impl TestPki {
    fn paths(dir: &Path) -> Self {
        let p = |name: &str| dir.join(name);
        Self {
            dir: dir.to_path_buf(),
            ca_cert: p("ca.crt"),
            ca_key: p("ca.key"),
            cps_ca_cert: p("cps-ca.crt"),
            cps_ca_key: p("cps-ca.key"),
            org_cert: p("org.crt"),
            org_key: p("org.key"),
            org_p12: p("org.p12"),
            org_sign_cert: p("org-sign.crt"),
            org_sign_key: p("org-sign.key"),
            org_sign_p12: p("org-sign.p12"),
            cps_cert: p("cps.crt"),
            cps_key: p("cps.key"),
            cps_sign_cert: p("cps-sign.crt"),
            cps_sign_key: p("cps-sign.key"),
            server_cert: p("server.crt"),
            server_key: p("server.key"),
            mss_app_cert: p("mss-app.crt"),
            mss_app_key: p("mss-app.key"),
            mss_app_p12: p("mss-app.p12"),
        }
    }

    /// Loads the PKI from `dir`, generating whatever is missing or unusable.
    /// Idempotent: a second call on a complete directory changes nothing.
    pub fn ensure(dir: &Path) -> Result<TestPki, PkiError> {
        let _guard = ENSURE_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        fs::create_dir_all(dir).map_err(|source| PkiError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let pki = Self::paths(dir);

        let (root, root_new) = match load_pair(&pki.ca_cert, &pki.ca_key, None) {
            Some(pair) => (pair, false),
            None => (
                pki.write_pair(&pki.ca_cert, &pki.ca_key, generate_root()?)?,
                true,
            ),
        };
        let root_issuer = issuer_of(&root)?;

        let cps_ca = match (!root_new)
            .then(|| load_pair(&pki.cps_ca_cert, &pki.cps_ca_key, Some(&root.cert_der)))
            .flatten()
        {
            Some(pair) => (pair, false),
            None => {
                let pair = generate_cps_ca(&root_issuer)?;
                (
                    pki.write_pair(&pki.cps_ca_cert, &pki.cps_ca_key, pair)?,
                    true,
                )
            }
        };
        let cps_ca_issuer = issuer_of(&cps_ca.0)?;

        let org_new = pki.ensure_leaf(&pki.org_cert, &pki.org_key, &root, root_new, || {
            generate_org(&root_issuer)
        })?;
        let org_sign_keep = !root_new
            && load_pair(&pki.org_sign_cert, &pki.org_sign_key, Some(&root.cert_der))
                .is_some_and(|p| p.key.algorithm() == &rcgen::PKCS_RSA_SHA256);
        if !org_sign_keep {
            pki.write_pair(
                &pki.org_sign_cert,
                &pki.org_sign_key,
                generate_org_sign(&root_issuer)?,
            )?;
        }
        // A real CPS holds RSA keys: an older directory's ECDSA ones are replaced.
        for usage in [CpsKey::Authentication, CpsKey::Signature] {
            let (cert, key) = match usage {
                CpsKey::Authentication => (&pki.cps_cert, &pki.cps_key),
                CpsKey::Signature => (&pki.cps_sign_cert, &pki.cps_sign_key),
            };
            let keep = !cps_ca.1
                && load_pair(cert, key, Some(&cps_ca.0.cert_der))
                    .is_some_and(|p| p.key.algorithm() == &rcgen::PKCS_RSA_SHA256);
            if !keep {
                pki.write_pair(cert, key, generate_cps(&cps_ca_issuer, usage)?)?;
            }
        }
        pki.ensure_leaf(&pki.server_cert, &pki.server_key, &root, root_new, || {
            generate_server(&root_issuer)
        })?;
        let mss_app_new =
            pki.ensure_leaf(&pki.mss_app_cert, &pki.mss_app_key, &root, root_new, || {
                generate_mss_app(&root_issuer)
            })?;
        if mss_app_new || !pki.p12_matches(&pki.mss_app_p12, &pki.mss_app_cert) {
            pki.write_p12(
                &pki.mss_app_p12,
                &pki.mss_app_cert,
                &pki.mss_app_key,
                &root.cert_der,
                "mss-app",
            )?;
        }
        if org_new || !pki.p12_matches(&pki.org_p12, &pki.org_cert) {
            pki.write_p12(
                &pki.org_p12,
                &pki.org_cert,
                &pki.org_key,
                &root.cert_der,
                "insi-auto",
            )?;
        }
        if !org_sign_keep || !pki.p12_matches(&pki.org_sign_p12, &pki.org_sign_cert) {
            pki.write_p12(
                &pki.org_sign_p12,
                &pki.org_sign_cert,
                &pki.org_sign_key,
                &root.cert_der,
                "org-sign",
            )?;
        }
        Ok(pki)
    }

    /// Keeps a valid leaf, or issues a new one; returns whether it was (re)issued.
    fn ensure_leaf(
        &self,
        cert: &Path,
        key: &Path,
        issuer: &Pair,
        issuer_new: bool,
        generate: impl FnOnce() -> Result<Pair, PkiError>,
    ) -> Result<bool, PkiError> {
        if !issuer_new && load_pair(cert, key, Some(&issuer.cert_der)).is_some() {
            return Ok(false);
        }
        self.write_pair(cert, key, generate()?)?;
        Ok(true)
    }

    fn write_pair(&self, cert: &Path, key: &Path, pair: Pair) -> Result<Pair, PkiError> {
        write_atomic(key, pair.key.serialize_pem().as_bytes(), true)?;
        write_atomic(cert, pair.cert_pem.as_bytes(), false)?;
        Ok(pair)
    }

    /// True when the PKCS#12 opens with the password and holds the current certificate.
    fn p12_matches(&self, p12: &Path, cert: &Path) -> bool {
        let (Ok(data), Ok(org_der)) = (fs::read(p12), read_cert_der(cert)) else {
            return false;
        };
        let Ok(store) = KeyStore::from_pkcs12(&data, ORG_P12_PASSWORD, Pkcs12ImportPolicy::Strict)
        else {
            return false;
        };
        store
            .private_key_chain()
            .and_then(|(_, chain)| chain.certs().first().map(|c| c.as_der() == org_der))
            .unwrap_or(false)
    }

    fn write_p12(
        &self,
        path: &Path,
        cert: &Path,
        key: &Path,
        root_der: &[u8],
        alias: &str,
    ) -> Result<(), PkiError> {
        let p12 = |e: p12_keystore::error::Error| PkiError::Pkcs12(e.to_string());
        let org_der = read_cert_der(cert)?;
        let key_pem = read_text(key)?;
        let key = KeyPair::from_pem(&key_pem)?;
        let chain = PrivateKeyChain::new(
            alias.as_bytes(),
            p12_keystore::PrivateKey::from_der(key.serialized_der()).map_err(p12)?,
            [
                p12_keystore::Certificate::from_der(&org_der).map_err(p12)?,
                p12_keystore::Certificate::from_der(root_der).map_err(p12)?,
            ],
        );
        let mut store = KeyStore::new();
        store.add_entry(alias, KeyStoreEntry::PrivateKeyChain(chain));
        let data = store.writer(ORG_P12_PASSWORD).write().map_err(p12)?;
        write_atomic(path, &data, true)
    }

    /// Human-readable list of the PKI files (what `passerelle up` prints).
    pub fn describe(&self) -> String {
        let rows = [
            ("root CA certificate", &self.ca_cert, String::new()),
            (
                "CPS intermediate CA",
                &self.cps_ca_cert,
                format!(" ({CPS_CA_CN})"),
            ),
            (
                "organisation certificate",
                &self.org_cert,
                format!(" (CN={ORG_CN}, O={ORG_NAME}, OU={ORG_STRUCTURE_ID})"),
            ),
            ("organisation key", &self.org_key, String::new()),
            (
                "organisation PKCS#12",
                &self.org_p12,
                format!(" (password: {ORG_P12_PASSWORD})"),
            ),
            (
                "organisation signature cert",
                &self.org_sign_cert,
                format!(" (CN={ORG_CN}, RSA-2048, nonRepudiation: VIHF, XAdES)"),
            ),
            (
                "organisation signature key",
                &self.org_sign_key,
                String::new(),
            ),
            (
                "organisation signature PKCS#12",
                &self.org_sign_p12,
                format!(" (password: {ORG_P12_PASSWORD})"),
            ),
            (
                "CPS authentication cert",
                &self.cps_cert,
                format!(" (card {CPS_CARD_ID}, RSA-2048, TLS client)"),
            ),
            ("CPS authentication key", &self.cps_key, String::new()),
            (
                "CPS signature cert",
                &self.cps_sign_cert,
                format!(" (card {CPS_CARD_ID}, RSA-2048, nonRepudiation)"),
            ),
            ("CPS signature key", &self.cps_sign_key, String::new()),
            (
                "MSS applicative mailbox cert",
                &self.mss_app_cert,
                format!(" ({MSS_APP_CN})"),
            ),
            (
                "MSS applicative mailbox key",
                &self.mss_app_key,
                String::new(),
            ),
            (
                "MSS applicative PKCS#12",
                &self.mss_app_p12,
                format!(" (password: {ORG_P12_PASSWORD})"),
            ),
            (
                "server certificate",
                &self.server_cert,
                " (localhost, sandbox, 127.0.0.1)".to_owned(),
            ),
            ("server key", &self.server_key, String::new()),
        ];
        let mut out = format!(
            "Sandbox test PKI in {} (test certificates, trusted by the sandbox only):\n",
            self.dir.display()
        );
        for (label, path, note) in rows {
            out.push_str(&format!("  {label:<30} {}{note}\n", path.display()));
        }
        out
    }

    /// Issues a client certificate (clientAuth) signed by the test root CA, with the
    /// given CN and validity: for tests of certificates the service must refuse
    /// (wrong CN, expired, not yet valid). Returns `(cert_pem, key_pem)`.
    pub fn issue_client_cert(
        &self,
        cn: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<(String, String), PkiError> {
        let ca_pem = read_text(&self.ca_cert)?;
        let ca_key = KeyPair::from_pem(&read_text(&self.ca_key)?)?;
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key)?;
        let mut params = client_params(cn);
        params.not_before = not_before;
        params.not_after = not_after;
        let key = new_key()?;
        let cert = params.signed_by(&key, &issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Issues a client certificate (clientAuth) signed by a throwaway CA unknown to
    /// the sandbox. Returns `(cert_pem, key_pem)`.
    pub fn foreign_ca_client_cert(cn: &str) -> Result<(String, String), PkiError> {
        let ca_key = new_key()?;
        let mut ca_params = ca_params("FOREIGN TEST CA (not trusted by the sandbox)", CA_YEARS);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = Issuer::new(ca_params, ca_key);
        let key = new_key()?;
        let cert = client_params(cn).signed_by(&key, &issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

fn new_key() -> Result<KeyPair, PkiError> {
    // ECDSA P-256: ring generates it (it cannot generate RSA keys) and every TLS and
    // PKCS#12 stack in use reads it.
    Ok(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?)
}

/// An RSA-2048 key, as on a real CPS. ring (rcgen's backend) cannot generate RSA keys, so
/// the key comes from the `rsa` crate, as PKCS#8, and rcgen signs with it (RSA-SHA256).
fn new_rsa_key() -> Result<KeyPair, PkiError> {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
        .map_err(|e| PkiError::Rsa(e.to_string()))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|e| PkiError::Rsa(e.to_string()))?;
    let der = PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
    Ok(KeyPair::from_pkcs8_der_and_sign_algo(
        &der,
        &rcgen::PKCS_RSA_SHA256,
    )?)
}

/// The two keys of a CPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CpsKey {
    /// Authentication: TLS client authentication (digitalSignature, clientAuth).
    Authentication,
    /// Signature (non-repudiation): assertions and documents.
    Signature,
}

fn base_params(years: i64) -> CertificateParams {
    let mut params = CertificateParams::default();
    let now = OffsetDateTime::now_utc();
    // A day back absorbs clock skew between the sandbox and its clients.
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(365 * years);
    let mut serial: [u8; 16] = rand::random();
    serial[0] &= 0x7f; // positive INTEGER
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.distinguished_name = DistinguishedName::new();
    params.use_authority_key_identifier_extension = true;
    params
}

fn ca_params(cn: &str, years: i64) -> CertificateParams {
    let mut params = base_params(years);
    params.distinguished_name.push(DnType::CountryName, "FR");
    params
        .distinguished_name
        .push(DnType::OrganizationName, SANDBOX_CA_ORG);
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, "IGC-SANTE TEST (sandbox)");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn client_params(cn: &str) -> CertificateParams {
    let mut params = base_params(LEAF_YEARS);
    params.distinguished_name.push(DnType::CountryName, "FR");
    params
        .distinguished_name
        .push(DnType::OrganizationName, ORG_NAME);
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, ORG_STRUCTURE_ID);
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

fn generate_root() -> Result<Pair, PkiError> {
    let key = new_key()?;
    let mut params = ca_params(ROOT_CN, CA_YEARS);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.use_authority_key_identifier_extension = false;
    let cert = params.self_signed(&key)?;
    Ok(Pair {
        cert_der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key,
    })
}

fn generate_cps_ca(root: &Issuer<'_, KeyPair>) -> Result<Pair, PkiError> {
    let key = new_key()?;
    let mut params = ca_params(CPS_CA_CN, CA_YEARS);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let cert = params.signed_by(&key, root)?;
    Ok(Pair {
        cert_der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key,
    })
}

fn generate_org(root: &Issuer<'_, KeyPair>) -> Result<Pair, PkiError> {
    let key = new_key()?;
    let cert = client_params(ORG_CN).signed_by(&key, root)?;
    Ok(Pair {
        cert_der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key,
    })
}

/// The organisation's signature certificate: same subject as `org.crt`, an RSA-2048 key
/// (signatures are RSA PKCS#1 v1.5, as with a card), keyUsage nonRepudiation only and no
/// extended key usage, so it cannot authenticate a TLS client.
fn generate_org_sign(root: &Issuer<'_, KeyPair>) -> Result<Pair, PkiError> {
    let key = new_rsa_key()?;
    let mut params = client_params(ORG_CN);
    params.key_usages = vec![KeyUsagePurpose::ContentCommitment];
    params.extended_key_usages = Vec::new();
    let cert = params.signed_by(&key, root)?;
    Ok(Pair {
        cert_der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key,
    })
}

/// Subject shaped like an IGC-Santé TEST CPS certificate: C, title (profession), then
/// given name, card id (CN) and surname. The real certificate puts the last three in
/// one multi-valued RDN; rcgen writes one RDN each, which readers treat alike.
/// Key usages as on a card: the authentication certificate for TLS, the signature one
/// (nonRepudiation, emailProtection, as the captured INSi assertion's) for signatures.
fn generate_cps(cps_ca: &Issuer<'_, KeyPair>, usage: CpsKey) -> Result<Pair, PkiError> {
    let key = new_rsa_key()?;
    let mut params = base_params(LEAF_YEARS);
    let dn = &mut params.distinguished_name;
    dn.push(DnType::CountryName, "FR");
    dn.push(DnType::CustomDnType(OID_TITLE.to_vec()), "Medecin");
    dn.push(DnType::CustomDnType(OID_GIVEN_NAME.to_vec()), "JEANNE");
    dn.push(DnType::CommonName, CPS_CARD_ID);
    dn.push(
        DnType::CustomDnType(OID_SURNAME.to_vec()),
        "MEDECIN SANDBOX0001",
    );
    match usage {
        CpsKey::Authentication => {
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ClientAuth,
                ExtendedKeyUsagePurpose::EmailProtection,
            ];
        }
        CpsKey::Signature => {
            params.key_usages = vec![KeyUsagePurpose::ContentCommitment];
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
        }
    }
    let cert = params.signed_by(&key, cps_ca)?;
    Ok(Pair {
        cert_der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key,
    })
}

/// The applicative mailbox's software certificate: the organisation's subject with the
/// mailbox address as CN and as an rfc822Name, for TLS client authentication.
fn generate_mss_app(root: &Issuer<'_, KeyPair>) -> Result<Pair, PkiError> {
    let key = new_key()?;
    let mut params = client_params(MSS_APP_CN);
    params.subject_alt_names = vec![SanType::Rfc822Name(MSS_APP_CN.try_into()?)];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::EmailProtection,
    ];
    let cert = params.signed_by(&key, root)?;
    Ok(Pair {
        cert_der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key,
    })
}

fn generate_server(root: &Issuer<'_, KeyPair>) -> Result<Pair, PkiError> {
    let key = new_key()?;
    let mut params = base_params(LEAF_YEARS);
    params.distinguished_name.push(DnType::CountryName, "FR");
    params
        .distinguished_name
        .push(DnType::OrganizationName, SANDBOX_CA_ORG);
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into()?),
        // The sandbox's host name in docker-compose.yml.
        SanType::DnsName("sandbox".try_into()?),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, root)?;
    Ok(Pair {
        cert_der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key,
    })
}

fn issuer_of(pair: &Pair) -> Result<Issuer<'static, KeyPair>, PkiError> {
    let key = KeyPair::from_pem(&pair.key.serialize_pem())?;
    Ok(Issuer::from_ca_cert_der(
        &CertificateDer::from(pair.cert_der.as_slice()),
        key,
    )?)
}

/// Loads a certificate and its key when both are usable: parseable, the key matches,
/// signed by `issuer` (self-signed when `None`) and not about to expire.
fn load_pair(cert: &Path, key: &Path, issuer_der: Option<&[u8]>) -> Option<Pair> {
    let cert_pem = read_text(cert).ok()?;
    let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .ok()?
        .to_vec();
    let key = KeyPair::from_pem(&read_text(key).ok()?).ok()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert_der).ok()?;
    if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return None;
    }
    let signed = match issuer_der {
        None => parsed.verify_signature(None),
        Some(der) => {
            let (_, issuer) = x509_parser::parse_x509_certificate(der).ok()?;
            if parsed.issuer().as_raw() != issuer.subject().as_raw() {
                return None;
            }
            parsed.verify_signature(Some(issuer.public_key()))
        }
    };
    signed.ok()?;
    let now = OffsetDateTime::now_utc();
    let validity = parsed.validity();
    let not_after = validity.not_after.to_datetime();
    if validity.not_before.to_datetime() > now
        || not_after < now + Duration::days(RENEW_MARGIN_DAYS)
    {
        return None;
    }
    Some(Pair {
        cert_der,
        cert_pem,
        key,
    })
}

fn read_text(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_cert_der(path: &Path) -> Result<Vec<u8>, PkiError> {
    let data = fs::read(path).map_err(|source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    CertificateDer::from_pem_slice(&data)
        .map(|c| c.to_vec())
        .map_err(|e| PkiError::Invalid(format!("{}: {e}", path.display())))
}

/// Writes through a temporary file and a rename, so that a crash never leaves a
/// half-written certificate; keys are readable by their owner only.
fn write_atomic(path: &Path, data: &[u8], private: bool) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp).map_err(io)?;
    file.write_all(data).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&tmp, path).map_err(io)
}
