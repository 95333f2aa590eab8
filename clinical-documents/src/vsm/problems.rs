//! Pathologies chroniques actives (Problèmes actifs) and the FR-Liste-des-problemes entry
//! (problem concern + FR-Probleme observation) that medical history shares.

use std::io::Write;

use crate::cda::CdaWriter;

use super::Item;
use super::xml::{self, Result};
use crate::codes::Code;

pub(super) fn write_active_problems<W: Write>(w: &mut CdaWriter<W>, items: &[Item]) -> Result {
    w.start("component", &[])?;
    xml::section_start(
        w,
        &[
            "2.16.840.1.113883.10.20.1.11",
            "1.3.6.1.4.1.19376.1.5.3.1.3.6",
            "1.2.250.1.213.1.1.2.132",
        ],
        ("11450-4", "Liste des problèmes actifs"),
        "Pathologies chroniques actives",
    )?;
    problem_entries(w, "pathologie", "Pathologie", items)?;
    xml::section_end(w)
}

/// The narrative and one problem concern entry per item; with no item, one entry saying
/// "no information" (JDV_AbsentOrUnknownProblem_CISIS), as the sections require an entry.
pub(super) fn problem_entries<W: Write>(
    w: &mut CdaWriter<W>,
    prefix: &str,
    label_header: &str,
    items: &[Item],
) -> Result {
    let refs: Vec<&Item> = items.iter().collect();
    xml::narrative(w, prefix, label_header, &refs)?;
    if items.is_empty() {
        let none = Code::new(
            "no-problem-info",
            xml::ABSENT_OR_UNKNOWN,
            "Pas d'information sur les problèmes",
        );
        return problem_concern(w, None, Some(&none), &xml::content_id(prefix, 0));
    }
    for (i, item) in items.iter().enumerate() {
        problem_concern(
            w,
            Some(item),
            item.code.as_ref(),
            &xml::content_id(prefix, i),
        )?;
    }
    Ok(())
}

fn problem_concern<W: Write>(
    w: &mut CdaWriter<W>,
    item: Option<&Item>,
    value: Option<&Code>,
    text_id: &str,
) -> Result {
    let (start, end) = item.map_or((None, None), |i| (i.start, i.end));
    w.start("entry", &[])?;
    w.start("act", &[("classCode", "ACT"), ("moodCode", "EVN")])?;
    xml::template_ids(
        w,
        &[
            "2.16.840.1.113883.10.20.1.27",
            "1.3.6.1.4.1.19376.1.5.3.1.4.5.1",
            "1.3.6.1.4.1.19376.1.5.3.1.4.5.2",
            "1.2.250.1.213.1.1.3.39",
        ],
    )?;
    xml::new_id(w)?;
    w.empty("code", &[("nullFlavor", "NA")])?;
    // A concern whose end is known is over; otherwise it is still followed.
    let status = if end.is_some() { "completed" } else { "active" };
    w.empty("statusCode", &[("code", status)])?;
    xml::interval(w, start, end, false)?;
    w.start(
        "entryRelationship",
        &[("typeCode", "SUBJ"), ("inversionInd", "false")],
    )?;
    problem_observation(w, start, end, value, text_id)?;
    w.end()?;
    w.end()?;
    w.end()
}

/// FR-Probleme: "interprétation diagnostique" whose value is the problem.
pub(super) fn problem_observation<W: Write>(
    w: &mut CdaWriter<W>,
    start: Option<super::PartialDate>,
    end: Option<super::PartialDate>,
    value: Option<&Code>,
    text_id: &str,
) -> Result {
    w.start(
        "observation",
        &[
            ("classCode", "OBS"),
            ("moodCode", "EVN"),
            ("negationInd", "false"),
        ],
    )?;
    xml::template_ids(
        w,
        &[
            "2.16.840.1.113883.10.20.1.28",
            "1.3.6.1.4.1.19376.1.5.3.1.4.5",
            "1.2.250.1.213.1.1.3.37",
        ],
    )?;
    xml::new_id(w)?;
    diagnostic_interpretation(w)?;
    xml::text_reference(w, text_id)?;
    w.empty("statusCode", &[("code", "completed")])?;
    xml::interval(w, start, end, false)?;
    xml::coded(w, "value", value, Some("CD"), Some(text_id))?;
    w.end()
}

pub(super) fn diagnostic_interpretation<W: Write>(w: &mut CdaWriter<W>) -> Result {
    w.empty(
        "code",
        &[
            ("code", "282291009"),
            ("displayName", "interprétation diagnostique"),
            ("codeSystem", xml::SNOMED_CT),
            ("codeSystemName", "SNOMED CT"),
        ],
    )
}
