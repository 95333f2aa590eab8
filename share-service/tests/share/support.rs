//! One share-service per test, on a bus of its own (in-process over a data directory, or a
//! NATS server of its own), and the requests' parts.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use passerelle_bus::documents::{DocumentLimits, NewDocument};
use passerelle_bus::testing::{BusKind, NatsServer};
use passerelle_bus::{MessageStream, SharedBus, in_process::InProcessBus, nats::NatsBus, subjects};
use passerelle_proto::common::v1::{
    Actor, IdentityStatus, OrganisationMode, PatientIdentity, Sex, actor,
};
use passerelle_proto::share::v1::{
    Channel, ChannelState, DocumentKind, GetShareRequest, ShareChannelResult, ShareDocument,
    ShareRequest, ShareRequested, ShareStatus, share_service_client::ShareServiceClient,
};
use passerelle_service_kit::settings::{GrpcSettings, KitSettings};
use passerelle_service_kit::{Roles, Shutdown};
use prost::Message;
use share_service::{RunningShareService, ShareSettings};
use tonic::transport::Channel as GrpcChannel;

pub struct Fixture {
    pub kind: BusKind,
    pub bus: SharedBus,
    pub service: Option<(RunningShareService, Shutdown)>,
    pub nats: Option<NatsServer>,
    pub dir: tempfile::TempDir,
}

pub fn settings() -> ShareSettings {
    let mut s = ShareSettings::default();
    s.share.test_platform = true;
    s.share.watch_poll = Duration::from_millis(500);
    s
}

pub fn kit(max_document: u64) -> KitSettings {
    KitSettings {
        grpc: GrpcSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..KitSettings::default().grpc
        },
        documents: DocumentLimits {
            max_size: max_document,
        },
        ..KitSettings::default()
    }
}

async fn open_bus(kind: BusKind, dir: &Path, nats: Option<&NatsServer>) -> SharedBus {
    match kind {
        BusKind::InProcess => Arc::new(InProcessBus::open(&dir.join("bus")).unwrap()),
        BusKind::Nats => {
            let bus = NatsBus::connect(&nats.unwrap().url(), Default::default())
                .await
                .expect("NATS connection");
            bus.ensure_events_stream().await.expect("events stream");
            Arc::new(bus)
        }
    }
}

pub async fn start(kind: BusKind) -> Fixture {
    start_with(kind, DocumentLimits::default().max_size).await
}

/// A fixture whose share-service takes documents up to `max_document` bytes.
pub async fn start_with(kind: BusKind, max_document: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let nats = match kind {
        BusKind::InProcess => None,
        BusKind::Nats => {
            Some(NatsServer::start().expect("nats-server (apt-get install nats-server)"))
        }
    };
    let bus = open_bus(kind, dir.path(), nats.as_ref()).await;
    let mut f = Fixture {
        kind,
        bus,
        service: None,
        nats,
        dir,
    };
    f.start_service(max_document).await;
    f
}

impl Fixture {
    async fn start_service(&mut self, max_document: u64) {
        let shutdown = Shutdown::new();
        let service = share_service::start(
            &kit(max_document),
            &settings(),
            self.bus.clone(),
            Roles::default(),
            shutdown.clone(),
        )
        .await
        .expect("share-service starts");
        self.service = Some((service, shutdown));
    }

    /// Stops share-service and starts it again, on a bus opened again (in-process: the
    /// same data directory; NATS: the same server).
    pub async fn restart(&mut self) {
        let (service, shutdown) = self.service.take().unwrap();
        shutdown.trigger();
        service.wait().await.unwrap();
        if self.kind == BusKind::InProcess {
            // The embedded store is held by one bus at a time: let go of this one.
            let old = std::mem::replace(&mut self.bus, Arc::new(InProcessBus::new()));
            drop(old);
        }
        self.bus = open_bus(self.kind, self.dir.path(), self.nats.as_ref()).await;
        self.start_service(DocumentLimits::default().max_size).await;
    }

    pub fn endpoint(&self) -> String {
        self.service
            .as_ref()
            .and_then(|(s, _)| s.endpoint())
            .expect("a gRPC face")
    }

    pub async fn client(&self) -> ShareServiceClient<GrpcChannel> {
        ShareServiceClient::connect(self.endpoint()).await.unwrap()
    }

    /// Stores `content` in the document store (bypassing the face's upload limit); its id.
    pub async fn store(&self, content: &[u8], media_type: &str) -> String {
        let store = self.bus.documents(DocumentLimits::default()).await.unwrap();
        let chunk: Result<Bytes, std::io::Error> = Ok(Bytes::copy_from_slice(content));
        store
            .put(
                NewDocument {
                    media_type: media_type.to_owned(),
                    file_name: None,
                    declared_size: Some(content.len() as u64),
                },
                Box::pin(futures::stream::iter([chunk])),
            )
            .await
            .unwrap()
            .id
    }

    pub async fn requested_events(&self) -> MessageStream {
        self.bus
            .subscribe(subjects::EVENTS_SHARE_REQUESTED)
            .await
            .unwrap()
    }

    /// Publishes a channel's result, as dmp-service or mss-service does.
    pub async fn result(
        &self,
        share_id: &str,
        attempt: u32,
        channel: Channel,
        state: ChannelState,
        reference: &str,
    ) {
        let event = ShareChannelResult {
            share_id: share_id.to_owned(),
            attempt,
            channel: channel as i32,
            state: state as i32,
            detail: format!("{state:?} in the test"),
            reference: reference.to_owned(),
            reason: if state == ChannelState::Failed {
                "SMTP_UNAVAILABLE".to_owned()
            } else {
                String::new()
            },
        };
        let headers = [(
            subjects::HEADER_MSG_ID.to_owned(),
            format!("{share_id}.{}.{attempt}", channel as i32),
        )]
        .into();
        self.bus
            .publish_durable(
                subjects::EVENTS_SHARE_CHANNEL_RESULT,
                headers,
                Bytes::from(event.encode_to_vec()),
            )
            .await
            .unwrap();
    }

    /// GetShare until `done` holds (the projection runs beside), at most 15 s.
    pub async fn status_until(
        &self,
        share_id: &str,
        done: impl Fn(&ShareStatus) -> bool,
    ) -> ShareStatus {
        let mut client = self.client().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let s = client
                .get_share(GetShareRequest {
                    share_id: share_id.to_owned(),
                })
                .await
                .unwrap()
                .into_inner();
            if done(&s) {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "status never reached: {s:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The next ShareRequested on `events`, within 10 s.
pub async fn next_requested(events: &mut MessageStream) -> (ShareRequested, String) {
    let m = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("a ShareRequested")
        .expect("the subscription is open");
    let id = m
        .headers
        .get(subjects::HEADER_MSG_ID)
        .cloned()
        .unwrap_or_default();
    (ShareRequested::decode(m.payload).unwrap(), id)
}

/// Nothing more on `events` for a while.
pub async fn no_more(events: &mut MessageStream) {
    if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(700), events.next()).await {
        panic!(
            "unexpected ShareRequested: {:?}",
            ShareRequested::decode(m.payload).unwrap()
        );
    }
}

/// A médecin of the sandbox's health centre, in organisation mode.
pub fn actor() -> Option<Actor> {
    Some(Actor {
        mode: Some(actor::Mode::Organisation(OrganisationMode {
            on_behalf_of: "share-tests".to_owned(),
        })),
        professional: Some(passerelle_service_kit::testing::sandbox_medecin()),
    })
}

/// PAT-DOUZE, in the given identity status.
pub fn patient(status: IdentityStatus) -> Option<PatientIdentity> {
    Some(PatientIdentity {
        matricule: "2480392630010".to_owned(),
        key: "64".to_owned(),
        oid: "1.2.250.1.213.1.4.8".to_owned(),
        birth_name: "PAT-DOUZE".to_owned(),
        used_name: String::new(),
        first_names: vec!["NATHALIE".to_owned()],
        sex: Sex::Female as i32,
        birth_date: "1948-03-21".to_owned(),
        birth_place: String::new(),
        status: status as i32,
    })
}

pub const FOUQUEREY: &str = "jean.fouquerey@passerelle-sandbox.mssante.fr";

/// A small but real PDF.
pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec()
}

/// A letter to share on `channels`, to Dr FOUQUEREY.
pub fn request(document_id: &str, channels: &[Channel]) -> ShareRequest {
    ShareRequest {
        actor: actor(),
        patient: patient(IdentityStatus::Qualifiee),
        document: Some(ShareDocument {
            document_id: document_id.to_owned(),
            kind: DocumentKind::Pdf as i32,
            title: "Lettre de liaison".to_owned(),
            type_code: "11490-0".to_owned(),
            ..Default::default()
        }),
        channels: channels.iter().map(|&c| c as i32).collect(),
        to: vec![FOUQUEREY.to_owned()],
        ..Default::default()
    }
}

pub const ALL: [Channel; 3] = [Channel::Dmp, Channel::MssPro, Channel::MssCitizen];

/// The state and rule of `channel` in `status`.
pub fn channel(status: &ShareStatus, channel: Channel) -> (ChannelState, String) {
    let c = status
        .channels
        .iter()
        .find(|c| c.channel == channel as i32)
        .unwrap_or_else(|| panic!("{channel:?} in {status:?}"));
    (ChannelState::try_from(c.state).unwrap(), c.rule.clone())
}
