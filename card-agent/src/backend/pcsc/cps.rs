//! CPS3/CPS4 (IAS-ECC) over APDUs.
//!
//! From the public references (the OpenSC-based CPS drivers ANS publishes in
//! `ansforge/dops-cryptolib`): the ATRs below, the IAS application AID (the CPS's PKCS#15
//! application), EF.SN.ICC at `3F00/D003` (issuer `80 25 00 00 01` at offset 2, the serial
//! after it), the holder file of the contact mode `3F00/0001/7001`, the situation files
//! `3F00/0001/D120`…`D12F`, VERIFY with `63Cx` / `6983`, and the CPS3 signing path of the
//! reference (`pkcs15-sec.c` `sc_pkcs15_compute_signature`, `card-cps3.c`
//! `cps3_set_security_env` / `cps3_sign`): for the signature key (nonRepudiation), MSE SET
//! `00 22 41 B6 06 80 01 42 84 01 <ref>` (algorithm `42`: RSA PKCS#1 v1.5 with SHA-256, the
//! card building the DigestInfo) then PSO COMPUTE DIGITAL SIGNATURE `00 2A 9E 9A 20 <bare
//! 32-byte digest> 00`; for the authentication key, MSE SET `00 22 41 A4 06 80 01 02 84 01
//! <ref>` (algorithm `02`) then INTERNAL AUTHENTICATE `00 88 00 00 33 <SHA-256 DigestInfo> 00`.
//! No file reference (`81`) in MSE SET on a CPS3. (The reference can also have the card hash
//! the last block, MSE SET `41 AA 80 01 40` + PSO HASH `2A 90 A0`, then a PSO CDS without
//! data; not used here: the digest is computed by the caller.) The certificates and the
//! private keys' references are found through the card's PKCS#15 structure (see
//! [`super::pkcs15`]).
//!
//! This project's convention (the card's own data formats are not public; shared with
//! `card-emulator`): holder file TLVs `80` id type (`8` RPPS, `0` ADELI), `81` identifier, `82`
//! last name, `83` first name, `84` profession code, `85` profession label, `86` specialty;
//! situation TLVs `80` structure id type, `81` structure id, `82` name, `83` activity sector,
//! `84` billing id; PIN reference `81`. CPS4 is driven like a CPS3: the reference's CPS4 driver
//! (logical channel 1, ChipDoc AID, MSE `81 B6` tag `91`, authentication by PSO DECIPHER)
//! is not followed here.

use zeroize::Zeroizing;

use super::apdu::{Response, hex, read_path, text, tlvs, transmit};
use super::pkcs15;
use crate::backend::{CardError, CpsData, IdType, KeyUse, Situation};

/// (ATR, mask) of the CPS cards, from the reference driver.
const CPS_ATRS: [(&[u8], &[u8]); 5] = [
    // CPS3 contact
    (
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
        &[
            0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x04, 0x01, 0x00,
            0x00, 0x90, 0x44,
        ],
        &[0xFF; 17],
    ),
    (
        &[
            0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x04, 0x01,
            0x00, 0x90, 0x44,
        ],
        &[0xFF; 17],
    ),
    (
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
const ISSUER: [u8; 5] = [0x80, 0x25, 0x00, 0x00, 0x01];
const PIN_REF: u8 = 0x81;
/// MSE SET algorithm reference, signature key: RSA PKCS#1 v1.5 SHA-256, DigestInfo built by
/// the card (reference driver, CPS3).
const ALG_SIGN_SHA256: u8 = 0x42;
/// MSE SET algorithm reference, authentication key: RSA PKCS#1 v1.5 over the DigestInfo sent.
const ALG_AUTH_PKCS1: u8 = 0x02;
/// DigestInfo prefix of SHA-256 (RFC 8017, 9.2 note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

pub fn is_cps_atr(atr: &[u8]) -> bool {
    CPS_ATRS.iter().any(|(a, m)| {
        a.len() == atr.len() && a.iter().zip(*m).zip(atr).all(|((a, m), b)| a & m == b & m)
    })
}

/// Card serial from EF.SN.ICC (the 10 hex digits after the issuer), None if not a CPS.
pub fn serial(card: &pcsc::Card, reader: &str) -> Result<Option<String>, CardError> {
    let Some(sn) = read_path(card, reader, &[0xD003])? else {
        return Ok(None);
    };
    if sn.len() < 7 || sn[2..7] != ISSUER {
        return Ok(None);
    }
    Ok(Some(hex(&sn[7..])))
}

/// Holder, situations, certificates.
pub fn read(card: &pcsc::Card, reader: &str) -> Result<CpsData, CardError> {
    let card_serial = serial(card, reader)?.ok_or_else(|| CardError::NotACps(reader.to_owned()))?;
    let holder = read_path(card, reader, &[0x0001, 0x7001])?
        .ok_or_else(|| CardError::Device("holder file 3F00/0001/7001 not found".into()))?;
    let h = tlvs(&holder);
    let id_type = match text(&h, 0x80).as_str() {
        "8" => IdType::Rpps,
        "0" => IdType::Adeli,
        _ => IdType::Other,
    };
    let mut situations = Vec::new();
    for i in 0..16u16 {
        let Some(s) = read_path(card, reader, &[0x0001, 0xD120 + i])? else {
            break;
        };
        let s = tlvs(&s);
        if s.is_empty() {
            break;
        }
        situations.push(Situation {
            structure_id_type: text(&s, 0x80),
            structure_id: text(&s, 0x81),
            structure_name: text(&s, 0x82),
            activity_sector: text(&s, 0x83),
            billing_id: text(&s, 0x84),
        });
    }
    let p15 = pkcs15::read(card, reader)?;
    Ok(CpsData {
        id: text(&h, 0x81),
        id_type,
        last_name: text(&h, 0x82),
        first_name: text(&h, 0x83),
        profession: text(&h, 0x84),
        profession_label: text(&h, 0x85),
        specialty: text(&h, 0x86),
        situations,
        card_serial,
        auth_certificate: p15.certificate(card, reader, KeyUse::Authentication)?,
        sign_certificate: p15.certificate(card, reader, KeyUse::Signature)?,
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

/// Tries left, without presenting a PIN (VERIFY with no data). Ok(None): already verified.
pub fn tries_left(card: &pcsc::Card, reader: &str) -> Result<Option<u8>, CardError> {
    let r = transmit(card, reader, &[0x00, 0x20, 0x00, PIN_REF])?;
    match pin_status(&r) {
        Ok(()) => Ok(None),
        Err(CardError::WrongPin { tries_left }) => Ok(Some(tries_left)),
        Err(e) => Err(e),
    }
}

/// Presents the PIN once. Never retried here.
pub fn verify(card: &pcsc::Card, reader: &str, pin: &Zeroizing<String>) -> Result<(), CardError> {
    if pin.len() < 4 || pin.len() > 8 || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CardError::Device("the PIN must be 4 to 8 digits".into()));
    }
    // Refuse to spend a try on a blocked card.
    if let Err(e @ CardError::Blocked) = tries_left(card, reader) {
        return Err(e);
    }
    let mut cmd = Zeroizing::new(vec![0x00, 0x20, 0x00, PIN_REF, 0x08]);
    cmd.extend_from_slice(pin.as_bytes());
    cmd.resize(13, 0xFF);
    let r = transmit(card, reader, &cmd)?;
    pin_status(&r)
}

/// Signs a SHA-256 digest with the key found in the PrKDF (the bare digest to the signature
/// key, the DigestInfo to the authentication key; the card pads and signs); returns the
/// signature and the key's certificate.
pub fn sign(
    card: &pcsc::Card,
    reader: &str,
    key: KeyUse,
    digest: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CardError> {
    if digest.len() != 32 {
        return Err(CardError::BadDigest(digest.len()));
    }
    let p15 = pkcs15::read(card, reader)?;
    let prkey = p15.key(key)?;
    if prkey.path.is_empty() {
        p15.select_app(card, reader)?;
    } else {
        p15.select_file(card, reader, &prkey.path)?;
    }
    // Reference (CPS3): signature key B6 with algorithm 42 (SHA-256, DigestInfo built by the
    // card), authentication key A4 with algorithm 02 (DigestInfo sent).
    let (template, algorithm) = match key {
        KeyUse::Signature => (0xB6, ALG_SIGN_SHA256),
        KeyUse::Authentication => (0xA4, ALG_AUTH_PKCS1),
    };
    let mut mse = vec![0x00, 0x22, 0x41, template, 0x00, 0x80, 0x01, algorithm];
    if let Some(key_ref) = prkey.key_ref {
        mse.extend([0x84, 0x01, key_ref]);
    }
    mse[4] = (mse.len() - 5) as u8;
    let r = transmit(card, reader, &mse)?;
    if !r.ok() {
        return Err(CardError::Device(format!("MSE SET answered {:04X}", r.sw)));
    }
    let data = match key {
        KeyUse::Signature => digest.to_vec(),
        KeyUse::Authentication => [&SHA256_DIGEST_INFO[..], digest].concat(),
    };
    let mut cmd = match key {
        KeyUse::Signature => vec![0x00, 0x2A, 0x9E, 0x9A],
        KeyUse::Authentication => vec![0x00, 0x88, 0x00, 0x00],
    };
    cmd.push(data.len() as u8);
    cmd.extend_from_slice(&data);
    cmd.push(0x00);
    let r = transmit(card, reader, &cmd)?;
    let sig = match r.sw {
        0x9000 if !r.data.is_empty() => r.data,
        0x6982 => return Err(CardError::PinRequired),
        0x6983 => return Err(CardError::Blocked),
        sw => return Err(CardError::Device(format!("signature answered {sw:04X}"))),
    };
    Ok((sig, p15.certificate(card, reader, key)?))
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
        assert!(is_cps_atr(&cps3));
        let mut other = cps3;
        other[1] = 0x11; // masked out
        assert!(is_cps_atr(&other));
        other[6] = 0x13; // not masked
        assert!(!is_cps_atr(&other));
        assert!(!is_cps_atr(&[0x3B, 0x88, 0x80, 0x01]));
    }
}
