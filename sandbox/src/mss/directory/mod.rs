//! Simulator of the Annuaire Santé FHIR API v2 (the national directory), the part a sender of
//! MSSanté mail uses: `Practitioner`, `PractitionerRole` and `Organization` searches answered
//! from a seed of invented professionals (`data/annuaire-seed.toml`), in the real API's
//! shape, behind the same `ESANTE-API-KEY` check.
//!
//! The real API has no test environment (production only, real data), hence this sandbox.
//! Like the other simulators it shares no code with Passerelle's client.

mod resources;
mod search;
mod seed;
mod server;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::watch;

use crate::insi::SandboxError;
use crate::pki::TestPki;

/// Path of the API, as on the ANS's gateway (`https://gateway.api.esante.gouv.fr/fhir/v2`).
pub const DIRECTORY_FHIR_PATH: &str = "/fhir/v2";
/// The header carrying the application's key.
pub const API_KEY_HEADER: &str = "ESANTE-API-KEY";
/// The key the sandbox accepts by default.
pub const SANDBOX_API_KEY: &str = "sandbox-api-key";
/// Default listening address of the `passerelle-sandbox` binary.
pub const DEFAULT_DIRECTORY_LISTEN: &str = "127.0.0.1:8445";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorySandboxConfig {
    /// Listening address (default `127.0.0.1:0`, any free port).
    pub listen: SocketAddr,
    /// Accepted `ESANTE-API-KEY` values (default: [`SANDBOX_API_KEY`]); empty: every request
    /// is refused, as with a revoked key.
    pub api_keys: Vec<String>,
    /// Seed file (the format of `data/annuaire-seed.toml`); `None`: the built-in seed.
    pub seed: Option<PathBuf>,
}

impl Default for DirectorySandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            api_keys: vec![SANDBOX_API_KEY.to_owned()],
            seed: None,
        }
    }
}

/// Entry point of the simulator.
pub struct DirectorySandbox;

fn tls_error(what: &str, e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Tls(format!("{what}: {e}"))
}

/// Server TLS: the sandbox server certificate, no client certificate, TLS 1.2 and 1.3.
fn acceptor(pki: &TestPki) -> Result<tokio_rustls::TlsAcceptor, SandboxError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = CertificateDer::pem_file_iter(&pki.server_cert)
        .map_err(|e| tls_error("server certificate", e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error("server certificate", e))?;
    let key =
        PrivateKeyDer::from_pem_file(&pki.server_key).map_err(|e| tls_error("server key", e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| tls_error("protocol versions", e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| tls_error("server certificate", e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

impl DirectorySandbox {
    /// Loads the seed, binds, then serves in the background until
    /// [`RunningDirectorySandbox::stop`].
    pub async fn start(
        config: DirectorySandboxConfig,
        pki: &TestPki,
    ) -> Result<RunningDirectorySandbox, SandboxError> {
        let seed = seed::Seed::load(config.seed.as_deref()).map_err(|message| {
            SandboxError::Identities {
                source_name: config
                    .seed
                    .as_ref()
                    .map_or("built-in directory seed".into(), |p| {
                        p.display().to_string()
                    }),
                message,
            }
        })?;
        let acceptor = acceptor(pki)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: config.listen,
            source,
        })?;
        let state = Arc::new(server::State {
            seed,
            api_keys: config.api_keys,
            addr,
            requests: AtomicU64::new(0),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, acceptor, state, stop_rx));
        tracing::info!(%addr, path = DIRECTORY_FHIR_PATH, "directory sandbox listening");
        Ok(RunningDirectorySandbox {
            addr,
            server: crate::common::serve::ServerTask::new(stop_tx, task),
        })
    }
}

/// A running simulator. Dropping it stops it too, without waiting.
#[derive(Debug)]
pub struct RunningDirectorySandbox {
    addr: SocketAddr,
    server: crate::common::serve::ServerTask,
}

impl RunningDirectorySandbox {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API's base, e.g. `https://127.0.0.1:8445/fhir/v2`.
    pub fn base_url(&self) -> String {
        format!("https://{}{DIRECTORY_FHIR_PATH}", self.addr)
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}
