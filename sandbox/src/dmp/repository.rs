//! ITI-43 Retrieve Document Set (TD3.2): each `DocumentRequest` by repository and
//! document uniqueId; the answer is MTOM with each document as an XOP part (EX). An
//! unknown or invisible uniqueId gets `XDSDocumentUniqueIdError` with
//! `codeContext="uniqueId=…"` (DEH), another repository `XDSUnknownRepositoryId`.

use super::REPOSITORY_UNIQUE_ID;
use super::habilitations::patient_of;
use super::registry::{
    FAILURE, PARTIAL, RegistryError, STATUS_DELETED, SUCCESS, check_access, registry_response,
    visible,
};
use super::server::{Call, Reply};
use super::soap::{Fault, NS_RS, NS_XDSB, NS_XOP};
use super::writer::Xml;

pub(crate) fn retrieve(call: &Call<'_>) -> Result<Reply, Fault> {
    let req = call.body;
    if !req.is(NS_XDSB, "RetrieveDocumentSetRequest") {
        return Err(Fault::sender(
            "DMPMalformedRequest",
            "RetrieveDocumentSetRequest attendu.",
        ));
    }
    let patient = patient_of(call)?;
    check_access(call, &patient, false)?;
    let mut errors = Vec::new();
    let mut found = Vec::new();
    for dr in req.children_named(NS_XDSB, "DocumentRequest") {
        let text = |n: &str| {
            dr.child(NS_XDSB, n)
                .map(|e| e.text.trim().to_owned())
                .unwrap_or_default()
        };
        let repo = text("RepositoryUniqueId");
        let unique = text("DocumentUniqueId");
        if repo != REPOSITORY_UNIQUE_ID {
            errors.push(RegistryError::new(
                "XDSUnknownRepositoryId",
                format!("repositoryUniqueId={repo}"),
            ));
            continue;
        }
        let entry = call.store.read(|db| db.by_unique_id(&unique).cloned());
        match entry {
            Some(e)
                if e.ins == patient.ins
                    && e.status != STATUS_DELETED
                    && visible(call, &patient, &e) =>
            {
                match call.store.content(&e.content_file) {
                    Ok(data) => found.push((e, data)),
                    Err(error) => {
                        tracing::error!(%error, "DMP repository read");
                        errors.push(RegistryError::new(
                            "XDSRepositoryError",
                            format!("uniqueId={unique}"),
                        ));
                    }
                }
            }
            _ => errors.push(RegistryError::new(
                "XDSDocumentUniqueIdError",
                format!("uniqueId={unique}"),
            )),
        }
    }
    if found.is_empty() && errors.is_empty() {
        errors.push(RegistryError::new(
            "XDSRegistryError",
            "aucun DocumentRequest",
        ));
    }
    let status = match (found.is_empty(), errors.is_empty()) {
        (false, true) => SUCCESS,
        (false, false) => PARTIAL,
        _ => FAILURE,
    };
    let mut x = Xml::fragment();
    x.start(
        "ns4:RetrieveDocumentSetResponse",
        &[("xmlns:ns4", NS_XDSB), ("xmlns:rs", NS_RS)],
    );
    registry_response(&mut x, status, &errors, false);
    let mut attachments = Vec::new();
    for (i, (e, data)) in found.into_iter().enumerate() {
        let cid = format!("{}-{}@urn:ihe:iti:xds-b:2007", uuid::Uuid::new_v4(), i + 1);
        x.start("ns4:DocumentResponse", &[]);
        x.leaf("ns4:RepositoryUniqueId", &[], REPOSITORY_UNIQUE_ID);
        x.leaf("ns4:DocumentUniqueId", &[], &e.unique_id);
        x.leaf("ns4:mimeType", &[], &e.mime_type);
        x.start("ns4:Document", &[]);
        let href = format!("cid:{}", cid.replace('@', "%40").replace(':', "%3A"));
        x.empty("xop:Include", &[("href", &href), ("xmlns:xop", NS_XOP)]);
        x.end("ns4:Document").end("ns4:DocumentResponse");
        attachments.push((cid, e.mime_type.clone(), data));
    }
    x.end("ns4:RetrieveDocumentSetResponse");
    Ok(Reply {
        action: "urn:ihe:iti:2007:RetrieveDocumentSetResponse",
        body: x.finish(),
        attachments,
        mtom: true,
        result: errors
            .first()
            .map_or("Success".into(), |e| format!("{status} {}", e.code)),
    })
}
