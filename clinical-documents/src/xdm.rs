//! The IHE XDM package MSSanté attaches as `IHE_XDM.zip`: `INDEX.HTM` and `README.TXT` at
//! the root, then `IHE_XDM/SUBSET01/` with `METADATA.XML` (the ebRIM 3.0
//! `SubmitObjectsRequest` of the documents, each with its `URI`, `size` and `hash`) and the
//! documents themselves (`DOC0001.XML`, `DOC0002.XML`…).

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;

use crate::header::DocumentHeader;
use crate::xds::{
    ContentFacts, DepositSet, DocumentEntry, DocumentFormat, Submission, SubmissionSetInput,
    XdsError,
};

/// The first document's file name in the subset folder.
pub const DOCUMENT_FILE: &str = "DOC0001.XML";
/// The subset folder of the documents.
pub const SUBSET: &str = "IHE_XDM/SUBSET01/";
/// File names are `DOCnnnn.XML`: at most this many documents in a package.
pub const MAX_DOCUMENTS: usize = 9999;

/// Why a package could not be built.
#[derive(Debug, thiserror::Error)]
pub enum XdmError {
    #[error(transparent)]
    Metadata(#[from] XdsError),
    #[error("an XDM package needs at least one document")]
    NoDocument,
    #[error("{0} documents: an XDM package holds at most {MAX_DOCUMENTS}")]
    TooManyDocuments(usize),
    #[error("writing the zip package failed: {0}")]
    Zip(String),
}

fn zip_err(e: impl std::fmt::Display) -> XdmError {
    XdmError::Zip(e.to_string())
}

/// A document to package: its header, the CDA bytes registered and their facts (SHA-1 and
/// size, as the CDA writer computed them: they are not computed again).
#[derive(Debug, Clone, Copy)]
pub struct XdmDocument<'a> {
    pub header: &'a DocumentHeader,
    pub cda: &'a [u8],
    pub facts: &'a ContentFacts,
}

/// A written package: the zip and the names of its entries, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub zip: Vec<u8>,
    pub entries: Vec<String>,
}

/// The file name of the `n`-th document (from 1) in the subset folder: `DOC0001.XML`…
pub fn document_file(n: usize) -> String {
    format!("DOC{n:04}.XML")
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
    let document = XdmDocument {
        header,
        cda,
        facts: &facts,
    };
    Ok(package_documents(&[document], set)?.zip)
}

/// An XDM package of one or several CDA documents of one patient, in one submission set.
pub fn package_documents(
    documents: &[XdmDocument<'_>],
    set: &SubmissionSetInput,
) -> Result<Package, XdmError> {
    let (first, others) = documents.split_first().ok_or(XdmError::NoDocument)?;
    if documents.len() > MAX_DOCUMENTS {
        return Err(XdmError::TooManyDocuments(documents.len()));
    }
    let submission = Submission::from_header(first.header, first.facts, set)?;
    let mut deposit = DepositSet::new(&submission);
    let mut members = vec![deposit.members[0].id.clone()];
    for d in others {
        members.push(deposit.add_document(DocumentEntry::from_header(d.header, d.facts)?)?);
    }
    let files: Vec<String> = (1..=documents.len()).map(document_file).collect();
    let uris: Vec<(&str, &str)> = members
        .iter()
        .map(String::as_str)
        .zip(files.iter().map(String::as_str))
        .collect();
    let metadata = deposit.xdm_submit_objects_request(&uris)?;

    // At most the documents' size plus the small files: one allocation.
    let cda_bytes: usize = documents.iter().map(|d| d.cda.len()).sum();
    let capacity = cda_bytes + metadata.len() + 16 * 1024;
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(capacity)));
    let deflated =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    // A PDF's CDA is base64 of already-compressed bytes: deflate finds no repeats and only
    // entropy-codes the 64 symbols (−25 %) at ~30 ms per MB — 60 times the cost of the
    // base64 itself. Such a document is stored (ZIP method 0, which unzip and the XDM
    // validators read as well); text and the VSM compress well and are deflated.
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut entries = Vec::with_capacity(documents.len() + 3);
    let mut add =
        |name: String, bytes: &[u8], options: SimpleFileOptions| -> Result<(), XdmError> {
            zip.start_file(name.as_str(), options).map_err(zip_err)?;
            zip.write_all(bytes).map_err(zip_err)?;
            entries.push(name);
            Ok(())
        };
    add(
        "INDEX.HTM".into(),
        index_htm(&deposit, &files).as_bytes(),
        deflated,
    )?;
    add("README.TXT".into(), readme(&files).as_bytes(), deflated)?;
    add(format!("{SUBSET}METADATA.XML"), &metadata, deflated)?;
    for (d, file) in documents.iter().zip(&files) {
        let options = match d.facts.format {
            DocumentFormat::CdaPdf => stored,
            _ => deflated,
        };
        add(format!("{SUBSET}{file}"), d.cda, options)?;
    }
    let cursor = zip.finish().map_err(zip_err)?;
    Ok(Package {
        zip: cursor.into_inner(),
        entries,
    })
}

/// What IHE asks of the README: the package's creator and what is inside.
fn readme(files: &[String]) -> String {
    let mut s = format!(
        "IHE XDM package (IHE ITI TF-1 §16).\r\n\
Written by Passerelle {}, an open-source gateway to the French e-health services.\r\n\
\r\n\
{SUBSET}METADATA.XML  XDS metadata (ebRIM 3.0) of the documents\r\n",
        env!("CARGO_PKG_VERSION")
    );
    for f in files {
        s.push_str(&format!("{SUBSET}{f}   a document (HL7 CDA R2)\r\n"));
    }
    s.push_str("\r\nOpen INDEX.HTM for the list of documents.\r\n");
    s
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The package's table of contents. It names the documents by title and type only: the
/// patient's identity is in the documents, not repeated here.
fn index_htm(set: &DepositSet, files: &[String]) -> String {
    let mut s = String::from(
        "<!DOCTYPE html>\r\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>IHE XDM</title></head><body>\r\n\
<h1>IHE XDM</h1>\r\n<p><a href=\"README.TXT\">README.TXT</a></p>\r\n<ul>\r\n",
    );
    let documents = set.members.iter().filter(|m| !m.is_signature);
    for (m, file) in documents.zip(files) {
        s.push_str(&format!(
            "<li><a href=\"{SUBSET}{file}\">{}</a> ({})</li>\r\n",
            html_escape(&m.entry.title),
            html_escape(&m.entry.type_code.display),
        ));
    }
    s.push_str("</ul>\r\n</body></html>\r\n");
    s
}
