//! An HTTP and TLS stack that is not ours (curl with OpenSSL) posts a request written by
//! another client (tlsi-ins) and fetches the WSDL: the sandbox must not depend on anything
//! only our own client does.

use std::process::Command;

use crate::helpers::*;

fn curl(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new("curl")
        .args(["--silent", "--show-error"])
        .args(args)
        .output()
        .expect("curl (apt-get install curl)");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test]
async fn curl_with_openssl_gets_an_answer_and_the_wsdl() {
    let sandbox = start_default().await;
    let pki = pki();
    let tls = [
        "--cacert",
        pki.ca_cert.to_str().unwrap(),
        "--cert",
        pki.org_cert.to_str().unwrap(),
        "--key",
        pki.org_key.to_str().unwrap(),
    ];
    let request = fixtures_dir().join("virtual-mode/AdrunZoeVirtualMode.1.request.xml");
    let data = format!("@{}", request.display());
    let url = sandbox.url();
    let mut args: Vec<&str> = tls.to_vec();
    args.extend([
        "-H",
        "Content-Type: application/soap+xml; charset=utf-8",
        "--data-binary",
        &data,
        &url,
    ]);
    let (code, body) = tokio::task::spawn_blocking({
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        move || curl(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{body}");
    assert!(body.contains("<CodeCR>00</CodeCR>"), "{body}");
    assert!(body.contains("2751263220749"), "{body}");

    let wsdl_url = sandbox.wsdl_url();
    let mut args: Vec<String> = tls.iter().map(|s| (*s).to_owned()).collect();
    args.push(wsdl_url);
    let (code, wsdl) = tokio::task::spawn_blocking(move || {
        curl(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{wsdl}");
    assert!(wsdl.contains("rechercherInsAvecTraitsIdentite"), "{wsdl}");

    // Without a client certificate, curl's handshake is refused.
    let url = sandbox.url();
    let ca = pki.ca_cert.to_str().unwrap().to_owned();
    let (code, _) =
        tokio::task::spawn_blocking(move || curl(&["--cacert", &ca, "--data-binary", "x", &url]))
            .await
            .unwrap();
    assert_ne!(code, Some(0));
    sandbox.shutdown().await;
}
