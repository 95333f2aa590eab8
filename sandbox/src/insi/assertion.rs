//! CPS mode: verification of the SAML 2.0 assertion a professional's card signed, as the
//! national service does it (shape of `fixtures/cps-mode/assertion-ps-request.2.xml`):
//!
//! 1. exactly one `saml:Assertion` in `wsse:Security`, with `ID`, `IssueInstant`,
//!    `Issuer` first and the enveloped `ds:Signature` right after it;
//! 2. `SignedInfo`: exclusive C14N, RSA-SHA256, one `Reference` to `#<ID>` with the
//!    enveloped-signature transform (then optionally exclusive C14N), SHA-256 digest;
//! 3. the certificate in `KeyInfo/X509Data` is RSA, issued by the sandbox's CPS CA
//!    (`TEST AC IGC-SANTE FORT PERSONNES`) and valid now;
//! 4. the digest of the canonical assertion (signature left out) matches `DigestValue`;
//! 5. the RSA PKCS#1 v1.5 SHA-256 signature of the canonical `SignedInfo` verifies with
//!    the certificate's key;
//! 6. `Issuer` (an RFC 2253 DN) names the certificate's subject;
//! 7. `Subject/NameID` has `NameQualifier="CPS"` and the card id, the certificate's CN;
//! 8. `IssueInstant` is within the allowed clock skew of now;
//! 9. the attributes `identifiantFacturation` and `secteurActivite` are present.
//!
//! The verification is the sandbox's own (quick-xml tree, its own canonicalisation, ring
//! for RSA): it shares nothing with Passerelle's client, which writes the assertion.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::soap::{NS_SAML2, NS_SOAP12, NS_WSSE};
use super::xml::Element;
use crate::common::dsig::{self, NS_DSIG};

const ALG_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ALG_ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const ALG_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const FORMAT_X509_SUBJECT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName";
const OID_CN: &str = "2.5.4.3";
const OID_RSA: &str = "1.2.840.113549.1.1.1";

/// Why an assertion is refused. Each class has its own (assumed) fault detail code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AssertionError {
    /// Structure or signature (algorithms, reference, digest, signature value).
    Signature(String),
    /// The certificate: unreadable, not RSA, not issued by the CPS CA, not valid now.
    Certificate(String),
    /// `Issuer` or `NameID` do not name the certificate's holder.
    Identity(String),
    /// `IssueInstant` missing, unreadable or outside the allowed skew.
    Instant(String),
}

/// What a verified assertion tells about the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerifiedCps {
    /// The card id (certificate CN = `NameID`).
    pub card_id: String,
}

/// The CPS CA the certificates must be issued by.
pub(crate) struct CpsTrust {
    /// DER of the CPS intermediate CA.
    pub ca_der: Vec<u8>,
    pub max_skew: Duration,
}

fn sig(msg: impl Into<String>) -> AssertionError {
    AssertionError::Signature(msg.into())
}

/// The assertion of a CPS call, with its ancestors (envelope, header, security), or
/// `None` when there is none. Several assertions are refused (no choice of the one to
/// verify: signature wrapping).
pub(crate) fn find(envelope: &Element) -> Result<Option<Vec<&Element>>, AssertionError> {
    let Some(header) = envelope.child(NS_SOAP12, "Header") else {
        return Ok(None);
    };
    let mut found: Option<Vec<&Element>> = None;
    for security in header.children_named(NS_WSSE, "Security") {
        for assertion in security.children_named(NS_SAML2, "Assertion") {
            if found.is_some() {
                return Err(sig(
                    "plusieurs assertions SAML dans l'en-tête wsse:Security",
                ));
            }
            found = Some(vec![envelope, header, security, assertion]);
        }
    }
    Ok(found)
}

/// Verifies the assertion (last of `path`, its ancestors before it) at `now`.
pub(crate) fn verify(
    path: &[&Element],
    trust: &CpsTrust,
    now: OffsetDateTime,
) -> Result<VerifiedCps, AssertionError> {
    let (assertion, _) = path.split_last().ok_or_else(|| sig("assertion absente"))?;
    let assertion: &Element = assertion;
    if assertion.attr("Version") != Some("2.0") {
        return Err(sig("l'assertion doit être en version SAML 2.0"));
    }
    let id = assertion
        .attr("ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| sig("l'assertion n'a pas d'attribut ID"))?;

    // 1. Issuer first, then the signature.
    let [issuer, signature, ..] = assertion.children.as_slice() else {
        return Err(sig("l'assertion doit contenir Issuer puis Signature"));
    };
    if !issuer.is(NS_SAML2, "Issuer") || !signature.is(NS_DSIG, "Signature") {
        return Err(sig(
            "l'assertion doit contenir Issuer puis la signature enveloppée (ds:Signature)",
        ));
    }

    // 2. SignedInfo.
    let signed_info = only_child(signature, "SignedInfo")?;
    let algorithm = |e: &Element, local: &str| -> Result<String, AssertionError> {
        Ok(only_child(e, local)?
            .attr("Algorithm")
            .unwrap_or_default()
            .to_owned())
    };
    if algorithm(signed_info, "CanonicalizationMethod")? != ALG_EXC_C14N {
        return Err(sig("CanonicalizationMethod doit être la C14N exclusive"));
    }
    if algorithm(signed_info, "SignatureMethod")? != ALG_RSA_SHA256 {
        return Err(sig("SignatureMethod doit être rsa-sha256"));
    }
    let reference = only_child(signed_info, "Reference")?;
    if reference.attr("URI") != Some(&format!("#{id}")) {
        return Err(sig("la Reference doit désigner l'assertion signée (#ID)"));
    }
    let transforms: Vec<&str> = only_child(reference, "Transforms")?
        .children
        .iter()
        .map(|t| {
            if t.is(NS_DSIG, "Transform") && t.children.is_empty() {
                t.attr("Algorithm").unwrap_or_default()
            } else {
                ""
            }
        })
        .collect();
    if transforms != [ALG_ENVELOPED, ALG_EXC_C14N] && transforms != [ALG_ENVELOPED] {
        return Err(sig(
            "les transformations doivent être enveloped-signature puis la C14N exclusive",
        ));
    }
    if algorithm(reference, "DigestMethod")? != ALG_SHA256 {
        return Err(sig("DigestMethod doit être sha256"));
    }
    only_child(reference, "DigestValue")?;
    only_child(signature, "SignatureValue")?;

    // 3. The certificate.
    let cert_der = signature
        .child(NS_DSIG, "KeyInfo")
        .and_then(|k| k.child(NS_DSIG, "X509Data"))
        .and_then(|d| d.child(NS_DSIG, "X509Certificate"))
        .and_then(|c| base64(&c.text))
        .ok_or_else(|| {
            AssertionError::Certificate(
                "KeyInfo/X509Data/X509Certificate absent ou illisible".into(),
            )
        })?;
    let cert = check_certificate(&cert_der, trust, now)?;

    // 4-5. Digest of the assertion (signature left out), then the signature of
    // SignedInfo: the sandbox's shared XMLDSig check (the algorithms are restricted above).
    dsig::verify_enveloped(path, "ID").map_err(|e| sig(e.0))?;

    // 6. Issuer = certificate subject.
    if issuer
        .attr("Format")
        .is_some_and(|f| f != FORMAT_X509_SUBJECT)
    {
        return Err(AssertionError::Identity(
            "le format de l'Issuer doit être X509SubjectName".into(),
        ));
    }
    let mut subject: Vec<Vec<(String, String)>> = cert
        .subject()
        .iter()
        .map(|rdn| {
            let mut atvs: Vec<(String, String)> = rdn
                .iter()
                .map(|atv| {
                    (
                        atv.attr_type().to_id_string(),
                        atv.as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            atvs.sort();
            atvs
        })
        .collect();
    subject.reverse();
    match parse_rfc2253(issuer.text.trim()) {
        Some(dn) if dn == subject => {}
        _ => {
            return Err(AssertionError::Identity(
                "l'Issuer de l'assertion n'est pas le sujet du certificat de signature".into(),
            ));
        }
    }

    // 7. NameID = card id (CN).
    let card_id = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned();
    let name_id = assertion
        .child(NS_SAML2, "Subject")
        .and_then(|s| s.child(NS_SAML2, "NameID"))
        .ok_or_else(|| AssertionError::Identity("Subject/NameID absent".into()))?;
    if name_id.attr("NameQualifier") != Some("CPS") {
        return Err(AssertionError::Identity(
            "le NameID doit porter NameQualifier=\"CPS\"".into(),
        ));
    }
    if card_id.is_empty() || name_id.text.trim() != card_id {
        return Err(AssertionError::Identity(
            "le NameID n'est pas l'identifiant de la carte du certificat".into(),
        ));
    }

    // 8. IssueInstant.
    let instant = assertion
        .attr("IssueInstant")
        .and_then(|t| OffsetDateTime::parse(t.trim(), &Rfc3339).ok())
        .ok_or_else(|| AssertionError::Instant("IssueInstant absent ou illisible".into()))?;
    let skew = time::Duration::try_from(trust.max_skew).unwrap_or(time::Duration::MAX);
    if instant < now - skew || instant > now + skew {
        return Err(AssertionError::Instant(
            "l'assertion n'est pas récente (IssueInstant hors de la tolérance d'horloge)".into(),
        ));
    }

    // 9. The professional's situation.
    let statement = assertion.child(NS_SAML2, "AttributeStatement");
    for name in ["identifiantFacturation", "secteurActivite"] {
        let present = statement.is_some_and(|s| {
            s.children_named(NS_SAML2, "Attribute").any(|a| {
                a.attr("Name") == Some(name)
                    && a.children_named(NS_SAML2, "AttributeValue")
                        .any(|v| !v.text.trim().is_empty())
            })
        });
        if !present {
            return Err(AssertionError::Identity(format!(
                "l'attribut {name} est absent de l'assertion"
            )));
        }
    }
    Ok(VerifiedCps { card_id })
}

fn only_child<'a>(parent: &'a Element, local: &'a str) -> Result<&'a Element, AssertionError> {
    let mut it = parent.children_named(NS_DSIG, local);
    match (it.next(), it.next()) {
        (Some(e), None) => Ok(e),
        _ => Err(sig(format!(
            "{} doit contenir exactement un élément ds:{local}",
            parent.local
        ))),
    }
}

fn base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    B64.decode(compact).ok()
}

fn check_certificate<'a>(
    der: &'a [u8],
    trust: &CpsTrust,
    now: OffsetDateTime,
) -> Result<X509Certificate<'a>, AssertionError> {
    let bad = |m: &str| AssertionError::Certificate(m.to_owned());
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| bad("certificat illisible"))?;
    let (_, ca) = X509Certificate::from_der(&trust.ca_der)
        .map_err(|_| bad("CA CPS du bac à sable illisible"))?;
    if cert.issuer().as_raw() != ca.subject().as_raw()
        || cert.verify_signature(Some(ca.public_key())).is_err()
    {
        return Err(bad(
            "le certificat n'est pas émis par l'AC des cartes CPS (TEST AC IGC-SANTE FORT PERSONNES)",
        ));
    }
    let validity = cert.validity();
    if validity.not_before.to_datetime() > now || validity.not_after.to_datetime() < now {
        return Err(bad("le certificat n'est pas en cours de validité"));
    }
    if cert.public_key().algorithm.algorithm.to_id_string() != OID_RSA {
        return Err(bad("la clé du certificat n'est pas RSA"));
    }
    Ok(cert)
}

/// Short names of RFC 2253 / RFC 4514 and those seen in CPS assertions.
fn attribute_oid(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_uppercase().as_str() {
        "CN" => OID_CN,
        "SN" | "SURNAME" => "2.5.4.4",
        "SERIALNUMBER" => "2.5.4.5",
        "C" => "2.5.4.6",
        "L" => "2.5.4.7",
        "ST" => "2.5.4.8",
        "STREET" => "2.5.4.9",
        "O" => "2.5.4.10",
        "OU" => "2.5.4.11",
        "T" | "TITLE" => "2.5.4.12",
        "GN" | "GIVENNAME" => "2.5.4.42",
        "DC" => "0.9.2342.19200300.100.1.25",
        "UID" => "0.9.2342.19200300.100.1.1",
        _ => return None,
    })
}

/// An RFC 2253 DN (most specific RDN first, as written) as RDNs of sorted
/// (OID, value) pairs; `None` when it cannot be read. Values in `#hex` form are not
/// accepted (no CPS assertion uses them).
fn parse_rfc2253(dn: &str) -> Option<Vec<Vec<(String, String)>>> {
    let mut rdns = Vec::new();
    let mut rdn: Vec<(String, String)> = Vec::new();
    let mut key = String::new();
    let mut value = String::new();
    let mut in_value = false;
    let mut chars = dn.chars().peekable();
    let finish = |key: &mut String, value: &mut String, rdn: &mut Vec<_>| -> Option<()> {
        let k = key.trim();
        let oid = if k.chars().next()?.is_ascii_digit() {
            k.to_owned()
        } else {
            attribute_oid(k)?.to_owned()
        };
        rdn.push((oid, std::mem::take(value).trim().to_owned()));
        key.clear();
        Some(())
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_value => value.push(chars.next()?),
            '=' if !in_value => in_value = true,
            '+' | ',' | ';' if in_value => {
                finish(&mut key, &mut value, &mut rdn)?;
                in_value = false;
                if c != '+' {
                    rdn.sort();
                    rdns.push(std::mem::take(&mut rdn));
                }
            }
            c if in_value => value.push(c),
            c => key.push(c),
        }
    }
    if !in_value {
        return None;
    }
    finish(&mut key, &mut value, &mut rdn)?;
    rdn.sort();
    rdns.push(rdn);
    Some(rdns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::c14n;

    fn fixture(name: &str) -> Vec<u8> {
        let shared = std::env::var_os("PASSERELLE_SHARED_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
            });
        let path = shared.join("specs/insi/fixtures/cps-mode").join(name);
        std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "\n*** shared/ NOT FOUND: cannot read {} ({e}); put shared/ beside the project \
                 or set PASSERELLE_SHARED_DIR ***\n",
                path.display()
            )
        })
    }

    /// The canonicalisation reproduces the real capture's digest, and its signature
    /// verifies with its own (IGC-Santé TEST) certificate: the sandbox computes exactly
    /// what the national service computes.
    #[test]
    fn the_captured_assertion_digest_and_signature_verify() {
        let envelope = super::super::xml::parse(&fixture("assertion-ps-request.2.xml")).unwrap();
        let path = find(&envelope).unwrap().unwrap();
        let (assertion, ancestors) = path.split_last().unwrap();
        let signature = &assertion.children[1];
        let canonical = c14n::exclusive(assertion, ancestors, Some(signature));
        let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
        assert_eq!(
            B64.encode(digest),
            "my7wv1u8drDfY0okactno2eBvJvB6Ep3+ctrcVXVxCQ="
        );
        let signed_info = signature.child(NS_DSIG, "SignedInfo").unwrap();
        let mut si_ancestors = ancestors.to_vec();
        si_ancestors.push(assertion);
        si_ancestors.push(signature);
        let canonical_si = c14n::exclusive(signed_info, &si_ancestors, None);
        let cert_der = base64(
            &signature
                .child(NS_DSIG, "KeyInfo")
                .and_then(|k| k.child(NS_DSIG, "X509Data"))
                .and_then(|d| d.child(NS_DSIG, "X509Certificate"))
                .unwrap()
                .text,
        )
        .unwrap();
        let (_, cert) = X509Certificate::from_der(&cert_der).unwrap();
        let value = base64(&signature.child(NS_DSIG, "SignatureValue").unwrap().text).unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            cert.public_key().subject_public_key.data.as_ref(),
        )
        .verify(canonical_si.as_bytes(), &value)
        .expect("the captured signature verifies");
    }

    /// Through `verify`: refused only for its certificate (not issued by the sandbox's
    /// CPS CA), everything before that passes.
    #[test]
    fn the_captured_assertion_is_refused_for_its_foreign_certificate() {
        let envelope = super::super::xml::parse(&fixture("assertion-ps-request.2.xml")).unwrap();
        let path = find(&envelope).unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pki = crate::pki::TestPki::ensure(dir.path()).unwrap();
        let ca_pem = std::fs::read(&pki.cps_ca_cert).unwrap();
        let ca_der = {
            use rustls_pki_types::pem::PemObject;
            rustls_pki_types::CertificateDer::from_pem_slice(&ca_pem)
                .unwrap()
                .to_vec()
        };
        let trust = CpsTrust {
            ca_der,
            max_skew: Duration::from_secs(300),
        };
        let err = verify(&path, &trust, OffsetDateTime::now_utc()).unwrap_err();
        assert!(matches!(err, AssertionError::Certificate(_)), "{err:?}");
    }

    #[test]
    fn reads_the_captured_issuer_dn() {
        let dn =
            parse_rfc2253("2.5.4.42=OLIVIER+CN=00B6087510+SN=INFIRMCS ADELI8751,T=Infirmier,C=FR")
                .unwrap();
        assert_eq!(dn.len(), 3);
        assert_eq!(
            dn[0],
            vec![
                ("2.5.4.3".to_owned(), "00B6087510".to_owned()),
                ("2.5.4.4".to_owned(), "INFIRMCS ADELI8751".to_owned()),
                ("2.5.4.42".to_owned(), "OLIVIER".to_owned()),
            ]
        );
        assert_eq!(dn[2], vec![("2.5.4.6".to_owned(), "FR".to_owned())]);
        assert_eq!(
            parse_rfc2253(r"CN=A\, B,C=FR").unwrap()[0][0].1,
            "A, B".to_owned()
        );
        assert!(parse_rfc2253("nonsense").is_none());
        assert!(parse_rfc2253("XX=1").is_none());
    }
}
