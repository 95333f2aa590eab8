//! Validated domain types of French e-health identity.
//!
//! Every type validates on construction, so invalid data cannot travel through the system:
//! a [`Matricule`] has the INSi shape, an [`Ins`] typed by a user has a key that checks, a
//! [`LunarDate`] has the INSi shape (never a calendar type), names are normalised by the
//! identity-vigilance rules and say what normalisation changed.

mod ins;
mod lunar_date;
mod oid;
mod traits;

pub use ins::{Ins, InsError, Key, Matricule, compute_key};
pub use lunar_date::{LunarDate, LunarDateError};
pub use oid::{InsOid, OidError};
pub use traits::{
    BirthPlace, FieldNormalisation, IdentityTraits, Name, NameChange, Normalised, Sex, TraitError,
    TraitsInput,
};
