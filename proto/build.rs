//! Generates the gRPC code with a vendored `protoc`, so no system protoc is needed.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY-free: build scripts are single-threaded here.
    unsafe { std::env::set_var("PROTOC", protoc) };
    tonic_prost_build::configure().compile_protos(&["proto/node.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto/node.proto");
    Ok(())
}
