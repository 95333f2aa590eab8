//! A small helper over quick-xml's `Writer` for the answers.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

pub(crate) struct Xml {
    w: Writer<Vec<u8>>,
}

pub(crate) type Attrs<'a> = &'a [(&'a str, &'a str)];

impl Xml {
    pub fn new() -> Self {
        let mut w = Writer::new(Vec::with_capacity(4096));
        // Writing into a Vec cannot fail.
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        Self { w }
    }

    /// A fragment: no XML declaration (a SOAP body's content).
    pub fn fragment() -> Self {
        Self {
            w: Writer::new(Vec::with_capacity(4096)),
        }
    }

    /// Bytes written as they are (a fragment made by [`Xml::fragment`]).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.w.get_mut().extend_from_slice(bytes);
        self
    }

    pub fn start(&mut self, name: &str, attrs: Attrs<'_>) -> &mut Self {
        let mut e = BytesStart::new(name);
        for (k, v) in attrs {
            e.push_attribute((*k, *v));
        }
        let _ = self.w.write_event(Event::Start(e));
        self
    }

    pub fn end(&mut self, name: &str) -> &mut Self {
        let _ = self.w.write_event(Event::End(BytesEnd::new(name)));
        self
    }

    pub fn empty(&mut self, name: &str, attrs: Attrs<'_>) -> &mut Self {
        let mut e = BytesStart::new(name);
        for (k, v) in attrs {
            e.push_attribute((*k, *v));
        }
        let _ = self.w.write_event(Event::Empty(e));
        self
    }

    pub fn text(&mut self, text: &str) -> &mut Self {
        let _ = self.w.write_event(Event::Text(BytesText::new(text)));
        self
    }

    /// `<name attrs>text</name>`.
    pub fn leaf(&mut self, name: &str, attrs: Attrs<'_>, text: &str) -> &mut Self {
        self.start(name, attrs).text(text).end(name)
    }

    pub fn finish(self) -> Vec<u8> {
        self.w.into_inner()
    }
}
