//! Bad input and failing upstreams (issue 11's list): each a clear gRPC status with its
//! reason, the field or rule at fault, the server's code — and nothing sent half-way.

use passerelle_bus::subjects;
use passerelle_bus::testing::BusKind;
use passerelle_proto::common::v1::IdentityStatus;
use passerelle_proto::events::v1::MssCallAudited;
use passerelle_proto::mss::v1::{Document, SendRequest};
use passerelle_sandbox::mss::{JEAN_FOUQUEREY, SECRETARIAT};
use tonic::Code;

use crate::support::{
    self, Fixture, PAT_DOUZE_MAILBOX, cps_actor, field, letter, metadata, note, org_actor,
    pat_douze, reason, upstream_code,
};

const UNKNOWN: &str = "nobody-here@passerelle-sandbox.mssante.fr";

fn assert_nothing_arrived(f: &Fixture) {
    for mailbox in [JEAN_FOUQUEREY, SECRETARIAT, PAT_DOUZE_MAILBOX] {
        assert!(
            f.mailbox(mailbox).is_empty(),
            "{mailbox}: {:?}",
            f.mailbox(mailbox)
        );
    }
}

/// The tutorial's letter to the doctor and the patient, with `document` adjusted.
async fn letter_request(f: &Fixture, edit: impl FnOnce(&mut Document)) -> SendRequest {
    let id = f.upload(&support::pdf(), "application/pdf").await;
    let mut document = letter(&id).unwrap();
    edit(&mut document);
    SendRequest {
        actor: org_actor(),
        patient: pat_douze(),
        to: vec![JEAN_FOUQUEREY.to_owned()],
        to_patient: true,
        subject: "Courrier standard".to_owned(),
        document: Some(document),
        idempotency_key: "bad-input".to_owned(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_address_is_named_by_its_field() {
    let f = support::start(BusKind::InProcess).await;
    let e = f
        .send(note(
            &["Dr Fouquerey <jean.fouquerey@passerelle-sandbox.mssante.fr>"],
            "k",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(reason(&e), "INVALID_ADDRESS");
    assert_eq!(field(&e), "to[0]");
    assert!(e.message().contains("display name"), "{}", e.message());

    let mut req = note(&[JEAN_FOUQUEREY], "k");
    req.cc = vec![SECRETARIAT.to_owned(), "jean.dupont@hopital".to_owned()];
    let e = f.send(req).await.unwrap_err();
    assert_eq!(reason(&e), "INVALID_ADDRESS");
    assert_eq!(field(&e), "cc[1]");
    assert_nothing_arrived(&f);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_citizen_message_without_a_qualified_ins() {
    let f = support::start(BusKind::InProcess).await;
    let mut req = letter_request(&f, |_| {}).await;
    req.patient.as_mut().unwrap().status = IdentityStatus::Provisoire as i32;
    let e = f.send(req).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(reason(&e), "INS_NOT_QUALIFIED");
    assert_eq!(metadata(&e, "rule"), "PAT.INS_NOT_QUALIFIED");
    assert!(e.message().contains("qualif"), "{}", e.message());
    assert_nothing_arrived(&f);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_hidden_from_the_patient_does_not_go_to_her() {
    let f = support::start(BusKind::InProcess).await;
    let req = letter_request(&f, |d| d.hide_from_patient = true).await;
    let e = f.send(req).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(reason(&e), "MSS_RULE_REFUSED");
    let rule = metadata(&e, "rule");
    assert!(
        rule.starts_with('M') && rule.ends_with(".INVISIBLE_PATIENT"),
        "{rule}"
    );
    assert!(e.message().contains("INVISIBLE_PATIENT"), "{}", e.message());
    assert_nothing_arrived(&f);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_recipient_is_rule_m0() {
    let f = support::start(BusKind::InProcess).await;
    let e = f.send(note(&[], "k")).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(reason(&e), "MSS_RULE_REFUSED");
    assert!(metadata(&e, "rule").starts_with("M0"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_over_the_limit_is_refused() {
    let f = support::start_with(
        BusKind::InProcess,
        |_| {},
        |s, _| s.document.max_size = 1024,
    )
    .await;
    let mut big = support::pdf();
    big.resize(4096, b' ');
    let id = f.upload(&big, "application/pdf").await;
    let req = SendRequest {
        document: letter(&id),
        ..letter_request(&f, |_| {}).await
    };
    let e = f.send(req).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(reason(&e), "INVALID_DOCUMENT");
    assert_eq!(field(&e), "document.document_id");
    assert!(e.message().contains("1024"), "{}", e.message());
    assert_nothing_arrived(&f);
}

/// An unknown mailbox among valid ones: the server's 550 5.1.1, and none of the valid
/// recipients got the message (all or nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_refused_by_the_server_stops_the_whole_message() {
    let f = support::start(BusKind::InProcess).await;
    let mut audits = f.subscribe(subjects::EVENTS_AUDIT_MSS).await;
    let e = f
        .send(note(&[JEAN_FOUQUEREY, UNKNOWN, SECRETARIAT], "k"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(reason(&e), "SMTP_REFUSED");
    assert_eq!(upstream_code(&e), "550 5.1.1");
    assert!(e.message().contains("nothing was sent"), "{}", e.message());
    assert_nothing_arrived(&f);
    let record: MssCallAudited = support::next(&mut audits).await;
    assert_eq!((record.recipients, record.refused), (3, 1));
    assert_eq!(record.error, "550 5.1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_from_another_ca_is_a_tls_error() {
    let f = support::start_with(
        BusKind::InProcess,
        |_| {},
        |s, _| s.mss.smtp.tls.trusted_ca = vec![support::other_pki().ca_cert.clone()],
    )
    .await;
    let e = f.send(note(&[JEAN_FOUQUEREY], "k")).await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable);
    assert_eq!(reason(&e), "SMTP_TLS");
    assert_nothing_arrived(&f);
}

/// The card read, then unable to sign in the TLS handshake (its PIN not entered on the
/// workstation): the card's reason, nothing sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_that_cannot_sign_the_handshake_sends_nothing() {
    let f = support::start(BusKind::InProcess).await;
    let shutdown = passerelle_service_kit::Shutdown::new();
    let _locked = support::workstation(f.bus.clone(), shutdown.clone(), "locked-ws", false).await;
    let mut req = note(&[JEAN_FOUQUEREY], "k");
    req.actor = cps_actor("locked-ws");
    let e = f.send(req).await.unwrap_err();
    assert_eq!(reason(&e), "CPS_PIN_REQUIRED", "{e:?}");
    assert_nothing_arrived(&f);
    shutdown.trigger();
}

/// The workstation's card-agent stopped: no card to send with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_card_agent_sends_nothing() {
    let mut f = support::start(BusKind::InProcess).await;
    f.card_shutdown.trigger();
    f.card.take().unwrap().wait().await.unwrap();
    let mut req = note(&[JEAN_FOUQUEREY], "k");
    req.actor = cps_actor(support::WORKSTATION);
    let e = f.send(req).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(reason(&e), "CPS_MODE_UNAVAILABLE", "{e:?}");
    assert_nothing_arrived(&f);
}

/// A temporary refusal (`rcpt-450`, `data-451` on every second try): SMTP_UNAVAILABLE with
/// the server's code, nothing delivered; the same request again goes through, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_refusal_is_unavailable_and_a_retry_goes_through() {
    for (fault, code) in [("rcpt-450@2", "450 4.2.1"), ("data-451@2", "451 4.3.0")] {
        let f = support::start_with(
            BusKind::InProcess,
            |s| s.faults = vec![fault.parse().unwrap()],
            |_, _| {},
        )
        .await;
        let first = f
            .send(note(&[JEAN_FOUQUEREY], "first"))
            .await
            .expect("the first try of the server's counter passes");
        let e = f.send(note(&[JEAN_FOUQUEREY], "second")).await.unwrap_err();
        assert_eq!(e.code(), Code::Unavailable, "{fault}: {e:?}");
        assert_eq!(reason(&e), "SMTP_UNAVAILABLE", "{fault}: {e:?}");
        assert_eq!(upstream_code(&e), code, "{fault}");
        assert_eq!(
            f.mailbox(JEAN_FOUQUEREY).len(),
            1,
            "{fault}: only the first"
        );

        let retried = f
            .send(note(&[JEAN_FOUQUEREY], "second"))
            .await
            .expect("the retry goes through");
        let stored: Vec<String> = f
            .mailbox(JEAN_FOUQUEREY)
            .into_iter()
            .map(|m| m.message_id)
            .collect();
        assert_eq!(
            stored,
            [
                first.messages[0].message_id.clone(),
                retried.messages[0].message_id.clone()
            ],
            "{fault}"
        );
    }
}

/// The professionals' message went, the patient's was refused for now (`data-451` on the
/// second message): PARTLY_SENT names the message that went; the rest sent again with the
/// same key goes under the Message-ID it would have had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_message_refused_after_the_professionals_one_is_partly_sent() {
    let f = support::start_with(
        BusKind::InProcess,
        |s| s.faults = vec!["data-451@2".parse().unwrap()],
        |_, _| {},
    )
    .await;
    let req = letter_request(&f, |_| {}).await;
    let preview = f
        .client()
        .await
        .preview(req.clone())
        .await
        .unwrap()
        .into_inner();
    let e = f.send(req.clone()).await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    assert_eq!(reason(&e), "PARTLY_SENT", "{e:?}");
    assert_eq!(upstream_code(&e), "451 4.3.0");
    let went = f.mailbox(JEAN_FOUQUEREY);
    assert_eq!(went.len(), 1);
    assert_eq!(went[0].message_id, preview.messages[0].message_id);
    assert_eq!(metadata(&e, "sent_message_id"), went[0].message_id);
    assert!(f.mailbox(PAT_DOUZE_MAILBOX).is_empty());

    // The patient's message alone (row M3), same key: the third DATA passes.
    let rest = SendRequest {
        to: Vec::new(),
        ..req
    };
    let answer = f.send(rest).await.expect("the patient's message goes");
    assert_eq!(answer.rule, "M3");
    let patient = f.mailbox(PAT_DOUZE_MAILBOX);
    assert_eq!(patient.len(), 1);
    assert_eq!(patient[0].message_id, answer.messages[0].message_id);
    assert_eq!(patient[0].message_id, preview.messages[1].message_id);
    assert_eq!(f.mailbox(JEAN_FOUQUEREY).len(), 1, "the doctor's once");
}
