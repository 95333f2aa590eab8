//! Validated domain types of French e-health identity.
//!
//! Every type validates on construction, so invalid data cannot travel through the system:
//! a [`Matricule`] has the INSi shape, an [`Ins`] typed by a user has a key that checks, a
//! [`LunarDate`] has the INSi shape (never a calendar type), names are normalised by the
//! identity-vigilance rules and say what normalisation changed. Who acts ([`Professional`]:
//! RPPS, FINESS, SIRET with their check digits, roles of JDV_J65) and for whom
//! ([`PatientIdentity`], with the one rule of a [`QualifiedIns`]) are checked the same way.

mod ins;
mod luhn;
mod lunar_date;
mod oid;
mod patient;
mod professional;
mod traits;
pub mod vihf_role;

pub use ins::{Ins, InsError, Key, Matricule, compute_key};
pub use lunar_date::{LunarDate, LunarDateError};
pub use oid::{InsOid, OidError};
pub use patient::{
    IdentityStatus, IdentityStatusError, NotQualified, PatientIdentity, Platform, QualifiedIns,
};
pub use professional::{
    Adeli, Finess, Professional, ProfessionalError, ProfessionalId, ProfessionalIdType,
    ProfessionalInput, ProfessionalProblem, Rpps, Siret, Structure, StructureId, StructureIdType,
    VihfRole,
};
pub use traits::{
    BirthPlace, FieldNormalisation, IdentityTraits, Name, NameChange, Normalised, Sex, TraitError,
    TraitsInput,
};
