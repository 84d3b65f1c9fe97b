//! Runs the whole tool in-process through `purge_cli::run`, without a
//! gateway: usage, config and orphan-file errors (exit 2, nothing sent),
//! "nothing to purge", and a gateway that is down or silent (exit 1).
//!
//! "Nothing sent" is shown with a bound but idle TCP listener as the
//! gateway: any request would leave a pending connection on it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

const TOKEN: &str = "tok-Secret-4b9e0d";

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn run(args: &[&str]) -> Outcome {
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.insert(0, "purge-orphan".into());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = purge_cli::run(args, &mut out, &mut err).await;
    let outcome = Outcome {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    };
    assert!(
        !outcome.stdout.contains(TOKEN),
        "token on stdout: {}",
        outcome.stdout
    );
    assert!(
        !outcome.stderr.contains(TOKEN),
        "token on stderr: {}",
        outcome.stderr
    );
    outcome
}

/// A port on which nothing listens.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A listener that never answers; `connections` tells whether anyone tried.
struct Probe(TcpListener);

impl Probe {
    fn new() -> Probe {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Probe(listener)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    fn was_contacted(&self) -> bool {
        self.0.accept().is_ok()
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn config(dir: &Path, port: u16, timeout: u64) -> String {
    write(
        dir,
        "purge-orphan.yml",
        &format!("gateway_uri: 127.0.0.1:{port}\ntoken: {TOKEN}\ntimeout: {timeout}\n"),
    )
}

const VARZ: &str = r#"{
  "type": "redis-Provisioner",
  "nodes": {"redis_node_0": {"address": "http://127.0.0.1:9101", "reachable": true}},
  "orphan_instances": {"redis_node_0": ["4c1f"], "redis_node_1": []},
  "orphan_bindings": {"redis_node_1": [{"instance_id": "9d2e", "binding_id": "77ab", "username": "77ab"}]},
  "last_check": null
}"#;

#[tokio::test]
async fn help_prints_usage_and_exits_zero() {
    let outcome = run(&["-h"]).await;
    assert_eq!(outcome.code, 0);
    assert!(
        outcome.stdout.contains("Usage: purge-orphan"),
        "{}",
        outcome.stdout
    );
    for flag in ["--config", "--check", "--wait", "ORPHAN_FILE"] {
        assert!(
            outcome.stdout.contains(flag),
            "{flag} missing: {}",
            outcome.stdout
        );
    }
}

#[tokio::test]
async fn an_unknown_flag_is_a_usage_error() {
    let outcome = run(&["--force", "varz.json"]).await;
    assert_eq!(outcome.code, 2);
    assert!(outcome.stderr.contains("--force"), "{}", outcome.stderr);
}

#[tokio::test]
async fn check_with_a_file_is_a_usage_error_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let probe = Probe::new();
    let config = config(dir.path(), probe.port(), 5);
    let varz = write(dir.path(), "varz.json", VARZ);
    let outcome = run(&["-c", &config, "-k", &varz]).await;
    assert_eq!(outcome.code, 2);
    assert!(
        outcome
            .stderr
            .contains("-k/--check does not take an ORPHAN_FILE"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stdout.is_empty());
    assert!(!probe.was_contacted());
}

#[tokio::test]
async fn no_arguments_is_a_usage_error() {
    let outcome = run(&[]).await;
    assert_eq!(outcome.code, 2);
    assert!(
        outcome.stderr.contains("give an ORPHAN_FILE"),
        "{}",
        outcome.stderr
    );
}

#[tokio::test]
async fn config_errors_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let varz = write(dir.path(), "varz.json", VARZ);

    let missing = dir.path().join("none.yml");
    let outcome = run(&["-c", missing.to_str().unwrap(), &varz]).await;
    assert_eq!(outcome.code, 2);
    assert!(
        outcome.stderr.contains("cannot read config") && outcome.stderr.contains("none.yml"),
        "{}",
        outcome.stderr
    );

    let no_token = write(dir.path(), "no-token.yml", "gateway_uri: localhost:1\n");
    let outcome = run(&["-c", &no_token, &varz]).await;
    assert_eq!(outcome.code, 2);
    assert!(
        outcome.stderr.contains("token is required"),
        "{}",
        outcome.stderr
    );

    let typo = write(
        dir.path(),
        "typo.yml",
        &format!("token: {TOKEN}\ngateway_url: x\n"),
    );
    let outcome = run(&["-c", &typo, &varz]).await;
    assert_eq!(outcome.code, 2);
    assert!(outcome.stderr.contains("gateway_url"), "{}", outcome.stderr);
}

#[tokio::test]
async fn orphan_file_errors_exit_two_and_send_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let probe = Probe::new();
    let config = config(dir.path(), probe.port(), 5);
    let cases = [
        ("empty.json", "", "is empty"),
        (
            "broken.json",
            "{\"orphan_instances\": {\n  \"n\": [\"a\",]\n}}",
            "is not valid JSON (line 2, column",
        ),
        ("list.json", "[]", "not an object"),
        (
            "other.json",
            r#"{"type": "redis-Provisioner"}"#,
            "has no orphan_instances or orphan_bindings: is it a saved /varz?",
        ),
        (
            "shape.json",
            r#"{"orphan_bindings": {"redis_node_1": [{"instance_id": "9d2e"}]}}"#,
            "node \"redis_node_1\" index 0: the binding has no binding_id",
        ),
    ];
    for (name, text, expected) in cases {
        let file = write(dir.path(), name, text);
        let outcome = run(&["-c", &config, &file]).await;
        assert_eq!(outcome.code, 2, "{name}: {}", outcome.stderr);
        assert!(outcome.stderr.contains(name), "{name}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains(expected),
            "{name}: {}",
            outcome.stderr
        );
        assert!(outcome.stdout.is_empty(), "{name}: {}", outcome.stdout);
    }
    let missing = dir.path().join("missing.json");
    let outcome = run(&["-c", &config, missing.to_str().unwrap()]).await;
    assert_eq!(outcome.code, 2);
    assert!(
        outcome.stderr.contains("missing.json does not exist"),
        "{}",
        outcome.stderr
    );
    assert!(
        !probe.was_contacted(),
        "a request was sent for an invalid file"
    );
}

#[tokio::test]
async fn empty_maps_mean_nothing_to_purge_and_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let probe = Probe::new();
    let config = config(dir.path(), probe.port(), 5);
    let varz = write(
        dir.path(),
        "varz.json",
        r#"{"orphan_instances": {}, "orphan_bindings": {"redis_node_0": []}, "last_check": null}"#,
    );
    let outcome = run(&["-c", &config, &varz]).await;
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "nothing to purge\n");
    assert!(!probe.was_contacted());
}

#[tokio::test]
async fn an_unreachable_gateway_exits_one_naming_the_uri() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let config = config(dir.path(), port, 5);
    let varz = write(dir.path(), "varz.json", VARZ);
    let uri = format!("http://127.0.0.1:{port}/service/internal/v1/");

    let outcome = run(&["-c", &config, &varz]).await;
    assert_eq!(outcome.code, 1);
    assert!(
        outcome.stderr.contains("cannot reach the gateway at"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains(&format!("{uri}purge_orphan")),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stdout.is_empty(), "{}", outcome.stdout);

    for args in [
        vec!["-c", &config, "-k"],
        vec!["-c", &config, "-k", "--wait"],
    ] {
        let outcome = run(&args).await;
        assert_eq!(outcome.code, 1, "{args:?}");
        assert!(
            outcome.stderr.contains(&format!("{uri}check_orphan")),
            "{}",
            outcome.stderr
        );
    }
}

#[tokio::test]
async fn a_silent_gateway_times_out_and_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    // Connections complete in the kernel's backlog, but nothing ever answers.
    let probe = Probe::new();
    let config = config(dir.path(), probe.port(), 1);
    let varz = write(dir.path(), "varz.json", VARZ);
    let outcome = run(&["-c", &config, &varz]).await;
    assert_eq!(outcome.code, 1);
    assert!(
        outcome.stderr.contains(&format!(
            "the gateway at http://127.0.0.1:{}/service/internal/v1/purge_orphan did not answer within 1s",
            probe.port()
        )),
        "{}",
        outcome.stderr
    );
    assert!(probe.was_contacted());
}
