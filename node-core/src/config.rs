//! The YAML keys every node has. A node binary flattens these into its own
//! config, next to its service-specific keys.

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// This node's id, e.g. `redis_node_0`. Orphans are reported per node id.
    pub node_id: String,
    /// Where the gRPC server listens, e.g. `127.0.0.1:9101`.
    pub listen: String,
    /// The token a gateway must present (`authorization: Bearer <token>`)
    /// on every gRPC call.
    pub token: crate::secret::Secret,
    /// Holds `<service>_node.db`, `instances/<id>/` and `logs/<id>.log`.
    pub base_dir: PathBuf,
    /// The address instances bind to.
    #[serde(default = "default_host")]
    pub bind_host: String,
    /// The host clients are given in credentials; defaults to `bind_host`.
    #[serde(default)]
    pub public_host: Option<String>,
    /// Instance ports are taken from `first..=last`.
    pub port_range: PortRange,
    /// How many instances this node may hold.
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// The plans this node serves.
    #[serde(default = "default_plans")]
    pub plans: Vec<String>,
    /// How long a new or restarted server may take to answer, in seconds.
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout: u64,
    /// How long one call to a running server (list users, ...) may take, in seconds.
    #[serde(default = "default_server_timeout")]
    pub server_timeout: u64,
    /// The command that starts one instance's server.
    #[serde(default)]
    pub server: ServerConfig,
    /// Announce this node on NATS; off when absent.
    #[serde(default)]
    pub nats: Option<crate::announce::NatsConfig>,
}

/// How to start one instance's server. `binary` and `args` default per
/// service; in `args` and `env` values, `{port}`, `{bind_host}`, `{dir}` (the
/// instance's data directory), `{log}`, `{id}`, `{admin}`, `{adminpass}` and
/// `{db}` are replaced. Put secrets in `env`, never in `args`: arguments are
/// visible to every user of the machine.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub binary: Option<String>,
    pub args: Option<Vec<String>>,
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// Memory limit per instance, in MiB.
    pub memory_mb: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

fn default_host() -> String {
    "127.0.0.1".into()
}
fn default_capacity() -> u32 {
    20
}
fn default_plans() -> Vec<String> {
    vec!["dedicated".into()]
}
fn default_ready_timeout() -> u64 {
    20
}
fn default_server_timeout() -> u64 {
    5
}

impl NodeConfig {
    pub fn public_host(&self) -> &str {
        self.public_host.as_deref().unwrap_or(&self.bind_host)
    }

    /// Checks what serde cannot: a sane port range and node id.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.node_id.is_empty(), "node_id must not be empty");
        anyhow::ensure!(!self.token.is_empty(), "token must not be empty");
        anyhow::ensure!(
            self.port_range.first > 0 && self.port_range.first <= self.port_range.last,
            "port_range: first must be > 0 and <= last"
        );
        anyhow::ensure!(!self.plans.is_empty(), "plans must not be empty");
        if let Some(args) = &self.server.args {
            anyhow::ensure!(
                !args.iter().any(|a| a.contains("{adminpass}")),
                "server.args must not contain {{adminpass}}: arguments are visible to every user; use server.env"
            );
            anyhow::ensure!(
                args.iter().any(|a| a.contains("{dir}")),
                "server.args must name the instance's directory ({{dir}}): it is how the node recognises its servers"
            );
        }
        Ok(())
    }
}

/// Reads a node config of type `T` (a node binary's own struct) from YAML,
/// naming the file in every error.
pub fn load_yaml<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
    serde_yaml::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "invalid config {}: {}",
            path.display(),
            secrets::redact_quoted(&e.to_string())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> NodeConfig {
        let mut cfg = crate::testing::node_config(
            "n0",
            std::path::Path::new("/tmp/unused"),
            ServerConfig::default(),
        );
        cfg.server.args = Some(args.iter().map(|a| a.to_string()).collect());
        cfg
    }

    #[test]
    fn yaml_errors_do_not_quote_values() {
        let e = serde_yaml::from_str::<NodeConfig>("token:S3CRET\n").unwrap_err();
        let shown = secrets::redact_quoted(&e.to_string());
        assert!(
            e.to_string().contains("S3CRET") && !shown.contains("S3CRET"),
            "{shown}"
        );
    }

    #[test]
    fn server_args_must_name_the_dir_and_never_a_password() {
        assert!(config(&["--dbpath={dir}/data"]).validate().is_ok());
        let e = config(&["--dbpath={dir}", "--password={adminpass}"])
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("server.env"), "{e}");
        let e = config(&["--port={port}"]).validate().unwrap_err();
        assert!(e.to_string().contains("{dir}"), "{e}");
    }
}
