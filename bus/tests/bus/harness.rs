//! One harness per implementation: how to get connections to the same bus, and how to read
//! what the durable store kept.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use passerelle_bus::in_process::InProcessBus;
use passerelle_bus::nats::{NatsBus, NatsOptions};
use passerelle_bus::subjects::{DOCUMENTS_BUCKET, EVENTS_STREAM};
use passerelle_bus::testing::{BusKind, NatsServer};
use passerelle_bus::{Headers, Message, MessageStream, SharedBus};

pub trait Harness: Sized {
    async fn start() -> Self;
    /// Another participant on the same bus: a new connection on NATS, the same bus in-process.
    async fn connect(&self) -> SharedBus;
    /// The durable events stored for `subject`, read back from the store itself.
    async fn stored_events(&self, subject: &str) -> Vec<Message>;
    /// How many pieces (files, object-store messages) the document store holds, read from
    /// the store itself: what an upload left behind.
    async fn stored_document_pieces(&self) -> usize;
}

/// The harness of `kind`, for [`passerelle_bus::on_both_buses!`].
pub async fn start(kind: BusKind) -> AnyHarness {
    match kind {
        BusKind::InProcess => AnyHarness::InProcess(InProcess::start().await),
        BusKind::Nats => AnyHarness::Nats(Nats::start().await),
    }
}

pub enum AnyHarness {
    InProcess(InProcess),
    Nats(Nats),
}

impl Harness for AnyHarness {
    async fn start() -> Self {
        start(BusKind::InProcess).await
    }

    async fn connect(&self) -> SharedBus {
        match self {
            AnyHarness::InProcess(h) => h.connect().await,
            AnyHarness::Nats(h) => h.connect().await,
        }
    }

    async fn stored_events(&self, subject: &str) -> Vec<Message> {
        match self {
            AnyHarness::InProcess(h) => h.stored_events(subject).await,
            AnyHarness::Nats(h) => h.stored_events(subject).await,
        }
    }

    async fn stored_document_pieces(&self) -> usize {
        match self {
            AnyHarness::InProcess(h) => h.stored_document_pieces().await,
            AnyHarness::Nats(h) => h.stored_document_pieces().await,
        }
    }
}

/// The in-process bus with its durable state in a temporary data directory.
pub struct InProcess {
    bus: InProcessBus,
    pub data_dir: tempfile::TempDir,
}

impl Harness for InProcess {
    async fn start() -> Self {
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        InProcess {
            bus: InProcessBus::open(data_dir.path()).expect("open the in-process bus"),
            data_dir,
        }
    }

    async fn connect(&self) -> SharedBus {
        Arc::new(self.bus.clone())
    }

    async fn stored_events(&self, subject: &str) -> Vec<Message> {
        self.bus
            .durable_log()
            .into_iter()
            .filter(|m| m.subject == subject)
            .collect()
    }

    async fn stored_document_pieces(&self) -> usize {
        std::fs::read_dir(self.data_dir.path().join("documents"))
            .map(|dir| dir.count())
            .unwrap_or(0)
    }
}

pub struct Nats {
    pub server: NatsServer,
}

impl Harness for Nats {
    async fn start() -> Self {
        Nats {
            server: NatsServer::start().expect("start nats-server"),
        }
    }

    async fn connect(&self) -> SharedBus {
        Arc::new(self.connect_nats().await)
    }

    /// Reads the stream with a pull consumer, as an auditing service would.
    async fn stored_events(&self, subject: &str) -> Vec<Message> {
        use async_nats::jetstream::consumer::pull;

        let bus = self.connect_nats().await;
        let js = async_nats::jetstream::new(bus.client().clone());
        let stream = js.get_stream(EVENTS_STREAM).await.expect("events stream");
        let consumer = stream
            .create_consumer(pull::Config {
                filter_subject: subject.to_owned(),
                ..Default::default()
            })
            .await
            .expect("pull consumer");
        let mut batch = consumer
            .fetch()
            .max_messages(100)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .expect("fetch");
        let mut out = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.expect("stored message");
            out.push(Message {
                subject: message.subject.to_string(),
                headers: message
                    .headers
                    .as_ref()
                    .map(|h| {
                        h.iter()
                            .filter_map(|(n, v)| {
                                v.last().map(|v| (n.to_string(), v.as_str().to_owned()))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                payload: message.payload.clone(),
            });
        }
        out
    }

    async fn stored_document_pieces(&self) -> usize {
        let bus = self.connect_nats().await;
        let js = async_nats::jetstream::new(bus.client().clone());
        match js.get_stream(format!("OBJ_{DOCUMENTS_BUCKET}")).await {
            Ok(mut stream) => {
                let info = stream.info().await.expect("object store stream info");
                usize::try_from(info.state.messages).expect("count")
            }
            Err(_) => 0,
        }
    }
}

impl Nats {
    pub async fn connect_nats(&self) -> NatsBus {
        NatsBus::connect(
            &self.server.url(),
            NatsOptions {
                name: Some("passerelle-bus-tests".to_owned()),
                ..Default::default()
            },
        )
        .await
        .expect("connect to the test nats-server")
    }
}

pub fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The next `n` messages, failing the test if they take more than a few seconds.
pub async fn take(stream: &mut MessageStream, n: usize) -> Vec<Message> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
            Ok(Some(m)) => out.push(m),
            Ok(None) => panic!("stream ended after {} of {n} messages", out.len()),
            Err(_) => panic!("only {} of {n} messages arrived", out.len()),
        }
    }
    out
}

/// Asserts nothing more arrives for a short while.
pub async fn assert_quiet(stream: &mut MessageStream) {
    if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(150), stream.next()).await {
        panic!("unexpected message on {}", m.subject);
    }
}

/// Returns once `bus` has taken in every message the broker sent it before the call (into
/// its subscribers' buffers). On NATS a new subscription is confirmed by a round trip on
/// the connection, which the broker answers after what it sent before; in-process, delivery
/// is immediate anyway. With a watcher that saw a request (so the broker routed it), this
/// tells a test the request now waits in its server's buffer, not on the wire.
pub async fn fence(bus: &SharedBus) {
    let round_trip = bus.subscribe("passerelle.test.v1.fence").await;
    drop(round_trip.expect("round trip to the broker"));
}
