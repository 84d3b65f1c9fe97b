//! The orphan decision: a pure function of two looks at the world.
//!
//! A look ([`Observation`]) is a CC snapshot plus what every node reported.
//! An instance is an orphan only if it was on the same node in both looks,
//! absent from the CC in both looks, and old enough that the CC cannot merely
//! be late in recording it. A binding likewise, and only if its user was
//! seen on the running server both times. Nothing is decided for a node that
//! did not give a complete list in both looks, and nothing at all when the
//! CC lists no instance while the nodes hold some. No IO happens here.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

/// What the CC knows, read in full (every page).
#[derive(Debug, Clone, Default)]
pub struct CcSnapshot {
    pub instances: HashSet<String>,
    /// Binding guid → its service instance guid.
    pub bindings: HashMap<String, String>,
}

impl CcSnapshot {
    /// Every instance the CC knows, directly or through one of its bindings.
    pub fn known_instances(&self) -> HashSet<&str> {
        self.instances
            .iter()
            .chain(self.bindings.values())
            .map(String::as_str)
            .collect()
    }
}

/// The knobs of the decision.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Objects younger than this (seconds) are never orphans.
    pub grace: i64,
    /// Refuse the whole verdict when more than this share of what the nodes
    /// hold would be orphans (checked once the nodes hold at least
    /// [`FRACTION_MIN_HELD`] items of a kind): a CC that answers in full
    /// but about the wrong thing (another offering, a restored database)
    /// must not turn live objects into orphans.
    pub max_orphan_fraction: f64,
}

/// Below this many instances (or bindings) on the judged nodes the fraction
/// guard does not apply: one orphan of two is a plausible state (a CC that
/// knows none of them is refused anyway).
pub const FRACTION_MIN_HELD: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    Running,
    Stopped,
    Untracked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSeen {
    pub id: String,
    pub created_at: i64,
    pub state: InstanceState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingSeen {
    pub instance_id: String,
    pub binding_id: String,
    pub username: String,
    pub created_at: i64,
    /// The user was seen on the running server (not only in the registry).
    pub present_on_server: bool,
}

/// A node's answer to "what do you hold?".
#[derive(Debug, Clone)]
pub enum NodeListing {
    Complete {
        instances: Vec<InstanceSeen>,
        bindings: Vec<BindingSeen>,
    },
    /// No answer, an error, or a list without its end marker.
    Failed(String),
}

/// One look: the CC and every configured node.
#[derive(Debug, Clone)]
pub struct Observation {
    pub cc: CcSnapshot,
    pub nodes: BTreeMap<String, NodeListing>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct OrphanBinding {
    pub instance_id: String,
    pub binding_id: String,
    pub username: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every node answered both times.
    Ok,
    /// Some nodes did not; they are in `unreachable` and have no verdict.
    Partial,
    /// The CC's lists were empty, or would make too much an orphan, while
    /// the nodes hold objects: nothing decided.
    Refused,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub message: String,
    pub orphan_instances: BTreeMap<String, Vec<String>>,
    pub orphan_bindings: BTreeMap<String, Vec<OrphanBinding>>,
    pub unreachable: BTreeMap<String, String>,
    /// Bindings unknown to the CC that could not be confirmed on a running
    /// server (their instance was down), so they are not reported.
    pub unverified_bindings: usize,
    /// Objects unknown to the CC but younger than the grace period.
    pub too_young: usize,
}

/// Decides the orphans from two looks taken `double_check_orphan_interval`
/// apart. `now` is in Unix seconds.
pub fn classify(first: &Observation, second: &Observation, now: i64, policy: Policy) -> Verdict {
    let grace = policy.grace;
    let mut v = Verdict {
        outcome: Outcome::Ok,
        message: String::new(),
        orphan_instances: BTreeMap::new(),
        orphan_bindings: BTreeMap::new(),
        unreachable: BTreeMap::new(),
        unverified_bindings: 0,
        too_young: 0,
    };

    let complete = || {
        [first, second]
            .into_iter()
            .flat_map(|o| o.nodes.values())
            .filter_map(|l| match l {
                NodeListing::Complete {
                    instances,
                    bindings,
                } => Some((instances, bindings)),
                NodeListing::Failed(_) => None,
            })
    };
    let held = complete().map(|(i, _)| i.len()).max().unwrap_or(0);
    let held_bindings = complete()
        .map(|(_, b)| b.iter().filter(|b| b.present_on_server).count())
        .max()
        .unwrap_or(0);
    let known_first = first.cc.known_instances();
    let known_second = second.cc.known_instances();
    // What the nodes hold, all nodes and both looks together.
    let held_ids: HashSet<&str> = complete()
        .flat_map(|(i, _)| i.iter().map(|x| x.id.as_str()))
        .collect();
    let held_bindings_ids: HashSet<&str> = complete()
        .flat_map(|(_, b)| {
            b.iter()
                .filter(|b| b.present_on_server)
                .map(|b| b.binding_id.as_str())
        })
        .collect();
    for (look, obs, known) in [
        ("first", first, &known_first),
        ("second", second, &known_second),
    ] {
        // A CC that knows none of what the nodes hold is empty, restored,
        // another foundation, or read with the wrong scope: never evidence.
        let refusal = if held > 0 && !held_ids.iter().any(|i| known.contains(i)) {
            Some(format!(
                "none of the {held} service instances the nodes hold in the {look} look"
            ))
        } else if held_bindings > 0
            && !held_bindings_ids
                .iter()
                .any(|b| obs.cc.bindings.contains_key(*b))
        {
            Some(format!(
                "none of the {held_bindings} credential bindings the nodes hold in the {look} look"
            ))
        } else {
            None
        };
        if let Some(what) = refusal {
            v.outcome = Outcome::Refused;
            v.message = format!(
                "the CC knows {what}; refusing to call them orphans \
                 (is the CC empty, restored, another foundation, or read with the wrong scope?)"
            );
            return v;
        }
    }

    let node_ids: BTreeSet<&String> = first.nodes.keys().chain(second.nodes.keys()).collect();
    for node in node_ids {
        let (a, b) = match (first.nodes.get(node), second.nodes.get(node)) {
            (
                Some(NodeListing::Complete {
                    instances: ia,
                    bindings: ba,
                }),
                Some(NodeListing::Complete {
                    instances: ib,
                    bindings: bb,
                }),
            ) => ((ia, ba), (ib, bb)),
            (Some(NodeListing::Failed(r)), _) => {
                v.unreachable
                    .insert(node.clone(), format!("first look: {r}"));
                continue;
            }
            (_, Some(NodeListing::Failed(r))) => {
                v.unreachable
                    .insert(node.clone(), format!("second look: {r}"));
                continue;
            }
            (None, _) | (_, None) => {
                v.unreachable
                    .insert(node.clone(), "missing from one look".into());
                continue;
            }
        };
        let young = |created_at: i64| created_at > 0 && created_at + grace > now;
        let unknown_instance = |id: &str| !known_first.contains(id) && !known_second.contains(id);

        let before: HashSet<&str> = a.0.iter().map(|i| i.id.as_str()).collect();
        let mut orphans = Vec::new();
        for inst in b.0 {
            if !before.contains(inst.id.as_str()) || !unknown_instance(&inst.id) {
                continue;
            }
            if young(inst.created_at) {
                v.too_young += 1;
                continue;
            }
            orphans.push(inst.id.clone());
        }
        orphans.sort();
        orphans.dedup();

        let orphan_set: HashSet<&str> = orphans.iter().map(String::as_str).collect();
        let seen_before: HashSet<(&str, &str)> =
            a.1.iter()
                .filter(|b| b.present_on_server)
                .map(|b| (b.instance_id.as_str(), b.binding_id.as_str()))
                .collect();
        let mut bindings = Vec::new();
        for bind in b.1 {
            let known = first.cc.bindings.contains_key(&bind.binding_id)
                || second.cc.bindings.contains_key(&bind.binding_id);
            // A binding of an orphan instance goes with the instance.
            if known || orphan_set.contains(bind.instance_id.as_str()) {
                continue;
            }
            let key = (bind.instance_id.as_str(), bind.binding_id.as_str());
            if !bind.present_on_server || !seen_before.contains(&key) {
                v.unverified_bindings += 1;
                continue;
            }
            if young(bind.created_at) {
                v.too_young += 1;
                continue;
            }
            bindings.push(OrphanBinding {
                instance_id: bind.instance_id.clone(),
                binding_id: bind.binding_id.clone(),
                username: bind.username.clone(),
            });
        }
        bindings.sort();
        bindings.dedup();
        v.orphan_instances.insert(node.clone(), orphans);
        v.orphan_bindings.insert(node.clone(), bindings);
    }
    let judged = |m: &BTreeMap<String, Vec<_>>| m.values().map(Vec::len).sum::<usize>();
    let (total_instances, total_bindings) = complete_totals(second, &v.orphan_instances);
    for (kind, found, total) in [
        ("instances", judged(&v.orphan_instances), total_instances),
        (
            "bindings",
            v.orphan_bindings.values().map(Vec::len).sum(),
            total_bindings,
        ),
    ] {
        if total >= FRACTION_MIN_HELD && found as f64 > policy.max_orphan_fraction * total as f64 {
            let message = format!(
                "{found} of the {total} {kind} on the judged nodes would be orphans, more than \
                 max_orphan_fraction ({}); refusing (is the CC read with the wrong scope?)",
                policy.max_orphan_fraction
            );
            return Verdict {
                outcome: Outcome::Refused,
                message,
                orphan_instances: BTreeMap::new(),
                orphan_bindings: BTreeMap::new(),
                ..v
            };
        }
    }
    if !v.unreachable.is_empty() {
        v.outcome = Outcome::Partial;
        v.message = format!(
            "{} node(s) gave no complete list; nothing is decided for them",
            v.unreachable.len()
        );
    }
    v
}

/// How many instances and bindings the judged nodes (those with a key in
/// `judged`) held in `look`.
fn complete_totals(look: &Observation, judged: &BTreeMap<String, Vec<String>>) -> (usize, usize) {
    judged
        .keys()
        .filter_map(|n| match look.nodes.get(n) {
            Some(NodeListing::Complete {
                instances,
                bindings,
            }) => Some((instances.len(), bindings.len())),
            _ => None,
        })
        .fold((0, 0), |(a, b), (i, j)| (a + i, b + j))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 10_000;
    const GRACE: i64 = 60;
    const OLD: i64 = 1_000;
    const POLICY: Policy = Policy {
        grace: GRACE,
        max_orphan_fraction: 1.0,
    };

    fn cc(instances: &[&str], bindings: &[(&str, &str)]) -> CcSnapshot {
        CcSnapshot {
            instances: instances.iter().map(|s| s.to_string()).collect(),
            bindings: bindings
                .iter()
                .map(|(b, i)| (b.to_string(), i.to_string()))
                .collect(),
        }
    }

    fn inst(id: &str, created_at: i64) -> InstanceSeen {
        InstanceSeen {
            id: id.into(),
            created_at,
            state: InstanceState::Running,
        }
    }

    fn bind(instance: &str, id: &str, present: bool, created_at: i64) -> BindingSeen {
        BindingSeen {
            instance_id: instance.into(),
            binding_id: id.into(),
            username: id.into(),
            created_at,
            present_on_server: present,
        }
    }

    fn listing(instances: Vec<InstanceSeen>, bindings: Vec<BindingSeen>) -> NodeListing {
        NodeListing::Complete {
            instances,
            bindings,
        }
    }

    fn look(cc: CcSnapshot, nodes: Vec<(&str, NodeListing)>) -> Observation {
        Observation {
            cc,
            nodes: nodes.into_iter().map(|(n, l)| (n.to_string(), l)).collect(),
        }
    }

    fn orphans(v: &Verdict, node: &str) -> Vec<String> {
        v.orphan_instances.get(node).cloned().unwrap_or_default()
    }

    fn orphan_bindings(v: &Verdict, node: &str) -> Vec<String> {
        v.orphan_bindings
            .get(node)
            .map(|bs| bs.iter().map(|b| b.binding_id.clone()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn an_instance_absent_from_the_cc_twice_and_present_twice_is_an_orphan() {
        let node = || listing(vec![inst("live", OLD), inst("lost", OLD)], vec![]);
        let a = look(cc(&["live"], &[]), vec![("n0", node())]);
        let b = look(cc(&["live"], &[]), vec![("n0", node())]);
        let v = classify(&a, &b, NOW, POLICY);
        assert_eq!(v.outcome, Outcome::Ok);
        assert_eq!(orphans(&v, "n0"), vec!["lost"]);
    }

    #[test]
    fn the_cc_learning_of_an_instance_in_either_look_saves_it() {
        let node = || listing(vec![inst("x", OLD), inst("live", OLD)], vec![]);
        // Known only in the second look (a provision finishing at the first look).
        let a = look(cc(&["live"], &[]), vec![("n0", node())]);
        let b = look(cc(&["live", "x"], &[]), vec![("n0", node())]);
        assert!(orphans(&classify(&a, &b, NOW, POLICY), "n0").is_empty());
        // Known only in the first look (being deprovisioned: not ours to purge).
        let a = look(cc(&["live", "x"], &[]), vec![("n0", node())]);
        let b = look(cc(&["live"], &[]), vec![("n0", node())]);
        assert!(orphans(&classify(&a, &b, NOW, POLICY), "n0").is_empty());
    }

    #[test]
    fn an_instance_seen_on_the_node_only_once_is_not_an_orphan() {
        let a = look(
            cc(&["live"], &[]),
            vec![("n0", listing(vec![inst("live", OLD)], vec![]))],
        );
        let b = look(
            cc(&["live"], &[]),
            vec![(
                "n0",
                listing(vec![inst("live", OLD), inst("new", OLD)], vec![]),
            )],
        );
        assert!(orphans(&classify(&a, &b, NOW, POLICY), "n0").is_empty());
        // Gone by the second look: nothing to purge.
        assert!(orphans(&classify(&b, &a, NOW, POLICY), "n0").is_empty());
    }

    #[test]
    fn node_identity_matters_an_instance_moving_nodes_is_not_confirmed() {
        let a = look(
            cc(&["live"], &[]),
            vec![
                (
                    "n0",
                    listing(vec![inst("live", OLD), inst("x", OLD)], vec![]),
                ),
                ("n1", listing(vec![], vec![])),
            ],
        );
        let b = look(
            cc(&["live"], &[]),
            vec![
                ("n0", listing(vec![inst("live", OLD)], vec![])),
                ("n1", listing(vec![inst("x", OLD)], vec![])),
            ],
        );
        let v = classify(&a, &b, NOW, POLICY);
        assert!(orphans(&v, "n0").is_empty() && orphans(&v, "n1").is_empty());
    }

    #[test]
    fn young_objects_are_left_alone() {
        let node = || {
            listing(
                vec![
                    inst("live", OLD),
                    inst("fresh", NOW - 10),
                    inst("edge", NOW - GRACE),
                ],
                vec![
                    bind("live", "fresh-b", true, NOW - 1),
                    bind("live", "kb", true, OLD),
                ],
            )
        };
        let a = look(cc(&["live"], &[("kb", "live")]), vec![("n0", node())]);
        let b = look(cc(&["live"], &[("kb", "live")]), vec![("n0", node())]);
        let v = classify(&a, &b, NOW, POLICY);
        assert_eq!(orphans(&v, "n0"), vec!["edge"]);
        assert!(orphan_bindings(&v, "n0").is_empty());
        assert_eq!(v.too_young, 2);
    }

    #[test]
    fn an_unreachable_node_is_reported_never_clean_never_all_orphans() {
        for (first_fails, second_fails) in [(true, false), (false, true), (true, true)] {
            let ok = || listing(vec![inst("live", OLD), inst("lost", OLD)], vec![]);
            let failed = || NodeListing::Failed("timed out".into());
            let a = look(
                cc(&["live"], &[]),
                vec![
                    ("n0", if first_fails { failed() } else { ok() }),
                    ("n1", ok()),
                ],
            );
            let b = look(
                cc(&["live"], &[]),
                vec![
                    ("n0", if second_fails { failed() } else { ok() }),
                    ("n1", ok()),
                ],
            );
            let v = classify(&a, &b, NOW, POLICY);
            assert_eq!(v.outcome, Outcome::Partial);
            assert!(v.unreachable["n0"].contains("timed out"));
            assert!(!v.orphan_instances.contains_key("n0"), "no verdict for n0");
            assert!(!v.orphan_bindings.contains_key("n0"));
            assert_eq!(orphans(&v, "n1"), vec!["lost"]);
        }
    }

    #[test]
    fn a_node_missing_from_one_look_gets_no_verdict() {
        let a = look(
            cc(&["live"], &[]),
            vec![(
                "n0",
                listing(vec![inst("live", OLD), inst("x", OLD)], vec![]),
            )],
        );
        let b = look(cc(&["live"], &[]), vec![]);
        let v = classify(&a, &b, NOW, POLICY);
        assert_eq!(v.outcome, Outcome::Partial);
        assert!(v.orphan_instances.is_empty());
    }

    #[test]
    fn an_empty_cc_with_instances_on_nodes_is_refused() {
        let node = || listing(vec![inst("a", OLD), inst("b", OLD)], vec![]);
        for (c1, c2) in [
            (cc(&[], &[]), cc(&["a"], &[])),
            (cc(&["a"], &[]), cc(&[], &[])),
            (cc(&[], &[]), cc(&[], &[])),
        ] {
            let v = classify(
                &look(c1, vec![("n0", node())]),
                &look(c2, vec![("n0", node())]),
                NOW,
                POLICY,
            );
            assert_eq!(v.outcome, Outcome::Refused);
            assert!(v.orphan_instances.is_empty() && v.orphan_bindings.is_empty());
            assert!(
                v.message.contains("none of the 2 service instances"),
                "{}",
                v.message
            );
        }
        // An empty CC and empty nodes is simply clean.
        let empty = || look(cc(&[], &[]), vec![("n0", listing(vec![], vec![]))]);
        let v = classify(&empty(), &empty(), NOW, POLICY);
        assert_eq!(v.outcome, Outcome::Ok);
        assert_eq!(v.orphan_instances["n0"], Vec::<String>::new());
    }

    #[test]
    fn an_empty_cc_binding_list_with_bindings_on_nodes_is_refused() {
        let node = || listing(vec![inst("live", OLD)], vec![bind("live", "b1", true, OLD)]);
        for (c1, c2) in [
            (cc(&["live"], &[]), cc(&["live"], &[("b1", "live")])),
            (cc(&["live"], &[("b1", "live")]), cc(&["live"], &[])),
        ] {
            let v = classify(
                &look(c1, vec![("n0", node())]),
                &look(c2, vec![("n0", node())]),
                NOW,
                POLICY,
            );
            assert_eq!(v.outcome, Outcome::Refused);
            assert!(v.message.contains("credential bindings"), "{}", v.message);
            assert!(v.orphan_bindings.is_empty());
        }
    }

    #[test]
    fn a_cc_that_knows_none_of_what_nodes_hold_is_refused() {
        // The CC answers in full, but about another service (or foundation).
        let node = || {
            listing(
                vec![inst("a", OLD), inst("b", OLD)],
                vec![bind("a", "ab", true, OLD)],
            )
        };
        let c = || cc(&["other-instance"], &[("other-binding", "other-instance")]);
        let v = classify(
            &look(c(), vec![("n0", node())]),
            &look(c(), vec![("n0", node())]),
            NOW,
            POLICY,
        );
        assert_eq!(v.outcome, Outcome::Refused);
        assert!(
            v.message.contains("none of the 2 service instances"),
            "{}",
            v.message
        );
        assert!(v.orphan_instances.is_empty() && v.orphan_bindings.is_empty());
    }

    #[test]
    fn too_large_a_share_of_orphans_is_refused() {
        // 12 instances with a binding each; the CC knows only 5 of them.
        let ids: Vec<String> = (0..12).map(|i| format!("i{i:02}")).collect();
        let node = || {
            listing(
                ids.iter().map(|i| inst(i, OLD)).collect(),
                ids.iter()
                    .map(|i| bind(i, &format!("{i}-b"), true, OLD))
                    .collect(),
            )
        };
        let known: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
        let known_b: Vec<(String, String)> = known
            .iter()
            .map(|i| (format!("{i}-b"), i.to_string()))
            .collect();
        let kb: Vec<(&str, &str)> = known_b
            .iter()
            .map(|(b, i)| (b.as_str(), i.as_str()))
            .collect();
        let c = || cc(&known, &kb);
        let half = Policy {
            grace: GRACE,
            max_orphan_fraction: 0.5,
        };
        let v = classify(
            &look(c(), vec![("n0", node())]),
            &look(c(), vec![("n0", node())]),
            NOW,
            half,
        );
        assert_eq!(v.outcome, Outcome::Refused);
        assert!(v.message.contains("7 of the 12 instances"), "{}", v.message);
        assert!(v.orphan_instances.is_empty() && v.orphan_bindings.is_empty());
        // With a looser limit the same world is judged.
        let loose = Policy {
            grace: GRACE,
            max_orphan_fraction: 0.6,
        };
        let v = classify(
            &look(c(), vec![("n0", node())]),
            &look(c(), vec![("n0", node())]),
            NOW,
            loose,
        );
        assert_eq!(v.outcome, Outcome::Ok);
        assert_eq!(orphans(&v, "n0").len(), 7);
    }

    #[test]
    fn a_binding_unknown_to_the_cc_and_seen_on_the_server_twice_is_an_orphan() {
        let node = || {
            listing(
                vec![inst("live", OLD)],
                vec![
                    bind("live", "kept", true, OLD),
                    bind("live", "dropped", true, OLD),
                ],
            )
        };
        let c = || cc(&["live"], &[("kept", "live")]);
        let v = classify(
            &look(c(), vec![("n0", node())]),
            &look(c(), vec![("n0", node())]),
            NOW,
            POLICY,
        );
        assert_eq!(orphan_bindings(&v, "n0"), vec!["dropped"]);
        assert_eq!(v.orphan_bindings["n0"][0].instance_id, "live");
    }

    #[test]
    fn a_binding_not_seen_on_the_server_both_times_is_unverified_not_orphan() {
        let a = look(
            cc(&["live"], &[("kb", "live")]),
            vec![(
                "n0",
                listing(
                    vec![inst("live", OLD)],
                    vec![bind("live", "b", false, OLD), bind("live", "kb", true, OLD)],
                ),
            )],
        );
        let b = look(
            cc(&["live"], &[("kb", "live")]),
            vec![(
                "n0",
                listing(
                    vec![inst("live", OLD)],
                    vec![bind("live", "b", true, OLD), bind("live", "kb", true, OLD)],
                ),
            )],
        );
        let v = classify(&a, &b, NOW, POLICY);
        assert!(orphan_bindings(&v, "n0").is_empty());
        assert_eq!(v.unverified_bindings, 1);
        let v = classify(&b, &a, NOW, POLICY);
        assert!(orphan_bindings(&v, "n0").is_empty());
    }

    #[test]
    fn a_binding_known_to_the_cc_in_either_look_is_kept() {
        let node = || listing(vec![inst("live", OLD)], vec![bind("live", "b", true, OLD)]);
        let v = classify(
            &look(cc(&["live"], &[("b", "live")]), vec![("n0", node())]),
            &look(cc(&["live"], &[]), vec![("n0", node())]),
            NOW,
            POLICY,
        );
        assert!(orphan_bindings(&v, "n0").is_empty());
        assert_eq!(v.unverified_bindings, 0);
    }

    #[test]
    fn bindings_of_an_orphan_instance_go_with_it() {
        let node = || {
            listing(
                vec![inst("live", OLD), inst("lost", OLD)],
                vec![bind("lost", "b", true, OLD), bind("live", "kb", true, OLD)],
            )
        };
        let v = classify(
            &look(cc(&["live"], &[("kb", "live")]), vec![("n0", node())]),
            &look(cc(&["live"], &[("kb", "live")]), vec![("n0", node())]),
            NOW,
            POLICY,
        );
        assert_eq!(orphans(&v, "n0"), vec!["lost"]);
        assert!(orphan_bindings(&v, "n0").is_empty());
    }

    #[test]
    fn an_instance_the_cc_knows_through_a_binding_is_not_an_orphan() {
        // The CC lost the instance record but still has a binding of it:
        // inconsistent evidence, so the instance stays.
        let node = || {
            listing(
                vec![inst("live", OLD), inst("half", OLD)],
                vec![bind("half", "b", true, OLD)],
            )
        };
        let c = || cc(&["live"], &[("b", "half")]);
        let v = classify(
            &look(c(), vec![("n0", node())]),
            &look(c(), vec![("n0", node())]),
            NOW,
            POLICY,
        );
        assert!(orphans(&v, "n0").is_empty());
        assert!(orphan_bindings(&v, "n0").is_empty());
    }

    #[test]
    fn stopped_and_untracked_instances_are_orphans_too() {
        let node = || {
            listing(
                vec![
                    inst("live", OLD),
                    InstanceSeen {
                        id: "down".into(),
                        created_at: OLD,
                        state: InstanceState::Stopped,
                    },
                    InstanceSeen {
                        id: "stray".into(),
                        created_at: OLD,
                        state: InstanceState::Untracked,
                    },
                ],
                vec![],
            )
        };
        let v = classify(
            &look(cc(&["live"], &[]), vec![("n0", node())]),
            &look(cc(&["live"], &[]), vec![("n0", node())]),
            NOW,
            POLICY,
        );
        assert_eq!(orphans(&v, "n0"), vec!["down", "stray"]);
    }

    /// Exhaustive over small worlds: whatever the inputs, an orphan is never
    /// known to the CC in either look, and is on its node in both looks.
    #[test]
    fn no_orphan_is_ever_known_to_the_cc_or_missing_from_a_look() {
        let ids = ["a", "b", "c"];
        let subsets: Vec<Vec<&str>> = (0..8u8)
            .map(|m| {
                ids.iter()
                    .enumerate()
                    .filter(|(i, _)| m & (1 << i) != 0)
                    .map(|(_, s)| *s)
                    .collect()
            })
            .collect();
        for cc1 in &subsets {
            for cc2 in &subsets {
                for n1 in &subsets {
                    for n2 in &subsets {
                        let l = |s: &Vec<&str>| {
                            listing(
                                s.iter().map(|i| inst(i, OLD)).collect(),
                                s.iter()
                                    .map(|i| bind(i, &format!("{i}-b"), true, OLD))
                                    .collect(),
                            )
                        };
                        let cb = |s: &Vec<&str>| {
                            // The CC knows the binding of every instance it knows but "c".
                            s.iter()
                                .filter(|i| **i != "c")
                                .map(|i| (format!("{i}-b"), i.to_string()))
                                .collect::<Vec<_>>()
                        };
                        let c1 = CcSnapshot {
                            instances: cc1.iter().map(|s| s.to_string()).collect(),
                            bindings: cb(cc1).into_iter().collect(),
                        };
                        let c2 = CcSnapshot {
                            instances: cc2.iter().map(|s| s.to_string()).collect(),
                            bindings: cb(cc2).into_iter().collect(),
                        };
                        let a = look(c1, vec![("n0", l(n1))]);
                        let b = look(c2, vec![("n0", l(n2))]);
                        let v = classify(&a, &b, NOW, POLICY);
                        if v.outcome == Outcome::Refused {
                            // Refused only when, in some look, the CC knew
                            // none of the instances or bindings the node held.
                            let held: Vec<&str> = n1.iter().chain(n2.iter()).copied().collect();
                            let held_b: Vec<String> =
                                held.iter().map(|i| format!("{i}-b")).collect();
                            let knows_none = |c: &CcSnapshot| {
                                let k = c.known_instances();
                                (!held.is_empty() && !held.iter().any(|i| k.contains(i)))
                                    || (!held_b.is_empty()
                                        && !held_b.iter().any(|b| c.bindings.contains_key(b)))
                            };
                            assert!(knows_none(&a.cc) || knows_none(&b.cc));
                            assert!(v.orphan_instances.is_empty());
                            continue;
                        }
                        for o in orphans(&v, "n0") {
                            let o = o.as_str();
                            assert!(!cc1.contains(&o) && !cc2.contains(&o));
                            assert!(n1.contains(&o) && n2.contains(&o));
                        }
                        for ob in &v.orphan_bindings["n0"] {
                            let i = ob.instance_id.as_str();
                            assert!(n1.contains(&i) && n2.contains(&i));
                            assert!(!a.cc.bindings.contains_key(&ob.binding_id));
                            assert!(!b.cc.bindings.contains_key(&ob.binding_id));
                            assert!(!orphans(&v, "n0").contains(&ob.instance_id));
                        }
                        // Completeness: everything that meets the rule is found.
                        for i in &ids {
                            let expect = n1.contains(i)
                                && n2.contains(i)
                                && !cc1.contains(i)
                                && !cc2.contains(i)
                                && !a.cc.known_instances().contains(i)
                                && !b.cc.known_instances().contains(i);
                            assert_eq!(
                                orphans(&v, "n0").contains(&i.to_string()),
                                expect,
                                "{cc1:?} {cc2:?} {n1:?} {n2:?} {i}"
                            );
                        }
                    }
                }
            }
        }
    }
}
