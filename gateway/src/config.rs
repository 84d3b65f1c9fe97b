//! The gateway's YAML config. Key names follow the original gateway where it
//! had them (`token`, `check_orphan_interval`, `double_check_orphan_interval`,
//! `status: {port, user, password}`, `node_timeout`).

use serde::Deserialize;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// The service this gateway brokers.
    pub service: ServiceConfig,
    /// Where the broker API and the internal API listen.
    pub listen: String,
    /// Basic-auth credentials the Cloud Controller uses for the broker API.
    pub broker: BrokerAuth,
    /// The `X-VCAP-Service-Token` of the internal API (`purge-orphan`).
    pub token: String,
    #[serde(default)]
    pub status: StatusConfig,
    /// Seconds between periodic orphan checks; -1 (the default) turns them off.
    #[serde(default = "default_check_interval")]
    pub check_orphan_interval: i64,
    /// Seconds between the two looks of one orphan check.
    #[serde(default = "default_double_check_interval")]
    pub double_check_orphan_interval: u64,
    /// Objects younger than this many seconds on a node are never orphans:
    /// the CC may not have recorded them yet.
    #[serde(default = "default_orphan_grace")]
    pub orphan_grace: u64,
    /// A check whose verdict would make more than this share of the
    /// instances (or bindings) on the nodes orphans is refused as a whole.
    #[serde(default = "default_max_orphan_fraction")]
    pub max_orphan_fraction: f64,
    /// Seconds a node may take to answer one call or send its full list.
    #[serde(default = "default_node_timeout")]
    pub node_timeout: u64,
    pub cc: CcConfig,
    pub nodes: Vec<NodeAddress>,
    /// Hear node announcements and answer component discovery on NATS.
    #[serde(default)]
    pub nats: Option<crate::discovery::NatsConfig>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The service type, e.g. `redis`; nodes must report the same.
    pub name: String,
    /// The catalog's service id; defaults to `<name>-service`.
    pub id: Option<String>,
    #[serde(default)]
    pub description: String,
    pub plans: Vec<PlanConfig>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanConfig {
    /// The catalog's plan id (the CC's plan guid).
    pub id: String,
    /// The plan name nodes serve, e.g. `dedicated`.
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerAuth {
    pub user: String,
    pub password: String,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusConfig {
    /// Default 127.0.0.1.
    pub host: Option<String>,
    /// Default: a free port chosen at start.
    pub port: Option<u16>,
    /// Default: random.
    pub user: Option<String>,
    /// Default: random.
    pub password: Option<String>,
    /// When the user or password is random, write both here (mode 0600).
    pub credentials_file: Option<std::path::PathBuf>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CcConfig {
    /// The Cloud Controller's API root, e.g. `https://api.example.com`.
    pub url: String,
    /// Bearer token for the CC API.
    pub token: String,
    #[serde(default = "default_per_page")]
    pub per_page: u32,
    /// Seconds one CC page may take.
    #[serde(default = "default_cc_timeout")]
    pub timeout: u64,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeAddress {
    pub id: String,
    /// gRPC address, e.g. `http://127.0.0.1:9101`.
    pub address: String,
    /// The node's token (its config's `token`).
    pub token: String,
}

impl std::fmt::Debug for NodeAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeAddress")
            .field("id", &self.id)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

fn default_check_interval() -> i64 {
    -1
}
fn default_double_check_interval() -> u64 {
    300
}
fn default_orphan_grace() -> u64 {
    60
}
fn default_max_orphan_fraction() -> f64 {
    0.5
}
fn default_node_timeout() -> u64 {
    5
}
fn default_per_page() -> u32 {
    100
}
fn default_cc_timeout() -> u64 {
    30
}

impl GatewayConfig {
    pub fn from_yaml_file(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
        let cfg: GatewayConfig = serde_yaml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "invalid config {}: {}",
                path.display(),
                secrets::redact_quoted(&e.to_string())
            )
        })?;
        cfg.validate()
            .map_err(|e| anyhow::anyhow!("invalid config {}: {e}", path.display()))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.token.is_empty(), "token must not be empty");
        anyhow::ensure!(
            !self.broker.password.is_empty(),
            "broker.password must not be empty"
        );
        anyhow::ensure!(
            !self.service.plans.is_empty(),
            "service.plans must not be empty"
        );
        anyhow::ensure!(
            self.cc.per_page >= 1 && self.cc.per_page <= 5000,
            "cc.per_page must be 1..=5000"
        );
        anyhow::ensure!(self.node_timeout > 0, "node_timeout must be > 0");
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.max_orphan_fraction),
            "max_orphan_fraction must be between 0 and 1"
        );
        let mut ids = std::collections::BTreeSet::new();
        for n in &self.nodes {
            anyhow::ensure!(ids.insert(&n.id), "node id {} is listed twice", n.id);
            anyhow::ensure!(
                !n.token.is_empty(),
                "node {}: token must not be empty",
                n.id
            );
            anyhow::ensure!(
                n.address.starts_with("http://") || n.address.starts_with("https://"),
                "node {}: address must start with http:// or https://",
                n.id
            );
        }
        Ok(())
    }

    pub fn service_id(&self) -> String {
        self.service
            .id
            .clone()
            .unwrap_or_else(|| format!("{}-service", self.service.name))
    }
}

// Hand-written: the config holds secrets.
impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("service", &self.service.name)
            .field("listen", &self.listen)
            .field("check_orphan_interval", &self.check_orphan_interval)
            .field(
                "double_check_orphan_interval",
                &self.double_check_orphan_interval,
            )
            .field("node_timeout", &self.node_timeout)
            .field("cc", &self.cc.url)
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}
