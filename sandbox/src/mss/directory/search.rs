//! FHIR searches over the seed, as the Annuaire Santé API (a HAPI server) answers them:
//! string parameters match the start of a word-normalised value (case and accents ignored;
//! `:exact`, `:contains`; `mailbox-mss` on Practitioner, PractitionerRole and Organization), tokens `[system]|code` or `code`, comma = or, a repeated
//! parameter = and; `_count` (at most 50), `_revinclude` / `_include` of PractitionerRoles;
//! a Bundle `searchset` with `total`, entries `match` then `include`, links `self` and
//! `next`. Unknown parameters are refused as HAPI refuses them.

use serde_json::{Value, json};

use super::resources::{
    self, FINESS_SYSTEM, IDNPS_SYSTEM, IDNST_SYSTEM, PROFESSION_SYSTEM, RPPS_SYSTEM,
    SPECIALTY_SYSTEM,
};
use super::seed::{Mailbox, Organization, Practitioner, Role, Seed};

/// Entries a page at most (the API's).
pub(crate) const MAX_PAGE: usize = 50;

/// The resource types the API serves.
pub(crate) const TYPES: [&str; 5] = [
    "Practitioner",
    "PractitionerRole",
    "Device",
    "Organization",
    "HealthcareService",
];

/// A refused search: HTTP status, issue code, diagnostics.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub diagnostics: String,
}

fn invalid(diagnostics: String) -> Refusal {
    Refusal {
        status: 400,
        code: "processing",
        diagnostics,
    }
}

/// One `name[:modifier]=value` of the query.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub name: String,
    pub modifier: Option<String>,
    pub value: String,
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The parameters of a query string (or of a form-encoded `_search` body).
pub(crate) fn parse_query(query: &str) -> Vec<Param> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_decode(k);
            let (name, modifier) = match k.split_once(':') {
                Some((n, m)) => (n.to_owned(), Some(m.to_owned())),
                None => (k, None),
            };
            Param {
                name,
                modifier,
                value: percent_decode(v),
            }
        })
        .collect()
}

/// Upper case, accents folded, punctuation as spaces (the sandbox's own normalisation, as
/// HAPI's string index does).
fn key(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_uppercase) {
        let c = match c {
            'À' | 'Â' | 'Ä' | 'Á' | 'Ã' | 'Å' => 'A',
            'Ç' => 'C',
            'É' | 'È' | 'Ê' | 'Ë' => 'E',
            'Î' | 'Ï' | 'Í' | 'Ì' => 'I',
            'Ô' | 'Ö' | 'Ó' | 'Ò' | 'Õ' => 'O',
            'Û' | 'Ü' | 'Ú' | 'Ù' => 'U',
            'Ÿ' | 'Ý' => 'Y',
            'Ñ' => 'N',
            'Œ' => {
                out.push_str("OE");
                continue;
            }
            'Æ' => {
                out.push_str("AE");
                continue;
            }
            c if c.is_alphanumeric() || c == '@' => c,
            _ => ' ',
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    out.trim_end().to_owned()
}

/// A string parameter against values (any of them may match).
fn string_match<'a>(param: &Param, values: impl IntoIterator<Item = &'a str>) -> bool {
    let wanted: Vec<&str> = param.value.split(',').collect();
    values.into_iter().any(|v| {
        wanted.iter().any(|w| match param.modifier.as_deref() {
            Some("exact") => v == *w,
            Some("contains") => key(v).contains(&key(w)),
            _ => key(v).starts_with(&key(w)),
        })
    })
}

/// A token parameter (`system|code`, `|code`, `code`) against (system, code) pairs.
fn token_match<'a>(param: &Param, values: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    let values: Vec<(&str, &str)> = values.into_iter().collect();
    param.value.split(',').any(|token| {
        let (system, code) = match token.split_once('|') {
            Some((s, c)) => (Some(s), c),
            None => (None, token),
        };
        values
            .iter()
            .any(|(s, c)| *c == code && system.is_none_or(|want| want.is_empty() || want == *s))
    })
}

fn bool_match(param: &Param, value: bool) -> Result<bool, Refusal> {
    match param.value.as_str() {
        "true" => Ok(value),
        "false" => Ok(!value),
        other => Err(invalid(format!(
            "HAPI-1083: Invalid value for token parameter {}: {other:?}",
            param.name
        ))),
    }
}

/// The reference parameter's ids (`Type/ID` or `ID`, comma = or).
fn reference_ids<'a>(param: &'a Param, kind: &str) -> Vec<&'a str> {
    param
        .value
        .split(',')
        .map(|r| {
            r.rsplit_once('/')
                .filter(|(head, _)| head.ends_with(kind))
                .map_or(r, |(_, id)| id)
        })
        .collect()
}

fn mailbox_addresses(list: &[Mailbox]) -> impl Iterator<Item = &str> {
    list.iter().map(|m| m.address.as_str())
}

/// `mailbox-mss` (a string parameter, as the API documents it): starts with (case, accents
/// and punctuation ignored), `:exact` (the whole value, case included), `:contains`, and
/// FHIR's `:missing`; another modifier is refused.
fn mailbox_match(param: &Param, mailboxes: &[Mailbox]) -> Result<bool, Refusal> {
    match param.modifier.as_deref() {
        None | Some("exact") | Some("contains") => {
            Ok(string_match(param, mailbox_addresses(mailboxes)))
        }
        Some("missing") => Ok(bool_match(param, mailboxes.is_empty())?),
        Some(other) => Err(invalid(format!(
            "Invalid modifier \":{other}\" for the string parameter mailbox-mss: use :exact or :contains"
        ))),
    }
}

const COMMON: [&str; 5] = ["_count", "_offset", "_format", "_pretty", "_total"];

fn unknown(resource: &str, name: &str, valid: &[&str]) -> Refusal {
    invalid(format!(
        "HAPI-0524: Unknown search parameter \"{name}\" for resource type \"{resource}\". Valid search parameters for this search are: [{}]",
        valid.join(", ")
    ))
}

/// A parameter the real API has and the sandbox does not implement.
fn not_implemented(name: &str) -> Refusal {
    Refusal {
        status: 400,
        code: "not-supported",
        diagnostics: format!(
            "the directory sandbox does not implement the search parameter {name}"
        ),
    }
}

const PRACTITIONER_PARAMS: [&str; 9] = [
    "_id",
    "identifier",
    "family",
    "given",
    "name",
    "active",
    "mailbox-mss",
    "qualification-code",
    "_revinclude",
];
const PRACTITIONER_LATER: [&str; 5] = [
    "_lastUpdated",
    "data-information-system",
    "identifier-type",
    "number-smartcard",
    "_elements",
];
const ROLE_PARAMS: [&str; 6] = [
    "_id",
    "practitioner",
    "organization",
    "active",
    "mailbox-mss",
    "_include",
];
const ROLE_LATER: [&str; 6] = [
    "_lastUpdated",
    "data-information-system",
    "data-registration-authority",
    "identifier",
    "role",
    "_elements",
];
const ORGANIZATION_PARAMS: [&str; 6] = [
    "_id",
    "identifier",
    "name",
    "active",
    "mailbox-mss",
    "_revinclude",
];
const ORGANIZATION_LATER: [&str; 6] = [
    "_lastUpdated",
    "data-information-system",
    "type",
    "address",
    "partof",
    "_elements",
];

fn check_names(
    resource: &str,
    params: &[Param],
    known: &[&str],
    later: &[&str],
) -> Result<(), Refusal> {
    for p in params {
        let name = p.name.as_str();
        if COMMON.contains(&name) || known.contains(&name) {
            continue;
        }
        if later.contains(&name) {
            return Err(not_implemented(name));
        }
        return Err(unknown(resource, name, known));
    }
    Ok(())
}

fn practitioner_matches(p: &Practitioner, params: &[Param]) -> Result<bool, Refusal> {
    for param in params {
        let ok = match (param.name.as_str(), param.modifier.as_deref()) {
            ("_id", _) => token_match(param, [("", p.id.as_str())]),
            ("identifier", _) => {
                let idnps = format!("8{}", p.rpps);
                token_match(
                    param,
                    [
                        (RPPS_SYSTEM, p.rpps.as_str()),
                        (IDNPS_SYSTEM, idnps.as_str()),
                    ],
                )
            }
            // `name:family` / `name:given`, as the API's documentation writes them.
            ("family", _) | ("name", Some("family")) => string_match(
                &Param {
                    modifier: param.modifier.clone().filter(|m| m != "family"),
                    ..param.clone()
                },
                [p.family.as_str()],
            ),
            ("given", _) | ("name", Some("given")) => string_match(
                &Param {
                    modifier: param.modifier.clone().filter(|m| m != "given"),
                    ..param.clone()
                },
                p.given.iter().map(String::as_str),
            ),
            ("name", _) => {
                let mut words: Vec<&str> = vec![p.family.as_str()];
                words.extend(p.given.iter().map(String::as_str));
                words.extend(p.prefix.as_deref());
                string_match(param, words)
            }
            ("active", _) => bool_match(param, p.active)?,
            ("mailbox-mss", _) => mailbox_match(param, &p.mailboxes)?,
            ("qualification-code", _) => {
                let mut codes = vec![(PROFESSION_SYSTEM, p.profession.as_str())];
                if let Some(s) = &p.specialty {
                    codes.push((SPECIALTY_SYSTEM, s.as_str()));
                }
                token_match(param, codes)
            }
            _ => true,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn role_matches(p: &Practitioner, r: &Role, params: &[Param]) -> Result<bool, Refusal> {
    for param in params {
        let ok = match param.name.as_str() {
            "_id" => token_match(param, [("", r.id.as_str())]),
            "practitioner" => reference_ids(param, "Practitioner").contains(&p.id.as_str()),
            "organization" => r
                .organization
                .as_deref()
                .is_some_and(|o| reference_ids(param, "Organization").contains(&o)),
            "active" => bool_match(param, r.active)?,
            "mailbox-mss" => mailbox_match(param, &r.mailboxes)?,
            _ => true,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn organization_matches(o: &Organization, params: &[Param]) -> Result<bool, Refusal> {
    for param in params {
        let ok = match param.name.as_str() {
            "_id" => token_match(param, [("", o.id.as_str())]),
            "identifier" => match &o.finess {
                Some(f) => {
                    let idnst = format!("1{f}");
                    token_match(param, [(FINESS_SYSTEM, f.as_str()), (IDNST_SYSTEM, &idnst)])
                }
                None => false,
            },
            "name" => string_match(param, [o.name.as_str()]),
            "active" => bool_match(param, true)?,
            "mailbox-mss" => mailbox_match(param, &o.mailboxes)?,
            _ => true,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The values of a parameter that may appear once (`_count`…).
fn single<'a>(params: &'a [Param], name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|p| p.name == name)
        .map(|p| p.value.as_str())
}

fn number(params: &[Param], name: &str, default: usize) -> Result<usize, Refusal> {
    match single(params, name) {
        None | Some("") => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            invalid(format!(
                "HAPI-1935: Invalid {name} value: {v:?} (a whole number)"
            ))
        }),
    }
}

/// The search `resource?params` over the seed, as a Bundle; `base` is the server's base URL
/// as the client reached it (for `fullUrl` and links).
pub(crate) fn search(
    seed: &Seed,
    resource: &str,
    params: &[Param],
    base: &str,
) -> Result<Value, Refusal> {
    let count = number(params, "_count", MAX_PAGE)?.min(MAX_PAGE);
    let offset = number(params, "_offset", 0)?;
    let mut matches: Vec<Value> = Vec::new();
    // Includes, by the page's matches: filled below per page.
    let mut includes_for: Vec<Vec<Value>> = Vec::new();
    match resource {
        "Practitioner" => {
            check_names(resource, params, &PRACTITIONER_PARAMS, &PRACTITIONER_LATER)?;
            let revinclude = revinclude(params, "PractitionerRole:practitioner")?;
            let mut found: Vec<&Practitioner> = Vec::new();
            for p in &seed.practitioners {
                if practitioner_matches(p, params)? {
                    found.push(p);
                }
            }
            found.sort_by(|a, b| a.id.cmp(&b.id));
            for p in found {
                matches.push(resources::practitioner(p));
                includes_for.push(if revinclude {
                    p.roles.iter().map(|r| resources::role(p, r)).collect()
                } else {
                    Vec::new()
                });
            }
        }
        "PractitionerRole" => {
            check_names(resource, params, &ROLE_PARAMS, &ROLE_LATER)?;
            let (with_practitioner, with_organization) = role_includes(params)?;
            let mut found: Vec<(&Practitioner, &Role)> = Vec::new();
            for p in &seed.practitioners {
                for r in &p.roles {
                    if role_matches(p, r, params)? {
                        found.push((p, r));
                    }
                }
            }
            found.sort_by(|a, b| a.1.id.cmp(&b.1.id));
            for (p, r) in found {
                matches.push(resources::role(p, r));
                let mut inc = Vec::new();
                if with_practitioner {
                    inc.push(resources::practitioner(p));
                }
                if with_organization
                    && let Some(o) = r
                        .organization
                        .as_ref()
                        .and_then(|id| seed.organizations.iter().find(|o| &o.id == id))
                {
                    inc.push(resources::organization(o));
                }
                includes_for.push(inc);
            }
        }
        "Organization" => {
            check_names(resource, params, &ORGANIZATION_PARAMS, &ORGANIZATION_LATER)?;
            let revinclude = revinclude(params, "PractitionerRole:organization")?;
            let mut found: Vec<&Organization> = Vec::new();
            for o in &seed.organizations {
                if organization_matches(o, params)? {
                    found.push(o);
                }
            }
            found.sort_by(|a, b| a.id.cmp(&b.id));
            for o in found {
                matches.push(resources::organization(o));
                includes_for.push(if revinclude {
                    seed.practitioners
                        .iter()
                        .flat_map(|p| p.roles.iter().map(move |r| (p, r)))
                        .filter(|(_, r)| r.organization.as_deref() == Some(o.id.as_str()))
                        .map(|(p, r)| resources::role(p, r))
                        .collect()
                } else {
                    Vec::new()
                });
            }
        }
        // Served by the API; the sandbox has none.
        "Device" | "HealthcareService" => {}
        other => {
            return Err(Refusal {
                status: 404,
                code: "processing",
                diagnostics: format!(
                    "HAPI-0302: Unknown resource type '{other}' - Server knows how to handle: [{}]",
                    TYPES.join(", ")
                ),
            });
        }
    }
    let total = matches.len();
    let end = offset.saturating_add(count).min(total);
    let start = offset.min(total);
    let mut entries = Vec::new();
    let mut included = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (m, inc) in matches[start..end].iter().zip(&includes_for[start..end]) {
        entries.push(entry(base, m, "match"));
        for i in inc {
            let id = format!("{}/{}", i["resourceType"], i["id"]);
            if seen.insert(id) {
                included.push(entry(base, i, "include"));
            }
        }
    }
    entries.extend(included);
    let mut link = vec![json!({
        "relation": "self",
        "url": page_url(base, resource, params, count, offset)
    })];
    if end < total && count > 0 {
        link.push(json!({
            "relation": "next",
            "url": page_url(base, resource, params, count, end)
        }));
    }
    let mut bundle = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": { "lastUpdated": now() },
        "type": "searchset",
        "total": total,
        "link": link
    });
    if !entries.is_empty() {
        bundle["entry"] = Value::Array(entries);
    }
    Ok(bundle)
}

fn revinclude(params: &[Param], allowed: &str) -> Result<bool, Refusal> {
    let mut on = false;
    for p in params.iter().filter(|p| p.name == "_revinclude") {
        if p.value == allowed || p.value == "*" {
            on = true;
        } else {
            return Err(invalid(format!(
                "HAPI-0489: Invalid _revinclude parameter value: \"{}\". Valid values are: [{allowed}]",
                p.value
            )));
        }
    }
    Ok(on)
}

fn role_includes(params: &[Param]) -> Result<(bool, bool), Refusal> {
    let (mut practitioner, mut organization) = (false, false);
    for p in params.iter().filter(|p| p.name == "_include") {
        match p.value.as_str() {
            "PractitionerRole:practitioner" => practitioner = true,
            "PractitionerRole:organization" => organization = true,
            "*" => (practitioner, organization) = (true, true),
            other => {
                return Err(invalid(format!(
                    "HAPI-0489: Invalid _include parameter value: \"{other}\". Valid values are: [*, PractitionerRole:organization, PractitionerRole:practitioner]"
                )));
            }
        }
    }
    Ok((practitioner, organization))
}

fn entry(base: &str, resource: &Value, mode: &str) -> Value {
    let (t, id) = (
        resource["resourceType"].as_str().unwrap_or_default(),
        resource["id"].as_str().unwrap_or_default(),
    );
    json!({
        "fullUrl": format!("{base}/{t}/{id}"),
        "resource": resource,
        "search": { "mode": mode }
    })
}

fn page_url(base: &str, resource: &str, params: &[Param], count: usize, offset: usize) -> String {
    let mut query: Vec<String> = params
        .iter()
        .filter(|p| !matches!(p.name.as_str(), "_count" | "_offset"))
        .map(|p| {
            let name = match &p.modifier {
                Some(m) => format!("{}:{m}", p.name),
                None => p.name.clone(),
            };
            format!("{}={}", percent_encode(&name), percent_encode(&p.value))
        })
        .collect();
    query.push(format!("_count={count}"));
    if offset > 0 {
        query.push(format!("_offset={offset}"));
    }
    format!("{base}/{resource}?{}", query.join("&"))
}

pub(crate) fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A resource by its id (`GET [base]/Type/id`).
pub(crate) fn read(seed: &Seed, resource: &str, id: &str) -> Option<Value> {
    match resource {
        "Practitioner" => seed
            .practitioners
            .iter()
            .find(|p| p.id == id)
            .map(resources::practitioner),
        "PractitionerRole" => seed.practitioners.iter().find_map(|p| {
            p.roles
                .iter()
                .find(|r| r.id == id)
                .map(|r| resources::role(p, r))
        }),
        "Organization" => seed
            .organizations
            .iter()
            .find(|o| o.id == id)
            .map(resources::organization),
        _ => None,
    }
}

/// The CapabilityStatement (`GET [base]/metadata`): what the sandbox implements.
pub(crate) fn capability_statement() -> Value {
    let params = |names: &[&str]| -> Vec<Value> {
        names
            .iter()
            .filter(|n| !n.starts_with('_') || **n == "_id")
            .map(|n| json!({ "name": n, "type": if n.contains("family") || n.contains("given") || *n == "name" || *n == "mailbox-mss" { "string" } else { "token" } }))
            .collect()
    };
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": now(),
        "publisher": "Passerelle directory sandbox",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "resource": [
                { "type": "Practitioner", "interaction": [{"code": "read"}, {"code": "search-type"}],
                  "searchInclude": [], "searchRevInclude": ["PractitionerRole:practitioner"],
                  "searchParam": params(&PRACTITIONER_PARAMS) },
                { "type": "PractitionerRole", "interaction": [{"code": "read"}, {"code": "search-type"}],
                  "searchInclude": ["*", "PractitionerRole:organization", "PractitionerRole:practitioner"],
                  "searchParam": params(&ROLE_PARAMS) },
                { "type": "Organization", "interaction": [{"code": "read"}, {"code": "search-type"}],
                  "searchRevInclude": ["PractitionerRole:organization"],
                  "searchParam": params(&ORGANIZATION_PARAMS) },
                { "type": "Device", "interaction": [{"code": "search-type"}] },
                { "type": "HealthcareService", "interaction": [{"code": "search-type"}] }
            ]
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_names_modifiers_and_values() {
        let p =
            parse_query("identifier=10001234565%2C810001234565&name:family=LEF%C3%88VRE&given=h+m");
        assert_eq!(p[0].value, "10001234565,810001234565");
        assert_eq!(
            (
                p[1].name.as_str(),
                p[1].modifier.as_deref(),
                p[1].value.as_str()
            ),
            ("name", Some("family"), "LEFÈVRE")
        );
        assert_eq!(p[2].value, "h m");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn strings_start_with_without_case_or_accents() {
        let param = |v: &str, m: Option<&str>| Param {
            name: "family".into(),
            modifier: m.map(str::to_owned),
            value: v.into(),
        };
        assert!(string_match(&param("lefevre", None), ["LEFÈVRE"]));
        assert!(string_match(&param("fouq", None), ["FOUQUEREY"]));
        assert!(!string_match(&param("QUEREY", None), ["FOUQUEREY"]));
        assert!(string_match(
            &param("QUEREY", Some("contains")),
            ["FOUQUEREY"]
        ));
        assert!(!string_match(
            &param("fouquerey", Some("exact")),
            ["FOUQUEREY"]
        ));
    }

    fn ids(bundle: &Value, mode: &str) -> Vec<String> {
        bundle["entry"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e["search"]["mode"] == mode)
                    .map(|e| {
                        format!(
                            "{}/{}",
                            e["resource"]["resourceType"].as_str().unwrap(),
                            e["resource"]["id"].as_str().unwrap()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn find(resource: &str, query: &str) -> Result<Value, Refusal> {
        let seed = Seed::load(None).unwrap();
        search(&seed, resource, &parse_query(query), "https://h/fhir/v2")
    }

    #[test]
    fn mailbox_mss_on_each_carrier() {
        // On the Practitioner itself.
        let b = find(
            "Practitioner",
            "mailbox-mss=jeanne.medecin%40passerelle-sandbox.mssante.fr",
        )
        .unwrap();
        assert_eq!(ids(&b, "match"), ["Practitioner/003-10001234565"]);
        // Dr FOUQUEREY's is on his activity: not the Practitioner's, the PractitionerRole's
        // (with its Practitioner when included).
        let fouquerey = "jean.fouquerey%40passerelle-sandbox.mssante.fr";
        let b = find("Practitioner", &format!("mailbox-mss={fouquerey}")).unwrap();
        assert_eq!(b["total"], 0);
        let b = find(
            "PractitionerRole",
            &format!("mailbox-mss={fouquerey}&_include=PractitionerRole:practitioner"),
        )
        .unwrap();
        assert_eq!(ids(&b, "match"), ["PractitionerRole/005-99900063480-1"]);
        assert_eq!(ids(&b, "include"), ["Practitioner/003-99900063480"]);
        // The health centre's applicative mailbox.
        let b = find(
            "Organization",
            "mailbox-mss=LPS%40passerelle-sandbox.mssante.fr",
        )
        .unwrap();
        assert_eq!(ids(&b, "match"), ["Organization/001-01-999000003"]);
    }

    #[test]
    fn mailbox_mss_modifiers() {
        // Plain: starts with, case ignored.
        let b = find("Practitioner", "mailbox-mss=HELENE.LEFEVRE").unwrap();
        assert_eq!(ids(&b, "match"), ["Practitioner/003-99900123450"]);
        // :exact: the whole value, case included.
        let b = find(
            "Practitioner",
            "mailbox-mss:exact=helene.lefevre%40passerelle-sandbox.mssante.fr",
        )
        .unwrap();
        assert_eq!(b["total"], 1);
        for partial in [
            "helene.lefevre",
            "Helene.Lefevre%40passerelle-sandbox.mssante.fr",
        ] {
            let b = find("Practitioner", &format!("mailbox-mss:exact={partial}")).unwrap();
            assert_eq!(b["total"], 0, "{partial}");
        }
        // :contains, as the API's examples search a domain.
        let b = find(
            "Organization",
            "mailbox-mss:contains=%40passerelle-sandbox.mssante.fr",
        )
        .unwrap();
        assert_eq!(ids(&b, "match"), ["Organization/001-01-999000003"]);
        // :missing (any FHIR parameter): those with no mailbox.
        let b = find("Organization", "mailbox-mss:missing=true").unwrap();
        assert_eq!(ids(&b, "match"), ["Organization/001-02-fouquerey"]);
        let e = find("PractitionerRole", "mailbox-mss:text=x").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.diagnostics.contains(":text"), "{}", e.diagnostics);
    }
}
