//! Identity status by the identity-vigilance rules (RNIV):
//!
//! | INS retrieved or verified with INSi | identity checked on a high-trust document | status |
//! |---|---|---|
//! | no | no | provisoire |
//! | yes | no | récupérée |
//! | no | yes | validée |
//! | yes | yes | qualifiée |
//!
//! Only a qualified identity may be used to share (DMP, MSSanté Citoyen). High-trust
//! documents: passport, national identity card, residence permit; for a minor also the family
//! record book or a birth certificate (with a parent's high-trust document). A driving licence
//! or a health insurance card is not one.

use passerelle_domain::LunarDate;
use passerelle_proto::ins::v1::{Diagnostic, DocumentType, IdentityStatus};

/// Whether `doc` is a high-trust document for a person born on `birth_date` (today given).
pub fn is_high_trust(doc: DocumentType, birth_date: LunarDate, today: (u16, u8, u8)) -> bool {
    match doc {
        DocumentType::Passport | DocumentType::NationalIdCard | DocumentType::ResidencePermit => {
            true
        }
        DocumentType::FamilyRecordBook | DocumentType::BirthCertificate => {
            is_minor(birth_date, today)
        }
        _ => false,
    }
}

/// Under 18 on `today`. With an unknown day or month (00), only when certainly under 18:
/// the earliest possible birthday is taken.
pub fn is_minor(birth: LunarDate, (y, m, d): (u16, u8, u8)) -> bool {
    // Certainly a minor only if even the earliest possible birthday is not reached.
    let earliest = (
        birth.year().saturating_add(18),
        if birth.month() == 0 { 1 } else { birth.month() },
        if birth.day() == 0 { 1 } else { birth.day() },
    );
    (y, m, d) < earliest
}

pub fn status(ins_confirmed: bool, high_trust_document: bool) -> IdentityStatus {
    match (ins_confirmed, high_trust_document) {
        (false, false) => IdentityStatus::Provisoire,
        (true, false) => IdentityStatus::Recuperee,
        (false, true) => IdentityStatus::Validee,
        (true, true) => IdentityStatus::Qualifiee,
    }
}

fn action(code: &str, message: &str) -> Diagnostic {
    Diagnostic {
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

/// What is missing to qualify the identity.
pub fn missing(
    ins_confirmed: bool,
    document: Option<DocumentType>,
    high_trust: bool,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if !ins_confirmed {
        out.push(action(
            "RETRIEVE_INS",
            "the INS is not retrieved or verified with INSi for these traits: search it (or correct the traits) before qualifying",
        ));
    }
    match (document, high_trust) {
        (_, true) => {}
        (None | Some(DocumentType::Unspecified), _) => out.push(action(
            "CHECK_DOCUMENT",
            "check the identity on a high-trust document (passport, national identity card, residence permit) and attest it",
        )),
        (Some(DocumentType::FamilyRecordBook | DocumentType::BirthCertificate), false) => out.push(action(
            "CHECK_DOCUMENT",
            "a family record book or birth certificate is high-trust only for a minor: check an identity document of the patient",
        )),
        (Some(_), false) => out.push(action(
            "CHECK_DOCUMENT",
            "this document is not high-trust (driving licence, health insurance card…): check a passport, national identity card or residence permit",
        )),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> LunarDate {
        LunarDate::parse(s).unwrap()
    }

    #[test]
    fn the_four_statuses() {
        assert_eq!(status(false, false), IdentityStatus::Provisoire);
        assert_eq!(status(true, false), IdentityStatus::Recuperee);
        assert_eq!(status(false, true), IdentityStatus::Validee);
        assert_eq!(status(true, true), IdentityStatus::Qualifiee);
    }

    #[test]
    fn high_trust_documents() {
        let adult = date("1948-03-21");
        let today = (2026, 11, 26);
        for d in [
            DocumentType::Passport,
            DocumentType::NationalIdCard,
            DocumentType::ResidencePermit,
        ] {
            assert!(is_high_trust(d, adult, today), "{d:?}");
        }
        for d in [
            DocumentType::DrivingLicence,
            DocumentType::HealthInsuranceCard,
            DocumentType::Other,
            DocumentType::Unspecified,
            DocumentType::FamilyRecordBook,
        ] {
            assert!(!is_high_trust(d, adult, today), "{d:?}");
        }
        assert!(is_high_trust(
            DocumentType::FamilyRecordBook,
            date("2014-02-01"),
            today
        ));
    }

    #[test]
    fn minors_with_lunar_dates() {
        let today = (2026, 11, 26);
        assert!(is_minor(date("2008-11-27"), today));
        assert!(!is_minor(date("2008-11-26"), today));
        // Unknown month: 18 on 2008-01-01 at the earliest, so not certainly a minor.
        assert!(!is_minor(date("2008-00-00"), today));
        assert!(is_minor(date("2009-00-00"), today));
    }

    #[test]
    fn what_is_missing_is_said() {
        let m = missing(false, Some(DocumentType::DrivingLicence), false);
        let codes: Vec<&str> = m.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, vec!["RETRIEVE_INS", "CHECK_DOCUMENT"]);
        assert!(m[1].message.contains("not high-trust"));
        assert!(missing(true, Some(DocumentType::Passport), true).is_empty());
    }
}
