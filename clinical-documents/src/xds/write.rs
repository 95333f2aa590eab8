//! ebRIM 3.0 serialisation of a [`Submission`]: the `lcm:SubmitObjectsRequest` of an ITI-41
//! request and of an XDM `METADATA.XML`.

use base64::Engine;
use passerelle_soap::{Ns, XmlWriter};

use super::{Code, Submission, XdsAuthor, XdsError};

pub(crate) const RIM: Ns = Ns::new("rim", "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0");
pub(crate) const LCM: Ns = Ns::new("lcm", "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0");
pub(crate) const XDS: Ns = Ns::new("xds", "urn:ihe:iti:xds-b:2007");

// IHE ITI TF-3 §4.2.5 (XDS metadata UUIDs).
pub(crate) const DOC_ENTRY_TYPE: &str = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1";
pub(crate) const DOC_AUTHOR: &str = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d";
pub(crate) const DOC_CLASS: &str = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a";
pub(crate) const DOC_CONFIDENTIALITY: &str = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f";
pub(crate) const DOC_FORMAT: &str = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d";
pub(crate) const DOC_FACILITY: &str = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1";
pub(crate) const DOC_PRACTICE: &str = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead";
pub(crate) const DOC_EVENT: &str = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4";
pub(crate) const DOC_TYPE: &str = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983";
pub(crate) const DOC_PATIENT_ID: &str = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427";
pub(crate) const DOC_UNIQUE_ID: &str = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab";
pub(crate) const SET_NODE: &str = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd";
pub(crate) const SET_AUTHOR: &str = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d";
pub(crate) const SET_CONTENT_TYPE: &str = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500";
pub(crate) const SET_PATIENT_ID: &str = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446";
pub(crate) const SET_SOURCE_ID: &str = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832";
pub(crate) const SET_UNIQUE_ID: &str = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8";

pub(crate) const CLASSIFICATION: &str =
    "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification";
pub(crate) const EXTERNAL_IDENTIFIER: &str =
    "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier";
pub(crate) const REGISTRY_PACKAGE: &str =
    "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage";
pub(crate) const ASSOCIATION: &str =
    "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association";
pub(crate) const HAS_MEMBER: &str = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember";

/// Symbolic ids, replaced by the registry on registration (as in the DMP's examples).
pub(crate) const DOCUMENT_ID: &str = "Document01";
pub(crate) const SET_ID: &str = "SubmissionSet01";

/// Where the metadata goes: the two differ only in the XDM `URI` slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataTarget<'a> {
    /// An ITI-41 deposit (DMP).
    Iti41,
    /// An XDM package: `uri` is the document's file name in its subset folder.
    Xdm { uri: &'a str },
}

pub(crate) struct Rim<'w> {
    pub(crate) w: &'w mut XmlWriter,
    next: u32,
}

impl<'w> Rim<'w> {
    pub(crate) fn new(w: &'w mut XmlWriter) -> Self {
        Self { w, next: 0 }
    }

    /// `lcm:SubmitObjectsRequest` and its `rim:RegistryObjectList`, holding what `objects`
    /// writes.
    pub(crate) fn submit_objects(
        &mut self,
        objects: impl FnOnce(&mut Self) -> Result<(), XdsError>,
    ) -> Result<(), XdsError> {
        self.w.declare(&[RIM]);
        self.w.start(LCM, "SubmitObjectsRequest", &[])?;
        self.w.start(RIM, "RegistryObjectList", &[])?;
        objects(self)?;
        self.w.end()?;
        self.w.end()?;
        Ok(())
    }

    pub(crate) fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:02}", self.next)
    }

    pub(crate) fn slot(&mut self, name: &str, values: &[&str]) -> Result<(), XdsError> {
        self.w.start(RIM, "Slot", &[("name", name)])?;
        self.w.start(RIM, "ValueList", &[])?;
        for v in values {
            self.w.leaf(RIM, "Value", &[], v)?;
        }
        self.w.end()?;
        self.w.end()?;
        Ok(())
    }

    pub(crate) fn localized(&mut self, element: &str, value: &str) -> Result<(), XdsError> {
        self.w.start(RIM, element, &[])?;
        self.w.leaf(
            RIM,
            "LocalizedString",
            &[
                ("xml:lang", "fr-FR"),
                ("charset", "UTF-8"),
                ("value", value),
            ],
            "",
        )?;
        self.w.end()?;
        Ok(())
    }

    /// An external classification by a coded value: `nodeRepresentation` = code, slot
    /// `codingScheme` = code system, `Name` = display.
    pub(crate) fn coded(
        &mut self,
        scheme: &str,
        object: &str,
        code: &Code,
    ) -> Result<(), XdsError> {
        let id = self.id("cl");
        self.w.start(
            RIM,
            "Classification",
            &[
                ("id", &id),
                ("objectType", CLASSIFICATION),
                ("classificationScheme", scheme),
                ("classifiedObject", object),
                ("nodeRepresentation", &code.code),
            ],
        )?;
        self.slot("codingScheme", &[&code.system])?;
        self.localized("Name", &code.display)?;
        self.w.end()?;
        Ok(())
    }

    pub(crate) fn author(
        &mut self,
        scheme: &str,
        object: &str,
        a: &XdsAuthor,
    ) -> Result<(), XdsError> {
        let id = self.id("cl");
        self.w.start(
            RIM,
            "Classification",
            &[
                ("id", &id),
                ("objectType", CLASSIFICATION),
                ("classificationScheme", scheme),
                ("classifiedObject", object),
                ("nodeRepresentation", ""),
            ],
        )?;
        self.slot("authorPerson", &[&a.person])?;
        if let Some(i) = &a.institution {
            self.slot("authorInstitution", &[i])?;
        }
        let s = &a.specialty;
        self.slot(
            "authorSpecialty",
            &[&format!("{}^{}^{}", s.code, s.display, s.system)],
        )?;
        self.w.end()?;
        Ok(())
    }

    pub(crate) fn external_id(
        &mut self,
        scheme: &str,
        object: &str,
        value: &str,
        name: &str,
    ) -> Result<(), XdsError> {
        let id = self.id("ei");
        self.w.start(
            RIM,
            "ExternalIdentifier",
            &[
                ("id", &id),
                ("objectType", EXTERNAL_IDENTIFIER),
                ("registryObject", object),
                ("identificationScheme", scheme),
                ("value", value),
            ],
        )?;
        self.localized("Name", name)?;
        self.w.end()?;
        Ok(())
    }
}

impl Submission {
    /// The `lcm:SubmitObjectsRequest` as a document of its own (XDM `METADATA.XML`).
    pub fn submit_objects_request(&self, target: MetadataTarget<'_>) -> Result<Vec<u8>, XdsError> {
        let mut w = XmlWriter::new()?;
        self.write_request(&mut Rim::new(&mut w), target)?;
        Ok(w.finish()?)
    }

    /// The body of an ITI-41 request: `xds:ProvideAndRegisterDocumentSetRequest` with the
    /// metadata and, when given, the document inline (base64). An MTOM sender puts its
    /// `xop:Include` there instead.
    pub fn provide_and_register_request(
        &self,
        content: Option<&[u8]>,
    ) -> Result<Vec<u8>, XdsError> {
        let mut w = XmlWriter::new()?;
        let mut rim = Rim::new(&mut w);
        rim.w
            .start(XDS, "ProvideAndRegisterDocumentSetRequest", &[])?;
        self.write_request(&mut rim, MetadataTarget::Iti41)?;
        if let Some(bytes) = content {
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            rim.w.leaf(XDS, "Document", &[("id", DOCUMENT_ID)], &b64)?;
        }
        rim.w.end()?;
        Ok(w.finish()?)
    }

    fn write_request(&self, rim: &mut Rim, target: MetadataTarget<'_>) -> Result<(), XdsError> {
        rim.submit_objects(|rim| {
            self.write_document(rim, target)?;
            write_set(rim, &self.header())?;
            association(rim, HAS_MEMBER, SET_ID, DOCUMENT_ID, &[ORIGINAL])?;
            Ok(())
        })
    }

    fn write_document(&self, rim: &mut Rim, target: MetadataTarget<'_>) -> Result<(), XdsError> {
        write_entry(rim, DOCUMENT_ID, &self.document, &[], target)
    }
}

/// The submission set's own metadata, borrowed.
pub(crate) struct SetHeader<'a> {
    pub unique_id: &'a str,
    pub source_id: &'a str,
    pub submission_time: &'a str,
    pub content_type: &'a Code,
    pub patient_id: &'a str,
    pub title: &'a str,
    pub author: &'a XdsAuthor,
}

/// `header()`: the [`SetHeader`] of a set-like struct (they share these fields).
macro_rules! set_header {
    ($($t:ty),*) => {$(
        impl $t {
            pub(crate) fn header(&self) -> SetHeader<'_> {
                SetHeader {
                    unique_id: &self.unique_id,
                    source_id: &self.source_id,
                    submission_time: &self.submission_time,
                    content_type: &self.content_type,
                    patient_id: &self.patient_id,
                    title: &self.title,
                    author: &self.author,
                }
            }
        }
    )*};
}

set_header!(
    Submission,
    super::set::DepositSet,
    super::registry::UpdateSet
);

/// A DocumentEntry as an `ExtrinsicObject` with symbolic id `id`.
/// An `rim:Association` `kind` from `source` to `target`, with `slots`.
pub(crate) fn association(
    rim: &mut Rim,
    kind: &str,
    source: &str,
    target: &str,
    slots: &[(&str, &[&str])],
) -> Result<(), XdsError> {
    let id = rim.id("as");
    rim.w.start(
        RIM,
        "Association",
        &[
            ("id", &id),
            ("objectType", ASSOCIATION),
            ("associationType", kind),
            ("sourceObject", source),
            ("targetObject", target),
        ],
    )?;
    for (name, values) in slots {
        rim.slot(name, values)?;
    }
    rim.w.end()?;
    Ok(())
}

/// The slot of a set's `HasMember` association to what it submits.
pub(crate) const ORIGINAL: (&str, &[&str]) = ("SubmissionSetStatus", &["Original"]);

pub(crate) fn write_entry(
    rim: &mut Rim,
    id: &str,
    d: &super::DocumentEntry,
    event_codes: &[Code],
    target: MetadataTarget<'_>,
) -> Result<(), XdsError> {
    {
        rim.w.start(
            RIM,
            "ExtrinsicObject",
            &[
                ("id", id),
                ("mimeType", &d.mime_type),
                ("objectType", DOC_ENTRY_TYPE),
            ],
        )?;
        rim.slot("creationTime", &[&d.creation_time])?;
        rim.slot("hash", &[&d.hash])?;
        rim.slot("languageCode", &[&d.language])?;
        rim.slot("legalAuthenticator", &[&d.legal_authenticator])?;
        rim.slot("serviceStartTime", &[&d.service_start])?;
        if let Some(stop) = &d.service_stop {
            rim.slot("serviceStopTime", &[stop])?;
        }
        rim.slot("size", &[&d.size.to_string()])?;
        rim.slot("sourcePatientId", &[&d.source_patient_id])?;
        if !d.source_patient_info.is_empty() {
            let info: Vec<&str> = d.source_patient_info.iter().map(String::as_str).collect();
            rim.slot("sourcePatientInfo", &info)?;
        }
        if let MetadataTarget::Xdm { uri } = target {
            rim.slot("URI", &[uri])?;
        }
        rim.localized("Name", &d.title)?;
        rim.author(DOC_AUTHOR, id, &d.author)?;
        rim.coded(DOC_CLASS, id, &d.class_code)?;
        for c in &d.confidentiality {
            rim.coded(DOC_CONFIDENTIALITY, id, c)?;
        }
        rim.coded(DOC_FORMAT, id, &d.format_code)?;
        rim.coded(DOC_FACILITY, id, &d.facility_type)?;
        rim.coded(DOC_PRACTICE, id, &d.practice_setting)?;
        rim.coded(DOC_TYPE, id, &d.type_code)?;
        for c in event_codes {
            rim.coded(DOC_EVENT, id, c)?;
        }
        rim.external_id(
            DOC_PATIENT_ID,
            id,
            &d.patient_id,
            "XDSDocumentEntry.patientId",
        )?;
        rim.external_id(DOC_UNIQUE_ID, id, &d.unique_id, "XDSDocumentEntry.uniqueId")?;
        rim.w.end()?;
        Ok(())
    }
}

/// The submission set as a `RegistryPackage` with symbolic id `SubmissionSet01`.
pub(crate) fn write_set(rim: &mut Rim, h: &SetHeader<'_>) -> Result<(), XdsError> {
    {
        rim.w.start(
            RIM,
            "RegistryPackage",
            &[("id", SET_ID), ("objectType", REGISTRY_PACKAGE)],
        )?;
        rim.slot("submissionTime", &[h.submission_time])?;
        rim.localized("Name", h.title)?;
        rim.author(SET_AUTHOR, SET_ID, h.author)?;
        rim.coded(SET_CONTENT_TYPE, SET_ID, h.content_type)?;
        let id = rim.id("cl");
        rim.w.leaf(
            RIM,
            "Classification",
            &[
                ("id", &id),
                ("objectType", CLASSIFICATION),
                ("classifiedObject", SET_ID),
                ("classificationNode", SET_NODE),
            ],
            "",
        )?;
        rim.external_id(
            SET_PATIENT_ID,
            SET_ID,
            h.patient_id,
            "XDSSubmissionSet.patientId",
        )?;
        rim.external_id(
            SET_SOURCE_ID,
            SET_ID,
            h.source_id,
            "XDSSubmissionSet.sourceId",
        )?;
        rim.external_id(
            SET_UNIQUE_ID,
            SET_ID,
            h.unique_id,
            "XDSSubmissionSet.uniqueId",
        )?;
        rim.w.end()?;
        Ok(())
    }
}
