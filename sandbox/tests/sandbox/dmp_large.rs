//! A 20 MB document goes in (MTOM, binary part) and comes back out (ITI-43, XOP part)
//! intact; a body above the limit is refused.

use passerelle_sandbox::dmp::{DmpSandbox, DmpSandboxConfig};

use crate::dmp_helpers::*;
use crate::helpers::pki;

const PART: &str = "------=_Part_9_20030738.1554380517598\nContent-Type: text/xml; charset=Cp1252; name=WS_DMP_TD2.1-DocumentME2.xml";

fn sha1_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The signed official TD2.1 with `data` as the document's part.
fn with_document(data: &[u8]) -> Vec<u8> {
    let signed = sign(&example("TD2.1_Alimentation_requete.xml"), Who::Card, true);
    let part = signed.find(PART).unwrap();
    let content = part + signed[part..].find("\n\n").unwrap() + 2;
    let end = content + signed[content..].find("\n------=_Part_9").unwrap();
    let mut body = signed.as_bytes()[..content].to_vec();
    body.extend_from_slice(data);
    body.extend_from_slice(&signed.as_bytes()[end..]);
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn a_20_mb_document_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let dmp = start_dmp(dir.path()).await;
    let url = dmp.url();
    let mut data = b"%PDF-1.7\n".to_vec();
    let mut x: u32 = 12345;
    while data.len() < 20 * 1024 * 1024 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        data.extend_from_slice(&x.to_le_bytes());
    }
    let (status, body) = post(
        &url,
        "repository",
        TD21_CT,
        &with_document(&data),
        Who::Card,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ResponseStatusType:Success"), "{body}");

    let (_, body) = call(
        &url,
        "registry",
        &example("TD3.1_Recherche-de-document_requete.xml"),
        Who::Card,
    )
    .await;
    assert!(
        body.contains(&format!("<rim:Value>{}</rim:Value>", sha1_hex(&data))),
        "hash: {body}"
    );
    assert!(
        body.contains(&format!("<rim:Value>{}</rim:Value>", data.len())),
        "size: {body}"
    );

    // Retrieved whole: curl writes the MTOM answer to a file.
    let td32 = example("TD3.2_Consultation-dun-document_requete.xml").replace(
        "1.2.250.1.999.1.1.7898.1.995657292",
        "1.2.250.1.999.1.1.7898.3.1622814651504",
    );
    let signed = sign(&td32, Who::Card, true);
    let pki = pki();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("answer");
    let args: Vec<String> = vec![
        "--silent".into(),
        "--cacert".into(),
        pki.ca_cert.display().to_string(),
        "--cert".into(),
        pki.cps_cert.display().to_string(),
        "--key".into(),
        pki.cps_key.display().to_string(),
        "-H".into(),
        format!("Content-Type: {SOAP12}"),
        "--data-binary".into(),
        signed,
        "-o".into(),
        out.display().to_string(),
        format!("{url}/repository"),
    ];
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(&args)
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(status.success());
    let answer = std::fs::read(&out).unwrap();
    let found = answer
        .windows(data.len().min(4096))
        .position(|w| w == &data[..4096])
        .unwrap();
    assert_eq!(&answer[found..found + data.len()], &data[..]);
    dmp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_above_the_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dmp = DmpSandbox::start(
        DmpSandboxConfig {
            data_dir: dir.path().to_path_buf(),
            max_body_bytes: 1024 * 1024,
            ..DmpSandboxConfig::default()
        },
        pki(),
    )
    .await
    .unwrap();
    let (status, body) = post(
        &dmp.url(),
        "repository",
        TD21_CT,
        &with_document(&vec![b'x'; 2 * 1024 * 1024]),
        Who::Card,
    )
    .await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("DMPRequestTooLarge"), "{body}");
    dmp.shutdown().await;
}
