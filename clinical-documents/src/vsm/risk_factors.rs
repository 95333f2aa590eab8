//! Facteurs de risque: lifestyle (Habitus, mode de vie: social history observations) and
//! occupational (Facteurs de risques professionnels: narrative only in the model).

use passerelle_soap::XmlWriter;

use super::Item;
use super::xml::{self, HL7, Result};

pub(super) fn write_lifestyle(w: &mut XmlWriter, items: &[Item]) -> Result {
    const PREFIX: &str = "mode-de-vie";
    w.start(HL7, "component", &[])?;
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
    for (i, item) in items.iter().enumerate() {
        let text_id = xml::content_id(PREFIX, i);
        w.start(HL7, "entry", &[])?;
        w.start(HL7, "observation", &[("classCode", "OBS"), ("moodCode", "EVN")])?;
        xml::template_ids(
            w,
            &[
                "2.16.840.1.113883.10.20.1.33",
                "1.3.6.1.4.1.19376.1.5.3.1.4.13",
                "1.3.6.1.4.1.19376.1.5.3.1.4.13.4",
                "1.2.250.1.213.1.1.3.52",
            ],
        )?;
        xml::new_id(w)?;
        xml::coded(w, "code", item.code.as_ref(), None, Some(&text_id))?;
        xml::text_reference(w, &text_id)?;
        xml::empty(w, "statusCode", &[("code", "completed")])?;
        xml::interval(w, item.start, item.end, false)?;
        w.leaf(HL7, "value", &[("xsi:type", "ST")], &item.label)?;
        w.end()?;
        w.end()?;
    }
    xml::section_end(w)
}

pub(super) fn write_occupational(w: &mut XmlWriter, items: &[Item]) -> Result {
    w.start(HL7, "component", &[])?;
    xml::section_start(
        w,
        &["1.3.6.1.4.1.19376.1.5.3.1.1.5.3.1", "1.2.250.1.213.1.1.2.74"],
        ("10161-8", "Facteurs de risques professionnels"),
        "Facteurs de risque professionnels",
    )?;
    let refs: Vec<&Item> = items.iter().collect();
    xml::narrative(w, "risque-professionnel", "Facteur de risque", &refs)?;
    xml::section_end(w)
}
