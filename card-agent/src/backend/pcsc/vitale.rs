//! Carte Vitale 2 public data, as `L1L1/cardpeek` (`vitale_2.lua`) documents it: select the
//! VITALE application, read its EF `2001` (pointers: applications `82` and files `80` under
//! `E0`/`A0`), then every data file it lists; each holds person templates `65` with `93` NIR
//! and key, `80` name, `81` first name, `82` birth date `YYYYMMDD` (possibly lunar).
//! `83` birth rank, `84` quality and `85` birth name are this project's convention (cardpeek's
//! table does not name them); when absent: rank 1, quality `00` for the first person, birth
//! name = name.

use passerelle_ber_tlv::{Element, parse_readable};

use super::apdu::{Link, text};
use crate::backend::{CardError, VitaleData, VitalePerson};

pub const AID_VITALE: [u8; 11] = [
    0xD2, 0x50, 0x00, 0x00, 0x02, 0x56, 0x49, 0x54, 0x41, 0x4C, 0x45,
];

/// Whether the VITALE application is there.
pub fn is_vitale(card: &pcsc::Card, reader: &str) -> Result<bool, CardError> {
    Ok(Link::basic(card, reader).select(0x04, &AID_VITALE)?.ok())
}

fn person(items: &[Element<'_>], first: bool) -> VitalePerson {
    let nir = text(items, 0x93);
    let (matricule, key) = if nir.len() >= 15 && nir.is_char_boundary(13) {
        (nir[..13].to_owned(), nir[13..15].to_owned())
    } else {
        (nir, String::new())
    };
    let d = text(items, 0x82);
    let birth_date = if d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..])
    } else {
        d
    };
    let used_name = text(items, 0x80);
    let birth_name = Some(text(items, 0x85))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| used_name.clone());
    let quality = Some(text(items, 0x84)).filter(|s| !s.is_empty());
    VitalePerson {
        matricule,
        key,
        birth_name,
        used_name,
        first_name: text(items, 0x81),
        birth_date,
        birth_rank: text(items, 0x83).parse().unwrap_or(1),
        quality: quality.unwrap_or_else(|| if first { "00".into() } else { String::new() }),
    }
}

pub fn read(card: &pcsc::Card, reader: &str) -> Result<VitaleData, CardError> {
    if !is_vitale(card, reader)? {
        return Err(CardError::UnknownCard(reader.to_owned()));
    }
    let link = Link::basic(card, reader);
    let r = link.select(0x02, &[0x20, 0x01])?;
    if !r.ok() {
        return Err(CardError::Device(format!(
            "Vitale pointers file 2001 answered {:04X}",
            r.sw
        )));
    }
    let pointers = link.read_current()?;
    let outer = parse_readable(&pointers);
    let Some(e0) = outer.iter().find(|t| t.tag == 0xE0) else {
        return Err(CardError::Device("Vitale pointers file without E0".into()));
    };
    let inner = parse_readable(e0.value);
    // Applications: entry → AID.
    let mut apps: Vec<([u8; 2], Vec<u8>)> = Vec::new();
    if let Some(a0) = inner.iter().find(|t| t.tag == 0xA0) {
        for t in parse_readable(a0.value)
            .iter()
            .filter(|t| t.tag == 0x82 && t.value.len() > 4)
        {
            apps.push(([t.value[0], t.value[1]], t.value[4..].to_vec()));
        }
    }
    let mut persons = Vec::new();
    for f in inner
        .iter()
        .filter(|t| t.tag == 0x80 && t.value.len() >= 12)
    {
        let entry = [f.value[8], f.value[9]];
        let fid = [f.value[10], f.value[11]];
        let Some((_, aid)) = apps.iter().find(|(e, _)| *e == entry) else {
            continue;
        };
        if !link.select(0x04, aid)?.ok() || !link.select(0x02, &fid)?.ok() {
            continue;
        }
        let content = link.read_current()?;
        for p in parse_readable(&content).iter().filter(|t| t.tag == 0x65) {
            let items = parse_readable(p.value);
            persons.push(person(&items, persons.is_empty()));
        }
    }
    let mut persons = persons.into_iter();
    let insured = persons
        .next()
        .ok_or_else(|| CardError::Device("no person on the carte Vitale".into()))?;
    Ok(VitaleData {
        insured,
        beneficiaries: persons.collect(),
    })
}
