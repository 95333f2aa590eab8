//! Identity vigilance end to end: verify a known INS, qualify an identity, audit every INSi
//! call, recover from transient failures — on both buses.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::StreamExt;
use passerelle_bus::subjects;
use passerelle_e2e::{BusKind, System, SystemOptions, organisation, search};
use passerelle_proto::common::v1 as common;
use passerelle_proto::events::v1::{IdentityQualified, InsiCallAudited};
use passerelle_proto::ins::v1::{
    Comparison, DocumentCheck, DocumentType, IdentityStatus, KnownIns, QualifyIdentityRequest,
    SearchResult, Sex, VerifyInsRequest, VerifyResult,
};
use passerelle_sandbox::insi::{FaultInjection, FaultKind, FaultTrigger};
use passerelle_service_kit::errors::summarise;
use prost::Message;
use tonic::Code;

fn known(matricule: &str, key: &str) -> Option<KnownIns> {
    Some(KnownIns {
        matricule: matricule.into(),
        key: key.into(),
        oid: String::new(),
    })
}

fn verify(
    ins: Option<KnownIns>,
    name: &str,
    first: &[&str],
    sex: Sex,
    date: &str,
) -> VerifyInsRequest {
    VerifyInsRequest {
        actor: organisation(),
        ins,
        traits: search(name, first, sex, date).traits,
    }
}

fn passport() -> Option<DocumentCheck> {
    document(DocumentType::Passport, "agent-0042")
}

fn document(t: DocumentType, by: &str) -> Option<DocumentCheck> {
    Some(DocumentCheck {
        r#type: t as i32,
        checked_by: by.into(),
        checked_at: "2026-11-26T10:00:00Z".into(),
    })
}

fn qualify(
    ins: Option<KnownIns>,
    name: &str,
    first: &[&str],
    sex: Sex,
    date: &str,
    doc: Option<DocumentCheck>,
) -> QualifyIdentityRequest {
    QualifyIdentityRequest {
        actor: organisation(),
        traits: search(name, first, sex, date).traits,
        ins,
        document: doc,
    }
}

async fn verify_cases(bus: BusKind) {
    let sys = System::start(SystemOptions {
        bus,
        ..Default::default()
    })
    .await;
    let mut c = sys.ins_client().await;

    let r = c
        .verify_ins(verify(
            known("2480392630010", "64"),
            "PAT-DOUZE",
            &["NATHALIE"],
            Sex::Female,
            "1948-03-21",
        ))
        .await
        .expect("verify")
        .into_inner();
    assert_eq!(r.result, VerifyResult::Verified as i32);
    let names: Vec<(&str, i32)> = r
        .comparisons
        .iter()
        .map(|c| (c.name.as_str(), c.comparison))
        .collect();
    assert!(names.contains(&("ins", Comparison::Match as i32)));
    assert!(names.contains(&("birth_date", Comparison::Match as i32)));
    // Verified: the answer gives the patient identity, INS retrieved (no document here).
    let patient = r.patient.expect("a patient identity when verified");
    assert_eq!(
        (patient.matricule.as_str(), patient.key.as_str()),
        ("2480392630010", "64")
    );
    assert_eq!(patient.status, common::IdentityStatus::Recuperee as i32);

    // A wrong key typed: refused before any INSi call.
    let status = c
        .verify_ins(verify(
            known("2480392630010", "46"),
            "PAT-DOUZE",
            &["NATHALIE"],
            Sex::Female,
            "1948-03-21",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(summarise(&status).field.as_deref(), Some("ins.key"));
    assert!(
        status.message().contains("expected 64"),
        "{}",
        status.message()
    );

    // The INS of someone else.
    let r = c
        .verify_ins(verify(
            known("1090763220834", "89"),
            "PAT-DOUZE",
            &["NATHALIE"],
            Sex::Female,
            "1948-03-21",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.result, VerifyResult::Mismatch as i32);
    let ins = r.comparisons.iter().find(|c| c.name == "ins").unwrap();
    assert_eq!(ins.comparison, Comparison::Mismatch as i32);
    assert!(ins.note.contains("someone else"), "{}", ins.note);
    assert!(
        r.patient.is_none(),
        "an INS not confirmed gives no patient identity"
    );

    // A former INS of the same person, and an incomplete list of first names.
    let r = c
        .verify_ins(verify(
            known("2090763220834", "39"),
            "ECETINSI",
            &["PIERRE-ALAIN"],
            Sex::Male,
            "2009-07-14",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.result, VerifyResult::Mismatch as i32);
    let get = |n: &str| r.comparisons.iter().find(|c| c.name == n).unwrap().clone();
    assert!(get("ins").note.contains("former INS"));
    assert_eq!(get("first_names").insi, "PIERRE-ALAIN MURIEL FLORIANT");
    assert_eq!(get("first_names").comparison, Comparison::Mismatch as i32);

    // Nobody with these traits.
    let r = c
        .verify_ins(verify(
            known("1930127000001", &key_of("1930127000001")),
            "HOUILLES",
            &["PIERRE"],
            Sex::Male,
            "1993-01-27",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.result, VerifyResult::NotFound as i32);
    assert!(r.comparisons.is_empty());
    sys.stop().await;
}

fn key_of(m: &str) -> String {
    passerelle_domain::Matricule::parse(m)
        .unwrap()
        .expected_key()
        .to_string()
}

async fn qualify_cases(bus: BusKind) {
    let sys = System::start(SystemOptions {
        bus,
        ..Default::default()
    })
    .await;
    let mut events = sys
        .bus
        .subscribe(subjects::EVENTS_IDENTITY_QUALIFIED)
        .await
        .unwrap();
    let mut c = sys.ins_client().await;

    let mut req = tonic::Request::new(qualify(
        None,
        "PAT-DOUZE",
        &["NATHALIE"],
        Sex::Female,
        "1948-03-21",
        passport(),
    ));
    req.metadata_mut()
        .insert("x-request-id", "qualify-1".parse().unwrap());
    let r = c.qualify_identity(req).await.expect("qualify").into_inner();
    assert_eq!(r.status, IdentityStatus::Qualifiee as i32, "{r:?}");
    assert!(r.actions.is_empty(), "{:?}", r.actions);
    assert_eq!(r.identity.unwrap().ins.unwrap().matricule, "2480392630010");
    // Qualified: the patient identity passes the one rule of a qualified INS.
    let patient = r.patient.expect("a patient identity when qualified");
    assert_eq!(patient.status, common::IdentityStatus::Qualifiee as i32);
    let checked = passerelle_service_kit::identity::patient_from_api(&patient).unwrap();
    assert!(
        passerelle_domain::QualifiedIns::try_new(&checked, passerelle_domain::Platform::Production)
            .is_ok()
    );
    let msg = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("IdentityQualified in time")
        .unwrap();
    let ev = IdentityQualified::decode(msg.payload).unwrap();
    assert_eq!(ev.request_id, "qualify-1");
    assert_eq!(ev.document_type, "PASSPORT");
    assert_eq!(ev.ins_hash.len(), 64);
    assert!(!format!("{ev:?}").contains("2480392630010"));

    // Without the document attestation: récupérée, and told what is missing.
    let r = c
        .qualify_identity(qualify(
            known("2480392630010", "64"),
            "PAT-DOUZE",
            &["NATHALIE"],
            Sex::Female,
            "1948-03-21",
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, IdentityStatus::Recuperee as i32);
    assert_eq!(r.actions[0].code, "CHECK_DOCUMENT");
    assert_eq!(
        r.patient.map(|p| p.status),
        Some(common::IdentityStatus::Recuperee as i32)
    );

    // A document that is not high-trust.
    let r = c
        .qualify_identity(qualify(
            None,
            "PAT-DOUZE",
            &["NATHALIE"],
            Sex::Female,
            "1948-03-21",
            document(DocumentType::DrivingLicence, "agent-1"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, IdentityStatus::Recuperee as i32);
    assert!(r.actions[0].message.contains("not high-trust"));

    // An attestation without who checked it is refused.
    let status = c
        .qualify_identity(qualify(
            None,
            "PAT-DOUZE",
            &["NATHALIE"],
            Sex::Female,
            "1948-03-21",
            document(DocumentType::Passport, " "),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        summarise(&status).field.as_deref(),
        Some("document.checked_by")
    );

    // Checked on a passport but unknown to INSi: validée, retrieve the INS.
    let r = c
        .qualify_identity(qualify(
            None,
            "HOUILLES",
            &["PIERRE"],
            Sex::Male,
            "1993-01-27",
            passport(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, IdentityStatus::Validee as i32);
    assert_eq!(r.actions[0].code, "RETRIEVE_INS");
    assert!(r.identity.is_none());
    assert!(r.patient.is_none());

    // Found, but the local first names are incomplete: not qualified until updated.
    let r = c
        .qualify_identity(qualify(
            None,
            "ECETINSI",
            &["PIERRE-ALAIN"],
            Sex::Male,
            "2009-07-14",
            passport(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.status, IdentityStatus::Validee as i32);
    let codes: Vec<&str> = r.actions.iter().map(|a| a.code.as_str()).collect();
    assert!(codes.contains(&"UPDATE_FIRST_NAMES"), "{codes:?}");
    assert!(
        r.patient.is_none(),
        "traits differ: the INS is not confirmed"
    );
    assert_eq!(
        r.identity.unwrap().first_names,
        vec!["PIERRE-ALAIN", "MURIEL", "FLORIANT"]
    );
    sys.stop().await;
}

async fn every_insi_call_is_audited(bus: BusKind) {
    let sys = System::start(SystemOptions {
        bus,
        ..Default::default()
    })
    .await;
    let mut audit = sys
        .bus
        .subscribe(subjects::EVENTS_AUDIT_INSI)
        .await
        .unwrap();
    let mut c = sys.ins_client().await;
    let mut req = tonic::Request::new(search(
        "HOUILLES",
        &["PIERRE", "PAUL", "JACQUES"],
        Sex::Male,
        "1993-01-27",
    ));
    req.metadata_mut()
        .insert("x-request-id", "audit-1".parse().unwrap());
    let r = c.search_by_traits(req).await.unwrap().into_inner();
    assert_eq!(r.tries.len(), 4);
    let mut seen = Vec::new();
    for _ in 0..4 {
        let msg = tokio::time::timeout(Duration::from_secs(10), audit.next())
            .await
            .expect("audit event")
            .unwrap();
        let text = String::from_utf8_lossy(&msg.payload).into_owned();
        for secret in ["HOUILLES", "PIERRE", "1993-01-27"] {
            assert!(!text.contains(secret), "{secret} in an audit event");
        }
        seen.push(InsiCallAudited::decode(msg.payload).unwrap());
    }
    assert!(seen.iter().all(|e| e.request_id == "audit-1"
        && e.operation == "rechercherInsAvecTraitsIdentite"
        && e.result_code == "01"
        && e.attempt == 1
        && e.actor.is_some()));
    let ids: std::collections::HashSet<&str> = seen.iter().map(|e| e.message_id.as_str()).collect();
    assert_eq!(ids.len(), 4, "a message id per call");

    let r = c
        .search_by_traits(search(
            "PAT-DOUZE",
            &["NATHALIE"],
            Sex::Female,
            "1948-03-21",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.result, SearchResult::Found as i32);
    let msg = tokio::time::timeout(Duration::from_secs(10), audit.next())
        .await
        .unwrap()
        .unwrap();
    let e = InsiCallAudited::decode(msg.payload).unwrap();
    assert_eq!(e.result_code, "00");
    assert_eq!(e.ins_hash.len(), 64);
    sys.stop().await;
}

passerelle_e2e::on_both_buses!(verify_cases, qualify_cases, every_insi_call_is_audited);

/// The tutorial's "click twice" defect: a transient failure is retried for the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_is_retried_transparently() {
    let sys = System::start(SystemOptions {
        // The 2nd request the sandbox receives has its connection closed.
        insi_fault: Some("close@2".parse().unwrap()),
        ..Default::default()
    })
    .await;
    let mut audit = sys
        .bus
        .subscribe(subjects::EVENTS_AUDIT_INSI)
        .await
        .unwrap();
    let mut c = sys.ins_client().await;
    for _ in 0..2 {
        let r = c
            .search_by_traits(search(
                "PAT-DOUZE",
                &["NATHALIE"],
                Sex::Female,
                "1948-03-21",
            ))
            .await
            .expect("answered without a second click")
            .into_inner();
        assert_eq!(r.result, SearchResult::Found as i32);
    }
    let mut attempts = Vec::new();
    for _ in 0..3 {
        let msg = tokio::time::timeout(Duration::from_secs(10), audit.next())
            .await
            .unwrap()
            .unwrap();
        let e = InsiCallAudited::decode(msg.payload).unwrap();
        attempts.push((e.attempt, e.result_code, !e.error.is_empty()));
    }
    // Records are acknowledged in the background: compare without their order.
    attempts.sort();
    assert_eq!(
        attempts,
        vec![
            (1, String::new(), true),
            (1, "00".into(), false),
            (2, "00".into(), false)
        ],
        "first search: one attempt; second: a failed attempt that says why, then a retry"
    );
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_budget_exhausted_is_a_clear_error() {
    let sys = System::start(SystemOptions {
        insi_fault: Some("http-503".parse().unwrap()),
        ..Default::default()
    })
    .await;
    let mut audit = sys
        .bus
        .subscribe(subjects::EVENTS_AUDIT_INSI)
        .await
        .unwrap();
    let mut c = sys.ins_client().await;
    let status = c
        .search_by_traits(search(
            "PAT-DOUZE",
            &["NATHALIE"],
            Sex::Female,
            "1948-03-21",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        summarise(&status).reason.as_deref(),
        Some("INSI_UNAVAILABLE")
    );
    let mut attempts = Vec::new();
    for _ in 1..=3 {
        let msg = tokio::time::timeout(Duration::from_secs(10), audit.next())
            .await
            .unwrap()
            .unwrap();
        attempts.push(InsiCallAudited::decode(msg.payload).unwrap().attempt);
    }
    attempts.sort();
    assert_eq!(attempts, vec![1, 2, 3]);
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_mid_strategy_ends_it_with_the_fault() {
    let sys = System::start(SystemOptions {
        insi_fault: Some(FaultInjection {
            trigger: FaultTrigger::EveryNth(2),
            kind: FaultKind::SoapFault {
                subcode: "siram_100".into(),
                code: "desir_550".into(),
                text: "Numéro d'autorisation du logiciel inconnu.".into(),
            },
        }),
        ..Default::default()
    })
    .await;
    let mut c = sys.ins_client().await;
    let status = c
        .search_by_traits(search(
            "TCHITCHI",
            &["OLA", "CATARINA", "BELLA"],
            Sex::Female,
            "1936-06-21",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(
        summarise(&status).upstream_code.as_deref(),
        Some("desir_550")
    );
    sys.stop().await;
}

/// On NATS, audit records are kept by JetStream: they are there after the fact, for whoever
/// reads the stream later (an auditor, a SIEM export).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_records_are_kept_by_jetstream() {
    let mut sys = System::start(SystemOptions {
        bus: BusKind::Nats,
        ..Default::default()
    })
    .await;
    let mut c = sys.ins_client().await;
    let r = c
        .search_by_traits(search(
            "HOUILLES",
            &["PIERRE", "PAUL"],
            Sex::Male,
            "1993-01-27",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.tries.len(), 3);
    // Keep the NATS server once the services are gone: stopping them waits for every
    // pending record to be acknowledged.
    let nats = sys.nats.take().unwrap();
    sys.stop().await;

    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(subjects::EVENTS_STREAM).await.unwrap();
    let info = stream.info().await.unwrap();
    let audited = info.state.messages;
    assert!(audited >= 3, "{audited} messages in the stream");
    let mut found = 0;
    for seq in 1..=info.state.last_sequence {
        if let Ok(m) = stream.get_raw_message(seq).await
            && m.subject.as_str() == subjects::EVENTS_AUDIT_INSI
        {
            let e = InsiCallAudited::decode(m.payload).unwrap();
            assert_eq!(e.result_code, "01");
            found += 1;
        }
    }
    assert_eq!(found, 3, "one record per INSi call");
}
