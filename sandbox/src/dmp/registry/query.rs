//! ITI-18 Registry Stored Query (TD3.1): FindDocuments (patientId, status list, creation
//! time from/to, typeCode, classCode) and GetDocuments (uniqueId or entryUUID), LeafClass
//! or ObjectRef. Only what the caller may see is returned (access and masking rules of
//! the registry module).

use super::super::habilitations::patient_of;
use super::super::patients::parse_cx;
use super::super::server::{Call, Reply};
use super::super::soap::{Fault, NS_QUERY, NS_RIM, NS_RS};
use super::super::store::{Entry, SCHEME_CLASS, SCHEME_TYPE};
use super::super::writer::Xml;
use super::{
    FAILURE, RegistryError, STATUS_APPROVED, SUCCESS, check_access, error_list, slots, visible,
    write_entry,
};

const FIND_DOCUMENTS: &str = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d";
const GET_DOCUMENTS: &str = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4";

/// The values of a stored-query parameter: `'a'`, `('a','b')`, several Value elements.
fn values(raw: &[String]) -> Vec<String> {
    raw.iter()
        .flat_map(|v| {
            v.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .map(|p| p.trim().trim_matches('\'').to_owned())
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn response(status: &str, entries: &[&Entry], object_ref: bool, errors: &[RegistryError]) -> Reply {
    let mut x = Xml::fragment();
    x.start(
        "query:AdhocQueryResponse",
        &[
            ("xmlns:query", NS_QUERY),
            ("xmlns:rim", NS_RIM),
            ("xmlns:rs", NS_RS),
            ("startIndex", "0"),
            ("status", status),
            ("totalResultCount", &entries.len().to_string()),
        ],
    );
    if !errors.is_empty() {
        error_list(&mut x, errors);
    }
    x.start("rim:RegistryObjectList", &[]);
    for e in entries {
        if object_ref {
            x.empty("rim:ObjectRef", &[("id", &e.entry_uuid)]);
        } else {
            write_entry(&mut x, e);
        }
    }
    x.end("rim:RegistryObjectList")
        .end("query:AdhocQueryResponse");
    Reply {
        action: "urn:ihe:iti:2007:RegistryStoredQueryResponse",
        body: x.finish(),
        attachments: Vec::new(),
        mtom: false,
        result: match errors.first() {
            Some(e) => format!("Failure {}", e.code),
            None => format!("Success {} entries", entries.len()),
        },
    }
}

/// DTM values compared on their common precision.
fn prefix_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    a.get(..n).unwrap_or(a).cmp(b.get(..n).unwrap_or(b))
}

fn code_matches(entry: &Entry, scheme: &str, wanted: &[String]) -> bool {
    // Values are `code^^codingScheme` (or a bare code).
    wanted.is_empty()
        || entry.codes(scheme).any(|c| {
            wanted.iter().any(|w| {
                let mut parts = w.split("^^");
                let code = parts.next().unwrap_or_default();
                let system = parts.next();
                code == c.node && system.is_none_or(|s| Some(s) == c.coding_scheme())
            })
        })
}

pub(crate) fn stored_query(call: &Call<'_>) -> Result<Reply, Fault> {
    let req = call.body;
    if !req.is(NS_QUERY, "AdhocQueryRequest") {
        return Err(Fault::sender(
            "DMPMalformedRequest",
            "AdhocQueryRequest attendu.",
        ));
    }
    let return_type = req
        .child(NS_QUERY, "ResponseOption")
        .and_then(|o| o.attr("returnType"))
        .unwrap_or("LeafClass");
    let object_ref = match return_type {
        "LeafClass" => false,
        "ObjectRef" => true,
        _ => {
            return Ok(response(
                FAILURE,
                &[],
                false,
                &[RegistryError::new(
                    "XDSRegistryError",
                    format!("returnType {return_type} non accepté"),
                )],
            ));
        }
    };
    let Some(query) = req.child(NS_RIM, "AdhocQuery") else {
        return Ok(response(
            FAILURE,
            &[],
            false,
            &[RegistryError::new("XDSRegistryError", "AdhocQuery absent")],
        ));
    };
    let params = slots(query);
    let param = |name: &str| -> Vec<String> {
        params
            .iter()
            .filter(|s| s.name == name)
            .flat_map(|s| values(&s.values))
            .collect()
    };
    let query_id = query.attr("id").unwrap_or_default();
    let patient = patient_of(call)?;
    check_access(call, &patient, false)?;
    let missing = |p: &str| {
        Ok(response(
            FAILURE,
            &[],
            object_ref,
            &[RegistryError::new(
                "XDSStoredQueryParamNumber",
                format!("paramètre {p} absent"),
            )],
        ))
    };
    let found: Vec<Entry> = match query_id {
        FIND_DOCUMENTS => {
            let Some(pid) = param("$XDSDocumentEntryPatientId").into_iter().next() else {
                return missing("$XDSDocumentEntryPatientId");
            };
            let Some((ins, _)) = parse_cx(&pid) else {
                return Ok(response(
                    FAILURE,
                    &[],
                    object_ref,
                    &[RegistryError::new(
                        "XDSUnknownPatientId",
                        "patientId illisible",
                    )],
                ));
            };
            if ins != patient.ins {
                return Ok(response(
                    FAILURE,
                    &[],
                    object_ref,
                    &[RegistryError::new(
                        "XDSPatientIdDoesNotMatch",
                        "Le patient de la requête n'est pas celui du VIHF",
                    )],
                ));
            }
            let mut statuses = param("$XDSDocumentEntryStatus");
            if statuses.is_empty() {
                statuses.push(STATUS_APPROVED.into());
            }
            let from = param("$XDSDocumentEntryCreationTimeFrom")
                .into_iter()
                .next();
            let to = param("$XDSDocumentEntryCreationTimeTo").into_iter().next();
            let types = param("$XDSDocumentEntryTypeCode");
            let classes = param("$XDSDocumentEntryClassCode");
            call.store.read(|db| {
                db.entries
                    .iter()
                    .filter(|e| e.ins == ins && statuses.contains(&e.status))
                    .filter(|e| {
                        let created = e.slot("creationTime").unwrap_or_default();
                        // DTM comparison on the common precision.
                        from.as_ref().is_none_or(|f| prefix_cmp(created, f).is_ge())
                            && to.as_ref().is_none_or(|t| prefix_cmp(created, t).is_lt())
                    })
                    .filter(|e| {
                        code_matches(e, SCHEME_TYPE, &types)
                            && code_matches(e, SCHEME_CLASS, &classes)
                    })
                    .filter(|e| visible(call, &patient, e))
                    .cloned()
                    .collect()
            })
        }
        GET_DOCUMENTS => {
            let uniques = param("$XDSDocumentEntryUniqueId");
            let uuids = param("$XDSDocumentEntryEntryUUID");
            if uniques.is_empty() && uuids.is_empty() {
                return missing("$XDSDocumentEntryUniqueId ou $XDSDocumentEntryEntryUUID");
            }
            call.store.read(|db| {
                db.entries
                    .iter()
                    .filter(|e| e.ins == patient.ins)
                    .filter(|e| uniques.contains(&e.unique_id) || uuids.contains(&e.entry_uuid))
                    .filter(|e| visible(call, &patient, e))
                    .cloned()
                    .collect()
            })
        }
        other => {
            return Ok(response(
                FAILURE,
                &[],
                object_ref,
                &[RegistryError::new(
                    "XDSUnknownStoredQuery",
                    format!("requête {other} inconnue"),
                )],
            ));
        }
    };
    let refs: Vec<&Entry> = found.iter().collect();
    Ok(response(SUCCESS, &refs, object_ref, &[]))
}
