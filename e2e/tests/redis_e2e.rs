//! The whole system on real Redis: orphans made the way they arise in
//! production (CC `purge=true`, a CC record lost after the broker
//! succeeded), found by the gateway's double check, purged with
//! `purge-orphan`, while every live instance keeps answering.

use e2e::{ids_in, Cluster, GATEWAY_TOKEN};
use node_core::config::ServerConfig;
use node_redis::RedisBackend;
use reqwest::Method;
use serde_json::{json, Value};

async fn cluster() -> Cluster<RedisBackend> {
    Cluster::start("redis", 2, ServerConfig::default(), |cfg| {
        RedisBackend::new(&cfg.bind_host, cfg.server.clone())
    })
    .await
}

async fn redis_works(creds: &Value) -> bool {
    let Ok(client) = redis::Client::open(creds["uri"].as_str().unwrap()) else {
        return false;
    };
    let Ok(mut con) = client.get_multiplexed_async_connection().await else {
        return false;
    };
    let set: redis::RedisResult<()> = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query_async(&mut con)
        .await;
    set.is_ok()
}

fn guid(v: &Value) -> String {
    v["guid"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_found_and_purged_and_live_instances_survive() {
    let c = cluster().await;

    // Three live instances with bindings, through the CC.
    let mut live = Vec::new();
    for name in ["a", "b", "c"] {
        let (s, v) = c.create_instance(name).await;
        assert_eq!(s, 201, "{v}");
        live.push(guid(&v));
    }
    let mut keys = Vec::new();
    for (i, inst) in live.iter().enumerate() {
        let (s, v) = c.create_binding(inst, &format!("key-{i}")).await;
        assert_eq!(s, 201, "{v}");
        keys.push(guid(&v));
    }
    let (s, extra) = c.create_binding(&live[0], "doomed").await;
    assert_eq!(s, 201);
    let doomed_binding = guid(&extra);
    let doomed_creds = c.credentials(&doomed_binding).await;
    assert!(redis_works(&doomed_creds).await);

    // Orphan 1: the CC purges an instance record without calling the broker.
    let (s, v) = c.create_instance("purged").await;
    assert_eq!(s, 201);
    let purged = guid(&v);
    let (s, v) = c.create_binding(&purged, "purged-key").await;
    assert_eq!(s, 201);
    let purged_creds = c.credentials(&guid(&v)).await;
    let (s, _) = c
        .cc(
            Method::DELETE,
            &format!("/v3/service_instances/{purged}?purge=true"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    // Orphan 2: the CC purges a binding record.
    let (s, _) = c
        .cc(
            Method::DELETE,
            &format!("/v3/service_credential_bindings/{doomed_binding}?purge=true"),
            None,
        )
        .await;
    assert_eq!(s, 204);
    // Orphan 3: the broker succeeds, the CC loses the record.
    c.faults(json!({"skip_save_next_instance": true})).await;
    let (s, _) = c.create_instance("lost").await;
    assert_eq!(s, 500);

    // The check, with its double look.
    let cfg = c.cli_config(GATEWAY_TOKEN);
    let cfg = cfg.to_str().unwrap();
    let (code, out, err) = c.purge_orphan(&["-c", cfg, "-k", "--wait"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let varz = c.varz().await;
    assert_eq!(varz["last_check"]["outcome"], "ok", "{varz}");
    let orphan_instances = ids_in(&varz["orphan_instances"], None);
    assert_eq!(orphan_instances.len(), 2, "{varz}");
    assert!(orphan_instances.contains(&purged));
    let lost = orphan_instances
        .iter()
        .find(|i| **i != purged)
        .unwrap()
        .clone();
    assert!(!live.contains(&lost));
    assert_eq!(
        ids_in(&varz["orphan_bindings"], Some("binding_id")),
        vec![doomed_binding.clone()]
    );
    // Every reachable node has a key, as in the original.
    assert_eq!(varz["orphan_instances"].as_object().unwrap().len(), 2);

    // No secret in varz.
    let text = varz.to_string();
    for secret in [
        e2e::STATUS_PASSWORD,
        e2e::BROKER_PASSWORD,
        e2e::CC_TOKEN,
        GATEWAY_TOKEN,
    ] {
        assert!(!text.contains(secret), "varz leaks a secret");
    }
    assert!(!text.contains(doomed_creds["password"].as_str().unwrap()));

    // Purge from the saved varz.
    let file = c.dir.path().join("varz.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&varz).unwrap()).unwrap();
    let (code, out, err) = c.purge_orphan(&["-c", cfg, file.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("purged 3, not found 0, failed 0, refused 0"),
        "{out}"
    );
    assert!(!out.contains(GATEWAY_TOKEN) && !err.contains(GATEWAY_TOKEN));

    // The orphans are really gone: servers, directories, users.
    assert!(
        !redis_works(&purged_creds).await,
        "purged instance still answers"
    );
    assert!(
        !redis_works(&doomed_creds).await,
        "purged binding still works"
    );
    for n in &c.nodes {
        assert!(!n.node.dirs(&purged).data.exists());
        assert!(!n.node.dirs(&lost).data.exists());
        assert!(n.node.registry().instance(&lost).unwrap().is_none());
    }
    // Every live instance still answers with its credentials.
    for k in &keys {
        assert!(
            redis_works(&c.credentials(k).await).await,
            "live binding {k} broken"
        );
    }

    // A new check finds nothing; the purged items left varz.
    let (code, out, err) = c.purge_orphan(&["-c", cfg, "-k", "--wait"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let varz = c.varz().await;
    assert!(ids_in(&varz["orphan_instances"], None).is_empty(), "{varz}");
    assert!(ids_in(&varz["orphan_bindings"], Some("binding_id")).is_empty());

    // Purging the same file again: everything is already gone.
    let (code, out, _) = c.purge_orphan(&["-c", cfg, file.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("purged 0, not found 3"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_refuses_what_the_cc_knows_and_reports_unknown_ids() {
    let c = cluster().await;
    let (s, v) = c.create_instance("live").await;
    assert_eq!(s, 201);
    let live = guid(&v);
    let (_, v) = c.create_binding(&live, "k").await;
    let key = guid(&v);
    let creds = c.credentials(&key).await;
    let node = c
        .nodes
        .iter()
        .find(|n| n.node.registry().instance(&live).unwrap().is_some())
        .unwrap();

    let file = c.dir.path().join("hand-edited.json");
    std::fs::write(
        &file,
        json!({
            "orphan_instances": {node.id.clone(): [live.clone(), "no-such-instance"]},
            "orphan_bindings": {node.id.clone(): [{"instance_id": live.clone(), "binding_id": key.clone()}]},
        })
        .to_string(),
    )
    .unwrap();
    let cfg = c.cli_config(GATEWAY_TOKEN);
    let (code, out, _) = c
        .purge_orphan(&["-c", cfg.to_str().unwrap(), file.to_str().unwrap()])
        .await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("purged 0, not found 1, failed 0, refused 2"),
        "{out}"
    );
    assert!(redis_works(&creds).await, "a live instance was touched");

    // Wrong token: 401, nothing done, the token not echoed.
    let bad = c.cli_config("not-the-token");
    let (code, out, err) = c
        .purge_orphan(&["-c", bad.to_str().unwrap(), file.to_str().unwrap()])
        .await;
    assert_eq!(code, 1);
    assert!(err.contains("401"), "{err}");
    assert!(!out.contains("not-the-token") && !err.contains("not-the-token"));

    // Wrong basic auth on varz and on the broker: 401, empty body.
    for (url, user, pw) in [
        (format!("{}/varz", c.status_url), "status", "wrong"),
        (format!("{}/v2/catalog", c.gateway_url), "broker", "wrong"),
    ] {
        let r = c
            .http
            .get(url)
            .basic_auth(user, Some(pw))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.text().await.unwrap().is_empty());
    }
    assert!(redis_works(&creds).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_evidence_computes_no_orphans() {
    let c = cluster().await;
    // Three instances in the CC: two pages of two.
    for name in ["a", "b", "c"] {
        assert_eq!(c.create_instance(name).await.0, 201);
    }
    c.faults(json!({"skip_save_next_instance": true})).await;
    assert_eq!(c.create_instance("lost").await.0, 500);
    let cfg = c.cli_config(GATEWAY_TOKEN);
    let cfg = cfg.to_str().unwrap();

    // A later CC page that fails: the check fails, nothing is computed.
    c.faults(json!({"fail_list_page": 2})).await;
    let (code, out, _) = c.purge_orphan(&["-c", cfg, "-k", "--wait"]).await;
    assert_eq!(code, 1, "{out}");
    let varz = c.varz().await;
    assert_eq!(varz["last_check"]["outcome"], "failed", "{varz}");
    assert!(ids_in(&varz["orphan_instances"], None).is_empty());

    // A CC whose count disagrees with what it sent: cut short, failed.
    c.faults(json!({"fail_list_page": null, "understate_total_results": true}))
        .await;
    c.purge_orphan(&["-c", cfg, "-k", "--wait"]).await;
    let varz = c.varz().await;
    assert_eq!(varz["last_check"]["outcome"], "failed", "{varz}");
    assert!(
        varz["last_check"]["message"]
            .as_str()
            .unwrap()
            .contains("cut short"),
        "{varz}"
    );
    c.faults(json!({"understate_total_results": false})).await;

    // A purge while the CC cannot be read deletes nothing.
    let n0 = &c.nodes[0];
    let lost_somewhere: Vec<String> = c
        .nodes
        .iter()
        .flat_map(|n| n.node.registry().instances().unwrap())
        .map(|r| r.id)
        .collect();
    c.faults(json!({"fail_list_page": 1})).await;
    let file = c.dir.path().join("f.json");
    std::fs::write(
        &file,
        json!({"orphan_instances": {n0.id.clone(): lost_somewhere.clone()}}).to_string(),
    )
    .unwrap();
    let (code, _, err) = c.purge_orphan(&["-c", cfg, file.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(err.contains("nothing was purged"), "{err}");
    let after: usize = c
        .nodes
        .iter()
        .map(|n| n.node.registry().instances().unwrap().len())
        .sum();
    assert_eq!(after, 4);
    c.faults(json!({"fail_list_page": null})).await;

    // A node that stops answering: reported unreachable, no verdict for it,
    // never clean and never all orphans. The other node is still judged.
    c.nodes[1].stop_serving();
    let (code, out, _) = c.purge_orphan(&["-c", cfg, "-k", "--wait"]).await;
    assert_eq!(code, 1, "{out}");
    let varz = c.varz().await;
    assert_eq!(varz["last_check"]["outcome"], "partial", "{varz}");
    let down = &c.nodes[1].id;
    assert!(
        varz["last_check"]["unreachable_nodes"][down].is_string(),
        "{varz}"
    );
    assert!(varz["orphan_instances"].get(down).is_none(), "{varz}");
    assert!(
        varz["orphan_instances"].get(&c.nodes[0].id).is_some(),
        "{varz}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_refuse_calls_without_their_token() {
    let c = cluster().await;
    let mut client = proto::NodeClient::connect(c.nodes[0].address.clone())
        .await
        .unwrap();
    let err = client.info(proto::InfoRequest {}).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    let err = client
        .purge(proto::PurgeRequest {
            instance_ids: vec!["x".into()],
            bindings: vec![],
            min_age_secs: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert!(!err.message().contains(node_core::testing::NODE_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_naming_the_wrong_node_fails_and_deletes_nothing() {
    let c = cluster().await;
    c.faults(json!({"skip_save_next_instance": true})).await;
    assert_eq!(c.create_instance("lost").await.0, 500);
    assert_eq!(c.create_instance("live").await.0, 201);
    // Find the lost instance: on a node, unknown to the CC.
    let (_, list) = c.cc(Method::GET, "/v3/service_instances", None).await;
    let known: Vec<String> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(guid)
        .collect();
    let all: Vec<(String, String)> = c
        .nodes
        .iter()
        .flat_map(|n| {
            n.node
                .registry()
                .instances()
                .unwrap()
                .into_iter()
                .map(|r| (n.id.clone(), r.id))
        })
        .collect();
    let (lost_node, lost) = all
        .iter()
        .find(|(_, id)| !known.contains(id))
        .unwrap()
        .clone();
    let wrong = c.nodes.iter().find(|n| n.id != lost_node).unwrap();
    let file = c.dir.path().join("wrong-node.json");
    std::fs::write(
        &file,
        json!({"orphan_instances": {wrong.id.clone(): [lost.clone()]}}).to_string(),
    )
    .unwrap();
    let cfg = c.cli_config(GATEWAY_TOKEN);
    let (code, out, _) = c
        .purge_orphan(&["-c", cfg.to_str().unwrap(), file.to_str().unwrap()])
        .await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("is on node {lost_node}")), "{out}");
    let n = c.nodes.iter().find(|n| n.id == lost_node).unwrap();
    assert!(
        n.node.registry().instance(&lost).unwrap().is_some(),
        "deleted anyway"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_announce_on_nats_and_discovery_leaks_no_credentials() {
    use futures::StreamExt;
    let nats = e2e::NatsServer::start();
    let options = e2e::Options {
        nats: Some(nats.url.clone()),
        ..Default::default()
    };
    let c = Cluster::start_with(
        "redis",
        2,
        ServerConfig::default(),
        |cfg| RedisBackend::new(&cfg.bind_host, cfg.server.clone()),
        options,
    )
    .await;
    let client = async_nats::connect(&nats.url).await.unwrap();

    // Both configured nodes are heard.
    let mut announced = false;
    for _ in 0..100 {
        let varz = c.varz().await;
        if c.nodes
            .iter()
            .all(|n| varz["nodes"][&n.id]["announced_at"].is_i64())
        {
            announced = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(announced, "{}", c.varz().await);

    // A stranger's announcement is shown, never used.
    let rogue = json!({"id": "rogue_node", "service": "redis", "address": "http://127.0.0.1:1",
                       "plans": ["dedicated"], "capacity": 99, "available_capacity": 99});
    client
        .publish("redis.announce", rogue.to_string().into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let mut shown = false;
    for _ in 0..50 {
        let varz = c.varz().await;
        if varz["unknown_nodes"]["rogue_node"].is_string() {
            assert!(varz["nodes"].get("rogue_node").is_none());
            shown = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(shown);
    let (s, _) = c.create_instance("placed").await;
    assert_eq!(s, 201, "the rogue node must not be chosen");

    // Component discovery answers without the status credentials.
    let inbox = client.new_inbox();
    let mut replies = client.subscribe(inbox.clone()).await.unwrap();
    client
        .publish_with_reply("vcap.component.discover", inbox, "".into())
        .await
        .unwrap();
    let reply = tokio::time::timeout(std::time::Duration::from_secs(5), replies.next())
        .await
        .unwrap()
        .unwrap();
    let v: Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(v["type"], "redis-Provisioner");
    assert!(v.get("credentials").is_none());
    assert!(!reply
        .payload
        .windows(e2e::STATUS_PASSWORD.len())
        .any(|w| w == e2e::STATUS_PASSWORD.as_bytes()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_checks_find_orphans_without_being_asked() {
    let options = e2e::Options {
        check_orphan_interval: Some(1),
        ..Default::default()
    };
    let c = Cluster::start_with(
        "redis",
        1,
        ServerConfig::default(),
        |cfg| RedisBackend::new(&cfg.bind_host, cfg.server.clone()),
        options,
    )
    .await;
    assert_eq!(c.create_instance("live").await.0, 201);
    c.faults(json!({"skip_save_next_instance": true})).await;
    assert_eq!(c.create_instance("lost").await.0, 500);
    // Nobody calls check_orphan: the gateway checks every second.
    let mut found = Vec::new();
    for _ in 0..100 {
        let varz = c.varz().await;
        if varz["last_check"]["outcome"] == "ok" {
            found = ids_in(&varz["orphan_instances"], None);
            if !found.is_empty() {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(found.len(), 1, "{}", c.varz().await);
}
