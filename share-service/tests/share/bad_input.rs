//! What a caller gets for a request that cannot be shared, or a channel a rule forbids.

use passerelle_bus::testing::BusKind;
use passerelle_proto::common::v1::IdentityStatus;
use passerelle_proto::share::v1::{
    Channel, ChannelState, GetShareRequest, RetryShareRequest, ShareRequest,
};
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::{self, ALL, Fixture, channel, request};

fn reason_and_field(status: &tonic::Status) -> (String, String) {
    let d = status.get_error_details();
    (
        d.error_info().map(|i| i.reason.clone()).unwrap_or_default(),
        d.bad_request()
            .and_then(|b| b.field_violations.first())
            .map(|v| v.field.clone())
            .unwrap_or_default(),
    )
}

/// A change making a good request bad.
type Edit = Box<dyn Fn(&mut ShareRequest)>;

async fn refused(f: &Fixture, req: ShareRequest) -> tonic::Status {
    f.client().await.share(req).await.expect_err("refused")
}

async fn invalid_requests_name_their_field(f: &Fixture) {
    let doc = f.store(&support::pdf(), "application/pdf").await;
    let mut events = f.requested_events().await;
    let cases: Vec<(&str, Edit)> = vec![
        ("channels", Box::new(|r| r.channels.clear())),
        ("channels[1]", Box::new(|r| r.channels = vec![1, 7])),
        ("channels[1]", Box::new(|r| r.channels = vec![1, 1])),
        ("channels[0]", Box::new(|r| r.channels = vec![0])),
        ("document", Box::new(|r| r.document = None)),
        (
            "document.document_id",
            Box::new(|r| r.document.as_mut().unwrap().document_id.clear()),
        ),
        (
            "document.kind",
            Box::new(|r| r.document.as_mut().unwrap().kind = 0),
        ),
        (
            "document.type_code",
            Box::new(|r| r.document.as_mut().unwrap().type_code.clear()),
        ),
        ("to[0]", Box::new(|r| r.to = vec!["not an address".into()])),
        ("actor", Box::new(|r| r.actor = None)),
    ];
    for (field, edit) in cases {
        let mut req = request(&doc, &ALL);
        edit(&mut req);
        let status = refused(f, req).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(
            reason_and_field(&status),
            ("INVALID_REQUEST".to_owned(), field.to_owned()),
            "{status:?}"
        );
    }
    let mut req = request(&doc, &ALL);
    req.patient.as_mut().unwrap().key = "99".into();
    let status = refused(f, req).await;
    assert_eq!(reason_and_field(&status).0, "INVALID_PATIENT");
    // Nothing refused was published.
    support::no_more(&mut events).await;
}

async fn an_unknown_document_or_share_is_not_found(f: &Fixture) {
    let status = refused(f, request("6f1c1a43-51a5-4a3e-9d3b-0c6f1f6b1f00", &ALL)).await;
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(reason_and_field(&status).0, "DOCUMENT_NOT_FOUND");
    assert!(
        status.message().contains("upload it again"),
        "{}",
        status.message()
    );

    let mut client = f.client().await;
    let unknown = "0b0e7f1e-8c7a-4f57-a0a4-3a0d7c3f7e11";
    let status = client
        .get_share(GetShareRequest {
            share_id: unknown.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(reason_and_field(&status).0, "SHARE_NOT_FOUND");
    let status = client
        .retry_share(RetryShareRequest {
            share_id: unknown.into(),
            channel: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .watch_share(GetShareRequest {
            share_id: unknown.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .get_share(GetShareRequest {
            share_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        reason_and_field(&status),
        ("INVALID_REQUEST".into(), "share_id".into())
    );
}

async fn a_document_of_another_kind_is_refused(f: &Fixture) {
    let text = f.store(b"Lettre", "text/plain").await;
    let status = refused(f, request(&text, &ALL)).await;
    assert_eq!(
        reason_and_field(&status),
        ("INVALID_REQUEST".to_owned(), "document.kind".to_owned())
    );
    assert!(
        status.message().contains("text/plain, not application/pdf"),
        "{}",
        status.message()
    );
}

async fn a_document_over_the_limit_is_refused(kind: BusKind) {
    let f = support::start_with(kind, 64).await;
    let doc = f.store(&support::pdf(), "application/pdf").await;
    let status = refused(&f, request(&doc, &ALL)).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(reason_and_field(&status).0, "DOCUMENT_TOO_LARGE");
}

async fn the_channels_rules_refuse_a_channel_the_others_go_on(f: &Fixture) {
    let doc = f.store(&support::pdf(), "application/pdf").await;
    let mut client = f.client().await;
    let mut events = f.requested_events().await;

    // The citizen channel without a qualified INS.
    let mut req = request(&doc, &[Channel::Dmp, Channel::MssCitizen]);
    req.patient = support::patient(IdentityStatus::Validee);
    let s = client.share(req).await.unwrap().into_inner();
    assert_eq!(
        channel(&s, Channel::MssCitizen),
        (ChannelState::Refused, "CITIZEN_NEEDS_QUALIFIED_INS".into())
    );
    assert_eq!(channel(&s, Channel::Dmp).0, ChannelState::Pending);
    assert!(!s.finished);
    let (event, _) = support::next_requested(&mut events).await;
    assert_eq!(event.channels, vec![Channel::Dmp as i32]);
    assert!(event.mss.is_none());

    // A document hidden from the patient, to the patient.
    let mut req = request(&doc, &[Channel::Dmp, Channel::MssCitizen]);
    req.document.as_mut().unwrap().hide_from_patient = true;
    let s = client.share(req).await.unwrap().into_inner();
    let citizen = s
        .channels
        .iter()
        .find(|c| c.channel == Channel::MssCitizen as i32)
        .unwrap();
    assert_eq!(citizen.rule, "CITIZEN_DOCUMENT_HIDDEN");
    assert!(
        citizen.detail.contains("visible to the patient"),
        "{}",
        citizen.detail
    );
    assert_eq!(channel(&s, Channel::Dmp).0, ChannelState::Pending);
    support::next_requested(&mut events).await;

    // MSSanté Professionnel without a professional.
    let mut req = request(&doc, &[Channel::Dmp, Channel::MssPro]);
    req.to.clear();
    let s = client.share(req).await.unwrap().into_inner();
    assert_eq!(
        channel(&s, Channel::MssPro),
        (ChannelState::Refused, "MSS_PRO_NEEDS_RECIPIENT".into())
    );
    support::next_requested(&mut events).await;

    // The MSSanté matrix refuses the send: both MSSanté channels, the DMP goes on.
    let mut req = request(&doc, &ALL);
    req.document
        .as_mut()
        .unwrap()
        .hide_from_legal_representatives = true;
    let s = client.share(req).await.unwrap().into_inner();
    for c in [Channel::MssPro, Channel::MssCitizen] {
        assert_eq!(
            channel(&s, c),
            (ChannelState::Refused, "M1.INVISIBLE_REP_LEGAUX".into())
        );
    }
    assert_eq!(channel(&s, Channel::Dmp).0, ChannelState::Pending);
    let (event, _) = support::next_requested(&mut events).await;
    assert_eq!(event.channels, vec![Channel::Dmp as i32]);

    // Every channel refused: finished at once, nothing to publish.
    let mut req = request(&doc, &[Channel::MssPro]);
    req.to.clear();
    let s = client.share(req).await.unwrap().into_inner();
    assert!(s.finished, "{s:?}");
    support::no_more(&mut events).await;
}

passerelle_bus::on_both_buses!(with support::start:
    invalid_requests_name_their_field,
    an_unknown_document_or_share_is_not_found,
    a_document_of_another_kind_is_refused,
    the_channels_rules_refuse_a_channel_the_others_go_on,
);

mod limit {
    passerelle_bus::on_both_buses!(a_document_over_the_limit_is_refused);
    use super::a_document_over_the_limit_is_refused;
}
