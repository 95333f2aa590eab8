//! `dmp-service`: the DMP service alone, for distributed deployments.
//!
//! ```text
//! dmp-service --config dmp.toml --nats nats://nats:4222 [--worker-only | --grpc-only]
//! ```

use std::process::ExitCode;

use passerelle_service_kit::binary::{self, ServiceArgs};

fn main() -> ExitCode {
    let args = ServiceArgs::parse_as(
        dmp_service::SERVICE_NAME,
        "Passerelle DMP service: the patient's shared medical record over gRPC and NATS",
    );
    binary::run(
        dmp_service::SERVICE_NAME,
        dmp_service::GRPC_PORT,
        args,
        |cx| async move {
            dmp_service::start(&cx.kit, &cx.settings, cx.bus, cx.roles, cx.shutdown).await
        },
    )
}
