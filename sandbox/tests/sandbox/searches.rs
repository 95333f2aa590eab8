//! Searches beyond the tlsi-ins fixtures: the tutorial's patient, CR 02, carte Vitale.

use crate::helpers::*;

async fn search(url: &str, body: String) -> (String, Option<Node>, Reply) {
    let reply = post_soap(&client(Identity::Org), url, body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let doc = reply.xml();
    let code = doc
        .find(NS_RESULTAT, "CodeCR")
        .map(|n| n.text.clone())
        .expect("CodeCR");
    let individu = doc.find(NS_RESULTAT, "INDIVIDU").cloned();
    (code, individu, reply)
}

#[tokio::test]
async fn pat_douze_is_found_by_traits() {
    let sandbox = start_default().await;
    let (code, individu, reply) = search(
        &sandbox.url(),
        traits_request(
            "IDAM-TEST",
            "uuid:pat-douze",
            "<NomNaissance>PAT-DOUZE</NomNaissance><Prenom>NATHALIE</Prenom><Sexe>F</Sexe>\
             <DateNaissance>1948-03-21</DateNaissance>",
        ),
    )
    .await;
    assert_eq!(code, "00");
    let individu = individu.unwrap();
    assert_eq!(
        individu
            .text_at(NS_RESULTAT, &["INSACTIF", "IdIndividu", "NumIdentifiant"])
            .as_deref(),
        Some("2480392630010")
    );
    assert_eq!(
        individu
            .text_at(NS_RESULTAT, &["INSACTIF", "IdIndividu", "Cle"])
            .as_deref(),
        Some("64")
    );
    assert_eq!(
        individu
            .text_at(NS_RESULTAT, &["INSACTIF", "OID"])
            .as_deref(),
        Some("1.2.250.1.213.1.4.8")
    );
    assert_eq!(
        individu
            .text_at(NS_RESULTAT, &["TIQ", "ListePrenom"])
            .as_deref(),
        Some("NATHALIE")
    );
    check_insi("PAT-DOUZE", &reply.body, false);

    // Birth place given: must match.
    let (code, ..) = search(
        &sandbox.url(),
        traits_request(
            "IDAM-TEST",
            "uuid:pat-douze-2",
            "<NomNaissance>PAT-DOUZE</NomNaissance><Prenom>NATHALIE</Prenom><Sexe>F</Sexe>\
             <DateNaissance>1948-03-21</DateNaissance><LieuNaissance>75056</LieuNaissance>",
        ),
    )
    .await;
    assert_eq!(code, "01");
    // The tutorial's troubleshooting: a current (married) name, a missing hyphen, a
    // lower-case name or the wrong sex find nobody.
    for traits in [
        "<NomNaissance>PAT DOUZE</NomNaissance><Prenom>NATHALIE</Prenom><Sexe>F</Sexe><DateNaissance>1948-03-21</DateNaissance>",
        "<NomNaissance>Pat-Douze</NomNaissance><Prenom>NATHALIE</Prenom><Sexe>F</Sexe><DateNaissance>1948-03-21</DateNaissance>",
        "<NomNaissance>PAT-DOUZE</NomNaissance><Prenom>NATHALIE</Prenom><Sexe>M</Sexe><DateNaissance>1948-03-21</DateNaissance>",
        "<NomNaissance>PAT-DOUZE</NomNaissance><Prenom>NATHALIE</Prenom><Sexe>F</Sexe><DateNaissance>1948-03-12</DateNaissance>",
    ] {
        let (code, individu, reply) = search(
            &sandbox.url(),
            traits_request("IDAM-TEST", "uuid:x", traits),
        )
        .await;
        assert_eq!(code, "01", "{traits}");
        assert!(individu.is_none());
        assert!(reply.text().contains("Aucune identite trouvee"));
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn de_vinci_leonardo_is_ambiguous() {
    let sandbox = start_default().await;
    let (code, individu, reply) = search(
        &sandbox.url(),
        traits_request(
            "IDAM-TEST",
            "uuid:dv",
            "<NomNaissance>DE VINCI</NomNaissance><Prenom>LEONARDO</Prenom><Sexe>M</Sexe>\
             <DateNaissance>2014-02-01</DateNaissance>",
        ),
    )
    .await;
    assert_eq!(code, "02");
    assert!(individu.is_none());
    assert!(reply.text().contains("Plusieurs identites trouvees"));
    check_insi("CR02", &reply.body, false);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn repeated_prenom_elements_form_the_list() {
    let sandbox = start_default().await;
    let (code, ..) = search(
        &sandbox.url(),
        traits_request(
            "IDAM-TEST",
            "uuid:tc",
            "<NomNaissance>TCHITCHI</NomNaissance><Prenom>CATARINA</Prenom><Prenom>BELLA</Prenom>\
             <Sexe>F</Sexe><DateNaissance>1936-06-21</DateNaissance>",
        ),
    )
    .await;
    assert_eq!(code, "00");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn carte_vitale_search() {
    let sandbox = start_default().await;
    let url = sandbox.url();
    // The beneficiary's own matricule.
    let (code, individu, reply) = search(&url, vitale_request("uuid:v1",
        "<v:MatriculeIndividu><v:NumIdentifiant>2480392630010</v:NumIdentifiant><v:Cle>64</v:Cle></v:MatriculeIndividu>\
         <v:NomNaissance>PAT-DOUZE</v:NomNaissance><v:DateNaissance>1948-03-21</v:DateNaissance>")).await;
    assert_eq!(code, "00");
    assert_eq!(
        individu
            .unwrap()
            .text_at(NS_RESULTAT, &["TIQ", "NomNaissance"])
            .as_deref(),
        Some("PAT-DOUZE")
    );
    check_insi("RECVITALE", &reply.body, false);
    // The insured person's matricule (self-insured) with the birth rank.
    let (code, ..) = search(&url, vitale_request("uuid:v2",
        "<v:MatriculeOD><v:NumIdentifiant>2480392630010</v:NumIdentifiant><v:Cle>64</v:Cle></v:MatriculeOD>\
         <v:NomNaissance>PAT-DOUZE</v:NomNaissance><v:DateNaissance>1948-03-21</v:DateNaissance>\
         <v:RangNaissance>1</v:RangNaissance>")).await;
    assert_eq!(code, "00");
    // A historical NIR also identifies the person.
    let (code, individu, _) = search(&url, vitale_request("uuid:v3",
        "<v:MatriculeIndividu><v:NumIdentifiant>2090763220834</v:NumIdentifiant></v:MatriculeIndividu>\
         <v:NomNaissance>ECETINSI</v:NomNaissance><v:DateNaissance>2009-07-14</v:DateNaissance>")).await;
    assert_eq!(code, "00");
    assert_eq!(
        individu
            .unwrap()
            .text_at(NS_RESULTAT, &["INSACTIF", "IdIndividu", "NumIdentifiant"])
            .as_deref(),
        Some("1090763220834")
    );
    // Wrong key, wrong name, wrong rank: nobody.
    for body in [
        "<v:MatriculeIndividu><v:NumIdentifiant>2480392630010</v:NumIdentifiant><v:Cle>65</v:Cle></v:MatriculeIndividu>\
         <v:NomNaissance>PAT-DOUZE</v:NomNaissance><v:DateNaissance>1948-03-21</v:DateNaissance>",
        "<v:MatriculeIndividu><v:NumIdentifiant>2480392630010</v:NumIdentifiant></v:MatriculeIndividu>\
         <v:NomNaissance>DOUZE</v:NomNaissance><v:DateNaissance>1948-03-21</v:DateNaissance>",
        "<v:MatriculeOD><v:NumIdentifiant>2480392630010</v:NumIdentifiant></v:MatriculeOD>\
         <v:NomNaissance>PAT-DOUZE</v:NomNaissance><v:DateNaissance>1948-03-21</v:DateNaissance><v:RangNaissance>2</v:RangNaissance>",
    ] {
        let (code, ..) = search(&url, vitale_request("uuid:v4", body)).await;
        assert_eq!(code, "01", "{body}");
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn identities_file_replaces_the_builtin_ones() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ids.toml");
    std::fs::write(
        &file,
        "[[identity]]\nbirth_name = \"SANDBOX\"\nfirst_names = \"ALICE\"\nsex = \"F\"\n\
         birth_date = \"1990-00-00\"\nmatricule = \"2900099999999\"\nkey = \"12\"\n\
         oid = \"1.2.250.1.213.1.4.10\"\n",
    )
    .unwrap();
    let sandbox = start(passerelle_sandbox::InsiSandboxConfig {
        identities_file: Some(file),
        ..Default::default()
    })
    .await;
    let (code, individu, _) = search(&sandbox.url(), traits_request("IDAM-TEST", "uuid:f",
        "<NomNaissance>SANDBOX</NomNaissance><Prenom>ALICE</Prenom><Sexe>F</Sexe><DateNaissance>1990-00-00</DateNaissance>")).await;
    assert_eq!(code, "00");
    assert_eq!(
        individu
            .unwrap()
            .text_at(NS_RESULTAT, &["INSACTIF", "OID"])
            .as_deref(),
        Some("1.2.250.1.213.1.4.10")
    );
    let (code, ..) = search(&sandbox.url(), traits_request("IDAM-TEST", "uuid:g",
        "<NomNaissance>PAT-DOUZE</NomNaissance><Prenom>NATHALIE</Prenom><Sexe>F</Sexe><DateNaissance>1948-03-21</DateNaissance>")).await;
    assert_eq!(code, "01");
    sandbox.shutdown().await;

    // A malformed file is an error at start, not at the first request.
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[identity]]\nbirth_name = \"X\"\n",
    )
    .unwrap();
    let result = passerelle_sandbox::InsiSandbox::start(
        passerelle_sandbox::InsiSandboxConfig {
            identities_file: Some(dir.path().join("bad.toml")),
            ..Default::default()
        },
        pki(),
    )
    .await;
    assert!(result.is_err());
}
