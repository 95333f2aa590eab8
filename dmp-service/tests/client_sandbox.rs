//! Round trips with the DMP sandbox in organisation mode: status, authorisation, deposit,
//! find, get by uniqueId, retrieve, mask, archive, idempotent redeposit, delete; a VIHF
//! signed with the authentication certificate is refused `DMPInvalidCertificate`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use dmp_service::client::{
    AuthorizationAction, AuthorizationChange, CallAuth, CallContext, DmpError, DmpState,
    EntryStatus, FindDocuments, VisibilityChange, deposit,
};
use dmp_service::signer::SoftwareSigner;
use dmp_service::vihf::AuthenticationMode;
use passerelle_clinical_documents::header::*;
use passerelle_clinical_documents::testing;
use passerelle_clinical_documents::xds::{ContentFacts, DocumentFormat, Submission};
use passerelle_sandbox::dmp::{DmpSandbox, DmpSandboxConfig};
use passerelle_sandbox::pki::TestPki;
use time::OffsetDateTime;

mod client_support;

use client_support::{claims, client, deposit_of};

/// A letter of now, hidden from the patient.
fn header(doc: &str) -> DocumentHeader {
    let mut h = testing::letter(doc, OffsetDateTime::now_utc());
    h.hidden_from = vec![HiddenFrom::Patient];
    h
}

fn the_deposit(doc: &str, set: &str) -> deposit::Deposit {
    let mut d = deposit_of(&header(doc), set);
    d.signature_unique_id = Some(format!("{set}.9"));
    d
}

fn ctx(signer: &Arc<SoftwareSigner>) -> CallContext {
    CallContext {
        message_id: uuid::Uuid::new_v4(),
        auth: CallAuth::Organisation {
            signer: signer.clone(),
        },
        claims: claims(AuthenticationMode::Indirecte),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisation_mode_round_trip() {
    let (_dir, pki, dmp) = client_support::sandbox().await;
    let c = client(dmp.url(), &pki, true);
    let signer =
        Arc::new(SoftwareSigner::from_pem_files(&pki.org_sign_cert, &pki.org_sign_key).unwrap());

    let status = c.patient_status(&ctx(&signer)).await.unwrap();
    assert!(status.exists);
    assert_eq!(status.state, DmpState::Open);

    // Declaring oneself authorised is for direct (CPS) access only, as the rights matrix says.
    let e = c
        .set_authorization(
            &ctx(&signer),
            AuthorizationChange {
                action: AuthorizationAction::Add,
                attending_physician: false,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DmpError::Fault { code, .. } if code == "DMPAccessDeniedByRightsService"),
        "{e:?}"
    );

    let set_id = format!("2.25.{}", uuid::Uuid::new_v4().as_u128());
    let doc = format!("RT-{}", uuid::Uuid::new_v4().simple());
    let d = the_deposit(&doc, &set_id);
    let outcome = c.deposit(&ctx(&signer), &d).await.unwrap();
    let unique_id = outcome.document_unique_ids[0].clone();
    assert!(outcome.already_present.is_empty());

    let found = c
        .find_documents(&ctx(&signer), &FindDocuments::default())
        .await
        .unwrap();
    let entry = found
        .iter()
        .find(|e| e.unique_id == unique_id)
        .expect("the deposited document is found")
        .clone();
    assert!(entry.has_code("INVISIBLE_PATIENT"));
    assert!(!entry.is_signature);

    let by_id = c
        .document_by_unique_id(&ctx(&signer), &unique_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_id.entry_uuid, entry.entry_uuid);

    let got = c
        .retrieve(&ctx(&signer), &entry.repository_id, &unique_id)
        .await
        .unwrap();
    assert_eq!(&got.content[..], testing::CDA);

    // Sent again: nothing added, said so.
    let again = c.deposit(&ctx(&signer), &d).await.unwrap();
    assert_eq!(again.already_present, std::slice::from_ref(&unique_id));
    // The same uniqueId with other content: refused.
    let mut other = the_deposit(&doc, &format!("2.25.{}", uuid::Uuid::new_v4().as_u128()));
    let changed =
        b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>Autre</title></ClinicalDocument>";
    let facts = ContentFacts::of_cda(changed, DocumentFormat::CdaText);
    other.submission.document.hash = facts.sha1_hex;
    other.submission.document.size = facts.size;
    other.content = changed.to_vec().into();
    let e = c.deposit(&ctx(&signer), &other).await.unwrap_err();
    assert!(
        matches!(&e, DmpError::Registry { errors } if errors.iter().any(|x| x.code == "XDSDuplicateUniqueIdInRegistry")),
        "{e:?}"
    );

    // Reveal to the patient, then mask to professionals.
    let revealed = entry
        .confidentiality_after(VisibilityChange::RevealToPatient)
        .unwrap();
    c.update_confidentiality(&ctx(&signer), &entry, &revealed)
        .await
        .unwrap();
    let entry = c
        .document_by_unique_id(&ctx(&signer), &unique_id)
        .await
        .unwrap()
        .unwrap();
    assert!(!entry.has_code("INVISIBLE_PATIENT"));
    let masked = entry
        .confidentiality_after(VisibilityChange::MaskToProfessionals)
        .unwrap();
    c.update_confidentiality(&ctx(&signer), &entry, &masked)
        .await
        .unwrap();
    let now = c
        .document_by_unique_id(&ctx(&signer), &unique_id)
        .await
        .unwrap()
        .unwrap();
    assert!(now.has_code("MASQUE_PS"), "{:?}", now.confidentiality);
    assert_eq!(now.lid, entry.lid);

    c.update_status(&ctx(&signer), &now, EntryStatus::Archived)
        .await
        .unwrap();
    let archived = c
        .find_documents(
            &ctx(&signer),
            &FindDocuments {
                statuses: vec![EntryStatus::Archived],
                ..FindDocuments::default()
            },
        )
        .await
        .unwrap();
    let a = archived
        .iter()
        .find(|e| e.unique_id == unique_id)
        .expect("archived")
        .clone();
    assert_eq!(a.status, EntryStatus::Archived);

    c.update_status(&ctx(&signer), &a, EntryStatus::Deleted)
        .await
        .unwrap();
    let approved = c
        .find_documents(&ctx(&signer), &FindDocuments::default())
        .await
        .unwrap();
    assert!(approved.iter().all(|e| e.unique_id != unique_id));

    // An authentication certificate signing the VIHF (the card's, RSA; the organisation's
    // authentication key of the test PKI is ECDSA, which no signer takes).
    let wrong = Arc::new(SoftwareSigner::from_pem_files(&pki.cps_cert, &pki.cps_key).unwrap());
    let e = c.patient_status(&ctx(&wrong)).await.unwrap_err();
    assert!(
        matches!(&e, DmpError::Fault { code, .. } if code == "DMPInvalidCertificate"),
        "{e:?}"
    );
    dmp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacement_several_documents_and_a_20_mb_document() {
    let (_dir, pki, dmp) = client_support::sandbox().await;
    let c = client(dmp.url(), &pki, true);
    let signer =
        Arc::new(SoftwareSigner::from_pem_files(&pki.org_sign_cert, &pki.org_sign_key).unwrap());
    let new_set = || format!("2.25.{}", uuid::Uuid::new_v4().as_u128());
    let new_doc = || format!("RT-{}", uuid::Uuid::new_v4().simple());

    let first = the_deposit(&new_doc(), &new_set());
    let old_id = c
        .deposit(&ctx(&signer), &first)
        .await
        .unwrap()
        .document_unique_ids[0]
        .clone();
    let old = c
        .document_by_unique_id(&ctx(&signer), &old_id)
        .await
        .unwrap()
        .unwrap();

    // A new version replacing it, and another document in the same submission set.
    let facts = ContentFacts::of_cda(testing::CDA, DocumentFormat::CdaText);
    let other =
        passerelle_clinical_documents::xds::DocumentEntry::from_header(&header(&new_doc()), &facts)
            .unwrap();
    let other_id = other.unique_id.clone();
    let second = the_deposit(&new_doc(), &new_set())
        .replacing(old.entry_uuid.clone())
        .with_document(deposit::DepositDocument {
            entry: other,
            content: testing::CDA.to_vec().into(),
            replaces: None,
        });
    let outcome = c.deposit(&ctx(&signer), &second).await.unwrap();
    assert_eq!(outcome.document_unique_ids.len(), 2);
    let approved = c
        .find_documents(&ctx(&signer), &FindDocuments::default())
        .await
        .unwrap();
    let ids: Vec<&str> = approved.iter().map(|e| e.unique_id.as_str()).collect();
    assert!(ids.contains(&outcome.document_unique_ids[0].as_str()));
    assert!(ids.contains(&other_id.as_str()));
    assert!(!ids.contains(&old_id.as_str()));
    let deprecated = c
        .find_documents(
            &ctx(&signer),
            &FindDocuments {
                statuses: vec![EntryStatus::Deprecated],
                ..FindDocuments::default()
            },
        )
        .await
        .unwrap();
    assert!(
        deprecated
            .iter()
            .any(|e| e.unique_id == old_id && e.status == EntryStatus::Deprecated)
    );

    // 20 MB through MTOM and back through ITI-43.
    let big: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let facts = ContentFacts::of_cda(&big, DocumentFormat::CdaPdf);
    let s = Submission::from_header(
        &header(&new_doc()),
        &facts,
        &testing::submission_set(&new_set(), OffsetDateTime::now_utc()),
    )
    .unwrap();
    let big_id = s.document.unique_id.clone();
    let d = deposit::Deposit::new(s, big.clone());
    c.deposit(&ctx(&signer), &d).await.unwrap();
    let e = c
        .document_by_unique_id(&ctx(&signer), &big_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.size, Some(big.len() as u64));
    let got = c
        .retrieve(&ctx(&signer), &e.repository_id, &big_id)
        .await
        .unwrap();
    assert!(got.content == big, "the 20 MB document comes back intact");
    dmp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_failures_give_their_kinds() {
    use passerelle_sandbox::dmp::{FaultInjection, FaultKind, FaultTrigger};
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::ensure(&dir.path().join("pki")).unwrap();
    let signer =
        Arc::new(SoftwareSigner::from_pem_files(&pki.org_sign_cert, &pki.org_sign_key).unwrap());
    type Case = (FaultKind, fn(&DmpError) -> bool, bool);
    let cases: Vec<Case> = vec![
        (
            FaultKind::Http503,
            |e| matches!(e, DmpError::Http { status: 503 }),
            true,
        ),
        (
            FaultKind::SoapFault {
                subcode: "DMPSystemError".into(),
                code: "DMPSystemError".into(),
                text: "indisponible".into(),
            },
            |e| matches!(e, DmpError::Fault { code, fault_code, .. } if code == "DMPSystemError" && fault_code == "Receiver"),
            true,
        ),
        (
            FaultKind::GarbageBody,
            |e| matches!(e, DmpError::NotXds { .. }),
            false,
        ),
        (
            FaultKind::CloseConnection,
            |e| matches!(e, DmpError::Connect { .. }),
            true,
        ),
    ];
    for (n, (kind, expected, transient)) in cases.into_iter().enumerate() {
        let dmp = DmpSandbox::start(
            DmpSandboxConfig {
                data_dir: dir.path().join(format!("data{n}")),
                fault_injection: Some(FaultInjection {
                    trigger: FaultTrigger::EveryNth(1),
                    kind: kind.clone(),
                }),
                ..DmpSandboxConfig::default()
            },
            &pki,
        )
        .await
        .unwrap();
        let c = client(dmp.url(), &pki, true);
        let e = c.patient_status(&ctx(&signer)).await.unwrap_err();
        assert!(expected(&e), "{kind:?}: {e:?}");
        assert_eq!(e.is_transient(), transient, "{kind:?}: {e:?}");
        dmp.shutdown().await;
    }
}
