//! Purging orphans, item by item, after a fresh look at the CC.
//!
//! The request names every item explicitly (node, instance, binding). Before
//! anything is deleted the CC is read again in full; if that fails nothing is
//! deleted. An item the CC knows now is refused, whatever file it came from.
//! The rest go to their nodes, which delete and report per item.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use crate::nodes::status_text;
use crate::{valid_id, Gateway};

/// Extra time a node gets per item on top of `node_timeout`: stopping a
/// server may take its full SIGTERM grace.
const PER_ITEM: Duration = Duration::from_secs(15);

/// Most items one purge request may name: a purge is a deliberate act on a
/// reviewed list, not a bulk operation.
pub const MAX_ITEMS: usize = 1000;

/// What to purge, per node.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PurgeRequest {
    pub instances: BTreeMap<String, Vec<String>>,
    /// node → (instance id, binding id)
    pub bindings: BTreeMap<String, Vec<(String, String)>>,
}

impl PurgeRequest {
    /// Reads the two maps of a saved `/varz` (other keys are ignored).
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let obj = v.as_object().ok_or("body must be a JSON object")?;
        let (ins, binds) = (obj.get("orphan_instances"), obj.get("orphan_bindings"));
        if ins.is_none() && binds.is_none() {
            return Err("body has neither orphan_instances nor orphan_bindings".into());
        }
        let mut req = PurgeRequest::default();
        if let Some(ins) = ins.filter(|v| !v.is_null()) {
            for (node, list) in ins
                .as_object()
                .ok_or("orphan_instances must be an object")?
            {
                let list = list
                    .as_array()
                    .ok_or_else(|| format!("orphan_instances.{node} must be an array"))?;
                let ids = list
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        id.as_str()
                            .filter(|s| valid_id(s))
                            .map(str::to_string)
                            .ok_or_else(|| {
                                format!("orphan_instances.{node}[{i}] must be an id (1-64 of [A-Za-z0-9._-])")
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                req.instances.insert(node.clone(), ids);
            }
        }
        if let Some(binds) = binds.filter(|v| !v.is_null()) {
            for (node, list) in binds
                .as_object()
                .ok_or("orphan_bindings must be an object")?
            {
                let list = list
                    .as_array()
                    .ok_or_else(|| format!("orphan_bindings.{node} must be an array"))?;
                let mut items = Vec::new();
                for (i, b) in list.iter().enumerate() {
                    let field = |k: &str| {
                        b.get(k)
                            .and_then(Value::as_str)
                            .filter(|s| valid_id(s))
                            .map(str::to_string)
                            .ok_or_else(|| {
                                format!(
                                    "orphan_bindings.{node}[{i}].{k} must be an id (1-64 of [A-Za-z0-9._-])"
                                )
                            })
                    };
                    items.push((field("instance_id")?, field("binding_id")?));
                }
                req.bindings.insert(node.clone(), items);
            }
        }
        let n: usize = req.instances.values().map(Vec::len).sum::<usize>()
            + req.bindings.values().map(Vec::len).sum::<usize>();
        if n > MAX_ITEMS {
            return Err(format!("{n} items in one purge; at most {MAX_ITEMS}"));
        }
        Ok(req)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ItemResult {
    pub node_id: String,
    /// `instance` or `binding`.
    pub kind: &'static str,
    pub instance_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding_id: Option<String>,
    /// `purged`, `not_found`, `failed` or `refused`.
    pub outcome: &'static str,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct PurgeReply {
    pub results: Vec<ItemResult>,
    pub summary: BTreeMap<&'static str, usize>,
}

impl Gateway {
    /// Purges what `req` names. `Err` means the CC could not be read and
    /// nothing was deleted.
    pub async fn purge(&self, req: PurgeRequest) -> Result<PurgeReply, String> {
        let cc = self.cc.snapshot().await.map_err(|e| {
            format!("cannot re-read the CC before purging ({e:#}); nothing was purged")
        })?;
        let known_instances = cc.known_instances();
        let mut results = Vec::new();
        // Every item, each vetted on its own (a few at a time).
        let items: Vec<(String, String, Option<String>)> = req
            .instances
            .iter()
            .flat_map(|(n, ids)| ids.iter().map(move |i| (n.clone(), i.clone(), None)))
            .chain(req.bindings.iter().flat_map(|(n, bs)| {
                bs.iter()
                    .map(move |(i, b)| (n.clone(), i.clone(), Some(b.clone())))
            }))
            .collect();
        let vetted: Vec<_> = futures::stream::iter(items)
            .map(|(node_id, instance_id, binding_id)| {
                let known_instances = &known_instances;
                let cc = &cc;
                async move {
                    let verdict = self
                        .vet(
                            &node_id,
                            &instance_id,
                            binding_id.as_deref(),
                            |i, b| match b {
                                None => known_instances.contains(i),
                                Some(b) => cc.bindings.contains_key(b),
                            },
                        )
                        .await;
                    (node_id, instance_id, binding_id, verdict)
                }
            })
            .buffered(8)
            .collect()
            .await;
        let mut per_node: BTreeMap<String, (Vec<String>, Vec<proto::BindingRef>)> = BTreeMap::new();
        for (node_id, instance_id, binding_id, verdict) in vetted {
            match verdict {
                None => {
                    let entry = per_node.entry(node_id).or_default();
                    match binding_id {
                        None => entry.0.push(instance_id),
                        Some(b) => entry.1.push(proto::BindingRef {
                            instance_id,
                            binding_id: b,
                        }),
                    }
                }
                Some((outcome, reason)) => results.push(ItemResult {
                    node_id,
                    kind: if binding_id.is_some() {
                        "binding"
                    } else {
                        "instance"
                    },
                    instance_id,
                    binding_id,
                    outcome,
                    reason,
                }),
            }
        }
        let work: Vec<_> = per_node
            .into_iter()
            .filter_map(|(id, (i, b))| self.node(&id).map(|n| (n, i, b)))
            .collect();

        let replies = futures::future::join_all(work.into_iter().map(
            |(node, instances, bindings)| async move {
                let n = (instances.len() + bindings.len()) as u32;
                let timeout = node.timeout() + PER_ITEM * n;
                let mut c = node.client();
                let request = proto::PurgeRequest {
                    instance_ids: instances.clone(),
                    bindings: bindings.clone(),
                    min_age_secs: self.cfg.orphan_grace as i64,
                };
                let reply = node.call(timeout, c.purge(request)).await;
                (node, instances, bindings, reply)
            },
        ))
        .await;

        for (node, instances, bindings, reply) in replies {
            match reply {
                Ok(r) => {
                    for res in r.results {
                        let outcome = match proto::PurgeOutcome::try_from(res.outcome) {
                            Ok(proto::PurgeOutcome::Purged) => "purged",
                            Ok(proto::PurgeOutcome::NotFound) => "not_found",
                            _ => "failed",
                        };
                        let is_binding = !res.binding_id.is_empty();
                        results.push(ItemResult {
                            node_id: node.id.clone(),
                            kind: if is_binding { "binding" } else { "instance" },
                            instance_id: res.instance_id,
                            binding_id: is_binding.then_some(res.binding_id),
                            outcome,
                            reason: res.reason,
                        });
                    }
                }
                Err(s) => {
                    let reason = format!(
                        "node did not complete the purge ({}); some items may be gone",
                        status_text(&s)
                    );
                    for id in instances {
                        results.push(ItemResult {
                            node_id: node.id.clone(),
                            kind: "instance",
                            instance_id: id,
                            binding_id: None,
                            outcome: "failed",
                            reason: reason.clone(),
                        });
                    }
                    for b in bindings {
                        results.push(ItemResult {
                            node_id: node.id.clone(),
                            kind: "binding",
                            instance_id: b.instance_id,
                            binding_id: Some(b.binding_id),
                            outcome: "failed",
                            reason: reason.clone(),
                        });
                    }
                }
            }
        }

        for r in &results {
            tracing::info!(node = %r.node_id, kind = r.kind, instance = %r.instance_id, binding = r.binding_id.as_deref().unwrap_or(""), outcome = r.outcome, reason = %r.reason, "purge");
        }
        self.forget_purged(&results);
        let mut summary: BTreeMap<&'static str, usize> =
            ["purged", "not_found", "failed", "refused"]
                .into_iter()
                .map(|k| (k, 0))
                .collect();
        for r in &results {
            *summary.entry(r.outcome).or_default() += 1;
        }
        Ok(PurgeReply { results, summary })
    }

    /// Why an item must not go to its node, or `None` when it may. In order:
    /// the node must be ours; the CC must not know the item, by the fresh
    /// snapshot (`known_in_snapshot`) nor by a direct query; the named node
    /// must hold the instance (if another node does, the file is wrong).
    async fn vet(
        &self,
        node_id: &str,
        instance_id: &str,
        binding_id: Option<&str>,
        known_in_snapshot: impl Fn(&str, Option<&str>) -> bool,
    ) -> Option<(&'static str, String)> {
        let what = if binding_id.is_some() {
            "binding"
        } else {
            "instance"
        };
        let Some(node) = self.node(node_id) else {
            return Some(("failed", format!("unknown node {node_id}")));
        };
        if known_in_snapshot(instance_id, binding_id) {
            return Some(("refused", format!("the CC knows this {what}")));
        }
        let asked = match binding_id {
            None => self.cc.instance_known(instance_id).await,
            Some(b) => self.cc.binding_known(b).await,
        };
        match asked {
            Ok(false) => {}
            Ok(true) => return Some(("refused", format!("the CC knows this {what}"))),
            Err(e) => {
                return Some((
                    "refused",
                    format!("cannot confirm with the CC that it does not know this {what}: {e:#}"),
                ))
            }
        }
        match node.lookup(instance_id).await {
            Ok(true) => None,
            Err(s) => Some((
                "failed",
                format!("node {node_id} did not answer: {}", status_text(&s)),
            )),
            Ok(false) => {
                for other in self.nodes.iter().filter(|n| n.id != node_id) {
                    match other.lookup(instance_id).await {
                        Ok(true) => {
                            return Some(("failed", format!(
                                "instance {instance_id} is on node {}, not on {node_id}", other.id
                            )))
                        }
                        Ok(false) => {}
                        Err(s) => {
                            return Some(("failed", format!(
                                "{node_id} does not hold instance {instance_id} and node {} did not answer: {}",
                                other.id,
                                status_text(&s)
                            )))
                        }
                    }
                }
                Some(("not_found", format!("no node holds instance {instance_id}")))
            }
        }
    }

    /// Drops purged (or already gone) items from the last report and the
    /// placement cache, so `/varz` shows what is left.
    fn forget_purged(&self, results: &[ItemResult]) {
        let gone: Vec<&ItemResult> = results
            .iter()
            .filter(|r| r.outcome == "purged" || r.outcome == "not_found")
            .collect();
        let mut st = self.checks();
        if let Some(last) = st.last.as_mut() {
            for r in &gone {
                match &r.binding_id {
                    None => {
                        if let Some(l) = last.orphan_instances.get_mut(&r.node_id) {
                            l.retain(|i| *i != r.instance_id);
                        }
                    }
                    Some(b) => {
                        if let Some(l) = last.orphan_bindings.get_mut(&r.node_id) {
                            l.retain(|x| x.binding_id != *b || x.instance_id != r.instance_id);
                        }
                    }
                }
            }
        }
        drop(st);
        let mut p = self.placements();
        for r in gone.iter().filter(|r| r.binding_id.is_none()) {
            p.remove(&r.instance_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_saved_varz_parses_and_extra_keys_are_ignored() {
        let v = json!({
            "type": "redis-Provisioner",
            "orphan_instances": {"n0": ["a", "b"], "n1": []},
            "orphan_bindings": {"n1": [{"instance_id": "i", "binding_id": "x", "username": "x"}]},
        });
        let r = PurgeRequest::from_json(&v).unwrap();
        assert_eq!(r.instances["n0"], vec!["a", "b"]);
        assert_eq!(r.bindings["n1"], vec![("i".to_string(), "x".to_string())]);
    }

    #[test]
    fn malformed_bodies_are_refused_with_the_place_named() {
        for (body, needle) in [
            (json!([]), "object"),
            (json!({}), "neither"),
            (
                json!({"orphan_instances": []}),
                "orphan_instances must be an object",
            ),
            (
                json!({"orphan_instances": {"n0": "a"}}),
                "orphan_instances.n0 must be an array",
            ),
            (
                json!({"orphan_instances": {"n0": [1]}}),
                "orphan_instances.n0[0]",
            ),
            (
                json!({"orphan_instances": {"n0": [""]}}),
                "orphan_instances.n0[0]",
            ),
            (
                json!({"orphan_bindings": {"n0": [{"instance_id": "i"}]}}),
                "orphan_bindings.n0[0].binding_id",
            ),
            (
                json!({"orphan_instances": {"n0": ["../x"]}}),
                "orphan_instances.n0[0]",
            ),
            (
                json!({"orphan_instances": {"n0": ["a?b"]}}),
                "orphan_instances.n0[0]",
            ),
            (
                json!({"orphan_instances": {"n0": (0..=MAX_ITEMS).map(|i| format!("i{i}")).collect::<Vec<_>>()}}),
                "at most",
            ),
        ] {
            let e = PurgeRequest::from_json(&body).unwrap_err();
            assert!(e.contains(needle), "{body}: {e}");
        }
    }
}
