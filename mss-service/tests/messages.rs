//! The messages of a send, as a receiver sees them: each message is read back by an
//! independent parser (Python's standard `email` package, run as a subprocess), its
//! `IHE_XDM.zip` as received passes `check-xdm.sh`, and the zip's document and the PDF decode
//! to the bytes put in. Then the MSSanté management matrix's refusals, as the caller reads
//! them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use mss_service::address::{Audience, MssAddress};
use mss_service::message::{
    self, AttachedDocument, Body, DocumentAttachments, MessageError, MessageSpec, OutboundMessage,
};
use mss_service::rules::{self, Decision, Flags, PatientIns, Refusal, SendCase};
use passerelle_clinical_documents::codes;
use passerelle_clinical_documents::header::DocumentHeader;
use passerelle_clinical_documents::letter;
use passerelle_clinical_documents::testing::{CountingAllocator, letter, letter_42};
use passerelle_domain::{IdentityStatus, Platform, QualifiedIns};
use serde_json::Value;
use time::macros::datetime;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// One test at a time: one of them measures this binary's allocations.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const FROM: &str = "lps@passerelle-sandbox.mssante.fr";
const DOCTOR: &str = "jean.fouquerey@passerelle-sandbox.mssante.fr";
const SECRETARIAT: &str = "secretariat@passerelle-sandbox.mssante.fr";
const PATIENT: &str = "248039263001064@patient.mssante.fr";
const KEY: &str = "LETTRE-2024-0042";

// ---------------------------------------------------------------------------------------
// Helpers

/// `$PASSERELLE_SHARED_DIR`, else `shared/` beside the project. Missing: the test fails.
fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("PASSERELLE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    assert!(
        dir.join("conformance/check-xdm.sh").is_file(),
        "shared test material not found at {}: set PASSERELLE_SHARED_DIR to the shared/ folder \
         (these tests must not pass without it)",
        dir.display()
    );
    dir
}

/// Runs check-xdm.sh on a package; panics with its report unless valid.
fn check_xdm(file: &Path) {
    let out = Command::new(shared_dir().join("conformance/check-xdm.sh"))
        .arg(file)
        .output()
        .expect("cannot run check-xdm.sh");
    match out.status.code() {
        Some(0) => {}
        Some(1) => panic!(
            "{} not conformant:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout)
        ),
        _ => panic!(
            "check-xdm.sh setup error:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// A PDF of about `n` bytes (its signature, then bytes of every value).
fn pdf(n: usize) -> Bytes {
    let mut v = b"%PDF-1.4\n".to_vec();
    let mut x: u32 = 0x1234_5678;
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push((x >> 24) as u8);
    }
    v.extend_from_slice(b"\n%%EOF\n");
    Bytes::from(v)
}

fn address(s: &str) -> MssAddress {
    MssAddress::parse(s).unwrap()
}

fn qualified(h: &DocumentHeader) -> QualifiedIns {
    h.patient.ins.clone()
}

fn decision(to: &[&str], cc: &[&str], to_patient: bool, flags: Option<Flags>) -> Decision {
    let ins = qualified(&letter_42());
    let to: Vec<MssAddress> = to.iter().map(|a| address(a)).collect();
    let cc: Vec<MssAddress> = cc.iter().map(|a| address(a)).collect();
    rules::judge(&SendCase {
        to: &to,
        cc: &cc,
        to_patient,
        patient: PatientIns::Qualified(&ins),
        document: flags,
    })
    .unwrap()
}

fn spec() -> MessageSpec {
    MessageSpec {
        from: address(FROM),
        reply_to: None,
        subject: "Lettre de liaison — sortie du 2 octobre".into(),
        body: Body::text(
            "Cher confrère,\n\nVous trouverez ci-joint la lettre de liaison de Mme PAT-DOUZE.\n\nBien à vous",
        ),
        patient_body: Some(Body::text(
            "Bonjour Madame,\nci-joint votre lettre de liaison.",
        )),
        nil: Some("DEV935997".into()),
        patient_may_not_reply: true,
        acknowledgement: true,
        idempotency_key: KEY.into(),
        date: datetime!(2024-10-02 11:00 +02:00),
    }
}

fn set() -> passerelle_clinical_documents::xds::SubmissionSetInput {
    message::submission_set(
        KEY,
        passerelle_clinical_documents::testing::SOURCE_ID,
        datetime!(2024-10-02 11:00 +02:00),
        message::default_content_type(),
    )
    .unwrap()
}

/// The attachments of a PDF letter, and the CDA inside them.
fn pdf_letter(header: &DocumentHeader, content: &Bytes) -> (DocumentAttachments, Vec<u8>) {
    let cda = letter::letter_cda(header, letter::PDF, content).unwrap();
    let bytes = cda.bytes.clone();
    let attachments = DocumentAttachments::new(
        vec![AttachedDocument {
            header,
            cda,
            pdf: Some(content.clone()),
        }],
        &set(),
    )
    .unwrap();
    (attachments, bytes)
}

const PARSER: &str = r#"
import email, email.policy, io, json, os, sys, zipfile
path, outdir = sys.argv[1], sys.argv[2]
msg = email.message_from_bytes(open(path, "rb").read(), policy=email.policy.default)

def tree(part):
    node = {"type": part.get_content_type(),
            "defects": [type(d).__name__ for d in part.defects]}
    if part.is_multipart():
        node["parts"] = [tree(p) for p in part.iter_parts()]
        return node
    node["filename"] = part.get_filename()
    node["disposition"] = part.get_content_disposition()
    node["charset"] = part.get_content_charset()
    node["encoding"] = part.get("Content-Transfer-Encoding")
    data = part.get_payload(decode=True)
    node["size"] = len(data)
    if part.get_content_maintype() == "text":
        node["text"] = part.get_content()
    if node["filename"]:
        with open(os.path.join(outdir, node["filename"]), "wb") as f:
            f.write(data)
    if node["type"] == "application/zip":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            node["entries"] = z.namelist()
            z.extractall(os.path.join(outdir, "xdm"))
    return node

print(json.dumps({
    "headers": [[k, str(v)] for k, v in msg.items()],
    "body": tree(msg),
}))
"#;

/// A message as Python's `email` package reads it, its attachments written in `dir`.
struct Parsed {
    headers: Vec<(String, String)>,
    body: Value,
    dir: tempfile::TempDir,
}

impl Parsed {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(name)).unwrap()
    }
}

/// Checks the raw form (CRLF, line lengths, no line starting with a dot), then parses.
fn parse(message: &OutboundMessage) -> Parsed {
    let raw = message.to_vec();
    assert_eq!(raw.len(), message.len());
    assert_raw_form(&raw);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("message.eml");
    std::fs::write(&path, &raw).unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(PARSER)
        .arg(&path)
        .arg(dir.path())
        .output()
        .expect("python3 is needed to read the messages back");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let headers = json["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_owned(),
                h[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let parsed = Parsed {
        headers,
        body: json["body"].clone(),
        dir,
    };
    assert_no_defects(&parsed.body);
    parsed
}

fn assert_no_defects(node: &Value) {
    assert_eq!(node["defects"], Value::Array(vec![]), "{node}");
    if let Some(parts) = node["parts"].as_array() {
        parts.iter().for_each(assert_no_defects);
    }
}

fn assert_raw_form(raw: &[u8]) {
    let text = std::str::from_utf8(raw).expect("a message is ASCII");
    assert!(text.is_ascii());
    assert!(text.ends_with("\r\n"));
    let mut in_headers = true;
    for (i, line) in text.split_terminator("\r\n").enumerate() {
        assert!(!line.contains(['\r', '\n']), "line {i}: a bare CR or LF");
        assert!(!line.starts_with('.'), "line {i} starts with a dot");
        if line.is_empty() {
            in_headers = false;
        }
        if in_headers {
            assert!(line.len() <= 998, "line {i}: {} characters", line.len());
        } else {
            assert!(line.len() <= 78, "line {i}: {line}");
            let base64 = !line.is_empty()
                && line
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
            if base64 {
                assert!(line.len() <= 76, "line {i}: {line}");
            }
        }
    }
}

fn normalise(s: &str) -> String {
    s.replace("\r\n", "\n").trim_end_matches('\n').to_owned()
}

fn parts(body: &Value) -> &Vec<Value> {
    body["parts"].as_array().unwrap()
}

fn names(message: &OutboundMessage) -> Vec<&str> {
    message
        .preview()
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Messages

/// Row M1: a PDF letter to Dr FOUQUEREY, the secretariat in copy, and the patient. Two
/// messages; each read back with its headers, bodies and attachments; the XDM as received
/// passes check-xdm and holds the CDA, the PDF is the PDF.
#[test]
fn a_pdf_letter_to_professionals_and_the_patient() {
    let _serial = serial();
    let header = letter_42();
    let content = pdf(150_000);
    let (attachments, cda) = pdf_letter(&header, &content);
    let d = decision(&[DOCTOR], &[SECRETARIAT], true, Some(Flags::default()));
    assert_eq!(d.row, rules::Row::M1);
    let messages = message::build(&d, &spec(), Some(&attachments)).unwrap();
    assert_eq!(messages.len(), 2);
    let (ps, patient) = (&messages[0], &messages[1]);
    assert_eq!(ps.audience, Audience::Professionals);
    assert_eq!(patient.audience, Audience::Patient);
    assert_eq!(ps.recipients, [address(DOCTOR), address(SECRETARIAT)]);
    assert_eq!(patient.recipients, [address(PATIENT)]);

    assert_eq!(
        names(ps),
        [
            "From",
            "To",
            "Cc",
            "Subject",
            "Date",
            "Message-ID",
            "MIME-Version",
            "Disposition-Notification-To",
            "X-MSS-CODECDA",
            "X-MSS-INS",
            "X-MSS-NIL",
            "Content-Type"
        ]
    );
    assert_eq!(
        names(patient),
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "MIME-Version",
            "Disposition-Notification-To",
            "X-MSS-CODECDA",
            "X-MSS-INS",
            "X-MSS-NIL",
            "X-MSS-MES",
            "Content-Type"
        ]
    );

    for (message, to, body) in [
        (ps, DOCTOR, spec().body.text),
        (patient, PATIENT, spec().patient_body.unwrap().text),
    ] {
        let p = parse(message);
        let preview = message.preview();
        // Every header, in order, as the preview lists it (the subject decoded).
        assert_eq!(p.headers.len(), preview.headers.len());
        for ((name, value), (pname, pvalue)) in p.headers.iter().zip(&preview.headers) {
            assert_eq!(name, pname);
            if name == "Subject" {
                assert_eq!(value, &preview.subject);
            } else {
                assert_eq!(value, pvalue, "{name}");
            }
        }
        assert_eq!(p.header("From"), Some(FROM));
        assert_eq!(p.header("To").unwrap().split(", ").next(), Some(to));
        assert_eq!(
            p.header("Subject"),
            Some("Lettre de liaison — sortie du 2 octobre")
        );
        assert_eq!(p.header("Date"), Some("Wed, 02 Oct 2024 11:00:00 +0200"));
        assert_eq!(p.header("Message-ID"), Some(message.message_id.as_str()));
        assert!(
            message
                .message_id
                .ends_with("@passerelle-sandbox.mssante.fr>")
        );
        assert_eq!(p.header("MIME-Version"), Some("1.0"));
        assert_eq!(p.header("Disposition-Notification-To"), Some(FROM));
        assert_eq!(p.header("X-MSS-CODECDA"), Some("11490-0"));
        assert_eq!(p.header("X-MSS-INS"), Some("O"));
        assert_eq!(p.header("X-MSS-NIL"), Some("DEV935997"));

        // multipart/mixed { multipart/alternative { text, html }, zip, pdf }
        assert_eq!(p.body["type"], "multipart/mixed");
        let top = parts(&p.body);
        assert_eq!(top.len(), 3);
        assert_eq!(top[0]["type"], "multipart/alternative");
        let alternative = parts(&top[0]);
        assert_eq!(alternative[0]["type"], "text/plain");
        assert_eq!(alternative[0]["charset"], "utf-8");
        assert_eq!(alternative[0]["encoding"], "quoted-printable");
        assert_eq!(
            normalise(alternative[0]["text"].as_str().unwrap()),
            normalise(&body)
        );
        assert_eq!(alternative[1]["type"], "text/html");
        let html = alternative[1]["text"].as_str().unwrap();
        assert!(
            html.contains("Bien à vous") || html.contains("votre lettre"),
            "{html}"
        );
        assert_eq!(normalise(html), normalise(&preview.html));

        assert_eq!(top[1]["type"], "application/zip");
        assert_eq!(top[1]["filename"], "IHE_XDM.zip");
        assert_eq!(top[1]["disposition"], "attachment");
        assert_eq!(top[1]["encoding"], "base64");
        assert_eq!(
            top[1]["entries"],
            serde_json::json!([
                "INDEX.HTM",
                "README.TXT",
                "IHE_XDM/SUBSET01/METADATA.XML",
                "IHE_XDM/SUBSET01/DOC0001.XML"
            ])
        );
        assert_eq!(top[1]["entries"], serde_json::json!(preview.xdm_entries));
        check_xdm(&p.dir.path().join("IHE_XDM.zip"));
        assert_eq!(p.file("xdm/IHE_XDM/SUBSET01/DOC0001.XML"), cda);

        assert_eq!(top[2]["type"], "application/pdf");
        assert_eq!(top[2]["filename"], "20241002_Lettre de liaison.pdf");
        assert_eq!(top[2]["disposition"], "attachment");
        assert_eq!(p.file("20241002_Lettre de liaison.pdf"), content);

        // The preview's attachments are what was received.
        let received: Vec<(String, String, u64)> = top[1..]
            .iter()
            .map(|a| {
                (
                    a["filename"].as_str().unwrap().to_owned(),
                    a["type"].as_str().unwrap().to_owned(),
                    a["size"].as_u64().unwrap(),
                )
            })
            .collect();
        let previewed: Vec<(String, String, u64)> = preview
            .attachments
            .iter()
            .map(|a| (a.file_name.clone(), a.media_type.clone(), a.size))
            .collect();
        assert_eq!(received, previewed);
    }

    // The attachments are encoded once: both messages point to the same buffers.
    let large = |m: &OutboundMessage| -> Vec<*const u8> {
        m.chunks()
            .iter()
            .filter(|c| c.len() > 100_000)
            .map(|c| c.as_ptr())
            .collect()
    };
    assert_eq!(large(ps).len(), 2);
    assert_eq!(large(ps), large(patient));

    // The API's preview message carries the same.
    let api = mss_service::message::Preview::clone(ps.preview());
    let proto = passerelle_proto::mss::v1::PreviewMessage::from(&api);
    assert_eq!(
        proto.audience,
        passerelle_proto::mss::v1::Audience::Professionals as i32
    );
    assert_eq!(proto.to, [DOCTOR]);
    assert_eq!(proto.cc, [SECRETARIAT]);
    assert_eq!(proto.headers.len(), 12);
    assert_eq!(proto.attachments[1].media_type, "application/pdf");
    assert_eq!(proto.xdm_entries.len(), 4);
}

/// The same key gives the same messages, byte for byte (a retry is recognised); another key
/// other Message-IDs; the two audiences always differ.
#[test]
fn message_ids_are_stable_for_a_key_and_differ_per_audience() {
    let _serial = serial();
    let header = letter_42();
    let content = pdf(5_000);
    let (attachments, _) = pdf_letter(&header, &content);
    let d = decision(&[DOCTOR], &[], true, Some(Flags::default()));
    let first = message::build(&d, &spec(), Some(&attachments)).unwrap();
    let (again, _) = pdf_letter(&header, &content);
    let second = message::build(&d, &spec(), Some(&again)).unwrap();
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.message_id, b.message_id);
        assert_eq!(a.to_vec(), b.to_vec());
    }
    assert_ne!(first[0].message_id, first[1].message_id);
    let mut other = spec();
    other.idempotency_key = "LETTRE-2024-0043".into();
    let third = message::build(&d, &other, Some(&attachments)).unwrap();
    assert_ne!(third[0].message_id, first[0].message_id);
    assert_ne!(third[1].message_id, first[1].message_id);
    let mut empty = spec();
    empty.idempotency_key = " ".into();
    assert!(matches!(
        message::build(&d, &empty, Some(&attachments)),
        Err(MessageError::EmptyKey)
    ));
}

/// `X-MSS-MES: FIN` only on the patient's message, and only when the patient may not reply.
#[test]
fn x_mss_mes_only_on_the_patients_message_and_only_when_asked() {
    let _serial = serial();
    let d = decision(&[DOCTOR], &[], true, None);
    for may_not_reply in [false, true] {
        let mut s = spec();
        s.patient_may_not_reply = may_not_reply;
        let messages = message::build(&d, &s, None).unwrap();
        let ps = parse(&messages[0]);
        let patient = parse(&messages[1]);
        assert_eq!(ps.header("X-MSS-MES"), None);
        assert_eq!(
            patient.header("X-MSS-MES"),
            may_not_reply.then_some("FIN"),
            "{may_not_reply}"
        );
    }
}

/// A subject with accents, a dash and a symbol outside the BMP, longer than a line, comes
/// back as it was given; a line break in it does not make a header of its own.
#[test]
fn a_non_ascii_subject_round_trips() {
    let _serial = serial();
    let d = decision(&[DOCTOR], &[], false, None);
    for subject in [
        "Compte rendu d'échographie abdomino-pelvienne — résultats normaux, à revoir dans six mois 🩺 Ω",
        "Courrier standard",
        "Résultat =?utf-8?B?eA==?= littéral",
    ] {
        let mut s = spec();
        s.subject = subject.into();
        let messages = message::build(&d, &s, None).unwrap();
        let p = parse(&messages[0]);
        assert_eq!(p.header("Subject"), Some(subject));
        assert_eq!(messages[0].preview().subject, subject);
    }
    let mut s = spec();
    s.subject = "Objet\r\nBcc: tiers@exemple.fr".into();
    let p = parse(&message::build(&d, &s, None).unwrap()[0]);
    assert_eq!(p.header("Bcc"), None);
    assert_eq!(p.header("Subject"), Some("Objet  Bcc: tiers@exemple.fr"));
}

/// Bodies come back exactly: long lines, accents, a line starting with a dot, trailing
/// spaces, `=`; the caller's HTML as given, or the text made HTML and escaped.
#[test]
fn bodies_round_trip() {
    let _serial = serial();
    let d = decision(&[DOCTOR], &[], true, None);
    let text = format!(
        "Ligne longue : {}\n.point en début de ligne\nespaces en fin   \n= égal, <b>pas du HTML</b> & co\n\n{}",
        "é".repeat(120),
        "x".repeat(300)
    );
    let mut s = spec();
    s.body = Body::text(text.clone());
    s.patient_body = Some(Body {
        text: "Bonjour".into(),
        html: Some("<p>Bonjour <strong>Madame</strong></p>".into()),
    });
    let messages = message::build(&d, &s, None).unwrap();
    let ps = parse(&messages[0]);
    let alternative = parts(&parts(&ps.body)[0]);
    assert_eq!(normalise(alternative[0]["text"].as_str().unwrap()), text);
    let html = alternative[1]["text"].as_str().unwrap();
    assert!(
        html.contains("&lt;b&gt;pas du HTML&lt;/b&gt; &amp; co"),
        "{html}"
    );
    assert!(html.contains(".point en début de ligne"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    // Without a document: the alternative alone.
    assert_eq!(parts(&ps.body).len(), 1);
    assert_eq!(ps.header("X-MSS-CODECDA"), None);
    assert_eq!(ps.header("X-MSS-INS"), None);

    let patient = parse(&messages[1]);
    let alternative = parts(&parts(&patient.body)[0]);
    assert_eq!(
        normalise(alternative[0]["text"].as_str().unwrap()),
        "Bonjour"
    );
    assert_eq!(
        normalise(alternative[1]["text"].as_str().unwrap()),
        "<p>Bonjour <strong>Madame</strong></p>"
    );
}

/// A text letter: its CDA in the XDM, no PDF attached.
#[test]
fn a_text_letter_attaches_the_xdm_only() {
    let _serial = serial();
    let header = letter_42();
    let cda = letter::letter_cda(
        &header,
        "text/plain; charset=utf-8",
        "Bien reçu.".as_bytes(),
    )
    .unwrap();
    let bytes = cda.bytes.clone();
    let attachments = DocumentAttachments::new(
        vec![AttachedDocument {
            header: &header,
            cda,
            pdf: None,
        }],
        &set(),
    )
    .unwrap();
    let hidden_from_patient = Flags {
        invisible_patient: true,
        ..Flags::default()
    };
    let d = decision(&[DOCTOR], &[], false, Some(hidden_from_patient));
    assert_eq!(d.row, rules::Row::M2);
    let messages = message::build(&d, &spec(), Some(&attachments)).unwrap();
    assert_eq!(messages.len(), 1);
    let p = parse(&messages[0]);
    let top = parts(&p.body);
    assert_eq!(top.len(), 2);
    assert_eq!(top[1]["filename"], "IHE_XDM.zip");
    check_xdm(&p.dir.path().join("IHE_XDM.zip"));
    assert_eq!(p.file("xdm/IHE_XDM/SUBSET01/DOC0001.XML"), bytes);
}

/// Two documents of the patient in one XDM (DOC0001, DOC0002), both type codes in
/// X-MSS-CODECDA, both PDFs attached under distinct names; with no subject given, the
/// professionals' follows the convention and the patient's is neutral.
#[test]
fn several_documents_share_one_xdm() {
    let _serial = serial();
    let first = letter_42();
    let mut second = letter("DOC-43", datetime!(2024-10-02 15:00 +02:00));
    second.type_code = codes::type_code("11488-4").unwrap().clone();
    second.title = "Lettre de liaison".into();
    let (a, b) = (pdf(20_000), pdf(30_000));
    let cda_a = letter::letter_cda(&first, letter::PDF, &a).unwrap();
    let cda_b = letter::letter_cda(&second, letter::PDF, &b).unwrap();
    let (bytes_a, bytes_b) = (cda_a.bytes.clone(), cda_b.bytes.clone());
    let attachments = DocumentAttachments::new(
        vec![
            AttachedDocument {
                header: &first,
                cda: cda_a,
                pdf: Some(a.clone()),
            },
            AttachedDocument {
                header: &second,
                cda: cda_b,
                pdf: Some(b.clone()),
            },
        ],
        &set(),
    )
    .unwrap();
    assert_eq!(attachments.codecda(), "11490-0,11488-4");
    let d = decision(&[DOCTOR], &[], true, Some(Flags::default()));
    let mut s = spec();
    s.subject = String::new();
    let messages = message::build(&d, &s, Some(&attachments)).unwrap();

    let ps = parse(&messages[0]);
    assert_eq!(ps.header("X-MSS-CODECDA"), Some("11490-0,11488-4"));
    assert_eq!(
        ps.header("Subject"),
        Some("XDM/1.0/DDM+2 documents PAT-DOUZE NATHALIE 21/03/1948")
    );
    let top = parts(&ps.body);
    assert_eq!(top.len(), 4);
    check_xdm(&ps.dir.path().join("IHE_XDM.zip"));
    assert_eq!(ps.file("xdm/IHE_XDM/SUBSET01/DOC0001.XML"), bytes_a);
    assert_eq!(ps.file("xdm/IHE_XDM/SUBSET01/DOC0002.XML"), bytes_b);
    assert_eq!(top[2]["filename"], "20241002_Lettre de liaison.pdf");
    assert_eq!(top[3]["filename"], "20241002_Lettre de liaison (2).pdf");
    assert_eq!(ps.file("20241002_Lettre de liaison.pdf"), a);
    assert_eq!(ps.file("20241002_Lettre de liaison (2).pdf"), b);

    let patient = parse(&messages[1]);
    assert_eq!(patient.header("Subject"), Some("2 documents"));
}

/// With no subject and one document: the convention for professionals (the type's label,
/// the patient's birth name, first given name and birth date), the title for the patient;
/// without a document, a subject is required.
#[test]
fn subject_conventions() {
    let _serial = serial();
    let header = letter_42();
    let (attachments, _) = pdf_letter(&header, &pdf(1_000));
    let d = decision(&[DOCTOR], &[], true, Some(Flags::default()));
    let mut s = spec();
    s.subject = " ".into();
    let messages = message::build(&d, &s, Some(&attachments)).unwrap();
    assert_eq!(
        parse(&messages[0]).header("Subject"),
        Some(
            "XDM/1.0/DDM+Lettre de liaison à la sortie d'un établissement de soins PAT-DOUZE NATHALIE 21/03/1948"
        )
    );
    assert_eq!(
        parse(&messages[1]).header("Subject"),
        Some("Lettre de liaison")
    );
    let e = message::build(&d, &s, None).unwrap_err();
    assert!(matches!(e, MessageError::NoSubject));
    assert!(e.to_string().contains("give a subject"));
}

#[test]
fn a_sender_must_be_a_professional_mailbox_and_nil_a_reference() {
    let _serial = serial();
    let d = decision(&[DOCTOR], &[], false, None);
    let mut s = spec();
    s.from = address(PATIENT);
    let e = message::build(&d, &s, None).unwrap_err();
    assert!(matches!(e, MessageError::FromPatient));
    assert!(!e.to_string().contains("2480392630"));
    let mut s = spec();
    s.nil = Some("DEV 935997".into());
    assert!(matches!(
        message::build(&d, &s, None),
        Err(MessageError::BadNil)
    ));
    let mut s = spec();
    s.nil = None;
    s.acknowledgement = false;
    let p = parse(&message::build(&d, &s, None).unwrap()[0]);
    assert_eq!(p.header("X-MSS-NIL"), None);
    assert_eq!(p.header("Disposition-Notification-To"), None);
}

/// Memory: the attachments of a letter of P bytes are built with less than 3.5 P more than the
/// PDF itself (CDA 1.33 P, the zip 1.33 P — a PDF's CDA is stored —, the encoded zip 1.8 P and
/// PDF 1.37 P, never all at once), and the two audiences' messages add only their own small
/// parts.
#[test]
fn a_large_letter_is_not_copied_per_audience() {
    let _serial = serial();
    let header = letter_42();
    let content = pdf(3 * 1024 * 1024);
    let p = content.len();
    let d = decision(&[DOCTOR], &[SECRETARIAT], true, Some(Flags::default()));
    let base = CountingAllocator::reset_peak();
    let cda = letter::letter_cda(&header, letter::PDF, &content).unwrap();
    let attachments = DocumentAttachments::new(
        vec![AttachedDocument {
            header: &header,
            cda,
            pdf: Some(content.clone()),
        }],
        &set(),
    )
    .unwrap();
    let built = CountingAllocator::current() - base;
    let messages = message::build(&d, &spec(), Some(&attachments)).unwrap();
    let peak = CountingAllocator::peak() - base;
    let after = CountingAllocator::current() - base;
    eprintln!(
        "PDF {p} B: peak +{peak} B ({:.2} P), attachments {built} B ({:.2} P), with both messages {after} B",
        peak as f64 / p as f64,
        built as f64 / p as f64
    );
    assert!(peak < 7 * p / 2 + (1 << 20), "peak {peak} for {p}");
    // What stays: the encoded zip (about 1.8 P) and PDF (1.37 P), once.
    assert!(built < 33 * p / 10, "{built}");
    assert!(
        after - built < 256 * 1024,
        "messages took {}",
        after - built
    );
    assert_eq!(messages.len(), 2);
    assert!(messages[0].len() > 2 * p);
}

// ---------------------------------------------------------------------------------------
// Refusals (the MSSanté management matrix and the patient's rules)

fn refused(
    to: &[&str],
    cc: &[&str],
    to_patient: bool,
    patient: PatientIns,
    flags: Flags,
) -> Refusal {
    let to: Vec<MssAddress> = to.iter().map(|a| address(a)).collect();
    let cc: Vec<MssAddress> = cc.iter().map(|a| address(a)).collect();
    rules::judge(&SendCase {
        to: &to,
        cc: &cc,
        to_patient,
        patient,
        document: Some(flags),
    })
    .unwrap_err()
}

fn hidden(professionals: bool, patient: bool, representatives: bool) -> Flags {
    Flags {
        masque_ps: professionals,
        invisible_patient: patient,
        invisible_rep_legaux: representatives,
        ..Flags::default()
    }
}

#[test]
fn a_document_hidden_from_the_patient_is_not_sent_to_the_patient() {
    let _serial = serial();
    let ins = qualified(&letter_42());
    let r = refused(
        &[],
        &[],
        true,
        PatientIns::Qualified(&ins),
        hidden(false, true, false),
    );
    assert_eq!(r.ids(), ["M3.INVISIBLE_PATIENT"]);
    assert_eq!(
        r.to_string(),
        "MSSanté send refused (rule M3.INVISIBLE_PATIENT, regles-gestion-mssante): a document not visible to the patient (INVISIBLE_PATIENT: Y) cannot be sent to the patient's mailbox; remove the patient's mailbox (to_patient, @patient.mssante.fr recipients), or make the document visible to the patient. Row M3: « Envoi du document sur la boite MSSanté du patient »"
    );
    // With a professional too (row M1), and the patient given by address.
    let r = refused(
        &[DOCTOR, PATIENT],
        &[],
        false,
        PatientIns::Qualified(&ins),
        hidden(false, true, false),
    );
    assert_eq!(r.ids(), ["M1.INVISIBLE_PATIENT"]);
}

#[test]
fn an_unqualified_ins_cannot_reach_the_patients_mailbox() {
    let _serial = serial();
    let mut identity = letter_42().patient.identity;
    identity.status = IdentityStatus::Recuperee;
    let why = QualifiedIns::try_new(&identity, Platform::Production).unwrap_err();
    let r = refused(
        &[],
        &[],
        true,
        PatientIns::NotQualified(&why),
        Flags::default(),
    );
    assert_eq!(r.ids(), ["PAT.INS_NOT_QUALIFIED"]);
    assert!(r.only_ins_not_qualified());
    let text = r.to_string();
    assert!(
        text.starts_with("MSSanté send refused (rule PAT.INS_NOT_QUALIFIED): the patient's mailbox (MSSanté Citoyen) is reached only with a qualified INS: the identity status is recuperee, not qualifiee"),
        "{text}"
    );
    assert!(!text.contains("2480392630"), "{text}");
    // Without any patient identity.
    let r = refused(&[PATIENT], &[], false, PatientIns::Absent, Flags::default());
    assert_eq!(r.ids(), ["PAT.NO_PATIENT"]);
    assert!(r.to_string().contains("give patient"));
}

#[test]
fn a_document_masked_to_professionals_is_not_sent_to_them() {
    let _serial = serial();
    let r = refused(
        &[DOCTOR],
        &[],
        false,
        PatientIns::Absent,
        hidden(true, true, false),
    );
    assert_eq!(r.ids(), ["M2.MASQUE_PS"]);
    assert!(r.to_string().contains(
        "a document masked to professionals (MASQUE_PS: Y) cannot be sent to a professional's, organisation's or applicative mailbox; send it to the patient's mailbox only (row M3)"
    ));
    // To the patient alone it may go (row M3 admits MASQUE_PS).
    let ins = qualified(&letter_42());
    let to: Vec<MssAddress> = vec![];
    let d = rules::judge(&SendCase {
        to: &to,
        cc: &to,
        to_patient: true,
        patient: PatientIns::Qualified(&ins),
        document: Some(hidden(true, false, true)),
    })
    .unwrap();
    assert_eq!(d.row, rules::Row::M3);
}

/// The literal matrix (open question 1): a document the patient may see goes to
/// professionals only if the patient receives it too.
#[test]
fn a_document_visible_to_the_patient_is_not_sent_to_professionals_alone() {
    let _serial = serial();
    let r = refused(
        &[DOCTOR],
        &[SECRETARIAT],
        false,
        PatientIns::Absent,
        Flags::default(),
    );
    assert_eq!(r.ids(), ["M2.INVISIBLE_PATIENT"]);
    assert!(r.to_string().contains(
        "the matrix requires INVISIBLE_PATIENT: Y for row M2; add the patient's mailbox (to_patient, MSSanté Citoyen: row M1), or hide the document from the patient"
    ));
}

#[test]
fn legal_representatives_hidden_documents_go_to_the_patient_alone() {
    let _serial = serial();
    let ins = qualified(&letter_42());
    let r = refused(
        &[DOCTOR],
        &[],
        true,
        PatientIns::Qualified(&ins),
        hidden(false, false, true),
    );
    assert_eq!(r.ids(), ["M1.INVISIBLE_REP_LEGAUX"]);
    assert!(
        r.to_string()
            .contains("send it to the patient only (row M3)")
    );
}

/// The literal matrix (open question 2): to the patient alone, neither under a secret
/// connection nor when the document also goes to the DMP; both faults listed.
#[test]
fn the_patient_alone_neither_under_a_secret_connection_nor_with_the_dmp() {
    let _serial = serial();
    let ins = qualified(&letter_42());
    let flags = Flags {
        connexion_secrete: true,
        dest_dmp: true,
        ..Flags::default()
    };
    let r = refused(&[], &[], true, PatientIns::Qualified(&ins), flags);
    assert_eq!(r.ids(), ["M3.CONNEXION_SECRETE", "M3.DESTDMP"]);
    assert_eq!(
        r.first(),
        Some(rules::RuleId::Matrix(
            rules::Row::M3,
            rules::Flag::ConnexionSecrete
        ))
    );
    let text = r.to_string();
    assert!(text.contains("under the patient's secret connection (CONNEXION_SECRETE: Y) a document cannot be sent to the patient alone; add a professional recipient (row M1)"), "{text}");
    assert!(
        text.contains(
            "a document also sent to the DMP (DESTDMP: Y) cannot go to the patient alone"
        ),
        "{text}"
    );
    // With a professional too, both are admitted (row M1).
    let to = vec![address(DOCTOR)];
    let d = rules::judge(&SendCase {
        to: &to,
        cc: &[],
        to_patient: true,
        patient: PatientIns::Qualified(&ins),
        document: Some(flags),
    })
    .unwrap();
    assert_eq!(d.row, rules::Row::M1);
}

#[test]
fn another_patients_mailbox_is_refused() {
    let _serial = serial();
    let ins = qualified(&letter_42());
    let r = refused(
        &[DOCTOR],
        &["109076322083489@patient.mssante.fr"],
        false,
        PatientIns::Qualified(&ins),
        Flags::default(),
    );
    assert_eq!(r.ids(), ["PAT.ADDRESS_NOT_PATIENT"]);
    let text = r.to_string();
    assert!(text.contains("one patient per message: cc[0] is a patient's mailbox (@patient.mssante.fr) but not the mailbox of the document's patient"), "{text}");
    assert!(!text.contains("109076322"), "{text}");
}

#[test]
fn no_recipient_is_refused() {
    let _serial = serial();
    let r = refused(&[], &[], false, PatientIns::Absent, Flags::default());
    assert_eq!(r.ids(), ["M0.NO_RECIPIENT"]);
    assert_eq!(
        r.to_string(),
        "MSSanté send refused (rule M0.NO_RECIPIENT): no recipient; give at least one address in to or cc, or set to_patient"
    );
}
