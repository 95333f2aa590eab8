//! Who acts: the professional (or the structure's user) named in every call to a national
//! service, in organisation mode as in CPS mode — the DMP's VIHF names the user either way.
//!
//! Identifiers are checked on construction:
//! - RPPS: 11 digits, the last a Luhn check digit (the ANS test cards' numbers, e.g.
//!   99900063480, check); the national form `8` + RPPS (12 characters, as on the CPS) is
//!   accepted.
//! - ADELI: 9 characters (department, which may be 2A/2B, then digits); the national form `0` +
//!   ADELI is accepted. Its check digit rule is not public: only the shape is checked.
//! - FINESS: 9 characters, the department (2 digits, or 2A/2B) then 7 digits, the last a Luhn
//!   check digit over the 9. No rule for the Corsican letters was found: for 2A/2B only the
//!   shape is checked.
//! - SIRET: 14 digits, Luhn over the 14; La Poste's establishments (SIREN 356000000) may
//!   instead have a sum of digits that is a multiple of 5.

use std::fmt;

use crate::luhn;
use crate::vihf_role;

/// What is wrong with one field of a [`Professional`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfessionalProblem {
    #[error("is required: {0}")]
    Missing(&'static str),
    #[error(
        "{0:?} is not an RPPS number: 11 digits (or 12, the national form 8 + RPPS), e.g. 10001234565"
    )]
    RppsFormat(String),
    #[error("RPPS {0} has a wrong check digit (Luhn): check it for a typing error")]
    RppsCheckDigit(String),
    #[error(
        "{0:?} is not an ADELI number: 9 characters (or 10, the national form 0 + ADELI), e.g. 751234567"
    )]
    AdeliFormat(String),
    #[error("{0:?} is not an internal id: 1 to 64 printable characters without spaces")]
    InternalIdFormat(String),
    #[error(
        "{0:?} is not a FINESS number: 9 characters, department (2 digits or 2A/2B) then 7 digits"
    )]
    FinessFormat(String),
    #[error("FINESS {0} has a wrong check digit (Luhn): check it for a typing error")]
    FinessCheckDigit(String),
    #[error("{0:?} is not a SIRET number: 14 digits (SIREN then NIC)")]
    SiretFormat(String),
    #[error("SIRET {0} has a wrong check digit (Luhn): check it for a typing error")]
    SiretCheckDigit(String),
    #[error(
        "{0:?} is not a role the DMP accepts (JDV_J65): a profession code of TRE_G15 (e.g. 10 médecin, 60 infirmier) or a non-PS role (e.g. SECRETARIAT_MEDICAL)"
    )]
    UnknownProfession(String),
    #[error(
        "{0:?} is not a specialty the DMP accepts (JDV_J65): a TRE_R38 code (e.g. SM54 médecine générale) or, for a pharmacist, the section of the Ordre (e.g. G)"
    )]
    UnknownSpecialty(String),
    #[error(
        "a médecin needs a specialty (e.g. SM54 médecine générale): the DMP refuses a doctor without one"
    )]
    SpecialtyRequired,
    #[error(
        "{0:?} is a pharmacists' section: it is the specialty of a pharmacist (profession 21) only"
    )]
    SectionWithoutPharmacist(String),
    #[error("{0:?} is not an activity sector: SA then 2 digits (TRE_R02, e.g. SA07)")]
    ActivitySectorFormat(String),
    #[error("{0:?} is not a name: 1 to 100 characters, no control characters")]
    NameFormat(String),
}

/// A field of a [`Professional`] and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct ProfessionalError {
    /// The field, e.g. `professional.structure.id`.
    pub field: &'static str,
    pub problem: ProfessionalProblem,
}

fn err(field: &'static str, problem: ProfessionalProblem) -> ProfessionalError {
    ProfessionalError { field, problem }
}

/// Without spaces (users type numbers in groups).
fn compact(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// An RPPS number (11 digits, Luhn check digit).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rpps(String);

impl Rpps {
    pub fn parse(input: &str) -> Result<Self, ProfessionalProblem> {
        let s = compact(input);
        let digits = match s.len() {
            11 => s.as_str(),
            12 if s.starts_with('8') => &s[1..],
            _ => return Err(ProfessionalProblem::RppsFormat(input.to_owned())),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProfessionalProblem::RppsFormat(input.to_owned()));
        }
        if !luhn::is_valid(digits.as_bytes()) {
            return Err(ProfessionalProblem::RppsCheckDigit(digits.to_owned()));
        }
        Ok(Self(digits.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The national identifier (IDNPS, OID 1.2.250.1.71.4.2.1): `8` + RPPS.
    pub fn national_id(&self) -> String {
        format!("8{}", self.0)
    }
}

/// An ADELI number (9 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Adeli(String);

impl Adeli {
    pub fn parse(input: &str) -> Result<Self, ProfessionalProblem> {
        let s = compact(input);
        let body = match s.len() {
            9 => s.as_str(),
            10 if s.starts_with('0') => &s[1..],
            _ => return Err(ProfessionalProblem::AdeliFormat(input.to_owned())),
        };
        if !department_then_digits(body.as_bytes()) {
            return Err(ProfessionalProblem::AdeliFormat(input.to_owned()));
        }
        Ok(Self(body.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The national identifier (IDNPS): `0` + ADELI.
    pub fn national_id(&self) -> String {
        format!("0{}", self.0)
    }
}

/// Two department characters (digits, or 2A/2B), then digits only.
fn department_then_digits(b: &[u8]) -> bool {
    let corsica = b.len() > 2 && b[0] == b'2' && (b[1] == b'A' || b[1] == b'B');
    b.iter()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || (i == 1 && corsica))
}

/// How the professional is identified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProfessionalId {
    Rpps(Rpps),
    Adeli(Adeli),
    /// The structure's own id of a user who has neither (e.g. a medical secretary).
    Internal(String),
}

impl ProfessionalId {
    /// The identifier as sent upstream: the national form for RPPS and ADELI.
    pub fn national_id(&self) -> String {
        match self {
            Self::Rpps(r) => r.national_id(),
            Self::Adeli(a) => a.national_id(),
            Self::Internal(i) => i.clone(),
        }
    }
}

/// The kind of identifier given for a professional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProfessionalIdType {
    Rpps,
    Adeli,
    Internal,
}

/// A FINESS number (9 characters, Luhn check digit).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Finess(String);

impl Finess {
    pub fn parse(input: &str) -> Result<Self, ProfessionalProblem> {
        let s = compact(input);
        if s.len() != 9 || !department_then_digits(s.as_bytes()) {
            return Err(ProfessionalProblem::FinessFormat(input.to_owned()));
        }
        let corsica = s.as_bytes()[1].is_ascii_alphabetic();
        if !corsica && !luhn::is_valid(s.as_bytes()) {
            return Err(ProfessionalProblem::FinessCheckDigit(s));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A SIRET number (14 digits, Luhn check digit, La Poste's own rule).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Siret(String);

/// La Poste's SIREN: its many establishments are numbered with a sum of digits.
const LA_POSTE_SIREN: &str = "356000000";

impl Siret {
    pub fn parse(input: &str) -> Result<Self, ProfessionalProblem> {
        let s = compact(input);
        if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ProfessionalProblem::SiretFormat(input.to_owned()));
        }
        let valid = luhn::is_valid(s.as_bytes())
            || (s.starts_with(LA_POSTE_SIREN)
                && s.bytes()
                    .map(|b| u32::from(b - b'0'))
                    .sum::<u32>()
                    .is_multiple_of(5));
        if !valid {
            return Err(ProfessionalProblem::SiretCheckDigit(s));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a structure is identified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StructureId {
    Finess(Finess),
    Siret(Siret),
}

/// The kind of identifier given for a structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StructureIdType {
    Finess,
    Siret,
}

impl StructureId {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Finess(f) => f.as_str(),
            Self::Siret(s) => s.as_str(),
        }
    }
}

/// The structure (health establishment, centre, practice) the professional acts for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Structure {
    pub id: StructureId,
    pub name: String,
}

/// One VIHF subject role: a code and its code system (JDV_J65).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VihfRole {
    pub code: &'static str,
    pub code_system: &'static str,
}

/// A professional, every field checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Professional {
    id: ProfessionalId,
    family_name: String,
    given_name: String,
    profession: VihfRole,
    specialty: Option<VihfRole>,
    structure: Option<Structure>,
    activity_sector: Option<String>,
}

/// A professional as given: the fields of `passerelle.common.v1.Professional`, or options.
/// Empty strings are "not given".
#[derive(Debug, Clone, Copy, Default)]
pub struct ProfessionalInput<'a> {
    pub id_type: Option<ProfessionalIdType>,
    pub id: &'a str,
    pub family_name: &'a str,
    pub given_name: &'a str,
    pub profession: &'a str,
    pub specialty: &'a str,
    pub structure_id_type: Option<StructureIdType>,
    pub structure_id: &'a str,
    pub structure_name: &'a str,
    pub activity_sector: &'a str,
}

fn lookup(list: &[&'static str], code: &str) -> Option<&'static str> {
    list.iter().copied().find(|c| *c == code)
}

fn name(field: &'static str, input: &str) -> Result<String, ProfessionalError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(err(field, ProfessionalProblem::Missing("give the name")));
    }
    if s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(err(
            field,
            ProfessionalProblem::NameFormat(input.to_owned()),
        ));
    }
    Ok(s.to_owned())
}

impl Professional {
    /// Checks every field; the first fault found is returned, naming its field.
    pub fn new(input: &ProfessionalInput<'_>) -> Result<Self, ProfessionalError> {
        let id = Self::parse_id(input)?;
        let family_name = name("professional.family_name", input.family_name)?;
        let given_name = name("professional.given_name", input.given_name)?;
        let (profession, specialty) = Self::parse_roles(input.profession, input.specialty)?;
        let structure = Self::parse_structure(input)?;
        let sector = compact(input.activity_sector);
        let activity_sector = if sector.is_empty() {
            None
        } else if sector.len() == 4
            && sector.starts_with("SA")
            && sector[2..].bytes().all(|b| b.is_ascii_digit())
        {
            Some(sector)
        } else {
            return Err(err(
                "professional.activity_sector",
                ProfessionalProblem::ActivitySectorFormat(input.activity_sector.to_owned()),
            ));
        };
        Ok(Self {
            id,
            family_name,
            given_name,
            profession,
            specialty,
            structure,
            activity_sector,
        })
    }

    fn parse_id(input: &ProfessionalInput<'_>) -> Result<ProfessionalId, ProfessionalError> {
        const FIELD: &str = "professional.id";
        if input.id.trim().is_empty() {
            return Err(err(
                FIELD,
                ProfessionalProblem::Missing("give the RPPS (or ADELI, or internal) id"),
            ));
        }
        let Some(kind) = input.id_type else {
            return Err(err(
                "professional.id_type",
                ProfessionalProblem::Missing("say whether the id is an RPPS, ADELI or internal id"),
            ));
        };
        Ok(match kind {
            ProfessionalIdType::Rpps => {
                ProfessionalId::Rpps(Rpps::parse(input.id).map_err(|p| err(FIELD, p))?)
            }
            ProfessionalIdType::Adeli => {
                ProfessionalId::Adeli(Adeli::parse(input.id).map_err(|p| err(FIELD, p))?)
            }
            ProfessionalIdType::Internal => {
                let s = input.id.trim();
                if s.len() > 64 || !s.chars().all(|c| c.is_ascii_graphic()) {
                    return Err(err(
                        FIELD,
                        ProfessionalProblem::InternalIdFormat(input.id.to_owned()),
                    ));
                }
                ProfessionalId::Internal(s.to_owned())
            }
        })
    }

    fn parse_roles(
        profession: &str,
        specialty: &str,
    ) -> Result<(VihfRole, Option<VihfRole>), ProfessionalError> {
        const PROFESSION: &str = "professional.profession";
        const SPECIALTY: &str = "professional.specialty";
        let p = profession.trim();
        if p.is_empty() {
            return Err(err(
                PROFESSION,
                ProfessionalProblem::Missing("give the profession code (TRE_G15, e.g. 10)"),
            ));
        }
        let profession = if let Some(code) = lookup(vihf_role::PROFESSIONS, p) {
            VihfRole {
                code,
                code_system: vihf_role::PROFESSION_SYSTEM,
            }
        } else if let Some(code) = lookup(vihf_role::NON_PS_ROLES, &p.to_ascii_uppercase()) {
            VihfRole {
                code,
                code_system: vihf_role::NON_PS_ROLE_SYSTEM,
            }
        } else {
            return Err(err(
                PROFESSION,
                ProfessionalProblem::UnknownProfession(profession.to_owned()),
            ));
        };
        let s = specialty.trim().to_ascii_uppercase();
        let specialty = if s.is_empty() {
            None
        } else if let Some(code) = lookup(vihf_role::SPECIALTIES, &s) {
            Some(VihfRole {
                code,
                code_system: vihf_role::SPECIALTY_SYSTEM,
            })
        } else if let Some(code) = lookup(vihf_role::PHARMACIST_SECTIONS, &s) {
            if profession.code != PHARMACIST {
                return Err(err(
                    SPECIALTY,
                    ProfessionalProblem::SectionWithoutPharmacist(specialty.to_owned()),
                ));
            }
            Some(VihfRole {
                code,
                code_system: vihf_role::PHARMACIST_SECTION_SYSTEM,
            })
        } else {
            return Err(err(
                SPECIALTY,
                ProfessionalProblem::UnknownSpecialty(specialty.to_owned()),
            ));
        };
        if profession.code == DOCTOR && specialty.is_none() {
            return Err(err(SPECIALTY, ProfessionalProblem::SpecialtyRequired));
        }
        Ok((profession, specialty))
    }

    fn parse_structure(
        input: &ProfessionalInput<'_>,
    ) -> Result<Option<Structure>, ProfessionalError> {
        const ID: &str = "professional.structure.id";
        if input.structure_id.trim().is_empty() {
            if input.structure_id_type.is_some() || !input.structure_name.trim().is_empty() {
                return Err(err(
                    ID,
                    ProfessionalProblem::Missing("give the structure's FINESS or SIRET"),
                ));
            }
            return Ok(None);
        }
        let Some(kind) = input.structure_id_type else {
            return Err(err(
                "professional.structure.id_type",
                ProfessionalProblem::Missing("say whether the structure id is a FINESS or a SIRET"),
            ));
        };
        let id = match kind {
            StructureIdType::Finess => {
                StructureId::Finess(Finess::parse(input.structure_id).map_err(|p| err(ID, p))?)
            }
            StructureIdType::Siret => {
                StructureId::Siret(Siret::parse(input.structure_id).map_err(|p| err(ID, p))?)
            }
        };
        let name = name("professional.structure.name", input.structure_name)?;
        Ok(Some(Structure { id, name }))
    }

    pub fn id(&self) -> &ProfessionalId {
        &self.id
    }
    pub fn family_name(&self) -> &str {
        &self.family_name
    }
    pub fn given_name(&self) -> &str {
        &self.given_name
    }
    /// The profession (TRE_G15), or a non-PS role.
    pub fn profession(&self) -> VihfRole {
        self.profession
    }
    pub fn specialty(&self) -> Option<VihfRole> {
        self.specialty
    }
    pub fn structure(&self) -> Option<&Structure> {
        self.structure.as_ref()
    }
    /// Secteur d'activité (TRE_R02), e.g. `SA07`.
    pub fn activity_sector(&self) -> Option<&str> {
        self.activity_sector.as_deref()
    }

    /// The VIHF subject roles, in order: the profession, then the specialty if any.
    pub fn vihf_roles(&self) -> Vec<VihfRole> {
        std::iter::once(self.profession)
            .chain(self.specialty)
            .collect()
    }
}

const DOCTOR: &str = "10";
const PHARMACIST: &str = "21";

impl fmt::Display for Professional {
    /// The identifier only: names are not needed to tell who acted in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id.national_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doctor() -> ProfessionalInput<'static> {
        ProfessionalInput {
            id_type: Some(ProfessionalIdType::Rpps),
            id: "10001234565",
            family_name: "MEDECIN",
            given_name: "PAUL",
            profession: "10",
            specialty: "SM54",
            structure_id_type: Some(StructureIdType::Finess),
            structure_id: "999000003",
            structure_name: "CENTRE DE SANTE",
            activity_sector: "SA05",
        }
    }

    fn problem(input: ProfessionalInput<'_>) -> ProfessionalError {
        Professional::new(&input).unwrap_err()
    }

    #[test]
    fn a_valid_doctor_gives_profession_then_specialty() {
        let p = Professional::new(&doctor()).unwrap();
        assert_eq!(p.id().national_id(), "810001234565");
        let roles: Vec<_> = p.vihf_roles().iter().map(|r| r.code).collect();
        assert_eq!(roles, ["10", "SM54"]);
        assert_eq!(p.vihf_roles()[0].code_system, "1.2.250.1.71.1.2.7");
        assert_eq!(p.vihf_roles()[1].code_system, "1.2.250.1.71.4.2.5");
        assert_eq!(p.structure().map(|s| s.id.as_str()), Some("999000003"));
        assert_eq!(p.activity_sector(), Some("SA05"));
    }

    #[test]
    fn rpps_of_the_ans_test_cards_check() {
        for ok in ["99900063480", "99900062490", "99900038839", "899900063480"] {
            assert!(Rpps::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            Rpps::parse("8 99900063480").unwrap().as_str(),
            "99900063480"
        );
    }

    #[test]
    fn rpps_errors_name_the_field_and_the_fault() {
        let e = problem(ProfessionalInput {
            id: "10001234567",
            ..doctor()
        });
        assert_eq!(e.field, "professional.id");
        assert_eq!(
            e.problem,
            ProfessionalProblem::RppsCheckDigit("10001234567".into())
        );
        assert!(
            e.to_string()
                .starts_with("professional.id RPPS 10001234567")
        );
        for bad in ["1000123456", "100012345650", "1000123456a", "710001234565"] {
            let e = problem(ProfessionalInput {
                id: bad,
                ..doctor()
            });
            assert!(
                matches!(e.problem, ProfessionalProblem::RppsFormat(_)),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn adeli_and_internal_ids() {
        let adeli = |id| ProfessionalInput {
            id_type: Some(ProfessionalIdType::Adeli),
            id,
            ..doctor()
        };
        assert!(Professional::new(&adeli("751234567")).is_ok());
        assert!(Professional::new(&adeli("0751234567")).is_ok());
        assert!(Professional::new(&adeli("2A1234567")).is_ok());
        assert!(matches!(
            problem(adeli("75123456")).problem,
            ProfessionalProblem::AdeliFormat(_)
        ));
        let internal = |id| ProfessionalInput {
            id_type: Some(ProfessionalIdType::Internal),
            id,
            profession: "SECRETARIAT_MEDICAL",
            specialty: "",
            ..doctor()
        };
        let p = Professional::new(&internal("sec-042")).unwrap();
        assert_eq!(p.profession().code_system, "1.2.250.1.213.1.1.4.6");
        assert!(matches!(
            problem(internal("with space")).problem,
            ProfessionalProblem::InternalIdFormat(_)
        ));
        let e = problem(ProfessionalInput {
            id_type: None,
            ..doctor()
        });
        assert_eq!(e.field, "professional.id_type");
    }

    #[test]
    fn finess_check_digit() {
        assert!(Finess::parse("999000003").is_ok());
        assert!(Finess::parse("540002698").is_ok());
        assert_eq!(
            Finess::parse("999000004"),
            Err(ProfessionalProblem::FinessCheckDigit("999000004".into()))
        );
        assert!(Finess::parse("2A0000014").is_ok(), "Corsica: shape only");
        for bad in ["99900000", "9990000030", "3A0000014", "99900000X"] {
            assert!(
                matches!(
                    Finess::parse(bad),
                    Err(ProfessionalProblem::FinessFormat(_))
                ),
                "{bad}"
            );
        }
        let e = problem(ProfessionalInput {
            structure_id: "999000004",
            ..doctor()
        });
        assert_eq!(e.field, "professional.structure.id");
    }

    #[test]
    fn siret_check_digit_and_la_poste() {
        assert!(Siret::parse("732 829 320 00074").is_ok());
        assert!(Siret::parse("35600000000048").is_ok());
        assert!(
            Siret::parse("35600000009075").is_ok(),
            "La Poste: digit sum"
        );
        assert_eq!(
            Siret::parse("73282932000075"),
            Err(ProfessionalProblem::SiretCheckDigit(
                "73282932000075".into()
            ))
        );
        assert!(matches!(
            Siret::parse("7328293200007"),
            Err(ProfessionalProblem::SiretFormat(_))
        ));
        let e = problem(ProfessionalInput {
            structure_id_type: Some(StructureIdType::Siret),
            structure_id: "99900000300000",
            ..doctor()
        });
        assert_eq!(e.field, "professional.structure.id");
    }

    #[test]
    fn roles_follow_jdv_j65() {
        let e = problem(ProfessionalInput {
            profession: "11",
            ..doctor()
        });
        assert_eq!(e.field, "professional.profession");
        assert!(matches!(
            e.problem,
            ProfessionalProblem::UnknownProfession(_)
        ));
        let e = problem(ProfessionalInput {
            specialty: "SM99",
            ..doctor()
        });
        assert_eq!(e.field, "professional.specialty");
        assert!(matches!(
            e.problem,
            ProfessionalProblem::UnknownSpecialty(_)
        ));
        let e = problem(ProfessionalInput {
            specialty: "",
            ..doctor()
        });
        assert_eq!(e.problem, ProfessionalProblem::SpecialtyRequired);
        let e = problem(ProfessionalInput {
            specialty: "G",
            ..doctor()
        });
        assert!(matches!(
            e.problem,
            ProfessionalProblem::SectionWithoutPharmacist(_)
        ));
        let pharmacist = Professional::new(&ProfessionalInput {
            profession: "21",
            specialty: "g",
            ..doctor()
        })
        .unwrap();
        assert_eq!(
            pharmacist.specialty().map(|r| r.code_system),
            Some("1.2.250.1.71.4.2.6")
        );
        let nurse = Professional::new(&ProfessionalInput {
            profession: "60",
            specialty: "",
            ..doctor()
        })
        .unwrap();
        assert_eq!(nurse.vihf_roles().len(), 1);
    }

    #[test]
    fn names_sector_and_structure_completeness() {
        let e = problem(ProfessionalInput {
            family_name: " ",
            ..doctor()
        });
        assert_eq!(e.field, "professional.family_name");
        let e = problem(ProfessionalInput {
            given_name: "A\u{7}",
            ..doctor()
        });
        assert_eq!(e.field, "professional.given_name");
        let e = problem(ProfessionalInput {
            activity_sector: "SA7",
            ..doctor()
        });
        assert_eq!(e.field, "professional.activity_sector");
        let e = problem(ProfessionalInput {
            structure_name: "",
            ..doctor()
        });
        assert_eq!(e.field, "professional.structure.name");
        let e = problem(ProfessionalInput {
            structure_id_type: None,
            ..doctor()
        });
        assert_eq!(e.field, "professional.structure.id_type");
        let no_structure = Professional::new(&ProfessionalInput {
            structure_id_type: None,
            structure_id: "",
            structure_name: "",
            activity_sector: "",
            ..doctor()
        })
        .unwrap();
        assert!(no_structure.structure().is_none());
    }
}
