//! The extraction file of the MSSanté mailboxes (`Extraction_Correspondance_MSSante`): a zip
//! holding one `.txt`, or that `.txt`; one header line, then one mailbox a line, fields
//! separated by `|`.
//!
//! Columns are found by their header name (case, accents and punctuation ignored), never by
//! position: only `Type de BAL` and `Adresse BAL` are required, every other column may be
//! missing. A trailing `|`, `\r\n` and a byte-order mark are tolerated; a line that is not
//! UTF-8 is read as Latin-1. A line that cannot be a mailbox is rejected with its number and
//! the reason, and the import goes on.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{MailboxType, search_key};

/// The header names (as published; compared through [`search_key`]).
pub mod columns {
    pub const MAILBOX_TYPE: &str = "Type de BAL";
    pub const ADDRESS: &str = "Adresse BAL";
    pub const PP_ID_TYPE: &str = "Type Identifiant PP";
    pub const PP_ID: &str = "Identifiant PP";
    pub const PP_NATIONAL_ID: &str = "Identification nationale PP";
    pub const STRUCTURE_ID_TYPE: &str = "Type identifiant structure";
    pub const STRUCTURE_ID: &str = "Identification Structure";
    pub const SERVICE: &str = "Service de rattachement";
    pub const CIVILITY: &str = "Civilité d'exercice";
    pub const LAST_NAME: &str = "Nom d'exercice";
    pub const FIRST_NAME: &str = "Prénom d'exercice";
    pub const PROFESSION_CODE: &str = "Code Profession";
    pub const PROFESSION_LABEL: &str = "Libellé Profession";
    pub const STRUCTURE_NAME: &str = "Raison Sociale structure BAL";
    pub const STRUCTURE_BRAND: &str = "Enseigne commerciale structure BAL";
}

/// Longest line read; longer ones are rejected (real lines are a few hundred bytes).
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Rejected lines listed in a report (all are counted).
pub const MAX_REPORTED_REJECTIONS: usize = 1000;

/// The file cannot be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum ExtractionError {
    #[error("cannot read the extraction file: {reason}")]
    Read { reason: String },
    #[error("the zip holds no .txt file (entries: {entries})")]
    NoTextInZip { entries: String },
    #[error("the extraction file is empty (no header line)")]
    Empty,
    #[error(
        "the header line lacks the column(s) {missing}: not an MSSanté extraction file (columns found: {found})"
    )]
    MissingColumns { missing: String, found: String },
}

fn read_error(e: impl std::fmt::Display) -> ExtractionError {
    ExtractionError::Read {
        reason: e.to_string(),
    }
}

/// A line that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedLine {
    /// In the file, 1 = the header.
    pub line: usize,
    pub reason: String,
}

/// One mailbox of the file, as kept in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractionRecord {
    pub address: String,
    pub mailbox_type: MailboxType,
    /// 11 digits, or empty (a structure's mailbox, a professional known by ADELI only).
    pub rpps: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub national_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub first_name: String,
    /// Label, else code.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profession: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub structure_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub structure_id: String,
}

/// What the import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The text file read (the zip's entry, or the file's name).
    pub source: String,
    /// Data lines read (the header and blank lines not counted).
    pub lines: usize,
    /// Distinct addresses now in the index.
    pub mailboxes: usize,
    /// Lines repeating an address already read (the first one is kept).
    pub duplicates: usize,
    /// Lines rejected (all counted; the first [`MAX_REPORTED_REJECTIONS`] listed).
    pub rejected: usize,
    pub rejected_lines: Vec<RejectedLine>,
    /// Lines that were not UTF-8 and were read as Latin-1.
    pub latin1_lines: usize,
}

impl ImportReport {
    pub(crate) fn reject(&mut self, rejected: RejectedLine) {
        self.rejected += 1;
        if self.rejected_lines.len() < MAX_REPORTED_REJECTIONS {
            self.rejected_lines.push(rejected);
        }
    }
}

/// Opens the file (a zip: its first `.txt` entry) and hands its text to `read`, with its name.
pub fn with_text<T>(
    path: &Path,
    read: impl FnOnce(&mut dyn BufRead, &str) -> T,
) -> Result<T, ExtractionError> {
    let mut file = File::open(path).map_err(|e| read_error(format!("{}: {e}", path.display())))?;
    let mut magic = [0u8; 4];
    let n = read_prefix(&mut file, &mut magic)?;
    file.seek(SeekFrom::Start(0)).map_err(read_error)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if n == 4 && magic == *b"PK\x03\x04" {
        let mut archive =
            zip::ZipArchive::new(file).map_err(|e| read_error(format!("zip: {e}")))?;
        let names: Vec<String> = archive
            .file_names()
            .filter_map(Result::ok)
            .map(|n| n.into_owned())
            .collect();
        let Some(index) = (0..archive.len()).find(|&i| {
            archive
                .name_for_index(i)
                .and_then(Result::ok)
                .is_some_and(|n| n.to_ascii_lowercase().ends_with(".txt"))
        }) else {
            return Err(ExtractionError::NoTextInZip {
                entries: names.join(", "),
            });
        };
        let entry = archive
            .by_index(index)
            .map_err(|e| read_error(format!("zip: {e}")))?;
        let name = entry.name().map(|n| n.into_owned()).unwrap_or(file_name);
        let mut reader = BufReader::with_capacity(256 * 1024, entry);
        Ok(read(&mut reader, &name))
    } else {
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        Ok(read(&mut reader, &file_name))
    }
}

fn read_prefix(file: &mut File, buf: &mut [u8]) -> Result<usize, ExtractionError> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_error(e)),
        }
    }
    Ok(n)
}

/// A line's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Record(Box<ExtractionRecord>),
    Rejected(RejectedLine),
}

#[derive(Debug, Default)]
struct Columns {
    mailbox_type: usize,
    address: usize,
    pp_id_type: Option<usize>,
    pp_id: Option<usize>,
    pp_national_id: Option<usize>,
    structure_id: Option<usize>,
    service: Option<usize>,
    last_name: Option<usize>,
    first_name: Option<usize>,
    profession_code: Option<usize>,
    profession_label: Option<usize>,
    structure_name: Option<usize>,
    structure_brand: Option<usize>,
}

/// Reads the file line by line.
pub struct Parser<'r> {
    reader: &'r mut dyn BufRead,
    columns: Columns,
    /// Fields a line must have to reach the required columns.
    required_fields: usize,
    line_no: usize,
    buf: Vec<u8>,
    /// Data lines read, and how many of them were Latin-1.
    pub lines: usize,
    pub latin1_lines: usize,
}

impl<'r> Parser<'r> {
    /// Reads the header line.
    pub fn new(reader: &'r mut dyn BufRead) -> Result<Self, ExtractionError> {
        let mut parser = Self {
            reader,
            columns: Columns::default(),
            required_fields: 0,
            line_no: 0,
            buf: Vec::new(),
            lines: 0,
            latin1_lines: 0,
        };
        let header = loop {
            match parser.read_line()? {
                None => return Err(ExtractionError::Empty),
                Some(Line::TooLong) => {
                    return Err(ExtractionError::MissingColumns {
                        missing: format!("{}, {}", columns::MAILBOX_TYPE, columns::ADDRESS),
                        found: "(a header line longer than 64 KiB)".into(),
                    });
                }
                Some(Line::Text(t)) if t.trim().is_empty() => continue,
                Some(Line::Text(t)) => break t,
            }
        };
        let names: Vec<String> = header.split('|').map(|h| h.trim().to_owned()).collect();
        let keys: Vec<String> = names.iter().map(|n| search_key(n)).collect();
        let find = |name: &str| {
            let key = search_key(name);
            keys.iter().position(|k| *k == key)
        };
        let (Some(mailbox_type), Some(address)) =
            (find(columns::MAILBOX_TYPE), find(columns::ADDRESS))
        else {
            let missing: Vec<&str> = [columns::MAILBOX_TYPE, columns::ADDRESS]
                .into_iter()
                .filter(|c| find(c).is_none())
                .collect();
            return Err(ExtractionError::MissingColumns {
                missing: missing.join(", "),
                found: names
                    .iter()
                    .filter(|n| !n.is_empty())
                    .take(40)
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        parser.required_fields = mailbox_type.max(address) + 1;
        parser.columns = Columns {
            mailbox_type,
            address,
            pp_id_type: find(columns::PP_ID_TYPE),
            pp_id: find(columns::PP_ID),
            pp_national_id: find(columns::PP_NATIONAL_ID),
            structure_id: find(columns::STRUCTURE_ID),
            service: find(columns::SERVICE),
            last_name: find(columns::LAST_NAME),
            first_name: find(columns::FIRST_NAME),
            profession_code: find(columns::PROFESSION_CODE),
            profession_label: find(columns::PROFESSION_LABEL),
            structure_name: find(columns::STRUCTURE_NAME),
            structure_brand: find(columns::STRUCTURE_BRAND),
        };
        Ok(parser)
    }

    fn read_line(&mut self) -> Result<Option<Line>, ExtractionError> {
        self.buf.clear();
        let n = (&mut *self.reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut self.buf)
            .map_err(read_error)?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        if self.buf.len() > MAX_LINE_BYTES && self.buf.last() != Some(&b'\n') {
            // Skip the rest of the line.
            loop {
                self.buf.clear();
                let k = (&mut *self.reader)
                    .take(MAX_LINE_BYTES as u64)
                    .read_until(b'\n', &mut self.buf)
                    .map_err(read_error)?;
                if k == 0 || self.buf.last() == Some(&b'\n') {
                    break;
                }
            }
            return Ok(Some(Line::TooLong));
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        let mut bytes = self.buf.as_slice();
        if self.line_no == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        Ok(Some(Line::Text(match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(_) => {
                self.latin1_lines += 1;
                bytes.iter().map(|&b| char::from(b)).collect()
            }
        })))
    }

    /// The next data line's outcome; `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<Parsed>, ExtractionError> {
        loop {
            let text = match self.read_line()? {
                None => return Ok(None),
                Some(Line::TooLong) => {
                    self.lines += 1;
                    return Ok(Some(
                        self.rejected(format!("longer than {MAX_LINE_BYTES} bytes")),
                    ));
                }
                Some(Line::Text(t)) => t,
            };
            if text.trim().is_empty() {
                continue;
            }
            self.lines += 1;
            return Ok(Some(self.parse(&text)));
        }
    }

    fn rejected(&self, reason: String) -> Parsed {
        Parsed::Rejected(RejectedLine {
            line: self.line_no,
            reason,
        })
    }

    fn parse(&self, text: &str) -> Parsed {
        let fields: Vec<&str> = text.split('|').map(str::trim).collect();
        if fields.len() < self.required_fields {
            return self.rejected(format!(
                "{} field(s), the header has {} or more (is the line cut, or not |-separated?)",
                fields.len(),
                self.required_fields
            ));
        }
        let c = &self.columns;
        let get = |i: Option<usize>| i.and_then(|i| fields.get(i)).copied().unwrap_or("");
        let type_text = fields[c.mailbox_type];
        let Some(mailbox_type) = MailboxType::from_code(type_text) else {
            return self.rejected(format!(
                "{} {:?} is not PER, ORG, APP or CAB",
                columns::MAILBOX_TYPE,
                type_text.chars().take(20).collect::<String>()
            ));
        };
        let address = fields[c.address];
        if let Err(problem) = check_address(address) {
            return self.rejected(format!("{}: {problem}", columns::ADDRESS));
        }
        let national_id = get(c.pp_national_id);
        let pp_id = get(c.pp_id);
        let pp_id_type = get(c.pp_id_type);
        // Never rejected for a check digit: directory data is taken as given.
        let rpps = national_id
            .strip_prefix('8')
            .filter(|r| is_rpps_shape(r))
            .or_else(|| {
                (matches!(pp_id_type, "8" | "RPPS") && is_rpps_shape(pp_id)).then_some(pp_id)
            })
            .unwrap_or_default();
        let national_id = if national_id.is_empty() && !rpps.is_empty() {
            format!("8{rpps}")
        } else {
            national_id.to_owned()
        };
        let label = get(c.profession_label);
        let structure_name = match get(c.structure_name) {
            "" => get(c.structure_brand),
            name => name,
        };
        Parsed::Record(Box::new(ExtractionRecord {
            address: address.to_owned(),
            mailbox_type,
            rpps: rpps.to_owned(),
            national_id,
            last_name: get(c.last_name).to_owned(),
            first_name: get(c.first_name).to_owned(),
            profession: if label.is_empty() {
                get(c.profession_code).to_owned()
            } else {
                label.to_owned()
            },
            service: get(c.service).to_owned(),
            structure_name: structure_name.to_owned(),
            structure_id: get(c.structure_id).to_owned(),
        }))
    }
}

enum Line {
    Text(String),
    TooLong,
}

fn is_rpps_shape(s: &str) -> bool {
    s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An e-mail address's shape (what the directory's addresses all have); the reason names no
/// part of the address.
pub fn check_address(address: &str) -> Result<(), &'static str> {
    if address.is_empty() {
        return Err("empty");
    }
    if address.len() > 254 {
        return Err("longer than 254 characters");
    }
    if address
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
    {
        return Err("holds a space or a character an address cannot");
    }
    let Some((local, domain)) = address.split_once('@') else {
        return Err("no @");
    };
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return Err("not local@domain");
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err("the domain is not a domain name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Type de BAL|Adresse BAL|Type Identifiant PP|Identifiant PP|Identification nationale PP|Type identifiant structure|Identification Structure|Service de rattachement|Civilité d'exercice|Nom d'exercice|Prénom d'exercice|Catégorie profession|Libellé de catégorie profession|Code Profession|Libellé Profession|Code savoir-faire|Libellé savoir-faire|Dématérialisation|Raison Sociale structure BAL|Enseigne commerciale structure BAL|L2COMPLEMENTLOCALISATION|L3COMPLEMENTDISTRIBUTION|L4NUMEROVOIE|L4COMPLEMENTNUMEROVOIE|NL4TYPEVOIE|L4LIBELLEVOIE|L5LIEUDITMENTION|L6LIGNEACHEMINEMENT|Code postal|Département|Pays|";

    fn parse_all(text: &[u8]) -> Result<Vec<Parsed>, ExtractionError> {
        let mut reader: &[u8] = text;
        let mut parser = Parser::new(&mut reader)?;
        let mut out = Vec::new();
        while let Some(p) = parser.next_line()? {
            out.push(p);
        }
        Ok(out)
    }

    #[test]
    fn lines_by_header_name_with_rpps_from_the_national_id() {
        let text = format!(
            "\u{feff}{HEADER}\r\nPER|jean.fouquerey@passerelle-sandbox.mssante.fr|8|99900063480|899900063480|||||FOUQUEREY|Jean|C|Civil|10|Médecin|SM54|Médecine générale|O|CABINET DU DR FOUQUEREY||||||||||75001|75|FRANCE|\r\n"
        );
        let parsed = parse_all(text.as_bytes()).unwrap();
        let [Parsed::Record(r)] = parsed.as_slice() else {
            panic!("{parsed:?}");
        };
        assert_eq!(r.rpps, "99900063480");
        assert_eq!(r.national_id, "899900063480");
        assert_eq!(r.mailbox_type, MailboxType::Personal);
        assert_eq!(
            (r.last_name.as_str(), r.first_name.as_str()),
            ("FOUQUEREY", "Jean")
        );
        assert_eq!(r.profession, "Médecin");
        assert_eq!(r.structure_name, "CABINET DU DR FOUQUEREY");
    }

    #[test]
    fn columns_in_another_order_and_missing_optional_ones() {
        let text = "adresse bal|NOM D'EXERCICE|type de bal\nORG|secretariat@x.mssante.fr|\nsecretariat@x.mssante.fr|CDS|ORG\n";
        let parsed = parse_all(text.as_bytes()).unwrap();
        assert!(
            matches!(&parsed[0], Parsed::Rejected(RejectedLine { line: 2, reason })
            if reason.starts_with("Type de BAL")),
            "{parsed:?}"
        );
        let Parsed::Record(r) = &parsed[1] else {
            panic!("{parsed:?}")
        };
        assert_eq!(r.address, "secretariat@x.mssante.fr");
        assert_eq!(r.rpps, "");
    }

    #[test]
    fn a_file_without_the_required_columns_is_refused() {
        let e = parse_all(b"Nom|Prenom\nA|B\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the header line lacks the column(s) Type de BAL, Adresse BAL: not an MSSanté extraction file (columns found: Nom, Prenom)"
        );
        assert!(matches!(parse_all(b""), Err(ExtractionError::Empty)));
    }

    #[test]
    fn latin1_lines_are_read() {
        let mut text = b"Type de BAL|Adresse BAL|Nom d'exercice\nPER|a@x.mssante.fr|B".to_vec();
        text.push(0xC9); // É in Latin-1
        text.extend_from_slice(b"RARD\n");
        let parsed = parse_all(&text).unwrap();
        let Parsed::Record(r) = &parsed[0] else {
            panic!()
        };
        assert_eq!(r.last_name, "BÉRARD");
    }

    #[test]
    fn addresses_are_checked_for_shape() {
        assert!(check_address("a.b@x.mssante.fr").is_ok());
        for bad in [
            "",
            "a",
            "a@",
            "@x.fr",
            "a@b@c.fr",
            "a b@x.fr",
            "a@localhost",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }
}
