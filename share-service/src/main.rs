//! `share-service`: the share service alone, for distributed deployments.
//!
//! ```text
//! share-service --config share.toml --nats nats://nats:4222 [--worker-only | --grpc-only]
//! ```

use std::process::ExitCode;

use passerelle_service_kit::binary::{self, ServiceArgs};

fn main() -> ExitCode {
    let args = ServiceArgs::parse_as(
        share_service::SERVICE_NAME,
        "Passerelle share service: a document to the DMP and by MSSanté, over gRPC and NATS",
    );
    binary::run(
        share_service::SERVICE_NAME,
        share_service::GRPC_PORT,
        args,
        |cx| async move {
            share_service::start(&cx.kit, &cx.settings, cx.bus, cx.roles, cx.shutdown).await
        },
    )
}
