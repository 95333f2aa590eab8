//! Passerelle sandbox: faithful simulators of the French national e-health services
//! (INSi, DMP, MSSanté submission) and the test PKI they and their clients use.
//!
//! The simulators are independent implementations of the national services: they share
//! no parsing code with Passerelle's own clients, so that testing a client against them
//! tests something.

mod common;
pub mod dmp;
pub mod insi;
pub mod mss;
pub mod pki;
pub mod tutorial;

pub use dmp::{DmpSandbox, DmpSandboxConfig, RunningDmpSandbox};
pub use insi::{
    FaultInjection, FaultKind, FaultTrigger, INSI_ENDPOINT_PATH, InsiSandbox, InsiSandboxConfig,
    RunningInsiSandbox, SandboxError,
};
pub use mss::{MssSandbox, MssSandboxConfig, RunningMssSandbox};
pub use pki::{ORG_P12_PASSWORD, PkiError, TestPki};
