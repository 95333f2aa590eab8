//! The card-agent of a workstation: reads CPS (professional) and Vitale (patient) cards and
//! signs with the CPS, for services anywhere in the hospital (NATS) or local tools (gRPC).
//!
//! - [`backend`]: where cards and keys are — PC/SC readers, a PKCS#11 module, or a software
//!   token — behind one trait.

pub mod backend;
