//! Identity traits normalised by the identity-vigilance rules (RNIV): upper case, accents and
//! ligatures removed, hyphen and apostrophe kept, single spaces, nothing else.

use std::fmt;

use crate::{LunarDate, LunarDateError};

/// Errors building identity traits; each names the field to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraitError {
    #[error("{field} is empty: it is required")]
    Empty { field: &'static str },
    #[error(
        "{field} {value:?} contains {chars:?}: only letters, spaces, hyphen and apostrophe are allowed"
    )]
    Characters {
        field: &'static str,
        value: String,
        chars: String,
    },
    #[error("{field} {value:?} is too long ({len} characters, at most {max})")]
    TooLong {
        field: &'static str,
        value: String,
        len: usize,
        max: usize,
    },
    #[error("sex {0:?} is not known: use M (male) or F (female)")]
    Sex(String),
    #[error(transparent)]
    BirthDate(#[from] LunarDateError),
    #[error(
        "birth place {0:?} is not an INSEE COG code: 5 characters, e.g. 63220, 2A004, or 99xxx for a birth abroad"
    )]
    BirthPlace(String),
}

impl TraitError {
    /// The request field at fault, for error details.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Empty { field }
            | Self::Characters { field, .. }
            | Self::TooLong { field, .. } => field,
            Self::Sex(_) => "sex",
            Self::BirthDate(_) => "birth_date",
            Self::BirthPlace(_) => "birth_place",
        }
    }
}

/// One thing normalisation changed, shown to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameChange {
    Trimmed,
    SpacesCollapsed,
    Uppercased,
    AccentsRemoved,
    LigaturesExpanded,
    ApostropheStandardised,
    SpacesAroundHyphenRemoved,
}

impl NameChange {
    pub fn code(self) -> &'static str {
        match self {
            Self::Trimmed => "TRIMMED",
            Self::SpacesCollapsed => "SPACES_COLLAPSED",
            Self::Uppercased => "UPPERCASED",
            Self::AccentsRemoved => "ACCENTS_REMOVED",
            Self::LigaturesExpanded => "LIGATURES_EXPANDED",
            Self::ApostropheStandardised => "APOSTROPHE_STANDARDISED",
            Self::SpacesAroundHyphenRemoved => "SPACES_AROUND_HYPHEN_REMOVED",
        }
    }
}

impl fmt::Display for NameChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Trimmed => "leading or trailing spaces removed",
            Self::SpacesCollapsed => "repeated spaces reduced to one",
            Self::Uppercased => "put in upper case",
            Self::AccentsRemoved => "accents removed",
            Self::LigaturesExpanded => "ligatures written out (Œ → OE, Æ → AE)",
            Self::ApostropheStandardised => "typographic apostrophe replaced by '",
            Self::SpacesAroundHyphenRemoved => "spaces around a hyphen removed",
        })
    }
}

/// A value with what normalisation changed to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalised<T> {
    pub value: T,
    pub original: String,
    pub changes: Vec<NameChange>,
}

/// A name (birth name, used name, one first name) in identity-vigilance form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

/// Longest name accepted; INSi traits are far shorter, this only bounds garbage.
const MAX_NAME_LEN: usize = 100;

impl Name {
    /// Normalises `input` and says what changed; refuses empty names and characters that
    /// identity vigilance does not allow (digits, punctuation other than - and ').
    pub fn normalise(field: &'static str, input: &str) -> Result<Normalised<Name>, TraitError> {
        let mut changes = Vec::new();
        let mut note = |c: NameChange| {
            if !changes.contains(&c) {
                changes.push(c);
            }
        };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(TraitError::Empty { field });
        }
        if trimmed.len() != input.len() {
            note(NameChange::Trimmed);
        }
        let mut out = String::with_capacity(trimmed.len());
        let mut bad = String::new();
        for c in trimmed.chars() {
            match c {
                'A'..='Z' | '-' | '\'' => out.push(c),
                'a'..='z' => {
                    note(NameChange::Uppercased);
                    out.push(c.to_ascii_uppercase());
                }
                '’' | 'ʼ' | '`' | '´' => {
                    note(NameChange::ApostropheStandardised);
                    out.push('\'');
                }
                c if c.is_whitespace() => {
                    if out.ends_with(' ') {
                        note(NameChange::SpacesCollapsed);
                    } else {
                        out.push(' ');
                    }
                }
                c => match fold(c) {
                    Some((folded, change)) => {
                        if c.is_lowercase() {
                            note(NameChange::Uppercased);
                        }
                        note(change);
                        out.push_str(folded);
                    }
                    None => {
                        if !bad.contains(c) {
                            bad.push(c);
                        }
                    }
                },
            }
        }
        if !bad.is_empty() {
            return Err(TraitError::Characters {
                field,
                value: input.to_owned(),
                chars: bad,
            });
        }
        if out.contains(" -") || out.contains("- ") {
            note(NameChange::SpacesAroundHyphenRemoved);
            out = out.replace(" -", "-").replace("- ", "-");
        }
        if out.chars().all(|c| c == '-' || c == '\'' || c == ' ') {
            return Err(TraitError::Empty { field });
        }
        let len = out.chars().count();
        if len > MAX_NAME_LEN {
            return Err(TraitError::TooLong {
                field,
                value: input.chars().take(MAX_NAME_LEN).collect(),
                len,
                max: MAX_NAME_LEN,
            });
        }
        Ok(Normalised {
            value: Name(out),
            original: input.to_owned(),
            changes,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Upper-case ASCII form of an accented letter or ligature.
fn fold(c: char) -> Option<(&'static str, NameChange)> {
    use NameChange::{AccentsRemoved as A, LigaturesExpanded as L};
    Some(match c {
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => {
            ("A", A)
        }
        'Ç' | 'ç' => ("C", A),
        'È' | 'É' | 'Ê' | 'Ë' | 'è' | 'é' | 'ê' | 'ë' => ("E", A),
        'Ì' | 'Í' | 'Î' | 'Ï' | 'ì' | 'í' | 'î' | 'ï' => ("I", A),
        'Ñ' | 'ñ' => ("N", A),
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => {
            ("O", A)
        }
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'ù' | 'ú' | 'û' | 'ü' => ("U", A),
        'Ý' | 'Ÿ' | 'ý' | 'ÿ' => ("Y", A),
        'Œ' | 'œ' => ("OE", L),
        'Æ' | 'æ' => ("AE", L),
        'ß' => ("SS", L),
        _ => return None,
    })
}

/// Administrative sex as INSi codes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn parse(input: &str) -> Result<Self, TraitError> {
        match input.trim() {
            "M" | "m" => Ok(Self::Male),
            "F" | "f" => Ok(Self::Female),
            _ => Err(TraitError::Sex(input.to_owned())),
        }
    }

    /// The INSi code, `M` or `F`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Male => "M",
            Self::Female => "F",
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::Male => Self::Female,
            Self::Female => Self::Male,
        }
    }
}

/// Birth place as an INSEE COG code: 5 digits, 2A/2B + 3 digits for Corsica, 99xxx abroad.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BirthPlace(String);

impl BirthPlace {
    pub fn parse(input: &str) -> Result<Self, TraitError> {
        let s = input.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let ok = b.len() == 5
            && b[0].is_ascii_digit()
            && (b[1].is_ascii_digit() || (b[0] == b'2' && (b[1] == b'A' || b[1] == b'B')))
            && b[2..].iter().all(u8::is_ascii_digit);
        if ok {
            Ok(Self(s))
        } else {
            Err(TraitError::BirthPlace(input.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BirthPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identity traits as a caller sends them, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraitsInput {
    pub birth_name: String,
    pub used_name: Option<String>,
    /// First names; an entry holding several space-separated names counts as several.
    pub first_names: Vec<String>,
    pub sex: String,
    pub birth_date: String,
    pub birth_place: Option<String>,
}

/// One field normalisation changed, to show the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldNormalisation {
    pub field: &'static str,
    pub original: String,
    pub normalised: String,
    pub changes: Vec<NameChange>,
}

/// Validated, normalised identity traits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityTraits {
    pub birth_name: Name,
    pub used_name: Option<Name>,
    pub first_names: Vec<Name>,
    pub sex: Sex,
    pub birth_date: LunarDate,
    pub birth_place: Option<BirthPlace>,
    /// What normalisation changed, field by field (empty when the input was already clean).
    pub normalisations: Vec<FieldNormalisation>,
}

impl IdentityTraits {
    pub fn from_input(input: &TraitsInput) -> Result<Self, TraitError> {
        let mut normalisations = Vec::new();
        let mut take = |field: &'static str, raw: &str| -> Result<Name, TraitError> {
            let n = Name::normalise(field, raw)?;
            if !n.changes.is_empty() {
                normalisations.push(FieldNormalisation {
                    field,
                    original: n.original,
                    normalised: n.value.0.clone(),
                    changes: n.changes,
                });
            }
            Ok(n.value)
        };
        let birth_name = take("birth_name", &input.birth_name)?;
        let used_name = match input.used_name.as_deref() {
            Some(u) if !u.trim().is_empty() => Some(take("used_name", u)?),
            _ => None,
        };
        if input.first_names.iter().all(|f| f.trim().is_empty()) {
            return Err(TraitError::Empty {
                field: "first_names",
            });
        }
        let mut first_names = Vec::new();
        for raw in &input.first_names {
            if raw.trim().is_empty() {
                return Err(TraitError::Empty {
                    field: "first_names",
                });
            }
            let list = take("first_names", raw)?;
            first_names.extend(list.0.split(' ').map(|s| Name(s.to_owned())));
        }
        let sex = Sex::parse(&input.sex)?;
        let birth_date = LunarDate::parse(&input.birth_date)?;
        let birth_place = match input.birth_place.as_deref() {
            Some(p) if !p.trim().is_empty() => Some(BirthPlace::parse(p)?),
            _ => None,
        };
        Ok(Self {
            birth_name,
            used_name,
            first_names,
            sex,
            birth_date,
            birth_place,
            normalisations,
        })
    }

    /// All first names, space-separated, as INSi's `ListePrenom`.
    pub fn first_names_list(&self) -> String {
        self.first_names
            .iter()
            .map(Name::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Normalised<Name> {
        Name::normalise("birth_name", s).unwrap()
    }

    #[test]
    fn accents_case_and_spaces_are_normalised_and_reported() {
        let n = norm("  Hélène   d’Arçy ");
        assert_eq!(n.value.as_str(), "HELENE D'ARCY");
        for c in [
            NameChange::Trimmed,
            NameChange::SpacesCollapsed,
            NameChange::Uppercased,
            NameChange::AccentsRemoved,
            NameChange::ApostropheStandardised,
        ] {
            assert!(n.changes.contains(&c), "{c:?} not reported");
        }
    }

    #[test]
    fn hyphen_and_apostrophe_are_kept() {
        let n = norm("PAT-DOUZE");
        assert_eq!(n.value.as_str(), "PAT-DOUZE");
        assert!(n.changes.is_empty());
        assert_eq!(norm("O'NEIL").value.as_str(), "O'NEIL");
    }

    #[test]
    fn spaces_around_hyphen_are_removed() {
        let n = norm("PAT - DOUZE");
        assert_eq!(n.value.as_str(), "PAT-DOUZE");
        assert!(n.changes.contains(&NameChange::SpacesAroundHyphenRemoved));
    }

    #[test]
    fn ligatures_are_expanded() {
        assert_eq!(norm("Lætitia Bœuf").value.as_str(), "LAETITIA BOEUF");
    }

    #[test]
    fn digits_and_punctuation_are_refused() {
        let err = Name::normalise("birth_name", "DUPONT2.").unwrap_err();
        assert_eq!(
            err,
            TraitError::Characters {
                field: "birth_name",
                value: "DUPONT2.".into(),
                chars: "2.".into()
            }
        );
    }

    #[test]
    fn empty_names_are_refused() {
        for s in ["", "   ", "-", " ' "] {
            assert!(matches!(
                Name::normalise("birth_name", s),
                Err(TraitError::Empty { .. })
            ));
        }
    }

    fn input() -> TraitsInput {
        TraitsInput {
            birth_name: "pat-douze".into(),
            used_name: None,
            first_names: vec!["Nathalie".into()],
            sex: "F".into(),
            birth_date: "1948-03-21".into(),
            birth_place: None,
        }
    }

    #[test]
    fn traits_from_input_report_normalisation() {
        let t = IdentityTraits::from_input(&input()).unwrap();
        assert_eq!(t.birth_name.as_str(), "PAT-DOUZE");
        assert_eq!(t.first_names_list(), "NATHALIE");
        assert_eq!(t.normalisations.len(), 2);
        assert_eq!(t.normalisations[0].field, "birth_name");
        assert_eq!(t.normalisations[0].original, "pat-douze");
    }

    #[test]
    fn first_name_entries_are_split() {
        let mut i = input();
        i.first_names = vec!["Ola Catarina".into(), "Bella".into()];
        let t = IdentityTraits::from_input(&i).unwrap();
        assert_eq!(t.first_names_list(), "OLA CATARINA BELLA");
        assert_eq!(t.first_names.len(), 3);
    }

    #[test]
    fn bad_traits_name_the_field() {
        let mut i = input();
        i.first_names = vec![" ".into()];
        assert_eq!(
            IdentityTraits::from_input(&i).unwrap_err().field(),
            "first_names"
        );
        let mut i = input();
        i.sex = "X".into();
        let e = IdentityTraits::from_input(&i).unwrap_err();
        assert_eq!(e.field(), "sex");
        assert!(e.to_string().contains("use M"));
        let mut i = input();
        i.birth_date = "1948-3-21".into();
        assert_eq!(
            IdentityTraits::from_input(&i).unwrap_err().field(),
            "birth_date"
        );
        let mut i = input();
        i.birth_place = Some("6322".into());
        assert_eq!(
            IdentityTraits::from_input(&i).unwrap_err().field(),
            "birth_place"
        );
    }

    #[test]
    fn birth_places() {
        for ok in ["63220", "2A020", "2b020", "99134"] {
            assert!(BirthPlace::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["6322", "3A020", "ABCDE", "632200"] {
            assert!(BirthPlace::parse(bad).is_err(), "{bad}");
        }
    }
}
