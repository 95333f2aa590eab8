//! The INS service's logic, independent of how requests arrive (gRPC or bus): validate the
//! request, run the search against INSi, answer in the API's terms, publish what happened.

use std::sync::Arc;

use passerelle_bus::{SharedBus, subjects};
use passerelle_domain::{
    IdentityTraits, Ins, InsError, InsOid, Key, LunarDate, Matricule, Name, TraitsInput,
};
use passerelle_proto::common::v1::{Actor, actor};
use passerelle_proto::events::v1::{IdentityQualified, InsSearched};
use passerelle_proto::ins::v1 as api;
use passerelle_service_kit::RequestId;
use prost::Message;

use crate::audit::{Auditor, InsHasher, now_unix_ms};
use crate::card_signer::{self, AgentSigner};
use crate::errors::InsServiceError;
use crate::gateway::{InsiGateway, RequestScope};
use crate::insi::{CallAuth, CrCode, Individual, InsiAnswer, InsiError, VitaleQuery};
use crate::retry::RetryPolicy;
use crate::strategy::{self, Insi, Scoped, StrategyOutcome};
use crate::{diagnostics, patient, qualify, verify};

pub use crate::errors::reasons;

/// The INS service. Cheap to clone.
#[derive(Clone)]
pub struct InsCore {
    gateway: InsiGateway,
    events: Option<SharedBus>,
}

impl InsCore {
    /// `events`: where events and audit records go (none in unit tests).
    pub fn new(
        insi: Arc<dyn Insi>,
        retry: RetryPolicy,
        hasher: InsHasher,
        events: Option<SharedBus>,
    ) -> Self {
        let auditor = Auditor::new(events.clone(), hasher);
        Self {
            gateway: InsiGateway::new(insi, retry, auditor),
            events,
        }
    }

    async fn scope(
        &self,
        request_id: &RequestId,
        actor: Option<Actor>,
    ) -> Result<RequestScope, InsServiceError> {
        if let Some(a) = &actor {
            passerelle_service_kit::identity::professional_from_api(a)
                .map_err(InsServiceError::InvalidActor)?;
        }
        let auth = call_auth(actor.as_ref(), self.events.as_ref(), request_id).await?;
        Ok(RequestScope {
            request_id: request_id.clone(),
            actor,
            auth,
        })
    }

    async fn search_traits(
        &self,
        scope: &RequestScope,
        traits: &IdentityTraits,
    ) -> StrategyOutcome {
        strategy::search(
            &Scoped {
                gateway: &self.gateway,
                scope,
            },
            traits,
        )
        .await
    }

    pub async fn search_by_traits(
        &self,
        request_id: &RequestId,
        req: api::SearchByTraitsRequest,
    ) -> Result<api::SearchResponse, InsServiceError> {
        let scope = self.scope(request_id, req.actor.clone()).await?;
        let traits = traits_from_request(req.traits.unwrap_or_default())?;
        let outcome = self.search_traits(&scope, &traits).await;
        let response = response_from_outcome(request_id, &traits, &outcome);
        self.publish_searched(request_id, scope.actor, &response, &outcome)
            .await;
        response
    }

    pub async fn search_by_vitale(
        &self,
        request_id: &RequestId,
        req: api::SearchByVitaleRequest,
    ) -> Result<api::SearchResponse, InsServiceError> {
        let scope = self.scope(request_id, req.actor.clone()).await?;
        let q = vitale_query(&req)?;
        let outcome = self.gateway.search_by_vitale(&scope, &q).await;
        let outcome = StrategyOutcome {
            tries: vec![strategy::Try {
                first_names_sent: String::new(),
                outcome,
            }],
        };
        let response = response_from_vitale(request_id, &outcome);
        self.publish_searched(request_id, scope.actor, &response, &outcome)
            .await;
        response
    }

    /// Searches INSi with the local traits and compares its answer with the INS held.
    pub async fn verify_ins(
        &self,
        request_id: &RequestId,
        req: api::VerifyInsRequest,
    ) -> Result<api::VerifyInsResponse, InsServiceError> {
        let scope = self.scope(request_id, req.actor.clone()).await?;
        let known = known_ins(req.ins.as_ref())?
            .ok_or_else(|| invalid_ins("ins", "the INS to verify is required".to_owned()))?;
        let traits = traits_from_request(req.traits.unwrap_or_default())?;
        let outcome = self.search_traits(&scope, &traits).await;
        let search = response_from_outcome(request_id, &traits, &outcome)?;
        Ok(verification(request_id, &known, &traits, &outcome, search))
    }

    /// The identity-vigilance status of an identity: its INS retrieved or verified with INSi
    /// with matching traits, and its identity checked on a high-trust document.
    pub async fn qualify_identity(
        &self,
        request_id: &RequestId,
        req: api::QualifyIdentityRequest,
    ) -> Result<api::QualifyIdentityResponse, InsServiceError> {
        let scope = self.scope(request_id, req.actor.clone()).await?;
        let traits = traits_from_request(req.traits.unwrap_or_default())?;
        let known = known_ins(req.ins.as_ref())?;
        let document = document_check(req.document.as_ref())?;
        let high_trust =
            document.is_some_and(|d| qualify::is_high_trust(d, traits.birth_date, today()));

        let outcome = self.search_traits(&scope, &traits).await;
        let search = response_from_outcome(request_id, &traits, &outcome)?;
        let found = found_individual(&outcome);
        // Without an INS held, the one INSi returns is compared with itself: only the traits
        // can then differ.
        let reference = known.clone().or_else(|| found.map(|f| f.active.clone()));
        let verification = match &reference {
            Some(r) => verification(request_id, r, &traits, &outcome, search),
            None => api::VerifyInsResponse {
                result: verify_result_without_identity(&search) as i32,
                comparisons: Vec::new(),
                search: Some(search),
                request_id: request_id.to_string(),
                patient: None,
            },
        };
        let confirmed = verification.result == api::VerifyResult::Verified as i32;
        let status = qualify::status(confirmed, high_trust);
        let mut actions = qualify::missing(confirmed, document, high_trust);
        for c in &verification.comparisons {
            if c.comparison == api::Comparison::Mismatch as i32 {
                actions.push(api::Diagnostic {
                    code: format!("UPDATE_{}", c.name.to_uppercase()),
                    message: format!("{}: {}", c.name, c.note),
                });
            }
        }
        let identity = verification
            .search
            .as_ref()
            .and_then(|s| s.identity.clone());
        if status == api::IdentityStatus::Qualifiee
            && let (Some(bus), Some(f), Some(doc)) = (&self.events, found, document)
        {
            let event = IdentityQualified {
                request_id: request_id.to_string(),
                actor: scope.actor.clone(),
                ins_hash: self.gateway.auditor().hasher().hash(&f.active),
                document_type: doc
                    .as_str_name()
                    .trim_start_matches("DOCUMENT_TYPE_")
                    .to_owned(),
                at_unix_ms: now_unix_ms(),
            };
            if let Err(e) = bus
                .publish_durable(
                    subjects::EVENTS_IDENTITY_QUALIFIED,
                    request_id.bus_headers(),
                    event.encode_to_vec().into(),
                )
                .await
            {
                tracing::error!(error = %e, "could not publish IdentityQualified");
            }
        }
        // The INS is retrieved or verified only in these two statuses.
        let patient = identity
            .as_ref()
            .filter(|_| confirmed)
            .and_then(|i| patient::from_identity(i, patient::status(status)));
        Ok(api::QualifyIdentityResponse {
            status: status as i32,
            verification: Some(verification),
            actions,
            identity,
            request_id: request_id.to_string(),
            patient,
        })
    }

    /// Waits for the audit records still being acknowledged (on shutdown).
    pub async fn flush(&self) {
        self.gateway.auditor().flush().await;
    }

    pub fn check_matricule(
        &self,
        req: &api::CheckMatriculeRequest,
    ) -> Result<api::CheckMatriculeResponse, InsServiceError> {
        check_matricule(req)
    }

    async fn publish_searched(
        &self,
        request_id: &RequestId,
        actor: Option<Actor>,
        response: &Result<api::SearchResponse, InsServiceError>,
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
            at_unix_ms: now_unix_ms(),
        };
        // A plain publication: the events stream stores it on NATS; unlike the audit, a lost
        // search event costs nothing the caller needs, so no acknowledgement is awaited.
        if let Err(e) = bus
            .publish(
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

/// How the INSi calls of a request are authenticated. CPS mode: the workstation's
/// card-agent reads the card now (certificates, situation) and signs each call's assertion
/// (and TLS handshake) later, each asked with the request's id.
async fn call_auth(
    actor: Option<&Actor>,
    bus: Option<&SharedBus>,
    request_id: &RequestId,
) -> Result<CallAuth, InsServiceError> {
    match actor.and_then(|a| a.mode.as_ref()) {
        None => Err(InsServiceError::MissingActor),
        Some(actor::Mode::Organisation(_)) => Ok(CallAuth::Organisation),
        Some(actor::Mode::Cps(cps)) => {
            if passerelle_bus::subjects::validate_token(&cps.workstation_id).is_err() {
                return Err(InsServiceError::InvalidWorkstation(
                    cps.workstation_id.clone(),
                ));
            }
            let Some(bus) = bus else {
                return Err(InsServiceError::CpsModeWithoutBus);
            };
            let signer = AgentSigner::read(
                bus.clone(),
                &cps.workstation_id,
                card_signer::DEFAULT_AGENT_TIMEOUT,
                request_id.clone(),
            )
            .await
            .map_err(InsServiceError::Card)?;
            Ok(CallAuth::Cps(Arc::new(signer)))
        }
    }
}

fn invalid_traits(field: &str, message: String) -> InsServiceError {
    InsServiceError::InvalidTraits {
        field: field.to_owned(),
        message,
    }
}

/// Validates and normalises the request's traits.
pub fn traits_from_request(t: api::IdentityTraits) -> Result<IdentityTraits, InsServiceError> {
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

fn vitale_query(req: &api::SearchByVitaleRequest) -> Result<VitaleQuery, InsServiceError> {
    let bad = |field: &str, e: String| invalid_traits(field, e);
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
) -> Result<api::CheckMatriculeResponse, InsServiceError> {
    let bad = |field: &str, e: &InsError| invalid_ins(field, e.to_string());
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

/// An identity INSi returned: status récupérée (no document checked here).
fn retrieved(identity: &api::Identity) -> Option<passerelle_proto::common::v1::PatientIdentity> {
    patient::from_identity(
        identity,
        passerelle_proto::common::v1::IdentityStatus::Recuperee,
    )
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
) -> Result<api::SearchResponse, InsServiceError> {
    let last = outcome.tries.last().ok_or(InsServiceError::Internal(
        "the search strategy made no INSi call",
    ))?;
    let answer = match &last.outcome {
        Ok(a) => a,
        Err(e) => return Err(insi_error(e, outcome.tries.len())),
    };
    if let CrCode::Other(code) = &answer.code {
        return Err(InsServiceError::UnknownResultCode(code.clone()));
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
    let patient = identity.as_ref().and_then(retrieved);
    Ok(api::SearchResponse {
        result: result as i32,
        identity,
        patient,
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
) -> Result<api::SearchResponse, InsServiceError> {
    let last = outcome
        .tries
        .last()
        .ok_or(InsServiceError::Internal("no INSi call was made"))?;
    let answer = match &last.outcome {
        Ok(a) => a,
        Err(e) => return Err(insi_error(e, 1)),
    };
    let result = result_of(&answer.code);
    if result == api::SearchResult::Unspecified {
        return Err(InsServiceError::UnknownResultCode(
            answer.code.as_str().to_owned(),
        ));
    }
    let identity = identity_from_answer(answer);
    Ok(api::SearchResponse {
        result: result as i32,
        patient: identity.as_ref().and_then(retrieved),
        identity,
        tries: tries_to_api(outcome),
        normalisations: Vec::new(),
        diagnostics: Vec::new(),
        request_id: request_id.to_string(),
    })
}

fn invalid_ins(field: &str, message: String) -> InsServiceError {
    InsServiceError::InvalidIns {
        field: field.to_owned(),
        message,
    }
}

/// An INSi error, after `tries` calls. The client's error is cloned: the outcome it comes
/// from is kept for the answer's tries and events.
fn insi_error(e: &InsiError, tries: usize) -> InsServiceError {
    InsServiceError::Insi {
        error: e.clone(),
        tries,
    }
}

/// The INS a caller holds, typed by a user: a key that does not check is refused.
fn known_ins(ins: Option<&api::KnownIns>) -> Result<Option<Ins>, InsServiceError> {
    let Some(k) = ins.filter(|k| !k.matricule.trim().is_empty()) else {
        return Ok(None);
    };
    let oid = if k.oid.trim().is_empty() {
        InsOid::Nir
    } else {
        InsOid::parse(&k.oid).map_err(|e| invalid_ins("ins.oid", e.to_string()))?
    };
    Ins::typed(&k.matricule, &k.key, oid)
        .map(Some)
        .map_err(|e| {
            let field = match e {
                InsError::MatriculeFormat(_) => "ins.matricule",
                _ => "ins.key",
            };
            invalid_ins(field, e.to_string())
        })
}

fn document_check(
    d: Option<&api::DocumentCheck>,
) -> Result<Option<api::DocumentType>, InsServiceError> {
    let Some(d) = d else { return Ok(None) };
    let doc = api::DocumentType::try_from(d.r#type).unwrap_or(api::DocumentType::Unspecified);
    if doc == api::DocumentType::Unspecified {
        return Ok(None);
    }
    if d.checked_by.trim().is_empty() {
        let message =
            "document.checked_by is required: say who checked the identity document".to_owned();
        return Err(InsServiceError::InvalidDocument {
            field: "document.checked_by".to_owned(),
            message,
        });
    }
    Ok(Some(doc))
}

fn today() -> (u16, u8, u8) {
    let now = time::OffsetDateTime::now_utc();
    (
        now.year().clamp(0, 9999) as u16,
        u8::from(now.month()),
        now.day(),
    )
}

fn found_individual(outcome: &StrategyOutcome) -> Option<&Individual> {
    outcome
        .tries
        .iter()
        .find(|t| t.found())
        .and_then(|t| t.outcome.as_ref().ok())
        .and_then(|a| a.individual.as_ref())
}

fn verify_result_without_identity(search: &api::SearchResponse) -> api::VerifyResult {
    if search.result == api::SearchResult::Multiple as i32 {
        api::VerifyResult::Multiple
    } else {
        api::VerifyResult::NotFound
    }
}

fn verification(
    request_id: &RequestId,
    known: &Ins,
    traits: &IdentityTraits,
    outcome: &StrategyOutcome,
    search: api::SearchResponse,
) -> api::VerifyInsResponse {
    let (result, comparisons) = match found_individual(outcome) {
        Some(found) => verify::compare(known, traits, found),
        None => (verify_result_without_identity(&search), Vec::new()),
    };
    // A verified INS is INSi's, retrieved again with the local traits.
    let patient = search
        .identity
        .as_ref()
        .filter(|_| result == api::VerifyResult::Verified)
        .and_then(retrieved);
    api::VerifyInsResponse {
        result: result as i32,
        comparisons,
        search: Some(search),
        request_id: request_id.to_string(),
        patient,
    }
}
