//! Traitement au long cours: the "Plan de traitement" section with its "Traitements"
//! sub-section of FR-Traitement entries.

use std::io::Write;

use crate::cda::CdaWriter;

use super::Item;
use super::xml::{self, Result};
use crate::codes::Code;

const PREFIX: &str = "traitement";
/// Code CIS of the ANSM's medicinal products database.
const CIS: &str = "1.2.250.1.213.2.3.1";

pub(super) fn write_long_term_treatments<W: Write>(w: &mut CdaWriter<W>, items: &[Item]) -> Result {
    w.start("component", &[])?;
    xml::section_start(
        w,
        &["1.2.250.1.213.1.1.2.32"],
        ("18776-5", "Plan de traitement"),
        "Traitement au long cours",
    )?;
    // With the sub-section present, the model wants no text at this level.
    w.start("component", &[])?;
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
        // The product may only be coded in CIS: "no information" is its nullFlavor `NI`.
        let text_id = xml::content_id(PREFIX, 0);
        substance_administration(w, None, None, &text_id)?;
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
fn substance_administration<W: Write>(
    w: &mut CdaWriter<W>,
    item: Option<&Item>,
    product: Option<&Code>,
    text_id: &str,
) -> Result {
    w.start("entry", &[])?;
    w.start(
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
    w.empty(
        "code",
        &[
            ("code", "DRUG"),
            ("displayName", "Médicament"),
            ("codeSystem", "2.16.840.1.113883.5.4"),
            ("codeSystemName", "HL7:ActCode"),
        ],
    )?;
    xml::text_reference(w, text_id)?;
    w.empty("statusCode", &[("code", "completed")])?;
    let (start, end) = item.map_or((None, None), |i| (i.start, i.end));
    // The model wants both bounds of a treatment: an unknown end is `UNK`.
    w.start("effectiveTime", &[("xsi:type", "IVL_TS")])?;
    match start {
        Some(d) => w.empty("low", &[("value", &d.hl7())])?,
        None => w.empty("low", &[("nullFlavor", "UNK")])?,
    }
    match end {
        Some(d) => w.empty("high", &[("value", &d.hl7())])?,
        None => w.empty("high", &[("nullFlavor", "UNK")])?,
    }
    w.end()?;
    w.start("consumable", &[])?;
    w.start("manufacturedProduct", &[])?;
    xml::template_ids(
        w,
        &[
            "2.16.840.1.113883.10.20.1.53",
            "1.3.6.1.4.1.19376.1.5.3.1.4.7.2",
            "1.2.250.1.213.1.1.3.43",
        ],
    )?;
    w.start("manufacturedMaterial", &[])?;
    match (item, product) {
        (Some(_), Some(c)) if c.system == CIS => {
            xml::coded(w, "code", Some(c), None, Some(text_id))?
        }
        // The model codes products in CIS only: another code is kept as a translation.
        (Some(_), Some(c)) => {
            w.start("code", &[("nullFlavor", "OTH")])?;
            xml::original_text(w, text_id)?;
            let mut attrs = vec![("code", c.code.as_str()), ("codeSystem", c.system.as_str())];
            if !c.display.is_empty() {
                attrs.push(("displayName", &c.display));
            }
            w.empty("translation", &attrs)?;
            w.end()?;
        }
        (Some(_), None) => xml::coded(w, "code", None, None, Some(text_id))?,
        (None, _) => {
            w.start("code", &[("nullFlavor", "NI")])?;
            xml::original_text(w, text_id)?;
            w.end()?;
        }
    }
    match item {
        Some(item) => w.leaf("name", &[], &item.label)?,
        None => w.empty("name", &[("nullFlavor", "NA")])?,
    }
    w.end()?;
    w.end()?;
    w.end()?;
    w.end()?;
    w.end()
}
