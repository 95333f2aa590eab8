//! The people a VSM names, written in the CDA header: the attending physician (médecin
//! traitant: `participant` of type `INF` with function `PCP`) and the trusted person
//! (personne de confiance: `informant/relatedEntity` of class `NOK`). The header writer
//! calls these at their place (informants after the author, participants after the legal
//! authenticator).

use passerelle_soap::XmlWriter;

use super::xml::{self, HL7};
use super::{Person, VsmError};

/// Root of the national professional identifiers: an RPPS number is written `8` + RPPS.
const PROFESSIONAL_ID_ROOT: &str = "1.2.250.1.71.4.2.1";

/// `<participant typeCode="INF">` for the attending physician.
pub fn write_attending_physician(w: &mut XmlWriter, person: &Person) -> Result<(), VsmError> {
    w.start(HL7, "participant", &[("typeCode", "INF")])?;
    xml::empty(
        w,
        "functionCode",
        &[
            ("code", "PCP"),
            ("displayName", "Médecin traitant"),
            ("codeSystem", "2.16.840.1.113883.5.88"),
        ],
    )?;
    w.start(HL7, "associatedEntity", &[("classCode", "PROV")])?;
    match &person.rpps {
        Some(rpps) => xml::empty(
            w,
            "id",
            &[
                ("root", PROFESSIONAL_ID_ROOT),
                ("extension", &format!("8{rpps}")),
            ],
        )?,
        None => xml::empty(w, "id", &[("nullFlavor", "UNK")])?,
    }
    telecom(w, person)?;
    w.start(HL7, "associatedPerson", &[])?;
    name(w, person)?;
    w.end()?;
    w.end()?;
    w.end()?;
    Ok(())
}

/// `<informant>` for the trusted person (a phone number is required by the input checks).
pub fn write_trusted_person(w: &mut XmlWriter, person: &Person) -> Result<(), VsmError> {
    w.start(HL7, "informant", &[])?;
    w.start(HL7, "relatedEntity", &[("classCode", "NOK")])?;
    telecom(w, person)?;
    w.start(HL7, "relatedPerson", &[])?;
    name(w, person)?;
    w.end()?;
    w.end()?;
    w.end()?;
    Ok(())
}

fn telecom(w: &mut XmlWriter, person: &Person) -> Result<(), VsmError> {
    if let Some(phone) = &person.phone {
        xml::empty(w, "telecom", &[("value", &format!("tel:{phone}"))])?;
    }
    Ok(())
}

fn name(w: &mut XmlWriter, person: &Person) -> Result<(), VsmError> {
    w.start(HL7, "name", &[])?;
    w.leaf(HL7, "given", &[], &person.first_name)?;
    w.leaf(HL7, "family", &[], &person.last_name)?;
    w.end()?;
    Ok(())
}
