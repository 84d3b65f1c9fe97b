//! The MongoDB node against real servers: FerretDB processes (SQLite
//! backend, SCRAM users) started by the node itself, and a real `mongod`
//! when one is on the PATH.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mongodb::bson::doc;
use node_core::config::ServerConfig;
use node_core::testing::node_config;
use node_core::{Backend, Node, NodeError};
use node_mongodb::{ferretdb_server_config, MongoBackend};
use proto::{InstanceState, PurgeOutcome};

/// An executable named `name` on the PATH.
use node_mongodb::testing::{ferretdb_bin, on_path};

fn config(node_id: &str, base: &Path) -> node_core::NodeConfig {
    node_config(node_id, base, ferretdb_server_config(&ferretdb_bin()))
}

fn open(base: &Path) -> Arc<Node<MongoBackend>> {
    open_with(config("mongodb_node_t", base))
}

fn open_with(cfg: node_core::NodeConfig) -> Arc<Node<MongoBackend>> {
    let backend = MongoBackend::new(&cfg.bind_host, cfg.server.clone());
    Arc::new(Node::open(cfg, backend).unwrap())
}

/// Stops the node's servers when a test panics, so a failed test leaves no
/// server running. Declared after the temporary directory, so dropped first.
struct StopOnPanic(Arc<Node<MongoBackend>>);

impl Drop for StopOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let node = self.0.clone();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().unwrap();
                rt.block_on(node.stop_all());
            })
            .join();
        }
    }
}

/// A client logged in with a binding's credentials, from its URI, as an
/// application would connect.
async fn client(creds: &proto::Credentials) -> anyhow::Result<mongodb::Client> {
    node_mongodb::connect(creds).await
}

fn things(
    client: &mongodb::Client,
    creds: &proto::Credentials,
) -> mongodb::Collection<mongodb::bson::Document> {
    client.database(&creds.name).collection("things")
}

/// Writes `key = value` into the binding's database and reads it back.
async fn put_get(creds: &proto::Credentials, key: &str, value: &str) -> anyhow::Result<String> {
    let client = client(creds).await?;
    things(&client, creds)
        .insert_one(doc! { "k": key, "v": value })
        .await?;
    get(creds, key).await
}

/// Reads the last value written under `key`.
async fn get(creds: &proto::Credentials, key: &str) -> anyhow::Result<String> {
    let client = client(creds).await?;
    let found = things(&client, creds)
        .find_one(doc! { "k": key })
        .sort(doc! { "_id": -1 })
        .await?
        .ok_or_else(|| anyhow::anyhow!("no document {key}"))?;
    Ok(found.get_str("v")?.to_string())
}

/// The whole life of one instance with one binding, on any server template.
async fn provision_bind_unbind_unprovision(node: &Node<MongoBackend>) {
    let (creds, created) = node.provision("inst-1", "dedicated").await.unwrap();
    assert!(created);
    assert!(creds.password.is_empty(), "provision hands out no secret");
    assert_eq!(creds.name, "db");
    let (again, created) = node.provision("inst-1", "dedicated").await.unwrap();
    assert!(!created);
    assert_eq!(again.port, creds.port);

    let rec = node.registry().instance("inst-1").unwrap().unwrap();
    assert_eq!((rec.admin.as_str(), rec.db.as_str()), ("admin", "db"));
    assert_eq!(rec.adminpass.len(), 32);
    let line = node_core::process::cmdline(rec.pid.unwrap()).unwrap();
    assert!(line.contains(&node.dirs("inst-1").marker()), "{line}");
    assert!(
        !line.contains(&rec.adminpass),
        "admin password on the command line"
    );

    let (b1, created) = node.bind("inst-1", "bind-1").await.unwrap();
    assert!(created);
    assert_eq!(b1.username, "bind-1");
    assert!(b1.uri.starts_with("mongodb://bind-1:"), "{}", b1.uri);
    assert!(
        b1.uri.ends_with(&format!("@127.0.0.1:{}/db", b1.port)),
        "{}",
        b1.uri
    );
    assert_eq!(put_get(&b1, "k", "v1").await.unwrap(), "v1");
    // The same binding again hands out the same credentials.
    let (b1_again, created) = node.bind("inst-1", "bind-1").await.unwrap();
    assert!(!created);
    assert_eq!(b1_again.password, b1.password);

    let handles = node.list_handles().await.unwrap();
    assert_eq!(handles.instances.len(), 1);
    assert_eq!(handles.instances[0].state, InstanceState::Running as i32);
    assert_eq!(handles.bindings.len(), 1, "{:?}", handles.bindings);
    assert_eq!(handles.bindings[0].binding_id, "bind-1");
    assert!(handles.bindings[0].present_on_server && handles.bindings[0].in_registry);
    // The instance's own administrator is never a binding.
    assert!(handles.bindings.iter().all(|b| b.username != "admin"));
    assert_eq!(
        node.backend().list_users(&rec).await.unwrap(),
        vec!["bind-1"]
    );

    node.unbind("inst-1", "bind-1").await.unwrap();
    assert!(
        put_get(&b1, "k", "v2").await.is_err(),
        "unbound user still works"
    );
    assert!(matches!(
        node.unbind("inst-1", "bind-1").await,
        Err(NodeError::NotFound(_))
    ));
    assert!(node.list_handles().await.unwrap().bindings.is_empty());

    let data = node.dirs("inst-1").data;
    let pid = rec.pid.unwrap();
    node.unprovision("inst-1").await.unwrap();
    assert!(!data.exists());
    assert!(
        node_core::process::cmdline(pid).is_none(),
        "server still running"
    );
    assert!(node.registry().instance("inst-1").unwrap().is_none());
    assert!(matches!(
        node.unprovision("inst-1").await,
        Err(NodeError::NotFound(_))
    ));
}

#[tokio::test]
async fn provision_bind_list_unbind_unprovision() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let _guard = StopOnPanic(node.clone());
    provision_bind_unbind_unprovision(&node).await;
}

#[tokio::test]
async fn a_user_created_behind_the_registry_is_listed_and_purgeable() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let _guard = StopOnPanic(node.clone());
    node.provision("inst-2", "dedicated").await.unwrap();
    let rec = node.registry().instance("inst-2").unwrap().unwrap();
    // Someone adds a user directly on the server.
    node.backend()
        .create_user(&rec, "stray", "pw-stray")
        .await
        .unwrap();
    let handles = node.list_handles().await.unwrap();
    let stray: Vec<_> = handles
        .bindings
        .iter()
        .filter(|b| b.binding_id == "stray")
        .collect();
    assert_eq!(stray.len(), 1);
    assert!(stray[0].present_on_server && !stray[0].in_registry);
    assert_eq!(
        handles.bindings.len(),
        1,
        "only the stray user: {:?}",
        handles.bindings
    );

    let results = node
        .purge(
            &[],
            &[proto::BindingRef {
                instance_id: "inst-2".into(),
                binding_id: "stray".into(),
            }],
            0,
        )
        .await;
    assert_eq!(
        results[0].outcome,
        PurgeOutcome::Purged as i32,
        "{:?}",
        results[0].reason
    );
    assert!(node.backend().list_users(&rec).await.unwrap().is_empty());
    // The administrator still works: the purge did not touch it.
    node.backend().probe(&rec).await.unwrap();
    node.unprovision("inst-2").await.unwrap();
}

#[tokio::test]
async fn users_are_reset_deleted_once_and_the_administrator_is_protected() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let _guard = StopOnPanic(node.clone());
    node.provision("inst-8", "dedicated").await.unwrap();
    let rec = node.registry().instance("inst-8").unwrap().unwrap();
    let b = node.backend();
    let host = &node.config().bind_host;

    b.create_user(&rec, "u", "first-password").await.unwrap();
    let first = b.credentials(&rec, host, "u", "first-password");
    assert_eq!(put_get(&first, "x", "1").await.unwrap(), "1");
    // Creating an existing user resets its password.
    b.create_user(&rec, "u", "second-password").await.unwrap();
    assert!(get(&first, "x").await.is_err(), "old password still works");
    let second = b.credentials(&rec, host, "u", "second-password");
    assert_eq!(get(&second, "x").await.unwrap(), "1");
    assert_eq!(b.list_users(&rec).await.unwrap(), vec!["u"]);

    assert!(b.delete_user(&rec, "u").await.unwrap());
    assert!(!b.delete_user(&rec, "u").await.unwrap());
    let err = b.delete_user(&rec, "admin").await.unwrap_err();
    assert!(err.to_string().contains("administrator"), "{err}");
    assert!(b.create_user(&rec, "admin", "x").await.is_err());
    b.probe(&rec).await.unwrap();

    // A wrong administrator password: refused, and the error shows no secret.
    let mut wrong = rec.clone();
    wrong.adminpass = "not-the-admin-password".into();
    let err = b.probe(&wrong).await.unwrap_err().to_string();
    assert!(err.contains("administrator login"), "{err}");
    assert!(!err.contains("not-the-admin-password"), "{err}");
    node.unprovision("inst-8").await.unwrap();
}

#[tokio::test]
async fn purge_reports_per_item_and_removes_process_dir_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let _guard = StopOnPanic(node.clone());
    node.provision("keep", "dedicated").await.unwrap();
    node.provision("gone", "dedicated").await.unwrap();
    let (kb, _) = node.bind("keep", "kb").await.unwrap();
    node.bind("gone", "gb").await.unwrap();
    let dirs = node.dirs("gone");
    let gone_pid = node
        .registry()
        .instance("gone")
        .unwrap()
        .unwrap()
        .pid
        .unwrap();
    assert!(dirs.log.exists());

    let results = node
        .purge(
            &["gone".to_string(), "nope".to_string()],
            &[proto::BindingRef {
                instance_id: "keep".into(),
                binding_id: "missing".into(),
            }],
            0,
        )
        .await;
    let outcomes: Vec<_> = results
        .iter()
        .map(|r| (r.instance_id.as_str(), r.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("keep", PurgeOutcome::NotFound as i32),
            ("gone", PurgeOutcome::Purged as i32),
            ("nope", PurgeOutcome::NotFound as i32),
        ]
    );
    assert!(!dirs.data.exists() && !dirs.log.exists());
    assert!(
        node_core::process::cmdline(gone_pid).is_none(),
        "purged server still running"
    );
    assert!(node.registry().binding("gb").unwrap().is_none());
    assert_eq!(put_get(&kb, "still", "here").await.unwrap(), "here");
    node.unprovision("keep").await.unwrap();
}

#[tokio::test]
async fn restart_brings_back_instances_with_their_data_and_bindings() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("mongodb_node_r", dir.path());
    let node = open_with(cfg.clone());
    let guard = StopOnPanic(node.clone());
    node.provision("inst-3", "dedicated").await.unwrap();
    let (b, _) = node.bind("inst-3", "b3").await.unwrap();
    put_get(&b, "durable", "yes").await.unwrap();
    node.stop_all().await;
    let handles = node.list_handles().await.unwrap();
    assert_eq!(handles.instances[0].state, InstanceState::Stopped as i32);
    // A binding on a stopped instance is reported, but not as seen on the server.
    assert!(!handles.bindings[0].present_on_server);
    drop(guard);
    drop(node);

    // A new node process over the same registry restarts the instance.
    let node = open_with(cfg);
    let _guard = StopOnPanic(node.clone());
    node.start_all().await;
    let rec = node.registry().instance("inst-3").unwrap().unwrap();
    assert!(node.is_running(&rec));
    assert_eq!(get(&b, "durable").await.unwrap(), "yes");
    let handles = node.list_handles().await.unwrap();
    assert_eq!(handles.bindings.len(), 1, "{:?}", handles.bindings);
    assert!(handles.bindings[0].present_on_server && handles.bindings[0].in_registry);
    node.unprovision("inst-3").await.unwrap();
}

#[tokio::test]
async fn a_stale_pid_is_never_signalled_and_the_instance_is_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("mongodb_node_s", dir.path());
    let node = open_with(cfg.clone());
    let guard = StopOnPanic(node.clone());
    node.provision("inst-4", "dedicated").await.unwrap();
    node.stop_all().await;
    // The recorded pid now belongs to an unrelated process.
    let mut stranger = tokio::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let stranger_pid = stranger.id().unwrap();
    node.registry()
        .set_pid("inst-4", Some(stranger_pid))
        .unwrap();
    drop(guard);
    drop(node);

    let node = open_with(cfg);
    let _guard = StopOnPanic(node.clone());
    node.start_all().await;
    let rec = node.registry().instance("inst-4").unwrap().unwrap();
    assert_ne!(rec.pid, Some(stranger_pid));
    assert!(node.is_running(&rec));
    node.backend().probe(&rec).await.unwrap();
    node.unprovision("inst-4").await.unwrap();
    assert!(
        stranger.try_wait().unwrap().is_none(),
        "unrelated process was signalled"
    );
    stranger.kill().await.unwrap();
}

#[tokio::test]
async fn a_taken_port_is_skipped_and_a_failed_start_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("mongodb_node_p", dir.path());
    let first = cfg.port_range.first;
    let _squatter = std::net::TcpListener::bind(("127.0.0.1", first)).unwrap();
    let node = open_with(cfg.clone());
    let _guard = StopOnPanic(node.clone());
    let (creds, _) = node.provision("inst-5", "dedicated").await.unwrap();
    assert_ne!(creds.port as u16, first);
    node.unprovision("inst-5").await.unwrap();

    // A server binary that cannot start: a clear error, no row, no files.
    let mut bad = cfg;
    bad.base_dir = dir.path().join("bad");
    bad.ready_timeout = 3;
    bad.server.binary = Some("false".into());
    let node = open_with(bad);
    let err = node.provision("inst-6", "dedicated").await.unwrap_err();
    assert!(err.to_string().contains("exited during start"), "{err}");
    assert!(node.registry().instance("inst-6").unwrap().is_none());
    assert!(!node.dirs("inst-6").data.exists());
    assert!(!node.dirs("inst-6").log.exists());
}

#[tokio::test]
async fn an_untracked_server_is_listed_and_purged() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    let _guard = StopOnPanic(node.clone());
    node.provision("inst-7", "dedicated").await.unwrap();
    let pid = node
        .registry()
        .instance("inst-7")
        .unwrap()
        .unwrap()
        .pid
        .unwrap();
    // The row is lost, the server keeps running.
    node.registry().delete_instance("inst-7").unwrap();
    let handles = node.list_handles().await.unwrap();
    assert_eq!(handles.instances.len(), 1);
    assert_eq!(handles.instances[0].state, InstanceState::Untracked as i32);
    let results = node.purge(&["inst-7".to_string()], &[], 0).await;
    assert_eq!(
        results[0].outcome,
        PurgeOutcome::Purged as i32,
        "{}",
        results[0].reason
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(node_core::process::cmdline(pid).is_none());
    assert!(!node.dirs("inst-7").data.exists());
    assert!(node.list_handles().await.unwrap().instances.is_empty());
}

/// The default template, a real `mongod --auth` with its administrator made
/// through the localhost exception. Skipped when there is no `mongod`.
#[tokio::test]
async fn real_mongod_when_available() {
    if on_path("mongod").is_none() {
        eprintln!("real_mongod_when_available: skipped, no mongod on PATH");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = node_config("mongodb_node_m", dir.path(), ServerConfig::default());
    cfg.ready_timeout = 60;
    let node = open_with(cfg);
    let _guard = StopOnPanic(node.clone());
    node.provision("mongod-1", "dedicated").await.unwrap();
    let (b, _) = node.bind("mongod-1", "mb").await.unwrap();
    assert_eq!(put_get(&b, "k", "v").await.unwrap(), "v");
    // A binding's user cannot administer the server.
    let denied = client(&b)
        .await
        .unwrap()
        .database("admin")
        .run_command(doc! { "createUser": "x", "pwd": "x", "roles": [] })
        .await;
    assert!(denied.is_err(), "binding user created a user in admin");
    node.unprovision("mongod-1").await.unwrap();
    provision_bind_unbind_unprovision(&node).await;
}

#[test]
fn the_example_configs_load_and_match_the_templates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let ferret: node_core::NodeConfig =
        node_core::config::load_yaml(&dir.join("ferretdb-node.example.yml")).unwrap();
    ferret.validate().unwrap();
    let template = ferretdb_server_config("unused");
    assert_eq!(ferret.server.args, template.args);
    assert_eq!(ferret.server.env, template.env);

    let mongod: node_core::NodeConfig =
        node_core::config::load_yaml(&dir.join("mongod-node.example.yml")).unwrap();
    mongod.validate().unwrap();
    assert_eq!(mongod.server.binary.as_deref(), Some("mongod"));
    assert!(
        mongod.server.args.is_none(),
        "the mongod example uses the default args"
    );
}
