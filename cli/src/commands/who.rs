//! Who acts and for whom, on the command line: one argument group for the patient and one
//! for the professional, flattened into every command that needs them.

use clap::{Args, ValueEnum};
use passerelle_domain::{Ins, InsOid, ProfessionalError};
use passerelle_proto::common::v1::{
    self as common, Actor, CpsMode, OrganisationMode, Professional, ProfessionalIdType, Structure,
    StructureIdType, actor,
};
use passerelle_service_kit::identity::professional_from_api;

/// The identity status a caller attests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Provisoire,
    Recuperee,
    Validee,
    Qualifiee,
}

impl StatusArg {
    /// The status as the domain's rules read it.
    pub fn to_domain(self) -> passerelle_domain::IdentityStatus {
        match self {
            Self::Provisoire => passerelle_domain::IdentityStatus::Provisoire,
            Self::Recuperee => passerelle_domain::IdentityStatus::Recuperee,
            Self::Validee => passerelle_domain::IdentityStatus::Validee,
            Self::Qualifiee => passerelle_domain::IdentityStatus::Qualifiee,
        }
    }

    pub fn to_api(self) -> common::IdentityStatus {
        match self {
            Self::Provisoire => common::IdentityStatus::Provisoire,
            Self::Recuperee => common::IdentityStatus::Recuperee,
            Self::Validee => common::IdentityStatus::Validee,
            Self::Qualifiee => common::IdentityStatus::Qualifiee,
        }
    }
}

/// The patient: their INS and the identity status the caller attests.
#[derive(Debug, Clone, Args)]
pub struct PatientArgs {
    /// The patient's INS: 15 characters, the matricule then its key (spaces allowed); the
    /// 13-character matricule alone is accepted, its key is then computed.
    #[arg(long, value_parser = ins_number)]
    pub ins: Option<String>,
    /// OID of the INS: 1.2.250.1.213.1.4.8 INS-NIR, …4.9 INS-NIA, …4.10 test INS-NIR.
    #[arg(long, value_name = "OID", default_value = InsOid::NIR, value_parser = ins_oid)]
    pub ins_oid: InsOid,
    /// The identity status you attest for this patient's identity (identity vigilance).
    #[arg(long, value_enum, default_value_t = StatusArg::Qualifiee)]
    pub identity_status: StatusArg,
}

/// `--ins` checked (length, matricule, key), as the 15-character INS.
fn ins_number(s: &str) -> Result<String, String> {
    Ins::typed_number(s, InsOid::Nir)
        .map(|i| i.to_string())
        .map_err(|e| e.to_string())
}

fn ins_oid(s: &str) -> Result<InsOid, String> {
    InsOid::parse(s).map_err(|e| e.to_string())
}

/// The patient of `--ins`, with the traits when given, as the services take it.
pub fn patient_identity(
    p: &PatientArgs,
    traits: Option<&crate::commands::ins::TraitsArgs>,
) -> Result<common::PatientIdentity, String> {
    use crate::commands::ins::SexArg;
    let ins = p
        .ins()
        .ok_or("--ins is required: the patient's INS (15 characters)")?;
    let mut identity = common::PatientIdentity {
        matricule: ins.matricule().to_string(),
        key: ins.key().to_string(),
        oid: ins.oid().to_string(),
        status: p.identity_status.to_api() as i32,
        ..common::PatientIdentity::default()
    };
    if let Some(t) = traits {
        identity.birth_name = t.birth_name.clone();
        identity.used_name = t.used_name.clone().unwrap_or_default();
        identity.first_names = t.first_names.clone();
        identity.sex = match t.sex {
            SexArg::F => common::Sex::Female,
            SexArg::M => common::Sex::Male,
        } as i32;
        identity.birth_date = t.birth_date.clone();
        identity.birth_place = t.birth_place.clone().unwrap_or_default();
    }
    Ok(identity)
}

impl PatientArgs {
    /// The INS given, with its OID.
    pub fn ins(&self) -> Option<Ins> {
        // `--ins` was checked by its parser; it cannot fail here.
        self.ins
            .as_deref()
            .and_then(|n| Ins::typed_number(n, self.ins_oid).ok())
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum IdTypeArg {
    Rpps,
    Adeli,
    Internal,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StructureIdTypeArg {
    Finess,
    Siret,
}

/// The user who acts, in organisation mode (in CPS mode the card names the professional).
/// Each option may come from the environment, so a workstation configures it once.
#[derive(Debug, Clone, Args)]
pub struct ProfessionalArgs {
    /// Identifier of the user who acts: RPPS (11 digits), ADELI, or the structure's internal
    /// id (with --ps-id-type).
    #[arg(long, env = "PASSERELLE_PS_ID")]
    pub ps_id: Option<String>,
    #[arg(
        long,
        env = "PASSERELLE_PS_ID_TYPE",
        value_enum,
        default_value = "rpps"
    )]
    pub ps_id_type: IdTypeArg,
    #[arg(long, env = "PASSERELLE_PS_FAMILY_NAME")]
    pub ps_family_name: Option<String>,
    #[arg(long, env = "PASSERELLE_PS_GIVEN_NAME")]
    pub ps_given_name: Option<String>,
    /// Profession code (TRE_G15, e.g. 10 médecin, 60 infirmier) or a non-PS role (e.g.
    /// SECRETARIAT_MEDICAL).
    #[arg(long, env = "PASSERELLE_PS_PROFESSION")]
    pub ps_profession: Option<String>,
    /// Specialty (TRE_R38, e.g. SM54 médecine générale; required for a médecin).
    #[arg(long, env = "PASSERELLE_PS_SPECIALTY")]
    pub ps_specialty: Option<String>,
    /// The structure's FINESS or SIRET (with --structure-id-type).
    #[arg(long, env = "PASSERELLE_STRUCTURE_ID")]
    pub structure_id: Option<String>,
    #[arg(
        long,
        env = "PASSERELLE_STRUCTURE_ID_TYPE",
        value_enum,
        default_value = "finess"
    )]
    pub structure_id_type: StructureIdTypeArg,
    #[arg(long, env = "PASSERELLE_STRUCTURE_NAME")]
    pub structure_name: Option<String>,
    /// Secteur d'activité (TRE_R02, e.g. SA07).
    #[arg(long, env = "PASSERELLE_ACTIVITY_SECTOR")]
    pub activity_sector: Option<String>,
}

impl ProfessionalArgs {
    fn given(&self) -> bool {
        [
            &self.ps_id,
            &self.ps_family_name,
            &self.ps_given_name,
            &self.ps_profession,
            &self.ps_specialty,
            &self.structure_id,
            &self.structure_name,
            &self.activity_sector,
        ]
        .iter()
        .any(|o| o.is_some())
    }

    fn to_api(&self) -> Professional {
        let text = |o: &Option<String>| o.clone().unwrap_or_default();
        Professional {
            id_type: match self.ps_id_type {
                IdTypeArg::Rpps => ProfessionalIdType::Rpps,
                IdTypeArg::Adeli => ProfessionalIdType::Adeli,
                IdTypeArg::Internal => ProfessionalIdType::Internal,
            } as i32,
            id: text(&self.ps_id),
            family_name: text(&self.ps_family_name),
            given_name: text(&self.ps_given_name),
            profession: text(&self.ps_profession),
            specialty: text(&self.ps_specialty),
            structure: self.structure_id.as_ref().map(|id| Structure {
                id_type: match self.structure_id_type {
                    StructureIdTypeArg::Finess => StructureIdType::Finess,
                    StructureIdTypeArg::Siret => StructureIdType::Siret,
                } as i32,
                id: id.clone(),
                name: text(&self.structure_name),
            }),
            activity_sector: text(&self.activity_sector),
        }
    }
}

/// The option that sets a professional's field, for error messages.
fn option_of(e: &ProfessionalError) -> &'static str {
    match e.field {
        "professional.id" => "--ps-id",
        "professional.id_type" => "--ps-id-type",
        "professional.family_name" => "--ps-family-name",
        "professional.given_name" => "--ps-given-name",
        "professional.profession" => "--ps-profession",
        "professional.specialty" => "--ps-specialty",
        "professional.structure.id" | "professional.structure.id_type" => "--structure-id",
        "professional.structure.name" => "--structure-name",
        "professional.activity_sector" => "--activity-sector",
        _ => "--ps-*",
    }
}

/// Who acts: CPS mode with the card of `workstation`, or organisation mode with the
/// professional the options name (none: the organisation alone, enough for INSi). The
/// professional is checked here, as the services check it, so a mistake is told before any
/// call.
pub fn actor(workstation: Option<&str>, ps: &ProfessionalArgs) -> Result<Actor, String> {
    let mode = match workstation {
        Some(w) => {
            if ps.given() {
                return Err(
                    "in CPS mode (--workstation) the professional is the card's holder: drop the \
                     --ps-*/--structure-*/--activity-sector options (or their PASSERELLE_* \
                     variables)"
                        .to_owned(),
                );
            }
            actor::Mode::Cps(CpsMode {
                workstation_id: w.to_owned(),
            })
        }
        None => actor::Mode::Organisation(OrganisationMode {
            on_behalf_of: "passerelle-cli".to_owned(),
        }),
    };
    let mut actor = Actor {
        mode: Some(mode),
        professional: None,
    };
    if workstation.is_none() && ps.given() {
        actor.professional = Some(ps.to_api());
        if let Err(e) = professional_from_api(&actor) {
            return Err(format!("{} ({}): {}", option_of(&e), e.field, e.problem));
        }
    }
    Ok(actor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        patient: PatientArgs,
        #[command(flatten)]
        ps: ProfessionalArgs,
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("p").chain(args.iter().copied()))
    }

    #[test]
    fn the_patient_group_checks_the_ins_and_defaults_to_nir_qualifiee() {
        let c = parse(&["--ins", "2 48 03 92 630 010 64"]).unwrap();
        let ins = c.patient.ins().unwrap();
        assert_eq!(ins.to_string(), "248039263001064");
        assert_eq!(ins.oid(), InsOid::Nir);
        assert_eq!(c.patient.identity_status, StatusArg::Qualifiee);
        let c = parse(&[
            "--ins",
            "2480392630010",
            "--ins-oid",
            "1.2.250.1.213.1.4.10",
        ])
        .unwrap();
        assert_eq!(c.patient.ins().unwrap().to_string(), "248039263001064");
        assert_eq!(c.patient.ins().unwrap().oid(), InsOid::TestNir);
        let c = parse(&["--identity-status", "recuperee"]).unwrap();
        assert!(c.patient.ins().is_none());
        assert_eq!(c.patient.identity_status, StatusArg::Recuperee);
        for bad in [
            &["--ins", "24803926300106"][..],
            &["--ins", "248039263001046"],
            &["--ins-oid", "1.2.3"],
            &["--identity-status", "verified"],
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
        }
    }

    fn ps(args: &[&str]) -> ProfessionalArgs {
        parse(args).unwrap().ps
    }

    #[test]
    fn the_professional_is_checked_and_named_by_its_option() {
        let doctor = [
            "--ps-id",
            "10001234565",
            "--ps-family-name",
            "MEDECIN",
            "--ps-given-name",
            "PAUL",
            "--ps-profession",
            "10",
            "--ps-specialty",
            "SM54",
            "--structure-id",
            "999000003",
            "--structure-name",
            "CENTRE",
            "--activity-sector",
            "SA05",
        ];
        let a = actor(None, &ps(&doctor)).unwrap();
        assert_eq!(a.professional.unwrap().id, "10001234565");
        let mut wrong = doctor;
        wrong[1] = "10001234567";
        let e = actor(None, &ps(&wrong)).unwrap_err();
        assert!(e.starts_with("--ps-id (professional.id)"), "{e}");
        assert!(e.contains("check digit"), "{e}");
        let e = actor(Some("local"), &ps(&doctor)).unwrap_err();
        assert!(e.contains("CPS mode"), "{e}");
        // Nothing given: the organisation alone.
        let a = actor(None, &ps(&[])).unwrap();
        assert!(a.professional.is_none());
    }
}
