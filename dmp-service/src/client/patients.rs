//! TD0.2: does the patient have a DMP, in what state, is this professional authorised, is
//! he the patient's médecin traitant (HL7v3 PRPA_IN201307UV02 → PRPA_IN201308UV02).

use passerelle_soap::{Element, Ns, XmlWriter};
use time::OffsetDateTime;

use super::error::DmpError;
use super::{Call, CallContext, DmpClient, Service};

pub const ACTION: &str = "urn:hl7-org:v3:PRPA_IN201307UV02";
pub const RESPONSE_ACTION: &str = "urn:hl7-org:v3:PRPA_IN201308UV02";
const CALL: Call<'static> = Call::new(Service::Patients, ACTION, RESPONSE_ACTION);
pub const HL7: &str = "urn:hl7-org:v3";
const V3: Ns = Ns::new("", HL7);
const XSI: Ns = Ns::new("xsi", passerelle_soap::ns::XSI);
/// The DMP's device id (receiver, custodian).
pub const DMP_DEVICE: &str = "1.2.250.1.213.4.1.1.1";

/// The DMP's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmpState {
    /// `statusCode active`.
    Open,
    /// `statusCode terminated`: closed.
    Closed,
    /// `queryResponseCode NF`: no DMP for this INS.
    NotCreated,
    /// Another status code, as sent.
    Other(String),
}

/// This professional's authorisation on the DMP (`attentionLine` AUTORISATION).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// `VALIDE`.
    Valide,
    /// `INTERDIT`: blocked by the patient.
    Interdit,
    /// No AUTORISATION line: none (or none that counts).
    Absent,
    /// A value saying it expired (`EXPIREE`…; not seen in public material).
    Expired,
    /// Another value, as sent.
    Other(String),
}

/// The answer of TD0.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientStatus {
    pub exists: bool,
    pub state: DmpState,
    pub authorization: Authorization,
    /// `STATUT_MT`: this professional is the patient's médecin traitant.
    pub attending_physician: bool,
    /// `COMPTE_INTERNET_OUVERT`, when said.
    pub internet_account_open: Option<bool>,
    /// `RATTACHEMENT_ENS` (attached to Mon espace santé), when said.
    pub attached_to_ens: Option<bool>,
}

/// HL7 TS, `YYYYMMDDhhmmss`, UTC.
pub(crate) fn hl7_time(t: OffsetDateTime) -> String {
    passerelle_clinical_documents::xds::xds_time(t)
}

/// Writes the PRPA_IN201307UV02 query (reasonCode `TEST_EXST`) for `ins` under `ins_oid`.
pub fn write_request(
    w: &mut XmlWriter,
    lps_id: &str,
    lps_name: &str,
    ins: &str,
    ins_oid: &str,
    now: OffsetDateTime,
) -> Result<(), DmpError> {
    let id = uuid::Uuid::new_v4().to_string();
    let query = uuid::Uuid::new_v4().to_string();
    let id_root = format!("{lps_id}.1");
    let query_root = format!("{lps_id}.2");
    w.declare(&[XSI]);
    w.start(V3, "PRPA_IN201307UV02", &[("ITSVersion", "XML_1.0")])?;
    w.leaf(V3, "id", &[("root", &id_root), ("extension", &id)], "")?;
    w.leaf(V3, "creationTime", &[("value", &hl7_time(now))], "")?;
    w.leaf(
        V3,
        "interactionId",
        &[
            ("root", "2.16.840.1.113883.1.6"),
            ("extension", "PRPA_IN201307UV02"),
        ],
        "",
    )?;
    w.leaf(V3, "processingCode", &[("code", "D")], "")?;
    w.leaf(V3, "processingModeCode", &[("code", "T")], "")?;
    w.leaf(V3, "acceptAckCode", &[("code", "AL")], "")?;
    for (role, type_code, device, name) in [
        ("receiver", "RCV", DMP_DEVICE, "DMP"),
        ("sender", "SND", lps_id, lps_name),
    ] {
        w.start(V3, role, &[("typeCode", type_code)])?;
        w.start(
            V3,
            "device",
            &[("classCode", "DEV"), ("determinerCode", "INSTANCE")],
        )?;
        w.leaf(V3, "id", &[("root", device)], "")?;
        w.leaf(V3, "softwareName", &[], name)?;
        w.end()?;
        w.end()?;
    }
    w.leaf(V3, "attentionLine", &[("xsi:nil", "true")], "")?;
    w.start(
        V3,
        "controlActProcess",
        &[("classCode", "CACT"), ("moodCode", "EVN")],
    )?;
    w.leaf(
        V3,
        "reasonCode",
        &[
            ("code", "TEST_EXST"),
            ("codeSystem", "1.2.250.1.213.1.1.4.11"),
            ("displayName", "Test d'existence de dossier"),
        ],
        "",
    )?;
    w.start(V3, "queryByParameter", &[])?;
    w.leaf(
        V3,
        "queryId",
        &[("root", &query_root), ("extension", &query)],
        "",
    )?;
    w.leaf(V3, "statusCode", &[("code", "new")], "")?;
    w.start(V3, "parameterList", &[])?;
    w.leaf(V3, "dataSource", &[("xsi:nil", "true")], "")?;
    w.start(V3, "patientIdentifier", &[])?;
    w.leaf(V3, "value", &[("root", ins_oid), ("extension", ins)], "")?;
    w.leaf(V3, "semanticsText", &[], "Patient.id")?;
    w.end()?;
    w.end()?;
    w.end()?;
    w.end()?;
    w.end()?;
    Ok(())
}

fn ack_error(ack: &Element) -> DmpError {
    let detail = ack.child(HL7, "acknowledgementDetail");
    let code = detail
        .and_then(|d| d.child(HL7, "code"))
        .and_then(|c| c.attr("code"))
        .unwrap_or_else(|| ack.attr("typeCode").unwrap_or("AE"))
        .to_owned();
    let text = detail
        .and_then(|d| d.child_text(HL7, "text"))
        .map(str::to_owned)
        .or_else(|| {
            detail
                .and_then(|d| d.child(HL7, "code"))
                .and_then(|c| c.attr("displayName"))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    DmpError::Hl7 { code, text }
}

/// Reads a PRPA_IN201308UV02 answer.
pub fn parse_response(payload: &Element) -> Result<PatientStatus, DmpError> {
    if !payload.is(HL7, "PRPA_IN201308UV02") {
        return Err(DmpError::not_xds(format!(
            "{} is not a PRPA_IN201308UV02 answer",
            payload.name()
        )));
    }
    let ack = payload
        .child(HL7, "acknowledgement")
        .ok_or_else(|| DmpError::not_xds("PRPA_IN201308UV02 without acknowledgement"))?;
    match ack.attr("typeCode") {
        Some("AA" | "CA") => {}
        _ => return Err(ack_error(ack)),
    }
    let mut authorization = Authorization::Absent;
    let mut attending_physician = false;
    for line in payload.children_named(HL7, "attentionLine") {
        let key = line
            .child(HL7, "keyWordText")
            .and_then(|k| k.attr("code"))
            .unwrap_or_default();
        let value = line.child(HL7, "value");
        match key {
            "AUTORISATION" => {
                let code = value.and_then(|v| v.attr("code")).unwrap_or_default();
                authorization = match code {
                    "VALIDE" => Authorization::Valide,
                    "INTERDIT" => Authorization::Interdit,
                    "" => Authorization::Absent,
                    c if c.to_ascii_uppercase().contains("EXPIR") => Authorization::Expired,
                    c => Authorization::Other(c.to_owned()),
                };
            }
            "STATUT_MT" => {
                attending_physician = value.and_then(|v| v.attr("value")) == Some("true");
            }
            _ => {}
        }
    }
    let control = payload
        .child(HL7, "controlActProcess")
        .ok_or_else(|| DmpError::not_xds("PRPA_IN201308UV02 without controlActProcess"))?;
    let response_code = control
        .child(HL7, "queryAck")
        .and_then(|q| q.child(HL7, "queryResponseCode"))
        .and_then(|c| c.attr("code"))
        .ok_or_else(|| DmpError::not_xds("PRPA_IN201308UV02 without queryResponseCode"))?;
    match response_code {
        "OK" => {}
        "NF" => {
            return Ok(PatientStatus {
                exists: false,
                state: DmpState::NotCreated,
                authorization,
                attending_physician,
                internet_account_open: None,
                attached_to_ens: None,
            });
        }
        other => {
            return Err(DmpError::Hl7 {
                code: other.to_owned(),
                text: "query not answered".to_owned(),
            });
        }
    }
    let patient = control
        .descendant(HL7, "patient")
        .ok_or_else(|| DmpError::not_xds("PRPA_IN201308UV02 OK without a patient"))?;
    let state = match patient
        .child(HL7, "statusCode")
        .and_then(|s| s.attr("code"))
    {
        Some("active") => DmpState::Open,
        Some("terminated") => DmpState::Closed,
        Some(other) => DmpState::Other(other.to_owned()),
        None => DmpState::Other(String::new()),
    };
    let mut internet_account_open = None;
    let mut attached_to_ens = None;
    for s in patient.children_named(HL7, "subjectOf") {
        let Some(obs) = s.child(HL7, "administrativeObservation") else {
            continue;
        };
        let code = obs
            .child(HL7, "code")
            .and_then(|c| c.attr("code"))
            .unwrap_or_default();
        let value = obs
            .child(HL7, "value")
            .and_then(|v| v.attr("value"))
            .map(|v| v == "true");
        match code {
            "COMPTE_INTERNET_OUVERT" => internet_account_open = value,
            "RATTACHEMENT_ENS" => attached_to_ens = value,
            _ => {}
        }
    }
    Ok(PatientStatus {
        exists: true,
        state,
        authorization,
        attending_physician,
        internet_account_open,
        attached_to_ens,
    })
}

impl DmpClient {
    /// TD0.2 for the patient of the VIHF claims.
    pub async fn patient_status(&self, ctx: &CallContext) -> Result<PatientStatus, DmpError> {
        let patient = ctx
            .claims
            .patient
            .as_ref()
            .ok_or_else(|| DmpError::request("TD0.2 needs the patient in the VIHF claims"))?;
        // The sender device: the software of the VIHF (`LPS_ID`, `LPS_Nom`).
        let lps = &ctx.claims.lps;
        if lps.id.trim().is_empty() {
            return Err(DmpError::request(
                "TD0.2 needs the software's id (LPS_ID) as the sender device id",
            ));
        }
        let response = self
            .call(
                ctx,
                CALL,
                |w| {
                    write_request(
                        w,
                        &lps.id,
                        &lps.name,
                        &patient.ins,
                        &patient.oid,
                        OffsetDateTime::now_utc(),
                    )
                },
                &[],
            )
            .await?;
        parse_response(response.payload()?)
    }
}
