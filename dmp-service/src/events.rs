//! The business events of the DMP service: a document deposited, its visibility or its status
//! changed. They carry the INS itself (a hospital system acts on them, inside the hospital's
//! trust boundary: NATS permissions restrict these subjects), never traits nor content.

use passerelle_bus::subjects;
use passerelle_clinical_documents::header::HiddenFrom;
use passerelle_domain::Ins;
use passerelle_proto::common::v1::Actor;
use passerelle_proto::dmp::v1 as api;
use passerelle_proto::events::v1::{
    DmpPatient, DmpVisibility, DocumentDeleted, DocumentDeposited, DocumentStatusChanged,
    DocumentVisibilityChanged,
};
use passerelle_service_kit::RequestId;
use passerelle_service_kit::audit::{DurablePublisher, now_unix_ms};
use prost::Message;

fn patient(ins: Option<&Ins>) -> Option<DmpPatient> {
    ins.map(|i| DmpPatient {
        matricule: i.matricule().to_string(),
        key: i.key().to_string(),
        oid: i.oid().to_string(),
    })
}

fn visibility(v: Option<&api::Visibility>) -> Option<DmpVisibility> {
    v.map(|v| DmpVisibility {
        professionals: v.professionals,
        patient: v.patient,
        legal_representatives: v.legal_representatives,
    })
}

#[allow(clippy::too_many_arguments)]
pub fn deposited(
    publisher: &DurablePublisher,
    request_id: &RequestId,
    actor: &Actor,
    ins: Option<&Ins>,
    unique_id: &str,
    replaced_unique_id: &str,
    type_code: &str,
    hidden_from: &[HiddenFrom],
) {
    let event = DocumentDeposited {
        request_id: request_id.to_string(),
        actor: Some(actor.clone()),
        patient: patient(ins),
        unique_id: unique_id.to_owned(),
        type_code: type_code.to_owned(),
        visibility: Some(DmpVisibility {
            professionals: !hidden_from.contains(&HiddenFrom::Professionals),
            patient: !hidden_from.contains(&HiddenFrom::Patient),
            legal_representatives: !hidden_from.contains(&HiddenFrom::LegalRepresentatives)
                && !hidden_from.contains(&HiddenFrom::Patient),
        }),
        replaced_unique_id: replaced_unique_id.to_owned(),
        at_unix_ms: now_unix_ms(),
    };
    publisher.publish(
        subjects::EVENTS_DMP_DOCUMENT_DEPOSITED,
        request_id.bus_headers(),
        event.encode_to_vec().into(),
    );
}

pub fn visibility_changed(
    publisher: &DurablePublisher,
    request_id: &RequestId,
    actor: &Actor,
    ins: Option<&Ins>,
    entry: &api::DocumentEntry,
) {
    let event = DocumentVisibilityChanged {
        request_id: request_id.to_string(),
        actor: Some(actor.clone()),
        patient: patient(ins),
        unique_id: entry.unique_id.clone(),
        visibility: visibility(entry.visibility.as_ref()),
        at_unix_ms: now_unix_ms(),
    };
    publisher.publish(
        subjects::EVENTS_DMP_VISIBILITY_CHANGED,
        request_id.bus_headers(),
        event.encode_to_vec().into(),
    );
}

/// Archived or unarchived: `DocumentStatusChanged`; deleted: `DocumentDeleted`.
pub fn status_changed(
    publisher: &DurablePublisher,
    request_id: &RequestId,
    actor: &Actor,
    ins: Option<&Ins>,
    entry: &api::DocumentEntry,
) {
    let status = match api::DocumentStatus::try_from(entry.status) {
        Ok(api::DocumentStatus::Deleted) => {
            let event = DocumentDeleted {
                request_id: request_id.to_string(),
                actor: Some(actor.clone()),
                patient: patient(ins),
                unique_id: entry.unique_id.clone(),
                at_unix_ms: now_unix_ms(),
            };
            publisher.publish(
                subjects::EVENTS_DMP_DOCUMENT_DELETED,
                request_id.bus_headers(),
                event.encode_to_vec().into(),
            );
            return;
        }
        Ok(api::DocumentStatus::Archived) => "ARCHIVED",
        _ => "APPROVED",
    };
    let event = DocumentStatusChanged {
        request_id: request_id.to_string(),
        actor: Some(actor.clone()),
        patient: patient(ins),
        unique_id: entry.unique_id.clone(),
        status: status.to_owned(),
        at_unix_ms: now_unix_ms(),
    };
    publisher.publish(
        subjects::EVENTS_DMP_STATUS_CHANGED,
        request_id.bus_headers(),
        event.encode_to_vec().into(),
    );
}
