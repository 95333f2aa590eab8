//! Entries of J04 (code, code system OID, display) as published by the ANS in its NOS
//! value-set file `JDV_J04_…_CISIS.xml` (mos.esante.gouv.fr/NOS); see [`super`].

use super::Entry;

pub(crate) const J04: &[Entry] = &[
    (
        "EXP_PATIENT",
        "1.2.250.1.213.1.1.4.6",
        "Expression personnelle du patient",
    ),
    (
        "SNR",
        "1.2.250.1.213.1.1.4.6",
        "Service numérique référencé",
    ),
    ("AMBULATOIRE", "1.2.250.1.213.1.1.4.9", "Ambulatoire"),
    (
        "AMO",
        "1.2.250.1.213.1.1.4.9",
        "Organisme d'assurance maladie obligatoire",
    ),
    ("DEPISTAGE", "1.2.250.1.213.1.1.4.9", "Dépistage"),
    (
        "ESSMS",
        "1.2.250.1.213.1.1.4.9",
        "Etablissement ou Service Social ou Médico-Social",
    ),
    (
        "ETABLISSEMENT",
        "1.2.250.1.213.1.1.4.9",
        "Etablissement de santé",
    ),
    ("HAD", "1.2.250.1.213.1.1.4.9", "Hospitalisation à domicile"),
    ("MAD", "1.2.250.1.213.1.1.4.9", "Maintien à domicile"),
    ("PALLIATIF", "1.2.250.1.213.1.1.4.9", "Soins palliatifs"),
    ("SAD", "1.2.250.1.213.1.1.4.9", "Soins à domicile"),
    ("SAMU_SMUR", "1.2.250.1.213.1.1.4.9", "SAMU/SMUR"),
];
