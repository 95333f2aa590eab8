//! A caller's file made into the CDA both services send: a letter (PDF or plain text) as a
//! CDA R2 level 1, or the VSM from its JSON input — with the XDS facts (SHA-1 and size)
//! computed while writing, so the DMP deposit and the MSSanté `IHE_XDM.zip` never hash the
//! document a second time.

use crate::cda::level1::{self, Content, Level1Error};
use crate::header::DocumentHeader;
use crate::vsm::{self, Vsm, VsmError};
use crate::xds::{ContentFacts, DocumentFormat};

/// Media types a letter may have.
pub const PDF: &str = "application/pdf";
pub const TEXT: &str = "text/plain";

/// A written CDA and its XDS facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cda {
    pub bytes: Vec<u8>,
    pub facts: ContentFacts,
}

/// Why a letter's CDA was not written.
#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    #[error(
        "the document is {0:?}: a letter is a PDF (application/pdf) or a text (text/plain, UTF-8)"
    )]
    MediaType(String),
    #[error("the letter: {0}")]
    Level1(#[from] Level1Error),
    #[error("the VSM: {0}")]
    Vsm(#[from] VsmError),
}

/// The kind of letter a media type names (`text/plain; charset=utf-8` is text), if any.
pub fn content_of(media_type: &str) -> Option<Content> {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        PDF => Some(Content::Pdf),
        TEXT => Some(Content::Text),
        _ => None,
    }
}

/// A letter of media type `media_type` (PDF or text) as a CDA level 1.
pub fn letter_cda(
    header: &DocumentHeader,
    media_type: &str,
    content: &[u8],
) -> Result<Cda, LetterError> {
    let kind = content_of(media_type).ok_or_else(|| LetterError::MediaType(media_type.into()))?;
    Ok(level1_cda(header, kind, content)?)
}

/// A level-1 CDA around `content` of the given kind.
pub fn level1_cda(
    header: &DocumentHeader,
    kind: Content,
    content: &[u8],
) -> Result<Cda, Level1Error> {
    let format = match kind {
        Content::Pdf => DocumentFormat::CdaPdf,
        Content::Text => DocumentFormat::CdaText,
    };
    // The content travels base64 inside the CDA: 4/3 of it, plus the header.
    let mut cda = Vec::with_capacity(content.len() / 3 * 4 + 16 * 1024);
    let written = level1::write(
        &mut cda,
        header,
        kind,
        content,
        content.len() as u64,
        content.len() as u64,
    )?;
    let facts = facts_of(written.sha1, written.size, format);
    Ok(Cda { bytes: cda, facts })
}

/// The VSM, from its JSON input, as its structured CDA.
pub fn vsm_cda(header: &DocumentHeader, input: &[u8]) -> Result<Cda, VsmError> {
    let vsm = Vsm::from_json(input)?;
    let mut cda = Vec::with_capacity(32 * 1024);
    let written = vsm::write_document(&mut cda, header, &vsm)?;
    let facts = facts_of(written.sha1, written.size, DocumentFormat::Vsm);
    Ok(Cda { bytes: cda, facts })
}

fn facts_of(sha1: [u8; 20], size: u64, format: DocumentFormat) -> ContentFacts {
    ContentFacts {
        size,
        sha1_hex: hex::encode(sha1),
        mime_type: "text/xml".to_owned(),
        format,
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::testing::letter_42;

    #[test]
    fn the_facts_are_those_of_the_bytes_written() {
        let cda = letter_cda(
            &letter_42(),
            "text/plain; charset=UTF-8",
            "Bonjour".as_bytes(),
        )
        .unwrap();
        assert_eq!(
            cda.facts,
            ContentFacts::of_cda(&cda.bytes, DocumentFormat::CdaText)
        );
        let pdf = letter_cda(&letter_42(), "Application/PDF", b"%PDF-1.4 x").unwrap();
        assert_eq!(pdf.facts.format, DocumentFormat::CdaPdf);
    }

    #[test]
    fn other_media_types_are_refused() {
        let e = letter_cda(&letter_42(), "image/png", b"x").unwrap_err();
        assert!(matches!(&e, LetterError::MediaType(m) if m == "image/png"));
        assert!(e.to_string().contains("application/pdf"), "{e}");
    }
}
