//! TD0.2, DMP existence test: `PRPA_IN201307UV02` → `PRPA_IN201308UV02` (EX).
//!
//! - no DMP (unknown patient, or not created): `queryResponseCode NF`, no subject;
//! - a DMP: `OK`, the patient with `statusCode active` (open, empty) or `terminated`
//!   (closed; the KIT knows both values, the closed case was not captured);
//! - `AUTORISATION`: `VALIDE` (authorised or médecin traitant), `INTERDIT` (blocked by
//!   the patient or refused); none (no attentionLine) when there is no valid authorisation
//!   (absent or expired: the value for these was not found, assumed);
//! - `STATUT_MT`: whether the caller is the médecin traitant.

use super::DMP_DEVICE_OID;
use super::patients::INS_OIDS;
use super::server::{Call, Reply};
use super::soap::{Fault, NS_HL7};
use super::store::DmpState;
use super::writer::Xml;
use crate::common::xml::Element;

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

fn bad(text: &str) -> Fault {
    Fault::sender(
        "DMPMalformedRequest",
        format!("Requête PRPA_IN201307UV02 invalide : {text}."),
    )
}

fn path<'a>(e: &'a Element, names: &[&str]) -> Option<&'a Element> {
    let mut cur = e;
    for n in names {
        cur = cur.child(NS_HL7, n)?;
    }
    Some(cur)
}

pub(crate) fn td02(call: &Call<'_>) -> Result<Reply, Fault> {
    let req = call.body;
    if !req.is(NS_HL7, "PRPA_IN201307UV02") {
        return Err(bad("élément PRPA_IN201307UV02 attendu"));
    }
    let req_id = req.child(NS_HL7, "id").ok_or_else(|| bad("id absent"))?;
    let cap = req
        .child(NS_HL7, "controlActProcess")
        .ok_or_else(|| bad("controlActProcess absent"))?;
    let reason = cap.child(NS_HL7, "reasonCode");
    let query = cap
        .child(NS_HL7, "queryByParameter")
        .ok_or_else(|| bad("queryByParameter absent"))?;
    let query_id = query.child(NS_HL7, "queryId");
    let value = path(query, &["parameterList", "patientIdentifier", "value"])
        .ok_or_else(|| bad("parameterList/patientIdentifier/value absent"))?;
    let ins = value.attr("extension").unwrap_or_default().to_owned();
    let oid = value.attr("root").unwrap_or_default().to_owned();
    if !INS_OIDS.contains(&oid.as_str()) {
        return Err(bad("OID d'INS non accepté"));
    }
    if let Some((v_ins, _)) = &call.vihf.patient
        && *v_ins != ins
    {
        return Err(Fault::sender(
            "DMPInvalidVIHF",
            "Le patient de la requête n'est pas celui du VIHF (resource-id).",
        ));
    }
    let sender = path(req, &["sender", "device"]);
    let actor = &call.vihf.actor;
    let patient = call.store.read(|db| db.patients.get(&ins).cloned());
    let exists = patient.as_ref().is_some_and(|p| p.state.exists());

    let mut x = Xml::fragment();
    x.start(
        "PRPA_IN201308UV02",
        &[
            ("ITSVersion", "XML_1.0"),
            ("xmlns", NS_HL7),
            ("xmlns:ns2", "asip:ci-sis:gdp:2010"),
            ("xmlns:xsi", XSI),
        ],
    );
    x.empty("id", &[("root", &uuid::Uuid::new_v4().to_string())]);
    let now = call
        .now
        .format(&time::macros::format_description!(
            "[year][month][day][hour][minute][second]"
        ))
        .unwrap_or_default();
    x.empty("creationTime", &[("value", &now)]);
    x.empty(
        "interactionId",
        &[
            ("extension", "PRPA_IN201308UV02"),
            ("root", "2.16.840.1.113883.1.6"),
        ],
    );
    x.empty("processingCode", &[("code", "P")]);
    x.empty("processingModeCode", &[("code", "T")]);
    x.empty("acceptAckCode", &[("code", "NE")]);
    x.start("receiver", &[("typeCode", "RCV")]);
    x.start(
        "device",
        &[("classCode", "DEV"), ("determinerCode", "INSTANCE")],
    );
    let sender_root = sender
        .and_then(|d| d.child(NS_HL7, "id"))
        .and_then(|i| i.attr("root"))
        .unwrap_or_default();
    x.empty("id", &[("root", sender_root)]);
    let sender_name = sender
        .and_then(|d| d.child(NS_HL7, "softwareName"))
        .map(|s| s.text.trim())
        .unwrap_or_default();
    x.leaf("softwareName", &[], sender_name);
    x.end("device").end("receiver");
    x.start("sender", &[("typeCode", "SND")]);
    x.start(
        "device",
        &[("classCode", "DEV"), ("determinerCode", "INSTANCE")],
    );
    x.empty("id", &[("root", DMP_DEVICE_OID)]);
    x.leaf("softwareName", &[], "DMP");
    x.end("device").end("sender");
    if let Some(p) = patient.as_ref().filter(|_| exists) {
        let authorisation = if p.is_blocked(actor) || p.is_forbidden(actor) {
            Some("INTERDIT")
        } else if p.is_authorised(actor) {
            Some("VALIDE")
        } else {
            None
        };
        if let Some(code) = authorisation {
            x.start("attentionLine", &[]);
            x.empty(
                "keyWordText",
                &[
                    ("code", "AUTORISATION"),
                    ("codeSystem", "1.2.250.1.213.4.1.2.6.1"),
                ],
            );
            x.empty(
                "value",
                &[
                    ("code", code),
                    ("codeSystem", "1.2.250.1.213.4.1.2.6.2"),
                    ("xsi:type", "CV"),
                ],
            );
            x.end("attentionLine");
        }
        x.start("attentionLine", &[]);
        x.empty(
            "keyWordText",
            &[
                ("code", "STATUT_MT"),
                ("codeSystem", "1.2.250.1.213.4.1.2.6.3"),
            ],
        );
        let mt = if p.is_attending(actor) {
            "true"
        } else {
            "false"
        };
        x.empty("value", &[("value", mt), ("xsi:type", "BL")]);
        x.end("attentionLine");
    }
    x.start("acknowledgement", &[("typeCode", "AA")]);
    x.start("targetMessage", &[]);
    x.empty(
        "id",
        &[
            ("extension", req_id.attr("extension").unwrap_or_default()),
            ("root", req_id.attr("root").unwrap_or_default()),
        ],
    );
    x.end("targetMessage").end("acknowledgement");
    x.start(
        "controlActProcess",
        &[("classCode", "CACT"), ("moodCode", "EVN")],
    );
    if let Some(r) = reason {
        x.empty(
            "reasonCode",
            &[
                ("code", r.attr("code").unwrap_or_default()),
                ("codeSystem", r.attr("codeSystem").unwrap_or_default()),
                ("displayName", r.attr("displayName").unwrap_or_default()),
            ],
        );
    }
    if let Some(p) = patient.as_ref().filter(|_| exists) {
        x.start(
            "subject",
            &[("contextConductionInd", "false"), ("typeCode", "SUBJ")],
        );
        x.start(
            "registrationEvent",
            &[("classCode", "REG"), ("moodCode", "EVN")],
        );
        x.empty("statusCode", &[("code", "completed")]);
        x.start("subject1", &[("typeCode", "SBJ")]);
        x.start("patient", &[("classCode", "PAT")]);
        x.empty("id", &[("extension", &p.ins), ("root", &oid)]);
        let status = if p.state == DmpState::Closed {
            "terminated"
        } else {
            "active"
        };
        x.empty("statusCode", &[("code", status)]);
        x.start(
            "patientPerson",
            &[("classCode", "PSN"), ("determinerCode", "INSTANCE")],
        );
        x.start("name", &[]);
        x.leaf("given", &[], &p.first_name);
        x.leaf("family", &[("qualifier", "SP")], &p.last_name);
        x.end("name");
        x.empty("birthTime", &[("value", &p.birth_date)]);
        x.end("patientPerson");
        for (code, system, val) in [
            ("COMPTE_INTERNET_OUVERT", "1.2.250.1.213.4.1.2.9", "false"),
            ("RATTACHEMENT_ENS", "1.2.250.1.213.4.1.2.3", "true"),
        ] {
            x.start("subjectOf", &[("typeCode", "SBJ")]);
            x.start(
                "administrativeObservation",
                &[("classCode", "OBS"), ("moodCode", "EVN")],
            );
            x.empty("code", &[("code", code), ("codeSystem", system)]);
            x.empty("value", &[("value", val), ("xsi:type", "BL")]);
            x.end("administrativeObservation").end("subjectOf");
        }
        x.end("patient").end("subject1");
        x.start("custodian", &[("typeCode", "CST")]);
        x.start("assignedEntity", &[("classCode", "ASSIGNED")]);
        x.empty("id", &[("root", DMP_DEVICE_OID)]);
        x.end("assignedEntity").end("custodian");
        x.end("registrationEvent").end("subject");
    }
    x.start("queryAck", &[]);
    if let Some(q) = query_id {
        x.empty(
            "queryId",
            &[
                ("extension", q.attr("extension").unwrap_or_default()),
                ("root", q.attr("root").unwrap_or_default()),
            ],
        );
    }
    let code = if exists { "OK" } else { "NF" };
    x.empty("queryResponseCode", &[("code", code)]);
    x.end("queryAck")
        .end("controlActProcess")
        .end("PRPA_IN201308UV02");
    Ok(Reply {
        action: "urn:hl7-org:v3:PRPA_IN201308UV02",
        body: x.finish(),
        attachments: Vec::new(),
        mtom: false,
        result: format!("queryResponseCode {code}"),
    })
}
