//! HTTPS over mutual TLS, shared by the clients of the téléservices (INSi, the DMP):
//!
//! - [`ClientIdentity`]: the configured TLS identity (PEM files or a PKCS#12 file), and
//!   [`load_identity`] / [`load_roots`] to read it and the trusted CAs;
//! - [`TlsPolicy`] and [`client_config`]: a rustls client configuration (ring provider, the
//!   service's protocol versions and cipher suites, configured roots only, HTTP/1.1) with the
//!   identity or a certificate resolver (the card's);
//! - [`HttpsClient`]: a reqwest client on such a configuration (no proxy, no redirect), a POST
//!   whose answer is read up to a bound, and its failures classified ([`HttpError`]: TLS,
//!   connection, timeout, size).
//!
//! [`https_endpoint`] checks the endpoint and limits a client is configured with. Errors are
//! typed ([`SetupError`], [`HttpError`]); each service maps them to its own.

mod http;
mod identity;
mod tls;

pub use http::{HttpError, HttpsClient, Response, https_endpoint};
pub use identity::{ClientIdentity, Identity, load_identity, load_roots};
pub use tls::{ClientAuth, SetupError, TlsPolicy, client_config};
