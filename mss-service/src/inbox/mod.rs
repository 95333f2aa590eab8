//! Reading a received MSSanté message, a pure library (no I/O): the MIME structure
//! ([`mime`]: nested multiparts, transfer encodings, RFC 2047 and 2231), the bodies and
//! attachments, the `IHE_XDM.zip` ([`xdm`]: `METADATA.XML` read into document entries, every
//! document checked against its size and SHA-1), the `X-MSS-*` headers and the patient's INS
//! when the package carries one.
//!
//! What cannot be read is set aside with a typed [`InboxError`] saying what is wrong, mapped
//! to the code of the guide's acknowledgement ([`InboxError::guide_code`]). A message without
//! a `Message-ID` is not refused: it gets one derived from where it was found (mailbox,
//! UIDVALIDITY, UID), and [`ReceivedMessage::message_id_derived`] says so.

pub mod mime;
pub mod xdm;

use bytes::Bytes;
use passerelle_domain::{Ins, InsOid, Platform};
use sha1::{Digest, Sha1};

use mime::{Entity, EntityBody, Headers, MimeError, MimeLimits};
pub use xdm::{
    DocumentEntry, MetadataError, PatientId, SubmissionSet, XdmDocument, XdmError, XdmLimits,
    XdmPackage,
};

/// The file name MSSanté gives the XDM package (matched in any case).
pub const XDM_FILE: &str = "IHE_XDM.zip";

/// Bounds of what is read; the defaults suit MSSanté (whose operators cap messages at a few
/// tens of MB).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest raw message.
    pub max_message_bytes: usize,
    /// Deepest nesting of multiparts.
    pub max_depth: usize,
    /// Most MIME parts (multiparts included).
    pub max_parts: usize,
    pub xdm: XdmLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 * 1024 * 1024,
            max_depth: 8,
            max_parts: 256,
            xdm: XdmLimits::default(),
        }
    }
}

/// Where the message was found: what its derived Message-ID is made of when it has none.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageOrigin {
    pub mailbox: String,
    pub uid_validity: u32,
    pub uid: u32,
}

impl std::fmt::Debug for MessageOrigin {
    // A patient's mailbox is their INS.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageOrigin")
            .field("uid_validity", &self.uid_validity)
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

impl MessageOrigin {
    /// `<uidvalidity.uid.H@inbox.passerelle.invalid>`, H a digest of the mailbox (which may be
    /// a patient's INS address): stable for the same message, unique across mailboxes, and
    /// in a domain (`.invalid`) no sender uses.
    pub fn derived_message_id(&self) -> String {
        let digest = Sha1::digest(self.mailbox.to_ascii_lowercase().as_bytes());
        let h: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "<{}.{}.{h}@inbox.passerelle.invalid>",
            self.uid_validity, self.uid
        )
    }
}

/// The acknowledgement codes of the guide: the HL7 `messageErrorCondition` (0–207) and,
/// under 207, the `applicationErrorCondition` (900–906).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuideCode {
    pub condition: u16,
    pub application: Option<u16>,
}

/// Why a message is set aside.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboxError {
    #[error("the message has {size} bytes: at most {limit} are read")]
    TooLarge { size: usize, limit: usize },
    #[error("malformed MIME: {0}")]
    Mime(#[from] MimeError),
    #[error("the message has several IHE_XDM.zip attachments: one is expected")]
    SeveralXdm,
    #[error(transparent)]
    Xdm(#[from] XdmError),
    #[error("the XDM metadata gives an INS (OID {oid}) that is not a valid INS: {reason}")]
    InvalidIns { oid: String, reason: String },
}

impl InboxError {
    /// The guide's code for this error: a missing metadata field is `101` (required field
    /// missing), an invalid one `102` (data type error); anything else is `207` (application
    /// error) with `906` ("Autre") — none of `900`–`905` is about reading the message.
    pub fn guide_code(&self) -> GuideCode {
        let condition = match self {
            Self::Xdm(XdmError::Metadata(MetadataError::MissingField { .. })) => 101,
            Self::Xdm(XdmError::Metadata(MetadataError::InvalidField { .. }))
            | Self::InvalidIns { .. } => 102,
            _ => 207,
        };
        GuideCode {
            condition,
            application: (condition == 207).then_some(906),
        }
    }
}

/// An attachment, decoded.
#[derive(Clone)]
pub struct Attachment {
    /// Its file name (RFC 2231 or 2047 decoded; any folder part removed), when it has one.
    pub file_name: Option<String>,
    /// `type/subtype`, lower-case.
    pub media_type: String,
    pub size: u64,
    pub bytes: Bytes,
}

impl std::fmt::Debug for Attachment {
    // A file name may name the patient.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("media_type", &self.media_type)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Whether the archive holds a qualified INS, as the sender says (`X-MSS-INS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsFlag {
    /// `O`
    Yes,
    /// `N`
    No,
    /// Any other value.
    Other,
}

/// The `X-MSS-*` headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MssHeaders {
    /// `X-MSS-CODECDA`: the CDA type codes, comma separated.
    pub codecda: Vec<String>,
    /// `X-MSS-INS`.
    pub ins: Option<InsFlag>,
    /// `X-MSS-NIL`: the sending software's reference.
    pub nil: Option<String>,
    /// `X-MSS-MES: FIN`: the patient may not reply.
    pub no_reply: bool,
    /// Any other `X-MSS-*`, name and value.
    pub others: Vec<(String, String)>,
}

/// The patient of the documents, when the XDM metadata identifies them by an INS.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceivedPatient {
    /// The INS (matricule, key, OID); a key that does not check is kept and flagged
    /// (`Ins::key_valid`), as for an answer of the national service.
    pub ins: Ins,
}

impl std::fmt::Debug for ReceivedPatient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedPatient")
            .field("oid", &self.ins.oid())
            .field("key_valid", &self.ins.key_valid())
            .finish_non_exhaustive()
    }
}

impl ReceivedPatient {
    /// Whether the INS may be a qualified one on `platform`: a key that checks and the OID of
    /// INS-NIR or INS-NIA (or the test INS-NIR on a test platform). The identity's status
    /// is not in the metadata: the CDA and `X-MSS-INS` say it.
    pub fn oid_qualifies(&self, platform: Platform) -> bool {
        self.ins.key_valid()
            && match self.ins.oid() {
                InsOid::Nir | InsOid::Nia => true,
                InsOid::TestNir => platform == Platform::Test,
                InsOid::Demo => false,
            }
    }
}

/// A message as read.
#[derive(Clone)]
pub struct ReceivedMessage {
    /// With its angle brackets when it has them.
    pub message_id: String,
    /// The message had no Message-ID: this one is derived from its [`MessageOrigin`].
    pub message_id_derived: bool,
    /// The `From` address (its display name dropped).
    pub from: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// Decoded.
    pub subject: String,
    /// As written.
    pub date: Option<String>,
    pub return_path: Option<String>,
    pub disposition_notification_to: Option<String>,
    pub mss_headers: MssHeaders,
    /// Every header, in order, unfolded and RFC 2047 decoded.
    pub headers: Vec<(String, String)>,
    /// The first text/plain body (line ends LF).
    pub text: Option<String>,
    /// The first text/html body.
    pub html: Option<String>,
    /// Every attachment, the `IHE_XDM.zip` included.
    pub attachments: Vec<Attachment>,
    pub xdm: Option<XdmPackage>,
    pub patient: Option<ReceivedPatient>,
}

impl std::fmt::Debug for ReceivedMessage {
    // Addresses, subject and bodies may identify the patient: not in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedMessage")
            .field("message_id", &self.message_id)
            .field("message_id_derived", &self.message_id_derived)
            .field("mss_headers", &self.mss_headers)
            .field("attachments", &self.attachments)
            .field("xdm", &self.xdm)
            .field("patient", &self.patient)
            .finish_non_exhaustive()
    }
}

/// Reads a raw message (RFC 5322) found at `origin`.
pub fn parse(
    raw: &[u8],
    origin: &MessageOrigin,
    limits: &Limits,
) -> Result<ReceivedMessage, InboxError> {
    if raw.len() > limits.max_message_bytes {
        return Err(InboxError::TooLarge {
            size: raw.len(),
            limit: limits.max_message_bytes,
        });
    }
    let root = mime::parse(
        raw,
        MimeLimits {
            max_depth: limits.max_depth,
            max_parts: limits.max_parts,
        },
    )?;
    let headers = &root.headers;
    let (message_id, message_id_derived) = match headers.get("Message-ID") {
        Some(id) if !id.is_empty() => (id.to_owned(), false),
        _ => (origin.derived_message_id(), true),
    };
    let mut message = ReceivedMessage {
        message_id,
        message_id_derived,
        from: headers
            .get("From")
            .and_then(|v| addresses(v).into_iter().next()),
        to: headers.all("To").flat_map(addresses).collect(),
        cc: headers.all("Cc").flat_map(addresses).collect(),
        subject: headers
            .get("Subject")
            .map(mime::decode_words)
            .unwrap_or_default(),
        date: headers.get("Date").map(str::to_owned),
        return_path: headers
            .get("Return-Path")
            .and_then(|v| addresses(v).into_iter().next()),
        disposition_notification_to: headers
            .get("Disposition-Notification-To")
            .and_then(|v| addresses(v).into_iter().next()),
        mss_headers: mss_headers(headers),
        headers: headers
            .0
            .iter()
            .map(|h| (h.name.clone(), mime::decode_words(h.value.trim())))
            .collect(),
        text: None,
        html: None,
        attachments: Vec::new(),
        xdm: None,
        patient: None,
    };
    collect(root, &mut message);

    let mut xdm_files = message.attachments.iter().filter(|a| {
        a.file_name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(XDM_FILE))
    });
    if let Some(zip) = xdm_files.next() {
        if xdm_files.next().is_some() {
            return Err(InboxError::SeveralXdm);
        }
        let package = xdm::read(&zip.bytes, &limits.xdm)?;
        message.patient = patient(&package)?;
        message.xdm = Some(package);
    }
    Ok(message)
}

/// What the header section alone says of a message that cannot be read whole (to report
/// it and answer its sender): the headers of `parse`, no body, no attachment. `None` when
/// even the headers cannot be read.
pub fn parse_headers(raw: &[u8], origin: &MessageOrigin) -> Option<ReceivedMessage> {
    const MAX_HEADERS: usize = 256 * 1024;
    let end = memchr::memmem::find(raw, b"\r\n\r\n")
        .map(|i| i + 2)
        .or_else(|| memchr::memmem::find(raw, b"\n\n").map(|i| i + 1))
        .unwrap_or(raw.len());
    if end > MAX_HEADERS {
        return None;
    }
    // Without its MIME structure: an empty body cannot hold the parts it announces.
    let mut head = Vec::with_capacity(end + 4);
    let mut skipping = false;
    for line in raw[..end].split_inclusive(|&b| b == b'\n') {
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continuation {
            skipping = line.len() >= 8 && line[..8].eq_ignore_ascii_case(b"content-");
        }
        if !skipping {
            head.extend_from_slice(line);
        }
    }
    head.extend_from_slice(b"\r\n\r\n");
    let limits = Limits {
        max_message_bytes: MAX_HEADERS + 4,
        ..Limits::default()
    };
    let mut message = parse(&head, origin, &limits).ok()?;
    message.text = None;
    message.html = None;
    Some(message)
}

/// The INS of the package's patient, when the patient id's authority is an INS OID.
fn patient(package: &XdmPackage) -> Result<Option<ReceivedPatient>, InboxError> {
    let Some(id) = package.patient_id() else {
        return Ok(None);
    };
    let Ok(oid) = InsOid::parse(&id.authority) else {
        return Ok(None);
    };
    let invalid = |reason: String| InboxError::InvalidIns {
        oid: oid.to_string(),
        reason,
    };
    let number = id.id.as_str();
    let (matricule, key) = match (number.get(..13), number.get(13..)) {
        (Some(m), Some(k)) if number.len() == 15 => (m, k),
        _ => {
            return Err(invalid(
                "it must have 15 characters, the matricule then its key".into(),
            ));
        }
    };
    // The error's own text would repeat the number: only its kind is said.
    let ins = Ins::from_service(matricule, key, oid).map_err(|e| {
        invalid(
            match e {
                passerelle_domain::InsError::KeyFormat(_) => "its key is not two digits 01–97",
                _ => "its matricule is not 13 characters of a NIR or NIA",
            }
            .into(),
        )
    })?;
    Ok(Some(ReceivedPatient { ins }))
}

/// The bodies and attachments, depth first: the first text/plain and text/html that are not
/// attachments are the bodies; every other leaf is an attachment.
fn collect(entity: Entity, message: &mut ReceivedMessage) {
    match entity.body {
        EntityBody::Multipart(parts) => {
            for p in parts {
                collect(p, message);
            }
        }
        EntityBody::Leaf(content) => {
            let disposition = entity
                .headers
                .get("Content-Disposition")
                .map(mime::parse_structured)
                .unwrap_or_default();
            let file_name = disposition
                .param("filename")
                .or_else(|| entity.content_type.param("name"))
                .map(clean_file_name)
                .filter(|n| !n.is_empty());
            let media_type = entity.content_type.value.clone();
            let inline = disposition.value != "attachment" && file_name.is_none();
            let charset = entity.content_type.param("charset").unwrap_or("utf-8");
            if inline && media_type == "text/plain" && message.text.is_none() {
                let text = mime::decode_charset(&content, charset);
                message.text = Some(text.replace("\r\n", "\n"));
                return;
            }
            if inline && media_type == "text/html" && message.html.is_none() {
                message.html = Some(mime::decode_charset(&content, charset));
                return;
            }
            message.attachments.push(Attachment {
                file_name,
                media_type,
                size: content.len() as u64,
                bytes: content,
            });
        }
    }
}

/// A file name without folders nor control characters (a name is not a path).
fn clean_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    last.chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The addr-specs of an address list (display names and comments dropped, groups opened).
pub(crate) fn addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut angle = false;
    let mut comment = 0usize;
    let mut push = |s: &mut String| {
        let a = s.trim();
        // `group: a, b;`: the group's name is not an address.
        let a = a
            .rsplit_once(':')
            .map_or(a, |(_, r)| r)
            .trim()
            .trim_end_matches(';');
        if a.contains('@') {
            out.push(a.trim().to_owned());
        }
        s.clear();
    };
    for c in value.chars() {
        match c {
            '"' if comment == 0 && !angle => quoted = !quoted,
            '(' if !quoted && !angle => comment += 1,
            ')' if !quoted && !angle && comment > 0 => comment -= 1,
            _ if quoted || comment > 0 => {}
            '<' => {
                angle = true;
                current.clear();
            }
            '>' if angle => {
                angle = false;
                push(&mut current);
            }
            ',' | ';' if !angle => push(&mut current),
            c => current.push(c),
        }
    }
    push(&mut current);
    out.retain(|a| !a.is_empty());
    out
}

fn mss_headers(headers: &Headers) -> MssHeaders {
    let mut m = MssHeaders::default();
    for h in &headers.0 {
        let value = h.value.trim();
        match h.name.to_ascii_uppercase().as_str() {
            "X-MSS-CODECDA" => m.codecda.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
            ),
            "X-MSS-INS" => {
                m.ins = Some(match value.to_ascii_uppercase().as_str() {
                    "O" => InsFlag::Yes,
                    "N" => InsFlag::No,
                    _ => InsFlag::Other,
                })
            }
            "X-MSS-NIL" => m.nil = Some(value.to_owned()),
            "X-MSS-MES" => m.no_reply |= value.eq_ignore_ascii_case("FIN"),
            n if n.starts_with("X-MSS-") => m.others.push((h.name.clone(), value.to_owned())),
            _ => {}
        }
    }
    m
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn address_lists_give_their_addr_specs() {
        assert_eq!(
            addresses("\"Dr, Jean\" <jean@x.fr>, b@y.fr (comment), Group: c@z.fr;"),
            ["jean@x.fr", "b@y.fr", "c@z.fr"]
        );
        assert!(addresses("undisclosed-recipients:;").is_empty());
    }

    #[test]
    fn derived_message_ids_are_stable_and_hide_the_mailbox() {
        let o = MessageOrigin {
            mailbox: "248039263001064@patient.mssante.fr".into(),
            uid_validity: 7,
            uid: 42,
        };
        let id = o.derived_message_id();
        assert_eq!(id, o.derived_message_id());
        assert!(id.starts_with("<7.42.") && id.ends_with("@inbox.passerelle.invalid>"));
        assert!(!id.contains("2480392630"));
        assert!(!format!("{o:?}").contains("2480392630"));
    }

    #[test]
    fn file_names_lose_their_folders() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\x\\a.pdf"), "a.pdf");
    }
}
