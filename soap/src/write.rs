//! Writing XML with quick-xml's `Writer`, namespace-correct by construction: an element written
//! in a namespace whose prefix is not bound to that URI in scope declares it on itself.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::SoapError;
use crate::ns::{self, Ns};
use crate::read::{Limits, parse_document};

struct Open {
    qname: String,
    /// How many bindings this element pushed, popped when it closes.
    bindings: usize,
}

/// An XML document or fragment being written. Text and attribute values are escaped by
/// quick-xml; prefixes are declared where needed.
pub struct XmlWriter {
    writer: Writer<Vec<u8>>,
    open: Vec<Open>,
    /// In-scope `(prefix, uri)` bindings, innermost last.
    bindings: Vec<(&'static str, &'static str)>,
    /// Declarations to add to the next start tag even if already in scope.
    pending: Vec<Ns>,
    had_root: bool,
}

fn io(e: impl std::fmt::Display) -> SoapError {
    SoapError::write(e.to_string())
}

impl XmlWriter {
    /// A document, starting with `<?xml version="1.0" encoding="utf-8"?>`.
    pub fn new() -> Result<Self, SoapError> {
        let mut w = Self::fragment();
        w.writer
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))
            .map_err(io)?;
        Ok(w)
    }

    /// A fragment (no XML declaration), e.g. a header block built on its own.
    pub fn fragment() -> Self {
        Self {
            writer: Writer::new(Vec::new()),
            open: Vec::new(),
            bindings: Vec::new(),
            pending: Vec::new(),
            had_root: false,
        }
    }

    /// Declares these namespaces on the next start tag (e.g. all prefixes on the envelope, as
    /// some peers expect, or a prefix used only in an attribute value).
    pub fn declare(&mut self, namespaces: &[Ns]) -> &mut Self {
        self.pending.extend_from_slice(namespaces);
        self
    }

    fn in_scope(&self, prefix: &str) -> Option<&'static str> {
        if prefix == "xml" {
            return Some(ns::XML);
        }
        self.bindings
            .iter()
            .rev()
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| *u)
    }

    fn qname(ns: Ns, local: &str) -> String {
        if ns.prefix.is_empty() {
            local.to_owned()
        } else {
            format!("{}:{local}", ns.prefix)
        }
    }

    /// Opens `<prefix:local attrs…>`. Attribute names are written as given: a prefixed
    /// attribute (other than `xml:`) needs its namespace passed to [`Self::declare`] first.
    pub fn start(&mut self, ns: Ns, local: &str, attrs: &[(&str, &str)]) -> Result<(), SoapError> {
        let (start, pushed) = self.start_tag(ns, local, attrs)?;
        self.writer.write_event(Event::Start(start)).map_err(io)?;
        self.open.push(Open {
            qname: Self::qname(ns, local),
            bindings: pushed,
        });
        Ok(())
    }

    fn start_tag(
        &mut self,
        ns: Ns,
        local: &str,
        attrs: &[(&str, &str)],
    ) -> Result<(BytesStart<'static>, usize), SoapError> {
        if self.open.is_empty() {
            if self.had_root {
                return Err(SoapError::write(format!(
                    "second document element <{local}>"
                )));
            }
            self.had_root = true;
        }
        if local.is_empty() || local.contains(':') {
            return Err(SoapError::write(format!("bad local name {local:?}")));
        }
        if ns.uri.is_empty() && !ns.prefix.is_empty() {
            return Err(SoapError::write(format!(
                "prefix {:?} cannot be bound to no namespace",
                ns.prefix
            )));
        }
        let mut declarations: Vec<Ns> = std::mem::take(&mut self.pending);
        let bound = self.in_scope(ns.prefix).unwrap_or("");
        if bound != ns.uri && !declarations.iter().any(|d| d.prefix == ns.prefix) {
            declarations.push(ns);
        }
        let mut start = BytesStart::new(Self::qname(ns, local));
        let mut pushed = 0;
        for d in declarations {
            if d.prefix == ns.prefix && d.uri != ns.uri {
                return Err(SoapError::write(format!(
                    "prefix {:?} declared for {} but <{local}> is in {}",
                    d.prefix, d.uri, ns.uri
                )));
            }
            let attr = if d.prefix.is_empty() {
                "xmlns".to_owned()
            } else {
                format!("xmlns:{}", d.prefix)
            };
            start.push_attribute((attr.as_str(), d.uri));
            self.bindings.push((d.prefix, d.uri));
            pushed += 1;
        }
        for (k, v) in attrs {
            start.push_attribute((*k, *v));
        }
        Ok((start, pushed))
    }

    /// Closes the innermost open element.
    pub fn end(&mut self) -> Result<(), SoapError> {
        let open = self
            .open
            .pop()
            .ok_or_else(|| SoapError::write("end() without an open element"))?;
        self.bindings
            .truncate(self.bindings.len().saturating_sub(open.bindings));
        self.writer
            .write_event(Event::End(BytesEnd::new(open.qname)))
            .map_err(io)
    }

    /// Escaped character data.
    pub fn text(&mut self, text: &str) -> Result<(), SoapError> {
        if self.open.is_empty() {
            return Err(SoapError::write("text outside the document element"));
        }
        self.writer
            .write_event(Event::Text(BytesText::new(text)))
            .map_err(io)
    }

    /// `<prefix:local attrs…>text</prefix:local>`; an empty text gives `<a></a>`.
    pub fn leaf(
        &mut self,
        ns: Ns,
        local: &str,
        attrs: &[(&str, &str)],
        text: &str,
    ) -> Result<(), SoapError> {
        self.start(ns, local, attrs)?;
        if !text.is_empty() {
            self.text(text)?;
        }
        self.end()
    }

    /// Inserts an already serialised element verbatim — e.g. a signed SAML assertion, whose
    /// bytes must not change. It must be one well-formed element declaring its own namespaces.
    pub fn raw_element(&mut self, xml: &str) -> Result<(), SoapError> {
        if self.open.is_empty() {
            return Err(SoapError::write("raw element outside the document element"));
        }
        parse_document(xml.as_bytes(), &Limits::default())
            .map_err(|e| SoapError::write(format!("raw element is not well-formed: {e}")))?;
        let trimmed = xml.trim_start();
        if trimmed.starts_with("<?") {
            return Err(SoapError::write(
                "raw element must not have an XML declaration",
            ));
        }
        use std::io::Write;
        self.writer.get_mut().write_all(xml.as_bytes()).map_err(io)
    }

    /// The bytes written; fails if an element is still open.
    pub fn finish(self) -> Result<Vec<u8>, SoapError> {
        if let Some(open) = self.open.last() {
            return Err(SoapError::write(format!("<{}> is not closed", open.qname)));
        }
        if !self.had_root {
            return Err(SoapError::write("no document element"));
        }
        Ok(self.writer.into_inner())
    }
}

/// Writes a SOAP 1.2 envelope: `declare` goes on the `Envelope` element, then `header` writes
/// the header blocks inside `soap:Header` and `body` the content of `soap:Body`.
pub fn write_envelope<E>(
    declare: &[Ns],
    header: impl FnOnce(&mut XmlWriter) -> Result<(), E>,
    body: impl FnOnce(&mut XmlWriter) -> Result<(), E>,
) -> Result<Vec<u8>, E>
where
    E: From<SoapError>,
{
    let mut w = XmlWriter::new()?;
    w.declare(declare);
    w.start(Ns::SOAP12, "Envelope", &[])?;
    w.start(Ns::SOAP12, "Header", &[])?;
    header(&mut w)?;
    w.end()?;
    w.start(Ns::SOAP12, "Body", &[])?;
    body(&mut w)?;
    w.end()?;
    w.end()?;
    Ok(w.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::Envelope;

    const A: Ns = Ns::new("a", "urn:a");
    const B: Ns = Ns::new("", "urn:b");

    fn s(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn prefixes_are_declared_once_where_needed() {
        let mut w = XmlWriter::fragment();
        w.start(A, "root", &[]).unwrap();
        w.leaf(A, "x", &[], "1").unwrap();
        w.start(B, "y", &[("k", "v")]).unwrap();
        w.leaf(B, "z", &[], "").unwrap();
        w.leaf(Ns::NONE, "n", &[], "").unwrap();
        w.end().unwrap();
        w.end().unwrap();
        assert_eq!(
            s(w.finish().unwrap()),
            r#"<a:root xmlns:a="urn:a"><a:x>1</a:x><y xmlns="urn:b" k="v"><z></z><n xmlns=""></n></y></a:root>"#
        );
    }

    #[test]
    fn rebinding_a_prefix_declares_it_again() {
        let mut w = XmlWriter::fragment();
        w.start(A, "root", &[]).unwrap();
        w.leaf(Ns::new("a", "urn:other"), "x", &[], "").unwrap();
        w.leaf(A, "y", &[], "").unwrap();
        w.end().unwrap();
        assert_eq!(
            s(w.finish().unwrap()),
            r#"<a:root xmlns:a="urn:a"><a:x xmlns:a="urn:other"></a:x><a:y></a:y></a:root>"#
        );
    }

    #[test]
    fn text_and_attributes_are_escaped() {
        let mut w = XmlWriter::fragment();
        w.leaf(A, "x", &[("q", "a\"<&")], "<b>&'").unwrap();
        let out = s(w.finish().unwrap());
        let doc = parse_document(out.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(doc.text(), "<b>&'");
        assert_eq!(doc.attr("q"), Some("a\"<&"));
    }

    #[test]
    fn misuse_is_an_error_not_a_panic() {
        let mut w = XmlWriter::fragment();
        assert!(matches!(w.end(), Err(SoapError::Write { .. })));
        assert!(w.text("x").is_err());
        w.start(A, "x", &[]).unwrap();
        assert!(w.raw_element("<a><b></a>").is_err());
        assert!(matches!(
            XmlWriter::fragment().finish(),
            Err(SoapError::Write { .. })
        ));
        let mut w = XmlWriter::fragment();
        w.start(A, "x", &[]).unwrap();
        assert!(w.finish().is_err());
        let mut w = XmlWriter::fragment();
        assert!(w.start(Ns::new("p", ""), "x", &[]).is_err());
    }

    #[test]
    fn envelope_round_trips() {
        let xml = write_envelope::<SoapError>(
            &[Ns::WSA],
            |w| w.leaf(Ns::WSA, "Action", &[], "urn:x"),
            |w| {
                w.start(A, "Req", &[])?;
                w.raw_element(r#"<p:Raw xmlns:p="urn:p" p:id="1">ok</p:Raw>"#)?;
                w.end()
            },
        )
        .unwrap();
        let text = String::from_utf8(xml.clone()).unwrap();
        assert!(
            text.starts_with(r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:wsa="#)
        );
        let env = Envelope::parse(&xml, &Limits::default()).unwrap();
        assert!(env.header_block(ns::WSA, "Action").is_some());
        let req = env.body_content().unwrap();
        assert!(req.is("urn:a", "Req"));
        assert_eq!(req.child("urn:p", "Raw").unwrap().text(), "ok");
    }
}
