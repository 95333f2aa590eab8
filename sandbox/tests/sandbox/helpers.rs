//! Shared helpers: locating `shared/`, the test PKI, starting sandboxes, HTTPS clients
//! with client certificates, a small independent XML reader, the conformance script.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use passerelle_sandbox::{InsiSandbox, InsiSandboxConfig, RunningInsiSandbox, TestPki};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub const NS_SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const NS_SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const NS_RESULTAT: &str = "http://www.cnamts.fr/INSiResultat";
pub const NS_SIRAM: &str = "urn:siram";
pub const ACTION_TRAITS: &str =
    "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecTraitsIdentite";
pub const ACTION_VITALE: &str = "urn:ServiceIdentiteCertifiee:1.0.0:rechercherInsAvecCarteVitale";
pub const SOAP12_CT: &str = "application/soap+xml; charset=utf-8";

/// `shared/` (specs, fixtures, conformance scripts): `PASSERELLE_SHARED_DIR`, else
/// `../../shared` from this crate. Missing: the test fails, loudly.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("PASSERELLE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    assert!(
        dir.join("specs/insi/fixtures").is_dir() && dir.join("conformance/check-insi.sh").is_file(),
        "\n\n*** shared/ NOT FOUND at {} ***\nThese tests replay the captured INSi fixtures and run the conformance \
         scripts of shared/. Put shared/ beside the project or set PASSERELLE_SHARED_DIR.\n",
        dir.display()
    );
    dir
}

pub fn fixtures_dir() -> PathBuf {
    shared_dir().join("specs/insi/fixtures")
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// One PKI for the whole test binary (a directory under the target dir, so later runs
/// also exercise loading an existing PKI).
pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandbox-tests-pki");
        TestPki::ensure(&dir).expect("test PKI")
    })
}

pub async fn start(config: InsiSandboxConfig) -> RunningInsiSandbox {
    InsiSandbox::start(config, pki())
        .await
        .expect("sandbox starts")
}

pub async fn start_default() -> RunningInsiSandbox {
    start(InsiSandboxConfig::default()).await
}

/// Which client certificate an HTTPS client presents.
pub enum Identity {
    None,
    Org,
    Cps,
    Pem { cert: String, key: String },
}

pub fn client(identity: Identity) -> reqwest::Client {
    client_with_versions(
        identity,
        &[&rustls::version::TLS13, &rustls::version::TLS12],
    )
}

pub fn client_with_versions(
    identity: Identity,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_client_config(identity, versions))
        .build()
        .expect("reqwest client")
}

pub fn tls_client_config(
    identity: Identity,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ClientConfig {
    let pki = pki();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&pki.ca_cert).expect("ca.crt"))
        .expect("root");
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots);
    let pems = match identity {
        Identity::None => None,
        Identity::Org => Some((read(&pki.org_cert), read(&pki.org_key))),
        Identity::Cps => {
            // The card's certificate and its issuing CA, as a card middleware sends them.
            let mut chain = read(&pki.cps_cert);
            chain.extend(read(&pki.cps_ca_cert));
            Some((chain, read(&pki.cps_key)))
        }
        Identity::Pem { cert, key } => Some((cert.into_bytes(), key.into_bytes())),
    };
    match pems {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(&cert)
                .collect::<Result<Vec<_>, _>>()
                .expect("client chain");
            let key = PrivateKeyDer::from_pem_slice(&key).expect("client key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client auth")
        }
    }
}

/// Sends raw HTTP/1.1 bytes over TLS (organisation certificate) and returns all the
/// server wrote until it closed: for requests reqwest would not send (chunked bodies).
pub async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = tls_client_config(Identity::Org, &[&rustls::version::TLS13]);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await.expect("TLS");
    tls.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tls.read_to_end(&mut out),
    )
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn xml(&self) -> Node {
        parse(&self.body).unwrap_or_else(|e| panic!("answer is not XML ({e}):\n{}", self.text()))
    }
}

pub async fn post(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> Result<Reply, reqwest::Error> {
    let response = client
        .post(url)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.bytes().await?.to_vec();
    Ok(Reply {
        status,
        content_type,
        body,
    })
}

pub async fn post_soap(
    client: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
) -> Reply {
    post(client, url, SOAP12_CT, body)
        .await
        .expect("HTTP exchange")
}

/// A traits-search request written the way a different client might: default
/// namespaces instead of tlsi-ins's prefixes.
pub fn traits_request(idam: &str, message_id: &str, traits_xml: &str) -> String {
    request(
        ACTION_TRAITS,
        idam,
        message_id,
        &format!(
            r#"<RECSANSVITALE xmlns="http://www.cnamts.fr/INSiRecSans">{traits_xml}</RECSANSVITALE>"#
        ),
    )
}

pub fn vitale_request(message_id: &str, body_xml: &str) -> String {
    request(
        ACTION_VITALE,
        "IDAM-TEST",
        message_id,
        &format!(
            r#"<v:RECVITALE xmlns:v="http://www.cnamts.fr/INSiRecVit">{body_xml}</v:RECVITALE>"#
        ),
    )
}

pub fn request(action: &str, idam: &str, message_id: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope">
  <e:Header>
    <ContexteBAM xmlns="urn:siram:bam:ctxbam" Version="01_02"><Id>4e1c3b7a-0000-4000-8000-000000000001</Id><Temps>2026-11-26T10:00:00Z</Temps><Emetteur>test@example.invalid</Emetteur><COUVERTURE/></ContexteBAM>
    <l:ContexteLPS xmlns:l="urn:siram:lps:ctxlps" Nature="CTXLPS" Version="01_00"><l:Id>4e1c3b7a-0000-4000-8000-000000000002</l:Id><l:Temps>2026-11-26T10:00:00Z</l:Temps><l:LPS><l:IDAM R="4">{idam}</l:IDAM><l:Version>1.0</l:Version><l:Instance>4e1c3b7a-0000-4000-8000-000000000003</l:Instance><l:Nom>urn:lps:passerelle-tests:1.0</l:Nom></l:LPS></l:ContexteLPS>
    <a:Action xmlns:a="http://www.w3.org/2005/08/addressing">{action}</a:Action>
    <a:MessageID xmlns:a="http://www.w3.org/2005/08/addressing">{message_id}</a:MessageID>
  </e:Header>
  <e:Body>{body}</e:Body>
</e:Envelope>"#
    )
}

// --- A small namespace-aware reader, independent of the sandbox's. ---

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// In-scope namespace declarations (prefix, URI), innermost last; `""` = default.
    pub scope: Vec<(String, String)>,
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String, String)>,
    pub children: Vec<Node>,
    pub text: String,
}

impl Node {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub fn child(&self, ns: &str, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub fn all(&self, ns: &str, name: &str) -> Vec<&Node> {
        self.children.iter().filter(|c| c.is(ns, name)).collect()
    }

    /// Descendant along a path of local names in one namespace.
    pub fn path(&self, ns: &str, path: &[&str]) -> Option<&Node> {
        path.iter()
            .try_fold(self, |node, name| node.child(ns, name))
    }

    pub fn text_at(&self, ns: &str, path: &[&str]) -> Option<String> {
        self.path(ns, path).map(|n| n.text.trim().to_owned())
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(ns, n, _)| ns.is_empty() && n == name)
            .map(|(_, _, v)| v.as_str())
    }

    /// The same tree without namespace declarations: compares documents whatever
    /// prefixes they use.
    pub fn without_scope(&self) -> Node {
        Node {
            scope: Vec::new(),
            children: self.children.iter().map(Node::without_scope).collect(),
            ..self.clone()
        }
    }

    /// Resolves a QName written in an attribute value (WSDL `element="p:X"`).
    pub fn resolve_qname(&self, qname: &str) -> (String, String) {
        let (prefix, local) = qname.split_once(':').unwrap_or(("", qname));
        let uri = self
            .scope
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.clone())
            .unwrap_or_else(|| panic!("unbound prefix in {qname}"));
        (uri, local.to_owned())
    }

    /// First descendant (depth first) with this name.
    pub fn find(&self, ns: &str, name: &str) -> Option<&Node> {
        if self.is(ns, name) {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(ns, name))
    }
}

pub fn parse(bytes: &[u8]) -> Result<Node, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    let ns_of = |r: ResolveResult<'_>| match r {
        ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
        _ => String::new(),
    };
    loop {
        let (res, event) = reader.read_resolved_event().map_err(|e| e.to_string())?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let element_ns = ns_of(res);
                let mut attrs = Vec::new();
                let mut scope = stack.last().map(|p| p.scope.clone()).unwrap_or_default();
                for a in e.attributes() {
                    let a = a.map_err(|e| e.to_string())?;
                    if let Some(binding) = a.key.as_namespace_binding() {
                        let prefix = match binding {
                            quick_xml::name::PrefixDeclaration::Default => String::new(),
                            quick_xml::name::PrefixDeclaration::Named(p) => {
                                String::from_utf8_lossy(p).into_owned()
                            }
                        };
                        let uri = a.unescape_value().map_err(|e| e.to_string())?.into_owned();
                        scope.push((prefix, uri));
                        continue;
                    }
                    let (ares, local) = reader.resolve_attribute(a.key);
                    attrs.push((
                        ns_of(ares),
                        String::from_utf8_lossy(local.as_ref()).into_owned(),
                        a.unescape_value().map_err(|e| e.to_string())?.into_owned(),
                    ));
                }
                let node = Node {
                    scope,
                    ns: element_ns,
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    attrs,
                    children: Vec::new(),
                    text: String::new(),
                };
                if matches!(event, Event::Start(_)) {
                    stack.push(node);
                } else if let Some(parent) = stack.last_mut() {
                    parent.children.push(node);
                } else {
                    root = Some(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("unbalanced")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text
                        .push_str(&t.xml_content().map_err(|e| e.to_string())?);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = r.decode().map_err(|e| e.to_string())?;
                    if let Some(ch) = r.resolve_char_ref().map_err(|e| e.to_string())? {
                        top.text.push(ch);
                    } else {
                        let v = quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("entity {name}"))?;
                        top.text.push_str(v);
                    }
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c.decode().map_err(|e| e.to_string())?);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    root.ok_or_else(|| "no root".into())
}

/// A SOAP 1.2 fault as read from an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultInfo {
    pub code: String,
    pub subcode: Option<String>,
    pub reason: String,
    pub detail_code: Option<String>,
    pub message_id: Option<String>,
    pub severite: Option<String>,
    pub detail: Option<String>,
}

pub fn fault_of(reply: &Reply) -> FaultInfo {
    assert_eq!(
        reply.status,
        500,
        "a SOAP fault travels with HTTP 500:\n{}",
        reply.text()
    );
    let doc = reply.xml();
    assert!(
        doc.is(NS_SOAP12, "Envelope"),
        "not a SOAP 1.2 envelope:\n{}",
        reply.text()
    );
    assert!(
        doc.find(NS_RESULTAT, "RESULTAT").is_none(),
        "a fault must not carry a RESULTAT:\n{}",
        reply.text()
    );
    let fault = doc
        .find(NS_SOAP12, "Fault")
        .unwrap_or_else(|| panic!("no SOAP Fault in:\n{}", reply.text()));
    let erreur = fault.find(NS_SIRAM, "Erreur");
    FaultInfo {
        code: fault
            .text_at(NS_SOAP12, &["Code", "Value"])
            .unwrap_or_default(),
        subcode: fault.text_at(NS_SOAP12, &["Code", "Subcode", "Value"]),
        reason: fault
            .text_at(NS_SOAP12, &["Reason", "Text"])
            .unwrap_or_default(),
        detail_code: erreur.and_then(|e| e.attr("code")).map(str::to_owned),
        message_id: erreur.and_then(|e| e.attr("messageID")).map(str::to_owned),
        severite: erreur.and_then(|e| e.attr("severite")).map(str::to_owned),
        detail: erreur.map(|e| e.text.clone()),
    }
}

// --- Conformance script of shared/ ---

fn conformance_ready() {
    static SETUP: OnceLock<()> = OnceLock::new();
    SETUP.get_or_init(|| {
        let script = shared_dir().join("conformance/setup.sh");
        let out = Command::new(&script)
            .output()
            .expect("run conformance/setup.sh");
        assert!(
            out.status.success(),
            "conformance setup failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Runs `check-insi.sh` on an answer; panics with its report when invalid.
pub fn check_insi(label: &str, body: &[u8], allow_fault: bool) {
    conformance_ready();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir
        .path()
        .join(format!("{}.xml", label.replace(['/', ' '], "_")));
    std::fs::write(&file, body).expect("write answer");
    let mut cmd = Command::new(shared_dir().join("conformance/check-insi.sh"));
    if allow_fault {
        cmd.arg("--allow-fault");
    }
    let out = cmd.arg(&file).output().expect("run check-insi.sh");
    match out.status.code() {
        Some(0) => {}
        Some(1) => panic!(
            "{label}: answer not conformant:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(body)
        ),
        _ => panic!(
            "{label}: conformance setup error:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}
