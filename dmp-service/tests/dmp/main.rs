//! dmp-service end to end: gRPC → the bus → the worker → the DMP sandbox (mutual TLS, signed
//! VIHF, SOAP + MTOM), on both buses. What a hospital's software sees: answers, statuses,
//! reasons and the DMP's codes.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod documents;
mod support;
