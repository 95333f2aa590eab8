//! CPS cards (French health professional cards) of two generations, emulated as the ANS
//! reference driver drives them: the Cryptolib CPS v5.2, OpenSC-based, published in
//! `ansforge/dops-cryptolib` (`card-cps3.c`, `card-cps4.c`, `card-cps.c`, `pkcs15-sec.c`).
//! [`CpsCard::new`] is a CPS3 (IAS-ECC, contact), [`CpsCard::new_cps4`] a CPS4 (NXP, ChipDoc
//! applet). Both hold the same data.
//!
//! # Both generations, from the reference
//! - EF.SN.ICC at `3F00/D003` (12 bytes: `5A 0A`, the issuer number `80 25 00 00 01`, the card
//!   serial); EF_ACTUA at `3F00/D010` (template `EC`, start `81` and end `82` dates in BCD),
//!   which only the CPS3 driver reads;
//! - the PKCS#15 structure as OpenSC walks it: EF.DIR at `3F00/2F00` with a record `61 { 4F
//!   <IAS AID> 50 "CPS" }` (no `51` path: the application is selected by its AID
//!   `E8 28 BD 08 0F 80 25 00 00 01 FF 00 10`, the same for both generations), EF.ODF at
//!   `<application>/5031` (`A0` PrKDF, `A4` CDF, `A8` AODF), EF.TokenInfo at
//!   `<application>/5032`; in the PrKDF each key has its `keyReference` and an empty path; each
//!   certificate in the CDF has its key's iD and a path relative to the application;
//! - the PIN as the AODF describes it (the drivers hard-code nothing about it): VERIFY
//!   `<cla> 20 00 <pinReference>` with the ASCII digits padded with `FF` to the stored length
//!   8; `63Cx` for a wrong PIN with x tries left, `6983` once blocked (3 tries); a P2 that is
//!   not the AODF's reference: `6A88`;
//! - the business objects in the DODF (ODF `A7`, `<application>/4403`) under the labels of
//!   Cryptolib's external specification (table 3): `CPS_NAME_PS` (the holder, free) and
//!   `CPS_ACTIVITY_01_PS`… (one per practice situation, "Protégé": READ BINARY answers `6982`
//!   until the PIN is verified), each an opaque object by path. Ours: the files they point to
//!   (`3F00/0001/7001`, `3F00/0001/D120`…) and their TLV content.
//!
//! # CPS3 (`card-cps3.c`)
//! - ATR `3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00`; CLA `00` only (no logical
//!   channel), anything else `6E00`;
//! - SELECT with P1=09 and the full path from the MF (`3F00` included), P2=04 (FCP `62 { 80
//!   size }` for an EF) or 0C (no data); P1=02 FID, 04 AID; P1=08 (path from the MF) and P1=09
//!   with a path relative to the current DF are accepted too;
//! - the try counter by GET DATA `00 CB 3F FF 0A 4D 08 70 06 BF 81 <pinRef> 02 A0 80 00`,
//!   answered `70 0C BF 81 <pinRef> 08 A0 06 9A 01 <max> 9B 01 <left>` (9000 even when
//!   blocked). The driver never sends a VERIFY without data to a CPS3: refused, `6700`;
//! - signature key (SHA-256): MSE SET `00 22 41 B6` with `80 01 42` and `84 01 <ref>`, then PSO
//!   COMPUTE DIGITAL SIGNATURE `00 2A 9E 9A 20 <bare 32-byte digest> 00`; the card builds the
//!   DigestInfo, pads (PKCS#1 v1.5 type 1) and signs. Another algorithm, or data that is not a
//!   32-byte digest: `6A80`. (The reference can also let the card hash, PSO HASH then a PSO CDS
//!   without data: not emulated, `6985`.)
//! - authentication key: MSE SET `00 22 41 A4` with `80 01 02` and `84 01 <ref>`, then INTERNAL
//!   AUTHENTICATE `00 88 00 00` with the DigestInfo, which the card pads and signs.
//!
//! # CPS4 (`card-cps4.c`)
//! - ATR `3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44`;
//! - logical channels (CLA `& 03`; `& 10` chaining): the basic channel holds the legacy CPS2ter
//!   applet (AID `80 25 00 00 01 FF 00 02`: its SELECT is accepted, nothing else is emulated,
//!   `6D00`); the driver works on channel 1 and opens it without MANAGE CHANNEL, by selecting
//!   the ChipDoc applet `80 25 00 00 01 FF 01 00` there. Until then channel 1 answers `6881`,
//!   as do channels 2 and 3. Power off or reset closes it;
//! - SELECT as OpenSC's `iso7816_select_file`: P1=08 path from the MF without `3F00`, P1=00 with
//!   `3F 00` for the MF, 00/02 FID, 04 DF name (the IAS AID, or the ChipDoc AID to re-select the
//!   applet); P2=00 answers the FCI `6F { 83 fid, 82 01|38, 80 size }`, 0C nothing, any other
//!   P2 `6A86`;
//! - VERIFY without data gives the PIN status (`9000` verified, `63Cx`, `6983`); no GET DATA;
//! - signature key: MSE SET `01 22 81 B6 04 91 02 28 <ref|80>` (tag 91: algorithm 28, RSA
//!   PKCS#1 v1.5 SHA-256, then the key), anything else `6A80`; PSO CDS with the bare digest as
//!   on a CPS3;
//! - authentication key: ChipDoc has no INTERNAL AUTHENTICATE (`6D00`); the host builds the
//!   PKCS#1 type 1 block and the card applies the raw RSA private-key operation to it: MSE SET
//!   `01 22 41 B8 03 83 01 20`, then PSO DECIPHER `2A 80 86` chained, `11 2A 80 86 FF <255
//!   bytes>` then `01 2A 80 86 01 <last byte> 00`, answered with the 256-byte result (C_Decrypt
//!   goes the same way and the host strips the padding);
//! - key references: `20` for the authentication key (hard-coded in the driver), which has
//!   usage decrypt + sign in the PrKDF (the driver tests the decrypt bit), and `10` for the
//!   signature key (the reference's test suite).
//!
//! # Our convention
//! What the references leave to the card's own data (the "API CPS" formats are not public),
//! shared with the card-agent's reader (`card-agent/src/backend/pcsc/cps.rs`): the TLV content
//! of the holder and situation files; the PIN references (`01` CPS3, `81` CPS4; the driver
//! reads them from the AODF) and the rest of the AODF (label "PIN", authId `01`,
//! ASCII-numeric, 4 to 8 digits, stored padded with `FF` to 8); the CPS3 key references (`81`
//! authentication, `82` signature). Also ours, since the reference reads them from the card:
//! the application DF's file id (`5015`, OpenSC's default PKCS#15 DF), the AODF (`4401`),
//! PrKDF (`4402`) and CDF (`4404`) file ids, the certificate EFs (`C000` authentication, `C001`
//! signature), the objects' labels and iDs (`01`, `02`), the TokenInfo content (version, label
//! "CPS" for both generations, no flags). On a CPS4, re-selecting the ChipDoc applet keeps the
//! security state, and any command on channel 1 other than a PSO DECIPHER part abandons a
//! partial chained block.

use rsa::hazmat::rsa_decrypt_and_check;
use rsa::rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey};
use zeroize::Zeroizing;

use crate::apdu::{
    Command, SW_AUTH_BLOCKED, SW_CHAINING_NOT_SUPPORTED, SW_CHANNEL_NOT_SUPPORTED,
    SW_CLA_NOT_SUPPORTED, SW_CONDITIONS_NOT_SATISFIED, SW_FILE_NOT_FOUND, SW_INCORRECT_P1P2,
    SW_INS_NOT_SUPPORTED, SW_OK, SW_REFERENCE_NOT_FOUND, SW_SECURITY_NOT_SATISFIED, SW_WRONG_DATA,
    SW_WRONG_LENGTH, SW_WRONG_P1P2, respond, status, tlv,
};
use crate::fs::{FileSystem, MF, Selected, fids};

pub const CPS3_ATR: [u8; 17] = [
    0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00, 0x90,
    0x00,
];
pub const CPS4_ATR: [u8; 17] = [
    0x3B, 0x9B, 0x18, 0x80, 0x01, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x04, 0x01, 0x00, 0x00, 0x90,
    0x44,
];
/// The PKCS#15 application (the same on both generations).
pub const IAS_AID: [u8; 13] = [
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10,
];
/// The CPS4 applet holding the PKCS#15 application and the keys, on logical channel 1.
pub const CHIPDOC_AID: [u8; 8] = [0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x01, 0x00];
/// The legacy CPS2ter applet of a CPS4, on the basic channel (only its SELECT is emulated).
pub const CPS2TER_AID: [u8; 8] = [0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x02];
pub const ISSUER: [u8; 5] = [0x80, 0x25, 0x00, 0x00, 0x01];
/// CPS3 MSE SET algorithm reference of the signature key: RSA PKCS#1 v1.5, SHA-256, DigestInfo
/// built by the card (the reference driver's `0x42`).
pub const CPS3_ALG_SIGN_SHA256: u8 = 0x42;
/// CPS3 MSE SET algorithm reference of the authentication key: RSA PKCS#1 v1.5 over the
/// DigestInfo sent (the reference driver's `0x02`).
pub const CPS3_ALG_AUTH_PKCS1: u8 = 0x02;
/// CPS4 MSE SET algorithm (tag 91) of the signature key: RSA PKCS#1 v1.5, SHA-256, DigestInfo
/// built by the card (the reference driver's `0x28`).
pub const CPS4_ALG_SIGN_SHA256: u8 = 0x28;
/// PIN references published in the AODF (our convention, see the module docs).
pub const CPS3_PIN_REF: u8 = 0x01;
pub const CPS4_PIN_REF: u8 = 0x81;
/// Key references published in the PrKDF: ours on a CPS3; the reference's on a CPS4.
pub const CPS3_AUTH_KEY_REF: u8 = 0x81;
pub const CPS3_SIGN_KEY_REF: u8 = 0x82;
pub const CPS4_AUTH_KEY_REF: u8 = 0x20;
pub const CPS4_SIGN_KEY_REF: u8 = 0x10;
pub const MAX_TRIES: u8 = 3;
/// The PIN as the AODF stores it: ASCII digits padded with `PIN_PAD` to this length.
pub const PIN_STORED_LENGTH: usize = 8;
pub const PIN_PAD: u8 = 0xFF;
/// Application DF, then the PKCS#15 files relative to it.
pub const APP_DF: u16 = 0x5015;
pub const EF_DIR: u16 = 0x2F00;
pub const ODF: u16 = 0x5031;
pub const TOKEN_INFO: u16 = 0x5032;
pub const AODF: u16 = 0x4401;
pub const PRKDF: u16 = 0x4402;
pub const DODF: u16 = 0x4403;
/// The holder ("caractéristiques porteur") and practice-situation files, named in the DODF.
pub const HOLDER_FILE: [u16; 3] = [0x3F00, 0x0001, 0x7001];
pub const FIRST_SITUATION_FILE: u16 = 0xD120;
pub const CDF: u16 = 0x4404;
pub const AUTH_CERT: u16 = 0xC000;
pub const SIGN_CERT: u16 = 0xC001;
/// DigestInfo prefix of SHA-256 (RFC 8017, 9.2 note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
/// PKCS#15 KeyUsageFlags as DER BIT STRING contents: sign(2); decrypt(1) and sign(2);
/// nonRepudiation(9).
const USAGE_SIGN: [u8; 2] = [0x05, 0x20];
const USAGE_DECRYPT_SIGN: [u8; 2] = [0x05, 0x60];
const USAGE_NON_REPUDIATION: [u8; 3] = [0x06, 0x00, 0x40];
/// CPS4 CLA: logical channel bits and the command-chaining bit (ISO 7816-4 first interindustry
/// class).
const CLA_CHANNEL: u8 = 0x03;
const CLA_CHAINING: u8 = 0x10;

/// Which CPS is emulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    Cps3,
    Cps4,
}

impl Generation {
    pub fn atr(self) -> &'static [u8] {
        match self {
            Generation::Cps3 => &CPS3_ATR,
            Generation::Cps4 => &CPS4_ATR,
        }
    }

    pub fn pin_reference(self) -> u8 {
        match self {
            Generation::Cps3 => CPS3_PIN_REF,
            Generation::Cps4 => CPS4_PIN_REF,
        }
    }

    pub fn auth_key_reference(self) -> u8 {
        match self {
            Generation::Cps3 => CPS3_AUTH_KEY_REF,
            Generation::Cps4 => CPS4_AUTH_KEY_REF,
        }
    }

    pub fn sign_key_reference(self) -> u8 {
        match self {
            Generation::Cps3 => CPS3_SIGN_KEY_REF,
            Generation::Cps4 => CPS4_SIGN_KEY_REF,
        }
    }
}

/// A practice situation written on the card.
#[derive(Debug, Clone, Default)]
pub struct SituationSpec {
    pub structure_id_type: String,
    pub structure_id: String,
    pub structure_name: String,
    pub activity_sector: String,
    pub billing_id: String,
}

/// What to put on the emulated CPS.
#[derive(Clone)]
pub struct CpsSpec {
    /// 10 hexadecimal digits (5 bytes), the part of EF.SN.ICC after the issuer number.
    pub serial: String,
    /// `8` RPPS, `0` ADELI (type codes of the national identifier).
    pub id_type: String,
    pub id: String,
    pub last_name: String,
    pub first_name: String,
    pub profession: String,
    pub profession_label: String,
    pub specialty: String,
    pub situations: Vec<SituationSpec>,
    pub pin: Zeroizing<String>,
    pub auth_key: RsaPrivateKey,
    pub auth_cert_der: Vec<u8>,
    pub sign_key: RsaPrivateKey,
    pub sign_cert_der: Vec<u8>,
}

/// A DER INTEGER of a small non-negative number.
fn integer(n: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (n as u32)
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    if bytes.first().is_none_or(|b| b & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    tlv(0x02, &bytes)
}

/// A PKCS#15 Path: `30 { 04 path }`.
fn path(fids: &[u16]) -> Vec<u8> {
    let bytes: Vec<u8> = fids.iter().flat_map(|f| f.to_be_bytes()).collect();
    tlv(0x30, &tlv(0x04, &bytes))
}

/// A PrKDF entry for an RSA private key.
fn private_key(label: &str, id: u8, usage: &[u8], key_ref: u8, key: &RsaPrivateKey) -> Vec<u8> {
    tlv(
        0x30,
        &[
            tlv(0x30, &tlv(0x0C, label.as_bytes())),
            tlv(
                0x30,
                &[
                    tlv(0x04, &[id]),
                    tlv(0x03, usage),
                    integer(usize::from(key_ref)),
                ]
                .concat(),
            ),
            tlv(
                0xA1,
                &tlv(0x30, &[path(&[]), integer(key.size() * 8)].concat()),
            ),
        ]
        .concat(),
    )
}

/// A DODF entry: an opaque data object at an absolute path; `protected`: readable only once
/// the PIN (authId 01) is verified.
fn data_object(label: &str, fids: &[u16], protected: bool) -> Vec<u8> {
    let mut common = tlv(0x0C, label.as_bytes());
    if protected {
        // flags: private(0); authId 01 (the PIN's).
        common.extend(tlv(0x03, &[0x07, 0x80]));
        common.extend(tlv(0x04, &[0x01]));
    }
    tlv(
        0x30,
        &[tlv(0x30, &common), tlv(0x30, &[]), tlv(0xA1, &path(fids))].concat(),
    )
}

/// A CDF entry for an X.509 certificate in an EF of the application.
fn certificate(label: &str, id: u8, fid: u16) -> Vec<u8> {
    tlv(
        0x30,
        &[
            tlv(0x30, &tlv(0x0C, label.as_bytes())),
            tlv(0x30, &tlv(0x04, &[id])),
            tlv(0xA1, &tlv(0x30, &path(&[fid]))),
        ]
        .concat(),
    )
}

/// The AODF entry of the PIN (PKCS#15 AuthenticationObject with PinAttributes).
fn pin_object(pin_ref: u8) -> Vec<u8> {
    let attributes = [
        // pinFlags: initialized(4), needs-padding(5).
        tlv(0x03, &[0x02, 0x0C]),
        // pinType: ascii-numeric.
        tlv(0x0A, &[0x01]),
        // minLength, storedLength, maxLength.
        tlv(0x02, &[4]),
        tlv(0x02, &[PIN_STORED_LENGTH as u8]),
        tlv(0x02, &[8]),
        // pinReference [0], one byte even for 81 (OpenSC reads a negative value and adds 256).
        tlv(0x80, &[pin_ref]),
        // padChar.
        tlv(0x04, &[PIN_PAD]),
    ]
    .concat();
    tlv(
        0x30,
        &[
            tlv(0x30, &tlv(0x0C, b"PIN")),
            tlv(0x30, &tlv(0x04, &[0x01])),
            tlv(0xA1, &tlv(0x30, &attributes)),
        ]
        .concat(),
    )
}

/// The key chosen by the last MSE SET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Env {
    /// The signature key, for PSO COMPUTE DIGITAL SIGNATURE.
    Sign,
    /// The authentication key: INTERNAL AUTHENTICATE (CPS3), PSO DECIPHER (CPS4).
    Auth,
}

/// The card builds the SHA-256 DigestInfo, pads (PKCS#1 v1.5 type 1) and signs.
fn sign_digest(key: &RsaPrivateKey, digest: &[u8]) -> Vec<u8> {
    let mut di = Zeroizing::new(Vec::with_capacity(SHA256_DIGEST_INFO.len() + digest.len()));
    di.extend_from_slice(&SHA256_DIGEST_INFO);
    di.extend_from_slice(digest);
    match key.sign(Pkcs1v15Sign::new_unprefixed(), &di) {
        Ok(sig) => respond(sig, SW_OK),
        Err(_) => status(SW_WRONG_DATA),
    }
}

/// The FCI a CPS4 returns for SELECT with P2=00, where OpenSC's `iso7816_process_fci` reads
/// the file id, the descriptor byte (01 transparent EF, 38 DF) and the size.
fn fci(selected: Selected) -> Vec<u8> {
    let content = match selected {
        Selected::Df { fid } => [tlv(0x83, &fid.to_be_bytes()), tlv(0x82, &[0x38])].concat(),
        Selected::Ef { fid, size } => [
            tlv(0x83, &fid.to_be_bytes()),
            tlv(0x82, &[0x01]),
            tlv(0x80, &(size.min(0xFFFF) as u16).to_be_bytes()),
        ]
        .concat(),
    };
    tlv(0x6F, &content)
}

/// The emulated card: files, PIN state, keys, and for a CPS4 the logical channel state.
pub struct CpsCard {
    generation: Generation,
    fs: FileSystem,
    pin: Zeroizing<String>,
    tries_left: u8,
    verified: bool,
    auth_key: RsaPrivateKey,
    sign_key: RsaPrivateKey,
    env: Option<Env>,
    /// CPS4: channel 1 is open (the ChipDoc applet was selected on it since the last reset).
    channel_open: bool,
    /// CPS4: the parts of a chained PSO DECIPHER received so far.
    chain: Option<Zeroizing<Vec<u8>>>,
}

impl CpsCard {
    /// A CPS3.
    pub fn new(spec: CpsSpec) -> Self {
        Self::build(spec, Generation::Cps3)
    }

    /// A CPS4 with the same data.
    pub fn new_cps4(spec: CpsSpec) -> Self {
        Self::build(spec, Generation::Cps4)
    }

    fn build(spec: CpsSpec, generation: Generation) -> Self {
        let mut fs = FileSystem::new();
        let mut sn = vec![0x5A, 0x0A];
        sn.extend_from_slice(&ISSUER);
        // Not hex: zeros, as an unreadable serial.
        sn.extend(
            hex::decode(&spec.serial)
                .unwrap_or_default()
                .into_iter()
                .take(5),
        );
        sn.resize(12, 0);
        fs.add_ef(&[MF, 0xD003], sn);
        let actua = tlv(
            0xEC,
            &[
                tlv(0x81, &[0x20, 0x25, 0x01, 0x01]),
                tlv(0x82, &[0x20, 0x28, 0x12, 0x31]),
            ]
            .concat(),
        );
        fs.add_ef(&[MF, 0xD010], actua);
        let holder = [
            tlv(0x80, spec.id_type.as_bytes()),
            tlv(0x81, spec.id.as_bytes()),
            tlv(0x82, spec.last_name.as_bytes()),
            tlv(0x83, spec.first_name.as_bytes()),
            tlv(0x84, spec.profession.as_bytes()),
            tlv(0x85, spec.profession_label.as_bytes()),
            tlv(0x86, spec.specialty.as_bytes()),
        ]
        .concat();
        fs.add_ef(&HOLDER_FILE, holder);
        for (i, s) in spec.situations.iter().take(16).enumerate() {
            let content = [
                tlv(0x80, s.structure_id_type.as_bytes()),
                tlv(0x81, s.structure_id.as_bytes()),
                tlv(0x82, s.structure_name.as_bytes()),
                tlv(0x83, s.activity_sector.as_bytes()),
                tlv(0x84, s.billing_id.as_bytes()),
            ]
            .concat();
            fs.add_ef(&[MF, 0x0001, FIRST_SITUATION_FILE + i as u16], content);
        }
        fs.add_ef(
            &[MF, EF_DIR],
            tlv(0x61, &[tlv(0x4F, &IAS_AID), tlv(0x50, b"CPS")].concat()),
        );
        let app = |fid: u16| [MF, APP_DF, fid];
        fs.add_df(&[MF, APP_DF], Some(&IAS_AID));
        fs.add_ef(
            &app(ODF),
            [
                tlv(0xA0, &path(&[PRKDF])),
                tlv(0xA4, &path(&[CDF])),
                tlv(0xA7, &path(&[DODF])),
                tlv(0xA8, &path(&[AODF])),
            ]
            .concat(),
        );
        // The business objects under the reference's labels (Cryptolib external specification,
        // table 3): the holder's characteristics readable freely, the practice situations only
        // after the PIN ("Protégé").
        let mut dodf = data_object("CPS_NAME_PS", &HOLDER_FILE, false);
        for i in 0..spec.situations.len().min(16) {
            dodf.extend(data_object(
                &format!("CPS_ACTIVITY_{:02}_PS", i + 1),
                &[MF, 0x0001, FIRST_SITUATION_FILE + i as u16],
                true,
            ));
        }
        fs.add_ef(&app(DODF), dodf);
        fs.add_ef(
            &app(TOKEN_INFO),
            tlv(
                0x30,
                &[integer(0), tlv(0x80, b"CPS"), tlv(0x03, &[0x00])].concat(),
            ),
        );
        fs.add_ef(&app(AODF), pin_object(generation.pin_reference()));
        let auth_usage: &[u8] = match generation {
            Generation::Cps3 => &USAGE_SIGN,
            // The CPS4 driver signs with the authentication key through PSO DECIPHER only when
            // the key has the decrypt usage.
            Generation::Cps4 => &USAGE_DECRYPT_SIGN,
        };
        fs.add_ef(
            &app(PRKDF),
            [
                private_key(
                    "Authentication",
                    1,
                    auth_usage,
                    generation.auth_key_reference(),
                    &spec.auth_key,
                ),
                private_key(
                    "Signature",
                    2,
                    &USAGE_NON_REPUDIATION,
                    generation.sign_key_reference(),
                    &spec.sign_key,
                ),
            ]
            .concat(),
        );
        fs.add_ef(
            &app(CDF),
            [
                certificate("Authentication", 1, AUTH_CERT),
                certificate("Signature", 2, SIGN_CERT),
            ]
            .concat(),
        );
        fs.add_ef(&app(AUTH_CERT), spec.auth_cert_der);
        fs.add_ef(&app(SIGN_CERT), spec.sign_cert_der);
        Self {
            generation,
            fs,
            pin: spec.pin,
            tries_left: MAX_TRIES,
            verified: false,
            auth_key: spec.auth_key,
            sign_key: spec.sign_key,
            env: None,
            channel_open: false,
            chain: None,
        }
    }

    pub fn generation(&self) -> Generation {
        self.generation
    }

    pub fn atr(&self) -> &'static [u8] {
        self.generation.atr()
    }

    pub fn tries_left(&self) -> u8 {
        self.tries_left
    }

    /// The holder changed the PIN (with another tool): the PIN cached anywhere is now wrong.
    /// The security state is lost; the try counter is kept.
    pub fn set_pin(&mut self, pin: Zeroizing<String>) {
        self.pin = pin;
        self.verified = false;
    }

    /// Power off or reset: the security state, the MSE SET choice and the current file are
    /// lost, a CPS4's channel 1 is closed; the try counter is kept.
    pub fn reset(&mut self) {
        self.verified = false;
        self.env = None;
        self.channel_open = false;
        self.chain = None;
        self.fs.reset();
    }

    /// Whether this command runs a private key (used to simulate a removal in the middle of a
    /// signature): PSO CDS, INTERNAL AUTHENTICATE (CPS3), the last part of a PSO DECIPHER
    /// (CPS4; the earlier parts are only buffered).
    pub fn is_signature(cmd: &[u8]) -> bool {
        match cmd {
            [_, 0x2A, 0x9E, 0x9A, ..] | [_, 0x88, _, _, ..] => true,
            [cla, 0x2A, 0x80, 0x86, ..] => cla & CLA_CHAINING == 0,
            _ => false,
        }
    }

    pub fn process(&mut self, cmd: &Command) -> Vec<u8> {
        match self.generation {
            Generation::Cps3 => self.process_cps3(cmd),
            Generation::Cps4 => self.process_cps4(cmd),
        }
    }

    /// READ BINARY; the practice situations need the PIN.
    fn read_binary(&self, cmd: &Command) -> Vec<u8> {
        let situation = self.fs.current_ef().is_some_and(|ef| {
            matches!(ef, [MF, 0x0001, fid] if (FIRST_SITUATION_FILE..FIRST_SITUATION_FILE + 16).contains(fid))
        });
        if situation && !self.verified {
            return status(SW_SECURITY_NOT_SATISFIED);
        }
        self.fs.read_binary(cmd)
    }

    fn process_cps3(&mut self, cmd: &Command) -> Vec<u8> {
        // The CPS3 driver uses the basic channel only, without chaining for these commands.
        if cmd.cla != 0x00 {
            return status(SW_CLA_NOT_SUPPORTED);
        }
        match cmd.ins {
            0xA4 => self.fs.select(cmd),
            0xB0 => self.read_binary(cmd),
            0x20 => self.verify(cmd),
            0xCB => self.get_data(cmd),
            0x22 => self.mse_cps3(cmd),
            0x2A if cmd.p1 == 0x9E && cmd.p2 == 0x9A => self.sign_cps3(cmd, Env::Sign),
            0x88 => self.sign_cps3(cmd, Env::Auth),
            _ => status(SW_INS_NOT_SUPPORTED),
        }
    }

    fn process_cps4(&mut self, cmd: &Command) -> Vec<u8> {
        if cmd.cla & !(CLA_CHANNEL | CLA_CHAINING) != 0 {
            return status(SW_CLA_NOT_SUPPORTED);
        }
        let chained = cmd.cla & CLA_CHAINING != 0;
        match cmd.cla & CLA_CHANNEL {
            0 => Self::cps2ter(cmd),
            1 if self.channel_open => self.chipdoc(cmd, chained),
            1 if !chained && Self::selects_chipdoc(cmd) => {
                self.select_chipdoc();
                status(SW_OK)
            }
            _ => status(SW_CHANNEL_NOT_SUPPORTED),
        }
    }

    /// SELECT of the ChipDoc applet, with or without FCI/FCP asked (the driver sends P2=0C,
    /// and 04 when it re-selects after an error).
    fn selects_chipdoc(cmd: &Command) -> bool {
        cmd.ins == 0xA4
            && cmd.p1 == 0x04
            && matches!(cmd.p2, 0x00 | 0x04 | 0x0C)
            && cmd.data == CHIPDOC_AID
    }

    /// The applet's root becomes the current DF; the PIN state and the MSE SET choice stay.
    fn select_chipdoc(&mut self) {
        self.channel_open = true;
        self.chain = None;
        self.fs.reset();
    }

    /// The basic channel of a CPS4: the CPS2ter applet, which the reference driver only selects.
    fn cps2ter(cmd: &Command) -> Vec<u8> {
        match cmd.ins {
            0xA4 if cmd.p1 == 0x04 && cmd.data == CPS2TER_AID => status(SW_OK),
            0xA4 => status(SW_FILE_NOT_FOUND),
            _ => status(SW_INS_NOT_SUPPORTED),
        }
    }

    /// Channel 1 of a CPS4, once open: the ChipDoc applet.
    fn chipdoc(&mut self, cmd: &Command, chained: bool) -> Vec<u8> {
        let decipher = cmd.ins == 0x2A && cmd.p1 == 0x80 && cmd.p2 == 0x86;
        if !decipher {
            // Any other command ends a command chain (ISO 7816-4 5.3.3).
            self.chain = None;
            if chained {
                return status(SW_CHAINING_NOT_SUPPORTED);
            }
        }
        match cmd.ins {
            0xA4 if Self::selects_chipdoc(cmd) => {
                self.select_chipdoc();
                status(SW_OK)
            }
            0xA4 => self.select_cps4(cmd),
            0xB0 => self.read_binary(cmd),
            0x20 => self.verify(cmd),
            0x22 => self.mse_cps4(cmd),
            0x2A if cmd.p1 == 0x9E && cmd.p2 == 0x9A => self.sign_cps4(cmd),
            0x2A if decipher => self.decipher(cmd, chained),
            // Among others INTERNAL AUTHENTICATE (88) and GET DATA (CB).
            _ => status(SW_INS_NOT_SUPPORTED),
        }
    }

    /// SELECT as OpenSC's `iso7816_select_file` sends it to a CPS4.
    fn select_cps4(&mut self, cmd: &Command) -> Vec<u8> {
        if !matches!(cmd.p2, 0x00 | 0x0C) {
            return status(SW_INCORRECT_P1P2);
        }
        let path = if cmd.p1 == 0x04 {
            self.fs.df_named(&cmd.data)
        } else {
            let Some(fids) = fids(&cmd.data) else {
                return status(SW_WRONG_DATA);
            };
            match (cmd.p1, fids.as_slice()) {
                (0x00 | 0x02, []) => Some(vec![MF]),
                (0x00 | 0x02, [fid]) => Some(self.fs.fid_path(*fid)),
                (0x00 | 0x02, _) | (0x08, []) => return status(SW_WRONG_DATA),
                // From the MF, which the path does not repeat: `3F00 ...` is not found.
                (0x08, _) => Some([&[MF], fids.as_slice()].concat()),
                _ => return status(SW_INCORRECT_P1P2),
            }
        };
        match path.and_then(|p| self.fs.select_path(&p)) {
            None => status(SW_FILE_NOT_FOUND),
            Some(selected) if cmd.p2 == 0x00 => respond(fci(selected), SW_OK),
            Some(_) => status(SW_OK),
        }
    }

    /// VERIFY, with the PIN as the AODF describes it; without data (CPS4 only) the PIN status.
    fn verify(&mut self, cmd: &Command) -> Vec<u8> {
        if cmd.p1 != 0x00 {
            return status(SW_WRONG_P1P2);
        }
        if cmd.p2 != self.generation.pin_reference() {
            return status(SW_REFERENCE_NOT_FOUND);
        }
        if cmd.data.is_empty() {
            // The CPS3 driver reads the counter by GET DATA and never sends this.
            if self.generation == Generation::Cps3 {
                return status(SW_WRONG_LENGTH);
            }
            return if self.tries_left == 0 {
                status(SW_AUTH_BLOCKED)
            } else if self.verified {
                status(SW_OK)
            } else {
                status(0x63C0 | u16::from(self.tries_left))
            };
        }
        if self.tries_left == 0 {
            return status(SW_AUTH_BLOCKED);
        }
        if cmd.data.len() != PIN_STORED_LENGTH {
            return status(SW_WRONG_LENGTH);
        }
        let mut expected =
            Zeroizing::new(Vec::with_capacity(PIN_STORED_LENGTH.max(self.pin.len())));
        expected.extend_from_slice(self.pin.as_bytes());
        if expected.len() < PIN_STORED_LENGTH {
            expected.resize(PIN_STORED_LENGTH, PIN_PAD);
        }
        if cmd.data == *expected {
            self.tries_left = MAX_TRIES;
            self.verified = true;
            status(SW_OK)
        } else {
            self.tries_left = self.tries_left.saturating_sub(1);
            self.verified = false;
            if self.tries_left == 0 {
                status(SW_AUTH_BLOCKED)
            } else {
                status(0x63C0 | u16::from(self.tries_left))
            }
        }
    }

    /// CPS3 GET DATA of the PIN's security data object, as `cps3_get_pin_counter` asks for it:
    /// `4D { 70 { BF81<ref> { A0 { 80 } } } }` (an extended header list: the counters of the
    /// PIN). The answer carries 9A (maximum tries) and 9B (tries left).
    fn get_data(&self, cmd: &Command) -> Vec<u8> {
        const HEAD: [u8; 6] = [0x4D, 0x08, 0x70, 0x06, 0xBF, 0x81];
        const TAIL: [u8; 3] = [0x02, 0xA0, 0x80];
        if (cmd.p1, cmd.p2) != (0x3F, 0xFF) {
            return status(SW_WRONG_P1P2);
        }
        let d = &cmd.data;
        if d.len() != HEAD.len() + 1 + TAIL.len() || d[..6] != HEAD || d[7..] != TAIL {
            return status(SW_WRONG_DATA);
        }
        let pin_ref = d[6];
        if pin_ref != CPS3_PIN_REF {
            return status(SW_REFERENCE_NOT_FOUND);
        }
        let answer = vec![
            0x70,
            0x0C,
            0xBF,
            0x81,
            pin_ref,
            0x08,
            0xA0,
            0x06,
            0x9A,
            0x01,
            MAX_TRIES,
            0x9B,
            0x01,
            self.tries_left,
        ];
        respond(answer, SW_OK)
    }

    fn mse_cps3(&mut self, cmd: &Command) -> Vec<u8> {
        if cmd.p1 != 0x41 || !(cmd.p2 == 0xB6 || cmd.p2 == 0xA4) {
            return status(SW_WRONG_P1P2);
        }
        // Control reference template: 80 (algorithm), 83/84 (key reference).
        let (mut key, mut alg) = (None, None);
        let mut i = 0;
        while i + 1 < cmd.data.len() {
            let (tag, len) = (cmd.data[i], usize::from(cmd.data[i + 1]));
            if (tag == 0x83 || tag == 0x84) && len == 1 {
                key = cmd.data.get(i + 2).copied();
            }
            if tag == 0x80 && len == 1 {
                alg = cmd.data.get(i + 2).copied();
            }
            i += 2 + len;
        }
        // As the reference driver sets them for a CPS3: RSA SHA-256 PKCS#1 with the card
        // building the DigestInfo (42) for the signature key, RSA PKCS#1 (02) for authentication.
        let env = match cmd.p2 {
            0xB6 if key == Some(CPS3_SIGN_KEY_REF) && alg == Some(CPS3_ALG_SIGN_SHA256) => {
                Env::Sign
            }
            0xA4 if key == Some(CPS3_AUTH_KEY_REF) && alg == Some(CPS3_ALG_AUTH_PKCS1) => Env::Auth,
            _ => return status(SW_WRONG_DATA),
        };
        self.env = Some(env);
        status(SW_OK)
    }

    /// MSE SET of a CPS4, exactly as `cps4_set_security_env` builds it.
    fn mse_cps4(&mut self, cmd: &Command) -> Vec<u8> {
        let env = match cmd.p2 {
            0xB6 if cmd.p1 == 0x81
                && cmd.data == [0x91, 0x02, CPS4_ALG_SIGN_SHA256, CPS4_SIGN_KEY_REF | 0x80] =>
            {
                Env::Sign
            }
            0xB8 if cmd.p1 == 0x41 && cmd.data == [0x83, 0x01, CPS4_AUTH_KEY_REF] => Env::Auth,
            0xB6 | 0xB8 => return status(SW_WRONG_DATA),
            _ => return status(SW_WRONG_P1P2),
        };
        self.env = Some(env);
        status(SW_OK)
    }

    /// The checks before a private-key operation: the key chosen by MSE SET, then the PIN.
    fn ready(&self, env: Env) -> Result<(), u16> {
        if self.env != Some(env) {
            return Err(SW_CONDITIONS_NOT_SATISFIED);
        }
        if self.tries_left == 0 {
            return Err(SW_AUTH_BLOCKED);
        }
        if !self.verified {
            return Err(SW_SECURITY_NOT_SATISFIED);
        }
        Ok(())
    }

    /// CPS3 PSO CDS (`Env::Sign`) and INTERNAL AUTHENTICATE (`Env::Auth`).
    fn sign_cps3(&mut self, cmd: &Command, env: Env) -> Vec<u8> {
        if let Err(sw) = self.ready(env) {
            return status(sw);
        }
        match env {
            // PSO CDS without data signs a hash computed by PSO HASH: not emulated.
            Env::Sign if cmd.data.is_empty() => status(SW_CONDITIONS_NOT_SATISFIED),
            // Algorithm 42: the bare SHA-256 digest; the card builds the DigestInfo.
            Env::Sign if cmd.data.len() != 32 => status(SW_WRONG_DATA),
            Env::Sign => sign_digest(&self.sign_key, &cmd.data),
            Env::Auth if cmd.data.is_empty() || cmd.data.len() > 128 => status(SW_WRONG_LENGTH),
            // Algorithm 02: the card pads the DigestInfo as sent and signs.
            Env::Auth => match self
                .auth_key
                .sign(Pkcs1v15Sign::new_unprefixed(), &cmd.data)
            {
                Ok(sig) => respond(sig, SW_OK),
                Err(_) => status(SW_WRONG_DATA),
            },
        }
    }

    /// CPS4 PSO CDS: algorithm 28, the bare SHA-256 digest.
    fn sign_cps4(&mut self, cmd: &Command) -> Vec<u8> {
        if let Err(sw) = self.ready(Env::Sign) {
            return status(sw);
        }
        if cmd.data.len() != 32 {
            return status(SW_WRONG_DATA);
        }
        sign_digest(&self.sign_key, &cmd.data)
    }

    /// CPS4 PSO DECIPHER with the authentication key: the chained parts are buffered, the
    /// last one runs the raw RSA private-key operation on the whole block (no padding added
    /// or removed: the host built it).
    fn decipher(&mut self, cmd: &Command, chained: bool) -> Vec<u8> {
        if let Err(sw) = self.ready(Env::Auth) {
            self.chain = None;
            return status(sw);
        }
        let k = self.auth_key.size();
        let mut block = self
            .chain
            .take()
            .unwrap_or_else(|| Zeroizing::new(Vec::with_capacity(k)));
        block.extend_from_slice(&cmd.data);
        if block.len() > k {
            return status(SW_WRONG_DATA);
        }
        if chained {
            self.chain = Some(block);
            return status(SW_OK);
        }
        if block.len() != k {
            return status(SW_WRONG_DATA);
        }
        let c = BigUint::from_bytes_be(&block);
        if &c >= self.auth_key.n() {
            return status(SW_WRONG_DATA);
        }
        // With blinding, and the CRT result checked, as the rsa crate's own decryption does.
        let Ok(m) = rsa_decrypt_and_check(&self.auth_key, Some(&mut OsRng), &c) else {
            return status(SW_WRONG_DATA);
        };
        let m = Zeroizing::new(m.to_bytes_be());
        let mut out = vec![0; k.saturating_sub(m.len())];
        out.extend_from_slice(&m);
        respond(out, SW_OK)
    }
}
