//! The bus contract, checked on both implementations: every case in `cases` runs once on
//! the in-process bus and once on a fresh nats-server, so the two cannot drift apart.

mod cases;
mod harness;
mod typed;

use harness::{InProcess, Nats};

/// Instantiates each listed case of `$module` as one test per implementation.
macro_rules! on_both {
    ($tests:ident = $module:ident: $($case:ident),* $(,)?) => {
        mod $tests {
            mod in_process {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        let h = <crate::InProcess as crate::harness::Harness>::start().await;
                        crate::$module::$case(&h).await;
                    }
                )*
            }
            mod nats {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        let h = <crate::Nats as crate::harness::Harness>::start().await;
                        crate::$module::$case(&h).await;
                    }
                )*
            }
        }
    };
}

on_both!(contract = cases:
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
    publish_durable_outside_events_fails,
    invalid_subjects_and_headers_rejected,
    oversized_message_rejected,
);

on_both!(typed_rpc = typed:
    call_ok,
    rich_error_details_round_trip,
    malformed_request_gets_invalid_argument,
    no_responders_is_unavailable,
    handler_panic_answers_internal,
    concurrency_is_bounded,
    serve_typed_finishes_in_flight_work,
    serve_typed_until_drains_on_shutdown,
);

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
    use bytes::Bytes;
    use passerelle_bus::Bus;
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
}
