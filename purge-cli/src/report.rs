//! Turns gateway replies into the lines an operator reads and the exit code
//! a script checks.
//!
//! Exit code rule: 0 when every item ended purged or not found (both leave
//! the item gone, which is the goal), 1 as soon as one item failed, was
//! refused, or got no result at all.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde_json::Value;

use crate::gateway::{CheckReport, ItemResult, PurgeReport};
use crate::orphan_file::Orphans;

/// Every item ended purged or not found; the check ended `ok`.
pub const EXIT_OK: i32 = 0;
/// Something failed or was refused, or the gateway answered with an error.
pub const EXIT_FAILED: i32 = 1;
/// Usage, config or orphan-file error: nothing was sent.
pub const EXIT_USAGE: i32 = 2;

/// Text to print on stdout and the exit code that goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub exit_code: i32,
}

/// Counts per outcome, over the printed lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub purged: usize,
    pub not_found: usize,
    /// Includes items with an unknown outcome and items with no result.
    pub failed: usize,
    pub refused: usize,
}

/// Identifies one item: (node, kind, instance, binding).
type ItemKey<'a> = (&'a str, &'a str, &'a str, Option<&'a str>);

/// One line per result, then a `NO RESULT` line for every item that was sent
/// but not reported, then the summary.
pub fn render_purge(sent: &Orphans, report: &PurgeReport) -> Rendered {
    let mut text = String::new();
    let mut tally = Tally::default();
    for result in &report.results {
        let label = match result.outcome.as_str() {
            "purged" => {
                tally.purged += 1;
                "purged"
            }
            "not_found" => {
                tally.not_found += 1;
                "not found"
            }
            "refused" => {
                tally.refused += 1;
                "REFUSED"
            }
            "failed" => {
                tally.failed += 1;
                "FAILED"
            }
            _ => {
                tally.failed += 1;
                "UNKNOWN"
            }
        };
        let mut reason = result.reason.clone().unwrap_or_default();
        if label == "UNKNOWN" {
            reason = format!("outcome {:?} {reason}", result.outcome)
                .trim_end()
                .to_string();
        }
        push_line(&mut text, label, &describe(result), &reason);
    }

    let reported: BTreeSet<ItemKey> = report.results.iter().map(result_key).collect();
    for (node, key, item) in sent_items(sent) {
        if !reported.contains(&key) {
            tally.failed += 1;
            push_line(
                &mut text,
                "NO RESULT",
                &format!("{item} on {node}"),
                "the gateway did not report this item",
            );
        }
    }

    let _ = writeln!(
        text,
        "summary: purged {}, not found {}, failed {}, refused {}",
        tally.purged, tally.not_found, tally.failed, tally.refused
    );
    Rendered {
        text,
        exit_code: tally.exit_code(),
    }
}

/// The outcome, message, unreachable nodes, and the orphans found per node.
pub fn render_check(report: &CheckReport) -> Rendered {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "check {} finished: outcome {}",
        report.check_id, report.outcome
    );
    if !report.message.is_empty() {
        let _ = writeln!(text, "message: {}", report.message);
    }
    if report.unreachable_nodes.is_empty() {
        let _ = writeln!(text, "unreachable nodes: none");
    } else {
        let _ = writeln!(
            text,
            "unreachable nodes: {}",
            report.unreachable_nodes.len()
        );
        for (node, why) in &report.unreachable_nodes {
            let why = match why {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = writeln!(text, "  {node}: {why}");
        }
    }
    if report.unverified_bindings > 0 {
        let _ = writeln!(
            text,
            "bindings not verified on a running server (left alone): {}",
            report.unverified_bindings
        );
    }
    let orphans = &report.orphans;
    let nodes: BTreeSet<&String> = orphans
        .orphan_instances
        .keys()
        .chain(orphans.orphan_bindings.keys())
        .collect();
    if orphans.is_empty() {
        let _ = writeln!(text, "no orphans found");
    }
    for node in nodes {
        let instances = orphans
            .orphan_instances
            .get(node)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let bindings = orphans
            .orphan_bindings
            .get(node)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if instances.is_empty() && bindings.is_empty() {
            continue;
        }
        let _ = writeln!(
            text,
            "{node}: {} orphan instance(s), {} orphan binding(s)",
            instances.len(),
            bindings.len()
        );
        for id in instances {
            let _ = writeln!(text, "  instance {id}");
        }
        for b in bindings {
            let _ = writeln!(
                text,
                "  binding {} (instance {})",
                b.binding_id, b.instance_id
            );
        }
    }
    Rendered {
        text,
        exit_code: if report.outcome == "ok" {
            EXIT_OK
        } else {
            EXIT_FAILED
        },
    }
}

impl Tally {
    /// 0 when nothing failed or was refused, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.failed + self.refused == 0 {
            EXIT_OK
        } else {
            EXIT_FAILED
        }
    }
}

fn push_line(text: &mut String, label: &str, item: &str, reason: &str) {
    let _ = if reason.is_empty() {
        writeln!(text, "{label:<10} {item}")
    } else {
        writeln!(text, "{label:<10} {item}: {reason}")
    };
}

/// `instance I on N` or `binding B (instance I) on N`.
fn describe(result: &ItemResult) -> String {
    let item = match (result.kind.as_str(), &result.binding_id) {
        ("binding", Some(b)) => format!("binding {b} (instance {})", result.instance_id),
        ("binding", None) => format!("binding ? (instance {})", result.instance_id),
        (kind, _) => format!("{kind} {}", result.instance_id),
    };
    format!("{item} on {}", result.node_id)
}

fn result_key(result: &ItemResult) -> ItemKey<'_> {
    let binding = match result.kind.as_str() {
        "binding" => result.binding_id.as_deref(),
        _ => None,
    };
    (&result.node_id, &result.kind, &result.instance_id, binding)
}

/// Every sent item: its node, its key, and how to describe it.
fn sent_items(sent: &Orphans) -> Vec<(&str, ItemKey<'_>, String)> {
    let mut items = Vec::new();
    for (node, ids) in &sent.orphan_instances {
        for id in ids {
            items.push((
                node.as_str(),
                (node.as_str(), "instance", id.as_str(), None),
                format!("instance {id}"),
            ));
        }
    }
    for (node, bindings) in &sent.orphan_bindings {
        for b in bindings {
            let key = (
                node.as_str(),
                "binding",
                b.instance_id.as_str(),
                Some(b.binding_id.as_str()),
            );
            items.push((
                node.as_str(),
                key,
                format!("binding {} (instance {})", b.binding_id, b.instance_id),
            ));
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn orphans(v: Value) -> Orphans {
        Orphans::from_maps(v.get("orphan_instances"), v.get("orphan_bindings")).unwrap()
    }

    fn report(v: Value) -> PurgeReport {
        serde_json::from_value(v).unwrap()
    }

    fn sent() -> Orphans {
        orphans(json!({
            "orphan_instances": {"redis_node_0": ["4c1f", "5d20"]},
            "orphan_bindings": {"redis_node_1": [{"instance_id": "9d2e", "binding_id": "77ab"}]}
        }))
    }

    #[test]
    fn purged_and_not_found_lines_are_aligned_and_exit_zero() {
        let rendered = render_purge(
            &sent(),
            &report(json!({"results": [
                {"node_id": "redis_node_0", "kind": "instance", "instance_id": "4c1f", "outcome": "purged", "reason": ""},
                {"node_id": "redis_node_0", "kind": "instance", "instance_id": "5d20", "outcome": "purged"},
                {"node_id": "redis_node_1", "kind": "binding", "instance_id": "9d2e", "binding_id": "77ab",
                 "outcome": "not_found", "reason": "no such binding"}
            ]})),
        );
        assert_eq!(
            rendered.text,
            "purged     instance 4c1f on redis_node_0\n\
             purged     instance 5d20 on redis_node_0\n\
             not found  binding 77ab (instance 9d2e) on redis_node_1: no such binding\n\
             summary: purged 2, not found 1, failed 0, refused 0\n"
        );
        assert_eq!(rendered.exit_code, EXIT_OK);
    }

    #[test]
    fn failed_or_refused_items_exit_one() {
        let rendered = render_purge(
            &sent(),
            &report(json!({"results": [
                {"node_id": "redis_node_0", "kind": "instance", "instance_id": "4c1f", "outcome": "failed", "reason": "node did not answer"},
                {"node_id": "redis_node_0", "kind": "instance", "instance_id": "5d20", "outcome": "refused", "reason": "known to the cloud controller"},
                {"node_id": "redis_node_1", "kind": "binding", "instance_id": "9d2e", "binding_id": "77ab", "outcome": "purged"}
            ]})),
        );
        assert!(
            rendered
                .text
                .contains("FAILED     instance 4c1f on redis_node_0: node did not answer\n"),
            "{}",
            rendered.text
        );
        assert!(
            rendered.text.contains(
                "REFUSED    instance 5d20 on redis_node_0: known to the cloud controller\n"
            ),
            "{}",
            rendered.text
        );
        assert!(
            rendered
                .text
                .ends_with("summary: purged 1, not found 0, failed 1, refused 1\n"),
            "{}",
            rendered.text
        );
        assert_eq!(rendered.exit_code, EXIT_FAILED);

        let refused_only = render_purge(
            &orphans(json!({"orphan_instances": {"n": ["i"]}})),
            &report(
                json!({"results": [{"node_id": "n", "kind": "instance", "instance_id": "i", "outcome": "refused"}]}),
            ),
        );
        assert_eq!(refused_only.exit_code, EXIT_FAILED);
    }

    #[test]
    fn items_without_a_result_count_as_failed() {
        let rendered = render_purge(
            &sent(),
            &report(json!({"results": [
                {"node_id": "redis_node_0", "kind": "instance", "instance_id": "4c1f", "outcome": "purged"}
            ]})),
        );
        assert!(
            rendered.text.contains(
                "NO RESULT  instance 5d20 on redis_node_0: the gateway did not report this item\n"
            ),
            "{}",
            rendered.text
        );
        assert!(
            rendered
                .text
                .contains("NO RESULT  binding 77ab (instance 9d2e) on redis_node_1:"),
            "{}",
            rendered.text
        );
        assert!(
            rendered
                .text
                .ends_with("summary: purged 1, not found 0, failed 2, refused 0\n"),
            "{}",
            rendered.text
        );
        assert_eq!(rendered.exit_code, EXIT_FAILED);
    }

    #[test]
    fn an_unknown_outcome_counts_as_failed() {
        let rendered = render_purge(
            &orphans(json!({"orphan_instances": {"n": ["i"]}})),
            &report(
                json!({"results": [{"node_id": "n", "kind": "instance", "instance_id": "i", "outcome": "quarantined"}]}),
            ),
        );
        assert!(
            rendered
                .text
                .starts_with("UNKNOWN    instance i on n: outcome \"quarantined\"\n"),
            "{}",
            rendered.text
        );
        assert_eq!(rendered.exit_code, EXIT_FAILED);
    }

    fn check_report(outcome: &str) -> CheckReport {
        CheckReport {
            check_id: "c-42".into(),
            outcome: outcome.into(),
            ..CheckReport::default()
        }
    }

    #[test]
    fn an_ok_check_lists_orphans_per_node_and_exits_zero() {
        let mut report = check_report("ok");
        report.orphans = orphans(json!({
            "orphan_instances": {"redis_node_0": ["4c1f"], "redis_node_1": []},
            "orphan_bindings": {"redis_node_0": [{"instance_id": "9d2e", "binding_id": "77ab"}], "redis_node_2": []}
        }));
        let rendered = render_check(&report);
        assert_eq!(
            rendered.text,
            "check c-42 finished: outcome ok\n\
             unreachable nodes: none\n\
             redis_node_0: 1 orphan instance(s), 1 orphan binding(s)\n  \
             instance 4c1f\n  \
             binding 77ab (instance 9d2e)\n"
        );
        assert_eq!(rendered.exit_code, EXIT_OK);
    }

    #[test]
    fn a_partial_check_shows_message_and_unreachable_nodes_and_exits_one() {
        let mut report = check_report("partial");
        report.message = "1 of 3 nodes did not answer".into();
        report
            .unreachable_nodes
            .insert("redis_node_2".into(), json!("no answer within 10s"));
        let rendered = render_check(&report);
        assert!(
            rendered.text.contains("outcome partial\n"),
            "{}",
            rendered.text
        );
        assert!(
            rendered
                .text
                .contains("message: 1 of 3 nodes did not answer\n"),
            "{}",
            rendered.text
        );
        assert!(
            rendered
                .text
                .contains("unreachable nodes: 1\n  redis_node_2: no answer within 10s\n"),
            "{}",
            rendered.text
        );
        assert!(
            rendered.text.contains("no orphans found\n"),
            "{}",
            rendered.text
        );
        assert_eq!(rendered.exit_code, EXIT_FAILED);
    }

    #[test]
    fn failed_and_refused_checks_exit_one() {
        assert_eq!(render_check(&check_report("failed")).exit_code, EXIT_FAILED);
        assert_eq!(
            render_check(&check_report("refused")).exit_code,
            EXIT_FAILED
        );
        assert_eq!(
            render_check(&check_report("running")).exit_code,
            EXIT_FAILED
        );
    }

    #[test]
    fn tally_exit_code() {
        let ok = Tally {
            purged: 3,
            not_found: 2,
            ..Tally::default()
        };
        assert_eq!(ok.exit_code(), EXIT_OK);
        assert_eq!(Tally::default().exit_code(), EXIT_OK);
        assert_eq!(Tally { failed: 1, ..ok }.exit_code(), EXIT_FAILED);
        assert_eq!(Tally { refused: 1, ..ok }.exit_code(), EXIT_FAILED);
    }
}
