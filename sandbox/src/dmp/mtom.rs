//! MTOM/XOP (`multipart/related; type="application/xop+xml"`): the request's parts by
//! Content-ID, and the answers carrying documents as XOP parts.

use std::collections::HashMap;

use bytes::Bytes;

/// A parsed MTOM package: the root part (the SOAP envelope) and the other parts by
/// Content-ID (without angle brackets). Binary parts are slices of the received body, not
/// copies: a deposit's document is as large as the request.
#[derive(Debug)]
pub(crate) struct Package {
    pub root: Bytes,
    pub parts: HashMap<String, Bytes>,
}

/// A parameter of a Content-Type value (case-insensitive name, quotes removed).
pub(crate) fn param(content_type: &str, name: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay.get(from..)?, needle).map(|i| i + from)
}

/// Splits a multipart body. `start` is the root part's Content-ID when the Content-Type
/// names it; otherwise the first part is the root.
pub(crate) fn parse(body: &Bytes, boundary: &str, start: Option<&str>) -> Result<Package, String> {
    let delim = format!("--{boundary}").into_bytes();
    let mut pos = find(body, &delim, 0).ok_or("no MIME boundary in the body")?;
    let mut raw_parts: Vec<(HashMap<String, String>, Bytes)> = Vec::new();
    loop {
        let after = pos + delim.len();
        if body.get(after..after + 2) == Some(b"--") {
            break;
        }
        let next = find(body, &delim, after).ok_or("unterminated MIME part")?;
        // Line end after the boundary, and the one before the next boundary.
        let mut from = after;
        let mut to = next;
        if body.get(from..from + 2) == Some(b"\r\n") {
            from += 2;
        } else if body.get(from..from + 1) == Some(b"\n") {
            from += 1;
        }
        if to >= from + 2 && body.get(to - 2..to) == Some(b"\r\n") {
            to -= 2;
        } else if to > from && body.get(to - 1..to) == Some(b"\n") {
            to -= 1;
        }
        let part = &body[from..to];
        let (head_end, sep) = match (find(part, b"\r\n\r\n", 0), find(part, b"\n\n", 0)) {
            (Some(a), Some(b)) if b < a => (b, 2),
            (Some(a), _) => (a, 4),
            (None, Some(b)) => (b, 2),
            (None, None) => return Err("MIME part without headers".into()),
        };
        let head = String::from_utf8_lossy(&part[..head_end]);
        let mut headers = HashMap::new();
        for line in head.lines() {
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let content = body.slice(from + head_end + sep..to);
        if headers
            .get("content-transfer-encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("base64"))
        {
            let decoded = crate::common::dsig::base64(&String::from_utf8_lossy(&content))
                .ok_or("a base64 MIME part is not base64")?;
            raw_parts.push((headers, Bytes::from(decoded)));
        } else {
            raw_parts.push((headers, content));
        }
        pos = next;
    }
    let id_of = |h: &HashMap<String, String>| {
        h.get("content-id").map(|v| {
            v.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    };
    let start = start.map(|s| s.trim_start_matches('<').trim_end_matches('>').to_owned());
    let root_index = match &start {
        Some(s) => raw_parts
            .iter()
            .position(|(h, _)| id_of(h).as_deref() == Some(s.as_str()))
            .ok_or("the start part is missing")?,
        None => 0,
    };
    if raw_parts.is_empty() {
        return Err("empty multipart body".into());
    }
    let mut root = Bytes::new();
    let mut parts = HashMap::new();
    for (i, (h, c)) in raw_parts.into_iter().enumerate() {
        if i == root_index {
            root = c;
        } else if let Some(id) = id_of(&h) {
            parts.insert(id, c);
        }
    }
    Ok(Package { root, parts })
}

/// Percent-decoding of a `cid:` URL (RFC 2392).
pub(crate) fn cid(href: &str) -> Option<String> {
    let rest = href.trim().strip_prefix("cid:")?;
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// An MTOM answer: the SOAP envelope as root part, then the attachments
/// (Content-ID without brackets, media type, bytes). Returns (Content-Type, body).
pub(crate) fn build(
    envelope: &[u8],
    action: &str,
    attachments: &[(String, String, Vec<u8>)],
) -> (String, Vec<u8>) {
    let boundary = format!("uuid:{}", uuid::Uuid::new_v4());
    let root_id = "root.message@cxf.apache.org";
    let mut body = Vec::with_capacity(
        envelope.len() + attachments.iter().map(|a| a.2.len() + 256).sum::<usize>() + 512,
    );
    body.extend_from_slice(format!(
        "--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <{root_id}>\r\n\r\n"
    ).as_bytes());
    body.extend_from_slice(envelope);
    for (id, mime, data) in attachments {
        body.extend_from_slice(format!(
            "\r\n--{boundary}\r\nContent-Type: {mime}\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <{id}>\r\n\r\n"
        ).as_bytes());
        body.extend_from_slice(data);
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!(
        "multipart/related; type=\"application/xop+xml\"; boundary=\"{boundary}\"; start=\"<{root_id}>\"; start-info=\"application/soap+xml\"; action=\"{action}\""
    );
    (content_type, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_parts_and_decodes_cids() {
        let body = b"--b\r\nContent-ID: <root>\r\n\r\n<e/>\r\n--b\r\nContent-ID: <a@b>\r\n\r\nDATA\r\n--b--\r\n";
        let p = parse(&Bytes::from_static(body), "b", None).unwrap();
        assert_eq!(p.root, &b"<e/>"[..]);
        assert_eq!(p.parts["a@b"], &b"DATA"[..]);
        assert_eq!(cid("cid:a%40b").as_deref(), Some("a@b"));
        let (ct, built) = build(
            b"<e/>",
            "x",
            &[("p1".into(), "text/xml".into(), b"D".to_vec())],
        );
        let boundary = param(&ct, "boundary").unwrap();
        let back = parse(
            &Bytes::from(built),
            &boundary,
            param(&ct, "start").as_deref(),
        )
        .unwrap();
        assert_eq!(back.root, &b"<e/>"[..]);
        assert_eq!(back.parts["p1"], &b"D"[..]);
    }
}
