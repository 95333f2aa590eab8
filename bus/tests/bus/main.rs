//! The bus contract, checked on both implementations: every case in `cases` runs once on
//! the in-process bus and once on a fresh nats-server, so the two cannot drift apart.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cases;
mod durable;
mod harness;
mod typed;

mod contract {
    use crate::cases::*;
    passerelle_bus::on_both_buses!(with crate::harness::start:
        request_reply_roundtrip,
        no_responders,
        timeout,
        dropped_request_answers_no_reply,
        dropped_stream_unregisters,
        dropped_stream_fails_buffered_requests_fast,
        drain_hands_over_to_the_group,
        drain_last_server_answers_what_it_holds,
        queue_group_shares_load,
        wildcard_subscribe,
        publish_durable_delivers_and_stores,
        publish_durable_drops_duplicate_ids,
        publish_durable_outside_events_fails,
        invalid_subjects_and_headers_rejected,
        oversized_message_rejected,
    );
}

mod typed_rpc {
    use crate::typed::*;
    passerelle_bus::on_both_buses!(with crate::harness::start:
        call_ok,
        rich_error_details_round_trip,
        malformed_request_gets_invalid_argument,
        no_responders_is_unavailable,
        handler_panic_answers_internal,
        concurrency_is_bounded,
        serve_typed_finishes_in_flight_work,
        serve_typed_until_drains_on_shutdown,
    );
}

mod durable_state {
    use crate::durable::*;
    passerelle_bus::on_both_buses!(with crate::harness::start:
        kv_put_get_create_update_delete_keys,
        kv_keys_answer_while_others_write,
        kv_bad_input_is_rejected_alike,
        consumer_acked_messages_are_not_redelivered,
        consumer_redelivers_then_gives_up_after_max_deliver,
        consumer_in_progress_extends_the_ack_wait,
        consumer_config_outside_durable_events_is_refused,
        document_larger_than_a_bus_message_round_trips,
        document_put_with_id_stores_once,
        unknown_document_reference_is_not_found,
        document_over_the_limit_leaves_nothing,
        document_upload_cut_half_way_leaves_nothing,
    );
}

mod nats_only {
    use bytes::Bytes;
    use passerelle_bus::nats::{NatsBus, NatsOptions};
    use passerelle_bus::subjects::EVENTS_INS_SEARCHED;
    use passerelle_bus::testing::NatsServer;
    use passerelle_bus::{Bus, BusError};

    use crate::harness::{Harness, Nats, headers};

    /// The point of `publish_durable`: the event is on disk once the call returns, and is
    /// still there after the broker crashed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn durable_event_survives_a_server_crash() {
        let mut h = Nats::start().await;
        let bus = h.connect().await;
        bus.publish_durable(
            EVENTS_INS_SEARCHED,
            headers(&[("request-id", "crash-1")]),
            Bytes::from_static(b"before the crash"),
        )
        .await
        .expect("durable publish");
        h.server.restart().expect("restart nats-server");
        let stored = h.stored_events(EVENTS_INS_SEARCHED).await;
        assert_eq!(stored.len(), 1);
        assert_eq!(&stored[0].payload[..], b"before the crash");
        assert_eq!(stored[0].headers["request-id"], "crash-1");
    }

    #[tokio::test]
    async fn connect_failure_is_a_connection_error() {
        // A port nobody listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let err = NatsBus::connect(&format!("nats://127.0.0.1:{port}"), NatsOptions::default())
            .await
            .expect_err("nothing listens there");
        assert!(matches!(err, BusError::Connection(_)), "{err:?}");
    }

    #[tokio::test]
    async fn describe_names_the_server_without_credentials() {
        let server = NatsServer::start().expect("nats-server");
        let url = server.url().replace("nats://", "nats://user:secret@");
        // The server has no auth configured: extra credentials are ignored by it.
        let bus = NatsBus::connect(&url, NatsOptions::default())
            .await
            .expect("connect");
        assert_eq!(bus.describe(), server.url());
        let from_client = NatsBus::from_client(bus.client().clone());
        assert!(from_client.describe().starts_with("nats://"));
    }

    #[tokio::test]
    async fn nkey_user_connects_and_a_wrong_seed_is_an_authentication_error() {
        let user = nkeys::KeyPair::new_user();
        let config = format!(
            "authorization {{ users = [ {{ nkey: \"{}\" }} ] }}\n",
            user.public_key()
        );
        let server = NatsServer::start_with_config(&config).expect("nats-server");
        let options = |seed: String| NatsOptions {
            nkey_seed: Some(seed),
            ..Default::default()
        };
        let seed = user.seed().expect("seed");
        NatsBus::connect(&server.url(), options(seed))
            .await
            .expect("the NKey user connects");
        let stranger = nkeys::KeyPair::new_user().seed().expect("seed");
        let err = NatsBus::connect(&server.url(), options(stranger))
            .await
            .expect_err("an unknown NKey is refused");
        assert!(matches!(err, BusError::Authentication(_)), "{err:?}");
        let err = NatsBus::connect(&server.url(), NatsOptions::default())
            .await
            .expect_err("anonymous is refused");
        assert!(matches!(err, BusError::Authentication(_)), "{err:?}");
    }
}

mod in_process_only {
    use std::time::Duration;

    use bytes::Bytes;
    use futures::{StreamExt, stream};
    use passerelle_bus::Bus;
    use passerelle_bus::consumer::ConsumerConfig;
    use passerelle_bus::documents::{DocumentLimits, NewDocument};
    use passerelle_bus::in_process::{InProcessBus, InProcessConfig};
    use passerelle_bus::subjects::EVENTS_INS_SEARCHED;

    #[tokio::test]
    async fn durable_log_is_bounded() {
        let bus = InProcessBus::with_config(InProcessConfig {
            durable_log_capacity: 3,
            ..Default::default()
        });
        for i in 0..5u8 {
            bus.publish_durable(
                EVENTS_INS_SEARCHED,
                Default::default(),
                Bytes::from(vec![i]),
            )
            .await
            .expect("durable publish");
        }
        let log: Vec<u8> = bus.durable_log().iter().map(|m| m.payload[0]).collect();
        assert_eq!(log, [2, 3, 4]);
        assert_eq!(bus.describe(), "in-process");
    }

    /// What `passerelle up` relies on: a bus reopened on the same data directory finds the
    /// key-value entries, the unacknowledged messages of its consumers and the documents.
    #[tokio::test]
    async fn durable_state_survives_a_restart() {
        let dir = tempfile::tempdir().expect("data dir");
        let consumer_config = ConsumerConfig {
            ack_wait: Duration::from_secs(60),
            ..ConsumerConfig::new("survivor", "passerelle.events.v1.test.>")
        };
        let (revision, document) = {
            let bus = InProcessBus::open(dir.path()).expect("open");
            let kv = bus.key_value("state").await.expect("bucket");
            let revision = kv
                .put("job.7", Bytes::from_static(b"half done"))
                .await
                .expect("put");
            for payload in [&b"acked"[..], b"unacked"] {
                bus.publish_durable(
                    "passerelle.events.v1.test.job",
                    Default::default(),
                    Bytes::copy_from_slice(payload),
                )
                .await
                .expect("publish");
            }
            let mut consumer = bus
                .durable_consumer(&consumer_config)
                .await
                .expect("consumer");
            let acked = consumer.next().await.expect("first");
            assert_eq!(&acked.message.payload[..], b"acked");
            acked.ack().await.expect("ack");
            let unacked = consumer.next().await.expect("second");
            assert_eq!(&unacked.message.payload[..], b"unacked");
            // The process stops before acknowledging it.
            drop(unacked);
            let document = bus
                .documents(DocumentLimits::default())
                .await
                .expect("store")
                .put(
                    NewDocument {
                        media_type: "text/plain".to_owned(),
                        ..Default::default()
                    },
                    Box::pin(stream::iter([Ok(Bytes::from_static(b"kept on disk"))])),
                )
                .await
                .expect("put");
            (revision, document)
        };

        let bus = InProcessBus::open(dir.path()).expect("reopen");
        let entry = bus
            .key_value("state")
            .await
            .expect("bucket")
            .get("job.7")
            .await
            .expect("get")
            .expect("kept");
        assert_eq!(&entry.value[..], b"half done");
        assert_eq!(entry.revision, revision);

        let mut consumer = bus
            .durable_consumer(&consumer_config)
            .await
            .expect("consumer");
        // Given again at once (its holder is gone), not after the ack wait.
        let again = tokio::time::timeout(Duration::from_secs(5), consumer.next())
            .await
            .expect("redelivered at once")
            .expect("delivery");
        assert_eq!(&again.message.payload[..], b"unacked");
        assert_eq!(again.deliveries, 2);
        again.ack().await.expect("ack");
        assert_eq!(bus.durable_log().len(), 2);

        let store = bus
            .documents(DocumentLimits::default())
            .await
            .expect("store");
        assert_eq!(store.stat(&document.id).await.expect("stat"), document);
        let (_, mut chunks) = store.get(&document.id).await.expect("get");
        let mut content = Vec::new();
        while let Some(chunk) = chunks.next().await {
            content.extend_from_slice(&chunk.expect("chunk"));
        }
        assert_eq!(content, b"kept on disk");
    }
}
