//! XDS `formatCode`: JDV_J60 FormatCode-DMP (`1.2.250.1.213.1.1.5.8`) ⊂ JDV_J10
//! XdsFormatCode-CISIS (`1.2.250.1.213.1.1.5.465`). No value-set file is published: codes and
//! coding schemes are those of the ANS terminology IG as gathered in the project's protocol
//! notes (section "XDS metadata value sets"); the displays are the project's own short labels.

use std::sync::LazyLock;

use super::{Code, Entry, to_codes};

/// IHE PCC format codes (XDS-SD).
const IHE_PCC: &str = "1.3.6.1.4.1.19376.1.2.3";

const FORMATS: &[Entry] = &[
    (
        "urn:ihe:iti:xds-sd:pdf:2008",
        IHE_PCC,
        "CDA R2 niveau 1, PDF",
    ),
    (
        "urn:ihe:iti:xds-sd:text:2008",
        IHE_PCC,
        "CDA R2 niveau 1, texte",
    ),
    (
        "urn:asip:ci-sis:vsm:2012",
        "1.2.250.1.213.1.1.4.2.282",
        "Volet de Synthèse Médicale",
    ),
];

/// The format codes kept.
pub static FORMAT_CODES: LazyLock<Vec<Code>> = LazyLock::new(|| to_codes(FORMATS));

/// The format with this code, e.g. `urn:ihe:iti:xds-sd:pdf:2008`.
pub fn format_code(code: &str) -> Option<&'static Code> {
    FORMAT_CODES.iter().find(|c| c.code == code)
}
