//! `node-redis -c CONFIG`: runs a Redis service node.

use std::sync::Arc;

use clap::Parser;
use node_core::Node;
use node_core::NodeConfig;
use node_redis::RedisBackend;

#[derive(Parser)]
#[command(about = "Redis service node: one redis-server per instance, ACL users as bindings")]
struct Args {
    /// The node's YAML config.
    #[arg(short, long)]
    config: std::path::PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    node_core::init_tracing();
    let args = Args::parse();
    let cfg: NodeConfig = node_core::config::load_yaml(&args.config)?;
    let backend = RedisBackend::new(&cfg.bind_host, cfg.server.clone());
    let node = Arc::new(Node::open(cfg, backend)?);
    node_core::grpc::run(node).await
}
