//! The official request examples (TD0.2, TD0.3, TD0.4, TD2.1, TD3.1, TD3.2, TD3.3c,
//! TD3.3d), their VIHF signed by xmlsec1, posted by curl, answered as the official
//! responses say.

use crate::dmp_helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn td02_td03_td04_examples_are_answered_as_the_official_responses() {
    let dir = tempfile::tempdir().unwrap();
    let dmp = start_dmp(dir.path()).await;
    let url = dmp.url();

    // TD0.2, RSA-SHA256 and RSA-SHA1 signatures alike.
    let message = example("TD0.2_Test-dexistence_requete.xml");
    for sha256 in [true, false] {
        let signed = sign(&message, Who::Card, sha256);
        let (status, body) = post(&url, "patients", SOAP12, signed.as_bytes(), Who::Card).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("urn:hl7-org:v3:PRPA_IN201308UV02"), "{body}");
        assert!(body.contains("<RelatesTo xmlns=\"http://www.w3.org/2005/08/addressing\">urn:uuid:f2c3f93b-06e2-4333-b80d-4d0505c332aa</RelatesTo>"), "{body}");
        assert!(body.contains("code=\"VALIDE\""), "{body}");
        assert!(body.contains("code=\"STATUT_MT\""), "{body}");
        assert!(
            body.contains("<value value=\"true\" xsi:type=\"BL\"/>"),
            "{body}"
        );
        assert!(body.contains("<acknowledgement typeCode=\"AA\">"), "{body}");
        assert!(
            body.contains("extension=\"1633a409-3d61-4869-aed8-74d92ae20272\""),
            "{body}"
        );
        assert!(body.contains("<queryResponseCode code=\"OK\"/>"), "{body}");
        assert!(
            body.contains("extension=\"87d5fd8f-72b2-43bf-938c-0402bf850d25\""),
            "{body}"
        );
    }

    // Signed with an InclusiveNamespaces PrefixList naming the envelope's `soap` prefix
    // (in scope, not used inside the assertion) and `xsi`.
    let signed = sign_inclusive(&message, Who::Card, "soap xsi");
    assert!(signed.contains("PrefixList=\"soap xsi\""));
    let (status, body) = post(&url, "patients", SOAP12, signed.as_bytes(), Who::Card).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<queryResponseCode code=\"OK\"/>"), "{body}");

    // The same, in organisation (INDIRECTE) mode.
    let (status, body) = call(&url, "patients", &message, Who::Organisation).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<queryResponseCode code=\"OK\"/>"), "{body}");

    // TD0.2 on a patient without DMP: NF.
    let other = message.replace(EXAMPLE_INS, "153078987658513");
    let (status, body) = call(&url, "patients", &other, Who::Card).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<queryResponseCode code=\"NF\"/>"), "{body}");
    assert!(!body.contains("AUTORISATION"), "{body}");

    // TD0.3: the authorisation is already there (the official answer).
    let (status, body) = call(
        &url,
        "habilitations",
        &example("TD0.3_Mise-a-jour-de-lautorisation_requete.xml"),
        Who::Card,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("setAuthorizationResponse"), "{body}");
    assert_eq!(text_of(&body, "status"), Some("DMPOk"), "{body}");
    assert_eq!(
        text_of(&body, "context"),
        Some("Autorisation déjà présente aucune action effectuée"),
        "{body}"
    );

    // TD0.4: the DMPs this professional may access.
    let (status, body) = call(
        &url,
        "patientsSpecific",
        &example("TD0.4_Liste-des-DMP-autorises_requete.xml"),
        Who::Card,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("urn:si-dmp-patients:PatientSpecificEndPoint:patientListResponse"),
        "{body}"
    );
    assert!(
        body.contains("<ns1:nationalId>207058575627097</ns1:nationalId>"),
        "{body}"
    );
    assert!(body.contains("<ns1:MT>true</ns1:MT>"), "{body}");
    assert_eq!(text_of(&body, "status"), Some("DMPOk"), "{body}");
    dmp.shutdown().await;
}

/// TD2.1 then TD3.1, TD3.2, TD3.3d and TD3.3c on what was deposited, and persistence
/// across a restart.
#[tokio::test(flavor = "multi_thread")]
async fn deposit_search_retrieve_archive_delete_examples() {
    let dir = tempfile::tempdir().unwrap();
    let dmp = start_dmp(dir.path()).await;
    let url = dmp.url();

    let td21 = example("TD2.1_Alimentation_requete.xml");
    let (status, body) = call(&url, "repository", &td21, Who::Card).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse"),
        "{body}"
    );
    assert!(
        body.contains("status=\"urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success\""),
        "{body}"
    );
    assert!(!body.contains("RegistryError"), "{body}");

    // Sent again: nothing added, said so.
    let (status, body) = call(&url, "repository", &td21, Who::Card).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ResponseStatusType:Success"), "{body}");
    assert!(body.contains("XDSDuplicateUniqueIdInRegistry"), "{body}");
    assert!(body.contains("ErrorSeverityType:Warning"), "{body}");

    // Restart on the same data directory.
    dmp.shutdown().await;
    let dmp = start_dmp(dir.path()).await;
    let url = dmp.url();

    // TD3.1 FindDocuments: the document and its signature.
    let (status, body) = call(
        &url,
        "registry",
        &example("TD3.1_Recherche-de-document_requete.xml"),
        Who::Card,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("urn:ihe:iti:2007:RegistryStoredQueryResponse"),
        "{body}"
    );
    assert!(body.contains("totalResultCount=\"2\""), "{body}");
    assert!(
        body.contains("value=\"1.2.250.1.999.1.1.7898.3.1622814651504\""),
        "{body}"
    );
    assert!(body.contains("<rim:Slot name=\"repositoryUniqueId\"><rim:ValueList><rim:Value>1.2.250.1.213.4.1.1.1.2</rim:Value>"), "{body}");
    let entry_uuid = {
        let doc = body
            .find("value=\"1.2.250.1.999.1.1.7898.3.1622814651504\"")
            .unwrap();
        let eo = body[..doc].rfind("<rim:ExtrinsicObject id=\"").unwrap()
            + "<rim:ExtrinsicObject id=\"".len();
        body[eo..eo + body[eo..].find('"').unwrap()].to_owned()
    };

    // TD3.2 on the deposited document's uniqueId: MTOM, the document as an XOP part.
    let td32 = example("TD3.2_Consultation-dun-document_requete.xml").replace(
        "1.2.250.1.999.1.1.7898.1.995657292",
        "1.2.250.1.999.1.1.7898.3.1622814651504",
    );
    let (status, body) = call(&url, "repository", &td32, Who::Card).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("RetrieveDocumentSetResponse"), "{body}");
    assert!(body.contains("ResponseStatusType:Success"), "{body}");
    assert!(body.contains("<xop:Include href=\"cid:"), "{body}");
    assert!(
        body.contains("Exemple de Document CDA R2 non Structure"),
        "the CDA part: {body}"
    );

    // An unknown uniqueId.
    let (status, body) = call(
        &url,
        "repository",
        &example("TD3.2_Consultation-dun-document_requete.xml"),
        Who::Card,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("XDSDocumentUniqueIdError"), "{body}");
    assert!(
        body.contains("codeContext=\"uniqueId=1.2.250.1.999.1.1.7898.1.995657292\""),
        "{body}"
    );

    // TD3.3d archive, then TD3.3c delete, on the deposited entry.
    let archive = set_target(
        &example("TD3.3d_Archiver-un-document_requete.xml"),
        &entry_uuid,
    );
    let (status, body) = call(&url, "registry", &archive, Who::Card).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("urn:ihe:iti:2010:UpdateDocumentSetResponse"),
        "{body}"
    );
    assert!(body.contains("ResponseStatusType:Success"), "{body}");
    let delete = set_target(
        &example("TD3.3c_Supprimer-un-document_requete.xml"),
        &entry_uuid,
    );
    let (status, body) = call(&url, "registry", &delete, Who::Card).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ResponseStatusType:Success"), "{body}");

    // Approved search: only the signature is left.
    let (_, body) = call(
        &url,
        "registry",
        &example("TD3.1_Recherche-de-document_requete.xml"),
        Who::Card,
    )
    .await;
    assert!(body.contains("totalResultCount=\"1\""), "{body}");
    dmp.shutdown().await;
}

/// Points the example's UpdateAvailabilityStatus association at `entry_uuid`.
pub fn set_target(message: &str, entry_uuid: &str) -> String {
    let key = "targetObject=\"";
    let a = message.find(key).unwrap() + key.len();
    let b = a + message[a..].find('"').unwrap();
    let mut m = message.to_owned();
    m.replace_range(a..b, entry_uuid);
    m
}
