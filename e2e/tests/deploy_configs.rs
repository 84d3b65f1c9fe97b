//! The docker-compose cluster's configs (deploy/compose/) load with the
//! same code the binaries use, so a typo there fails here, not in a
//! container.

use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/compose")
}

#[test]
fn every_compose_config_loads() {
    for svc in ["redis", "mongodb"] {
        let gw = gateway::config::GatewayConfig::from_yaml_file(
            &dir().join(format!("gateway-{svc}.yml")),
        )
        .unwrap();
        assert_eq!(gw.service.name, svc);
        assert!(gw.nats.is_some());
        for (i, n) in gw.nodes.iter().enumerate() {
            let path = dir().join(format!("{svc}-node-{i}.yml"));
            let node: node_core::NodeConfig = node_core::config::load_yaml(&path).unwrap();
            node.validate().unwrap();
            assert_eq!(node.node_id, n.id);
            assert!(
                node.token.matches(&n.token),
                "{}: token differs from the gateway's",
                n.id
            );
            assert!(n
                .address
                .ends_with(&node.listen.rsplit(':').next().unwrap().to_string()));
        }
    }
    let cc = cc_sim::Config::from_yaml_file(&dir().join("cc-sim.yml")).unwrap();
    assert_eq!(cc.brokers.len(), 2);
    for b in &cc.brokers {
        let gw = gateway::config::GatewayConfig::from_yaml_file(
            &dir().join(format!("gateway-{}.yml", b.name)),
        )
        .unwrap();
        assert_eq!(
            b.password, gw.broker.password,
            "{}: broker password differs",
            b.name
        );
        assert_eq!(cc.token, gw.cc.token, "{}: CC token differs", b.name);
        let cli =
            purge_cli::config::Config::load(&dir().join(format!("purge-orphan-{}.yml", b.name)))
                .unwrap();
        assert_eq!(
            cli.token.expose(),
            gw.token,
            "{}: purge-orphan token differs",
            b.name
        );
    }
}
