//! `passerelle mss inbox | fetch | watch` against `passerelle up`, which reads Dr
//! FOUQUEREY's sandbox mailbox: a letter sent to him is listed (JSON fields as documented),
//! written into a folder (the PDF as sent, the XDM zip and the CDA it holds, message.json),
//! existing files are kept unless --force; `watch` prints a letter sent after it began;
//! an unknown mailbox or message is a clear error with exit code 2.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{BIN, json, run, stderr, stdout, terminate, up};

const FOUQUEREY: &str = "jean.fouquerey@passerelle-sandbox.mssante.fr";
const LPS_APP: &str = "lps@passerelle-sandbox.mssante.fr";

fn mss(endpoint: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["mss"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--endpoint", endpoint]);
    run(&all)
}

/// The organisation's user who sends (organisation mode: from the applicative mailbox).
const AS_MEDECIN: &[&str] = &[
    "--ps-id",
    "10001234565",
    "--ps-family-name",
    "MEDECIN",
    "--ps-given-name",
    "JEANNE",
    "--ps-profession",
    "10",
    "--ps-specialty",
    "SM54",
    "--structure-id",
    "999000003",
    "--structure-name",
    "CENTRE DE SANTE PASSERELLE SANDBOX",
];

const PATIENT: &[&str] = &[
    "--ins",
    "248039263001064",
    "--birth-name",
    "PAT-DOUZE",
    "--first-name",
    "NATHALIE",
    "--sex",
    "F",
    "--birth-date",
    "1948-03-21",
];

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

/// Sends the letter `pdf` to Dr FOUQUEREY, acknowledgement asked; answers its Message-ID.
fn send_letter(endpoint: &str, pdf: &std::path::Path, subject: &str, key: &str) -> String {
    let o = mss(
        endpoint,
        &[
            &[
                "send",
                "--json",
                "--to",
                FOUQUEREY,
                "--subject",
                subject,
                "--body",
                "Veuillez trouver ci-joint le courrier.",
                "--pdf",
                pdf.to_str().unwrap(),
                "--title",
                "Lettre de liaison",
                "--type",
                "11490-0",
                // To professionals only: the MSSanté matrix (row M2) wants it hidden from
                // the patient.
                "--hide-from",
                "patient",
                "--ack",
                "--idempotency-key",
                key,
            ][..],
            PATIENT,
            AS_MEDECIN,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    json(&o)["message_id"].as_str().unwrap().to_owned()
}

/// `mss inbox --json` until the message `message_id` is listed with its acknowledgement
/// settled (sent), or fails after a minute.
fn listed(endpoint: &str, message_id: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let o = mss(endpoint, &["inbox", "--mailbox", FOUQUEREY, "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v = json(&o);
        let found = v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["message_id"] == message_id)
            .cloned();
        if let Some(m) = found
            && m["acknowledgement"]["state"] == "SENT"
        {
            return m;
        }
        assert!(Instant::now() < deadline, "not listed (acknowledged): {v}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_letter_received_is_listed_then_fetched_into_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = up(dir.path(), &[]);
    assert!(up.banner.contains("read by mss-service"), "{}", up.banner);
    let pdf = dir.path().join("lettre.pdf");
    std::fs::write(&pdf, PDF).unwrap();
    let message_id = send_letter(&up.mss, &pdf, "Courrier standard", "cli-inbox-1");

    let m = listed(&up.mss, &message_id);
    assert_eq!(m["from"], LPS_APP, "{m}");
    assert_eq!(m["subject"], "Courrier standard", "{m}");
    assert_eq!(m["message_id_derived"], false, "{m}");
    assert_eq!(m["status"], "PROCESSED", "{m}");
    assert!(m["problem"].is_null(), "{m}");
    assert_eq!(m["acknowledgement"]["to"], LPS_APP, "{m}");
    let received = m["received"].as_str().unwrap();
    assert!(
        received.len() >= 20 && received.as_bytes()[10] == b'T' && received.ends_with('Z'),
        "RFC 3339: {received}"
    );
    assert_eq!(m["patient_ins"]["matricule"], "2480392630010", "{m}");
    assert_eq!(m["patient_ins"]["key"], "64", "{m}");
    assert!(!m["patient_ins"]["oid"].as_str().unwrap().is_empty(), "{m}");
    let attachments = m["attachments"].as_array().unwrap();
    let letter = attachments
        .iter()
        .find(|a| a["media_type"] == "application/pdf")
        .unwrap_or_else(|| panic!("the PDF: {m}"));
    assert_eq!(letter["size"], PDF.len(), "{m}");
    assert!(letter["file_name"].as_str().unwrap().ends_with(".pdf"));
    assert!(!letter["document_id"].as_str().unwrap().is_empty());
    assert!(
        attachments.iter().any(|a| a["file_name"] == "IHE_XDM.zip"),
        "{m}"
    );

    // The readable form says the same.
    let o = mss(&up.mss, &["inbox", "--mailbox", FOUQUEREY]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(
        table.contains(&message_id)
            && table.contains("Courrier standard")
            && table.contains("IHE_XDM.zip")
            && table.contains("248039263001064")
            && table.contains("SENT to lps@"),
        "{table}"
    );

    // Fetched into a folder, angle brackets or not.
    let out = dir.path().join("reçu");
    let fetch = |extra: &[&str]| {
        mss(
            &up.mss,
            &[
                &[
                    "fetch",
                    "--mailbox",
                    FOUQUEREY,
                    "--message-id",
                    message_id.trim_matches(['<', '>']),
                    "--output",
                    out.to_str().unwrap(),
                ][..],
                extra,
            ]
            .concat(),
        )
    };
    let o = fetch(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("message.json") && stdout(&o).contains("IHE_XDM/"),
        "{}",
        stdout(&o)
    );
    let pdf_name = letter["file_name"].as_str().unwrap();
    assert_eq!(std::fs::read(out.join(pdf_name)).unwrap(), PDF);
    let zip = std::fs::read(out.join("IHE_XDM.zip")).unwrap();
    assert!(zip.starts_with(b"PK"), "a zip");
    let inside: Vec<_> = std::fs::read_dir(out.join("IHE_XDM"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        inside.iter().any(|p| std::fs::read_to_string(p)
            .is_ok_and(|x| x.contains("ClinicalDocument") && x.contains("Lettre de liaison"))),
        "the CDA among {inside:?}"
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("message.json")).unwrap()).unwrap();
    assert_eq!(meta["message_id"], message_id.as_str(), "{meta}");
    assert_eq!(meta["to"][0], FOUQUEREY, "{meta}");
    let documents = meta["documents"].as_array().unwrap();
    assert!(
        documents
            .iter()
            .any(|d| d["role"] == "xdm-document"
                && d["path"].as_str().unwrap().starts_with("IHE_XDM/")),
        "{meta}"
    );

    // Again: the files there are kept, and said so; --force replaces them.
    std::fs::write(out.join(pdf_name), b"mine").unwrap();
    let o = fetch(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("not overwritten") && stderr(&o).contains(pdf_name),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(out.join(pdf_name)).unwrap(), b"mine");
    let o = fetch(&["--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read(out.join(pdf_name)).unwrap(), PDF);

    terminate(&mut up.child);
}

#[test]
fn watch_prints_a_letter_sent_after_it_began() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = up(dir.path(), &[]);
    let mut watch = Command::new(BIN)
        .args([
            "mss",
            "watch",
            "--mailbox",
            FOUQUEREY,
            "--json",
            "--endpoint",
            &up.mss,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let err_tx = tx.clone();
    let out = watch.stdout.take().unwrap();
    let err = watch.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(("out", line));
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = err_tx.send(("err", line));
        }
    });
    // It says on stderr when the watch has begun.
    let (from, line) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(from, "err");
    assert!(line.contains("Watching"), "{line}");

    let pdf = dir.path().join("lettre.pdf");
    std::fs::write(&pdf, PDF).unwrap();
    let message_id = send_letter(&up.mss, &pdf, "Courrier surveillé", "cli-watch-1");
    let (from, line) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("watch printed the letter");
    assert_eq!(from, "out", "{line}");
    let m: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(m["message_id"], message_id.as_str(), "{m}");
    assert_eq!(m["subject"], "Courrier surveillé", "{m}");
    assert_eq!(m["mailbox"], FOUQUEREY, "{m}");
    assert!(
        m["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["media_type"] == "application/pdf"),
        "{m}"
    );
    let _ = watch.kill();
    let _ = watch.wait();

    terminate(&mut up.child);
}

#[test]
fn an_unknown_mailbox_or_message_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = up(dir.path(), &[]);
    let nobody = "nobody@passerelle-sandbox.mssante.fr";

    let o = mss(&up.mss, &["inbox", "--mailbox", nobody, "--json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    assert!(stderr(&o).contains("MAILBOX_NOT_READ"), "{}", stderr(&o));

    let o = mss(&up.mss, &["watch", "--mailbox", nobody]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("MAILBOX_NOT_READ"), "{}", stderr(&o));

    let out = dir.path().join("out");
    let o = mss(
        &up.mss,
        &[
            "fetch",
            "--mailbox",
            FOUQUEREY,
            "--message-id",
            "<nothing@passerelle-sandbox.mssante.fr>",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("MESSAGE_NOT_FOUND"), "{}", stderr(&o));
    assert!(!out.exists(), "nothing written");

    terminate(&mut up.child);
}

/// A message that reached Dr FOUQUEREY's sandbox mailbox as the operator stores it (a file
/// put in place at once, as the SMTP side does).
fn drop_in_mailbox(data_dir: &std::path::Path, raw: &str) {
    let dir = data_dir.join("mss").join("mailboxes").join(FOUQUEREY);
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join(".dropped.tmp");
    std::fs::write(&tmp, raw.replace('\n', "\r\n")).unwrap();
    std::fs::rename(&tmp, dir.join("zz-dropped.eml")).unwrap();
}

#[test]
fn a_message_without_message_id_and_an_attachment_named_dot_dot_is_fetched_safely() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = up(dir.path(), &[]);
    drop_in_mailbox(
        dir.path(),
        "From: secretariat@passerelle-sandbox.mssante.fr\n\
         To: jean.fouquerey@passerelle-sandbox.mssante.fr\n\
         Subject: Sans identifiant\n\
         Date: Thu, 03 Dec 2026 10:00:00 +0100\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\n\
         \n\
         --b1\n\
         Content-Type: text/plain; charset=utf-8\n\
         \n\
         Bonjour.\n\
         --b1\n\
         Content-Type: application/pdf\n\
         Content-Disposition: attachment; filename=\"..\"\n\
         Content-Transfer-Encoding: base64\n\
         \n\
         JVBERi0xLjQKJSVFT0YK\n\
         --b1--\n",
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    let m = loop {
        let o = mss(&up.mss, &["inbox", "--mailbox", FOUQUEREY, "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v = json(&o);
        if let Some(m) = v["messages"].as_array().unwrap().first() {
            break m.clone();
        }
        assert!(Instant::now() < deadline, "not listed: {v}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(m["subject"], "Sans identifiant", "{m}");
    assert_eq!(m["message_id_derived"], true, "{m}");
    assert!(m["patient_ins"].is_null(), "{m}");
    let message_id = m["message_id"].as_str().unwrap().to_owned();
    let o = mss(&up.mss, &["inbox", "--mailbox", FOUQUEREY]);
    assert!(
        stdout(&o).contains("(no Message-ID: derived from the mailbox, UIDVALIDITY and UID)"),
        "{}",
        stdout(&o)
    );

    let out = dir.path().join("a").join("b");
    let o = mss(
        &up.mss,
        &[
            "fetch",
            "--mailbox",
            FOUQUEREY,
            "--message-id",
            &message_id,
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The service drops folders from a name, not `..` itself: written under a name that
    // stays in the folder, and said so.
    assert!(
        stdout(&o).contains("\"..\" written as _.."),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        std::fs::read(out.join("_..")).unwrap(),
        b"%PDF-1.4\n%%EOF\n"
    );
    assert!(!dir.path().join("a").join("message.json").exists());
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("message.json")).unwrap()).unwrap();
    assert_eq!(meta["message_id_derived"], true, "{meta}");
    assert_eq!(meta["documents"][0]["file_name"], "..", "{meta}");
    assert_eq!(meta["documents"][0]["path"], "_..", "{meta}");

    terminate(&mut up.child);
}
