//! Building a deposit of a 20 MB document copies it once: the MTOM body (documents as binary
//! parts, no base64) is the only buffer of its size. Measured with a counting allocator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use dmp_service::client::envelope::{self, Addressing};
use dmp_service::client::{deposit, mtom};
use passerelle_clinical_documents::codes::{self, Code};
use passerelle_clinical_documents::header::*;
use passerelle_clinical_documents::xds::{
    ContentFacts, DocumentFormat, Submission, SubmissionSetInput,
};
use passerelle_domain::{
    IdentityStatus, Ins, InsOid, PatientIdentity, Platform, Professional, ProfessionalIdType,
    ProfessionalInput, QualifiedIns, StructureIdType,
};
use time::macros::datetime;

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn header() -> DocumentHeader {
    let p = Professional::new(&ProfessionalInput {
        id_type: Some(ProfessionalIdType::Rpps),
        id: "99900063480",
        family_name: "FOUQUEREY",
        given_name: "JEAN",
        profession: "10",
        specialty: "SM54",
        structure_id_type: Some(StructureIdType::Finess),
        structure_id: "999000003",
        structure_name: "CABINET DU DR FOUQUEREY",
        activity_sector: "SA07",
    })
    .unwrap();
    let identity = PatientIdentity {
        ins: Ins::typed("2480392630010", "64", InsOid::Nir).unwrap(),
        traits: None,
        status: IdentityStatus::Qualifiee,
    };
    let ins = QualifiedIns::try_new(&identity, Platform::Production).unwrap();
    let t = datetime!(2024-10-02 10:30 +02:00);
    DocumentHeader {
        id: DocumentId {
            root: "1.2.250.1.999.1.2.3".into(),
            extension: Some("BIG".into()),
        },
        set_id: DocumentId {
            root: "1.2.250.1.999.1.2.3".into(),
            extension: Some("SET-BIG".into()),
        },
        version: 1,
        replaces: None,
        title: "Compte rendu".into(),
        type_code: codes::type_code("11490-0").unwrap().clone(),
        effective_time: t,
        confidentiality: Confidentiality::Normal,
        hidden_from: vec![],
        language: "fr-FR".into(),
        patient: Patient { ins, identity },
        author: Author::Professional(ProfessionalAuthor {
            specialty: codes::author_specialty_of(&p.vihf_roles()).unwrap().clone(),
            professional: p.clone(),
            time: t,
        }),
        custodian: p.structure().unwrap().clone(),
        legal_authenticator: (p, t),
        service_event: ServiceEvent {
            practice_setting: codes::practice_setting("AMBULATOIRE").unwrap().clone(),
            start: t,
            end: Some(t),
        },
        facility_type: codes::healthcare_facility_type("SA07").unwrap().clone(),
    }
}

#[test]
fn a_20_mb_deposit_is_copied_once_into_its_mtom_body() {
    const SIZE: usize = 20 * 1024 * 1024;
    let content: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let facts = ContentFacts::of_cda(&content, DocumentFormat::CdaPdf);
    let s = Submission::from_header(
        &header(),
        &facts,
        &SubmissionSetInput {
            unique_id: "1.2.250.1.999.1.2.3.4.1".into(),
            source_id: "1.2.250.1.999.1.2".into(),
            submission_time: datetime!(2024-10-02 11:00 +02:00),
            content_type: Code::new("04", "1.2.250.1.213.2.2", "Hospitalisation de jour"),
        },
    )
    .unwrap();
    let d = deposit::Deposit::new(s, content);
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);

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
    let body = mtom::write(deposit::ACTION, &xml, &prepared.mtom_parts());
    let peak = PEAK.load(Ordering::SeqCst) - base;
    assert!(body.body.len() > SIZE);
    // One copy of the document (the body) plus a little metadata.
    assert!(
        peak < SIZE + SIZE / 20,
        "peak {peak} bytes above the caller's own, for a {SIZE}-byte document"
    );
}
