//! The seed as FHIR R4 resources, in the shape of the Annuaire Santé API v2 (profiles
//! as-dr-practitioner, as-dr-organization; identifiers IDNPS and RPPS with their systems and
//! type codings; MSSanté mailboxes as `telecom` with the e-mail type and mailbox metadata
//! extensions).

use serde_json::{Value, json};

use super::seed::{Email, Mailbox, Organization, Practitioner, Role, Shape};

pub(crate) const EMAIL_TYPE_URL: &str =
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type";
pub(crate) const MAILBOX_METADATA_URL: &str = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-mailbox-mss-metadata";
const EMAIL_TYPE_SYSTEM: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie";
const MAILBOX_TYPE_SYSTEM: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R257-TypeBAL/FHIR/TRE-R257-TypeBAL";
const ID_TYPE_SYSTEM: &str = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203";
pub(crate) const RPPS_SYSTEM: &str = "https://rpps.esante.gouv.fr";
pub(crate) const IDNPS_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.1";
pub(crate) const IDNST_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.2";
pub(crate) const FINESS_SYSTEM: &str = "https://finess.esante.gouv.fr";
pub(crate) const PROFESSION_SYSTEM: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante";
const CATEGORY_SYSTEM: &str = "https://mos.esante.gouv.fr/NOS/TRE_R09-CategorieProfessionnelle/FHIR/TRE-R09-CategorieProfessionnelle";
pub(crate) const SPECIALTY_SYSTEM: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale";
/// Every seed resource's `meta.lastUpdated` (the seed has no history).
const LAST_UPDATED: &str = "2026-01-05T09:00:00.000+01:00";

fn mailbox(m: &Mailbox) -> Value {
    let mut extensions = Vec::new();
    if matches!(m.shape, Shape::Full | Shape::EmailType) {
        extensions.push(json!({
            "url": EMAIL_TYPE_URL,
            "valueCoding": { "system": EMAIL_TYPE_SYSTEM, "code": "MSSANTE" }
        }));
    }
    if matches!(m.shape, Shape::Full | Shape::Metadata) {
        let mut meta = vec![json!({
            "url": "type",
            "valueCodeableConcept": { "coding": [
                { "system": MAILBOX_TYPE_SYSTEM, "code": m.mailbox_type }
            ] }
        })];
        if let Some(d) = &m.description {
            meta.push(json!({ "url": "description", "valueString": d }));
        }
        meta.push(json!({ "url": "listeRouge", "valueBoolean": m.red_list }));
        extensions.push(json!({ "url": MAILBOX_METADATA_URL, "extension": meta }));
    }
    let mut telecom = json!({ "extension": extensions, "system": "email", "value": m.address });
    if let Some(rank) = m.rank {
        telecom["rank"] = json!(rank);
    }
    telecom
}

fn email(e: &Email) -> Value {
    match &e.email_type {
        Some(code) => json!({
            "extension": [{
                "url": EMAIL_TYPE_URL,
                "valueCoding": { "system": EMAIL_TYPE_SYSTEM, "code": code }
            }],
            "system": "email",
            "value": e.address
        }),
        None => json!({ "system": "email", "value": e.address }),
    }
}

fn telecoms(mailboxes: &[Mailbox], emails: &[Email]) -> Vec<Value> {
    mailboxes
        .iter()
        .map(mailbox)
        .chain(emails.iter().map(email))
        .collect()
}

fn id_type(code: &str) -> Value {
    json!({ "coding": [{ "system": ID_TYPE_SYSTEM, "code": code }] })
}

pub(crate) fn practitioner(p: &Practitioner) -> Value {
    let mut qualification = vec![json!({
        "code": { "coding": [
            { "system": PROFESSION_SYSTEM, "code": p.profession },
            { "system": CATEGORY_SYSTEM, "code": "C" }
        ] }
    })];
    if let Some(s) = &p.specialty {
        qualification.push(json!({
            "code": { "coding": [{ "system": SPECIALTY_SYSTEM, "code": s }] }
        }));
    }
    let mut name = json!({ "use": "usual", "family": p.family, "given": p.given });
    if let Some(prefix) = &p.prefix {
        name["prefix"] = json!([prefix]);
    }
    let mut r = json!({
        "resourceType": "Practitioner",
        "id": p.id,
        "meta": {
            "lastUpdated": LAST_UPDATED,
            "source": "https://annuaire.esante.gouv.fr",
            "profile": [
                "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-practitioner",
                "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-dr-practitioner"
            ]
        },
        "language": "fr",
        "identifier": [
            { "use": "official", "type": id_type("IDNPS"), "system": IDNPS_SYSTEM,
              "value": format!("8{}", p.rpps) },
            { "use": "official", "type": id_type("RPPS"), "system": RPPS_SYSTEM, "value": p.rpps }
        ],
        "active": p.active,
        "name": [name],
        "qualification": qualification
    });
    let telecom = telecoms(&p.mailboxes, &p.emails);
    if !telecom.is_empty() {
        r["telecom"] = Value::Array(telecom);
    }
    r
}

pub(crate) fn role(p: &Practitioner, role: &Role) -> Value {
    let mut r = json!({
        "resourceType": "PractitionerRole",
        "id": role.id,
        "meta": {
            "lastUpdated": LAST_UPDATED,
            "source": "https://annuaire.esante.gouv.fr",
            "profile": [
                "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-dr-practitionerrole"
            ]
        },
        "language": "fr",
        "active": role.active,
        "practitioner": { "reference": format!("Practitioner/{}", p.id) }
    });
    if let Some(org) = &role.organization {
        r["organization"] = json!({ "reference": format!("Organization/{org}") });
    }
    let telecom = telecoms(&role.mailboxes, &role.emails);
    if !telecom.is_empty() {
        r["telecom"] = Value::Array(telecom);
    }
    r
}

pub(crate) fn organization(o: &Organization) -> Value {
    let mut identifier = Vec::new();
    if let Some(finess) = &o.finess {
        identifier.push(json!({ "use": "official", "type": id_type("IDNST"),
            "system": IDNST_SYSTEM, "value": format!("1{finess}") }));
        identifier.push(json!({ "use": "official", "type": id_type("FINEG"),
            "system": FINESS_SYSTEM, "value": finess }));
    }
    let mut r = json!({
        "resourceType": "Organization",
        "id": o.id,
        "meta": {
            "lastUpdated": LAST_UPDATED,
            "source": "https://annuaire.esante.gouv.fr",
            "profile": [
                "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-organization",
                "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-dr-organization"
            ]
        },
        "language": "fr",
        "identifier": identifier,
        "active": true,
        "name": o.name
    });
    let telecom = telecoms(&o.mailboxes, &o.emails);
    if !telecom.is_empty() {
        r["telecom"] = Value::Array(telecom);
    }
    r
}

/// `OperationOutcome` with one error issue, as HAPI answers.
pub(crate) fn outcome(code: &str, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "issue": [{ "severity": "error", "code": code, "diagnostics": diagnostics }]
    })
}
