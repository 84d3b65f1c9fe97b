//! What a Redis node's operations cost with real `redis-server` processes.
//!
//! `cargo bench -p node-redis --bench node_ops` provisions instances (each a
//! real server), binds users, then times `list_handles` (registry + /proc +
//! one `ACL USERS` per running instance), and purges everything. Prints
//! figures; asserts nothing about time. Recorded in BENCHMARKS.md.

use std::time::Instant;

use node_core::config::ServerConfig;
use node_core::testing::node_config;
use node_core::Node;
use node_redis::RedisBackend;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    println!(
        "{:>9} {:>9} {:>15} {:>12} {:>16} {:>17}",
        "instances", "bindings", "provision_ms", "bind_ms", "list_handles_ms", "purge_all_ms"
    );
    for n in [5usize, 20, 50] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = node_config("bench_node", dir.path(), ServerConfig::default());
        cfg.capacity = n as u32;
        cfg.port_range = node_core::testing::free_port_range(n as u16 + 10);
        let backend = RedisBackend::new(&cfg.bind_host, cfg.server.clone());
        let node = Node::open(cfg, backend).unwrap();
        let ids: Vec<String> = (0..n).map(|i| format!("bench-{i}")).collect();

        let mut provision = Vec::new();
        for id in &ids {
            let t = Instant::now();
            node.provision(id, "dedicated").await.unwrap();
            provision.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let mut bind = Vec::new();
        for id in &ids {
            for b in 0..3 {
                let t = Instant::now();
                node.bind(id, &format!("{id}-b{b}")).await.unwrap();
                bind.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let mut list = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let h = node.list_handles().await.unwrap();
            list.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(h.instances.len(), n);
        }
        let t = Instant::now();
        let results = node.purge(&ids, &[], 0).await;
        let purge = t.elapsed().as_secs_f64() * 1e3;
        assert!(results
            .iter()
            .all(|r| r.outcome == proto::PurgeOutcome::Purged as i32));
        println!(
            "{n:>9} {:>9} {:>15.1} {:>12.1} {:>16.1} {:>17.1}",
            n * 3,
            median(provision),
            median(bind),
            median(list),
            purge
        );
    }
}
