//! JDV_J66 TypeCode-DMP (`1.2.250.1.213.1.1.5.7`, 2024-02-23): the subset of J07 the DMP
//! accepts. No value-set file is published; the protocol notes (section "XDS metadata value
//! sets", from the ANS terminology IG `ig/DM-37/ValueSet-*`) give its TRE_A05 codes, `E1762`,
//! and the J07 codes that are *not* in it, but only the count (70) of its LOINC codes: for a
//! LOINC type of J07 the answer is [`DmpTypeAcceptance::Unknown`], and the DMP decides.

/// Whether the DMP accepts a document type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmpTypeAcceptance {
    Accepted,
    /// In J07 but not in J66: the DMP refuses it.
    Refused,
    /// A J07 LOINC type: J66 holds 70 of the 78, which ones is not published.
    Unknown,
    /// Not a J07 type at all.
    NotAType,
}

/// The TRE_A05 types of J66, exactly or by the prefix the notes give (`ATTEST-*`, `PRESC-*`).
const ACCEPTED: &[&str] = &[
    "SYNTH",
    "CERT_DECL",
    "DISP_AUT",
    "EXPPAT_1",
    "EXPPAT_2",
    "EXPPAT_3",
    "IMG-KOS",
    "PROT_ALD",
    "REMB",
    "BIL_AUTO",
    "AUTORIS-SOINS",
    "DOCPAT01",
    "DOCPAT02",
    "DOCPAT03",
    "DOCPAT04",
    "DOCPAT05",
    "DOCPAT06",
    "DOCPAT07",
    "DOCPAT08",
    "DOCPAT09",
    "E1762",
];
const ACCEPTED_PREFIXES: &[&str] = &["ATTEST-", "PRESC-"];

/// LOINC types the notes record as deposited in the DMP (its search answers).
const ACCEPTED_LOINC: &[&str] = &["11488-4", "11490-0", "18748-4", "34133-9"];

/// J07 types the notes say J66 leaves out.
const REFUSED: &[&str] = &[
    "FEUILLE-DE-STYLE",
    "FICHE-CONTACTS",
    "EXPORT_DUI",
    "PIECE-IDENTITE",
];

/// Whether the DMP takes documents of this type.
pub fn dmp_type_acceptance(code: &str) -> DmpTypeAcceptance {
    if super::type_code(code).is_none() {
        return DmpTypeAcceptance::NotAType;
    }
    if REFUSED.contains(&code) {
        DmpTypeAcceptance::Refused
    } else if ACCEPTED.contains(&code)
        || ACCEPTED_LOINC.contains(&code)
        || ACCEPTED_PREFIXES.iter().any(|p| code.starts_with(p))
    {
        DmpTypeAcceptance::Accepted
    } else {
        // A LOINC type (a test checks no TRE_A05 type of J07 ends here).
        DmpTypeAcceptance::Unknown
    }
}
