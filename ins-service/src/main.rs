//! `ins-service`: the INS service alone, for distributed deployments.
//!
//! ```text
//! ins-service --config ins.toml --nats nats://nats:4222 [--worker-only | --grpc-only]
//! ```

use std::process::ExitCode;

use passerelle_service_kit::binary::{self, ServiceArgs};

fn main() -> ExitCode {
    let args = ServiceArgs::parse_as(
        ins_service::SERVICE_NAME,
        "Passerelle INS service: INSi over gRPC and NATS",
    );
    binary::run(
        ins_service::SERVICE_NAME,
        ins_service::GRPC_PORT,
        args,
        |cx| async move {
            ins_service::start(&cx.kit, &cx.settings, cx.bus, cx.roles, cx.shutdown).await
        },
    )
}
