//! `passerelle mss …` against `passerelle up`: the tutorial's professional finds Dr FOUQUEREY
//! in the directory, previews then sends a PDF letter to him and to the patient's own mailbox
//! (organisation mode), and the sandbox shows both mailboxes holding it; mistakes exit 2 with
//! a clear message and send nothing; an imported extraction file fills in the directory.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{json, run, stderr, terminate, up};

const INS: &str = "248039263001064";
const FOUQUEREY: &str = "jean.fouquerey@passerelle-sandbox.mssante.fr";
const PATIENT_BOX: &str = "248039263001064@patient.mssante.fr";

fn mss(endpoint: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["mss"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--endpoint", endpoint]);
    run(&all)
}

/// The organisation's user who sends (organisation mode).
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
    INS,
    "--birth-name",
    "PAT-DOUZE",
    "--first-name",
    "NATHALIE",
    "--sex",
    "F",
    "--birth-date",
    "1948-03-21",
];

fn mailbox(data_dir: &std::path::Path, address: &str) -> serde_json::Value {
    let o = run(&[
        "sandbox",
        "mailbox",
        address,
        "--json",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    json(&o)
}

#[test]
fn a_letter_to_the_doctor_found_in_the_directory_and_to_the_patient() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = up(dir.path(), &[]);

    let o = mss(
        &up.mss,
        &["directory", "--name", "FOUQUEREY,JEAN", "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    let doctor = &v["professionals"][0];
    assert_eq!(doctor["rpps"], "99900063480", "{v}");
    assert_eq!(doctor["addresses"][0]["address"], FOUQUEREY, "{v}");
    let o = mss(&up.mss, &["directory", "--rpps", "99900063480", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["professionals"][0]["last_name"], "FOUQUEREY");

    let pdf = dir.path().join("lettre.pdf");
    std::fs::write(
        &pdf,
        b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n",
    )
    .unwrap();
    let send = |extra: &[&str]| {
        mss(
            &up.mss,
            &[
                &[
                    "send",
                    "--json",
                    "--to",
                    FOUQUEREY,
                    "--citizen",
                    "--subject",
                    "Courrier standard",
                    "--body",
                    "Veuillez trouver ci-joint le courrier.",
                    "--pdf",
                    pdf.to_str().unwrap(),
                    "--title",
                    "Lettre de liaison",
                    "--type",
                    "11490-0",
                    "--no-reply",
                    "--idempotency-key",
                    "cli-test-letter-1",
                ][..],
                PATIENT,
                AS_MEDECIN,
                extra,
            ]
            .concat(),
        )
    };

    // The preview: the exact messages, nothing sent.
    let o = send(&["--preview"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let preview = json(&o);
    assert_eq!(preview["rule"], "M1");
    let messages = preview["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{preview}");
    let patient_message = messages
        .iter()
        .find(|m| m["audience"] == "patient")
        .unwrap();
    let headers = patient_message["headers"].as_array().unwrap();
    assert!(
        headers
            .iter()
            .any(|h| h["name"] == "X-MSS-MES" && h["value"] == "FIN"),
        "{patient_message}"
    );
    assert!(
        mailbox(dir.path(), FOUQUEREY)["messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Sent, its professional recipient checked in the directory: the green confirmation, then
    // both mailboxes hold it.
    let o = send(&["--check-directory"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let sent = json(&o);
    assert_eq!(sent["rule"], "M1");
    let recipients: Vec<&str> = sent["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(recipients, [FOUQUEREY, PATIENT_BOX]);
    // The same Message-IDs as the preview: one key, one message per audience.
    assert_eq!(sent["message_id"], preview["messages"][0]["message_id"]);
    for address in [FOUQUEREY, PATIENT_BOX] {
        let v = mailbox(dir.path(), address);
        let m = &v["messages"][0];
        assert_eq!(m["subject"], "Courrier standard", "{v}");
        assert_eq!(m["from"], "lps@passerelle-sandbox.mssante.fr", "{v}");
        let names: Vec<&str> = m["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["file_name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"IHE_XDM.zip"), "{v}");
        assert!(names.iter().any(|n| n.ends_with(".pdf")), "{v}");
    }

    terminate(&mut up.child);
}

#[test]
fn mistakes_exit_2_and_send_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = up(dir.path(), &[]);
    let text = dir.path().join("lettre.txt");
    std::fs::write(&text, "Chère consœur,\n").unwrap();
    let base = |extra: &[&str]| {
        let mut args = vec![
            "send",
            "--subject",
            "Courrier standard",
            "--body",
            "Bonjour",
        ];
        args.extend_from_slice(AS_MEDECIN);
        args.extend_from_slice(extra);
        mss(&up.mss, &args)
    };

    // No recipient: said before anything is uploaded.
    let o = base(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no recipient"), "{}", stderr(&o));

    // An address that is not one.
    let o = base(&["--to", "fouquerey.passerelle-sandbox.mssante.fr"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("to[0]"), "{}", stderr(&o));

    // The patient's mailbox with an INS that is not qualified.
    let o = base(
        &[
            &["--citizen", "--identity-status", "recuperee"][..],
            PATIENT,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("INS_NOT_QUALIFIED"), "{}", stderr(&o));

    // A letter hidden from the patient sent to the patient.
    let o = base(
        &[
            &[
                "--citizen",
                "--text",
                text.to_str().unwrap(),
                "--title",
                "Lettre",
                "--type",
                "11490-0",
                "--hide-from",
                "patient",
            ][..],
            PATIENT,
        ]
        .concat(),
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("MSS_RULE_REFUSED") && e.contains("INVISIBLE_PATIENT"),
        "{e}"
    );

    // An unknown mailbox beside a known one: refused by the server, and nobody receives it.
    let o = base(&[
        "--to",
        FOUQUEREY,
        "--to",
        "nobody@passerelle-sandbox.mssante.fr",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("SMTP_REFUSED") && e.contains("5.1.1"), "{e}");
    assert!(
        mailbox(dir.path(), FOUQUEREY)["messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The same with a typo, checked in the directory: refused before the server is reached,
    // the address named by its place.
    let o = base(&[
        "--check-directory",
        "--to",
        FOUQUEREY,
        "--to",
        "jean.fouqerey@passerelle-sandbox.mssante.fr",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("INVALID_ADDRESS")
            && e.contains("to[1] is not an MSSanté mailbox in the directory")
            && e.contains("passerelle mss directory"),
        "{e}"
    );
    assert!(!e.contains("SMTP"), "{e}");
    assert!(
        mailbox(dir.path(), FOUQUEREY)["messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    terminate(&mut up.child);
}

const EXTRACTION_HEADER: &str = "Type de BAL|Adresse BAL|Type Identifiant PP|Identifiant PP|Identification nationale PP|Type identifiant structure|Identification Structure|Service de rattachement|Civilité d'exercice|Nom d'exercice|Prénom d'exercice|Catégorie profession|Libellé de catégorie profession|Code Profession|Libellé Profession|Code savoir-faire|Libellé savoir-faire|Dématérialisation|Raison Sociale structure BAL|Enseigne commerciale structure BAL|L2COMPLEMENTLOCALISATION|L3COMPLEMENTDISTRIBUTION|L4NUMEROVOIE|L4COMPLEMENTNUMEROVOIE|NL4TYPEVOIE|L4LIBELLEVOIE|L5LIEUDITMENTION|L6LIGNEACHEMINEMENT|Code postal|Département|Pays|";
const ZOLA: &str = "emile.zola@passerelle-sandbox.mssante.fr";

#[test]
fn an_imported_extraction_file_fills_in_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = up(dir.path(), &[]);
    let names = |o: &std::process::Output| -> Vec<String> {
        json(o)["professionals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["last_name"].as_str().unwrap().to_owned())
            .collect()
    };

    // Dr Émile ZOLA is in no directory yet.
    let o = mss(&up.mss, &["directory", "--name", "ZOLA", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(names(&o).is_empty(), "{}", json(&o));

    // The extraction file (as the zip holds it): him, and a line cut short.
    let file = dir
        .path()
        .join("Extraction_Correspondance_MSSante_202601050600.txt");
    std::fs::write(
        &file,
        format!(
            "{EXTRACTION_HEADER}\r\nPER|{ZOLA}|8|99900099990|899900099990|||||ZOLA|Émile|C|Civil|10|Médecin|SM54|Médecine générale|O|CABINET ZOLA||||||||||75001|75|FRANCE|\r\nPER|\r\n"
        ),
    )
    .unwrap();
    let o = mss(
        &up.mss,
        &["import-directory", file.to_str().unwrap(), "--json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = json(&o);
    assert_eq!(
        report["source"],
        "Extraction_Correspondance_MSSante_202601050600.txt"
    );
    assert_eq!(
        (
            report["lines"].as_u64(),
            report["mailboxes"].as_u64(),
            report["rejected"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "{report}"
    );
    assert_eq!(report["rejected_lines"][0]["line"], 3, "{report}");

    // The API (the sandbox) does not know him: the imported file answers, by name and by
    // address; the API still answers for Dr FOUQUEREY.
    let o = mss(&up.mss, &["directory", "--name", "ZOLA", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["professionals"][0]["rpps"], "99900099990", "{v}");
    assert_eq!(v["professionals"][0]["addresses"][0]["address"], ZOLA);
    let o = mss(&up.mss, &["directory", "--address", ZOLA, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(names(&o), ["ZOLA"]);
    let o = mss(
        &up.mss,
        &["directory", "--name", "FOUQUEREY,JEAN", "--json"],
    );
    assert_eq!(names(&o), ["FOUQUEREY"]);

    // The owner of the health centre's mailbox, as a table.
    let o = mss(
        &up.mss,
        &[
            "directory",
            "--address",
            "lps@passerelle-sandbox.mssante.fr",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = support::stdout(&o);
    assert!(
        table.contains("CENTRE DE SANTE PASSERELLE SANDBOX (organisation)")
            && table.contains("APP  lps@passerelle-sandbox.mssante.fr"),
        "{table}"
    );

    // A letter to him passes the directory check (previewed: the sandbox's mail server only
    // knows its own directory).
    let mut args = vec![
        "send",
        "--preview",
        "--check-directory",
        "--to",
        ZOLA,
        "--subject",
        "Courrier",
        "--body",
        "Bonjour",
    ];
    args.extend_from_slice(AS_MEDECIN);
    let o = mss(&up.mss, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // A file that is not an extraction: refused, saying why; the import in place stays.
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, "Nom|Prénom\nA|B\n").unwrap();
    let o = mss(&up.mss, &["import-directory", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("INVALID_DOCUMENT") && e.contains("Type de BAL"),
        "{e}"
    );
    let o = mss(&up.mss, &["directory", "--name", "ZOLA", "--json"]);
    assert_eq!(names(&o), ["ZOLA"]);

    terminate(&mut up.child);
}
