//! Every INSi call of the service goes through here: a fresh message id per attempt, bounded
//! retries of transient failures, and an audit event per attempt.

use std::sync::Arc;

use passerelle_proto::common::v1::Actor;
use passerelle_service_kit::RequestId;
use tokio::time::Instant;

use crate::audit::{AuditedCall, Auditor};
use crate::insi::{CallAuth, CallContext, InsiAnswer, InsiError, TraitsQuery, VitaleQuery};
use crate::retry::{self, RetryPolicy};
use crate::strategy::Insi;

const OP_TRAITS: &str = "rechercherInsAvecTraitsIdentite";
const OP_VITALE: &str = "rechercherInsAvecCarteVitale";

#[derive(Clone)]
pub struct InsiGateway {
    insi: Arc<dyn Insi>,
    retry: RetryPolicy,
    auditor: Auditor,
}

/// Who asks, for one incoming request.
#[derive(Clone)]
pub struct RequestScope {
    pub request_id: RequestId,
    pub actor: Option<Actor>,
    pub auth: CallAuth,
}

impl InsiGateway {
    pub fn new(insi: Arc<dyn Insi>, retry: RetryPolicy, auditor: Auditor) -> Self {
        Self {
            insi,
            retry,
            auditor,
        }
    }

    pub fn auditor(&self) -> &Auditor {
        &self.auditor
    }

    pub async fn search_by_traits(
        &self,
        scope: &RequestScope,
        q: &TraitsQuery,
    ) -> Result<InsiAnswer, InsiError> {
        self.call(scope, OP_TRAITS, |ctx| async move {
            self.insi.search_by_traits(q, &ctx).await
        })
        .await
    }

    pub async fn search_by_vitale(
        &self,
        scope: &RequestScope,
        q: &VitaleQuery,
    ) -> Result<InsiAnswer, InsiError> {
        self.call(scope, OP_VITALE, |ctx| async move {
            self.insi.search_by_vitale(q, &ctx).await
        })
        .await
    }

    async fn call<F, Fut>(
        &self,
        scope: &RequestScope,
        operation: &'static str,
        send: F,
    ) -> Result<InsiAnswer, InsiError>
    where
        F: Fn(CallContext) -> Fut,
        Fut: Future<Output = Result<InsiAnswer, InsiError>>,
    {
        let (outcome, _, _) = retry::run(&self.retry, |attempt| {
            let send = &send;
            async move {
                // Each attempt is a new SOAP message, with its own wsa:MessageID.
                let message_id = uuid::Uuid::new_v4();
                let began = Instant::now();
                let outcome = send(CallContext {
                    message_id,
                    auth: scope.auth.clone(),
                })
                .await;
                self.auditor.record(&AuditedCall {
                    request_id: &scope.request_id,
                    actor: scope.actor.as_ref(),
                    operation,
                    message_id,
                    attempt,
                    outcome: &outcome,
                    duration: began.elapsed(),
                });
                outcome
            }
        })
        .await;
        outcome
    }
}
