//! ITI-41 Provide and Register Document Set-b (TD2.1), on the repository service.
//!
//! Checks, in order (every metadata error is collected, then answered together as a
//! RegistryResponse Failure):
//! - the submission set (`RegistryPackage`): patientId, uniqueId, sourceId, submissionTime,
//!   contentTypeCode (`XDSRegistryMetadataError`, codeContext naming what is wrong);
//! - each DocumentEntry: patientId equal to the submission set's
//!   (`XDSPatientIdDoesNotMatch`), uniqueId, mimeType, creationTime, languageCode,
//!   sourcePatientId, classCode, typeCode, formatCode, confidentialityCode,
//!   healthcareFacilityTypeCode, practiceSettingCode, a HasMember association;
//!   `INVISIBLE_PATIENT` with `MASQUE_PS` on a document (not the signature) is refused;
//! - the patient: unknown or no DMP `XDSUnknownPatientId`, closed DMP `DMPClosed`; access
//!   (blocked professional, oppositions) a SOAP fault `DMPAccessDeniedByRightsService`;
//! - contents: each entry's Document (XOP part or inline base64) `XDSMissingDocument`, a
//!   Document without entry `XDSMissingDocumentMetadata`, hash/size given and wrong
//!   `XDSRepositoryMetadataError`;
//! - uniqueId already registered: same content (hash) → Success with a *warning*
//!   `XDSDuplicateUniqueIdInRegistry` ("déjà présent", nothing added: idempotent
//!   deposit); other content → Failure `XDSDuplicateUniqueIdInRegistry`;
//! - RPLC: the target entryUUID must be an Approved entry of the same patient
//!   (`XDSRegistryMetadataError` otherwise); it becomes Deprecated.

use std::borrow::Cow;
use std::collections::HashMap;

use bytes::Bytes;

use super::super::habilitations::timestamp;
use super::super::mtom;
use super::super::patients::{INS_OIDS, parse_cx};
use super::super::server::{Call, Reply};
use super::super::soap::{Fault, NS_LCM, NS_RIM, NS_XDSB, NS_XOP};
use super::super::store::{
    DmpState, Entry, SCHEME_CLASS, SCHEME_CONFIDENTIALITY, SCHEME_FORMAT, SCHEME_TYPE, StoreError,
};
use super::super::writer::Xml;
use super::{
    EI_DOC_PATIENT, EI_DOC_UNIQUE, EI_SS_PATIENT, EI_SS_SOURCE, EI_SS_UNIQUE, FAILURE,
    RegistryError, STATUS_APPROVED, STATUS_DEPRECATED, SUCCESS, check_access, classifications,
    external_id, localized, registry_response, slot_value, slots,
};
use crate::common::dsig::base64;
use crate::common::xml::Element;

const HAS_MEMBER: &str = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember";
const RPLC: &str = "urn:ihe:iti:2007:AssociationType:RPLC";
const SIGNS: &str = "urn:ihe:iti:2007:AssociationType:signs";
const SCHEME_CONTENT_TYPE: &str = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500";
const SCHEME_FACILITY: &str = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1";
const SCHEME_PRACTICE: &str = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead";
const SIGNATURE_FORMAT: &str = "http://www.w3.org/2000/09/xmldsig#";

fn reply(status: &str, errors: &[RegistryError]) -> Reply {
    let mut x = Xml::fragment();
    registry_response(&mut x, status, errors, true);
    Reply {
        action: "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse",
        body: x.finish(),
        attachments: Vec::new(),
        // MTOM when the request was (the server decides).
        mtom: false,
        result: match errors.first() {
            None => "Success".into(),
            Some(e) => format!(
                "{} {}",
                if status == SUCCESS {
                    "Success"
                } else {
                    "Failure"
                },
                e.code
            ),
        },
    }
}

fn meta(context: impl Into<String>) -> RegistryError {
    RegistryError::new("XDSRegistryMetadataError", context)
}

/// The content of a `Document`: its XOP part, or inline base64.
/// A document's bytes: its MTOM part (borrowed, not copied: tens of megabytes), or its
/// inline base64 decoded.
fn content<'a>(doc: &Element, parts: &'a HashMap<String, Bytes>) -> Option<Cow<'a, [u8]>> {
    match doc.child(NS_XOP, "Include") {
        Some(inc) => {
            let id = mtom::cid(inc.attr("href")?)?;
            parts.get(&id).map(|p| Cow::Borrowed(&p[..]))
        }
        None => base64(&doc.text).map(Cow::Owned),
    }
}

struct NewEntry<'a> {
    element: &'a Element,
    id: String,
    unique_id: String,
    data: Cow<'a, [u8]>,
    /// SHA-1 of `data`, hex, computed once.
    hash: String,
}

pub(crate) fn provide_and_register(call: &Call<'_>) -> Result<Reply, Fault> {
    let req = call.body;
    if !req.is(NS_XDSB, "ProvideAndRegisterDocumentSetRequest") {
        return Err(Fault::sender(
            "DMPMalformedRequest",
            "ProvideAndRegisterDocumentSetRequest attendu.",
        ));
    }
    let Some(list) = req
        .child(NS_LCM, "SubmitObjectsRequest")
        .and_then(|s| s.child(NS_RIM, "RegistryObjectList"))
    else {
        return Ok(reply(
            FAILURE,
            &[meta("SubmitObjectsRequest/RegistryObjectList absent")],
        ));
    };
    let packages: Vec<&Element> = list.children_named(NS_RIM, "RegistryPackage").collect();
    let [ss] = packages.as_slice() else {
        return Ok(reply(
            FAILURE,
            &[meta(
                "exactement un RegistryPackage (lot de soumission) attendu",
            )],
        ));
    };
    let mut errors = Vec::new();
    let ss_id = ss.attr("id").unwrap_or_default().to_owned();
    let ss_patient = external_id(ss, EI_SS_PATIENT);
    let ss_unique = external_id(ss, EI_SS_UNIQUE);
    for (value, what) in [
        (&ss_patient, "XDSSubmissionSet.patientId absent"),
        (&ss_unique, "XDSSubmissionSet.uniqueId absent"),
        (
            &external_id(ss, EI_SS_SOURCE),
            "XDSSubmissionSet.sourceId absent",
        ),
        (
            &slot_value(ss, "submissionTime"),
            "XDSSubmissionSet.submissionTime absent",
        ),
    ] {
        if value.is_none() {
            errors.push(meta(what));
        }
    }
    if !classifications(ss)
        .iter()
        .any(|c| c.scheme == SCHEME_CONTENT_TYPE)
    {
        errors.push(meta("XDSSubmissionSet.contentTypeCode absent"));
    }
    let Some((ins, oid)) = ss_patient.as_deref().and_then(parse_cx) else {
        if ss_patient.is_some() {
            errors.push(meta(
                "XDSSubmissionSet.patientId doit être INS^^^&OID&ISO^NH",
            ));
        }
        return Ok(reply(FAILURE, &errors));
    };
    if !INS_OIDS.contains(&oid.as_str()) {
        errors.push(RegistryError::new(
            "XDSUnknownPatientId",
            format!("OID d'INS non accepté : {oid}"),
        ));
        return Ok(reply(FAILURE, &errors));
    }
    if let Some((v_ins, _)) = &call.vihf.patient
        && *v_ins != ins
    {
        errors.push(RegistryError::new(
            "XDSPatientIdDoesNotMatch",
            "Le patient du lot n'est pas celui du VIHF (resource-id)",
        ));
    }

    let associations: Vec<&Element> = list.children_named(NS_RIM, "Association").collect();
    let documents: Vec<&Element> = req.children_named(NS_XDSB, "Document").collect();
    let find_document = |id: &str| {
        documents
            .iter()
            .find(|d| d.attr("id") == Some(id))
            // The official TD2.1 example names its Document "documentME2" for the
            // ExtrinsicObject "DocumentME2": ids are compared ignoring case after an
            // exact match fails.
            .or_else(|| {
                documents
                    .iter()
                    .find(|d| d.attr("id").is_some_and(|x| x.eq_ignore_ascii_case(id)))
            })
            .copied()
    };
    let mut new_entries = Vec::new();
    let mut used_documents = 0;
    for eo in list.children_named(NS_RIM, "ExtrinsicObject") {
        let id = eo.attr("id").unwrap_or_default().to_owned();
        let label = |what: &str| format!("{what} (DocumentEntry {id})");
        let Some(patient_id) = external_id(eo, EI_DOC_PATIENT) else {
            errors.push(meta(label("XDSDocumentEntry.patientId absent")));
            continue;
        };
        if parse_cx(&patient_id) != Some((ins.clone(), oid.clone())) {
            errors.push(RegistryError::new(
                "XDSPatientIdDoesNotMatch",
                label("XDSDocumentEntry.patientId différent de celui du lot"),
            ));
        }
        let Some(unique_id) = external_id(eo, EI_DOC_UNIQUE) else {
            errors.push(meta(label("XDSDocumentEntry.uniqueId absent")));
            continue;
        };
        if eo.attr("mimeType").is_none_or(str::is_empty) {
            errors.push(meta(label("mimeType absent")));
        }
        for slot in ["creationTime", "languageCode", "sourcePatientId"] {
            if slot_value(eo, slot).is_none() {
                errors.push(meta(label(&format!("XDSDocumentEntry.{slot} absent"))));
            }
        }
        let cls = classifications(eo);
        for (scheme, name) in [
            (SCHEME_CLASS, "classCode"),
            (SCHEME_TYPE, "typeCode"),
            (SCHEME_FORMAT, "formatCode"),
            (SCHEME_CONFIDENTIALITY, "confidentialityCode"),
            (SCHEME_FACILITY, "healthcareFacilityTypeCode"),
            (SCHEME_PRACTICE, "practiceSettingCode"),
        ] {
            let found: Vec<_> = cls.iter().filter(|c| c.scheme == scheme).collect();
            if found.is_empty() {
                errors.push(meta(label(&format!("XDSDocumentEntry.{name} absent"))));
            } else if found
                .iter()
                .any(|c| c.node.is_empty() || c.coding_scheme().is_none())
            {
                errors.push(meta(label(&format!(
                    "XDSDocumentEntry.{name} sans code ou codingScheme"
                ))));
            }
        }
        let is_signature = cls
            .iter()
            .any(|c| c.scheme == SCHEME_FORMAT && c.node == SIGNATURE_FORMAT);
        let conf: Vec<&str> = cls
            .iter()
            .filter(|c| c.scheme == SCHEME_CONFIDENTIALITY)
            .map(|c| c.node.as_str())
            .collect();
        if !is_signature && conf.contains(&"MASQUE_PS") && conf.contains(&"INVISIBLE_PATIENT") {
            errors.push(meta(label(
                "confidentialityCode : un document ne peut être à la fois MASQUE_PS et INVISIBLE_PATIENT",
            )));
        }
        if !associations.iter().any(|a| {
            a.attr("associationType") == Some(HAS_MEMBER)
                && a.attr("sourceObject") == Some(ss_id.as_str())
                && a.attr("targetObject") == Some(id.as_str())
        }) {
            errors.push(meta(label("association HasMember du lot absente")));
        }
        let Some(doc) = find_document(&id) else {
            errors.push(RegistryError::new(
                "XDSMissingDocument",
                label("Document absent de la requête"),
            ));
            continue;
        };
        used_documents += 1;
        let Some(data) = content(doc, call.parts) else {
            errors.push(RegistryError::new(
                "XDSMissingDocument",
                label("contenu du Document absent ou illisible"),
            ));
            continue;
        };
        let hash = sha1_hex(&data);
        if let Some(h) = slot_value(eo, "hash")
            && !h.eq_ignore_ascii_case(&hash)
        {
            errors.push(RegistryError::new(
                "XDSRepositoryMetadataError",
                label("hash différent du contenu"),
            ));
        }
        if let Some(s) = slot_value(eo, "size")
            && s != data.len().to_string()
        {
            errors.push(RegistryError::new(
                "XDSRepositoryMetadataError",
                label("size différente du contenu"),
            ));
        }
        new_entries.push(NewEntry {
            element: eo,
            id,
            unique_id,
            data,
            hash,
        });
    }
    if new_entries.is_empty() && errors.is_empty() {
        errors.push(meta("aucun XDSDocumentEntry dans le lot"));
    }
    if documents.len() > used_documents {
        errors.push(RegistryError::new(
            "XDSMissingDocumentMetadata",
            "Document sans XDSDocumentEntry correspondant",
        ));
    }
    for a in &associations {
        let t = a.attr("associationType").unwrap_or_default();
        if ![HAS_MEMBER, RPLC, SIGNS].contains(&t) {
            errors.push(meta(format!("type d'association non accepté : {t}")));
        }
    }
    if !errors.is_empty() {
        return Ok(reply(FAILURE, &errors));
    }

    // The patient and the caller's rights.
    let patient = call.store.read(|db| db.patients.get(&ins).cloned());
    let patient = match patient {
        Some(p) if p.state == DmpState::Closed => {
            return Ok(reply(
                FAILURE,
                &[RegistryError::new(
                    "DMPClosed",
                    "Le DMP de ce patient est fermé",
                )],
            ));
        }
        Some(p) if p.state.exists() => p,
        _ => {
            return Ok(reply(
                FAILURE,
                &[RegistryError::new(
                    "XDSUnknownPatientId",
                    "Aucun DMP pour ce patient",
                )],
            ));
        }
    };
    check_access(call, &patient, true)?;

    // Replacements.
    let replaced: Vec<(String, String)> = associations
        .iter()
        .filter(|a| a.attr("associationType") == Some(RPLC))
        .map(|a| {
            (
                a.attr("sourceObject").unwrap_or_default().to_owned(),
                a.attr("targetObject").unwrap_or_default().to_owned(),
            )
        })
        .collect();

    // Duplicates, then store.
    let mut warnings = Vec::new();
    let mut to_store = Vec::new();
    call.store.read(|db| {
        for n in &new_entries {
            match db.by_unique_id(&n.unique_id) {
                Some(old) if old.hash == n.hash && old.ins == ins => {
                    warnings.push(already_present(&n.unique_id));
                }
                Some(_) => errors.push(used_by_another(&n.unique_id)),
                None => to_store.push(n),
            }
        }
        for (source, target) in &replaced {
            if !new_entries.iter().any(|n| n.id == *source) {
                errors.push(meta(format!(
                    "RPLC : la source {source} n'est pas un document du lot"
                )));
            }
            match db.entries.iter().find(|e| e.entry_uuid == *target) {
                Some(e) if e.ins == ins && e.status == STATUS_APPROVED => {}
                _ => errors.push(meta(format!(
                    "RPLC : {target} n'est pas un document Approved de ce patient"
                ))),
            }
        }
    });
    if !errors.is_empty() {
        return Ok(reply(FAILURE, &errors));
    }
    if to_store.is_empty() {
        return Ok(reply(SUCCESS, &warnings));
    }
    let recorded = call
        .now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut entries = Vec::new();
    for n in &to_store {
        let entry_uuid = format!("urn:uuid:{}", uuid::Uuid::new_v4());
        let file = uuid::Uuid::new_v4().to_string();
        if let Err(e) = call.store.put_content(&file, &n.data) {
            tracing::error!(error = %e, "DMP repository store");
            return Ok(reply(
                FAILURE,
                &[RegistryError::new(
                    "XDSRepositoryError",
                    "Le document n'a pas pu être enregistré",
                )],
            ));
        }
        let cls = classifications(n.element);
        entries.push((
            n.id.clone(),
            Entry {
                lid: entry_uuid.clone(),
                entry_uuid,
                unique_id: n.unique_id.clone(),
                ins: ins.clone(),
                patient_id: external_id(n.element, EI_DOC_PATIENT).unwrap_or_default(),
                status: STATUS_APPROVED.into(),
                version: 1,
                mime_type: n.element.attr("mimeType").unwrap_or_default().to_owned(),
                title: localized(n.element, "Name").unwrap_or_default(),
                description: localized(n.element, "Description"),
                slots: slots(n.element)
                    .into_iter()
                    .filter(|s| !matches!(s.name.as_str(), "hash" | "size" | "repositoryUniqueId"))
                    .collect(),
                is_signature: cls
                    .iter()
                    .any(|c| c.scheme == SCHEME_FORMAT && c.node == SIGNATURE_FORMAT),
                classifications: cls,
                author_id: call.vihf.actor.clone(),
                author_structure: call.vihf.structure.clone(),
                hash: n.hash.clone(),
                size: n.data.len() as u64,
                content_file: file,
                submission_set_unique_id: ss_unique.clone().unwrap_or_default(),
                recorded: recorded.clone(),
            },
        ));
    }
    let stamp = timestamp(call.now);
    let stored = call
        .store
        .update(|db| -> Result<Option<RegistryError>, StoreError> {
            // Checked again under the store's lock: a submission of the same uniqueId running
            // beside this one (a client sending again while its first request is still in
            // flight) may have stored it since the check above; the registry keeps one.
            let mut kept = Vec::new();
            for (id, e) in entries {
                match db.by_unique_id(&e.unique_id) {
                    Some(old) if old.hash == e.hash && old.ins == e.ins => {
                        warnings.push(already_present(&e.unique_id));
                    }
                    Some(_) => return Ok(Some(used_by_another(&e.unique_id))),
                    None => kept.push((id, e)),
                }
            }
            for (source, target) in &replaced {
                if kept.iter().any(|(id, _)| id == source)
                    && let Some(old) = db.entries.iter_mut().find(|e| e.entry_uuid == *target)
                {
                    old.status = STATUS_DEPRECATED.into();
                }
            }
            if kept.is_empty() {
                return Ok(None);
            }
            db.entries.extend(kept.into_iter().map(|(_, e)| e));
            if let Some(p) = db.patients.get_mut(&ins) {
                if p.state == DmpState::Empty {
                    p.state = DmpState::Open;
                }
                p.last_update = Some(stamp.clone());
            }
            Ok(None)
        });
    if let Ok(Some(conflict)) = stored {
        return Ok(reply(FAILURE, &[conflict]));
    }
    if let Err(e) = stored {
        tracing::error!(error = %e, "DMP registry store");
        return Ok(reply(
            FAILURE,
            &[RegistryError::new(
                "XDSRegistryError",
                "Les métadonnées n'ont pas pu être enregistrées",
            )],
        ));
    }
    Ok(reply(SUCCESS, &warnings))
}

/// The warning of a document submitted again, same content: nothing added.
fn already_present(unique_id: &str) -> RegistryError {
    RegistryError {
        code: "XDSDuplicateUniqueIdInRegistry".into(),
        context: format!(
            "Document déjà présent (uniqueId {unique_id}, même contenu) : rien n'a été ajouté"
        ),
        warning: true,
    }
}

fn used_by_another(unique_id: &str) -> RegistryError {
    RegistryError::new(
        "XDSDuplicateUniqueIdInRegistry",
        format!("uniqueId {unique_id} déjà utilisé par un autre document"),
    )
}

/// SHA-1, hex: the `sha1` crate (SHA-NI where the CPU has it), several times faster than
/// ring's portable legacy SHA-1 on a document of tens of megabytes.
pub(crate) fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    let d = sha1::Sha1::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}
