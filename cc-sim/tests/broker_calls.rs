//! What cc-sim asks of service brokers: the OSB v2 calls, with the right
//! paths, auth, headers and bodies, made against a `recording_broker`; and
//! what it saves when a broker succeeds, fails, is purged around, or when a
//! fault switch loses the record.

mod recording_broker;
mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};

use recording_broker::{
    credentials_for, expected_authorization, Call, RecordingBroker, PASSWORD, PLAN_ID, SERVICE_ID,
};
use support::{assert_cf_error, broker_config, start, start_with_broker, CcSim};

fn guid_of(resource: &Value) -> String {
    resource["guid"].as_str().unwrap().to_string()
}

fn assert_osb_headers(call: &Call) {
    assert_eq!(
        call.authorization.as_deref(),
        Some(expected_authorization().as_str()),
        "{call:?}"
    );
    assert_eq!(call.api_version.as_deref(), Some("2.17"), "{call:?}");
}

async fn total(sim: &CcSim, path: &str) -> u64 {
    let (status, body) = sim.get(path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["pagination"]["total_results"].as_u64().unwrap()
}

#[tokio::test]
async fn create_instance_provisions_through_the_broker() {
    let (sim, broker) = start_with_broker().await;
    assert!(
        broker.calls().is_empty(),
        "the catalog is fetched lazily, not at start"
    );

    let created = sim.create_instance("my-redis", PLAN_ID).await;
    let guid = guid_of(&created);
    assert_eq!(uuid::Uuid::parse_str(&guid).unwrap().get_version_num(), 4);
    assert_eq!(created["name"], "my-redis");
    assert_eq!(created["type"], "managed");
    assert_eq!(
        created["relationships"],
        json!({"service_plan": {"data": {"guid": PLAN_ID}}})
    );
    assert_eq!(
        created["links"]["self"]["href"],
        format!("{}/v3/service_instances/{guid}", sim.url)
    );
    let created_at = created["created_at"].as_str().unwrap();
    assert_eq!(created_at.len(), "2026-12-03T16:42:27Z".len());
    assert!(
        created_at.ends_with('Z') && created_at.as_bytes()[10] == b'T',
        "{created_at}"
    );
    assert_eq!(created["updated_at"], created["created_at"]);

    let calls = broker.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].is_catalog());
    assert_osb_headers(&calls[0]);
    let provision = &calls[1];
    assert_eq!(provision.method, "PUT");
    assert_eq!(provision.path, format!("/v2/service_instances/{guid}"));
    assert_osb_headers(provision);
    assert_eq!(
        provision.body,
        Some(json!({
            "service_id": SERVICE_ID,
            "plan_id": PLAN_ID,
            "organization_guid": "cc-sim-org",
            "space_guid": "cc-sim-space",
            "context": {"platform": "cloudfoundry"},
        }))
    );

    let (status, shown) = sim.get(&format!("/v3/service_instances/{guid}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, created);

    sim.create_instance("second", PLAN_ID).await;
    assert_eq!(
        broker.catalog_fetches(),
        1,
        "a known plan needs no new catalog"
    );
    assert_eq!(total(&sim, "/v3/service_instances").await, 2);
}

#[tokio::test]
async fn service_plans_come_from_every_brokers_catalog() {
    let redis = RecordingBroker::start().await;
    let other_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = RecordingBroker::start_with_plans(other_listener, &["plan-a", "plan-b"]);
    let sim = start(vec![
        broker_config("redis", &redis.url),
        broker_config("other", &other.url),
    ])
    .await;

    let (resources, pages) = sim.walk("/v3/service_plans?per_page=2").await;
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0]["total_results"], 3);
    let summary: Vec<(String, String)> = resources
        .iter()
        .map(|r| {
            (
                r["guid"].as_str().unwrap().to_string(),
                r["broker_name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("plan-small".into(), "redis".into()),
            ("plan-a".into(), "other".into()),
            ("plan-b".into(), "other".into())
        ]
    );
    assert_eq!(resources[0]["name"], "name-plan-small");
    assert_eq!(
        resources[0]["relationships"]["service_offering"]["data"]["guid"],
        SERVICE_ID
    );

    // A plan of the second broker provisions there, not at the first.
    let created = sim.create_instance("on-other", "plan-b").await;
    assert!(redis.service_calls().is_empty());
    assert_eq!(
        other.service_calls()[0].path,
        format!("/v2/service_instances/{}", guid_of(&created))
    );
}

#[tokio::test]
async fn an_unknown_plan_refetches_the_catalogs() {
    let (sim, broker) = start_with_broker().await;
    sim.create_instance("first", PLAN_ID).await;
    assert_eq!(broker.catalog_fetches(), 1);

    broker.add_plan("plan-new");
    let created = sim.create_instance("newer", "plan-new").await;
    assert_eq!(broker.catalog_fetches(), 2);
    assert_eq!(
        created["relationships"]["service_plan"]["data"]["guid"],
        "plan-new"
    );
    assert_eq!(
        broker
            .service_calls()
            .last()
            .unwrap()
            .body
            .as_ref()
            .unwrap()["plan_id"],
        "plan-new"
    );

    assert_cf_error(
        sim.post(
            "/v3/service_instances",
            support::instance_body("x", "plan-none"),
        )
        .await,
        422,
        10008,
        "CF-UnprocessableEntity",
    );
    assert_eq!(broker.catalog_fetches(), 3);
}

#[tokio::test]
async fn a_broker_that_starts_later_is_found_when_it_answers() {
    // Reserve a free port, then free it: nothing listens there yet.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let sim = start(vec![broker_config("redis", &url)]).await;

    let detail = assert_cf_error(
        sim.post(
            "/v3/service_instances",
            support::instance_body("early", PLAN_ID),
        )
        .await,
        502,
        10001,
        "CF-ServiceBrokerRequestRejected",
    );
    assert!(
        detail.starts_with("broker redis: GET /v2/catalog: request failed"),
        "{detail}"
    );
    assert!(!detail.contains(PASSWORD), "{detail}");
    assert_cf_error(
        sim.get("/v3/service_plans").await,
        502,
        10001,
        "CF-ServiceBrokerRequestRejected",
    );
    assert_eq!(total(&sim, "/v3/service_instances").await, 0);

    let broker = RecordingBroker::start_on(
        tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap(),
    );
    sim.create_instance("later", PLAN_ID).await;
    assert_eq!(broker.service_calls().len(), 1);
    assert_eq!(total(&sim, "/v3/service_plans").await, 1);
}

#[tokio::test]
async fn a_failing_provision_saves_nothing() {
    let (sim, broker) = start_with_broker().await;
    broker.reply_with(Some(500));
    let detail = assert_cf_error(
        sim.post(
            "/v3/service_instances",
            support::instance_body("doomed", PLAN_ID),
        )
        .await,
        502,
        10001,
        "CF-ServiceBrokerRequestRejected",
    );
    assert!(
        detail.starts_with("broker redis: PUT /v2/service_instances/"),
        "{detail}"
    );
    assert!(detail.contains("HTTP 500"), "{detail}");
    assert!(!detail.contains(PASSWORD), "{detail}");
    assert_eq!(broker.service_calls().len(), 1, "the broker was asked");
    assert_eq!(
        total(&sim, "/v3/service_instances").await,
        0,
        "and nothing was saved"
    );

    // 202 is not success either: cc-sim does not ask for async operations.
    broker.reply_with(Some(202));
    assert_cf_error(
        sim.post(
            "/v3/service_instances",
            support::instance_body("doomed", PLAN_ID),
        )
        .await,
        502,
        10001,
        "CF-ServiceBrokerRequestRejected",
    );
    assert_eq!(total(&sim, "/v3/service_instances").await, 0);
}

#[tokio::test]
async fn wrong_broker_credentials_are_a_broker_failure() {
    let broker = RecordingBroker::start().await;
    let mut config = broker_config("redis", &broker.url);
    config.password = "not-the-password".into();
    let sim = start(vec![config]).await;
    let detail = assert_cf_error(
        sim.post(
            "/v3/service_instances",
            support::instance_body("x", PLAN_ID),
        )
        .await,
        502,
        10001,
        "CF-ServiceBrokerRequestRejected",
    );
    assert!(detail.contains("HTTP 401"), "{detail}");
    assert!(!detail.contains("not-the-password"), "{detail}");
}

#[tokio::test]
async fn bindings_bind_through_the_broker_and_keep_credentials_for_details() {
    let (sim, broker) = start_with_broker().await;
    let iid = guid_of(&sim.create_instance("db", PLAN_ID).await);

    let app_binding = sim.create_binding(&iid, Some("app-guid-1")).await;
    let bid = guid_of(&app_binding);
    assert_eq!(app_binding["type"], "app");
    assert_eq!(app_binding["name"], "my-binding");
    assert_eq!(
        app_binding["relationships"]["service_instance"]["data"]["guid"],
        iid.as_str()
    );
    assert_eq!(
        app_binding["relationships"]["app"]["data"]["guid"],
        "app-guid-1"
    );
    let self_href = format!("{}/v3/service_credential_bindings/{bid}", sim.url);
    assert_eq!(app_binding["links"]["self"]["href"], self_href.as_str());
    assert_eq!(
        app_binding["links"]["details"]["href"],
        format!("{self_href}/details")
    );

    let bind = broker.service_calls().last().unwrap().clone();
    assert_eq!(bind.method, "PUT");
    assert_eq!(
        bind.path,
        format!("/v2/service_instances/{iid}/service_bindings/{bid}")
    );
    assert_osb_headers(&bind);
    assert_eq!(
        bind.body,
        Some(
            json!({"service_id": SERVICE_ID, "plan_id": PLAN_ID, "bind_resource": {"app_guid": "app-guid-1"}})
        )
    );

    let key = sim.create_binding(&iid, None).await;
    let kid = guid_of(&key);
    assert_eq!(key["type"], "key");
    assert_eq!(key["name"], "my-key");
    assert!(key["relationships"].get("app").is_none(), "{key}");
    let bind = broker.service_calls().last().unwrap().clone();
    assert_eq!(
        bind.path,
        format!("/v2/service_instances/{iid}/service_bindings/{kid}")
    );
    assert_eq!(
        bind.body,
        Some(json!({"service_id": SERVICE_ID, "plan_id": PLAN_ID, "bind_resource": {}}))
    );

    // Credentials appear only under /details.
    let (_, shown) = sim
        .get(&format!("/v3/service_credential_bindings/{bid}"))
        .await;
    assert_eq!(shown, app_binding);
    let (_, list) = sim.get("/v3/service_credential_bindings").await;
    for reply in [&app_binding, &key, &shown, &list] {
        assert!(
            !reply.to_string().contains("cred-pw-"),
            "credentials leaked: {reply}"
        );
    }
    for guid in [&bid, &kid] {
        let (status, details) = sim
            .get(&format!("/v3/service_credential_bindings/{guid}/details"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(details, json!({"credentials": credentials_for(guid)}));
    }
}

#[tokio::test]
async fn a_failing_bind_saves_nothing() {
    let (sim, broker) = start_with_broker().await;
    let iid = guid_of(&sim.create_instance("db", PLAN_ID).await);
    broker.reply_with(Some(409));
    let detail = assert_cf_error(
        sim.post(
            "/v3/service_credential_bindings",
            support::binding_body(&iid, Some("app")),
        )
        .await,
        502,
        10001,
        "CF-ServiceBrokerRequestRejected",
    );
    assert!(
        detail.contains("/service_bindings/") && detail.contains("HTTP 409"),
        "{detail}"
    );
    assert_eq!(
        broker.service_calls().len(),
        2,
        "provision, then the failed bind"
    );
    assert_eq!(total(&sim, "/v3/service_credential_bindings").await, 0);
}

#[tokio::test]
async fn deleting_an_instance_unbinds_then_deprovisions() {
    let (sim, broker) = start_with_broker().await;
    let iid = guid_of(&sim.create_instance("db", PLAN_ID).await);
    let other = guid_of(&sim.create_instance("other", PLAN_ID).await);
    let b1 = guid_of(&sim.create_binding(&iid, Some("app-1")).await);
    let b2 = guid_of(&sim.create_binding(&iid, None).await);
    let kept = guid_of(&sim.create_binding(&other, None).await);
    let before = broker.service_calls().len();

    let (status, body) = sim.delete(&format!("/v3/service_instances/{iid}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(body.is_null(), "204 has no body");

    let calls = &broker.service_calls()[before..];
    assert_eq!(calls.len(), 3, "{calls:?}");
    let ids = Some(format!("service_id={SERVICE_ID}&plan_id={PLAN_ID}"));
    let mut unbound: Vec<String> = calls[..2]
        .iter()
        .map(|c| {
            assert_eq!(c.method, "DELETE");
            assert_eq!(c.query, ids);
            assert_osb_headers(c);
            c.path.clone()
        })
        .collect();
    unbound.sort();
    let mut expected = vec![
        format!("/v2/service_instances/{iid}/service_bindings/{b1}"),
        format!("/v2/service_instances/{iid}/service_bindings/{b2}"),
    ];
    expected.sort();
    assert_eq!(unbound, expected);
    assert_eq!(
        (calls[2].method.as_str(), calls[2].path.clone()),
        ("DELETE", format!("/v2/service_instances/{iid}"))
    );
    assert_eq!(calls[2].query, ids);
    assert_osb_headers(&calls[2]);

    assert_eq!(
        sim.get(&format!("/v3/service_instances/{iid}")).await.0,
        StatusCode::NOT_FOUND
    );
    for b in [&b1, &b2] {
        assert_eq!(
            sim.get(&format!("/v3/service_credential_bindings/{b}"))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        sim.get(&format!("/v3/service_credential_bindings/{kept}"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(total(&sim, "/v3/service_instances").await, 1);
}

#[tokio::test]
async fn a_failing_unbind_or_deprovision_deletes_nothing_more() {
    let (sim, broker) = start_with_broker().await;
    let iid = guid_of(&sim.create_instance("db", PLAN_ID).await);
    let bid = guid_of(&sim.create_binding(&iid, None).await);

    broker.reply_with(Some(500));
    let detail = assert_cf_error(
        sim.delete(&format!("/v3/service_instances/{iid}")).await,
        502,
        10001,
        "CF-ServiceBrokerRequestRejected",
    );
    assert!(
        detail.contains(&format!(
            "DELETE /v2/service_instances/{iid}/service_bindings/{bid}"
        )),
        "{detail}"
    );
    assert_eq!(
        sim.get(&format!("/v3/service_instances/{iid}")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        sim.get(&format!("/v3/service_credential_bindings/{bid}"))
            .await
            .0,
        StatusCode::OK
    );

    assert_cf_error(
        sim.delete(&format!("/v3/service_credential_bindings/{bid}"))
            .await,
        502,
        10001,
        "CF-ServiceBrokerRequestRejected",
    );
    assert_eq!(
        sim.get(&format!("/v3/service_credential_bindings/{bid}"))
            .await
            .0,
        StatusCode::OK
    );

    // Unbinding works again, then deprovisioning fails: the binding is gone
    // (as it is at the broker), the instance stays.
    broker.reply_with(None);
    assert_eq!(
        sim.delete(&format!("/v3/service_credential_bindings/{bid}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    broker.reply_with(Some(503));
    let detail = assert_cf_error(
        sim.delete(&format!("/v3/service_instances/{iid}")).await,
        502,
        10001,
        "CF-ServiceBrokerRequestRejected",
    );
    assert!(
        detail.contains(&format!("DELETE /v2/service_instances/{iid}: HTTP 503")),
        "{detail}"
    );
    assert_eq!(
        sim.get(&format!("/v3/service_instances/{iid}")).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn gone_at_the_broker_counts_as_deleted() {
    let (sim, broker) = start_with_broker().await;
    let iid = guid_of(&sim.create_instance("db", PLAN_ID).await);
    let bid = guid_of(&sim.create_binding(&iid, Some("app")).await);
    broker.reply_with(Some(410));
    assert_eq!(
        sim.delete(&format!("/v3/service_credential_bindings/{bid}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        sim.delete(&format!("/v3/service_instances/{iid}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(total(&sim, "/v3/service_instances").await, 0);
    assert_eq!(total(&sim, "/v3/service_credential_bindings").await, 0);
}

#[tokio::test]
async fn deleting_a_binding_unbinds_it() {
    let (sim, broker) = start_with_broker().await;
    let iid = guid_of(&sim.create_instance("db", PLAN_ID).await);
    let bid = guid_of(&sim.create_binding(&iid, Some("app")).await);
    assert_eq!(
        sim.delete(&format!("/v3/service_credential_bindings/{bid}"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let unbind = broker.service_calls().last().unwrap().clone();
    assert_eq!(unbind.method, "DELETE");
    assert_eq!(
        unbind.path,
        format!("/v2/service_instances/{iid}/service_bindings/{bid}")
    );
    assert_eq!(
        unbind.query,
        Some(format!("service_id={SERVICE_ID}&plan_id={PLAN_ID}"))
    );
    assert_osb_headers(&unbind);
    assert_eq!(
        sim.get(&format!("/v3/service_credential_bindings/{bid}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        sim.get(&format!("/v3/service_instances/{iid}")).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn purge_deletes_records_without_calling_the_broker() {
    let (sim, broker) = start_with_broker().await;
    let iid = guid_of(&sim.create_instance("db", PLAN_ID).await);
    let b1 = guid_of(&sim.create_binding(&iid, Some("app")).await);
    let b2 = guid_of(&sim.create_binding(&iid, None).await);
    let other = guid_of(&sim.create_instance("other", PLAN_ID).await);
    let b3 = guid_of(&sim.create_binding(&other, None).await);
    let before = broker.calls().len();

    assert_eq!(
        sim.delete(&format!("/v3/service_instances/{iid}?purge=true"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        sim.delete(&format!("/v3/service_credential_bindings/{b3}?purge=true"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        broker.calls().len(),
        before,
        "purge calls no broker: {:?}",
        &broker.calls()[before..]
    );

    assert_eq!(
        sim.get(&format!("/v3/service_instances/{iid}")).await.0,
        StatusCode::NOT_FOUND
    );
    for b in [&b1, &b2, &b3] {
        assert_eq!(
            sim.get(&format!("/v3/service_credential_bindings/{b}"))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        sim.get(&format!("/v3/service_instances/{other}")).await.0,
        StatusCode::OK
    );
    assert_eq!(total(&sim, "/v3/service_credential_bindings").await, 0);

    // purge=false is an ordinary delete.
    assert_eq!(
        sim.delete(&format!("/v3/service_instances/{other}?purge=false"))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        broker.service_calls().last().unwrap().path,
        format!("/v2/service_instances/{other}")
    );
}

#[tokio::test]
async fn skip_save_next_instance_provisions_but_saves_nothing_once() {
    let (sim, broker) = start_with_broker().await;
    let now = sim
        .set_faults(json!({"skip_save_next_instance": true}))
        .await;
    assert_eq!(now["skip_save_next_instance"], true);

    let detail = assert_cf_error(
        sim.post(
            "/v3/service_instances",
            support::instance_body("lost", PLAN_ID),
        )
        .await,
        500,
        10001,
        "CF-UnknownError",
    );
    assert_eq!(detail, "simulated: record lost after the broker succeeded");
    let calls = broker.service_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "PUT");
    let orphan = calls[0]
        .path
        .trim_start_matches("/v2/service_instances/")
        .to_string();
    assert_eq!(
        total(&sim, "/v3/service_instances").await,
        0,
        "the broker has it, the CC does not"
    );
    assert_eq!(
        sim.get(&format!("/v3/service_instances/{orphan}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        sim.get("/sim/faults").await.1["skip_save_next_instance"],
        false,
        "one-shot"
    );

    sim.create_instance("kept", PLAN_ID).await;
    assert_eq!(total(&sim, "/v3/service_instances").await, 1);
}

#[tokio::test]
async fn skip_save_next_binding_binds_but_saves_nothing_once() {
    let (sim, broker) = start_with_broker().await;
    let iid = guid_of(&sim.create_instance("db", PLAN_ID).await);
    sim.set_faults(json!({"skip_save_next_binding": true}))
        .await;

    let detail = assert_cf_error(
        sim.post(
            "/v3/service_credential_bindings",
            support::binding_body(&iid, Some("app")),
        )
        .await,
        500,
        10001,
        "CF-UnknownError",
    );
    assert_eq!(detail, "simulated: record lost after the broker succeeded");
    let bind = broker.service_calls().last().unwrap().clone();
    assert_eq!(bind.method, "PUT");
    assert!(bind
        .path
        .starts_with(&format!("/v2/service_instances/{iid}/service_bindings/")));
    assert_eq!(total(&sim, "/v3/service_credential_bindings").await, 0);
    assert_eq!(
        sim.get("/sim/faults").await.1["skip_save_next_binding"],
        false
    );

    sim.create_binding(&iid, None).await;
    assert_eq!(total(&sim, "/v3/service_credential_bindings").await, 1);
}

#[tokio::test]
async fn skip_save_waits_for_a_broker_success() {
    let (sim, broker) = start_with_broker().await;
    sim.set_faults(json!({"skip_save_next_instance": true}))
        .await;
    broker.reply_with(Some(500));
    assert_cf_error(
        sim.post(
            "/v3/service_instances",
            support::instance_body("x", PLAN_ID),
        )
        .await,
        502,
        10001,
        "CF-ServiceBrokerRequestRejected",
    );
    assert_eq!(
        sim.get("/sim/faults").await.1["skip_save_next_instance"],
        true,
        "still armed"
    );
}

#[tokio::test]
async fn records_survive_a_restart_on_the_same_db() {
    let broker = RecordingBroker::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = cc_sim::Config {
        listen: "127.0.0.1:0".into(),
        db: dir.path().join("state/cc.db"),
        token: support::TOKEN.into(),
        brokers: vec![broker_config("redis", &broker.url)],
        external_url: None,
    };
    let run = |config: cc_sim::Config| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        (url, tokio::spawn(cc_sim::serve(config, listener)))
    };
    let http = reqwest::Client::new();

    let (url, task) = run(config.clone()).await;
    let created: Value = http
        .post(format!("{url}/v3/service_instances"))
        .bearer_auth(support::TOKEN)
        .json(&support::instance_body("persisted", PLAN_ID))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    task.abort();

    let (url, task) = run(config).await;
    let shown: Value = http
        .get(format!("{url}/v3/service_instances/{}", guid_of(&created)))
        .bearer_auth(support::TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    task.abort();
    assert_eq!(shown["name"], "persisted");
    assert_eq!(shown["created_at"], created["created_at"]);
}
