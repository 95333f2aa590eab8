//! The XDS.b registry: deposit (ITI-41, through the repository service), stored queries
//! (ITI-18), updates (ITI-57); the access rules and the visibility of entries shared by
//! them and the repository (ITI-43).

pub(crate) mod query;
pub(crate) mod submit;
pub(crate) mod update;

use super::habilitations::DENIED;
use super::server::Call;
use super::soap::{Fault, NS_RIM, NS_RS};
use super::store::{Classification, Entry, Patient, Slot};
use super::vihf::{Mode, Purpose};
use super::writer::Xml;
use crate::common::xml::Element;

pub(crate) const STATUS_APPROVED: &str = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved";
pub(crate) const STATUS_DEPRECATED: &str = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated";
pub(crate) const STATUS_ARCHIVED: &str = "urn:asip:ci-sis:2010:StatusType:Archived";
pub(crate) const STATUS_DELETED: &str = "urn:asip:ci-sis:2010:StatusType:Deleted";
pub(crate) const SUCCESS: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success";
pub(crate) const FAILURE: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure";
pub(crate) const PARTIAL: &str = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess";
const SEVERITY_ERROR: &str = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error";
const SEVERITY_WARNING: &str = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning";

pub(crate) const EI_DOC_PATIENT: &str = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427";
pub(crate) const EI_DOC_UNIQUE: &str = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab";
pub(crate) const EI_SS_PATIENT: &str = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446";
pub(crate) const EI_SS_UNIQUE: &str = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8";
pub(crate) const EI_SS_SOURCE: &str = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832";

/// One error of a RegistryResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegistryError {
    pub code: String,
    pub context: String,
    pub warning: bool,
}

impl RegistryError {
    pub fn new(code: &str, context: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            context: context.into(),
            warning: false,
        }
    }
}

/// `rs:RegistryResponse` (with its error list when there are errors).
pub(crate) fn registry_response(
    x: &mut Xml,
    status: &str,
    errors: &[RegistryError],
    declare_ns: bool,
) {
    let mut attrs = vec![("status", status)];
    if declare_ns {
        attrs.push(("xmlns:rs", NS_RS));
    }
    if errors.is_empty() {
        x.empty("rs:RegistryResponse", &attrs);
        return;
    }
    x.start("rs:RegistryResponse", &attrs);
    error_list(x, errors);
    x.end("rs:RegistryResponse");
}

pub(crate) fn error_list(x: &mut Xml, errors: &[RegistryError]) {
    let highest = if errors.iter().any(|e| !e.warning) {
        SEVERITY_ERROR
    } else {
        SEVERITY_WARNING
    };
    x.start("rs:RegistryErrorList", &[("highestSeverity", highest)]);
    for e in errors {
        let severity = if e.warning {
            SEVERITY_WARNING
        } else {
            SEVERITY_ERROR
        };
        x.leaf(
            "rs:RegistryError",
            &[
                ("codeContext", &e.context),
                ("errorCode", &e.code),
                ("location", "DMP"),
                ("severity", severity),
            ],
            &e.context,
        );
    }
    x.end("rs:RegistryErrorList");
}

/// Read or write access of the caller to this patient's DMP, by mode and purpose.
/// Writing (deposit, update) needs no authorisation (authorisations govern consultation,
/// PDSM); reading does in normal mode. Bris de glace and centre 15 bypass the
/// authorisation unless the patient opposed them. A blocked professional gets nothing.
pub(crate) fn check_access(call: &Call<'_>, patient: &Patient, write: bool) -> Result<(), Fault> {
    let actor = &call.vihf.actor;
    if patient.is_blocked(actor) || patient.is_forbidden(actor) {
        return Err(Fault::sender(
            DENIED,
            "Le patient a interdit l'accès de ce professionnel à son DMP.",
        ));
    }
    match call.vihf.purpose {
        Purpose::BrisDeGlace if patient.opposes_bris_de_glace => Err(Fault::sender(
            DENIED,
            "Le patient s'est opposé à l'accès à son DMP en mode bris de glace.",
        )),
        Purpose::Centre15 if patient.opposes_centre_15 => Err(Fault::sender(
            DENIED,
            "Le patient s'est opposé à l'accès à son DMP par le centre de régulation (centre 15).",
        )),
        Purpose::BrisDeGlace | Purpose::Centre15 => Ok(()),
        Purpose::Normal if write => Ok(()),
        Purpose::Normal if call.vihf.mode != Mode::Directe => Ok(()),
        Purpose::Normal if patient.is_authorised(actor) => Ok(()),
        Purpose::Normal => Err(Fault::sender(
            DENIED,
            "Le professionnel n'est pas autorisé à accéder au DMP de ce patient.",
        )),
    }
}

/// Whether the caller sees this entry: `MASQUE_PS` only for its author and the médecin
/// traitant, and in bris de glace / centre 15 when the patient allowed it (MAT); in the
/// indirect modes only the structure's own documents (the rights matrix
/// gives indirect access no reading of others' documents). `INVISIBLE_PATIENT` and
/// `INVISIBLE_REPRESENTANTS_LEGAUX` do not hide anything from professionals.
pub(crate) fn visible(call: &Call<'_>, patient: &Patient, entry: &Entry) -> bool {
    let actor = &call.vihf.actor;
    if call.vihf.mode != Mode::Directe && entry.author_structure != call.vihf.structure {
        return false;
    }
    if entry.has_confidentiality("MASQUE_PS") {
        let emergency = matches!(call.vihf.purpose, Purpose::BrisDeGlace | Purpose::Centre15);
        return entry.author_id == *actor
            || patient.is_attending(actor)
            || (emergency && patient.allows_masked_in_emergency);
    }
    true
}

// ---- ebRIM reading ----

pub(crate) fn slots(e: &Element) -> Vec<Slot> {
    e.children_named(NS_RIM, "Slot")
        .map(|s| Slot {
            name: s.attr("name").unwrap_or_default().to_owned(),
            values: s
                .child(NS_RIM, "ValueList")
                .into_iter()
                .flat_map(|l| l.children_named(NS_RIM, "Value"))
                .map(|v| v.text.trim().to_owned())
                .collect(),
        })
        .collect()
}

pub(crate) fn slot_value(e: &Element, name: &str) -> Option<String> {
    slots(e)
        .into_iter()
        .find(|s| s.name == name)
        .and_then(|s| s.values.into_iter().next())
}

pub(crate) fn localized(e: &Element, local: &str) -> Option<String> {
    e.child(NS_RIM, local)
        .and_then(|n| n.child(NS_RIM, "LocalizedString"))
        .and_then(|l| l.attr("value"))
        .map(str::to_owned)
}

pub(crate) fn classifications(e: &Element) -> Vec<Classification> {
    e.children_named(NS_RIM, "Classification")
        .filter(|c| c.attr("classificationScheme").is_some())
        .map(|c| Classification {
            scheme: c
                .attr("classificationScheme")
                .unwrap_or_default()
                .to_owned(),
            node: c.attr("nodeRepresentation").unwrap_or_default().to_owned(),
            slots: slots(c),
            name: localized(c, "Name"),
        })
        .collect()
}

pub(crate) fn external_id(e: &Element, scheme: &str) -> Option<String> {
    e.children_named(NS_RIM, "ExternalIdentifier")
        .find(|i| i.attr("identificationScheme") == Some(scheme))
        .and_then(|i| i.attr("value"))
        .map(str::to_owned)
}

// ---- ebRIM writing ----

pub(crate) fn write_slot(x: &mut Xml, name: &str, values: &[String]) {
    x.start("rim:Slot", &[("name", name)]);
    x.start("rim:ValueList", &[]);
    for v in values {
        x.leaf("rim:Value", &[], v);
    }
    x.end("rim:ValueList").end("rim:Slot");
}

pub(crate) fn write_localized(x: &mut Xml, local: &str, value: &str) {
    x.start(local, &[]);
    x.empty(
        "rim:LocalizedString",
        &[("charset", "UTF8"), ("value", value), ("xml:lang", "FR")],
    );
    x.end(local);
}

/// The entry as a LeafClass `ExtrinsicObject`, as the DMP returns it (EX TD3.1).
pub(crate) fn write_entry(x: &mut Xml, e: &Entry) {
    x.start(
        "rim:ExtrinsicObject",
        &[
            ("id", &e.entry_uuid),
            ("lid", &e.lid),
            ("isOpaque", "false"),
            ("mimeType", &e.mime_type),
            (
                "objectType",
                "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1",
            ),
            ("status", &e.status),
        ],
    );
    let mut slots: Vec<Slot> = e
        .slots
        .iter()
        .filter(|s| !matches!(s.name.as_str(), "hash" | "size" | "repositoryUniqueId"))
        .cloned()
        .collect();
    slots.push(Slot {
        name: "hash".into(),
        values: vec![e.hash.clone()],
    });
    slots.push(Slot {
        name: "size".into(),
        values: vec![e.size.to_string()],
    });
    slots.push(Slot {
        name: "repositoryUniqueId".into(),
        values: vec![super::REPOSITORY_UNIQUE_ID.into()],
    });
    slots.sort_by(|a, b| a.name.cmp(&b.name));
    for s in &slots {
        write_slot(x, &s.name, &s.values);
    }
    write_localized(x, "rim:Name", &e.title);
    if let Some(d) = &e.description {
        write_localized(x, "rim:Description", d);
    }
    x.empty(
        "rim:VersionInfo",
        &[("versionName", &e.version.to_string())],
    );
    for c in &e.classifications {
        x.start(
            "rim:Classification",
            &[
                ("classificationScheme", &c.scheme),
                ("classifiedObject", &e.entry_uuid),
                ("id", &format!("urn:uuid:{}", uuid::Uuid::new_v4())),
                ("nodeRepresentation", &c.node),
                (
                    "objectType",
                    "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification",
                ),
            ],
        );
        for s in &c.slots {
            write_slot(x, &s.name, &s.values);
        }
        if let Some(n) = &c.name {
            write_localized(x, "rim:Name", n);
        }
        x.end("rim:Classification");
    }
    for (scheme, value, label) in [
        (EI_DOC_PATIENT, &e.patient_id, "XDSDocumentEntry.patientId"),
        (EI_DOC_UNIQUE, &e.unique_id, "XDSDocumentEntry.uniqueId"),
    ] {
        x.start(
            "rim:ExternalIdentifier",
            &[
                ("id", &format!("urn:uuid:{}", uuid::Uuid::new_v4())),
                ("identificationScheme", scheme),
                (
                    "objectType",
                    "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier",
                ),
                ("registryObject", &e.entry_uuid),
                ("value", value),
            ],
        );
        write_localized(x, "rim:Name", label);
        x.end("rim:ExternalIdentifier");
    }
    x.end("rim:ExtrinsicObject");
}
