//! Coded values and the value-set entries the project uses.

/// A coded value: `code` in the code system `system` (an OID), with its display name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Code {
    pub code: String,
    /// The code system's OID (e.g. LOINC `2.16.840.1.113883.6.1`).
    pub system: String,
    pub display: String,
}

impl Code {
    pub fn new(code: &str, system: &str, display: &str) -> Self {
        Self {
            code: code.to_owned(),
            system: system.to_owned(),
            display: display.to_owned(),
        }
    }
}
