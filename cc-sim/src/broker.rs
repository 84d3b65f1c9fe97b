//! The Open Service Broker API v2 client: how the CC talks to our gateways.
//!
//! Every call uses basic auth, `X-Broker-API-Version: 2.17` and a 30 s
//! timeout. Calls are synchronous (no `accepts_incomplete`), so only the
//! documented success codes count; anything else, or no answer, is a
//! [`BrokerError`]. Errors and logs name the broker, the call and the status,
//! never the password or the credentials a bind returns.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::config::BrokerConfig;

pub const API_VERSION: &str = "2.17";
const TIMEOUT: Duration = Duration::from_secs(30);
pub const ORGANIZATION_GUID: &str = "cc-sim-org";
pub const SPACE_GUID: &str = "cc-sim-space";

/// A broker call that failed; shown as `broker <name>: <problem>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerError {
    pub broker: String,
    pub problem: String,
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broker {}: {}", self.broker, self.problem)
    }
}

impl std::error::Error for BrokerError {}

/// `GET /v2/catalog`, the parts cc-sim uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    pub services: Vec<CatalogService>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CatalogService {
    pub id: String,
    #[serde(default)]
    pub plans: Vec<CatalogPlan>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CatalogPlan {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// What a call to a service instance needs to name: the OSB ids.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub instance_guid: &'a str,
    pub service_id: &'a str,
    pub plan_id: &'a str,
}

/// An HTTP client for the configured brokers.
pub struct BrokerClient {
    http: reqwest::Client,
}

impl BrokerClient {
    pub fn new() -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(TIMEOUT).build()?;
        Ok(BrokerClient { http })
    }

    /// `GET /v2/catalog`.
    pub async fn catalog(&self, broker: &BrokerConfig) -> Result<Catalog, BrokerError> {
        let call = Call::new(Method::GET, "/v2/catalog".into(), &[StatusCode::OK]).wants_json();
        let body = self.send(broker, call).await?;
        serde_json::from_value(body)
            .map_err(|e| failure(broker, format!("GET /v2/catalog: bad catalog: {e}")))
    }

    /// `PUT /v2/service_instances/{guid}`: provision.
    pub async fn provision(
        &self,
        broker: &BrokerConfig,
        target: Target<'_>,
    ) -> Result<(), BrokerError> {
        let path = format!("/v2/service_instances/{}", target.instance_guid);
        let call =
            Call::new(Method::PUT, path, &[StatusCode::OK, StatusCode::CREATED]).body(json!({
                "service_id": target.service_id,
                "plan_id": target.plan_id,
                "organization_guid": ORGANIZATION_GUID,
                "space_guid": SPACE_GUID,
                "context": {"platform": "cloudfoundry"},
            }));
        self.send(broker, call).await?;
        Ok(())
    }

    /// `DELETE /v2/service_instances/{guid}`: deprovision; 410 (already gone) counts.
    pub async fn deprovision(
        &self,
        broker: &BrokerConfig,
        target: Target<'_>,
    ) -> Result<(), BrokerError> {
        let path = format!("/v2/service_instances/{}", target.instance_guid);
        let call = Call::new(Method::DELETE, path, &[StatusCode::OK, StatusCode::GONE]).ids(target);
        self.send(broker, call).await?;
        Ok(())
    }

    /// `PUT /v2/service_instances/{iid}/service_bindings/{bid}`: bind, and
    /// return the broker's `credentials` object (`{}` if it sent none).
    pub async fn bind(
        &self,
        broker: &BrokerConfig,
        target: Target<'_>,
        binding_guid: &str,
        app_guid: Option<&str>,
    ) -> Result<Map<String, Value>, BrokerError> {
        let bind_resource = match app_guid {
            Some(app) => json!({"app_guid": app}),
            None => json!({}),
        };
        let path = format!(
            "/v2/service_instances/{}/service_bindings/{binding_guid}",
            target.instance_guid
        );
        let call = Call::new(
            Method::PUT,
            path.clone(),
            &[StatusCode::OK, StatusCode::CREATED],
        )
        .body(json!({
            "service_id": target.service_id,
            "plan_id": target.plan_id,
            "bind_resource": bind_resource,
        }))
        .wants_json();
        match self.send(broker, call).await? {
            Value::Object(mut reply) => match reply.remove("credentials") {
                None | Some(Value::Null) => Ok(Map::new()),
                Some(Value::Object(credentials)) => Ok(credentials),
                Some(_) => Err(failure(
                    broker,
                    format!("PUT {path}: credentials is not an object"),
                )),
            },
            _ => Err(failure(
                broker,
                format!("PUT {path}: reply is not a JSON object"),
            )),
        }
    }

    /// `DELETE /v2/service_instances/{iid}/service_bindings/{bid}`: unbind; 410 counts.
    pub async fn unbind(
        &self,
        broker: &BrokerConfig,
        target: Target<'_>,
        binding_guid: &str,
    ) -> Result<(), BrokerError> {
        let path = format!(
            "/v2/service_instances/{}/service_bindings/{binding_guid}",
            target.instance_guid
        );
        let call = Call::new(Method::DELETE, path, &[StatusCode::OK, StatusCode::GONE]).ids(target);
        self.send(broker, call).await?;
        Ok(())
    }

    /// Make one OSB call. Returns the reply body as JSON (`null` if it is
    /// empty or not JSON, unless the call wants JSON: then that is an error).
    async fn send(&self, broker: &BrokerConfig, call: Call) -> Result<Value, BrokerError> {
        let Call {
            method,
            path,
            query,
            body,
            success,
            wants_json,
        } = call;
        let url = format!("{}{path}", broker.url.trim_end_matches('/'));
        let mut request = self
            .http
            .request(method.clone(), &url)
            .basic_auth(&broker.user, Some(&broker.password))
            .header("X-Broker-API-Version", API_VERSION)
            .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(&query);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                let problem = format!("{method} {path}: {}", describe(&e));
                tracing::warn!(broker = %broker.name, %problem, "broker call failed");
                return Err(failure(broker, problem));
            }
        };
        let status = response.status();
        let json = response
            .text()
            .await
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .unwrap_or(Value::Null);
        tracing::info!(broker = %broker.name, %method, %path, status = status.as_u16(), "broker call");
        if !success.contains(&status) {
            let mut problem = format!("{method} {path}: HTTP {status}");
            if let Some(description) = json.get("description").and_then(Value::as_str) {
                problem.push_str(": ");
                problem.extend(description.chars().take(200));
            }
            return Err(failure(broker, problem));
        }
        if wants_json && json.is_null() {
            return Err(failure(
                broker,
                format!("{method} {path}: HTTP {status} without a JSON body"),
            ));
        }
        Ok(json)
    }
}

/// One OSB request, built up by the calls above.
struct Call {
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
    success: &'static [StatusCode],
    wants_json: bool,
}

impl Call {
    fn new(method: Method, path: String, success: &'static [StatusCode]) -> Self {
        Call {
            method,
            path,
            query: Vec::new(),
            body: None,
            success,
            wants_json: false,
        }
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// `?service_id=..&plan_id=..`, as deprovision and unbind carry.
    fn ids(mut self, target: Target<'_>) -> Self {
        self.query
            .push(("service_id", target.service_id.to_string()));
        self.query.push(("plan_id", target.plan_id.to_string()));
        self
    }

    fn wants_json(mut self) -> Self {
        self.wants_json = true;
        self
    }
}

fn failure(broker: &BrokerConfig, problem: String) -> BrokerError {
    BrokerError {
        broker: broker.name.clone(),
        problem,
    }
}

/// A reqwest error and its causes, without the URL (the caller names the path).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
