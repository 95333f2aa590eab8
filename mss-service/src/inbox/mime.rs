//! The MIME reading of a received message (RFC 5322, 2045–2047, 2231), by hand: headers
//! unfolded, encoded words decoded, multiparts split at their boundaries (nested), bodies
//! decoded from base64, quoted-printable, 7bit, 8bit or binary. Bounded: depth and number of
//! parts (the size is bounded by the caller before).
//!
//! Lenient where mail in the wild is (bare LF line ends, a stray `=` in quoted-printable,
//! an unknown charset read as UTF-8), strict where guessing would lose data (a multipart
//! without its boundary or closing delimiter, invalid base64, an unknown transfer encoding).

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use bytes::Bytes;

/// What is wrong with the message's MIME structure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MimeError {
    #[error("header line {line} of {part} is neither `Name: value` nor a continuation")]
    HeaderLine { part: String, line: usize },
    #[error("{part} is multipart but its Content-Type has no boundary parameter")]
    NoBoundary { part: String },
    #[error(
        "{part}: no part starts with the boundary of its Content-Type (the message is truncated or its boundary wrong)"
    )]
    NoDelimiter { part: String },
    #[error("{part}: the closing boundary is missing (the message is truncated)")]
    Unterminated { part: String },
    #[error("multiparts nested deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("more than {limit} MIME parts")]
    TooManyParts { limit: usize },
    #[error("{part}: invalid base64 content")]
    Base64 { part: String },
    #[error("{part}: unknown Content-Transfer-Encoding {encoding:?}")]
    UnknownEncoding { part: String, encoding: String },
}

/// A header as read: name as written, value unfolded (RFC 2047 words not yet decoded).
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// The headers of a message or part, in order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    /// The first value of `name` (case-insensitive), trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.trim())
    }

    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.trim())
    }
}

/// A parsed `Content-Type` or `Content-Disposition`: its value lower-cased, parameters
/// (names lower-cased, RFC 2231 continuations and charsets resolved).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Structured {
    pub value: String,
    pub params: Vec<(String, String)>,
}

impl Structured {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A MIME entity: a leaf with its decoded content, or a multipart with its parts.
#[derive(Clone)]
pub struct Entity {
    pub headers: Headers,
    pub content_type: Structured,
    pub body: EntityBody,
}

#[derive(Clone)]
pub enum EntityBody {
    /// The decoded content (shared with the attachment made of it: no copy).
    Leaf(Bytes),
    Multipart(Vec<Entity>),
}

/// Bounds of the structure.
#[derive(Debug, Clone, Copy)]
pub struct MimeLimits {
    pub max_depth: usize,
    pub max_parts: usize,
}

/// Parses a whole message.
pub fn parse(raw: &[u8], limits: MimeLimits) -> Result<Entity, MimeError> {
    let mut parts = 0;
    parse_entity(raw, "the message", 0, &mut parts, limits, "text/plain")
}

fn parse_entity(
    raw: &[u8],
    name: &str,
    depth: usize,
    parts: &mut usize,
    limits: MimeLimits,
    default_type: &str,
) -> Result<Entity, MimeError> {
    *parts += 1;
    if *parts > limits.max_parts {
        return Err(MimeError::TooManyParts {
            limit: limits.max_parts,
        });
    }
    let (headers, body) = split_headers(raw, name)?;
    let content_type = headers
        .get("Content-Type")
        .map(parse_structured)
        .filter(|c| c.value.contains('/'))
        .unwrap_or_else(|| Structured {
            value: default_type.to_owned(),
            params: vec![("charset".into(), "us-ascii".into())],
        });
    if content_type.value.starts_with("multipart/") {
        if depth >= limits.max_depth {
            return Err(MimeError::TooDeep {
                limit: limits.max_depth,
            });
        }
        let boundary = content_type
            .param("boundary")
            .filter(|b| !b.is_empty())
            .ok_or_else(|| MimeError::NoBoundary {
                part: name.to_owned(),
            })?;
        let child_default = if content_type.value == "multipart/digest" {
            "message/rfc822"
        } else {
            "text/plain"
        };
        let mut children = Vec::new();
        for (i, chunk) in split_multipart(body, boundary, name)?
            .into_iter()
            .enumerate()
        {
            let child_name = format!("{name} part {}", i + 1);
            let child_name = child_name.trim_start_matches("the message ");
            children.push(parse_entity(
                chunk,
                child_name,
                depth + 1,
                parts,
                limits,
                child_default,
            )?);
        }
        return Ok(Entity {
            headers,
            content_type,
            body: EntityBody::Multipart(children),
        });
    }
    let encoding = headers
        .get("Content-Transfer-Encoding")
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let content = match encoding.as_str() {
        "" | "7bit" | "8bit" | "binary" => Bytes::copy_from_slice(body),
        "base64" => Bytes::from(decode_base64(body).ok_or_else(|| MimeError::Base64 {
            part: name.to_owned(),
        })?),
        "quoted-printable" => Bytes::from(decode_quoted_printable(body)),
        other => {
            return Err(MimeError::UnknownEncoding {
                part: name.to_owned(),
                encoding: other.chars().take(40).collect(),
            });
        }
    };
    Ok(Entity {
        headers,
        content_type,
        body: EntityBody::Leaf(content),
    })
}

/// The headers (unfolded) and the body, split at the first empty line (CRLF or bare LF).
fn split_headers<'a>(raw: &'a [u8], part: &str) -> Result<(Headers, &'a [u8]), MimeError> {
    let mut headers: Vec<Header> = Vec::new();
    let mut at = 0;
    let mut line_no = 0;
    while at < raw.len() {
        let end = memchr::memchr(b'\n', &raw[at..]).map_or(raw.len(), |i| at + i);
        let next = (end + 1).min(raw.len());
        let mut line = &raw[at..end];
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        line_no += 1;
        if line.is_empty() {
            return Ok((Headers(headers), &raw[next..]));
        }
        if line[0] == b' ' || line[0] == b'\t' {
            // A continuation: unfolding removes only the line break.
            match headers.last_mut() {
                Some(h) => h.value.push_str(&String::from_utf8_lossy(line)),
                None => {
                    return Err(MimeError::HeaderLine {
                        part: part.to_owned(),
                        line: line_no,
                    });
                }
            }
        } else {
            let colon = memchr::memchr(b':', line);
            let name = colon.map(|c| &line[..c]).filter(|n| {
                !n.is_empty() && n.iter().all(|&b| (33..=126).contains(&b) && b != b':')
            });
            match (name, colon) {
                (Some(name), Some(c)) => headers.push(Header {
                    name: String::from_utf8_lossy(name).into_owned(),
                    value: String::from_utf8_lossy(&line[c + 1..]).into_owned(),
                }),
                // An mbox "From " line before the headers of a message is tolerated.
                _ if line_no == 1 && line.starts_with(b"From ") => {}
                _ => {
                    return Err(MimeError::HeaderLine {
                        part: part.to_owned(),
                        line: line_no,
                    });
                }
            }
        }
        at = next;
    }
    // Headers only, no body.
    Ok((Headers(headers), &raw[raw.len()..]))
}

/// The parts between the delimiters `--boundary` (at a line's start, then blanks only) and
/// before the closing `--boundary--`. The line break before a delimiter belongs to it.
fn split_multipart<'a>(
    body: &'a [u8],
    boundary: &str,
    part: &str,
) -> Result<Vec<&'a [u8]>, MimeError> {
    let delimiter = format!("--{boundary}");
    let finder = memchr::memmem::Finder::new(delimiter.as_bytes());
    let mut chunks = Vec::new();
    // Start of the current part's content, once the first delimiter is seen.
    let mut open: Option<usize> = None;
    for at in finder.find_iter(body) {
        if at > 0 && body[at - 1] != b'\n' {
            continue;
        }
        let after = at + delimiter.len();
        let line_end = memchr::memchr(b'\n', &body[after..]).map_or(body.len(), |i| after + i);
        let rest = &body[after..line_end];
        let closing = rest.starts_with(b"--");
        let tail = if closing { &rest[2..] } else { rest };
        if !tail.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            continue;
        }
        if let Some(start) = open {
            // The CRLF (or LF) before the delimiter is not content.
            let mut end = at.saturating_sub(1).max(start);
            if end > start && body[end - 1] == b'\r' {
                end -= 1;
            }
            chunks.push(&body[start..end.max(start)]);
        }
        if closing {
            if open.is_none() {
                break;
            }
            return Ok(chunks);
        }
        open = Some((line_end + 1).min(body.len()));
    }
    if open.is_none() {
        Err(MimeError::NoDelimiter {
            part: part.to_owned(),
        })
    } else {
        Err(MimeError::Unterminated {
            part: part.to_owned(),
        })
    }
}

const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Base64 with line breaks and blanks ignored; `None` when invalid.
pub fn decode_base64(body: &[u8]) -> Option<Vec<u8>> {
    let clean: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    LENIENT_BASE64.decode(&clean).ok()
}

/// Quoted-printable: `=XX` decoded, soft breaks removed, blanks at a line's end dropped (they
/// were added in transit); a `=` not followed by two hex digits is kept as it is.
pub fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut lines = body.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let has_break = lines.peek().is_some();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut end = line.len();
        while end > 0 && matches!(line[end - 1], b' ' | b'\t') {
            end -= 1;
        }
        let line = &line[..end];
        let (line, soft) = match line.strip_suffix(b"=") {
            Some(l) => (l, true),
            None => (line, false),
        };
        let mut i = 0;
        while i < line.len() {
            let b = line[i];
            if b == b'=' {
                let hex = line.get(i + 1..i + 3).and_then(|h| {
                    std::str::from_utf8(h)
                        .ok()
                        .and_then(|s| u8::from_str_radix(s, 16).ok())
                });
                if let Some(v) = hex {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
            out.push(b);
            i += 1;
        }
        if has_break && !soft {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// A structured header value (`type/subtype; a=b; c="d"`), RFC 2231 and quoted strings
/// resolved; an RFC 2047 word inside a quoted parameter (which some clients write) decoded.
pub fn parse_structured(value: &str) -> Structured {
    let mut pieces = split_params(value).into_iter();
    let main = pieces
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    // (name without `*n*`, section, extended, value)
    let mut raw: Vec<(String, u32, bool, String)> = Vec::new();
    for piece in pieces {
        let Some((name, v)) = piece.split_once('=') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let v = v.trim();
        let v = if let Some(q) = v.strip_prefix('"') {
            unquote(q)
        } else {
            v.to_owned()
        };
        let (name, extended) = match name.strip_suffix('*') {
            Some(n) => (n.to_owned(), true),
            None => (name, false),
        };
        let (base, section) = match name.rsplit_once('*') {
            Some((b, s)) if s.bytes().all(|c| c.is_ascii_digit()) && !s.is_empty() => {
                (b.to_owned(), s.parse().unwrap_or(0))
            }
            _ => (name, 0),
        };
        raw.push((base, section, extended, v));
    }
    let mut params: Vec<(String, String)> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (n, ..) in &raw {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    for name in names {
        let mut sections: Vec<&(String, u32, bool, String)> =
            raw.iter().filter(|(n, ..)| *n == name).collect();
        sections.sort_by_key(|(_, s, ..)| *s);
        let mut charset = String::new();
        let mut bytes = Vec::new();
        for (i, (_, _, extended, v)) in sections.iter().enumerate() {
            if *extended {
                let mut v = v.as_str();
                if i == 0 {
                    // charset'language'value
                    let mut it = v.splitn(3, '\'');
                    if let (Some(c), Some(_), Some(rest)) = (it.next(), it.next(), it.next()) {
                        charset = c.to_ascii_lowercase();
                        v = rest;
                    }
                }
                bytes.extend(percent_decode(v));
            } else {
                bytes.extend_from_slice(v.as_bytes());
            }
        }
        let mut text = decode_charset(&bytes, &charset);
        if text.contains("=?") {
            text = decode_words(&text);
        }
        params.push((name, text));
    }
    Structured {
        value: main,
        params,
    }
}

/// Splits at `;` outside quoted strings.
fn split_params(value: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == ';' && !quoted {
            out.push(String::new());
            continue;
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

/// The content of a quoted string (after its opening quote): escapes resolved, up to the
/// closing quote.
fn unquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '"' => break,
            c => out.push(c),
        }
    }
    out
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Text in `charset`: UTF-8 and US-ASCII, ISO-8859-1 and -15, Windows-1252; any other read
/// as UTF-8 (invalid sequences replaced).
pub fn decode_charset(bytes: &[u8], charset: &str) -> String {
    let charset = charset.trim().trim_matches('"').to_ascii_lowercase();
    match charset.as_str() {
        "iso-8859-1" | "latin1" | "iso_8859-1" | "l1" => {
            bytes.iter().map(|&b| char::from(b)).collect()
        }
        "iso-8859-15" | "latin9" => bytes
            .iter()
            .map(|&b| match b {
                0xA4 => '€',
                0xA6 => 'Š',
                0xA8 => 'š',
                0xB4 => 'Ž',
                0xB8 => 'ž',
                0xBC => 'Œ',
                0xBD => 'œ',
                0xBE => 'Ÿ',
                b => char::from(b),
            })
            .collect(),
        "windows-1252" | "cp1252" => bytes.iter().map(|&b| cp1252(b)).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        b => char::from(b),
    }
}

/// An unstructured header value with its RFC 2047 encoded words decoded (blanks between two
/// adjacent encoded words dropped); a word that cannot be decoded is kept as written.
pub fn decode_words(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut pending_blank = String::new();
    let mut last_was_word = false;
    loop {
        let Some(start) = rest.find("=?") else {
            out.push_str(&pending_blank);
            out.push_str(rest);
            break;
        };
        let (before, from) = rest.split_at(start);
        match encoded_word(from) {
            Some((text, len)) => {
                let blank_only = before.chars().all(|c| c == ' ' || c == '\t');
                if !(last_was_word && blank_only) {
                    out.push_str(&pending_blank);
                    out.push_str(before);
                }
                pending_blank.clear();
                out.push_str(&text);
                last_was_word = true;
                rest = &from[len..];
                // Blanks after a word are held until we know what follows.
                let blanks = rest.len() - rest.trim_start_matches([' ', '\t']).len();
                pending_blank.push_str(&rest[..blanks]);
                rest = &rest[blanks..];
            }
            None => {
                out.push_str(&pending_blank);
                pending_blank.clear();
                out.push_str(before);
                out.push_str("=?");
                rest = &from[2..];
                last_was_word = false;
            }
        }
    }
    out
}

/// `=?charset?B|Q?text?=` at the start of `s`: the decoded text and the word's length.
fn encoded_word(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix("=?")?;
    let (charset, body) = body.split_once('?')?;
    let (encoding, body) = body.split_once('?')?;
    let end = body.find("?=")?;
    let text = &body[..end];
    if text.contains([' ', '\t']) || charset.is_empty() {
        return None;
    }
    // RFC 2231 §5: `charset*language`.
    let charset = charset.split('*').next().unwrap_or(charset);
    let bytes = match encoding {
        "B" | "b" => general_purpose::STANDARD
            .decode(text.as_bytes())
            .or_else(|_| LENIENT_BASE64.decode(text.as_bytes()))
            .ok()?,
        "Q" | "q" => {
            let underscored = text.replace('_', " ");
            decode_quoted_printable(underscored.as_bytes())
        }
        _ => return None,
    };
    let len = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    Some((decode_charset(&bytes, charset), len))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn encoded_words_are_decoded_and_joined() {
        assert_eq!(
            decode_words("=?utf-8?B?Q29tcHRlIHJlbmR1?= =?utf-8?Q?_=C3=A9cho?= fin"),
            "Compte rendu écho fin"
        );
        assert_eq!(decode_words("a =?iso-8859-1?Q?caf=E9?= b"), "a café b");
        assert_eq!(decode_words("=?bad"), "=?bad");
        assert_eq!(decode_words("plain  text"), "plain  text");
    }

    #[test]
    fn rfc_2231_parameters_are_joined_and_decoded() {
        let s = parse_structured(
            "attachment; filename*0*=utf-8''Synth%C3%A8se%20; filename*1=\"du 2.pdf\"",
        );
        assert_eq!(s.value, "attachment");
        assert_eq!(s.param("filename"), Some("Synthèse du 2.pdf"));
        let s = parse_structured("multipart/mixed; boundary=\"a;b\\\"c\"");
        assert_eq!(s.param("boundary"), Some("a;b\"c"));
    }

    #[test]
    fn quoted_printable_is_decoded() {
        assert_eq!(
            decode_quoted_printable(b"Caf=C3=A9 =3D 1=20\r\nsoft=\r\nbreak =\r\n= x"),
            "Café = 1 \r\nsoftbreak = x".as_bytes()
        );
    }
}
