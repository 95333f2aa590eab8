use std::fmt;

/// Errors building an [`InsOid`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidError {
    #[error(
        "unknown INS OID {0:?}: expected 1.2.250.1.213.1.4.8 (NIR), .9 (NIA), .10 (test NIR) or .11 (demo)"
    )]
    Unknown(String),
}

/// The assigning authority of an INS matricule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum InsOid {
    /// Numéro d'inscription au répertoire (NIR), the usual case.
    Nir,
    /// Numéro identifiant d'attente (NIA), a provisional number.
    Nia,
    /// NIR of the test environments.
    TestNir,
    /// NIR of demonstration data.
    Demo,
}

impl InsOid {
    pub const NIR: &'static str = "1.2.250.1.213.1.4.8";
    pub const NIA: &'static str = "1.2.250.1.213.1.4.9";
    pub const TEST_NIR: &'static str = "1.2.250.1.213.1.4.10";
    pub const DEMO: &'static str = "1.2.250.1.213.1.4.11";

    pub fn parse(s: &str) -> Result<Self, OidError> {
        match s.trim() {
            Self::NIR => Ok(Self::Nir),
            Self::NIA => Ok(Self::Nia),
            Self::TEST_NIR => Ok(Self::TestNir),
            Self::DEMO => Ok(Self::Demo),
            other => Err(OidError::Unknown(other.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nir => Self::NIR,
            Self::Nia => Self::NIA,
            Self::TestNir => Self::TEST_NIR,
            Self::Demo => Self::DEMO,
        }
    }
}

impl fmt::Display for InsOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_oid_round_trips() {
        for oid in [InsOid::Nir, InsOid::Nia, InsOid::TestNir, InsOid::Demo] {
            assert_eq!(InsOid::parse(oid.as_str()), Ok(oid));
        }
    }

    #[test]
    fn unknown_oid_is_refused() {
        assert!(matches!(
            InsOid::parse("1.2.250.1.213.1.4.7"),
            Err(OidError::Unknown(_))
        ));
    }
}
