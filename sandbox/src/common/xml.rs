//! A small namespace-aware element tree read with quick-xml's `NsReader`.
//!
//! Requests are a few kilobytes, so a tree is simpler to check than a stream. Elements
//! and attributes are identified by namespace URI and local name, never by prefix:
//! real clients use all sorts of prefixes. No DTD is accepted and no entity other than
//! the five predefined ones and character references is expanded.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::name::{PrefixDeclaration, ResolveResult};
use quick_xml::reader::NsReader;

/// Deeper documents are refused: SOAP requests are shallow, and the limit keeps the
/// tree (and its recursive drop) small.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub ns: Option<String>,
    pub local: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Element>,
    /// Direct character content (text, CDATA, references), concatenated.
    pub text: String,
    /// The prefix as written (canonicalisation renders it; checks never look at it).
    pub prefix: Option<String>,
    /// Namespace declarations made on this element: (prefix, "" for the default; URI).
    pub ns_decls: Vec<(String, String)>,
    /// Text and children in document order (canonicalisation needs mixed content).
    pub content: Vec<Content>,
}

/// A piece of an element's content, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Content {
    Text(String),
    /// Index into `children`.
    Child(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attr {
    pub ns: Option<String>,
    pub local: String,
    pub value: String,
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum XmlError {
    #[error("not well-formed: {0}")]
    Malformed(String),
    #[error("a document type declaration (DTD) is not allowed")]
    Doctype,
    #[error("elements nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("only UTF-8 is accepted")]
    Encoding,
}

impl Element {
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.local == local
    }

    /// Children with this namespace and local name.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// Attribute without namespace (the XSDs of INSi use unqualified attributes).
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.local == local)
            .map(|a| a.value.as_str())
    }
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

fn namespace(res: ResolveResult<'_>) -> Result<Option<String>, XmlError> {
    match res {
        ResolveResult::Bound(ns) => Ok(Some(String::from_utf8_lossy(ns.as_ref()).into_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(prefix) => Err(XmlError::Malformed(format!(
            "undeclared namespace prefix {}",
            String::from_utf8_lossy(&prefix)
        ))),
    }
}

/// Parses a whole document into its root element.
pub(crate) fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::Encoding)?;
    // A UTF-8 byte order mark is legal before the declaration.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    reader.config_mut().enable_all_checks(true);

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let (res, event) = reader.read_resolved_event().map_err(malformed)?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() && stack.is_empty() {
                    return Err(XmlError::Malformed("more than one root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let ns = namespace(res)?;
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let prefix = e
                    .name()
                    .prefix()
                    .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned());
                let mut attrs = Vec::new();
                let mut ns_decls = Vec::new();
                for attr in e.attributes() {
                    let attr = attr.map_err(malformed)?;
                    let value = attribute_value(&attr.value)?;
                    if let Some(binding) = attr.key.as_namespace_binding() {
                        let bound = match binding {
                            PrefixDeclaration::Default => String::new(),
                            PrefixDeclaration::Named(p) => String::from_utf8_lossy(p).into_owned(),
                        };
                        ns_decls.push((bound, value));
                        continue;
                    }
                    let (ares, alocal) = reader.resolve_attribute(attr.key);
                    attrs.push(Attr {
                        ns: namespace(ares)?,
                        local: String::from_utf8_lossy(alocal.as_ref()).into_owned(),
                        value,
                        prefix: attr
                            .key
                            .prefix()
                            .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned()),
                    });
                }
                let element = Element {
                    ns,
                    local,
                    attrs,
                    children: Vec::new(),
                    text: String::new(),
                    prefix,
                    ns_decls,
                    content: Vec::new(),
                };
                if matches!(event, Event::Start(_)) {
                    stack.push(element);
                } else {
                    attach(&mut stack, &mut root, element);
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unbalanced end tag".into()))?;
                attach(&mut stack, &mut root, element);
            }
            Event::Text(t) => {
                let content = t.xml_content().map_err(malformed)?;
                match stack.last_mut() {
                    Some(top) => push_text(top, &content),
                    None if content.trim().is_empty() => {}
                    None => {
                        return Err(XmlError::Malformed("text outside the root element".into()));
                    }
                }
            }
            Event::CData(c) => {
                let content = c.decode().map_err(malformed)?;
                match stack.last_mut() {
                    Some(top) => push_text(top, &content),
                    None => {
                        return Err(XmlError::Malformed("CDATA outside the root element".into()));
                    }
                }
            }
            Event::GeneralRef(r) => {
                let top = stack.last_mut().ok_or_else(|| {
                    XmlError::Malformed("reference outside the root element".into())
                })?;
                if let Some(ch) = r.resolve_char_ref().map_err(malformed)? {
                    push_text(top, ch.encode_utf8(&mut [0; 4]));
                } else {
                    let name = r.decode().map_err(malformed)?;
                    let value = resolve_predefined_entity(&name).ok_or_else(|| {
                        XmlError::Malformed(format!("undeclared entity &{name};"))
                    })?;
                    push_text(top, value);
                }
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Decl(d) => {
                if let Some(enc) = d.encoding() {
                    let enc = enc.map_err(malformed)?;
                    let enc = String::from_utf8_lossy(&enc).to_ascii_lowercase();
                    if enc != "utf-8" && enc != "utf8" {
                        return Err(XmlError::Encoding);
                    }
                }
            }
            Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unexpected end of document".into()));
    }
    root.ok_or_else(|| XmlError::Malformed("no root element".into()))
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => {
            parent.content.push(Content::Child(parent.children.len()));
            parent.children.push(element);
        }
        None => *root = Some(element),
    }
}

fn push_text(element: &mut Element, text: &str) {
    element.text.push_str(text);
    match element.content.last_mut() {
        Some(Content::Text(t)) => t.push_str(text),
        _ => element.content.push(Content::Text(text.to_owned())),
    }
}

/// An attribute value as XML 1.0 §3.3.3 normalises it (CDATA attributes): line ends
/// become `\n`, then literal tabs, line feeds and carriage returns become spaces, then
/// references are expanded (so `&#9;` stays a tab).
fn attribute_value(raw: &[u8]) -> Result<String, XmlError> {
    let raw = std::str::from_utf8(raw).map_err(|_| XmlError::Encoding)?;
    let normalised: String = raw
        .replace("\r\n", "\n")
        .chars()
        .map(|c| {
            if matches!(c, '\t' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect();
    quick_xml::escape::unescape(&normalised)
        .map(|v| v.into_owned())
        .map_err(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_namespaces_not_prefixes() {
        let doc = br#"<a:E xmlns:a="urn:x" xmlns="urn:y"><b:F xmlns:b="urn:x" k="v&amp;w">t&lt;<![CDATA[c]]>&#65;</b:F><G/></a:E>"#;
        let root = parse(doc).unwrap();
        assert!(root.is("urn:x", "E"));
        let f = root.child("urn:x", "F").unwrap();
        assert_eq!(f.text, "t<cA");
        assert_eq!(f.attr("k"), Some("v&w"));
        assert!(root.child("urn:y", "G").is_some());
    }

    #[test]
    fn refuses_dtd_entities_and_bad_documents() {
        assert_eq!(
            parse(br#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>"#),
            Err(XmlError::Doctype)
        );
        assert!(matches!(parse(b"<a>&x;</a>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse(b"<a><b></a>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse(b"<a/><b/>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse(b"<p:a/>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse(b""), Err(XmlError::Malformed(_))));
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(parse(deep.as_bytes()), Err(XmlError::TooDeep));
        assert_eq!(
            parse(br#"<?xml version="1.0" encoding="ISO-8859-1"?><a/>"#),
            Err(XmlError::Encoding)
        );
    }
}
