//! The CPS's PKCS#15 structure: where its certificates and private keys are.
//!
//! As the OpenSC code that ANS publishes in `ansforge/dops-cryptolib` walks it (`dir.c`,
//! `pkcs15.c`, `pkcs15-cert.c`, `pkcs15-prkey.c`, `pkcs15-sec.c`, `card-cps3.c`,
//! `card-cps4.c`):
//! - EF.DIR at `3F00/2F00`, transparent, records `61` with `4F` AID, `50` label, `51` path,
//!   `73` DDO. The PKCS#15 application of the CPS is the record whose AID is the IAS one
//!   (`E8 28 BD 08 0F 80 25 00 00 01 FF 00 10`; `…FF 00 20` in contactless mode). Its location
//!   is the record's path when present, else its AID as a DF name; without EF.DIR or without
//!   that record, OpenSC's default `3F00/5015`.
//! - EF.ODF at `<application>/5031`, unless the DDO names another one (`30` path). Its entries
//!   are `A0` (PrKDF), `A4` (CDF), … each holding a path `30 { 04 path [02 index] [80 length] }`.
//!   A path that does not start with `3F00` is relative to the application.
//! - PrKDF entries `30 { 30 common object attributes, 30 { 04 iD, 03 usage, [01 native],
//!   [03 access flags], [02 keyReference] }, [A0 …], A1 { 30 { 30 path, 02 modulus length } } }`.
//! - CDF entries `30 { 30 common object attributes, 30 { 04 iD, … }, [A0 …], A1 { 30 { value:
//!   30 path | A0 direct } } }`; a certificate goes with the private key of the same iD.
//! - The signature key is the one whose usage has nonRepudiation (bit 9); the authentication
//!   key is a sign-usage (bit 2) key without it (`sc_pkcs15_compute_signature`). The key's
//!   `keyReference` goes into MSE SET as `84`; a non-empty key path is selected first.
//! - AODF entries (ODF `A8`): the user PIN's reference, type, lengths and pad character, which
//!   VERIFY follows (`pkcs15-pin.c`, `sec.c`).
//! - DODF entries (ODF `A7`): data objects by label, with an `authId` when protected.
//! - Padding `00`/`FF` ends a directory file's contents.
//!
//! Ours: the DER reading below (no OpenSC code), and the choice to skip a private key entry
//! that is not RSA (OpenSC stops there) and entries we cannot parse.

use passerelle_ber_tlv::{Element, find, parse_all};

use super::apdu::Link;
use super::cps::{IAS_AID, IAS_CL_AID};
use crate::backend::{CardError, KeyUse};

/// PKCS#15 KeyUsageFlags bits (`sign(2)`, `nonRepudiation(9)`).
pub const USAGE_SIGN: u32 = 1 << 2;
pub const USAGE_NON_REPUDIATION: u32 = 1 << 9;
const EF_DIR: u16 = 0x2F00;
const ODF: [u8; 2] = [0x50, 0x31];
const DEFAULT_APP: [u8; 4] = [0x3F, 0x00, 0x50, 0x15];

/// One DER element (single-byte tags: all the tags of these files are).
pub type Der<'a> = Element<'a>;

fn bad(what: &str) -> CardError {
    CardError::Device(format!("malformed PKCS#15 data: {what}"))
}

/// Splits DER elements until the end, or until `00`/`FF` padding; a multi-byte tag is not
/// PKCS#15.
pub fn elements(data: &[u8]) -> Result<Vec<Der<'_>>, CardError> {
    let items = parse_all(data).map_err(|e| bad(&e.to_string()))?;
    if items.iter().any(|d| d.tag > 0xFF) {
        return Err(bad("multi-byte tag"));
    }
    Ok(items)
}

fn integer(value: &[u8]) -> Option<i64> {
    if value.is_empty() || value.len() > 4 {
        return None;
    }
    let first = i64::from(value[0] as i8);
    Some(
        value[1..]
            .iter()
            .fold(first, |acc, b| (acc << 8) | i64::from(*b)),
    )
}

/// A named-bit BIT STRING as flags: bit n of the ASN.1 value → `1 << n`.
fn bit_field(value: &[u8]) -> u32 {
    let mut flags = 0;
    for (i, byte) in value.iter().skip(1).take(4).enumerate() {
        for bit in 0..8 {
            if byte & (0x80 >> bit) != 0 {
                flags |= 1 << (i * 8 + bit);
            }
        }
    }
    flags
}

/// A PKCS#15 Path: file ids (bytes), and the optional index and length of a part of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub path: Vec<u8>,
    pub index: Option<usize>,
    pub length: Option<usize>,
}

fn parse_path(value: &[u8]) -> Result<Path, CardError> {
    let items = elements(value)?;
    let path = find(&items, 0x04).ok_or_else(|| bad("path without its octet string"))?;
    let count = |tag| {
        find(&items, tag)
            .and_then(|d| integer(d.value))
            .and_then(|n| usize::try_from(n).ok())
    };
    Ok(Path {
        path: path.value.to_vec(),
        index: count(0x02),
        length: count(0x80),
    })
}

/// An application of EF.DIR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub aid: Vec<u8>,
    pub path: Option<Vec<u8>>,
    pub odf: Option<Path>,
}

pub fn parse_dir(data: &[u8]) -> Result<Vec<App>, CardError> {
    let mut apps = Vec::new();
    for record in elements(data)?.into_iter().filter(|d| d.tag == 0x61) {
        let items = elements(record.value)?;
        let Some(aid) = find(&items, 0x4F) else {
            continue;
        };
        let odf = match find(&items, 0x73) {
            Some(ddo) => match find(&elements(ddo.value)?, 0x30) {
                Some(p) => Some(parse_path(p.value)?),
                None => None,
            },
            None => None,
        };
        apps.push(App {
            aid: aid.value.to_vec(),
            path: find(&items, 0x51).map(|p| p.value.to_vec()),
            odf,
        });
    }
    Ok(apps)
}

/// ODF entries: (tag, path); `A0` PrKDF, `A4` CDF.
pub fn parse_odf(data: &[u8]) -> Result<Vec<(u32, Path)>, CardError> {
    let mut out = Vec::new();
    for entry in elements(data)? {
        if !(0xA0..=0xA8).contains(&entry.tag) {
            return Err(bad("ODF entry"));
        }
        let inner = elements(entry.value)?;
        let p = find(&inner, 0x30).ok_or_else(|| bad("ODF entry without a path"))?;
        out.push((entry.tag, parse_path(p.value)?));
    }
    Ok(out)
}

/// A private key object of the PrKDF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateKey {
    pub label: String,
    pub id: Vec<u8>,
    pub usage: u32,
    pub key_ref: Option<u8>,
    pub path: Vec<u8>,
    /// Modulus length in bits, when the PrKDF gives it.
    pub modulus_bits: Option<usize>,
}

/// The parts of a PKCS#15 object: common object attributes, class attributes, type attributes.
type ObjectParts<'a> = (Vec<Der<'a>>, Vec<Der<'a>>, Vec<Der<'a>>);

fn object(value: &[u8]) -> Result<ObjectParts<'_>, CardError> {
    let parts = elements(value)?;
    let (Some(common), Some(class)) = (parts.first(), parts.get(1)) else {
        return Err(bad("object attributes"));
    };
    if common.tag != 0x30 || class.tag != 0x30 {
        return Err(bad("object attributes"));
    }
    let typed = find(&parts, 0xA1).ok_or_else(|| bad("object without type attributes"))?;
    Ok((
        elements(common.value)?,
        elements(class.value)?,
        elements(typed.value)?,
    ))
}

fn label(common: &[Der<'_>]) -> String {
    find(common, 0x0C)
        .map(|d| String::from_utf8_lossy(d.value).into_owned())
        .unwrap_or_default()
}

pub fn parse_prkdf(data: &[u8]) -> Result<Vec<PrivateKey>, CardError> {
    let mut keys = Vec::new();
    for entry in elements(data)?.into_iter().filter(|d| d.tag == 0x30) {
        let (common, class, typed) = object(entry.value)?;
        let id = find(&class, 0x04).ok_or_else(|| bad("key without iD"))?;
        let usage = find(&class, 0x03).ok_or_else(|| bad("key without usage"))?;
        let attrs = find(&typed, 0x30).ok_or_else(|| bad("RSA key attributes"))?;
        let attrs = elements(attrs.value)?;
        let path = find(&attrs, 0x30)
            .map(|p| parse_path(p.value))
            .transpose()?
            .map(|p| p.path)
            .unwrap_or_default();
        let modulus_bits = find(&attrs, 0x02)
            .and_then(|d| integer(d.value))
            .and_then(|n| usize::try_from(n).ok());
        keys.push(PrivateKey {
            label: label(&common),
            id: id.value.to_vec(),
            usage: bit_field(usage.value),
            key_ref: find(&class, 0x02)
                .and_then(|d| integer(d.value))
                .and_then(|n| u8::try_from(n).ok()),
            path,
            modulus_bits,
        });
    }
    Ok(keys)
}

/// Where a certificate of the CDF is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertValue {
    Path(Path),
    Direct(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub label: String,
    pub id: Vec<u8>,
    pub value: CertValue,
}

pub fn parse_cdf(data: &[u8]) -> Result<Vec<Certificate>, CardError> {
    let mut certs = Vec::new();
    for entry in elements(data)?.into_iter().filter(|d| d.tag == 0x30) {
        let (common, class, typed) = object(entry.value)?;
        let id = find(&class, 0x04).ok_or_else(|| bad("certificate without iD"))?;
        let attrs = find(&typed, 0x30).ok_or_else(|| bad("X.509 certificate attributes"))?;
        let attrs = elements(attrs.value)?;
        let value = match (find(&attrs, 0x30), find(&attrs, 0xA0)) {
            (Some(p), _) => CertValue::Path(parse_path(p.value)?),
            (None, Some(d)) => CertValue::Direct(d.value.to_vec()),
            _ => return Err(bad("certificate without value")),
        };
        certs.push(Certificate {
            label: label(&common),
            id: id.value.to_vec(),
            value,
        });
    }
    Ok(certs)
}

/// How the PKCS#15 application is selected.
/// A data object of the DODF: the CPS's business data ("objets métier") under the labels
/// Cryptolib documents (`CPS_NAME_PS`, `CPS_ACTIVITY_01_PS`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataObject {
    pub label: String,
    /// Set when reading needs that authentication object (the PIN): "Protégé".
    pub auth_id: Option<Vec<u8>>,
    pub path: Path,
}

/// DODF entries `30 { 30 { 0C label, [03 flags], [04 authId] }, 30 { … }, A1 { 30 path } }`
/// (opaque objects by reference); objects given by value are skipped.
pub fn parse_dodf(data: &[u8]) -> Result<Vec<DataObject>, CardError> {
    let mut objects = Vec::new();
    for entry in elements(data)?.into_iter().filter(|d| d.tag == 0x30) {
        let (common, _class, typed) = object(entry.value)?;
        let Some(path) = find(&typed, 0x30) else {
            continue;
        };
        objects.push(DataObject {
            label: label(&common),
            auth_id: find(&common, 0x04).map(|d| d.value.to_vec()),
            path: parse_path(path.value)?,
        });
    }
    Ok(objects)
}

/// PKCS#15 PinFlags bits.
const PIN_FLAG_NEEDS_PADDING: u32 = 1 << 5;
const PIN_FLAG_UNBLOCKING: u32 = 1 << 6;
const PIN_FLAG_SO: u32 = 1 << 7;

/// How the PIN is encoded in VERIFY (PKCS#15 PinType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinType {
    Bcd,
    AsciiNumeric,
    Utf8,
}

/// A PIN object of the AODF: what VERIFY needs (reference, encoding, padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub label: String,
    pub flags: u32,
    pub pin_type: PinType,
    pub min_length: usize,
    pub stored_length: usize,
    pub max_length: Option<usize>,
    pub reference: u8,
    pub pad_char: u8,
    pub path: Vec<u8>,
}

impl Pin {
    /// The VERIFY data for `pin`, as the AODF says (OpenSC `sc_build_pin`): digits as ASCII
    /// or packed BCD, padded with the pad character to the stored length when the card
    /// needs padding. `None` when the PIN does not fit the object's lengths.
    pub fn encode(&self, pin: &str) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        let max = self.max_length.unwrap_or(self.stored_length.max(pin.len()));
        if pin.len() < self.min_length || pin.len() > max || pin.is_empty() {
            return None;
        }
        let mut out = zeroize::Zeroizing::new(Vec::with_capacity(self.stored_length.max(8)));
        match self.pin_type {
            PinType::Bcd => {
                if !pin.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                for pair in pin.as_bytes().chunks(2) {
                    let hi = pair[0] - b'0';
                    let lo = pair.get(1).map_or(self.pad_char & 0x0F, |b| b - b'0');
                    out.push((hi << 4) | lo);
                }
                if self.flags & PIN_FLAG_NEEDS_PADDING != 0 {
                    let len = self.stored_length.div_ceil(2).max(out.len());
                    out.resize(len, self.pad_char);
                }
            }
            PinType::AsciiNumeric | PinType::Utf8 => {
                out.extend_from_slice(pin.as_bytes());
                if self.flags & PIN_FLAG_NEEDS_PADDING != 0 {
                    let len = self.stored_length.max(out.len());
                    out.resize(len, self.pad_char);
                }
            }
        }
        Some(out)
    }
}

/// AODF entries `30 { 30 common, 30 { 04 authId }, A1 { 30 { 03 pinFlags, 0A pinType,
/// 02 minLength, 02 storedLength, [02 maxLength], [80 pinReference], [04 padChar],
/// [18 lastPinChange], [30 path] } } }`. Other authentication objects are skipped.
pub fn parse_aodf(data: &[u8]) -> Result<Vec<Pin>, CardError> {
    let mut pins = Vec::new();
    for entry in elements(data)?.into_iter().filter(|d| d.tag == 0x30) {
        let (common, _class, typed) = object(entry.value)?;
        let attrs = find(&typed, 0x30).ok_or_else(|| bad("PIN attributes"))?;
        let attrs = elements(attrs.value)?;
        let flags = find(&attrs, 0x03).map_or(0, |d| bit_field(d.value));
        let pin_type = match find(&attrs, 0x0A).and_then(|d| integer(d.value)) {
            Some(0) => PinType::Bcd,
            Some(1) => PinType::AsciiNumeric,
            Some(2) => PinType::Utf8,
            _ => return Err(bad("PIN type")),
        };
        let lengths: Vec<usize> = attrs
            .iter()
            .filter(|d| d.tag == 0x02)
            .filter_map(|d| integer(d.value).and_then(|n| usize::try_from(n).ok()))
            .collect();
        let (Some(&min_length), Some(&stored_length)) = (lengths.first(), lengths.get(1)) else {
            return Err(bad("PIN lengths"));
        };
        pins.push(Pin {
            label: label(&common),
            flags,
            pin_type,
            min_length,
            stored_length,
            max_length: lengths.get(2).copied(),
            // pinReference [0] Reference DEFAULT 0.
            reference: find(&attrs, 0x80)
                .and_then(|d| integer(d.value))
                .and_then(|n| u8::try_from(n & 0xFF).ok())
                .unwrap_or(0),
            pad_char: find(&attrs, 0x04)
                .and_then(|d| d.value.first().copied())
                .unwrap_or(0x00),
            path: find(&attrs, 0x30)
                .map(|p| parse_path(p.value))
                .transpose()?
                .map(|p| p.path)
                .unwrap_or_default(),
        });
    }
    Ok(pins)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppLocation {
    /// Absolute path from the MF (starting with `3F00`).
    Path(Vec<u8>),
    /// DF name.
    Aid(Vec<u8>),
}

/// What the agent needs from the card's PKCS#15 structure.
#[derive(Debug, Clone)]
pub struct Pkcs15 {
    pub app: AppLocation,
    pub keys: Vec<PrivateKey>,
    pub certs: Vec<Certificate>,
    pub pins: Vec<Pin>,
    pub data: Vec<DataObject>,
}

impl Pkcs15 {
    /// The private key for this use, told apart by its usage flags as OpenSC does.
    pub fn key(&self, key: KeyUse) -> Result<&PrivateKey, CardError> {
        let found = match key {
            KeyUse::Signature => self
                .keys
                .iter()
                .find(|k| k.usage & USAGE_NON_REPUDIATION != 0),
            KeyUse::Authentication => self
                .keys
                .iter()
                .find(|k| k.usage & USAGE_NON_REPUDIATION == 0 && k.usage & USAGE_SIGN != 0),
        };
        found
            .ok_or_else(|| CardError::Device(format!("no {key:?} private key in the card's PrKDF")))
    }

    /// The certificate of the key for this use (same iD), read from the card.
    /// The user PIN: the first PIN object that is neither the SO PIN nor an unblocking PIN.
    pub fn user_pin(&self) -> Result<&Pin, CardError> {
        self.pins
            .iter()
            .find(|p| p.flags & (PIN_FLAG_SO | PIN_FLAG_UNBLOCKING) == 0)
            .ok_or_else(|| CardError::Device("no user PIN object in the card's AODF".into()))
    }

    pub fn certificate(&self, link: &Link<'_>, key: KeyUse) -> Result<Vec<u8>, CardError> {
        let id = &self.key(key)?.id;
        let cert = self.certs.iter().find(|c| &c.id == id).ok_or_else(|| {
            CardError::Device(format!(
                "no certificate of iD {} in the CDF",
                hex::encode_upper(id)
            ))
        })?;
        match &cert.value {
            CertValue::Direct(der) => Ok(der.clone()),
            CertValue::Path(p) => self.read(link, p),
        }
    }

    pub fn select_app(&self, link: &Link<'_>) -> Result<(), CardError> {
        let r = match &self.app {
            AppLocation::Aid(aid) => link.select(0x04, aid)?,
            AppLocation::Path(p) => link.select_path(p.get(2..).unwrap_or_default())?,
        };
        if r.ok() {
            Ok(())
        } else {
            Err(CardError::Device(format!(
                "selecting the PKCS#15 application answered {:04X}",
                r.sw
            )))
        }
    }

    /// Selects a file given by a PKCS#15 path: absolute (from `3F00`), or relative to the
    /// application (appended to its path, as OpenSC concatenates them; after selecting it by
    /// name when it has no path).
    pub fn select_file(&self, link: &Link<'_>, path: &[u8]) -> Result<(), CardError> {
        let r = match (&self.app, path.strip_prefix(&[0x3F, 0x00][..])) {
            (_, Some(from_mf)) => link.select_path(from_mf)?,
            (AppLocation::Path(app), None) => {
                link.select_path(&[app.get(2..).unwrap_or_default(), path].concat())?
            }
            (AppLocation::Aid(_), None) => {
                self.select_app(link)?;
                link.select(if path.len() == 2 { 0x02 } else { 0x09 }, path)?
            }
        };
        if r.ok() {
            Ok(())
        } else {
            Err(CardError::Device(format!(
                "file {} not found ({:04X})",
                hex::encode_upper(path),
                r.sw
            )))
        }
    }

    /// The content of the data object labelled `label`; None when the card has none.
    /// [`CardError::PinRequired`] for a protected object read before the PIN.
    pub fn read_data(&self, link: &Link<'_>, label: &str) -> Result<Option<Vec<u8>>, CardError> {
        match self.data.iter().find(|d| d.label == label) {
            Some(object) => self.read(link, &object.path).map(Some),
            None => Ok(None),
        }
    }

    fn read(&self, link: &Link<'_>, p: &Path) -> Result<Vec<u8>, CardError> {
        self.select_file(link, &p.path)?;
        let data = link.read_current()?;
        let start = p.index.unwrap_or(0).min(data.len());
        let end = p.length.map_or(data.len(), |l| (start + l).min(data.len()));
        Ok(data[start..end].to_vec())
    }
}

/// Reads the structure: EF.DIR, the ODF, then the PrKDF, CDF and AODF it lists.
pub fn read(link: &Link<'_>) -> Result<Pkcs15, CardError> {
    let apps = match link.read_path(&[EF_DIR])? {
        Some(dir) => parse_dir(&dir)?,
        None => Vec::new(),
    };
    let app = apps
        .into_iter()
        .find(|a| a.aid == IAS_AID || a.aid == IAS_CL_AID);
    let (location, odf_path) = match app {
        Some(a) => (
            match a.path {
                Some(p) if p.starts_with(&[0x3F, 0x00]) => AppLocation::Path(p),
                Some(p) => AppLocation::Path([&[0x3F, 0x00][..], &p].concat()),
                None => AppLocation::Aid(a.aid),
            },
            a.odf,
        ),
        None => (AppLocation::Path(DEFAULT_APP.to_vec()), None),
    };
    let mut p15 = Pkcs15 {
        app: location,
        keys: Vec::new(),
        certs: Vec::new(),
        pins: Vec::new(),
        data: Vec::new(),
    };
    let odf_path = odf_path.unwrap_or(Path {
        path: ODF.to_vec(),
        index: None,
        length: None,
    });
    let odf = parse_odf(&p15.read(link, &odf_path)?)?;
    for (tag, path) in odf {
        match tag {
            0xA0 => {
                let data = p15.read(link, &path)?;
                p15.keys.extend(parse_prkdf(&data)?);
            }
            0xA4 => {
                let data = p15.read(link, &path)?;
                p15.certs.extend(parse_cdf(&data)?);
            }
            0xA7 => {
                let data = p15.read(link, &path)?;
                p15.data.extend(parse_dodf(&data)?);
            }
            0xA8 => {
                let data = p15.read(link, &path)?;
                p15.pins.extend(parse_aodf(&data)?);
            }
            _ => {}
        }
    }
    Ok(p15)
}

#[cfg(test)]
mod tests {
    use super::*;

    use passerelle_ber_tlv::encode as tlv;

    fn path(p: &[u8]) -> Vec<u8> {
        tlv(0x30, &tlv(0x04, p))
    }

    #[test]
    fn dir_odf_prkdf_cdf() {
        let dir = [
            tlv(0x61, &[tlv(0x4F, &IAS_AID), tlv(0x50, b"CPS")].concat()),
            vec![0xFF, 0xFF],
        ]
        .concat();
        let apps = parse_dir(&dir).unwrap();
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].aid, IAS_AID);
        assert_eq!(apps[0].path, None);

        let odf = [
            tlv(0xA0, &path(&[0x44, 0x02])),
            tlv(0xA4, &path(&[0x44, 0x04])),
            vec![0; 4],
        ]
        .concat();
        let odf = parse_odf(&odf).unwrap();
        assert_eq!(odf[0].0, 0xA0);
        assert_eq!(odf[1].1.path, [0x44, 0x04]);

        // nonRepudiation (bit 9): 03 03 06 00 40.
        let key = |id: u8, usage: &[u8], key_ref: u8| {
            tlv(
                0x30,
                &[
                    tlv(0x30, &tlv(0x0C, b"k")),
                    tlv(
                        0x30,
                        &[
                            tlv(0x04, &[id]),
                            tlv(0x03, usage),
                            tlv(0x02, &[0x00, key_ref]),
                        ]
                        .concat(),
                    ),
                    tlv(
                        0xA1,
                        &tlv(0x30, &[path(&[]), tlv(0x02, &[0x08, 0x00])].concat()),
                    ),
                ]
                .concat(),
            )
        };
        let prkdf = [
            key(1, &[0x05, 0x20], 0x81),
            key(2, &[0x06, 0x00, 0x40], 0x82),
        ]
        .concat();
        let keys = parse_prkdf(&prkdf).unwrap();
        assert_eq!(keys[0].usage, USAGE_SIGN);
        assert_eq!(keys[1].usage, USAGE_NON_REPUDIATION);
        assert_eq!(keys[1].key_ref, Some(0x82));
        assert!(keys[1].path.is_empty());

        let cert = |id: u8, fid: &[u8]| {
            tlv(
                0x30,
                &[
                    tlv(0x30, &tlv(0x0C, b"c")),
                    tlv(0x30, &tlv(0x04, &[id])),
                    tlv(0xA1, &tlv(0x30, &path(fid))),
                ]
                .concat(),
            )
        };
        let certs = parse_cdf(&[cert(1, &[0xC0, 0x00]), cert(2, &[0xC0, 0x01])].concat()).unwrap();
        let p15 = Pkcs15 {
            app: AppLocation::Aid(IAS_AID.to_vec()),
            keys,
            certs,
            pins: Vec::new(),
            data: Vec::new(),
        };
        assert_eq!(p15.key(KeyUse::Signature).unwrap().key_ref, Some(0x82));
        assert_eq!(p15.key(KeyUse::Authentication).unwrap().key_ref, Some(0x81));
        assert_eq!(
            p15.certs[1].value,
            CertValue::Path(Path {
                path: vec![0xC0, 0x01],
                index: None,
                length: None
            })
        );
    }

    #[test]
    fn aodf_pin_object_drives_the_verify_data() {
        let pin = |flags: &[u8], pin_type: u8, reference: &[u8], pad: u8| {
            tlv(
                0x30,
                &[
                    tlv(0x30, &tlv(0x0C, b"PIN")),
                    tlv(0x30, &tlv(0x04, &[0x01])),
                    tlv(
                        0xA1,
                        &tlv(
                            0x30,
                            &[
                                tlv(0x03, flags),
                                tlv(0x0A, &[pin_type]),
                                tlv(0x02, &[4]),
                                tlv(0x02, &[8]),
                                tlv(0x02, &[8]),
                                tlv(0x80, reference),
                                tlv(0x04, &[pad]),
                            ]
                            .concat(),
                        ),
                    ),
                ]
                .concat(),
            )
        };
        // initialized(4) + needs-padding(5), ASCII, reference 81, pad FF.
        let pins = parse_aodf(&pin(&[0x02, 0x0C], 1, &[0x81], 0xFF)).unwrap();
        assert_eq!(pins[0].reference, 0x81);
        assert_eq!(pins[0].flags, PIN_FLAG_NEEDS_PADDING | (1 << 4));
        assert_eq!(
            pins[0].encode("1234").unwrap().as_slice(),
            b"1234\xFF\xFF\xFF\xFF"
        );
        assert!(pins[0].encode("123").is_none());
        assert!(pins[0].encode("123456789").is_none());
        // No padding asked: the digits alone. BCD: packed, padded to half the stored length.
        let pins = parse_aodf(&pin(&[0x07, 0x80], 1, &[0x01], 0x00)).unwrap();
        assert_eq!(pins[0].encode("1234").unwrap().as_slice(), b"1234");
        let pins = parse_aodf(&pin(&[0x02, 0x0C], 0, &[0x01], 0xFF)).unwrap();
        assert_eq!(
            pins[0].encode("1234").unwrap().as_slice(),
            &[0x12, 0x34, 0xFF, 0xFF]
        );
        // An SO PIN is not the user's.
        let so = parse_aodf(&pin(&[0x00, 0x01], 1, &[0x02], 0xFF)).unwrap();
        let p15 = Pkcs15 {
            app: AppLocation::Aid(IAS_AID.to_vec()),
            keys: Vec::new(),
            certs: Vec::new(),
            pins: so,
            data: Vec::new(),
        };
        assert!(p15.user_pin().is_err());
    }

    #[test]
    fn long_lengths_and_bad_data() {
        let big = tlv(0x04, &[7; 300]);
        assert_eq!(elements(&big).unwrap()[0].value.len(), 300);
        assert!(elements(&[0x30, 0x05, 0x01]).is_err());
        assert!(parse_odf(&[0x30, 0x00]).is_err());
        assert_eq!(bit_field(&[0x07, 0x80]), 1);
    }
}
