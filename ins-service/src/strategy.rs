//! The first-name search strategy, as the real INSi is used: search with the first first name,
//! then each next one, then the whole list; stop at the first identity found or at a fault.
//! Every try is reported, and which one matched.

use async_trait::async_trait;
use passerelle_domain::IdentityTraits;

use crate::insi::{
    CallContext, CrCode, InsiAnswer, InsiClient, InsiError, TraitsQuery, VitaleQuery,
};

/// The INSi operations the service needs: the real client, or in unit tests a scripted
/// national service.
#[async_trait]
pub trait Insi: Send + Sync {
    async fn search_by_traits(
        &self,
        q: &TraitsQuery,
        call: &CallContext,
    ) -> Result<InsiAnswer, InsiError>;
    async fn search_by_vitale(
        &self,
        q: &VitaleQuery,
        call: &CallContext,
    ) -> Result<InsiAnswer, InsiError>;
}

#[async_trait]
impl Insi for InsiClient {
    async fn search_by_traits(
        &self,
        q: &TraitsQuery,
        call: &CallContext,
    ) -> Result<InsiAnswer, InsiError> {
        InsiClient::search_by_traits(self, q, call).await
    }
    async fn search_by_vitale(
        &self,
        q: &VitaleQuery,
        call: &CallContext,
    ) -> Result<InsiAnswer, InsiError> {
        InsiClient::search_by_vitale(self, q, call).await
    }
}

/// One INSi call of the strategy and how it ended.
#[derive(Debug)]
pub struct Try {
    pub first_names_sent: String,
    pub outcome: Result<InsiAnswer, InsiError>,
}

impl Try {
    pub fn found(&self) -> bool {
        matches!(&self.outcome, Ok(a) if a.code == CrCode::Found)
    }
}

/// All tries, in order; the last one decides the outcome.
#[derive(Debug)]
pub struct StrategyOutcome {
    pub tries: Vec<Try>,
}

/// The first-name lists to try, in order, without repeats: each first name alone, then all
/// of them together (when there are several).
pub fn first_name_plan(traits: &IdentityTraits) -> Vec<String> {
    let mut plan: Vec<String> = Vec::new();
    for name in &traits.first_names {
        let n = name.as_str().to_owned();
        if !plan.contains(&n) {
            plan.push(n);
        }
    }
    let all = traits.first_names_list();
    if !plan.contains(&all) {
        plan.push(all);
    }
    plan
}

/// Runs the strategy. A call context is made for each try by `call_for` (each INSi call has
/// its own message id).
pub async fn search(
    insi: &dyn Insi,
    traits: &IdentityTraits,
    mut call_for: impl FnMut(usize) -> CallContext + Send,
) -> StrategyOutcome {
    let mut tries = Vec::new();
    for (i, first_names) in first_name_plan(traits).into_iter().enumerate() {
        let q = TraitsQuery {
            birth_name: traits.birth_name.clone(),
            first_names: first_names.clone(),
            sex: traits.sex,
            birth_date: traits.birth_date,
            birth_place: traits.birth_place.clone(),
        };
        let call = call_for(i);
        let outcome = insi.search_by_traits(&q, &call).await;
        // Only "none" and "several" are worth another first name; anything else is final.
        let stop =
            !matches!(&outcome, Ok(a) if matches!(a.code, CrCode::NotFound | CrCode::Multiple));
        tries.push(Try {
            first_names_sent: first_names,
            outcome,
        });
        if stop {
            break;
        }
    }
    StrategyOutcome { tries }
}
