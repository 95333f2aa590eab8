//! The distributed bus: core NATS for requests and events, JetStream for durable events.
//!
//! Targets nats-server 2.9 (Debian's): only core NATS, headers, no-responders and basic
//! JetStream publish/stream management are used.
//!
//! Known limit of draining (see `NatsDrain`): every request buffered in the client when the
//! drain starts is served, but async-nats 0.51 stops tracking the subscription before the
//! server has confirmed the unsubscription, and discards what still arrives for it. Under
//! steady traffic a drain can thus lose a request that was on the wire at that moment (its
//! requester times out): rare (locally, at some 7,000 requests per second, about one every
//! other drain), not impossible.

use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::{
    Client, ConnectErrorKind, HeaderMap, HeaderName, HeaderValue, RequestErrorKind,
    SubscribeErrorKind,
};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::task::AtomicWaker;
use futures::{Stream, StreamExt};
use tokio::sync::{Mutex, OnceCell};

use crate::consumer::{ConsumerConfig, DurableConsumer};
use crate::documents::{DocumentLimits, SharedDocumentStore};
use crate::jetstream::{NatsConsumer, NatsDocuments, NatsKv};
use crate::kv::{SharedKeyValue, kv_open_error};
use crate::subjects::{self, EVENTS_ALL, EVENTS_STREAM};
use crate::{
    Bus, BusError, DrainHandle, Drainer, Headers, IncomingRequest, Message, MessageStream, Replier,
    RequestStream,
};

/// Header a server's bus sends back, with an empty payload, when it drops a request without
/// replying, so the requester fails fast with [`BusError::NoReply`] instead of timing out.
/// Reserved: a reply must not carry it.
const NO_REPLY_HEADER: &str = "Passerelle-Bus-No-Reply";

/// Longest wait for the server to confirm a new subscription (see `NatsBus::barrier`).
const BARRIER_TIMEOUT: Duration = Duration::from_secs(5);

/// Connection options. Everything is optional; the default connects anonymously in clear
/// text, which is what a broker on localhost or a private network needs.
#[derive(Clone, Default)]
pub struct NatsOptions {
    /// Connection name shown by the server's monitoring (e.g. "ins-service").
    pub name: Option<String>,
    /// Timeout of the requests the client makes by itself: JetStream publish acks and stream
    /// management. [`Bus::request`] has its own timeout per call. Default: async-nats's (10 s)
    /// for the client, 5 s for JetStream.
    pub request_timeout: Option<Duration>,
    /// NATS credentials file (JWT + nkey seed, decentralised auth).
    pub credentials_file: Option<PathBuf>,
    /// User and password.
    pub user_password: Option<(String, String)>,
    /// Authentication token.
    pub token: Option<String>,
    /// NKey seed (`SU…`) of the user.
    pub nkey_seed: Option<String>,
    /// PEM file of the CA that signed the server certificate; setting it requires TLS.
    pub tls_ca: Option<PathBuf>,
    /// PEM certificate and key files of this client, for servers that verify clients.
    pub tls_client_certificate: Option<(PathBuf, PathBuf)>,
    /// How long connecting may take (async-nats's default otherwise).
    pub connect_timeout: Option<Duration>,
}

impl fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets stay out of logs.
        f.debug_struct("NatsOptions")
            .field("name", &self.name)
            .field("request_timeout", &self.request_timeout)
            .field("credentials_file", &self.credentials_file)
            .field(
                "user",
                &self.user_password.as_ref().map(|(user, _)| user.as_str()),
            )
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("nkey_seed", &self.nkey_seed.as_ref().map(|_| "<redacted>"))
            .field("tls_ca", &self.tls_ca)
            .field("tls_client_certificate", &self.tls_client_certificate)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// [`Bus`] over NATS. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct NatsBus {
    client: Client,
    jetstream: jetstream::Context,
    /// Set once the events stream is known to exist, so that only the first durable publish
    /// pays for the check; a failure is not cached (the next publish tries again).
    events_stream: Arc<OnceCell<()>>,
    description: String,
}

impl fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsBus")
            .field("server", &self.description)
            .finish_non_exhaustive()
    }
}

impl NatsBus {
    /// Connects to `url` (several servers of a cluster: comma-separated). Fails fast if no
    /// server answers; once connected, the client reconnects by itself.
    pub async fn connect(url: &str, options: NatsOptions) -> Result<NatsBus, BusError> {
        let mut connect = async_nats::ConnectOptions::new();
        if let Some(name) = &options.name {
            connect = connect.name(name);
        }
        if let Some(timeout) = options.request_timeout {
            connect = connect.request_timeout(Some(timeout));
        }
        if let Some(path) = &options.credentials_file {
            connect = with_credentials_file(connect, path).await?;
        }
        if let Some((user, password)) = &options.user_password {
            connect = connect.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &options.token {
            connect = connect.token(token.clone());
        }
        if let Some(seed) = &options.nkey_seed {
            connect = connect.nkey(seed.clone());
        }
        if let Some(ca) = &options.tls_ca {
            connect = connect.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &options.tls_client_certificate {
            connect = connect
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        if let Some(timeout) = options.connect_timeout {
            connect = connect.connection_timeout(timeout);
        }
        let servers: Vec<&str> = url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let description = servers
            .iter()
            .map(|s| redact_userinfo(s))
            .collect::<Vec<_>>()
            .join(",");
        let client = connect.connect(servers).await.map_err(|e| match e.kind() {
            ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
                BusError::Authentication(format!("{description}: {e}"))
            }
            ConnectErrorKind::Tls => BusError::Tls(format!("{description}: {e}")),
            // rustls's verdict on the server's certificate reaches us as an I/O error.
            ConnectErrorKind::Io if e.to_string().contains("certificate") => {
                BusError::Tls(format!("{description}: {e}"))
            }
            ConnectErrorKind::TimedOut => {
                BusError::Connection(format!("{description}: timed out: {e}"))
            }
            _ => BusError::Connection(format!("{description}: cannot connect: {e}")),
        })?;
        let mut bus = Self::from_client(client);
        if let Some(timeout) = options.request_timeout {
            bus.jetstream.set_timeout(timeout);
        }
        bus.description = description;
        Ok(bus)
    }

    /// Wraps an existing client (e.g. one shared with other NATS uses in the process).
    pub fn from_client(client: Client) -> NatsBus {
        let info = client.server_info();
        NatsBus {
            jetstream: jetstream::new(client.clone()),
            client,
            events_stream: Arc::new(OnceCell::new()),
            description: format!("nats://{}:{}", info.host, info.port),
        }
    }

    /// The underlying client, for what the trait does not cover (monitoring, JetStream reads).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the events stream if missing (file storage, capturing
    /// [`subjects::EVENTS_ALL`]); an existing stream is left as configured by the operator.
    /// Called by the first durable publish; call it at startup to fail early.
    pub async fn ensure_events_stream(&self) -> Result<(), BusError> {
        self.events_stream
            .get_or_try_init(|| async {
                self.jetstream
                    .get_or_create_stream(jetstream::stream::Config {
                        name: EVENTS_STREAM.to_owned(),
                        subjects: vec![EVENTS_ALL.to_owned()],
                        storage: jetstream::stream::StorageType::File,
                        duplicate_window: subjects::EVENTS_DUPLICATE_WINDOW,
                        ..Default::default()
                    })
                    .await
                    .map(drop)
                    .map_err(|e| {
                        BusError::Durable(format!(
                            "cannot get or create stream {EVENTS_STREAM}: {e}"
                        ))
                    })
            })
            .await
            .copied()
    }

    /// See [`barrier`].
    async fn barrier(&self) -> Result<(), BusError> {
        barrier(&self.client, "subscription").await
    }
}

/// Returns once the server has processed everything `client` sent before (a new
/// subscription, an unsubscription), so that `serve`/`subscribe` keep their promise of being
/// in place and a drain its promise of being effective. `Client::flush` only empties the
/// socket buffer; a round trip is needed: a request on a fresh inbox nobody listens to,
/// which the server itself answers with no-responders, after the operations queued before
/// it. The answer also comes after every message the server sent this client before, so
/// those have been handed to their subscriptions when this returns. Works without echo and
/// without JetStream; inbox subjects are the ones a restricted account may publish on
/// anyway. `what` names the operation for the logs.
async fn barrier(client: &Client, what: &str) -> Result<(), BusError> {
    let request = async_nats::Request::new().timeout(Some(BARRIER_TIMEOUT));
    match client.send_request(client.new_inbox(), request).await {
        Ok(_) => Ok(()),
        Err(e) => match e.kind() {
            RequestErrorKind::NoResponders => Ok(()),
            RequestErrorKind::TimedOut => {
                // Slow server or a permission denying the inbox: the operation most likely
                // went through already, do not fail because of the check.
                tracing::warn!("{what} not confirmed by the NATS server in time");
                Ok(())
            }
            _ => Err(BusError::Connection(format!("{what} round trip: {e}"))),
        },
    }
}

async fn with_credentials_file(
    connect: async_nats::ConnectOptions,
    path: &std::path::Path,
) -> Result<async_nats::ConnectOptions, BusError> {
    connect
        .credentials_file(path)
        .await
        .map_err(|e| BusError::Connection(format!("credentials file {}: {e}", path.display())))
}

/// `nats://user:pass@host:4222` → `nats://host:4222`, for logs.
fn redact_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let rest = match rest.split_once('@') {
        Some((_, host)) => host,
        None => rest,
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{rest}"),
        None => format!("nats://{rest}"),
    }
}

fn to_nats_headers(headers: &Headers) -> Result<HeaderMap, BusError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let invalid = |reason: &str| BusError::InvalidHeader {
            name: name.clone(),
            reason: reason.to_owned(),
        };
        let header_name: HeaderName = name
            .parse()
            .map_err(|_| invalid("not a valid NATS header name"))?;
        let header_value: HeaderValue = value
            .parse()
            .map_err(|_| invalid("not a valid NATS header value"))?;
        map.insert(header_name, header_value);
    }
    Ok(map)
}

pub(crate) fn from_nats_headers(headers: Option<&HeaderMap>) -> Headers {
    headers
        .map(|map| {
            map.iter()
                .filter_map(|(name, values)| {
                    values
                        .last()
                        .map(|v| (name.to_string(), v.as_str().to_owned()))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn publish_error(subject: &str, e: async_nats::PublishError) -> BusError {
    match e.kind() {
        async_nats::client::PublishErrorKind::MaxPayloadExceeded => BusError::PayloadTooLarge {
            subject: subject.to_owned(),
            detail: e.to_string(),
        },
        async_nats::client::PublishErrorKind::InvalidSubject => BusError::InvalidSubject {
            subject: subject.to_owned(),
            reason: e.to_string(),
        },
        // The client's connection task is gone: the client was closed.
        async_nats::client::PublishErrorKind::Send => BusError::Closed,
    }
}

fn subscribe_error(subject: &str, e: async_nats::SubscribeError) -> BusError {
    match e.kind() {
        SubscribeErrorKind::InvalidSubject | SubscribeErrorKind::InvalidQueueName => {
            BusError::InvalidSubject {
                subject: subject.to_owned(),
                reason: e.to_string(),
            }
        }
        SubscribeErrorKind::Other => BusError::Connection(format!("subscribe {subject}: {e}")),
    }
}

/// Replies on the request's inbox; if dropped unused, tells the requester so.
struct NatsReplier {
    client: Client,
    reply: async_nats::Subject,
    /// The requested subject, for error messages.
    subject: String,
    answered: bool,
}

impl Replier for NatsReplier {
    fn send(
        mut self: Box<Self>,
        headers: Headers,
        payload: Bytes,
    ) -> BoxFuture<'static, Result<(), BusError>> {
        self.answered = true;
        let client = self.client.clone();
        let reply = self.reply.clone();
        let subject = self.subject.clone();
        Box::pin(async move {
            let result = if headers.is_empty() {
                client.publish(reply, payload).await
            } else {
                let headers = to_nats_headers(&headers)?;
                client.publish_with_headers(reply, headers, payload).await
            };
            result.map_err(|e| publish_error(&subject, e))
        })
    }
}

impl Drop for NatsReplier {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        // Best effort: without a runtime (process teardown) the requester times out instead.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let client = self.client.clone();
        let reply = self.reply.clone();
        let mut headers = HeaderMap::new();
        headers.insert(NO_REPLY_HEADER, "1");
        runtime.spawn(async move {
            if let Err(e) = client
                .publish_with_headers(reply, headers, Bytes::new())
                .await
            {
                tracing::debug!(error = %e, "could not tell a requester its request was dropped");
            }
        });
    }
}

/// One server's subscription, shared by its stream and its drain handle.
struct ServeShared {
    /// Locked by each poll of the stream, for the time of the poll, and by the drain for
    /// the time it takes to queue the unsubscription.
    subscriber: Mutex<async_nats::Subscriber>,
    /// The stream, when a poll found the drain holding the subscriber.
    waker: AtomicWaker,
    /// The outcome of the drain: done once, however many times asked.
    drained: OnceCell<Result<(), BusError>>,
}

/// The requests of one server (see `serve_drainable`).
struct NatsRequests {
    shared: Arc<ServeShared>,
    client: Client,
}

impl NatsRequests {
    fn to_request(&self, message: async_nats::Message) -> Option<IncomingRequest> {
        let Some(reply) = message.reply else {
            // Someone published (not requested) on a request subject: nobody to answer, and
            // handling it would hide the caller's mistake.
            tracing::warn!(subject = %message.subject, "message without reply subject on a served subject: ignored");
            return None;
        };
        Some(IncomingRequest::new(
            message.subject.to_string(),
            from_nats_headers(message.headers.as_ref()),
            message.payload,
            Box::new(NatsReplier {
                client: self.client.clone(),
                reply,
                subject: message.subject.to_string(),
                answered: false,
            }),
        ))
    }
}

impl Stream for NatsRequests {
    type Item = IncomingRequest;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<IncomingRequest>> {
        let this = self.get_mut();
        let mut subscriber = match this.shared.subscriber.try_lock() {
            Ok(subscriber) => subscriber,
            Err(_) => {
                // The drain holds it for a moment: have it wake us, unless it let go since.
                this.shared.waker.register(cx.waker());
                match this.shared.subscriber.try_lock() {
                    Ok(subscriber) => subscriber,
                    Err(_) => return Poll::Pending,
                }
            }
        };
        loop {
            match ready!(subscriber.poll_next_unpin(cx)) {
                None => return Poll::Ready(None),
                Some(message) => {
                    if let Some(request) = this.to_request(message) {
                        return Poll::Ready(Some(request));
                    }
                }
            }
        }
    }
}

impl Drop for NatsRequests {
    /// Fails the requests still buffered in the client at once ([`BusError::NoReply`], sent
    /// by the replier's drop) rather than letting their requesters wait for the timeout.
    /// Best effort: those arriving until the unsubscription takes effect are lost, which is
    /// what draining avoids.
    fn drop(&mut self) {
        let Ok(mut subscriber) = self.shared.subscriber.try_lock() else {
            return;
        };
        let mut cx = Context::from_waker(Waker::noop());
        while let Poll::Ready(Some(message)) = subscriber.poll_next_unpin(&mut cx) {
            drop(self.to_request(message));
        }
    }
}

/// Drains a server's subscription with `Subscriber::drain`: it sends the server the
/// unsubscription but, unlike `unsubscribe`, keeps the subscriber's channel open, so that
/// the stream still yields the requests buffered in the client; the client drops its end
/// of the channel (the stream then ends) on the next turn of its connection loop. A round
/// trip then confirms that the server has processed the unsubscription: new requests go to
/// the other members of the group.
///
/// Limit of async-nats 0.51: that turn of the connection loop can come before the server
/// has processed the unsubscription (any traffic on the connection triggers it, our round
/// trip included), and the client ignores the messages of a subscription it no longer
/// knows. A request the server routed here during that round trip is thus lost (its
/// requester times out). Requests already buffered, the ones a server holds when it is told
/// to stop, are never lost. The fix belongs in the client: forget a drained subscription
/// when the PONG answering the drain's PING arrives, as the Go client does; nothing in its
/// public API lets us wait for that ourselves.
struct NatsDrain {
    shared: Weak<ServeShared>,
    client: Client,
}

impl Drainer for NatsDrain {
    fn drain(&self) -> BoxFuture<'static, Result<(), BusError>> {
        let shared = self.shared.upgrade();
        let client = self.client.clone();
        Box::pin(async move {
            // The stream was dropped, and its subscription with it.
            let Some(shared) = shared else {
                return Ok(());
            };
            shared
                .drained
                .get_or_init(|| async {
                    let sent = {
                        let mut subscriber = shared.subscriber.lock().await;
                        subscriber.drain().await
                    };
                    shared.waker.wake();
                    // Only fails once the client's connection task is gone.
                    sent.map_err(|_| BusError::Closed)?;
                    barrier(&client, "unsubscription").await
                })
                .await
                .clone()
        })
    }
}

#[async_trait::async_trait]
impl Bus for NatsBus {
    async fn request(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Message, BusError> {
        subjects::validate_subject(subject)?;
        crate::validate_headers(&headers)?;
        let mut request = async_nats::Request::new()
            .payload(payload)
            .timeout(Some(timeout));
        if !headers.is_empty() {
            request = request.headers(to_nats_headers(&headers)?);
        }
        let response = self
            .client
            .send_request(subject.to_owned(), request)
            .await
            .map_err(|e| match e.kind() {
                RequestErrorKind::NoResponders => BusError::NoResponders {
                    subject: subject.to_owned(),
                },
                RequestErrorKind::TimedOut => BusError::Timeout {
                    subject: subject.to_owned(),
                    after: timeout,
                },
                RequestErrorKind::InvalidSubject => BusError::InvalidSubject {
                    subject: subject.to_owned(),
                    reason: e.to_string(),
                },
                RequestErrorKind::MaxPayloadExceeded => BusError::PayloadTooLarge {
                    subject: subject.to_owned(),
                    detail: e.to_string(),
                },
                RequestErrorKind::Other => {
                    BusError::Connection(format!("request on {subject}: {e}"))
                }
            })?;
        let headers = from_nats_headers(response.headers.as_ref());
        if headers.contains_key(NO_REPLY_HEADER) {
            return Err(BusError::NoReply {
                subject: subject.to_owned(),
            });
        }
        Ok(Message {
            subject: subject.to_owned(),
            headers,
            payload: response.payload,
        })
    }

    async fn serve_drainable(
        &self,
        subject: &str,
        queue_group: &str,
    ) -> Result<(RequestStream, DrainHandle), BusError> {
        subjects::validate_pattern(subject)?;
        subjects::validate_token(queue_group)?;
        let subscriber = self
            .client
            .queue_subscribe(subject.to_owned(), queue_group.to_owned())
            .await
            .map_err(|e| subscribe_error(subject, e))?;
        self.barrier().await?;
        let shared = Arc::new(ServeShared {
            subscriber: Mutex::new(subscriber),
            waker: AtomicWaker::new(),
            drained: OnceCell::new(),
        });
        let drain = DrainHandle::new(NatsDrain {
            shared: Arc::downgrade(&shared),
            client: self.client.clone(),
        });
        let stream = NatsRequests {
            shared,
            client: self.client.clone(),
        };
        Ok((Box::pin(stream), drain))
    }

    async fn publish(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
    ) -> Result<(), BusError> {
        subjects::validate_subject(subject)?;
        crate::validate_headers(&headers)?;
        let result = if headers.is_empty() {
            self.client.publish(subject.to_owned(), payload).await
        } else {
            let headers = to_nats_headers(&headers)?;
            self.client
                .publish_with_headers(subject.to_owned(), headers, payload)
                .await
        };
        result.map_err(|e| publish_error(subject, e))
    }

    async fn publish_durable(
        &self,
        subject: &str,
        headers: Headers,
        payload: Bytes,
    ) -> Result<(), BusError> {
        subjects::validate_subject(subject)?;
        crate::validate_headers(&headers)?;
        if !subjects::matches(EVENTS_ALL, subject) {
            return Err(BusError::Durable(format!(
                "{subject} is not captured by stream {EVENTS_STREAM} ({EVENTS_ALL})"
            )));
        }
        self.ensure_events_stream().await?;
        let headers = to_nats_headers(&headers)?;
        let ack = self
            .jetstream
            .publish_with_headers(subject.to_owned(), headers, payload)
            .await
            .map_err(|e| BusError::Durable(format!("publish on {subject}: {e}")))?;
        ack.await
            .map_err(|e| BusError::Durable(format!("no ack for {subject}: {e}")))?;
        Ok(())
    }

    async fn subscribe(&self, pattern: &str) -> Result<MessageStream, BusError> {
        subjects::validate_pattern(pattern)?;
        let subscriber = self
            .client
            .subscribe(pattern.to_owned())
            .await
            .map_err(|e| subscribe_error(pattern, e))?;
        self.barrier().await?;
        Ok(Box::pin(subscriber.map(|message| Message {
            subject: message.subject.to_string(),
            headers: from_nats_headers(message.headers.as_ref()),
            payload: message.payload,
        })))
    }

    async fn key_value(&self, bucket: &str) -> Result<SharedKeyValue, BusError> {
        let max_value = self.client.server_info().max_payload;
        let bucket = NatsKv::open(&self.jetstream, bucket, max_value)
            .await
            .map_err(kv_open_error)?;
        Ok(Arc::new(bucket))
    }

    async fn durable_consumer(
        &self,
        config: &ConsumerConfig,
    ) -> Result<Box<dyn DurableConsumer>, BusError> {
        Ok(Box::new(NatsConsumer::open(self, config).await?))
    }

    async fn documents(&self, limits: DocumentLimits) -> Result<SharedDocumentStore, BusError> {
        Ok(Arc::new(
            NatsDocuments::open(&self.jetstream, limits).await?,
        ))
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials() {
        assert_eq!(redact_userinfo("nats://u:p@host:4222"), "nats://host:4222");
        assert_eq!(redact_userinfo("tls://host:4222"), "tls://host:4222");
        assert_eq!(redact_userinfo("host:4222"), "nats://host:4222");
    }

    #[test]
    fn headers_round_trip() {
        let headers = Headers::from([
            ("request-id".to_owned(), "r-1".to_owned()),
            ("X-Other".to_owned(), "a b".to_owned()),
        ]);
        let map = to_nats_headers(&headers).expect("valid headers");
        assert_eq!(from_nats_headers(Some(&map)), headers);
        assert_eq!(from_nats_headers(None), Headers::new());
    }

    #[test]
    fn options_debug_hides_secrets() {
        let options = NatsOptions {
            user_password: Some(("svc".to_owned(), "hunter2".to_owned())),
            token: Some("s3cret".to_owned()),
            ..Default::default()
        };
        let shown = format!("{options:?}");
        assert!(shown.contains("svc"));
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("s3cret"));
    }
}
