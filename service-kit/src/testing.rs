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

/// A crash test's schedule from its seed (splitmix64): the same seed, the same kills.
pub struct SeededRng(u64);

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In `[lo, hi)`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}

/// The seed given in the environment variable `var` (to replay a run), else one from the
/// clock. Panics on a value that is not a number: a test helper.
pub fn seed_from_env(var: &str) -> u64 {
    match std::env::var(var) {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var} is a number (the seed a crash test printed)")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    }
}
