//! A whole local cluster in one test process: cc-sim, a gateway and real
//! nodes, each on its own loopback port, talking real HTTP and gRPC, with
//! real server processes behind the nodes. Dropping the cluster kills every
//! server it started, even when a test panics.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use gateway::config::{
    BrokerAuth, CcConfig, GatewayConfig, NodeAddress, PlanConfig, ServiceConfig, StatusConfig,
};
use node_core::config::ServerConfig;
use node_core::{Backend, Node};
use serde_json::{json, Value};

pub const CC_TOKEN: &str = "cc-test-token-9f3a";
pub const GATEWAY_TOKEN: &str = "gw-test-token-51c2";
pub const BROKER_PASSWORD: &str = "broker-pw-77e1";
pub const STATUS_PASSWORD: &str = "status-pw-0b4d";

/// A running node and the handle that stops its gRPC server.
pub struct RunningNode<B: Backend> {
    pub node: Arc<Node<B>>,
    pub id: String,
    pub address: String,
    server: tokio::task::JoinHandle<()>,
}

impl<B: Backend> RunningNode<B> {
    /// Stops answering gRPC (the node's servers keep running).
    pub fn stop_serving(&self) {
        self.server.abort();
    }
}

async fn listener() -> (tokio::net::TcpListener, SocketAddr) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// Starts a node with `backend` under `base` and serves it on a free port.
pub async fn start_node<B: Backend>(
    id: &str,
    base: &std::path::Path,
    server: ServerConfig,
    make: impl FnOnce(&node_core::NodeConfig) -> B,
) -> RunningNode<B> {
    let cfg = node_core::testing::node_config(id, base, server);
    let backend = make(&cfg);
    let node = Arc::new(Node::open(cfg, backend).unwrap());
    node.start_all().await;
    // Serve where the config says, so the node announces its real address.
    let l = tokio::net::TcpListener::bind(&node.config().listen)
        .await
        .unwrap();
    let addr = l.local_addr().unwrap();
    let n = node.clone();
    let server = tokio::spawn(async move {
        let _ = node_core::grpc::serve(n, l, std::future::pending()).await;
    });
    RunningNode {
        node,
        id: id.to_string(),
        address: format!("http://{addr}"),
        server,
    }
}

/// How a test cluster differs from the default.
#[derive(Default)]
pub struct Options {
    /// Nodes announce on, and the gateway listens to, this NATS server.
    pub nats: Option<String>,
    /// The gateway's `check_orphan_interval` (default -1: no periodic checks).
    pub check_orphan_interval: Option<i64>,
}

pub struct Cluster<B: Backend> {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<RunningNode<B>>,
    pub cc_url: String,
    pub gateway_url: String,
    pub status_url: String,
    pub plan_id: String,
    pub http: reqwest::Client,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl<B: Backend> Drop for Cluster<B> {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        for n in &self.nodes {
            n.server.abort();
            node_core::process::kill_servers_now(n.node.instances_dir(), n.node.program());
        }
    }
}

impl<B: Backend> Cluster<B> {
    /// cc-sim + a gateway for `service` + `n` nodes made by `make`.
    pub async fn start(
        service: &str,
        n: usize,
        server: ServerConfig,
        make: impl Fn(&node_core::NodeConfig) -> B,
    ) -> Self {
        Self::start_with(service, n, server, make, Options::default()).await
    }

    /// The same, with `options`.
    pub async fn start_with(
        service: &str,
        n: usize,
        server: ServerConfig,
        make: impl Fn(&node_core::NodeConfig) -> B,
        options: Options,
    ) -> Self {
        let nats = options.nats;
        let dir = tempfile::tempdir().unwrap();
        let mut nodes = Vec::new();
        for i in 0..n {
            let id = format!("{service}_node_{i}");
            let base = dir.path().join(&id);
            std::fs::create_dir_all(&base).unwrap();
            nodes.push(start_node(&id, &base, server.clone(), &make).await);
        }
        let (api, api_addr) = listener().await;
        let (status, status_addr) = listener().await;
        let (cc, cc_addr) = listener().await;
        let plan_id = format!("{service}-dedicated");
        let gw_cfg = GatewayConfig {
            service: ServiceConfig {
                name: service.to_string(),
                id: None,
                description: format!("{service} for tests"),
                plans: vec![PlanConfig {
                    id: plan_id.clone(),
                    name: "dedicated".into(),
                    description: "one server per instance".into(),
                }],
            },
            listen: api_addr.to_string(),
            broker: BrokerAuth {
                user: "broker".into(),
                password: BROKER_PASSWORD.into(),
            },
            token: GATEWAY_TOKEN.into(),
            status: StatusConfig {
                host: None,
                port: Some(status_addr.port()),
                user: Some("status".into()),
                password: Some(STATUS_PASSWORD.into()),
                credentials_file: None,
            },
            check_orphan_interval: options.check_orphan_interval.unwrap_or(-1),
            double_check_orphan_interval: 1,
            orphan_grace: 0,
            max_orphan_fraction: 0.5,
            node_timeout: 5,
            cc: CcConfig {
                url: format!("http://{cc_addr}"),
                token: CC_TOKEN.into(),
                per_page: 2,
                timeout: 10,
            },
            nats: nats
                .clone()
                .map(|url| gateway::discovery::NatsConfig { url }),
            nodes: nodes
                .iter()
                .map(|n| NodeAddress {
                    id: n.id.clone(),
                    address: n.address.clone(),
                    token: node_core::testing::NODE_TOKEN.into(),
                })
                .collect(),
        };
        let gw = gateway::Gateway::new(gw_cfg).unwrap();
        let mut tasks = vec![tokio::spawn(async move {
            let _ = gateway::serve(gw, api, status).await;
        })];
        if let Some(url) = &nats {
            for n in &nodes {
                let cfg = node_core::announce::NatsConfig {
                    url: url.clone(),
                    announce_interval: 1,
                };
                tasks.push(tokio::spawn(node_core::announce::run(n.node.clone(), cfg)));
            }
        }
        let cc_cfg = cc_sim::Config {
            listen: cc_addr.to_string(),
            db: dir.path().join("cc.db"),
            token: CC_TOKEN.into(),
            brokers: vec![cc_sim::BrokerConfig {
                name: service.to_string(),
                url: format!("http://{api_addr}"),
                user: "broker".into(),
                password: BROKER_PASSWORD.into(),
            }],
            external_url: None,
        };
        tasks.push(tokio::spawn(async move {
            let _ = cc_sim::serve(cc_cfg, cc).await;
        }));
        Cluster {
            dir,
            nodes,
            cc_url: format!("http://{cc_addr}"),
            gateway_url: format!("http://{api_addr}"),
            status_url: format!("http://{status_addr}"),
            plan_id,
            http: reqwest::Client::new(),
            tasks,
        }
    }

    /// A CC request with the CC token; returns (status, JSON body or Null).
    pub async fn cc(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.cc_url))
            .bearer_auth(CC_TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn create_instance(&self, name: &str) -> (u16, Value) {
        self.cc(
            reqwest::Method::POST,
            "/v3/service_instances",
            Some(json!({"type": "managed", "name": name,
                "relationships": {"service_plan": {"data": {"guid": self.plan_id}}}})),
        )
        .await
    }

    pub async fn create_binding(&self, instance: &str, name: &str) -> (u16, Value) {
        self.cc(
            reqwest::Method::POST,
            "/v3/service_credential_bindings",
            Some(json!({"type": "key", "name": name,
                "relationships": {"service_instance": {"data": {"guid": instance}}}})),
        )
        .await
    }

    /// The credentials the CC holds for a binding.
    pub async fn credentials(&self, binding: &str) -> Value {
        let (s, v) = self
            .cc(
                reqwest::Method::GET,
                &format!("/v3/service_credential_bindings/{binding}/details"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v["credentials"].clone()
    }

    pub async fn varz(&self) -> Value {
        let resp = self
            .http
            .get(format!("{}/varz", self.status_url))
            .basic_auth("status", Some(STATUS_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// Writes a purge-orphan config for this cluster's gateway.
    pub fn cli_config(&self, token: &str) -> PathBuf {
        let path = self.dir.path().join(format!("purge-{}.yml", token.len()));
        std::fs::write(
            &path,
            format!(
                "gateway_uri: {}\ntoken: \"{token}\"\ntimeout: 60\n",
                self.gateway_url
            ),
        )
        .unwrap();
        path
    }

    /// Runs `purge-orphan` in-process: (exit code, stdout, stderr).
    pub async fn purge_orphan(&self, args: &[&str]) -> (i32, String, String) {
        let mut argv = vec!["purge-orphan".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = purge_cli::run(argv, &mut out, &mut err).await;
        (
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    /// Sets cc-sim fault switches.
    pub async fn faults(&self, body: Value) {
        let (s, v) = self
            .cc(reqwest::Method::PUT, "/sim/faults", Some(body))
            .await;
        assert_eq!(s, 200, "{v}");
    }
}

/// The ids in a varz orphan map, all nodes together, sorted.
pub fn ids_in(map: &Value, key: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = map
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .flat_map(|l| l.as_array().cloned().unwrap_or_default())
        .map(|v| match key {
            Some(k) => v[k].as_str().unwrap_or_default().to_string(),
            None => v.as_str().unwrap_or_default().to_string(),
        })
        .collect();
    out.sort();
    out
}

/// A `nats-server` on a free loopback port, killed on drop.
pub struct NatsServer {
    pub url: String,
    child: std::process::Child,
}

impl NatsServer {
    pub fn start() -> NatsServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server not found: run scripts/install-deps.sh");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        NatsServer {
            url: format!("nats://127.0.0.1:{port}"),
            child,
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
