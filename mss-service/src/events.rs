//! What mss-service publishes: `MssMessageSent` once the server took a message (what a
//! hospital system acts on), and an audit record per message handed to the SMTP server (or session that failed to open) — a keyed hash of the INS,
//! never the INS, a patient's address, a subject nor content.

use std::time::Duration;

use passerelle_bus::subjects;
use passerelle_domain::PatientIdentity;
use passerelle_proto::common::v1::Actor;
use passerelle_proto::events::v1::{DmpPatient, MssCallAudited, MssMessageSent};
use passerelle_service_kit::RequestId;
use passerelle_service_kit::audit::{DurablePublisher, InsHasher, now_unix_ms};
use prost::Message;

use crate::address::Audience;
use crate::message::OutboundMessage;
use crate::smtp::{AuthUsed, Delivery, SmtpError};

/// The event of a message the server took.
pub fn message_sent(
    request_id: &RequestId,
    actor: &Actor,
    message: &OutboundMessage,
    delivery: &Delivery,
    patient: Option<&PatientIdentity>,
    type_code: Option<&str>,
) -> MssMessageSent {
    let to_patient = message.audience == Audience::Patient;
    MssMessageSent {
        request_id: request_id.to_string(),
        actor: Some(actor.clone()),
        message_id: message.message_id.clone(),
        // As the event's contract writes it (`Audience::as_str` is the Message-ID's `ps`).
        audience: match message.audience {
            Audience::Professionals => "professionals",
            Audience::Patient => "patient",
        }
        .to_owned(),
        from: message.from.as_str().to_owned(),
        // A patient's mailbox is their INS: never listed, `to_patient` and `patient` say it.
        recipients: delivery
            .accepted
            .iter()
            .filter(|r| !crate::address::is_patient_text(&r.address))
            .map(|r| r.address.clone())
            .collect(),
        to_patient,
        patient: patient.map(|p| DmpPatient {
            matricule: p.ins.matricule().to_string(),
            key: p.ins.key().to_string(),
            oid: p.ins.oid().to_string(),
        }),
        type_code: type_code.unwrap_or_default().to_owned(),
        at_unix_ms: now_unix_ms(),
    }
}

pub fn publish_sent(publisher: &DurablePublisher, request_id: &RequestId, event: MssMessageSent) {
    publisher.publish(
        subjects::EVENTS_MSS_MESSAGE_SENT,
        request_id.bus_headers(),
        event.encode_to_vec().into(),
    );
}

/// One SMTP session, as audited.
pub struct AuditedSession<'a> {
    pub request_id: &'a RequestId,
    pub actor: &'a Actor,
    pub message_id: &'a str,
    pub auth: Option<AuthUsed>,
    pub recipients: usize,
    pub refused: usize,
    pub patient: Option<&'a PatientIdentity>,
    pub error: Option<&'a SmtpError>,
    pub duration: Duration,
}

/// The record of one session. Pure, so what is published can be checked without a bus.
pub fn audit_record(s: &AuditedSession<'_>, hasher: &InsHasher) -> MssCallAudited {
    MssCallAudited {
        request_id: s.request_id.to_string(),
        actor: Some(s.actor.clone()),
        message_id: s.message_id.to_owned(),
        attempt: 1,
        authentication: match s.auth {
            Some(AuthUsed::External) => "external",
            Some(AuthUsed::Certificate) => "certificate",
            Some(AuthUsed::Plain | AuthUsed::Login) => "password",
            None => "",
        }
        .to_owned(),
        recipients: u32::try_from(s.recipients).unwrap_or(u32::MAX),
        refused: u32::try_from(s.refused).unwrap_or(u32::MAX),
        ins_hash: s.patient.map(|p| hasher.hash(&p.ins)).unwrap_or_default(),
        error: s.error.map(error_code).unwrap_or_default(),
        duration_ms: s.duration.as_millis().min(u32::MAX as u128) as u32,
        at_unix_ms: now_unix_ms(),
    }
}

/// The server's reply code, or the kind of failure.
fn error_code(e: &SmtpError) -> String {
    match e.reply() {
        Some(r) => match &r.enhanced {
            Some(enhanced) => format!("{} {enhanced}", r.code),
            None => r.code.to_string(),
        },
        None => match e {
            SmtpError::Connect { .. } => "connect",
            SmtpError::Tls { .. } | SmtpError::StartTlsUnavailable { .. } => "tls",
            SmtpError::Card(_) => "card",
            SmtpError::Timeout { .. } => "timeout",
            SmtpError::ConnectionLost { .. } => "connection_lost",
            SmtpError::MessageTooLarge { .. } => "too_large",
            _ => "error",
        }
        .to_owned(),
    }
}

/// Logs the session (ids, codes, durations) and publishes its record durably.
pub fn publish_audit(publisher: &DurablePublisher, request_id: &RequestId, record: MssCallAudited) {
    tracing::info!(
        message_id = %record.message_id,
        authentication = %record.authentication,
        recipients = record.recipients,
        refused = record.refused,
        error = %record.error,
        duration_ms = record.duration_ms,
        "SMTP session"
    );
    publisher.publish(
        subjects::EVENTS_AUDIT_MSS,
        request_id.bus_headers(),
        record.encode_to_vec().into(),
    );
}
