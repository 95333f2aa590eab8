//! Namespace-aware reading over quick-xml's `NsReader` into a small element tree. Elements and
//! attributes are matched by namespace URI and local name, never by prefix (real services use
//! varying prefixes). A DOCTYPE is refused, so no entity is ever expanded; input size and
//! nesting depth are bounded.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::ns::{SOAP11_ENV, SOAP12_ENV};
use crate::{SoapError, SoapFault};

/// Bounds applied while reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting accepted.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 4 * 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// An attribute, namespace resolved (`ns` is `None` for unprefixed attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub ns: Option<String>,
    pub local: String,
    pub value: String,
}

/// An element with its namespace URI, attributes (namespace declarations left out), element
/// children and its own character data (mixed content is concatenated: SOAP data has none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub ns: Option<String>,
    pub local: String,
    pub attributes: Vec<Attribute>,
    pub children: Vec<Element>,
    text: String,
}

impl Element {
    /// True when this element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.ns.as_deref().unwrap_or("") == ns
    }

    /// `{ns}local`, for messages.
    pub fn name(&self) -> String {
        match &self.ns {
            Some(ns) => format!("{{{ns}}}{}", self.local),
            None => self.local.clone(),
        }
    }

    /// The first child `{ns}local`.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// Every child `{ns}local`, in document order.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, local))
    }

    /// The first element child, whatever its name.
    pub fn first_child(&self) -> Option<&Element> {
        self.children.first()
    }

    /// The first descendant (depth first, this element excluded) `{ns}local`.
    pub fn descendant(&self, ns: &str, local: &str) -> Option<&Element> {
        self.children.iter().find_map(|c| {
            if c.is(ns, local) {
                Some(c)
            } else {
                c.descendant(ns, local)
            }
        })
    }

    /// The value of the unprefixed attribute `local`.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.ns.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// The value of the attribute `{ns}local`.
    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// This element's own character data, as written (entities resolved).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The character data of the child `{ns}local`, trimmed.
    pub fn child_text(&self, ns: &str, local: &str) -> Option<&str> {
        self.child(ns, local).map(|c| c.text.trim())
    }
}

fn position_error(reader: &NsReader<&[u8]>, e: impl std::fmt::Display) -> SoapError {
    SoapError::malformed(format!("{e} (at byte {})", reader.error_position()))
}

fn resolved_ns(r: ResolveResult<'_>, what: &str) -> Result<Option<String>, SoapError> {
    match r {
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Bound(ns) => Ok(Some(String::from_utf8_lossy(ns.as_ref()).into_owned())),
        ResolveResult::Unknown(p) => Err(SoapError::malformed(format!(
            "undeclared namespace prefix {:?} on {what}",
            String::from_utf8_lossy(&p)
        ))),
    }
}

fn open_element(reader: &NsReader<&[u8]>, e: &BytesStart<'_>) -> Result<Element, SoapError> {
    let (r, local) = reader.resolve_element(e.name());
    let local = String::from_utf8_lossy(local.as_ref()).into_owned();
    let ns = resolved_ns(r, &local)?;
    let mut attributes = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| position_error(reader, err))?;
        let key = a.key;
        if key.as_namespace_binding().is_some() {
            continue;
        }
        let (r, alocal) = reader.resolve_attribute(key);
        let alocal = String::from_utf8_lossy(alocal.as_ref()).into_owned();
        let ans = resolved_ns(r, &alocal)?;
        // Only the predefined entities and character references: nothing is declared.
        let value = a
            .decode_and_unescape_value(reader.decoder())
            .map_err(|err| position_error(reader, err))?
            .into_owned();
        attributes.push(Attribute {
            ns: ans,
            local: alocal,
            value,
        });
    }
    Ok(Element {
        ns,
        local,
        attributes,
        children: Vec::new(),
        text: String::new(),
    })
}

fn predefined_entity(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => return None,
    })
}

/// Parses a whole document into its element tree.
pub fn parse_document(xml: &[u8], limits: &Limits) -> Result<Element, SoapError> {
    if xml.len() > limits.max_bytes {
        return Err(SoapError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(xml).map_err(|e| {
        SoapError::malformed(format!("not UTF-8 (invalid byte at {})", e.valid_up_to()))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    {
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
    }
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| position_error(&reader, e))?;
        match event {
            Event::DocType(_) => return Err(SoapError::Doctype),
            Event::Decl(d) => {
                if let Some(enc) = d.encoding() {
                    let enc = enc.map_err(|e| position_error(&reader, e))?;
                    let enc = String::from_utf8_lossy(&enc).to_ascii_lowercase();
                    if enc != "utf-8" && enc != "utf8" {
                        return Err(SoapError::malformed(format!(
                            "encoding {enc:?} is not supported: UTF-8 expected"
                        )));
                    }
                }
            }
            Event::Start(e) => {
                if root.is_some() {
                    return Err(SoapError::malformed(
                        "an element follows the document element",
                    ));
                }
                if stack.len() >= limits.max_depth {
                    return Err(SoapError::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                stack.push(open_element(&reader, &e)?);
            }
            Event::End(_) => {
                let done = stack
                    .pop()
                    .ok_or_else(|| position_error(&reader, "unexpected end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(t) => {
                let s = t.xml10_content().map_err(|e| position_error(&reader, e))?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => {
                        return Err(SoapError::malformed(
                            "character data outside the document element",
                        ));
                    }
                }
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|e| position_error(&reader, e))?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None => {
                        return Err(SoapError::malformed("CDATA outside the document element"));
                    }
                }
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| position_error(&reader, e))?
                } else {
                    let name = r.decode().map_err(|e| position_error(&reader, e))?;
                    Some(predefined_entity(&name).ok_or_else(|| {
                        SoapError::malformed(format!(
                            "undeclared entity &{name}; (entities are never expanded)"
                        ))
                    })?)
                };
                match (stack.last_mut(), c) {
                    (Some(el), Some(c)) => el.text.push(c),
                    _ => {
                        return Err(SoapError::malformed(
                            "reference outside the document element",
                        ));
                    }
                }
            }
            Event::Empty(_) => {
                // expand_empty_elements turns these into Start + End.
                return Err(SoapError::malformed("unexpected empty element event"));
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(SoapError::malformed(format!(
            "document ends inside <{}>",
            open.local
        )));
    }
    root.ok_or_else(|| SoapError::malformed("no document element (empty message)"))
}

/// The SOAP version of an envelope, from its namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    V11,
    V12,
}

impl SoapVersion {
    pub fn namespace(self) -> &'static str {
        match self {
            Self::V11 => SOAP11_ENV,
            Self::V12 => SOAP12_ENV,
        }
    }
}

/// A parsed SOAP envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub version: SoapVersion,
    pub header: Option<Element>,
    pub body: Element,
}

impl Envelope {
    /// Parses and checks the envelope structure (1.2, or 1.1 for robustness).
    pub fn parse(xml: &[u8], limits: &Limits) -> Result<Self, SoapError> {
        Self::from_element(parse_document(xml, limits)?)
    }

    pub fn from_element(root: Element) -> Result<Self, SoapError> {
        if root.local != "Envelope" {
            return Err(SoapError::NotAnEnvelope { found: root.name() });
        }
        let version = match root.ns.as_deref() {
            Some(SOAP12_ENV) => SoapVersion::V12,
            Some(SOAP11_ENV) => SoapVersion::V11,
            other => {
                return Err(SoapError::UnexpectedNamespace {
                    found: other.unwrap_or("").to_owned(),
                    expected: SOAP12_ENV.to_owned(),
                });
            }
        };
        let env_ns = version.namespace();
        let mut header = None;
        let mut body = None;
        for child in root.children {
            match child.local.as_str() {
                "Header" | "Body" if child.ns.as_deref() != Some(env_ns) => {
                    return Err(SoapError::UnexpectedNamespace {
                        found: child.ns.unwrap_or_default(),
                        expected: env_ns.to_owned(),
                    });
                }
                "Header" if header.is_none() && body.is_none() => header = Some(child),
                "Body" if body.is_none() => body = Some(child),
                _ => {
                    return Err(SoapError::malformed(format!(
                        "unexpected {} in the SOAP envelope",
                        child.name()
                    )));
                }
            }
        }
        let body = body.ok_or_else(|| SoapError::malformed("SOAP envelope without a Body"))?;
        Ok(Self {
            version,
            header,
            body,
        })
    }

    /// The first element inside `Body`: the payload, or a `Fault`.
    pub fn body_content(&self) -> Option<&Element> {
        self.body.first_child()
    }

    /// The header block `{ns}local`.
    pub fn header_block(&self, ns: &str, local: &str) -> Option<&Element> {
        self.header.as_ref().and_then(|h| h.child(ns, local))
    }

    /// The fault this envelope carries, if its body is a `Fault`.
    pub fn fault(&self) -> Result<Option<SoapFault>, SoapError> {
        SoapFault::from_envelope(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Element, SoapError> {
        parse_document(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn namespaces_are_resolved_whatever_the_prefix() {
        let a = parse(r#"<x:r xmlns:x="urn:n"><x:c>1</x:c><c xmlns="urn:n">2</c></x:r>"#).unwrap();
        let b = parse(r#"<r xmlns="urn:n"><c>1</c><y:c xmlns:y="urn:n">2</y:c></r>"#).unwrap();
        assert_eq!(a, b);
        assert!(a.is("urn:n", "r"));
        assert_eq!(a.children_named("urn:n", "c").count(), 2);
        assert!(a.child("urn:other", "c").is_none());
    }

    #[test]
    fn attributes_are_namespace_aware_and_unescaped() {
        let e = parse(r#"<r xmlns:p="urn:p" a="1 &amp; &#x32;" p:b="x" xmlns="urn:d"/>"#).unwrap();
        assert_eq!(e.attr("a"), Some("1 & 2"));
        assert_eq!(e.attr("b"), None);
        assert_eq!(e.attr_ns("urn:p", "b"), Some("x"));
        assert_eq!(
            e.attributes.len(),
            2,
            "xmlns declarations are not attributes"
        );
    }

    #[test]
    fn text_references_and_cdata() {
        let e = parse("<r>a &lt;b&gt; &#233;<![CDATA[<c>]]></r>").unwrap();
        assert_eq!(e.text(), "a <b> é<c>");
    }

    #[test]
    fn doctype_is_refused() {
        let xml = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "boom">]><r>&e;</r>"#;
        assert_eq!(parse(xml), Err(SoapError::Doctype));
    }

    #[test]
    fn unknown_entities_are_refused() {
        assert!(matches!(
            parse("<r>&e;</r>"),
            Err(SoapError::Malformed { .. })
        ));
        assert!(matches!(
            parse(r#"<r a="&e;"/>"#),
            Err(SoapError::Malformed { .. })
        ));
    }

    #[test]
    fn size_and_depth_are_bounded() {
        let limits = Limits {
            max_bytes: 10,
            max_depth: 2,
        };
        assert_eq!(
            parse_document(b"<r>0123456789</r>", &limits),
            Err(SoapError::TooLarge { limit: 10 })
        );
        let limits = Limits {
            max_bytes: 100,
            max_depth: 2,
        };
        assert_eq!(
            parse_document(b"<a><b><c/></b></a>", &limits),
            Err(SoapError::TooDeep { limit: 2 })
        );
    }

    #[test]
    fn malformed_inputs_are_errors() {
        for bad in [
            "",
            "   ",
            "garbage",
            "<a>",
            "<a></b>",
            "<a></a><b></b>",
            "<p:a></p:a>",
            "<a>x</a>trailing",
            "<a b='1' b='2'/>",
        ] {
            assert!(
                matches!(parse(bad), Err(SoapError::Malformed { .. })),
                "{bad:?}: {:?}",
                parse(bad)
            );
        }
        assert!(matches!(
            parse_document(&[0x3c, 0x61, 0xff, 0x3e], &Limits::default()),
            Err(SoapError::Malformed { .. })
        ));
        assert!(matches!(
            parse(r#"<?xml version="1.0" encoding="ISO-8859-1"?><a/>"#),
            Err(SoapError::Malformed { .. })
        ));
    }

    #[test]
    fn envelope_checks() {
        let l = Limits::default();
        assert!(matches!(
            Envelope::parse(b"<RESULTAT/>", &l),
            Err(SoapError::NotAnEnvelope { .. })
        ));
        assert_eq!(
            Envelope::parse(br#"<Envelope xmlns="urn:x"><Body/></Envelope>"#, &l),
            Err(SoapError::UnexpectedNamespace {
                found: "urn:x".into(),
                expected: SOAP12_ENV.into()
            })
        );
        assert!(matches!(
            Envelope::parse(
                br#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><Body/></e:Envelope>"#,
                &l
            ),
            Err(SoapError::UnexpectedNamespace { .. })
        ));
        assert!(matches!(
            Envelope::parse(
                br#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Header/></e:Envelope>"#,
                &l
            ),
            Err(SoapError::Malformed { .. })
        ));
        let v11 = Envelope::parse(
            br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><x/></s:Body></s:Envelope>"#,
            &l,
        )
        .unwrap();
        assert_eq!(v11.version, SoapVersion::V11);
        assert!(v11.body_content().unwrap().is("", "x"));
    }
}
