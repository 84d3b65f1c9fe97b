//! A service gateway: the broker for one service type, and the finder of
//! orphans on that service's nodes.
//!
//! Where things are:
//! - a request from the Cloud Controller enters at [`broker`] (Open Service
//!   Broker API v2) and goes to a node through [`nodes`] (gRPC);
//! - an operator's request enters at [`internal`] (`check_orphan`,
//!   `purge_orphan`, token-authenticated);
//! - the orphan decision is made in [`orphan::classify`], a pure function,
//!   driven by [`check`] (two looks, `double_check_orphan_interval` apart);
//! - a purge is re-checked against a fresh CC snapshot in [`purge`];
//! - [`status`] serves `/varz` and `/healthz`;
//! - [`discovery`] hears node announcements on NATS (optional).

pub mod auth;
pub mod broker;
pub mod cc;
pub mod check;
pub mod config;
pub mod discovery;
pub mod internal;
pub mod nodes;
pub mod orphan;
pub mod purge;
pub mod status;
pub mod time;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use check::CheckState;
use config::GatewayConfig;
use nodes::NodeHandle;

/// Ids name directories on nodes and appear in CC URLs: a safe alphabet.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Most unknown nodes `/varz` lists.
pub const MAX_UNKNOWN_NODES: usize = 100;

/// Which node holds an instance, as last seen.
#[derive(Debug, Clone)]
pub struct Placement {
    pub node_id: String,
}

/// A node as `/varz` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeStatus {
    pub address: String,
    pub reachable: bool,
    pub available_capacity: Option<u32>,
    /// Unix seconds of the last successful answer.
    pub last_seen: Option<i64>,
    /// Unix seconds of the last NATS announcement, if any.
    pub announced_at: Option<i64>,
}

pub struct Gateway {
    pub cfg: GatewayConfig,
    pub cc: cc::CcClient,
    pub nodes: Vec<NodeHandle>,
    pub started_at: i64,
    checks: Mutex<CheckState>,
    placements: Mutex<BTreeMap<String, Placement>>,
    node_status: Mutex<BTreeMap<String, NodeStatus>>,
    /// Nodes that announced themselves on NATS but are not configured.
    unknown_nodes: Mutex<BTreeMap<String, String>>,
    status_user: String,
    status_password: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Gateway {
    pub fn new(cfg: GatewayConfig) -> anyhow::Result<Arc<Self>> {
        cfg.validate()?;
        let timeout = Duration::from_secs(cfg.node_timeout);
        let nodes = cfg
            .nodes
            .iter()
            .map(|n| NodeHandle::new(n, timeout))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let node_status = cfg
            .nodes
            .iter()
            .map(|n| {
                (
                    n.id.clone(),
                    NodeStatus {
                        address: n.address.clone(),
                        reachable: false,
                        available_capacity: None,
                        last_seen: None,
                        announced_at: None,
                    },
                )
            })
            .collect();
        let status_user = cfg.status.user.clone().unwrap_or_else(secrets::generate);
        let status_password = cfg
            .status
            .password
            .clone()
            .unwrap_or_else(secrets::generate);
        Ok(Arc::new(Gateway {
            cc: cc::CcClient::new(&cfg.cc)?,
            nodes,
            started_at: time::unix_now(),
            checks: Mutex::new(CheckState::default()),
            placements: Mutex::new(BTreeMap::new()),
            node_status: Mutex::new(node_status),
            unknown_nodes: Mutex::new(BTreeMap::new()),
            status_user,
            status_password,
            cfg,
        }))
    }

    pub fn checks(&self) -> MutexGuard<'_, CheckState> {
        lock(&self.checks)
    }

    pub fn placements(&self) -> MutexGuard<'_, BTreeMap<String, Placement>> {
        lock(&self.placements)
    }

    pub fn node_status(&self) -> BTreeMap<String, NodeStatus> {
        lock(&self.node_status).clone()
    }

    pub fn status_credentials(&self) -> (&str, &str) {
        (&self.status_user, &self.status_password)
    }

    pub fn node(&self, id: &str) -> Option<&NodeHandle> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// A configured node announced itself on NATS.
    pub fn note_announcement(&self, node_id: &str, available: u32) {
        self.note_node(node_id, true, Some(available));
        if let Some(s) = lock(&self.node_status).get_mut(node_id) {
            s.announced_at = Some(time::unix_now());
        }
    }

    /// A node that is not in the config announced itself: shown, never used.
    /// At most [`MAX_UNKNOWN_NODES`] are kept, so a noisy bus cannot grow it.
    pub fn note_unknown_node(&self, node_id: &str, address: &str) {
        let mut m = lock(&self.unknown_nodes);
        if m.len() >= MAX_UNKNOWN_NODES && !m.contains_key(node_id) {
            return;
        }
        if m.insert(node_id.to_string(), address.to_string()).is_none() {
            tracing::warn!(
                node = node_id,
                address,
                "unknown node announced; add it to nodes: to use it"
            );
        }
    }

    pub fn unknown_nodes(&self) -> BTreeMap<String, String> {
        lock(&self.unknown_nodes).clone()
    }

    fn note_node(&self, node_id: &str, reachable: bool, available: Option<u32>) {
        if let Some(s) = lock(&self.node_status).get_mut(node_id) {
            s.reachable = reachable;
            if reachable {
                s.last_seen = Some(time::unix_now());
            }
            if available.is_some() {
                s.available_capacity = available;
            }
        }
    }

    /// Asks every node for its info; returns the reachable ones that serve
    /// this service.
    pub async fn node_infos(&self) -> Vec<(&NodeHandle, proto::NodeInfo)> {
        let answers = futures::future::join_all(
            self.nodes
                .iter()
                .map(|n| async move { (n, n.info().await) }),
        )
        .await;
        let mut out = Vec::new();
        for (n, r) in answers {
            match r {
                Ok(info) if info.node_id == n.id && info.service == self.cfg.service.name => {
                    self.note_node(&n.id, true, Some(info.available_capacity));
                    out.push((n, info));
                }
                Ok(info) => {
                    tracing::warn!(node = %n.id, answered_as = %info.node_id, service = %info.service, "node identity mismatch; not used");
                    self.note_node(&n.id, false, None);
                }
                Err(s) => {
                    tracing::warn!(node = %n.id, error = %nodes::status_text(&s), "node unreachable");
                    self.note_node(&n.id, false, None);
                }
            }
        }
        out
    }

    /// The node holding `instance_id`: from the cache, else by asking every
    /// node. `Ok(None)` only when every node answered that it does not hold
    /// it; `Err` when some node did not answer (the instance may be there).
    pub async fn locate(&self, instance_id: &str) -> Result<Option<&NodeHandle>, String> {
        let cached = self
            .placements()
            .get(instance_id)
            .map(|p| p.node_id.clone());
        if let Some(node) = cached.and_then(|id| self.node(&id)) {
            return Ok(Some(node));
        }
        let answers = futures::future::join_all(
            self.nodes
                .iter()
                .map(|n| async move { (n, n.lookup(instance_id).await) }),
        )
        .await;
        let mut silent = Vec::new();
        let mut holders = Vec::new();
        for (n, a) in answers {
            match a {
                Ok(true) => holders.push(n),
                Ok(false) => {}
                Err(s) => silent.push(format!("{}: {}", n.id, nodes::status_text(&s))),
            }
        }
        match holders.as_slice() {
            [one] => {
                self.placements().insert(
                    instance_id.to_string(),
                    Placement {
                        node_id: one.id.clone(),
                    },
                );
                Ok(Some(*one))
            }
            [] if silent.is_empty() => Ok(None),
            [] => Err(format!(
                "cannot tell which node holds {instance_id}: {}",
                silent.join("; ")
            )),
            many => Err(format!(
                "instance {instance_id} is on several nodes: {}",
                many.iter()
                    .map(|n| n.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Periodic work: orphan checks every `check_orphan_interval` seconds
    /// (when > 0) and a node info refresh every 30 s for `/varz`.
    pub fn spawn_background(self: &Arc<Self>) {
        let gw = self.clone();
        tokio::spawn(async move {
            loop {
                gw.node_infos().await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        });
        if self.cfg.check_orphan_interval > 0 {
            let gw = self.clone();
            let every = Duration::from_secs(self.cfg.check_orphan_interval as u64);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if let Ok((_, handle)) = gw.start_check() {
                        let _ = handle.await;
                    }
                }
            });
        }
    }
}

/// Serves the broker + internal API on `api` and `/varz` + `/healthz` on
/// `status` until the future is dropped.
pub async fn serve(
    gw: Arc<Gateway>,
    api: tokio::net::TcpListener,
    status: tokio::net::TcpListener,
) -> anyhow::Result<()> {
    gw.spawn_background();
    if let Some(nats) = gw.cfg.nats.clone() {
        let addr = status.local_addr()?.to_string();
        tokio::spawn(discovery::run(gw.clone(), nats, addr));
    }
    let api_app = broker::router(gw.clone()).merge(internal::router(gw.clone()));
    let status_app = status::router(gw.clone());
    let a = axum::serve(api, api_app);
    let s = axum::serve(status, status_app);
    tokio::try_join!(async { a.await }, async { s.await })?;
    Ok(())
}
