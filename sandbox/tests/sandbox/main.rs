//! Integration tests of the sandbox (one test binary, shared helpers).

// Test code: a failed unwrap is a failed test (the workspace denies them elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod binary;
mod cps;
mod curl;
mod dmp_examples;
mod dmp_helpers;
mod dmp_large;
mod dmp_modes;
mod dmp_pki;
mod dmp_refusals;
mod dmp_updates;
mod faults;
mod helpers;
mod pki;
mod replay;
mod searches;
mod tls;
mod wsdl;
