//! Visibility and updates: masking to professionals, invisibility to the patient only
//! lifted, replacement (RPLC), inline base64 documents, the sandbox-only view, fault
//! injection.

use passerelle_sandbox::dmp::view::{self, View, ViewClientTls};
use passerelle_sandbox::dmp::{DmpSandbox, DmpSandboxConfig, FaultInjection};

use crate::dmp_helpers::*;
use crate::helpers::pki;

const DOC_UNIQUE: &str = "1.2.250.1.999.1.1.7898.3.1622814651504";
const CONF: &str = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f";

/// The official TD2.1 with other uniqueIds (`suffix`) and extra confidentiality codes on
/// the document.
fn deposit(suffix: &str, codes: &[&str]) -> String {
    let mut m =
        example("TD2.1_Alimentation_requete.xml").replace(".1622814651504", &format!(".{suffix}"));
    let extra: String = codes
        .iter()
        .map(|c| format!("<Classification classificationScheme=\"{CONF}\" classifiedObject=\"DocumentME2\" id=\"cla-{c}\" nodeRepresentation=\"{c}\"><Slot name=\"codingScheme\"><ValueList><Value>1.2.250.1.213.1.1.4.13</Value></ValueList></Slot></Classification>"))
        .collect();
    let at = m
        .find("<Classification classificationScheme=\"urn:uuid:a09d5840")
        .unwrap();
    m.insert_str(at, &extra);
    m
}

/// The entry (id, lid) of a uniqueId in a LeafClass answer.
fn entry_of(body: &str, unique_id: &str) -> Option<(String, String)> {
    let at = body.find(&format!("value=\"{unique_id}\""))?;
    let eo = body[..at].rfind("<rim:ExtrinsicObject ")?;
    let attr = |name: &str| {
        let key = format!("{name}=\"");
        let a = eo + body[eo..].find(&key)? + key.len();
        Some(body[a..a + body[a..].find('"')?].to_owned())
    };
    Some((attr("id")?, attr("lid")?))
}

/// An ITI-57 metadata update of `lid` (version `previous`) with these confidentiality
/// codes, in the shape of the KIT's masking template, inside the official TD3.3d
/// envelope.
fn update(lid: &str, previous: u32, codes: &[&str]) -> String {
    let m = example("TD3.3d_Archiver-un-document_requete.xml");
    let a = m.find("<Association ").unwrap();
    let b = m.find("</Association>").unwrap() + "</Association>".len();
    let classes: String = codes
        .iter()
        .map(|c| {
            let scheme = if *c == "N" { "2.16.840.1.113883.5.25" } else { "1.2.250.1.213.1.1.4.13" };
            format!("<Classification classificationScheme=\"{CONF}\" classifiedObject=\"{lid}\" id=\"c-{c}\" nodeRepresentation=\"{c}\"><Slot name=\"codingScheme\"><ValueList><Value>{scheme}</Value></ValueList></Slot></Classification>")
        })
        .collect();
    let new = format!(
        "<Association associationType=\"urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember\" id=\"as1\" sourceObject=\"SubmissionSet01\" targetObject=\"Document01\"><Slot name=\"SubmissionSetStatus\"><ValueList><Value>Original</Value></ValueList></Slot><Slot name=\"PreviousVersion\"><ValueList><Value>{previous}</Value></ValueList></Slot></Association><ExtrinsicObject id=\"Document01\" lid=\"{lid}\" status=\"urn:oasis:names:tc:ebxml-regrep:StatusType:Approved\" isOpaque=\"false\" mimeType=\"text/xml\" objectType=\"urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1\">{classes}</ExtrinsicObject>"
    );
    format!("{}{}{}", &m[..a], new, &m[b..])
}

async fn view(url: &str, ins: &str, audience: &str) -> View {
    let pki = pki();
    let base = url
        .trim_end_matches("/si-dmp-server/v2/services")
        .to_owned();
    let target = format!(
        "{base}{}",
        passerelle_sandbox::dmp::view::path(ins, audience)
    );
    let args = vec![
        "--silent".to_owned(),
        "--cacert".into(),
        pki.ca_cert.display().to_string(),
        "--cert".into(),
        pki.org_cert.display().to_string(),
        "--key".into(),
        pki.org_key.display().to_string(),
        target,
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread")]
async fn masking_invisibility_and_the_view() {
    let dir = tempfile::tempdir().unwrap();
    let dmp = start_dmp(dir.path()).await;
    let url = dmp.url();
    let td31 = example("TD3.1_Recherche-de-document_requete.xml");

    // A document invisible to the patient.
    let (_, body) = call(
        &url,
        "repository",
        &deposit("1001", &["INVISIBLE_PATIENT"]),
        Who::Card,
    )
    .await;
    assert!(body.contains("ResponseStatusType:Success"), "{body}");
    let unique = "1.2.250.1.999.1.1.7898.3.1001";
    let v = view(&url, EXAMPLE_INS, "patient").await;
    assert!(v.documents.is_empty(), "{v:?}");
    let v = view(&url, EXAMPLE_INS, "professionals").await;
    assert_eq!(v.documents.len(), 1, "{v:?}");
    let d = &v.documents[0];
    assert_eq!(d.unique_id, unique);
    assert_eq!(d.type_code, "27899-4");
    assert_eq!(d.status, "approved");
    assert!(
        d.visibility.professionals && !d.visibility.patient && !d.visibility.legal_representatives
    );
    assert_eq!(d.confidentiality, vec!["N", "INVISIBLE_PATIENT"]);

    // Mask it to professionals while it is invisible to the patient: refused.
    let (_, body) = call(&url, "registry", &td31, Who::Card).await;
    let (id, lid) = entry_of(&body, unique).unwrap();
    assert_eq!(id, lid);
    let (_, body) = call(
        &url,
        "registry",
        &update(&lid, 1, &["N", "MASQUE_PS", "INVISIBLE_PATIENT"]),
        Who::Card,
    )
    .await;
    assert!(body.contains("XDSMetadataUpdateError"), "{body}");

    // Reveal it to the patient: a new version, same lid.
    let (_, body) = call(&url, "registry", &update(&lid, 1, &["N"]), Who::Card).await;
    assert!(body.contains("ResponseStatusType:Success"), "{body}");
    let (_, body) = call(&url, "registry", &td31, Who::Card).await;
    let (id2, lid2) = entry_of(&body, unique).unwrap();
    assert_eq!(lid2, lid);
    assert_ne!(id2, id);
    assert!(
        body.contains("<rim:VersionInfo versionName=\"2\"/>"),
        "{body}"
    );
    assert_eq!(view(&url, EXAMPLE_INS, "patient").await.documents.len(), 1);

    // Invisible again: never.
    let (_, body) = call(
        &url,
        "registry",
        &update(&lid, 2, &["N", "INVISIBLE_PATIENT"]),
        Who::Card,
    )
    .await;
    assert!(body.contains("XDSMetadataUpdateError"), "{body}");
    // A stale version.
    let (_, body) = call(
        &url,
        "registry",
        &update(&lid, 1, &["N", "MASQUE_PS"]),
        Who::Card,
    )
    .await;
    assert!(body.contains("XDSMetadataVersionError"), "{body}");

    // Masked to professionals: its author still finds it, another professional (bris de
    // glace, no authorisation needed) does not.
    let (_, body) = call(
        &url,
        "registry",
        &update(&lid, 2, &["N", "MASQUE_PS"]),
        Who::Card,
    )
    .await;
    assert!(body.contains("ResponseStatusType:Success"), "{body}");
    let (_, body) = call(&url, "registry", &td31, Who::Card).await;
    assert!(entry_of(&body, unique).is_some(), "{body}");
    let other = td31
        .replace(
            "<saml2:NameID>899900063480</saml2:NameID>",
            "<saml2:NameID>899900077777</saml2:NameID>",
        )
        .replace("code=\"normal\"", "code=\"bris_de_glace\"");
    let (status, body) = call(&url, "registry", &other, Who::Card).await;
    assert_eq!(status, 200, "{body}");
    assert!(entry_of(&body, unique).is_none(), "{body}");
    let v = view(&url, EXAMPLE_INS, "professionals").await;
    assert!(v.documents.is_empty(), "{v:?}");

    // A patient who allowed reading masked documents in an emergency.
    let allows = "211066322074514";
    let masked = deposit("3003", &["MASQUE_PS"]).replace(EXAMPLE_INS, allows);
    let (_, body) = call(&url, "repository", &masked, Who::Card).await;
    assert!(body.contains("ResponseStatusType:Success"), "{body}");
    let (status, body) = call(
        &url,
        "registry",
        &other.replace(EXAMPLE_INS, allows),
        Who::Card,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        entry_of(&body, "1.2.250.1.999.1.1.7898.3.3003").is_some(),
        "{body}"
    );

    let v = view(&url, EXAMPLE_INS, "patient").await;
    assert!(!v.documents[0].visibility.professionals, "{v:?}");

    // The library client reads the same.
    let tls = ViewClientTls::organisation(pki());
    let fetched = view::fetch(&url, &tls, EXAMPLE_INS, "patient")
        .await
        .unwrap();
    assert_eq!(fetched, v);
    let base = url.trim_end_matches("/si-dmp-server/v2/services");
    let fetched = view::fetch(base, &tls, EXAMPLE_INS, "professionals")
        .await
        .unwrap();
    assert!(fetched.documents.is_empty());
    assert!(matches!(
        view::fetch(base, &tls, EXAMPLE_INS, "everyone").await,
        Err(view::ViewError::Audience(_))
    ));
    dmp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replacement_inline_base64_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let dmp = start_dmp(dir.path()).await;
    let url = dmp.url();
    let td31 = example("TD3.1_Recherche-de-document_requete.xml");
    let (_, body) = call(
        &url,
        "repository",
        &example("TD2.1_Alimentation_requete.xml"),
        Who::Card,
    )
    .await;
    assert!(body.contains("ResponseStatusType:Success"), "{body}");
    let (_, body) = call(&url, "registry", &td31, Who::Card).await;
    let (old_id, _) = entry_of(&body, DOC_UNIQUE).unwrap();

    // A replacement, in a plain SOAP 1.2 body with the documents inline in base64.
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let m = deposit("2002", &[]);
    let env_start = m.find("<soap:Envelope").unwrap();
    let env_end = m.find("</soap:Envelope>").unwrap() + "</soap:Envelope>".len();
    let mut env = m[env_start..env_end].replace(
        "http://schemas.xmlsoap.org/soap/envelope/",
        "http://www.w3.org/2003/05/soap-envelope",
    );
    for (cid, text) in [
        (
            "WS_DMP_TD2.1-DocumentME2.xml",
            "<ClinicalDocument>v2</ClinicalDocument>",
        ),
        ("WS_DMP_TD2.1-SignatureXades.xml", "<Signature/>"),
    ] {
        env = env.replace(
            &format!("<xop:Include xmlns:xop=\"http://www.w3.org/2004/08/xop/include\" href=\"cid:{cid}\"/>"),
            &b64(text),
        );
    }
    env = env.replace(
        "</RegistryObjectList>",
        &format!("<Association associationType=\"urn:ihe:iti:2007:AssociationType:RPLC\" id=\"rplc\" sourceObject=\"DocumentME2\" targetObject=\"{old_id}\"/></RegistryObjectList>"),
    );
    let signed = sign(&env, Who::Card, true);
    let (status, body) = post(&url, "repository", SOAP12, signed.as_bytes(), Who::Card).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ResponseStatusType:Success"), "{body}");

    // Approved: the new one only; Deprecated: the old one.
    let (_, body) = call(&url, "registry", &td31, Who::Card).await;
    assert!(entry_of(&body, DOC_UNIQUE).is_none(), "{body}");
    assert!(
        entry_of(&body, "1.2.250.1.999.1.1.7898.3.2002").is_some(),
        "{body}"
    );
    let deprecated = td31.replace("StatusType:Approved", "StatusType:Deprecated");
    let (_, body) = call(&url, "registry", &deprecated, Who::Card).await;
    assert!(entry_of(&body, DOC_UNIQUE).is_some(), "{body}");

    // Another professional (bris de glace) may not archive it; its author may.
    let (_, body) = call(&url, "registry", &td31, Who::Card).await;
    let (new_id, _) = entry_of(&body, "1.2.250.1.999.1.1.7898.3.2002").unwrap();
    let archive = crate::dmp_examples::set_target(
        &example("TD3.3d_Archiver-un-document_requete.xml"),
        &new_id,
    );
    let stranger = archive
        .replace(
            "<saml2:NameID>899900063480</saml2:NameID>",
            "<saml2:NameID>899900077777</saml2:NameID>",
        )
        .replace("code=\"normal\"", "code=\"bris_de_glace\"");
    let (status, body) = call(&url, "registry", &stranger, Who::Card).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("DMPAccessDeniedByRightsService"), "{body}");
    // A wrong OriginalStatus.
    let wrong = archive.replace(
        "<Value>urn:oasis:names:tc:ebxml-regrep:StatusType:Approved</Value>",
        "<Value>urn:asip:ci-sis:2010:StatusType:Archived</Value>",
    );
    let (_, body) = call(&url, "registry", &wrong, Who::Card).await;
    assert!(body.contains("XDSMetadataUpdateError"), "{body}");

    // Retrieved: the inline content.
    let td32 = example("TD3.2_Consultation-dun-document_requete.xml").replace(
        "1.2.250.1.999.1.1.7898.1.995657292",
        "1.2.250.1.999.1.1.7898.3.2002",
    );
    let (_, body) = call(&url, "repository", &td32, Who::Card).await;
    assert!(
        body.contains("<ClinicalDocument>v2</ClinicalDocument>"),
        "{body}"
    );

    // Filters: typeCode, creation time.
    let with = |slot: &str, value: &str| {
        td31.replace(
            "</AdhocQuery>",
            &format!("<Slot name=\"{slot}\"><ValueList><Value>{value}</Value></ValueList></Slot></AdhocQuery>"),
        )
    };
    let (_, body) = call(
        &url,
        "registry",
        &with(
            "$XDSDocumentEntryTypeCode",
            "('27899-4^^2.16.840.1.113883.6.1')",
        ),
        Who::Card,
    )
    .await;
    assert!(body.contains("totalResultCount=\"1\""), "{body}");
    let (_, body) = call(
        &url,
        "registry",
        &with(
            "$XDSDocumentEntryTypeCode",
            "('11488-4^^2.16.840.1.113883.6.1')",
        ),
        Who::Card,
    )
    .await;
    assert!(body.contains("totalResultCount=\"0\""), "{body}");
    let (_, body) = call(
        &url,
        "registry",
        &with("$XDSDocumentEntryCreationTimeFrom", "20200101"),
        Who::Card,
    )
    .await;
    assert!(
        body.contains("totalResultCount=\"2\""),
        "only the two signatures (2021): {body}"
    );
    let (_, body) = call(
        &url,
        "registry",
        &with("$XDSDocumentEntryCreationTimeTo", "20200101"),
        Who::Card,
    )
    .await;
    assert!(
        body.contains("totalResultCount=\"1\""),
        "only the document (2010): {body}"
    );

    // GetDocuments by uniqueId, ObjectRef.
    let get = td31
        .replace(
            "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d",
            "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4",
        )
        .replace("returnType=\"LeafClass\"", "returnType=\"ObjectRef\"")
        .replace("$XDSDocumentEntryStatus", "$XDSDocumentEntryUniqueId")
        .replace(
            "('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')",
            "('1.2.250.1.999.1.1.7898.3.2002')",
        );
    let (_, body) = call(&url, "registry", &get, Who::Card).await;
    assert!(body.contains("totalResultCount=\"1\""), "{body}");
    assert!(body.contains("<rim:ObjectRef id=\"urn:uuid:"), "{body}");
    dmp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_faults() {
    let dir = tempfile::tempdir().unwrap();
    let dmp = DmpSandbox::start(
        DmpSandboxConfig {
            data_dir: dir.path().to_path_buf(),
            fault_injection: Some("unavailable@2".parse::<FaultInjection>().unwrap()),
            latency: std::time::Duration::from_millis(50),
            ..DmpSandboxConfig::default()
        },
        pki(),
    )
    .await
    .unwrap();
    let url = dmp.url();
    let td02 = example("TD0.2_Test-dexistence_requete.xml");
    let started = std::time::Instant::now();
    let (status, _) = call(&url, "patients", &td02, Who::Card).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(50));
    let (status, body) = call(&url, "patients", &td02, Who::Card).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("soap:Receiver"), "{body}");
    assert!(body.contains("desir_1020"), "{body}");
    dmp.shutdown().await;
}
