//! XDS `classCode`: JDV_J57 ClassCode-DMP (`1.2.250.1.213.1.1.5.6`) ⊂ JDV_J06
//! XdsClassCode-CISIS (`1.2.250.1.213.1.1.5.462`), code system TRE_A03
//! (`1.2.250.1.213.1.1.4.1`). No value-set file is published for them: the codes and labels are
//! those of the ANS terminology IG (ansforge/IG-terminologie-de-sante, `ig/DM-37/ValueSet-*`),
//! as gathered in the project's protocol notes (section "XDS metadata value sets").
//!
//! The type → class mapping is the NOS association table ASS_X04 (CI-SIS) / ASS_X16 (DMP),
//! whose current version is not published as a file: the pairs below are those the notes
//! record (a 2012 snapshot of X04 and the DMP's own search answers).

use std::sync::LazyLock;

use super::{Code, Entry, to_codes};

/// TRE_A03, the code system of XDS class codes.
pub const CLASS_CODE_SYSTEM: &str = "1.2.250.1.213.1.1.4.1";

const A03: &str = CLASS_CODE_SYSTEM;

const CLASSES: &[Entry] = &[
    ("10", A03, "Compte rendu"),
    ("11", A03, "Synthèse"),
    ("31", A03, "Imagerie médicale"),
    ("42", A03, "Prescription"),
    ("43", A03, "Dispensation"),
    ("44", A03, "Plan/protocole de soins"),
    ("45", A03, "Traitement administré"),
    ("52", A03, "Certificat/déclaration"),
    ("60", A03, "Données de remboursement"),
    ("90", A03, "documents déposés par le patient"),
    ("95", A03, "Document de gestion"),
    // J06 only (not J57): the DMP does not take it.
    ("99", A03, "Document technique"),
];

static CLASS_CODES: LazyLock<Vec<Code>> = LazyLock::new(|| to_codes(CLASSES));

/// Every class code kept (J06; J57 is all of them but `99`).
pub fn class_codes() -> &'static [Code] {
    &CLASS_CODES
}

/// The class with this TRE_A03 code, e.g. `10`.
pub fn class_code(code: &str) -> Option<&'static Code> {
    CLASS_CODES.iter().find(|c| c.code == code)
}

/// LOINC, the code system of most J07 types.
const LOINC: &str = "2.16.840.1.113883.6.1";

/// The class of a document of this J07 type, or `None` when no mapping is known.
///
/// Types the notes name are mapped as recorded; any other LOINC type of J07 is a report or
/// letter (`10`), which is what ASS_X04 gives the LOINC report and letter types. A TRE_A05
/// type the notes do not map has no class here: the caller gets an error rather than a guess.
pub fn class_code_for_type(type_code: &Code) -> Option<&'static Code> {
    let class = match type_code.code.as_str() {
        "SYNTH" | "34133-9" => "11",
        "52040-3" => "31",
        "29551-9" => "42",
        "29550-1" => "43",
        "18776-5" => "44",
        "CERT_DECL" => "52",
        "EXPPAT_1" | "EXPPAT_2" | "EXPPAT_3" => "90",
        _ if type_code.system == LOINC => "10",
        _ => return None,
    };
    class_code(class)
}
