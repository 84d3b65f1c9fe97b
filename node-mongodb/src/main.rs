//! `node-mongodb -c CONFIG`: runs a MongoDB service node.

use std::sync::Arc;

use clap::Parser;
use node_core::Node;
use node_core::NodeConfig;
use node_mongodb::MongoBackend;

#[derive(Parser)]
#[command(
    about = "MongoDB service node: one MongoDB-wire server per instance, database users as bindings"
)]
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
    let backend = MongoBackend::new(&cfg.bind_host, cfg.server.clone());
    let node = Arc::new(Node::open(cfg, backend)?);
    node_core::grpc::run(node).await
}
