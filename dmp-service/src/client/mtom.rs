//! MTOM/XOP (`multipart/related; type="application/xop+xml"`): the writer of requests (the
//! SOAP root part, then each document as a binary part named by its Content-ID, never
//! base64-encoded) and the reader of answers (the root part and the parts `xop:Include`
//! points to).
//!
//! The writer chains the parts' buffers with the MIME heads between them: a document is never
//! copied into the request, reqwest sends each buffer as it is, with an exact Content-Length.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::error::DmpError;

/// XOP include namespace.
pub const XOP: &str = "http://www.w3.org/2004/08/xop/include";
/// The root part's Content-ID (as Apache CXF, the DMP's stack, names it).
pub const ROOT_CID: &str = "root.message@cxf.apache.org";

/// A binary part of a request (its bytes shared, not copied).
#[derive(Debug, Clone)]
pub struct Part<'a> {
    /// Without angle brackets, e.g. `doc1-<uuid>@passerelle`.
    pub content_id: &'a str,
    pub content_type: &'a str,
    pub bytes: Bytes,
}

/// A request body and the HTTP Content-Type that goes with it: the MIME heads and the parts'
/// buffers, in order.
#[derive(Debug)]
pub struct MtomBody {
    pub content_type: String,
    chunks: Vec<Bytes>,
    len: usize,
}

impl MtomBody {
    /// The body's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The body in one buffer (a copy: for tests and for reading it back).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for c in &self.chunks {
            out.extend_from_slice(c);
        }
        out
    }

    /// The body to send: its buffers one after the other, with an exact length.
    pub fn into_http_body(self) -> ChainBody {
        ChainBody {
            remaining: self.len as u64,
            chunks: self.chunks.into(),
        }
    }
}

/// An HTTP body made of buffers sent in order, its length known (so Content-Length is sent,
/// not chunked encoding).
#[derive(Debug)]
pub struct ChainBody {
    chunks: VecDeque<Bytes>,
    remaining: u64,
}

impl http_body::Body for ChainBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.chunks.pop_front() {
            Some(chunk) => {
                self.remaining -= chunk.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// A Content-ID for a part: unique, URL-safe, `<n>-<uuid>@passerelle`.
pub fn new_content_id(n: usize) -> String {
    format!("{n}-{}@passerelle", uuid::Uuid::new_v4())
}

/// The `href` of an `xop:Include` for this Content-ID (`cid:` + the id, percent-encoded
/// where RFC 2392 requires).
pub fn cid_href(content_id: &str) -> String {
    let mut out = String::from("cid:");
    for b in content_id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Writes the multipart body: root part (`application/xop+xml; type="application/soap+xml"`)
/// then the parts, binary.
pub fn write(action: &str, root: impl Into<Bytes>, parts: &[Part<'_>]) -> MtomBody {
    let boundary = format!("uuid:{}", uuid::Uuid::new_v4());
    let root_type = format!(
        "application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"; action=\"{action}\""
    );
    let mut chunks: Vec<Bytes> = Vec::with_capacity(2 * parts.len() + 3);
    chunks.push(Bytes::from(format!(
        "--{boundary}\r\nContent-Type: {root_type}\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <{ROOT_CID}>\r\n\r\n"
    )));
    chunks.push(root.into());
    for p in parts {
        chunks.push(Bytes::from(format!(
            "\r\n--{boundary}\r\nContent-Type: {}\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <{}>\r\n\r\n",
            p.content_type, p.content_id
        )));
        chunks.push(p.bytes.clone());
    }
    chunks.push(Bytes::from(format!("\r\n--{boundary}--\r\n")));
    let len = chunks.iter().map(Bytes::len).sum();
    MtomBody {
        content_type: format!(
            "multipart/related; type=\"application/xop+xml\"; boundary=\"{boundary}\"; start=\"<{ROOT_CID}>\"; start-info=\"application/soap+xml\"; action=\"{action}\""
        ),
        chunks,
        len,
    }
}

/// A part of an answer: its Content-ID, its Content-Type, where its bytes are in the body.
type ReadPart = (String, Option<String>, Range<usize>);

/// A multipart answer: the body and where its parts are.
#[derive(Debug, Default)]
pub struct Attachments {
    body: bytes::Bytes,
    root: Range<usize>,
    parts: Vec<ReadPart>,
}

impl Attachments {
    /// No attachments (a plain SOAP answer).
    pub fn none() -> Self {
        Self::default()
    }

    /// The root part (the SOAP envelope).
    pub fn root(&self) -> &[u8] {
        &self.body[self.root.clone()]
    }

    /// The part named by `href` (`cid:…`, percent-encoded or not) or by a bare Content-ID.
    pub fn get(&self, href: &str) -> Option<&[u8]> {
        self.range(href).map(|r| &self.body[r])
    }

    /// The part named by `href`, sharing the answer's buffer (no copy).
    pub fn get_bytes(&self, href: &str) -> Option<bytes::Bytes> {
        self.range(href).map(|r| self.body.slice(r))
    }

    /// Where in the body the part named by `href` is.
    fn range(&self, href: &str) -> Option<std::ops::Range<usize>> {
        self.part(href).map(|(_, _, r)| r.clone())
    }

    /// The part named by `href` (`cid:…`, percent-encoded or not) or by a bare Content-ID.
    fn part(&self, href: &str) -> Option<&ReadPart> {
        let id = href.trim();
        let id = id.strip_prefix("cid:").unwrap_or(id);
        let decoded = percent_decode(id);
        self.parts
            .iter()
            .find(|(cid, _, _)| *cid == decoded || cid == id)
    }

    /// The Content-Type of the part named by `href`.
    pub fn content_type(&self, href: &str) -> Option<&str> {
        self.part(href).and_then(|(_, ct, _)| ct.as_deref())
    }

    /// How many parts besides the root.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2]))
        {
            let v = h * 16 + l;
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The parameters of a Content-Type header value, names lower-cased, quotes removed.
pub fn content_type_params(value: &str) -> (String, Vec<(String, String)>) {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => items.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    items.push(cur);
    let mut it = items.into_iter();
    let media = it.next().unwrap_or_default().trim().to_ascii_lowercase();
    let params = it
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            Some((k.trim().to_ascii_lowercase(), v.to_owned()))
        })
        .collect();
    (media, params)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn strip_brackets(s: &str) -> String {
    let t = s.trim();
    t.strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(t)
        .to_owned()
}

/// Reads a `multipart/related` answer. The root is the part named by `start`, or the first.
pub fn read(content_type: &str, body: Vec<u8>) -> Result<Attachments, DmpError> {
    let (media, params) = content_type_params(content_type);
    if media != "multipart/related" {
        return Err(DmpError::not_xds(format!(
            "a {media} answer, expected multipart/related or application/soap+xml"
        )));
    }
    let param = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let boundary = param("boundary")
        .filter(|b| !b.is_empty())
        .ok_or_else(|| DmpError::not_xds("multipart answer without a boundary"))?;
    let start = param("start").map(strip_brackets);
    let delimiter = format!("--{boundary}");
    let delim = delimiter.as_bytes();
    let mut pos = find(&body, delim, 0)
        .ok_or_else(|| DmpError::not_xds("multipart answer without its first boundary"))?;
    let mut parts: Vec<ReadPart> = Vec::new();
    loop {
        let mut after = pos + delim.len();
        if body[after..].starts_with(b"--") {
            break;
        }
        // The rest of the boundary line.
        let eol = find(&body, b"\n", after)
            .ok_or_else(|| DmpError::not_xds("multipart part without headers"))?;
        after = eol + 1;
        let (headers_end, content_start) =
            match (find(&body, b"\r\n\r\n", after), find(&body, b"\n\n", after)) {
                (Some(a), Some(b)) if b < a => (b, b + 2),
                (Some(a), _) => (a, a + 4),
                (None, Some(b)) => (b, b + 2),
                (None, None) => {
                    return Err(DmpError::not_xds("multipart part without a blank line"));
                }
            };
        let headers = String::from_utf8_lossy(&body[after..headers_end]).into_owned();
        let next = find(&body, delim, content_start)
            .ok_or_else(|| DmpError::not_xds("multipart answer not closed"))?;
        let mut end = next;
        if end >= 2 && &body[end - 2..end] == b"\r\n" {
            end -= 2;
        } else if end >= 1 && body[end - 1] == b'\n' {
            end -= 1;
        }
        let mut cid = String::new();
        let mut ctype = None;
        for line in headers.lines() {
            if let Some((k, v)) = line.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-id" => cid = strip_brackets(v),
                    "content-type" => ctype = Some(v.trim().to_owned()),
                    _ => {}
                }
            }
        }
        parts.push((cid, ctype, content_start..end.max(content_start)));
        pos = next;
    }
    let root_index = match &start {
        Some(s) => parts.iter().position(|(c, _, _)| c == s).unwrap_or(0),
        None => 0,
    };
    if parts.is_empty() {
        return Err(DmpError::not_xds("multipart answer without parts"));
    }
    let (_, _, root) = parts.remove(root_index);
    Ok(Attachments {
        body: bytes::Bytes::from(body),
        root,
        parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_message_reads_back_with_binary_parts_untouched() {
        let doc: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let cid = new_content_id(1);
        let root = format!(
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x><xop:Include xmlns:xop="{XOP}" href="{}"/></x></s:Body></s:Envelope>"#,
            cid_href(&cid)
        );
        let m = write(
            "urn:a",
            root.clone(),
            &[Part {
                content_id: &cid,
                content_type: "application/octet-stream",
                bytes: Bytes::from(doc.clone()),
            }],
        );
        assert!(
            m.content_type
                .starts_with("multipart/related; type=\"application/xop+xml\"")
        );
        assert!(
            m.content_type
                .contains("start-info=\"application/soap+xml\"")
        );
        let body = m.to_vec();
        assert_eq!(body.len(), m.len());
        let a = read(&m.content_type, body).unwrap();
        assert_eq!(a.root(), root.as_bytes());
        assert_eq!(a.get(&cid_href(&cid)).unwrap(), &doc[..]);
        assert_eq!(a.content_type(&cid), Some("application/octet-stream"));
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn percent_encoded_cid_as_cxf_writes_it() {
        let body = b"--uuid:b\r\nContent-Type: application/xop+xml\r\nContent-ID: <root>\r\n\r\n<r/>\r\n--uuid:b\r\nContent-Type: text/xml\r\nContent-ID: <abc-2@urn:ihe:iti:xds-b:2007>\r\n\r\nDOC\r\n--uuid:b--\r\n".to_vec();
        let a = read(
            "multipart/related; type=\"application/xop+xml\"; boundary=\"uuid:b\"; start=\"<root>\"",
            body,
        )
        .unwrap();
        assert_eq!(a.root(), b"<r/>");
        assert_eq!(
            a.get("cid:abc-2@urn%3Aihe%3Aiti%3Axds-b%3A2007").unwrap(),
            b"DOC"
        );
    }

    #[test]
    fn broken_multipart_is_not_xds() {
        for (ct, body) in [
            ("multipart/related", b"--x\r\n\r\n".to_vec()),
            ("multipart/related; boundary=x", b"garbage".to_vec()),
            (
                "multipart/related; boundary=x",
                b"--x\r\nA: b\r\n\r\nunclosed".to_vec(),
            ),
        ] {
            assert!(matches!(read(ct, body), Err(DmpError::NotXds { .. })));
        }
    }
}
