//! The patient identity an INS answer carries (`passerelle.common.v1.PatientIdentity`): INSi's
//! INS and traits, with the identity status that follows from the answer.

use passerelle_proto::common::v1 as common;
use passerelle_proto::ins::v1 as api;

/// `identity` as a patient identity of `status`; `None` without an INS.
pub fn from_identity(
    identity: &api::Identity,
    status: common::IdentityStatus,
) -> Option<common::PatientIdentity> {
    let ins = identity.ins.as_ref()?;
    Some(common::PatientIdentity {
        matricule: ins.matricule.clone(),
        key: ins.key.clone(),
        oid: ins.oid.clone(),
        birth_name: identity.birth_name.clone(),
        used_name: String::new(),
        first_names: identity.first_names.clone(),
        // passerelle.ins.v1.Sex and passerelle.common.v1.Sex share their numbers.
        sex: match api::Sex::try_from(identity.sex) {
            Ok(api::Sex::Male) => common::Sex::Male,
            Ok(api::Sex::Female) => common::Sex::Female,
            _ => common::Sex::Unspecified,
        } as i32,
        birth_date: identity.birth_date.clone(),
        birth_place: identity.birth_place.clone(),
        status: status as i32,
    })
}

/// The common status of an INS answer's status.
pub fn status(status: api::IdentityStatus) -> common::IdentityStatus {
    match status {
        api::IdentityStatus::Provisoire => common::IdentityStatus::Provisoire,
        api::IdentityStatus::Recuperee => common::IdentityStatus::Recuperee,
        api::IdentityStatus::Validee => common::IdentityStatus::Validee,
        api::IdentityStatus::Qualifiee => common::IdentityStatus::Qualifiee,
        api::IdentityStatus::Unspecified => common::IdentityStatus::Unspecified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_domain::{Platform, QualifiedIns};
    use passerelle_service_kit::identity::patient_from_api;

    fn identity() -> api::Identity {
        api::Identity {
            ins: Some(api::Ins {
                matricule: "2480392630010".into(),
                key: "64".into(),
                oid: "1.2.250.1.213.1.4.10".into(),
                ..Default::default()
            }),
            history: Vec::new(),
            birth_name: "PAT-DOUZE".into(),
            first_names: vec!["NATHALIE".into()],
            sex: api::Sex::Female as i32,
            birth_date: "1948-03-21".into(),
            birth_place: "92063".into(),
        }
    }

    #[test]
    fn an_answer_gives_a_patient_identity_the_domain_accepts() {
        let p = from_identity(&identity(), status(api::IdentityStatus::Qualifiee)).unwrap();
        assert_eq!(p.sex, common::Sex::Female as i32);
        let checked = patient_from_api(&p).unwrap();
        assert!(QualifiedIns::try_new(&checked, Platform::Test).is_ok());
        let recuperee = from_identity(&identity(), status(api::IdentityStatus::Recuperee)).unwrap();
        assert!(
            QualifiedIns::try_new(&patient_from_api(&recuperee).unwrap(), Platform::Test).is_err()
        );
        let no_ins = api::Identity {
            ins: None,
            ..identity()
        };
        assert!(from_identity(&no_ins, common::IdentityStatus::Recuperee).is_none());
    }
}
