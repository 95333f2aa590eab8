//! The DMP sandbox's sandbox-only view (what the patient, the legal representatives or the
//! professionals see), fetched over the sandbox's mutual TLS with the test PKI's organisation
//! certificate.

use std::sync::Arc;

use anyhow::Context;
use passerelle_sandbox::dmp::view::{self, View};
use passerelle_sandbox::pki::TestPki;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Whose view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Patient,
    LegalRepresentatives,
    Professionals,
}

impl Audience {
    fn name(self) -> &'static str {
        match self {
            Self::Patient => "patient",
            Self::LegalRepresentatives => "legal-representatives",
            Self::Professionals => "professionals",
        }
    }
}

/// The view of the patient `ins` (15 characters) by `audience`, from the DMP sandbox whose
/// service base URL is `url` (`https://host:port/si-dmp-server/v2/services`).
pub async fn fetch(
    url: &str,
    pki: &TestPki,
    ins: &str,
    audience: Audience,
) -> anyhow::Result<View> {
    let base = reqwest::Url::parse(url).with_context(|| format!("{url:?} is not a URL"))?;
    let origin = base.origin().ascii_serialization();
    let target = format!("{origin}{}", view::path(ins, audience.name()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&pki.ca_cert)
        .with_context(|| format!("reading {}", pki.ca_cert.display()))?
    {
        roots.add(cert.context("the sandbox CA")?)?;
    }
    let chain = CertificateDer::pem_file_iter(&pki.org_cert)
        .with_context(|| format!("reading {}", pki.org_cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .context("the organisation certificate")?;
    let key = PrivateKeyDer::from_pem_file(&pki.org_key)
        .with_context(|| format!("reading {}", pki.org_key.display()))?;
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)?;
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .build()?;
    let answer = http
        .get(&target)
        .send()
        .await
        .with_context(|| format!("cannot reach the DMP sandbox at {origin}"))?;
    let status = answer.status();
    if !status.is_success() {
        let text = answer.text().await.unwrap_or_default();
        anyhow::bail!("the DMP sandbox answered {status}: {text}");
    }
    Ok(answer.json::<View>().await?)
}
