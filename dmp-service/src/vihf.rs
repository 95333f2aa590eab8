//! The VIHF v3 (SAML 2.0 assertion) every DMP call carries in `wsse:Security`.

use passerelle_domain::Professional;

use crate::signer::{SignerError, XmlSigner};

/// How the professional authenticated (VIHF `AuthnContextClassRef`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthenticationMode {
    /// CPS mode: the professional's own card.
    Directe,
    /// Organisation mode: the structure authenticated its user itself.
    Indirecte,
    /// Organisation mode with strong local authentication.
    IndirecteRenforcee,
}

/// Why the DMP is accessed (VIHF `PurposeOfUse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PurposeOfUse {
    /// `normal`.
    Normal,
    /// `bris_de_glace`: emergency access.
    BrisDeGlace,
    /// `centre_15`: the SAMU regulation centre.
    Centre15,
}

/// The software (LPS) and its DMP homologation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LpsIdentity {
    /// `LPS_ID`: the instance's identifier.
    pub id: String,
    /// `LPS_Nom`.
    pub name: String,
    /// `LPS_Version`.
    pub version: String,
    /// `LPS_ID_HOMOLOGATION_DMP`.
    pub homologation: String,
}

/// The patient a call is about: `INS^^^&OID&ISO^NH`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PatientResource {
    /// The INS (matricule INS and key, 15 characters).
    pub ins: String,
    /// The OID of the INS assigning authority (e.g. `1.2.250.1.213.1.4.8`).
    pub oid: String,
}

/// What the VIHF asserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VihfClaims {
    /// Identifier, names, roles (JDV_J65), structure, sector.
    pub professional: Professional,
    pub mode: AuthenticationMode,
    pub purpose: PurposeOfUse,
    pub lps: LpsIdentity,
    /// The patient as `INS^^^&OID&ISO^NH` resource-id; None for calls with no patient (TD0.4).
    pub patient: Option<PatientResource>,
}

/// What went wrong building the VIHF.
#[derive(Debug, thiserror::Error)]
pub enum VihfError {
    /// The signer failed (card, key).
    #[error(transparent)]
    Signer(#[from] SignerError),
    /// The signing certificate cannot be read (its subject is the assertion's Issuer).
    #[error("the signing certificate cannot be read: {reason}")]
    Certificate { reason: String },
    /// A claim cannot be put in a VIHF.
    #[error("VIHF claim {field}: {reason}")]
    Claim { field: &'static str, reason: String },
}

/// A signed `saml2:Assertion` (VIHF v3), exclusive C14N, RSA-SHA256, ready to put in
/// wsse:Security.
pub async fn signed_vihf(
    claims: &VihfClaims,
    signer: &dyn XmlSigner,
    id: uuid::Uuid,
    now: time::OffsetDateTime,
) -> Result<String, VihfError> {
    let _ = (claims, signer, id, now);
    Err(VihfError::Claim {
        field: "vihf",
        reason: "not implemented yet".to_owned(),
    })
}
