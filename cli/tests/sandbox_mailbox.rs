//! `passerelle sandbox mailbox ADDR`: reads the MSS sandbox's mailbox files, no server needed.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{json, run, stderr, stdout};

const PATIENT: &str = "248039263001064@patient.mssante.fr";

/// A message as the sandbox stores it: the `.eml` (trace fields first) in the mailbox's
/// folder, its envelope beside it.
fn store_one(data: &std::path::Path) {
    let dir = passerelle_sandbox::mss::mailbox_dir(data, PATIENT).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let eml = "Return-Path: <jeanne.medecin@passerelle-sandbox.mssante.fr>\r\n\
Received: from client ([127.0.0.1]) by smtp.passerelle-sandbox.mssante.fr; Mon, 01 Jun 2026 10:00:01 +0200\r\n\
From: Jeanne MEDECIN <jeanne.medecin@passerelle-sandbox.mssante.fr>\r\n\
To: <248039263001064@patient.mssante.fr>\r\n\
Subject: =?utf-8?B?Q29tcHRlIHJlbmR1IGTigJlpbWFnZXJpZQ==?=\r\n\
Date: Mon, 01 Jun 2026 10:00:00 +0200\r\n\
Message-ID: <m1@passerelle-sandbox.mssante.fr>\r\n\
X-MSS-MES: FIN\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Bonjour\r\n\
--b1\r\n\
Content-Type: application/zip\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"IHE_XDM.zip\"\r\n\
\r\n\
UEsDBBQAAAAI\r\n\
--b1--\r\n";
    std::fs::write(dir.join("00000000000000000001-TEST.eml"), eml).unwrap();
    std::fs::write(
        dir.join("00000000000000000001-TEST.json"),
        r#"{"mail_from":"jeanne.medecin@passerelle-sandbox.mssante.fr","recipient":"248039263001064@patient.mssante.fr","received_at":"2026-06-01T08:00:01Z","queue_id":"TEST","auth_method":"external","auth_identity":"00B9900001","tls_version":"TLSv1.3","tls_cipher":"TLS13_AES_256_GCM_SHA384","notify":null,"orcpt":null,"ret":null,"envid":null}"#,
    )
    .unwrap();
}

#[test]
fn mailbox_lists_what_arrived_as_json_and_as_a_table() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let o = run(&[
        "sandbox",
        "mailbox",
        PATIENT,
        "--json",
        "--data-dir",
        data_dir,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        json(&o),
        serde_json::json!({"address": PATIENT, "messages": []})
    );

    store_one(data.path());
    // The address in any case.
    let o = run(&[
        "sandbox",
        "mailbox",
        &PATIENT.to_uppercase(),
        "--json",
        "--data-dir",
        data_dir,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["address"], PATIENT);
    let m = &v["messages"][0];
    assert_eq!(m["message_id"], "<m1@passerelle-sandbox.mssante.fr>");
    assert_eq!(m["from"], "jeanne.medecin@passerelle-sandbox.mssante.fr");
    assert_eq!(m["subject"], "Compte rendu d’imagerie");
    assert_eq!(m["received_at"], "2026-06-01T08:00:01Z");
    assert_eq!(m["x_mss"]["X-MSS-MES"], "FIN");
    assert_eq!(m["replies_refused"], true);
    assert_eq!(
        m["attachments"],
        serde_json::json!([{"file_name": "IHE_XDM.zip", "media_type": "application/zip", "size": 9}])
    );

    let o = run(&["sandbox", "mailbox", PATIENT, "--data-dir", data_dir]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(table.contains("1 message(s)"), "{table}");
    assert!(table.contains("Compte rendu d’imagerie"), "{table}");
    assert!(
        table.contains("IHE_XDM.zip (application/zip, 9 bytes)"),
        "{table}"
    );
    assert!(table.contains("the patient may not reply"), "{table}");
}

#[test]
fn mailbox_refuses_what_is_not_an_address() {
    let data = tempfile::tempdir().unwrap();
    let o = run(&[
        "sandbox",
        "mailbox",
        "../../etc",
        "--data-dir",
        data.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a mailbox address"),
        "{}",
        stderr(&o)
    );
}
