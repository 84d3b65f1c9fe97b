//! What every service node shares.
//!
//! A node runs real service instances on its machine, one server process per
//! instance, and records them in a local SQLite [`registry`]. Service-specific
//! work (writing a server's config, checking it answers, managing its users)
//! lives behind the [`Backend`] trait; everything else is here:
//!
//! - [`config`]: the YAML keys every node has;
//! - [`registry`]: the SQLite rows for instances and bindings;
//! - [`ports`]: which ports of the configured range are free;
//! - [`process`]: starting servers, recognising our own processes by pid and
//!   command line, stopping them;
//! - [`node`]: the operations (provision, bind, list handles, purge, start-up);
//! - [`grpc`]: the `Node` gRPC service in front of them;
//! - [`announce`]: liveness and capacity announcements on NATS (optional).

pub mod announce;
pub mod backend;
pub mod config;
pub mod error;
pub mod grpc;
pub mod node;
pub mod ports;
pub mod process;
pub mod registry;
pub mod secret;
pub mod testing;

pub use backend::{Backend, ServerCommand};
pub use config::NodeConfig;
pub use error::NodeError;
pub use node::Node;
pub use registry::{BindingRecord, InstanceRecord};

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Sets up `tracing` for a node or gateway binary: `RUST_LOG` or `info`.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .try_init();
}
