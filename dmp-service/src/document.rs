//! The document of a deposit: made by the service kit's [`letters`](passerelle_service_kit::letters)
//! (shared with mss-service); what only the DMP needs — the version a CDA declares, for a
//! replacement — is here.

pub use passerelle_service_kit::letters::*;

use passerelle_clinical_documents::header::DocumentId;

/// The version a CDA document declares: its `setId` and `versionNumber`, which a replacement
/// keeps and increments. Read with quick-xml (no DTD, no entity expansion); `None` when the
/// document does not say (not a CDA).
pub fn declared_version(cda: &[u8]) -> Option<(DocumentId, u32)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::NsReader::from_reader(cda);
    let mut depth = 0usize;
    let mut set_id = None;
    let mut version = None;
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).ok()?;
        let (element, closes) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                (None, false)
            }
            Event::DocType(_) | Event::Eof => return None,
            _ => (None, false),
        };
        if let Some(e) = element {
            // Header elements are children of ClinicalDocument (depth 1).
            if depth == 1 {
                let attr = |name: &[u8]| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == name)
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                };
                match e.local_name().as_ref() {
                    b"setId" => {
                        set_id = attr(b"root").map(|root| DocumentId {
                            root,
                            extension: attr(b"extension"),
                        })
                    }
                    b"versionNumber" => version = attr(b"value").and_then(|v| v.parse().ok()),
                    b"component" => break,
                    _ => {}
                }
            }
            if !closes {
                depth += 1;
            }
        }
        buf.clear();
    }
    Some((set_id?, version?))
}
