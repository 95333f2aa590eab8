//! Verification of an enveloped XML signature (XMLDSig) over an element of the parsed
//! tree: exclusive C14N, one `Reference` to `#<ID>` with the enveloped-signature transform
//! (then optionally exclusive C14N), RSA PKCS#1 v1.5 with SHA-1 or SHA-256, the signer's
//! certificate in `KeyInfo/X509Data/X509Certificate`. An `InclusiveNamespaces PrefixList`
//! on the exclusive C14N (as OpenSAML-based signers write) is honoured.
//!
//! The check is the sandbox's own (its tree, its canonicalisation, ring for RSA): it shares
//! nothing with Passerelle's signing code.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::c14n;
use super::xml::Element;

pub(crate) const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const ALG_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ALG_RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ALG_ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const ALG_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
const ALG_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// Why a signature is refused (French text, for the fault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DsigError(pub String);

fn err(msg: impl Into<String>) -> DsigError {
    DsigError(msg.into())
}

/// What a verified signature tells.
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    /// DER of the certificate that signed.
    pub cert_der: Vec<u8>,
    /// `rsa-sha1` or `rsa-sha256`.
    pub algorithm: &'static str,
}

/// The certificate in the `KeyInfo/X509Data` of the enveloped signature of `signed`,
/// read before anything is verified (a service may refuse the certificate first).
pub(crate) fn signer_certificate(signed: &Element) -> Result<Vec<u8>, DsigError> {
    signed
        .children_named(NS_DSIG, "Signature")
        .next()
        .ok_or_else(|| err("signature (ds:Signature) absente"))?
        .child(NS_DSIG, "KeyInfo")
        .and_then(|k| k.child(NS_DSIG, "X509Data"))
        .and_then(|d| d.child(NS_DSIG, "X509Certificate"))
        .and_then(|c| base64(&c.text))
        .ok_or_else(|| err("KeyInfo/X509Data/X509Certificate absent ou illisible"))
}

/// Verifies the enveloped `ds:Signature` child of the last element of `path` (its
/// ancestors before it), which must carry the `ID` attribute named `id_attr`. The
/// certificate is only read here; the caller decides whether to trust it.
pub(crate) fn verify_enveloped(path: &[&Element], id_attr: &str) -> Result<Verified, DsigError> {
    let (signed, ancestors) = path
        .split_last()
        .ok_or_else(|| err("élément signé absent"))?;
    let signed: &Element = signed;
    let id = signed
        .attr(id_attr)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| err(format!("l'élément signé n'a pas d'attribut {id_attr}")))?;
    let mut signatures = signed.children_named(NS_DSIG, "Signature");
    let signature = match (signatures.next(), signatures.next()) {
        (Some(s), None) => s,
        (None, _) => return Err(err("signature (ds:Signature) absente")),
        _ => return Err(err("plusieurs signatures ds:Signature")),
    };
    let signed_info = only_child(signature, "SignedInfo")?;
    let algorithm = |e: &Element, local: &str| -> Result<String, DsigError> {
        Ok(only_child(e, local)?
            .attr("Algorithm")
            .unwrap_or_default()
            .to_owned())
    };
    let c14n_method = only_child(signed_info, "CanonicalizationMethod")?;
    if c14n_method.attr("Algorithm") != Some(ALG_EXC_C14N) {
        return Err(err("CanonicalizationMethod doit être la C14N exclusive"));
    }
    let si_prefixes = inclusive_prefixes(c14n_method)?;
    let (verify_alg, name): (&'static ring::signature::RsaParameters, &'static str) =
        match algorithm(signed_info, "SignatureMethod")?.as_str() {
            ALG_RSA_SHA1 => (
                &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                "rsa-sha1",
            ),
            ALG_RSA_SHA256 => (&ring::signature::RSA_PKCS1_2048_8192_SHA256, "rsa-sha256"),
            _ => return Err(err("SignatureMethod doit être rsa-sha1 ou rsa-sha256")),
        };
    let reference = only_child(signed_info, "Reference")?;
    if reference.attr("URI") != Some(&format!("#{id}")) {
        return Err(err("la Reference doit désigner l'élément signé (#ID)"));
    }
    let mut transforms: Vec<&str> = Vec::new();
    let mut ref_prefixes = Vec::new();
    for t in &only_child(reference, "Transforms")?.children {
        let alg = t.attr("Algorithm").unwrap_or_default();
        if !t.is(NS_DSIG, "Transform") {
            transforms.push("");
        } else if alg == ALG_EXC_C14N {
            ref_prefixes = inclusive_prefixes(t)?;
            transforms.push(alg);
        } else if t.children.is_empty() {
            transforms.push(alg);
        } else {
            transforms.push("");
        }
    }
    if transforms != [ALG_ENVELOPED, ALG_EXC_C14N] && transforms != [ALG_ENVELOPED] {
        return Err(err(
            "les transformations doivent être enveloped-signature puis la C14N exclusive",
        ));
    }
    let digest_alg = match algorithm(reference, "DigestMethod")?.as_str() {
        ALG_SHA1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        ALG_SHA256 => &ring::digest::SHA256,
        _ => return Err(err("DigestMethod doit être sha1 ou sha256")),
    };
    let digest_value = base64(&only_child(reference, "DigestValue")?.text)
        .ok_or_else(|| err("DigestValue n'est pas du base64"))?;
    let signature_value = base64(&only_child(signature, "SignatureValue")?.text)
        .ok_or_else(|| err("SignatureValue n'est pas du base64"))?;
    let cert_der = signature
        .child(NS_DSIG, "KeyInfo")
        .and_then(|k| k.child(NS_DSIG, "X509Data"))
        .and_then(|d| d.child(NS_DSIG, "X509Certificate"))
        .and_then(|c| base64(&c.text))
        .ok_or_else(|| err("KeyInfo/X509Data/X509Certificate absent ou illisible"))?;

    let canonical = c14n::exclusive_with(signed, ancestors, Some(signature), &ref_prefixes);
    let digest = ring::digest::digest(digest_alg, canonical.as_bytes());
    if digest.as_ref() != digest_value.as_slice() {
        return Err(err(
            "l'empreinte (DigestValue) ne correspond pas à l'élément signé",
        ));
    }
    let mut si_ancestors: Vec<&Element> = ancestors.to_vec();
    si_ancestors.push(signed);
    si_ancestors.push(signature);
    let canonical_si = c14n::exclusive_with(signed_info, &si_ancestors, None, &si_prefixes);
    let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)
        .map_err(|_| err("certificat de signature illisible"))?;
    ring::signature::UnparsedPublicKey::new(
        verify_alg,
        cert.public_key().subject_public_key.data.as_ref(),
    )
    .verify(canonical_si.as_bytes(), &signature_value)
    .map_err(|_| err("la valeur de signature (SignatureValue) est invalide"))?;
    Ok(Verified {
        cert_der,
        algorithm: name,
    })
}

/// The `InclusiveNamespaces PrefixList` of an exclusive C14N method or transform (its
/// only possible child).
fn inclusive_prefixes(method: &Element) -> Result<Vec<String>, DsigError> {
    match method.children.as_slice() {
        [] => Ok(Vec::new()),
        [list] if list.is(ALG_EXC_C14N, "InclusiveNamespaces") => Ok(list
            .attr("PrefixList")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect()),
        _ => Err(err(
            "la C14N exclusive n'accepte que InclusiveNamespaces comme paramètre",
        )),
    }
}

fn only_child<'a>(parent: &'a Element, local: &'a str) -> Result<&'a Element, DsigError> {
    let mut it = parent.children_named(NS_DSIG, local);
    match (it.next(), it.next()) {
        (Some(e), None) => Ok(e),
        _ => Err(err(format!(
            "{} doit contenir exactement un élément ds:{local}",
            parent.local
        ))),
    }
}

pub(crate) fn base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    B64.decode(compact).ok()
}
