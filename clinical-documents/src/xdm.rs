//! The IHE XDM package MSSanté attaches as `IHE_XDM.zip`: `INDEX.HTM` and `README.TXT` at
//! the root, then `IHE_XDM/SUBSET01/` with `METADATA.XML` (the ebRIM 3.0
//! `SubmitObjectsRequest` of the document, with its `URI`, `size` and `hash`) and the
//! document itself.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;

use crate::header::DocumentHeader;
use crate::xds::{
    ContentFacts, DocumentFormat, MetadataTarget, Submission, SubmissionSetInput, XdsError,
};

/// The document's file name in the subset folder.
pub const DOCUMENT_FILE: &str = "DOC0001.XML";
const SUBSET: &str = "IHE_XDM/SUBSET01/";

/// Why a package could not be built.
#[derive(Debug, thiserror::Error)]
pub enum XdmError {
    #[error(transparent)]
    Metadata(#[from] XdsError),
    #[error("writing the zip package failed: {0}")]
    Zip(String),
}

fn zip_err(e: impl std::fmt::Display) -> XdmError {
    XdmError::Zip(e.to_string())
}

/// An XDM package of one CDA document (`cda`, the bytes registered), with its metadata
/// derived from `header`. Returns the zip bytes.
pub fn package(
    header: &DocumentHeader,
    cda: &[u8],
    format: DocumentFormat,
    set: &SubmissionSetInput,
) -> Result<Vec<u8>, XdmError> {
    let facts = ContentFacts::of_cda(cda, format);
    let submission = Submission::from_header(header, &facts, set)?;
    let metadata = submission.submit_objects_request(MetadataTarget::Xdm { uri: DOCUMENT_FILE })?;

    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut add = |name: &str, bytes: &[u8]| -> Result<(), XdmError> {
        zip.start_file(name, options).map_err(zip_err)?;
        zip.write_all(bytes).map_err(zip_err)
    };
    add("INDEX.HTM", index_htm(&submission).as_bytes())?;
    add("README.TXT", README.as_bytes())?;
    add(&format!("{SUBSET}METADATA.XML"), &metadata)?;
    add(&format!("{SUBSET}{DOCUMENT_FILE}"), cda)?;
    let cursor = zip.finish().map_err(zip_err)?;
    Ok(cursor.into_inner())
}

const README: &str = "\
IHE XDM package (IHE ITI TF-1 §16).\r
Written by Passerelle.\r
\r
IHE_XDM/SUBSET01/METADATA.XML  XDS metadata (ebRIM 3.0) of the document\r
IHE_XDM/SUBSET01/DOC0001.XML   the document (HL7 CDA R2)\r
\r
Open INDEX.HTM for the list of documents.\r
";

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The package's table of contents. It names the document by title and type only: the
/// patient's identity is in the document, not repeated here.
fn index_htm(s: &Submission) -> String {
    let d = &s.document;
    format!(
        "<!DOCTYPE html>\r\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>IHE XDM</title></head><body>\r\n\
<h1>IHE XDM</h1>\r\n<p><a href=\"README.TXT\">README.TXT</a></p>\r\n<ul>\r\n\
<li><a href=\"{SUBSET}{DOCUMENT_FILE}\">{}</a> ({})</li>\r\n</ul>\r\n</body></html>\r\n",
        html_escape(&d.title),
        html_escape(&d.type_code.display),
    )
}
