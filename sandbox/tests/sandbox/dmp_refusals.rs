//! What the DMP simulator refuses, each case on its own: certificates, VIHF, patients,
//! deposits, rights.

use crate::dmp_helpers::*;

fn assert_fault(status: u16, body: &str, subcode: &str) {
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("<soap:Value>soap:Sender</soap:Value>"),
        "{body}"
    );
    assert!(
        body.contains(&format!("<soap:Value>soap:{subcode}</soap:Value>")),
        "{subcode} expected: {body}"
    );
    assert!(
        body.contains("http://www.w3.org/2005/08/addressing/soap/fault"),
        "{body}"
    );
}

fn assert_registry_error(body: &str, code: &str) {
    assert!(
        body.contains("status=\"urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure\""),
        "{body}"
    );
    assert!(
        body.contains(&format!("errorCode=\"{code}\"")),
        "{code} expected: {body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn certificates_and_vihf_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let dmp = start_dmp(dir.path()).await;
    let url = dmp.url();
    let td02 = example("TD0.2_Test-dexistence_requete.xml");

    // An authentication certificate signing the VIHF: the DMP's own words.
    for who in [Who::OrganisationAuthSigns, Who::CardAuthSigns] {
        let (status, body) = call(&url, "patients", &td02, who).await;
        assert_fault(status, &body, "DMPInvalidCertificate");
        assert!(
            body.contains(
                "Le certificat ayant signé le VIHF est invalide : Not a valid signature certificate"
            ),
            "{body}"
        );
    }
    // DIRECTE mode over an organisation TLS session.
    let signed = sign(&td02, Who::Card, true);
    let (status, body) = post(
        &url,
        "patients",
        SOAP12,
        signed.as_bytes(),
        Who::Organisation,
    )
    .await;
    assert_fault(status, &body, "DMPInvalidCertificate");
    // INDIRECTE mode over a card TLS session.
    let signed = sign(&td02, Who::Organisation, true);
    let (status, body) = post(&url, "patients", SOAP12, signed.as_bytes(), Who::Card).await;
    assert_fault(status, &body, "DMPInvalidCertificate");

    // No VIHF.
    let a = td02.find("<saml2:Assertion").unwrap();
    let b = td02.find("</saml2:Assertion>").unwrap() + "</saml2:Assertion>".len();
    let bare = format!("{}{}", &td02[..a], &td02[b..]);
    let (status, body) = post(&url, "patients", SOAP12, bare.as_bytes(), Who::Card).await;
    assert_fault(status, &body, "DMPVIHFAbsent");
    assert!(
        body.contains("urn:uuid:f2c3f93b-06e2-4333-b80d-4d0505c332aa"),
        "RelatesTo: {body}"
    );

    // A VIHF changed after its signature.
    let tampered = sign(&td02, Who::Card, true).replace(
        ">LPS GIE-SV</saml2:AttributeValue>",
        ">LPS GIE-SX</saml2:AttributeValue>",
    );
    let (status, body) = post(&url, "patients", SOAP12, tampered.as_bytes(), Who::Card).await;
    assert_fault(status, &body, "DMPInvalidSignature");

    // The unsigned official VIHF.
    let (status, body) = post(&url, "patients", SOAP12, td02.as_bytes(), Who::Card).await;
    assert_fault(status, &body, "DMPInvalidSignature");

    // A doctor without specialty.
    let no_specialty = td02.replace(
        "<saml2:AttributeValue><Role xmlns=\"urn:hl7-org:v3\" code=\"SM26\" codeSystem=\"1.2.250.1.71.4.2.5\" displayName=\"Qualifié en Médecine Générale (SM)\" xsi:type=\"CE\"/></saml2:AttributeValue>",
        "",
    );
    assert_ne!(no_specialty, td02);
    let (status, body) = call(&url, "patients", &no_specialty, Who::Card).await;
    assert_fault(status, &body, "DMPInvalidVIHF");
    assert!(body.contains("Aucune spécialité dans le vihf"), "{body}");

    // An unknown PurposeOfUse, a missing LPS attribute.
    let bad_purpose = td02.replace("code=\"normal\"", "code=\"urgence\"");
    let (status, body) = call(&url, "patients", &bad_purpose, Who::Card).await;
    assert_fault(status, &body, "DMPInvalidVIHF");
    let no_lps = td02.replace("Name=\"LPS_ID_HOMOLOGATION_DMP\"", "Name=\"LPS_AUTRE\"");
    let (status, body) = call(&url, "patients", &no_lps, Who::Card).await;
    assert_fault(status, &body, "DMPInvalidVIHF");
    assert!(body.contains("LPS_ID_HOMOLOGATION_DMP"), "{body}");

    // An old VIHF (IssueInstant an hour ago).
    let old = sign_at(
        &td02,
        Who::Card,
        time::OffsetDateTime::now_utc() - time::Duration::hours(1),
    );
    let (status, body) = post(&url, "patients", SOAP12, old.as_bytes(), Who::Card).await;
    assert_fault(status, &body, "DMPVIHFExpired");
    dmp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn soap_version_action_and_media_type() {
    let dir = tempfile::tempdir().unwrap();
    let dmp = start_dmp(dir.path()).await;
    let url = dmp.url();
    let td02 = example("TD0.2_Test-dexistence_requete.xml");

    // SOAP 1.1 envelope as text/xml: VersionMismatch (SOAP 1.1 fault).
    let soap11 = td02.replace(
        "http://www.w3.org/2003/05/soap-envelope",
        "http://schemas.xmlsoap.org/soap/envelope/",
    );
    let (status, body) = post(
        &url,
        "patients",
        "text/xml; charset=utf-8",
        soap11.as_bytes(),
        Who::Card,
    )
    .await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("VersionMismatch"), "{body}");
    assert!(body.contains("Upgrade"), "{body}");

    // An action the service does not serve.
    let (status, body) = call(&url, "registry", &td02, Who::Card).await;
    assert_fault(status, &body, "ActionNotSupported");

    // A header block the service does not understand.
    let unknown = td02.replace(
        "<soap:Header>",
        "<soap:Header><x:Trace xmlns:x=\"urn:example:trace\" soap:mustUnderstand=\"true\">1</x:Trace>",
    );
    let (status, body) = call(&url, "patients", &unknown, Who::Card).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("<soap:Value>soap:MustUnderstand</soap:Value>"),
        "{body}"
    );

    // Another media type.
    let (status, _) = post(&url, "patients", "application/json", b"{}", Who::Card).await;
    assert_eq!(status, 415);
    dmp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn patients_without_dmp_closed_or_not_authorised() {
    let dir = tempfile::tempdir().unwrap();
    let dmp = start_dmp(dir.path()).await;
    let url = dmp.url();
    let td21 = example("TD2.1_Alimentation_requete.xml");

    // Deposit for a patient without DMP ("non créé").
    let (status, body) = call(
        &url,
        "repository",
        &td21.replace(EXAMPLE_INS, "153078987658513"),
        Who::Card,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_registry_error(&body, "XDSUnknownPatientId");

    // Closed DMP: deposit refused, TD0.2 says terminated.
    let closed = "270108604926542";
    let (status, body) = call(
        &url,
        "repository",
        &td21.replace(EXAMPLE_INS, closed),
        Who::Card,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_registry_error(&body, "DMPClosed");
    let (status, body) = call(
        &url,
        "patients",
        &example("TD0.2_Test-dexistence_requete.xml").replace(EXAMPLE_INS, closed),
        Who::Card,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<statusCode code=\"terminated\"/>"), "{body}");

    // Not authorised on the tutorial's patient: no search; after TD0.3 AJOUT, allowed.
    let tutorial = "248039263001064";
    let td31 = example("TD3.1_Recherche-de-document_requete.xml").replace(EXAMPLE_INS, tutorial);
    let (status, body) = call(&url, "registry", &td31, Who::Card).await;
    assert_fault(status, &body, "DMPAccessDeniedByRightsService");
    let td02 = example("TD0.2_Test-dexistence_requete.xml").replace(EXAMPLE_INS, tutorial);
    let (_, body) = call(&url, "patients", &td02, Who::Card).await;
    assert!(body.contains("<queryResponseCode code=\"OK\"/>"), "{body}");
    assert!(!body.contains("AUTORISATION"), "{body}");
    let td03 =
        example("TD0.3_Mise-a-jour-de-lautorisation_requete.xml").replace(EXAMPLE_INS, tutorial);
    let (status, body) = call(&url, "habilitations", &td03, Who::Card).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        text_of(&body, "context"),
        Some("Autorisation ajoutée"),
        "{body}"
    );
    let (status, body) = call(&url, "registry", &td31, Who::Card).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("totalResultCount=\"0\""), "{body}");
    let (_, body) = call(&url, "patients", &td02, Who::Card).await;
    assert!(body.contains("code=\"VALIDE\""), "{body}");
    // Removed again.
    let (_, body) = call(
        &url,
        "habilitations",
        &td03.replace(">AJOUT<", ">SUPPRESSION<"),
        Who::Card,
    )
    .await;
    assert_eq!(
        text_of(&body, "context"),
        Some("Autorisation supprimée"),
        "{body}"
    );

    // A patient who refused this professional: INTERDIT, and no AJOUT.
    let refuses = "265025544371476";
    let (_, body) = call(
        &url,
        "patients",
        &example("TD0.2_Test-dexistence_requete.xml").replace(EXAMPLE_INS, refuses),
        Who::Card,
    )
    .await;
    assert!(body.contains("code=\"INTERDIT\""), "{body}");
    let (status, body) = call(
        &url,
        "habilitations",
        &example("TD0.3_Mise-a-jour-de-lautorisation_requete.xml").replace(EXAMPLE_INS, refuses),
        Who::Card,
    )
    .await;
    assert_fault(status, &body, "DMPAccessDeniedByRightsService");

    // Bris de glace: allowed without authorisation, refused when the patient opposed it.
    let bdg = td31.replace("code=\"normal\"", "code=\"bris_de_glace\"");
    let (status, body) = call(&url, "registry", &bdg, Who::Card).await;
    assert_eq!(status, 200, "{body}");
    let opposed = bdg.replace(tutorial, "116083022011613");
    let (status, body) = call(&url, "registry", &opposed, Who::Card).await;
    assert_fault(status, &body, "DMPAccessDeniedByRightsService");
    let c15 = td31
        .replace("code=\"normal\"", "code=\"centre_15\"")
        .replace(tutorial, "199033022011538");
    let (status, body) = call(&url, "registry", &c15, Who::Card).await;
    assert_fault(status, &body, "DMPAccessDeniedByRightsService");
    dmp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deposit_metadata_and_content_errors() {
    let dir = tempfile::tempdir().unwrap();
    let dmp = start_dmp(dir.path()).await;
    let url = dmp.url();
    let td21 = example("TD2.1_Alimentation_requete.xml");

    // The document entry's patientId is another patient's.
    let doc_pid = "registryObject=\"DocumentME2\" value=\"207058575627097^^^";
    let mismatch = td21.replace(
        doc_pid,
        "registryObject=\"DocumentME2\" value=\"248039263001064^^^",
    );
    assert_ne!(mismatch, td21);
    let (_, body) = call(&url, "repository", &mismatch, Who::Card).await;
    assert_registry_error(&body, "XDSPatientIdDoesNotMatch");

    // No classCode on the document.
    let no_class = td21.replace(
        "classificationScheme=\"urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a\" classifiedObject=\"DocumentME2\"",
        "classificationScheme=\"urn:uuid:00000000-0000-0000-0000-000000000000\" classifiedObject=\"DocumentME2\"",
    );
    assert_ne!(no_class, td21);
    let (_, body) = call(&url, "repository", &no_class, Who::Card).await;
    assert_registry_error(&body, "XDSRegistryMetadataError");
    assert!(
        body.contains("classCode absent (DocumentEntry DocumentME2)"),
        "{body}"
    );

    // A wrong hash.
    let bad_hash = td21.replace(
        "<ExtrinsicObject id=\"DocumentME2\" mimeType=\"text/xml\" objectType=\"urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1\">",
        "<ExtrinsicObject id=\"DocumentME2\" mimeType=\"text/xml\" objectType=\"urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1\"><Slot name=\"hash\"><ValueList><Value>0000000000000000000000000000000000000000</Value></ValueList></Slot>",
    );
    assert_ne!(bad_hash, td21);
    let (_, body) = call(&url, "repository", &bad_hash, Who::Card).await;
    assert_registry_error(&body, "XDSRepositoryMetadataError");

    // The document's part missing.
    let part = td21.find("------=_Part_9_20030738.1554380517598\nContent-Type: text/xml; charset=Cp1252; name=WS_DMP_TD2.1-DocumentME2.xml").unwrap();
    let next = part + 10 + td21[part + 10..].find("------=_Part_9").unwrap();
    let missing = format!("{}{}", &td21[..part], &td21[next..]);
    let (_, body) = call(&url, "repository", &missing, Who::Card).await;
    assert_registry_error(&body, "XDSMissingDocument");

    // Nothing was stored by the failures: the real deposit succeeds.
    let (_, body) = call(&url, "repository", &td21, Who::Card).await;
    assert!(body.contains("ResponseStatusType:Success"), "{body}");
    assert!(!body.contains("RegistryError"), "{body}");

    // The same uniqueId with another content.
    let other = td21.replace("Exemple de Document CDA R2 non Structure", "Autre document");
    let (_, body) = call(&url, "repository", &other, Who::Card).await;
    assert_registry_error(&body, "XDSDuplicateUniqueIdInRegistry");
    dmp.shutdown().await;
}
