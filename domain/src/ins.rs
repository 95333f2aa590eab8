use std::fmt;

use crate::InsOid;

/// Errors building a [`Matricule`], a [`Key`] or an [`Ins`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsError {
    #[error(
        "matricule {0:?} must have 13 characters: sex digit, year, month, department (2A/2B for Corsica), commune, order — e.g. 1850578006084"
    )]
    MatriculeFormat(String),
    #[error("key {0:?} must be two digits between 01 and 97")]
    KeyFormat(String),
    #[error(
        "INS {0:?} must have 15 characters, the 13-character matricule then its 2-digit key (or the 13-character matricule alone, its key is then computed)"
    )]
    NumberFormat(String),
    #[error(
        "key {given} does not match matricule {matricule} (expected {expected}): check both for a typing error"
    )]
    WrongKey {
        matricule: String,
        given: String,
        expected: String,
    },
}

/// The 13-character INS matricule (NIR or NIA), without its key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Matricule(String);

impl Matricule {
    /// Accepts the matricule as users type it (spaces allowed, `2a`/`2b` in any case).
    pub fn parse(input: &str) -> Result<Self, InsError> {
        let s: String = input
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let b = s.as_bytes();
        let err = || InsError::MatriculeFormat(input.to_owned());
        if b.len() != 13 {
            return Err(err());
        }
        for (i, &c) in b.iter().enumerate() {
            let ok = match i {
                // Corsican departments 2A/2B: the letter stands where a digit would.
                6 => c.is_ascii_digit() || ((c == b'A' || c == b'B') && b[5] == b'2'),
                _ => c.is_ascii_digit(),
            };
            if !ok {
                return Err(err());
            }
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key this matricule should carry.
    pub fn expected_key(&self) -> Key {
        Key(compute_key(self))
    }
}

impl fmt::Display for Matricule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Key = 97 − (matricule mod 97), with Corsica's 2A read as 19 and 2B as 18.
pub fn compute_key(m: &Matricule) -> u8 {
    let digits = m.0.replacen("2A", "19", 1).replacen("2B", "18", 1);
    // 13 digits fit in a u64; the matricule was validated on construction.
    let n = digits
        .bytes()
        .fold(0u64, |acc, c| acc * 10 + u64::from(c - b'0'));
    (97 - (n % 97)) as u8
}

/// The two-digit control key of a matricule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(u8);

impl Key {
    pub fn parse(input: &str) -> Result<Self, InsError> {
        let s = input.trim();
        let err = || InsError::KeyFormat(input.to_owned());
        if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let v: u8 = s.parse().map_err(|_| err())?;
        if !(1..=97).contains(&v) {
            return Err(err());
        }
        Ok(Self(v))
    }

    pub fn value(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

/// An INS: matricule, key and the OID of its assigning authority.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ins {
    matricule: Matricule,
    key: Key,
    oid: InsOid,
    key_valid: bool,
}

impl Ins {
    /// An INS typed by a user: a key that does not check is refused (typo guard).
    pub fn typed(matricule: &str, key: &str, oid: InsOid) -> Result<Self, InsError> {
        let m = Matricule::parse(matricule)?;
        let k = Key::parse(key)?;
        let expected = m.expected_key();
        if k != expected {
            return Err(InsError::WrongKey {
                matricule: m.0,
                given: k.to_string(),
                expected: expected.to_string(),
            });
        }
        Ok(Self {
            matricule: m,
            key: k,
            oid,
            key_valid: true,
        })
    }

    /// An INS typed as one number: 15 characters (matricule then key, spaces allowed), or the
    /// 13-character matricule alone, whose key is then computed.
    pub fn typed_number(input: &str, oid: InsOid) -> Result<Self, InsError> {
        let s: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        match s.chars().count() {
            13 => {
                let m = Matricule::parse(&s)?;
                let key = m.expected_key();
                Ok(Self {
                    matricule: m,
                    key,
                    oid,
                    key_valid: true,
                })
            }
            15 => match (s.get(..13), s.get(13..)) {
                (Some(m), Some(k)) => Self::typed(m, k, oid),
                _ => Err(InsError::NumberFormat(input.to_owned())),
            },
            _ => Err(InsError::NumberFormat(input.to_owned())),
        }
    }

    /// An INS answered by the national service. The service is authoritative: a key that does
    /// not check (some official test identities have one) is kept and flagged, not refused.
    pub fn from_service(matricule: &str, key: &str, oid: InsOid) -> Result<Self, InsError> {
        let m = Matricule::parse(matricule)?;
        let k = Key::parse(key)?;
        let key_valid = k == m.expected_key();
        Ok(Self {
            matricule: m,
            key: k,
            oid,
            key_valid,
        })
    }

    pub fn matricule(&self) -> &Matricule {
        &self.matricule
    }
    pub fn key(&self) -> Key {
        self.key
    }
    pub fn oid(&self) -> InsOid {
        self.oid
    }
    /// False when the key does not match the matricule (only possible for service answers).
    pub fn key_valid(&self) -> bool {
        self.key_valid
    }
}

impl fmt::Display for Ins {
    /// The 15-character INS (matricule then key), as on documents and mailboxes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.matricule, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(m: &str) -> String {
        Matricule::parse(m).unwrap().expected_key().to_string()
    }

    #[test]
    fn keys_of_the_official_test_identities() {
        assert_eq!(key_of("2480392630010"), "64");
        assert_eq!(key_of("1090763220834"), "89");
        assert_eq!(key_of("2360663220836"), "56");
        assert_eq!(key_of("1090763220888"), "35");
    }

    #[test]
    fn corsica_departments() {
        assert_eq!(key_of("297022A020778"), "78");
        assert_eq!(key_of("160012B020777"), "13");
        assert_eq!(key_of("180032b020401"), "23");
    }

    #[test]
    fn typed_ins_with_wrong_key_is_refused() {
        let err = Ins::typed("2480392630010", "46", InsOid::Nir).unwrap_err();
        assert_eq!(
            err,
            InsError::WrongKey {
                matricule: "2480392630010".into(),
                given: "46".into(),
                expected: "64".into()
            }
        );
        assert!(err.to_string().contains("expected 64"));
    }

    #[test]
    fn typed_ins_accepts_spaces() {
        let ins = Ins::typed("2 48 03 92 630 010", "64", InsOid::Nir).unwrap();
        assert_eq!(ins.to_string(), "248039263001064");
    }

    #[test]
    fn typed_number_takes_15_or_13_characters() {
        let full = Ins::typed_number("2 48 03 92 630 010 64", InsOid::Nir).unwrap();
        assert_eq!(full.to_string(), "248039263001064");
        let computed = Ins::typed_number("2480392630010", InsOid::Nia).unwrap();
        assert_eq!(
            (computed.to_string(), computed.oid()),
            (full.to_string(), InsOid::Nia)
        );
        assert!(matches!(
            Ins::typed_number("24803926300106", InsOid::Nir),
            Err(InsError::NumberFormat(_))
        ));
        assert!(matches!(
            Ins::typed_number("248039263001046", InsOid::Nir),
            Err(InsError::WrongKey { .. })
        ));
        assert!(matches!(
            Ins::typed_number("2480392630O1064", InsOid::Nir),
            Err(InsError::MatriculeFormat(_))
        ));
        assert!(matches!(
            Ins::typed_number("2480392630é106", InsOid::Nir),
            Err(InsError::NumberFormat(_))
        ));
    }

    #[test]
    fn service_key_mismatch_is_kept_and_flagged() {
        // HERMANN GATIEN, CNDA test 2.08 case 2: the official answer's key does not check.
        let ins = Ins::from_service("1810363220456", "60", InsOid::Nir).unwrap();
        assert!(!ins.key_valid());
        assert_eq!(ins.key().to_string(), "60");
        assert_eq!(key_of("1810363220456"), "76");
    }

    #[test]
    fn malformed_matricules_are_refused() {
        for bad in [
            "",
            "248039263001",
            "24803926300100",
            "2480392630O10",
            "24803A2630010",
            "297023A020778",
        ] {
            assert!(
                matches!(Matricule::parse(bad), Err(InsError::MatriculeFormat(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in ["", "6", "640", "00", "98", "6a"] {
            assert!(Key::parse(bad).is_err(), "{bad:?}");
        }
    }
}
