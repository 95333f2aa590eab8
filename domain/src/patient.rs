//! For whom: the patient's identity as a caller holds it (INS, traits, and the
//! identity-vigilance status the caller attests), and the one rule deciding whether its INS
//! is *qualified* — what the DMP, MSSanté Citoyen and sharing require.

use std::fmt;

use crate::{IdentityTraits, Ins, InsOid};

/// Identity-vigilance status of an identity (RNIV).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentityStatus {
    /// Neither the INS retrieved or verified nor a high-trust document checked.
    Provisoire,
    /// INS retrieved or verified with INSi; no high-trust document checked.
    Recuperee,
    /// High-trust document checked; INS not retrieved or verified.
    Validee,
    /// Both: the only status that allows sharing.
    Qualifiee,
}

/// An identity status that is none of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown identity status {0:?}: provisoire, recuperee, validee or qualifiee")]
pub struct IdentityStatusError(pub String);

impl IdentityStatus {
    pub const ALL: [Self; 4] = [
        Self::Provisoire,
        Self::Recuperee,
        Self::Validee,
        Self::Qualifiee,
    ];

    /// Accepts the names with or without accents, in any case.
    pub fn parse(input: &str) -> Result<Self, IdentityStatusError> {
        let folded: String = input
            .trim()
            .to_lowercase()
            .chars()
            .map(|c| if c == 'é' { 'e' } else { c })
            .collect();
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == folded)
            .ok_or_else(|| IdentityStatusError(input.to_owned()))
    }

    /// The name without accents: `provisoire`, `recuperee`, `validee`, `qualifiee`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisoire => "provisoire",
            Self::Recuperee => "recuperee",
            Self::Validee => "validee",
            Self::Qualifiee => "qualifiee",
        }
    }
}

impl fmt::Display for IdentityStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A patient's identity as held: the INS (its key is not refused here, so that the rule
/// below can say what is wrong), the traits if given, and the status the holder attests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientIdentity {
    pub ins: Ins,
    pub traits: Option<IdentityTraits>,
    pub status: IdentityStatus,
}

/// Whether the upstream service is a test platform: only there does the test INS-NIR OID
/// (`1.2.250.1.213.1.4.10`, used by every CNAM test platform) stand for a real INS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Platform {
    #[default]
    Production,
    Test,
}

/// Why an INS is not qualified, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotQualified {
    #[error(
        "the identity status is {0}, not qualifiee: retrieve or verify the INS with INSi and check the identity on a high-trust document (passport, identity card, residence permit) first"
    )]
    Status(IdentityStatus),
    #[error(
        "the INS key {given} does not match matricule {matricule} (expected {expected}): verify the INS with INSi"
    )]
    WrongKey {
        matricule: String,
        given: String,
        expected: String,
    },
    #[error(
        "the INS has the test OID {}: it is accepted only where the upstream is configured as a test platform",
        InsOid::TEST_NIR
    )]
    TestOid,
    #[error(
        "the INS has the demonstration OID {}: it never identifies a patient; use the INS-NIR ({}) or INS-NIA ({}) returned by INSi",
        InsOid::DEMO,
        InsOid::NIR,
        InsOid::NIA
    )]
    DemoOid,
}

/// An INS that may be used to share: the one rule, in one place.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QualifiedIns(Ins);

impl QualifiedIns {
    /// Status qualifiée, a key that checks, and the OID of INS-NIR or INS-NIA — or the test
    /// INS-NIR OID on a test platform.
    pub fn try_new(identity: &PatientIdentity, platform: Platform) -> Result<Self, NotQualified> {
        if identity.status != IdentityStatus::Qualifiee {
            return Err(NotQualified::Status(identity.status));
        }
        let ins = &identity.ins;
        if !ins.key_valid() {
            return Err(NotQualified::WrongKey {
                matricule: ins.matricule().to_string(),
                given: ins.key().to_string(),
                expected: ins.matricule().expected_key().to_string(),
            });
        }
        match (ins.oid(), platform) {
            (InsOid::Nir | InsOid::Nia, _) | (InsOid::TestNir, Platform::Test) => {
                Ok(Self(ins.clone()))
            }
            (InsOid::TestNir, Platform::Production) => Err(NotQualified::TestOid),
            (InsOid::Demo, _) => Err(NotQualified::DemoOid),
        }
    }

    pub fn ins(&self) -> &Ins {
        &self.0
    }
}

impl TryFrom<(&PatientIdentity, Platform)> for QualifiedIns {
    type Error = NotQualified;

    fn try_from((identity, platform): (&PatientIdentity, Platform)) -> Result<Self, Self::Error> {
        Self::try_new(identity, platform)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(ins: Ins, status: IdentityStatus) -> PatientIdentity {
        PatientIdentity {
            ins,
            traits: None,
            status,
        }
    }

    fn nir(oid: InsOid) -> Ins {
        Ins::typed("2480392630010", "64", oid).unwrap()
    }

    #[test]
    fn qualified_nir_and_nia_pass_everywhere() {
        for oid in [InsOid::Nir, InsOid::Nia] {
            for platform in [Platform::Production, Platform::Test] {
                let q =
                    QualifiedIns::try_new(&identity(nir(oid), IdentityStatus::Qualifiee), platform)
                        .unwrap();
                assert_eq!(q.ins().oid(), oid);
            }
        }
    }

    #[test]
    fn every_other_status_is_refused() {
        for status in [
            IdentityStatus::Provisoire,
            IdentityStatus::Recuperee,
            IdentityStatus::Validee,
        ] {
            let e = QualifiedIns::try_new(&identity(nir(InsOid::Nir), status), Platform::Test)
                .unwrap_err();
            assert_eq!(e, NotQualified::Status(status));
            assert!(e.to_string().contains("high-trust document"), "{e}");
        }
    }

    #[test]
    fn a_key_that_does_not_check_is_refused() {
        let ins = Ins::from_service("1810363220456", "60", InsOid::Nir).unwrap();
        let e = QualifiedIns::try_new(
            &identity(ins, IdentityStatus::Qualifiee),
            Platform::Production,
        )
        .unwrap_err();
        assert_eq!(
            e,
            NotQualified::WrongKey {
                matricule: "1810363220456".into(),
                given: "60".into(),
                expected: "76".into()
            }
        );
    }

    #[test]
    fn the_test_oid_only_on_a_test_platform() {
        let id = identity(nir(InsOid::TestNir), IdentityStatus::Qualifiee);
        assert!(QualifiedIns::try_from((&id, Platform::Test)).is_ok());
        assert_eq!(
            QualifiedIns::try_from((&id, Platform::Production)),
            Err(NotQualified::TestOid)
        );
    }

    #[test]
    fn the_demo_oid_never() {
        let id = identity(nir(InsOid::Demo), IdentityStatus::Qualifiee);
        for platform in [Platform::Production, Platform::Test] {
            assert_eq!(
                QualifiedIns::try_new(&id, platform),
                Err(NotQualified::DemoOid)
            );
        }
    }

    #[test]
    fn statuses_parse_with_or_without_accents() {
        assert_eq!(
            IdentityStatus::parse("Qualifiée"),
            Ok(IdentityStatus::Qualifiee)
        );
        assert_eq!(
            IdentityStatus::parse("recuperee"),
            Ok(IdentityStatus::Recuperee)
        );
        assert_eq!(
            IdentityStatus::parse("RÉCUPÉRÉE"),
            Ok(IdentityStatus::Recuperee)
        );
        assert!(IdentityStatus::parse("verified").is_err());
        for s in IdentityStatus::ALL {
            assert_eq!(IdentityStatus::parse(s.as_str()), Ok(s));
        }
    }
}
