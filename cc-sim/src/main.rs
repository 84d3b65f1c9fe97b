//! The `cc-sim` binary: read the YAML config, bind `listen`, serve.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// A small stand-in for the Cloud Controller's v3 service API.
#[derive(Parser, Debug)]
#[command(name = "cc-sim", version, about)]
struct Args {
    /// Path to the YAML config file.
    #[arg(short = 'c', long = "config")]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line with the whole cause chain, e.g.
            // "malformed config file cc-sim.yml: token: invalid type ... at line 3 column 8".
            eprintln!("cc-sim: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let config = cc_sim::Config::from_yaml_file(&args.config)?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot bind {}", config.listen))?;
    cc_sim::serve(config, listener).await
}
