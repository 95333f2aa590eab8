//! What the caller should check when INSi did not find exactly one identity, computed from the
//! request and every try. Never contains traits in clear beyond what the caller sent.

use passerelle_domain::IdentityTraits;
use passerelle_proto::ins::v1::{Diagnostic, SearchResult};

use crate::strategy::StrategyOutcome;

fn diag(code: &str, message: String) -> Diagnostic {
    Diagnostic {
        code: code.to_owned(),
        message,
    }
}

/// Diagnostics of a search, most actionable first.
pub fn for_search(
    traits: &IdentityTraits,
    result: SearchResult,
    outcome: &StrategyOutcome,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if !traits.normalisations.is_empty() {
        let fields: Vec<&str> = traits.normalisations.iter().map(|n| n.field).collect();
        out.push(diag(
            "NORMALISED_INPUT",
            format!(
                "the input was normalised by the identity-vigilance rules ({}): compare it with the identity document",
                fields.join(", ")
            ),
        ));
    }
    match result {
        SearchResult::Found => {}
        SearchResult::Multiple => out.push(diag(
            "SEVERAL_IDENTITIES",
            "INSi knows several people with these traits: add the birth place (COG code) and all first names".to_owned(),
        )),
        _ => {
            if let Some(used) = &traits.used_name
                && used != &traits.birth_name
            {
                out.push(diag(
                    "CHECK_BIRTH_NAME",
                    "a used name differs from the birth name: INSi searches by birth name only; check the birth name on the identity document".to_owned(),
                ));
            }
            if outcome.tries.len() > 1 {
                out.push(diag(
                    "FIRST_NAMES_TRIED",
                    format!(
                        "each first name was tried alone, then all together ({} calls): check their spelling and order",
                        outcome.tries.len()
                    ),
                ));
            }
            out.push(diag(
                "CHECK_TRAITS",
                "check the spelling (hyphens in compound names, extra spaces), the sex and the birth date".to_owned(),
            ));
            out.push(diag(
                "UNKNOWN_TO_ASSURANCE_MALADIE",
                "if every trait is right, the person may be unknown to the Assurance Maladie: keep the identity provisional".to_owned(),
            ));
        }
    }
    out
}
