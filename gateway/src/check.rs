//! The orphan check runner: the imperative shell around [`orphan::classify`].
//!
//! One check at a time. A check takes a first look (CC snapshot + every
//! node's list, concurrently), waits `double_check_orphan_interval`, takes a
//! second look, and hands both to the pure classifier. The report of the last
//! finished check is what `/varz` shows and what `purge-orphan` works from.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::orphan::{self, NodeListing, Observation, OrphanBinding};
use crate::time::{rfc3339, unix_now};
use crate::Gateway;

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub check_id: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `running`, `ok`, `partial`, `failed` or `refused`.
    pub outcome: String,
    pub message: String,
    pub unreachable_nodes: BTreeMap<String, String>,
    pub unverified_bindings: usize,
    pub too_young: usize,
    #[serde(skip)]
    pub orphan_instances: BTreeMap<String, Vec<String>>,
    #[serde(skip)]
    pub orphan_bindings: BTreeMap<String, Vec<OrphanBinding>>,
}

impl CheckReport {
    fn started(check_id: String) -> Self {
        CheckReport {
            check_id,
            started_at: rfc3339(unix_now()),
            finished_at: None,
            outcome: "running".into(),
            message: String::new(),
            unreachable_nodes: BTreeMap::new(),
            unverified_bindings: 0,
            too_young: 0,
            orphan_instances: BTreeMap::new(),
            orphan_bindings: BTreeMap::new(),
        }
    }

    /// The report as `?wait=true` returns it: `last_check` fields plus the maps.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["orphan_instances"] = serde_json::to_value(&self.orphan_instances).unwrap_or_default();
        v["orphan_bindings"] = serde_json::to_value(&self.orphan_bindings).unwrap_or_default();
        v
    }
}

#[derive(Default)]
pub struct CheckState {
    pub running: Option<CheckReport>,
    pub last: Option<CheckReport>,
}

impl Gateway {
    /// Starts a check unless one is running. Returns the new check's id and
    /// a handle that yields its report, or `Err(id of the running check)`.
    pub fn start_check(
        self: &Arc<Self>,
    ) -> Result<(String, tokio::task::JoinHandle<CheckReport>), String> {
        let id = uuid::Uuid::new_v4().to_string();
        {
            let mut st = self.checks();
            if let Some(r) = &st.running {
                return Err(r.check_id.clone());
            }
            st.running = Some(CheckReport::started(id.clone()));
        }
        tracing::info!(check_id = %id, "orphan check started");
        let gw = self.clone();
        let check_id = id.clone();
        let handle = tokio::spawn(async move {
            let report = gw.run_check(check_id).await;
            let mut st = gw.checks();
            st.running = None;
            st.last = Some(report.clone());
            report
        });
        Ok((id, handle))
    }

    async fn run_check(&self, check_id: String) -> CheckReport {
        let mut report = CheckReport::started(check_id);
        let result = async {
            let first = self.observe().await?;
            tokio::time::sleep(std::time::Duration::from_secs(
                self.cfg.double_check_orphan_interval,
            ))
            .await;
            let second = self.observe().await?;
            anyhow::Ok((first, second))
        }
        .await;
        match result {
            Err(e) => {
                report.outcome = "failed".into();
                report.message = format!("{e:#}; no orphans computed");
            }
            Ok((first, second)) => {
                let policy = orphan::Policy {
                    grace: self.cfg.orphan_grace as i64,
                    max_orphan_fraction: self.cfg.max_orphan_fraction,
                };
                let v = orphan::classify(&first, &second, unix_now(), policy);
                report.outcome = serde_json::to_value(v.outcome)
                    .ok()
                    .and_then(|o| o.as_str().map(str::to_string))
                    .unwrap_or_default();
                report.message = v.message;
                report.unreachable_nodes = v.unreachable;
                report.unverified_bindings = v.unverified_bindings;
                report.too_young = v.too_young;
                report.orphan_instances = v.orphan_instances;
                report.orphan_bindings = v.orphan_bindings;
            }
        }
        report.finished_at = Some(rfc3339(unix_now()));
        let count = |m: &BTreeMap<String, Vec<_>>| m.values().map(Vec::len).sum::<usize>();
        tracing::info!(
            check_id = %report.check_id,
            outcome = %report.outcome,
            orphan_instances = report.orphan_instances.values().map(Vec::len).sum::<usize>(),
            orphan_bindings = count(&report.orphan_bindings),
            unreachable = report.unreachable_nodes.len(),
            message = %report.message,
            "orphan check finished"
        );
        report
    }

    /// One look: the CC snapshot and every node's list, taken concurrently.
    pub async fn observe(&self) -> anyhow::Result<Observation> {
        let lists = futures::future::join_all(
            self.nodes
                .iter()
                .map(|n| async move { (n.id.clone(), n.list().await) }),
        );
        let (cc, lists) = tokio::join!(self.cc.snapshot(), lists);
        let cc = cc?;
        for (id, listing) in &lists {
            self.note_listing(id, listing);
        }
        Ok(Observation {
            cc,
            nodes: lists.into_iter().collect(),
        })
    }

    /// Keeps the placement cache and the node table of `/varz` current.
    pub(crate) fn note_listing(&self, node_id: &str, listing: &NodeListing) {
        let reachable = matches!(listing, NodeListing::Complete { .. });
        self.note_node(node_id, reachable, None);
        if let NodeListing::Complete { instances, .. } = listing {
            let mut p = self.placements();
            p.retain(|_, v| v.node_id != node_id);
            for i in instances {
                p.insert(
                    i.id.clone(),
                    crate::Placement {
                        node_id: node_id.to_string(),
                    },
                );
            }
        }
    }
}
