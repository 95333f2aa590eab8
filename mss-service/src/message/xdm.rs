//! The document's attachments, built once and shared by every audience's message: the
//! `IHE_XDM.zip` of the CDA(s) (clinical-documents' XDM, from the facts the CDA writer
//! computed) and, for a PDF letter, the PDF itself — both already base64-encoded, in buffers
//! the messages point to (no copy per message). Also what the headers and the subject say of
//! the documents: `X-MSS-CODECDA`, the type's label, the patient's names.
//!
//! Memory, for a PDF of size P: its CDA is about 1.33 P and the zip about the same deflated
//! (≈ P: base64 text deflates to three quarters); the encoded zip and PDF are 1.37 P each.
//! Each source is dropped once encoded, in the order that keeps the fewest alive: the zip is
//! written, the CDA dropped, the zip encoded and dropped, then the PDF encoded (and dropped,
//! when given away). Besides the PDF, the peak is about 2.8 P (the encoded zip and PDF at the
//! end; CDA + zip before); counting it, 3.8 P. What stays for the messages is 2.75 P,
//! whatever the number of audiences.

use bytes::Bytes;
use passerelle_clinical_documents::codes::Code;
use passerelle_clinical_documents::header::DocumentHeader;
use passerelle_clinical_documents::ids::DocumentIds;
use passerelle_clinical_documents::letter::Cda;
use passerelle_clinical_documents::xdm::{self, XdmDocument, XdmError};
use passerelle_clinical_documents::xds::{SubmissionSetInput, unique_id};
use time::OffsetDateTime;

use super::mime;

/// The file name MSSanté gives the XDM package.
pub const XDM_FILE: &str = "IHE_XDM.zip";
pub const ZIP: &str = "application/zip";
pub const PDF: &str = "application/pdf";

/// A document to attach: its header, its CDA (taken: dropped once zipped) and, for a PDF
/// letter, the PDF (attached as well; dropped once encoded).
#[derive(Debug)]
pub struct AttachedDocument<'a> {
    pub header: &'a DocumentHeader,
    pub cda: Cda,
    pub pdf: Option<Bytes>,
}

/// An attachment, encoded.
#[derive(Clone)]
pub(crate) struct Encoded {
    pub file_name: String,
    pub media_type: &'static str,
    /// Decoded size.
    pub size: u64,
    /// Base64 lines, CRLF-ended.
    pub base64: Bytes,
}

/// The attachments of the documents of a send, and what the messages say of them.
#[derive(Clone)]
pub struct DocumentAttachments {
    pub(crate) xdm: Encoded,
    pub(crate) pdfs: Vec<Encoded>,
    xdm_entries: Vec<String>,
    codecda: String,
    label: String,
    titles: Vec<String>,
    patient: Option<String>,
}

impl std::fmt::Debug for DocumentAttachments {
    // Names and sizes only: the patient's names stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentAttachments")
            .field("xdm_size", &self.xdm.size)
            .field("xdm_entries", &self.xdm_entries)
            .field(
                "pdfs",
                &self.pdfs.iter().map(|p| p.size).collect::<Vec<_>>(),
            )
            .field("codecda", &self.codecda)
            .finish()
    }
}

/// The submission set of an XDM package sent with `key`: its unique id derived from the key
/// (a retry packs the same set), `source_id` the OID of the sending system.
pub fn submission_set(
    key: &str,
    source_id: &str,
    time: OffsetDateTime,
    content_type: Code,
) -> Result<SubmissionSetInput, passerelle_clinical_documents::ids::IdError> {
    let ids = DocumentIds::from_key(&format!("mss-xdm-set/{key}"))?;
    Ok(SubmissionSetInput {
        unique_id: unique_id(&ids.id),
        source_id: source_id.to_owned(),
        submission_time: time,
        content_type,
    })
}

/// The submission set's content type when the caller has none of its own: the one the DMP
/// deposits use (JDV J59 `04`).
pub fn default_content_type() -> Code {
    Code::new("04", "1.2.250.1.213.2.2", "Hospitalisation de jour")
}

impl DocumentAttachments {
    /// Packs the documents (one patient) into one `IHE_XDM.zip` and encodes it and the PDFs.
    pub fn new(
        documents: Vec<AttachedDocument<'_>>,
        set: &SubmissionSetInput,
    ) -> Result<Self, XdmError> {
        let first = documents.first().ok_or(XdmError::NoDocument)?.header;
        let mut codes: Vec<String> = Vec::new();
        for d in &documents {
            if !codes.contains(&d.header.type_code.code) {
                codes.push(d.header.type_code.code.clone());
            }
        }
        let label = match documents.len() {
            1 => first.type_code.display.clone(),
            n => format!("{n} documents"),
        };
        let titles = documents.iter().map(|d| d.header.title.clone()).collect();
        let patient = first.patient.identity.traits.as_ref().map(|t| {
            let given = t.first_names.first().map(|n| n.as_str()).unwrap_or("");
            let b = t.birth_date;
            format!(
                "{} {given} {:02}/{:02}/{:04}",
                t.birth_name.as_str(),
                b.day(),
                b.month(),
                b.year()
            )
        });

        // The zip first, then the CDAs dropped before anything else is encoded; the PDFs
        // last, each dropped once encoded (when the caller gave it away).
        let package = {
            let xdm_documents: Vec<XdmDocument<'_>> = documents
                .iter()
                .map(|d| XdmDocument {
                    header: d.header,
                    cda: &d.cda.bytes,
                    facts: &d.cda.facts,
                })
                .collect();
            xdm::package_documents(&xdm_documents, set)?
        };
        let pdfs_to_encode: Vec<(&DocumentHeader, Bytes)> = documents
            .into_iter()
            .filter_map(|d| d.pdf.map(|pdf| (d.header, pdf)))
            .collect();
        let xdm = Encoded {
            file_name: XDM_FILE.to_owned(),
            media_type: ZIP,
            size: package.zip.len() as u64,
            base64: mime::base64_lines(&package.zip),
        };
        drop(package.zip);
        let mut pdfs: Vec<Encoded> = Vec::with_capacity(pdfs_to_encode.len());
        for (header, pdf) in pdfs_to_encode {
            let file_name = unique_name(&pdf_file_name(header), &pdfs);
            pdfs.push(Encoded {
                file_name,
                media_type: PDF,
                size: pdf.len() as u64,
                base64: mime::base64_lines(&pdf),
            });
        }
        Ok(Self {
            xdm,
            pdfs,
            xdm_entries: package.entries,
            codecda: codes.join(","),
            label,
            titles,
            patient,
        })
    }

    /// `X-MSS-CODECDA`: the CDA type codes, comma-separated, each once.
    pub fn codecda(&self) -> &str {
        &self.codecda
    }

    /// The entries of the `IHE_XDM.zip`, in order.
    pub fn xdm_entries(&self) -> &[String] {
        &self.xdm_entries
    }

    /// The professionals' subject by convention: `XDM/1.0/DDM+<label> <NAME> <given name>
    /// <DD/MM/YYYY>` — the label the type's display name (one document) or `N documents`.
    pub(crate) fn professional_subject(&self) -> String {
        match &self.patient {
            Some(p) => format!("XDM/1.0/DDM+{} {p}", self.label),
            None => format!("XDM/1.0/DDM+{}", self.label),
        }
    }

    /// The patient's subject by default: the document's title (or `N documents`).
    pub(crate) fn patient_subject(&self) -> String {
        match self.titles.as_slice() {
            [one] => one.clone(),
            many => format!("{} documents", many.len()),
        }
    }
}

/// `YYYYMMDD_<title>.pdf`, the title cleaned of what file systems refuse; the patient is not
/// named (the official examples do; the subject already does for professionals).
fn pdf_file_name(header: &DocumentHeader) -> String {
    let d = header.effective_time;
    let title: String = header
        .title
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    let title: String = title.chars().take(80).collect();
    let title = if title.is_empty() {
        "document".to_owned()
    } else {
        title
    };
    format!(
        "{:04}{:02}{:02}_{title}.pdf",
        d.year(),
        u8::from(d.month()),
        d.day()
    )
}

/// `name`, or `name (2)`… when an earlier attachment has it.
fn unique_name(name: &str, earlier: &[Encoded]) -> String {
    let taken = |n: &str| earlier.iter().any(|e| e.file_name == n);
    if !taken(name) {
        return name.to_owned();
    }
    let stem = name.strip_suffix(".pdf").unwrap_or(name);
    (2..)
        .map(|i| format!("{stem} ({i}).pdf"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| name.to_owned())
}
