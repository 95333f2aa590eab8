//! The médecin traitant declaration, and the organisation (INDIRECTE) mode: deposits
//! allowed, the structure's own documents found, TD0.3 refused.

use crate::dmp_helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn attending_physician_and_organisation_mode() {
    let dir = tempfile::tempdir().unwrap();
    let dmp = start_dmp(dir.path()).await;
    let url = dmp.url();
    let tutorial = "248039263001064";
    let td03 = example("TD0.3_Mise-a-jour-de-lautorisation_requete.xml")
        .replace(EXAMPLE_INS, tutorial)
        .replace(
            "<action>AJOUT</action>",
            "<action>AJOUT</action><role>MEDECIN_TRAITANT</role>",
        );
    let (status, body) = call(&url, "habilitations", &td03, Who::Card).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        text_of(&body, "context"),
        Some("Déclaration de médecin traitant effectuée"),
        "{body}"
    );
    let td02 = example("TD0.2_Test-dexistence_requete.xml").replace(EXAMPLE_INS, tutorial);
    let (_, body) = call(&url, "patients", &td02, Who::Card).await;
    assert!(body.contains("code=\"VALIDE\""), "{body}");
    assert!(
        body.contains("<value value=\"true\" xsi:type=\"BL\"/>"),
        "{body}"
    );
    // The production INS-NIR OID is accepted as well as the test one.
    let prod = td02.replace("1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.8");
    assert_ne!(prod, td02);
    let (status, body) = call(&url, "patients", &prod, Who::Card).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<id extension=\"248039263001064\" root=\"1.2.250.1.213.1.4.8\"/>"),
        "{body}"
    );
    let demo = td02.replace("1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11");
    let (status, body) = call(&url, "patients", &demo, Who::Card).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("DMPInvalidVIHF"), "{body}");
    // TD0.4 lists it, MT.
    let (_, body) = call(
        &url,
        "patientsSpecific",
        &example("TD0.4_Liste-des-DMP-autorises_requete.xml")
            .replace("<startDate>20101010202010</startDate>", "")
            .replace("<dateType>LASTDOC</dateType>", ""),
        Who::Card,
    )
    .await;
    assert!(
        body.contains(&format!("<ns1:nationalId>{tutorial}</ns1:nationalId>")),
        "{body}"
    );
    // No longer MT.
    let (_, body) = call(
        &url,
        "habilitations",
        &td03.replace(">AJOUT<", ">SUPPRESSION<"),
        Who::Card,
    )
    .await;
    assert_eq!(
        text_of(&body, "context"),
        Some("Déclaration de médecin traitant supprimée"),
        "{body}"
    );

    // Organisation mode: TD0.3 refused; deposit and search allowed, own structure's
    // documents only.
    let (status, body) = call(&url, "habilitations", &td03, Who::Organisation).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("DMPAccessDeniedByRightsService"), "{body}");
    let td21 = example("TD2.1_Alimentation_requete.xml");
    let (status, body) = call(&url, "repository", &td21, Who::Organisation).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ResponseStatusType:Success"), "{body}");
    let td31 = example("TD3.1_Recherche-de-document_requete.xml");
    let (_, body) = call(&url, "registry", &td31, Who::Organisation).await;
    assert!(body.contains("totalResultCount=\"2\""), "{body}");
    let other_structure = td31.replace(">499900063480001<", ">499900063480099<");
    assert_ne!(other_structure, td31);
    let (_, body) = call(&url, "registry", &other_structure, Who::Organisation).await;
    assert!(body.contains("totalResultCount=\"0\""), "{body}");
    dmp.shutdown().await;
}
