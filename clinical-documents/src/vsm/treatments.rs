//! Traitement au long cours: the "Plan de traitement" section with its "Traitements"
//! sub-section of FR-Traitement entries.

use passerelle_soap::XmlWriter;

use super::Item;
use super::xml::{self, HL7, Result};
use crate::codes::Code;

const PREFIX: &str = "traitement";

pub(super) fn write_long_term_treatments(w: &mut XmlWriter, items: &[Item]) -> Result {
    w.start(HL7, "component", &[])?;
    xml::section_start(
        w,
        &["1.2.250.1.213.1.1.2.32"],
        ("18776-5", "Plan de traitement"),
        "Traitement au long cours",
    )?;
    // With the sub-section present, the model wants no text at this level.
    w.start(HL7, "component", &[])?;
    xml::section_start(
        w,
        &[
            "2.16.840.1.113883.10.20.1.8",
            "1.3.6.1.4.1.19376.1.5.3.1.3.19",
            "1.2.250.1.213.1.1.2.143",
        ],
        ("10160-0", "Traitements"),
        "Traitements",
    )?;
    let refs: Vec<&Item> = items.iter().collect();
    xml::narrative(w, PREFIX, "Médicament", &refs)?;
    if items.is_empty() {
        // JDV_AbsentOrUnknownMedication_CISIS
        let none = Code::new(
            "no-medication-info",
            xml::ABSENT_OR_UNKNOWN,
            "Pas d'information sur les traitements médicamenteux",
        );
        let text_id = xml::content_id(PREFIX, 0);
        substance_administration(w, None, Some(&none), &text_id)?;
    }
    for (i, item) in items.iter().enumerate() {
        let text_id = xml::content_id(PREFIX, i);
        substance_administration(w, Some(item), item.code.as_ref(), &text_id)?;
    }
    xml::section_end(w)?;
    xml::section_end(w)
}

/// FR-Traitement: the product is the item's code (e.g. CIS, ATC) or, without one, only its
/// label (`originalText`, `name`).
fn substance_administration(
    w: &mut XmlWriter,
    item: Option<&Item>,
    product: Option<&Code>,
    text_id: &str,
) -> Result {
    w.start(HL7, "entry", &[])?;
    w.start(
        HL7,
        "substanceAdministration",
        &[("classCode", "SBADM"), ("moodCode", "EVN")],
    )?;
    xml::template_ids(
        w,
        &[
            "2.16.840.1.113883.10.20.1.24",
            "1.3.6.1.4.1.19376.1.5.3.1.4.7",
            "1.2.250.1.213.1.1.3.42",
            "1.3.6.1.4.1.19376.1.5.3.1.4.7.1",
        ],
    )?;
    xml::new_id(w)?;
    xml::empty(
        w,
        "code",
        &[
            ("code", "DRUG"),
            ("displayName", "Médicament"),
            ("codeSystem", "2.16.840.1.113883.5.4"),
            ("codeSystemName", "HL7:ActCode"),
        ],
    )?;
    xml::text_reference(w, text_id)?;
    xml::empty(w, "statusCode", &[("code", "completed")])?;
    let (start, end) = item.map_or((None, None), |i| (i.start, i.end));
    xml::interval(w, start, end, true)?;
    w.start(HL7, "consumable", &[])?;
    w.start(HL7, "manufacturedProduct", &[])?;
    xml::template_ids(
        w,
        &[
            "2.16.840.1.113883.10.20.1.53",
            "1.3.6.1.4.1.19376.1.5.3.1.4.7.2",
            "1.2.250.1.213.1.1.3.43",
        ],
    )?;
    w.start(HL7, "manufacturedMaterial", &[])?;
    xml::coded(w, "code", product, None, Some(text_id))?;
    if let Some(item) = item {
        w.leaf(HL7, "name", &[], &item.label)?;
    }
    w.end()?;
    w.end()?;
    w.end()?;
    w.end()?;
    w.end()
}
