//! One message, from its UID to done: read, documents stored, event published,
//! acknowledgement settled, flagged. Each step is recorded ([`Phase`]) before the next, and
//! each is safe to run again after a crash: documents are stored under ids derived from the
//! message's place, the event carries a deduplication id, the acknowledgement is recorded
//! as being sent before it is handed to SMTP (so it is sent at most once).

use bytes::Bytes;
use passerelle_bus::documents::{DocumentError, NewDocument, SharedDocumentStore};
use passerelle_bus::{BusError, Headers, SharedBus, subjects};
use passerelle_domain::Platform;
use passerelle_proto::events::v1::{DmpPatient, MssMessageReceived, MssReceivedDocument};
use passerelle_service_kit::audit::now_unix_ms;
use prost::Message as _;

use super::acknowledge::Acknowledger;
use super::tracking::{
    AckRecord, AckState, InsRecord, MessageRecord, Phase, StoredDocument, Tracking, TrackingError,
};
use crate::imap::{ImapError, ImapSession};
use crate::inbox::{self, InboxError, Limits, MessageOrigin, ReceivedMessage};

/// Our keyword on a message done with.
pub const DONE_KEYWORD: &str = "$PasserelleDone";
/// Our keyword on a message set aside (it could not be read; reported).
pub const SET_ASIDE_KEYWORD: &str = "$PasserelleSetAside";
/// RFC 3503: an MDN was sent for this message (mail readers then do not offer another).
pub const MDN_SENT_KEYWORD: &str = "$MDNSent";

/// A body longer than this is stored as a document rather than kept in the record.
const BODY_IN_RECORD: usize = 64 * 1024;

/// Why a message could not be taken further now: it stays unflagged and is tried again.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Imap(#[from] ImapError),
    #[error(transparent)]
    Tracking(#[from] TrackingError),
    #[error("storing a document: {0}")]
    Documents(#[from] DocumentError),
    #[error("publishing MssMessageReceived: {0}")]
    Publish(#[from] BusError),
}

/// What processing needs besides the IMAP session.
pub struct Processor {
    pub documents: SharedDocumentStore,
    pub bus: SharedBus,
    pub limits: Limits,
    pub platform: Platform,
    pub acknowledger: Acknowledger,
    pub mark_seen: bool,
}

/// How a message ended, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Processed,
    SetAside,
    /// Done before (a restart between the record and the flag): only flagged now.
    AlreadyDone,
}

impl Processor {
    /// Takes the message `uid` of the selected mailbox as far as it goes.
    pub async fn process(
        &self,
        session: &mut ImapSession,
        tracking: &Tracking,
        uid_validity: u32,
        uid: u32,
    ) -> Result<Outcome, ProcessError> {
        let (mut record, mut revision, raw, mut outcome) =
            match tracking.get(uid_validity, uid).await? {
                Some((record, revision)) if record.phase == Phase::Done => {
                    (record, revision, None, Outcome::AlreadyDone)
                }
                Some((record, revision)) => (record, revision, None, Outcome::Processed),
                None => {
                    // Sized first: a message over the limit is never loaded whole.
                    let size = session.uid_size(uid).await?;
                    let fetched = if size > self.limits.max_message_bytes as u64 {
                        Fetched::TooLarge {
                            header: session.uid_fetch_header(uid).await?,
                            size,
                        }
                    } else {
                        Fetched::Whole(session.uid_fetch_message(uid).await?)
                    };
                    // Each step's end at debug: where a message's time goes (the bench reads them).
                    tracing::debug!(uid, bytes = size, "message fetched");
                    let (record, revision) =
                        self.store(tracking, &fetched, uid_validity, uid).await?;
                    let raw = match fetched {
                        Fetched::Whole(raw) => raw,
                        Fetched::TooLarge { header, .. } => header,
                    };
                    (record, revision, Some(raw), Outcome::Processed)
                }
            };
        if outcome != Outcome::AlreadyDone {
            outcome = if record.set_aside() {
                Outcome::SetAside
            } else {
                Outcome::Processed
            };
        }
        if record.phase == Phase::Stored {
            self.publish(&record).await?;
            tracing::debug!(uid, "message published");
            record.phase = Phase::Published;
            revision = tracking.put(&record, Some(revision)).await?;
        }
        if record.phase == Phase::Published {
            let raw = match raw {
                Some(raw) => raw,
                None if self.acknowledger.may_need_raw(&record) => {
                    session.uid_fetch_message(uid).await?
                }
                None => Bytes::new(),
            };
            self.acknowledge(tracking, &mut record, &mut revision, &raw)
                .await?;
            record.phase = Phase::Done;
            tracking.put(&record, Some(revision)).await?;
            tracing::debug!(uid, "message done");
        }
        let mut flags = vec![if record.set_aside() {
            SET_ASIDE_KEYWORD
        } else {
            DONE_KEYWORD
        }];
        if record
            .ack
            .as_ref()
            .is_some_and(|a| a.state == AckState::Sent)
        {
            flags.push(MDN_SENT_KEYWORD);
        }
        if self.mark_seen {
            flags.push("\\Seen");
        }
        session.uid_store_flags(uid, &flags).await?;
        tracing::debug!(uid, "message flagged");
        Ok(outcome)
    }

    /// Reads the message and stores its documents; records `Stored`.
    async fn store(
        &self,
        tracking: &Tracking,
        fetched: &Fetched,
        uid_validity: u32,
        uid: u32,
    ) -> Result<(MessageRecord, u64), ProcessError> {
        let origin = MessageOrigin {
            mailbox: tracking.mailbox().to_owned(),
            uid_validity,
            uid,
        };
        let place = format!(
            "{}/{uid_validity}/{uid}",
            super::tracking::mailbox_key(tracking.mailbox())
        );
        let parsed = match fetched {
            Fetched::Whole(raw) => inbox::parse(raw, &origin, &self.limits),
            Fetched::TooLarge { size, .. } => Err(InboxError::TooLarge {
                size: usize::try_from(*size).unwrap_or(usize::MAX),
                limit: self.limits.max_message_bytes,
            }),
        };
        let message = match parsed {
            Ok(message) => message,
            Err(problem) => {
                // What the headers alone say (to answer the sender), and the raw message
                // kept as a document: nothing is lost.
                let (raw, whole) = match fetched {
                    Fetched::Whole(raw) => (raw, true),
                    Fetched::TooLarge { header, .. } => (header, false),
                };
                let headers = inbox::parse_headers(raw, &origin);
                let mut record = match &headers {
                    Some(message) => self.record_of(message, &origin),
                    None => empty_record(&origin),
                };
                let (mut text, code) = problem_of(&problem);
                tracing::warn!(uid_validity, uid, error = %problem, "message set aside");
                if whole {
                    record.documents.push(
                        self.put(
                            &place,
                            "raw",
                            0,
                            "message.eml",
                            "message/rfc822",
                            raw.clone(),
                        )
                        .await?,
                    );
                } else {
                    text.push_str(": left whole in the mailbox only (flagged), not copied");
                }
                record.problem = Some((text, code));
                record.phase = Phase::Stored;
                let revision = tracking.put(&record, None).await?;
                return Ok((record, revision));
            }
        };
        tracing::debug!(uid, "message parsed");
        let mut record = self.record_of(&message, &origin);
        for (i, a) in message.attachments.iter().enumerate() {
            let is_xdm = a
                .file_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(inbox::XDM_FILE));
            let role = if is_xdm { "xdm" } else { "attachment" };
            let name = a
                .file_name
                .clone()
                .unwrap_or_else(|| format!("piece-jointe-{}", i + 1));
            record.documents.push(
                self.put(&place, role, i, &name, &a.media_type, a.bytes.clone())
                    .await?,
            );
        }
        if let Some(xdm) = &message.xdm {
            for (i, d) in xdm.documents.iter().enumerate() {
                let name = d.path.rsplit('/').next().unwrap_or(&d.path).to_owned();
                let mut stored = self
                    .put(
                        &place,
                        "xdm-document",
                        i,
                        &name,
                        &d.entry.mime_type,
                        d.bytes.clone(),
                    )
                    .await?;
                stored.unique_id = d.entry.unique_id.clone();
                stored.title = d.entry.title.clone();
                stored.type_code = d
                    .entry
                    .type_code
                    .as_ref()
                    .map(|c| c.code.clone())
                    .unwrap_or_default();
                stored.creation_time = d.entry.creation_time.clone().unwrap_or_default();
                record.documents.push(stored);
            }
        }
        for (i, (body, media_type, name)) in [
            (&message.text, "text/plain", "corps.txt"),
            (&message.html, "text/html", "corps.html"),
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(body) = body
                && body.len() > BODY_IN_RECORD
            {
                let bytes = Bytes::from(body.clone().into_bytes());
                record
                    .documents
                    .push(self.put(&place, "body", i, name, media_type, bytes).await?);
            }
        }
        tracing::debug!(uid, "documents stored");
        record.phase = Phase::Stored;
        let revision = tracking.put(&record, None).await?;
        tracing::debug!(uid, "message recorded");
        Ok((record, revision))
    }

    /// The record of a message read (bodies kept when small).
    fn record_of(&self, message: &ReceivedMessage, origin: &MessageOrigin) -> MessageRecord {
        let small = |b: &Option<String>| {
            b.as_ref()
                .filter(|b| b.len() <= BODY_IN_RECORD)
                .cloned()
                .unwrap_or_default()
        };
        MessageRecord {
            mailbox: origin.mailbox.clone(),
            uid_validity: origin.uid_validity,
            uid: origin.uid,
            phase: Phase::Stored,
            message_id: message.message_id.clone(),
            message_id_derived: message.message_id_derived,
            from: message.from.clone().unwrap_or_default(),
            to: message.to.clone(),
            cc: message.cc.clone(),
            subject: message.subject.clone(),
            date: message.date.clone().unwrap_or_default(),
            received_unix_ms: now_unix_ms(),
            text: small(&message.text),
            html: small(&message.html),
            mss_headers: message
                .headers
                .iter()
                .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-mss-"))
                .cloned()
                .collect(),
            documents: Vec::new(),
            patient: message.patient.as_ref().map(|p| InsRecord {
                matricule: p.ins.matricule().to_string(),
                key: p.ins.key().to_string(),
                oid: p.ins.oid().to_string(),
                oid_qualifies: p.oid_qualifies(self.platform),
            }),
            problem: None,
            ack: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn put(
        &self,
        place: &str,
        role: &str,
        index: usize,
        file_name: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<StoredDocument, DocumentError> {
        let id = uuid::Uuid::new_v5(
            &DOCUMENTS_NAMESPACE,
            format!("{place}/{role}/{index}").as_bytes(),
        )
        .to_string();
        let size = bytes.len() as u64;
        let reference = self
            .documents
            .put_with_id(
                &id,
                NewDocument {
                    media_type: media_type.to_owned(),
                    file_name: Some(file_name.to_owned()),
                    declared_size: Some(size),
                },
                Box::pin(futures::stream::once(async move { Ok(bytes) })),
            )
            .await?;
        Ok(StoredDocument {
            document_id: reference.id,
            role: role.to_owned(),
            file_name: file_name.to_owned(),
            media_type: reference.media_type,
            size: reference.size,
            sha256: reference.sha256,
            unique_id: String::new(),
            title: String::new(),
            type_code: String::new(),
            creation_time: String::new(),
        })
    }

    /// Publishes `MssMessageReceived`, awaiting the stream's acknowledgement.
    async fn publish(&self, record: &MessageRecord) -> Result<(), BusError> {
        let event = event_of(record);
        let mut headers = Headers::new();
        headers.insert(subjects::HEADER_MSG_ID.to_owned(), event.event_id.clone());
        headers.insert(
            subjects::HEADER_REQUEST_ID.to_owned(),
            event.event_id.clone(),
        );
        self.bus
            .publish_durable(
                subjects::EVENTS_MSS_MESSAGE_RECEIVED,
                headers,
                Bytes::from(event.encode_to_vec()),
            )
            .await
    }

    /// Settles the acknowledgement: at most once, whatever happens.
    async fn acknowledge(
        &self,
        tracking: &Tracking,
        record: &mut MessageRecord,
        revision: &mut u64,
        raw: &Bytes,
    ) -> Result<(), TrackingError> {
        match record.ack.as_ref().map(|a| a.state) {
            // Found half-way after a crash: it may have left; never send it twice.
            Some(AckState::Sending) => {
                if let Some(ack) = record.ack.as_mut() {
                    ack.state = AckState::Uncertain;
                    ack.detail =
                        "the service stopped while sending it: it may have left; not sent again"
                            .to_owned();
                }
                return Ok(());
            }
            Some(_) => return Ok(()),
            None => {}
        }
        let plan = self.acknowledger.plan(record, raw);
        match plan {
            super::acknowledge::Plan::Settled(ack) => {
                record.ack = Some(ack);
            }
            super::acknowledge::Plan::Send(pending) => {
                record.ack = Some(AckRecord {
                    state: AckState::Sending,
                    to: pending.to().to_owned(),
                    detail: String::new(),
                    mdn_message_id: pending.message_id().to_owned(),
                });
                // Compare-and-set: a stalled replica whose lease ran out stops here, before a
                // second MDN.
                *revision = tracking.put(record, Some(*revision)).await?;
                record.ack = Some(self.acknowledger.send(tracking.mailbox(), pending).await);
            }
        }
        Ok(())
    }
}

/// A message as fetched: whole, or only its header when it is over the size read.
enum Fetched {
    Whole(Bytes),
    TooLarge { header: Bytes, size: u64 },
}

/// Namespace of the documents' ids (UUID v5 of the message's place and the part).
const DOCUMENTS_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5a1e_7c0e_4d2b_4b8a_9f31_6e0d_2c4a_8b17);

fn empty_record(origin: &MessageOrigin) -> MessageRecord {
    MessageRecord {
        mailbox: origin.mailbox.clone(),
        uid_validity: origin.uid_validity,
        uid: origin.uid,
        phase: Phase::Stored,
        message_id: origin.derived_message_id(),
        message_id_derived: true,
        from: String::new(),
        to: Vec::new(),
        cc: Vec::new(),
        subject: String::new(),
        date: String::new(),
        received_unix_ms: now_unix_ms(),
        text: String::new(),
        html: String::new(),
        mss_headers: Vec::new(),
        documents: Vec::new(),
        patient: None,
        problem: None,
        ack: None,
    }
}

/// The reason and the guide's code (`condition^application`).
fn problem_of(e: &InboxError) -> (String, String) {
    let code = e.guide_code();
    let code = match code.application {
        Some(a) => format!("{}^{a}", code.condition),
        None => code.condition.to_string(),
    };
    (e.to_string(), code)
}

/// The event id of a message: the same for every retry.
pub fn event_id(record: &MessageRecord) -> String {
    format!(
        "mss-received-{}-{}-{}",
        super::tracking::mailbox_key(&record.mailbox),
        record.uid_validity,
        record.uid
    )
}

/// The event of a record.
pub fn event_of(record: &MessageRecord) -> MssMessageReceived {
    let (problem, problem_code) = record.problem.clone().unwrap_or_default();
    MssMessageReceived {
        event_id: event_id(record),
        mailbox: record.mailbox.clone(),
        message_id: record.message_id.clone(),
        message_id_derived: record.message_id_derived,
        from: record.from.clone(),
        to: record.to.clone(),
        cc: record.cc.clone(),
        subject: record.subject.clone(),
        patient: record.patient.as_ref().map(|p| DmpPatient {
            matricule: p.matricule.clone(),
            key: p.key.clone(),
            oid: p.oid.clone(),
        }),
        patient_oid_qualifies: record.patient.as_ref().is_some_and(|p| p.oid_qualifies),
        documents: record
            .documents
            .iter()
            .map(|d| MssReceivedDocument {
                document_id: d.document_id.clone(),
                role: d.role.clone(),
                file_name: d.file_name.clone(),
                media_type: d.media_type.clone(),
                size: d.size,
                sha256: d.sha256.clone(),
                unique_id: d.unique_id.clone(),
                type_code: d.type_code.clone(),
            })
            .collect(),
        status: if record.set_aside() {
            "set_aside"
        } else {
            "processed"
        }
        .to_owned(),
        problem,
        problem_code,
        uid_validity: record.uid_validity,
        uid: record.uid,
        at_unix_ms: record.received_unix_ms,
    }
}
