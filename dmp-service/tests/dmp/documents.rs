//! The tutorial's workflow on the patient's DMP: authorise, deposit, list, get, mask, reveal,
//! archive, delete, replace the VSM — and a deposit sent again creates nothing.

use futures::StreamExt;
use passerelle_bus::subjects;
use passerelle_proto::dmp::v1::{
    self as api, AuthorizationAction, ChangeStatusRequest, ChangeVisibilityRequest, DepositOptions,
    DepositRequest, DepositVsmRequest, DocumentStatus, GetDocumentRequest, GetStatusRequest,
    ListDocumentsRequest, SetAuthorizationRequest, StatusChange, VisibilityChange,
};
use passerelle_proto::events::v1::DocumentDeposited;
use prost::Message;

use crate::support::{self, Fixture, cps_access, pat_douze};

passerelle_bus::on_both_buses!(with support::start:
    status_authorise_deposit_list_get,
    a_deposit_sent_again_is_already_there,
    masking_and_visibility_follow_the_rights,
    archive_unarchive_delete,
    a_new_vsm_replaces_the_previous_one,
    several_documents_in_one_deposit,
);

const VSM: &str = r#"{
  "chronic_pathologies": [{"label": "Asthme à l'effort", "start": "2012"}],
  "surgical_history": [{"label": "HTA", "start": "2020"}]
}"#;

async fn authorise(f: &Fixture) {
    let mut c = f.client().await;
    c.set_authorization(SetAuthorizationRequest {
        access: cps_access(),
        patient: pat_douze(),
        action: AuthorizationAction::Add as i32,
        attending_physician: false,
    })
    .await
    .expect("authorisation added");
}

async fn deposit_pdf(f: &Fixture, key: &str, options: DepositOptions) -> api::DepositResponse {
    let id = f.upload(&support::pdf(), "application/pdf").await;
    f.client()
        .await
        .deposit(DepositRequest {
            access: cps_access(),
            patient: pat_douze(),
            document_id: id,
            options: Some(DepositOptions {
                title: "Courrier standard".to_owned(),
                type_code: "11490-0".to_owned(),
                idempotency_key: key.to_owned(),
                ..options
            }),
            more: Vec::new(),
        })
        .await
        .expect("deposit accepted")
        .into_inner()
}

async fn list(f: &Fixture, statuses: &[DocumentStatus]) -> Vec<api::DocumentEntry> {
    f.client()
        .await
        .list_documents(ListDocumentsRequest {
            access: cps_access(),
            patient: pat_douze(),
            statuses: statuses.iter().map(|s| *s as i32).collect(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .documents
}

async fn status_authorise_deposit_list_get(f: &Fixture) {
    let mut c = f.client().await;
    let status = c
        .get_status(GetStatusRequest {
            access: cps_access(),
            patient: pat_douze(),
        })
        .await
        .expect("status")
        .into_inner();
    assert_eq!(status.state, api::DmpState::Open as i32);
    authorise(f).await;
    let status = c
        .get_status(GetStatusRequest {
            access: cps_access(),
            patient: pat_douze(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.authorization, api::Authorization::Valid as i32);

    let mut deposited = f
        .bus
        .subscribe(subjects::EVENTS_DMP_DOCUMENT_DEPOSITED)
        .await
        .unwrap();
    let d = deposit_pdf(f, "letter-1", DepositOptions::default()).await;
    assert!(!d.already_present);
    assert!(d.unique_id.starts_with("2.25."), "{}", d.unique_id);
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), deposited.next())
        .await
        .expect("a DocumentDeposited event")
        .unwrap();
    let event = DocumentDeposited::decode(event.payload).unwrap();
    assert_eq!(event.unique_id, d.unique_id);
    assert_eq!(event.patient.unwrap().matricule, support::PAT_DOUZE.0);

    let docs = list(f, &[]).await;
    let entry = docs
        .iter()
        .find(|e| e.unique_id == d.unique_id)
        .expect("the deposited letter is listed");
    assert_eq!(entry.title, "Courrier standard");
    assert_eq!(entry.type_code, "11490-0");
    assert_eq!(entry.status, DocumentStatus::Approved as i32);
    let v = entry.visibility.unwrap();
    assert!(v.professionals && v.patient && v.legal_representatives);

    let got = c
        .get_document(GetDocumentRequest {
            access: cps_access(),
            patient: pat_douze(),
            unique_id: d.unique_id.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert!(got.size > 0);
    let mut store =
        passerelle_proto::documents::v1::document_store_client::DocumentStoreClient::connect(
            f.endpoint(),
        )
        .await
        .unwrap();
    let mut stream = store
        .download(passerelle_proto::documents::v1::DownloadRequest {
            id: got.document_id,
        })
        .await
        .unwrap()
        .into_inner();
    let mut cda = Vec::new();
    while let Some(part) = stream.message().await.unwrap() {
        if let Some(passerelle_proto::documents::v1::download_response::Part::Chunk(b)) = part.part
        {
            cda.extend_from_slice(&b);
        }
    }
    let text = String::from_utf8(cda).unwrap();
    assert!(text.contains("ClinicalDocument"), "a CDA comes back");
    assert!(
        text.contains(&d.unique_id.replace("2.25.", "")),
        "the deposited one"
    );
}

async fn a_deposit_sent_again_is_already_there(f: &Fixture) {
    authorise(f).await;
    let first = deposit_pdf(f, "retry-me", DepositOptions::default()).await;
    let again = deposit_pdf(f, "retry-me", DepositOptions::default()).await;
    assert!(!first.already_present);
    assert!(
        again.already_present,
        "the second deposit says it was there"
    );
    assert_eq!(first.unique_id, again.unique_id);
    let same: Vec<_> = list(f, &[])
        .await
        .into_iter()
        .filter(|e| e.unique_id == first.unique_id)
        .collect();
    assert_eq!(same.len(), 1, "one document, not two");
}

async fn change(f: &Fixture, uid: &str, change: VisibilityChange) -> api::DocumentChangeResponse {
    f.client()
        .await
        .change_visibility(ChangeVisibilityRequest {
            access: cps_access(),
            patient: pat_douze(),
            unique_id: uid.to_owned(),
            change: change as i32,
        })
        .await
        .expect("visibility change")
        .into_inner()
}

async fn masking_and_visibility_follow_the_rights(f: &Fixture) {
    authorise(f).await;
    let d = deposit_pdf(
        f,
        "hidden-letter",
        DepositOptions {
            hide_from_patient: true,
            ..Default::default()
        },
    )
    .await;
    let seen = |docs: &[api::DocumentEntry]| {
        docs.iter()
            .find(|e| e.unique_id == d.unique_id)
            .and_then(|e| e.visibility)
            .unwrap()
    };
    assert!(!seen(&list(f, &[]).await).patient);

    // The DMP refuses a document both invisible to the patient and masked to professionals.
    let refused = f
        .client()
        .await
        .change_visibility(ChangeVisibilityRequest {
            access: cps_access(),
            patient: pat_douze(),
            unique_id: d.unique_id.clone(),
            change: VisibilityChange::MaskFromProfessionals as i32,
        })
        .await
        .unwrap_err();
    let summary = passerelle_service_kit::errors::summarise(&refused);
    assert_eq!(
        summary.reason.as_deref(),
        Some("DMP_REFUSED"),
        "{refused:?}"
    );
    assert!(
        summary.upstream_code.is_some(),
        "the DMP's code: {refused:?}"
    );

    let revealed = change(f, &d.unique_id, VisibilityChange::RevealToPatient).await;
    assert!(!revealed.unchanged);
    assert!(
        seen(&list(f, &[]).await).patient,
        "now visible to the patient"
    );

    let masked = change(f, &d.unique_id, VisibilityChange::MaskFromProfessionals).await;
    assert!(!masked.unchanged);
    let v = seen(&list(f, &[]).await);
    assert!(
        !v.professionals,
        "masked to professionals (its author still sees it)"
    );
    let unmasked = change(f, &d.unique_id, VisibilityChange::UnmaskToProfessionals).await;
    assert!(!unmasked.unchanged);
    assert!(seen(&list(f, &[]).await).professionals);

    let again = change(f, &d.unique_id, VisibilityChange::RevealToPatient).await;
    assert!(again.unchanged, "already visible: nothing sent");
}

async fn set_status(f: &Fixture, uid: &str, c: StatusChange) -> api::DocumentChangeResponse {
    f.client()
        .await
        .change_status(ChangeStatusRequest {
            access: cps_access(),
            patient: pat_douze(),
            unique_id: uid.to_owned(),
            change: c as i32,
        })
        .await
        .expect("status change")
        .into_inner()
}

async fn archive_unarchive_delete(f: &Fixture) {
    authorise(f).await;
    let d = deposit_pdf(f, "to-archive", DepositOptions::default()).await;
    set_status(f, &d.unique_id, StatusChange::Archive).await;
    assert!(
        !list(f, &[])
            .await
            .iter()
            .any(|e| e.unique_id == d.unique_id),
        "an archived document is not in the default (approved) list"
    );
    assert!(
        list(f, &[DocumentStatus::Archived])
            .await
            .iter()
            .any(|e| e.unique_id == d.unique_id)
    );
    set_status(f, &d.unique_id, StatusChange::Unarchive).await;
    assert!(
        list(f, &[])
            .await
            .iter()
            .any(|e| e.unique_id == d.unique_id)
    );
    let deleted = set_status(f, &d.unique_id, StatusChange::Delete).await;
    assert_eq!(
        deleted.entry.unwrap().status,
        DocumentStatus::Deleted as i32
    );
    assert!(
        !list(f, &[])
            .await
            .iter()
            .any(|e| e.unique_id == d.unique_id)
    );
}

async fn a_new_vsm_replaces_the_previous_one(f: &Fixture) {
    authorise(f).await;
    let mut c = f.client().await;
    let vsm = |key: &'static str| {
        let f = &*f;
        async move {
            let id = f.upload(VSM.as_bytes(), "application/json").await;
            f.client()
                .await
                .deposit_vsm(DepositVsmRequest {
                    access: cps_access(),
                    patient: pat_douze(),
                    vsm_document_id: id,
                    idempotency_key: key.to_owned(),
                })
                .await
                .expect("VSM deposited")
                .into_inner()
        }
    };
    let first = vsm("vsm-1").await;
    let second = vsm("vsm-2").await;
    assert_eq!(second.replaced_unique_id, first.unique_id);
    let all = c
        .list_documents(ListDocumentsRequest {
            access: cps_access(),
            patient: pat_douze(),
            statuses: vec![
                DocumentStatus::Approved as i32,
                DocumentStatus::Deprecated as i32,
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .documents;
    let status_of = |uid: &str| all.iter().find(|e| e.unique_id == uid).map(|e| e.status);
    assert_eq!(
        status_of(&first.unique_id),
        Some(DocumentStatus::Deprecated as i32),
        "the old VSM is deprecated"
    );
    assert_eq!(
        status_of(&second.unique_id),
        Some(DocumentStatus::Approved as i32)
    );
}

async fn several_documents_in_one_deposit(f: &Fixture) {
    let options = |title: &str, key: &str| {
        Some(DepositOptions {
            title: title.to_owned(),
            type_code: "11490-0".to_owned(),
            idempotency_key: key.to_owned(),
            ..Default::default()
        })
    };
    let send = || async {
        let first = f.upload(&support::pdf(), "application/pdf").await;
        let second = f.upload(b"Bilan joint.\n", "text/plain").await;
        f.client()
            .await
            .deposit(DepositRequest {
                access: cps_access(),
                patient: pat_douze(),
                document_id: first,
                options: options("Courrier", "pair-1"),
                more: vec![api::DepositDocument {
                    document_id: second,
                    options: options("Bilan", "pair-2"),
                }],
            })
            .await
            .expect("two documents deposited")
            .into_inner()
    };
    // Depositing needs no authorisation (reading does): sent again before it, the
    // registry itself says the documents are there.
    let d = send().await;
    assert!(!d.already_present);
    assert_eq!(d.more.len(), 1);
    assert!(!d.more[0].already_present);
    let again = send().await;
    assert!(again.already_present && again.more[0].already_present);
    authorise(f).await;
    let listed = list(f, &[]).await;
    for uid in [&d.unique_id, &d.more[0].unique_id] {
        let same = listed.iter().filter(|e| &e.unique_id == uid).count();
        assert_eq!(same, 1, "{uid} listed once");
    }
    let third = send().await;
    assert!(third.already_present && third.more[0].already_present);
    assert_eq!(
        list(f, &[]).await.len(),
        listed.len(),
        "nothing deposited twice"
    );
}
