//! Facteurs de risque: lifestyle (Habitus, mode de vie: social history observations) and
//! occupational (Facteurs de risques professionnels: narrative only in the model).

use std::io::Write;

use crate::cda::CdaWriter;

use super::Item;
use super::xml::{self, Result};

/// FR-Habitus-mode-de-vie (social history observation).
const SOCIAL_HISTORY_TEMPLATES: [&str; 4] = [
    "2.16.840.1.113883.10.20.1.33",
    "1.3.6.1.4.1.19376.1.5.3.1.4.13",
    "1.3.6.1.4.1.19376.1.5.3.1.4.13.4",
    "1.2.250.1.213.1.1.3.52",
];
/// JDV_SocialHistoryCodes_CISIS (LOINC): the observation's code must be one of these.
const SOCIAL_HISTORY_CODES: [&str; 11] = [
    "72166-2", "74011-8", "74013-4", "11343-1", "73985-4", "81663-7", "92944-8", "8683-5",
    "67875-5", "29556-8", "11345-6",
];
/// Its "Autre élément social", for a habit given by label or by another code.
const OTHER_SOCIAL: (&str, &str) = ("11345-6", "Autre élément social");

fn is_social_history_code(code: &crate::codes::Code) -> bool {
    code.system == xml::LOINC && SOCIAL_HISTORY_CODES.contains(&code.code.as_str())
}

pub(super) fn write_lifestyle<W: Write>(w: &mut CdaWriter<W>, items: &[Item]) -> Result {
    const PREFIX: &str = "mode-de-vie";
    w.start("component", &[])?;
    xml::section_start(
        w,
        &[
            "2.16.840.1.113883.10.20.1.15",
            "1.3.6.1.4.1.19376.1.5.3.1.3.16",
            "1.3.6.1.4.1.19376.1.5.3.1.3.16.1",
            "1.2.250.1.213.1.1.2.141",
        ],
        ("29762-2", "Habitus, Mode de vie"),
        "Habitus, mode de vie",
    )?;
    let refs: Vec<&Item> = items.iter().collect();
    xml::narrative(w, PREFIX, "Facteur de risque", &refs)?;
    if items.is_empty() {
        // The section needs an observation: "another social element", no information (`NI`).
        let text_id = xml::content_id(PREFIX, 0);
        w.start("entry", &[])?;
        w.start("observation", &[("classCode", "OBS"), ("moodCode", "EVN")])?;
        xml::template_ids(w, &SOCIAL_HISTORY_TEMPLATES)?;
        xml::new_id(w)?;
        xml::loinc(w, "code", OTHER_SOCIAL.0, OTHER_SOCIAL.1)?;
        xml::text_reference(w, &text_id)?;
        w.empty("statusCode", &[("code", "completed")])?;
        xml::interval(w, None, None, false)?;
        w.empty("value", &[("xsi:type", "CD"), ("nullFlavor", "NI")])?;
        w.end()?;
        w.end()?;
    }
    for (i, item) in items.iter().enumerate() {
        let text_id = xml::content_id(PREFIX, i);
        w.start("entry", &[])?;
        w.start("observation", &[("classCode", "OBS"), ("moodCode", "EVN")])?;
        xml::template_ids(w, &SOCIAL_HISTORY_TEMPLATES)?;
        xml::new_id(w)?;
        let kind = item.code.as_ref().filter(|c| is_social_history_code(c));
        match kind {
            Some(c) => xml::coded(w, "code", Some(c), None, None)?,
            None => xml::loinc(w, "code", OTHER_SOCIAL.0, OTHER_SOCIAL.1)?,
        }
        xml::text_reference(w, &text_id)?;
        w.empty("statusCode", &[("code", "completed")])?;
        xml::interval(w, item.start, item.end, false)?;
        match (&item.code, kind) {
            // A code that is not the kind of habit is the finding itself.
            (Some(c), None) => xml::coded(w, "value", Some(c), Some("CD"), Some(&text_id))?,
            _ => w.leaf("value", &[("xsi:type", "ST")], &item.label)?,
        }
        w.end()?;
        w.end()?;
    }
    xml::section_end(w)
}

pub(super) fn write_occupational<W: Write>(w: &mut CdaWriter<W>, items: &[Item]) -> Result {
    w.start("component", &[])?;
    xml::section_start(
        w,
        &[
            "1.3.6.1.4.1.19376.1.5.3.1.1.5.3.1",
            "1.2.250.1.213.1.1.2.74",
        ],
        ("10161-8", "Facteurs de risques professionnels"),
        "Facteurs de risque professionnels",
    )?;
    let refs: Vec<&Item> = items.iter().collect();
    xml::narrative(w, "risque-professionnel", "Facteur de risque", &refs)?;
    xml::section_end(w)
}
