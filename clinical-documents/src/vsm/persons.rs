//! The people a VSM names, written in the CDA header: the attending physician (médecin
//! traitant: `participant` of type `INF` with function `PCP`) and the trusted person
//! (personne de confiance: `informant/relatedEntity` of class `NOK`). The header writer
//! calls these at their place (informants after the author, participants after the legal
//! authenticator).

use std::io::Write;

use crate::cda::CdaWriter;

use super::Person;
use crate::cda::CdaError;

/// Root of the national professional identifiers: an RPPS number is written `8` + RPPS.
const PROFESSIONAL_ID_ROOT: &str = "1.2.250.1.71.4.2.1";

/// `<participant typeCode="INF">` for the attending physician.
pub fn write_attending_physician<W: Write>(
    w: &mut CdaWriter<W>,
    person: &Person,
) -> Result<(), CdaError> {
    w.start("participant", &[("typeCode", "INF")])?;
    w.empty(
        "functionCode",
        &[
            ("code", "PCP"),
            ("displayName", "Médecin traitant"),
            ("codeSystem", "2.16.840.1.113883.5.88"),
        ],
    )?;
    w.start("associatedEntity", &[("classCode", "PROV")])?;
    match &person.rpps {
        Some(rpps) => w.empty(
            "id",
            &[
                ("root", PROFESSIONAL_ID_ROOT),
                ("extension", &format!("8{rpps}")),
            ],
        )?,
        None => w.empty("id", &[("nullFlavor", "UNK")])?,
    }
    telecom(w, person)?;
    w.start("associatedPerson", &[])?;
    name(w, person)?;
    w.end()?;
    w.end()?;
    w.end()?;
    Ok(())
}

/// `<informant>` for the trusted person (a phone number is required by the input checks).
pub fn write_trusted_person<W: Write>(
    w: &mut CdaWriter<W>,
    person: &Person,
) -> Result<(), CdaError> {
    w.start("informant", &[])?;
    w.start("relatedEntity", &[("classCode", "NOK")])?;
    telecom(w, person)?;
    w.start("relatedPerson", &[])?;
    name(w, person)?;
    w.end()?;
    w.end()?;
    w.end()?;
    Ok(())
}

fn telecom<W: Write>(w: &mut CdaWriter<W>, person: &Person) -> Result<(), CdaError> {
    if let Some(phone) = &person.phone {
        w.empty("telecom", &[("value", &format!("tel:{phone}"))])?;
    }
    Ok(())
}

fn name<W: Write>(w: &mut CdaWriter<W>, person: &Person) -> Result<(), CdaError> {
    w.start("name", &[])?;
    w.leaf("given", &[], &person.first_name)?;
    w.leaf("family", &[], &person.last_name)?;
    w.end()?;
    Ok(())
}
