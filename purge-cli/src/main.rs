//! The `purge-orphan` binary: a thin shell around [`purge_cli::run`].

fn main() {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("purge-orphan: error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    // Lossy rather than a panic on a non-UTF-8 argument.
    let args = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = runtime.block_on(purge_cli::run(
        args,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    ));
    std::process::exit(code);
}
