//! TD0.3 `setAuthorization` (habilitations) and TD0.4 `patientList` (patientsSpecific).
//!
//! Rights (MAT PDT-INF-526): adding or removing one's authorisation only in normal mode,
//! only in direct (card) mode; a professional the patient blocked or refused cannot add
//! it; `MEDECIN_TRAITANT` only for a doctor. Refusals: SOAP fault `soap:Sender` /
//! `DMPAccessDeniedByRightsService` (the code observed for a refused right, MAT
//! PDT-INF-527; its use here is assumed).

use super::server::{Call, Reply};
use super::soap::{Fault, NS_HABILITATIONS, NS_PATIENTS};
use super::store::{DmpState, Patient, StoreError};
use super::vihf::{Mode, Purpose};
use super::writer::Xml;

pub(crate) const DENIED: &str = "DMPAccessDeniedByRightsService";

impl From<StoreError> for Fault {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "DMP store");
        Fault::receiver("DMPInternalError", "Erreur interne du DMP (stockage).")
    }
}

pub(crate) fn timestamp(now: time::OffsetDateTime) -> String {
    now.format(&time::macros::format_description!(
        "[year][month][day][hour][minute][second]"
    ))
    .unwrap_or_default()
}

/// The VIHF's patient, who must have a DMP (open or empty; closed answers `DMPClosed`).
pub(crate) fn patient_of(call: &Call<'_>) -> Result<Patient, Fault> {
    let (ins, _) = call.vihf.patient.clone().ok_or_else(|| {
        Fault::sender(
            "DMPInvalidVIHF",
            "VIHF invalide : resource-id (INS du patient) absent.",
        )
    })?;
    let patient = call.store.read(|db| db.patients.get(&ins).cloned());
    match patient {
        Some(p) if p.state == DmpState::Closed => Err(Fault::sender(
            "DMPClosed",
            "Le DMP de ce patient est fermé.",
        )),
        Some(p) if p.state.exists() => Ok(p),
        _ => Err(Fault::sender(
            "DMPPatientNotFound",
            "Aucun DMP n'existe pour ce patient.",
        )),
    }
}

fn output(ns_prefix: &str, status: &str, context: &str, x: &mut Xml) {
    x.start(&format!("{ns_prefix}:output"), &[]);
    x.leaf(&format!("{ns_prefix}:status"), &[], status);
    x.leaf(&format!("{ns_prefix}:context"), &[], context);
    x.end(&format!("{ns_prefix}:output"));
}

pub(crate) fn set_authorization(call: &Call<'_>) -> Result<Reply, Fault> {
    let req = call.body;
    if !req.is(NS_HABILITATIONS, "setAuthorization") {
        return Err(Fault::sender(
            "DMPMalformedRequest",
            "setAuthorization attendu.",
        ));
    }
    let action = req
        .child(NS_HABILITATIONS, "action")
        .map(|a| a.text.trim().to_owned())
        .unwrap_or_default();
    let role = req
        .child(NS_HABILITATIONS, "role")
        .map(|a| a.text.trim().to_owned());
    let add = match action.as_str() {
        "AJOUT" => true,
        "SUPPRESSION" => false,
        _ => {
            return Err(Fault::sender(
                "DMPMalformedRequest",
                "action doit valoir AJOUT ou SUPPRESSION.",
            ));
        }
    };
    let attending = match role.as_deref() {
        None | Some("") => false,
        Some("MEDECIN_TRAITANT") => true,
        Some(_) => {
            return Err(Fault::sender(
                "DMPMalformedRequest",
                "role ne peut valoir que MEDECIN_TRAITANT.",
            ));
        }
    };
    let vihf = &call.vihf;
    if vihf.mode != Mode::Directe || vihf.purpose != Purpose::Normal {
        return Err(Fault::sender(
            DENIED,
            "La mise à jour de l'autorisation n'est permise qu'en mode d'accès normal, authentification directe.",
        ));
    }
    if attending && !vihf.is_doctor() {
        return Err(Fault::sender(
            DENIED,
            "Seul un médecin peut se déclarer médecin traitant.",
        ));
    }
    let patient = patient_of(call)?;
    let actor = vihf.actor.clone();
    if add && (patient.is_blocked(&actor) || patient.is_forbidden(&actor)) {
        return Err(Fault::sender(
            DENIED,
            "Le patient a interdit l'accès de ce professionnel à son DMP.",
        ));
    }
    let since = timestamp(call.now);
    let context = call.store.update(|db| -> Result<&'static str, Fault> {
        let Some(p) = db.patients.get_mut(&patient.ins) else {
            return Err(Fault::sender(
                "DMPPatientNotFound",
                "Aucun DMP n'existe pour ce patient.",
            ));
        };
        Ok(match (add, attending) {
            (true, false) if p.authorised.contains_key(&actor) => {
                "Autorisation déjà présente aucune action effectuée"
            }
            (true, false) => {
                p.authorised.insert(actor.clone(), since.clone());
                p.expired.retain(|e| *e != actor);
                "Autorisation ajoutée"
            }
            (true, true) => {
                p.authorised.entry(actor.clone()).or_insert(since.clone());
                if p.attending.as_deref() == Some(actor.as_str()) {
                    "Médecin traitant déjà déclaré aucune action effectuée"
                } else {
                    p.attending = Some(actor.clone());
                    "Déclaration de médecin traitant effectuée"
                }
            }
            (false, true) => {
                if p.attending.as_deref() == Some(actor.as_str()) {
                    p.attending = None;
                    "Déclaration de médecin traitant supprimée"
                } else {
                    "Le professionnel n'est pas médecin traitant aucune action effectuée"
                }
            }
            (false, false) => {
                if p.authorised.remove(&actor).is_some() {
                    if p.attending.as_deref() == Some(actor.as_str()) {
                        p.attending = None;
                    }
                    "Autorisation supprimée"
                } else {
                    "Autorisation absente aucune action effectuée"
                }
            }
        })
    })?;
    let mut x = Xml::fragment();
    x.start(
        "ns1:setAuthorizationResponse",
        &[("xmlns:ns1", NS_HABILITATIONS)],
    );
    output("ns1", "DMPOk", context, &mut x);
    x.end("ns1:setAuthorizationResponse");
    Ok(Reply {
        action: "urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorizationResponse",
        body: x.finish(),
        attachments: Vec::new(),
        mtom: false,
        result: "DMPOk".into(),
    })
}

pub(crate) fn patient_list(call: &Call<'_>) -> Result<Reply, Fault> {
    let req = call.body;
    if !req.is(NS_PATIENTS, "patientList") {
        return Err(Fault::sender("DMPMalformedRequest", "patientList attendu."));
    }
    let text = |n: &str| {
        req.child(NS_PATIENTS, n)
            .map(|e| e.text.trim().to_owned())
            .filter(|t| !t.is_empty())
    };
    let start = text("startDate");
    let date_type = text("dateType");
    if let Some(s) = &start
        && (s.len() != 14 || !s.bytes().all(|c| c.is_ascii_digit()))
    {
        return Err(Fault::sender(
            "DMPMalformedRequest",
            "startDate doit être yyyyMMddHHmmss.",
        ));
    }
    if date_type
        .as_deref()
        .is_some_and(|d| d != "LASTAUTORIZATION" && d != "LASTDOC")
    {
        return Err(Fault::sender(
            "DMPMalformedRequest",
            "dateType doit valoir LASTAUTORIZATION ou LASTDOC.",
        ));
    }
    let actor = call.vihf.actor.clone();
    let patients: Vec<Patient> = call.store.read(|db| {
        db.patients
            .values()
            .filter(|p| p.state.exists() && p.state != DmpState::Closed && p.is_authorised(&actor))
            .filter(|p| {
                let since = p.authorised.get(&actor).cloned().unwrap_or_default();
                let date = match date_type.as_deref() {
                    Some("LASTDOC") => p.last_update.clone().unwrap_or(since),
                    _ => since,
                };
                start.as_ref().is_none_or(|s| date >= *s)
            })
            .cloned()
            .collect()
    });
    let mut x = Xml::fragment();
    x.start("ns1:patientListResponse", &[("xmlns:ns1", NS_PATIENTS)]);
    x.start("ns1:output", &[]);
    for p in &patients {
        x.start("ns1:patientlistData", &[]);
        for oid in super::patients::INS_OIDS {
            x.start("ns1:patientIdentifier", &[]);
            x.leaf("ns1:nationalId", &[], &p.ins);
            x.leaf("ns1:nationalIdType", &[], oid);
            x.end("ns1:patientIdentifier");
        }
        x.leaf("ns1:lastName", &[], &p.last_name);
        x.leaf("ns1:firstName", &[], &p.first_name);
        x.leaf("ns1:dateOfBirth", &[], &p.birth_date);
        x.leaf(
            "ns1:MT",
            &[],
            if p.is_attending(&actor) {
                "true"
            } else {
                "false"
            },
        );
        x.leaf("ns1:message", &[], "false");
        let since = p.authorised.get(&actor).cloned().unwrap_or_default();
        let last = p.last_update.clone().unwrap_or_else(|| since.clone());
        x.leaf("ns1:lastAccessDate", &[], &last);
        x.leaf("ns1:lastUpdateDate", &[], &last);
        x.leaf("ns1:lastAddDate", &[], &last);
        x.end("ns1:patientlistData");
    }
    x.leaf("ns1:status", &[], "DMPOk");
    x.end("ns1:output").end("ns1:patientListResponse");
    Ok(Reply {
        action: "urn:si-dmp-patients:PatientSpecificEndPoint:patientListResponse",
        body: x.finish(),
        attachments: Vec::new(),
        mtom: false,
        result: format!("DMPOk {} patients", patients.len()),
    })
}
