//! cc-sim over HTTP: authentication, error shapes, pagination walked through
//! `next.href`, and the list fault switches.

mod recording_broker;
mod support;

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use recording_broker::PLAN_ID;
use support::{assert_cf_error, read, start, start_with, start_with_broker, CcSim};

async fn raw(
    sim: &CcSim,
    method: Method,
    path: &str,
    authorization: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = sim.http.request(method, format!("{}{path}", sim.url));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    read(request.send().await.unwrap()).await
}

#[tokio::test]
async fn health_needs_no_token() {
    let sim = start(vec![]).await;
    let response = sim
        .http
        .get(format!("{}/sim/health", sim.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn missing_or_wrong_bearer_is_401_not_authenticated() {
    let sim = start(vec![]).await;
    for path in [
        "/v3/service_instances",
        "/v3/service_credential_bindings",
        "/v3/service_plans",
        "/sim/faults",
    ] {
        for authorization in [
            None,
            Some("bearer wrong"),
            Some("Basic dGVzdDp0ZXN0"),
            Some("test-cc-token"),
            Some("bearer "),
        ] {
            let reply = raw(&sim, Method::GET, path, authorization).await;
            let detail = assert_cf_error(reply, 401, 10002, "CF-NotAuthenticated");
            assert_eq!(detail, "Authentication error");
        }
    }
    for method in [Method::POST, Method::DELETE] {
        let path = if method == Method::POST {
            "/v3/service_instances"
        } else {
            "/v3/service_instances/x"
        };
        assert_cf_error(
            raw(&sim, method, path, Some("bearer nope")).await,
            401,
            10002,
            "CF-NotAuthenticated",
        );
    }
    let put = sim
        .http
        .put(format!("{}/sim/faults", sim.url))
        .json(&json!({"fail_list_page": 1}))
        .send()
        .await
        .unwrap();
    assert_cf_error(read(put).await, 401, 10002, "CF-NotAuthenticated");
    assert_eq!(
        sim.get("/sim/faults").await.1["fail_list_page"],
        Value::Null,
        "an unauthenticated PUT changed nothing"
    );
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let sim = start(vec![]).await;
    for scheme in ["bearer", "Bearer", "BEARER"] {
        let (status, body) = raw(
            &sim,
            Method::GET,
            "/v3/service_instances",
            Some(&format!("{scheme} {}", support::TOKEN)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {body}");
        assert_eq!(body["pagination"]["total_results"], 0);
    }
}

#[tokio::test]
async fn unauthenticated_create_calls_no_broker() {
    let (sim, broker) = start_with_broker().await;
    let response = sim
        .http
        .post(format!("{}/v3/service_instances", sim.url))
        .json(&support::instance_body("x", PLAN_ID))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(broker.calls().is_empty(), "{:?}", broker.calls());
}

#[tokio::test]
async fn unknown_things_are_404() {
    let sim = start(vec![]).await;
    let detail = assert_cf_error(
        sim.get("/v3/service_instances/nope").await,
        404,
        10010,
        "CF-ResourceNotFound",
    );
    assert_eq!(detail, "Service instance not found");
    assert_cf_error(
        sim.delete("/v3/service_instances/nope").await,
        404,
        10010,
        "CF-ResourceNotFound",
    );
    assert_cf_error(
        sim.delete("/v3/service_instances/nope?purge=true").await,
        404,
        10010,
        "CF-ResourceNotFound",
    );
    for path in [
        "/v3/service_credential_bindings/nope",
        "/v3/service_credential_bindings/nope/details",
    ] {
        let detail = assert_cf_error(sim.get(path).await, 404, 10010, "CF-ResourceNotFound");
        assert_eq!(detail, "Service credential binding not found");
    }
    assert_cf_error(
        sim.delete("/v3/service_credential_bindings/nope").await,
        404,
        10010,
        "CF-ResourceNotFound",
    );
    assert_cf_error(sim.get("/v3/apps").await, 404, 10000, "CF-NotFound");
}

#[tokio::test]
async fn bad_query_parameters_are_400() {
    let sim = start(vec![]).await;
    for (path, expected) in [
        (
            "/v3/service_instances?per_page=0",
            "Per page must be between 1 and 5000",
        ),
        (
            "/v3/service_instances?per_page=5001",
            "Per page must be between 1 and 5000",
        ),
        (
            "/v3/service_instances?page=0",
            "Page must be greater than 0",
        ),
        (
            "/v3/service_credential_bindings?page=abc",
            "Page must be greater than 0",
        ),
        (
            "/v3/service_instances?order_by=name",
            "Unknown query parameter(s): 'order_by'",
        ),
        (
            "/v3/service_credential_bindings?guids=a",
            "Unknown query parameter(s): 'guids'",
        ),
        (
            "/v3/service_plans?per_page=-1",
            "Per page must be between 1 and 5000",
        ),
    ] {
        let detail = assert_cf_error(sim.get(path).await, 400, 10005, "CF-BadQueryParameter");
        assert!(detail.contains(expected), "{path}: {detail}");
    }
    let (status, body) = sim.get("/v3/service_instances?per_page=5000&page=3").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn invalid_create_bodies_are_422_or_400() {
    let (sim, broker) = start_with_broker().await;
    let cases = [
        (
            json!({"name": "x", "relationships": {"service_plan": {"data": {"guid": PLAN_ID}}}}),
            "Type must be",
        ),
        (
            json!({"type": "user-provided", "name": "x"}),
            "Type must be 'managed'",
        ),
        (
            json!({"type": "managed", "relationships": {"service_plan": {"data": {"guid": PLAN_ID}}}}),
            "Name can't be blank",
        ),
        (
            json!({"type": "managed", "name": "x"}),
            "Service plan can't be blank",
        ),
        (
            json!({"type": "managed", "name": "x", "relationships": {"service_plan": {"data": null}}}),
            "Service plan can't be blank",
        ),
        (json!({"type": "managed", "name": 7}), "invalid type"),
    ];
    for (body, expected) in cases {
        let detail = assert_cf_error(
            sim.post("/v3/service_instances", body.clone()).await,
            422,
            10008,
            "CF-UnprocessableEntity",
        );
        assert!(detail.contains(expected), "{body}: {detail}");
    }
    let not_json = sim
        .request(Method::POST, "/v3/service_instances")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_cf_error(read(not_json).await, 400, 1001, "CF-MessageParseError");
    assert!(
        broker.service_calls().is_empty(),
        "no broker provision for invalid requests"
    );

    let detail = assert_cf_error(
        sim.post(
            "/v3/service_instances",
            support::instance_body("x", "no-such-plan"),
        )
        .await,
        422,
        10008,
        "CF-UnprocessableEntity",
    );
    assert!(detail.starts_with("Invalid service plan"), "{detail}");
    assert!(broker.service_calls().is_empty());
    assert_eq!(
        sim.get("/v3/service_instances").await.1["pagination"]["total_results"],
        0
    );
}

#[tokio::test]
async fn invalid_binding_bodies_are_422() {
    let (sim, broker) = start_with_broker().await;
    let instance = sim.create_instance("db", PLAN_ID).await;
    let iid = instance["guid"].as_str().unwrap();
    let si = json!({"service_instance": {"data": {"guid": iid}}});
    let cases = [
        (
            json!({"type": "app", "relationships": si}),
            "App can't be blank",
        ),
        (
            json!({"type": "key", "relationships": si}),
            "Name can't be blank",
        ),
        (
            json!({"type": "route", "name": "x", "relationships": si}),
            "Type must be 'app' or 'key'",
        ),
        (
            json!({"type": "key", "name": "k"}),
            "Service instance can't be blank",
        ),
        (
            json!({"type": "key", "name": "k", "relationships": {"service_instance": {"data": {"guid": iid}}, "app": {"data": {"guid": "a"}}}}),
            "Unknown field(s): 'app'",
        ),
        (
            json!({"type": "key", "name": "k", "relationships": {"service_instance": {"data": {"guid": "missing"}}}}),
            "The service instance could not be found: missing",
        ),
    ];
    let calls_before = broker.service_calls().len();
    for (body, expected) in cases {
        let detail = assert_cf_error(
            sim.post("/v3/service_credential_bindings", body.clone())
                .await,
            422,
            10008,
            "CF-UnprocessableEntity",
        );
        assert!(detail.contains(expected), "{body}: {detail}");
    }
    assert_eq!(
        broker.service_calls().len(),
        calls_before,
        "no broker call for invalid bindings"
    );
    assert_eq!(
        sim.get("/v3/service_credential_bindings").await.1["pagination"]["total_results"],
        0
    );
}

#[tokio::test]
async fn purge_must_be_a_boolean() {
    let (sim, broker) = start_with_broker().await;
    let guid = sim.create_instance("db", PLAN_ID).await["guid"]
        .as_str()
        .unwrap()
        .to_string();
    let detail = assert_cf_error(
        sim.delete(&format!("/v3/service_instances/{guid}?purge=yes"))
            .await,
        400,
        10005,
        "CF-BadQueryParameter",
    );
    assert!(detail.contains("Purge must be a boolean"), "{detail}");
    assert_eq!(
        sim.get(&format!("/v3/service_instances/{guid}")).await.0,
        StatusCode::OK
    );
    assert_eq!(broker.service_calls().len(), 1, "only the provision");
}

/// Create `n` instances; their guids in list order (created_at, then guid).
async fn create_instances(sim: &CcSim, n: usize) -> Vec<String> {
    let mut created = Vec::new();
    for i in 0..n {
        let body = sim.create_instance(&format!("db-{i}"), PLAN_ID).await;
        created.push((
            body["created_at"].as_str().unwrap().to_string(),
            body["guid"].as_str().unwrap().to_string(),
        ));
    }
    created.sort();
    created.into_iter().map(|(_, guid)| guid).collect()
}

fn guids(resources: &[Value]) -> Vec<String> {
    resources
        .iter()
        .map(|r| r["guid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn instance_list_walks_to_the_end_through_next_href() {
    let (sim, _broker) = start_with_broker().await;
    let expected = create_instances(&sim, 7).await;

    let (resources, pages) = sim.walk("/v3/service_instances?per_page=3").await;
    assert_eq!(
        guids(&resources),
        expected,
        "every instance once, in created_at/guid order"
    );
    assert_eq!(pages.len(), 3);
    for (i, page) in pages.iter().enumerate() {
        assert_eq!(page["total_results"], 7);
        assert_eq!(page["total_pages"], 3);
        assert_eq!(
            page["first"]["href"],
            format!("{}/v3/service_instances?page=1&per_page=3", sim.url)
        );
        assert_eq!(
            page["last"]["href"],
            format!("{}/v3/service_instances?page=3&per_page=3", sim.url)
        );
        if i == 0 {
            assert!(page["previous"].is_null());
        } else {
            assert_eq!(
                page["previous"]["href"],
                format!("{}/v3/service_instances?page={i}&per_page=3", sim.url)
            );
        }
    }
    assert!(pages[2]["next"].is_null());

    let (status, past) = sim.get("/v3/service_instances?page=4&per_page=3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(past["resources"], json!([]));
    assert!(past["pagination"]["next"].is_null());

    let (_, default) = sim.get("/v3/service_instances").await;
    assert_eq!(
        guids(default["resources"].as_array().unwrap()),
        expected,
        "default per_page 50 holds all"
    );
    assert_eq!(
        default["pagination"]["first"]["href"],
        format!("{}/v3/service_instances?page=1&per_page=50", sim.url)
    );
}

#[tokio::test]
async fn guids_filter_is_kept_in_hrefs() {
    let (sim, _broker) = start_with_broker().await;
    let all = create_instances(&sim, 5).await;
    let wanted = [all[0].clone(), all[2].clone(), all[4].clone()];
    let filter = wanted.join(",");
    let (resources, pages) = sim
        .walk(&format!("/v3/service_instances?guids={filter}&per_page=2"))
        .await;
    assert_eq!(guids(&resources), wanted);
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0]["total_results"], 3);
    assert_eq!(
        pages[0]["next"]["href"],
        format!(
            "{}/v3/service_instances?page=2&per_page=2&guids={filter}",
            sim.url
        )
    );
}

#[tokio::test]
async fn binding_list_walks_and_filters_by_instance() {
    let (sim, _broker) = start_with_broker().await;
    let instances = create_instances(&sim, 2).await;
    let mut of_first = HashSet::new();
    for i in 0..5 {
        let iid = &instances[i % 2];
        let app = format!("app-{i}");
        let binding = sim
            .create_binding(iid, if i % 3 == 0 { None } else { Some(app.as_str()) })
            .await;
        if i % 2 == 0 {
            of_first.insert(binding["guid"].as_str().unwrap().to_string());
        }
    }
    let (all, pages) = sim.walk("/v3/service_credential_bindings?per_page=2").await;
    assert_eq!(all.len(), 5);
    assert_eq!(
        guids(&all).into_iter().collect::<HashSet<_>>().len(),
        5,
        "no binding twice"
    );
    assert_eq!(pages.len(), 3);

    let (filtered, pages) = sim
        .walk(&format!(
            "/v3/service_credential_bindings?service_instance_guids={}&per_page=1",
            instances[0]
        ))
        .await;
    assert_eq!(
        guids(&filtered).into_iter().collect::<HashSet<_>>(),
        of_first
    );
    assert_eq!(pages[0]["total_results"], 3);
    assert!(pages[0]["next"]["href"]
        .as_str()
        .unwrap()
        .ends_with(&format!("&service_instance_guids={}", instances[0])));
}

#[tokio::test]
async fn external_url_is_the_base_of_hrefs() {
    let broker = recording_broker::RecordingBroker::start().await;
    let sim = start_with(
        vec![support::broker_config("redis", &broker.url)],
        Some("https://cc.example.test/".into()),
    )
    .await;
    let instance = sim.create_instance("db", PLAN_ID).await;
    assert_eq!(
        instance["links"]["self"]["href"],
        format!(
            "https://cc.example.test/v3/service_instances/{}",
            instance["guid"].as_str().unwrap()
        )
    );
    let (_, list) = sim.get("/v3/service_instances?per_page=1").await;
    assert_eq!(
        list["pagination"]["first"]["href"],
        "https://cc.example.test/v3/service_instances?page=1&per_page=1"
    );
}

#[tokio::test]
async fn fail_list_page_fails_that_page_until_cleared() {
    let (sim, _broker) = start_with_broker().await;
    let instances = create_instances(&sim, 3).await;
    sim.create_binding(&instances[0], None).await;
    sim.create_binding(&instances[1], None).await;

    let now = sim.set_faults(json!({"fail_list_page": 2})).await;
    assert_eq!(now["fail_list_page"], 2);
    assert_eq!(sim.get("/sim/faults").await.1["fail_list_page"], 2);

    for path in [
        "/v3/service_instances?page=2&per_page=1",
        "/v3/service_credential_bindings?per_page=1&page=2",
    ] {
        for _ in 0..2 {
            let detail = assert_cf_error(sim.get(path).await, 500, 10001, "CF-UnknownError");
            assert_eq!(detail, "simulated: list page 2 failed");
        }
    }
    let (status, first) = sim.get("/v3/service_instances?page=1&per_page=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["resources"].as_array().unwrap().len(), 1);
    assert_eq!(
        sim.get("/v3/service_instances?page=3&per_page=1").await.0,
        StatusCode::OK
    );

    // A walk through next.href stops at the failing page.
    let (status, _) = sim
        .get(first["pagination"]["next"]["href"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);

    // Unrelated switches leave it set; null clears it.
    sim.set_faults(json!({"understate_total_results": false}))
        .await;
    assert_eq!(
        sim.get("/v3/service_instances?page=2&per_page=1").await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let now = sim.set_faults(json!({"fail_list_page": null})).await;
    assert!(now["fail_list_page"].is_null());
    let (resources, _) = sim.walk("/v3/service_instances?per_page=1").await;
    assert_eq!(guids(&resources), instances);
    assert_eq!(
        sim.get("/v3/service_credential_bindings?per_page=1&page=2")
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn fail_list_page_one_fails_a_list_without_page() {
    let sim = start(vec![]).await;
    sim.set_faults(json!({"fail_list_page": 1})).await;
    assert_cf_error(
        sim.get("/v3/service_instances").await,
        500,
        10001,
        "CF-UnknownError",
    );
    assert_cf_error(
        sim.get("/v3/service_credential_bindings").await,
        500,
        10001,
        "CF-UnknownError",
    );
}

#[tokio::test]
async fn understate_total_results_reports_one_less_than_walked() {
    let (sim, _broker) = start_with_broker().await;
    let instances = create_instances(&sim, 4).await;
    sim.create_binding(&instances[0], None).await;
    sim.create_binding(&instances[1], Some("app-1")).await;

    sim.set_faults(json!({"understate_total_results": true}))
        .await;
    let (resources, pages) = sim.walk("/v3/service_instances?per_page=3").await;
    assert_eq!(guids(&resources), instances, "every item is still served");
    for page in &pages {
        assert_eq!(page["total_results"], 3, "one less than the 4 walked");
        assert_eq!(page["total_pages"], 2);
    }
    let (bindings, pages) = sim.walk("/v3/service_credential_bindings").await;
    assert_eq!(bindings.len(), 2);
    assert_eq!(pages[0]["total_results"], 1);

    sim.set_faults(json!({"understate_total_results": false}))
        .await;
    assert_eq!(
        sim.get("/v3/service_instances").await.1["pagination"]["total_results"],
        4
    );
}

#[tokio::test]
async fn faults_put_changes_only_given_fields_and_rejects_unknown_ones() {
    let sim = start(vec![]).await;
    let (status, initial) = sim.get("/sim/faults").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        initial,
        json!({"skip_save_next_instance": false, "skip_save_next_binding": false, "fail_list_page": null, "understate_total_results": false})
    );
    let now = sim
        .set_faults(json!({"skip_save_next_binding": true, "fail_list_page": 4}))
        .await;
    assert_eq!(
        now,
        json!({"skip_save_next_instance": false, "skip_save_next_binding": true, "fail_list_page": 4, "understate_total_results": false})
    );
    let now = sim.set_faults(json!({})).await;
    assert_eq!(now["fail_list_page"], 4);
    assert_eq!(now["skip_save_next_binding"], true);

    assert_cf_error(
        sim.put("/sim/faults", json!({"fail_list_pages": 1})).await,
        422,
        10008,
        "CF-UnprocessableEntity",
    );
    assert_cf_error(
        sim.put("/sim/faults", json!({"fail_list_page": "two"}))
            .await,
        422,
        10008,
        "CF-UnprocessableEntity",
    );
    assert_eq!(
        sim.get("/sim/faults").await.1,
        now,
        "rejected updates change nothing"
    );
}
