//! The DMP service's logic, independent of transport: each operation checks who acts and for
//! whom, applies the rules that hold before anything is sent (a qualified INS for a deposit,
//! a reason for an emergency access), calls the DMP through [`DmpClient`], audits the call,
//! and publishes the business event.

use std::sync::Arc;

use passerelle_bus::SharedBus;
use passerelle_bus::documents::SharedDocumentStore;
use passerelle_clinical_documents::header::{Confidentiality, HiddenFrom};
use passerelle_clinical_documents::ids::DocumentIds;
use passerelle_clinical_documents::vsm;
use passerelle_clinical_documents::xds::{
    ContentFacts, DocumentEntry, Submission, SubmissionSetInput, unique_id,
};
use passerelle_domain::{Ins, PatientIdentity, QualifiedIns};
use passerelle_proto::dmp::v1 as api;
use passerelle_service_kit::RequestId;
use passerelle_service_kit::audit::{DurablePublisher, InsHasher};
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::access::{self, Caller, Purpose, Resolver};
use crate::audit::{self, AuditedCall};
use crate::client::{
    AuthorizationAction, AuthorizationChange, CallContext, DateType, Deposit, DepositDocument,
    DmpClient, DmpError, EntryStatus, FindDocuments, PatientStatus, RegistryEntry,
};
use crate::config::DmpSettings;
use crate::document::{self, DocumentRequest};
use crate::entries;
use crate::errors::{self, DmpServiceError};
use crate::events;
use crate::vihf::{LpsIdentity, PatientResource, VihfClaims};

type Result<T> = std::result::Result<T, DmpServiceError>;

/// The service's core, shared by every handler. Cheap to clone.
#[derive(Clone)]
pub struct DmpCore(Arc<Inner>);

struct Inner {
    client: DmpClient,
    settings: DmpSettings,
    resolver: Resolver,
    documents: SharedDocumentStore,
    hasher: InsHasher,
    publisher: DurablePublisher,
}

/// One request, resolved: who acts, how, for whom.
struct Scope {
    request_id: RequestId,
    caller: Caller,
    purpose: Purpose,
    patient: Option<PatientIdentity>,
}

impl DmpCore {
    pub fn new(
        client: DmpClient,
        settings: DmpSettings,
        resolver: Resolver,
        documents: SharedDocumentStore,
        hasher: InsHasher,
        bus: Option<SharedBus>,
    ) -> Self {
        Self(Arc::new(Inner {
            client,
            settings,
            resolver,
            documents,
            hasher,
            publisher: DurablePublisher::new(bus),
        }))
    }

    /// Waits for every audit record and event to be acknowledged (on shutdown).
    pub async fn flush(&self) {
        self.0.publisher.flush().await;
    }

    async fn scope(
        &self,
        request_id: &RequestId,
        access: Option<&api::Access>,
        patient: Option<&passerelle_proto::common::v1::PatientIdentity>,
        needs_patient: bool,
    ) -> Result<Scope> {
        let default = api::Access::default();
        let access_msg = access.unwrap_or(&default);
        let purpose = access::purpose(access_msg)?;
        let patient = if needs_patient {
            Some(access::patient(patient)?)
        } else {
            None
        };
        let caller = self.0.resolver.caller(access_msg, request_id).await?;
        Ok(Scope {
            request_id: request_id.clone(),
            caller,
            purpose,
            patient,
        })
    }

    fn ins(scope: &Scope) -> Option<&Ins> {
        scope.patient.as_ref().map(|p| &p.ins)
    }

    /// One DMP call: its VIHF claims, its audit record.
    async fn call<T, F, Fut>(&self, scope: &Scope, transaction: &'static str, send: F) -> Result<T>
    where
        F: FnOnce(CallContext) -> Fut,
        Fut: Future<Output = std::result::Result<T, DmpError>>,
    {
        let message_id = uuid::Uuid::new_v4();
        let claims = VihfClaims {
            professional: scope.caller.professional.clone(),
            mode: scope.caller.mode,
            purpose: scope.purpose.purpose,
            lps: LpsIdentity {
                id: self.0.settings.dmp.lps.id.clone(),
                name: self.0.settings.dmp.lps.name.clone(),
                version: self.0.settings.dmp.lps.version.clone(),
                homologation: self.0.settings.dmp.lps.homologation.clone(),
            },
            patient: Self::ins(scope).map(|ins| PatientResource {
                ins: format!("{}{}", ins.matricule(), ins.key()),
                oid: ins.oid().to_string(),
            }),
        };
        let ctx = CallContext {
            message_id,
            auth: scope.caller.auth.clone(),
            claims,
        };
        let began = Instant::now();
        let outcome = send(ctx).await;
        let record = audit::event(
            &AuditedCall {
                request_id: &scope.request_id,
                actor: &scope.caller.actor,
                transaction,
                message_id,
                purpose: &scope.purpose,
                ins: Self::ins(scope),
                error: outcome.as_ref().err(),
                duration: began.elapsed(),
            },
            &self.0.hasher,
        );
        audit::publish(&self.0.publisher, &scope.request_id, record);
        Ok(outcome?)
    }

    pub async fn status(
        &self,
        id: &RequestId,
        req: api::GetStatusRequest,
    ) -> Result<api::GetStatusResponse> {
        let scope = self
            .scope(id, req.access.as_ref(), req.patient.as_ref(), true)
            .await?;
        let status: PatientStatus = self
            .call(&scope, "TD0.2", |ctx| async move {
                self.0.client.patient_status(&ctx).await
            })
            .await?;
        Ok(entries::status_response(&status, id))
    }

    pub async fn set_authorization(
        &self,
        id: &RequestId,
        req: api::SetAuthorizationRequest,
    ) -> Result<api::SetAuthorizationResponse> {
        let change = match api::AuthorizationAction::try_from(req.action) {
            Ok(api::AuthorizationAction::Add) => AuthorizationChange {
                action: AuthorizationAction::Add,
                attending_physician: req.attending_physician,
            },
            Ok(api::AuthorizationAction::Remove) => AuthorizationChange {
                action: AuthorizationAction::Remove,
                attending_physician: req.attending_physician,
            },
            _ => {
                return Err(invalid("action", "give ADD or REMOVE"));
            }
        };
        let scope = self
            .scope(id, req.access.as_ref(), req.patient.as_ref(), true)
            .await?;
        let outcome = self
            .call(&scope, "TD0.3", |ctx| async move {
                self.0.client.set_authorization(&ctx, change).await
            })
            .await?;
        Ok(api::SetAuthorizationResponse {
            status: outcome.status,
            context: outcome.context,
            request_id: id.to_string(),
        })
    }

    pub async fn list_accessible(
        &self,
        id: &RequestId,
        req: api::ListAccessibleRequest,
    ) -> Result<api::ListAccessibleResponse> {
        let since = entries::parse_date("since", &req.since)?;
        let by = if req.by_last_document {
            DateType::LastDocument
        } else {
            DateType::LastAuthorization
        };
        let scope = self.scope(id, req.access.as_ref(), None, false).await?;
        let patients = self
            .call(&scope, "TD0.4", |ctx| async move {
                self.0.client.accessible_patients(&ctx, since, by).await
            })
            .await?;
        Ok(api::ListAccessibleResponse {
            patients: patients.iter().map(entries::accessible_patient).collect(),
            request_id: id.to_string(),
        })
    }

    pub async fn list_documents(
        &self,
        id: &RequestId,
        req: api::ListDocumentsRequest,
    ) -> Result<api::ListDocumentsResponse> {
        let query = entries::find_documents(&req)?;
        let scope = self
            .scope(id, req.access.as_ref(), req.patient.as_ref(), true)
            .await?;
        let found = self
            .call(&scope, "TD3.1", |ctx| async move {
                self.0.client.find_documents(&ctx, &query).await
            })
            .await?;
        Ok(api::ListDocumentsResponse {
            documents: found
                .iter()
                .filter(|e| !e.is_signature)
                .map(entries::document_entry)
                .collect(),
            request_id: id.to_string(),
        })
    }

    /// The registry entry of `unique_id`, or a clear "not found".
    async fn entry(&self, scope: &Scope, unique_id: &str) -> Result<RegistryEntry> {
        let unique_id = unique_id.trim();
        if unique_id.is_empty() {
            return Err(invalid(
                "unique_id",
                "give the document's unique_id (as `dmp list` prints it)",
            ));
        }
        let wanted = unique_id.to_owned();
        self.call(scope, "TD3.1", |ctx| async move {
            self.0.client.document_by_unique_id(&ctx, &wanted).await
        })
        .await?
        .ok_or_else(|| DmpServiceError::UnknownDocument {
            unique_id: unique_id.to_owned(),
        })
    }

    pub async fn get_document(
        &self,
        id: &RequestId,
        req: api::GetDocumentRequest,
    ) -> Result<api::GetDocumentResponse> {
        let scope = self
            .scope(id, req.access.as_ref(), req.patient.as_ref(), true)
            .await?;
        let entry = self.entry(&scope, &req.unique_id).await?;
        let (repository, uid) = (entry.repository_id.clone(), entry.unique_id.clone());
        let retrieved = self
            .call(&scope, "TD3.2", |ctx| async move {
                self.0.client.retrieve(&ctx, &repository, &uid).await
            })
            .await?;
        let size = retrieved.content.len() as u64;
        let stored = self
            .store(retrieved.content, &retrieved.mime_type)
            .await
            .map_err(|e| DmpServiceError::Internal(format!("cannot store the document: {e}")))?;
        let api_entry = entries::document_entry(&entry);
        Ok(api::GetDocumentResponse {
            warnings: entries::warnings(&api_entry),
            entry: Some(api_entry),
            document_id: stored,
            size,
            request_id: id.to_string(),
        })
    }

    async fn store(
        &self,
        content: bytes::Bytes,
        media_type: &str,
    ) -> std::result::Result<String, passerelle_bus::documents::DocumentError> {
        let chunks: passerelle_bus::documents::UploadStream =
            Box::pin(futures::stream::once(futures::future::ready(Ok(content))));
        let reference = self
            .0
            .documents
            .put(
                passerelle_bus::documents::NewDocument {
                    media_type: if media_type.is_empty() {
                        "text/xml".to_owned()
                    } else {
                        media_type.to_owned()
                    },
                    file_name: None,
                    declared_size: None,
                },
                chunks,
            )
            .await?;
        Ok(reference.id)
    }

    pub async fn deposit(
        &self,
        id: &RequestId,
        req: api::DepositRequest,
    ) -> Result<api::DepositResponse> {
        let scope = self
            .scope(id, req.access.as_ref(), req.patient.as_ref(), true)
            .await?;
        let patient = self.qualified(&scope)?;
        let first = api::DepositDocument {
            document_id: req.document_id.clone(),
            options: req.options.clone(),
        };
        let mut prepared = Vec::with_capacity(1 + req.more.len());
        for item in std::iter::once(&first).chain(&req.more) {
            prepared.push(self.prepare_letter(&scope, &patient, item).await?);
        }
        self.submit(&scope, prepared, None).await
    }

    /// One letter of a deposit: taken from the document store, made into a CDA level 1.
    async fn prepare_letter(
        &self,
        scope: &Scope,
        patient: &PatientIdentity,
        item: &api::DepositDocument,
    ) -> Result<Prepared> {
        let options = item.options.clone().unwrap_or_default();
        let (media_type, content) = document::fetch(
            &self.0.documents,
            &item.document_id,
            self.0.settings.document.max_size,
        )
        .await?;
        if media_type != document::PDF && media_type != document::TEXT {
            return Err(document::DocumentProblem::MediaType {
                id: item.document_id.clone(),
                media_type,
            }
            .into());
        }
        let ids =
            document::ids(&options.idempotency_key).map_err(document::DocumentProblem::from)?;
        let header = document::header(
            DocumentRequest {
                ids: ids.clone(),
                version: 1,
                replaces: None,
                title: options.title.clone(),
                type_code: options.type_code.clone(),
                confidentiality: confidentiality(options.confidentiality),
                hidden_from: hidden_from(&options),
                patient: patient.clone(),
                platform: self.0.settings.platform(),
                author: scope.caller.professional.clone(),
            },
            &self.0.settings.document,
            OffsetDateTime::now_utc(),
        )?;
        let cda = document::letter_cda(&header, &media_type, &content)?;
        drop(content);
        Ok(Prepared {
            ids,
            header,
            cda: cda.bytes.into(),
            facts: cda.facts,
        })
    }

    pub async fn deposit_vsm(
        &self,
        id: &RequestId,
        req: api::DepositVsmRequest,
    ) -> Result<api::DepositResponse> {
        let scope = self
            .scope(id, req.access.as_ref(), req.patient.as_ref(), true)
            .await?;
        let patient = self.qualified(&scope)?;
        let (_, input) = document::fetch(
            &self.0.documents,
            &req.vsm_document_id,
            self.0.settings.document.max_size,
        )
        .await?;
        // The current VSM, which the new one replaces (same set, next version).
        let current = self.current_vsm(&scope).await?;
        let (ids, version, replaces) = match &current {
            Some((entry, set_id, version)) => (
                document::replacement_ids(&req.idempotency_key, set_id.clone())
                    .map_err(document::DocumentProblem::from)?,
                version + 1,
                Some(entries::document_id(&entry.unique_id)),
            ),
            None => (
                document::ids(&req.idempotency_key).map_err(document::DocumentProblem::from)?,
                1,
                None,
            ),
        };
        let header = document::header(
            DocumentRequest {
                ids: ids.clone(),
                version,
                replaces,
                title: "Volet de synthèse médicale".to_owned(),
                type_code: vsm::document_type().code,
                confidentiality: Confidentiality::Normal,
                hidden_from: Vec::new(),
                patient,
                platform: self.0.settings.platform(),
                author: scope.caller.professional.clone(),
            },
            &self.0.settings.document,
            OffsetDateTime::now_utc(),
        )?;
        let cda = document::vsm_cda(&header, &input)?;
        let prepared = Prepared {
            ids,
            header,
            cda: cda.bytes.into(),
            facts: cda.facts,
        };
        self.submit(&scope, vec![prepared], current.map(|(entry, _, _)| entry))
            .await
    }

    /// The approved VSM of the patient, with the set id and version its CDA declares.
    async fn current_vsm(
        &self,
        scope: &Scope,
    ) -> Result<
        Option<(
            RegistryEntry,
            passerelle_clinical_documents::header::DocumentId,
            u32,
        )>,
    > {
        let query = FindDocuments {
            statuses: vec![EntryStatus::Approved],
            type_codes: vec![vsm::document_type()],
            ..FindDocuments::default()
        };
        let found = self
            .call(scope, "TD3.1", |ctx| async move {
                self.0.client.find_documents(&ctx, &query).await
            })
            .await?;
        let Some(entry) = found
            .into_iter()
            .filter(|e| !e.is_signature)
            .max_by(|a, b| a.creation_time.cmp(&b.creation_time))
        else {
            return Ok(None);
        };
        let (repository, uid) = (entry.repository_id.clone(), entry.unique_id.clone());
        let retrieved = self
            .call(scope, "TD3.2", |ctx| async move {
                self.0.client.retrieve(&ctx, &repository, &uid).await
            })
            .await?;
        let (set_id, version) =
            document::declared_version(&retrieved.content).unwrap_or_else(|| {
                // Not one of ours, or no version declared: a new set, replacing it all the same.
                (DocumentIds::generate().set_id, 1)
            });
        Ok(Some((entry, set_id, version)))
    }

    /// The qualified INS of the request's patient, or why not.
    fn qualified(&self, scope: &Scope) -> Result<PatientIdentity> {
        let patient = scope
            .patient
            .clone()
            .ok_or_else(|| DmpServiceError::Internal("no patient in scope".to_owned()))?;
        QualifiedIns::try_new(&patient, self.0.settings.platform())
            .map_err(DmpServiceError::NotQualified)?;
        Ok(patient)
    }

    /// Deposits the documents in one submission set, once: a uniqueId the DMP already holds
    /// is answered `already_present` and not sent again. `replaces`: the entry the first
    /// document replaces (RPLC).
    async fn submit(
        &self,
        scope: &Scope,
        documents: Vec<Prepared>,
        replaces: Option<RegistryEntry>,
    ) -> Result<api::DepositResponse> {
        // A deposit sent again (retry, crash, redelivery) finds its documents there. Reading
        // needs an authorisation that depositing does not: a professional the DMP does not
        // let read relies on the registry, which refuses a uniqueId it holds
        // (XDSDuplicateUniqueIdInRegistry; a Warning when the content is the same).
        let mut present = Vec::with_capacity(documents.len());
        for d in &documents {
            let wanted = unique_id(&d.header.id);
            let existing = self
                .call(scope, "TD3.1", |ctx| async move {
                    self.0.client.document_by_unique_id(&ctx, &wanted).await
                })
                .await;
            match existing {
                Ok(found) => present.push(found.is_some()),
                Err(DmpServiceError::Dmp(e)) if errors::is_access_denied(&e) => present.push(false),
                Err(e) => return Err(e),
            }
        }
        let mut already: Vec<String> = documents
            .iter()
            .zip(&present)
            .filter(|(_, there)| **there)
            .map(|(d, _)| unique_id(&d.header.id))
            .collect();
        // Each round sends what is not known to be there; a refusal naming uniqueIds the
        // registry holds already (ours: derived from the caller's keys, so sent before — its
        // CDA written again has a new effective time, so the registry sees other content)
        // takes them out for the next round. Each round removes at least one document.
        loop {
            let pending: Vec<&Prepared> = documents
                .iter()
                .filter(|d| !already.contains(&unique_id(&d.header.id)))
                .collect();
            let Some(deposit) = self.deposit_of(&pending, replaces.as_ref())? else {
                break;
            };
            let outcome = self
                .call(scope, "TD2.1", |ctx| async move {
                    self.0.client.deposit(&ctx, &deposit).await
                })
                .await;
            match outcome {
                // The registry held some with our hash (a deposit sent again): said so.
                Ok(done) => {
                    already.extend(done.already_present);
                    break;
                }
                Err(DmpServiceError::Dmp(DmpError::Registry { errors }))
                    if !errors.is_empty()
                        && errors
                            .iter()
                            .all(|e| e.code == "XDSDuplicateUniqueIdInRegistry") =>
                {
                    let names = |uid: &str| errors.iter().any(|e| e.context.contains(uid));
                    let mut named: Vec<String> = pending
                        .iter()
                        .map(|d| unique_id(&d.header.id))
                        .filter(|uid| names(uid))
                        .collect();
                    // The signature of a set whose first document this is: that set was
                    // deposited before, with this document.
                    if let Some(first) = pending.first()
                        && names(&signature_unique_id(first)?)
                    {
                        named.push(unique_id(&first.header.id));
                    }
                    if named.is_empty() {
                        return Err(DmpError::Registry { errors }.into());
                    }
                    already.extend(named);
                }
                Err(e) => return Err(e),
            }
        }
        let answer = |d: &Prepared| {
            let uid = unique_id(&d.header.id);
            api::DepositedDocument {
                already_present: already.contains(&uid),
                unique_id: uid,
                idempotency_key: d.ids.key.clone(),
            }
        };
        let mut answers = documents.iter().map(answer);
        let first = answers
            .next()
            .ok_or_else(|| DmpServiceError::Internal("a deposit without document".to_owned()))?;
        let response = api::DepositResponse {
            unique_id: first.unique_id,
            idempotency_key: first.idempotency_key,
            already_present: first.already_present,
            replaced_unique_id: replaces
                .as_ref()
                .map(|r| r.unique_id.clone())
                .unwrap_or_default(),
            request_id: scope.request_id.to_string(),
            more: answers.collect(),
        };
        for d in &documents {
            let uid = unique_id(&d.header.id);
            if !already.contains(&uid) {
                events::deposited(
                    &self.0.publisher,
                    &scope.request_id,
                    &scope.caller.actor,
                    Self::ins(scope),
                    &uid,
                    &response.replaced_unique_id,
                    &d.header.type_code.code,
                    &d.header.hidden_from,
                );
            }
        }
        Ok(response)
    }

    /// One ITI-41 deposit of `pending` (the first document with the submission set), or
    /// `None` when nothing is left to send.
    fn deposit_of(
        &self,
        pending: &[&Prepared],
        replaces: Option<&RegistryEntry>,
    ) -> Result<Option<Deposit>> {
        let Some((first, rest)) = pending.split_first() else {
            return Ok(None);
        };
        let facts = |d: &Prepared| d.facts.clone();
        let xds = |e: passerelle_clinical_documents::xds::XdsError| {
            DmpServiceError::Internal(format!("XDS metadata: {e}"))
        };
        let submission = Submission::from_header(
            &first.header,
            &facts(first),
            &SubmissionSetInput {
                unique_id: unique_id(&DocumentIds::generate().id),
                source_id: self.0.settings.dmp.source_id.clone(),
                submission_time: OffsetDateTime::now_utc(),
                content_type: entries::content_type(),
            },
        )
        .map_err(xds)?;
        let mut deposit = Deposit::new(submission, first.cda.clone());
        // A deposit sent again carries the same signature uniqueId too.
        deposit.signature_unique_id = Some(signature_unique_id(first)?);
        if let Some(old) = replaces {
            deposit = deposit.replacing(old.entry_uuid.clone());
        }
        for d in rest {
            deposit = deposit.with_document(DepositDocument {
                entry: DocumentEntry::from_header(&d.header, &facts(d)).map_err(xds)?,
                content: d.cda.clone(),
                replaces: None,
            });
        }
        Ok(Some(deposit))
    }

    pub async fn change_visibility(
        &self,
        id: &RequestId,
        req: api::ChangeVisibilityRequest,
    ) -> Result<api::DocumentChangeResponse> {
        let change = api::VisibilityChange::try_from(req.change)
            .ok()
            .filter(|c| *c != api::VisibilityChange::Unspecified)
            .ok_or_else(|| DmpServiceError::InvalidRequest {
                field: "change",
                message: "give MASK_FROM_PROFESSIONALS, UNMASK_TO_PROFESSIONALS, REVEAL_TO_PATIENT or REVEAL_TO_LEGAL_REPRESENTATIVES".to_owned(),
            })?;
        let scope = self
            .scope(id, req.access.as_ref(), req.patient.as_ref(), true)
            .await?;
        let entry = self.entry(&scope, &req.unique_id).await?;
        let wanted =
            entries::visibility_change(change).ok_or_else(|| DmpServiceError::InvalidRequest {
                field: "change",
                message: "give a visibility change".to_owned(),
            })?;
        if entries::changes_nothing(&entry, wanted) {
            return Ok(change_response(entries::document_entry(&entry), true, id));
        }
        let codes = entry.confidentiality_after(wanted)?;
        let target = entry.clone();
        self.call(&scope, "TD3.3", |ctx| async move {
            self.0
                .client
                .update_confidentiality(&ctx, &target, &codes)
                .await
        })
        .await?;
        let mut updated = entries::document_entry(&entry);
        updated.visibility = Some(entries::visibility_after(&entry, change));
        events::visibility_changed(
            &self.0.publisher,
            &scope.request_id,
            &scope.caller.actor,
            Self::ins(&scope),
            &updated,
        );
        Ok(change_response(updated, false, id))
    }

    pub async fn change_status(
        &self,
        id: &RequestId,
        req: api::ChangeStatusRequest,
    ) -> Result<api::DocumentChangeResponse> {
        let new = match api::StatusChange::try_from(req.change) {
            Ok(api::StatusChange::Archive) => EntryStatus::Archived,
            Ok(api::StatusChange::Unarchive) => EntryStatus::Approved,
            Ok(api::StatusChange::Delete) => EntryStatus::Deleted,
            _ => {
                return Err(invalid("change", "give ARCHIVE, UNARCHIVE or DELETE"));
            }
        };
        let scope = self
            .scope(id, req.access.as_ref(), req.patient.as_ref(), true)
            .await?;
        let entry = self.entry(&scope, &req.unique_id).await?;
        if entry.status == new {
            return Ok(change_response(entries::document_entry(&entry), true, id));
        }
        let target = entry.clone();
        let wanted = new;
        self.call(&scope, "TD3.3", |ctx| async move {
            self.0.client.update_status(&ctx, &target, wanted).await
        })
        .await?;
        let mut updated = entries::document_entry(&entry);
        updated.status = entries::status_to_api(&new) as i32;
        events::status_changed(
            &self.0.publisher,
            &scope.request_id,
            &scope.caller.actor,
            Self::ins(&scope),
            &updated,
        );
        Ok(change_response(updated, false, id))
    }
}

/// A document of a deposit, ready to send.
struct Prepared {
    ids: DocumentIds,
    header: passerelle_clinical_documents::header::DocumentHeader,
    /// Shared, not copied, into the deposit.
    cda: bytes::Bytes,
    /// SHA-1 and size, computed while the CDA was written.
    facts: ContentFacts,
}

/// The uniqueId of the signature of a set whose first document is `d`: derived from its key,
/// so that a deposit sent again carries the same one.
fn signature_unique_id(d: &Prepared) -> Result<String> {
    Ok(unique_id(
        &DocumentIds::from_key(&format!("signature:{}", d.ids.key))
            .map_err(document::DocumentProblem::from)?
            .id,
    ))
}

fn change_response(
    entry: api::DocumentEntry,
    unchanged: bool,
    id: &RequestId,
) -> api::DocumentChangeResponse {
    api::DocumentChangeResponse {
        entry: Some(entry),
        unchanged,
        request_id: id.to_string(),
    }
}

fn invalid(field: &'static str, message: &str) -> DmpServiceError {
    DmpServiceError::InvalidRequest {
        field,
        message: message.to_owned(),
    }
}

fn confidentiality(c: i32) -> Confidentiality {
    match api::Confidentiality::try_from(c) {
        Ok(api::Confidentiality::Restricted) => Confidentiality::Restricted,
        Ok(api::Confidentiality::VeryRestricted) => Confidentiality::VeryRestricted,
        _ => Confidentiality::Normal,
    }
}

fn hidden_from(o: &api::DepositOptions) -> Vec<HiddenFrom> {
    document::hidden_from(
        o.hide_from_professionals,
        o.hide_from_patient,
        o.hide_from_legal_representatives,
    )
}
