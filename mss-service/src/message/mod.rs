//! The messages of a send, by the MSSanté rules: one per audience — the professionals (To and
//! Cc) and the patient (their own mailbox) — each with its own body, Message-ID and headers:
//!
//! ```text
//! multipart/mixed
//! ├── multipart/alternative
//! │   ├── text/plain; charset=utf-8   (quoted-printable)
//! │   └── text/html; charset=utf-8    (the caller's, or made from the text)
//! ├── application/zip   IHE_XDM.zip   (base64; with a document)
//! └── application/pdf   the letter     (base64; a PDF letter)
//! ```
//!
//! Headers, in this order: `From`, `To`, `Cc`, `Reply-To`, `Subject` (RFC 2047 when not
//! plain ASCII), `Date`, `Message-ID` (`<uuid-v5(key/audience)@domain of From>`: a retry
//! gives the same id), `MIME-Version`, `Disposition-Notification-To: <From>` (a read
//! acknowledgement asked), `X-MSS-CODECDA` and `X-MSS-INS: O` (an XDM attached; our CDA
//! always carries a qualified INS), `X-MSS-NIL` (configured), `X-MSS-MES: FIN` (the patient's
//! message, when the patient may not reply), `Content-Type`.
//!
//! A message is a list of [`Bytes`] chunks: its own small parts, and the attachments encoded
//! once for all audiences ([`DocumentAttachments`]). The same [`Preview`] is what the message
//! says, for `Preview` without sending.

pub mod mime;
pub mod xdm;

use bytes::{Bytes, BytesMut};
use passerelle_proto::mss::v1 as api;
use sha1::{Digest, Sha1};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::address::{Audience, MssAddress};
use crate::rules::Decision;

pub use xdm::{
    AttachedDocument, DocumentAttachments, XDM_FILE, default_content_type, submission_set,
};

/// The namespace of the name-based (v5) UUIDs of Message-IDs: fixed and random, so the same
/// key and audience always give the same id and no other scheme collides.
const MSS_MESSAGES: Uuid = Uuid::from_u128(0x3b8e_51d4_6c0a_4f27_8e95_d2a1_7c44_09bf);
/// Longest idempotency key taken (as for the DMP's document ids).
const MAX_KEY_CHARS: usize = 256;
/// Longest `X-MSS-NIL` value taken (a product reference is a few characters).
const MAX_NIL_CHARS: usize = 64;

/// Why the messages cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error(
        "the idempotency key is empty: give the caller's stable id of the message, or let the service generate one"
    )]
    EmptyKey,
    #[error("the idempotency key has {0} characters: at most {MAX_KEY_CHARS}")]
    KeyTooLong(usize),
    #[error(
        "from is a patient's mailbox (@patient.mssante.fr): a message is sent from a professional's, organisation's or applicative mailbox"
    )]
    FromPatient,
    #[error("the message has no subject and no document to make one from: give a subject")]
    NoSubject,
    #[error(
        "the X-MSS-NIL value (mss.nil) must be 1 to {MAX_NIL_CHARS} printable ASCII characters without spaces, e.g. DEV935997"
    )]
    BadNil,
}

/// A body: the text, and the HTML (made from the text when not given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    pub text: String,
    pub html: Option<String>,
}

impl Body {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            html: None,
        }
    }
}

/// What the caller asks of the messages (the recipients come from the rules' [`Decision`]).
#[derive(Debug, Clone)]
pub struct MessageSpec {
    pub from: MssAddress,
    pub reply_to: Option<MssAddress>,
    /// Empty: by convention (see [`DocumentAttachments`]); the caller's otherwise.
    pub subject: String,
    /// The professionals' body, and the patient's unless `patient_body` is given.
    pub body: Body,
    pub patient_body: Option<Body>,
    /// `X-MSS-NIL`, the product reference of the software (setting `mss.nil`).
    pub nil: Option<String>,
    /// `X-MSS-MES: FIN` on the patient's message.
    pub patient_may_not_reply: bool,
    /// A read acknowledgement asked: `Disposition-Notification-To`.
    pub acknowledgement: bool,
    /// The Message-IDs derive from it.
    pub idempotency_key: String,
    /// The `Date` header.
    pub date: OffsetDateTime,
}

/// An attachment as a preview lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    pub file_name: String,
    pub media_type: String,
    /// Decoded size, in bytes.
    pub size: u64,
}

/// What a message says: its headers in order (values unfolded, as sent), bodies and
/// attachments — `PreviewMessage` of the API.
#[derive(Clone, PartialEq, Eq)]
pub struct Preview {
    pub audience: Audience,
    pub message_id: String,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// The subject, decoded.
    pub subject: String,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub html: String,
    pub attachments: Vec<AttachmentInfo>,
    pub xdm_entries: Vec<String>,
}

impl std::fmt::Debug for Preview {
    // The addresses, subject and bodies may name or identify the patient: not in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preview")
            .field("audience", &self.audience)
            .field("message_id", &self.message_id)
            .field("attachments", &self.attachments)
            .field("xdm_entries", &self.xdm_entries)
            .finish_non_exhaustive()
    }
}

impl From<Audience> for api::Audience {
    fn from(a: Audience) -> Self {
        match a {
            Audience::Professionals => Self::Professionals,
            Audience::Patient => Self::Patient,
        }
    }
}

impl From<&Preview> for api::PreviewMessage {
    fn from(p: &Preview) -> Self {
        Self {
            audience: api::Audience::from(p.audience) as i32,
            message_id: p.message_id.clone(),
            from: p.from.clone(),
            to: p.to.clone(),
            cc: p.cc.clone(),
            subject: p.subject.clone(),
            headers: p
                .headers
                .iter()
                .map(|(name, value)| api::Header {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            text: p.text.clone(),
            html: p.html.clone(),
            attachments: p
                .attachments
                .iter()
                .map(|a| api::Attachment {
                    file_name: a.file_name.clone(),
                    media_type: a.media_type.clone(),
                    size: a.size,
                })
                .collect(),
            xdm_entries: p.xdm_entries.clone(),
        }
    }
}

/// A message ready to send: the envelope's sender and recipients, and its bytes as chunks.
#[derive(Clone)]
pub struct OutboundMessage {
    pub audience: Audience,
    /// With its angle brackets.
    pub message_id: String,
    pub from: MssAddress,
    /// The envelope's recipients (RCPT TO): To then Cc.
    pub recipients: Vec<MssAddress>,
    chunks: Vec<Bytes>,
    len: usize,
    preview: Preview,
}

impl std::fmt::Debug for OutboundMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundMessage")
            .field("audience", &self.audience)
            .field("message_id", &self.message_id)
            .field("from", &self.from)
            .field("recipients", &self.recipients)
            .field("len", &self.len)
            .finish()
    }
}

impl OutboundMessage {
    /// The message (RFC 5322, CRLF lines), in order. The attachments' chunks are shared
    /// with the other audience's message. No line starts with a dot, but an SMTP client
    /// dot-stuffs anyway.
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    /// The size in bytes (SMTP `SIZE=`).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The message in one buffer (a copy: for tests and small messages).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len);
        for c in &self.chunks {
            v.extend_from_slice(c);
        }
        v
    }

    pub fn preview(&self) -> &Preview {
        &self.preview
    }
}

/// The Message-ID of the message to `audience` sent with `key` from `from`:
/// `<uuid-v5(key/audience)@domain of from>`.
pub fn message_id(key: &str, audience: Audience, from: &MssAddress) -> String {
    name_based_id(
        MSS_MESSAGES,
        &format!("{key}/{}", audience.as_str()),
        from.domain(),
    )
}

/// `<uuid-v5(namespace, name)@domain>`: the same name, the same Message-ID.
pub(crate) fn name_based_id(namespace: Uuid, name: &str, domain: &str) -> String {
    let mut h = Sha1::new();
    h.update(namespace.as_bytes());
    h.update(name.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let uuid = uuid::Builder::from_sha1_bytes(bytes).into_uuid();
    format!("<{uuid}@{domain}>")
}

/// The messages of a send the rules allowed: the professionals' (when any), then the
/// patient's (when they are a recipient).
pub fn build(
    decision: &Decision,
    spec: &MessageSpec,
    document: Option<&DocumentAttachments>,
) -> Result<Vec<OutboundMessage>, MessageError> {
    let key = spec.idempotency_key.trim();
    if key.is_empty() {
        return Err(MessageError::EmptyKey);
    }
    let chars = key.chars().count();
    if chars > MAX_KEY_CHARS {
        return Err(MessageError::KeyTooLong(chars));
    }
    if spec.from.is_patient() {
        return Err(MessageError::FromPatient);
    }
    if let Some(nil) = &spec.nil {
        let ok = !nil.is_empty()
            && nil.len() <= MAX_NIL_CHARS
            && nil.bytes().all(|b| (33..=126).contains(&b));
        if !ok {
            return Err(MessageError::BadNil);
        }
    }
    let mut messages = Vec::with_capacity(2);
    if !decision.to.is_empty() || !decision.cc.is_empty() {
        let subject = match (spec.subject.trim(), document) {
            ("", Some(d)) => d.professional_subject(),
            ("", None) => return Err(MessageError::NoSubject),
            (s, _) => s.to_owned(),
        };
        messages.push(write(
            Audience::Professionals,
            key,
            spec,
            &decision.to,
            &decision.cc,
            &subject,
            &spec.body,
            document,
        ));
    }
    if let Some(patient) = &decision.patient {
        let subject = match (spec.subject.trim(), document) {
            ("", Some(d)) => d.patient_subject(),
            ("", None) => return Err(MessageError::NoSubject),
            (s, _) => s.to_owned(),
        };
        let body = spec.patient_body.as_ref().unwrap_or(&spec.body);
        messages.push(write(
            Audience::Patient,
            key,
            spec,
            std::slice::from_ref(patient.address()),
            &[],
            &subject,
            body,
            document,
        ));
    }
    Ok(messages)
}

/// A boundary no encoded content can contain (`=_` cannot start a base64 or
/// quoted-printable line), from the Message-ID: the same message, the same bytes.
pub(crate) fn boundary(message_id: &str, part: &str) -> String {
    let digest = Sha1::digest(message_id.as_bytes());
    format!("=_mss_{}_{part}", hex_of(&digest[..12]))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn join(addresses: &[MssAddress]) -> String {
    addresses
        .iter()
        .map(MssAddress::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Builds the chunks: small parts collected in `pending`, large ones pushed as they are.
struct Chunks {
    chunks: Vec<Bytes>,
    pending: BytesMut,
}

impl Chunks {
    fn text(&mut self, s: &str) {
        self.pending.extend_from_slice(s.as_bytes());
    }

    fn shared(&mut self, b: &Bytes) {
        if !self.pending.is_empty() {
            self.chunks.push(self.pending.split().freeze());
        }
        self.chunks.push(b.clone());
    }

    fn finish(mut self) -> Vec<Bytes> {
        if !self.pending.is_empty() {
            self.chunks.push(self.pending.split().freeze());
        }
        self.chunks
    }
}

#[allow(clippy::too_many_arguments)]
fn write(
    audience: Audience,
    key: &str,
    spec: &MessageSpec,
    to: &[MssAddress],
    cc: &[MssAddress],
    subject: &str,
    body: &Body,
    document: Option<&DocumentAttachments>,
) -> OutboundMessage {
    let id = message_id(key, audience, &spec.from);
    let mixed = boundary(&id, "mixed");
    let alternative = boundary(&id, "alt");

    let mut headers: Vec<(&str, String)> = vec![("From", spec.from.as_str().to_owned())];
    if !to.is_empty() {
        headers.push(("To", join(to)));
    }
    if !cc.is_empty() {
        headers.push(("Cc", join(cc)));
    }
    if let Some(r) = &spec.reply_to {
        headers.push(("Reply-To", r.as_str().to_owned()));
    }
    headers.push(("Subject", mime::unstructured(subject)));
    headers.push(("Date", mime::date(spec.date)));
    headers.push(("Message-ID", id.clone()));
    headers.push(("MIME-Version", "1.0".to_owned()));
    if spec.acknowledgement {
        headers.push(("Disposition-Notification-To", spec.from.as_str().to_owned()));
    }
    if let Some(d) = document {
        headers.push(("X-MSS-CODECDA", d.codecda().to_owned()));
        headers.push(("X-MSS-INS", "O".to_owned()));
    }
    if let Some(nil) = &spec.nil {
        headers.push(("X-MSS-NIL", nil.clone()));
    }
    if audience == Audience::Patient && spec.patient_may_not_reply {
        headers.push(("X-MSS-MES", "FIN".to_owned()));
    }
    headers.push((
        "Content-Type",
        format!("multipart/mixed; boundary=\"{mixed}\""),
    ));

    let html = match &body.html {
        Some(h) if !h.trim().is_empty() => h.clone(),
        _ => mime::html_of_text(&body.text),
    };
    let mut out = Chunks {
        chunks: Vec::with_capacity(8),
        pending: BytesMut::with_capacity(4096 + body.text.len() * 3 + html.len() * 2),
    };
    for (name, value) in &headers {
        out.text(&mime::header_line(name, value));
    }
    out.text("\r\n");
    out.text(&format!("--{mixed}\r\n"));
    out.text(&mime::header_line(
        "Content-Type",
        &format!("multipart/alternative; boundary=\"{alternative}\""),
    ));
    out.text("\r\n");
    for (media_type, content) in [("text/plain", &body.text), ("text/html", &html)] {
        out.text(&format!(
            "--{alternative}\r\nContent-Type: {media_type}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        ));
        out.text(&mime::quoted_printable(content));
        out.text("\r\n");
    }
    out.text(&format!("--{alternative}--\r\n"));

    let mut attachments = Vec::new();
    let mut xdm_entries = Vec::new();
    if let Some(d) = document {
        xdm_entries = d.xdm_entries().to_vec();
        for a in std::iter::once(&d.xdm).chain(&d.pdfs) {
            out.text(&format!("--{mixed}\r\n"));
            out.text(&mime::header_line(
                "Content-Type",
                &format!(
                    "{}; {}",
                    a.media_type,
                    mime::parameter("name", &a.file_name)
                ),
            ));
            out.text("Content-Transfer-Encoding: base64\r\n");
            out.text(&mime::header_line(
                "Content-Disposition",
                &format!("attachment; {}", mime::parameter("filename", &a.file_name)),
            ));
            out.text("\r\n");
            out.shared(&a.base64);
            attachments.push(AttachmentInfo {
                file_name: a.file_name.clone(),
                media_type: a.media_type.to_owned(),
                size: a.size,
            });
        }
    }
    out.text(&format!("--{mixed}--\r\n"));
    let chunks = out.finish();
    let len = chunks.iter().map(Bytes::len).sum();

    let preview = Preview {
        audience,
        message_id: id.clone(),
        from: spec.from.as_str().to_owned(),
        to: to.iter().map(|a| a.as_str().to_owned()).collect(),
        cc: cc.iter().map(|a| a.as_str().to_owned()).collect(),
        subject: subject
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
        headers: headers
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v))
            .collect(),
        text: body.text.clone(),
        html,
        attachments,
        xdm_entries,
    };
    OutboundMessage {
        audience,
        message_id: id,
        from: spec.from.clone(),
        recipients: to.iter().chain(cc).cloned().collect(),
        chunks,
        len,
        preview,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn message_ids_are_stable_per_key_and_audience() {
        let from = MssAddress::parse("lps@passerelle-sandbox.mssante.fr").unwrap();
        let a = message_id("k-1", Audience::Professionals, &from);
        assert_eq!(a, message_id("k-1", Audience::Professionals, &from));
        assert_ne!(a, message_id("k-1", Audience::Patient, &from));
        assert_ne!(a, message_id("k-2", Audience::Professionals, &from));
        assert!(a.starts_with('<') && a.ends_with("@passerelle-sandbox.mssante.fr>"));
        let uuid = Uuid::parse_str(&a[1..37]).unwrap();
        assert_eq!(uuid.get_version_num(), 5);
    }
}
