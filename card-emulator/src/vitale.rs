//! A carte Vitale 2 with the public files as `L1L1/cardpeek` (`vitale_2.lua`) documents them:
//! the VITALE application (AID `D2 50 00 00 02 56 49 54 41 4C 45`) whose EF `2001`
//! ("pointers") maps applications and files: `E0 { A0 { 82: entry(2) ‖ 2 bytes ‖ AID }* }
//! 80: name(8) ‖ entry(2) ‖ file id(2) }*`; each data file holds beneficiary templates `65` with
//! `90` nationality, `93` NIR (13 characters and the 2-digit key), `80` name, `81` first name,
//! `82` birth date as ASCII `YYYYMMDD` (a "lunar" date: day or month may be out of range).
//!
//! Birth rank and quality are not in cardpeek's table: this emulator (and the card-agent's
//! reader) put them in the same template as `83` (rank, ASCII digits) and `84` (quality, 2
//! ASCII digits, `00` the insured person), and the birth name, when it differs from `80`, as
//! `85`. A reader that does not know these tags still reads the rest.

use crate::apdu::{Command, SW_INS_NOT_SUPPORTED, status, tlv};
use crate::fs::FileSystem;

pub const AID_VITALE: [u8; 11] = [
    0xD2, 0x50, 0x00, 0x00, 0x02, 0x56, 0x49, 0x54, 0x41, 0x4C, 0x45,
];
/// A Vitale 2 ATR as seen on cards in the field (the reader tells Vitale by its AID, not by this).
pub const VITALE_ATR: [u8; 20] = [
    0x3B, 0x7F, 0x96, 0x00, 0x00, 0x80, 0x31, 0x80, 0x65, 0xB0, 0x85, 0x03, 0x00, 0xEF, 0x12, 0x0F,
    0xFF, 0x82, 0x90, 0x00,
];

#[derive(Debug, Clone, Default)]
pub struct PersonSpec {
    /// 13 characters.
    pub matricule: String,
    /// 2 digits.
    pub key: String,
    pub used_name: String,
    /// Empty when equal to the used name.
    pub birth_name: String,
    pub first_name: String,
    /// `YYYYMMDD`, possibly lunar (e.g. `19480021`).
    pub birth_date: String,
    pub birth_rank: u8,
    /// `00` insured person, `01`… beneficiaries.
    pub quality: String,
}

pub struct VitaleCard {
    fs: FileSystem,
}

impl VitaleCard {
    /// The insured person first, then the beneficiaries: one data file per person.
    pub fn new(persons: &[PersonSpec]) -> Self {
        let mut fs = FileSystem::new();
        let app = [0x3F00, 0x1000];
        fs.add_df(&app, Some(&AID_VITALE));
        let mut apps = Vec::new();
        let mut entry = vec![0x00, 0x01, 0x00, 0x00];
        entry.extend_from_slice(&AID_VITALE);
        apps.extend(tlv(0x82, &entry));
        let mut files = Vec::new();
        for (i, p) in persons.iter().enumerate() {
            let fid = 0x2004 + i as u16;
            let mut template = [
                tlv(0x90, b"FRA"),
                tlv(0x93, format!("{}{}", p.matricule, p.key).as_bytes()),
                tlv(0x80, p.used_name.as_bytes()),
                tlv(0x81, p.first_name.as_bytes()),
                tlv(0x82, p.birth_date.as_bytes()),
                tlv(0x83, p.birth_rank.to_string().as_bytes()),
                tlv(0x84, p.quality.as_bytes()),
            ]
            .concat();
            if !p.birth_name.is_empty() {
                template.extend(tlv(0x85, p.birth_name.as_bytes()));
            }
            fs.add_ef(&[0x3F00, 0x1000, fid], tlv(0x65, &template));
            let mut f = format!("BENEF{:03}", i + 1).into_bytes();
            f.truncate(8);
            f.extend_from_slice(&[0x00, 0x01]);
            f.extend_from_slice(&fid.to_be_bytes());
            files.extend(tlv(0x80, &f));
        }
        let pointers = tlv(0xE0, &[tlv(0xA0, &apps), files].concat());
        fs.add_ef(&[0x3F00, 0x1000, 0x2001], pointers);
        Self { fs }
    }

    pub fn reset(&mut self) {
        self.fs.reset();
    }

    pub fn process(&mut self, cmd: &Command) -> Vec<u8> {
        match cmd.ins {
            0xA4 => self.fs.select(cmd),
            0xB0 => self.fs.read_binary(cmd),
            _ => status(SW_INS_NOT_SUPPORTED),
        }
    }
}
