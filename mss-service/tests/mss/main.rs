//! mss-service end to end: gRPC → the bus → the worker → the MSSanté SMTP sandbox (STARTTLS or
//! implicit TLS, the organisation's certificate or the CPS's key through the workstation's
//! card-agent) and the directory sandbox, on both buses. What a hospital's software sees:
//! answers, statuses, reasons and the server's codes, the messages in the mailboxes, the
//! events on the bus.

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod receiving;
mod sending;
mod sharing;
mod sharing_faults;
mod support;
