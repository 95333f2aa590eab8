//! MSSanté addresses: a mailbox checked on construction (RFC 5321 syntax, the domain in lower
//! case, the length limits), and the patient's own mailbox (MSSanté Citoyen,
//! `<15-character INS>@patient.mssante.fr`), which is built only from a qualified INS.
//!
//! A patient's address *is* their INS: [`MssAddress`]'s `Debug` and `Display`, and
//! [`PatientMailbox`]'s, never print its local part (`<patient>@patient.mssante.fr`); the
//! address as written on the wire is [`MssAddress::as_str`], for the message and the SMTP
//! envelope only. Errors never repeat the input either: they say what is wrong and where.

use std::fmt;
use std::str::FromStr;

use passerelle_domain::QualifiedIns;

/// The domain of the patients' mailboxes (MSSanté Citoyen, Mon espace santé).
pub const PATIENT_DOMAIN: &str = "patient.mssante.fr";
/// RFC 5321 §4.5.3.1.1.
pub const MAX_LOCAL_PART: usize = 64;
/// RFC 5321 §4.5.3.1.2.
pub const MAX_DOMAIN: usize = 255;
/// RFC 5321 §4.5.3.1.3: a path is at most 256 octets, `<` and `>` included.
pub const MAX_ADDRESS: usize = 254;
const MAX_LABEL: usize = 63;

/// What is wrong with an address. Never repeats the address (a patient's is their INS).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("the address is empty: give a mailbox such as jean.dupont@hopital.mssante.fr")]
    Empty,
    #[error(
        "the address has a display name or angle brackets: give the mailbox alone, e.g. jean.dupont@hopital.mssante.fr"
    )]
    DisplayName,
    #[error(
        "the address has a non-ASCII character at position {position}: MSSanté mailboxes are ASCII (letters without accents, digits, . - _ …)"
    )]
    NonAscii { position: usize },
    #[error("the address has no @: a mailbox is local-part@domain")]
    NoAt,
    #[error(
        "the address has several @: a mailbox is local-part@domain with one @ (quoted local parts are not accepted)"
    )]
    SeveralAt,
    #[error("the address has nothing before the @")]
    EmptyLocalPart,
    #[error(
        "the local part (before the @) has a quoted string: quoted local parts are not accepted for MSSanté"
    )]
    QuotedLocalPart,
    #[error(
        "the local part (before the @) has {found:?} at position {position}: only letters, digits and ! # $ % & ' * + - / = ? ^ _ ` {{ | }} ~ . are allowed"
    )]
    LocalPartCharacter { found: char, position: usize },
    #[error(
        "the local part (before the @) starts or ends with a dot, or has two dots in a row: dots only separate words"
    )]
    LocalPartDots,
    #[error("the local part (before the @) has {0} characters: at most {MAX_LOCAL_PART}")]
    LocalPartTooLong(usize),
    #[error("the address has nothing after the @")]
    EmptyDomain,
    #[error("the domain is an address literal ([…]): give the mailbox's domain name")]
    AddressLiteral,
    #[error(
        "the domain has {found:?} at position {position}: a domain has letters, digits, hyphens and dots only"
    )]
    DomainCharacter { found: char, position: usize },
    #[error(
        "the domain starts or ends with a dot, or has two dots in a row: e.g. hopital.mssante.fr"
    )]
    DomainDots,
    #[error("the domain has one label only: give the full domain, e.g. hopital.mssante.fr")]
    DomainNotQualified,
    #[error("a label of the domain starts or ends with a hyphen")]
    DomainHyphen,
    #[error("a label of the domain has {0} characters: at most {MAX_LABEL}")]
    DomainLabelTooLong(usize),
    #[error("the domain has {0} characters: at most {MAX_DOMAIN}")]
    DomainTooLong(usize),
    #[error("the address has {0} characters: at most {MAX_ADDRESS}")]
    TooLong(usize),
}

/// RFC 5322 `atext`: what an atom of a dot-string local part may hold.
fn is_atext(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&c)
}

/// An MSSanté mailbox: `local-part@domain`, checked against RFC 5321 (a dot-string local
/// part; a domain name, in lower case), ASCII only. The local part is kept as given.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MssAddress {
    address: String,
    at: usize,
}

impl MssAddress {
    /// Checks an address as a caller gives it (surrounding spaces ignored).
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        if s.contains(['<', '>']) {
            return Err(AddressError::DisplayName);
        }
        if let Some(position) = s.chars().position(|c| !c.is_ascii()) {
            return Err(AddressError::NonAscii {
                position: position + 1,
            });
        }
        if s.starts_with('"') {
            return Err(AddressError::QuotedLocalPart);
        }
        let at = match s.match_indices('@').count() {
            0 => return Err(AddressError::NoAt),
            1 => s.find('@').unwrap_or(0),
            _ => return Err(AddressError::SeveralAt),
        };
        let (local, domain) = (&s[..at], &s[at + 1..]);
        check_local_part(local)?;
        let domain = domain.to_ascii_lowercase();
        check_domain(&domain)?;
        let address = format!("{local}@{domain}");
        if address.len() > MAX_ADDRESS {
            return Err(AddressError::TooLong(address.len()));
        }
        Ok(Self { address, at })
    }

    /// The address as written in the message and the SMTP envelope. A patient's is their
    /// INS: never log it (use [`MssAddress::redacted`] or `Display`).
    pub fn as_str(&self) -> &str {
        &self.address
    }

    pub fn local_part(&self) -> &str {
        &self.address[..self.at]
    }

    /// The domain, in lower case.
    pub fn domain(&self) -> &str {
        &self.address[self.at + 1..]
    }

    /// A patient's own mailbox (MSSanté Citoyen).
    pub fn is_patient(&self) -> bool {
        self.domain() == PATIENT_DOMAIN
    }

    /// Whom the address reaches.
    pub fn audience(&self) -> Audience {
        if self.is_patient() {
            Audience::Patient
        } else {
            Audience::Professionals
        }
    }

    /// The same mailbox: the domain is already in lower case; local parts are compared
    /// without regard to case (what MSSanté operators do; `2a`/`2A` of a Corsican INS).
    pub fn same_mailbox(&self, other: &Self) -> bool {
        self.domain() == other.domain()
            && self.local_part().eq_ignore_ascii_case(other.local_part())
    }

    /// What may be logged: the address, or `<patient>@patient.mssante.fr` for a patient's.
    pub fn redacted(&self) -> Redacted<'_> {
        Redacted(self)
    }
}

/// The loggable form of an address (see [`MssAddress::redacted`]).
#[derive(Clone, Copy)]
pub struct Redacted<'a>(&'a MssAddress);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_patient() {
            write!(f, "<patient>@{PATIENT_DOMAIN}")
        } else {
            f.write_str(self.0.as_str())
        }
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Log-safe: a patient's address shows as `<patient>@patient.mssante.fr`.
impl fmt::Display for MssAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.redacted(), f)
    }
}

/// Log-safe, like `Display`.
impl fmt::Debug for MssAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MssAddress({})", self.redacted())
    }
}

impl FromStr for MssAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for MssAddress {
    type Error = AddressError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

fn check_local_part(local: &str) -> Result<(), AddressError> {
    if local.is_empty() {
        return Err(AddressError::EmptyLocalPart);
    }
    if let Some((i, c)) = local
        .bytes()
        .enumerate()
        .find(|&(_, c)| c != b'.' && !is_atext(c))
    {
        return Err(AddressError::LocalPartCharacter {
            found: char::from(c),
            position: i + 1,
        });
    }
    if local.split('.').any(str::is_empty) {
        return Err(AddressError::LocalPartDots);
    }
    if local.len() > MAX_LOCAL_PART {
        return Err(AddressError::LocalPartTooLong(local.len()));
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), AddressError> {
    if domain.is_empty() {
        return Err(AddressError::EmptyDomain);
    }
    if domain.starts_with('[') {
        return Err(AddressError::AddressLiteral);
    }
    if let Some((i, c)) = domain
        .bytes()
        .enumerate()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == b'-' || c == b'.'))
    {
        return Err(AddressError::DomainCharacter {
            found: char::from(c),
            position: i + 1,
        });
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return Err(AddressError::DomainDots);
    }
    if labels.len() < 2 {
        return Err(AddressError::DomainNotQualified);
    }
    for l in &labels {
        if l.starts_with('-') || l.ends_with('-') {
            return Err(AddressError::DomainHyphen);
        }
        if l.len() > MAX_LABEL {
            return Err(AddressError::DomainLabelTooLong(l.len()));
        }
    }
    if domain.len() > MAX_DOMAIN {
        return Err(AddressError::DomainTooLong(domain.len()));
    }
    Ok(())
}

/// Whom a message reaches: professionals (personal, organisational, applicative and practice
/// mailboxes) or the patient's own mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Audience {
    Professionals,
    Patient,
}

impl Audience {
    /// `ps` or `patient`: the suffix of the name the message's Message-ID is derived from.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Professionals => "ps",
            Self::Patient => "patient",
        }
    }
}

/// A patient's MSSanté Citoyen mailbox, `<matricule><key>@patient.mssante.fr` — only ever
/// made from a qualified INS. Log-safe `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PatientMailbox(MssAddress);

impl PatientMailbox {
    /// The mailbox of the patient with this INS (15 characters: the 13-character matricule
    /// then its 2-digit key).
    pub fn of(ins: &QualifiedIns) -> Self {
        let local = ins.ins().to_string();
        let address = format!("{local}@{PATIENT_DOMAIN}");
        Self(MssAddress {
            at: local.len(),
            address,
        })
    }

    pub fn address(&self) -> &MssAddress {
        &self.0
    }

    pub fn into_address(self) -> MssAddress {
        self.0
    }

    /// Whether `address` is this patient's mailbox (local part compared without case).
    pub fn is(&self, address: &MssAddress) -> bool {
        self.0.same_mailbox(address)
    }
}

impl fmt::Display for PatientMailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for PatientMailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PatientMailbox({})", self.0.redacted())
    }
}

/// The patient's MSSanté Citoyen address, from their qualified INS.
pub fn patient_address(ins: &QualifiedIns) -> MssAddress {
    PatientMailbox::of(ins).into_address()
}

/// Whether the address is a patient's own mailbox (`@patient.mssante.fr`).
pub fn is_patient_address(address: &MssAddress) -> bool {
    address.is_patient()
}

/// Whether an address as text (e.g. a server's account of a recipient) is a patient's mailbox.
pub fn is_patient_text(address: &str) -> bool {
    address
        .rsplit_once('@')
        .is_some_and(|(_, domain)| domain.eq_ignore_ascii_case(PATIENT_DOMAIN))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use passerelle_domain::{IdentityStatus, Ins, InsOid, PatientIdentity, Platform};

    fn qualified(matricule: &str, key: &str) -> QualifiedIns {
        let identity = PatientIdentity {
            ins: Ins::typed(matricule, key, InsOid::Nir).unwrap(),
            traits: None,
            status: IdentityStatus::Qualifiee,
        };
        QualifiedIns::try_new(&identity, Platform::Production).unwrap()
    }

    #[test]
    fn valid_addresses_keep_their_local_part_and_lower_the_domain() {
        for (input, expected) in [
            (
                "jean.fouquerey@passerelle-sandbox.mssante.fr",
                "jean.fouquerey@passerelle-sandbox.mssante.fr",
            ),
            (
                "  appliExemple@hopitalB.MSSANTE.fr ",
                "appliExemple@hopitalb.mssante.fr",
            ),
            ("a+b_c-d'e@x.y", "a+b_c-d'e@x.y"),
            (
                "248039263001064@patient.mssante.fr",
                "248039263001064@patient.mssante.fr",
            ),
        ] {
            let a = MssAddress::parse(input).unwrap();
            assert_eq!(a.as_str(), expected, "{input:?}");
        }
        let a = MssAddress::parse("appliExemple@hopitalB.mssante.fr").unwrap();
        assert_eq!(
            (a.local_part(), a.domain()),
            ("appliExemple", "hopitalb.mssante.fr")
        );
        assert_eq!(a.audience(), Audience::Professionals);
    }

    #[test]
    fn invalid_addresses_say_what_is_wrong_without_repeating_the_address() {
        let long_local = format!("{}@x.fr", "a".repeat(65));
        let long_label = format!("a@{}.fr", "b".repeat(64));
        let long_domain = format!("a@{}.fr", vec!["b".repeat(60); 5].join("."));
        let long_address = format!(
            "{}@{}.fr",
            "a".repeat(64),
            vec!["b".repeat(60); 4].join(".")
        );
        let cases: Vec<(&str, AddressError)> = vec![
            ("", AddressError::Empty),
            ("   ", AddressError::Empty),
            ("Jean <jean@x.fr>", AddressError::DisplayName),
            ("josé@x.fr", AddressError::NonAscii { position: 4 }),
            ("jean.x.fr", AddressError::NoAt),
            ("a@b@x.fr", AddressError::SeveralAt),
            ("\"a b\"@x.fr", AddressError::QuotedLocalPart),
            ("@x.fr", AddressError::EmptyLocalPart),
            (
                "jean dupont@x.fr",
                AddressError::LocalPartCharacter {
                    found: ' ',
                    position: 5,
                },
            ),
            (
                "a,b@x.fr",
                AddressError::LocalPartCharacter {
                    found: ',',
                    position: 2,
                },
            ),
            (".jean@x.fr", AddressError::LocalPartDots),
            ("jean.@x.fr", AddressError::LocalPartDots),
            ("je..an@x.fr", AddressError::LocalPartDots),
            (long_local.as_str(), AddressError::LocalPartTooLong(65)),
            ("jean@", AddressError::EmptyDomain),
            ("jean@[127.0.0.1]", AddressError::AddressLiteral),
            (
                "jean@x_y.fr",
                AddressError::DomainCharacter {
                    found: '_',
                    position: 2,
                },
            ),
            ("jean@x..fr", AddressError::DomainDots),
            ("jean@.x.fr", AddressError::DomainDots),
            ("jean@x.fr.", AddressError::DomainDots),
            ("jean@localhost", AddressError::DomainNotQualified),
            ("jean@-x.fr", AddressError::DomainHyphen),
            ("jean@x-.fr", AddressError::DomainHyphen),
            (long_label.as_str(), AddressError::DomainLabelTooLong(64)),
            (long_domain.as_str(), AddressError::DomainTooLong(307)),
            (long_address.as_str(), AddressError::TooLong(311)),
        ];
        for (input, expected) in cases {
            let e = MssAddress::parse(input).unwrap_err();
            assert_eq!(e, expected, "{input:?}");
            let message = e.to_string();
            if input.trim().len() > 3 {
                assert!(!message.contains(input.trim()), "{message}");
            }
        }
    }

    #[test]
    fn the_patient_mailbox_is_the_15_character_ins_at_patient_mssante_fr() {
        let q = qualified("2480392630010", "64");
        let a = patient_address(&q);
        assert_eq!(a.as_str(), "248039263001064@patient.mssante.fr");
        assert!(is_patient_address(&a));
        assert_eq!(a.audience(), Audience::Patient);
        // Corsica: the letter stays upper case, and a typed lower-case one is the same box.
        let corse = PatientMailbox::of(&qualified("180032B020401", "23"));
        assert_eq!(
            corse.address().as_str(),
            "180032B02040123@patient.mssante.fr"
        );
        let typed = MssAddress::parse("180032b02040123@Patient.MSSante.fr").unwrap();
        assert!(corse.is(&typed));
        assert!(!corse.is(&a));
        // What a user types is the same address as the one built.
        assert_eq!(
            MssAddress::parse("248039263001064@patient.mssante.fr").unwrap(),
            a
        );
    }

    #[test]
    fn a_patient_address_never_prints_the_ins() {
        let q = qualified("2480392630010", "64");
        let mailbox = PatientMailbox::of(&q);
        let a = mailbox.address().clone();
        for shown in [
            format!("{a}"),
            format!("{a:?}"),
            format!("{}", a.redacted()),
            format!("{mailbox}"),
            format!("{mailbox:?}"),
            format!("{:?}", vec![a.clone()]),
        ] {
            assert!(!shown.contains("2480392630"), "{shown}");
            assert!(shown.contains("<patient>@patient.mssante.fr"), "{shown}");
        }
        // A professional's address is shown whole.
        let p = MssAddress::parse("jean.fouquerey@passerelle-sandbox.mssante.fr").unwrap();
        assert_eq!(
            format!("{p} {p:?}"),
            "jean.fouquerey@passerelle-sandbox.mssante.fr MssAddress(jean.fouquerey@passerelle-sandbox.mssante.fr)"
        );
    }
}
