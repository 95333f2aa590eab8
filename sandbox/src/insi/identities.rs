//! The identities the simulated service knows, and how a search finds them.
//!
//! Rules (the CNAM service's, as far as its public behaviour shows):
//! - traits search (`RECSANSVITALE`): birth name, sex and birth date equal, exactly;
//!   the first name sent equals the first registered first name or the whole list of
//!   registered first names; the birth place, when sent, equals the registered one.
//!   Nothing is normalised: a case, accent, space or hyphen difference finds nobody,
//!   as the tutorial's troubleshooting describes.
//! - carte Vitale search (`RECVITALE`): the beneficiary's matricule
//!   (`MatriculeIndividu`: active or historical NIR, key when sent) or, without it, the
//!   insured person's (`MatriculeOD`: `insured_matricule`, or the person's own NIR when
//!   self-insured); then birth name and birth date equal, and the birth rank when sent.

use std::path::Path;

use serde::Deserialize;

/// The identities shipped with the crate.
pub(crate) const BUILTIN_IDENTITIES: &str = include_str!("../../data/insi-identities.toml");

/// OID of an INS based on a NIR.
pub(crate) const OID_NIR: &str = "1.2.250.1.213.1.4.8";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Identity {
    pub birth_name: String,
    pub first_names: String,
    pub sex: String,
    pub birth_date: String,
    #[serde(default)]
    pub birth_place: Option<String>,
    pub matricule: String,
    pub key: String,
    #[serde(default)]
    pub oid: Option<String>,
    #[serde(default)]
    pub birth_rank: Option<u8>,
    #[serde(default)]
    pub insured_matricule: Option<String>,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryEntry {
    pub matricule: String,
    pub key: String,
    #[serde(default)]
    pub oid: Option<String>,
    #[serde(default)]
    pub date_start: Option<String>,
    #[serde(default)]
    pub date_end: Option<String>,
    #[serde(default)]
    pub type_matricule: Option<String>,
}

impl Identity {
    pub fn oid(&self) -> &str {
        self.oid.as_deref().unwrap_or(OID_NIR)
    }
}

impl HistoryEntry {
    pub fn oid(&self) -> &str {
        self.oid.as_deref().unwrap_or(OID_NIR)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityFile {
    #[serde(default)]
    identity: Vec<Identity>,
}

/// Traits of a `RECSANSVITALE` request, already checked for format.
#[derive(Debug, Clone)]
pub(crate) struct TraitsQuery {
    pub birth_name: String,
    /// The `Prenom` elements joined by a space.
    pub first_names: String,
    pub sex: String,
    pub birth_date: String,
    pub birth_place: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Matricule {
    pub number: String,
    pub key: Option<String>,
}

/// A `RECVITALE` request, already checked for format.
#[derive(Debug, Clone)]
pub(crate) struct VitaleQuery {
    pub individual: Option<Matricule>,
    pub insured: Option<Matricule>,
    pub birth_name: String,
    pub birth_date: String,
    pub birth_rank: Option<u8>,
}

#[derive(Debug, Clone)]
pub(crate) struct Registry {
    identities: Vec<Identity>,
}

impl Registry {
    pub fn builtin() -> Result<Self, String> {
        Self::from_toml(BUILTIN_IDENTITIES)
    }

    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        Self::from_toml(&text)
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        let file: IdentityFile = toml::from_str(text).map_err(|e| e.to_string())?;
        for (i, id) in file.identity.iter().enumerate() {
            validate(id).map_err(|e| format!("identity #{}: {e}", i + 1))?;
        }
        Ok(Self {
            identities: file.identity,
        })
    }

    pub fn len(&self) -> usize {
        self.identities.len()
    }

    pub fn search_traits(&self, q: &TraitsQuery) -> Vec<&Identity> {
        self.identities
            .iter()
            .filter(|id| {
                id.birth_name == q.birth_name
                    && id.sex == q.sex
                    && id.birth_date == q.birth_date
                    && first_name_matches(&id.first_names, &q.first_names)
                    && q.birth_place
                        .as_ref()
                        .is_none_or(|place| id.birth_place.as_ref() == Some(place))
            })
            .collect()
    }

    pub fn search_vitale(&self, q: &VitaleQuery) -> Vec<&Identity> {
        self.identities
            .iter()
            .filter(|id| {
                let holder = match (&q.individual, &q.insured) {
                    (Some(m), _) => individual_matches(id, m),
                    (None, Some(m)) => {
                        let insured = id.insured_matricule.as_deref().unwrap_or(&id.matricule);
                        insured == m.number
                    }
                    (None, None) => false,
                };
                holder
                    && id.birth_name == q.birth_name
                    && id.birth_date == q.birth_date
                    && q.birth_rank.is_none_or(|r| id.birth_rank.unwrap_or(1) == r)
            })
            .collect()
    }
}

fn first_name_matches(registered: &str, sent: &str) -> bool {
    let first = registered.split(' ').next().unwrap_or_default();
    sent == first || sent == registered
}

fn individual_matches(id: &Identity, m: &Matricule) -> bool {
    let key_ok = |key: &str| m.key.as_deref().is_none_or(|k| k == key);
    (id.matricule == m.number && key_ok(&id.key))
        || id
            .history
            .iter()
            .any(|h| h.matricule == m.number && key_ok(&h.key))
}

fn validate(id: &Identity) -> Result<(), String> {
    if id.birth_name.is_empty() || id.first_names.is_empty() {
        return Err("birth_name and first_names must not be empty".into());
    }
    if !is_sex(&id.sex) {
        return Err(format!("sex {:?} is not M or F", id.sex));
    }
    if !is_lunar_date(&id.birth_date) {
        return Err(format!("birth_date {:?} is not YYYY-MM-DD", id.birth_date));
    }
    if let Some(place) = &id.birth_place
        && !is_cog(place)
    {
        return Err(format!("birth_place {place:?} is not a COG code"));
    }
    let matricules = std::iter::once((&id.matricule, &id.key))
        .chain(id.history.iter().map(|h| (&h.matricule, &h.key)));
    for (number, key) in matricules {
        if !is_matricule(number) || !is_key(key) {
            return Err(format!("matricule {number:?} / key {key:?} malformed"));
        }
    }
    if let Some(insured) = &id.insured_matricule
        && !is_matricule(insured)
    {
        return Err(format!("insured_matricule {insured:?} malformed"));
    }
    Ok(())
}

pub(crate) fn is_sex(s: &str) -> bool {
    s == "M" || s == "F"
}

/// `\d{4}-\d{2}-\d{2}`, nothing more: day and month may be `00` or out of the calendar.
pub(crate) fn is_lunar_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// COG code: two characters of department (digits, `2A`, `2B`) then three digits.
pub(crate) fn is_cog(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && (b[..2].iter().all(u8::is_ascii_digit) || &b[..2] == b"2A" || &b[..2] == b"2B")
        && b[2..].iter().all(u8::is_ascii_digit)
}

/// NIR or NIA number: 13 characters, the 7th may be `A`/`B` (Corsica, `2A`/`2B`).
pub(crate) fn is_matricule(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 13
        && b.iter()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || (i == 6 && (*c == b'A' || *c == b'B')))
}

pub(crate) fn is_key(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traits(name: &str, first: &str, sex: &str, date: &str) -> TraitsQuery {
        TraitsQuery {
            birth_name: name.into(),
            first_names: first.into(),
            sex: sex.into(),
            birth_date: date.into(),
            birth_place: None,
        }
    }

    #[test]
    fn builtin_identities_load() {
        let registry = Registry::builtin().unwrap();
        assert_eq!(registry.len(), 12);
    }

    #[test]
    fn traits_matching_follows_the_first_name_rule() {
        let r = Registry::builtin().unwrap();
        assert_eq!(
            r.search_traits(&traits("TCHITCHI", "OLA", "F", "1936-06-21"))
                .len(),
            0
        );
        assert_eq!(
            r.search_traits(&traits("TCHITCHI", "CATARINA", "F", "1936-06-21"))
                .len(),
            1
        );
        assert_eq!(
            r.search_traits(&traits("TCHITCHI", "CATARINA BELLA", "F", "1936-06-21"))
                .len(),
            1
        );
        assert_eq!(
            r.search_traits(&traits("TCHITCHI", "BELLA", "F", "1936-06-21"))
                .len(),
            0
        );
        assert_eq!(
            r.search_traits(&traits("DE VINCI", "LEONARDO", "M", "2014-02-01"))
                .len(),
            2
        );
        assert_eq!(
            r.search_traits(&traits("HOUILLES", "PIERRE", "M", "1993-01-27"))
                .len(),
            0
        );
        assert_eq!(
            r.search_traits(&traits("tchitchi", "CATARINA", "F", "1936-06-21"))
                .len(),
            0
        );
        let mut q = traits("PAT-DOUZE", "NATHALIE", "F", "1948-03-21");
        assert_eq!(r.search_traits(&q).len(), 1);
        q.birth_place = Some("75056".into());
        assert_eq!(r.search_traits(&q).len(), 0);
    }

    #[test]
    fn the_tutorial_patient_is_registered_as_described() {
        let p = crate::tutorial::patient();
        let r = Registry::builtin().unwrap();
        let q = TraitsQuery {
            birth_name: p.birth_name.clone(),
            first_names: p.first_names.join(" "),
            sex: p.sex.clone(),
            birth_date: p.birth_date.clone(),
            birth_place: Some(p.birth_place.clone()),
        };
        let [found] = r.search_traits(&q)[..] else {
            panic!("the tutorial's patient must be found once");
        };
        assert_eq!(
            (found.matricule.as_str(), found.key.as_str(), found.oid()),
            (p.matricule.as_str(), p.key.as_str(), p.oid.as_str())
        );
    }

    #[test]
    fn vitale_matching_uses_matricules() {
        let r = Registry::builtin().unwrap();
        let q = VitaleQuery {
            individual: Some(Matricule {
                number: "2090763220834".into(),
                key: Some("39".into()),
            }),
            insured: None,
            birth_name: "ECETINSI".into(),
            birth_date: "2009-07-14".into(),
            birth_rank: None,
        };
        assert_eq!(r.search_vitale(&q).len(), 1);
        let q = VitaleQuery {
            individual: None,
            insured: Some(Matricule {
                number: "2480392630010".into(),
                key: None,
            }),
            birth_name: "PAT-DOUZE".into(),
            birth_date: "1948-03-21".into(),
            birth_rank: Some(2),
        };
        assert_eq!(r.search_vitale(&q).len(), 0);
    }

    #[test]
    fn formats() {
        assert!(is_lunar_date("1980-00-00"));
        assert!(!is_lunar_date("1980-1-01"));
        assert!(is_cog("2A020") && is_cog("99100") && !is_cog("2C020") && !is_cog("6322"));
        assert!(is_matricule("297022A020778") && !is_matricule("29702A2020778"));
    }
}
