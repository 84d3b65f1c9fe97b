//! Helpers for tests that run real nodes: free loopback ports and configs.

use std::net::TcpListener;

use crate::config::{NodeConfig, PortRange, ServerConfig};
use crate::secret::Secret;

/// The node token of test configs.
pub const NODE_TOKEN: &str = "node-test-token-3e8d";

/// A block of `n` consecutive ports that are free on 127.0.0.1 right now,
/// taken from a random high region so parallel tests rarely collide.
pub fn free_port_range(n: u16) -> PortRange {
    use rand::Rng;
    for _ in 0..200 {
        let first: u16 = rand::rng().random_range(20000..(60000 - n));
        if (first..first + n).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return PortRange {
                first,
                last: first + n - 1,
            };
        }
    }
    panic!("no free block of {n} ports");
}

/// A node config rooted at `base`, listening on a free port.
pub fn node_config(node_id: &str, base: &std::path::Path, server: ServerConfig) -> NodeConfig {
    let listen = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    NodeConfig {
        node_id: node_id.to_string(),
        listen: listen.to_string(),
        token: Secret::new(NODE_TOKEN),
        base_dir: base.to_path_buf(),
        bind_host: "127.0.0.1".into(),
        public_host: None,
        port_range: free_port_range(20),
        capacity: 10,
        plans: vec!["dedicated".into()],
        ready_timeout: 20,
        server_timeout: 5,
        server,
        nats: None,
    }
}
