//! The project's code tables against the ANS value-set files (J01, J02, J04, J07, J08) and
//! against the protocol notes (class, format and DMP type codes: no file published).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use std::collections::HashMap;

use passerelle_clinical_documents::codes::{self, DmpTypeAcceptance, ValueSet};
use quick_xml::Reader;
use quick_xml::events::Event;

/// code → (code system, display) of every `Concept` of a NOS value-set file.
fn concepts(file: &str) -> HashMap<String, (String, String)> {
    let path = common::shared_dir()
        .join("specs/cda/jeuxDeValeurs")
        .join(file);
    let xml = std::fs::read_to_string(&path).unwrap();
    let mut reader = Reader::from_str(&xml);
    let mut out = HashMap::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Empty(e) | Event::Start(e) if e.local_name().as_ref() == b"Concept" => {
                let get = |name: &[u8]| {
                    e.attributes()
                        .map(|a| a.unwrap())
                        .find(|a| a.key.as_ref() == name)
                        .map(|a| a.unescape_value().unwrap().into_owned())
                        .unwrap_or_default()
                };
                let code = get(b"code");
                let system = get(b"codeSystem");
                let display = get(b"displayName");
                out.insert(code, (system, display));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(!out.is_empty(), "no Concept in {file}");
    out
}

fn check_table(set: &ValueSet) {
    let file = concepts(&format!("{}.xml", set.name));
    assert!(!set.codes().is_empty());
    for c in set.codes() {
        let (system, display) = file
            .get(&c.code)
            .unwrap_or_else(|| panic!("{}: {} is not in the file", set.name, c.code));
        assert_eq!(&c.system, system, "{}: code system of {}", set.name, c.code);
        assert_eq!(&c.display, display, "{}: display of {}", set.name, c.code);
    }
}

#[test]
fn every_entry_of_j01_j02_j04_j07_j08_is_as_the_ans_file_says() {
    for set in codes::value_sets() {
        check_table(set);
    }
}

#[test]
fn tables_hold_every_entry_of_the_files_the_project_uses_whole() {
    for set in [
        &codes::HEALTHCARE_FACILITY_TYPE,
        &codes::PRACTICE_SETTING,
        &codes::TYPE_CODE,
        &codes::CONFIDENTIALITY,
    ] {
        let file = concepts(&format!("{}.xml", set.name));
        assert_eq!(file.len(), set.codes().len(), "{}", set.name);
    }
    // J01: every profession/specialty and non-PS role (the structures' categories are left out).
    let j01 = concepts("JDV_J01_XdsAuthorSpecialty_CISIS.xml");
    for (code, (system, _)) in &j01 {
        if system == "1.2.250.1.213.1.1.4.5" || system == "1.2.250.1.213.1.1.4.6" {
            assert!(
                codes::author_specialty(code).is_some(),
                "J01 {code} missing"
            );
        }
    }
}

fn notes() -> String {
    let text =
        std::fs::read_to_string(common::shared_dir().join("specs/PROTOCOL-NOTES.md")).unwrap();
    // Lines are wrapped anywhere: compare with whitespace collapsed.
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn class_codes_are_those_of_the_protocol_notes() {
    let notes = notes();
    for c in codes::class_codes() {
        assert_eq!(c.system, codes::CLASS_CODE_SYSTEM);
        assert!(
            notes.contains(&format!("`{}` {}", c.code, c.display)),
            "class {} {:?} not in the notes",
            c.code,
            c.display
        );
    }
    assert!(notes.contains(&format!("TRE_A03 `{}`", codes::CLASS_CODE_SYSTEM)));
    let class_of =
        |t: &str| codes::class_code_for_type(codes::type_code(t).unwrap()).map(|c| c.code.as_str());
    assert_eq!(class_of("11490-0"), Some("10"));
    assert_eq!(class_of("SYNTH"), Some("11"));
    assert_eq!(class_of("34133-9"), Some("11"));
    assert_eq!(class_of("CERT_DECL"), Some("52"));
    assert_eq!(class_of("EXPPAT_2"), Some("90"));
    assert_eq!(class_of("FICHE-CONTACTS"), None);
}

#[test]
fn format_codes_are_those_of_the_protocol_notes() {
    let notes = notes();
    assert_eq!(codes::FORMAT_CODES.len(), 3);
    for c in codes::FORMAT_CODES.iter() {
        // The notes abbreviate the text format as `…:text:2008` after the PDF one.
        let named = notes.contains(&format!("`{}`", c.code))
            || (c.code == "urn:ihe:iti:xds-sd:text:2008" && notes.contains("`…:text:2008`"));
        assert!(named, "{}", c.code);
        assert!(notes.contains(&format!("`{}`", c.system)), "{}", c.system);
    }
    assert!(
        notes.contains("`urn:ihe:iti:xds-sd:pdf:2008`, codingScheme `1.3.6.1.4.1.19376.1.2.3`")
    );
}

#[test]
fn dmp_type_subset_follows_the_protocol_notes() {
    let notes = notes();
    let j66 = notes
        .split("JDV_J66")
        .nth(1)
        .expect("J66 paragraph in the notes");
    let j66 = &j66[..j66.find("- Other DMP sets").unwrap()];
    let mut accepted = 0;
    for t in codes::TYPE_CODE.codes() {
        match codes::dmp_type_acceptance(&t.code) {
            DmpTypeAcceptance::Accepted => {
                accepted += 1;
                let named = j66.contains(&format!("`{}`", t.code))
                    || notes.contains(&format!("`{}` → ", t.code))
                    || ["ATTEST-", "PRESC-"]
                        .iter()
                        .any(|p| t.code.starts_with(p) && j66.contains(&format!("`{p}*`")))
                    || (t.code.starts_with("DOCPAT0") && j66.contains("`DOCPAT01..09`"))
                    || (t.code.starts_with("EXPPAT_") && j66.contains("`EXPPAT_1..3`"))
                    || notes.contains(&format!("`{}`, ", t.code))
                        && t.system == "2.16.840.1.113883.6.1";
                assert!(named, "{} accepted but not in the notes", t.code);
            }
            DmpTypeAcceptance::Refused => {
                let sentence = &j66[j66.find("J07 codes such as").unwrap()..];
                assert!(sentence.contains(&format!("`{}`", t.code)), "{}", t.code);
            }
            DmpTypeAcceptance::Unknown => {
                assert_eq!(
                    t.system, "2.16.840.1.113883.6.1",
                    "{} TRE_A05 left unknown",
                    t.code
                )
            }
            DmpTypeAcceptance::NotAType => panic!("{} is in J07", t.code),
        }
    }
    assert!(accepted > 30);
    assert_eq!(
        codes::dmp_type_acceptance("FICHE-CONTACTS"),
        DmpTypeAcceptance::Refused
    );
    assert_eq!(
        codes::dmp_type_acceptance("E1762"),
        DmpTypeAcceptance::Accepted
    );
    assert_eq!(
        codes::dmp_type_acceptance("NOPE"),
        DmpTypeAcceptance::NotAType
    );
}
