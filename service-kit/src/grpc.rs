//! The gRPC server every service runs: its own services plus gRPC health checking and server
//! reflection, the request-id layer, and graceful shutdown.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic_health::ServingStatus;

use crate::request_id::RequestIdLayer;
use crate::shutdown::Shutdown;

#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    #[error("cannot listen on {addr}: {source} (is the port already in use?)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("reflection service: {0}")]
    Reflection(String),
    #[error("gRPC server failed: {0}")]
    Serve(String),
}

/// Binds `addr` (port 0 picks a free port) and tells the address actually bound.
pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), GrpcError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| GrpcError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| GrpcError::Bind { addr, source })?;
    Ok((listener, local))
}

/// Serves `routes` (the service's own gRPC services, named in `service_names` for health
/// checking) with health and reflection, until `shutdown` triggers; in-flight calls finish.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    service_names: &[&str],
    shutdown: Shutdown,
) -> Result<(), GrpcError> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    for name in service_names {
        health_reporter
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }
    // Reflection in both versions: grpcurl and Postman ask `v1`, Python's grpcio-reflection,
    // Evans and older grpcurl ask `v1alpha`. Both describe the same services, both versions of
    // reflection included, so either client lists everything this server answers.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .include_reflection_service(false)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
            .register_encoded_file_descriptor_set(passerelle_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection()
        .build_v1()
        .map_err(|e| GrpcError::Reflection(e.to_string()))?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(|e| GrpcError::Reflection(e.to_string()))?;
    let routes = routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    let stop = shutdown.clone();
    let reporter = health_reporter.clone();
    let names: Vec<String> = service_names.iter().map(|s| (*s).to_owned()).collect();
    let signal = async move {
        stop.wait().await;
        // Tell load balancers first, so no new call is routed here while in-flight ones finish.
        for name in &names {
            reporter
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
    };
    // With a listener of our own, tonic does not set TCP_NODELAY: small answers would wait
    // for Nagle's algorithm and the peer's delayed ACK (40 ms tails).
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        if let Ok(stream) = &conn
            && let Err(e) = stream.set_nodelay(true)
        {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        conn
    });
    tonic::transport::Server::builder()
        .layer(RequestIdLayer)
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, signal)
        .await
        .map_err(|e| GrpcError::Serve(e.to_string()))
}
