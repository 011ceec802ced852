//! Generates the protobuf types from `proto/printfleet/v1/telemetry.proto` with protox (a pure
//! Rust protobuf compiler, so no system `protoc` is needed) and prost-build.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/printfleet/v1/telemetry.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // The descriptor set lets tests check the limit table against the .proto itself.
    std::fs::write(out.join("telemetry.fds"), prost::Message::encode_to_vec(&descriptors))?;
    prost_build::Config::new()
        // Deterministic encoding: maps in key order, so golden vectors are byte-stable.
        .btree_map(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
