//! A CPS-like IAS-ECC card (CPS3, contact).
//!
//! What follows the public references (the OpenSC-based CPS drivers that ANS publishes in
//! `ansforge/dops-cryptolib`):
//! - the ATR of a CPS3 contact card (`3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00`);
//! - the IAS application AID `E8 28 BD 08 0F 80 25 00 00 01 FF 00 10`;
//! - EF.SN.ICC at `3F00/D003` (12 bytes, issuer number `80 25 00 00 01` at offset 2, then the
//!   card serial), EF_ACTUA at `3F00/D010` (template `EC`, start `81` and end `82` dates in BCD);
//! - the holder file of the contact mode at `3F00/0001/7001` and the practice-situation files
//!   at `3F00/0001/D120` … `D12F`;
//! - for the signature key (CPS3, SHA-256): MSE SET `00 22 41 B6` with algorithm reference
//!   `80 01 42` and the key reference `84 01 <ref>`, then PSO COMPUTE DIGITAL SIGNATURE
//!   `00 2A 9E 9A 20 <bare 32-byte digest> 00`; the card builds the SHA-256 DigestInfo, pads
//!   (PKCS#1 v1.5 type 1) and signs. Any other algorithm reference in MSE SET B6, or a PSO CDS
//!   whose data is not a 32-byte digest (e.g. a DigestInfo), is refused with `6A80`. (The
//!   reference can also let the card hash, PSO HASH then a PSO CDS without data: not emulated,
//!   `6985`.)
//! - for the authentication key: MSE SET `00 22 41 A4` with `80 01 02` and `84 01 <ref>`, then
//!   INTERNAL AUTHENTICATE `00 88 00 00` with the DigestInfo, which the card pads and signs;
//!   another algorithm reference is refused with `6A80`;
//! - VERIFY (`00 20 00 <ref>`), with no data to read the try counter; `63Cx` for a wrong PIN
//!   with x tries left, `6983` once blocked.
//!
//! - the PKCS#15 structure as OpenSC walks it: EF.DIR at `3F00/2F00` with a record `61 { 4F
//!   <IAS AID> 50 "CPS" }` (no `51` path: the application is then selected by its AID), EF.ODF
//!   at `<application>/5031` (`A0` PrKDF, `A4` CDF), EF.TokenInfo at `<application>/5032`; in
//!   the PrKDF the authentication key has usage sign and the signature key nonRepudiation,
//!   each with its `keyReference` and an empty key path; each certificate in the CDF has its
//!   key's iD and a path relative to the application.
//!
//! What the references leave to the card's own data (the "API CPS" formats are not public)
//! and is therefore this project's convention, shared with the card-agent's reader and
//! documented in `card-agent/src/backend/pcsc/cps.rs`: the TLV content of the holder and
//! situation files, the PIN reference (`81`), the key references (`81` authentication, `82`
//! signature, now published in the PrKDF). Also ours, since the reference reads them from the
//! card rather than fixing them: the application DF's file id (`5015`, OpenSC's default
//! PKCS#15 DF), the PrKDF (`4402`) and CDF (`4404`) file ids, the certificate EFs (`C000`
//! authentication, `C001` signature), the objects' labels and iDs (`01`, `02`), and the
//! TokenInfo content (version, label, no flags).

use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use zeroize::Zeroizing;

use crate::apdu::{
    Command, SW_AUTH_BLOCKED, SW_CONDITIONS_NOT_SATISFIED, SW_INS_NOT_SUPPORTED, SW_OK,
    SW_SECURITY_NOT_SATISFIED, SW_WRONG_DATA, SW_WRONG_LENGTH, SW_WRONG_P1P2, respond, status, tlv,
};
use crate::fs::FileSystem;

pub const CPS3_ATR: [u8; 17] = [
    0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00, 0x90,
    0x00,
];
pub const IAS_AID: [u8; 13] = [
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10,
];
pub const ISSUER: [u8; 5] = [0x80, 0x25, 0x00, 0x00, 0x01];
/// MSE SET algorithm reference of the signature key: RSA PKCS#1 v1.5, SHA-256, DigestInfo
/// built by the card (the reference driver's `0x42` for a CPS3).
pub const ALG_SIGN_SHA256: u8 = 0x42;
/// MSE SET algorithm reference of the authentication key: RSA PKCS#1 v1.5 over the DigestInfo
/// sent (the reference driver's `0x02`).
pub const ALG_AUTH_PKCS1: u8 = 0x02;
/// DigestInfo prefix of SHA-256 (RFC 8017, 9.2 note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
pub const PIN_REF: u8 = 0x81;
pub const AUTH_KEY_REF: u8 = 0x81;
pub const SIGN_KEY_REF: u8 = 0x82;
pub const MAX_TRIES: u8 = 3;
/// Application DF, then the PKCS#15 files relative to it.
pub const APP_DF: u16 = 0x5015;
pub const EF_DIR: u16 = 0x2F00;
pub const ODF: u16 = 0x5031;
pub const TOKEN_INFO: u16 = 0x5032;
pub const PRKDF: u16 = 0x4402;
pub const CDF: u16 = 0x4404;
pub const AUTH_CERT: u16 = 0xC000;
pub const SIGN_CERT: u16 = 0xC001;
/// PKCS#15 KeyUsageFlags as DER BIT STRING contents: sign(2); nonRepudiation(9).
const USAGE_SIGN: [u8; 2] = [0x05, 0x20];
const USAGE_NON_REPUDIATION: [u8; 3] = [0x06, 0x00, 0x40];

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

fn hex_to_bytes(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// The emulated card: files, PIN state and keys.
pub struct CpsCard {
    fs: FileSystem,
    pin: Zeroizing<String>,
    tries_left: u8,
    verified: bool,
    auth_key: RsaPrivateKey,
    sign_key: RsaPrivateKey,
    /// Key chosen by the last MSE SET: (template B6 or A4, key reference).
    env: Option<(u8, u8)>,
}

impl CpsCard {
    pub fn new(spec: CpsSpec) -> Self {
        let mut fs = FileSystem::new();
        let mut sn = vec![0x5A, 0x0A];
        sn.extend_from_slice(&ISSUER);
        sn.extend(hex_to_bytes(&spec.serial).into_iter().take(5));
        sn.resize(12, 0);
        fs.add_ef(&[0x3F00, 0xD003], sn);
        let actua = tlv(
            0xEC,
            &[
                tlv(0x81, &[0x20, 0x25, 0x01, 0x01]),
                tlv(0x82, &[0x20, 0x28, 0x12, 0x31]),
            ]
            .concat(),
        );
        fs.add_ef(&[0x3F00, 0xD010], actua);
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
        fs.add_ef(&[0x3F00, 0x0001, 0x7001], holder);
        for (i, s) in spec.situations.iter().take(16).enumerate() {
            let content = [
                tlv(0x80, s.structure_id_type.as_bytes()),
                tlv(0x81, s.structure_id.as_bytes()),
                tlv(0x82, s.structure_name.as_bytes()),
                tlv(0x83, s.activity_sector.as_bytes()),
                tlv(0x84, s.billing_id.as_bytes()),
            ]
            .concat();
            fs.add_ef(&[0x3F00, 0x0001, 0xD120 + i as u16], content);
        }
        fs.add_ef(
            &[0x3F00, EF_DIR],
            tlv(0x61, &[tlv(0x4F, &IAS_AID), tlv(0x50, b"CPS")].concat()),
        );
        let app = |fid: u16| [0x3F00, APP_DF, fid];
        fs.add_df(&[0x3F00, APP_DF], Some(&IAS_AID));
        fs.add_ef(
            &app(ODF),
            [tlv(0xA0, &path(&[PRKDF])), tlv(0xA4, &path(&[CDF]))].concat(),
        );
        fs.add_ef(
            &app(TOKEN_INFO),
            tlv(
                0x30,
                &[integer(0), tlv(0x80, b"CPS"), tlv(0x03, &[0x00])].concat(),
            ),
        );
        fs.add_ef(
            &app(PRKDF),
            [
                private_key(
                    "Authentication",
                    1,
                    &USAGE_SIGN,
                    AUTH_KEY_REF,
                    &spec.auth_key,
                ),
                private_key(
                    "Signature",
                    2,
                    &USAGE_NON_REPUDIATION,
                    SIGN_KEY_REF,
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
            fs,
            pin: spec.pin,
            tries_left: MAX_TRIES,
            verified: false,
            auth_key: spec.auth_key,
            sign_key: spec.sign_key,
            env: None,
        }
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

    /// Power off or reset: the security state is lost, the try counter is kept.
    pub fn reset(&mut self) {
        self.verified = false;
        self.env = None;
        self.fs.reset();
    }

    /// Whether this command asks for a private-key operation (used to simulate a removal in
    /// the middle of a signature).
    pub fn is_signature(cmd: &[u8]) -> bool {
        cmd.len() >= 4 && ((cmd[1] == 0x2A && cmd[2] == 0x9E && cmd[3] == 0x9A) || cmd[1] == 0x88)
    }

    pub fn process(&mut self, cmd: &Command) -> Vec<u8> {
        match cmd.ins {
            0xA4 => self.fs.select(cmd),
            0xB0 => self.fs.read_binary(cmd),
            0x20 => self.verify(cmd),
            0x22 => self.mse(cmd),
            0x2A if cmd.p1 == 0x9E && cmd.p2 == 0x9A => self.sign(cmd, 0xB6),
            0x88 => self.sign(cmd, 0xA4),
            _ => status(SW_INS_NOT_SUPPORTED),
        }
    }

    fn verify(&mut self, cmd: &Command) -> Vec<u8> {
        if cmd.p2 != PIN_REF {
            return status(crate::apdu::SW_FILE_NOT_FOUND);
        }
        if self.tries_left == 0 {
            return status(SW_AUTH_BLOCKED);
        }
        if cmd.data.is_empty() {
            // Status of the PIN.
            return if self.verified {
                status(SW_OK)
            } else {
                status(0x63C0 | u16::from(self.tries_left))
            };
        }
        let presented: Vec<u8> = cmd
            .data
            .iter()
            .copied()
            .take_while(|b| *b != 0xFF)
            .collect();
        if presented == self.pin.as_bytes() {
            self.tries_left = MAX_TRIES;
            self.verified = true;
            status(SW_OK)
        } else {
            self.tries_left -= 1;
            self.verified = false;
            if self.tries_left == 0 {
                status(SW_AUTH_BLOCKED)
            } else {
                status(0x63C0 | u16::from(self.tries_left))
            }
        }
    }

    fn mse(&mut self, cmd: &Command) -> Vec<u8> {
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
        let Some(key) = key else {
            return status(SW_WRONG_DATA);
        };
        // As the reference driver sets them for a CPS3: RSA SHA-256 PKCS#1 with the card
        // building the DigestInfo (42) for the signature key, RSA PKCS#1 (02) for authentication.
        let allowed = match cmd.p2 {
            0xB6 => key == SIGN_KEY_REF && alg == Some(ALG_SIGN_SHA256),
            _ => key == AUTH_KEY_REF && alg == Some(ALG_AUTH_PKCS1),
        };
        if !allowed {
            return status(SW_WRONG_DATA);
        }
        self.env = Some((cmd.p2, key));
        status(SW_OK)
    }

    fn sign(&mut self, cmd: &Command, template: u8) -> Vec<u8> {
        let Some((t, key)) = self.env else {
            return status(SW_CONDITIONS_NOT_SATISFIED);
        };
        if t != template {
            return status(SW_CONDITIONS_NOT_SATISFIED);
        }
        if self.tries_left == 0 {
            return status(SW_AUTH_BLOCKED);
        }
        if !self.verified {
            return status(SW_SECURITY_NOT_SATISFIED);
        }
        if template == 0xB6 && cmd.data.is_empty() {
            // PSO CDS without data signs a hash computed by PSO HASH: not emulated.
            return status(SW_CONDITIONS_NOT_SATISFIED);
        }
        if cmd.data.is_empty() || cmd.data.len() > 128 {
            return status(SW_WRONG_LENGTH);
        }
        let (key, data) = if key == SIGN_KEY_REF {
            // Algorithm 42: the bare SHA-256 digest; the card builds the DigestInfo.
            if cmd.data.len() != 32 {
                return status(SW_WRONG_DATA);
            }
            let mut di = Zeroizing::new(SHA256_DIGEST_INFO.to_vec());
            di.extend_from_slice(&cmd.data);
            (&self.sign_key, di)
        } else {
            // Algorithm 02: the DigestInfo as sent.
            (&self.auth_key, Zeroizing::new(cmd.data.clone()))
        };
        // The card adds the PKCS#1 v1.5 padding to the DigestInfo and signs.
        match key.sign(Pkcs1v15Sign::new_unprefixed(), &data) {
            Ok(sig) => respond(sig, SW_OK),
            Err(_) => status(SW_WRONG_DATA),
        }
    }
}
