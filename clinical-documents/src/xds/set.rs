//! A deposit of several documents in one submission set, with the XAdES signature entry the
//! DMP requires, replacements (RPLC) and the content inline (base64) or as an MTOM
//! `xop:Include`: the metadata of a DMP TD2.1 request (and of an XDM set).

use base64::Engine;
use passerelle_soap::{Ns, XmlWriter};

use super::write::{
    HAS_MEMBER, MetadataTarget, ORIGINAL, Rim, SET_ID, XDS, association, write_entry, write_set,
};
use super::{DocumentEntry, Submission, XdsAuthor, XdsError};
use crate::codes::{self, Code};

/// `urn:ihe:iti:2007:AssociationType:RPLC`: the new entry replaces the target.
pub const RPLC: &str = "urn:ihe:iti:2007:AssociationType:RPLC";
/// `urn:ihe:iti:2007:AssociationType:signs`: the signature entry signs the submission set.
pub const SIGNS: &str = "urn:ihe:iti:2007:AssociationType:signs";
const XOP: Ns = Ns::new("xop", "http://www.w3.org/2004/08/xop/include");

/// The signature entry's codes (TD2.1 examples, the official kit, the ANS DRIMbox).
pub mod signature_codes {
    use crate::codes::Code;

    /// classCode of the signature (codingScheme `URN`).
    pub fn class_code() -> Code {
        Code::new("urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1", "URN", "Signature")
    }
    /// typeCode `E1762` (ASTM): full document signature.
    pub fn type_code() -> Code {
        Code::new("E1762", "ASTM", "Signature")
    }
    /// formatCode: XML signature.
    pub fn format_code() -> Code {
        Code::new(
            "http://www.w3.org/2000/09/xmldsig#",
            "URN",
            "Default Signature Style",
        )
    }
    /// eventCode: the purpose of the signature, "Source".
    pub fn event_code() -> Code {
        Code::new("1.2.840.10065.1.12.1.14", "1.2.840.10065.1.12", "Source")
    }
}

/// An entry of the set, with its symbolic id (`Document01`, `Signature01`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetMember {
    pub id: String,
    pub entry: DocumentEntry,
    /// `eventCodeList` values.
    pub event_codes: Vec<Code>,
    /// The entryUUID of the entry this one replaces (RPLC).
    pub replaces: Option<String>,
    /// The signature entry (signs the set).
    pub is_signature: bool,
}

/// Where a member's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content<'a> {
    /// Inline, base64 (XDS without MTOM optimisation).
    Inline(&'a [u8]),
    /// An MTOM part: the `href` of the `xop:Include` (`cid:…`).
    Xop(&'a str),
}

/// A submission set registering one or several documents (and their signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositSet {
    pub unique_id: String,
    pub source_id: String,
    pub submission_time: String,
    pub content_type: Code,
    pub patient_id: String,
    pub title: String,
    pub author: XdsAuthor,
    pub members: Vec<SetMember>,
}

impl DepositSet {
    /// The set of a [`Submission`], its document as `Document01`.
    pub fn new(submission: &Submission) -> Self {
        Self {
            unique_id: submission.unique_id.clone(),
            source_id: submission.source_id.clone(),
            submission_time: submission.submission_time.clone(),
            content_type: submission.content_type.clone(),
            patient_id: submission.patient_id.clone(),
            title: submission.title.clone(),
            author: submission.author.clone(),
            members: vec![SetMember {
                id: "Document01".to_owned(),
                entry: submission.document.clone(),
                event_codes: Vec::new(),
                replaces: None,
                is_signature: false,
            }],
        }
    }

    /// Adds another document of the same patient; returns its symbolic id.
    pub fn add_document(&mut self, entry: DocumentEntry) -> Result<String, XdsError> {
        if entry.patient_id != self.patient_id {
            return Err(XdsError::PatientMismatch);
        }
        if self
            .members
            .iter()
            .any(|m| m.entry.unique_id == entry.unique_id)
        {
            return Err(XdsError::DuplicateUniqueId(entry.unique_id));
        }
        let n = self.members.iter().filter(|m| !m.is_signature).count() + 1;
        let id = format!("Document{n:02}");
        self.members.push(SetMember {
            id: id.clone(),
            entry,
            event_codes: Vec::new(),
            replaces: None,
            is_signature: false,
        });
        Ok(id)
    }

    /// The member `id` replaces the registry entry `old_entry_uuid` (`urn:uuid:…`).
    pub fn replace(&mut self, id: &str, old_entry_uuid: &str) -> Result<(), XdsError> {
        let m = self
            .members
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or_else(|| XdsError::UnknownMember(id.to_owned()))?;
        m.replaces = Some(old_entry_uuid.to_owned());
        Ok(())
    }

    /// Adds the signature entry (`Signature01`) of the XAdES document whose size and SHA-1
    /// are given: mime `text/xml`, language `art`, title `Source`, the signature's class, type,
    /// format and event codes, confidentiality `N` + `MASQUE_PS` + `INVISIBLE_PATIENT`; the
    /// other values from the set and its first document.
    pub fn add_signature(
        &mut self,
        unique_id: &str,
        size: u64,
        sha1_hex: &str,
    ) -> Result<String, XdsError> {
        super::check_oid("signature unique id", unique_id)?;
        let first = self
            .members
            .iter()
            .find(|m| !m.is_signature)
            .ok_or(XdsError::EmptyContent)?
            .entry
            .clone();
        let confidentiality = ["N", "MASQUE_PS", "INVISIBLE_PATIENT"]
            .iter()
            .filter_map(|c| codes::confidentiality(c))
            .cloned()
            .collect();
        let t = self.submission_time.clone();
        let entry = DocumentEntry {
            unique_id: unique_id.to_owned(),
            patient_id: self.patient_id.clone(),
            source_patient_id: self.patient_id.clone(),
            source_patient_info: Vec::new(),
            title: "Source".to_owned(),
            type_code: signature_codes::type_code(),
            class_code: signature_codes::class_code(),
            format_code: signature_codes::format_code(),
            practice_setting: first.practice_setting,
            facility_type: first.facility_type,
            confidentiality,
            author: self.author.clone(),
            legal_authenticator: first.legal_authenticator,
            creation_time: t.clone(),
            service_start: t.clone(),
            service_stop: Some(t),
            language: "art".to_owned(),
            mime_type: "text/xml".to_owned(),
            size,
            hash: sha1_hex.to_ascii_lowercase(),
        };
        self.members.retain(|m| !m.is_signature);
        self.members.push(SetMember {
            id: "Signature01".to_owned(),
            entry,
            event_codes: vec![signature_codes::event_code()],
            replaces: None,
            is_signature: true,
        });
        Ok("Signature01".to_owned())
    }

    /// Writes `lcm:SubmitObjectsRequest` into `w`: the entries, the set, then the
    /// associations (HasMember for each, `signs` signature→set, RPLC new→old).
    pub fn write_submit_objects(&self, w: &mut XmlWriter) -> Result<(), XdsError> {
        self.write_objects(w, |_| Ok(MetadataTarget::Iti41))
    }

    /// The `lcm:SubmitObjectsRequest` of an XDM package (`METADATA.XML`): each member's `URI`
    /// slot is its file name in the subset folder, `uris` giving `(member id, file name)`
    /// for every member.
    pub fn xdm_submit_objects_request(&self, uris: &[(&str, &str)]) -> Result<Vec<u8>, XdsError> {
        let mut w = XmlWriter::new()?;
        self.write_objects(&mut w, |id| {
            uris.iter()
                .find(|(member, _)| *member == id)
                .map(|(_, uri)| MetadataTarget::Xdm { uri })
                .ok_or_else(|| XdsError::UnknownMember(format!("no URI for {id}")))
        })?;
        Ok(w.finish()?)
    }

    fn write_objects<'u>(
        &self,
        w: &mut XmlWriter,
        target: impl Fn(&str) -> Result<MetadataTarget<'u>, XdsError>,
    ) -> Result<(), XdsError> {
        let mut rim = Rim::new(w);
        rim.submit_objects(|rim| {
            for m in &self.members {
                write_entry(rim, &m.id, &m.entry, &m.event_codes, target(&m.id)?)?;
            }
            write_set(rim, &self.header())?;
            for m in &self.members {
                association(rim, HAS_MEMBER, SET_ID, &m.id, &[ORIGINAL])?;
            }
            for m in &self.members {
                if m.is_signature {
                    association(rim, SIGNS, &m.id, SET_ID, &[ORIGINAL])?;
                }
                if let Some(old) = &m.replaces {
                    association(rim, RPLC, &m.id, old, &[])?;
                }
            }
            Ok(())
        })
    }

    /// Writes `xds:ProvideAndRegisterDocumentSetRequest` into `w`: the metadata, then one
    /// `xds:Document` per `(member id, content)`.
    pub fn write_provide_and_register(
        &self,
        w: &mut XmlWriter,
        contents: &[(&str, Content<'_>)],
    ) -> Result<(), XdsError> {
        for m in &self.members {
            if !contents.iter().any(|(id, _)| *id == m.id) {
                return Err(XdsError::UnknownMember(format!("no content for {}", m.id)));
            }
        }
        w.start(XDS, "ProvideAndRegisterDocumentSetRequest", &[])?;
        self.write_submit_objects(w)?;
        for (id, content) in contents {
            if !self.members.iter().any(|m| m.id == *id) {
                return Err(XdsError::UnknownMember((*id).to_owned()));
            }
            match content {
                Content::Inline(bytes) => {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
                    w.leaf(XDS, "Document", &[("id", id)], &b64)?;
                }
                Content::Xop(href) => {
                    w.start(XDS, "Document", &[("id", id)])?;
                    w.leaf(XOP, "Include", &[("href", href)], "")?;
                    w.end()?;
                }
            }
        }
        w.end()?;
        Ok(())
    }

    /// The request as a document of its own.
    pub fn provide_and_register_request(
        &self,
        contents: &[(&str, Content<'_>)],
    ) -> Result<Vec<u8>, XdsError> {
        let mut w = XmlWriter::new()?;
        self.write_provide_and_register(&mut w, contents)?;
        Ok(w.finish()?)
    }
}
