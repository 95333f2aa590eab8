//! The acknowledgement a receiving system sends back for a received MSSanté message: the
//! MDN (Message Disposition Notification, RFC 8098) as the MSSanté guide shapes it
//! (`struct-msg-mdn`), and whether one may be sent automatically.
//!
//! ```text
//! multipart/report; report-type=disposition-notification
//! ├── text/plain; charset=utf-8          (quoted-printable; French; on error the code and label)
//! ├── message/disposition-notification   (7bit: Reporting-UA, Original-Recipient,
//! │                                        Final-Recipient, Original-Message-ID, Disposition)
//! ├── message/rfc822                     (the original message, as received)
//! ├── application/zip   IHE_XDM.zip      (base64; the original's attachments again,
//! └── application/pdf   …                 as the guide asks)
//! ```
//!
//! Choices where the guide is loose:
//! - the error form of `Disposition` is the guide's (`processed/Error: <code>^<label>^<table>|
//!   E^Error^errorSeverity`, HL7 ERR-like), not RFC 8098's modifier; the same text also goes in
//!   RFC 8098's own `Error:` field, for RFC readers. The code shown is the application code
//!   (900–906) when there is one, else the message error condition, each with the name of its
//!   table (the guide's example names `messageErrorCondition` for 902, which belongs to
//!   `applicationErrorCondition`). That field is 7-bit: accented letters of the label lose their
//!   accents there; the text part keeps the label as given;
//! - the subject: the patient's name and birth date are not in the XDM metadata as read
//!   ([`crate::inbox::xdm`]), so when the original subject follows the convention
//!   (`XDM/1.0/DDM+<libellé> <NOM> <prénom> <date>`) it is repeated from `XDM/1.0/DDM` on, as
//!   the sender wrote it; otherwise it is made of the document's type (`XDM/1.0/DDM+<libellé>`,
//!   or `N documents`) without the patient; without a package, the original subject;
//! - `Original-Recipient` is written only when the original carries one (it records what the
//!   sender's MTA was given; it is not invented). `Original-Message-ID`, `In-Reply-To` and
//!   `References` are left out when the original had no Message-ID (a derived one means
//!   nothing to the sender);
//! - multipart/report holds three parts by RFC 6522; the re-attached files come after them, as
//!   the guide's example does. The MDN is thus about twice the original's size.
//!
//! Nothing here sends: [`Mdn::envelope`] gives the null reverse-path envelope (RFC 8098 §2.1)
//! for [`crate::smtp`].

use bytes::Bytes;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::address::{AddressError, MssAddress};
use crate::inbox::{self, GuideCode, ReceivedMessage};
use crate::message::{self, mime};
use crate::smtp::Envelope;

/// The namespace of the name-based (v5) UUIDs of MDN Message-IDs: the same acknowledgement of
/// the same message, the same id (a retry is recognisable).
const MSS_MDNS: Uuid = Uuid::from_u128(0x9c51_7e02_b3d8_4a6f_a1c4_5e0f_27b9_d613);
/// The marker of MSSanté subjects for XDM messages.
const XDM_SUBJECT: &str = "XDM/1.0/DDM";
/// The guide's prefix of an error MDN's subject, before `[<code>]`.
const KO_PREFIX: &str = "[KO Intégration système !]";

/// What became of the received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Integrated: `processed`.
    Processed,
    /// Not integrated: `processed/Error: …`, with the guide's code and its label (the
    /// consumer's, e.g. `Identifiant de patient inconnu`).
    Error { code: GuideCode, label: String },
}

/// Whether an MDN may go, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MdnDecision {
    /// No `Disposition-Notification-To` (or the message is itself an MDN, which is never
    /// answered, RFC 8098 §2.1).
    NotRequested,
    /// `Disposition-Notification-To` is the `Return-Path`: send to `to` automatically.
    Send { to: String },
    /// Asked, but RFC 8098 §2.1 says not automatically: a person confirms first.
    Held { to: String, reason: String },
}

/// Why an MDN cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MdnError {
    #[error("the message asks for no acknowledgement (no Disposition-Notification-To)")]
    NotRequested,
    #[error("the Disposition-Notification-To address is not a mailbox: {0}")]
    InvalidRecipient(AddressError),
    #[error("the original message is empty: give its bytes as received")]
    EmptyOriginal,
}

/// An MDN ready to send.
#[derive(Clone)]
pub struct Mdn {
    /// With its angle brackets.
    pub message_id: String,
    /// Its recipient: the original's `Disposition-Notification-To`.
    pub to: String,
    /// The message (RFC 5322, CRLF lines).
    pub bytes: Bytes,
    /// The original has 8-bit bytes, returned as they are: `BODY=8BITMIME`.
    pub eight_bit: bool,
}

impl std::fmt::Debug for Mdn {
    // The subject and the returned message name the patient: not in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mdn")
            .field("message_id", &self.message_id)
            .field("len", &self.bytes.len())
            .field("eight_bit", &self.eight_bit)
            .finish_non_exhaustive()
    }
}

impl Mdn {
    /// Its SMTP envelope: the null reverse-path (`MAIL FROM:<>`, RFC 8098 §2.1 and RFC 5321
    /// §4.5.5, so that nothing answers it), to [`Mdn::to`].
    pub fn envelope(&self) -> Envelope {
        Envelope {
            eight_bit: self.eight_bit,
            ..Envelope::null_sender(vec![self.to.clone()])
        }
    }
}

/// Whether `received` asks for an MDN and whether it may be sent automatically (RFC 8098
/// §2.1): only when `Disposition-Notification-To` holds one address, the same mailbox as
/// `Return-Path` (display names, brackets dropped; the domain and, as MSSanté operators do,
/// the local part compared without regard to case — RFC 8098 compares local parts exactly).
/// A missing or null `Return-Path`, another address, or several addresses: held for a person
/// to confirm.
pub fn decide(received: &ReceivedMessage) -> MdnDecision {
    if is_mdn(received) {
        return MdnDecision::NotRequested;
    }
    let Some(to) = received.disposition_notification_to.clone() else {
        return MdnDecision::NotRequested;
    };
    let held = |reason: &str| MdnDecision::Held {
        to: to.clone(),
        reason: reason.to_owned(),
    };
    let mut asked: Vec<String> = Vec::new();
    for (_, value) in header_values(received, "Disposition-Notification-To") {
        for a in inbox::addresses(value) {
            if !asked.iter().any(|b| same_address(&a, b)) {
                asked.push(a);
            }
        }
    }
    if asked.len() > 1 {
        return held("Disposition-Notification-To holds several addresses");
    }
    let Some(return_path) = received.return_path.as_deref() else {
        let present = header_values(received, "Return-Path").next().is_some();
        return held(if present {
            "the message came with the null Return-Path <>"
        } else {
            "the message has no Return-Path"
        });
    };
    if same_address(&to, return_path) {
        MdnDecision::Send { to }
    } else {
        held("Disposition-Notification-To differs from Return-Path")
    }
}

/// The MDN of `received` (whose bytes as received are `raw`), from `reporting` (the mailbox
/// that received it: `From` and `Final-Recipient`), dated `date`. It goes to the original's
/// `Disposition-Notification-To`, which [`decide`] says whether to use without asking.
pub fn build(
    received: &ReceivedMessage,
    raw: &[u8],
    reporting: &MssAddress,
    disposition: &Disposition,
    date: OffsetDateTime,
) -> Result<Mdn, MdnError> {
    let to = received
        .disposition_notification_to
        .as_deref()
        .ok_or(MdnError::NotRequested)?;
    let to = MssAddress::parse(to).map_err(MdnError::InvalidRecipient)?;
    if raw.is_empty() {
        return Err(MdnError::EmptyOriginal);
    }
    let original_id = (!received.message_id_derived).then_some(received.message_id.as_str());
    let key = match disposition {
        Disposition::Processed => "processed".to_owned(),
        Disposition::Error { code, .. } => {
            format!("error/{}/{:?}", code.condition, code.application)
        }
    };
    let id = message::name_based_id(
        MSS_MDNS,
        &format!("{}/{}/{key}", received.message_id, reporting.as_str()),
        reporting.domain(),
    );

    let original = crlf(raw);
    let eight_bit = !original.is_ascii();
    // `=_` cannot start a base64 or quoted-printable line; only the returned original could
    // hold the boundary, and then a longer one is taken.
    let mut boundary = message::boundary(&id, "report");
    while memchr::memmem::find(&original, boundary.as_bytes()).is_some() {
        boundary.push('x');
    }

    let mut headers: Vec<(&str, String)> = vec![
        ("From", reporting.as_str().to_owned()),
        ("To", to.as_str().to_owned()),
        (
            "Subject",
            mime::unstructured(&subject(received, disposition)),
        ),
        ("Date", mime::date(date)),
        ("Message-ID", id.clone()),
    ];
    if let Some(original_id) = original_id {
        headers.push(("In-Reply-To", original_id.to_owned()));
        headers.push(("References", original_id.to_owned()));
    }
    headers.push(("MIME-Version", "1.0".to_owned()));
    // RFC 3834: an automatic answer, which no responder answers in turn.
    headers.push(("Auto-Submitted", "auto-replied".to_owned()));
    headers.push((
        "Content-Type",
        format!("multipart/report; report-type=disposition-notification; boundary=\"{boundary}\""),
    ));

    let mut out: Vec<u8> = Vec::with_capacity(original.len() * 2 + 8192);
    for (name, value) in &headers {
        out.extend_from_slice(mime::header_line(name, value).as_bytes());
    }
    out.extend_from_slice(b"\r\n");

    // 1. The human-readable text.
    out.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(mime::quoted_printable(&human_text(reporting, disposition)).as_bytes());
    out.extend_from_slice(b"\r\n");

    // 2. The machine-readable report.
    out.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Type: message/disposition-notification\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
        )
        .as_bytes(),
    );
    let mut fields: Vec<(&str, String)> = vec![(
        "Reporting-UA",
        format!(
            "{}; Passerelle mss-service {}",
            reporting.domain(),
            env!("CARGO_PKG_VERSION")
        ),
    )];
    if let Some(r) = original_recipient(received) {
        fields.push(("Original-Recipient", r));
    }
    fields.push(("Final-Recipient", format!("rfc822;{}", reporting.as_str())));
    if let Some(original_id) = original_id {
        fields.push(("Original-Message-ID", ascii_text(original_id)));
    }
    let base = "automatic-action/MDN-sent-automatically; processed";
    match disposition {
        Disposition::Processed => fields.push(("Disposition", base.to_owned())),
        Disposition::Error { code, label } => {
            let error = error_text(*code, label);
            fields.push(("Disposition", format!("{base}/Error: {error}")));
            fields.push(("Error", error));
        }
    }
    for (name, value) in &fields {
        out.extend_from_slice(mime::header_line(name, value).as_bytes());
    }

    // 3. The original message, as received (line ends made CRLF).
    out.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: {}\r\n\r\n",
            if eight_bit { "8bit" } else { "7bit" }
        )
        .as_bytes(),
    );
    out.extend_from_slice(&original);
    // The CRLF before a boundary belongs to the boundary (RFC 2046 §5.1.1): one more keeps
    // the original's last line end.
    out.extend_from_slice(b"\r\n");
    drop(original);

    // Then its attachments again (IHE_XDM.zip, the PDF…).
    for a in &received.attachments {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let media_type = if is_media_type(&a.media_type) {
            a.media_type.as_str()
        } else {
            "application/octet-stream"
        };
        match &a.file_name {
            Some(name) => {
                out.extend_from_slice(
                    mime::header_line(
                        "Content-Type",
                        &format!("{media_type}; {}", mime::parameter("name", name)),
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n");
                out.extend_from_slice(
                    mime::header_line(
                        "Content-Disposition",
                        &format!("attachment; {}", mime::parameter("filename", name)),
                    )
                    .as_bytes(),
                );
            }
            None => {
                out.extend_from_slice(format!("Content-Type: {media_type}\r\n").as_bytes());
                out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n");
                out.extend_from_slice(b"Content-Disposition: attachment\r\n");
            }
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&mime::base64_lines(&a.bytes));
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());

    Ok(Mdn {
        message_id: id,
        to: to.as_str().to_owned(),
        bytes: Bytes::from(out),
        eight_bit,
    })
}

/// The MDN's subject: the guide's `XDM/1.0/DDM+…`, prefixed `[KO Intégration système !][code]`
/// on error (see the module's notes for where its parts come from).
pub fn subject(received: &ReceivedMessage, disposition: &Disposition) -> String {
    let original = received.subject.trim();
    let base = match original.to_ascii_uppercase().find(XDM_SUBJECT) {
        // ASCII upper-casing keeps byte offsets.
        Some(at) => original[at..].to_owned(),
        None => match document_label(received) {
            Some(label) => format!("{XDM_SUBJECT}+{label}"),
            None if original.is_empty() => "Accusé de lecture".to_owned(),
            None => original.to_owned(),
        },
    };
    match disposition {
        Disposition::Processed => base,
        Disposition::Error { code, .. } => format!("{KO_PREFIX}[{}] {base}", shown_code(*code)),
    }
}

/// `<libellé>` of the convention: the type's display name of one document (its title when the
/// type has none), `N documents` for several.
fn document_label(received: &ReceivedMessage) -> Option<String> {
    let documents = &received.xdm.as_ref()?.documents;
    match documents.as_slice() {
        [] => None,
        [one] => {
            let display = one
                .entry
                .type_code
                .as_ref()
                .map(|c| c.display.trim())
                .filter(|d| !d.is_empty());
            let label = display.unwrap_or(one.entry.title.trim());
            (!label.is_empty()).then(|| label.to_owned())
        }
        many => Some(format!("{} documents", many.len())),
    }
}

/// The code an error is known by: the application's (900–906) when given, else the message
/// error condition.
fn shown_code(code: GuideCode) -> u16 {
    code.application.unwrap_or(code.condition)
}

/// `<code>^<label>^<table>|E^Error^errorSeverity`, 7-bit.
fn error_text(code: GuideCode, label: &str) -> String {
    let table = if code.application.is_some() {
        "applicationErrorCondition"
    } else {
        "messageErrorCondition"
    };
    // `^` and `|` separate the components: not in the label.
    let label: String = ascii_text(label)
        .chars()
        .map(|c| {
            if matches!(c, '^' | '|' | '\\') {
                ' '
            } else {
                c
            }
        })
        .collect();
    format!(
        "{}^{}^{table}|E^Error^errorSeverity",
        shown_code(code),
        label.trim()
    )
}

fn human_text(reporting: &MssAddress, disposition: &Disposition) -> String {
    match disposition {
        Disposition::Processed => format!(
            "Bonjour,\n\nLe message ci-dessous a été reçu par {} et intégré automatiquement.\n\n\
             Cet accusé de lecture est envoyé automatiquement.\n",
            reporting.as_str()
        ),
        Disposition::Error { code, label } => {
            let label: String = label
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            format!(
                "Bonjour,\n\nLe message ci-dessous n'a pas pu être intégré automatiquement dans le DPI \
                 pour la raison suivante : {label}\n\n\
                 Code d'erreur : {}\n\
                 Le système a retourné l'erreur {}\n\n\
                 Le message d'origine et ses pièces jointes sont joints.\n",
                shown_code(*code),
                error_text(*code, &label)
            )
        }
    }
}

/// `Original-Recipient` of the report: the original's own field, `rfc822;` added when it has
/// no address type.
fn original_recipient(received: &ReceivedMessage) -> Option<String> {
    let (_, value) = header_values(received, "Original-Recipient").next()?;
    let value = ascii_text(value.trim());
    if value.is_empty() {
        return None;
    }
    Some(if value.contains(';') {
        value
    } else {
        format!("rfc822;{value}")
    })
}

/// Whether the message is itself a disposition notification.
fn is_mdn(received: &ReceivedMessage) -> bool {
    header_values(received, "Content-Type").any(|(_, v)| {
        let ct = inbox::mime::parse_structured(v);
        ct.value == "multipart/report"
            && ct
                .param("report-type")
                .is_some_and(|t| t.eq_ignore_ascii_case("disposition-notification"))
    })
}

fn header_values<'a>(
    received: &'a ReceivedMessage,
    name: &'a str,
) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    received
        .headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(n, v)| (n.as_str(), v.as_str()))
}

/// The same mailbox: both parsed, [`MssAddress::same_mailbox`]; otherwise compared as text
/// without regard to case.
fn same_address(a: &str, b: &str) -> bool {
    match (MssAddress::parse(a), MssAddress::parse(b)) {
        (Ok(a), Ok(b)) => a.same_mailbox(&b),
        _ => a.trim().eq_ignore_ascii_case(b.trim()),
    }
}

/// A `type/subtype` of token characters.
fn is_media_type(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(s.split_once('/'), Some((t, st)) if token(t) && token(st))
}

/// Text for a 7-bit field: French accents dropped, other non-ASCII as `?`, controls as spaces.
fn ascii_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            c if c.is_ascii_control() || c.is_control() => out.push(' '),
            c if c.is_ascii() => out.push(c),
            'à' | 'â' | 'ä' | 'á' => out.push('a'),
            'À' | 'Â' | 'Ä' | 'Á' => out.push('A'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'É' | 'È' | 'Ê' | 'Ë' => out.push('E'),
            'î' | 'ï' | 'í' => out.push('i'),
            'Î' | 'Ï' | 'Í' => out.push('I'),
            'ô' | 'ö' | 'ó' => out.push('o'),
            'Ô' | 'Ö' | 'Ó' => out.push('O'),
            'ù' | 'û' | 'ü' | 'ú' => out.push('u'),
            'Ù' | 'Û' | 'Ü' | 'Ú' => out.push('U'),
            'ç' => out.push('c'),
            'Ç' => out.push('C'),
            'ÿ' => out.push('y'),
            'œ' => out.push_str("oe"),
            'Œ' => out.push_str("OE"),
            'æ' => out.push_str("ae"),
            'Æ' => out.push_str("AE"),
            '’' | '‘' => out.push('\''),
            '«' | '»' | '“' | '”' => out.push('"'),
            '\u{a0}' | '\u{202f}' => out.push(' '),
            _ => out.push('?'),
        }
    }
    out
}

/// Line ends made CRLF (a message read from a file may have bare LF), ending in CRLF.
fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40 + 2);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if raw.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_is_the_guides_form_in_seven_bits() {
        let code = GuideCode {
            condition: 207,
            application: Some(902),
        };
        assert_eq!(
            error_text(code, "Identifiant de patient inconnu"),
            "902^Identifiant de patient inconnu^applicationErrorCondition|E^Error^errorSeverity"
        );
        let code = GuideCode {
            condition: 101,
            application: None,
        };
        assert_eq!(
            error_text(code, "Donnée requise manquante ^ x|y\r\n"),
            "101^Donnee requise manquante   x y^messageErrorCondition|E^Error^errorSeverity"
        );
    }

    #[test]
    fn line_ends_become_crlf() {
        assert_eq!(crlf(b"a\nb\r\nc\rd"), b"a\r\nb\r\nc\r\nd\r\n");
        assert_eq!(crlf(b"a\r\n"), b"a\r\n");
    }

    #[test]
    fn media_types_are_tokens() {
        assert!(is_media_type("application/zip"));
        assert!(!is_media_type("application/zip\r\nBcc: x"));
        assert!(!is_media_type("zip"));
    }
}
