//! What the `client_*` tests share: the VIHF claims of the sample doctor, a DMP sandbox started
//! on a fresh test PKI, the organisation-mode client, a deposit of one letter.
#![allow(dead_code)] // each test uses its part

use std::time::Duration;

use dmp_service::client::{ClientIdentity, ClientTls, DmpClient, DmpClientConfig, deposit};
use dmp_service::vihf::{
    AuthenticationMode, LpsIdentity, PatientResource, PurposeOfUse, VihfClaims,
};
use passerelle_clinical_documents::header::DocumentHeader;
use passerelle_clinical_documents::testing;
use passerelle_clinical_documents::xds::{ContentFacts, DocumentFormat, Submission};
use passerelle_sandbox::dmp::{DmpSandbox, DmpSandboxConfig, RunningDmpSandbox};
use passerelle_sandbox::pki::TestPki;
use time::OffsetDateTime;

/// The NIR's OID, the sample patient's INS being a NIR.
pub const NIR_OID: &str = "1.2.250.1.213.1.4.8";

/// The sample doctor's claims about the sample patient, in `mode`.
pub fn claims(mode: AuthenticationMode) -> VihfClaims {
    VihfClaims {
        professional: testing::doctor(),
        mode,
        purpose: PurposeOfUse::Normal,
        lps: LpsIdentity {
            id: "1.2.250.1.999.9".into(),
            name: "passerelle".into(),
            version: "0.1".into(),
            homologation: "TEST".into(),
        },
        patient: Some(PatientResource {
            ins: testing::INS.into(),
            oid: NIR_OID.into(),
        }),
    }
}

/// A DMP sandbox on a fresh test PKI, with `config` (its data directory set here), and the
/// directory holding both.
pub async fn sandbox_with(
    config: DmpSandboxConfig,
) -> (tempfile::TempDir, TestPki, RunningDmpSandbox) {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::ensure(&dir.path().join("pki")).unwrap();
    let dmp = DmpSandbox::start(
        DmpSandboxConfig {
            data_dir: dir.path().join("data"),
            ..config
        },
        &pki,
    )
    .await
    .unwrap();
    (dir, pki, dmp)
}

/// [`sandbox_with`] the default configuration.
pub async fn sandbox() -> (tempfile::TempDir, TestPki, RunningDmpSandbox) {
    sandbox_with(DmpSandboxConfig::default()).await
}

/// The client of the DMP at `url`: trusting the test CA, with the organisation's TLS identity
/// when `organisation` (else CPS mode only).
pub fn client(url: String, pki: &TestPki, organisation: bool) -> DmpClient {
    DmpClient::new(&DmpClientConfig {
        endpoint: url,
        timeout: Duration::from_secs(20),
        tls: ClientTls {
            identity: organisation.then(|| ClientIdentity::Pem {
                cert: pki.org_cert.clone(),
                key: pki.org_key.clone(),
            }),
            trusted_ca: vec![pki.ca_cert.clone()],
        },
        source_id: testing::SOURCE_ID.into(),
        ..DmpClientConfig::default()
    })
    .unwrap()
}

/// The deposit of `header`'s document ([`testing::CDA`]) in the submission set `set`, sent now.
pub fn deposit_of(header: &DocumentHeader, set: &str) -> deposit::Deposit {
    let facts = ContentFacts::of_cda(testing::CDA, DocumentFormat::CdaText);
    let s = Submission::from_header(
        header,
        &facts,
        &testing::submission_set(set, OffsetDateTime::now_utc()),
    )
    .unwrap();
    deposit::Deposit::new(s, testing::CDA.to_vec())
}
