//! Entries of J08 (code, code system OID, display) as published by the ANS in its NOS
//! value-set file `JDV_J08_…_CISIS.xml` (mos.esante.gouv.fr/NOS); see [`super`].

use super::Entry;

pub(crate) const J08: &[Entry] = &[
    ("N", "2.16.840.1.113883.5.25", "Normal"),
    ("R", "2.16.840.1.113883.5.25", "Restreint"),
    ("V", "2.16.840.1.113883.5.25", "Très restreint"),
    (
        "INVISIBLE_PATIENT",
        "1.2.250.1.213.1.1.4.13",
        "Non visible par le patient",
    ),
    (
        "INVISIBLE_REPRESENTANTS_LEGAUX",
        "1.2.250.1.213.1.1.4.13",
        "Non visible par les représentants légaux du patient",
    ),
    (
        "MASQUE_PS",
        "1.2.250.1.213.1.1.4.13",
        "Masqué aux professionnels de santé",
    ),
];
