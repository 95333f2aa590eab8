//! The sandboxes' people as the APIs carry them, for tests and benches (feature `testing`):
//! one definition instead of one per test binary.

use passerelle_proto::common::v1::{
    Actor, OrganisationMode, Professional, ProfessionalIdType, Structure, StructureIdType, actor,
};

/// Dr Jeanne MEDECIN of the sandbox's health centre (the test CPS's holder): RPPS
/// 10001234565, FINESS 999000003, médecin (10) en médecine générale (SM54), sector SA05.
pub fn sandbox_medecin() -> Professional {
    Professional {
        id_type: ProfessionalIdType::Rpps as i32,
        id: "10001234565".to_owned(),
        family_name: "MEDECIN".to_owned(),
        given_name: "JEANNE".to_owned(),
        profession: "10".to_owned(),
        specialty: "SM54".to_owned(),
        structure: Some(Structure {
            id_type: StructureIdType::Finess as i32,
            id: "999000003".to_owned(),
            name: "CENTRE DE SANTE PASSERELLE SANDBOX".to_owned(),
        }),
        activity_sector: "SA05".to_owned(),
    }
}

/// Organisation mode (the organisation's certificate), Dr MEDECIN acting, for `on_behalf_of`.
pub fn organisation_actor(on_behalf_of: &str) -> Actor {
    Actor {
        mode: Some(actor::Mode::Organisation(OrganisationMode {
            on_behalf_of: on_behalf_of.to_owned(),
        })),
        professional: Some(sandbox_medecin()),
    }
}
