//! The HTTP surface: routes, shared state, and the helpers every handler uses
//! (base URL for hrefs, JSON body parsing, list replies).
//!
//! `/v3/*` and `/sim/faults` need the bearer token; `/sim/health` does not.
//! Handlers live in `instances.rs`, `bindings.rs` and `sim.rs`; the plan list
//! is here because it is small.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::HOST;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use crate::broker::{BrokerClient, BrokerError};
use crate::catalog::{Catalogs, Plan};
use crate::config::{BrokerConfig, Config};
use crate::error::ApiError;
use crate::faults::Faults;
use crate::pagination::{pairs, ListQuery, Pagination};
use crate::store::Store;
use crate::{auth, bindings, instances, sim};

/// Everything a request may need.
pub struct AppState {
    pub store: Store,
    pub brokers: BrokerClient,
    pub catalogs: Catalogs,
    pub faults: Faults,
    pub token: String,
    external_url: Option<String>,
    local_addr: SocketAddr,
}

impl AppState {
    pub fn new(config: &Config, local_addr: SocketAddr) -> anyhow::Result<Arc<Self>> {
        let store = Store::open(&config.db)
            .map_err(|e| anyhow::anyhow!("cannot open database {}: {e:#}", config.db.display()))?;
        Ok(Arc::new(AppState {
            store,
            brokers: BrokerClient::new()?,
            catalogs: Catalogs::new(config.brokers.clone()),
            faults: Faults::default(),
            token: config.token.clone(),
            external_url: config
                .external_url
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_string()),
            local_addr,
        }))
    }

    /// The base of every href: `external_url`, else `http://` + the request's
    /// `Host` (if it looks like a host), else the listening address.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.external_url {
            return url.clone();
        }
        let host = headers.get(HOST).and_then(|h| h.to_str().ok()).filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        });
        match host {
            Some(host) => format!("http://{host}"),
            None => format!("http://{}", self.local_addr),
        }
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let authenticated = Router::new()
        .route("/v3/service_plans", get(list_plans))
        .route(
            "/v3/service_instances",
            get(instances::list).post(instances::create),
        )
        .route(
            "/v3/service_instances/{guid}",
            get(instances::show).delete(instances::delete),
        )
        .route(
            "/v3/service_credential_bindings",
            get(bindings::list).post(bindings::create),
        )
        .route(
            "/v3/service_credential_bindings/{guid}",
            get(bindings::show).delete(bindings::delete),
        )
        .route(
            "/v3/service_credential_bindings/{guid}/details",
            get(bindings::details),
        )
        .route("/sim/faults", get(sim::faults).put(sim::set_faults))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ));
    Router::new()
        .merge(authenticated)
        .route("/sim/health", get(|| async { "ok" }))
        .fallback(|| async { ApiError::unknown_request() })
        .with_state(state)
}

/// Parse a JSON request body: not JSON is 400 CF-MessageParseError, JSON of
/// the wrong shape is 422 CF-UnprocessableEntity.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| ApiError::parse_error("invalid request body"))?;
    if !value.is_object() {
        return Err(ApiError::parse_error(
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_value(value).map_err(|e| ApiError::unprocessable(e.to_string()))
}

/// `{"guid": "…"}` under `relationships.<name>.data`.
#[derive(Debug, serde::Deserialize)]
pub struct ToOne {
    pub data: Option<GuidRef>,
}

#[derive(Debug, serde::Deserialize)]
pub struct GuidRef {
    pub guid: String,
}

impl ToOne {
    pub fn guid(relation: Option<&ToOne>) -> Option<&str> {
        relation?
            .data
            .as_ref()
            .map(|d| d.guid.as_str())
            .filter(|g| !g.is_empty())
    }
}

/// The `?purge=true|false` of a DELETE (absent: false). Anything else is 400.
pub fn purge_flag(raw: Option<&str>) -> Result<bool, ApiError> {
    let mut purge = false;
    for (_, name, value) in pairs(raw) {
        match (name.as_str(), value.as_str()) {
            ("purge", "true") => purge = true,
            ("purge", "false") => purge = false,
            ("purge", _) => return Err(ApiError::bad_query("Purge must be a boolean")),
            (other, _) => {
                return Err(ApiError::bad_query(format!(
                    "Unknown query parameter(s): '{other}'. Valid parameters are: 'purge'"
                )))
            }
        }
    }
    Ok(purge)
}

/// The configured broker an instance was provisioned by; one that has left
/// the config cannot be called, which is a broker failure (502).
pub fn broker_named<'a>(state: &'a AppState, name: &str) -> Result<&'a BrokerConfig, ApiError> {
    state.catalogs.broker(name).ok_or_else(|| {
        ApiError::from(BrokerError {
            broker: name.to_string(),
            problem: "not in cc-sim's config".to_string(),
        })
    })
}

/// A list reply: `{"pagination": …, "resources": […]}`.
pub fn list_reply<T: Serialize>(pagination: Pagination, resources: Vec<T>) -> Json<Value> {
    Json(json!({"pagination": pagination, "resources": resources}))
}

/// `GET /v3/service_plans`: the plans of every broker's catalog.
async fn list_plans(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = ListQuery::parse(raw.as_deref(), &[])?;
    let plans = state.catalogs.plans(&state.brokers).await?;
    let base = state.base_url(&headers);
    let total = plans.len() as u64;
    let resources: Vec<Value> = plans
        .iter()
        .skip(usize::try_from(query.offset()).unwrap_or(usize::MAX))
        .take(query.per_page as usize)
        .map(plan_resource)
        .collect();
    let pagination = Pagination::new(&base, "/v3/service_plans", &query, total, total);
    Ok(list_reply(pagination, resources))
}

fn plan_resource(plan: &Plan) -> Value {
    json!({
        "guid": plan.guid,
        "name": plan.name,
        "description": plan.description,
        "relationships": {"service_offering": {"data": {"guid": plan.service_id}}},
        "broker_name": plan.broker,
    })
}
