//! Antécédents: medical (problem concerns), surgical (procedures: "Historique des actes")
//! and family (family history organizers).

use std::io::Write;

use crate::cda::CdaWriter;

use super::Item;
use super::problems::{diagnostic_interpretation, problem_entries};
use super::xml::{self, Result};
use crate::codes::Code;

pub(super) fn write_medical_history<W: Write>(w: &mut CdaWriter<W>, items: &[Item]) -> Result {
    w.start("component", &[])?;
    xml::section_start(
        w,
        &["1.3.6.1.4.1.19376.1.5.3.1.3.8", "1.2.250.1.213.1.1.2.134"],
        ("11348-0", "Antécédents médicaux"),
        "Antécédents médicaux",
    )?;
    problem_entries(w, "antecedent-medical", "Antécédent médical", items)?;
    xml::section_end(w)
}

pub(super) fn write_surgical_history<W: Write>(w: &mut CdaWriter<W>, items: &[Item]) -> Result {
    const PREFIX: &str = "antecedent-chirurgical";
    w.start("component", &[])?;
    xml::section_start(
        w,
        &[
            "2.16.840.1.113883.10.20.1.12",
            "1.3.6.1.4.1.19376.1.5.3.1.3.11",
            "1.3.6.1.4.1.19376.1.5.3.1.3.12",
            "1.2.250.1.213.1.1.2.136",
        ],
        ("47519-4", "Historique des actes"),
        "Antécédents chirurgicaux",
    )?;
    let refs: Vec<&Item> = items.iter().collect();
    xml::narrative(w, PREFIX, "Acte", &refs)?;
    if items.is_empty() {
        let none = Code::new(
            "no-procedure-info",
            xml::ABSENT_OR_UNKNOWN,
            "Pas d'information sur les actes et interventions",
        );
        procedure(w, None, Some(&none), &xml::content_id(PREFIX, 0))?;
    }
    for (i, item) in items.iter().enumerate() {
        procedure(
            w,
            Some(item),
            item.code.as_ref(),
            &xml::content_id(PREFIX, i),
        )?;
    }
    xml::section_end(w)
}

/// FR-Acte.
fn procedure<W: Write>(
    w: &mut CdaWriter<W>,
    item: Option<&Item>,
    code: Option<&Code>,
    text_id: &str,
) -> Result {
    w.start("entry", &[])?;
    w.start("procedure", &[("classCode", "PROC"), ("moodCode", "EVN")])?;
    xml::template_ids(
        w,
        &[
            "1.3.6.1.4.1.19376.1.5.3.1.4.19",
            "2.16.840.1.113883.10.20.1.29",
            "1.2.250.1.213.1.1.3.62",
        ],
    )?;
    xml::new_id(w)?;
    xml::coded(w, "code", code, None, Some(text_id))?;
    xml::text_reference(w, text_id)?;
    w.empty("statusCode", &[("code", "completed")])?;
    let (start, end) = item.map_or((None, None), |i| (i.start, i.end));
    xml::interval(w, start, end, false)?;
    w.end()?;
    w.end()
}

pub(super) fn write_family_history<W: Write>(w: &mut CdaWriter<W>, items: &[Item]) -> Result {
    const PREFIX: &str = "antecedent-familial";
    w.start("component", &[])?;
    xml::section_start(
        w,
        &[
            "2.16.840.1.113883.10.20.1.4",
            "1.3.6.1.4.1.19376.1.5.3.1.3.14",
            "1.3.6.1.4.1.19376.1.5.3.1.3.15",
            "1.2.250.1.213.1.1.2.139",
        ],
        ("10157-6", "Historique des pathologies familiales"),
        "Antécédents familiaux",
    )?;
    let refs: Vec<&Item> = items.iter().collect();
    xml::narrative(w, PREFIX, "Antécédent familial", &refs)?;
    if items.is_empty() {
        let none = Code::new(
            "no-problem-info",
            xml::ABSENT_OR_UNKNOWN,
            "Pas d'information sur les problèmes",
        );
        family_organizer(w, None, Some(&none), &xml::content_id(PREFIX, 0))?;
    }
    for (i, item) in items.iter().enumerate() {
        family_organizer(
            w,
            Some(item),
            item.code.as_ref(),
            &xml::content_id(PREFIX, i),
        )?;
    }
    xml::section_end(w)
}

/// FR-Historique-familial-organizer: the input does not say which relative, so the subject
/// is a family member (`FAMMEMB`).
fn family_organizer<W: Write>(
    w: &mut CdaWriter<W>,
    item: Option<&Item>,
    value: Option<&Code>,
    text_id: &str,
) -> Result {
    w.start("entry", &[])?;
    w.start(
        "organizer",
        &[("classCode", "CLUSTER"), ("moodCode", "EVN")],
    )?;
    xml::template_ids(
        w,
        &[
            "2.16.840.1.113883.10.20.1.23",
            "1.3.6.1.4.1.19376.1.5.3.1.4.15",
            "1.2.250.1.213.1.1.3.59",
        ],
    )?;
    w.empty("statusCode", &[("code", "completed")])?;
    w.start("subject", &[("typeCode", "SBJ")])?;
    xml::template_ids(
        w,
        &["1.3.6.1.4.1.19376.1.5.3.1.4.15.2", "1.2.250.1.213.1.1.3.60"],
    )?;
    w.start("relatedSubject", &[("classCode", "PRS")])?;
    w.empty(
        "code",
        &[
            ("code", "FAMMEMB"),
            ("displayName", "Membre de la famille"),
            ("codeSystem", "2.16.840.1.113883.5.111"),
            ("codeSystemName", "RoleCode"),
        ],
    )?;
    w.end()?;
    w.end()?;
    w.start("component", &[("typeCode", "COMP")])?;
    w.start("observation", &[("classCode", "OBS"), ("moodCode", "EVN")])?;
    xml::template_ids(
        w,
        &[
            "2.16.840.1.113883.10.20.1.22",
            "1.3.6.1.4.1.19376.1.5.3.1.4.13",
            "1.3.6.1.4.1.19376.1.5.3.1.4.13.3",
            "1.2.250.1.213.1.1.3.51",
        ],
    )?;
    xml::new_id(w)?;
    diagnostic_interpretation(w)?;
    xml::text_reference(w, text_id)?;
    w.empty("statusCode", &[("code", "completed")])?;
    match item.and_then(|i| i.start) {
        Some(_) => {
            let (start, end) = item.map_or((None, None), |i| (i.start, i.end));
            xml::interval(w, start, end, false)?;
        }
        None => w.empty("effectiveTime", &[("nullFlavor", "UNK")])?,
    }
    xml::coded(w, "value", value, Some("CD"), Some(text_id))?;
    w.end()?;
    w.end()?;
    w.end()?;
    w.end()
}
