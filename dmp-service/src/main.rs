//! `dmp-service`: the DMP service alone, for distributed deployments.
//!
//! ```text
//! dmp-service --config dmp.toml --nats nats://nats:4222 [--worker-only | --grpc-only]
//! ```

use std::process::ExitCode;

use passerelle_service_kit::binary::{self, ServiceArgs};

fn main() -> ExitCode {
    return_large_buffers_to_the_system();
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

/// Documents of tens of megabytes pass through this service (a PDF, its CDA, the MTOM body).
/// glibc raises its mmap threshold after the first such buffer is freed, so later ones come
/// from arenas that keep their pages: the resident memory then grows by a document's size
/// per worker thread and stays there (measured: 110 MB after 9 deposits of 20 MB instead of
/// 70 MB). A fixed threshold makes every buffer over 128 KiB its own mapping, returned on
/// free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_buffers_to_the_system() {
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_buffers_to_the_system() {}
