//! CPS3 and CPS4 over APDUs, driven as the OpenSC-based CPS drivers ANS publishes in
//! `ansforge/dops-cryptolib` drive them (`card-cps.c`, `card-cps3.c`, `card-cps4.c`,
//! `pkcs15-sec.c`, `pkcs15-pin.c`, `apdu.c`):
//!
//! - Generation by ATR (the reference's table). Both hold EF.SN.ICC at `3F00/D003` (issuer
//!   `80 25 00 00 01` at offset 2, then the serial) and the same PKCS#15 application (IAS AID);
//!   the PIN's reference and encoding come from the card's AODF, the keys' references from
//!   its PrKDF (see [`super::pkcs15`]).
//! - **CPS3** (IAS-ECC, basic channel, CLA `00`): SELECT by whole path `00 A4 09 0C` (`3F00`
//!   included); tries left by selecting the MF then GET DATA `00 CB 3F FF 0A 4D 08 70 06 BF 81
//!   <PIN ref> 02 A0 80 00` (`9B`: tries left); signature key: MSE SET `00 22 41 B6 06 80 01
//!   42 84 01 <ref>` (algorithm `42`: the card builds the SHA-256 DigestInfo) then PSO CDS
//!   `00 2A 9E 9A 20 <bare digest> 00`; authentication key: MSE SET `00 22 41 A4 06 80 01 02
//!   84 01 <ref>` then INTERNAL AUTHENTICATE `00 88 00 00 33 <DigestInfo> 00`.
//! - **CPS4** (ChipDoc applet, logical channel 1, CLA `01`; the basic channel is left to the
//!   legacy CPS2ter applet): SELECT of the ChipDoc AID `80 25 00 00 01 FF 01 00` on channel 1
//!   first (it opens the channel), again whenever the card answers `6Exx`/`6A86`; ISO SELECT by
//!   path from the MF `01 A4 08 00`; tries left by VERIFY without data; signature key: MSE
//!   SET `01 22 81 B6 04 91 02 28 <ref|80>` (`28`: RSA PKCS#1 v1.5 SHA-256) then PSO CDS with
//!   the bare digest; authentication key (ChipDoc has no INTERNAL AUTHENTICATE): the host
//!   builds the PKCS#1 v1.5 type-1 block over the DigestInfo, MSE SET `01 22 41 B8 03 83 01
//!   <ref>`, then PSO DECIPHER `2A 80 86` chained in 255-byte parts (CLA `11` then `01`), the
//!   card's raw RSA result being the signature.
//!
//! The holder and the practice situations are the PKCS#15 data objects Cryptolib documents
//! (external specification, table 3): `CPS_NAME_PS`, and `CPS_ACTIVITY_01_PS` … `_16_PS`,
//! which the card gives only after the PIN ("Protégé"): read before it, the situations are
//! reported as needing the PIN. Their content is this project's convention (not public;
//! shared with `card-emulator`): holder TLVs `80` id type (`8` RPPS, `0` ADELI), `81`
//! identifier, `82` last name, `83` first name, `84` profession code, `85` profession label,
//! `86` specialty; situation TLVs `80` structure id type, `81` structure id, `82` name, `83`
//! activity sector, `84` billing id.

use zeroize::Zeroizing;

use passerelle_ber_tlv::parse_readable;

use super::apdu::{Link, PathSelect, Response, text};
use super::pkcs15::{Pin, PinType, Pkcs15};
use crate::backend::{CardError, CpsData, IdType, KeyUse, Situation};

/// The two generations of CPS the reference drives differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    Cps3,
    Cps4,
}

/// (ATR, mask) of the CPS cards, from the reference driver.
const CPS_ATRS: [(Generation, &[u8], &[u8]); 5] = [
    // CPS3 contact
    (
        Generation::Cps3,
        &[
            0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10,
            0x00, 0x90, 0x00,
        ],
        &[
            0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00,
            0xFF, 0xFF, 0xFF,
        ],
    ),
    // CPS3 contactless
    (
        Generation::Cps3,
        &[
            0x3B, 0x8F, 0x80, 0x01, 0x00, 0x31, 0xB8, 0x64, 0x04, 0xB0, 0xEC, 0xC1, 0x73, 0x94,
            0x01, 0x80, 0x82, 0x90, 0x00, 0x0E,
        ],
        &[
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xFF, 0xC0, 0xFF, 0xFF,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ],
    ),
    // CPS4 contact, release candidate, T=0 only
    (
        Generation::Cps4,
        &[
            0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x04, 0x01, 0x00,
            0x00, 0x90, 0x44,
        ],
        &[0xFF; 17],
    ),
    (
        Generation::Cps4,
        &[
            0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x04, 0x01,
            0x00, 0x90, 0x44,
        ],
        &[0xFF; 17],
    ),
    (
        Generation::Cps4,
        &[
            0x3B, 0xDC, 0x18, 0xFF, 0x00, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x04, 0x01,
            0x00, 0x90, 0x00,
        ],
        &[0xFF; 17],
    ),
];

pub const IAS_AID: [u8; 13] = [
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10,
];
/// The same application in contactless mode (CPS3).
pub const IAS_CL_AID: [u8; 13] = [
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x20,
];
/// The CPS4's ChipDoc applet, on logical channel 1.
pub const CHIPDOC_AID: [u8; 8] = [0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x01, 0x00];
const ISSUER: [u8; 5] = [0x80, 0x25, 0x00, 0x00, 0x01];
/// DODF label of the holder's characteristics (Cryptolib external specification, table 3;
/// the situations are `CPS_ACTIVITY_01_PS` … `_16_PS`, protected by the PIN).
const HOLDER_OBJECT: &str = "CPS_NAME_PS";
/// CPS3 MSE SET algorithm reference, signature key: RSA PKCS#1 v1.5 SHA-256, DigestInfo built
/// by the card.
const CPS3_ALG_SIGN_SHA256: u8 = 0x42;
/// CPS3 MSE SET algorithm reference, authentication key: RSA PKCS#1 v1.5 over the DigestInfo.
const CPS3_ALG_AUTH_PKCS1: u8 = 0x02;
/// CPS4 MSE SET algorithm reference (tag 91): RSA PKCS#1 v1.5 SHA-256.
const CPS4_ALG_SIGN_SHA256: u8 = 0x28;
/// DigestInfo prefix of SHA-256 (RFC 8017, 9.2 note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The generation of a CPS, by ATR; None when the ATR is not a CPS's.
pub fn generation(atr: &[u8]) -> Option<Generation> {
    CPS_ATRS
        .iter()
        .find(|(_, a, m)| {
            a.len() == atr.len() && a.iter().zip(*m).zip(atr).all(|((a, m), b)| a & m == b & m)
        })
        .map(|(g, _, _)| *g)
}

/// How the reference driver talks to each generation.
pub fn link<'a>(card: &'a pcsc::Card, reader: &'a str, generation: Generation) -> Link<'a> {
    match generation {
        Generation::Cps3 => Link {
            card,
            reader,
            channel: 0,
            paths: PathSelect::WholePath,
            select_p2: 0x0C,
            chunk: 0xE7,
            reselect: None,
        },
        Generation::Cps4 => Link {
            card,
            reader,
            channel: 1,
            paths: PathSelect::FromMf,
            select_p2: 0x00,
            chunk: 256,
            reselect: Some(&CHIPDOC_AID),
        },
    }
}

/// Makes the card ready (CPS4: selects the ChipDoc applet on channel 1, which opens the
/// channel) and reads its serial from EF.SN.ICC (the 10 hex digits after the issuer); None
/// if it is not a CPS after all.
pub fn open(link: &Link<'_>, generation: Generation) -> Result<Option<String>, CardError> {
    if generation == Generation::Cps4 {
        let mut select = vec![0x00, 0xA4, 0x04, 0x0C, CHIPDOC_AID.len() as u8];
        select.extend_from_slice(&CHIPDOC_AID);
        let r = link.transmit(&select)?;
        if !r.ok() {
            return Err(CardError::Device(format!(
                "the CPS4's ChipDoc applet cannot be selected on channel 1 ({:04X})",
                r.sw
            )));
        }
    }
    let Some(sn) = link.read_path(&[0xD003])? else {
        return Ok(None);
    };
    if sn.len() < 7 || sn[2..7] != ISSUER {
        return Ok(None);
    }
    Ok(Some(hex::encode_upper(&sn[7..])))
}

/// Holder, situations, certificates.
pub fn read(link: &Link<'_>, p15: &Pkcs15, card_serial: &str) -> Result<CpsData, CardError> {
    let holder = p15
        .read_data(link, HOLDER_OBJECT)?
        .ok_or_else(|| CardError::Device(format!("no {HOLDER_OBJECT} data object on the card")))?;
    let h = parse_readable(&holder);
    let id_type = match text(&h, 0x80).as_str() {
        "8" => IdType::Rpps,
        "0" => IdType::Adeli,
        _ => IdType::Other,
    };
    let mut situations = Vec::new();
    let mut situations_need_pin = false;
    for i in 1..=16 {
        let s = match p15.read_data(link, &format!("CPS_ACTIVITY_{i:02}_PS")) {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            // "Protégé": read once the PIN is verified.
            Err(CardError::PinRequired) => {
                situations_need_pin = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        let s = parse_readable(&s);
        if s.is_empty() {
            continue;
        }
        situations.push(Situation {
            structure_id_type: text(&s, 0x80),
            structure_id: text(&s, 0x81),
            structure_name: text(&s, 0x82),
            activity_sector: text(&s, 0x83),
            billing_id: text(&s, 0x84),
        });
    }
    Ok(CpsData {
        id: text(&h, 0x81),
        id_type,
        last_name: text(&h, 0x82),
        first_name: text(&h, 0x83),
        profession: text(&h, 0x84),
        profession_label: text(&h, 0x85),
        specialty: text(&h, 0x86),
        situations,
        situations_need_pin,
        card_serial: card_serial.to_owned(),
        auth_certificate: p15.certificate(link, KeyUse::Authentication)?,
        sign_certificate: p15.certificate(link, KeyUse::Signature)?,
    })
}

fn pin_status(r: &Response) -> Result<(), CardError> {
    match r.sw {
        0x9000 => Ok(()),
        0x6983 | 0x6984 | 0x63C0 => Err(CardError::Blocked),
        sw if sw & 0xFFF0 == 0x63C0 => Err(CardError::WrongPin {
            tries_left: (sw & 0x0F) as u8,
        }),
        sw => Err(CardError::Device(format!("VERIFY answered {sw:04X}"))),
    }
}

/// Tries left on the user PIN, without presenting it. `Ok(None)`: already verified (a CPS4
/// says so; a CPS3's counter does not tell, so a CPS3 always gives a number).
pub fn tries_left(
    link: &Link<'_>,
    generation: Generation,
    pin: &Pin,
) -> Result<Option<u8>, CardError> {
    match generation {
        Generation::Cps3 => {
            let mf = link.select_path(&[])?;
            if !mf.ok() {
                return Err(CardError::Device(format!(
                    "selecting the MF answered {:04X}",
                    mf.sw
                )));
            }
            let cmd = [
                0x00,
                0xCB,
                0x3F,
                0xFF,
                0x0A,
                0x4D,
                0x08,
                0x70,
                0x06,
                0xBF,
                0x81,
                pin.reference,
                0x02,
                0xA0,
                0x80,
                0x00,
            ];
            let r = link.transmit(&cmd)?;
            if !r.ok() {
                return Err(CardError::Device(format!(
                    "GET DATA of the PIN counter answered {:04X}",
                    r.sw
                )));
            }
            match passerelle_ber_tlv::find_deep(&r.data, 0x9B).and_then(|v| v.first().copied()) {
                Some(0) => Err(CardError::Blocked),
                Some(n) => Ok(Some(n)),
                None => Err(CardError::Device(
                    "the PIN counter (9B) is missing from the card's answer".into(),
                )),
            }
        }
        Generation::Cps4 => {
            let r = link.transmit(&[0x00, 0x20, 0x00, pin.reference])?;
            match pin_status(&r) {
                Ok(()) => Ok(None),
                Err(CardError::WrongPin { tries_left }) => Ok(Some(tries_left)),
                Err(e) => Err(e),
            }
        }
    }
}

/// Presents the PIN once, encoded as the card's AODF says. Never retried here.
pub fn verify(
    link: &Link<'_>,
    generation: Generation,
    p15: &Pkcs15,
    pin: &Zeroizing<String>,
) -> Result<(), CardError> {
    let object = p15.user_pin()?;
    let digits_ok = object.pin_type == PinType::Utf8 || pin.bytes().all(|b| b.is_ascii_digit());
    let max = object.max_length.unwrap_or(object.stored_length);
    let Some(data) = object.encode(pin).filter(|_| digits_ok) else {
        return Err(CardError::Device(format!(
            "the PIN must be {} to {max} digits",
            object.min_length
        )));
    };
    // Refuse to spend a try on a blocked card.
    if let Err(e @ CardError::Blocked) = tries_left(link, generation, object) {
        return Err(e);
    }
    if !object.path.is_empty() {
        p15.select_file(link, &object.path)?;
    }
    let mut cmd = Zeroizing::new(vec![0x00, 0x20, 0x00, object.reference, data.len() as u8]);
    cmd.extend_from_slice(&data);
    let r = link.transmit(&cmd)?;
    pin_status(&r)
}

fn expect_ok(what: &str, r: &Response) -> Result<(), CardError> {
    match r.sw {
        0x9000 => Ok(()),
        0x6982 => Err(CardError::PinRequired),
        0x6983 => Err(CardError::Blocked),
        sw => Err(CardError::Device(format!("{what} answered {sw:04X}"))),
    }
}

/// Signs a SHA-256 digest with the key the PrKDF designates (the card pads and signs, or,
/// for a CPS4's authentication key, computes the raw RSA of the block built here); returns
/// the signature and the key's certificate.
pub fn sign(
    link: &Link<'_>,
    generation: Generation,
    p15: &Pkcs15,
    key: KeyUse,
    digest: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CardError> {
    if digest.len() != 32 {
        return Err(CardError::BadDigest(digest.len()));
    }
    let prkey = p15.key(key)?;
    if prkey.path.is_empty() {
        p15.select_app(link)?;
    } else {
        p15.select_file(link, &prkey.path)?;
    }
    let key_ref = prkey.key_ref;
    let signature = match (generation, key) {
        (Generation::Cps3, _) => {
            let (template, algorithm) = match key {
                KeyUse::Signature => (0xB6, CPS3_ALG_SIGN_SHA256),
                KeyUse::Authentication => (0xA4, CPS3_ALG_AUTH_PKCS1),
            };
            let mut mse = vec![0x00, 0x22, 0x41, template, 0x00, 0x80, 0x01, algorithm];
            if let Some(key_ref) = key_ref {
                mse.extend([0x84, 0x01, key_ref]);
            }
            mse[4] = (mse.len() - 5) as u8;
            expect_ok("MSE SET", &link.transmit(&mse)?)?;
            let (mut cmd, data) = match key {
                KeyUse::Signature => (vec![0x00, 0x2A, 0x9E, 0x9A], digest.to_vec()),
                KeyUse::Authentication => (
                    vec![0x00, 0x88, 0x00, 0x00],
                    [&SHA256_DIGEST_INFO[..], digest].concat(),
                ),
            };
            cmd.push(data.len() as u8);
            cmd.extend_from_slice(&data);
            cmd.push(0x00);
            let r = link.transmit(&cmd)?;
            expect_ok("the signature", &r)?;
            r.data
        }
        (Generation::Cps4, KeyUse::Signature) => {
            let key_ref = key_ref.ok_or_else(|| {
                CardError::Device("the signature key has no keyReference in the PrKDF".into())
            })?;
            let mse = [
                0x00,
                0x22,
                0x81,
                0xB6,
                0x04,
                0x91,
                0x02,
                CPS4_ALG_SIGN_SHA256,
                key_ref | 0x80,
            ];
            expect_ok("MSE SET", &link.transmit(&mse)?)?;
            let mut cmd = vec![0x00, 0x2A, 0x9E, 0x9A, digest.len() as u8];
            cmd.extend_from_slice(digest);
            cmd.push(0x00);
            let r = link.transmit(&cmd)?;
            expect_ok("PSO COMPUTE DIGITAL SIGNATURE", &r)?;
            r.data
        }
        (Generation::Cps4, KeyUse::Authentication) => {
            let key_ref = key_ref.ok_or_else(|| {
                CardError::Device("the authentication key has no keyReference in the PrKDF".into())
            })?;
            let size = prkey.modulus_bits.unwrap_or(2048) / 8;
            let block = pkcs1_type1_block(&[&SHA256_DIGEST_INFO[..], digest].concat(), size)?;
            expect_ok(
                "MSE SET",
                &link.transmit(&[0x00, 0x22, 0x41, 0xB8, 0x03, 0x83, 0x01, key_ref])?,
            )?;
            // PSO DECIPHER, chained in parts of at most 255 bytes (CLA bit 5 on all but the last).
            let parts: Vec<&[u8]> = block.chunks(255).collect();
            let mut answer = None;
            for (i, part) in parts.iter().enumerate() {
                let last = i + 1 == parts.len();
                let mut cmd = vec![if last { 0x00 } else { 0x10 }, 0x2A, 0x80, 0x86];
                cmd.push(part.len() as u8);
                cmd.extend_from_slice(part);
                if last {
                    cmd.push(0x00);
                }
                let r = link.transmit(&cmd)?;
                expect_ok("PSO DECIPHER", &r)?;
                answer = Some(r.data);
            }
            answer.unwrap_or_default()
        }
    };
    if signature.is_empty() {
        return Err(CardError::Device(
            "the card returned an empty signature".into(),
        ));
    }
    Ok((signature, p15.certificate(link, key)?))
}

/// `00 01 FF…FF 00 || data`, `size` bytes (RFC 8017, EMSA-PKCS1-v1_5), for a card that only
/// computes the raw RSA operation.
fn pkcs1_type1_block(data: &[u8], size: usize) -> Result<Zeroizing<Vec<u8>>, CardError> {
    if size < data.len() + 11 {
        return Err(CardError::Device(format!(
            "a {}-bit key is too short for a SHA-256 signature",
            size * 8
        )));
    }
    let mut block = Zeroizing::new(vec![0xFF; size]);
    block[0] = 0x00;
    block[1] = 0x01;
    block[size - data.len() - 1] = 0x00;
    block[size - data.len()..].copy_from_slice(data);
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atr_patterns() {
        let cps3 = [
            0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10,
            0x00, 0x90, 0x00,
        ];
        assert_eq!(generation(&cps3), Some(Generation::Cps3));
        let mut other = cps3;
        other[1] = 0x11; // masked out
        assert_eq!(generation(&other), Some(Generation::Cps3));
        other[6] = 0x13; // not masked
        assert_eq!(generation(&other), None);
        let cps4 = [
            0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x04, 0x01, 0x00,
            0x00, 0x90, 0x44,
        ];
        assert_eq!(generation(&cps4), Some(Generation::Cps4));
        assert_eq!(generation(&[0x3B, 0x88, 0x80, 0x01]), None);
    }

    #[test]
    fn pin_counter_is_found_in_the_nested_pin_object() {
        // 70 { BF 81 01 { A0 { 9A 01 03, 9B 01 02 } } }
        let answer = [
            0x70, 0x0C, 0xBF, 0x81, 0x01, 0x08, 0xA0, 0x06, 0x9A, 0x01, 0x03, 0x9B, 0x01, 0x02,
        ];
        use passerelle_ber_tlv::find_deep;
        assert_eq!(find_deep(&answer, 0x9B), Some(&[0x02][..]));
        assert_eq!(find_deep(&answer, 0x9A), Some(&[0x03][..]));
        assert_eq!(find_deep(&answer, 0x9D), None);
        assert_eq!(find_deep(&[0x70, 0x05, 0x9B], 0x9B), None);
    }

    #[test]
    fn type1_block() {
        let block = pkcs1_type1_block(&[0xAA; 51], 256).unwrap();
        assert_eq!(block.len(), 256);
        assert_eq!(&block[..3], &[0x00, 0x01, 0xFF]);
        assert_eq!(block[256 - 52], 0x00);
        assert!(block[2..256 - 52].iter().all(|b| *b == 0xFF));
        assert!(pkcs1_type1_block(&[0; 51], 60).is_err());
    }
}
