//! Who acts and for whom, between the API messages (`passerelle.common.v1`) and the checked
//! domain types: every service converts through here, so a field is checked, and named in
//! its error, the same way everywhere.

use passerelle_domain::{
    IdentityStatus, IdentityTraits, Ins, InsError, InsOid, OidError, PatientIdentity, Professional,
    ProfessionalError, ProfessionalIdType, ProfessionalInput, StructureIdType, TraitError,
    TraitsInput,
};
use passerelle_proto::card::v1 as card;
use passerelle_proto::common::v1 as api;
use tonic::Code;

use crate::errors::RichError;

/// ErrorInfo reasons of the errors below.
pub mod reasons {
    /// `actor.professional` has a field that is missing or wrong.
    pub const INVALID_ACTOR: &str = "INVALID_ACTOR";
    /// `patient` has a field that is missing or wrong.
    pub const INVALID_PATIENT: &str = "INVALID_PATIENT";
}

/// The professional of an actor, checked. `None` when the actor names none.
pub fn professional_from_api(
    actor: &api::Actor,
) -> Result<Option<Professional>, ProfessionalError> {
    let Some(p) = &actor.professional else {
        return Ok(None);
    };
    let id_type = match api::ProfessionalIdType::try_from(p.id_type) {
        Ok(api::ProfessionalIdType::Rpps) => Some(ProfessionalIdType::Rpps),
        Ok(api::ProfessionalIdType::Adeli) => Some(ProfessionalIdType::Adeli),
        Ok(api::ProfessionalIdType::Internal) => Some(ProfessionalIdType::Internal),
        _ => None,
    };
    let structure = p.structure.clone().unwrap_or_default();
    let structure_id_type = match api::StructureIdType::try_from(structure.id_type) {
        Ok(api::StructureIdType::Finess) => Some(StructureIdType::Finess),
        Ok(api::StructureIdType::Siret) => Some(StructureIdType::Siret),
        _ => None,
    };
    Professional::new(&ProfessionalInput {
        id_type,
        id: &p.id,
        family_name: &p.family_name,
        given_name: &p.given_name,
        profession: &p.profession,
        specialty: &p.specialty,
        structure_id_type,
        structure_id: &structure.id,
        structure_name: &structure.name,
        activity_sector: &p.activity_sector,
    })
    .map(Some)
}

/// The gRPC status of an invalid professional: INVALID_ARGUMENT, reason INVALID_ACTOR, the
/// field under `actor.`.
pub fn invalid_actor(e: &ProfessionalError) -> tonic::Status {
    RichError::new(
        Code::InvalidArgument,
        reasons::INVALID_ACTOR,
        format!("actor.{e}"),
    )
    .field(format!("actor.{}", e.field), e.problem.to_string())
    .into()
}

/// The API message of a checked professional.
pub fn professional_to_api(p: &Professional) -> api::Professional {
    let (id_type, id) = match p.id() {
        passerelle_domain::ProfessionalId::Rpps(r) => {
            (api::ProfessionalIdType::Rpps, r.as_str().to_owned())
        }
        passerelle_domain::ProfessionalId::Adeli(a) => {
            (api::ProfessionalIdType::Adeli, a.as_str().to_owned())
        }
        passerelle_domain::ProfessionalId::Internal(i) => {
            (api::ProfessionalIdType::Internal, i.clone())
        }
    };
    api::Professional {
        id_type: id_type as i32,
        id,
        family_name: p.family_name().to_owned(),
        given_name: p.given_name().to_owned(),
        profession: p.profession().code.to_owned(),
        specialty: p.specialty().map(|s| s.code.to_owned()).unwrap_or_default(),
        structure: p.structure().map(|s| api::Structure {
            id_type: match s.id {
                passerelle_domain::StructureId::Finess(_) => api::StructureIdType::Finess,
                passerelle_domain::StructureId::Siret(_) => api::StructureIdType::Siret,
            } as i32,
            id: s.id.as_str().to_owned(),
            name: s.name.clone(),
        }),
        activity_sector: p.activity_sector().unwrap_or_default().to_owned(),
    }
}

/// What is wrong with a `PatientIdentity` message, naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatientError {
    #[error("patient.{field}: {error}")]
    Ins {
        field: &'static str,
        error: InsError,
    },
    #[error("patient.oid: {0}")]
    Oid(OidError),
    #[error("patient.{}: {}", .0.field(), .0)]
    Traits(TraitError),
    #[error(
        "patient.status is required: the identity status the caller attests (provisoire, recuperee, validee, qualifiee)"
    )]
    MissingStatus,
}

impl PatientError {
    /// The field at fault, under `patient.`.
    pub fn field(&self) -> String {
        match self {
            Self::Ins { field, .. } => format!("patient.{field}"),
            Self::Oid(_) => "patient.oid".to_owned(),
            Self::Traits(e) => format!("patient.{}", e.field()),
            Self::MissingStatus => "patient.status".to_owned(),
        }
    }

    /// The gRPC status: INVALID_ARGUMENT, reason INVALID_PATIENT, the field.
    pub fn to_status(&self) -> tonic::Status {
        RichError::new(
            Code::InvalidArgument,
            reasons::INVALID_PATIENT,
            self.to_string(),
        )
        .field(self.field(), self.to_string())
        .into()
    }
}

/// A patient identity as sent by a caller, checked. The INS key is kept even when it does not
/// check, so that [`passerelle_domain::QualifiedIns`] says what is wrong; traits are optional
/// (all empty means none), and checked when given.
pub fn patient_from_api(p: &api::PatientIdentity) -> Result<PatientIdentity, PatientError> {
    let oid = if p.oid.trim().is_empty() {
        InsOid::Nir
    } else {
        InsOid::parse(&p.oid).map_err(PatientError::Oid)?
    };
    let ins = Ins::from_service(&p.matricule, &p.key, oid).map_err(|error| PatientError::Ins {
        field: match error {
            InsError::KeyFormat(_) | InsError::WrongKey { .. } => "key",
            _ => "matricule",
        },
        error,
    })?;
    let status = match api::IdentityStatus::try_from(p.status) {
        Ok(api::IdentityStatus::Provisoire) => IdentityStatus::Provisoire,
        Ok(api::IdentityStatus::Recuperee) => IdentityStatus::Recuperee,
        Ok(api::IdentityStatus::Validee) => IdentityStatus::Validee,
        Ok(api::IdentityStatus::Qualifiee) => IdentityStatus::Qualifiee,
        _ => return Err(PatientError::MissingStatus),
    };
    let no_traits = p.birth_name.trim().is_empty()
        && p.first_names.is_empty()
        && p.birth_date.trim().is_empty()
        && p.sex == api::Sex::Unspecified as i32;
    let traits = if no_traits {
        None
    } else {
        let sex = match api::Sex::try_from(p.sex) {
            Ok(api::Sex::Male) => "M",
            Ok(api::Sex::Female) => "F",
            _ => "",
        };
        Some(
            IdentityTraits::from_input(&TraitsInput {
                birth_name: p.birth_name.clone(),
                used_name: Some(p.used_name.clone()),
                first_names: p.first_names.clone(),
                sex: sex.to_owned(),
                birth_date: p.birth_date.clone(),
                birth_place: Some(p.birth_place.clone()),
            })
            .map_err(PatientError::Traits)?,
        )
    };
    Ok(PatientIdentity {
        ins,
        traits,
        status,
    })
}

/// The API enum of a status.
pub fn status_to_api(status: IdentityStatus) -> api::IdentityStatus {
    match status {
        IdentityStatus::Provisoire => api::IdentityStatus::Provisoire,
        IdentityStatus::Recuperee => api::IdentityStatus::Recuperee,
        IdentityStatus::Validee => api::IdentityStatus::Validee,
        IdentityStatus::Qualifiee => api::IdentityStatus::Qualifiee,
    }
}

/// The professional a CPS names: its holder, in the first practice situation that has a
/// structure and an activity sector (what the national services take from the card). The
/// error says why the holder cannot act.
pub fn professional_of_card(h: &card::CpsHolder) -> Result<Professional, String> {
    let situation = h
        .situations
        .iter()
        .find(|s| !s.structure_id.is_empty() && !s.activity_sector.is_empty());
    let Some(situation) = situation else {
        return Err(if h.situations_need_pin {
            "its practice situations are read after the PIN: unlock the card on the workstation"
                .to_owned()
        } else {
            "no practice situation with a structure and an activity sector".to_owned()
        });
    };
    let id_type = match card::IdType::try_from(h.id_type) {
        Ok(card::IdType::Rpps) => Some(ProfessionalIdType::Rpps),
        Ok(card::IdType::Adeli) => Some(ProfessionalIdType::Adeli),
        _ => Some(ProfessionalIdType::Internal),
    };
    // The card names the structure's id type as the CPS does (FINESS, SIRET or a number of
    // the nomenclature); the identifier's shape decides when the label is not a name.
    let structure_id_type = match situation.structure_id_type.to_ascii_uppercase().as_str() {
        "SIRET" | "3" => Some(StructureIdType::Siret),
        "FINESS" | "1" => Some(StructureIdType::Finess),
        _ if situation.structure_id.len() == 14 => Some(StructureIdType::Siret),
        _ => Some(StructureIdType::Finess),
    };
    Professional::new(&ProfessionalInput {
        id_type,
        id: &h.id,
        family_name: &h.last_name,
        given_name: &h.first_name,
        profession: &h.profession,
        specialty: &h.specialty,
        structure_id_type,
        structure_id: &situation.structure_id,
        structure_name: &situation.structure_name,
        activity_sector: &situation.activity_sector,
    })
    .map_err(|e| format!("{}: {}", e.field, e.problem))
}

/// The patient of a request, checked (`patient` is required): a key that does not match
/// its matricule is a typing error a national service would answer as an unknown patient,
/// so it is refused here, naming the field.
pub fn checked_patient(p: Option<&api::PatientIdentity>) -> Result<PatientIdentity, PatientError> {
    let p = p.cloned().unwrap_or_default();
    let identity = patient_from_api(&p)?;
    if !identity.ins.key_valid() {
        let oid = identity.ins.oid();
        return Err(match Ins::typed(&p.matricule, &p.key, oid) {
            Err(error) => PatientError::Ins {
                field: "key",
                error,
            },
            Ok(_) => PatientError::Ins {
                field: "key",
                error: passerelle_domain::InsError::KeyFormat(p.key.clone()),
            },
        });
    }
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_domain::{NotQualified, Platform, QualifiedIns};

    fn doctor() -> api::Professional {
        api::Professional {
            id_type: api::ProfessionalIdType::Rpps as i32,
            id: "810001234565".into(),
            family_name: "MEDECIN".into(),
            given_name: "PAUL".into(),
            profession: "10".into(),
            specialty: "SM54".into(),
            structure: Some(api::Structure {
                id_type: api::StructureIdType::Finess as i32,
                id: "999000003".into(),
                name: "CENTRE".into(),
            }),
            activity_sector: "SA05".into(),
        }
    }

    fn actor(p: api::Professional) -> api::Actor {
        api::Actor {
            mode: None,
            professional: Some(p),
        }
    }

    #[test]
    fn a_professional_round_trips_in_its_checked_form() {
        let p = professional_from_api(&actor(doctor())).unwrap().unwrap();
        let back = professional_to_api(&p);
        assert_eq!(
            back.id, "10001234565",
            "the RPPS, without the 8 of the national form"
        );
        assert_eq!(back.structure, doctor().structure);
        assert_eq!(professional_from_api(&api::Actor::default()).unwrap(), None);
    }

    #[test]
    fn an_invalid_professional_names_its_field_in_the_status() {
        let mut p = doctor();
        if let Some(s) = p.structure.as_mut() {
            s.id = "999000004".into();
        }
        let e = professional_from_api(&actor(p)).unwrap_err();
        let status = invalid_actor(&e);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status
                .message()
                .starts_with("actor.professional.structure.id FINESS 999000004"),
            "{}",
            status.message()
        );
        let mut p = doctor();
        p.id_type = 0;
        let e = professional_from_api(&actor(p)).unwrap_err();
        assert_eq!(e.field, "professional.id_type");
    }

    fn patient() -> api::PatientIdentity {
        api::PatientIdentity {
            matricule: "2480392630010".into(),
            key: "64".into(),
            oid: InsOid::TEST_NIR.into(),
            birth_name: "PAT-DOUZE".into(),
            first_names: vec!["NATHALIE".into()],
            sex: api::Sex::Female as i32,
            birth_date: "1948-03-21".into(),
            status: api::IdentityStatus::Qualifiee as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_patient_identity_feeds_the_qualified_ins_rule() {
        let p = patient_from_api(&patient()).unwrap();
        assert!(p.traits.is_some());
        assert!(QualifiedIns::try_new(&p, Platform::Test).is_ok());
        assert_eq!(
            QualifiedIns::try_new(&p, Platform::Production),
            Err(NotQualified::TestOid)
        );
        let wrong_key = patient_from_api(&api::PatientIdentity {
            key: "46".into(),
            ..patient()
        })
        .unwrap();
        assert!(matches!(
            QualifiedIns::try_new(&wrong_key, Platform::Test),
            Err(NotQualified::WrongKey { .. })
        ));
    }

    #[test]
    fn an_invalid_patient_names_its_field() {
        let cases = [
            (
                api::PatientIdentity {
                    matricule: "248039263001".into(),
                    ..patient()
                },
                "patient.matricule",
            ),
            (
                api::PatientIdentity {
                    key: "6".into(),
                    ..patient()
                },
                "patient.key",
            ),
            (
                api::PatientIdentity {
                    oid: "1.2.3".into(),
                    ..patient()
                },
                "patient.oid",
            ),
            (
                api::PatientIdentity {
                    status: 0,
                    ..patient()
                },
                "patient.status",
            ),
            (
                api::PatientIdentity {
                    birth_date: "1948-13-21".into(),
                    ..patient()
                },
                "patient.birth_date",
            ),
        ];
        for (p, field) in cases {
            let e = patient_from_api(&p).unwrap_err();
            assert_eq!(e.field(), field, "{e}");
            assert_eq!(e.to_status().code(), Code::InvalidArgument);
        }
    }
}
