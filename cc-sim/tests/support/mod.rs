//! Start cc-sim in-process on `127.0.0.1:0` with a fresh SQLite file, and
//! talk to it with reqwest.

#![allow(dead_code)]

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};

use cc_sim::{BrokerConfig, Config};

use crate::recording_broker::{self, RecordingBroker};

pub const TOKEN: &str = "test-cc-token";

pub struct CcSim {
    pub url: String,
    pub http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for CcSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A broker config pointing at a recording broker (or any URL).
pub fn broker_config(name: &str, url: &str) -> BrokerConfig {
    BrokerConfig {
        name: name.into(),
        url: url.into(),
        user: recording_broker::USER.into(),
        password: recording_broker::PASSWORD.into(),
    }
}

pub async fn start(brokers: Vec<BrokerConfig>) -> CcSim {
    start_with(brokers, None).await
}

pub async fn start_with(brokers: Vec<BrokerConfig>, external_url: Option<String>) -> CcSim {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".into(),
        db: dir.path().join("cc.db"),
        token: TOKEN.into(),
        brokers,
        external_url,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        cc_sim::serve(config, listener).await.unwrap();
    });
    CcSim {
        url,
        http: reqwest::Client::new(),
        task,
        _dir: dir,
    }
}

/// cc-sim with one recording broker called `redis`.
pub async fn start_with_broker() -> (CcSim, RecordingBroker) {
    let broker = RecordingBroker::start().await;
    let sim = start(vec![broker_config("redis", &broker.url)]).await;
    (sim, broker)
}

impl CcSim {
    /// A request with the right bearer token. `path` may be a full href.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.url)
        };
        self.http.request(method, url).bearer_auth(TOKEN)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        read(self.request(Method::GET, path).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        read(
            self.request(Method::POST, path)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        read(
            self.request(Method::PUT, path)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        read(self.request(Method::DELETE, path).send().await.unwrap()).await
    }

    /// Create a managed instance of `plan`; panics unless 201.
    pub async fn create_instance(&self, name: &str, plan: &str) -> Value {
        let (status, body) = self
            .post("/v3/service_instances", instance_body(name, plan))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Create a binding (`app` with an app guid, or `key`); panics unless 201.
    pub async fn create_binding(&self, instance_guid: &str, app_guid: Option<&str>) -> Value {
        let (status, body) = self
            .post(
                "/v3/service_credential_bindings",
                binding_body(instance_guid, app_guid),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    pub async fn set_faults(&self, faults: Value) -> Value {
        let (status, body) = self.put("/sim/faults", faults).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Every resource of a list, walked page by page through `next.href`.
    pub async fn walk(&self, first: &str) -> (Vec<Value>, Vec<Value>) {
        let (mut resources, mut paginations) = (Vec::new(), Vec::new());
        let mut href = Some(first.to_string());
        while let Some(h) = href {
            let (status, page) = self.get(&h).await;
            assert_eq!(status, StatusCode::OK, "{h}: {page}");
            resources.extend(page["resources"].as_array().unwrap().iter().cloned());
            href = page["pagination"]["next"]["href"]
                .as_str()
                .map(str::to_string);
            paginations.push(page["pagination"].clone());
            assert!(paginations.len() < 100, "next links never end");
        }
        (resources, paginations)
    }
}

pub fn instance_body(name: &str, plan: &str) -> Value {
    json!({"type": "managed", "name": name, "relationships": {"service_plan": {"data": {"guid": plan}}}})
}

pub fn binding_body(instance_guid: &str, app_guid: Option<&str>) -> Value {
    let mut relationships = json!({"service_instance": {"data": {"guid": instance_guid}}});
    match app_guid {
        Some(app) => {
            relationships["app"] = json!({"data": {"guid": app}});
            json!({"type": "app", "name": "my-binding", "relationships": relationships})
        }
        None => json!({"type": "key", "name": "my-key", "relationships": relationships}),
    }
}

/// Status and JSON body (`null` if empty; the raw text if not JSON).
pub async fn read(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// Assert a CF v3 error reply.
pub fn assert_cf_error(actual: (StatusCode, Value), status: u16, code: u64, title: &str) -> String {
    let (actual_status, body) = actual;
    assert_eq!(actual_status.as_u16(), status, "{body}");
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("not a CF error: {body}"));
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["code"], code, "{body}");
    assert_eq!(errors[0]["title"], title, "{body}");
    errors[0]["detail"]
        .as_str()
        .expect("detail is a string")
        .to_string()
}
