//! The MSS service's logic, independent of transport: who sends, for which patient, to whom
//! — judged by the MSSanté rules before anything is built — then the messages (one per
//! audience, the document as a CDA in an IHE_XDM.zip) and the SMTP session that sends them.
//! `Preview` runs the same steps and stops before the session.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use passerelle_bus::SharedBus;
use passerelle_bus::documents::SharedDocumentStore;
use passerelle_bus::kv::SharedKeyValue;
use passerelle_clinical_documents::header::{Confidentiality, DocumentHeader, HiddenFrom};
use passerelle_clinical_documents::{letter, vsm};
use passerelle_domain::{PatientIdentity, ProfessionalId, QualifiedIns};
use passerelle_proto::mss::v1 as api;
use passerelle_service_kit::RequestId;
use passerelle_service_kit::audit::{DurablePublisher, InsHasher};
use passerelle_service_kit::identity::checked_patient;
use passerelle_service_kit::letters::{self, DocumentProblem, DocumentRequest};
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;

use crate::access::{Resolver, Sender};
use crate::address::MssAddress;
use crate::config::MssSettings;
use crate::directory::{Directory, ImportError, IndexError, MailboxType, split_name};
use crate::errors::{MssServiceError, Result};
use crate::events;
use crate::message::{
    self, AttachedDocument, Body, DocumentAttachments, MessageSpec, OutboundMessage,
};
use crate::rules::{self, Decision, Flags, PatientIns, SendCase};
use crate::smtp::{ClientCert, Envelope, SmtpClient};

/// Rejected lines an import answers (all are counted).
const REJECTED_LINES_ANSWERED: usize = 100;

/// The MSS service: cheap to clone, shared by the handlers.
#[derive(Clone)]
pub struct MssCore(Arc<Inner>);

struct Inner {
    settings: MssSettings,
    smtp: Option<SmtpClient>,
    directory: Directory,
    resolver: Resolver,
    documents: SharedDocumentStore,
    hasher: InsHasher,
    publisher: DurablePublisher,
    /// The received messages' bookkeeping, when the service reads mailboxes.
    inbox: Option<SharedKeyValue>,
}

/// A send made ready: who, the decision, the messages.
struct Prepared {
    sender: Sender,
    decision: Decision,
    messages: Vec<OutboundMessage>,
    key: String,
    patient: Option<PatientIdentity>,
    type_code: Option<String>,
}

impl MssCore {
    pub fn new(
        settings: MssSettings,
        smtp: Option<SmtpClient>,
        directory: Directory,
        resolver: Resolver,
        documents: SharedDocumentStore,
        hasher: InsHasher,
        bus: Option<SharedBus>,
    ) -> Self {
        Self(Arc::new(Inner {
            settings,
            smtp,
            directory,
            resolver,
            documents,
            hasher,
            publisher: DurablePublisher::new(bus),
            inbox: None,
        }))
    }

    /// Answers `ListMessages` and `GetMessage` from `inbox` (the receiving bookkeeping).
    pub fn with_inbox(mut self, inbox: SharedKeyValue) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.inbox = Some(inbox);
        }
        self
    }

    fn inbox(&self) -> Result<&SharedKeyValue> {
        self.0.inbox.as_ref().ok_or_else(|| {
            MssServiceError::Configuration(
                "this replica does not receive: configure [mss.receiving] (imap, mailboxes)"
                    .to_owned(),
            )
        })
    }

    pub async fn list_messages(
        &self,
        _id: &RequestId,
        req: api::ListMessagesRequest,
    ) -> Result<api::ListMessagesResponse> {
        crate::receiving::read::list(&self.0.settings.mss.receiving, self.inbox()?, req).await
    }

    pub async fn get_message(
        &self,
        _id: &RequestId,
        req: api::GetMessageRequest,
    ) -> Result<api::ReceivedMessage> {
        crate::receiving::read::get(&self.0.settings.mss.receiving, self.inbox()?, req).await
    }

    /// Waits for the events and audit records still being published.
    pub async fn flush(&self) {
        self.0.publisher.flush().await;
    }

    pub async fn send(&self, id: &RequestId, req: api::SendRequest) -> Result<api::SendResponse> {
        let smtp = self.0.smtp.as_ref().ok_or_else(|| {
            MssServiceError::Configuration(
                "no SMTP server configured: set mss.smtp.host (your MSSanté operator's submission server) and mss.smtp.tls".to_owned(),
            )
        })?;
        let prepared = self.prepare(id, &req).await?;
        // Marks the end of the work before SMTP (benches/send.rs splits a send's time by it).
        tracing::debug!(
            messages = prepared.messages.len(),
            bytes = prepared
                .messages
                .iter()
                .map(OutboundMessage::len)
                .sum::<usize>(),
            "MSS messages built"
        );
        let card_identity = prepared.sender.card.as_ref().map(|c| c.tls_identity());
        let cert = match &card_identity {
            Some(identity) => ClientCert::Card(identity),
            None => ClientCert::Configured,
        };
        let started = Instant::now();
        let mut session = match smtp.connect(cert).await {
            Ok(s) => s,
            Err(e) => {
                self.audit(id, &prepared, None, None, Some(&e), started);
                return Err(e.into());
            }
        };
        let auth = Some(session.info().auth);
        let mut sent = Vec::with_capacity(prepared.messages.len());
        for m in &prepared.messages {
            let envelope = Envelope {
                from: m.from.as_str().to_owned(),
                recipients: m.recipients.iter().map(|r| r.as_str().to_owned()).collect(),
                eight_bit: false,
                dsn: None,
                all_or_nothing: true,
            };
            let started = Instant::now();
            match session.send(&envelope, m.chunks()).await {
                Ok(delivery) => {
                    self.audit(id, &prepared, Some(m), auth, None, started);
                    events::publish_sent(
                        &self.0.publisher,
                        id,
                        events::message_sent(
                            id,
                            &prepared.sender.actor,
                            m,
                            &delivery,
                            prepared.patient.as_ref(),
                            prepared.type_code.as_deref(),
                        ),
                    );
                    sent.push(api::SentMessage {
                        audience: api::Audience::from(m.audience) as i32,
                        message_id: m.message_id.clone(),
                        recipients: delivery.accepted.into_iter().map(|r| r.address).collect(),
                    });
                }
                Err(e) => {
                    self.audit(id, &prepared, Some(m), auth, Some(&e), started);
                    session.quit().await;
                    // A message already sent to one audience is not taken back: say so.
                    return Err(match sent.first() {
                        None => e.into(),
                        Some(done) => MssServiceError::PartlySent {
                            sent: done.message_id.clone(),
                            error: e,
                        },
                    });
                }
            }
        }
        session.quit().await;
        Ok(api::SendResponse {
            messages: sent,
            rule: prepared.decision.row.as_str().to_owned(),
            idempotency_key: prepared.key,
        })
    }

    pub async fn preview(
        &self,
        id: &RequestId,
        req: api::SendRequest,
    ) -> Result<api::PreviewResponse> {
        let prepared = self.prepare(id, &req).await?;
        Ok(api::PreviewResponse {
            messages: prepared
                .messages
                .iter()
                .map(|m| api::PreviewMessage::from(m.preview()))
                .collect(),
            rule: prepared.decision.row.as_str().to_owned(),
            idempotency_key: prepared.key,
        })
    }

    pub async fn search_directory(
        &self,
        _id: &RequestId,
        req: api::SearchDirectoryRequest,
    ) -> Result<api::SearchDirectoryResponse> {
        let found = match req.by {
            Some(api::search_directory_request::By::Rpps(rpps)) => {
                self.0.directory.by_rpps(rpps.trim()).await?
            }
            Some(api::search_directory_request::By::Name(name)) => {
                let (family, given) = split_name(&name);
                self.0.directory.by_name(&family, given.as_deref()).await?
            }
            Some(api::search_directory_request::By::Address(address)) => {
                self.0.directory.by_address(address.trim()).await?
            }
            None => {
                return Err(MssServiceError::InvalidRequest {
                    field: "by",
                    message: "give rpps, name or address".to_owned(),
                });
            }
        };
        Ok(api::SearchDirectoryResponse {
            professionals: found.into_iter().map(Into::into).collect(),
        })
    }

    /// Imports the extraction file uploaded to the document store: copied beside the index
    /// (same disk, under its uploaded name), imported, then removed.
    pub async fn import_directory(
        &self,
        _id: &RequestId,
        req: api::ImportDirectoryRequest,
    ) -> Result<api::ImportDirectoryResponse> {
        let document_id = req.document_id.trim();
        if document_id.is_empty() {
            return Err(MssServiceError::InvalidRequest {
                field: "document_id",
                message: "give the extraction file uploaded to the document store".to_owned(),
            });
        }
        let index_path = self
            .0
            .directory
            .extraction_path()
            .ok_or(ImportError::NotConfigured)?;
        let dir = index_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        let io = |e: std::io::Error| {
            ImportError::Index(IndexError::Io {
                path: dir.clone(),
                reason: e.to_string(),
            })
        };
        tokio::fs::create_dir_all(&dir).await.map_err(io)?;
        let upload_dir = tempfile::Builder::new()
            .prefix(".extraction-upload-")
            .tempdir_in(&dir)
            .map_err(io)?;
        let store_error = |error| DocumentProblem::Store {
            id: document_id.to_owned(),
            error,
        };
        let (reference, mut chunks) = self
            .0
            .documents
            .get(document_id)
            .await
            .map_err(store_error)?;
        // The name as uploaded (the report names the file read), never a path.
        let name = reference
            .file_name
            .as_deref()
            .and_then(|n| Path::new(n).file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .unwrap_or_else(|| "extraction".to_owned());
        let file_path = upload_dir.path().join(name);
        {
            let mut file = tokio::fs::File::create(&file_path).await.map_err(io)?;
            while let Some(chunk) = chunks.next().await {
                file.write_all(&chunk.map_err(store_error)?)
                    .await
                    .map_err(io)?;
            }
            file.flush().await.map_err(io)?;
        }
        let report = self.0.directory.import_extraction(&file_path).await?;
        drop(upload_dir);
        Ok(api::ImportDirectoryResponse {
            source: report.source,
            lines: report.lines as u64,
            mailboxes: report.mailboxes as u64,
            duplicates: report.duplicates as u64,
            rejected: report.rejected as u64,
            rejected_lines: report
                .rejected_lines
                .into_iter()
                .take(REJECTED_LINES_ANSWERED)
                .map(|r| api::RejectedLine {
                    line: r.line as u64,
                    reason: r.reason,
                })
                .collect(),
            latin1_lines: report.latin1_lines as u64,
        })
    }

    /// Every professional recipient is a mailbox the directory publishes; the patient's
    /// mailbox is never looked up. All unknown ones are named, by field.
    async fn check_in_directory(&self, to: &[MssAddress], cc: &[MssAddress]) -> Result<()> {
        let mut known: HashMap<String, bool> = HashMap::new();
        let mut unknown = Vec::new();
        for (field, list) in [("to", to), ("cc", cc)] {
            for (i, address) in list.iter().enumerate() {
                if address.is_patient() {
                    continue;
                }
                let key = address.as_str().to_ascii_lowercase();
                let listed = match known.get(&key) {
                    Some(listed) => *listed,
                    None => {
                        let listed = !self
                            .0
                            .directory
                            .by_address(address.as_str())
                            .await
                            .map_err(MssServiceError::RecipientCheck)?
                            .is_empty();
                        known.insert(key, listed);
                        listed
                    }
                };
                if !listed {
                    unknown.push(format!("{field}[{i}]"));
                }
            }
        }
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(MssServiceError::NotInDirectory { fields: unknown })
        }
    }

    fn audit(
        &self,
        id: &RequestId,
        prepared: &Prepared,
        message: Option<&OutboundMessage>,
        auth: Option<crate::smtp::AuthUsed>,
        error: Option<&crate::smtp::SmtpError>,
        started: Instant,
    ) {
        let refused = match error {
            Some(
                crate::smtp::SmtpError::RecipientsRefused { refused }
                | crate::smtp::SmtpError::AllRecipientsRefused { refused },
            ) => refused.len(),
            _ => 0,
        };
        let record = events::audit_record(
            &events::AuditedSession {
                request_id: id,
                actor: &prepared.sender.actor,
                message_id: message.map(|m| m.message_id.as_str()).unwrap_or_default(),
                auth,
                recipients: message.map_or(0, |m| m.recipients.len()),
                refused,
                patient: prepared.patient.as_ref(),
                error,
                duration: started.elapsed(),
            },
            &self.0.hasher,
        );
        events::publish_audit(&self.0.publisher, id, record);
    }

    /// Everything before the SMTP session: who sends, the patient, the recipients judged by
    /// the rules, the sender's mailbox, the document made into a CDA and packed, the
    /// messages.
    async fn prepare(&self, id: &RequestId, req: &api::SendRequest) -> Result<Prepared> {
        let settings = &self.0.settings;
        // Addresses and rules first: a refused send costs no card and no document.
        let to = addresses("to", &req.to)?;
        let cc = addresses("cc", &req.cc)?;
        let patient = match req.patient.as_ref() {
            Some(p) if !p.matricule.trim().is_empty() => Some(checked_patient(Some(p))?),
            _ => None,
        };
        let qualified = patient
            .as_ref()
            .map(|p| QualifiedIns::try_new(p, settings.platform()));
        let patient_ins = match &qualified {
            None => PatientIns::Absent,
            Some(Ok(q)) => PatientIns::Qualified(q),
            Some(Err(e)) => PatientIns::NotQualified(e),
        };
        let document = req
            .document
            .as_ref()
            .filter(|d| !d.document_id.trim().is_empty());
        let flags = document.map(|d| {
            let mut f = Flags::hidden_from(&hidden_from(d));
            f.connexion_secrete = req.secret_connection;
            f.dest_dmp = req.also_in_dmp;
            f.ack_lecture_mss = req.acknowledgement;
            f
        });
        let decision = rules::judge(&SendCase {
            to: &to,
            cc: &cc,
            to_patient: req.to_patient,
            patient: patient_ins,
            document: flags,
        })
        .map_err(MssServiceError::Refused)?;
        if req.check_recipients {
            self.check_in_directory(&to, &cc).await?;
        }

        let sender = self.0.resolver.sender(req.actor.as_ref(), id).await?;
        let from = self.from(req, &sender).await?;
        let key = if req.idempotency_key.trim().is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            req.idempotency_key.trim().to_owned()
        };
        let now = OffsetDateTime::now_utc();

        let (attachments, type_code) = match document {
            Some(d) => {
                let patient = patient.clone().ok_or(MssServiceError::InvalidRequest {
                    field: "patient",
                    message: "a document needs its patient (INS and traits)".to_owned(),
                })?;
                let (header, cda, pdf) = self.document(d, &key, patient, &sender, now).await?;
                let set = message::submission_set(
                    &key,
                    &settings.mss.source_id,
                    now,
                    message::default_content_type(),
                )
                .map_err(DocumentProblem::from)?;
                let type_code = header.type_code.code.clone();
                let attachments = DocumentAttachments::new(
                    vec![AttachedDocument {
                        header: &header,
                        cda,
                        pdf,
                    }],
                    &set,
                )?;
                (Some(attachments), Some(type_code))
            }
            None => (None, None),
        };
        let body = |b: Option<&api::Body>| {
            b.map(|b| Body {
                text: b.text.clone(),
                html: Some(b.html.clone()).filter(|h| !h.trim().is_empty()),
            })
        };
        let spec = MessageSpec {
            from,
            reply_to: None,
            subject: req.subject.trim().to_owned(),
            body: body(req.body.as_ref()).unwrap_or_default(),
            patient_body: body(req.patient_body.as_ref()).filter(|b| !b.text.trim().is_empty()),
            nil: settings.mss.nil.clone().filter(|n| !n.trim().is_empty()),
            patient_may_not_reply: req.patient_may_not_reply,
            acknowledgement: req.acknowledgement,
            idempotency_key: key.clone(),
            date: now,
        };
        let messages = message::build(&decision, &spec, attachments.as_ref())?;
        Ok(Prepared {
            sender,
            decision,
            messages,
            key,
            patient,
            type_code,
        })
    }

    /// The sender's mailbox: the request's; else in CPS mode the card holder's personal
    /// mailbox in the directory; else the organisation's configured one.
    async fn from(&self, req: &api::SendRequest, sender: &Sender) -> Result<MssAddress> {
        if !req.from.trim().is_empty() {
            return MssAddress::parse(req.from.trim()).map_err(|error| MssServiceError::Address {
                field: "from".to_owned(),
                error,
            });
        }
        if sender.card.is_some() {
            if let ProfessionalId::Rpps(rpps) = sender.professional.id() {
                let found = self.0.directory.by_rpps(rpps.as_str()).await?;
                let personal = found
                    .iter()
                    .flat_map(|p| &p.addresses)
                    .find(|m| m.mailbox_type == Some(MailboxType::Personal));
                if let Some(m) = personal
                    && let Ok(address) = MssAddress::parse(&m.address)
                {
                    return Ok(address);
                }
            }
            return Err(MssServiceError::NoSender { cps: true });
        }
        match self.0.settings.mss.default_from.as_deref() {
            Some(f) if !f.trim().is_empty() => {
                MssAddress::parse(f.trim()).map_err(|error| MssServiceError::Address {
                    field: "mss.default_from".to_owned(),
                    error,
                })
            }
            _ => Err(MssServiceError::NoSender { cps: false }),
        }
    }

    /// The request's document as a CDA (and the PDF itself, attached beside the XDM).
    async fn document(
        &self,
        d: &api::Document,
        key: &str,
        patient: PatientIdentity,
        sender: &Sender,
        now: OffsetDateTime,
    ) -> Result<(DocumentHeader, letter::Cda, Option<Bytes>)> {
        let settings = &self.0.settings;
        let (media_type, content) = letters::fetch(
            &self.0.documents,
            &d.document_id,
            settings.document.max_size,
        )
        .await?;
        let ids = letters::ids(key).map_err(DocumentProblem::from)?;
        let (title, type_code, confidentiality, hidden) = if d.vsm {
            (
                "Volet de synthèse médicale".to_owned(),
                vsm::document_type().code,
                Confidentiality::Normal,
                Vec::new(),
            )
        } else {
            if media_type != letters::PDF && media_type != letters::TEXT {
                return Err(DocumentProblem::MediaType {
                    id: d.document_id.clone(),
                    media_type,
                }
                .into());
            }
            (
                d.title.clone(),
                d.type_code.clone(),
                confidentiality(d.confidentiality),
                hidden_from(d),
            )
        };
        let header = letters::header(
            DocumentRequest {
                ids,
                version: 1,
                replaces: None,
                title,
                type_code,
                confidentiality,
                hidden_from: hidden,
                patient,
                platform: settings.platform(),
                author: sender.professional.clone(),
            },
            &settings.document,
            now,
        )?;
        if d.vsm {
            let cda = letters::vsm_cda(&header, &content)?;
            return Ok((header, cda, None));
        }
        let cda = letters::letter_cda(&header, &media_type, &content)?;
        let pdf = (media_type == letters::PDF).then(|| Bytes::from(content));
        Ok((header, cda, pdf))
    }
}

/// The addresses of a list, each checked, the field named on the first bad one.
fn addresses(field: &str, list: &[String]) -> Result<Vec<MssAddress>> {
    list.iter()
        .enumerate()
        .map(|(i, a)| {
            MssAddress::parse(a.trim()).map_err(|error| MssServiceError::Address {
                field: format!("{field}[{i}]"),
                error,
            })
        })
        .collect()
}

fn confidentiality(c: i32) -> Confidentiality {
    match api::Confidentiality::try_from(c) {
        Ok(api::Confidentiality::Restricted) => Confidentiality::Restricted,
        Ok(api::Confidentiality::VeryRestricted) => Confidentiality::VeryRestricted,
        _ => Confidentiality::Normal,
    }
}

fn hidden_from(d: &api::Document) -> Vec<HiddenFrom> {
    letters::hidden_from(
        d.hide_from_professionals,
        d.hide_from_patient,
        d.hide_from_legal_representatives,
    )
}
