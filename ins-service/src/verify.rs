//! Verification of a known INS: INSi is searched with the local traits and its answer is
//! compared with what the caller holds, trait by trait, each mismatch with what to do.

use passerelle_domain::{IdentityTraits, Ins};
use passerelle_proto::ins::v1::{Comparison, TraitComparison, VerifyResult};

use crate::insi::Individual;

fn row(
    name: &str,
    local: String,
    insi: String,
    comparison: Comparison,
    note: &str,
) -> TraitComparison {
    TraitComparison {
        name: name.to_owned(),
        local,
        insi,
        comparison: comparison as i32,
        note: note.to_owned(),
    }
}

fn same(local: &str, insi: &str) -> Comparison {
    if local == insi {
        Comparison::Match
    } else {
        Comparison::Mismatch
    }
}

fn ins_text(i: &Ins) -> String {
    format!("{} {} ({})", i.matricule(), i.key(), i.oid())
}

fn same_ins(a: &Ins, b: &Ins) -> bool {
    a.matricule() == b.matricule() && a.key() == b.key() && a.oid() == b.oid()
}

/// Compares the caller's INS and traits with the identity INSi returned.
pub fn compare(
    known: &Ins,
    traits: &IdentityTraits,
    found: &Individual,
) -> (VerifyResult, Vec<TraitComparison>) {
    let mut rows = Vec::new();
    let t = &found.traits;

    let ins_row = if same_ins(known, &found.active) {
        row(
            "ins",
            ins_text(known),
            ins_text(&found.active),
            Comparison::Match,
            "",
        )
    } else if found.history.iter().any(|h| same_ins(known, &h.ins)) {
        row(
            "ins",
            ins_text(known),
            ins_text(&found.active),
            Comparison::Mismatch,
            "the INS held is a former INS of this person: replace it with the active INS",
        )
    } else {
        row(
            "ins",
            ins_text(known),
            ins_text(&found.active),
            Comparison::Mismatch,
            "INSi gives another INS for these traits: the INS held may belong to someone else; do not use it, check the identity",
        )
    };
    rows.push(ins_row);

    let birth_name = traits.birth_name.as_str();
    rows.push(row(
        "birth_name",
        birth_name.to_owned(),
        t.birth_name.clone(),
        same(birth_name, &t.birth_name),
        "record the birth name exactly as INSi returns it",
    ));

    let local_first: Vec<&str> = traits.first_names.iter().map(|n| n.as_str()).collect();
    let insi_first: Vec<&str> = t.first_names.iter().map(String::as_str).collect();
    rows.push(row(
        "first_names",
        local_first.join(" "),
        insi_first.join(" "),
        if local_first == insi_first {
            Comparison::Match
        } else {
            Comparison::Mismatch
        },
        "record every birth first name, in INSi's order",
    ));

    let sex = t.sex.map(|s| s.code().to_owned()).unwrap_or_default();
    rows.push(match t.sex {
        Some(s) => row(
            "sex",
            traits.sex.code().to_owned(),
            sex,
            same(traits.sex.code(), s.code()),
            "check the sex on the identity document",
        ),
        None => row(
            "sex",
            traits.sex.code().to_owned(),
            sex,
            Comparison::NotCompared,
            "",
        ),
    });

    let local_date = traits.birth_date.to_string();
    rows.push(match t.birth_date {
        Some(d) => row(
            "birth_date",
            local_date.clone(),
            d.to_string(),
            same(&local_date, &d.to_string()),
            "record the birth date as INSi returns it (it may be a lunar date)",
        ),
        None => row(
            "birth_date",
            local_date,
            String::new(),
            Comparison::NotCompared,
            "",
        ),
    });

    let local_place = traits
        .birth_place
        .as_ref()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let insi_place = t.birth_place.clone().unwrap_or_default();
    rows.push(if local_place.is_empty() || insi_place.is_empty() {
        row(
            "birth_place",
            local_place,
            insi_place,
            Comparison::NotCompared,
            "record the birth place (COG code) INSi returns",
        )
    } else {
        row(
            "birth_place",
            local_place.clone(),
            insi_place.clone(),
            same(&local_place, &insi_place),
            "record the birth place (COG code) INSi returns",
        )
    });

    let mismatch = rows
        .iter()
        .any(|r| r.comparison == Comparison::Mismatch as i32);
    let result = if mismatch {
        VerifyResult::Mismatch
    } else {
        VerifyResult::Verified
    };
    // Notes only where they say what to do.
    for r in &mut rows {
        if r.comparison != Comparison::Mismatch as i32 {
            r.note.clear();
        }
    }
    (result, rows)
}

#[cfg(test)]
mod tests {
    use passerelle_domain::{InsOid, LunarDate, Sex, TraitsInput};

    use super::*;
    use crate::insi::{HistoricalIns, ReturnedTraits};

    fn individual() -> Individual {
        Individual {
            active: Ins::from_service("1090763220834", "89", InsOid::Nir).unwrap(),
            history: vec![HistoricalIns {
                ins: Ins::from_service("2090763220834", "39", InsOid::Nir).unwrap(),
                valid_from: None,
                valid_until: None,
            }],
            traits: ReturnedTraits {
                birth_name: "ECETINSI".into(),
                first_names: vec!["PIERRE-ALAIN".into(), "MURIEL".into(), "FLORIANT".into()],
                sex: Some(Sex::Male),
                birth_date: Some(LunarDate::parse("2009-07-14").unwrap()),
                birth_place: Some("63220".into()),
            },
        }
    }

    fn traits(first: &[&str], date: &str) -> IdentityTraits {
        IdentityTraits::from_input(&TraitsInput {
            birth_name: "ECETINSI".into(),
            first_names: first.iter().map(|s| (*s).to_owned()).collect(),
            sex: "M".into(),
            birth_date: date.into(),
            ..Default::default()
        })
        .unwrap()
    }

    fn get<'a>(rows: &'a [TraitComparison], t: &str) -> &'a TraitComparison {
        rows.iter().find(|r| r.name == t).unwrap()
    }

    #[test]
    fn same_ins_and_traits_verify() {
        let known = Ins::typed("1090763220834", "89", InsOid::Nir).unwrap();
        let (result, rows) = compare(
            &known,
            &traits(&["PIERRE-ALAIN", "MURIEL", "FLORIANT"], "2009-07-14"),
            &individual(),
        );
        assert_eq!(result, VerifyResult::Verified);
        assert_eq!(
            get(&rows, "birth_place").comparison,
            Comparison::NotCompared as i32
        );
        assert!(rows.iter().all(|r| r.note.is_empty()));
    }

    #[test]
    fn a_former_ins_is_told_apart() {
        let known = Ins::typed("2090763220834", "39", InsOid::Nir).unwrap();
        let (result, rows) = compare(
            &known,
            &traits(&["PIERRE-ALAIN", "MURIEL", "FLORIANT"], "2009-07-14"),
            &individual(),
        );
        assert_eq!(result, VerifyResult::Mismatch);
        assert!(get(&rows, "ins").note.contains("former INS"));
    }

    #[test]
    fn each_differing_trait_is_reported() {
        let known = Ins::typed("1090763220834", "89", InsOid::Nir).unwrap();
        let (result, rows) = compare(
            &known,
            &traits(&["PIERRE-ALAIN"], "2009-07-14"),
            &individual(),
        );
        assert_eq!(result, VerifyResult::Mismatch);
        let fnames = get(&rows, "first_names");
        assert_eq!(fnames.comparison, Comparison::Mismatch as i32);
        assert_eq!(fnames.insi, "PIERRE-ALAIN MURIEL FLORIANT");
        assert!(fnames.note.contains("every birth first name"));
        assert_eq!(get(&rows, "ins").comparison, Comparison::Match as i32);
    }

    #[test]
    fn another_persons_ins_is_flagged() {
        let known = Ins::typed("2480392630010", "64", InsOid::Nir).unwrap();
        let (result, rows) = compare(
            &known,
            &traits(&["PIERRE-ALAIN", "MURIEL", "FLORIANT"], "2009-07-14"),
            &individual(),
        );
        assert_eq!(result, VerifyResult::Mismatch);
        assert!(get(&rows, "ins").note.contains("someone else"));
    }
}
