//! What `ListMessages` and `GetMessage` answer: the records of [`super::tracking`] as the
//! API shows them.

use passerelle_bus::kv::SharedKeyValue;
use passerelle_proto::mss::v1 as api;

use super::config::ReceivingSettings;
use super::tracking::{AckState, MessageRecord, Phase, StoredDocument, Tracking};
use crate::errors::{MssServiceError, Result};

/// Default and largest page of `ListMessages`.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// The bookkeeping of `mailbox`, if the service reads it.
fn tracking(settings: &ReceivingSettings, kv: &SharedKeyValue, mailbox: &str) -> Result<Tracking> {
    let mailbox = mailbox.trim();
    let configured = settings
        .mailboxes
        .iter()
        .any(|m| m.address.trim().eq_ignore_ascii_case(mailbox));
    if mailbox.is_empty() {
        return Err(MssServiceError::InvalidRequest {
            field: "mailbox",
            message: "give the mailbox's MSSanté address".to_owned(),
        });
    }
    if !configured {
        return Err(MssServiceError::MailboxNotRead {
            mailbox: crate::smtp::mask_patient_addresses(mailbox),
        });
    }
    Ok(Tracking::new(kv.clone(), mailbox))
}

pub async fn list(
    settings: &ReceivingSettings,
    kv: &SharedKeyValue,
    req: api::ListMessagesRequest,
) -> Result<api::ListMessagesResponse> {
    let tracking = tracking(settings, kv, &req.mailbox)?;
    let limit = match req.limit as usize {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    };
    // Only what was published: a message half-way is not shown before its event.
    let mut records: Vec<_> = tracking
        .all()
        .await?
        .into_iter()
        .filter(|r| r.phase != Phase::Stored)
        .collect();
    records.sort_by(|a, b| {
        (b.received_unix_ms, b.uid_validity, b.uid).cmp(&(
            a.received_unix_ms,
            a.uid_validity,
            a.uid,
        ))
    });
    records.truncate(limit);
    Ok(api::ListMessagesResponse {
        messages: records.iter().map(summary).collect(),
    })
}

pub async fn get(
    settings: &ReceivingSettings,
    kv: &SharedKeyValue,
    req: api::GetMessageRequest,
) -> Result<api::ReceivedMessage> {
    let tracking = tracking(settings, kv, &req.mailbox)?;
    let id = req.message_id.trim();
    let not_found = || MssServiceError::MessageNotFound {
        message_id: id.to_owned(),
    };
    if id.is_empty() {
        return Err(MssServiceError::InvalidRequest {
            field: "message_id",
            message: "give the Message-ID as listed".to_owned(),
        });
    }
    // With or without its angle brackets.
    let bracketed = if id.starts_with('<') {
        id.to_owned()
    } else {
        format!("<{id}>")
    };
    let record = match tracking.by_message_id(&bracketed).await? {
        Some(r) => Some(r),
        None => tracking.by_message_id(id).await?,
    };
    let record = record
        .filter(|r| r.phase != Phase::Stored)
        .ok_or_else(not_found)?;
    Ok(full(&record))
}

fn document(d: &StoredDocument) -> api::ReceivedDocument {
    api::ReceivedDocument {
        document_id: d.document_id.clone(),
        role: d.role.clone(),
        file_name: d.file_name.clone(),
        media_type: d.media_type.clone(),
        size: d.size,
        sha256: d.sha256.clone(),
        unique_id: d.unique_id.clone(),
        title: d.title.clone(),
        type_code: d.type_code.clone(),
        creation_time: d.creation_time.clone(),
    }
}

/// The summary of a record (also what `WatchMessages` streams, from the event).
pub fn summary(r: &MessageRecord) -> api::ReceivedMessageSummary {
    let (problem, problem_code) = r.problem.clone().unwrap_or_default();
    api::ReceivedMessageSummary {
        mailbox: r.mailbox.clone(),
        message_id: r.message_id.clone(),
        message_id_derived: r.message_id_derived,
        from: r.from.clone(),
        subject: r.subject.clone(),
        received_unix_ms: r.received_unix_ms,
        attachments: r
            .documents
            .iter()
            .filter(|d| d.role == "attachment" || d.role == "xdm")
            .map(document)
            .collect(),
        patient_ins: r.patient.as_ref().map(|p| api::ReceivedIns {
            matricule: p.matricule.clone(),
            key: p.key.clone(),
            oid: p.oid.clone(),
            oid_qualifies: p.oid_qualifies,
        }),
        status: if r.set_aside() {
            api::ReceivedStatus::SetAside
        } else {
            api::ReceivedStatus::Processed
        } as i32,
        problem,
        problem_code,
        // Being sent: not settled yet (after a crash, the next pass settles it UNCERTAIN).
        acknowledgement: r
            .ack
            .as_ref()
            .filter(|a| a.state != AckState::Sending)
            .map(|a| api::Acknowledgement {
                state: match a.state {
                    AckState::NotRequested => {
                        api::AcknowledgementState::AcknowledgementNotRequested
                    }
                    AckState::Sent => api::AcknowledgementState::AcknowledgementSent,
                    AckState::Held => api::AcknowledgementState::AcknowledgementHeld,
                    AckState::Failed => api::AcknowledgementState::AcknowledgementFailed,
                    AckState::Sending | AckState::Uncertain => {
                        api::AcknowledgementState::AcknowledgementUncertain
                    }
                } as i32,
                to: a.to.clone(),
                detail: a.detail.clone(),
                mdn_message_id: a.mdn_message_id.clone(),
            }),
    }
}

fn full(r: &MessageRecord) -> api::ReceivedMessage {
    api::ReceivedMessage {
        summary: Some(summary(r)),
        to: r.to.clone(),
        cc: r.cc.clone(),
        date: r.date.clone(),
        text: r.text.clone(),
        html: r.html.clone(),
        documents: r.documents.iter().map(document).collect(),
        mss_headers: r
            .mss_headers
            .iter()
            .map(|(name, value)| api::Header {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        uid_validity: r.uid_validity,
        uid: r.uid,
    }
}
