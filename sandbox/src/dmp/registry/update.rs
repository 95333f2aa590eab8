//! ITI-57 Update Document Set (TD3.3), on the registry service.
//!
//! - Availability status (`UpdateAvailabilityStatus` association, EX TD3.3c/d):
//!   Approved ↔ Archived, Approved or Archived → Deleted; `OriginalStatus` must be the
//!   current status (`XDSMetadataUpdateError` otherwise); own documents only (in the
//!   indirect modes the structure's; the médecin traitant may archive and unarchive any; a
//!   patient's document, classCode 90, only the médecin traitant), a SOAP fault
//!   `DMPAccessDeniedByRightsService` otherwise (MAT).
//! - Metadata update (an `ExtrinsicObject` with the entry's `lid` and a `HasMember` with
//!   `PreviousVersion`, KIT template): only the confidentiality codes may change; a new
//!   version (new entryUUID, same lid, version + 1) replaces the old one, which becomes
//!   Deprecated. Rights: masking, unmasking and making visible in normal mode only,
//!   unmasking one's own documents (MT: any); `INVISIBLE_PATIENT` and `INVISIBLE_REPRESENTANTS_LEGAUX` can only
//!   be lifted, never set afterwards (so lifting the legal representatives' one is
//!   irreversible) — `XDSMetadataUpdateError` otherwise.

use super::super::habilitations::{DENIED, patient_of};
use super::super::server::{Call, Reply};
use super::super::soap::{Fault, NS_LCM, NS_RIM};
use super::super::store::{SCHEME_CLASS, SCHEME_CONFIDENTIALITY};
use super::super::vihf::{Mode, Purpose};
use super::super::writer::Xml;
use super::{
    FAILURE, RegistryError, STATUS_APPROVED, STATUS_ARCHIVED, STATUS_DELETED, STATUS_DEPRECATED,
    SUCCESS, check_access, classifications, registry_response, slot_value,
};

const UPDATE_STATUS: &str = "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus";
const HAS_MEMBER: &str = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember";
const CODE_UPDATE: &str = "XDSMetadataUpdateError";

fn reply(status: &str, errors: &[RegistryError]) -> Reply {
    let mut x = Xml::fragment();
    registry_response(&mut x, status, errors, true);
    Reply {
        action: "urn:ihe:iti:2010:UpdateDocumentSetResponse",
        body: x.finish(),
        attachments: Vec::new(),
        mtom: false,
        result: errors
            .first()
            .map_or("Success".into(), |e| format!("Failure {}", e.code)),
    }
}

fn fail(code: &str, context: impl Into<String>) -> Result<Reply, Fault> {
    Ok(reply(FAILURE, &[RegistryError::new(code, context)]))
}

pub(crate) fn update_document_set(call: &Call<'_>) -> Result<Reply, Fault> {
    let req = call.body;
    if !req.is(NS_LCM, "SubmitObjectsRequest") {
        return Err(Fault::sender(
            "DMPMalformedRequest",
            "SubmitObjectsRequest attendu.",
        ));
    }
    let Some(list) = req.child(NS_RIM, "RegistryObjectList") else {
        return fail("XDSRegistryMetadataError", "RegistryObjectList absent");
    };
    if list.children_named(NS_RIM, "RegistryPackage").count() != 1 {
        return fail(
            "XDSRegistryMetadataError",
            "exactement un RegistryPackage (lot) attendu",
        );
    }
    let patient = patient_of(call)?;
    check_access(call, &patient, true)?;
    let actor = call.vihf.actor.clone();
    let is_mt = patient.is_attending(&actor);
    let associations: Vec<_> = list.children_named(NS_RIM, "Association").collect();
    let status_changes: Vec<_> = associations
        .iter()
        .filter(|a| a.attr("associationType") == Some(UPDATE_STATUS))
        .collect();
    let objects: Vec<_> = list.children_named(NS_RIM, "ExtrinsicObject").collect();
    if status_changes.is_empty() && objects.is_empty() {
        return fail(
            "XDSRegistryMetadataError",
            "ni changement de statut ni nouvelle version",
        );
    }
    let deny = |t: &str| Err(Fault::sender(DENIED, t.to_owned()));

    // Status changes.
    let mut changes = Vec::new();
    for a in &status_changes {
        let target = a.attr("targetObject").unwrap_or_default().to_owned();
        let original = slot_value(a, "OriginalStatus").unwrap_or_default();
        let new = slot_value(a, "NewStatus").unwrap_or_default();
        let Some(entry) = call.store.read(|db| {
            db.entries
                .iter()
                .find(|e| e.entry_uuid == target && e.ins == patient.ins)
                .cloned()
        }) else {
            return fail(
                "XDSUnknownDocument",
                format!("entrée {target} inconnue pour ce patient"),
            );
        };
        if entry.status != original {
            return fail(
                CODE_UPDATE,
                format!("OriginalStatus {original} n'est pas le statut de {target}"),
            );
        }
        let allowed = matches!(
            (original.as_str(), new.as_str()),
            (STATUS_APPROVED, STATUS_ARCHIVED)
                | (STATUS_ARCHIVED, STATUS_APPROVED)
                | (STATUS_APPROVED, STATUS_DELETED)
                | (STATUS_ARCHIVED, STATUS_DELETED)
        );
        if !allowed {
            return fail(
                CODE_UPDATE,
                format!("transition {original} → {new} non permise"),
            );
        }
        // Own documents: the professional's, or in the indirect modes the structure's.
        let own = entry.author_id == actor
            || (call.vihf.mode != Mode::Directe && entry.author_structure == call.vihf.structure);
        let mt_may = is_mt && new != STATUS_DELETED;
        // A document the patient deposited (classCode 90): the médecin traitant only.
        let patient_document = entry.codes(SCHEME_CLASS).any(|c| c.node == "90");
        if patient_document && !is_mt {
            return deny(
                "Seul le médecin traitant (ou le patient) peut archiver ou supprimer un document du patient.",
            );
        }
        let allowed = own || mt_may || (patient_document && is_mt);
        if !allowed {
            return deny(
                "Seul l'auteur d'un document peut changer son statut (le médecin traitant peut l'archiver).",
            );
        }
        changes.push((target, new));
    }

    // New versions (confidentiality).
    let mut versions = Vec::new();
    for eo in &objects {
        let lid = eo.attr("lid").unwrap_or_default().to_owned();
        let id = eo.attr("id").unwrap_or_default();
        let Some(current) = call.store.read(|db| {
            db.entries
                .iter()
                .filter(|e| e.lid == lid && e.ins == patient.ins)
                .max_by_key(|e| e.version)
                .cloned()
        }) else {
            return fail(
                "XDSUnknownDocument",
                format!("aucune entrée de lid {lid} pour ce patient"),
            );
        };
        let previous = associations
            .iter()
            .find(|a| {
                a.attr("associationType") == Some(HAS_MEMBER) && a.attr("targetObject") == Some(id)
            })
            .and_then(|a| slot_value(a, "PreviousVersion"));
        match previous {
            Some(p) if p == current.version.to_string() => {}
            Some(p) => {
                return fail(
                    "XDSMetadataVersionError",
                    format!("PreviousVersion {p} ≠ version {}", current.version),
                );
            }
            None => {
                return fail(
                    "XDSRegistryMetadataError",
                    "association HasMember avec PreviousVersion absente",
                );
            }
        }
        if current.status != STATUS_APPROVED {
            return fail(
                CODE_UPDATE,
                "seule une entrée Approved peut recevoir une nouvelle version",
            );
        }
        let new_cls: Vec<_> = classifications(eo)
            .into_iter()
            .filter(|c| c.scheme == SCHEME_CONFIDENTIALITY)
            .collect();
        if new_cls.is_empty() {
            return fail("XDSRegistryMetadataError", "confidentialityCode absent");
        }
        let old: Vec<String> = current.confidentiality();
        let new: Vec<String> = new_cls.iter().map(|c| c.node.clone()).collect();
        let has = |l: &[String], c: &str| l.iter().any(|x| x == c);
        for code in ["INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX"] {
            if has(&new, code) && !has(&old, code) {
                return fail(CODE_UPDATE, format!("{code} ne peut être posé qu'au dépôt"));
            }
        }
        let masking_changes = has(&new, "MASQUE_PS") != has(&old, "MASQUE_PS");
        let revealing = ["INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX"]
            .iter()
            .any(|c| has(&old, c) && !has(&new, c));
        if (masking_changes || revealing) && call.vihf.purpose != Purpose::Normal {
            return deny("Le masquage et la visibilité ne se modifient qu'en mode d'accès normal.");
        }
        if has(&old, "MASQUE_PS") && !has(&new, "MASQUE_PS") && current.author_id != actor && !is_mt
        {
            return deny("Seul l'auteur (ou le médecin traitant) peut démasquer un document.");
        }
        if has(&new, "MASQUE_PS") && has(&new, "INVISIBLE_PATIENT") {
            return fail(
                CODE_UPDATE,
                "un document ne peut être à la fois MASQUE_PS et INVISIBLE_PATIENT",
            );
        }
        let mut next = current.clone();
        next.entry_uuid = format!("urn:uuid:{}", uuid::Uuid::new_v4());
        next.version = current.version + 1;
        next.classifications
            .retain(|c| c.scheme != SCHEME_CONFIDENTIALITY);
        next.classifications.extend(new_cls);
        versions.push((current.entry_uuid.clone(), next));
    }

    let stamp = super::super::habilitations::timestamp(call.now);
    call.store.update(|db| -> Result<(), Fault> {
        for (target, new) in &changes {
            if let Some(e) = db.entries.iter_mut().find(|e| e.entry_uuid == *target) {
                e.status = new.clone();
            }
        }
        for (old, next) in &versions {
            if let Some(e) = db.entries.iter_mut().find(|e| e.entry_uuid == *old) {
                e.status = STATUS_DEPRECATED.into();
            }
            db.entries.push(next.clone());
        }
        if let Some(p) = db.patients.get_mut(&patient.ins) {
            p.last_update = Some(stamp.clone());
        }
        Ok(())
    })?;
    Ok(reply(SUCCESS, &[]))
}
