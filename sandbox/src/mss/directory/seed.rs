//! The directory's seed (`data/annuaire-seed.toml` or a file of the same format), checked
//! when loaded.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

const BUILTIN: &str = include_str!("../../../data/annuaire-seed.toml");

/// Which extensions a mailbox telecom carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Shape {
    /// The e-mail type (MSSANTE) and the mailbox metadata.
    #[default]
    Full,
    /// The metadata only (as the ANS's Bundle example).
    Metadata,
    /// The e-mail type only.
    EmailType,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Mailbox {
    pub address: String,
    #[serde(rename = "type")]
    pub mailbox_type: String,
    pub description: Option<String>,
    pub rank: Option<u32>,
    #[serde(default)]
    pub shape: Shape,
    #[serde(default)]
    pub red_list: bool,
}

/// A telecom e-mail that is not an MSSanté mailbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Email {
    pub address: String,
    /// TRE_R256 code (e.g. APICRYPT); none: a plain e-mail.
    pub email_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Organization {
    pub id: String,
    pub name: String,
    pub finess: Option<String>,
    #[serde(default)]
    pub mailboxes: Vec<Mailbox>,
    #[serde(default)]
    pub emails: Vec<Email>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Role {
    pub id: String,
    pub organization: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub mailboxes: Vec<Mailbox>,
    #[serde(default)]
    pub emails: Vec<Email>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Practitioner {
    pub id: String,
    pub rpps: String,
    pub family: String,
    #[serde(default)]
    pub given: Vec<String>,
    pub prefix: Option<String>,
    /// TRE_G15 code.
    pub profession: String,
    /// TRE_R38 code.
    pub specialty: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub mailboxes: Vec<Mailbox>,
    #[serde(default)]
    pub emails: Vec<Email>,
    #[serde(default, rename = "role")]
    pub roles: Vec<Role>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Seed {
    #[serde(default, rename = "organization")]
    pub organizations: Vec<Organization>,
    #[serde(default, rename = "practitioner")]
    pub practitioners: Vec<Practitioner>,
}

impl Seed {
    /// The file given, or the built-in seed.
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|e| e.to_string())?,
            None => BUILTIN.to_owned(),
        };
        let seed: Seed = toml::from_str(&text).map_err(|e| e.to_string())?;
        seed.check()?;
        Ok(seed)
    }

    fn check(&self) -> Result<(), String> {
        let mut ids = HashSet::new();
        let mut addresses = HashSet::new();
        let org_ids: HashSet<&str> = self.organizations.iter().map(|o| o.id.as_str()).collect();
        let mut check_mailboxes = |owner: &str, list: &[Mailbox]| -> Result<(), String> {
            for m in list {
                if !matches!(m.mailbox_type.as_str(), "PER" | "ORG" | "APP" | "CAB") {
                    return Err(format!(
                        "{owner}: mailbox type {:?} is not PER, ORG, APP or CAB",
                        m.mailbox_type
                    ));
                }
                if !m.address.contains('@') || !addresses.insert(m.address.to_ascii_lowercase()) {
                    return Err(format!(
                        "{owner}: mailbox {:?} is not an address, or is listed twice",
                        m.address
                    ));
                }
            }
            Ok(())
        };
        for o in &self.organizations {
            if o.id.is_empty() || !ids.insert(o.id.clone()) {
                return Err(format!("organization id {:?} is empty or repeated", o.id));
            }
            check_mailboxes(&o.id, &o.mailboxes)?;
        }
        for p in &self.practitioners {
            if p.id.is_empty() || !ids.insert(p.id.clone()) {
                return Err(format!("practitioner id {:?} is empty or repeated", p.id));
            }
            if p.rpps.len() != 11 || !p.rpps.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{}: rpps {:?} is not 11 digits", p.id, p.rpps));
            }
            check_mailboxes(&p.id, &p.mailboxes)?;
            for r in &p.roles {
                if r.id.is_empty() || !ids.insert(r.id.clone()) {
                    return Err(format!("role id {:?} is empty or repeated", r.id));
                }
                if let Some(org) = &r.organization
                    && !org_ids.contains(org.as_str())
                {
                    return Err(format!("{}: no organization {org:?}", r.id));
                }
                check_mailboxes(&r.id, &r.mailboxes)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_seed_has_the_project_fixed_people() {
        let seed = Seed::load(None).unwrap();
        let rpps: Vec<_> = seed.practitioners.iter().map(|p| p.rpps.as_str()).collect();
        assert!(rpps.contains(&"10001234565") && rpps.contains(&"99900063480"));
        assert_eq!(seed.organizations[0].finess.as_deref(), Some("999000003"));
    }

    #[test]
    fn a_role_of_an_unknown_organization_is_refused() {
        let seed: Seed = toml::from_str(
            "[[practitioner]]\nid='a'\nrpps='10001234565'\nfamily='X'\nprofession='10'\n[[practitioner.role]]\nid='r'\norganization='nowhere'\n",
        )
        .unwrap();
        assert_eq!(seed.check().unwrap_err(), "r: no organization \"nowhere\"");
    }
}
