//! What the caller should check when INSi did not find exactly one identity, computed from the
//! request and every try (no extra INSi call: searching with altered traits would be fishing).
//!
//! Order (the rule): first what the request itself shows to be doubtful, cheapest to check
//! first — normalisation that changed the input, a compound name written with a space or a
//! hyphen, a used name where the birth name is expected, the first names tried one by one —
//! then traits nothing in the request points at but that the tutorial lists as frequent
//! errors — sex, birth date (with a possible day/month inversion) — and last, when everything
//! is right, a person unknown to the Assurance Maladie.

use passerelle_domain::{IdentityTraits, Sex};
use passerelle_proto::ins::v1::{Diagnostic, SearchResult};

use crate::insi::CrCode;
use crate::strategy::StrategyOutcome;

fn diag(code: &str, message: String) -> Diagnostic {
    Diagnostic {
        code: code.to_owned(),
        message,
    }
}

/// Diagnostics of a search, in the order of the rule above.
pub fn for_search(
    traits: &IdentityTraits,
    result: SearchResult,
    outcome: &StrategyOutcome,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for n in &traits.normalisations {
        let changes: Vec<String> = n.changes.iter().map(|c| c.to_string()).collect();
        out.push(diag(
            "NORMALISED_INPUT",
            format!(
                "{} was normalised by the identity-vigilance rules ({}): {:?} was sent as {:?}; compare with the identity document",
                n.field,
                changes.join(", "),
                n.original,
                n.normalised
            ),
        ));
    }
    match result {
        SearchResult::Found => {
            let flagged = outcome.tries.iter().any(|t| {
                matches!(&t.outcome, Ok(a) if a.code == CrCode::Found
                    && a.individual.as_ref().is_some_and(|i| !i.active.key_valid()))
            });
            if flagged {
                out.push(diag(
                    "KEY_DOES_NOT_CHECK",
                    "the key INSi returned does not match the matricule; it is kept as INSi gave it (INSi is authoritative)".to_owned(),
                ));
            }
        }
        SearchResult::Multiple => out.push(diag(
            "SEVERAL_IDENTITIES",
            "INSi knows several people with these traits: add the birth place (COG code) and every birth first name".to_owned(),
        )),
        _ => not_found(traits, outcome, &mut out),
    }
    out
}

fn not_found(traits: &IdentityTraits, outcome: &StrategyOutcome, out: &mut Vec<Diagnostic>) {
    let name = traits.birth_name.as_str();
    if name.contains(' ') {
        out.push(diag(
            "COMPOUND_NAME",
            format!(
                "the birth name has a space: if it is a compound name, it may be written with a hyphen ({:?}); check the identity document",
                name.replace(' ', "-")
            ),
        ));
    } else if name.contains('-') {
        out.push(diag(
            "COMPOUND_NAME",
            format!(
                "the birth name has a hyphen: check on the identity document whether it is {name:?} or {:?}",
                name.replace('-', " ")
            ),
        ));
    }
    let used_same = traits
        .used_name
        .as_ref()
        .is_some_and(|u| u == &traits.birth_name);
    if used_same || traits.sex == Sex::Female {
        out.push(diag(
            "CHECK_BIRTH_NAME",
            format!(
                "INSi searches by birth name, which can differ from the used name (often for women{}): check the birth name on the identity document",
                if used_same { "; the used name given is the same as the birth name" } else { "" }
            ),
        ));
    }
    if outcome.tries.len() > 1 {
        let sent: Vec<String> = outcome
            .tries
            .iter()
            .map(|t| format!("{:?}", t.first_names_sent))
            .collect();
        out.push(diag(
            "FIRST_NAMES_TRIED",
            format!(
                "each first name was tried alone, then all together ({}): check their spelling, order and hyphens of compound first names",
                sent.join(", ")
            ),
        ));
    } else {
        out.push(diag(
            "CHECK_FIRST_NAMES",
            "check the first birth first name (the first one on the identity document)".to_owned(),
        ));
    }
    out.push(diag(
        "CHECK_SEX",
        format!(
            "check the sex: it was sent as {}; a swapped sex gives no answer",
            traits.sex.code()
        ),
    ));
    let date = traits.birth_date;
    out.push(match date.swapped_day_month() {
        Some(swapped) => diag(
            "CHECK_BIRTH_DATE",
            format!("check the birth date: {date} could be a day/month inversion of {swapped}"),
        ),
        None => diag(
            "CHECK_BIRTH_DATE",
            format!("check the birth date ({date}) on the identity document"),
        ),
    });
    out.push(diag(
        "UNKNOWN_TO_ASSURANCE_MALADIE",
        "if every trait is right, the person may be unknown to the Assurance Maladie: keep the identity provisional".to_owned(),
    ));
}

#[cfg(test)]
mod tests {
    use passerelle_domain::TraitsInput;

    use super::*;
    use crate::insi::{CrCode, InsiAnswer};
    use crate::strategy::Try;

    fn traits(
        name: &str,
        used: Option<&str>,
        first: &[&str],
        sex: &str,
        date: &str,
    ) -> IdentityTraits {
        IdentityTraits::from_input(&TraitsInput {
            birth_name: name.into(),
            used_name: used.map(str::to_owned),
            first_names: first.iter().map(|s| (*s).to_owned()).collect(),
            sex: sex.into(),
            birth_date: date.into(),
            birth_place: None,
        })
        .unwrap()
    }

    fn none(tries: usize) -> StrategyOutcome {
        StrategyOutcome {
            tries: (0..tries)
                .map(|i| Try {
                    first_names_sent: format!("N{i}"),
                    outcome: Ok(InsiAnswer {
                        code: CrCode::NotFound,
                        label: "Aucune identite trouvee".into(),
                        individual: None,
                    }),
                })
                .collect(),
        }
    }

    fn codes(d: &[Diagnostic]) -> Vec<&str> {
        d.iter().map(|d| d.code.as_str()).collect()
    }

    #[test]
    fn clean_input_of_a_man_lists_the_generic_checks_in_order() {
        let d = for_search(
            &traits("HOUILLES", None, &["PIERRE"], "M", "1993-01-27"),
            SearchResult::NotFound,
            &none(1),
        );
        assert_eq!(
            codes(&d),
            vec![
                "CHECK_FIRST_NAMES",
                "CHECK_SEX",
                "CHECK_BIRTH_DATE",
                "UNKNOWN_TO_ASSURANCE_MALADIE"
            ]
        );
    }

    #[test]
    fn normalisation_comes_first_and_shows_before_and_after() {
        let d = for_search(
            &traits("  dupont ", None, &["Jean"], "M", "1970-01-31"),
            SearchResult::NotFound,
            &none(1),
        );
        assert_eq!(codes(&d)[..2], ["NORMALISED_INPUT", "NORMALISED_INPUT"]);
        assert!(d[0].message.contains("\"  dupont \"") && d[0].message.contains("\"DUPONT\""));
        assert_eq!(codes(&d).last(), Some(&"UNKNOWN_TO_ASSURANCE_MALADIE"));
    }

    #[test]
    fn compound_names_with_a_space_suggest_the_hyphen() {
        let d = for_search(
            &traits("PAT DOUZE", None, &["NATHALIE"], "F", "1948-03-21"),
            SearchResult::NotFound,
            &none(1),
        );
        assert_eq!(codes(&d)[0], "COMPOUND_NAME");
        assert!(d[0].message.contains("\"PAT-DOUZE\""));
    }

    #[test]
    fn women_are_reminded_of_the_birth_name() {
        let d = for_search(
            &traits("MARTIN", Some("MARTIN"), &["ANNE"], "F", "1980-05-30"),
            SearchResult::NotFound,
            &none(1),
        );
        let i = codes(&d)
            .iter()
            .position(|c| *c == "CHECK_BIRTH_NAME")
            .unwrap();
        assert!(d[i].message.contains("same as the birth name"));
        // Before the sex and date checks.
        assert!(i < codes(&d).iter().position(|c| *c == "CHECK_SEX").unwrap());
    }

    #[test]
    fn men_without_a_used_name_get_no_birth_name_reminder() {
        let d = for_search(
            &traits("MARTIN", None, &["PAUL"], "M", "1980-05-30"),
            SearchResult::NotFound,
            &none(1),
        );
        assert!(!codes(&d).contains(&"CHECK_BIRTH_NAME"));
    }

    #[test]
    fn day_month_inversion_is_pointed_out() {
        let d = for_search(
            &traits("MARTIN", None, &["PAUL"], "M", "1980-05-03"),
            SearchResult::NotFound,
            &none(1),
        );
        let date = d.iter().find(|d| d.code == "CHECK_BIRTH_DATE").unwrap();
        assert!(date.message.contains("1980-03-05"), "{}", date.message);
    }

    #[test]
    fn first_names_tried_one_by_one_are_listed() {
        let d = for_search(
            &traits("HOUILLES", None, &["PIERRE", "PAUL"], "M", "1993-01-27"),
            SearchResult::NotFound,
            &none(3),
        );
        let f = d.iter().find(|d| d.code == "FIRST_NAMES_TRIED").unwrap();
        assert!(
            f.message.contains("\"N0\", \"N1\", \"N2\""),
            "{}",
            f.message
        );
        assert!(!codes(&d).contains(&"CHECK_FIRST_NAMES"));
    }

    #[test]
    fn several_identities_ask_for_more_traits() {
        let d = for_search(
            &traits("DE VINCI", None, &["LEONARDO"], "M", "2014-02-01"),
            SearchResult::Multiple,
            &none(1),
        );
        assert_eq!(codes(&d), vec!["SEVERAL_IDENTITIES"]);
    }
}
