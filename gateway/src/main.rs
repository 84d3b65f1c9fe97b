//! `gateway -c CONFIG`: runs a service gateway (broker API, internal API,
//! status server).

use clap::Parser;
use gateway::config::GatewayConfig;
use gateway::Gateway;

#[derive(Parser)]
#[command(about = "Service gateway: broker for one service type, finder of orphans on its nodes")]
struct Args {
    /// The gateway's YAML config.
    #[arg(short, long)]
    config: std::path::PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let args = Args::parse();
    let cfg = GatewayConfig::from_yaml_file(&args.config)?;
    let api = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    let status_addr = format!(
        "{}:{}",
        cfg.status.host.as_deref().unwrap_or("127.0.0.1"),
        cfg.status.port.unwrap_or(0)
    );
    let status = tokio::net::TcpListener::bind(&status_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {status_addr}: {e}"))?;
    let gw = Gateway::new(cfg)?;
    let random = gw.cfg.status.user.is_none() || gw.cfg.status.password.is_none();
    if random {
        match &gw.cfg.status.credentials_file {
            Some(path) => {
                let (u, p) = gw.status_credentials();
                write_private(path, &format!("user: {u}\npassword: {p}\n"))?;
                tracing::info!(file = %path.display(), "random status credentials written");
            }
            None => tracing::warn!(
                "status user/password are random and not saved anywhere; set status.user and status.password, or status.credentials_file"
            ),
        }
    }
    tracing::info!(
        service = %gw.cfg.service.name,
        api = %api.local_addr()?,
        status = %status.local_addr()?,
        nodes = gw.nodes.len(),
        "gateway serving"
    );
    tokio::select! {
        r = gateway::serve(gw, api, status) => r,
        _ = shutdown_signal() => Ok(()),
    }
}

fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // `mode` applies only to a new file: tighten an existing one too.
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
