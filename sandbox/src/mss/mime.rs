//! Just enough of RFC 5322 / MIME to check and list a received message: the header
//! fields (unfolded, RFC 2047 words decoded on demand), parameters (RFC 2045, RFC 2231),
//! the parts of multiparts and, for each attachment, its name, type and decoded size.
//!
//! Lenient by design: it reads what clients send, it does not judge MIME conformance.

use memchr::memmem;

/// Deepest multipart nesting followed (a message is a few levels deep; a bomb is not).
const MAX_DEPTH: usize = 8;

/// A header section: `(name, raw value)` in order, values unfolded.
#[derive(Debug, Clone, Default)]
pub(crate) struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Splits an entity into its header section and body; headers are unfolded. Without a
/// blank line the whole entity is headers.
pub(crate) fn split(entity: &[u8]) -> (Headers, &[u8]) {
    let (head, body) = match find_blank_line(entity) {
        Some((end, body_start)) => (&entity[..end], &entity[body_start..]),
        None => (entity, &entity[entity.len()..]),
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    for raw in head.split(|&c| c == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(line);
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some((_, value)) = fields.last_mut() {
                // A field whose value starts on the next line (`Message-ID:` then
                // ` <…>`, as Python folds long ones) has no blank to keep.
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(text.trim());
            }
            continue;
        }
        if let Some((name, value)) = text.split_once(':') {
            fields.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    (Headers(fields), body)
}

/// End of the header section and start of the body: the first empty line.
fn find_blank_line(entity: &[u8]) -> Option<(usize, usize)> {
    if entity.starts_with(b"\r\n") {
        return Some((0, 2));
    }
    if entity.starts_with(b"\n") {
        return Some((0, 1));
    }
    let crlf = memmem::find(entity, b"\r\n\r\n").map(|i| (i + 2, i + 4));
    let lf = memmem::find(entity, b"\n\n").map(|i| (i + 1, i + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// A structured value with parameters, e.g. `multipart/mixed; boundary="x"`: the value in
/// lower case and the parameters (names in lower case, values decoded: RFC 2231
/// `name*=charset''…` and continuations, RFC 2047 words inside quotes as clients write
/// them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Structured {
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

pub(crate) fn structured(raw: &str) -> Structured {
    let mut pieces = split_params(raw).into_iter();
    let value = pieces
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    // (name, section, extended, value)
    let mut raw_params: Vec<(String, u32, bool, String)> = Vec::new();
    for piece in pieces {
        let Some((name, v)) = piece.split_once('=') else {
            continue;
        };
        let mut name = name.trim().to_ascii_lowercase();
        let v = unquote(v.trim());
        let extended = name.ends_with('*');
        if extended {
            name.pop();
        }
        let (base, section) = match name.split_once('*') {
            Some((b, s)) => (b.to_owned(), s.parse().unwrap_or(0)),
            None => (name.clone(), 0),
        };
        raw_params.push((base, section, extended, v));
    }
    let mut params: Vec<(String, String)> = Vec::new();
    let mut names: Vec<String> = raw_params.iter().map(|p| p.0.clone()).collect();
    names.dedup();
    for name in names {
        if params.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let mut sections: Vec<&(String, u32, bool, String)> =
            raw_params.iter().filter(|p| p.0 == name).collect();
        sections.sort_by_key(|p| p.1);
        let mut charset = String::new();
        let mut bytes = Vec::new();
        let mut any_extended = false;
        for (i, (_, _, extended, v)) in sections.iter().enumerate() {
            if *extended {
                any_extended = true;
                let mut text = v.as_str();
                if i == 0 {
                    // charset'language'value
                    let mut it = text.splitn(3, '\'');
                    if let (Some(c), Some(_), Some(rest)) = (it.next(), it.next(), it.next()) {
                        charset = c.to_ascii_lowercase();
                        text = rest;
                    }
                }
                bytes.extend(percent_decode(text));
            } else {
                bytes.extend_from_slice(v.as_bytes());
            }
        }
        let value = if any_extended {
            decode_charset(&charset, &bytes)
        } else {
            decode_words(&String::from_utf8_lossy(&bytes))
        };
        params.push((name, value));
    }
    Structured { value, params }
}

/// Splits on `;` outside quoted strings.
fn split_params(raw: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut escaped = false;
    for c in raw.chars() {
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

fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return v.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn percent_decode(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = b.get(i + 1..i + 3).and_then(hex_pair)
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

fn hex_pair(pair: &[u8]) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
}

/// Bytes in a charset to text: UTF-8 and ASCII, Latin-1 and its close relatives; any
/// other charset is read as UTF-8, lossily.
fn decode_charset(charset: &str, bytes: &[u8]) -> String {
    match charset {
        "iso-8859-1" | "latin1" | "iso-8859-15" | "windows-1252" | "cp1252" => {
            bytes.iter().map(|&b| b as char).collect()
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes RFC 2047 encoded words (`=?charset?B|Q?text?=`); the blanks between two
/// adjacent encoded words are dropped, as the RFC says.
pub(crate) fn decode_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut pending_blank = String::new();
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some((decoded, used)) = encoded_word(rest) {
            if !last_was_word {
                out.push_str(&pending_blank);
            }
            pending_blank.clear();
            out.push_str(&decoded);
            rest = &rest[used..];
            last_was_word = true;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        rest = &rest[c.len_utf8()..];
        if c == ' ' || c == '\t' {
            pending_blank.push(c);
            continue;
        }
        out.push_str(&pending_blank);
        pending_blank.clear();
        out.push(c);
        last_was_word = false;
    }
    out.push_str(&pending_blank);
    out
}

/// One encoded word at the start of `text`: its decoded text and its length.
fn encoded_word(text: &str) -> Option<(String, usize)> {
    let inner = text.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let payload = &inner[..end];
    if payload.contains(' ') || charset.is_empty() {
        return None;
    }
    let used = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    // RFC 2231 §5: charset*language.
    let charset = charset
        .split('*')
        .next()
        .unwrap_or(charset)
        .to_ascii_lowercase();
    let bytes = match encoding {
        "B" | "b" => base64_decode(payload.as_bytes())?,
        "Q" | "q" => {
            let b = payload.as_bytes();
            let mut out = Vec::with_capacity(b.len());
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    b'_' => out.push(b' '),
                    b'=' => {
                        out.push(b.get(i + 1..i + 3).and_then(hex_pair)?);
                        i += 2;
                    }
                    c => out.push(c),
                }
                i += 1;
            }
            out
        }
        _ => return None,
    };
    Some((decode_charset(&charset, &bytes), used))
}

fn base64_decode(data: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let clean: Vec<u8> = data
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(&clean)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&clean))
        .ok()
}

/// The addresses of an address-list header (`"Name" <a@b>, c@d`), without display names
/// and comments, in lower case.
pub(crate) fn addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut angle = false;
    let mut comment = 0u32;
    let flush = |current: &mut String, out: &mut Vec<String>| {
        let text = current.trim();
        let addr = match (text.rfind('<'), text.rfind('>')) {
            (Some(a), Some(b)) if a < b => &text[a + 1..b],
            _ => text.rsplit(':').next().unwrap_or(text),
        };
        let addr = addr.trim().trim_end_matches(';').trim();
        if addr.contains('@') {
            out.push(addr.to_ascii_lowercase());
        }
        current.clear();
    };
    for c in value.chars() {
        match c {
            '"' if comment == 0 => quoted = !quoted,
            '(' if !quoted => {
                comment += 1;
                continue;
            }
            ')' if !quoted && comment > 0 => {
                comment -= 1;
                continue;
            }
            '<' if !quoted && comment == 0 => angle = true,
            '>' if !quoted && comment == 0 => angle = false,
            ',' if !quoted && !angle && comment == 0 => {
                flush(&mut current, &mut out);
                continue;
            }
            _ => {}
        }
        if comment == 0 {
            current.push(c);
        }
    }
    flush(&mut current, &mut out);
    out
}

/// A leaf part that is an attachment (or carries a file name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attachment {
    pub file_name: String,
    pub media_type: String,
    /// Decoded size in bytes.
    pub size: u64,
}

/// The attachments of a message, depth first, in order.
pub(crate) fn attachments(message: &[u8]) -> Vec<Attachment> {
    let mut out = Vec::new();
    walk(message, 0, &mut out);
    out
}

fn walk(entity: &[u8], depth: usize, out: &mut Vec<Attachment>) {
    let (headers, body) = split(entity);
    let content_type = headers
        .get("Content-Type")
        .map(structured)
        .unwrap_or_else(|| Structured {
            value: "text/plain".into(),
            params: Vec::new(),
        });
    if content_type.value.starts_with("multipart/") {
        if depth >= MAX_DEPTH {
            return;
        }
        if let Some(boundary) = content_type.param("boundary") {
            for part in parts(body, boundary) {
                walk(part, depth + 1, out);
            }
        }
        return;
    }
    let disposition = headers.get("Content-Disposition").map(structured);
    let file_name = disposition
        .as_ref()
        .and_then(|d| d.param("filename"))
        .or_else(|| content_type.param("name"))
        .map(str::to_owned);
    let is_attachment = disposition
        .as_ref()
        .is_some_and(|d| d.value == "attachment");
    if !is_attachment && file_name.is_none() {
        return;
    }
    let encoding = headers
        .get("Content-Transfer-Encoding")
        .map(|e| e.trim().to_ascii_lowercase())
        .unwrap_or_default();
    out.push(Attachment {
        file_name: file_name.unwrap_or_default(),
        media_type: content_type.value,
        size: decoded_size(body, &encoding),
    });
}

/// The body parts of a multipart body (between `--boundary` lines, before
/// `--boundary--`), each without the line break that belongs to the next delimiter.
fn parts<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    while pos <= body.len() {
        let line_end = memchr::memchr(b'\n', &body[pos..]).map_or(body.len(), |i| pos + i + 1);
        let line = &body[pos..line_end];
        let trimmed = trim_line_end(line);
        if trimmed.starts_with(delimiter) {
            let after = trim_blanks(&trimmed[delimiter.len()..]);
            if after.is_empty() || after == b"--" {
                if let Some(s) = start {
                    out.push(trim_final_break(&body[s..pos]));
                }
                if after == b"--" {
                    return out;
                }
                start = Some(line_end);
            }
        }
        if line_end == body.len() {
            break;
        }
        pos = line_end;
    }
    // No closing delimiter: the last part runs to the end.
    if let Some(s) = start {
        out.push(&body[s.min(body.len())..]);
    }
    out
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_blanks(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &b[..end]
}

fn trim_final_break(part: &[u8]) -> &[u8] {
    let part = part.strip_suffix(b"\n").unwrap_or(part);
    part.strip_suffix(b"\r").unwrap_or(part)
}

/// Size of a body once its transfer encoding is undone.
fn decoded_size(body: &[u8], encoding: &str) -> u64 {
    match encoding {
        "base64" => {
            let chars = body
                .iter()
                .filter(|c| c.is_ascii_alphanumeric() || **c == b'+' || **c == b'/')
                .count() as u64;
            chars * 3 / 4
        }
        "quoted-printable" => {
            let mut size = 0u64;
            let mut lines = body.split(|&c| c == b'\n').peekable();
            while let Some(raw) = lines.next() {
                let line = raw.strip_suffix(b"\r").unwrap_or(raw);
                let line = trim_blanks_end(line);
                let soft = line.ends_with(b"=");
                let line = if soft { &line[..line.len() - 1] } else { line };
                let mut i = 0;
                while i < line.len() {
                    if line[i] == b'=' && line.get(i + 1..i + 3).and_then(hex_pair).is_some() {
                        i += 3;
                    } else {
                        i += 1;
                    }
                    size += 1;
                }
                if !soft && lines.peek().is_some() {
                    size += 2;
                }
            }
            size
        }
        _ => body.len() as u64,
    }
}

fn trim_blanks_end(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| *c != b' ' && *c != b'\t')
        .map_or(0, |i| i + 1);
    &b[..end]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn headers_unfold_and_words_decode() {
        let (h, body) = split(
            b"Subject: =?utf-8?Q?Compte_rendu_d=E2=80=99imagerie?=\r\n =?UTF-8?B?IMOpdMOp?=\r\nFrom: \"Dr X\" <A@B.fr>\r\n\r\nbody",
        );
        assert_eq!(
            decode_words(h.get("subject").unwrap()),
            "Compte rendu d\u{2019}imagerie été"
        );
        assert_eq!(addresses(h.get("From").unwrap()), vec!["a@b.fr"]);
        assert_eq!(body, b"body");
        assert_eq!(decode_words("a =?iso-8859-1?q?=E9t=E9?= b"), "a été b");
        assert_eq!(decode_words("plain  text"), "plain  text");
        assert_eq!(decode_words("=?UTF-8*fr?Q?=C3=A9t=C3=A9?= !"), "été !");
        // Not words: left as they are, without panicking on what follows.
        assert_eq!(decode_words("=?utf-8?X?abc?= é"), "=?utf-8?X?abc?= é");
        assert_eq!(decode_words("=?é?Q?a?= b"), "a b");
    }

    #[test]
    fn parameters_in_every_form() {
        let s = structured("attachment; filename*=utf-8''CR%20d%27imagerie%20m%C3%A9dicale.pdf");
        assert_eq!(s.value, "attachment");
        assert_eq!(s.param("filename"), Some("CR d'imagerie médicale.pdf"));
        let s = structured("attachment; filename*0*=utf-8''a%C3%A9; filename*1=\"b;c.pdf\"");
        assert_eq!(s.param("filename"), Some("aéb;c.pdf"));
        let s = structured("application/pdf; name=\"=?utf-8?B?w6kucGRm?=\"");
        assert_eq!(s.param("name"), Some("é.pdf"));
        let s = structured("Multipart/Mixed; boundary=\"=_x\\\"y\"");
        assert_eq!(s.value, "multipart/mixed");
        assert_eq!(s.param("boundary"), Some("=_x\"y"));
    }

    #[test]
    fn attachments_of_nested_multiparts() {
        let msg = b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
preamble\r\n--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n\
--inner\r\nContent-Type: text/plain\r\n\r\nhello\r\n--inner\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n--inner--\r\n\
--outer\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"IHE_XDM.zip\"\r\n\r\nUEsDBA==\r\n\
--outer\r\nContent-Type: application/pdf; name=x.pdf\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
a=3Db=\r\nc\r\n--outer--\r\nepilogue\r\n";
        let a = attachments(msg);
        assert_eq!(
            a,
            vec![
                Attachment {
                    file_name: "IHE_XDM.zip".into(),
                    media_type: "application/zip".into(),
                    size: 4
                },
                Attachment {
                    file_name: "x.pdf".into(),
                    media_type: "application/pdf".into(),
                    size: 4
                },
            ]
        );
    }

    #[test]
    fn arbitrary_input_never_panics() {
        // Pieces of MIME syntax and multi-byte characters, shuffled by a fixed generator.
        let pieces: [&[u8]; 16] = [
            b"=?",
            b"?=",
            b"?Q?",
            b"?B?",
            b"\r\n",
            b"\n",
            b" ",
            b"--b",
            b"boundary=b",
            b"Content-Type: multipart/mixed; ",
            b"filename*0*=utf-8''%C3",
            b"\"",
            "é€".as_bytes(),
            b"=C3",
            b";",
            b"\xff\xfe",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3000 {
            let mut input = Vec::new();
            for _ in 0..(state % 40) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                input.extend_from_slice(pieces[(state % 16) as usize]);
            }
            let text = String::from_utf8_lossy(&input);
            let _ = attachments(&input);
            let _ = structured(&text);
            let _ = decode_words(&text);
            let _ = addresses(&text);
            let _ = decoded_size(&input, "quoted-printable");
        }
    }
}
