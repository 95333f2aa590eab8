//! Bad requests get SOAP faults (never a panic, never a RESULTAT), and the fault
//! injection and latency knobs work.

use std::time::{Duration, Instant};

use passerelle_sandbox::{FaultInjection, FaultKind, FaultTrigger, InsiSandboxConfig};

use crate::helpers::*;

const ADRTROIS: &str = "<NomNaissance>ADRTROIS</NomNaissance><Prenom>DOMINIQUE</Prenom>\
<Sexe>F</Sexe><DateNaissance>1997-02-26</DateNaissance>";

/// Posts a body and expects a fault with this detail code (or SOAP subcode).
async fn expect_fault(
    url: &str,
    label: &str,
    body: impl Into<reqwest::Body>,
    expected: &str,
) -> FaultInfo {
    let reply = post_soap(&client(Identity::Org), url, body).await;
    let fault = fault_of(&reply);
    assert!(
        fault.detail_code.as_deref() == Some(expected)
            || fault.subcode.as_deref() == Some(expected),
        "{label}: expected {expected}, got {fault:?}"
    );
    check_insi(label, &reply.body, true);
    fault
}

#[tokio::test]
async fn bad_requests_get_faults() {
    let sandbox = start_default().await;
    let url = sandbox.url();
    let id = "uuid:0b9d6d8e-52c4-4f5e-9d43-2a4c1b2c3d4e";
    let traits = |xml: &str| traits_request("IDAM-TEST", id, xml);

    expect_fault(&url, "not XML", "this is not XML", "desir_100").await;
    expect_fault(
        &url,
        "unclosed",
        "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\">",
        "desir_100",
    )
    .await;
    let doctype = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lol [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]>{}",
        traits(ADRTROIS).trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
    );
    expect_fault(&url, "DOCTYPE", doctype, "desir_100").await;
    expect_fault(
        &url,
        "undeclared entity",
        traits(&ADRTROIS.replace("ADRTROIS", "&x;")),
        "desir_100",
    )
    .await;
    expect_fault(&url, "not an envelope", "<a xmlns=\"urn:x\"/>", "desir_100").await;

    // Wrong namespace for the body element.
    let wrong_ns = request(
        ACTION_TRAITS,
        "IDAM-TEST",
        id,
        &format!(
            "<RECSANSVITALE xmlns=\"http://www.cnamts.fr/INSiRecVit\">{ADRTROIS}</RECSANSVITALE>"
        ),
    );
    let fault = expect_fault(&url, "wrong body namespace", wrong_ns, "desir_100").await;
    assert_eq!(
        fault.message_id.as_deref(),
        Some(id),
        "the fault echoes the MessageID"
    );
    // Body of the other operation.
    expect_fault(&url, "body/action mismatch", request(ACTION_VITALE, "IDAM-TEST", id, &format!(
        "<RECSANSVITALE xmlns=\"http://www.cnamts.fr/INSiRecSans\">{ADRTROIS}</RECSANSVITALE>"
    )), "desir_100").await;
    // Unknown element in the body.
    expect_fault(
        &url,
        "unknown trait",
        traits(&format!("{ADRTROIS}<NomUsage>X</NomUsage>")),
        "desir_100",
    )
    .await;

    // Traits.
    let missing_name = ADRTROIS.replace("<NomNaissance>ADRTROIS</NomNaissance>", "");
    let fault = expect_fault(&url, "missing birth name", traits(&missing_name), "insi_19").await;
    assert_eq!(fault.code, "soap:Sender");
    assert_eq!(fault.subcode.as_deref(), Some("soap:siram_10"));
    assert_eq!(fault.message_id.as_deref(), Some(id));
    expect_fault(
        &url,
        "empty birth name",
        traits(&ADRTROIS.replace(">ADRTROIS<", "><")),
        "insi_19",
    )
    .await;
    expect_fault(
        &url,
        "missing first name",
        traits(&ADRTROIS.replace("<Prenom>DOMINIQUE</Prenom>", "")),
        "insi_20",
    )
    .await;
    expect_fault(
        &url,
        "bad sex",
        traits(&ADRTROIS.replace(">F<", ">X<")),
        "insi_21",
    )
    .await;
    expect_fault(
        &url,
        "bad date",
        traits(&ADRTROIS.replace("1997-02-26", "26/02/1997")),
        "insi_22",
    )
    .await;
    expect_fault(
        &url,
        "short date",
        traits(&ADRTROIS.replace("1997-02-26", "1997-2-26")),
        "insi_22",
    )
    .await;
    expect_fault(
        &url,
        "bad COG",
        traits(&format!("{ADRTROIS}<LieuNaissance>2C020</LieuNaissance>")),
        "insi_23",
    )
    .await;

    // Carte Vitale.
    expect_fault(&url, "vitale without matricule", vitale_request(id,
        "<v:NomNaissance>PAT-DOUZE</v:NomNaissance><v:DateNaissance>1948-03-21</v:DateNaissance>"), "insi_24").await;
    expect_fault(&url, "vitale bad matricule", vitale_request(id,
        "<v:MatriculeIndividu><v:NumIdentifiant>24803926300</v:NumIdentifiant></v:MatriculeIndividu>\
         <v:NomNaissance>PAT-DOUZE</v:NomNaissance><v:DateNaissance>1948-03-21</v:DateNaissance>"), "insi_25").await;
    expect_fault(
        &url,
        "vitale bad rank",
        vitale_request(
            id,
            "<v:MatriculeOD><v:NumIdentifiant>2480392630010</v:NumIdentifiant></v:MatriculeOD>\
         <v:NomNaissance>PAT-DOUZE</v:NomNaissance><v:DateNaissance>1948-03-21</v:DateNaissance>\
         <v:RangNaissance>x</v:RangNaissance>",
        ),
        "insi_26",
    )
    .await;

    // Headers.
    let no_action = traits(ADRTROIS).replace(
        &format!(
            "<a:Action xmlns:a=\"http://www.w3.org/2005/08/addressing\">{ACTION_TRAITS}</a:Action>"
        ),
        "",
    );
    expect_fault(
        &url,
        "no action",
        no_action.clone(),
        "wsa:MessageAddressingHeaderRequired",
    )
    .await;
    let reply = post(
        &client(Identity::Org),
        &url,
        &format!("{SOAP12_CT}; action=\"{ACTION_TRAITS}\""),
        no_action,
    )
    .await
    .unwrap();
    assert_eq!(
        reply.status,
        200,
        "the action may travel in the Content-Type:\n{}",
        reply.text()
    );
    expect_fault(
        &url,
        "unknown action",
        traits(ADRTROIS).replace(ACTION_TRAITS, "urn:x:nothing"),
        "wsa:ActionNotSupported",
    )
    .await;
    expect_fault(
        &url,
        "no message id",
        traits(ADRTROIS).replace(id, ""),
        "wsa:MessageAddressingHeaderRequired",
    )
    .await;
    expect_fault(
        &url,
        "bad BAM version",
        traits(ADRTROIS).replace("01_02", "01_01"),
        "desir_102",
    )
    .await;
    expect_fault(
        &url,
        "bad LPS nature",
        traits(ADRTROIS).replace("Nature=\"CTXLPS\"", "Nature=\"CTXBAM\""),
        "desir_102",
    )
    .await;
    expect_fault(
        &url,
        "no IDAM",
        traits(ADRTROIS).replace(">IDAM-TEST<", "><"),
        "desir_102",
    )
    .await;
    let must = traits(ADRTROIS).replace(
        "</e:Header>",
        "<x:Unknown xmlns:x=\"urn:x\" e:mustUnderstand=\"true\">1</x:Unknown></e:Header>",
    );
    let reply = post_soap(&client(Identity::Org), &url, must).await;
    assert_eq!(fault_of(&reply).code, "soap:MustUnderstand");

    // Wrong media type.
    let reply = post(&client(Identity::Org), &url, "application/json", "{}")
        .await
        .unwrap();
    assert_eq!(reply.status, 415);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn soap_11_gets_version_mismatch() {
    let sandbox = start_default().await;
    let soap11 = format!(
        "<s:Envelope xmlns:s=\"{NS_SOAP11}\"><s:Body><RECSANSVITALE xmlns=\"http://www.cnamts.fr/INSiRecSans\">{ADRTROIS}</RECSANSVITALE></s:Body></s:Envelope>"
    );
    for content_type in ["text/xml; charset=utf-8", SOAP12_CT] {
        let reply = post(
            &client(Identity::Org),
            &sandbox.url(),
            content_type,
            soap11.clone(),
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 500, "{}", reply.text());
        let doc = reply.xml();
        assert!(
            doc.is(NS_SOAP11, "Envelope"),
            "a SOAP 1.1 sender gets a SOAP 1.1 fault"
        );
        let fault = doc.find(NS_SOAP11, "Fault").expect("Fault");
        let code = fault
            .child("", "faultcode")
            .expect("faultcode")
            .text
            .clone();
        assert!(code.ends_with(":VersionMismatch"), "{code}");
        assert!(doc.find(NS_SOAP12, "Upgrade").is_some(), "Upgrade header");
        check_insi("version mismatch", &reply.body, true);
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let sandbox = start(InsiSandboxConfig {
        max_body_bytes: 4096,
        ..InsiSandboxConfig::default()
    })
    .await;
    let padding = " ".repeat(8192);
    let big = traits_request("IDAM-TEST", "uuid:big", &format!("{ADRTROIS}{padding}"));
    expect_fault(
        &sandbox.url(),
        "oversized (Content-Length)",
        big.clone(),
        "desir_101",
    )
    .await;
    // Without a Content-Length (chunked), the limit applies while reading.
    let mut raw = format!(
        "POST /lps HTTP/1.1\r\nHost: localhost\r\nContent-Type: {SOAP12_CT}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in big.as_bytes().chunks(1000) {
        raw.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend(chunk);
        raw.extend(b"\r\n");
    }
    raw.extend(b"0\r\n\r\n");
    let answer = raw_exchange(sandbox.addr(), &raw).await;
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    assert!(answer.contains("code=\"desir_101\""), "{answer}");
    // Still serving.
    let reply = post_soap(
        &client(Identity::Org),
        &sandbox.url(),
        traits_request("IDAM-TEST", "uuid:ok", ADRTROIS),
    )
    .await;
    assert_eq!(reply.status, 200);
    sandbox.shutdown().await;
}

async fn sandbox_with(
    kind: FaultKind,
    trigger: FaultTrigger,
) -> passerelle_sandbox::RunningInsiSandbox {
    start(InsiSandboxConfig {
        fault_injection: Some(FaultInjection { trigger, kind }),
        ..InsiSandboxConfig::default()
    })
    .await
}

#[tokio::test]
async fn fault_injection_works() {
    let body = || traits_request("IDAM-TEST", "uuid:inj", ADRTROIS);

    let sandbox = sandbox_with(FaultKind::Http503, FaultTrigger::EveryNth(2)).await;
    let c = client(Identity::Org);
    assert_eq!(post_soap(&c, &sandbox.url(), body()).await.status, 200);
    assert_eq!(post_soap(&c, &sandbox.url(), body()).await.status, 503);
    assert_eq!(post_soap(&c, &sandbox.url(), body()).await.status, 200);
    sandbox.shutdown().await;

    let sandbox = sandbox_with(FaultKind::technical_error(), FaultTrigger::Probability(1.0)).await;
    let reply = post_soap(&client(Identity::Org), &sandbox.url(), body()).await;
    let fault = fault_of(&reply);
    assert_eq!(fault.code, "soap:Receiver");
    assert_eq!(fault.subcode.as_deref(), Some("soap:siram_40"));
    assert_eq!(fault.detail_code.as_deref(), Some("insi_102"));
    assert_eq!(fault.message_id.as_deref(), Some("uuid:inj"));
    check_insi("injected insi_102", &reply.body, true);
    sandbox.shutdown().await;

    let sandbox = sandbox_with(FaultKind::service_unavailable(), FaultTrigger::EveryNth(1)).await;
    let fault = fault_of(&post_soap(&client(Identity::Org), &sandbox.url(), body()).await);
    assert_eq!(
        (fault.code.as_str(), fault.detail_code.as_deref()),
        ("soap:Sender", Some("desir_1020"))
    );
    sandbox.shutdown().await;

    let sandbox = sandbox_with(FaultKind::GarbageBody, FaultTrigger::EveryNth(1)).await;
    let reply = post_soap(&client(Identity::Org), &sandbox.url(), body()).await;
    assert_eq!(reply.status, 200);
    assert!(parse(&reply.body).is_err(), "garbage must not parse");
    sandbox.shutdown().await;

    let sandbox = sandbox_with(FaultKind::CloseConnection, FaultTrigger::EveryNth(1)).await;
    let result = post(&client(Identity::Org), &sandbox.url(), SOAP12_CT, body()).await;
    assert!(
        result.is_err(),
        "the connection must close without an answer"
    );
    sandbox.shutdown().await;

    let sandbox = sandbox_with(FaultKind::Http503, FaultTrigger::Probability(0.0)).await;
    for _ in 0..5 {
        assert_eq!(
            post_soap(&client(Identity::Org), &sandbox.url(), body())
                .await
                .status,
            200
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn latency_is_added() {
    let sandbox = start(InsiSandboxConfig {
        latency: Duration::from_millis(400),
        ..InsiSandboxConfig::default()
    })
    .await;
    let c = client(Identity::Org);
    // Warm the connection up, so that only the answer's delay is measured.
    post_soap(
        &c,
        &sandbox.url(),
        traits_request("IDAM-TEST", "uuid:l1", ADRTROIS),
    )
    .await;
    let started = Instant::now();
    let reply = post_soap(
        &c,
        &sandbox.url(),
        traits_request("IDAM-TEST", "uuid:l2", ADRTROIS),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    sandbox.shutdown().await;
}
