//! Helpers of the DMP tests: an independent client. The official request examples are
//! read from `shared/`, their VIHF is signed by Debian's `xmlsec1` with a key of the
//! sandbox PKI, and `curl` (OpenSSL) posts them with a TLS client certificate.

use std::path::{Path, PathBuf};
use std::process::Command;

use passerelle_sandbox::TestPki;
use passerelle_sandbox::dmp::{DmpSandbox, DmpSandboxConfig, RunningDmpSandbox};

use crate::helpers::{pki, shared_dir};

pub const EXAMPLE_INS: &str = "207058575627097";

pub fn example(name: &str) -> String {
    let path = shared_dir().join("specs/dmp/exemples-messages").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub async fn start_dmp(data_dir: &Path) -> RunningDmpSandbox {
    DmpSandbox::start(
        DmpSandboxConfig {
            data_dir: data_dir.to_path_buf(),
            ..DmpSandboxConfig::default()
        },
        pki(),
    )
    .await
    .expect("DMP sandbox starts")
}

/// Who signs the VIHF and who authenticates the TLS session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// DIRECTE: card signature key, card authentication TLS certificate.
    Card,
    /// INDIRECTE: organisation signature key, organisation TLS certificate.
    Organisation,
    /// The organisation's authentication key signs the VIHF (refused).
    OrganisationAuthSigns,
    /// The card's authentication key signs the VIHF (refused).
    CardAuthSigns,
}

impl Who {
    fn signer(self, pki: &TestPki) -> (PathBuf, PathBuf) {
        match self {
            Who::Card => (pki.cps_sign_key.clone(), pki.cps_sign_cert.clone()),
            Who::Organisation => (pki.org_sign_key.clone(), pki.org_sign_cert.clone()),
            Who::OrganisationAuthSigns => (pki.org_key.clone(), pki.org_cert.clone()),
            Who::CardAuthSigns => (pki.cps_key.clone(), pki.cps_cert.clone()),
        }
    }
    fn tls(self, pki: &TestPki) -> (PathBuf, PathBuf) {
        match self {
            Who::Card | Who::CardAuthSigns => (pki.cps_cert.clone(), pki.cps_key.clone()),
            Who::Organisation | Who::OrganisationAuthSigns => {
                (pki.org_cert.clone(), pki.org_key.clone())
            }
        }
    }
    fn indirect(self) -> bool {
        matches!(self, Who::Organisation | Who::OrganisationAuthSigns)
    }
}

/// The `(start, end)` byte range of the SOAP envelope in an example (a MIME package for
/// TD2.1).
fn envelope_range(text: &str) -> (usize, usize) {
    let start = text.find("<soap:Envelope").expect("envelope");
    let end = text.find("</soap:Envelope>").expect("envelope end") + "</soap:Envelope>".len();
    (start, end)
}

/// Signs the VIHF of `message` (the whole example, MIME or not) with `xmlsec1`: a fresh
/// IssueInstant, the indirect mode when the organisation signs, then an enveloped
/// signature (exclusive C14N, `sha256` or `sha1`) after the Issuer.
pub fn sign(message: &str, who: Who, sha256: bool) -> String {
    sign_full(message, who, sha256, time::OffsetDateTime::now_utc(), None)
}

/// [`sign`] (RSA-SHA256) with this IssueInstant.
pub fn sign_at(message: &str, who: Who, instant: time::OffsetDateTime) -> String {
    sign_full(message, who, true, instant, None)
}

/// [`sign`] (RSA-SHA256) with an `InclusiveNamespaces PrefixList` on both exclusive
/// canonicalisations, as OpenSAML-based signers write.
pub fn sign_inclusive(message: &str, who: Who, prefixes: &str) -> String {
    sign_full(
        message,
        who,
        true,
        time::OffsetDateTime::now_utc(),
        Some(prefixes),
    )
}

fn sign_full(
    message: &str,
    who: Who,
    sha256: bool,
    instant: time::OffsetDateTime,
    inclusive: Option<&str>,
) -> String {
    let pki = pki();
    let (start, end) = envelope_range(message);
    let mut env = message[start..end].to_owned();
    let now = instant
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let a = env.find("IssueInstant=\"").unwrap() + "IssueInstant=\"".len();
    let b = a + env[a..].find('"').unwrap();
    env.replace_range(a..b, &now);
    if who.indirect() {
        env = env.replace(
            ">DIRECTE</saml2:AttributeValue>",
            ">INDIRECTE</saml2:AttributeValue>",
        );
        env = env.replace(
            "</saml2:AttributeStatement>",
            "<saml2:Attribute Name=\"urn:oasis:names:tc:xspa:1.0:subject:subject-id\"><saml2:AttributeValue>MAX LIBRE</saml2:AttributeValue></saml2:Attribute></saml2:AttributeStatement>",
        );
    }
    let id = {
        let a = env.find("<saml2:Assertion").unwrap();
        let i = a + env[a..].find(" ID=\"").unwrap() + 5;
        env[i..i + env[i..].find('"').unwrap()].to_owned()
    };
    // The organisation's authentication key is ECDSA P-256.
    let (sig_alg, dig_alg) = if who == Who::OrganisationAuthSigns {
        (
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            "http://www.w3.org/2001/04/xmlenc#sha256",
        )
    } else if sha256 {
        (
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2001/04/xmlenc#sha256",
        )
    } else {
        (
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            "http://www.w3.org/2000/09/xmldsig#sha1",
        )
    };
    let exc = match inclusive {
        None => "Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>".to_owned(),
        Some(list) => format!(
            "Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"{list}\"/></ds:{{}}>"
        ),
    };
    let close = |name: &str| exc.replace("{}", name);
    let template = format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo><ds:CanonicalizationMethod {}<ds:SignatureMethod Algorithm=\"{sig_alg}\"/><ds:Reference URI=\"#{id}\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/><ds:Transform {}</ds:Transforms><ds:DigestMethod Algorithm=\"{dig_alg}\"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>",
        close("CanonicalizationMethod"),
        close("Transform"),
    );
    let at = env.find("</saml2:Issuer>").unwrap() + "</saml2:Issuer>".len();
    env.insert_str(at, &template);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.xml");
    let output = dir.path().join("out.xml");
    std::fs::write(&input, &env).unwrap();
    let (key, cert) = who.signer(pki);
    let out = Command::new("xmlsec1")
        .arg("--sign")
        .arg("--pkcs8-pem")
        .arg(format!("{},{}", key.display(), cert.display()))
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            "--output",
        ])
        .arg(&output)
        .arg(&input)
        .output()
        .expect("xmlsec1 (apt-get install xmlsec1)");
    assert!(
        out.status.success(),
        "xmlsec1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut signed = std::fs::read_to_string(&output).unwrap();
    if signed.starts_with("<?xml") {
        signed = signed[signed.find("?>").unwrap() + 2..]
            .trim_start()
            .to_owned();
    }
    format!(
        "{}{}{}",
        &message[..start],
        signed.trim_end(),
        &message[end..]
    )
}

/// Posts `body` to `<url>/<service>` with curl, TLS as `who`; returns (HTTP status, body).
pub async fn post(
    url: &str,
    service: &str,
    content_type: &str,
    body: &[u8],
    who: Who,
) -> (u16, String) {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body");
    std::fs::write(&file, body).unwrap();
    let (cert, key) = who.tls(pki);
    let args: Vec<String> = vec![
        "--silent".into(),
        "--show-error".into(),
        "--tlsv1.2".into(),
        "--cacert".into(),
        pki.ca_cert.display().to_string(),
        "--cert".into(),
        cert.display().to_string(),
        "--key".into(),
        key.display().to_string(),
        "-H".into(),
        format!("Content-Type: {content_type}"),
        "--data-binary".into(),
        format!("@{}", file.display()),
        "-w".into(),
        "\n%{http_code}".into(),
        format!("{url}/{service}"),
    ];
    let out = tokio::task::spawn_blocking(move || {
        let out = Command::new("curl").args(&args).output().expect("curl");
        drop(dir);
        out
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_owned())
}

pub const SOAP12: &str = "application/soap+xml; charset=UTF-8";

/// The Content-Type of the official TD2.1 MIME package.
pub const TD21_CT: &str = "multipart/related; type=\"application/xop+xml\"; boundary=\"----=_Part_9_20030738.1554380517598\"; start=\"<rootpart@soapui.org>\"; start-info=\"application/soap+xml\"";

/// Signs and posts an example as `who`.
pub async fn call(url: &str, service: &str, message: &str, who: Who) -> (u16, String) {
    let signed = sign(message, who, true);
    let ct = if message.starts_with("------=_Part_9") {
        TD21_CT
    } else {
        SOAP12
    };
    post(url, service, ct, signed.as_bytes(), who).await
}

/// The text of the first element with this local name (any prefix).
pub fn text_of<'a>(xml: &'a str, local: &str) -> Option<&'a str> {
    for prefix in ["", "ns1:", "ns2:", "ns4:", "rs:", "rim:", "query:", "soap:"] {
        let open = format!("<{prefix}{local}>");
        if let Some(a) = xml.find(&open) {
            let a = a + open.len();
            let b = a + xml[a..].find("</")?;
            return Some(&xml[a..b]);
        }
    }
    None
}
