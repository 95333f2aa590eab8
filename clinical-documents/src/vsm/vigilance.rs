//! Points de vigilance: the VSM model puts them in its required "Résultats" section
//! (FR-Resultats), as narrative.

use std::io::Write;

use crate::cda::CdaWriter;

use super::Item;
use super::xml::{self, Result};

pub(super) fn write_vigilance_points<W: Write>(w: &mut CdaWriter<W>, items: &[Item]) -> Result {
    w.start("component", &[])?;
    xml::section_start(
        w,
        &["1.3.6.1.4.1.19376.1.5.3.1.3.27", "1.2.250.1.213.1.1.2.150"],
        ("30954-2", "Résultats d'examens"),
        "Points de vigilance",
    )?;
    let refs: Vec<&Item> = items.iter().collect();
    xml::narrative(w, "vigilance", "Point de vigilance", &refs)?;
    xml::section_end(w)
}
