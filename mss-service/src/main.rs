//! `mss-service`: the MSSanté service alone, for distributed deployments.
//!
//! ```text
//! mss-service --config mss.toml --nats nats://nats:4222 [--worker-only | --grpc-only]
//! ```

use std::process::ExitCode;

use passerelle_service_kit::binary::{self, ServiceArgs};

fn main() -> ExitCode {
    let args = ServiceArgs::parse_as(
        mss_service::SERVICE_NAME,
        "Passerelle MSS service: MSSanté secure health mail and the directory over gRPC and NATS",
    );
    binary::run(
        mss_service::SERVICE_NAME,
        mss_service::GRPC_PORT,
        args,
        |cx| async move {
            mss_service::start(&cx.kit, &cx.settings, cx.bus, cx.roles, cx.shutdown).await
        },
    )
}
