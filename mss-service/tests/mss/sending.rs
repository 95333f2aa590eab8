//! The tutorial's letter by MSSanté: to Dr FOUQUEREY and to the patient's own mailbox, the
//! same key sent again, the preview, the directory, CPS mode; and implicit TLS.

use passerelle_bus::subjects;
use passerelle_bus::testing::BusKind;
use passerelle_proto::events::v1::{MssCallAudited, MssMessageSent};
use passerelle_proto::mss::v1::{
    self as api, Audience, Body, MailboxType, SearchDirectoryRequest, SendRequest,
    search_directory_request::By,
};
use passerelle_sandbox::mss::{JEAN_FOUQUEREY, JEANNE_MEDECIN, LPS_APP, SECRETARIAT};

use crate::support::{
    self, Fixture, NIL, PAT_DOUZE, PAT_DOUZE_MAILBOX, WORKSTATION, cps_actor, letter, org_actor,
    pat_douze,
};

passerelle_bus::on_both_buses!(with support::start:
    the_tutorial_letter_reaches_the_doctor_and_the_patient,
    the_same_key_sends_the_same_message_ids,
    preview_shows_the_messages_and_sends_nothing,
    the_directory_finds_dr_fouquerey,
    in_cps_mode_the_card_holder_sends_from_her_mailbox,
);

/// The tutorial: « Partager un document de santé », channels MSSanté Professionnel and
/// MSSanté Citoyen, nothing hidden.
fn tutorial(document_id: &str, key: &str) -> SendRequest {
    SendRequest {
        actor: org_actor(),
        patient: pat_douze(),
        to: vec![JEAN_FOUQUEREY.to_owned()],
        to_patient: true,
        subject: "Courrier standard".to_owned(),
        body: Some(Body {
            text: "Cher confrère, vous trouverez ci-joint le courrier de Mme PAT-DOUZE.".to_owned(),
            html: String::new(),
        }),
        patient_body: Some(Body {
            text: "Bonjour Madame, ci-joint votre courrier.".to_owned(),
            html: String::new(),
        }),
        document: letter(document_id),
        also_in_dmp: true,
        idempotency_key: key.to_owned(),
        ..Default::default()
    }
}

fn by_audience(messages: &[api::SentMessage]) -> (&api::SentMessage, &api::SentMessage) {
    assert_eq!(messages.len(), 2, "{messages:?}");
    let pros = messages
        .iter()
        .find(|m| m.audience == Audience::Professionals as i32)
        .expect("the professionals' message");
    let patient = messages
        .iter()
        .find(|m| m.audience == Audience::Patient as i32)
        .expect("the patient's message");
    (pros, patient)
}

async fn the_tutorial_letter_reaches_the_doctor_and_the_patient(f: &Fixture) {
    let mut sent_events = f.subscribe(subjects::EVENTS_MSS_MESSAGE_SENT).await;
    let mut audits = f.subscribe(subjects::EVENTS_AUDIT_MSS).await;
    let pdf = support::pdf();
    let id = f.upload(&pdf, "application/pdf").await;
    let answer = f
        .send(tutorial(&id, "tutorial-letter-1"))
        .await
        .expect("the letter is sent");
    assert_eq!(answer.rule, "M1");
    assert_eq!(answer.idempotency_key, "tutorial-letter-1");
    let (pros, patient) = by_audience(&answer.messages);
    assert_eq!(pros.recipients, [JEAN_FOUQUEREY]);
    assert_eq!(patient.recipients, [PAT_DOUZE_MAILBOX]);
    assert_ne!(pros.message_id, patient.message_id);
    assert!(
        pros.message_id.ends_with("@passerelle-sandbox.mssante.fr>"),
        "{}",
        pros.message_id
    );

    // Each mailbox holds its audience's message, with the XDM and the PDF.
    let mut packages = Vec::new();
    for (mailbox, sent) in [(JEAN_FOUQUEREY, pros), (PAT_DOUZE_MAILBOX, patient)] {
        let stored = f.mailbox(mailbox);
        assert_eq!(stored.len(), 1, "{mailbox}: {stored:?}");
        let m = &stored[0];
        assert_eq!(m.message_id, sent.message_id, "{mailbox}");
        assert_eq!(m.from, LPS_APP);
        assert_eq!(m.to, [mailbox]);
        assert!(m.cc.is_empty());
        assert_eq!(m.subject, "Courrier standard");
        let attachments: Vec<(&str, &str)> = m
            .attachments
            .iter()
            .map(|a| (a.file_name.as_str(), a.media_type.as_str()))
            .collect();
        assert_eq!(attachments.len(), 2, "{attachments:?}");
        assert_eq!(attachments[0], ("IHE_XDM.zip", "application/zip"));
        assert_eq!(attachments[1].1, "application/pdf");
        assert!(attachments[1].0.ends_with(".pdf"), "{attachments:?}");
        assert_eq!(m.attachments[1].size, pdf.len() as u64, "the PDF itself");
        assert_eq!(m.mss_headers.get("X-MSS-CODECDA").unwrap(), "11490-0");
        assert_eq!(m.mss_headers.get("X-MSS-INS").unwrap(), "O");
        assert_eq!(m.mss_headers.get("X-MSS-NIL").unwrap(), NIL);
        assert!(!m.replies_refused(), "no X-MSS-MES unless asked");
        assert_eq!(m.mss_headers.len(), 3, "{:?}", m.mss_headers);
        let envelope = m.envelope.as_ref().expect("the envelope");
        assert_eq!(envelope.mail_from, LPS_APP);
        assert_eq!(envelope.recipient, mailbox);
        assert_eq!(envelope.auth_method, "external", "SASL EXTERNAL offered");
        assert_ne!(envelope.auth_identity, passerelle_sandbox::pki::CPS_CARD_ID);
        assert!(envelope.tls_version.starts_with("TLSv1."), "{envelope:?}");

        // The IHE_XDM.zip as the receiver gets it passes the conformance check.
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("IHE_XDM.zip");
        support::extract_attachment(&m.file, "IHE_XDM.zip", &zip);
        support::check_xdm(&zip);
        let bytes = std::fs::read(&zip).unwrap();
        let pdf_back = dir.path().join("letter.pdf");
        support::extract_attachment(&m.file, attachments[1].0, &pdf_back);
        assert_eq!(std::fs::read(&pdf_back).unwrap(), pdf);
        packages.push(bytes);
    }
    assert_eq!(packages[0], packages[1], "one package for both audiences");

    // One event per message; the patient's address is never listed.
    let mut events: Vec<MssMessageSent> = vec![
        support::next(&mut sent_events).await,
        support::next(&mut sent_events).await,
    ];
    events.sort_by_key(|e| e.audience != "professionals");
    let (ev_pros, ev_patient) = (&events[0], &events[1]);
    assert_eq!(ev_pros.message_id, pros.message_id);
    assert_eq!(ev_pros.audience, "professionals");
    assert_eq!(ev_pros.recipients, [JEAN_FOUQUEREY]);
    assert!(!ev_pros.to_patient);
    assert_eq!(ev_patient.message_id, patient.message_id);
    assert_eq!(ev_patient.audience, "patient");
    assert!(ev_patient.to_patient);
    assert!(
        ev_patient.recipients.is_empty(),
        "{:?}",
        ev_patient.recipients
    );
    for e in &events {
        assert!(
            e.recipients
                .iter()
                .all(|r| !r.contains("patient.mssante.fr")),
            "{e:?}"
        );
        assert_eq!(e.from, LPS_APP);
        assert_eq!(e.type_code, "11490-0");
        assert_eq!(e.patient.as_ref().unwrap().matricule, PAT_DOUZE.0);
        assert!(!e.request_id.is_empty());
        assert_eq!(e.request_id, events[0].request_id, "one request");
    }
    assert!(
        support::quiet(&mut sent_events).await,
        "two events, no more"
    );

    // One audit record per message sent: no INS, no patient address.
    let records: Vec<MssCallAudited> = vec![
        support::next(&mut audits).await,
        support::next(&mut audits).await,
    ];
    let mut ids: Vec<&str> = records.iter().map(|r| r.message_id.as_str()).collect();
    ids.sort();
    let mut expected = [pros.message_id.as_str(), patient.message_id.as_str()];
    expected.sort();
    assert_eq!(ids, expected);
    for r in &records {
        assert_eq!(r.error, "", "{r:?}");
        assert_eq!(r.authentication, "external");
        assert_eq!((r.recipients, r.refused), (1, 0));
        assert_eq!(r.ins_hash.len(), 64, "a keyed hash of the INS");
        let shown = format!("{r:?}");
        assert!(
            !shown.contains(PAT_DOUZE.0) && !shown.contains("patient.mssante.fr"),
            "{shown}"
        );
    }
    assert_eq!(records[0].ins_hash, records[1].ins_hash);
}

async fn the_same_key_sends_the_same_message_ids(f: &Fixture) {
    let id = f.upload(&support::pdf(), "application/pdf").await;
    let first = f.send(tutorial(&id, "retry-me")).await.unwrap();
    let again = f.send(tutorial(&id, "retry-me")).await.unwrap();
    let ids = |r: &api::SendResponse| {
        let (a, b) = by_audience(&r.messages);
        (a.message_id.clone(), b.message_id.clone())
    };
    assert_eq!(ids(&first), ids(&again), "the same Message-IDs");
    // Both arrived, under the one Message-ID a receiver deduplicates on.
    let stored = f.mailbox(JEAN_FOUQUEREY);
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|m| m.message_id == ids(&first).0));
    let patient = f.mailbox(PAT_DOUZE_MAILBOX);
    assert_eq!(patient.len(), 2);
    assert!(patient.iter().all(|m| m.message_id == ids(&first).1));

    let other = f.send(tutorial(&id, "another-letter")).await.unwrap();
    let (a, b) = ids(&other);
    assert!(
        a != ids(&first).0 && b != ids(&first).1,
        "another key, other ids"
    );
}

fn header<'a>(m: &'a api::PreviewMessage, name: &str) -> Option<&'a str> {
    m.headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

async fn preview_shows_the_messages_and_sends_nothing(f: &Fixture) {
    let id = f.upload(&support::pdf(), "application/pdf").await;
    let request = SendRequest {
        cc: vec![SECRETARIAT.to_owned()],
        patient_may_not_reply: true,
        ..tutorial(&id, "preview-1")
    };
    let preview = f
        .client()
        .await
        .preview(request.clone())
        .await
        .expect("preview")
        .into_inner();
    assert_eq!(preview.rule, "M1");
    assert_eq!(preview.idempotency_key, "preview-1");
    assert_eq!(preview.messages.len(), 2);
    let pros = &preview.messages[0];
    let patient = &preview.messages[1];
    assert_eq!(pros.audience, Audience::Professionals as i32);
    assert_eq!(patient.audience, Audience::Patient as i32);
    assert_eq!(
        (pros.from.as_str(), patient.from.as_str()),
        (LPS_APP, LPS_APP)
    );
    assert_eq!(pros.to, [JEAN_FOUQUEREY]);
    assert_eq!(pros.cc, [SECRETARIAT]);
    assert_eq!(patient.to, [PAT_DOUZE_MAILBOX]);
    assert!(patient.cc.is_empty());
    for m in [pros, patient] {
        assert_eq!(header(m, "Message-ID"), Some(m.message_id.as_str()));
        assert_eq!(header(m, "X-MSS-CODECDA"), Some("11490-0"));
        assert_eq!(header(m, "X-MSS-INS"), Some("O"));
        assert_eq!(header(m, "X-MSS-NIL"), Some(NIL));
        assert_eq!(m.subject, "Courrier standard");
        let names: Vec<&str> = m.attachments.iter().map(|a| a.file_name.as_str()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(names[0], "IHE_XDM.zip");
        assert!(
            m.xdm_entries
                .iter()
                .any(|e| e == "IHE_XDM/SUBSET01/METADATA.XML"),
            "{:?}",
            m.xdm_entries
        );
    }
    assert!(pros.text.contains("Cher confrère"), "{}", pros.text);
    assert!(patient.text.contains("Bonjour Madame"), "{}", patient.text);
    assert_eq!(header(pros, "X-MSS-MES"), None, "for the patient only");
    assert_eq!(header(patient, "X-MSS-MES"), Some("FIN"));

    for mailbox in [JEAN_FOUQUEREY, SECRETARIAT, PAT_DOUZE_MAILBOX] {
        assert!(f.mailbox(mailbox).is_empty(), "{mailbox}: nothing sent");
    }

    // What Send sends is what Preview showed.
    let sent = f.send(request).await.expect("sent");
    let (sent_pros, sent_patient) = by_audience(&sent.messages);
    assert_eq!(sent_pros.message_id, pros.message_id);
    assert_eq!(sent_patient.message_id, patient.message_id);
    let stored = f.mailbox(PAT_DOUZE_MAILBOX);
    assert_eq!(stored.len(), 1);
    assert!(stored[0].replies_refused(), "X-MSS-MES: FIN");
    let secretariat = f.mailbox(SECRETARIAT);
    assert_eq!(secretariat.len(), 1);
    assert_eq!(secretariat[0].cc, [SECRETARIAT]);
    assert!(!secretariat[0].replies_refused());
}

async fn search(f: &Fixture, by: By) -> api::SearchDirectoryResponse {
    f.client()
        .await
        .search_directory(SearchDirectoryRequest { by: Some(by) })
        .await
        .expect("directory search")
        .into_inner()
}

async fn the_directory_finds_dr_fouquerey(f: &Fixture) {
    let his = |p: &api::DirectoryProfessional| {
        p.rpps == "99900063480"
            && p.last_name == "FOUQUEREY"
            && p.addresses
                .iter()
                .any(|m| m.address == JEAN_FOUQUEREY && m.r#type == MailboxType::Personal as i32)
    };
    let by_rpps = search(f, By::Rpps("99900063480".to_owned())).await;
    assert_eq!(by_rpps.professionals.len(), 1, "{by_rpps:?}");
    assert!(his(&by_rpps.professionals[0]), "{by_rpps:?}");
    // By name: he and his homonyms; the caller picks by RPPS or first name.
    let by_name = search(f, By::Name("FOUQUEREY".to_owned())).await;
    assert!(by_name.professionals.iter().any(his), "{by_name:?}");
    assert!(
        by_name
            .professionals
            .iter()
            .all(|p| p.last_name == "FOUQUEREY"),
        "{by_name:?}"
    );
    let by_full_name = search(f, By::Name("FOUQUEREY,JEAN".to_owned())).await;
    assert_eq!(by_full_name.professionals.len(), 1, "{by_full_name:?}");
    assert!(his(&by_full_name.professionals[0]));
    let none = search(f, By::Rpps("10000000008".to_owned())).await;
    assert!(none.professionals.is_empty(), "{none:?}");
}

async fn in_cps_mode_the_card_holder_sends_from_her_mailbox(f: &Fixture) {
    let mut audits = f.subscribe(subjects::EVENTS_AUDIT_MSS).await;
    let id = f.upload(&support::pdf(), "application/pdf").await;
    // To a colleague only (row M2): the document is hidden from the patient.
    let answer = f
        .send(SendRequest {
            actor: cps_actor(WORKSTATION),
            patient: pat_douze(),
            to: vec![JEAN_FOUQUEREY.to_owned()],
            subject: "Courrier standard".to_owned(),
            body: Some(Body {
                text: "Cher confrère, ci-joint mon courrier.".to_owned(),
                html: String::new(),
            }),
            document: Some(api::Document {
                hide_from_patient: true,
                ..letter(&id).unwrap()
            }),
            idempotency_key: "cps-letter-1".to_owned(),
            ..Default::default()
        })
        .await
        .expect("sent with the card");
    assert_eq!(answer.rule, "M2");
    assert_eq!(answer.messages.len(), 1);
    let sent = &answer.messages[0];
    assert!(
        sent.message_id.ends_with("@passerelle-sandbox.mssante.fr>"),
        "{}",
        sent.message_id
    );

    let stored = f.mailbox(JEAN_FOUQUEREY);
    assert_eq!(stored.len(), 1);
    let m = &stored[0];
    assert_eq!(m.message_id, sent.message_id);
    assert_eq!(
        m.from, JEANNE_MEDECIN,
        "the holder's mailbox, from the directory"
    );
    let envelope = m.envelope.as_ref().unwrap();
    assert_eq!(envelope.mail_from, JEANNE_MEDECIN);
    assert_eq!(envelope.tls_version, "TLSv1.2", "a card signs in TLS 1.2");
    assert_eq!(envelope.auth_method, "external");
    assert_eq!(
        envelope.auth_identity,
        passerelle_sandbox::pki::CPS_CARD_ID,
        "the card's authentication certificate"
    );
    assert!(f.mailbox(PAT_DOUZE_MAILBOX).is_empty());

    let record: MssCallAudited = support::next(&mut audits).await;
    assert_eq!(record.message_id, sent.message_id);
    assert_eq!(record.error, "");
    assert!(matches!(
        record.actor.and_then(|a| a.mode),
        Some(passerelle_proto::common::v1::actor::Mode::Cps(_))
    ));
}

/// The operator's SMTPS port: TLS from the first byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_sends_too() {
    let f = support::start_with(
        BusKind::InProcess,
        |_| {},
        |s, mss| {
            s.mss.smtp.mode = mss_service::smtp::TlsMode::Implicit;
            s.mss.smtp.port = Some(mss.implicit_tls_addr().port());
        },
    )
    .await;
    let answer = f
        .send(support::note(&[SECRETARIAT], "implicit-1"))
        .await
        .expect("sent over implicit TLS");
    assert_eq!(answer.rule, "M2");
    let stored = f.mailbox(SECRETARIAT);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].message_id, answer.messages[0].message_id);
    assert!(stored[0].attachments.is_empty());
    assert!(
        !stored[0].mss_headers.contains_key("X-MSS-CODECDA"),
        "no document, no CODECDA"
    );
}
