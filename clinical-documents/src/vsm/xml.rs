//! What every VSM section and entry writes alike: namespaces, section heads, ids, coded
//! values, intervals and the narrative table.

use passerelle_soap::{Ns, SoapError, XmlWriter};

use super::{Item, PartialDate};
use crate::codes::Code;

pub(super) const HL7: Ns = Ns::new("", "urn:hl7-org:v3");
pub(super) const XSI: Ns = Ns::new("xsi", passerelle_soap::ns::XSI);
pub(super) const LOINC: &str = "2.16.840.1.113883.6.1";
pub(super) const SNOMED_CT: &str = "2.16.840.1.113883.6.96";
/// HL7 "absent or unknown" codes of the JDV_AbsentOrUnknown* value sets.
pub(super) const ABSENT_OR_UNKNOWN: &str = "2.16.840.1.113883.5.1150.1";

/// The narrative's text when a section has nothing.
pub(super) const NO_INFORMATION: &str = "Pas d'information";

pub(super) type Result = std::result::Result<(), SoapError>;

pub(super) fn empty(w: &mut XmlWriter, local: &str, attrs: &[(&str, &str)]) -> Result {
    w.leaf(HL7, local, attrs, "")
}

pub(super) fn template_ids(w: &mut XmlWriter, roots: &[&str]) -> Result {
    for root in roots {
        empty(w, "templateId", &[("root", root)])?;
    }
    Ok(())
}

/// A fresh `id` (UUID root): entries need one, nothing refers to them from outside.
pub(super) fn new_id(w: &mut XmlWriter) -> Result {
    let id = uuid::Uuid::new_v4().to_string().to_uppercase();
    empty(w, "id", &[("root", &id)])
}

/// `<section>` with its template ids, id, LOINC code and title (the caller has opened the
/// `component`).
pub(super) fn section_start(
    w: &mut XmlWriter,
    templates: &[&str],
    (code, display): (&str, &str),
    title: &str,
) -> Result {
    w.start(HL7, "section", &[])?;
    template_ids(w, templates)?;
    new_id(w)?;
    loinc(w, "code", code, display)?;
    w.leaf(HL7, "title", &[], title)
}

/// Closes `section` and its `component`.
pub(super) fn section_end(w: &mut XmlWriter) -> Result {
    w.end()?;
    w.end()
}

pub(super) fn loinc(w: &mut XmlWriter, local: &str, code: &str, display: &str) -> Result {
    empty(
        w,
        local,
        &[
            ("code", code),
            ("displayName", display),
            ("codeSystem", LOINC),
            ("codeSystemName", "LOINC"),
        ],
    )
}

/// A coded element; `xsi_type` for a `value`. With `text_ref`, an `originalText` pointing to
/// the narrative. Without a code: `nullFlavor="UNK"` (the label is then only in the text).
pub(super) fn coded(
    w: &mut XmlWriter,
    local: &str,
    code: Option<&Code>,
    xsi_type: Option<&str>,
    text_ref: Option<&str>,
) -> Result {
    let mut attrs: Vec<(&str, &str)> = Vec::with_capacity(5);
    if let Some(t) = xsi_type {
        attrs.push(("xsi:type", t));
    }
    match code {
        Some(c) => {
            attrs.push(("code", &c.code));
            if !c.display.is_empty() {
                attrs.push(("displayName", &c.display));
            }
            attrs.push(("codeSystem", &c.system));
        }
        None => attrs.push(("nullFlavor", "UNK")),
    }
    w.start(HL7, local, &attrs)?;
    if let Some(r) = text_ref {
        original_text(w, r)?;
    }
    w.end()
}

pub(super) fn original_text(w: &mut XmlWriter, id: &str) -> Result {
    w.start(HL7, "originalText", &[])?;
    reference(w, id)?;
    w.end()
}

pub(super) fn text_reference(w: &mut XmlWriter, id: &str) -> Result {
    w.start(HL7, "text", &[])?;
    reference(w, id)?;
    w.end()
}

fn reference(w: &mut XmlWriter, id: &str) -> Result {
    empty(w, "reference", &[("value", &format!("#{id}"))])
}

/// `effectiveTime` as an interval: `low` (unknown start: `nullFlavor="UNK"`) and `high` when
/// the end is known.
pub(super) fn interval(
    w: &mut XmlWriter,
    start: Option<PartialDate>,
    end: Option<PartialDate>,
    xsi_type: bool,
) -> Result {
    let attrs: &[(&str, &str)] = if xsi_type {
        &[("xsi:type", "IVL_TS")]
    } else {
        &[]
    };
    w.start(HL7, "effectiveTime", attrs)?;
    bound(w, "low", start)?;
    if end.is_some() {
        bound(w, "high", end)?;
    }
    w.end()
}

fn bound(w: &mut XmlWriter, local: &str, date: Option<PartialDate>) -> Result {
    match date {
        Some(d) => empty(w, local, &[("value", &d.hl7())]),
        None => empty(w, local, &[("nullFlavor", "UNK")]),
    }
}

/// The id of an item's label in the narrative, e.g. `allergie-2` (`allergie-1` is the "no
/// information" paragraph of an empty section).
pub(super) fn content_id(prefix: &str, index: usize) -> String {
    format!("{prefix}-{}", index + 1)
}

/// The section's narrative: a table of the items (start, end, label, code), each label in a
/// `content` the entries point to; or one paragraph saying there is no information.
pub(super) fn narrative(w: &mut XmlWriter, prefix: &str, label_header: &str, items: &[&Item]) -> Result {
    w.start(HL7, "text", &[])?;
    if items.is_empty() {
        w.start(HL7, "paragraph", &[])?;
        w.leaf(HL7, "content", &[("ID", &content_id(prefix, 0))], NO_INFORMATION)?;
        w.end()?;
        return w.end();
    }
    w.start(HL7, "table", &[("border", "0")])?;
    w.start(HL7, "thead", &[])?;
    w.start(HL7, "tr", &[])?;
    for header in ["Début", "Fin", label_header, "Code"] {
        w.leaf(HL7, "th", &[], header)?;
    }
    w.end()?;
    w.end()?;
    w.start(HL7, "tbody", &[])?;
    for (i, item) in items.iter().enumerate() {
        w.start(HL7, "tr", &[])?;
        let date = |d: Option<PartialDate>| d.map(PartialDate::french).unwrap_or_default();
        w.leaf(HL7, "td", &[], &date(item.start))?;
        w.leaf(HL7, "td", &[], &date(item.end))?;
        w.start(HL7, "td", &[])?;
        w.leaf(HL7, "content", &[("ID", &content_id(prefix, i))], &item.label)?;
        w.end()?;
        let code = item
            .code
            .as_ref()
            .map(|c| {
                if c.display.is_empty() {
                    c.code.clone()
                } else {
                    format!("{} ({})", c.code, c.display)
                }
            })
            .unwrap_or_default();
        w.leaf(HL7, "td", &[], &code)?;
        w.end()?;
    }
    w.end()?;
    w.end()?;
    w.end()
}
