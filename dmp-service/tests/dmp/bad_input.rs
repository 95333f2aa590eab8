//! Bad input and failing upstreams: each a clear gRPC status with its reason (and the DMP's or
//! XDS's own code), nothing deposited half-way.

use passerelle_bus::testing::BusKind;
use passerelle_proto::common::v1::{Actor, CpsMode, IdentityStatus, actor};
use passerelle_proto::dmp::v1::{
    Access, AccessMode, DepositOptions, DepositRequest, GetDocumentRequest, GetStatusRequest,
    ListDocumentsRequest,
};
use passerelle_service_kit::errors::summarise;
use tonic::Code;

use crate::support::{self, Fixture, access, access_in, pat_douze, patient};

/// CNAM test patients of the sandbox: no DMP, closed DMP.
const NOT_CREATED: (&str, &str) = ("1530789876585", "13");
const CLOSED: (&str, &str) = ("2281114390617", "74");

fn reason(s: &tonic::Status) -> String {
    summarise(s).reason.unwrap_or_default()
}

async fn deposit_with(
    f: &Fixture,
    access: Option<Access>,
    patient: Option<passerelle_proto::common::v1::PatientIdentity>,
) -> Result<(), tonic::Status> {
    let id = f.upload(&support::pdf(), "application/pdf").await;
    f.client()
        .await
        .deposit(DepositRequest {
            access,
            patient,
            document_id: id,
            options: Some(DepositOptions {
                title: "Courrier standard".to_owned(),
                type_code: "11490-0".to_owned(),
                ..Default::default()
            }),
            more: Vec::new(),
        })
        .await
        .map(|_| ())
}

async fn documents_of(f: &Fixture) -> usize {
    f.client()
        .await
        .list_documents(ListDocumentsRequest {
            access: support::cps_access_in(AccessMode::BrisDeGlace, "test: count what is there"),
            patient: pat_douze(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().documents.len())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_ins_is_refused_before_any_call() {
    let f = support::start(BusKind::InProcess).await;
    let e = f
        .client()
        .await
        .get_status(GetStatusRequest {
            access: access(),
            patient: patient("2480392630010", "65"),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(reason(&e), "INVALID_PATIENT");
    assert_eq!(summarise(&e).field.as_deref(), Some("patient.key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unqualified_ins_cannot_be_deposited_on() {
    let f = support::start(BusKind::InProcess).await;
    let before = documents_of(&f).await;
    let mut p = pat_douze().unwrap();
    p.status = IdentityStatus::Recuperee as i32;
    let e = deposit_with(&f, access(), Some(p)).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(reason(&e), "INS_NOT_QUALIFIED");
    assert!(e.message().contains("qualif"), "{}", e.message());
    assert_eq!(documents_of(&f).await, before, "nothing deposited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bris_de_glace_needs_a_reason() {
    let f = support::start(BusKind::InProcess).await;
    for mode in [AccessMode::BrisDeGlace, AccessMode::Centre15] {
        let e = f
            .client()
            .await
            .list_documents(ListDocumentsRequest {
                access: access_in(mode, "  "),
                patient: pat_douze(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{mode:?}");
        assert_eq!(reason(&e), "REASON_REQUIRED");
        assert_eq!(summarise(&e).field.as_deref(), Some("access.reason"));
    }
    // With a reason, the emergency access goes through.
    f.client()
        .await
        .list_documents(ListDocumentsRequest {
            access: support::cps_access_in(AccessMode::BrisDeGlace, "patient unconscious in A&E"),
            patient: pat_douze(),
            ..Default::default()
        })
        .await
        .expect("bris de glace with a reason");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_dmp_and_a_closed_dmp_are_said() {
    let f = support::start(BusKind::InProcess).await;
    let mut c = f.client().await;
    let none = c
        .get_status(GetStatusRequest {
            access: access(),
            patient: patient(NOT_CREATED.0, NOT_CREATED.1),
        })
        .await
        .expect("TD0.2 answers for a patient without DMP")
        .into_inner();
    assert_eq!(
        none.state,
        passerelle_proto::dmp::v1::DmpState::NotCreated as i32
    );
    let closed = c
        .get_status(GetStatusRequest {
            access: access(),
            patient: patient(CLOSED.0, CLOSED.1),
        })
        .await
        .expect("TD0.2 answers for a closed DMP")
        .into_inner();
    assert_eq!(
        closed.state,
        passerelle_proto::dmp::v1::DmpState::Closed as i32
    );

    for (who, expected) in [(NOT_CREATED, "DMP_NOT_FOUND"), (CLOSED, "DMP_CLOSED")] {
        let e = deposit_with(&f, access(), patient(who.0, who.1))
            .await
            .unwrap_err();
        assert_eq!(reason(&e), expected, "{e:?}");
        assert!(
            summarise(&e).upstream_code.is_some(),
            "the DMP's code: {e:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_professional_not_authorised_cannot_read() {
    let f = support::start(BusKind::InProcess).await;
    let e = f
        .client()
        .await
        .list_documents(ListDocumentsRequest {
            access: support::cps_access(),
            patient: pat_douze(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert_eq!(reason(&e), "DMP_ACCESS_DENIED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_document_is_not_found() {
    let f = support::start(BusKind::InProcess).await;
    let e = f
        .client()
        .await
        .get_document(GetDocumentRequest {
            access: support::cps_access_in(AccessMode::BrisDeGlace, "test"),
            patient: pat_douze(),
            unique_id: "2.25.1234".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    assert_eq!(reason(&e), "DOCUMENT_NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_we_do_not_trust_is_a_tls_failure() {
    let other = tempfile::tempdir().unwrap();
    let other_pki = passerelle_sandbox::pki::TestPki::ensure(other.path()).unwrap();
    let f = support::start_with(BusKind::InProcess, |s| {
        s.dmp.tls.trusted_ca = vec![other_pki.ca_cert.clone()];
    })
    .await;
    let e = f
        .client()
        .await
        .get_status(GetStatusRequest {
            access: access(),
            patient: pat_douze(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unavailable);
    assert_eq!(reason(&e), "DMP_TLS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cps_mode_without_the_workstations_agent_says_so() {
    let f = support::start(BusKind::InProcess).await;
    let e = f
        .client()
        .await
        .get_status(GetStatusRequest {
            access: Some(Access {
                actor: Some(Actor {
                    mode: Some(actor::Mode::Cps(CpsMode {
                        workstation_id: "nobody-here".to_owned(),
                    })),
                    professional: None,
                }),
                mode: AccessMode::Normal as i32,
                reason: String::new(),
            }),
            patient: pat_douze(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(reason(&e), "CPS_MODE_UNAVAILABLE");
}

/// The DMP failing: an answer that is not SOAP, a SOAP fault, no answer at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_dmp_is_told_apart() {
    for (fault, code, expected) in [
        ("garbage", Code::Unavailable, "DMP_BAD_RESPONSE"),
        ("technical", Code::FailedPrecondition, "DMP_FAULT"),
        ("http-503", Code::Unavailable, "DMP_UNAVAILABLE"),
    ] {
        let f = support::start_with_sandbox(
            BusKind::InProcess,
            |s| s.fault_injection = Some(fault.parse().unwrap()),
            |_| {},
        )
        .await;
        let e = f
            .client()
            .await
            .get_status(GetStatusRequest {
                access: access(),
                patient: pat_douze(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{fault}: {e:?}");
        assert_eq!(reason(&e), expected, "{fault}: {e:?}");
        if expected == "DMP_FAULT" {
            assert!(
                summarise(&e).upstream_code.is_some(),
                "the fault's code: {e:?}"
            );
        }
    }
}

/// The card cannot sign once read (its PIN not entered on the workstation): the card's
/// error, said as what to do, and nothing deposited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_that_cannot_sign_is_the_cards_error() {
    let f = support::start(BusKind::InProcess).await;
    let shutdown = passerelle_service_kit::Shutdown::new();
    let _locked =
        support::workstation(&f.pki, f.bus.clone(), shutdown.clone(), "locked-ws", false).await;
    let before = documents_of(&f).await;
    let e = deposit_with(
        &f,
        support::cps_access_on("locked-ws", AccessMode::Normal, ""),
        pat_douze(),
    )
    .await
    .unwrap_err();
    assert_eq!(reason(&e), "CPS_PIN_REQUIRED", "{e:?}");
    assert_eq!(documents_of(&f).await, before, "nothing deposited");
    shutdown.trigger();
}
