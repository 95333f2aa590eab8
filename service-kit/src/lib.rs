//! What every Passerelle service shares, so that each service crate holds only its own logic:
//! configuration layers, telemetry, the gRPC server (health, reflection, request ids), graceful
//! shutdown, and errors that carry a machine-readable reason.

pub mod audit;
pub mod binary;
pub mod breaker;
pub mod config;
pub mod documents;
pub mod errors;
pub mod face;
pub mod grpc;
pub mod identity;
pub mod letters;
pub mod request_id;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod streaming;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod worker;

pub use request_id::RequestId;
pub use service::{Face, Roles, RunningService, StartError};
pub use shutdown::Shutdown;
pub use worker::Handlers;
