//! Building a deposit of a 20 MB document does not copy it: the MTOM body (documents as binary
//! parts, no base64) chains the document's own buffer between the MIME heads. Measured with a
//! counting allocator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use dmp_service::client::envelope::{self, Addressing};
use dmp_service::client::{deposit, mtom};
use passerelle_clinical_documents::testing::{self, CountingAllocator};
use passerelle_clinical_documents::xds::{ContentFacts, DocumentFormat, Submission};
use time::macros::datetime;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

#[test]
fn a_20_mb_deposit_is_not_copied_into_its_mtom_body() {
    const SIZE: usize = 20 * 1024 * 1024;
    let content: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let facts = ContentFacts::of_cda(&content, DocumentFormat::CdaPdf);
    let s = Submission::from_header(
        &testing::letter("BIG", datetime!(2024-10-02 10:30 +02:00)),
        &facts,
        &testing::submission_set_42(),
    )
    .unwrap();
    let d = deposit::Deposit::new(s, content);
    let base = CountingAllocator::reset_peak();

    let prepared = deposit::prepare(
        &d,
        "1.2.250.1.999.1.2.3.4.9",
        b"<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"/>"
            .to_vec()
            .into(),
    )
    .unwrap();
    let xml = envelope::write_request(
        &Addressing {
            action: deposit::ACTION,
            to: "https://dmp.test/si-dmp-server/v2/services/repository",
            message_id: uuid::Uuid::new_v4(),
        },
        "<saml2:Assertion xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>",
        |w| prepared.write_body(w, false),
    )
    .unwrap();
    let body = mtom::write(deposit::ACTION, xml, &prepared.mtom_parts());
    let peak = CountingAllocator::peak() - base;
    assert!(body.len() > SIZE);
    // No copy of the document: the metadata, the envelope and the MIME heads only.
    assert!(
        peak < SIZE / 20,
        "peak {peak} bytes above the caller's own, for a {SIZE}-byte document"
    );
}
