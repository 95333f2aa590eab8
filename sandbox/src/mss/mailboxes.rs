//! Which mailboxes exist in the sandbox: the fixed professional ones and one citizen
//! mailbox (`<INS>@patient.mssante.fr`) per qualified INS the sandbox knows (the INSi
//! sandbox's identities, the DMP sandbox's patients, the tutorial's patient).

use std::collections::BTreeSet;
use std::path::Path;

use crate::insi::SandboxError;

/// Domain of the sandbox's professional mailboxes.
pub const SANDBOX_DOMAIN: &str = "passerelle-sandbox.mssante.fr";
/// Domain of the citizen mailboxes (MSSanté citoyenne, « Mon espace santé »).
pub const PATIENT_DOMAIN: &str = "patient.mssante.fr";

/// Test CPS holder's personal mailbox (the default sender in CPS mode).
pub const JEANNE_MEDECIN: &str = "jeanne.medecin@passerelle-sandbox.mssante.fr";
/// Dr Jean FOUQUEREY's personal mailbox (the tutorial's médecin traitant).
pub const JEAN_FOUQUEREY: &str = "jean.fouquerey@passerelle-sandbox.mssante.fr";
/// The organisation's applicative mailbox (the default sender in organisation mode).
pub const LPS_APP: &str = "lps@passerelle-sandbox.mssante.fr";
/// The organisation's organisational mailbox.
pub const SECRETARIAT: &str = "secretariat@passerelle-sandbox.mssante.fr";

/// Type of a mailbox (TRE_R257).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum MailboxType {
    /// Personal (a professional).
    Per,
    /// Organisational (a service, a team).
    Org,
    /// Applicative (software).
    App,
    /// A citizen's mailbox (not a TRE_R257 type).
    Patient,
}

/// The professional mailboxes of the sandbox: address, type, owner.
pub const PROFESSIONAL_MAILBOXES: [(&str, MailboxType, &str); 4] = [
    (
        JEANNE_MEDECIN,
        MailboxType::Per,
        "Jeanne MEDECIN SANDBOX0001, médecin, RPPS 10001234565",
    ),
    (
        JEAN_FOUQUEREY,
        MailboxType::Per,
        "Dr Jean FOUQUEREY, médecin généraliste, RPPS 99900063480",
    ),
    (
        LPS_APP,
        MailboxType::App,
        "CENTRE DE SANTE PASSERELLE SANDBOX (FINESS 999000003), applicative",
    ),
    (
        SECRETARIAT,
        MailboxType::Org,
        "CENTRE DE SANTE PASSERELLE SANDBOX (FINESS 999000003), secrétariat",
    ),
];

/// The mailboxes that exist.
#[derive(Debug, Clone)]
pub(crate) struct Directory {
    professionals: BTreeSet<String>,
    /// 15-character INS, upper case (`2A`/`2B`).
    patients: BTreeSet<String>,
}

impl Directory {
    /// The fixed professional mailboxes plus `extra`, and the patients of the INSi
    /// identities and DMP patients files (the built-in ones when `None`).
    pub fn load(
        extra: &[String],
        identities_file: Option<&Path>,
        patients_file: Option<&Path>,
    ) -> Result<Self, SandboxError> {
        let mut professionals: BTreeSet<String> = PROFESSIONAL_MAILBOXES
            .iter()
            .map(|(a, _, _)| (*a).to_owned())
            .collect();
        for address in extra {
            let address = normalise(address).ok_or_else(|| {
                SandboxError::Config(format!("not a mailbox address: {address:?}"))
            })?;
            professionals.insert(address);
        }
        let mut patients = BTreeSet::new();
        let identities: IdentitiesFile = read_seed(
            identities_file,
            "built-in INSi identities",
            include_str!("../../data/insi-identities.toml"),
        )?;
        for id in identities.identity {
            // A citizen mailbox is opened for an INS-NIR (or the test OID), not a NIA.
            if matches!(
                id.oid.as_deref(),
                None | Some("1.2.250.1.213.1.4.8" | "1.2.250.1.213.1.4.10")
            ) {
                patients.insert(format!("{}{}", id.matricule, id.key).to_ascii_uppercase());
            }
        }
        let seeds: PatientsFile = read_seed(
            patients_file,
            "built-in DMP patients",
            include_str!("../../data/dmp-patients.toml"),
        )?;
        patients.extend(
            seeds
                .patient
                .into_iter()
                .map(|p| p.ins.to_ascii_uppercase()),
        );
        let tutorial = crate::tutorial::patient();
        patients.insert(format!("{}{}", tutorial.matricule, tutorial.key));
        // A mailbox only for an INS whose key checks: the address is built from a
        // qualified INS.
        patients.retain(|ins| ins_key_checks(ins));
        Ok(Self {
            professionals,
            patients,
        })
    }

    /// The type of the mailbox at `address` (normalised), `None` when it does not exist.
    pub fn lookup(&self, address: &str) -> Option<MailboxType> {
        if self.professionals.contains(address) {
            return PROFESSIONAL_MAILBOXES
                .iter()
                .find(|(a, _, _)| *a == address)
                .map_or(Some(MailboxType::Per), |(_, t, _)| Some(*t));
        }
        let (local, domain) = address.split_once('@')?;
        (domain == PATIENT_DOMAIN && self.patients.contains(&local.to_ascii_uppercase()))
            .then_some(MailboxType::Patient)
    }

    pub fn patients(&self) -> usize {
        self.patients.len()
    }
}

// Only the fields that make a mailbox, read with our own definitions: the files are the
// INSi and DMP sandboxes' (`data/`), their readers are not shared.
#[derive(serde::Deserialize)]
struct IdentitiesFile {
    #[serde(default)]
    identity: Vec<SeedIdentity>,
}

#[derive(serde::Deserialize)]
struct SeedIdentity {
    matricule: String,
    key: String,
    oid: Option<String>,
}

#[derive(serde::Deserialize)]
struct PatientsFile {
    #[serde(default)]
    patient: Vec<SeedPatient>,
}

#[derive(serde::Deserialize)]
struct SeedPatient {
    ins: String,
}

fn read_seed<T: serde::de::DeserializeOwned>(
    file: Option<&Path>,
    builtin_name: &str,
    builtin: &str,
) -> Result<T, SandboxError> {
    let source_name = || file.map_or(builtin_name.to_owned(), |p| p.display().to_string());
    let text = match file {
        None => builtin.to_owned(),
        Some(p) => std::fs::read_to_string(p).map_err(|e| SandboxError::Identities {
            source_name: source_name(),
            message: e.to_string(),
        })?,
    };
    toml::from_str(&text).map_err(|e| SandboxError::Identities {
        source_name: source_name(),
        message: e.to_string(),
    })
}

/// An address as the store names it: trimmed, lower case, and made of the characters a
/// mailbox address uses (so it can also name a folder). `None` when it is not one.
pub fn normalise(address: &str) -> Option<String> {
    let address = address.trim().to_ascii_lowercase();
    let (local, domain) = address.split_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._+-".contains(&c))
        && !local.starts_with('.')
        && !local.contains("..");
    let domain_ok = domain.len() >= 3
        && domain.len() <= 253
        && domain.contains('.')
        && domain
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b".-".contains(&c))
        && !domain.starts_with(['.', '-'])
        && !domain.contains("..");
    (local_ok && domain_ok).then_some(address)
}

/// True when `address` is a citizen mailbox address (`…@patient.mssante.fr`): such an
/// address is an INS and never goes to a log.
pub fn is_patient_address(address: &str) -> bool {
    address
        .rsplit_once('@')
        .is_some_and(|(_, d)| d.eq_ignore_ascii_case(PATIENT_DOMAIN))
}

/// The INS key rule: 97 − (matricule mod 97), the Corsican departments `2A`/`2B` read as
/// `19`/`18`. `ins` is the 13-character matricule followed by the 2-digit key.
pub(crate) fn ins_key_checks(ins: &str) -> bool {
    if ins.len() != 15 || !ins.is_ascii() {
        return false;
    }
    let (matricule, key) = ins.split_at(13);
    let Ok(key) = key.parse::<u64>() else {
        return false;
    };
    let digits = match &matricule.as_bytes()[5..7] {
        b"2A" | b"2a" => format!("{}19{}", &matricule[..5], &matricule[7..]),
        b"2B" | b"2b" => format!("{}18{}", &matricule[..5], &matricule[7..]),
        _ => matricule.to_owned(),
    };
    let Ok(number) = digits.parse::<u64>() else {
        return false;
    };
    digits.bytes().all(|c| c.is_ascii_digit()) && 97 - number % 97 == key
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn ins_keys_check_including_corsica() {
        assert!(ins_key_checks("248039263001064"));
        assert!(!ins_key_checks("248039263001046"));
        assert!(ins_key_checks("146026322000196"));
        assert!(ins_key_checks("160012B02077713"));
        assert!(ins_key_checks("160012b02077713"));
        assert!(ins_key_checks("297022A02077878"));
        assert!(!ins_key_checks("297022C02077878"));
        assert!(!ins_key_checks("+48039263001064"));
        assert!(!ins_key_checks("24803926300106"));
    }

    #[test]
    fn the_directory_knows_professionals_and_known_patients_only() {
        let d = Directory::load(&[], None, None).unwrap();
        assert_eq!(d.lookup(JEANNE_MEDECIN), Some(MailboxType::Per));
        assert_eq!(d.lookup(LPS_APP), Some(MailboxType::App));
        assert_eq!(d.lookup(SECRETARIAT), Some(MailboxType::Org));
        assert_eq!(
            d.lookup("248039263001064@patient.mssante.fr"),
            Some(MailboxType::Patient)
        );
        // Corsica, from the INSi identities (2A) and the DMP patients (2B).
        assert_eq!(
            d.lookup("297022a02077878@patient.mssante.fr"),
            Some(MailboxType::Patient)
        );
        assert_eq!(
            d.lookup("188102b17295165@patient.mssante.fr"),
            Some(MailboxType::Patient)
        );
        // Wrong key; unknown INS; a professional address on the patient domain.
        assert_eq!(d.lookup("248039263001046@patient.mssante.fr"), None);
        assert_eq!(d.lookup("100000000000005@patient.mssante.fr"), None);
        assert_eq!(d.lookup("nobody@passerelle-sandbox.mssante.fr"), None);
        assert!(d.patients() > 50);
    }

    #[test]
    fn addresses_normalise_or_are_refused() {
        assert_eq!(
            normalise(" Jeanne.Medecin@Passerelle-Sandbox.MSSante.fr ").as_deref(),
            Some(JEANNE_MEDECIN)
        );
        for bad in [
            "a",
            "a@b",
            "../x@y.fr",
            "a/b@c.fr",
            "a@b..fr",
            "@x.fr",
            "a b@c.fr",
        ] {
            assert_eq!(normalise(bad), None, "{bad}");
        }
    }
}
