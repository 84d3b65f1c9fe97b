//! The Redis node against real `redis-server` processes.

use std::sync::Arc;
use std::time::Duration;

use node_core::config::ServerConfig;
use node_core::testing::node_config;
use node_core::{Node, NodeError};
use node_redis::RedisBackend;
use proto::{InstanceState, PurgeOutcome};

fn open(base: &std::path::Path) -> Arc<Node<RedisBackend>> {
    let cfg = node_config("redis_node_t", base, ServerConfig::default());
    open_with(cfg)
}

fn open_with(cfg: node_core::NodeConfig) -> Arc<Node<RedisBackend>> {
    let backend = RedisBackend::new(&cfg.bind_host, cfg.server.clone());
    Arc::new(Node::open(cfg, backend).unwrap())
}

async fn client(
    creds: &proto::Credentials,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis::Client::open(creds.uri.as_str())?
        .get_multiplexed_async_connection()
        .await
}

async fn set_get(creds: &proto::Credentials, key: &str, value: &str) -> redis::RedisResult<String> {
    let mut con = client(creds).await?;
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query_async(&mut con)
        .await?;
    redis::cmd("GET").arg(key).query_async(&mut con).await
}

#[tokio::test]
async fn provision_bind_list_unbind_unprovision() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());

    let (creds, created) = node.provision("inst-1", "dedicated").await.unwrap();
    assert!(created);
    assert!(creds.password.is_empty(), "provision hands out no secret");
    let (again, created) = node.provision("inst-1", "dedicated").await.unwrap();
    assert!(!created);
    assert_eq!(again.port, creds.port);

    let (b1, created) = node.bind("inst-1", "bind-1").await.unwrap();
    assert!(created);
    assert_eq!(set_get(&b1, "k", "v1").await.unwrap(), "v1");
    // The binding user cannot administer the instance.
    let mut con = client(&b1).await.unwrap();
    let denied: redis::RedisResult<()> = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("x")
        .query_async(&mut con)
        .await;
    assert!(denied.is_err());

    let handles = node.list_handles().await.unwrap();
    assert_eq!(handles.instances.len(), 1);
    assert_eq!(handles.instances[0].state, InstanceState::Running as i32);
    assert_eq!(handles.bindings.len(), 1);
    assert!(handles.bindings[0].present_on_server && handles.bindings[0].in_registry);

    node.unbind("inst-1", "bind-1").await.unwrap();
    assert!(
        set_get(&b1, "k", "v2").await.is_err(),
        "unbound user still works"
    );
    assert!(matches!(
        node.unbind("inst-1", "bind-1").await,
        Err(NodeError::NotFound(_))
    ));

    let data = node.dirs("inst-1").data;
    let pid = node
        .registry()
        .instance("inst-1")
        .unwrap()
        .unwrap()
        .pid
        .unwrap();
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
async fn a_user_created_behind_the_registry_is_listed_and_purgeable() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    node.provision("inst-2", "dedicated").await.unwrap();
    let rec = node.registry().instance("inst-2").unwrap().unwrap();
    // Someone adds a user directly on the server.
    use node_core::Backend;
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
    node.unprovision("inst-2").await.unwrap();
}

#[tokio::test]
async fn purge_reports_per_item_and_removes_process_dir_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    node.provision("keep", "dedicated").await.unwrap();
    node.provision("gone", "dedicated").await.unwrap();
    let (kb, _) = node.bind("keep", "kb").await.unwrap();
    node.bind("gone", "gb").await.unwrap();
    let dirs = node.dirs("gone");
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
    assert_eq!(set_get(&kb, "still", "here").await.unwrap(), "here");
    node.unprovision("keep").await.unwrap();
}

#[tokio::test]
async fn restart_brings_back_instances_with_their_data_and_bindings() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config("redis_node_r", dir.path(), ServerConfig::default());
    let node = open_with(cfg.clone());
    node.provision("inst-3", "dedicated").await.unwrap();
    let (b, _) = node.bind("inst-3", "b3").await.unwrap();
    set_get(&b, "durable", "yes").await.unwrap();
    node.stop_all().await;
    let handles = node.list_handles().await.unwrap();
    assert_eq!(handles.instances[0].state, InstanceState::Stopped as i32);
    // A binding on a stopped instance is reported, but not as seen on the server.
    assert!(!handles.bindings[0].present_on_server);
    drop(node);

    // A new node process over the same registry restarts the instance.
    let node = open_with(cfg);
    node.start_all().await;
    let mut con = client(&b).await.unwrap();
    let v: String = redis::cmd("GET")
        .arg("durable")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(v, "yes");
    node.unprovision("inst-3").await.unwrap();
}

#[tokio::test]
async fn a_stale_pid_is_never_signalled_and_the_instance_is_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config("redis_node_s", dir.path(), ServerConfig::default());
    let node = open_with(cfg.clone());
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
    drop(node);

    let node = open_with(cfg);
    node.start_all().await;
    let rec = node.registry().instance("inst-4").unwrap().unwrap();
    assert_ne!(rec.pid, Some(stranger_pid));
    assert!(node.is_running(&rec));
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
    let cfg = node_config("redis_node_p", dir.path(), ServerConfig::default());
    let first = cfg.port_range.first;
    let _squatter = std::net::TcpListener::bind(("127.0.0.1", first)).unwrap();
    let node = open_with(cfg.clone());
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
}

#[tokio::test]
async fn an_untracked_server_is_listed_and_purged() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
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

#[tokio::test]
async fn purge_leaves_objects_younger_than_the_minimum_age() {
    let dir = tempfile::tempdir().unwrap();
    let node = open(dir.path());
    node.provision("young", "dedicated").await.unwrap();
    node.bind("young", "young-b").await.unwrap();
    let binding = proto::BindingRef {
        instance_id: "young".into(),
        binding_id: "young-b".into(),
    };
    let results = node.purge(&["young".to_string()], &[binding], 3600).await;
    for r in &results {
        assert_eq!(r.outcome, PurgeOutcome::Failed as i32, "{r:?}");
        assert!(r.reason.contains("younger"), "{}", r.reason);
    }
    assert!(node.registry().instance("young").unwrap().is_some());
    assert!(node.registry().binding("young-b").unwrap().is_some());
    // Provision and purge racing on one id: the purge waits for the
    // provision, then sees a fresh instance and leaves it alone.
    let n2 = node.clone();
    let provision = tokio::spawn(async move { n2.provision("racing", "dedicated").await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let results = node.purge(&["racing".to_string()], &[], 3600).await;
    provision.await.unwrap().unwrap();
    assert_ne!(
        results[0].outcome,
        PurgeOutcome::Purged as i32,
        "{:?}",
        results[0]
    );
    assert!(node.registry().instance("racing").unwrap().is_some());
    node.unprovision("young").await.unwrap();
    node.unprovision("racing").await.unwrap();
}
