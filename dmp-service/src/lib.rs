//! dmp-service: the patient's shared medical record (DMP, "Mon espace santé") for any hospital
//! or health-centre software, over gRPC and the bus — status and authorisation (TD0.2–TD0.4),
//! deposit (ITI-41), search (ITI-18), retrieve (ITI-43), updates (ITI-57).
//!
//! - [`signer`]: who signs (the card-agent's CPS, or the organisation's software key);
//! - [`vihf`]: the VIHF v3 SAML assertion every call carries;
//! - [`xades`]: the signature document of a deposit;
//! - [`client`]: the XDS.b / DMP web-service client (SOAP 1.2, MTOM, WS-Addressing, mutual TLS).

pub mod client;
pub mod signer;
pub mod vihf;
pub mod xades;
