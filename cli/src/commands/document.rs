//! `passerelle document build`: a clinical document, its ITI-41 submission metadata and its
//! XDM package, built offline — for integrators and tests, nothing is sent.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use passerelle_clinical_documents::cda::level1::{self, Content};
use passerelle_clinical_documents::codes;
use passerelle_clinical_documents::header::builder::{AuthorInput, HeaderInput};
use passerelle_clinical_documents::header::{
    AuthoringDevice, Confidentiality, DocumentHeader, HiddenFrom,
};
use passerelle_clinical_documents::ids::DocumentIds;
use passerelle_clinical_documents::vsm::{self, Vsm};
use passerelle_clinical_documents::xdm;
use passerelle_clinical_documents::xds::{
    ContentFacts, DocumentFormat, MetadataTarget, Submission, SubmissionSetInput, unique_id,
};
use passerelle_domain::{
    IdentityTraits, PatientIdentity, Platform, Professional, ProfessionalIdType, ProfessionalInput,
    Structure, StructureIdType, TraitsInput,
};
use passerelle_service_kit::identity::professional_from_api;
use time::OffsetDateTime;

use super::ins::TraitsArgs;
use super::who::{IdTypeArg, PatientArgs, ProfessionalArgs, StructureIdTypeArg};

#[derive(Debug, Subcommand)]
pub enum DocumentCommand {
    /// Build a CDA document (a letter from a PDF or text, or the VSM from JSON), its ITI-41
    /// submission metadata and an XDM package, offline: nothing is sent.
    Build(Box<BuildArgs>),
}

#[derive(Debug, Args)]
#[group(id = "content", required = true, multiple = false)]
pub struct ContentArgs {
    /// A PDF letter, as a CDA level 1.
    #[arg(long, group = "content")]
    pub pdf: Option<PathBuf>,
    /// A plain-text (UTF-8) letter, as a CDA level 1.
    #[arg(long, group = "content")]
    pub text: Option<PathBuf>,
    /// The Volet de Synthèse Médicale, from JSON (see clinical-documents/README.md).
    #[arg(long, group = "content")]
    pub vsm: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ConfidentialityArg {
    /// Normal.
    #[value(name = "N")]
    N,
    /// Restricted.
    #[value(name = "R")]
    R,
    /// Very restricted.
    #[value(name = "V")]
    V,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum HideArg {
    /// Hidden from the patient (INVISIBLE_PATIENT).
    Patient,
    /// Hidden from other professionals (MASQUE_PS).
    Professionals,
    /// Hidden from the patient's legal representatives (INVISIBLE_REPRESENTANTS_LEGAUX).
    LegalRepresentatives,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub content: ContentArgs,
    #[command(flatten)]
    pub patient: PatientArgs,
    #[command(flatten)]
    pub traits: TraitsArgs,
    /// The author (and legal authenticator): the professional, and the structure keeping the
    /// document (custodian). Without --ps-* options the organisation is the author (its
    /// software, Passerelle, for the --structure-* structure) and --legal-authenticator-*
    /// names the professional who takes responsibility for the document.
    #[command(flatten)]
    pub author: ProfessionalArgs,
    #[command(flatten)]
    pub legal_authenticator: LegalAuthenticatorArgs,
    /// When the organisation is the author: the J01 code of its system (DISPOSITIF, AUTOMATE
    /// or LOGICIEL_DUI).
    #[arg(long, default_value = "DISPOSITIF")]
    pub author_role: String,
    /// The document's title, as the DMP shows it.
    #[arg(long)]
    pub title: String,
    /// Document type: a code of JDV J07 (LOINC, e.g. 11490-0 lettre de liaison); `SYNTH`
    /// for the VSM (its default).
    #[arg(long = "type")]
    pub type_code: Option<String>,
    #[arg(long, value_enum, ignore_case = true, default_value_t = ConfidentialityArg::N)]
    pub confidentiality: ConfidentialityArg,
    /// Hide the document from someone in the DMP; repeat for each.
    #[arg(long, value_enum)]
    pub hide_from: Vec<HideArg>,
    /// Practice setting, a code of JDV J04.
    #[arg(long, default_value = "AMBULATOIRE")]
    pub practice_setting: String,
    /// Healthcare facility type, a code of JDV J02 (SA05: centre de santé).
    #[arg(long, default_value = "SA05")]
    pub facility_type: String,
    /// Idempotency key of this document: the same key gives the same document id (a retry
    /// of a deposit is recognised). Without one, a key is generated and printed.
    #[arg(long)]
    pub id: Option<String>,
    /// The INS is for a CNAM test platform: the test INS-NIR OID is then accepted.
    #[arg(long)]
    pub test_platform: bool,
    /// Largest content accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub max_size: u64,
    /// Where to write the CDA document.
    #[arg(long)]
    pub output: PathBuf,
    /// Where to write the ITI-41 submission metadata (ebRIM 3.0 SubmitObjectsRequest).
    #[arg(long)]
    pub metadata: Option<PathBuf>,
    /// Where to write the XDM package (IHE_XDM.zip) for MSSanté.
    #[arg(long)]
    pub xdm: Option<PathBuf>,
}

/// The professional who takes responsibility for the document (CDA `legalAuthenticator`), a
/// member of the --structure-* structure. Required when the organisation is the author;
/// otherwise the author authenticates unless these are given.
#[derive(Debug, Args)]
pub struct LegalAuthenticatorArgs {
    /// RPPS (11 digits) or ADELI (with --legal-authenticator-id-type).
    #[arg(long)]
    pub legal_authenticator_id: Option<String>,
    #[arg(long, value_enum, default_value = "rpps")]
    pub legal_authenticator_id_type: IdTypeArg,
    #[arg(long)]
    pub legal_authenticator_family_name: Option<String>,
    #[arg(long)]
    pub legal_authenticator_given_name: Option<String>,
    /// Profession code (TRE_G15, e.g. 10 médecin).
    #[arg(long)]
    pub legal_authenticator_profession: Option<String>,
    /// Specialty (TRE_R38, e.g. SM54; required for a médecin).
    #[arg(long)]
    pub legal_authenticator_specialty: Option<String>,
}

impl LegalAuthenticatorArgs {
    fn given(&self) -> bool {
        [
            &self.legal_authenticator_id,
            &self.legal_authenticator_family_name,
            &self.legal_authenticator_given_name,
            &self.legal_authenticator_profession,
            &self.legal_authenticator_specialty,
        ]
        .iter()
        .any(|o| o.is_some())
    }
}

/// The organisation's software when it authors a document: Passerelle, this version.
const DEVICE_ID: &str = "PASSERELLE";
const SOFTWARE_NAME: &str = "Passerelle";

/// The DMP's content type of a submission (JDV J59) when nothing else is known.
const CONTENT_TYPE: (&str, &str, &str) = ("04", "1.2.250.1.213.2.2", "Hospitalisation de jour");
/// `sourceId` of the submissions Passerelle builds: an OID under `2.25` (ITU-T X.667) derived
/// from the name, until the integrator's own OID is configured.
const SOURCE_NAMESPACE: &str = "passerelle.submission.source";

pub fn run(cmd: DocumentCommand) -> ExitCode {
    match cmd {
        DocumentCommand::Build(args) => match build(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(2)
            }
        },
    }
}

fn build(args: &BuildArgs) -> Result<(), String> {
    let (format, type_default) = match (&args.content.pdf, &args.content.text, &args.content.vsm) {
        (Some(_), _, _) => (DocumentFormat::CdaPdf, None),
        (_, Some(_), _) => (DocumentFormat::CdaText, None),
        _ => (DocumentFormat::Vsm, Some("SYNTH")),
    };
    let type_code = args
        .type_code
        .as_deref()
        .or(type_default)
        .ok_or("--type is required: a code of JDV J07, e.g. 11490-0 (lettre de liaison)")?;
    // The VSM's input is checked before anything is written.
    let vsm = match &args.content.vsm {
        Some(path) => {
            Some(Vsm::from_json(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    let (ids, generated) = match &args.id {
        Some(key) => (
            DocumentIds::from_key(key).map_err(|e| format!("--id: {e}"))?,
            None,
        ),
        None => {
            let ids = DocumentIds::generate();
            let key = ids.key.clone();
            (ids, Some(key))
        }
    };
    let header = header(args, type_code, ids)?;

    let written = match (&args.content.pdf, &args.content.text, &vsm) {
        (Some(pdf), _, _) => build_level1(pdf, &args.output, &header, Content::Pdf, args)?,
        (_, Some(text), _) => build_level1(text, &args.output, &header, Content::Text, args)?,
        (_, _, Some(vsm)) => build_vsm(vsm, &args.output, &header)?,
        _ => return Err("give --pdf, --text or --vsm".to_owned()),
    };
    let facts = ContentFacts {
        size: written.1,
        sha1_hex: written.0,
        mime_type: "text/xml".to_owned(),
        format,
    };
    let now = OffsetDateTime::now_utc();
    let set = SubmissionSetInput {
        unique_id: uuid_oid(uuid::Uuid::new_v4()),
        source_id: uuid_oid(uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            SOURCE_NAMESPACE.as_bytes(),
        )),
        submission_time: now,
        content_type: codes::Code::new(CONTENT_TYPE.0, CONTENT_TYPE.1, CONTENT_TYPE.2),
    };
    if let Some(path) = &args.metadata {
        let submission =
            Submission::from_header(&header, &facts, &set).map_err(|e| e.to_string())?;
        let xml = submission
            .submit_objects_request(MetadataTarget::Iti41)
            .map_err(|e| e.to_string())?;
        write_all_or_nothing(path, &xml)?;
    }
    if let Some(path) = &args.xdm {
        let cda = read(&args.output)?;
        let zip = xdm::package(&header, &cda, format, &set).map_err(|e| e.to_string())?;
        write_all_or_nothing(path, &zip)?;
    }
    println!("document   {}", args.output.display());
    println!("unique id  {}", unique_id(&header.id));
    if let Some(key) = generated {
        println!("id key     {key}  (give it as --id to build the same document again)");
    }
    println!("size       {} bytes, SHA-1 {}", facts.size, facts.sha1_hex);
    if let Some(p) = &args.metadata {
        println!("metadata   {}", p.display());
    }
    if let Some(p) = &args.xdm {
        println!("XDM        {}", p.display());
    }
    Ok(())
}

fn header(args: &BuildArgs, type_code: &str, ids: DocumentIds) -> Result<DocumentHeader, String> {
    let ins = args.patient.ins().ok_or(
        "--ins is required: the patient's INS (15 characters, or 13 with the key computed)",
    )?;
    let t = &args.traits;
    let traits = IdentityTraits::from_input(&TraitsInput {
        birth_name: t.birth_name.clone(),
        used_name: t.used_name.clone(),
        first_names: t.first_names.clone(),
        sex: match t.sex {
            super::ins::SexArg::F => "F",
            super::ins::SexArg::M => "M",
        }
        .to_owned(),
        birth_date: t.birth_date.clone(),
        birth_place: t.birth_place.clone(),
    })
    .map_err(|e| format!("--{}: {e}", e.field().replace('_', "-")))?;
    let (author, custodian, legal_authenticator) = author(args)?;
    let practice_setting = codes::practice_setting(&args.practice_setting)
        .cloned()
        .ok_or_else(|| {
            format!(
                "--practice-setting {:?} is not a code of JDV J04 (e.g. AMBULATOIRE)",
                args.practice_setting
            )
        })?;
    let facility_type = codes::healthcare_facility_type(&args.facility_type)
        .cloned()
        .ok_or_else(|| {
            format!(
                "--facility-type {:?} is not a code of JDV J02 (e.g. SA05 centre de santé)",
                args.facility_type
            )
        })?;
    let now = OffsetDateTime::now_utc();
    HeaderInput {
        ids,
        version: 1,
        replaces: None,
        title: args.title.clone(),
        type_code: type_code.to_owned(),
        effective_time: now,
        confidentiality: match args.confidentiality {
            ConfidentialityArg::N => Confidentiality::Normal,
            ConfidentialityArg::R => Confidentiality::Restricted,
            ConfidentialityArg::V => Confidentiality::VeryRestricted,
        },
        hidden_from: args
            .hide_from
            .iter()
            .map(|h| match h {
                HideArg::Patient => HiddenFrom::Patient,
                HideArg::Professionals => HiddenFrom::Professionals,
                HideArg::LegalRepresentatives => HiddenFrom::LegalRepresentatives,
            })
            .collect(),
        patient: PatientIdentity {
            ins,
            traits: Some(traits),
            status: args.patient.identity_status.to_domain(),
        },
        platform: if args.test_platform {
            Platform::Test
        } else {
            Platform::Production
        },
        custodian,
        author,
        legal_authenticator: legal_authenticator.map(|p| (p, now)),
        practice_setting,
        service_start: now,
        service_end: None,
        facility_type,
    }
    .build()
    .map_err(|e| e.to_string())
}

/// The author, the custodian and the legal authenticator if one is named: a professional
/// with --ps-*, else the organisation of --structure-* through its software.
fn author(args: &BuildArgs) -> Result<(AuthorInput, Structure, Option<Professional>), String> {
    let ps = &args.author;
    let professional_given = [
        &ps.ps_id,
        &ps.ps_family_name,
        &ps.ps_given_name,
        &ps.ps_profession,
        &ps.ps_specialty,
    ]
    .iter()
    .any(|o| o.is_some());
    let missing_structure =
        "--structure-id and --structure-name are required: the structure keeping the document";
    if professional_given {
        let actor = super::who::actor(None, ps)?;
        let author = professional_from_api(&actor)
            .map_err(|e| e.to_string())?
            .ok_or("the author is required: --ps-id, --ps-family-name, --ps-given-name, --ps-profession (and --ps-specialty), --structure-id, --structure-name")?;
        let custodian = author.structure().cloned().ok_or(missing_structure)?;
        let authenticator = legal_authenticator(args)?;
        return Ok((author.into(), custodian, authenticator));
    }
    if ps.structure_id.is_none() || ps.structure_name.is_none() {
        return Err(format!(
            "{missing_structure} (without --ps-* options the structure is the author)"
        ));
    }
    let authenticator = legal_authenticator(args)?.ok_or(
        "without --ps-* options the organisation is the author, and the model needs the \
         professional who takes responsibility for the document: give \
         --legal-authenticator-id, --legal-authenticator-family-name, \
         --legal-authenticator-given-name, --legal-authenticator-profession (and \
         --legal-authenticator-specialty)",
    )?;
    let structure = authenticator
        .structure()
        .cloned()
        .ok_or(missing_structure)?;
    let author = AuthorInput::Organisation {
        structure: structure.clone(),
        device: AuthoringDevice {
            id: DEVICE_ID.to_owned(),
            software_name: SOFTWARE_NAME.to_owned(),
            software_version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        role: args.author_role.clone(),
    };
    Ok((author, structure, Some(authenticator)))
}

/// The professional of --legal-authenticator-*, member of the --structure-* structure.
fn legal_authenticator(args: &BuildArgs) -> Result<Option<Professional>, String> {
    let a = &args.legal_authenticator;
    if !a.given() {
        return Ok(None);
    }
    let ps = &args.author;
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    let (id, family_name, given_name, profession, specialty) = (
        text(&a.legal_authenticator_id),
        text(&a.legal_authenticator_family_name),
        text(&a.legal_authenticator_given_name),
        text(&a.legal_authenticator_profession),
        text(&a.legal_authenticator_specialty),
    );
    let structure_id = text(&ps.structure_id);
    let structure_name = text(&ps.structure_name);
    let activity_sector = text(&ps.activity_sector);
    let input = ProfessionalInput {
        id_type: Some(match a.legal_authenticator_id_type {
            IdTypeArg::Rpps => ProfessionalIdType::Rpps,
            IdTypeArg::Adeli => ProfessionalIdType::Adeli,
            IdTypeArg::Internal => ProfessionalIdType::Internal,
        }),
        id: &id,
        family_name: &family_name,
        given_name: &given_name,
        profession: &profession,
        specialty: &specialty,
        structure_id_type: ps
            .structure_id
            .as_ref()
            .map(|_| match ps.structure_id_type {
                StructureIdTypeArg::Finess => StructureIdType::Finess,
                StructureIdTypeArg::Siret => StructureIdType::Siret,
            }),
        structure_id: &structure_id,
        structure_name: &structure_name,
        activity_sector: &activity_sector,
    };
    let option = |field: &str| match field {
        "professional.id" | "professional.id_type" => "--legal-authenticator-id",
        "professional.family_name" => "--legal-authenticator-family-name",
        "professional.given_name" => "--legal-authenticator-given-name",
        "professional.profession" => "--legal-authenticator-profession",
        "professional.specialty" => "--legal-authenticator-specialty",
        "professional.structure.id" | "professional.structure.id_type" => "--structure-id",
        "professional.structure.name" => "--structure-name",
        "professional.activity_sector" => "--activity-sector",
        _ => "--legal-authenticator-*",
    };
    Professional::new(&input)
        .map(Some)
        .map_err(|e| format!("{}: {}", option(e.field), e.problem))
}

/// The CDA level 1 of `input` into `output` (all or nothing): its SHA-1 (hex) and size.
fn build_level1(
    input: &Path,
    output: &Path,
    header: &DocumentHeader,
    kind: Content,
    args: &BuildArgs,
) -> Result<(String, u64), String> {
    let written = level1::build_file(input, output, header, kind, args.max_size)
        .map_err(|e| format!("{}: {e}", input.display()))?;
    Ok((written.sha1_hex(), written.size))
}

/// The VSM into `output` (all or nothing): its SHA-1 (hex) and size.
fn build_vsm(vsm: &Vsm, output: &Path, header: &DocumentHeader) -> Result<(String, u64), String> {
    let mut bytes = Vec::new();
    let written = vsm::write_document(&mut bytes, header, vsm).map_err(|e| e.to_string())?;
    let facts = (written.sha1_hex(), written.size);
    write_all_or_nothing(output, &bytes)?;
    Ok(facts)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Writes `bytes` beside `path` under a temporary name, then renames it: never half a file.
fn write_all_or_nothing(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, bytes)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            format!("cannot write {}: {e}", path.display())
        })
}

/// An OID under `2.25` (ITU-T X.667): the UUID as one decimal integer.
fn uuid_oid(u: uuid::Uuid) -> String {
    format!("2.25.{}", u.as_u128())
}
