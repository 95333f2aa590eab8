//! A streaming XML writer for CDA documents: every element is in the HL7 v3 namespace
//! (declared once, as the default, on `ClinicalDocument`, with `xsi`), and every byte written
//! goes through SHA-1 and a byte counter on its way out, so the XDS `hash` and `size` of the
//! document come with it without a second pass or a copy.

use std::io::Write;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use sha1::{Digest, Sha1};

use super::CdaError;

/// `W` with the SHA-1 and the length of everything written to it.
pub(crate) struct Digesting<W> {
    inner: W,
    sha1: Sha1,
    size: u64,
}

impl<W: Write> Write for Digesting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha1.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A document written: the output back, with the SHA-1 and size of the bytes written (the
/// XDS `hash` and `size` of the document).
#[derive(Debug)]
pub struct WrittenDocument<W> {
    pub out: W,
    pub sha1: [u8; 20],
    pub size: u64,
}

impl<W> WrittenDocument<W> {
    /// The SHA-1 in lower-case hex, as the XDS `hash` slot carries it.
    pub fn sha1_hex(&self) -> String {
        hex::encode(self.sha1)
    }
}

/// Writes the elements of a CDA document, all in the HL7 v3 namespace; attribute names are
/// written as given (`xsi:type` may be used: `xsi` is declared on the document element).
pub struct CdaWriter<W: Write> {
    xml: Writer<Digesting<W>>,
    open: Vec<&'static str>,
}

fn io(e: impl std::fmt::Display) -> CdaError {
    CdaError::Write(e.to_string())
}

impl<W: Write> CdaWriter<W> {
    pub(crate) fn new(out: W) -> Result<Self, CdaError> {
        let mut xml = Writer::new(Digesting {
            inner: out,
            sha1: Sha1::new(),
            size: 0,
        });
        xml.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
            .map_err(io)?;
        Ok(Self {
            xml,
            open: Vec::new(),
        })
    }

    fn tag(name: &'static str, attrs: &[(&str, &str)]) -> BytesStart<'static> {
        let mut start = BytesStart::new(name);
        for (k, v) in attrs {
            start.push_attribute((*k, *v));
        }
        start
    }

    /// Opens `<name attrs…>`.
    pub fn start(&mut self, name: &'static str, attrs: &[(&str, &str)]) -> Result<(), CdaError> {
        self.xml
            .write_event(Event::Start(Self::tag(name, attrs)))
            .map_err(io)?;
        self.open.push(name);
        Ok(())
    }

    /// Closes the innermost open element.
    pub fn end(&mut self) -> Result<(), CdaError> {
        let name = self
            .open
            .pop()
            .ok_or_else(|| CdaError::Write("end() without an open element".into()))?;
        self.xml
            .write_event(Event::End(BytesEnd::new(name)))
            .map_err(io)
    }

    /// `<name attrs…/>`.
    pub fn empty(&mut self, name: &'static str, attrs: &[(&str, &str)]) -> Result<(), CdaError> {
        self.xml
            .write_event(Event::Empty(Self::tag(name, attrs)))
            .map_err(io)
    }

    /// Escaped character data.
    pub fn text(&mut self, text: &str) -> Result<(), CdaError> {
        if self.open.is_empty() {
            return Err(CdaError::Write("text outside the document element".into()));
        }
        self.xml
            .write_event(Event::Text(BytesText::new(text)))
            .map_err(io)
    }

    /// `<name attrs…>text</name>`.
    pub fn leaf(
        &mut self,
        name: &'static str,
        attrs: &[(&str, &str)],
        text: &str,
    ) -> Result<(), CdaError> {
        self.start(name, attrs)?;
        self.text(text)?;
        self.end()
    }

    /// Bytes that need no escaping (base64), written as they are: no copy, no scan.
    pub(crate) fn raw_ascii(&mut self, bytes: &[u8]) -> Result<(), CdaError> {
        self.xml.get_mut().write_all(bytes).map_err(io)
    }

    pub(crate) fn finish(self) -> Result<WrittenDocument<W>, CdaError> {
        if let Some(name) = self.open.last() {
            return Err(CdaError::Write(format!("<{name}> is not closed")));
        }
        let mut d = self.xml.into_inner();
        d.flush().map_err(io)?;
        Ok(WrittenDocument {
            out: d.inner,
            sha1: d.sha1.finalize().into(),
            size: d.size,
        })
    }
}
