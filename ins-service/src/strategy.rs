//! The first-name search strategy, as the real INSi is used: search with the first first name,
//! then each next one, then the whole list; stop at the first identity found or at a fault.
//! Every try is reported, and which one matched.

use async_trait::async_trait;
use passerelle_domain::IdentityTraits;

use crate::gateway::{InsiGateway, RequestScope};
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

/// One traits search as the strategy sees it: for the service, the INSi gateway bound to the
/// request (retries, audit); in unit tests, a scripted national service.
#[async_trait]
pub trait TraitsSearch: Send + Sync {
    async fn search(&self, q: &TraitsQuery) -> Result<InsiAnswer, InsiError>;
}

/// The gateway bound to one request.
pub struct Scoped<'a> {
    pub gateway: &'a InsiGateway,
    pub scope: &'a RequestScope,
}

#[async_trait]
impl TraitsSearch for Scoped<'_> {
    async fn search(&self, q: &TraitsQuery) -> Result<InsiAnswer, InsiError> {
        self.gateway.search_by_traits(self.scope, q).await
    }
}

/// Runs the strategy: stops at the first identity found, at a fault, or when every list was
/// tried.
pub async fn search(insi: &dyn TraitsSearch, traits: &IdentityTraits) -> StrategyOutcome {
    let mut tries = Vec::new();
    for first_names in first_name_plan(traits) {
        let q = TraitsQuery {
            birth_name: traits.birth_name.clone(),
            first_names: first_names.clone(),
            sex: traits.sex,
            birth_date: traits.birth_date,
            birth_place: traits.birth_place.clone(),
        };
        let outcome = insi.search(&q).await;
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use passerelle_domain::TraitsInput;

    use super::*;

    /// A national service answering by the first names sent; anything unscripted is CR 01.
    struct Scripted {
        answers: HashMap<&'static str, Result<CrCode, ()>>,
        sent: Mutex<Vec<String>>,
    }

    impl Scripted {
        fn new(answers: &[(&'static str, Result<CrCode, ()>)]) -> Self {
            Self {
                answers: answers.iter().cloned().collect(),
                sent: Mutex::default(),
            }
        }
    }

    #[async_trait]
    impl TraitsSearch for Scripted {
        async fn search(&self, q: &TraitsQuery) -> Result<InsiAnswer, InsiError> {
            self.sent.lock().unwrap().push(q.first_names.clone());
            match self.answers.get(q.first_names.as_str()) {
                Some(Err(())) => Err(InsiError::Timeout {
                    after: std::time::Duration::from_secs(1),
                }),
                Some(Ok(code)) => Ok(InsiAnswer {
                    code: code.clone(),
                    label: String::new(),
                    individual: None,
                }),
                None => Ok(InsiAnswer {
                    code: CrCode::NotFound,
                    label: String::new(),
                    individual: None,
                }),
            }
        }
    }

    fn traits(first: &[&str]) -> IdentityTraits {
        IdentityTraits::from_input(&TraitsInput {
            birth_name: "TCHITCHI".into(),
            first_names: first.iter().map(|s| (*s).to_owned()).collect(),
            sex: "F".into(),
            birth_date: "1936-06-21".into(),
            ..Default::default()
        })
        .unwrap()
    }

    async fn run(
        first: &[&str],
        script: &[(&'static str, Result<CrCode, ()>)],
    ) -> (Vec<String>, StrategyOutcome) {
        let insi = Scripted::new(script);
        let outcome = search(&insi, &traits(first)).await;
        (insi.sent.into_inner().unwrap(), outcome)
    }

    #[tokio::test]
    async fn one_first_name_is_one_call() {
        let (sent, out) = run(&["NATHALIE"], &[("NATHALIE", Ok(CrCode::Found))]).await;
        assert_eq!(sent, vec!["NATHALIE"]);
        assert!(out.tries[0].found());
    }

    #[tokio::test]
    async fn next_first_name_after_none_then_stop_at_found() {
        let (sent, out) = run(
            &["OLA", "CATARINA", "BELLA"],
            &[("CATARINA", Ok(CrCode::Found))],
        )
        .await;
        assert_eq!(sent, vec!["OLA", "CATARINA"]);
        assert!(!out.tries[0].found() && out.tries[1].found());
    }

    #[tokio::test]
    async fn every_first_name_then_the_whole_list() {
        let (sent, out) = run(&["PIERRE", "PAUL", "JACQUES"], &[]).await;
        assert_eq!(
            sent,
            vec!["PIERRE", "PAUL", "JACQUES", "PIERRE PAUL JACQUES"]
        );
        assert!(out.tries.iter().all(|t| !t.found()));
    }

    #[tokio::test]
    async fn several_identities_try_the_next_list() {
        let (sent, _) = run(
            &["LEONARDO", "DINO"],
            &[
                ("LEONARDO", Ok(CrCode::Multiple)),
                ("LEONARDO DINO", Ok(CrCode::Found)),
            ],
        )
        .await;
        assert_eq!(sent, vec!["LEONARDO", "DINO", "LEONARDO DINO"]);
    }

    #[tokio::test]
    async fn a_failure_mid_strategy_stops_it() {
        let (sent, out) = run(&["OLA", "CATARINA", "BELLA"], &[("CATARINA", Err(()))]).await;
        assert_eq!(sent, vec!["OLA", "CATARINA"]);
        assert!(out.tries.last().unwrap().outcome.is_err());
    }

    #[tokio::test]
    async fn repeated_first_names_are_tried_once() {
        let (sent, _) = run(&["MARIE", "MARIE"], &[]).await;
        assert_eq!(sent, vec!["MARIE", "MARIE MARIE"]);
    }
}
