//! Sample data for tests and benches (feature `testing`, which dev-dependencies enable): the
//! tutorials' doctor and patient, a letter's header, a submission set, a small CDA, a VSM's
//! header and content, an allocator counting bytes. Tests change the fields they care about on
//! what these return.
#![allow(clippy::expect_used)] // fixed sample data: a failure is a bug of this module

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use passerelle_domain::{
    IdentityStatus, IdentityTraits, Ins, InsOid, PatientIdentity, Platform, Professional,
    ProfessionalIdType, ProfessionalInput, QualifiedIns, StructureIdType, TraitsInput,
};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::codes::{self, Code};
use crate::header::{
    Author, Confidentiality, DocumentHeader, DocumentId, HiddenFrom, Patient, ProfessionalAuthor,
    ServiceEvent,
};
use crate::xds::SubmissionSetInput;

/// The root of the sample document ids.
pub const DOCUMENT_ROOT: &str = "1.2.250.1.999.1.2.3";
/// The `sourceId` of the sample submission sets.
pub const SOURCE_ID: &str = "1.2.250.1.999.1.2";
/// The sample patient's INS (NIR and key).
pub const INS: &str = "248039263001064";

/// A small CDA-like XML document standing in for a real one.
pub const CDA: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>Lettre de liaison</title></ClinicalDocument>\n";

/// Dr Jean FOUQUEREY (RPPS 99900063480, general practitioner) in his practice (FINESS
/// 999000003).
pub fn doctor() -> Professional {
    Professional::new(&ProfessionalInput {
        id_type: Some(ProfessionalIdType::Rpps),
        id: "99900063480",
        family_name: "FOUQUEREY",
        given_name: "JEAN",
        profession: "10",
        specialty: "SM54",
        structure_id_type: Some(StructureIdType::Finess),
        structure_id: "999000003",
        structure_name: "CABINET DU DR FOUQUEREY",
        activity_sector: "SA07",
    })
    .expect("the sample doctor is valid")
}

/// Nathalie PAT-DOUZE, INS qualified (NIR 2480392630010 key 64), with her traits.
pub fn patient_identity() -> PatientIdentity {
    let traits = IdentityTraits::from_input(&TraitsInput {
        birth_name: "PAT-DOUZE".into(),
        used_name: None,
        first_names: vec!["NATHALIE".into()],
        sex: "F".into(),
        birth_date: "1948-03-21".into(),
        birth_place: None,
    })
    .expect("the sample traits are valid");
    PatientIdentity {
        ins: Ins::typed("2480392630010", "64", InsOid::Nir).expect("the sample INS is valid"),
        traits: Some(traits),
        status: IdentityStatus::Qualifiee,
    }
}

/// [`patient_identity`] as a document's patient.
pub fn patient() -> Patient {
    let identity = patient_identity();
    Patient {
        ins: QualifiedIns::try_new(&identity, Platform::Production)
            .expect("the sample INS is qualified"),
        identity,
    }
}

/// A letter (LOINC 11490-0, "Lettre de liaison") of the [`doctor`] about the [`patient`],
/// written `at`: id `DOCUMENT_ROOT^doc`, set id `DOCUMENT_ROOT^SET-doc`, version 1, normal
/// confidentiality, hidden from nobody, an ambulatory service event at `at`.
pub fn letter(doc: &str, at: OffsetDateTime) -> DocumentHeader {
    let p = doctor();
    DocumentHeader {
        id: DocumentId {
            root: DOCUMENT_ROOT.into(),
            extension: Some(doc.into()),
        },
        set_id: DocumentId {
            root: DOCUMENT_ROOT.into(),
            extension: Some(format!("SET-{doc}")),
        },
        version: 1,
        replaces: None,
        title: "Lettre de liaison".into(),
        type_code: codes::type_code("11490-0")
            .expect("11490-0 is a type code")
            .clone(),
        effective_time: at,
        confidentiality: Confidentiality::Normal,
        hidden_from: vec![],
        language: "fr-FR".into(),
        patient: patient(),
        author: Author::Professional(ProfessionalAuthor {
            specialty: codes::author_specialty_of(&p.vihf_roles())
                .expect("the doctor has a specialty")
                .clone(),
            professional: p.clone(),
            time: at,
        }),
        custodian: p.structure().expect("the doctor has a structure").clone(),
        legal_authenticator: (p, at),
        service_event: ServiceEvent {
            practice_setting: codes::practice_setting("AMBULATOIRE")
                .expect("AMBULATOIRE is a practice setting")
                .clone(),
            start: at,
            end: Some(at),
        },
        facility_type: codes::healthcare_facility_type("SA07")
            .expect("SA07 is a facility type")
            .clone(),
    }
}

/// A submission set `unique_id` from [`SOURCE_ID`], sent `at`, content type 04
/// ("Hospitalisation de jour").
pub fn submission_set(unique_id: &str, at: OffsetDateTime) -> SubmissionSetInput {
    SubmissionSetInput {
        unique_id: unique_id.into(),
        source_id: SOURCE_ID.into(),
        submission_time: at,
        content_type: Code::new("04", "1.2.250.1.213.2.2", "Hospitalisation de jour"),
    }
}

/// The letter `DOC-42` (set `SET-42`) written 2 October 2024 10:30 (+02:00) for a service event
/// from 23 September 09:00, hidden from the patient's legal representatives.
pub fn letter_42() -> DocumentHeader {
    let mut h = letter("DOC-42", datetime!(2024-10-02 10:30 +02:00));
    h.set_id.extension = Some("SET-42".into());
    h.hidden_from = vec![HiddenFrom::LegalRepresentatives];
    h.service_event.start = datetime!(2024-09-23 09:00 +02:00);
    h
}

/// The submission set `1.2.250.1.999.1.2.3.4.1` of [`letter_42`], sent 2 October 2024 11:00
/// (+02:00).
pub fn submission_set_42() -> SubmissionSetInput {
    submission_set(
        "1.2.250.1.999.1.2.3.4.1",
        datetime!(2024-10-02 11:00 +02:00),
    )
}

/// The header of a VSM (Volet de Synthèse Médicale) of the [`doctor`] about the [`patient`],
/// written 2 October 2024 14:30 (+02:00) after a consultation from 14:00 to 14:20.
pub fn vsm_header() -> DocumentHeader {
    let mut h = letter("", datetime!(2024-10-02 14:30:00 +2));
    h.id = DocumentId {
        root: "2.25.302824751102312343465867216131327466881".into(),
        extension: None,
    };
    h.set_id = DocumentId {
        root: "2.25.118830574339926917735211377346219283713".into(),
        extension: None,
    };
    h.title = "Synthèse médicale".into();
    h.type_code = crate::vsm::document_type();
    h.service_event.start = datetime!(2024-10-02 14:00:00 +2);
    h.service_event.end = Some(datetime!(2024-10-02 14:20:00 +2));
    h
}

/// Every section, every kind of date, codes and persons.
pub const VSM_FULL: &str = r#"{
  "chronic_pathologies": [
    {"label": "Angine de poitrine instable", "code": {"code": "I20.0", "system": "2.16.840.1.113883.6.3", "display": "Angine de poitrine instable"}, "start": "2019-08-11"},
    {"label": "Asthme à l'effort", "start": "2012"}
  ],
  "medical_history": [
    {"label": "Pyélonéphrite aiguë", "start": "2018-04", "end": "2018-05"}
  ],
  "surgical_history": [
    {"label": "Dilatation intraluminale de 2 vaisseaux coronaires avec pose d'endoprothèse", "code": {"code": "DDAF004", "system": "1.2.250.1.213.2.5", "display": "Dilatation intraluminale de 2 vaisseaux coronaires"}, "start": "2018-01-14"}
  ],
  "allergies": [
    {"label": "Pénicillines", "type": "drug_allergy", "start": "2015"},
    {"label": "Arachide", "type": "food_allergy"},
    {"label": "Paracétamol", "code": {"code": "XM5DJ7", "system": "2.16.840.1.113883.6.347", "display": "Paracétamol"}, "start": "2018-06-03"}
  ],
  "lifestyle_risk_factors": [
    {"label": "Tabagisme, 25 paquets-années", "code": {"code": "74011-8", "system": "2.16.840.1.113883.6.1", "display": "Consommation tabagique"}},
    {"label": "Sédentarité"}
  ],
  "occupational_risk_factors": [
    {"label": "Exposition à l'amiante", "start": "1990", "end": "2005"}
  ],
  "family_history": [
    {"label": "Anémie drépanocytaire (mère)", "code": {"code": "D57.1", "system": "2.16.840.1.113883.6.3", "display": "Anémie drépanocytaire"}}
  ],
  "vigilance_points": [
    {"label": "Hypertriglycéridémie à surveiller"}
  ],
  "long_term_treatments": [
    {"label": "PLAVIX 75 mg, comprimé pelliculé", "code": {"code": "63564053", "system": "1.2.250.1.213.2.3.1", "display": "PLAVIX 75 mg, comprimé pelliculé"}, "start": "2019-08-11"},
    {"label": "DOLIPRANE 1000 mg", "start": "2024-09-23", "end": "2024-10-02"}
  ],
  "attending_physician": {"last_name": "FOUQUEREY", "first_name": "JEAN", "rpps": "99900063480", "phone": "01 23 45 67 89"},
  "trusted_person": {"last_name": "PAT-DOUZE", "first_name": "MARIE", "phone": "+33 6 12 34 56 78"}
}"#;

/// A global allocator counting the bytes allocated, for measuring a peak:
/// `#[global_allocator] static A: CountingAllocator = CountingAllocator;`, then
/// [`CountingAllocator::reset_peak`] before and [`CountingAllocator::peak`] after.
pub struct CountingAllocator;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

impl CountingAllocator {
    /// The bytes allocated and not freed.
    pub fn current() -> usize {
        CURRENT.load(Ordering::SeqCst)
    }

    /// Starts a measure: the peak becomes what is allocated now, which is returned.
    pub fn reset_peak() -> usize {
        let now = CURRENT.load(Ordering::SeqCst);
        PEAK.store(now, Ordering::SeqCst);
        now
    }

    /// The most bytes allocated at once since [`reset_peak`](Self::reset_peak).
    pub fn peak() -> usize {
        PEAK.load(Ordering::SeqCst)
    }
}

// SAFETY: every call is passed on to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` comes from `alloc` above, that is from the system allocator.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

/// A real PDF of about `size` bytes: header, catalog, one page drawing an image XObject whose
/// stream is random bytes (incompressible, like the scans and photos that make letters big),
/// cross-reference table, trailer. The benches' letters.
pub fn scanned_pdf(size: usize) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(size + 4096);
    let mut offsets = Vec::new();
    out.extend_from_slice(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n");
    let mut object = |out: &mut Vec<u8>, body: &[u8]| {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    object(&mut out, b"<< /Type /Catalog /Pages 2 0 R >>");
    object(&mut out, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    object(
        &mut out,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>",
    );
    let draw = b"q 595 0 0 842 0 0 cm /Im1 Do Q";
    let mut contents = format!("<< /Length {} >>\nstream\n", draw.len()).into_bytes();
    contents.extend_from_slice(draw);
    contents.extend_from_slice(b"\nendstream");
    object(&mut out, &contents);
    // An RGB image of random samples: width × height × 3 bytes.
    let width = 512usize;
    let height = (size.saturating_sub(out.len() + 1024) / (width * 3)).max(1);
    let len = width * height * 3;
    let mut image = format!(
        "<< /Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length {len} >>\nstream\n"
    )
    .into_bytes();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    image.extend((0..len).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 24) as u8
    }));
    image.extend_from_slice(b"\nendstream");
    object(&mut out, &image);
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for o in &offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    out
}
