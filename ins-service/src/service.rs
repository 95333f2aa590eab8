//! The INS service's logic, independent of how requests arrive (gRPC or bus): validate the
//! request, run the search against INSi, answer in the API's terms, publish what happened.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use passerelle_bus::{SharedBus, subjects};
use passerelle_domain::{
    IdentityTraits, Ins, InsError, InsOid, Key, LunarDate, Matricule, Name, TraitsInput,
};
use passerelle_proto::common::v1::{Actor, actor};
use passerelle_proto::events::v1::InsSearched;
use passerelle_proto::ins::v1 as api;
use passerelle_service_kit::RequestId;
use passerelle_service_kit::errors::RichError;
use prost::Message;
use tonic::{Code, Status};

use crate::diagnostics;
use crate::insi::{CallAuth, CallContext, CrCode, InsiAnswer, InsiError, VitaleQuery};
use crate::strategy::{self, Insi, StrategyOutcome};

/// Reasons (google.rpc.ErrorInfo.reason) of the errors this service returns.
pub mod reasons {
    pub const INVALID_TRAITS: &str = "INVALID_TRAITS";
    pub const INVALID_MATRICULE: &str = "INVALID_MATRICULE";
    pub const MISSING_ACTOR: &str = "MISSING_ACTOR";
    pub const INVALID_WORKSTATION: &str = "INVALID_WORKSTATION";
    pub const CPS_MODE_UNAVAILABLE: &str = "CPS_MODE_UNAVAILABLE";
    pub const INSI_FAULT: &str = "INSI_FAULT";
    pub const INSI_UNAVAILABLE: &str = "INSI_UNAVAILABLE";
    pub const INSI_TIMEOUT: &str = "INSI_TIMEOUT";
    pub const INSI_TLS: &str = "INSI_TLS";
    pub const INSI_BAD_RESPONSE: &str = "INSI_BAD_RESPONSE";
    pub const INSI_CONFIGURATION: &str = "INSI_CONFIGURATION";
}

/// The INS service. Cheap to clone.
#[derive(Clone)]
pub struct InsCore {
    insi: Arc<dyn Insi>,
    events: Option<SharedBus>,
}

impl InsCore {
    pub fn new(insi: Arc<dyn Insi>, events: Option<SharedBus>) -> Self {
        Self { insi, events }
    }

    pub async fn search_by_traits(
        &self,
        request_id: &RequestId,
        req: api::SearchByTraitsRequest,
    ) -> Result<api::SearchResponse, Status> {
        let actor = req.actor.clone();
        let auth = call_auth(actor.as_ref())?;
        let traits = traits_from_request(req.traits.unwrap_or_default())?;
        let outcome = strategy::search(self.insi.as_ref(), &traits, |_| CallContext {
            message_id: uuid::Uuid::new_v4(),
            auth: auth.clone(),
        })
        .await;
        let response = response_from_outcome(request_id, &traits, &outcome);
        self.publish_searched(request_id, actor, &response, &outcome)
            .await;
        response
    }

    pub async fn search_by_vitale(
        &self,
        request_id: &RequestId,
        req: api::SearchByVitaleRequest,
    ) -> Result<api::SearchResponse, Status> {
        let actor = req.actor.clone();
        let auth = call_auth(actor.as_ref())?;
        let q = vitale_query(&req)?;
        let call = CallContext {
            message_id: uuid::Uuid::new_v4(),
            auth,
        };
        let outcome = self.insi.search_by_vitale(&q, &call).await;
        let outcome = StrategyOutcome {
            tries: vec![strategy::Try {
                first_names_sent: String::new(),
                outcome,
            }],
        };
        let response = response_from_vitale(request_id, &outcome);
        self.publish_searched(request_id, actor, &response, &outcome)
            .await;
        response
    }

    pub fn check_matricule(
        &self,
        req: &api::CheckMatriculeRequest,
    ) -> Result<api::CheckMatriculeResponse, Status> {
        check_matricule(req)
    }

    async fn publish_searched(
        &self,
        request_id: &RequestId,
        actor: Option<Actor>,
        response: &Result<api::SearchResponse, Status>,
        outcome: &StrategyOutcome,
    ) {
        let Some(bus) = &self.events else { return };
        let result = match response {
            Ok(r) => api::SearchResult::try_from(r.result)
                .map(|r| r.as_str_name().trim_start_matches("SEARCH_RESULT_"))
                .unwrap_or("UNSPECIFIED")
                .to_owned(),
            Err(_) => "ERROR".to_owned(),
        };
        let upstream_code = outcome
            .tries
            .last()
            .map(|t| match &t.outcome {
                Ok(a) => a.code.as_str().to_owned(),
                Err(InsiError::Fault(f)) => f.upstream_code().unwrap_or_default().to_owned(),
                Err(_) => String::new(),
            })
            .unwrap_or_default();
        let event = InsSearched {
            request_id: request_id.to_string(),
            actor,
            result,
            tries: outcome.tries.len() as u32,
            upstream_code,
            at_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or_default(),
        };
        // Durable (JetStream on NATS): what happened must survive a crash of the consumers.
        if let Err(e) = bus
            .publish_durable(
                subjects::EVENTS_INS_SEARCHED,
                request_id.bus_headers(),
                event.encode_to_vec().into(),
            )
            .await
        {
            tracing::warn!(error = %e, "could not publish InsSearched");
        }
    }
}

fn call_auth(actor: Option<&Actor>) -> Result<CallAuth, Status> {
    match actor.and_then(|a| a.mode.as_ref()) {
        None => Err(RichError::new(
            Code::InvalidArgument,
            reasons::MISSING_ACTOR,
            "actor is required: say who acts, organisation mode or CPS mode with the workstation id",
        )
        .field("actor", "missing")
        .into()),
        Some(actor::Mode::Organisation(_)) => Ok(CallAuth::Organisation),
        Some(actor::Mode::Cps(cps)) => {
            if passerelle_bus::subjects::validate_token(&cps.workstation_id).is_err() {
                return Err(RichError::new(
                    Code::InvalidArgument,
                    reasons::INVALID_WORKSTATION,
                    format!(
                        "workstation id {:?} is not valid: use letters, digits, '-' and '_' only",
                        cps.workstation_id
                    ),
                )
                .field("actor.cps.workstation_id", "not a single subject token")
                .into());
            }
            Err(RichError::new(
                Code::FailedPrecondition,
                reasons::CPS_MODE_UNAVAILABLE,
                "CPS mode needs the card-agent of the workstation to sign the INSi assertion, and no \
                 card-agent is connected to this service yet: use organisation mode",
            )
            .field("actor.cps", "no card-agent available")
            .into())
        }
    }
}

fn invalid_traits(field: &str, message: String) -> Status {
    RichError::new(
        Code::InvalidArgument,
        reasons::INVALID_TRAITS,
        message.clone(),
    )
    .field(field, message)
    .into()
}

/// Validates and normalises the request's traits.
pub fn traits_from_request(t: api::IdentityTraits) -> Result<IdentityTraits, Status> {
    let sex = match api::Sex::try_from(t.sex).unwrap_or(api::Sex::Unspecified) {
        api::Sex::Male => "M",
        api::Sex::Female => "F",
        api::Sex::Unspecified => {
            return Err(invalid_traits(
                "traits.sex",
                "sex is required: SEX_MALE or SEX_FEMALE (M or F)".to_owned(),
            ));
        }
    };
    let input = TraitsInput {
        birth_name: t.birth_name,
        used_name: Some(t.used_name),
        first_names: t.first_names,
        sex: sex.to_owned(),
        birth_date: t.birth_date,
        birth_place: Some(t.birth_place),
    };
    IdentityTraits::from_input(&input)
        .map_err(|e| invalid_traits(&format!("traits.{}", e.field()), e.to_string()))
}

fn vitale_query(req: &api::SearchByVitaleRequest) -> Result<VitaleQuery, Status> {
    let bad = |field: &str, e: String| -> Status {
        RichError::new(Code::InvalidArgument, reasons::INVALID_TRAITS, e.clone())
            .field(field, e)
            .into()
    };
    let matricule =
        Matricule::parse(&req.matricule).map_err(|e| bad("matricule", e.to_string()))?;
    let key = Key::parse(&req.key).map_err(|e| bad("key", e.to_string()))?;
    let insured = if req.insured_matricule.trim().is_empty() {
        None
    } else {
        Some((
            Matricule::parse(&req.insured_matricule)
                .map_err(|e| bad("insured_matricule", e.to_string()))?,
            Key::parse(&req.insured_key).map_err(|e| bad("insured_key", e.to_string()))?,
        ))
    };
    let birth_name = Name::normalise("birth_name", &req.birth_name)
        .map_err(|e| bad("birth_name", e.to_string()))?
        .value;
    let birth_date =
        LunarDate::parse(&req.birth_date).map_err(|e| bad("birth_date", e.to_string()))?;
    let birth_rank = match req.birth_rank {
        0 => 1,
        r @ 1..=9 => r as u8,
        r => {
            return Err(bad(
                "birth_rank",
                format!("birth rank {r} is not between 1 and 9"),
            ));
        }
    };
    Ok(VitaleQuery {
        matricule,
        key,
        insured,
        birth_name,
        birth_date,
        birth_rank,
    })
}

fn check_matricule(
    req: &api::CheckMatriculeRequest,
) -> Result<api::CheckMatriculeResponse, Status> {
    let bad = |field: &str, e: &InsError| -> Status {
        RichError::new(
            Code::InvalidArgument,
            reasons::INVALID_MATRICULE,
            e.to_string(),
        )
        .field(field, e.to_string())
        .into()
    };
    let m = Matricule::parse(&req.matricule).map_err(|e| bad("matricule", &e))?;
    Key::parse(&req.key).map_err(|e| bad("key", &e))?;
    let expected = m.expected_key().to_string();
    Ok(match Ins::typed(&req.matricule, &req.key, InsOid::Nir) {
        Ok(_) => api::CheckMatriculeResponse {
            valid: true,
            expected_key: expected,
            message: format!("key {} matches matricule {m}", req.key.trim()),
        },
        Err(e) => api::CheckMatriculeResponse {
            valid: false,
            expected_key: expected,
            message: e.to_string(),
        },
    })
}

/// Maps a client error to a status a caller can act on.
pub fn status_from_insi_error(e: &InsiError, tries: usize) -> Status {
    let tries = tries.to_string();
    let (code, reason, message) = match e {
        InsiError::Fault(f) => {
            // A fault worth retrying later is Unavailable; one that needs a fix (unknown
            // software, refused certificate, invalid request) is FailedPrecondition.
            let code = if e.is_transient() {
                Code::Unavailable
            } else {
                Code::FailedPrecondition
            };
            let mut err = RichError::new(
                code,
                reasons::INSI_FAULT,
                format!("INSi refused the request: {e}"),
            )
            .metadata("tries", tries);
            if let Some(c) = f.upstream_code() {
                err = err.upstream_code(c);
            }
            if let Some(s) = f.subcode() {
                err = err.metadata(
                    passerelle_service_kit::errors::UPSTREAM_SUBCODE_KEY,
                    s.to_owned(),
                );
            }
            return err.into();
        }
        InsiError::Timeout { .. } => (
            Code::DeadlineExceeded,
            reasons::INSI_TIMEOUT,
            format!("INSi did not answer in time: {e}"),
        ),
        InsiError::Tls { .. } => (
            Code::Unavailable,
            reasons::INSI_TLS,
            format!(
                "TLS with INSi failed: {e} — check the organisation certificate and the trusted CA"
            ),
        ),
        InsiError::Connect { .. } | InsiError::HttpStatus { .. } => (
            Code::Unavailable,
            reasons::INSI_UNAVAILABLE,
            format!("INSi is unavailable: {e}"),
        ),
        InsiError::ResponseTooLarge { .. } | InsiError::MalformedResponse { .. } => (
            Code::Unavailable,
            reasons::INSI_BAD_RESPONSE,
            format!("INSi answered something that is not a valid INSi response: {e}"),
        ),
        InsiError::Config { .. } => (
            Code::FailedPrecondition,
            reasons::INSI_CONFIGURATION,
            format!("the INSi client is misconfigured: {e}"),
        ),
        InsiError::CpsModeUnavailable => (
            Code::FailedPrecondition,
            reasons::CPS_MODE_UNAVAILABLE,
            e.to_string(),
        ),
    };
    RichError::new(code, reason, message)
        .metadata("tries", tries)
        .into()
}

fn oid_kind(oid: InsOid) -> api::OidKind {
    match oid {
        InsOid::Nir => api::OidKind::Nir,
        InsOid::Nia => api::OidKind::Nia,
        InsOid::TestNir => api::OidKind::TestNir,
        InsOid::Demo => api::OidKind::Demo,
    }
}

fn ins_to_api(ins: &Ins, from: Option<&str>, until: Option<&str>) -> api::Ins {
    api::Ins {
        matricule: ins.matricule().to_string(),
        key: ins.key().to_string(),
        oid: ins.oid().to_string(),
        oid_kind: oid_kind(ins.oid()) as i32,
        key_valid: ins.key_valid(),
        valid_from: from.unwrap_or_default().to_owned(),
        valid_until: until.unwrap_or_default().to_owned(),
    }
}

fn identity_from_answer(a: &InsiAnswer) -> Option<api::Identity> {
    let ind = a.individual.as_ref()?;
    let t = &ind.traits;
    Some(api::Identity {
        ins: Some(ins_to_api(&ind.active, None, None)),
        history: ind
            .history
            .iter()
            .map(|h| ins_to_api(&h.ins, h.valid_from.as_deref(), h.valid_until.as_deref()))
            .collect(),
        birth_name: t.birth_name.clone(),
        first_names: t.first_names.clone(),
        sex: match t.sex {
            Some(passerelle_domain::Sex::Male) => api::Sex::Male,
            Some(passerelle_domain::Sex::Female) => api::Sex::Female,
            None => api::Sex::Unspecified,
        } as i32,
        birth_date: t.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        birth_place: t.birth_place.clone().unwrap_or_default(),
    })
}

fn result_of(code: &CrCode) -> api::SearchResult {
    match code {
        CrCode::Found => api::SearchResult::Found,
        CrCode::NotFound => api::SearchResult::NotFound,
        CrCode::Multiple => api::SearchResult::Multiple,
        CrCode::Other(_) => api::SearchResult::Unspecified,
    }
}

fn tries_to_api(outcome: &StrategyOutcome) -> Vec<api::SearchTry> {
    outcome
        .tries
        .iter()
        .map(|t| match &t.outcome {
            Ok(a) => api::SearchTry {
                first_names_sent: t
                    .first_names_sent
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                result: result_of(&a.code) as i32,
                code: a.code.as_str().to_owned(),
                label: a.label.clone(),
                matched: a.code == CrCode::Found,
                fault: String::new(),
            },
            Err(e) => api::SearchTry {
                first_names_sent: t
                    .first_names_sent
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                result: api::SearchResult::Unspecified as i32,
                code: String::new(),
                label: String::new(),
                matched: false,
                fault: match e {
                    InsiError::Fault(f) => f.upstream_code().unwrap_or_default().to_owned(),
                    other => other.to_string(),
                },
            },
        })
        .collect()
}

/// The caller's answer: the identity found, or why not, with every try.
fn response_from_outcome(
    request_id: &RequestId,
    traits: &IdentityTraits,
    outcome: &StrategyOutcome,
) -> Result<api::SearchResponse, Status> {
    let last = outcome.tries.last().ok_or_else(|| {
        Status::internal("the search strategy made no INSi call; this is a bug, please report it")
    })?;
    let answer = match &last.outcome {
        Ok(a) => a,
        Err(e) => return Err(status_from_insi_error(e, outcome.tries.len())),
    };
    if let CrCode::Other(code) = &answer.code {
        return Err(RichError::new(
            Code::Unavailable,
            reasons::INSI_BAD_RESPONSE,
            format!("INSi answered the unknown result code {code:?}"),
        )
        .upstream_code(code.clone())
        .into());
    }
    let found = outcome.tries.iter().find(|t| t.found());
    let result = if found.is_some() {
        api::SearchResult::Found
    } else if outcome
        .tries
        .iter()
        .any(|t| matches!(&t.outcome, Ok(a) if a.code == CrCode::Multiple))
    {
        api::SearchResult::Multiple
    } else {
        api::SearchResult::NotFound
    };
    let identity = found.and_then(|t| t.outcome.as_ref().ok().and_then(identity_from_answer));
    Ok(api::SearchResponse {
        result: result as i32,
        identity,
        tries: tries_to_api(outcome),
        normalisations: traits
            .normalisations
            .iter()
            .map(|n| api::Normalisation {
                field: n.field.to_owned(),
                original: n.original.clone(),
                normalised: n.normalised.clone(),
                changes: n.changes.iter().map(|c| c.to_string()).collect(),
            })
            .collect(),
        diagnostics: diagnostics::for_search(traits, result, outcome),
        request_id: request_id.to_string(),
    })
}

fn response_from_vitale(
    request_id: &RequestId,
    outcome: &StrategyOutcome,
) -> Result<api::SearchResponse, Status> {
    let last = outcome
        .tries
        .last()
        .ok_or_else(|| Status::internal("no INSi call was made; this is a bug"))?;
    let answer = match &last.outcome {
        Ok(a) => a,
        Err(e) => return Err(status_from_insi_error(e, 1)),
    };
    let result = result_of(&answer.code);
    if result == api::SearchResult::Unspecified {
        return Err(RichError::new(
            Code::Unavailable,
            reasons::INSI_BAD_RESPONSE,
            format!(
                "INSi answered the unknown result code {:?}",
                answer.code.as_str()
            ),
        )
        .into());
    }
    Ok(api::SearchResponse {
        result: result as i32,
        identity: identity_from_answer(answer),
        tries: tries_to_api(outcome),
        normalisations: Vec::new(),
        diagnostics: Vec::new(),
        request_id: request_id.to_string(),
    })
}
