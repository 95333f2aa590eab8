//! The seed patients (`data/dmp-patients.toml` or a file of the same format) and the
//! patient identifiers the DMP accepts.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::store::{DmpState, Patient};

const BUILTIN: &str = include_str!("../../data/dmp-patients.toml");
/// INS-NIR (production) and INS-NIR test OIDs: both are accepted for every patient.
pub(crate) const INS_OIDS: [&str; 2] = ["1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.10"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Seed {
    pub ins: String,
    pub state: DmpState,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub birth_date: String,
    #[serde(default)]
    pub authorised: Vec<String>,
    pub attending: Option<String>,
    #[serde(default)]
    pub blocked: Vec<String>,
    #[serde(default)]
    pub forbidden: Vec<String>,
    #[serde(default)]
    pub expired: Vec<String>,
    #[serde(default)]
    pub opposes_bris_de_glace: bool,
    #[serde(default)]
    pub opposes_centre_15: bool,
    #[serde(default)]
    pub minor: bool,
    #[serde(default)]
    pub allows_masked_in_emergency: bool,
    #[serde(default)]
    #[allow(dead_code)]
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    patient: Vec<Seed>,
}

impl Seed {
    pub fn patient(&self) -> Patient {
        Patient {
            ins: self.ins.clone(),
            state: self.state,
            last_name: self.last_name.clone(),
            first_name: self.first_name.clone(),
            birth_date: self.birth_date.clone(),
            authorised: self
                .authorised
                .iter()
                .map(|p| (p.clone(), "20210101000000".to_owned()))
                .collect::<BTreeMap<_, _>>(),
            attending: self.attending.clone(),
            blocked: self.blocked.clone(),
            forbidden: self.forbidden.clone(),
            expired: self.expired.clone(),
            opposes_bris_de_glace: self.opposes_bris_de_glace,
            opposes_centre_15: self.opposes_centre_15,
            minor: self.minor,
            allows_masked_in_emergency: self.allows_masked_in_emergency,
            last_update: None,
        }
    }
}

pub(crate) fn load_seeds(file: Option<&Path>) -> Result<Vec<Seed>, String> {
    let text = match file {
        None => BUILTIN.to_owned(),
        Some(p) => std::fs::read_to_string(p).map_err(|e| e.to_string())?,
    };
    let parsed: SeedFile = toml::from_str(&text).map_err(|e| e.to_string())?;
    for s in &parsed.patient {
        if !is_ins(&s.ins) {
            return Err(format!("not a 15-character INS: patient #{}", s.ins.len()));
        }
    }
    Ok(parsed.patient)
}

/// 13 characters (digits, `2A`/`2B` for Corsica) and a 2-digit key.
pub(crate) fn is_ins(ins: &str) -> bool {
    ins.len() == 15 && ins.bytes().all(|c| c.is_ascii_alphanumeric())
}

/// The INS and its OID from a CX `INS^^^&OID&ISO^NH[^^date]`; `None` when it is not
/// that shape.
pub(crate) fn parse_cx(cx: &str) -> Option<(String, String)> {
    let mut parts = cx.trim().split('^');
    let id = parts.next()?.to_owned();
    let _ = parts.next();
    let _ = parts.next();
    let authority = parts.next()?;
    let kind = parts.next()?;
    let mut a = authority.split('&');
    let _namespace = a.next()?;
    let oid = a.next()?.to_owned();
    if a.next()? != "ISO" || kind != "NH" || id.is_empty() {
        return None;
    }
    Some((id, oid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_load_and_cx_parse() {
        let seeds = load_seeds(None).unwrap();
        assert!(seeds.len() > 90);
        assert!(seeds.iter().any(|s| s.ins == "248039263001064"));
        assert_eq!(
            parse_cx("207058575627097^^^&1.2.250.1.213.1.4.10&ISO^NH^^20100907"),
            Some(("207058575627097".into(), "1.2.250.1.213.1.4.10".into()))
        );
        assert_eq!(parse_cx("x^^^&1.2&ISO^PI"), None);
    }
}
