//! Coded values and the value-set entries the project uses.
//!
//! Each table is the project's own copy of the entries of one value set, so nothing is read
//! from `../shared` at run time; `tests/code_tables.rs` checks every entry against the
//! published value-set files (J01, J02, J04, J07, J08) or against the protocol notes (class,
//! format and DMP type codes, for which no file is published).

use std::sync::LazyLock;

mod class;
mod format;
mod j01_author_specialty;
mod j02_facility_type;
mod j04_practice_setting;
mod j07_type;
mod j08_confidentiality;
mod j66_dmp_type;

pub use class::{CLASS_CODE_SYSTEM, class_code, class_code_for_type, class_codes};
pub use format::{FORMAT_CODES, format_code};
pub use j66_dmp_type::{DmpTypeAcceptance, dmp_type_acceptance};

/// A coded value: `code` in the code system `system` (an OID), with its display name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Code {
    pub code: String,
    /// The code system's OID (e.g. LOINC `2.16.840.1.113883.6.1`).
    pub system: String,
    pub display: String,
}

impl Code {
    pub fn new(code: &str, system: &str, display: &str) -> Self {
        Self {
            code: code.to_owned(),
            system: system.to_owned(),
            display: display.to_owned(),
        }
    }
}

/// One entry as written in a table: code, code system OID, display.
pub(crate) type Entry = (&'static str, &'static str, &'static str);

/// A value set's entries, turned into [`Code`]s once.
pub struct ValueSet {
    /// The value set's name, e.g. `JDV_J07_XdsTypeCode_CISIS`.
    pub name: &'static str,
    /// The value set's OID.
    pub oid: &'static str,
    codes: LazyLock<Vec<Code>>,
}

impl ValueSet {
    pub(crate) const fn new(
        name: &'static str,
        oid: &'static str,
        codes: fn() -> Vec<Code>,
    ) -> Self {
        Self {
            name,
            oid,
            codes: LazyLock::new(codes),
        }
    }

    /// Every entry, in the order of the value set.
    pub fn codes(&self) -> &[Code] {
        &self.codes
    }

    /// The entry with this code (codes are unique within each of these value sets).
    pub fn get(&self, code: &str) -> Option<&Code> {
        self.codes().iter().find(|c| c.code == code)
    }
}

pub(crate) fn to_codes(entries: &[Entry]) -> Vec<Code> {
    entries
        .iter()
        .map(|(code, system, display)| Code::new(code, system, display))
        .collect()
}

macro_rules! value_set {
    ($(#[$doc:meta])* $name:ident, $label:literal, $oid:literal, $entries:path) => {
        $(#[$doc])*
        pub static $name: ValueSet =
            ValueSet::new($label, $oid, || to_codes($entries));
    };
}

value_set!(
    /// JDV_J01 XdsAuthorSpecialty-CISIS (`1.2.250.1.213.1.1.5.461`, version of 2024-12-13): the
    /// professions and specialties (`G15_<profession>[/<specialty>]`, TRE_G15 with TRE_R38 or
    /// the pharmacists' sections) and the non-PS roles; the entries of other code systems
    /// (structures' categories) are not used by the project and not kept.
    AUTHOR_SPECIALTY, "JDV_J01_XdsAuthorSpecialty_CISIS", "1.2.250.1.213.1.1.5.461",
    j01_author_specialty::J01
);
value_set!(
    /// JDV_J02 XdsHealthcareFacilityTypeCode-CISIS (`1.2.250.1.213.1.1.5.466`, 2024-12-13).
    HEALTHCARE_FACILITY_TYPE, "JDV_J02_XdsHealthcareFacilityTypeCode_CISIS",
    "1.2.250.1.213.1.1.5.466", j02_facility_type::J02
);
value_set!(
    /// JDV_J04 XdsPracticeSettingCode-CISIS (`1.2.250.1.213.1.1.5.467`, 2024-09-27).
    PRACTICE_SETTING, "JDV_J04_XdsPracticeSettingCode_CISIS", "1.2.250.1.213.1.1.5.467",
    j04_practice_setting::J04
);
value_set!(
    /// JDV_J07 XdsTypeCode-CISIS (`1.2.250.1.213.1.1.5.471`, 2024-09-27): LOINC and TRE_A05.
    TYPE_CODE, "JDV_J07_XdsTypeCode_CISIS", "1.2.250.1.213.1.1.5.471", j07_type::J07
);
value_set!(
    /// JDV_J08 XdsConfidentialityCode-CISIS (`1.2.250.1.213.1.1.5.463`, 2020-04-24): HL7
    /// N/R/V and the DMP's masking and visibility codes.
    CONFIDENTIALITY, "JDV_J08_XdsConfidentialityCode_CISIS", "1.2.250.1.213.1.1.5.463",
    j08_confidentiality::J08
);

/// The J07 document type with this code, e.g. `type_code("11490-0")`.
pub fn type_code(code: &str) -> Option<&'static Code> {
    TYPE_CODE.get(code)
}

/// The J01 author specialty with this code, e.g. `G15_10/SM54`.
pub fn author_specialty(code: &str) -> Option<&'static Code> {
    AUTHOR_SPECIALTY.get(code)
}

/// The J02 healthcare facility type with this code, e.g. `SA07`.
pub fn healthcare_facility_type(code: &str) -> Option<&'static Code> {
    HEALTHCARE_FACILITY_TYPE.get(code)
}

/// The J04 practice setting with this code, e.g. `AMBULATOIRE`.
pub fn practice_setting(code: &str) -> Option<&'static Code> {
    PRACTICE_SETTING.get(code)
}

/// The J08 confidentiality or DMP masking/visibility code, e.g. `N`, `MASQUE_PS`.
pub fn confidentiality(code: &str) -> Option<&'static Code> {
    CONFIDENTIALITY.get(code)
}

/// Every table kept, for the tests and for integrators listing what is accepted.
pub fn value_sets() -> [&'static ValueSet; 5] {
    [
        &AUTHOR_SPECIALTY,
        &HEALTHCARE_FACILITY_TYPE,
        &PRACTICE_SETTING,
        &TYPE_CODE,
        &CONFIDENTIALITY,
    ]
}

/// The J01 author specialty of a professional's VIHF roles: `G15_<profession>/<specialty>`,
/// else `G15_<profession>`; a role outside the professions is its own code.
pub fn author_specialty_of(roles: &[passerelle_domain::VihfRole]) -> Option<&'static Code> {
    let profession = roles.first()?;
    if profession.code_system == passerelle_domain::vihf_role::NON_PS_ROLE_SYSTEM {
        return author_specialty(profession.code);
    }
    let base = format!("G15_{}", profession.code);
    roles
        .get(1)
        .and_then(|s| author_specialty(&format!("{base}/{}", s.code)))
        .or_else(|| author_specialty(&base))
}
