//! The share service's logic, independent of transport: Share checks the request and each
//! channel's rules, records the share and publishes its work; GetShare reads the status;
//! RetryShare sends the FAILED channels again.

use bytes::Bytes;
use passerelle_bus::documents::{DocumentError, DocumentLimits, SharedDocumentStore};
use passerelle_bus::{SharedBus, subjects};
use passerelle_domain::QualifiedIns;
use passerelle_proto::common::v1 as common;
use passerelle_proto::share::v1::{
    Channel, DocumentKind, GetShareRequest, RetryShareRequest, ShareDocument, ShareRequest,
    ShareStatus,
};
use passerelle_service_kit::RequestId;
use passerelle_service_kit::identity::{checked_patient, professional_from_api};
use prost::Message;

use crate::channels::{self, Case, Visibility};
use crate::config::ShareSettings;
use crate::errors::{Result, ShareError};
use crate::requests;
use crate::status::{ChannelRecord, ShareRecord, State, StatusStore};

/// Namespace of the share ids made from an idempotency key (UUID v5).
const SHARE_ID_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5a1e_7c1d_4c1b_4e0a_9d3f_2b6e_8f10_a5c7);

#[derive(Clone)]
pub struct ShareCore {
    settings: ShareSettings,
    store: StatusStore,
    documents: SharedDocumentStore,
    limits: DocumentLimits,
    bus: SharedBus,
}

impl ShareCore {
    pub fn new(
        settings: ShareSettings,
        store: StatusStore,
        documents: SharedDocumentStore,
        limits: DocumentLimits,
        bus: SharedBus,
    ) -> Self {
        Self {
            settings,
            store,
            documents,
            limits,
            bus,
        }
    }

    pub fn store(&self) -> &StatusStore {
        &self.store
    }

    pub async fn share(&self, id: &RequestId, req: ShareRequest) -> Result<ShareStatus> {
        // Everything that needs no store first: a bad request costs nothing.
        let actor = req
            .actor
            .as_ref()
            .filter(|a| a.mode.is_some())
            .ok_or_else(|| {
                ShareError::invalid(
                    "actor",
                    "who shares is required: actor.organisation or actor.cps, and the professional",
                )
            })?;
        professional_from_api(actor).map_err(ShareError::Actor)?;
        let patient = checked_patient(req.patient.as_ref())?;
        let document = checked_document(&req)?;
        let wanted = channels::checked(&req.channels)?;
        let to = channels::addresses("to", &req.to)?;
        let cc = channels::addresses("cc", &req.cc)?;

        let share_id = share_id(actor, &req.idempotency_key);
        if let Some((existing, _)) = self.store.get(&share_id).await? {
            return self.answer_existing(id, existing).await;
        }
        self.check_stored(document).await?;

        let qualified = QualifiedIns::try_new(&patient, self.settings.platform());
        let verdicts = channels::judge(&Case {
            channels: &wanted,
            patient: qualified.as_ref(),
            visibility: Visibility {
                hide_from_professionals: document.hide_from_professionals,
                hide_from_patient: document.hide_from_patient,
                hide_from_legal_representatives: document.hide_from_legal_representatives,
            },
            to: &to,
            cc: &cc,
            acknowledgement: req.acknowledgement,
        });
        let records = verdicts
            .into_iter()
            .map(|(channel, refused)| match refused {
                None => ChannelRecord {
                    channel: channels::name(channel).to_owned(),
                    state: State::Pending,
                    detail: String::new(),
                    rule: String::new(),
                    reference: String::new(),
                    attempt: 1,
                    attempts: 1,
                },
                Some(r) => ChannelRecord {
                    channel: channels::name(channel).to_owned(),
                    state: State::Refused,
                    detail: r.detail,
                    rule: r.rule,
                    reference: String::new(),
                    attempt: 0,
                    attempts: 0,
                },
            })
            .collect();
        let mut record = ShareRecord::new(&share_id, &req, records);
        // Nothing to run (every channel refused): nothing to publish.
        record.published = record.pending().is_empty();
        if let Err((existing, _)) = self.store.create(&record).await? {
            // The same key, at the same time, from another call: that share.
            return self.answer_existing(id, existing).await;
        }
        if !record.published {
            if let Err(e) = self.publish(id, &record, &req).await {
                // Not published, not accepted: the same request may be sent again.
                if let Err(removal) = self.store.remove(&share_id).await {
                    tracing::error!(share_id, error = %removal, "an unpublished share could not be removed");
                }
                return Err(e);
            }
            record = self.mark_published(&share_id, record.attempt).await?;
        }
        tracing::info!(share_id, channels = record.channels.len(), "share accepted");
        Ok(record.to_api())
    }

    pub async fn get_share(&self, _id: &RequestId, req: GetShareRequest) -> Result<ShareStatus> {
        let share_id = checked_share_id(&req.share_id)?;
        match self.store.get(share_id).await? {
            Some((record, _)) => Ok(record.to_api()),
            None => Err(ShareError::NotFound(share_id.to_owned())),
        }
    }

    pub async fn retry_share(&self, id: &RequestId, req: RetryShareRequest) -> Result<ShareStatus> {
        let share_id = checked_share_id(&req.share_id)?.to_owned();
        let named = match Channel::try_from(req.channel) {
            Ok(Channel::Unspecified) => None,
            Ok(c) => Some(c),
            Err(_) => {
                return Err(ShareError::invalid(
                    "channel",
                    format!(
                        "unknown channel {}: use CHANNEL_DMP, CHANNEL_MSS_PRO or CHANNEL_MSS_CITIZEN, or none for every FAILED channel",
                        req.channel
                    ),
                ));
            }
        };
        let (record, _) = self
            .store
            .update(&share_id, |record| {
                // The latest attempt never went out (a failure or crash in between): send it.
                if !record.published {
                    return Ok(Some(()));
                }
                let targets: Vec<usize> = record
                    .channels
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.state == State::Failed)
                    .filter(|(_, c)| named.is_none_or(|n| c.channel() == n))
                    .map(|(i, _)| i)
                    .collect();
                if targets.is_empty() {
                    return Err(ShareError::NothingToRetry(nothing_to_retry(record, named)));
                }
                record.attempt += 1;
                record.published = false;
                let attempt = record.attempt;
                for i in targets {
                    let c = &mut record.channels[i];
                    c.state = State::Pending;
                    c.detail.clear();
                    c.reference.clear();
                    c.attempt = attempt;
                    c.attempts += 1;
                }
                Ok(Some(()))
            })
            .await?;
        let req = record.request()?;
        self.publish(id, &record, &req).await?;
        let record = self.mark_published(&share_id, record.attempt).await?;
        tracing::info!(share_id, attempt = record.attempt, "share retried");
        Ok(record.to_api())
    }

    /// A share found under the id: its status; published first if it never was.
    async fn answer_existing(&self, id: &RequestId, record: ShareRecord) -> Result<ShareStatus> {
        if record.published {
            return Ok(record.to_api());
        }
        let req = record.request()?;
        self.publish(id, &record, &req).await?;
        Ok(self
            .mark_published(&record.share_id, record.attempt)
            .await?
            .to_api())
    }

    /// Publishes the latest attempt's work, durably; its id makes a second publication of
    /// the same attempt a no-op.
    async fn publish(
        &self,
        id: &RequestId,
        record: &ShareRecord,
        req: &ShareRequest,
    ) -> Result<()> {
        let event = requests::requested(
            req,
            &record.share_id,
            record.attempt,
            &record.pending(),
            id.as_str(),
        );
        let mut headers = id.bus_headers();
        headers.insert(
            subjects::HEADER_MSG_ID.to_owned(),
            format!("{}.{}", record.share_id, record.attempt),
        );
        self.bus
            .publish_durable(
                subjects::EVENTS_SHARE_REQUESTED,
                headers,
                Bytes::from(event.encode_to_vec()),
            )
            .await
            .map_err(ShareError::Publish)
    }

    async fn mark_published(&self, share_id: &str, attempt: u32) -> Result<ShareRecord> {
        let (record, _) = self
            .store
            .update(share_id, |r| {
                Ok((r.attempt == attempt && !r.published).then(|| r.published = true))
            })
            .await?;
        Ok(record)
    }

    /// The document is in the store, under the limit, of the kind announced.
    async fn check_stored(&self, document: &ShareDocument) -> Result<()> {
        let document_id = document.document_id.trim();
        let doc = |error| ShareError::Document {
            id: document_id.to_owned(),
            error,
        };
        let stored = self.documents.stat(document_id).await.map_err(doc)?;
        if stored.size > self.limits.max_size {
            return Err(doc(DocumentError::TooLarge {
                size: stored.size,
                limit: self.limits.max_size,
            }));
        }
        let expected = match DocumentKind::try_from(document.kind) {
            Ok(DocumentKind::Pdf) => Some("application/pdf"),
            Ok(DocumentKind::Text) => Some("text/plain"),
            _ => None,
        };
        let media_type = stored
            .media_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        match expected {
            Some(expected) if !media_type.eq_ignore_ascii_case(expected) => {
                Err(ShareError::invalid(
                    "document.kind",
                    format!(
                        "the document stored is {media_type}, not {expected}: give the kind of \
                         the file uploaded, or upload the right file"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

fn checked_share_id(share_id: &str) -> Result<&str> {
    let share_id = share_id.trim();
    if share_id.is_empty() {
        return Err(ShareError::invalid(
            "share_id",
            "the share id is required: the one Share answered",
        ));
    }
    Ok(share_id)
}

fn checked_document(req: &ShareRequest) -> Result<&ShareDocument> {
    let d = req
        .document
        .as_ref()
        .ok_or_else(|| ShareError::invalid("document", "the document to share is required"))?;
    if d.document_id.trim().is_empty() {
        return Err(ShareError::invalid(
            "document.document_id",
            "required: upload the document (DocumentStore.Upload) and give the id it returned",
        ));
    }
    let kind = DocumentKind::try_from(d.kind).unwrap_or(DocumentKind::Unspecified);
    if kind == DocumentKind::Unspecified {
        return Err(ShareError::invalid(
            "document.kind",
            "required: DOCUMENT_KIND_PDF, DOCUMENT_KIND_TEXT or DOCUMENT_KIND_VSM",
        ));
    }
    if kind != DocumentKind::Vsm {
        if d.title.trim().is_empty() {
            return Err(ShareError::invalid(
                "document.title",
                "required: the document's title (e.g. Lettre de liaison)",
            ));
        }
        if d.type_code.trim().is_empty() {
            return Err(ShareError::invalid(
                "document.type_code",
                "required: the document's LOINC type (JDV J66, e.g. 11490-0)",
            ));
        }
    }
    Ok(d)
}

/// The share's id: the same actor's structure and idempotency key, the same id; no key, a
/// new one.
fn share_id(actor: &common::Actor, key: &str) -> String {
    let key = key.trim();
    if key.is_empty() {
        return uuid::Uuid::new_v4().to_string();
    }
    // The structure when the actor names it; else who acts (a card's workstation, the
    // organisation's caller), so that two callers' keys never meet.
    let structure = actor
        .professional
        .as_ref()
        .and_then(|p| p.structure.as_ref())
        .map(|s| format!("structure:{}:{}", s.id_type, s.id))
        .unwrap_or_else(|| match &actor.mode {
            Some(common::actor::Mode::Cps(c)) => format!("cps:{}", c.workstation_id),
            Some(common::actor::Mode::Organisation(o)) => format!("org:{}", o.on_behalf_of),
            None => String::new(),
        });
    uuid::Uuid::new_v5(
        &SHARE_ID_NAMESPACE,
        format!("{structure}\n{key}").as_bytes(),
    )
    .to_string()
}

fn nothing_to_retry(record: &ShareRecord, named: Option<Channel>) -> String {
    match named.and_then(|n| record.channels.iter().find(|c| c.channel() == n)) {
        Some(c) => format!(
            "channel {} of share {} is {:?}, not FAILED: only a FAILED channel is sent again",
            c.channel, record.share_id, c.state
        ),
        None if named.is_some() => format!(
            "share {} has no channel {}: it was not asked",
            record.share_id,
            named.map(channels::name).unwrap_or_default()
        ),
        None => format!(
            "share {} has no FAILED channel: nothing to send again (see GetShare)",
            record.share_id
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn actor(structure: Option<&str>, workstation: &str) -> common::Actor {
        common::Actor {
            mode: Some(common::actor::Mode::Cps(common::CpsMode {
                workstation_id: workstation.into(),
            })),
            professional: structure.map(|id| common::Professional {
                structure: Some(common::Structure {
                    id: id.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn the_same_key_of_the_same_structure_is_the_same_share() {
        let a = actor(Some("999000003"), "pc1");
        assert_eq!(
            share_id(&a, "k1"),
            share_id(&actor(Some("999000003"), "pc2"), "k1")
        );
        assert_ne!(share_id(&a, "k1"), share_id(&a, "k2"));
        assert_ne!(
            share_id(&a, "k1"),
            share_id(&actor(Some("999000004"), "pc1"), "k1")
        );
        // Without a structure, the workstation tells the callers apart.
        assert_ne!(
            share_id(&actor(None, "pc1"), "k1"),
            share_id(&actor(None, "pc2"), "k1")
        );
        // No key: a new share each time.
        assert_ne!(share_id(&a, ""), share_id(&a, " "));
        assert!(uuid::Uuid::parse_str(&share_id(&a, "k1")).is_ok());
    }
}
