//! End to end: gRPC → ins-service → bus → worker → INSi sandbox (mutual TLS, SOAP), on the
//! in-process bus and on a NATS server started for the test. Every case runs on both.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::StreamExt;
use passerelle_e2e::{BusKind, System, SystemOptions, search};
use passerelle_proto::common::v1::{
    Actor, CpsMode, IdentityStatus, Professional, ProfessionalIdType, actor,
};
use passerelle_proto::ins::v1::{
    CheckMatriculeRequest, SearchResponse, SearchResult, Sex, ins_service_client::InsServiceClient,
};
use passerelle_service_kit::errors::summarise;
use tonic::Code;

async fn system(bus: BusKind) -> System {
    System::start(SystemOptions {
        bus,
        ..Default::default()
    })
    .await
}

fn ins_of(r: &SearchResponse) -> (String, String, String, bool) {
    let i = r
        .identity
        .as_ref()
        .and_then(|i| i.ins.clone())
        .expect("an INS");
    (i.matricule, i.key, i.oid, i.key_valid)
}

async fn tutorial_patient_is_found(bus: BusKind) {
    let sys = system(bus).await;
    let mut client = sys.ins_client().await;
    let mut req = tonic::Request::new(search(
        "PAT-DOUZE",
        &["NATHALIE"],
        Sex::Female,
        "1948-03-21",
    ));
    req.metadata_mut()
        .insert("x-request-id", "e2e-tutorial-1".parse().unwrap());
    let resp = client.search_by_traits(req).await.expect("search");
    assert_eq!(
        resp.metadata().get("x-request-id").unwrap(),
        "e2e-tutorial-1",
        "request id echoed"
    );
    let r = resp.into_inner();
    assert_eq!(r.result, SearchResult::Found as i32);
    assert_eq!(r.request_id, "e2e-tutorial-1");
    assert_eq!(
        ins_of(&r),
        (
            "2480392630010".into(),
            "64".into(),
            "1.2.250.1.213.1.4.8".into(),
            true
        )
    );
    // The patient identity the answer gives: INSi's INS and traits, INS retrieved.
    let patient = r.patient.clone().expect("a patient identity");
    assert_eq!(
        (
            patient.matricule.as_str(),
            patient.key.as_str(),
            patient.oid.as_str(),
            patient.birth_name.as_str()
        ),
        ("2480392630010", "64", "1.2.250.1.213.1.4.8", "PAT-DOUZE")
    );
    assert_eq!(patient.status, IdentityStatus::Recuperee as i32);
    let id = r.identity.unwrap();
    assert_eq!(id.birth_name, "PAT-DOUZE");
    assert_eq!(id.first_names, vec!["NATHALIE"]);
    assert_eq!(id.sex, Sex::Female as i32);
    assert_eq!(id.birth_date, "1948-03-21");
    assert_eq!(r.tries.len(), 1);
    assert!(r.tries[0].matched);
    sys.stop().await;
}

async fn second_first_name_matches(bus: BusKind) {
    let sys = system(bus).await;
    let mut client = sys.ins_client().await;
    let r = client
        .search_by_traits(search(
            "TCHITCHI",
            &["OLA", "CATARINA", "BELLA"],
            Sex::Female,
            "1936-06-21",
        ))
        .await
        .expect("search")
        .into_inner();
    assert_eq!(r.result, SearchResult::Found as i32);
    let tries: Vec<(Vec<String>, String, bool)> = r
        .tries
        .iter()
        .map(|t| (t.first_names_sent.clone(), t.code.clone(), t.matched))
        .collect();
    assert_eq!(
        tries,
        vec![
            (vec!["OLA".to_owned()], "01".to_owned(), false),
            (vec!["CATARINA".to_owned()], "00".to_owned(), true),
        ]
    );
    assert_eq!(ins_of(&r).0, "2360663220836");
    assert_eq!(
        r.identity.unwrap().first_names,
        vec!["CATARINA", "BELLA"],
        "ListePrenom as INSi returns it"
    );
    sys.stop().await;
}

async fn unknown_person_tries_every_first_name_then_all(bus: BusKind) {
    let sys = system(bus).await;
    let mut client = sys.ins_client().await;
    let r = client
        .search_by_traits(search(
            "HOUILLES",
            &["PIERRE", "PAUL", "JACQUES"],
            Sex::Male,
            "1993-01-27",
        ))
        .await
        .expect("search")
        .into_inner();
    assert_eq!(r.result, SearchResult::NotFound as i32);
    let sent: Vec<String> = r
        .tries
        .iter()
        .map(|t| t.first_names_sent.join(" "))
        .collect();
    assert_eq!(
        sent,
        vec!["PIERRE", "PAUL", "JACQUES", "PIERRE PAUL JACQUES"]
    );
    assert!(r.tries.iter().all(|t| t.code == "01" && !t.matched));
    assert!(r.identity.is_none());
    assert_eq!(
        r.diagnostics.last().map(|d| d.code.as_str()),
        Some("UNKNOWN_TO_ASSURANCE_MALADIE")
    );
    sys.stop().await;
}

async fn several_identities(bus: BusKind) {
    let sys = system(bus).await;
    let mut client = sys.ins_client().await;
    let r = client
        .search_by_traits(search("DE VINCI", &["LEONARDO"], Sex::Male, "2014-02-01"))
        .await
        .expect("search")
        .into_inner();
    assert_eq!(r.result, SearchResult::Multiple as i32);
    assert_eq!(r.tries[0].code, "02");
    assert!(r.identity.is_none());
    assert!(r.patient.is_none(), "no INS found, no patient identity");
    assert!(r.diagnostics.iter().any(|d| d.code == "SEVERAL_IDENTITIES"));
    sys.stop().await;
}

async fn service_key_mismatch_is_kept_and_flagged(bus: BusKind) {
    let sys = system(bus).await;
    let mut client = sys.ins_client().await;
    let r = client
        .search_by_traits(search("HERMANN", &["GATIEN"], Sex::Male, "1981-03-24"))
        .await
        .expect("search")
        .into_inner();
    assert_eq!(r.result, SearchResult::Found as i32);
    let (m, k, _, valid) = ins_of(&r);
    assert_eq!(
        (m.as_str(), k.as_str(), valid),
        ("1810363220456", "60", false)
    );
    sys.stop().await;
}

async fn typed_input_is_normalised_and_shown(bus: BusKind) {
    let sys = system(bus).await;
    let mut client = sys.ins_client().await;
    let r = client
        .search_by_traits(search(
            " pat - douze ",
            &["Nathalie"],
            Sex::Female,
            "1948-03-21",
        ))
        .await
        .expect("search")
        .into_inner();
    assert_eq!(r.result, SearchResult::Found as i32);
    let n = r
        .normalisations
        .iter()
        .find(|n| n.field == "birth_name")
        .expect("birth name normalisation shown");
    assert_eq!(n.original, " pat - douze ");
    assert_eq!(n.normalised, "PAT-DOUZE");
    assert!(n.changes.iter().any(|c| c.contains("upper case")));
    assert!(r.normalisations.iter().any(|n| n.field == "first_names"));
    sys.stop().await;
}

async fn bad_input_gets_a_clear_error(bus: BusKind) {
    let sys = system(bus).await;
    let mut client = sys.ins_client().await;
    let cases = vec![
        (
            search("DUPONT", &["JEAN"], Sex::Unspecified, "1948-03-21"),
            "traits.sex",
        ),
        (
            search("DUPONT", &["JEAN"], Sex::Male, "21-03-1948"),
            "traits.birth_date",
        ),
        (
            search("DUPONT", &["JEAN"], Sex::Male, "1948-13-01"),
            "traits.birth_date",
        ),
        (
            search("DUPONT", &[""], Sex::Male, "1948-03-01"),
            "traits.first_names",
        ),
        (
            search("DUPONT", &[], Sex::Male, "1948-03-01"),
            "traits.first_names",
        ),
        (
            search("DUP0NT", &["JEAN"], Sex::Male, "1948-03-01"),
            "traits.birth_name",
        ),
        (
            search("", &["JEAN"], Sex::Male, "1948-03-01"),
            "traits.birth_name",
        ),
    ];
    for (req, field) in cases {
        let status = client.search_by_traits(req).await.expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        let s = summarise(&status);
        assert_eq!(s.reason.as_deref(), Some("INVALID_TRAITS"), "{field}");
        assert_eq!(s.field.as_deref(), Some(field));
        assert!(!status.message().is_empty());
    }

    let mut no_actor = search("DUPONT", &["JEAN"], Sex::Male, "1948-03-01");
    no_actor.actor = None;
    let status = client.search_by_traits(no_actor).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(summarise(&status).reason.as_deref(), Some("MISSING_ACTOR"));

    // A professional named by the actor is checked field by field (here: an RPPS whose
    // Luhn check digit is wrong).
    let mut bad_professional = search("DUPONT", &["JEAN"], Sex::Male, "1948-03-01");
    if let Some(a) = bad_professional.actor.as_mut() {
        a.professional = Some(Professional {
            id_type: ProfessionalIdType::Rpps as i32,
            id: "10001234567".into(),
            family_name: "MEDECIN".into(),
            given_name: "PAUL".into(),
            profession: "10".into(),
            specialty: "SM54".into(),
            structure: None,
            activity_sector: String::new(),
        });
    }
    let status = client.search_by_traits(bad_professional).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let s = summarise(&status);
    assert_eq!(s.reason.as_deref(), Some("INVALID_ACTOR"));
    assert_eq!(s.field.as_deref(), Some("actor.professional.id"));
    assert!(status.message().contains("check digit"), "{status:?}");

    let mut bad_ws = search("DUPONT", &["JEAN"], Sex::Male, "1948-03-01");
    bad_ws.actor = Some(Actor {
        mode: Some(actor::Mode::Cps(CpsMode {
            workstation_id: "ward.3 >".into(),
        })),
        professional: None,
    });
    let status = client.search_by_traits(bad_ws).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        summarise(&status).reason.as_deref(),
        Some("INVALID_WORKSTATION")
    );

    let mut cps = search("PAT-DOUZE", &["NATHALIE"], Sex::Female, "1948-03-21");
    cps.actor = Some(Actor {
        mode: Some(actor::Mode::Cps(CpsMode {
            workstation_id: "ward-3".into(),
        })),
        professional: None,
    });
    let status = client.search_by_traits(cps).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        summarise(&status).reason.as_deref(),
        Some("CPS_MODE_UNAVAILABLE")
    );

    let status = client
        .check_matricule(CheckMatriculeRequest {
            matricule: "24803926300".into(),
            key: "64".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(summarise(&status).field.as_deref(), Some("matricule"));
    let wrong_key = client
        .check_matricule(CheckMatriculeRequest {
            matricule: "2480392630010".into(),
            key: "46".into(),
        })
        .await
        .expect("business answer")
        .into_inner();
    assert!(!wrong_key.valid);
    assert_eq!(wrong_key.expected_key, "64");
    sys.stop().await;
}

async fn insi_down_is_unavailable(bus: BusKind) {
    let mut sys = system(bus).await;
    sys.stop_insi().await;
    let mut client = sys.ins_client().await;
    let status = client
        .search_by_traits(search(
            "PAT-DOUZE",
            &["NATHALIE"],
            Sex::Female,
            "1948-03-21",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        summarise(&status).reason.as_deref(),
        Some("INSI_UNAVAILABLE")
    );
    sys.stop().await;
}

async fn events_tell_what_happened(bus: BusKind) {
    let sys = system(bus).await;
    let mut events = sys
        .bus
        .subscribe(passerelle_bus::subjects::EVENTS_INS_SEARCHED)
        .await
        .expect("subscribe");
    let mut client = sys.ins_client().await;
    let mut req = tonic::Request::new(search(
        "PAT-DOUZE",
        &["NATHALIE"],
        Sex::Female,
        "1948-03-21",
    ));
    req.metadata_mut()
        .insert("x-request-id", "e2e-event-1".parse().unwrap());
    client.search_by_traits(req).await.expect("search");
    let msg = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event in time")
        .expect("an event");
    let ev = <passerelle_proto::events::v1::InsSearched as prost::Message>::decode(msg.payload)
        .expect("InsSearched");
    assert_eq!(ev.request_id, "e2e-event-1");
    assert_eq!(ev.result, "FOUND");
    assert_eq!(ev.upstream_code, "00");
    assert_eq!(ev.tries, 1);
    // No traits in events: only codes and ids.
    let text = format!("{ev:?}");
    assert!(!text.contains("PAT-DOUZE") && !text.contains("2480392630010"));
    sys.stop().await;
}

passerelle_e2e::on_both_buses!(
    tutorial_patient_is_found,
    second_first_name_matches,
    unknown_person_tries_every_first_name_then_all,
    several_identities,
    service_key_mismatch_is_kept_and_flagged,
    typed_input_is_normalised_and_shown,
    bad_input_gets_a_clear_error,
    insi_down_is_unavailable,
    events_tell_what_happened,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_nats_share_the_load() {
    let sys = System::start(SystemOptions {
        bus: BusKind::Nats,
        replicas: 2,
        ..Default::default()
    })
    .await;
    let mut handles = Vec::new();
    for i in 0..40 {
        // Calls enter through both gRPC faces; the bus decides which worker serves.
        let endpoint = sys.ins_endpoint(i % 2);
        handles.push(tokio::spawn(async move {
            let mut c = InsServiceClient::connect(endpoint).await.expect("connect");
            c.search_by_traits(search(
                "PAT-DOUZE",
                &["NATHALIE"],
                Sex::Female,
                "1948-03-21",
            ))
            .await
            .expect("search")
            .into_inner()
            .result
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), SearchResult::Found as i32);
    }
    let served: Vec<u64> = sys.replicas.iter().map(|r| r.served()).collect();
    assert_eq!(served.iter().sum::<u64>(), 40, "{served:?}");
    assert!(
        served.iter().all(|&n| n >= 5),
        "each replica serves a share: {served:?}"
    );
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insi_fault_reaches_the_caller_with_its_codes() {
    let sys = System::start(SystemOptions {
        accepted_idams: vec!["ANOTHER-SOFTWARE".into()],
        ..Default::default()
    })
    .await;
    let mut client = sys.ins_client().await;
    let status = client
        .search_by_traits(search(
            "PAT-DOUZE",
            &["NATHALIE"],
            Sex::Female,
            "1948-03-21",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let s = summarise(&status);
    assert_eq!(s.reason.as_deref(), Some("INSI_FAULT"));
    assert_eq!(s.upstream_code.as_deref(), Some("desir_550"));
    assert!(
        status.message().contains("siram_100"),
        "{}",
        status.message()
    );
    sys.stop().await;
}

/// A replica whose INSi client is configured by `edit`; its search must fail with `reason`.
async fn misconfigured_tls_fails_with(
    edit: impl FnOnce(
        &passerelle_sandbox::pki::TestPki,
        &mut passerelle_e2e::InsConfig,
        &std::path::Path,
    ),
    reason: &str,
) {
    let mut sys = System::start(SystemOptions {
        replicas: 0,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = passerelle_e2e::ins_config(&sys.pki, sys.insi_url());
    edit(&sys.pki, &mut cfg, dir.path());
    let r = sys.add_replica(cfg).await;
    let mut client = InsServiceClient::connect(sys.ins_endpoint(r))
        .await
        .unwrap();
    let status = client
        .search_by_traits(search(
            "PAT-DOUZE",
            &["NATHALIE"],
            Sex::Female,
            "1948-03-21",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        summarise(&status).reason.as_deref(),
        Some(reason),
        "{status:?}"
    );
    sys.stop().await;
}

fn write_pair(
    dir: &std::path::Path,
    (cert, key): (String, String),
) -> ins_service::insi::ClientIdentity {
    std::fs::write(dir.join("c.crt"), cert).unwrap();
    std::fs::write(dir.join("c.key"), key).unwrap();
    ins_service::insi::ClientIdentity::Pem {
        cert: dir.join("c.crt"),
        key: dir.join("c.key"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_organisation_certificate_is_a_tls_error() {
    misconfigured_tls_fails_with(
        |pki, cfg, dir| {
            let now = time::OffsetDateTime::now_utc();
            let pair = pki
                .issue_client_cert(
                    "INSI-AUTO",
                    now - time::Duration::days(400),
                    now - time::Duration::days(30),
                )
                .unwrap();
            cfg.ins.insi.tls.identity = write_pair(dir, pair);
        },
        "INSI_TLS",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_from_an_unknown_ca_is_a_tls_error() {
    misconfigured_tls_fails_with(
        |_, cfg, dir| {
            let pair =
                passerelle_sandbox::pki::TestPki::foreign_ca_client_cert("INSI-AUTO").unwrap();
            cfg.ins.insi.tls.identity = write_pair(dir, pair);
        },
        "INSI_TLS",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_not_trusted_is_a_tls_error() {
    misconfigured_tls_fails_with(
        |_, cfg, dir| {
            // Trust some other CA only: the sandbox's server certificate must be refused.
            let (cert, _) =
                passerelle_sandbox::pki::TestPki::foreign_ca_client_cert("OTHER").unwrap();
            std::fs::write(dir.join("other-ca.crt"), cert).unwrap();
            cfg.ins.insi.tls.trusted_ca = vec![dir.join("other-ca.crt")];
        },
        "INSI_TLS",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisation_certificate_as_pkcs12_works_end_to_end() {
    let mut sys = System::start(SystemOptions {
        replicas: 0,
        ..Default::default()
    })
    .await;
    let mut cfg = passerelle_e2e::ins_config(&sys.pki, sys.insi_url());
    cfg.ins.insi.tls.identity = ins_service::insi::ClientIdentity::Pkcs12 {
        path: sys.pki.org_p12.clone(),
        password: passerelle_sandbox::pki::ORG_P12_PASSWORD.to_owned(),
    };
    let r = sys.add_replica(cfg).await;
    let mut client = InsServiceClient::connect(sys.ins_endpoint(r))
        .await
        .unwrap();
    let resp = client
        .search_by_traits(search(
            "PAT-DOUZE",
            &["NATHALIE"],
            Sex::Female,
            "1948-03-21",
        ))
        .await
        .expect("search with the PKCS#12 identity")
        .into_inner();
    assert_eq!(resp.result, SearchResult::Found as i32);
    sys.stop().await;
}

/// What a caller sees when INSi misbehaves (sandbox fault injection).
async fn injected_fault_gives(fault: &str, code: Code, reason: &str, upstream: Option<&str>) {
    let sys = System::start(SystemOptions {
        insi_fault: Some(fault.parse().unwrap()),
        ..Default::default()
    })
    .await;
    let mut client = sys.ins_client().await;
    let status = client
        .search_by_traits(search(
            "PAT-DOUZE",
            &["NATHALIE"],
            Sex::Female,
            "1948-03-21",
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), code, "{fault}: {status:?}");
    let s = summarise(&status);
    assert_eq!(s.reason.as_deref(), Some(reason), "{fault}");
    assert_eq!(s.upstream_code.as_deref(), upstream, "{fault}");
    sys.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_insi_failures_are_told_apart() {
    injected_fault_gives(
        "unavailable",
        Code::Unavailable,
        "INSI_FAULT",
        Some("desir_1020"),
    )
    .await;
    injected_fault_gives(
        "technical",
        Code::Unavailable,
        "INSI_FAULT",
        Some("insi_102"),
    )
    .await;
    injected_fault_gives("http-503", Code::Unavailable, "INSI_UNAVAILABLE", None).await;
    injected_fault_gives("garbage", Code::Unavailable, "INSI_BAD_RESPONSE", None).await;
    injected_fault_gives("close", Code::Unavailable, "INSI_UNAVAILABLE", None).await;
}
