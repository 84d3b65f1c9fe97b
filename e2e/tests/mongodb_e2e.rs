//! The whole system on MongoDB-wire servers (FerretDB processes, started by
//! real nodes): orphans made the real way, found, purged; live instances
//! keep accepting their credentials.

use e2e::{ids_in, Cluster, GATEWAY_TOKEN};
use mongodb::bson::doc;
use node_mongodb::{ferretdb_server_config, testing::ferretdb_bin, MongoBackend};
use reqwest::Method;
use serde_json::{json, Value};

fn creds(v: &Value) -> proto::Credentials {
    proto::Credentials {
        host: v["host"].as_str().unwrap().into(),
        port: v["port"].as_u64().unwrap() as u32,
        username: v["username"].as_str().unwrap().into(),
        password: v["password"].as_str().unwrap().into(),
        name: v["name"].as_str().unwrap().into(),
        uri: v["uri"].as_str().unwrap().into(),
    }
}

/// Logs in with a binding's credentials and writes a document.
async fn mongo_works(v: &Value) -> bool {
    let c = creds(v);
    let Ok(client) = node_mongodb::connect(&c).await else {
        return false;
    };
    client
        .database(&c.name)
        .collection::<mongodb::bson::Document>("e2e")
        .insert_one(doc! {"ok": true})
        .await
        .is_ok()
}

fn guid(v: &Value) -> String {
    v["guid"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_orphans_are_found_and_purged_and_live_instances_survive() {
    let server = ferretdb_server_config(&ferretdb_bin());
    let c = Cluster::start("mongodb", 2, server, |cfg| {
        MongoBackend::new(&cfg.bind_host, cfg.server.clone())
    })
    .await;

    let mut live = Vec::new();
    let mut keys = Vec::new();
    for name in ["a", "b"] {
        let (s, v) = c.create_instance(name).await;
        assert_eq!(s, 201, "{v}");
        let inst = guid(&v);
        let (s, v) = c.create_binding(&inst, "key").await;
        assert_eq!(s, 201, "{v}");
        keys.push(guid(&v));
        live.push(inst);
    }
    let (_, v) = c.create_binding(&live[0], "doomed").await;
    let doomed = guid(&v);
    let doomed_creds = c.credentials(&doomed).await;
    assert!(mongo_works(&doomed_creds).await);
    let (_, v) = c.create_instance("purged").await;
    let purged = guid(&v);

    assert_eq!(
        c.cc(
            Method::DELETE,
            &format!("/v3/service_instances/{purged}?purge=true"),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        c.cc(
            Method::DELETE,
            &format!("/v3/service_credential_bindings/{doomed}?purge=true"),
            None
        )
        .await
        .0,
        204
    );
    c.faults(json!({"skip_save_next_instance": true})).await;
    assert_eq!(c.create_instance("lost").await.0, 500);

    let cfg = c.cli_config(GATEWAY_TOKEN);
    let cfg = cfg.to_str().unwrap();
    let (code, out, err) = c.purge_orphan(&["-c", cfg, "-k", "--wait"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let varz = c.varz().await;
    let orphans = ids_in(&varz["orphan_instances"], None);
    assert_eq!(orphans.len(), 2, "{varz}");
    assert!(orphans.contains(&purged));
    assert_eq!(
        ids_in(&varz["orphan_bindings"], Some("binding_id")),
        vec![doomed.clone()]
    );
    // The instances' own administrators are never orphan bindings.
    assert!(!varz["orphan_bindings"].to_string().contains("\"admin\""));

    let file = c.dir.path().join("varz.json");
    std::fs::write(&file, varz.to_string()).unwrap();
    let (code, out, err) = c.purge_orphan(&["-c", cfg, file.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("purged 3, not found 0, failed 0, refused 0"),
        "{out}"
    );

    assert!(
        !mongo_works(&doomed_creds).await,
        "purged binding still logs in"
    );
    for n in &c.nodes {
        for id in &orphans {
            assert!(!n.node.dirs(id).data.exists());
            assert!(n.node.lookup(id).map(|l| !l.exists).unwrap());
        }
    }
    for k in &keys {
        assert!(
            mongo_works(&c.credentials(k).await).await,
            "live binding {k} broken"
        );
    }
}
