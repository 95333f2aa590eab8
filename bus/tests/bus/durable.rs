//! Durable state behind the bus: key-value buckets, durable consumers, documents.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, stream};
use passerelle_bus::consumer::{ConsumerConfig, DeadLetter, Delivery, DurableConsumer};
use passerelle_bus::documents::{
    DocumentError, DocumentLimits, DocumentRef, NewDocument, SharedDocumentStore, UploadStream,
};
use passerelle_bus::kv::KvError;
use passerelle_bus::{BusError, SharedBus};
use sha2::{Digest, Sha256};

use crate::harness::{Harness, headers};

const EVENT_A: &str = "passerelle.events.v1.test.a";
const EVENT_B: &str = "passerelle.events.v1.test.b";
const WAIT: Duration = Duration::from_secs(10);

/// Listing a bucket another replica keeps writing to (a lease renewed, records updated)
/// answers promptly, with the live keys only.
pub async fn kv_keys_answer_while_others_write(h: &impl Harness) {
    let bus = h.connect().await;
    let kv = bus.key_value("keys_busy").await.expect("bucket");
    for i in 0..30 {
        kv.put(&format!("msg.{i}"), Bytes::from_static(b"x"))
            .await
            .expect("put");
    }
    kv.put("lease.a", Bytes::from_static(b"x"))
        .await
        .expect("put");
    kv.put("gone", Bytes::from_static(b"x")).await.expect("put");
    kv.delete("gone").await.expect("delete");
    let writer = {
        let kv = bus.key_value("keys_busy").await.expect("bucket");
        tokio::spawn(async move {
            for n in 0u64.. {
                let _ = kv.put("lease.a", Bytes::from(n.to_string())).await;
                let _ = kv
                    .put(&format!("msg.{}", n % 30), Bytes::from(n.to_string()))
                    .await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    for _ in 0..20 {
        let keys = tokio::time::timeout(Duration::from_secs(2), kv.keys())
            .await
            .expect("keys answered within 2 s while the bucket is written")
            .expect("keys");
        assert_eq!(keys.len(), 31, "{keys:?}");
        assert!(
            !keys.iter().any(|k| k == "gone"),
            "a deleted key is not listed"
        );
    }
    writer.abort();
}

pub async fn kv_put_get_create_update_delete_keys(h: &impl Harness) {
    let bus = h.connect().await;
    let other = h.connect().await;
    let kv = bus.key_value("test_kv").await.expect("bucket");
    assert_eq!(kv.bucket(), "test_kv");
    assert_eq!(kv.get("job.1").await.expect("get"), None);

    let r1 = kv
        .create("job.1", Bytes::from_static(b"new"))
        .await
        .expect("create");
    let err = kv
        .create("job.1", Bytes::from_static(b"again"))
        .await
        .expect_err("present");
    assert!(matches!(err, KvError::AlreadyExists { .. }), "{err:?}");

    let r2 = kv
        .update("job.1", Bytes::from_static(b"running"), r1)
        .await
        .expect("compare-and-set at the current revision");
    assert!(r2 > r1);
    let err = kv
        .update("job.1", Bytes::from_static(b"lost update"), r1)
        .await
        .expect_err("stale revision");
    assert!(
        matches!(err, KvError::WrongRevision { expected, .. } if expected == r1),
        "{err:?}"
    );

    // Another participant sees the same bucket.
    let seen = other.key_value("test_kv").await.expect("bucket");
    let entry = seen.get("job.1").await.expect("get").expect("present");
    assert_eq!(&entry.value[..], b"running");
    assert_eq!(entry.revision, r2);

    let r3 = seen
        .put("job.2", Bytes::from_static(b"x"))
        .await
        .expect("put");
    assert!(r3 > r2);
    assert_eq!(kv.keys().await.expect("keys"), ["job.1", "job.2"]);

    kv.delete("job.1").await.expect("delete");
    assert_eq!(kv.get("job.1").await.expect("get"), None);
    assert_eq!(kv.keys().await.expect("keys"), ["job.2"]);
    // Absent again: create works again.
    kv.create("job.1", Bytes::from_static(b"reborn"))
        .await
        .expect("create after delete");
}

pub async fn kv_bad_input_is_rejected_alike(h: &impl Harness) {
    let bus = h.connect().await;
    let err = bus.key_value("no.dots").await.err().expect("bad bucket");
    assert!(matches!(err, BusError::InvalidSubject { .. }), "{err:?}");
    let kv = bus.key_value("test_kv").await.expect("bucket");
    for key in ["", ".a", "a b", "a*"] {
        let err = kv.put(key, Bytes::new()).await.expect_err("bad key");
        assert!(
            matches!(err, KvError::InvalidKey { .. }),
            "{key:?}: {err:?}"
        );
    }
    let err = kv
        .put("big", Bytes::from(vec![0u8; 2 * 1024 * 1024]))
        .await
        .expect_err("larger than a bus message");
    assert!(
        matches!(err, KvError::Bus(BusError::PayloadTooLarge { .. })),
        "{err:?}"
    );
}

async fn next(consumer: &mut Box<dyn DurableConsumer>) -> Delivery {
    tokio::time::timeout(WAIT, consumer.next())
        .await
        .expect("a delivery in time")
        .expect("delivery")
}

async fn next_dead_letter(consumer: &mut Box<dyn DurableConsumer>) -> DeadLetter {
    tokio::time::timeout(WAIT, consumer.next_dead_letter())
        .await
        .expect("a dead letter in time")
        .expect("dead letter")
}

async fn publish(bus: &SharedBus, subject: &str, payload: &'static [u8]) {
    bus.publish_durable(
        subject,
        headers(&[("request-id", "r-1")]),
        Bytes::from_static(payload),
    )
    .await
    .expect("durable publish");
}

fn short_wait(name: &str, filter: &str, max_deliver: u32) -> ConsumerConfig {
    ConsumerConfig {
        ack_wait: Duration::from_secs(1),
        max_deliver,
        ..ConsumerConfig::new(name, filter)
    }
}

pub async fn consumer_acked_messages_are_not_redelivered(h: &impl Harness) {
    let bus = h.connect().await;
    publish(&bus, EVENT_A, b"first").await;
    publish(&bus, EVENT_B, b"other subject").await;
    publish(&bus, EVENT_A, b"second").await;
    let mut consumer = bus
        .durable_consumer(&short_wait("acks", EVENT_A, 5))
        .await
        .expect("consumer");

    let first = next(&mut consumer).await;
    assert_eq!(&first.message.payload[..], b"first");
    assert_eq!(first.message.subject, EVENT_A);
    assert_eq!(first.message.headers["request-id"], "r-1");
    assert_eq!(first.deliveries, 1);
    first.ack().await.expect("ack");

    // Held without ack until the ack wait gives it again: had the first not been acked, it
    // would have come back before it (its ack wait ended earlier).
    let second = next(&mut consumer).await;
    assert_eq!(&second.message.payload[..], b"second");
    assert_eq!(second.deliveries, 1);
    let again = next(&mut consumer).await;
    assert_eq!(&again.message.payload[..], b"second");
    assert_eq!(again.deliveries, 2);
    assert_eq!(again.stream_sequence, second.stream_sequence);
    again.ack().await.expect("ack");
    drop(second);

    // A new handle on the same name goes on from where the consumer is.
    drop(consumer);
    let mut consumer = bus
        .durable_consumer(&short_wait("acks", EVENT_A, 5))
        .await
        .expect("same consumer");
    publish(&bus, EVENT_A, b"third").await;
    let third = next(&mut consumer).await;
    assert_eq!(&third.message.payload[..], b"third");
    third.ack().await.expect("ack");

    // Another consumer has its own position: it gets everything from the start.
    let mut fresh = bus
        .durable_consumer(&ConsumerConfig::new("fresh", "passerelle.events.v1.test.>"))
        .await
        .expect("consumer");
    let mut payloads = Vec::new();
    for _ in 0..4 {
        let delivery = next(&mut fresh).await;
        payloads.push(delivery.message.payload.clone());
        delivery.ack().await.expect("ack");
    }
    assert_eq!(
        payloads,
        ["first", "other subject", "second", "third"].map(|s| Bytes::from_static(s.as_bytes()))
    );
}

pub async fn consumer_redelivers_then_gives_up_after_max_deliver(h: &impl Harness) {
    let bus = h.connect().await;
    let mut consumer = bus
        .durable_consumer(&short_wait("gives-up", EVENT_A, 3))
        .await
        .expect("consumer");
    publish(&bus, EVENT_A, b"poison").await;

    // 1: not settled, comes back after the ack wait.
    let first = next(&mut consumer).await;
    assert_eq!(first.deliveries, 1);
    drop(first);
    // 2: nak, comes back at once.
    let second = next(&mut consumer).await;
    assert_eq!(second.deliveries, 2);
    assert_eq!(&second.message.payload[..], b"poison");
    second.nak(None).await.expect("nak");
    // 3: the last one; not settled either.
    let third = next(&mut consumer).await;
    assert_eq!(third.deliveries, 3);
    let sequence = third.stream_sequence;
    drop(third);

    let dead = next_dead_letter(&mut consumer).await;
    assert_eq!(dead.consumer, "gives-up");
    assert_eq!(dead.stream_sequence, sequence);
    assert_eq!(dead.deliveries, 3);
    let message = dead.message.expect("the given-up message");
    assert_eq!(&message.payload[..], b"poison");
    assert_eq!(message.subject, EVENT_A);

    // Not delivered any more: the next delivery is the next message.
    publish(&bus, EVENT_A, b"healthy").await;
    let next_one = next(&mut consumer).await;
    assert_eq!(&next_one.message.payload[..], b"healthy");
    assert_eq!(next_one.deliveries, 1);
    next_one.ack().await.expect("ack");
}

pub async fn consumer_in_progress_extends_the_ack_wait(h: &impl Harness) {
    let bus = h.connect().await;
    let mut consumer = bus
        .durable_consumer(&short_wait("slow-work", EVENT_A, 5))
        .await
        .expect("consumer");
    publish(&bus, EVENT_A, b"long job").await;
    let delivery = next(&mut consumer).await;
    // Keep saying "in progress" for longer than the ack wait; a marker published meanwhile
    // arrives first, showing the job itself was not handed out again.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        delivery.in_progress().await.expect("in progress");
    }
    publish(&bus, EVENT_A, b"marker").await;
    let marker = next(&mut consumer).await;
    assert_eq!(&marker.message.payload[..], b"marker");
    marker.ack().await.expect("ack");
    delivery.ack().await.expect("ack");
}

pub async fn consumer_config_outside_durable_events_is_refused(h: &impl Harness) {
    let bus = h.connect().await;
    let err = bus
        .durable_consumer(&ConsumerConfig::new("x", "passerelle.ins.v1.search"))
        .await
        .err()
        .expect("not a durable subject");
    assert!(matches!(err, BusError::InvalidSubject { .. }), "{err:?}");
    let err = bus
        .durable_consumer(&ConsumerConfig::new("a.b", EVENT_A))
        .await
        .err()
        .expect("a name is one token");
    assert!(matches!(err, BusError::InvalidSubject { .. }), "{err:?}");
}

/// Deterministic content of `len` bytes.
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn chunks_of(data: &[u8], size: usize) -> UploadStream {
    let chunks: Vec<Result<Bytes, io::Error>> = data
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(stream::iter(chunks))
}

async fn download(store: &SharedDocumentStore, id: &str) -> (DocumentRef, Vec<u8>) {
    let (reference, mut chunks) = store.get(id).await.expect("get");
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    (reference, out)
}

pub async fn document_larger_than_a_bus_message_round_trips(h: &impl Harness) {
    let bus = h.connect().await;
    let store = bus
        .documents(DocumentLimits::default())
        .await
        .expect("store");
    assert!(store.limits().max_size >= 50_000_000);
    // Three times the NATS payload limit, in chunks of odd size.
    let data = content(3 * 1024 * 1024 + 17);
    let reference = store
        .put(
            NewDocument {
                media_type: "application/pdf".to_owned(),
                file_name: Some("compte-rendu.pdf".to_owned()),
                declared_size: Some(data.len() as u64),
            },
            chunks_of(&data, 100_003),
        )
        .await
        .expect("put");
    assert_eq!(reference.size, data.len() as u64);
    assert_eq!(reference.sha256, format!("{:x}", Sha256::digest(&data)));
    assert_eq!(reference.media_type, "application/pdf");
    assert_eq!(reference.file_name.as_deref(), Some("compte-rendu.pdf"));

    // Another participant reads it by reference.
    let other = h
        .connect()
        .await
        .documents(DocumentLimits::default())
        .await
        .expect("store");
    assert_eq!(other.stat(&reference.id).await.expect("stat"), reference);
    let (got, bytes) = download(&other, &reference.id).await;
    assert_eq!(got, reference);
    assert!(bytes == data, "downloaded content differs");

    // Without a declared size too.
    let small = store
        .put(
            NewDocument {
                media_type: "text/plain".to_owned(),
                ..Default::default()
            },
            chunks_of(b"hello", 2),
        )
        .await
        .expect("put");
    assert_eq!(download(&store, &small.id).await.1, b"hello");

    store.delete(&reference.id).await.expect("delete");
    let err = store.stat(&reference.id).await.expect_err("deleted");
    assert!(matches!(err, DocumentError::NotFound { .. }), "{err:?}");
    let err = store.delete(&reference.id).await.expect_err("deleted");
    assert!(matches!(err, DocumentError::NotFound { .. }), "{err:?}");
}

/// Storing under the caller's id twice (a retry after a crash) stores once: the second call
/// returns the first document and does not read its chunks; an id that is not a UUID is
/// refused before anything is stored.
pub async fn document_put_with_id_stores_once(h: &impl Harness) {
    let store = h
        .connect()
        .await
        .documents(DocumentLimits::default())
        .await
        .expect("store");
    let id = "0b9e2f3a-1c4d-5e6f-8a7b-9c0d1e2f3a4b";
    let first = store
        .put_with_id(
            id,
            NewDocument {
                media_type: "application/pdf".to_owned(),
                file_name: Some("lettre.pdf".to_owned()),
                declared_size: Some(5),
            },
            chunks_of(b"first", 2),
        )
        .await
        .expect("put");
    assert_eq!(first.id, id);
    let failing: passerelle_bus::documents::UploadStream = Box::pin(futures::stream::once(async {
        Err(std::io::Error::other("must not be read"))
    }));
    let again = store
        .put_with_id(id, NewDocument::default(), failing)
        .await
        .expect("again");
    assert_eq!(again, first);
    assert_eq!(download(&store, id).await.1, b"first");
    let err = store
        .put_with_id("lettre-1", NewDocument::default(), chunks_of(b"x", 1))
        .await
        .expect_err("not a UUID");
    assert!(matches!(err, DocumentError::InvalidId { .. }), "{err:?}");
}

pub async fn unknown_document_reference_is_not_found(h: &impl Harness) {
    let store = h
        .connect()
        .await
        .documents(DocumentLimits::default())
        .await
        .expect("store");
    let unknown = "6f1c1a4e-0000-4000-8000-000000000000";
    let err = store.get(unknown).await.err().expect("unknown");
    assert_eq!(
        err,
        DocumentError::NotFound {
            id: unknown.to_owned()
        }
    );
    let err = store.stat(unknown).await.expect_err("unknown");
    assert!(matches!(err, DocumentError::NotFound { .. }), "{err:?}");
    let err = store.stat("../../etc/passwd").await.expect_err("not an id");
    assert!(matches!(err, DocumentError::InvalidId { .. }), "{err:?}");
}

pub async fn document_over_the_limit_leaves_nothing(h: &impl Harness) {
    let bus = h.connect().await;
    let store = bus
        .documents(DocumentLimits {
            max_size: 1_000_000,
        })
        .await
        .expect("store");
    let data = content(1_500_000);
    let err = store
        .put(
            NewDocument {
                media_type: "application/pdf".to_owned(),
                ..Default::default()
            },
            chunks_of(&data, 64 * 1024),
        )
        .await
        .expect_err("over the limit");
    assert!(
        matches!(
            err,
            DocumentError::TooLarge {
                limit: 1_000_000,
                ..
            }
        ),
        "{err:?}"
    );
    // Declared over the limit: refused before reading anything.
    let never_read: UploadStream = Box::pin(stream::pending());
    let err = store
        .put(
            NewDocument {
                media_type: "application/pdf".to_owned(),
                declared_size: Some(2_000_000),
                ..Default::default()
            },
            never_read,
        )
        .await
        .expect_err("declared over the limit");
    assert_eq!(
        err,
        DocumentError::TooLarge {
            size: 2_000_000,
            limit: 1_000_000
        }
    );
    assert_eq!(h.stored_document_pieces().await, 0);
}

pub async fn document_upload_cut_half_way_leaves_nothing(h: &impl Harness) {
    let bus = h.connect().await;
    let store = bus
        .documents(DocumentLimits::default())
        .await
        .expect("store");
    // The sender fails after two chunks.
    let cut: UploadStream = Box::pin(stream::iter(vec![
        Ok(Bytes::from(content(300_000))),
        Ok(Bytes::from(content(300_000))),
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ]));
    let err = store
        .put(
            NewDocument {
                media_type: "application/pdf".to_owned(),
                ..Default::default()
            },
            cut,
        )
        .await
        .expect_err("cut");
    assert!(
        matches!(
            err,
            DocumentError::Incomplete {
                received: 600_000,
                ..
            }
        ),
        "{err:?}"
    );
    // The stream ends early, short of the declared size.
    let err = store
        .put(
            NewDocument {
                media_type: "application/pdf".to_owned(),
                declared_size: Some(1_000_000),
                ..Default::default()
            },
            chunks_of(&content(400_000), 100_000),
        )
        .await
        .expect_err("short");
    assert!(
        matches!(
            err,
            DocumentError::Incomplete {
                received: 400_000,
                ..
            }
        ),
        "{err:?}"
    );
    // More than declared.
    let err = store
        .put(
            NewDocument {
                media_type: "application/pdf".to_owned(),
                declared_size: Some(10),
                ..Default::default()
            },
            chunks_of(&content(20), 5),
        )
        .await
        .expect_err("long");
    assert!(
        matches!(err, DocumentError::SizeMismatch { declared: 10, .. }),
        "{err:?}"
    );
    assert_eq!(h.stored_document_pieces().await, 0);
}
