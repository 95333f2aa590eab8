//! What every VSM section and entry writes alike: namespaces, section heads, ids, coded
//! values, intervals and the narrative table.

use std::io::Write;

use crate::cda::{CdaError, CdaWriter};

use super::{Item, PartialDate};
use crate::codes::Code;

pub(super) const LOINC: &str = "2.16.840.1.113883.6.1";
pub(super) const SNOMED_CT: &str = "2.16.840.1.113883.6.96";
/// HL7 "absent or unknown" codes of the JDV_AbsentOrUnknown* value sets.
pub(super) const ABSENT_OR_UNKNOWN: &str = "2.16.840.1.113883.5.1150.1";

/// The narrative's text when a section has nothing.
pub(super) const NO_INFORMATION: &str = "Pas d'information";

pub(super) type Result = std::result::Result<(), CdaError>;

pub(super) fn template_ids<W: Write>(w: &mut CdaWriter<W>, roots: &[&str]) -> Result {
    for root in roots {
        w.empty("templateId", &[("root", root)])?;
    }
    Ok(())
}

/// A fresh `id` (UUID root): entries need one, nothing refers to them from outside.
pub(super) fn new_id<W: Write>(w: &mut CdaWriter<W>) -> Result {
    let id = uuid::Uuid::new_v4().to_string().to_uppercase();
    w.empty("id", &[("root", &id)])
}

/// `<section>` with its template ids, id, LOINC code and title (the caller has opened the
/// `component`).
pub(super) fn section_start<W: Write>(
    w: &mut CdaWriter<W>,
    templates: &[&str],
    (code, display): (&str, &str),
    title: &str,
) -> Result {
    w.start("section", &[])?;
    template_ids(w, templates)?;
    new_id(w)?;
    loinc(w, "code", code, display)?;
    w.leaf("title", &[], title)
}

/// Closes `section` and its `component`.
pub(super) fn section_end<W: Write>(w: &mut CdaWriter<W>) -> Result {
    w.end()?;
    w.end()
}

pub(super) fn loinc<W: Write>(
    w: &mut CdaWriter<W>,
    local: &'static str,
    code: &str,
    display: &str,
) -> Result {
    w.empty(
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
pub(super) fn coded<W: Write>(
    w: &mut CdaWriter<W>,
    local: &'static str,
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
    w.start(local, &attrs)?;
    if let Some(r) = text_ref {
        original_text(w, r)?;
    }
    w.end()
}

pub(super) fn original_text<W: Write>(w: &mut CdaWriter<W>, id: &str) -> Result {
    w.start("originalText", &[])?;
    reference(w, id)?;
    w.end()
}

pub(super) fn text_reference<W: Write>(w: &mut CdaWriter<W>, id: &str) -> Result {
    w.start("text", &[])?;
    reference(w, id)?;
    w.end()
}

fn reference<W: Write>(w: &mut CdaWriter<W>, id: &str) -> Result {
    w.empty("reference", &[("value", &format!("#{id}"))])
}

/// `effectiveTime` as an interval: `low` (unknown start: `nullFlavor="UNK"`) and `high` when
/// the end is known.
pub(super) fn interval<W: Write>(
    w: &mut CdaWriter<W>,
    start: Option<PartialDate>,
    end: Option<PartialDate>,
    xsi_type: bool,
) -> Result {
    let attrs: &[(&str, &str)] = if xsi_type {
        &[("xsi:type", "IVL_TS")]
    } else {
        &[]
    };
    w.start("effectiveTime", attrs)?;
    bound(w, "low", start)?;
    if end.is_some() {
        bound(w, "high", end)?;
    }
    w.end()
}

fn bound<W: Write>(w: &mut CdaWriter<W>, local: &'static str, date: Option<PartialDate>) -> Result {
    match date {
        Some(d) => w.empty(local, &[("value", &d.hl7())]),
        None => w.empty(local, &[("nullFlavor", "UNK")]),
    }
}

/// The id of an item's label in the narrative, e.g. `allergie-2` (`allergie-1` is the "no
/// information" paragraph of an empty section).
pub(super) fn content_id(prefix: &str, index: usize) -> String {
    format!("{prefix}-{}", index + 1)
}

/// The section's narrative: a table of the items (start, end, label, code), each label in a
/// `content` the entries point to; or one paragraph saying there is no information.
pub(super) fn narrative<W: Write>(
    w: &mut CdaWriter<W>,
    prefix: &str,
    label_header: &str,
    items: &[&Item],
) -> Result {
    w.start("text", &[])?;
    if items.is_empty() {
        w.start("paragraph", &[])?;
        w.leaf("content", &[("ID", &content_id(prefix, 0))], NO_INFORMATION)?;
        w.end()?;
        return w.end();
    }
    w.start("table", &[("border", "0")])?;
    w.start("thead", &[])?;
    w.start("tr", &[])?;
    for header in ["Début", "Fin", label_header, "Code"] {
        w.leaf("th", &[], header)?;
    }
    w.end()?;
    w.end()?;
    w.start("tbody", &[])?;
    for (i, item) in items.iter().enumerate() {
        w.start("tr", &[])?;
        let date = |d: Option<PartialDate>| d.map(PartialDate::french).unwrap_or_default();
        w.leaf("td", &[], &date(item.start))?;
        w.leaf("td", &[], &date(item.end))?;
        w.start("td", &[])?;
        w.leaf("content", &[("ID", &content_id(prefix, i))], &item.label)?;
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
        w.leaf("td", &[], &code)?;
        w.end()?;
    }
    w.end()?;
    w.end()?;
    w.end()
}
