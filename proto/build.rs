//! Generates the Rust code of every `.proto` under `passerelle/`, with a file descriptor set
//! for gRPC server reflection. `protoc` comes from `protoc-bin-vendored`: no system package.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "passerelle/common/v1/common.proto",
    "passerelle/ins/v1/ins.proto",
    "passerelle/dmp/v1/dmp.proto",
    "passerelle/mss/v1/mss.proto",
    "passerelle/share/v1/share.proto",
    "passerelle/events/v1/events.proto",
    "passerelle/bus/v1/bus.proto",
    "passerelle/card/v1/card.proto",
    "passerelle/documents/v1/documents.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; setting PROTOC before code generation is the
    // documented way to point tonic-prost-build at a protoc binary.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("passerelle_descriptor.bin"))
        .compile_protos(PROTOS, &["."])?;
    for p in PROTOS {
        println!("cargo:rerun-if-changed={p}");
    }
    Ok(())
}
