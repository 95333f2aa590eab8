//! XML Signature (XMLDSig) pieces written directly in canonical form, shared by the signed
//! assertions (INSi CPS mode, DMP VIHF) and the DMP's XAdES signature document.
//!
//! Elements whose structure is fixed are written already canonical (exclusive or inclusive
//! C14N 1.0 give the same bytes when every namespace is declared where it is used and no
//! comment is written): the bytes digested are the bytes sent. This module holds the escaping
//! rules, the `SignedInfo` and `Signature` elements, and the certificate facts a signature
//! names (subject DN in RFC 2253 order for a SAML `Issuer`, issuer DN and serial for XAdES).
//! Digests and signatures themselves are computed by the callers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::ns;

/// Exclusive XML canonicalisation 1.0, without comments.
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// Inclusive XML canonicalisation 1.0, without comments.
pub const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
/// The enveloped-signature transform.
pub const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// `Reference/@Type` of a reference to a `Manifest`.
pub const MANIFEST_TYPE: &str = "http://www.w3.org/2000/09/xmldsig#Manifest";

/// A `DigestMethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestMethod {
    Sha1,
    Sha256,
}

impl DigestMethod {
    pub fn uri(self) -> &'static str {
        match self {
            Self::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
            Self::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
        }
    }
}

/// A `SignatureMethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureMethod {
    RsaSha1,
    RsaSha256,
}

impl SignatureMethod {
    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha1 => "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            Self::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        }
    }
}

/// Canonical (C14N 1.0) escaping of character data.
pub fn c14n_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// Canonical (C14N 1.0) escaping of attribute values.
pub fn c14n_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// One `Reference` of a `SignedInfo` or a `Manifest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference<'a> {
    /// `URI`, e.g. `#_id` or `urn:oid:1.2.3`.
    pub uri: &'a str,
    /// `Type`, if any (e.g. [`MANIFEST_TYPE`]).
    pub kind: Option<&'a str>,
    /// Transform algorithms, in order (none: no `Transforms` element).
    pub transforms: &'a [&'a str],
    pub digest_method: DigestMethod,
    /// `DigestValue`, base64.
    pub digest_b64: &'a str,
}

impl Reference<'_> {
    /// The `Reference` element, canonical, in the dsig default namespace (inherited).
    pub fn to_xml(&self) -> String {
        let mut x = String::with_capacity(256);
        x.push_str("<Reference");
        // C14N orders unqualified attributes by name: Type before URI.
        if let Some(kind) = self.kind {
            x.push_str(&format!(" Type=\"{}\"", c14n_attr(kind)));
        }
        x.push_str(&format!(" URI=\"{}\">", c14n_attr(self.uri)));
        if !self.transforms.is_empty() {
            x.push_str("<Transforms>");
            for t in self.transforms {
                x.push_str(&format!(
                    "<Transform Algorithm=\"{}\"></Transform>",
                    c14n_attr(t)
                ));
            }
            x.push_str("</Transforms>");
        }
        x.push_str(&format!(
            "<DigestMethod Algorithm=\"{}\"></DigestMethod><DigestValue>{}</DigestValue></Reference>",
            self.digest_method.uri(),
            c14n_text(self.digest_b64)
        ));
        x
    }
}

/// A `SignedInfo` over `references`, canonical. `apex` adds the dsig namespace declaration
/// that canonicalisation renders on `SignedInfo` when it is canonicalised alone (what is
/// signed); inside `Signature` it is inherited (what is sent).
pub fn signed_info(
    canonicalization: &str,
    method: SignatureMethod,
    references: &[Reference<'_>],
    apex: bool,
) -> String {
    let xmlns = if apex {
        format!(" xmlns=\"{}\"", ns::XMLDSIG)
    } else {
        String::new()
    };
    let mut x = format!(
        "<SignedInfo{xmlns}><CanonicalizationMethod Algorithm=\"{}\"></CanonicalizationMethod>\
         <SignatureMethod Algorithm=\"{}\"></SignatureMethod>",
        c14n_attr(canonicalization),
        method.uri()
    );
    for r in references {
        x.push_str(&r.to_xml());
    }
    x.push_str("</SignedInfo>");
    x
}

/// The `SignedInfo` of an enveloped signature of the element whose ID is `reference_id`
/// (a SAML assertion): exclusive C14N, transforms enveloped-signature then exclusive C14N.
pub fn enveloped_signed_info(
    reference_id: &str,
    digest_method: DigestMethod,
    digest_b64: &str,
    method: SignatureMethod,
    apex: bool,
) -> String {
    let uri = format!("#{reference_id}");
    signed_info(
        EXC_C14N,
        method,
        &[Reference {
            uri: &uri,
            kind: None,
            transforms: &[ENVELOPED_SIGNATURE, EXC_C14N],
            digest_method,
            digest_b64,
        }],
        apex,
    )
}

/// The `Signature` element (dsig default namespace): `signed_info` as written inside it
/// (`apex` false), the signature value, the certificate in `KeyInfo/X509Data`, then
/// `objects` (`Object` elements, canonical) if any.
pub fn signature_element(
    id: Option<&str>,
    signed_info: &str,
    signature_value: &[u8],
    certificate_der: &[u8],
    objects: &str,
) -> String {
    let id = id
        .map(|id| format!(" Id=\"{}\"", c14n_attr(id)))
        .unwrap_or_default();
    format!(
        "<Signature xmlns=\"{}\"{id}>{signed_info}<SignatureValue>{}</SignatureValue><KeyInfo>\
         <X509Data><X509Certificate>{}</X509Certificate></X509Data></KeyInfo>{objects}</Signature>",
        ns::XMLDSIG,
        B64.encode(signature_value),
        B64.encode(certificate_der)
    )
}

/// The certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the signing certificate cannot be read: {reason}")]
pub struct CertificateError {
    pub reason: String,
}

/// What a signature says of its certificate: the subject DN as RFC 2253 writes it (last RDN
/// first, `+` inside a multi-valued RDN), its CN, the issuer DN (same form) and the serial
/// number (decimal), and whether the key is RSA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSubject {
    /// Short names for the common types (`CN`, `SN`, `T`, `C`…, as the INSi capture shows
    /// them), dotted OIDs with string values for others.
    pub dn: String,
    /// RFC 2253 §2.3 strictly: only the types of its table (`CN`, `L`, `ST`, `O`, `OU`, `C`,
    /// `STREET`, `DC`, `UID`) by name, every other one (`SN`, `GN`, `T`…) as a dotted OID with
    /// a `#`-hex BER value — what Java's `X500Principal.getName(RFC2253)` writes, and what
    /// the official DMP VIHF examples carry as `Issuer`
    /// (`CN=899900038839+2.5.4.4=#14045452414c+…,OU=…,O=TEST,C=FR`).
    pub dn_strict: String,
    pub common_name: Option<String>,
    pub issuer_dn: String,
    /// Decimal, as `X509SerialNumber` writes it.
    pub serial: String,
    pub rsa: bool,
}

impl CertSubject {
    pub fn parse(der: &[u8]) -> Result<Self, CertificateError> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| CertificateError {
            reason: format!("not a valid DER certificate: {e}"),
        })?;
        let (dn, common_name) = rfc2253(cert.subject(), false);
        let (dn_strict, _) = rfc2253(cert.subject(), true);
        let (issuer_dn, _) = rfc2253(cert.issuer(), true);
        let rsa = cert.public_key().algorithm.algorithm.to_id_string() == "1.2.840.113549.1.1.1";
        Ok(Self {
            dn,
            dn_strict,
            common_name,
            issuer_dn,
            serial: cert.tbs_certificate.serial.to_str_radix(10),
            rsa,
        })
    }
}

/// A name in RFC 2253 order, and its first CN; `strict`: see [`CertSubject::dn_strict`].
fn rfc2253(name: &x509_parser::x509::X509Name<'_>, strict: bool) -> (String, Option<String>) {
    let mut rdns = Vec::new();
    let mut common_name = None;
    for rdn in name.iter() {
        let mut parts = Vec::new();
        for atv in rdn.iter() {
            let oid = atv.attr_type().to_id_string();
            let value = atv
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|_| String::from_utf8_lossy(atv.as_slice()).into_owned());
            if oid == "2.5.4.3" && common_name.is_none() {
                common_name = Some(value.clone());
            }
            let part = match strict_attribute_name(&oid) {
                Some(name) if strict => format!("{name}={}", escape_dn_value(&value)),
                None if strict => format!("{oid}=#{}", ber_hex(atv.attr_value())),
                _ => format!("{}={}", attribute_name(&oid), escape_dn_value(&value)),
            };
            parts.push(part);
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    (rdns.join(","), common_name)
}

/// The names of RFC 2253's table (§2.3).
fn strict_attribute_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// The BER encoding of an attribute value (tag, length, content), lowercase hex.
fn ber_hex(value: &x509_parser::asn1_rs::Any<'_>) -> String {
    let h = &value.header;
    let mut ber = Vec::with_capacity(value.data.len() + 6);
    let first = ((h.class() as u8) << 6) | if h.is_constructed() { 0x20 } else { 0 };
    let tag = h.tag().0;
    if tag < 31 {
        ber.push(first | tag as u8);
    } else {
        ber.push(first | 0x1f);
        let mut groups = Vec::new();
        let mut t = tag;
        loop {
            groups.push((t & 0x7f) as u8);
            t >>= 7;
            if t == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().enumerate().rev() {
            ber.push(if i == 0 { *g } else { g | 0x80 });
        }
    }
    let len = value.data.len();
    if len < 0x80 {
        ber.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        ber.push(0x80 | (bytes.len() - skip) as u8);
        ber.extend_from_slice(&bytes[skip..]);
    }
    ber.extend_from_slice(value.data);
    ber.iter().map(|b| format!("{b:02x}")).collect()
}

/// Short names (`CN`, `SN`, `T`, `C`…); others as dotted OIDs.
fn attribute_name(oid: &str) -> String {
    match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "T",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        other => return other.to_owned(),
    }
    .to_owned()
}

/// RFC 2253 §2.4 escaping.
fn escape_dn_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == ' ' || c == '#'))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_c14n() {
        assert_eq!(c14n_text("a&b<c>d\r\"'\t"), "a&amp;b&lt;c&gt;d&#xD;\"'\t");
        assert_eq!(
            c14n_attr("a&b<c>d\r\"'\t\n"),
            "a&amp;b&lt;c>d&#xD;&quot;'&#x9;&#xA;"
        );
    }

    #[test]
    fn references_order_type_before_uri_and_skip_empty_transforms() {
        let r = Reference {
            uri: "#m",
            kind: Some(MANIFEST_TYPE),
            transforms: &[],
            digest_method: DigestMethod::Sha256,
            digest_b64: "AA==",
        };
        assert_eq!(
            r.to_xml(),
            "<Reference Type=\"http://www.w3.org/2000/09/xmldsig#Manifest\" URI=\"#m\">\
             <DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"></DigestMethod>\
             <DigestValue>AA==</DigestValue></Reference>"
        );
    }

    #[test]
    fn apex_signed_info_declares_the_dsig_namespace() {
        let apex = enveloped_signed_info(
            "_a",
            DigestMethod::Sha256,
            "x",
            SignatureMethod::RsaSha256,
            true,
        );
        let inner = enveloped_signed_info(
            "_a",
            DigestMethod::Sha256,
            "x",
            SignatureMethod::RsaSha256,
            false,
        );
        assert!(apex.starts_with("<SignedInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\">"));
        assert_eq!(
            apex.replace(" xmlns=\"http://www.w3.org/2000/09/xmldsig#\"", ""),
            inner
        );
        assert!(inner.contains("<Reference URI=\"#_a\"><Transforms><Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"></Transform>"));
    }

    #[test]
    fn dn_values_are_escaped() {
        assert_eq!(escape_dn_value("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_dn_value(" #x "), "\\ #x\\ ");
        assert_eq!(escape_dn_value("#x"), "\\#x");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(CertSubject::parse(b"not DER").is_err());
    }
}
