//! The health-centre tutorial's test patient, as the INSi sandbox registers her
//! (`data/insi-identities.toml`): for demos and end-to-end tests.

/// Nathalie PAT-DOUZE: female, born 21/03/1948, qualified INS `2480392630010` key `64`
/// (INS-NIR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TutorialPatient {
    pub birth_name: String,
    pub first_names: Vec<String>,
    /// `M` or `F`.
    pub sex: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// COG code; the tutorial gives none, the sandbox registers a plausible one.
    pub birth_place: String,
    pub matricule: String,
    pub key: String,
    pub oid: String,
}

pub fn patient() -> TutorialPatient {
    TutorialPatient {
        birth_name: "PAT-DOUZE".into(),
        first_names: vec!["NATHALIE".into()],
        sex: "F".into(),
        birth_date: "1948-03-21".into(),
        birth_place: "92063".into(),
        matricule: "2480392630010".into(),
        key: "64".into(),
        oid: "1.2.250.1.213.1.4.8".into(),
    }
}
