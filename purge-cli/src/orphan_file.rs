//! The orphan file: a saved gateway `/varz` that names what to purge.
//!
//! Only the top-level `orphan_instances` and `orphan_bindings` are taken. The
//! operator may have edited the file, so every part of those two maps is
//! checked before anything is sent: a purge must never start from a file
//! that was half understood.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

/// What to purge, per node: `orphan_instances` and `orphan_bindings` of a /varz.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Orphans {
    /// `{node_id: [instance_id, …]}`.
    pub orphan_instances: BTreeMap<String, Vec<String>>,
    /// `{node_id: [binding, …]}`.
    pub orphan_bindings: BTreeMap<String, Vec<OrphanBinding>>,
}

/// One orphan binding as listed in /varz.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrphanBinding {
    /// The instance the binding belongs to.
    pub instance_id: String,
    /// The binding itself.
    pub binding_id: String,
    /// Any other keys the node listed (e.g. `username`), sent back as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An orphan file that cannot be used; the message names the file.
#[derive(Debug)]
pub struct OrphanFileError(String);

/// Reads and validates the orphan file at `path`.
pub fn load(path: &Path) -> Result<Orphans, OrphanFileError> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            OrphanFileError(format!("orphan file {shown} does not exist"))
        }
        _ => OrphanFileError(format!("cannot read orphan file {shown}: {e}")),
    })?;
    parse(&bytes).map_err(|e| OrphanFileError(format!("orphan file {shown} {e}")))
}

/// Parses and validates the contents of an orphan file. The error reads well
/// after the words "orphan file NAME".
pub fn parse(bytes: &[u8]) -> Result<Orphans, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("is empty".into());
    }
    let varz: Value = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "is not valid JSON (line {}, column {}): {}",
            e.line(),
            e.column(),
            json_error_text(&e)
        )
    })?;
    let Value::Object(varz) = varz else {
        return Err(format!(
            "holds a JSON {}, not an object: is it a saved /varz?",
            kind(&varz)
        ));
    };
    let instances = varz.get("orphan_instances");
    let bindings = varz.get("orphan_bindings");
    if instances.is_none() && bindings.is_none() {
        return Err("has no orphan_instances or orphan_bindings: is it a saved /varz?".into());
    }
    Orphans::from_maps(instances, bindings).map_err(|e| format!("is malformed: {e}"))
}

impl Orphans {
    /// Validates the two maps as they appear in /varz or in a check report;
    /// an absent map counts as empty.
    pub fn from_maps(
        instances: Option<&Value>,
        bindings: Option<&Value>,
    ) -> Result<Orphans, String> {
        let mut orphans = Orphans::default();
        if let Some(instances) = instances {
            for (node, list) in node_lists(instances, "orphan_instances", "instance ids")? {
                let ids = list
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let at = format!("orphan_instances node {node:?} index {i}");
                        id_of(item, &at, "instance id")
                    })
                    .collect::<Result<_, _>>()?;
                orphans.orphan_instances.insert(node.clone(), ids);
            }
        }
        if let Some(bindings) = bindings {
            for (node, list) in node_lists(bindings, "orphan_bindings", "bindings")? {
                let items = list
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let at = format!("orphan_bindings node {node:?} index {i}");
                        OrphanBinding::from_value(item, &at)
                    })
                    .collect::<Result<_, _>>()?;
                orphans.orphan_bindings.insert(node.clone(), items);
            }
        }
        Ok(orphans)
    }

    /// Number of instances plus bindings listed.
    pub fn item_count(&self) -> usize {
        self.instance_count() + self.binding_count()
    }

    /// Number of instances listed, over all nodes.
    pub fn instance_count(&self) -> usize {
        self.orphan_instances.values().map(Vec::len).sum()
    }

    /// Number of bindings listed, over all nodes.
    pub fn binding_count(&self) -> usize {
        self.orphan_bindings.values().map(Vec::len).sum()
    }

    /// True when there is nothing to purge (maps empty, or every list empty).
    pub fn is_empty(&self) -> bool {
        self.item_count() == 0
    }
}

impl OrphanBinding {
    fn from_value(item: &Value, at: &str) -> Result<OrphanBinding, String> {
        let Value::Object(fields) = item else {
            return Err(format!(
                "{at}: a binding must be an object with instance_id and binding_id, found {}",
                kind(item)
            ));
        };
        let field = |name: &str| match fields.get(name) {
            None => Err(format!("{at}: the binding has no {name}")),
            Some(v) => id_of(v, at, name),
        };
        let instance_id = field("instance_id")?;
        let binding_id = field("binding_id")?;
        let mut extra = fields.clone();
        extra.remove("instance_id");
        extra.remove("binding_id");
        Ok(OrphanBinding {
            instance_id,
            binding_id,
            extra,
        })
    }
}

/// Checks that `map` is `{node_id: [ … ]}` and returns its entries.
fn node_lists<'a>(
    map: &'a Value,
    name: &str,
    what: &str,
) -> Result<impl Iterator<Item = (&'a String, &'a Vec<Value>)>, String> {
    let Value::Object(nodes) = map else {
        return Err(format!(
            "{name} must be an object {{node_id: [{what}…]}}, found {}",
            kind(map)
        ));
    };
    for (node, list) in nodes {
        if node.trim().is_empty() {
            return Err(format!("{name} has an empty node id"));
        }
        if !list.is_array() {
            return Err(format!(
                "{name} node {node:?} must map to a list of {what}, found {}",
                kind(list)
            ));
        }
    }
    Ok(nodes
        .iter()
        .filter_map(|(node, list)| list.as_array().map(|l| (node, l))))
}

/// A non-empty string id, or an error naming where it was.
fn id_of(value: &Value, at: &str, name: &str) -> Result<String, String> {
    match value {
        Value::String(s) if s.trim().is_empty() => Err(format!("{at}: {name} is empty")),
        Value::String(s) => Ok(s.clone()),
        other => Err(format!(
            "{at}: {name} must be a string, found {}",
            kind(other)
        )),
    }
}

/// The name of a JSON value's type, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// serde_json's message without its trailing " at line L column C".
fn json_error_text(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

impl fmt::Display for OrphanFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OrphanFileError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err_of(text: &str) -> String {
        parse(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn a_saved_varz_with_extra_keys_parses() {
        let varz = json!({
            "type": "redis-Provisioner",
            "uptime": "0d:0h:5m:12s",
            "nodes": {"redis_node_0": {"address": "http://127.0.0.1:9101", "reachable": true}},
            "prov_svcs": {"4c1f": {"node_id": "redis_node_0", "plan": "dedicated"}},
            "orphan_instances": {"redis_node_0": ["4c1f"], "redis_node_1": []},
            "orphan_bindings": {"redis_node_0": [], "redis_node_1": [
                {"instance_id": "9d2e", "binding_id": "77ab", "username": "77ab", "port": 25003}]},
            "last_check": {"check_id": "c1", "outcome": "ok", "unreachable_nodes": {}}
        });
        let orphans = parse(varz.to_string().as_bytes()).unwrap();
        assert_eq!(orphans.orphan_instances["redis_node_0"], vec!["4c1f"]);
        assert!(orphans.orphan_instances["redis_node_1"].is_empty());
        let binding = &orphans.orphan_bindings["redis_node_1"][0];
        assert_eq!(binding.instance_id, "9d2e");
        assert_eq!(binding.binding_id, "77ab");
        assert_eq!(binding.extra["username"], json!("77ab"));
        assert_eq!(orphans.item_count(), 2);
        assert!(!orphans.is_empty());
    }

    #[test]
    fn the_request_body_keeps_only_the_two_maps_and_binding_extras() {
        let varz = json!({
            "type": "x",
            "orphan_instances": {"n0": ["i1"]},
            "orphan_bindings": {"n1": [{"instance_id": "i2", "binding_id": "b2", "port": 5}]}
        });
        let orphans = parse(varz.to_string().as_bytes()).unwrap();
        assert_eq!(
            serde_json::to_value(&orphans).unwrap(),
            json!({
                "orphan_instances": {"n0": ["i1"]},
                "orphan_bindings": {"n1": [{"instance_id": "i2", "binding_id": "b2", "port": 5}]}
            })
        );
    }

    #[test]
    fn one_map_alone_is_enough() {
        let orphans = parse(br#"{"orphan_instances": {"n0": ["a", "b"]}}"#).unwrap();
        assert_eq!(orphans.item_count(), 2);
        assert!(orphans.orphan_bindings.is_empty());
        let orphans =
            parse(br#"{"orphan_bindings": {"n0": [{"instance_id": "a", "binding_id": "b"}]}}"#)
                .unwrap();
        assert_eq!(orphans.binding_count(), 1);
    }

    #[test]
    fn empty_maps_or_lists_mean_nothing_to_purge() {
        assert!(parse(br#"{"orphan_instances": {}, "orphan_bindings": {}}"#)
            .unwrap()
            .is_empty());
        assert!(
            parse(br#"{"orphan_instances": {"n0": []}, "orphan_bindings": {"n1": []}}"#)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn an_empty_file_is_rejected() {
        assert_eq!(err_of(""), "is empty");
        assert_eq!(err_of("  \n\t"), "is empty");
    }

    #[test]
    fn invalid_json_reports_line_and_column() {
        let err = err_of("{\n  \"orphan_instances\": {,\n}");
        assert!(
            err.starts_with("is not valid JSON (line 2, column 24)"),
            "{err}"
        );
        assert!(!err.contains(" at line "), "{err}");
        let err = parse(b"\xff\xfe").unwrap_err();
        assert!(err.starts_with("is not valid JSON (line 1"), "{err}");
    }

    #[test]
    fn a_non_object_is_rejected() {
        let err = err_of("[1, 2]");
        assert!(err.contains("JSON array, not an object"), "{err}");
        assert!(err.contains("saved /varz"), "{err}");
    }

    #[test]
    fn a_file_without_either_map_is_rejected() {
        let err = err_of(r#"{"type": "redis-Provisioner"}"#);
        assert_eq!(
            err,
            "has no orphan_instances or orphan_bindings: is it a saved /varz?"
        );
    }

    #[test]
    fn wrong_shapes_name_the_node_and_index() {
        let cases = [
            (
                r#"{"orphan_instances": null}"#,
                "orphan_instances must be an object",
                "found null",
            ),
            (
                r#"{"orphan_instances": ["a"]}"#,
                "orphan_instances must be an object",
                "found array",
            ),
            (
                r#"{"orphan_instances": {"n0": "a"}}"#,
                "orphan_instances node \"n0\" must map to a list",
                "found string",
            ),
            (
                r#"{"orphan_instances": {"n0": ["a", 7]}}"#,
                "orphan_instances node \"n0\" index 1",
                "instance id must be a string, found number",
            ),
            (
                r#"{"orphan_instances": {"n0": [""]}}"#,
                "orphan_instances node \"n0\" index 0",
                "instance id is empty",
            ),
            (
                r#"{"orphan_instances": {"": ["a"]}}"#,
                "orphan_instances has an empty node id",
                "",
            ),
            (
                r#"{"orphan_bindings": {"n1": {}}}"#,
                "orphan_bindings node \"n1\" must map to a list",
                "found object",
            ),
            (
                r#"{"orphan_bindings": {"n1": ["b"]}}"#,
                "orphan_bindings node \"n1\" index 0",
                "must be an object with instance_id and binding_id, found string",
            ),
            (
                r#"{"orphan_bindings": {"n1": [{"instance_id": "i", "binding_id": "b"}, {"instance_id": "i"}]}}"#,
                "orphan_bindings node \"n1\" index 1",
                "the binding has no binding_id",
            ),
            (
                r#"{"orphan_bindings": {"n1": [{"binding_id": "b"}]}}"#,
                "orphan_bindings node \"n1\" index 0",
                "the binding has no instance_id",
            ),
            (
                r#"{"orphan_bindings": {"n1": [{"instance_id": 3, "binding_id": "b"}]}}"#,
                "index 0",
                "instance_id must be a string, found number",
            ),
            (
                r#"{"orphan_bindings": {"n1": [{"instance_id": "i", "binding_id": " "}]}}"#,
                "index 0",
                "binding_id is empty",
            ),
        ];
        for (text, where_, what) in cases {
            let err = err_of(text);
            assert!(err.starts_with("is malformed: "), "{text}: {err}");
            assert!(err.contains(where_), "{text}: {err}");
            assert!(err.contains(what), "{text}: {err}");
        }
    }

    #[test]
    fn absent_maps_are_empty_when_built_from_a_report() {
        let orphans = Orphans::from_maps(None, None).unwrap();
        assert!(orphans.is_empty());
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("varz.json");
        let err = load(&missing).unwrap_err().to_string();
        assert!(
            err.contains("varz.json") && err.contains("does not exist"),
            "{err}"
        );

        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with("cannot read orphan file"), "{err}");

        std::fs::write(&missing, "{}").unwrap();
        let err = load(&missing).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "orphan file {} has no orphan_instances",
                missing.display()
            )),
            "{err}"
        );
    }
}
