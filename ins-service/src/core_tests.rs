//! The service core through a scripted INSi: no network, no bus, milliseconds. The
//! end-to-end suites (tests/) run the same behaviour through gRPC, the bus and the sandbox.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use passerelle_domain::{Ins, InsOid, LunarDate, Sex};
use passerelle_proto::common::v1::{Actor, CpsMode, OrganisationMode, actor};
use passerelle_proto::ins::v1 as api;
use passerelle_service_kit::RequestId;
use passerelle_soap::SoapFault;

use crate::audit::{AuditSettings, InsHasher};
use crate::errors::InsServiceError;
use crate::insi::{
    CallContext, CrCode, Individual, InsiAnswer, InsiError, ReturnedTraits, TraitsQuery,
    VitaleQuery,
};
use crate::retry::RetryPolicy;
use crate::service::InsCore;
use crate::strategy::Insi;

/// What the scripted INSi answers to each call, in order; past the script, the last answer.
struct ScriptedInsi {
    answers: Vec<Result<InsiAnswer, InsiError>>,
    calls: Mutex<Vec<String>>,
}

impl ScriptedInsi {
    fn new(answers: Vec<Result<InsiAnswer, InsiError>>) -> Arc<Self> {
        Arc::new(Self {
            answers,
            calls: Mutex::default(),
        })
    }

    fn answer(&self, sent: String) -> Result<InsiAnswer, InsiError> {
        let mut calls = self.calls.lock().unwrap();
        calls.push(sent);
        let i = (calls.len() - 1).min(self.answers.len() - 1);
        self.answers[i].clone()
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Insi for ScriptedInsi {
    async fn search_by_traits(
        &self,
        q: &TraitsQuery,
        _call: &CallContext,
    ) -> Result<InsiAnswer, InsiError> {
        self.answer(q.first_names.clone())
    }
    async fn search_by_vitale(
        &self,
        q: &VitaleQuery,
        _call: &CallContext,
    ) -> Result<InsiAnswer, InsiError> {
        self.answer(q.matricule.to_string())
    }
}

fn core(insi: Arc<ScriptedInsi>) -> InsCore {
    let retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        budget: Duration::from_secs(5),
    };
    let hasher = InsHasher::from_settings(&AuditSettings {
        hash_key: "ab".repeat(32),
    })
    .unwrap();
    InsCore::new(insi, retry, hasher, None)
}

fn organisation() -> Option<Actor> {
    Some(Actor {
        mode: Some(actor::Mode::Organisation(OrganisationMode::default())),
        professional: None,
    })
}

fn request(first_names: &[&str]) -> api::SearchByTraitsRequest {
    api::SearchByTraitsRequest {
        actor: organisation(),
        traits: Some(api::IdentityTraits {
            birth_name: "PAT-DOUZE".into(),
            first_names: first_names.iter().map(|s| (*s).to_owned()).collect(),
            sex: api::Sex::Female as i32,
            birth_date: "1948-03-21".into(),
            ..Default::default()
        }),
    }
}

fn found() -> InsiAnswer {
    InsiAnswer {
        code: CrCode::Found,
        label: "OK".into(),
        individual: Some(Individual {
            active: Ins::typed("2480392630010", "64", InsOid::Nir).unwrap(),
            history: Vec::new(),
            traits: ReturnedTraits {
                birth_name: "PAT-DOUZE".into(),
                first_names: vec!["NATHALIE".into()],
                sex: Some(Sex::Female),
                birth_date: Some(LunarDate::parse("1948-03-21").unwrap()),
                birth_place: None,
            },
        }),
    }
}

fn not_found() -> InsiAnswer {
    InsiAnswer {
        code: CrCode::NotFound,
        label: "Aucune identite trouvee".into(),
        individual: None,
    }
}

fn fault(subcode: &str, detail: &str) -> InsiError {
    InsiError::Fault(Box::new(SoapFault {
        code: "Sender".into(),
        subcodes: vec![subcode.into()],
        reason: "refused".into(),
        detail_code: Some(detail.into()),
        ..Default::default()
    }))
}

fn id() -> RequestId {
    RequestId::parse("core-test").unwrap()
}

#[tokio::test]
async fn found_identity_is_answered_with_its_ins() {
    let insi = ScriptedInsi::new(vec![Ok(found())]);
    let r = core(insi.clone())
        .search_by_traits(&id(), request(&["NATHALIE"]))
        .await
        .unwrap();
    assert_eq!(r.result, api::SearchResult::Found as i32);
    let ins = r.identity.unwrap().ins.unwrap();
    assert_eq!(
        (ins.matricule.as_str(), ins.key.as_str()),
        ("2480392630010", "64")
    );
    assert_eq!(r.request_id, "core-test");
    assert_eq!(insi.calls(), ["NATHALIE"]);
}

#[tokio::test]
async fn nobody_found_tries_each_first_name_and_explains() {
    let insi = ScriptedInsi::new(vec![Ok(not_found())]);
    let r = core(insi.clone())
        .search_by_traits(&id(), request(&["NATHALIE", "MARIE"]))
        .await
        .unwrap();
    assert_eq!(r.result, api::SearchResult::NotFound as i32);
    assert!(insi.calls().len() > 1, "{:?}", insi.calls());
    assert_eq!(r.tries.len(), insi.calls().len());
    assert!(!r.diagnostics.is_empty());
}

#[tokio::test]
async fn transient_failures_are_retried_then_reported_with_the_tries() {
    let timeout = InsiError::Timeout {
        after: Duration::from_secs(1),
    };
    let insi = ScriptedInsi::new(vec![Err(timeout.clone()), Ok(found())]);
    let r = core(insi.clone())
        .search_by_traits(&id(), request(&["NATHALIE"]))
        .await
        .unwrap();
    assert_eq!(r.result, api::SearchResult::Found as i32);
    assert_eq!(insi.calls().len(), 2, "one retry");

    let insi = ScriptedInsi::new(vec![Err(timeout)]);
    let e = core(insi.clone())
        .search_by_traits(&id(), request(&["NATHALIE"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            InsServiceError::Insi {
                error: InsiError::Timeout { .. },
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(insi.calls().len(), 3, "max_attempts in all");
}

#[tokio::test]
async fn a_refusal_is_not_retried() {
    let insi = ScriptedInsi::new(vec![Err(fault("siram_100", "desir_550"))]);
    let e = core(insi.clone())
        .search_by_traits(&id(), request(&["NATHALIE"]))
        .await
        .unwrap_err();
    let InsServiceError::Insi { error, tries } = e else {
        panic!("{e:?}")
    };
    assert_eq!(error.upstream_code(), Some("desir_550"));
    assert_eq!((tries, insi.calls().len()), (1, 1));
}

#[tokio::test]
async fn an_unknown_result_code_is_a_typed_error() {
    let insi = ScriptedInsi::new(vec![Ok(InsiAnswer {
        code: CrCode::Other("07".into()),
        label: String::new(),
        individual: None,
    })]);
    let e = core(insi)
        .search_by_traits(&id(), request(&["NATHALIE"]))
        .await
        .unwrap_err();
    assert!(
        matches!(e, InsServiceError::UnknownResultCode(ref c) if c == "07"),
        "{e:?}"
    );
}

#[tokio::test]
async fn bad_requests_are_refused_before_any_insi_call() {
    let insi = ScriptedInsi::new(vec![Ok(found())]);
    let core = core(insi.clone());
    let mut no_actor = request(&["NATHALIE"]);
    no_actor.actor = None;
    assert!(matches!(
        core.search_by_traits(&id(), no_actor).await,
        Err(InsServiceError::MissingActor)
    ));
    let mut no_sex = request(&["NATHALIE"]);
    no_sex.traits.as_mut().unwrap().sex = api::Sex::Unspecified as i32;
    match core.search_by_traits(&id(), no_sex).await {
        Err(InsServiceError::InvalidTraits { field, .. }) => assert_eq!(field, "traits.sex"),
        other => panic!("{other:?}"),
    }
    let mut cps = request(&["NATHALIE"]);
    cps.actor = Some(Actor {
        mode: Some(actor::Mode::Cps(CpsMode {
            workstation_id: "ward.3".into(),
        })),
        professional: None,
    });
    assert!(matches!(
        core.search_by_traits(&id(), cps.clone()).await,
        Err(InsServiceError::InvalidWorkstation(_))
    ));
    cps.actor = Some(Actor {
        mode: Some(actor::Mode::Cps(CpsMode {
            workstation_id: "ward-3".into(),
        })),
        professional: None,
    });
    assert!(matches!(
        core.search_by_traits(&id(), cps).await,
        Err(InsServiceError::CpsModeWithoutBus)
    ));
    let bad_key = api::VerifyInsRequest {
        actor: organisation(),
        ins: Some(api::KnownIns {
            matricule: "2480392630010".into(),
            key: "65".into(),
            ..Default::default()
        }),
        traits: request(&["NATHALIE"]).traits,
    };
    match core.verify_ins(&id(), bad_key).await {
        Err(InsServiceError::InvalidIns { field, .. }) => assert_eq!(field, "ins.key"),
        other => panic!("{other:?}"),
    }
    assert!(insi.calls().is_empty(), "{:?}", insi.calls());
}

#[tokio::test]
async fn verification_compares_the_known_ins_with_insi() {
    let insi = ScriptedInsi::new(vec![Ok(found())]);
    let r = core(insi)
        .verify_ins(
            &id(),
            api::VerifyInsRequest {
                actor: organisation(),
                ins: Some(api::KnownIns {
                    matricule: "2480392630010".into(),
                    key: "64".into(),
                    ..Default::default()
                }),
                traits: request(&["NATHALIE"]).traits,
            },
        )
        .await
        .unwrap();
    assert_eq!(r.result, api::VerifyResult::Verified as i32);
}
