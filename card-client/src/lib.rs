//! A service's client of the workstation's card-agent, over the bus: read the professional's
//! CPS, sign with its signature key for a named purpose, and authenticate a TLS session with
//! its authentication key (a rustls client-certificate resolver). Used by every service that
//! acts in CPS mode (ins-service, dmp-service, mss-service), each with its own adapter.
//!
//! - [`CardAgentClient`]: the agent of one workstation, asked on behalf of one service
//!   (`passerelle.card.v1.<workstation>.read` / `.sign`);
//! - [`CpsSession`]: the card as read for one request; its signatures are checked to come
//!   from that same card;
//! - [`CardTlsIdentity`]: TLS 1.2 client authentication with the card's key.
//!
//! Every call carries the caller's request id (bus header `request-id`): the agent records it
//! in its `SignatureAudited` event, which so joins the call that caused it. The PIN never
//! travels on the bus: the professional enters it on the workstation, and a card that needs
//! it answers so ([`CardError::PinRequired`]).

mod agent;
mod error;
mod session;
pub mod tls;

pub use agent::{ALGORITHM, CardAgentClient, CardSignature, DEFAULT_AGENT_TIMEOUT};
pub use error::{CardError, reasons};
pub use session::CpsSession;
pub use tls::CardTlsIdentity;

/// Purposes of signatures, as the agent's audit records them.
pub mod purposes {
    /// The TLS handshake (CertificateVerify) signed with the authentication key.
    pub const TLS_CLIENT_AUTH: &str = "tls-client-auth";
}

#[cfg(test)]
mod tests;
