//! CPS mode: assertions signed with the test CPS's signature key by a test-only signer
//! (written here, independently of Passerelle's client), accepted when right and refused
//! with the service's faults when tampered with.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use passerelle_sandbox::InsiSandboxConfig;
use rsa::pkcs8::DecodePrivateKey;
use sha2::Digest;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::helpers::*;

const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The sandbox CPS's subject, RFC 2253 (most specific first).
const ISSUER: &str = "SN=MEDECIN SANDBOX0001,CN=00B9900001,2.5.4.42=JEANNE,T=Medecin,C=FR";
const CARD: &str = "00B9900001";

struct Parts {
    instant: OffsetDateTime,
    issuer: String,
    name_id: String,
    /// Certificate put in KeyInfo (PEM file); the key is always the CPS signature key.
    cert_pem: Vec<u8>,
}

fn good() -> Parts {
    Parts {
        instant: OffsetDateTime::now_utc(),
        issuer: ISSUER.to_owned(),
        name_id: CARD.to_owned(),
        cert_pem: read(&pki().cps_sign_cert),
    }
}

const ID: &str = "_5bd4d5d0-0a3e-4e43-8d1e-6a1f1f6b1a01";

/// The assertion in exclusive canonical form, `signature` right after Issuer.
fn assertion(p: &Parts, name_id: &str, signature: &str) -> String {
    format!(
        "<Assertion xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{ID}\" IssueInstant=\"{}\" Version=\"2.0\">\
         <Issuer Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName\">{}</Issuer>{signature}\
         <Subject><NameID NameQualifier=\"CPS\">{name_id}</NameID></Subject><AttributeStatement>\
         <Attribute Name=\"identifiantFacturation\"><AttributeValue>123456789</AttributeValue></Attribute>\
         <Attribute Name=\"secteurActivite\"><AttributeValue>SA05</AttributeValue></Attribute>\
         </AttributeStatement></Assertion>",
        p.instant.format(&Rfc3339).unwrap(),
        p.issuer
    )
}

fn signed_info(digest: &str, xmlns: bool) -> String {
    let ns = if xmlns {
        format!(" xmlns=\"{DSIG}\"")
    } else {
        String::new()
    };
    format!(
        "<SignedInfo{ns}><CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></CanonicalizationMethod>\
         <SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"></SignatureMethod>\
         <Reference URI=\"#{ID}\"><Transforms><Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"></Transform>\
         <Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></Transform></Transforms>\
         <DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"></DigestMethod>\
         <DigestValue>{digest}</DigestValue></Reference></SignedInfo>"
    )
}

/// Signs as a card would (RSA PKCS#1 v1.5 over SHA-256), then applies `tamper` to the
/// final XML.
fn signed(p: &Parts, tamper: impl Fn(String) -> String) -> String {
    let digest = B64.encode(sha2::Sha256::digest(
        assertion(p, &p.name_id, "").as_bytes(),
    ));
    let key =
        rsa::RsaPrivateKey::from_pkcs8_pem(&String::from_utf8(read(&pki().cps_sign_key)).unwrap())
            .unwrap();
    let si_digest = sha2::Sha256::digest(signed_info(&digest, true).as_bytes());
    let value = key
        .sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &si_digest)
        .unwrap();
    let cert = rustls_pki_types::CertificateDer::from_pem_slice(&p.cert_pem).unwrap();
    let signature = format!(
        "<Signature xmlns=\"{DSIG}\">{}<SignatureValue>{}</SignatureValue><KeyInfo><X509Data>\
         <X509Certificate>{}</X509Certificate></X509Data></KeyInfo></Signature>",
        signed_info(&digest, false),
        B64.encode(value),
        B64.encode(cert.as_ref())
    );
    tamper(assertion(p, &p.name_id, &signature))
}

use rustls_pki_types::pem::PemObject;

/// The captured CPS-mode request (ADRTROIS DOMINIQUE) with `assertion` in place of its own.
fn request(assertion: &str) -> Vec<u8> {
    let fixture = String::from_utf8(read(
        &fixtures_dir().join("cps-mode/assertion-ps-request.2.xml"),
    ))
    .unwrap();
    let start = fixture.find("<Assertion ").unwrap();
    let end = fixture.find("</Assertion>").unwrap() + "</Assertion>".len();
    format!("{}{assertion}{}", &fixture[..start], &fixture[end..]).into_bytes()
}

async fn detail_code(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Option<String> {
    let reply = post_soap(client, url, body).await;
    if reply.status == 200 {
        return None;
    }
    fault_of(&reply).detail_code
}

#[tokio::test]
async fn a_correctly_signed_assertion_is_accepted_over_either_tls_identity() {
    let sandbox = start_default().await;
    let body = request(&signed(&good(), |x| x));
    for identity in [Identity::Org, Identity::Cps] {
        let reply = post_soap(&client(identity), &sandbox.url(), body.clone()).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(
            reply
                .xml()
                .find(NS_RESULTAT, "CodeCR")
                .map(|n| n.text.clone())
                .as_deref(),
            Some("00")
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn tampered_assertions_get_the_fault() {
    let sandbox = start_default().await;
    let org = client(Identity::Org);
    let url = sandbox.url();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "NameID changed after signing",
            signed(&good(), |x| x.replace(CARD, "00B9900002")),
            "desir_561",
        ),
        (
            "bad digest",
            signed(&good(), |x| {
                let at = x.find("<DigestValue>").unwrap() + "<DigestValue>".len();
                let mut y = x.clone();
                let c = if &x[at..at + 1] == "A" { "B" } else { "A" };
                y.replace_range(at..at + 1, c);
                y
            }),
            "desir_561",
        ),
        (
            "signature value changed",
            signed(&good(), |x| {
                let at = x.find("<SignatureValue>").unwrap() + "<SignatureValue>".len();
                let mut y = x.clone();
                let c = if &x[at..at + 1] == "A" { "B" } else { "A" };
                y.replace_range(at..at + 1, c);
                y
            }),
            "desir_561",
        ),
        (
            "certificate of another CA in KeyInfo",
            signed(
                &Parts {
                    cert_pem: read(&pki().org_cert),
                    ..good()
                },
                |x| x,
            ),
            "desir_562",
        ),
        (
            "the authentication certificate in KeyInfo, signed with the signature key",
            signed(
                &Parts {
                    cert_pem: read(&pki().cps_cert),
                    ..good()
                },
                |x| x,
            ),
            "desir_561",
        ),
        (
            "signed, but NameID is not the card",
            signed(
                &Parts {
                    name_id: "00B9900002".into(),
                    ..good()
                },
                |x| x,
            ),
            "desir_563",
        ),
        (
            "signed, but Issuer is not the certificate subject",
            signed(
                &Parts {
                    issuer: "CN=SOMEONE ELSE,C=FR".into(),
                    ..good()
                },
                |x| x,
            ),
            "desir_563",
        ),
        (
            "signed an hour ago",
            signed(
                &Parts {
                    instant: OffsetDateTime::now_utc() - Duration::hours(1),
                    ..good()
                },
                |x| x,
            ),
            "desir_564",
        ),
        (
            "two assertions",
            {
                let one = signed(&good(), |x| x);
                format!("{one}{one}")
            },
            "desir_561",
        ),
    ];
    for (label, assertion, code) in cases {
        let got = detail_code(&org, &url, request(&assertion)).await;
        assert_eq!(got.as_deref(), Some(code), "{label}");
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_clock_skew_is_configurable() {
    let sandbox = start(InsiSandboxConfig {
        assertion_max_skew: std::time::Duration::from_secs(2 * 3600),
        ..InsiSandboxConfig::default()
    })
    .await;
    let body = request(&signed(
        &Parts {
            instant: OffsetDateTime::now_utc() - Duration::hours(1),
            ..good()
        },
        |x| x,
    ));
    assert_eq!(
        detail_code(&client(Identity::Org), &sandbox.url(), body).await,
        None
    );
    sandbox.shutdown().await;
}

/// Over a session authenticated by a CPS, the assertion must be that card's.
#[tokio::test]
async fn a_cps_session_without_assertion_is_refused() {
    let sandbox = start_default().await;
    let reply = post_soap(
        &client(Identity::Cps),
        &sandbox.url(),
        read(&fixtures_dir().join("cps-mode/assertion-ps-request.1.xml")),
    )
    .await;
    assert_eq!(fault_of(&reply).detail_code.as_deref(), Some("desir_560"));
    sandbox.shutdown().await;
}
