//! CDA R2 level 1 (IHE XDS-SD): the header, then `nonXMLBody/text` holding a PDF or plain
//! text in base64. The content is streamed from a reader: read in blocks, each block
//! base64-encoded into one buffer and written through the SHA-1 of the document, so the
//! content is never held whole, nor in several copies.

use std::io::{self, Read, Write};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{CdaError, CdaWriter, TemplateId, WrittenDocument, write_document};
use crate::header::DocumentHeader;

/// IHE XDS-SD (scanned documents), the model of a level-1 document.
pub const XDS_SD: TemplateId = TemplateId::new("1.3.6.1.4.1.19376.1.2.20");

/// The largest content accepted unless configured otherwise.
pub const DEFAULT_MAX_CONTENT_BYTES: u64 = 64 * 1024 * 1024;

/// Bytes read at a time: a multiple of 3, so that each block encodes to base64 on its own.
const BLOCK: usize = 3 * 64 * 1024;

/// What the body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// A PDF document (`application/pdf`).
    Pdf,
    /// Plain text in UTF-8 (`text/plain`).
    Text,
}

impl Content {
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Text => "text/plain",
        }
    }
}

/// Why a level-1 document was not built.
#[derive(Debug, thiserror::Error)]
pub enum Level1Error {
    #[error("the {kind} content is empty: give the file of the document")]
    Empty { kind: &'static str },
    #[error(
        "the content has {size} bytes, over the limit of {max}: split the document or raise the configured limit"
    )]
    TooLarge { size: u64, max: u64 },
    #[error(
        "the content is not a PDF (a PDF starts with %PDF-): give the PDF file itself, or use plain text"
    )]
    NotPdf,
    #[error("the text is not valid UTF-8 (at byte {offset}): convert it to UTF-8 first")]
    NotUtf8 { offset: u64 },
    #[error(
        "the content had {read} bytes where {declared} were announced: the file changed while it was read; try again"
    )]
    LengthChanged { declared: u64, read: u64 },
    #[error("cannot read the content: {0}")]
    Read(#[source] io::Error),
    #[error(transparent)]
    Cda(#[from] CdaError),
}

/// Writes a level-1 document to `out`: `header`, then `content_len` bytes of `content` of
/// the given kind. The length (from the file's metadata) lets an empty or too large content
/// be refused before anything is written; the first block is read and checked (PDF
/// signature, UTF-8) before anything is written too. A failure later (the reader failing
/// midway) leaves `out` incomplete: discard it — [`build_file`] does.
pub fn write<W: Write, R: Read>(
    out: W,
    header: &DocumentHeader,
    kind: Content,
    mut content: R,
    content_len: u64,
    max_bytes: u64,
) -> Result<WrittenDocument<W>, Level1Error> {
    let kind_name = match kind {
        Content::Pdf => "PDF",
        Content::Text => "text",
    };
    if content_len == 0 {
        return Err(Level1Error::Empty { kind: kind_name });
    }
    if content_len > max_bytes {
        return Err(Level1Error::TooLarge {
            size: content_len,
            max: max_bytes,
        });
    }
    let mut block = vec![0u8; BLOCK];
    let mut filled = fill(&mut content, &mut block)?;
    if filled == 0 {
        return Err(Level1Error::Empty { kind: kind_name });
    }
    let mut utf8 = Utf8Check::default();
    match kind {
        Content::Pdf if !block[..filled].starts_with(b"%PDF-") => return Err(Level1Error::NotPdf),
        Content::Pdf => {}
        Content::Text => utf8.feed(&block[..filled])?,
    }
    let mut encoded = vec![0u8; BLOCK / 3 * 4];
    write_document(out, header, &[XDS_SD], |w: &mut CdaWriter<W>| {
        w.start("nonXMLBody", &[])?;
        w.start(
            "text",
            &[("mediaType", kind.media_type()), ("representation", "B64")],
        )?;
        let mut read = 0u64;
        loop {
            read += filled as u64;
            if read > content_len {
                return Err(Level1Error::LengthChanged {
                    declared: content_len,
                    read,
                });
            }
            // Full blocks are multiples of 3; only the last one may carry padding.
            let n = STANDARD
                .encode_slice(&block[..filled], &mut encoded)
                .map_err(|e| CdaError::Write(e.to_string()))?;
            w.raw_ascii(&encoded[..n])?;
            if filled < BLOCK {
                break;
            }
            filled = fill(&mut content, &mut block)?;
            if filled == 0 {
                break;
            }
            if kind == Content::Text {
                utf8.feed(&block[..filled])?;
            }
        }
        if read != content_len {
            return Err(Level1Error::LengthChanged {
                declared: content_len,
                read,
            });
        }
        utf8.finish()?;
        w.end()?;
        w.end()?;
        Ok(())
    })
}

/// Builds the level-1 document of the file `input` into the file `output`, all or nothing:
/// written beside `output` under a temporary name, renamed only once complete.
pub fn build_file(
    input: &Path,
    output: &Path,
    header: &DocumentHeader,
    kind: Content,
    max_bytes: u64,
) -> Result<WrittenDocument<()>, Level1Error> {
    let file = std::fs::File::open(input).map_err(Level1Error::Read)?;
    let len = file.metadata().map_err(Level1Error::Read)?.len();
    let mut partial = output.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let result = (|| {
        let out = std::fs::File::create(&partial)
            .map_err(|e| CdaError::Write(format!("{}: {e}", partial.display())))?;
        let written = write(io::BufWriter::new(out), header, kind, file, len, max_bytes)?;
        let out = written
            .out
            .into_inner()
            .map_err(|e| CdaError::Write(e.to_string()))?;
        out.sync_all().map_err(|e| CdaError::Write(e.to_string()))?;
        std::fs::rename(&partial, output)
            .map_err(|e| CdaError::Write(format!("{}: {e}", output.display())))?;
        Ok(WrittenDocument {
            out: (),
            sha1: written.sha1,
            size: written.size,
        })
    })();
    if result.is_err() {
        // Best effort: the partial file may not exist (refused before creation).
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Reads until `buf` is full or the reader ends; the count read.
fn fill<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize, Level1Error> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Level1Error::Read(e)),
        }
    }
    Ok(n)
}

/// UTF-8 validation across blocks: a character cut at a block's end is completed by the
/// next block.
#[derive(Default)]
struct Utf8Check {
    pending: Vec<u8>,
    offset: u64,
}

impl Utf8Check {
    fn feed(&mut self, mut block: &[u8]) -> Result<(), Level1Error> {
        if !self.pending.is_empty() {
            // Complete the cut character byte by byte from this block.
            let mut used = 0;
            loop {
                match std::str::from_utf8(&self.pending) {
                    Ok(_) => break,
                    Err(e) if e.error_len().is_some() => {
                        return Err(Level1Error::NotUtf8 {
                            offset: self.offset,
                        });
                    }
                    Err(_) if used == block.len() => return Ok(()),
                    Err(_) => {
                        self.pending.push(block[used]);
                        used += 1;
                    }
                }
            }
            self.offset += self.pending.len() as u64;
            self.pending.clear();
            block = &block[used..];
        }
        match std::str::from_utf8(block) {
            Ok(_) => self.offset += block.len() as u64,
            Err(e) if e.error_len().is_none() => {
                self.offset += e.valid_up_to() as u64;
                self.pending.extend_from_slice(&block[e.valid_up_to()..]);
            }
            Err(e) => {
                return Err(Level1Error::NotUtf8 {
                    offset: self.offset + e.valid_up_to() as u64,
                });
            }
        }
        Ok(())
    }

    fn finish(&self) -> Result<(), Level1Error> {
        if self.pending.is_empty() {
            Ok(())
        } else {
            Err(Level1Error::NotUtf8 {
                offset: self.offset,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_in_blocks(bytes: &[u8], size: usize) -> Result<(), Level1Error> {
        let mut c = Utf8Check::default();
        for chunk in bytes.chunks(size) {
            c.feed(chunk)?;
        }
        c.finish()
    }

    #[test]
    fn utf8_cut_anywhere_is_accepted() {
        let text = "Lettre de liaison — Mme PAT-DOUZE, née le 21/03/1948 ✓ 𝄞".as_bytes();
        for size in 1..8 {
            check_in_blocks(text, size).unwrap();
        }
    }

    #[test]
    fn invalid_utf8_is_found_at_its_offset() {
        let mut bytes = b"abc".to_vec();
        bytes.push(0xff);
        bytes.extend_from_slice(b"def");
        for size in 1..5 {
            match check_in_blocks(&bytes, size) {
                Err(Level1Error::NotUtf8 { offset }) => assert_eq!(offset, 3, "block {size}"),
                other => panic!("block {size}: {other:?}"),
            }
        }
        // A character cut at the very end.
        let cut = &"é".as_bytes()[..1];
        assert!(matches!(
            check_in_blocks(cut, 1),
            Err(Level1Error::NotUtf8 { offset: 0 })
        ));
    }
}
