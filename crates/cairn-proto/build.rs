//! Generates the cairn.v1 gRPC code into OUT_DIR. protoc comes from `protoc-bin-vendored`
//! so that a fresh machine builds without a system protobuf compiler.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not baked in with env!(): a build script compiled in one checkout
    // can be reused from a shared target dir by another checkout.
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto").canonicalize()?;
    let files = ["cairn/v1/types.proto", "cairn/v1/storage.proto", "cairn/v1/coordinator.proto"];
    // The whole directory, canonical: any proto change regenerates the code.
    println!("cargo:rerun-if-changed={}", proto_root.display());
    for file in &files {
        println!("cargo:rerun-if-changed={}", proto_root.join(file).display());
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    config.file_descriptor_set_path(out_dir.join("cairn_v1_descriptor.bin"));
    // File chunks become `Bytes`, so they move between the network and storage without copies.
    config.bytes([".cairn.v1"]);
    tonic_prost_build::configure().compile_with_config(
        config,
        &files.map(|f| proto_root.join(f)),
        std::slice::from_ref(&proto_root),
    )?;
    Ok(())
}
