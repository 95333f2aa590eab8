//! TD2.1: ITI-41 ProvideAndRegisterDocumentSet-b — one or several CDA documents, the XAdES
//! signature of the submission set as its own entry (`signs` association), replacements
//! (RPLC), sent as MTOM with each document a binary part.

use bytes::Bytes;
use passerelle_clinical_documents::xds::{
    Content, ContentFacts, DepositSet, DocumentEntry, DocumentFormat, Submission,
};
use time::OffsetDateTime;

use super::error::{DmpError, RegistryErrorItem};
use super::mtom::{self, Part};
use super::update::{new_uuid_oid, parse_registry_response};
use super::{Call, CallContext, DmpClient, Service};

pub const ACTION: &str = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b";
pub const RESPONSE_ACTION: &str = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse";
const CALL: Call<'static> = Call::new(Service::Repository, ACTION, RESPONSE_ACTION);

/// A document of a deposit: its entry and its bytes (the CDA file).
#[derive(Debug, Clone)]
pub struct DepositDocument {
    pub entry: DocumentEntry,
    pub content: Bytes,
    /// The entryUUID of the entry this document replaces (RPLC), e.g. the previous VSM.
    pub replaces: Option<String>,
}

/// A deposit: the submission (set + first document) and any further documents of the same
/// patient.
#[derive(Debug, Clone)]
pub struct Deposit {
    pub submission: Submission,
    pub content: Bytes,
    pub replaces: Option<String>,
    pub more: Vec<DepositDocument>,
    /// The signature entry's uniqueId; a new one when None. A caller that resends a deposit
    /// gives the same one (derived from its idempotency key).
    pub signature_unique_id: Option<String>,
}

impl Deposit {
    pub fn new(submission: Submission, content: impl Into<Bytes>) -> Self {
        Self {
            submission,
            content: content.into(),
            replaces: None,
            more: Vec::new(),
            signature_unique_id: None,
        }
    }

    /// The first document replaces `old_entry_uuid`.
    pub fn replacing(mut self, old_entry_uuid: impl Into<String>) -> Self {
        self.replaces = Some(old_entry_uuid.into());
        self
    }

    pub fn with_document(mut self, doc: DepositDocument) -> Self {
        self.more.push(doc);
        self
    }

    /// The documents in order, first one first.
    fn documents(&self) -> impl Iterator<Item = (&DocumentEntry, &Bytes, Option<&str>)> {
        std::iter::once((
            &self.submission.document,
            &self.content,
            self.replaces.as_deref(),
        ))
        .chain(
            self.more
                .iter()
                .map(|d| (&d.entry, &d.content, d.replaces.as_deref())),
        )
    }
}

/// What was registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositOutcome {
    pub submission_set_unique_id: String,
    pub document_unique_ids: Vec<String>,
    pub signature_unique_id: String,
    /// The documents the registry said were already there with the same content (warning
    /// `XDSDuplicateUniqueIdInRegistry`): nothing was added for them.
    pub already_present: Vec<String>,
    /// Every warning of the answer.
    pub warnings: Vec<RegistryErrorItem>,
}

/// The set's metadata (signature entry included) and the MTOM parts, ready to write.
pub struct PreparedDeposit {
    pub set: DepositSet,
    /// `(member id, content id, content type, bytes)`, documents then the signature.
    pub parts: Vec<(String, String, &'static str, Bytes)>,
    pub outcome: DepositOutcome,
}

/// Builds the set with the signature entry of `signature` (the XAdES document).
pub fn prepare(
    deposit: &Deposit,
    signature_unique_id: &str,
    signature: Bytes,
) -> Result<PreparedDeposit, DmpError> {
    let mut set = DepositSet::new(&deposit.submission);
    let mut parts = Vec::new();
    let mut unique_ids = Vec::new();
    for (n, (entry, content, replaces)) in deposit.documents().enumerate() {
        let id = if n == 0 {
            set.members[0].id.clone()
        } else {
            set.add_document(entry.clone())?
        };
        if let Some(old) = replaces {
            set.replace(&id, old)?;
        }
        unique_ids.push(entry.unique_id.clone());
        parts.push((id, mtom::new_content_id(n + 1), "text/xml", content.clone()));
    }
    let facts = ContentFacts::of_cda(&signature, DocumentFormat::CdaText);
    let sig_id = set.add_signature(signature_unique_id, facts.size, &facts.sha1_hex)?;
    parts.push((
        sig_id,
        mtom::new_content_id(parts.len() + 1),
        "text/xml",
        signature,
    ));
    Ok(PreparedDeposit {
        outcome: DepositOutcome {
            submission_set_unique_id: set.unique_id.clone(),
            document_unique_ids: unique_ids,
            signature_unique_id: signature_unique_id.to_owned(),
            already_present: Vec::new(),
            warnings: Vec::new(),
        },
        set,
        parts,
    })
}

impl PreparedDeposit {
    /// Writes the `ProvideAndRegisterDocumentSetRequest` with `xop:Include`s (`inline`:
    /// base64 content instead).
    pub fn write_body(
        &self,
        w: &mut passerelle_soap::XmlWriter,
        inline: bool,
    ) -> Result<(), DmpError> {
        let hrefs: Vec<String> = self
            .parts
            .iter()
            .map(|(_, cid, _, _)| mtom::cid_href(cid))
            .collect();
        let contents: Vec<(&str, Content<'_>)> = self
            .parts
            .iter()
            .zip(&hrefs)
            .map(|((id, _, _, bytes), href)| {
                (
                    id.as_str(),
                    if inline {
                        Content::Inline(bytes)
                    } else {
                        Content::Xop(href)
                    },
                )
            })
            .collect();
        Ok(self.set.write_provide_and_register(w, &contents)?)
    }

    pub fn mtom_parts(&self) -> Vec<Part<'_>> {
        self.parts
            .iter()
            .map(|(_, cid, ct, bytes)| Part {
                content_id: cid,
                content_type: ct,
                bytes: bytes.clone(),
            })
            .collect()
    }
}

impl DmpClient {
    /// After a duplicate refusal: every document registered with the same hash → the
    /// outcome with all of them `already_present`; otherwise the refusal.
    async fn already_deposited(
        &self,
        ctx: &CallContext,
        deposit: &Deposit,
        mut outcome: DepositOutcome,
        errors: Vec<RegistryErrorItem>,
    ) -> Result<DepositOutcome, DmpError> {
        for (entry, _, _) in deposit.documents() {
            let again = CallContext {
                message_id: uuid::Uuid::new_v4(),
                auth: ctx.auth.clone(),
                claims: ctx.claims.clone(),
            };
            // Reading needs an authorisation depositing does not: unable to look, the
            // refusal stands as the registry gave it.
            let found = match self.document_by_unique_id(&again, &entry.unique_id).await {
                Ok(found) => found,
                Err(DmpError::Fault { code, .. }) if code == "DMPAccessDeniedByRightsService" => {
                    return Err(DmpError::Registry { errors });
                }
                Err(e) => return Err(e),
            };
            let same = found.is_some_and(|f| {
                f.hash
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(&entry.hash))
            });
            if !same {
                return Err(DmpError::Registry { errors });
            }
        }
        outcome.already_present = outcome.document_unique_ids.clone();
        outcome.warnings = errors;
        Ok(outcome)
    }

    /// ITI-41: signs the set (XAdES), sends the documents and the signature as MTOM parts.
    /// Idempotent by the documents' uniqueIds: when they are all registered already with the
    /// same content (the registry's warning, or its `XDSDuplicateUniqueIdInRegistry` refusal
    /// checked by GetDocuments), the outcome lists them in `already_present`; a uniqueId
    /// used by other content stays [`DmpError::Registry`].
    pub async fn deposit(
        &self,
        ctx: &CallContext,
        deposit: &Deposit,
    ) -> Result<DepositOutcome, DmpError> {
        let signature_unique_id = deposit
            .signature_unique_id
            .clone()
            .unwrap_or_else(new_uuid_oid);
        let now = OffsetDateTime::now_utc();
        let items: Vec<crate::xades::ManifestItem<'_>> = deposit
            .documents()
            .map(|(entry, content, _)| crate::xades::ManifestItem {
                unique_id: &entry.unique_id,
                content,
            })
            .collect();
        let signer = ctx.signer();
        let signature = crate::xades::deposit_signature(
            &deposit.submission.unique_id,
            &signature_unique_id,
            &items,
            signer.as_ref(),
            now,
        )
        .await?;
        let prepared = prepare(deposit, &signature_unique_id, Bytes::from(signature))?;
        let parts = prepared.mtom_parts();
        let response = self
            .call(ctx, CALL, |w| prepared.write_body(w, false), &parts)
            .await?;
        let warnings = match parse_registry_response(response.payload()?) {
            Ok(w) => w,
            Err(DmpError::Registry { errors })
                if !errors.is_empty()
                    && errors
                        .iter()
                        .all(|e| e.code == "XDSDuplicateUniqueIdInRegistry") =>
            {
                // Sent before (retry, redelivery): if every document is there with our
                // content, the deposit is done; the refusal was the set or its signature.
                return self
                    .already_deposited(ctx, deposit, prepared.outcome, errors)
                    .await;
            }
            Err(e) => return Err(e),
        };
        let mut outcome = prepared.outcome;
        outcome.already_present = outcome
            .document_unique_ids
            .iter()
            .filter(|id| {
                warnings.iter().any(|w| {
                    w.code == "XDSDuplicateUniqueIdInRegistry" && w.context.contains(id.as_str())
                })
            })
            .cloned()
            .collect();
        outcome.warnings = warnings;
        Ok(outcome)
    }
}
