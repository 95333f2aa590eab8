//! What every Passerelle service shares, so that each service crate holds only its own logic:
//! configuration layers, telemetry, the gRPC server (health, reflection, request ids), graceful
//! shutdown, and errors that carry a machine-readable reason.

pub mod config;
pub mod documents;
pub mod errors;
pub mod grpc;
pub mod request_id;
pub mod shutdown;
pub mod streaming;
pub mod telemetry;

pub use request_id::RequestId;
pub use shutdown::Shutdown;
