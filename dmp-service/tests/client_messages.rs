//! The DMP client's parsers read the official response examples into the right values, its
//! errors have the right kinds, and every XDS request it writes passes `check-xds.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use dmp_service::client::envelope::{self, Addressing};
use dmp_service::client::mtom;
use dmp_service::client::transport::RawResponse;
use dmp_service::client::{
    Authorization, DmpError, DmpState, EntryStatus, FindDocuments, deposit, habilitations,
    patient_list, patients, query, retrieve, update,
};
use passerelle_clinical_documents::codes::{self, Code};
use passerelle_clinical_documents::header::*;
use passerelle_clinical_documents::xds::{ContentFacts, DocumentEntry, DocumentFormat, Submission};
use time::macros::datetime;

fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("PASSERELLE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    assert!(
        dir.join("specs/dmp/exemples-messages").is_dir(),
        "shared test material not found at {}: set PASSERELLE_SHARED_DIR",
        dir.display()
    );
    dir
}

fn example(name: &str) -> Vec<u8> {
    let path = shared_dir().join("specs/dmp/exemples-messages").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An HTTP answer read as the client reads it, any action, RelatesTo not checked.
fn answer(
    status: u16,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<envelope::Response, DmpError> {
    envelope::read_response(
        RawResponse {
            status,
            content_type: content_type.map(str::to_owned),
            body,
        },
        None,
        None,
        16 << 20,
    )
}

/// The official answer as a plain SOAP HTTP answer; RelatesTo not checked (it relates to the
/// example's request).
fn read(name: &str) -> envelope::Response {
    answer(
        200,
        Some("application/soap+xml; charset=UTF-8"),
        example(name),
    )
    .unwrap()
}

fn check_xds(name: &str, xml: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, xml).unwrap();
    let out = Command::new(shared_dir().join("conformance/check-xds.sh"))
        .arg(&path)
        .output()
        .expect("check-xds.sh runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{name} not conformant:\n{}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(xml)
    );
}

const VIHF: &str = r#"<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="_t" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml2:Issuer>CN=test</saml2:Issuer></saml2:Assertion>"#;

fn envelope_with(
    action: &str,
    body: impl FnOnce(&mut passerelle_soap::XmlWriter) -> Result<(), DmpError>,
) -> Vec<u8> {
    envelope::write_request(
        &Addressing {
            action,
            to: "https://dmp.test/si-dmp-server/v2/services/registry",
            message_id: uuid::Uuid::new_v4(),
        },
        VIHF,
        body,
    )
    .unwrap()
}

// ---- parsers on the official answers ----

#[test]
fn td02_answer_reads_open_dmp_valid_authorisation_and_attending_physician() {
    let r = read("TD0.2_Test-dexistence_reponse.xml");
    let s = patients::parse_response(r.payload().unwrap()).unwrap();
    assert!(s.exists);
    assert_eq!(s.state, DmpState::Open);
    assert_eq!(s.authorization, Authorization::Valide);
    assert!(s.attending_physician);
    assert_eq!(s.internet_account_open, Some(true));
    assert_eq!(s.attached_to_ens, Some(false));
}

#[test]
fn td02_variants_not_found_closed_forbidden_and_ae() {
    let base = String::from_utf8(example("TD0.2_Test-dexistence_reponse.xml")).unwrap();
    let parse = |xml: String| {
        let r = answer(200, None, xml.into_bytes()).unwrap();
        patients::parse_response(r.payload().unwrap())
    };
    let closed = base
        .replace(
            r#"<statusCode code="active"/>"#,
            r#"<statusCode code="terminated"/>"#,
        )
        .replace(r#"code="VALIDE""#, r#"code="INTERDIT""#)
        // STATUT_MT is the first boolean of the answer.
        .replacen(
            r#"value="true" xsi:type="BL""#,
            r#"value="false" xsi:type="BL""#,
            1,
        );
    let s = parse(closed).unwrap();
    assert_eq!(s.state, DmpState::Closed);
    assert_eq!(s.authorization, Authorization::Interdit);
    assert!(!s.attending_physician);
    let nf = base.replace(
        r#"<queryResponseCode code="OK"/>"#,
        r#"<queryResponseCode code="NF"/>"#,
    );
    let s = parse(nf).unwrap();
    assert!(!s.exists);
    assert_eq!(s.state, DmpState::NotCreated);
    let no_auth = base.replace("AUTORISATION", "AUTRE_CHOSE");
    assert_eq!(parse(no_auth).unwrap().authorization, Authorization::Absent);
    let ae = base.replace(
        r#"<acknowledgement typeCode="AA">"#,
        r#"<acknowledgement typeCode="AE"><acknowledgementDetail><code code="DMPClosed"/><text>DMP ferme</text></acknowledgementDetail>"#,
    );
    match parse(ae).unwrap_err() {
        DmpError::Hl7 { code, text } => {
            assert_eq!(code, "DMPClosed");
            assert_eq!(text, "DMP ferme");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn td03_answer_reads_status_and_context() {
    let r = read("TD0.3_Mise-a-jour-de-lautorisation_reponse.xml");
    let o = habilitations::parse_response(r.payload().unwrap()).unwrap();
    assert_eq!(o.status, "DMPOk");
    assert_eq!(
        o.context,
        "Autorisation déjà présente aucune action effectuée"
    );
}

#[test]
fn td04_answer_reads_the_patients_their_ins_and_flags() {
    let r = read("TD0.4_Liste-des-DMP-autorises_reponse.xml");
    let list = patient_list::parse_response(r.payload().unwrap()).unwrap();
    assert_eq!(list.len(), 2);
    let p = &list[0];
    assert_eq!(p.last_name, "PAT-TROIS");
    assert_eq!(p.first_name, "DOMINIQUE");
    assert_eq!(p.birth_date, "19790328");
    assert_eq!(p.ins().unwrap().id, "153078987658513");
    assert_eq!(p.ins().unwrap().oid, "1.2.250.1.213.1.4.10");
    assert!(!p.attending_physician);
    assert_eq!(p.last_access.as_deref(), Some("20210601094105"));
    assert!(list[1].attending_physician);
    assert_eq!(list[1].ins().unwrap().id, "207058575627097");
}

#[test]
fn td31_answer_reads_every_entry_with_its_codes() {
    let r = read("TD3.1_Recherche-de-document_reponse.xml");
    let entries = query::parse_response(r.payload().unwrap()).unwrap();
    assert_eq!(entries.len(), 21);
    let e = &entries[0];
    assert_eq!(
        e.entry_uuid,
        "urn:uuid:7953af1a-ba1c-11eb-816f-0050569e422e"
    );
    assert_eq!(e.lid, e.entry_uuid);
    assert_eq!(e.status, EntryStatus::Approved);
    assert_eq!(e.repository_id, "1.2.250.1.213.4.1.1.1.2");
    assert_eq!(e.title, "Titre du document de TEST KIT EDITEUR CSharp");
    assert_eq!(e.class_code.code, "10");
    assert_eq!(e.class_code.system, "1.2.250.1.213.1.1.4.1");
    assert_eq!(e.format_code.code, "urn:ihe:iti:xds-sd:text:2008");
    assert_eq!(e.size, Some(2768));
    assert_eq!(
        e.hash.as_deref(),
        Some("af326fb44feb720121d2c277ce10f87407818089")
    );
    assert_eq!(e.creation_time.as_deref(), Some("20100319183244"));
    assert_eq!(e.version.as_deref(), Some("1"));
    let conf: Vec<&str> = e.confidentiality.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(conf, ["N", "INVISIBLE_PATIENT"]);
    assert!(e.has_code("INVISIBLE_PATIENT"));
    assert!(
        e.author_person
            .as_deref()
            .unwrap()
            .starts_with("899900063480^Kit^Editeur")
    );
    assert!(!e.is_signature);
    assert!(e.patient_id.contains("&1.2.250.1.213.1.4.10&ISO^NH"));
    assert!(entries.iter().all(|e| !e.unique_id.is_empty()));
    // Every signature entry of the example is flagged, and only those.
    for e in &entries {
        assert_eq!(
            e.is_signature,
            e.type_code.code == "E1762",
            "{} {:?}",
            e.unique_id,
            e.type_code
        );
    }
}

/// The TD3.2 example is the bare XML part; wrapped in the MTOM message CXF sends, with a
/// document as its XOP part, it reads back byte for byte.
#[test]
fn td32_answer_reads_the_document_from_its_xop_part() {
    let root = example("TD3.2_Consultation-dun-document_reponse.xml");
    let doc = example("TD2.1-DocumentME2.xml");
    let m = mtom::write(
        "urn:ihe:iti:2007:RetrieveDocumentSetResponse",
        root.clone(),
        &[mtom::Part {
            content_id: "b857abb7-a2c3-4db8-bd69-d5ff76826e72-2@urn:ihe:iti:xds-b:2007",
            content_type: "text/xml",
            bytes: doc.clone().into(),
        }],
    );
    let r = envelope::read_response(
        RawResponse {
            status: 200,
            body: m.to_vec(),
            content_type: Some(m.content_type),
        },
        None,
        Some("urn:ihe:iti:2007:RetrieveDocumentSetResponse"),
        16 << 20,
    )
    .unwrap();
    let docs = retrieve::parse_response(r.payload().unwrap(), &r.attachments).unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].unique_id, "1.2.250.1.999.1.1.7898.1.995657292");
    assert_eq!(docs[0].repository_id, "1.2.250.1.213.4.1.1.1.2");
    assert_eq!(docs[0].mime_type, "text/xml");
    assert_eq!(docs[0].content, doc);
    // The bare XML alone names a part that is not there: not a valid answer.
    let bare = read("TD3.2_Consultation-dun-document_reponse.xml");
    assert!(matches!(
        retrieve::parse_response(bare.payload().unwrap(), &bare.attachments),
        Err(DmpError::NotXds { .. })
    ));
}

#[test]
fn td32_inline_base64_answer_is_accepted() {
    let xml = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><RetrieveDocumentSetResponse xmlns="urn:ihe:iti:xds-b:2007"><rs:RegistryResponse xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"/><DocumentResponse><RepositoryUniqueId>1.2</RepositoryUniqueId><DocumentUniqueId>1.2.3</DocumentUniqueId><mimeType>text/xml</mimeType><Document>PGEv
Pg==</Document></DocumentResponse></RetrieveDocumentSetResponse></s:Body></s:Envelope>"#;
    let r = answer(200, Some("application/soap+xml"), xml.as_bytes().to_vec()).unwrap();
    let docs = retrieve::parse_response(r.payload().unwrap(), &r.attachments).unwrap();
    assert_eq!(&docs[0].content[..], b"<a/>");
}

#[test]
fn td21_td33c_td33d_answers_are_success() {
    for name in [
        "TD2.1_Alimentation_reponse.xml",
        "TD3.3c_Supprimer-un-document_reponse.xml",
        "TD3.3d_Archiver-un-document_reponse.xml",
    ] {
        let r = read(name);
        update::parse_registry_response(r.payload().unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

// ---- error kinds ----

#[test]
fn registry_failure_is_a_registry_error_with_its_codes() {
    let xml = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><rs:RegistryResponse xmlns:rs="urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0" status="urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"><rs:RegistryErrorList><rs:RegistryError errorCode="XDSDuplicateUniqueIdInRegistry" codeContext="uniqueId 1.2.3 already registered" location="Document01" severity="urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"/></rs:RegistryErrorList></rs:RegistryResponse></s:Body></s:Envelope>"#;
    let r = answer(200, None, xml.as_bytes().to_vec()).unwrap();
    let e = update::parse_registry_response(r.payload().unwrap()).unwrap_err();
    match &e {
        DmpError::Registry { errors } => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].code, "XDSDuplicateUniqueIdInRegistry");
            assert_eq!(errors[0].severity, "Error");
            assert_eq!(errors[0].context, "uniqueId 1.2.3 already registered");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.upstream_code(), Some("XDSDuplicateUniqueIdInRegistry"));
    assert!(!e.is_transient());
}

#[test]
fn soap_fault_in_an_mtom_answer_is_a_fault() {
    let fault = br#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value><soap:Subcode><soap:Value>soap:XDSDocumentUniqueIdError</soap:Value></soap:Subcode></soap:Code><soap:Reason><soap:Text xml:lang="fr">Document inconnu</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>"#;
    let m = mtom::write("urn:x", &fault[..], &[]);
    let e = answer(500, Some(&m.content_type), m.to_vec()).unwrap_err();
    assert!(
        matches!(&e, DmpError::Fault { code, .. } if code == "XDSDocumentUniqueIdError"),
        "{e:?}"
    );
}

#[test]
fn answers_of_the_wrong_kind_are_not_xds() {
    // A TD0.3 answer given to the ITI-18, ITI-57, TD0.2 and ITI-43 readers.
    let r = read("TD0.3_Mise-a-jour-de-lautorisation_reponse.xml");
    let p = r.payload().unwrap();
    assert!(matches!(
        query::parse_response(p),
        Err(DmpError::NotXds { .. })
    ));
    assert!(matches!(
        update::parse_registry_response(p),
        Err(DmpError::NotXds { .. })
    ));
    assert!(matches!(
        patients::parse_response(p),
        Err(DmpError::NotXds { .. })
    ));
    assert!(matches!(
        retrieve::parse_response(p, &r.attachments),
        Err(DmpError::NotXds { .. })
    ));
    // Not SOAP at all.
    let e = answer(200, Some("application/json"), br#"{"ok":true}"#.to_vec()).unwrap_err();
    assert!(matches!(e, DmpError::NotXds { .. }), "{e:?}");
    // Too large.
    let e = envelope::read_response(
        RawResponse {
            status: 200,
            content_type: None,
            body: example("TD3.1_Recherche-de-document_reponse.xml"),
        },
        None,
        None,
        1000,
    )
    .unwrap_err();
    assert!(matches!(e, DmpError::ResponseTooLarge { .. }), "{e:?}");
}

#[test]
fn web_service_status_other_than_dmpok_is_an_error_with_that_code() {
    let xml = String::from_utf8(example("TD0.3_Mise-a-jour-de-lautorisation_reponse.xml"))
        .unwrap()
        .replace(">DMPOk<", ">DMPAccessDeniedByRightsService<");
    let r = answer(200, None, xml.into_bytes()).unwrap();
    assert!(matches!(
        habilitations::parse_response(r.payload().unwrap()),
        Err(DmpError::Hl7 { code, .. }) if code == "DMPAccessDeniedByRightsService"
    ));
}

// ---- requests pass check-xds ----

fn header(doc: &str, hidden: Vec<HiddenFrom>) -> DocumentHeader {
    let mut h = testing::letter(doc, datetime!(2024-10-02 10:30 +02:00));
    h.hidden_from = hidden;
    h.service_event.start = datetime!(2024-09-23 09:00 +02:00);
    h
}

use passerelle_clinical_documents::testing::{self, CDA};
const XADES: &[u8] = b"<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"/>";

fn two_document_deposit() -> deposit::Deposit {
    let facts = ContentFacts::of_cda(CDA, DocumentFormat::CdaText);
    let set = testing::submission_set_42();
    let first =
        Submission::from_header(&header("DOC-1", vec![HiddenFrom::Patient]), &facts, &set).unwrap();
    let second = DocumentEntry::from_header(
        &header(
            "DOC-2",
            vec![HiddenFrom::Professionals, HiddenFrom::LegalRepresentatives],
        ),
        &facts,
    )
    .unwrap();
    deposit::Deposit::new(first, CDA.to_vec())
        .replacing("urn:uuid:7953af1a-ba1c-11eb-816f-0050569e422e")
        .with_document(deposit::DepositDocument {
            entry: second,
            content: CDA.to_vec().into(),
            replaces: None,
        })
}

#[test]
fn deposit_of_two_documents_with_signature_and_rplc_passes_check_xds() {
    let d = two_document_deposit();
    let prepared = deposit::prepare(&d, "1.2.250.1.999.1.2.3.4.9", XADES.to_vec().into()).unwrap();
    // Inline (base64) for the validator, which does not reassemble MTOM.
    let xml = envelope_with(deposit::ACTION, |w| prepared.write_body(w, true));
    check_xds("deposit.xml", &xml);
    let text = String::from_utf8(xml).unwrap();
    for needle in [
        "urn:ihe:iti:2007:AssociationType:signs",
        "urn:ihe:iti:2007:AssociationType:RPLC",
        r#"targetObject="urn:uuid:7953af1a-ba1c-11eb-816f-0050569e422e""#,
        r#"nodeRepresentation="E1762""#,
        r#"nodeRepresentation="urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1""#,
        r#"nodeRepresentation="http://www.w3.org/2000/09/xmldsig#""#,
        r#"nodeRepresentation="1.2.840.10065.1.12.1.14""#,
        r#"nodeRepresentation="MASQUE_PS""#,
        r#"nodeRepresentation="INVISIBLE_PATIENT""#,
        r#"nodeRepresentation="INVISIBLE_REPRESENTANTS_LEGAUX""#,
        r#"id="Document02""#,
        r#"id="Signature01""#,
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
    // The MTOM form: one xop:Include per part, parts binary, the root part the envelope.
    let xml = envelope_with(deposit::ACTION, |w| prepared.write_body(w, false));
    let parts = prepared.mtom_parts();
    assert_eq!(parts.len(), 3);
    let m = mtom::write(deposit::ACTION, xml.clone(), &parts);
    let a = mtom::read(&m.content_type, m.to_vec()).unwrap();
    assert_eq!(a.root(), &xml[..]);
    let root = String::from_utf8(xml.clone()).unwrap();
    assert_eq!(root.matches("<xop:Include").count(), 3);
    for p in &parts {
        assert_eq!(a.get(&mtom::cid_href(p.content_id)).unwrap(), p.bytes);
    }
}

#[test]
fn a_document_of_another_patient_is_refused() {
    let d = two_document_deposit();
    let mut other = d.more[0].entry.clone();
    other.patient_id = "279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH".into();
    let d = deposit::Deposit::new(d.submission.clone(), CDA.to_vec()).with_document(
        deposit::DepositDocument {
            entry: other,
            content: CDA.to_vec().into(),
            replaces: None,
        },
    );
    assert!(matches!(
        deposit::prepare(&d, "1.2.3", XADES.to_vec().into()),
        Err(DmpError::Request { .. })
    ));
}

#[test]
fn find_and_get_documents_requests_pass_check_xds() {
    let q = FindDocuments {
        statuses: vec![EntryStatus::Approved, EntryStatus::Archived],
        created_from: Some(datetime!(2024-01-01 00:00 UTC)),
        created_to: Some(datetime!(2024-12-31 23:59 UTC)),
        type_codes: vec![codes::type_code("11490-0").unwrap().clone()],
    }
    .to_query(&query::patient_cx("248039263001064", "1.2.250.1.213.1.4.8"));
    let xml = envelope_with(query::ACTION, |w| Ok(q.write(w)?));
    check_xds("find.xml", &xml);
    let text = String::from_utf8(xml).unwrap();
    assert!(
        text.contains("&apos;248039263001064^^^&amp;1.2.250.1.213.1.4.8&amp;ISO^NH&apos;")
            || text.contains("'248039263001064^^^&amp;1.2.250.1.213.1.4.8&amp;ISO^NH'")
    );
    assert!(text.contains("urn:asip:ci-sis:2010:StatusType:Archived"));
    let xml = envelope_with(query::ACTION, |w| {
        Ok(
            passerelle_clinical_documents::xds::query::write_get_documents(
                w,
                &["1.2.250.1.999.1.1.7898.1.995657292".into()],
            )?,
        )
    });
    check_xds("get.xml", &xml);
}

#[test]
fn retrieve_request_passes_check_xds() {
    let xml = envelope_with(retrieve::ACTION, |w| {
        retrieve::write_request(w, "1.2.250.1.213.4.1.1.1.2", "1.2.3.4")
    });
    check_xds("retrieve.xml", &xml);
}

#[test]
fn iti57_status_and_masking_requests_built_from_a_td31_entry_pass_check_xds() {
    let r = read("TD3.1_Recherche-de-document_reponse.xml");
    let entry = query::parse_response(r.payload().unwrap())
        .unwrap()
        .remove(0);
    let set =
        update::update_set(&entry, "1.2.250.1.999.1.2", datetime!(2024-10-02 11:00 UTC)).unwrap();
    let xml = envelope_with(update::ACTION, |w| {
        Ok(set.write_status_update(
            w,
            &entry.entry_uuid,
            EntryStatus::Approved.urn(),
            EntryStatus::Archived.urn(),
        )?)
    });
    check_xds("archive.xml", &xml);
    let text = String::from_utf8(xml).unwrap();
    assert!(text.contains("urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus"));
    assert!(text.contains("urn:asip:ci-sis:2010:StatusType:Archived"));

    let masked: Vec<Code> = ["N", "MASQUE_PS"]
        .iter()
        .map(|c| codes::confidentiality(c).unwrap().clone())
        .collect();
    let xml = envelope_with(update::ACTION, |w| {
        Ok(set.write_metadata_update(w, &entry.stored, &masked)?)
    });
    check_xds("mask.xml", &xml);
    let text = String::from_utf8(xml).unwrap();
    assert!(text.contains(&format!(r#"lid="{}""#, entry.lid)));
    assert!(text.contains("PreviousVersion"));
    assert!(text.contains(r#"nodeRepresentation="MASQUE_PS""#));
    assert!(!text.contains(r#"nodeRepresentation="INVISIBLE_PATIENT""#));
    // Everything else of the entry is repeated.
    assert!(text.contains("repositoryUniqueId"));
    assert!(text.contains("af326fb44feb720121d2c277ce10f87407818089"));
}

#[test]
fn td02_td03_td04_requests_have_the_examples_shape() {
    use passerelle_soap::{Envelope, Limits};
    let xml = envelope_with(patients::ACTION, |w| {
        patients::write_request(
            w,
            "1.2.250.1.999.9",
            "passerelle",
            "248039263001064",
            "1.2.250.1.213.1.4.8",
            datetime!(2024-10-02 11:00 UTC),
        )
    });
    let env = Envelope::parse(&xml, &Limits::default()).unwrap();
    let q = env.body_content().unwrap();
    assert!(q.is(patients::HL7, "PRPA_IN201307UV02"));
    let v = q
        .descendant(patients::HL7, "patientIdentifier")
        .unwrap()
        .child(patients::HL7, "value")
        .unwrap();
    assert_eq!(v.attr("extension"), Some("248039263001064"));
    assert_eq!(v.attr("root"), Some("1.2.250.1.213.1.4.8"));
    assert_eq!(
        q.descendant(patients::HL7, "reasonCode")
            .unwrap()
            .attr("code"),
        Some("TEST_EXST")
    );
    let xml = envelope_with(habilitations::ACTION, |w| {
        habilitations::write_request(
            w,
            habilitations::AuthorizationChange {
                action: habilitations::AuthorizationAction::Remove,
                attending_physician: true,
            },
        )
    });
    let env = Envelope::parse(&xml, &Limits::default()).unwrap();
    let b = env.body_content().unwrap();
    assert_eq!(
        b.child_text(habilitations::NS, "action"),
        Some("SUPPRESSION")
    );
    assert_eq!(
        b.child_text(habilitations::NS, "role"),
        Some("MEDECIN_TRAITANT")
    );
    let xml = envelope_with(patient_list::ACTION, |w| {
        patient_list::write_request(
            w,
            Some(datetime!(2010-10-10 20:20:10 UTC)),
            patient_list::DateType::LastDocument,
        )
    });
    let env = Envelope::parse(&xml, &Limits::default()).unwrap();
    let b = env.body_content().unwrap();
    assert_eq!(
        b.child_text(patient_list::NS, "startDate"),
        Some("20101010202010")
    );
    assert_eq!(b.child_text(patient_list::NS, "dateType"), Some("LASTDOC"));
}
