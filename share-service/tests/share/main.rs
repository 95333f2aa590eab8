//! share-service over its gRPC face, on both buses: bad input, the channels' rules, the
//! ShareRequested it publishes, the status projection, retries and restarts. dmp-service and
//! mss-service are not started: the tests publish the channel results themselves, as those
//! services do (the contract), and read the ShareRequested events off the bus.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod flow;
mod support;
