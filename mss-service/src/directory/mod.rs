//! The national directory (Annuaire Santé): a professional's MSSanté mailboxes, by RPPS or by
//! name, and the owner of an address, from two sources behind one [`Directory`]:
//!
//! - [`fhir`]: the FHIR API v2 (`Practitioner` with its `PractitionerRole`s, key
//!   `ESANTE-API-KEY`, paged, 17 calls/s) — fresh, needs a key and the network;
//! - [`extraction`] + [`index`]: the daily extraction file (`Extraction_Correspondance_MSSante`,
//!   `|`-separated) imported into a local index file — works offline, as old as the last import.
//!
//! One source is asked first ([`Preference`], `mss.directory.prefer`: the API unless said
//! otherwise); the other is asked when the first cannot answer (the API unreachable, 5xx,
//! timeout, rate limit; the file not imported or unreadable) or finds nobody. The two answers
//! are never merged. A refused key or a refused request is an error, never hidden by the
//! other source.
//!
//! Directory data is taken as it is: an RPPS whose check digit fails (there are some, e.g. the
//! ANS's own example `10102727017`) is kept.

pub mod extraction;
pub mod fhir;
pub mod index;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use extraction::{ExtractionError, ImportReport, RejectedLine};
pub use fhir::{FhirClient, FhirError, FhirSettings};
pub use index::{ExtractionIndex, IndexError, IndexInfo};

/// The kind of an MSSanté mailbox (TRE_R257 TypeBAL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MailboxType {
    /// Personal: one professional (`PER`).
    #[serde(rename = "PER")]
    Personal,
    /// Practice: a private practice (`CAB`).
    #[serde(rename = "CAB")]
    Practice,
    /// Organisational: a service or a team of a structure (`ORG`).
    #[serde(rename = "ORG")]
    Organisational,
    /// Applicative: a software or a machine of a structure (`APP`).
    #[serde(rename = "APP")]
    Applicative,
}

impl MailboxType {
    /// The TRE_R257 code, as directories write it, any case.
    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim().to_ascii_uppercase().as_str() {
            "PER" => Some(Self::Personal),
            "CAB" => Some(Self::Practice),
            "ORG" => Some(Self::Organisational),
            "APP" => Some(Self::Applicative),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Personal => "PER",
            Self::Practice => "CAB",
            Self::Organisational => "ORG",
            Self::Applicative => "APP",
        }
    }
}

impl fmt::Display for MailboxType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One MSSanté mailbox of a professional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    pub address: String,
    /// `None` when the directory does not say (a telecom marked MSSANTE without metadata).
    pub mailbox_type: Option<MailboxType>,
    /// The directory's description of the mailbox (FHIR metadata `description`; in the
    /// extraction, the service or the structure's name); may be empty.
    pub description: String,
    /// The directory's order of preference (FHIR `rank`, 1 first); `None`: not given.
    pub rank: Option<u32>,
}

/// Which source answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DirectorySource {
    /// The Annuaire Santé FHIR API.
    Fhir,
    /// The imported extraction file.
    Extraction,
}

/// A professional and their MSSanté mailboxes (`DirectoryProfessional` of the API); or, found
/// by one of its addresses, an organisation (empty `rpps` and `first_name`, its name as
/// `last_name`) with its organisational and applicative mailboxes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryProfessional {
    /// 11 digits; empty when the directory gives none (a professional known only by ADELI, an
    /// organisation).
    pub rpps: String,
    /// The national identifier (IDNPS: `8` + RPPS, or `0` + ADELI) when the directory gives it;
    /// an organisation's IDNST (e.g. `1` + FINESS).
    pub national_id: String,
    /// The family name; an organisation's name (raison sociale).
    pub last_name: String,
    pub first_name: String,
    /// The profession's label (JDV J65) when known, else its code as the directory gives it.
    pub profession: String,
    /// Personal first, by the directory's rank, then the others.
    pub addresses: Vec<Mailbox>,
    pub source: DirectorySource,
}

impl From<MailboxType> for passerelle_proto::mss::v1::MailboxType {
    fn from(t: MailboxType) -> Self {
        match t {
            MailboxType::Personal => Self::Personal,
            MailboxType::Practice => Self::Practice,
            MailboxType::Organisational => Self::Organisational,
            MailboxType::Applicative => Self::Applicative,
        }
    }
}

impl From<DirectoryProfessional> for passerelle_proto::mss::v1::DirectoryProfessional {
    fn from(p: DirectoryProfessional) -> Self {
        use passerelle_proto::mss::v1 as api;
        Self {
            rpps: p.rpps,
            last_name: p.last_name,
            first_name: p.first_name,
            profession: p.profession,
            addresses: p
                .addresses
                .into_iter()
                .map(|m| api::Mailbox {
                    address: m.address,
                    r#type: m
                        .mailbox_type
                        .map_or(api::MailboxType::Unspecified, Into::into)
                        .into(),
                    description: m.description,
                })
                .collect(),
        }
    }
}

/// Where the directory's data comes from (`[mss.directory]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DirectorySettings {
    /// The FHIR API; used when `api_key` is set.
    pub fhir: FhirSettings,
    pub extraction: ExtractionSettings,
    /// Which source is asked first when both are configured.
    pub prefer: Preference,
}

/// The source asked first (`mss.directory.prefer`); the other one is asked when the first
/// cannot answer or finds nobody.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preference {
    /// The FHIR API: fresh. The imported file fills in when the API is unreachable or finds
    /// nobody.
    #[default]
    Fhir,
    /// The imported file: local, no quota, as old as the last import. The API fills in when
    /// the file finds nobody (a mailbox opened since) or has not been imported.
    Extraction,
}

/// The imported extraction file's index.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ExtractionSettings {
    /// The index file (e.g. `<data dir>/mss-directory.redb`), written by each import and read
    /// by every search. None: no extraction source (imports are refused).
    pub index_path: Option<PathBuf>,
    /// How many searched professionals a name search may return before asking for a narrower
    /// name (as `fhir.max_results`).
    pub max_results: Option<usize>,
}

/// A search that cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(
        "{given:?} is not an RPPS: 11 digits, or the national identifier 8 followed by the 11 digits"
    )]
    InvalidRpps { given: String },
    #[error("a name search needs a family name")]
    EmptyName,
    #[error("not an address ({problem}): an MSSanté address is local@domain")]
    InvalidAddress { problem: &'static str },
    #[error(
        "no directory configured: set mss.directory.fhir.api_key (Annuaire Santé FHIR API) or mss.directory.extraction.index_path and import the extraction file"
    )]
    NotConfigured,
    #[error(
        "the extraction file has not been imported yet (index {}): import it, or configure the FHIR API (mss.directory.fhir.api_key)",
        .path.display()
    )]
    NotImported { path: PathBuf },
    #[error(
        "{found} professionals match, more than the {limit} shown: give the given name too, or a longer family name"
    )]
    TooManyResults { found: u64, limit: usize },
    #[error(transparent)]
    Fhir(FhirError),
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl From<FhirError> for DirectoryError {
    fn from(e: FhirError) -> Self {
        match e {
            FhirError::TooManyResults { found, limit } => Self::TooManyResults { found, limit },
            other => Self::Fhir(other),
        }
    }
}

/// An import that failed; the index in place is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "no extraction index configured: set mss.directory.extraction.index_path to import the extraction file"
    )]
    NotConfigured,
    #[error(transparent)]
    Extraction(#[from] ExtractionError),
    #[error(
        "no mailbox in the file ({lines} line(s), {rejected} rejected): the index is unchanged"
    )]
    NothingImported { lines: usize, rejected: usize },
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// The directory: the FHIR API, the extraction index, or both.
#[derive(Debug, Clone)]
pub struct Directory {
    fhir: Option<FhirClient>,
    index: Option<ExtractionIndex>,
    prefer: Preference,
}

/// A search, as both sources take it.
#[derive(Debug, Clone)]
enum Query {
    Rpps(String),
    Name {
        family: String,
        given: Option<String>,
    },
    Address(String),
}

/// What one source made of a search.
enum Outcome {
    Found(Vec<DirectoryProfessional>),
    Nobody,
    /// It cannot answer now (the API unreachable; the file not imported, unreadable): the
    /// other source may.
    CannotAnswer(DirectoryError),
    /// An answer that stands: a refused key or request, too many results.
    Failed(DirectoryError),
    /// Not configured.
    Absent,
}

impl Outcome {
    fn of(found: Vec<DirectoryProfessional>) -> Self {
        if found.is_empty() {
            Self::Nobody
        } else {
            Self::Found(found)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Fhir,
    Index,
}

impl Directory {
    /// The sources the settings configure (none is allowed: every search then says so).
    pub fn new(settings: &DirectorySettings) -> Result<Self, FhirError> {
        let fhir = if settings.fhir.api_key.trim().is_empty() {
            None
        } else {
            Some(FhirClient::new(&settings.fhir)?)
        };
        let index = settings.extraction.index_path.as_ref().map(|path| {
            ExtractionIndex::new(
                path,
                settings
                    .extraction
                    .max_results
                    .unwrap_or(settings.fhir.max_results),
            )
        });
        Ok(Self {
            fhir,
            index,
            prefer: settings.prefer,
        })
    }

    /// A directory over given sources (tests, or a caller that builds them itself), the API
    /// asked first.
    pub fn from_sources(fhir: Option<FhirClient>, index: Option<ExtractionIndex>) -> Self {
        Self {
            fhir,
            index,
            prefer: Preference::Fhir,
        }
    }

    /// The same sources, `prefer` asked first.
    pub fn preferring(mut self, prefer: Preference) -> Self {
        self.prefer = prefer;
        self
    }

    /// The extraction index's file, when one is configured.
    pub fn extraction_path(&self) -> Option<&Path> {
        self.index.as_ref().map(ExtractionIndex::path)
    }

    pub fn has_fhir(&self) -> bool {
        self.fhir.is_some()
    }

    pub fn has_extraction(&self) -> bool {
        self.index.is_some()
    }

    /// The professional with this RPPS (or IDNPS `8` + RPPS) and their mailboxes; empty when
    /// the directory does not know it. The check digit is not verified.
    pub async fn by_rpps(&self, rpps: &str) -> Result<Vec<DirectoryProfessional>, DirectoryError> {
        let rpps = parse_rpps(rpps)?;
        self.search(Query::Rpps(rpps)).await
    }

    /// Professionals whose family name starts with `family` (and given name with `given`),
    /// case and accents ignored, as the FHIR API's string search does.
    pub async fn by_name(
        &self,
        family: &str,
        given: Option<&str>,
    ) -> Result<Vec<DirectoryProfessional>, DirectoryError> {
        let family = family.trim();
        if search_key(family).is_empty() {
            return Err(DirectoryError::EmptyName);
        }
        let given = given.map(str::trim).filter(|g| !search_key(g).is_empty());
        self.search(Query::Name {
            family: family.to_owned(),
            given: given.map(str::to_owned),
        })
        .await
    }

    /// The owner of this MSSanté address (compared without case), with all their mailboxes:
    /// a professional (the address on the Practitioner or on one of their activities), or an
    /// organisation (its ORG or APP mailboxes). Empty when the directory does not publish the
    /// address: unknown, closed (an inactive activity's), or on the red list.
    pub async fn by_address(
        &self,
        address: &str,
    ) -> Result<Vec<DirectoryProfessional>, DirectoryError> {
        let address = address.trim();
        extraction::check_address(address)
            .map_err(|problem| DirectoryError::InvalidAddress { problem })?;
        self.search(Query::Address(address.to_owned())).await
    }

    /// Asks the preferred source, then the other one when the first cannot answer or finds
    /// nobody.
    async fn search(&self, query: Query) -> Result<Vec<DirectoryProfessional>, DirectoryError> {
        let (first, second) = match self.prefer {
            Preference::Fhir => (Source::Fhir, Source::Index),
            Preference::Extraction => (Source::Index, Source::Fhir),
        };
        match self.ask(first, &query).await {
            Outcome::Found(found) => Ok(found),
            Outcome::Failed(e) => Err(e),
            Outcome::Nobody => match self.ask(second, &query).await {
                Outcome::Found(found) => Ok(found),
                Outcome::Failed(e) => Err(e),
                Outcome::CannotAnswer(e) => {
                    // Nothing imported is the usual state of an API-only set-up.
                    if !matches!(e, DirectoryError::NotImported { .. }) {
                        tracing::warn!(error = %e, "the other directory source could not fill in");
                    }
                    Ok(Vec::new())
                }
                Outcome::Nobody | Outcome::Absent => Ok(Vec::new()),
            },
            Outcome::CannotAnswer(e) => match self.ask(second, &query).await {
                Outcome::Found(found) => {
                    tracing::warn!(error = %e, "directory answered by the other source");
                    Ok(found)
                }
                Outcome::Nobody => {
                    tracing::warn!(error = %e, "directory answered by the other source");
                    Ok(Vec::new())
                }
                Outcome::Failed(other) => Err(other),
                Outcome::CannotAnswer(_) | Outcome::Absent => Err(e),
            },
            Outcome::Absent => match self.ask(second, &query).await {
                Outcome::Found(found) => Ok(found),
                Outcome::Nobody => Ok(Vec::new()),
                Outcome::Failed(e) | Outcome::CannotAnswer(e) => Err(e),
                Outcome::Absent => Err(DirectoryError::NotConfigured),
            },
        }
    }

    async fn ask(&self, source: Source, query: &Query) -> Outcome {
        match source {
            Source::Fhir => {
                let Some(fhir) = &self.fhir else {
                    return Outcome::Absent;
                };
                let answer = match query {
                    Query::Rpps(rpps) => fhir.by_rpps(rpps).await,
                    Query::Name { family, given } => fhir.by_name(family, given.as_deref()).await,
                    Query::Address(address) => fhir.by_address(address).await,
                };
                match answer {
                    Ok(found) => Outcome::of(found),
                    Err(e) if e.is_unavailable() => Outcome::CannotAnswer(e.into()),
                    Err(e) => Outcome::Failed(e.into()),
                }
            }
            Source::Index => {
                let Some(index) = self.index.clone() else {
                    return Outcome::Absent;
                };
                let path = index.path().to_owned();
                let query = query.clone();
                let answer = run_blocking(move || match &query {
                    Query::Rpps(rpps) => index.by_rpps(rpps).map_err(DirectoryError::from),
                    Query::Name { family, given } => index.by_name(family, given.as_deref()),
                    Query::Address(address) => {
                        index.by_address(address).map_err(DirectoryError::from)
                    }
                })
                .await;
                match answer {
                    Ok(Some(found)) => Outcome::of(found),
                    Ok(None) => Outcome::CannotAnswer(DirectoryError::NotImported { path }),
                    Err(e @ DirectoryError::Index(_)) => Outcome::CannotAnswer(e),
                    Err(e) => Outcome::Failed(e),
                }
            }
        }
    }

    /// Imports an extraction file (the zip as downloaded, or its `.txt`) into the index,
    /// replacing the previous import in one step. Blocking work runs off the async threads.
    pub async fn import_extraction(&self, file: &Path) -> Result<ImportReport, ImportError> {
        let index = self.index.clone().ok_or(ImportError::NotConfigured)?;
        index.import(file).await
    }

    /// The last import, if any.
    pub async fn extraction_info(&self) -> Result<Option<IndexInfo>, DirectoryError> {
        let Some(index) = self.index.clone() else {
            return Ok(None);
        };
        run_blocking(move || index.info())
            .await
            .map_err(DirectoryError::from)
    }
}

async fn run_blocking<T: Send + 'static, E: From<IndexError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, E> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        E::from(IndexError::Storage {
            reason: format!("index task failed: {e}"),
        })
    })?
}

/// An RPPS as searched: 11 digits, or the IDNPS `8` + 11 digits; spaces ignored. The check
/// digit is not verified: the directory holds RPPS that fail it.
pub fn parse_rpps(given: &str) -> Result<String, DirectoryError> {
    let compact: String = given.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = match compact.len() {
        11 => compact.as_str(),
        12 if compact.starts_with('8') => &compact[1..],
        _ => "",
    };
    if digits.len() == 11 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits.to_owned())
    } else {
        Err(DirectoryError::InvalidRpps {
            given: given.to_owned(),
        })
    }
}

/// The API's name query, `FAMILY` or `FAMILY,GIVEN` (`SearchDirectoryRequest.name`), as the
/// family name and the given name if any.
pub fn split_name(query: &str) -> (String, Option<String>) {
    match query.split_once(',') {
        Some((family, given)) => {
            let given = given.trim();
            (
                family.trim().to_owned(),
                (!given.is_empty()).then(|| given.to_owned()),
            )
        }
        None => (query.trim().to_owned(), None),
    }
}

/// A name as compared: upper case, accents and ligatures folded, hyphens, apostrophes and
/// runs of spaces as one space.
pub fn search_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let folded: &str = match c {
            'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => {
                "A"
            }
            'Ç' | 'ç' => "C",
            'È' | 'É' | 'Ê' | 'Ë' | 'è' | 'é' | 'ê' | 'ë' => "E",
            'Ì' | 'Í' | 'Î' | 'Ï' | 'ì' | 'í' | 'î' | 'ï' => "I",
            'Ñ' | 'ñ' => "N",
            'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => {
                "O"
            }
            'Ù' | 'Ú' | 'Û' | 'Ü' | 'ù' | 'ú' | 'û' | 'ü' => "U",
            'Ý' | 'Ÿ' | 'ý' | 'ÿ' => "Y",
            'Œ' | 'œ' => "OE",
            'Æ' | 'æ' => "AE",
            'ß' => "SS",
            c if c.is_ascii_alphanumeric() => {
                out.push(c.to_ascii_uppercase());
                continue;
            }
            c if c.is_whitespace() || matches!(c, '-' | '\'' | '’' | '.' | ',') => " ",
            // Anything else (other scripts, symbols) is kept as it is, upper-cased.
            c => {
                out.extend(c.to_uppercase());
                continue;
            }
        };
        if folded == " " {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push_str(folded);
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Orders mailboxes: personal first, then practice, organisational, applicative, unknown;
/// within a kind, by rank (ranked first); drops repeated addresses (case ignored).
pub(crate) fn tidy_mailboxes(mailboxes: &mut Vec<Mailbox>) {
    let mut seen = std::collections::HashSet::new();
    mailboxes.retain(|m| seen.insert(m.address.to_ascii_lowercase()));
    mailboxes.sort_by_key(|m| {
        (
            m.mailbox_type.map_or(4, |t| t as u8),
            m.rank.unwrap_or(u32::MAX),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpps_queries_are_checked_for_shape_not_check_digit() {
        assert_eq!(
            parse_rpps("10001234565").ok().as_deref(),
            Some("10001234565")
        );
        assert_eq!(
            parse_rpps(" 8 10102727017").ok().as_deref(),
            Some("10102727017")
        );
        // The ANS's own example fails the Luhn check; it is still searched.
        assert_eq!(
            parse_rpps("10102727017").ok().as_deref(),
            Some("10102727017")
        );
        for bad in ["", "1000123456", "910001234565", "1000123456X"] {
            assert!(matches!(
                parse_rpps(bad),
                Err(DirectoryError::InvalidRpps { .. })
            ));
        }
    }

    #[test]
    fn name_queries_split_at_the_comma() {
        assert_eq!(split_name(" FOUQUEREY "), ("FOUQUEREY".into(), None));
        assert_eq!(
            split_name("FOUQUEREY, Pierre"),
            ("FOUQUEREY".into(), Some("Pierre".into()))
        );
        assert_eq!(split_name("FOUQUEREY,"), ("FOUQUEREY".into(), None));
    }

    #[test]
    fn names_compare_without_case_accents_or_punctuation() {
        assert_eq!(
            search_key("  Hélène  d'Orléans-Bœuf "),
            "HELENE D ORLEANS BOEUF"
        );
        assert_eq!(search_key("MEDECIN SANDBOX0001"), "MEDECIN SANDBOX0001");
        assert_eq!(search_key(" - "), "");
    }

    #[test]
    fn mailboxes_personal_first_by_rank_without_repeats() {
        let m = |a: &str, t: Option<MailboxType>, rank: Option<u32>| Mailbox {
            address: a.into(),
            mailbox_type: t,
            description: String::new(),
            rank,
        };
        let mut list = vec![
            m("org@x.mssante.fr", Some(MailboxType::Organisational), None),
            m("b@x.mssante.fr", Some(MailboxType::Personal), Some(2)),
            m("unknown@x.mssante.fr", None, Some(1)),
            m("a@x.mssante.fr", Some(MailboxType::Personal), Some(1)),
            m("A@X.mssante.fr", Some(MailboxType::Personal), None),
        ];
        tidy_mailboxes(&mut list);
        let order: Vec<_> = list.iter().map(|m| m.address.as_str()).collect();
        assert_eq!(
            order,
            [
                "a@x.mssante.fr",
                "b@x.mssante.fr",
                "org@x.mssante.fr",
                "unknown@x.mssante.fr"
            ]
        );
    }
}
