//! TD3.2: ITI-43 RetrieveDocumentSet; the document comes as an XOP part (or inline base64).

use base64::Engine;
use passerelle_soap::{Element, Ns, XmlWriter};

use super::error::DmpError;
use super::mtom::{Attachments, XOP};
use super::{Call, CallContext, DmpClient, Service};

pub const NS_XDS: &str = "urn:ihe:iti:xds-b:2007";
const XDS: Ns = Ns::new("", NS_XDS);
pub const ACTION: &str = "urn:ihe:iti:2007:RetrieveDocumentSet";
pub const RESPONSE_ACTION: &str = "urn:ihe:iti:2007:RetrieveDocumentSetResponse";
const CALL: Call<'static> = Call::new(Service::Repository, ACTION, RESPONSE_ACTION);

/// The document retrieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrievedDocument {
    pub repository_id: String,
    pub unique_id: String,
    pub mime_type: String,
    /// The document's bytes (shares the answer's buffer when it came as an XOP part).
    pub content: bytes::Bytes,
}

pub fn write_request(
    w: &mut XmlWriter,
    repository_id: &str,
    unique_id: &str,
) -> Result<(), DmpError> {
    w.start(XDS, "RetrieveDocumentSetRequest", &[])?;
    w.start(XDS, "DocumentRequest", &[])?;
    w.leaf(XDS, "RepositoryUniqueId", &[], repository_id)?;
    w.leaf(XDS, "DocumentUniqueId", &[], unique_id)?;
    w.end()?;
    w.end()?;
    Ok(())
}

/// Reads the `RetrieveDocumentSetResponse`: the `DocumentResponse`s' content from their XOP
/// part, or inline base64.
pub fn parse_response(
    payload: &Element,
    attachments: &Attachments,
) -> Result<Vec<RetrievedDocument>, DmpError> {
    if !payload.is(NS_XDS, "RetrieveDocumentSetResponse") {
        return Err(DmpError::not_xds(format!(
            "{} is not a RetrieveDocumentSetResponse",
            payload.name()
        )));
    }
    let rr = payload
        .child(
            passerelle_clinical_documents::xds::registry::NS_RS,
            "RegistryResponse",
        )
        .ok_or_else(|| DmpError::not_xds("RetrieveDocumentSetResponse without RegistryResponse"))?;
    super::query::check_registry_status(rr)?;
    let mut out = Vec::new();
    for d in payload.children_named(NS_XDS, "DocumentResponse") {
        let doc = d
            .child(NS_XDS, "Document")
            .ok_or_else(|| DmpError::not_xds("DocumentResponse without Document"))?;
        let content = match doc.child(XOP, "Include") {
            Some(inc) => {
                let href = inc
                    .attr("href")
                    .ok_or_else(|| DmpError::not_xds("xop:Include without href"))?;
                attachments.get_bytes(href).ok_or_else(|| {
                    DmpError::not_xds(format!("the answer has no MIME part {href}"))
                })?
            }
            None => {
                let text: String = doc.text().split_ascii_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                    .map_err(|e| DmpError::not_xds(format!("document not in base64: {e}")))?
                    .into()
            }
        };
        out.push(RetrievedDocument {
            repository_id: d
                .child_text(NS_XDS, "RepositoryUniqueId")
                .unwrap_or_default()
                .to_owned(),
            unique_id: d
                .child_text(NS_XDS, "DocumentUniqueId")
                .unwrap_or_default()
                .to_owned(),
            mime_type: d
                .child_text(NS_XDS, "mimeType")
                .unwrap_or_default()
                .to_owned(),
            content,
        });
    }
    Ok(out)
}

impl DmpClient {
    /// ITI-43 of one document (by uniqueId, never the entryUUID).
    pub async fn retrieve(
        &self,
        ctx: &CallContext,
        repository_id: &str,
        unique_id: &str,
    ) -> Result<RetrievedDocument, DmpError> {
        let response = self
            .call(
                ctx,
                CALL,
                |w| write_request(w, repository_id, unique_id),
                &[],
            )
            .await?;
        let docs = parse_response(response.payload()?, &response.attachments)?;
        docs.into_iter()
            .find(|d| d.unique_id == unique_id)
            .ok_or_else(|| DmpError::not_xds("the answer does not hold the document asked for"))
    }
}
