//! `recording_broker`: a minimal in-test Open Service Broker v2 server that
//! records every call cc-sim makes to it.
//!
//! It is the only stand-in in cc-sim's tests, and it stands in for the
//! gateway (written elsewhere), not for anything cc-sim owns. It answers like
//! a well-behaved broker: a catalog of one service, 201 on provision and bind
//! (with credentials), 200 on deprovision and unbind, 401 on wrong basic auth.
//! `reply_with(Some(status))` makes every call but the catalog answer that
//! status instead.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

pub const USER: &str = "broker-user";
pub const PASSWORD: &str = "broker-s3cret-pw";
pub const SERVICE_ID: &str = "svc-redis";
pub const PLAN_ID: &str = "plan-small";

/// One request the broker received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub api_version: Option<String>,
    pub body: Option<Value>,
}

impl Call {
    pub fn is_catalog(&self) -> bool {
        self.method == "GET" && self.path == "/v2/catalog"
    }
}

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<Call>>,
    plans: Mutex<Vec<String>>,
    reply_with: Mutex<Option<u16>>,
}

pub struct RecordingBroker {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RecordingBroker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `Authorization` header a correctly configured cc-sim sends.
pub fn expected_authorization() -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    format!("Basic {encoded}")
}

/// The credentials this broker returns for binding `guid`.
pub fn credentials_for(binding_guid: &str) -> Value {
    json!({"host": "127.0.0.1", "port": 6379, "username": binding_guid, "password": format!("cred-pw-{binding_guid}")})
}

impl RecordingBroker {
    pub async fn start() -> Self {
        Self::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    /// Serve on `listener`, offering plan `PLAN_ID`.
    pub fn start_on(listener: tokio::net::TcpListener) -> Self {
        Self::start_with_plans(listener, &[PLAN_ID])
    }

    /// Serve on `listener`, offering plans `plan_ids` of service `SERVICE_ID`.
    pub fn start_with_plans(listener: tokio::net::TcpListener, plan_ids: &[&str]) -> Self {
        let shared = Arc::new(Shared::default());
        *shared.plans.lock().unwrap() = plan_ids.iter().map(|p| p.to_string()).collect();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        RecordingBroker { url, shared, task }
    }

    /// Every call so far, catalog fetches included.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// Every call so far but catalog fetches.
    pub fn service_calls(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| !c.is_catalog())
            .collect()
    }

    pub fn catalog_fetches(&self) -> usize {
        self.calls().iter().filter(|c| c.is_catalog()).count()
    }

    pub fn add_plan(&self, plan_id: &str) {
        self.shared.plans.lock().unwrap().push(plan_id.to_string());
    }

    /// Answer every call but the catalog with `status` (None: behave).
    pub fn reply_with(&self, status: Option<u16>) {
        *self.shared.reply_with.lock().unwrap() = status;
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let call = Call {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        authorization: header("authorization"),
        api_version: header("x-broker-api-version"),
        body: (!body.is_empty()).then(|| serde_json::from_slice(&body).unwrap()),
    };
    shared.calls.lock().unwrap().push(call.clone());

    if call.authorization.as_deref() != Some(expected_authorization().as_str()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if call.is_catalog() {
        let plans: Vec<Value> = shared
            .plans
            .lock()
            .unwrap()
            .iter()
            .map(|id| json!({"id": id, "name": format!("name-{id}"), "description": format!("plan {id}")}))
            .collect();
        let catalog = json!({"services": [{
            "id": SERVICE_ID, "name": "redis", "description": "Redis", "bindable": true, "plans": plans
        }]});
        return Json(catalog).into_response();
    }
    if let Some(status) = *shared.reply_with.lock().unwrap() {
        let status = StatusCode::from_u16(status).unwrap();
        return (
            status,
            Json(json!({"description": "recording broker was told to answer this"})),
        )
            .into_response();
    }
    let segments: Vec<&str> = call.path.trim_start_matches('/').split('/').collect();
    match (call.method.as_str(), segments.as_slice()) {
        ("PUT", ["v2", "service_instances", _]) => {
            (StatusCode::CREATED, Json(json!({}))).into_response()
        }
        ("PUT", ["v2", "service_instances", _, "service_bindings", binding]) => (
            StatusCode::CREATED,
            Json(json!({"credentials": credentials_for(binding)})),
        )
            .into_response(),
        ("DELETE", ["v2", "service_instances", _])
        | ("DELETE", ["v2", "service_instances", _, "service_bindings", _]) => {
            Json(json!({})).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
