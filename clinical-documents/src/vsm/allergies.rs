//! Allergies et hypersensibilités: allergy concerns whose observation is typed in SNOMED CT
//! (JDV_TypeEvenementIndesirablePrevisible_CISIS, 2024), not in HL7 ActCode (`DALG`).

use std::io::Write;

use crate::cda::CdaWriter;

use super::xml::{self, Result};
use super::{Allergy, AllergyType, Item};
use crate::codes::Code;

const PREFIX: &str = "allergie";

pub(super) fn write_allergies<W: Write>(w: &mut CdaWriter<W>, allergies: &[Allergy]) -> Result {
    w.start("component", &[])?;
    xml::section_start(
        w,
        &[
            "2.16.840.1.113883.10.20.1.2",
            "1.3.6.1.4.1.19376.1.5.3.1.3.13",
            "1.2.250.1.213.1.1.2.137",
        ],
        ("48765-2", "Allergies et hypersensibilités"),
        "Allergies et hypersensibilités",
    )?;
    let refs: Vec<&Item> = allergies.iter().map(|a| &a.item).collect();
    xml::narrative(w, PREFIX, "Allergie ou hypersensibilité", &refs)?;
    if allergies.is_empty() {
        // JDV_AbsentOrUnknownAllergy_CISIS
        let none = Code::new(
            "no-allergy-info",
            xml::ABSENT_OR_UNKNOWN,
            "Pas d'information sur les allergies/hypersensibilités",
        );
        concern(
            w,
            None,
            AllergyType::Allergy,
            Some(&none),
            &xml::content_id(PREFIX, 0),
        )?;
    }
    for (i, allergy) in allergies.iter().enumerate() {
        concern(
            w,
            Some(&allergy.item),
            allergy.kind,
            allergy.item.code.as_ref(),
            &xml::content_id(PREFIX, i),
        )?;
    }
    xml::section_end(w)
}

fn concern<W: Write>(
    w: &mut CdaWriter<W>,
    item: Option<&Item>,
    kind: AllergyType,
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
            "1.3.6.1.4.1.19376.1.5.3.1.4.5.3",
            "1.2.250.1.213.1.1.3.40",
        ],
    )?;
    xml::new_id(w)?;
    w.empty("code", &[("nullFlavor", "NA")])?;
    let status = if end.is_some() { "completed" } else { "active" };
    w.empty("statusCode", &[("code", status)])?;
    xml::interval(w, start, end, false)?;
    w.start(
        "entryRelationship",
        &[("typeCode", "SUBJ"), ("inversionInd", "false")],
    )?;
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
            "2.16.840.1.113883.10.20.1.18",
            "2.16.840.1.113883.10.20.1.28",
            "1.3.6.1.4.1.19376.1.5.3.1.4.5",
            "1.3.6.1.4.1.19376.1.5.3.1.4.6",
            "1.2.250.1.213.1.1.3.41",
        ],
    )?;
    xml::new_id(w)?;
    let kind = kind.code();
    w.empty(
        "code",
        &[
            ("code", &kind.code),
            ("displayName", &kind.display),
            ("codeSystem", &kind.system),
            ("codeSystemName", "SNOMED CT"),
        ],
    )?;
    xml::text_reference(w, text_id)?;
    w.empty("statusCode", &[("code", "completed")])?;
    xml::interval(w, start, end, true)?;
    xml::coded(w, "value", value, Some("CD"), Some(text_id))?;
    w.end()?;
    w.end()?;
    w.end()?;
    w.end()
}
