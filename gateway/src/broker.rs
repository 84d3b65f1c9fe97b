//! The Open Service Broker API v2: where the Cloud Controller's requests
//! enter. Each call is checked (basic auth, API version, service and plan)
//! and handed to one node over gRPC.
//!
//! Provision places a new instance on the reachable node with the most free
//! capacity that serves the plan. Bind, unbind and deprovision go to the
//! node that holds the instance.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tonic::Code;

use crate::auth::basic_ok;
use crate::nodes::status_text;
use crate::{Gateway, Placement};

pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/v2/catalog", get(catalog))
        .route(
            "/v2/service_instances/{instance_id}",
            put(provision).delete(deprovision),
        )
        .route(
            "/v2/service_instances/{instance_id}/service_bindings/{binding_id}",
            put(bind).delete(unbind),
        )
        .with_state(gw)
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn error(status: StatusCode, description: impl Into<String>) -> Response {
    reply(status, json!({ "description": description.into() }))
}

/// Basic auth, `X-Broker-API-Version: 2.x`, and well-formed ids.
/// `Some(response)` rejects.
fn check(gw: &Gateway, headers: &HeaderMap, ids: &[&str]) -> Option<Response> {
    if !basic_ok(headers, &gw.cfg.broker.user, &gw.cfg.broker.password) {
        return Some(StatusCode::UNAUTHORIZED.into_response());
    }
    if let Some(v) = headers.get("x-broker-api-version") {
        if !v.to_str().is_ok_and(|v| v.starts_with("2.")) {
            return Some(error(
                StatusCode::PRECONDITION_FAILED,
                "this broker speaks Open Service Broker API 2.x",
            ));
        }
    }
    if let Some(bad) = ids.iter().find(|id| !crate::valid_id(id)) {
        return Some(error(
            StatusCode::BAD_REQUEST,
            format!("invalid id {bad:?}: 1-64 characters of [A-Za-z0-9._-]"),
        ));
    }
    None
}

async fn catalog(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Some(r) = check(&gw, &headers, &[]) {
        return r;
    }
    let s = &gw.cfg.service;
    let plans: Vec<Value> = s
        .plans
        .iter()
        .map(|p| json!({"id": p.id, "name": p.name, "description": p.description, "free": true}))
        .collect();
    reply(
        StatusCode::OK,
        json!({"services": [{
            "id": gw.cfg.service_id(),
            "name": s.name,
            "description": s.description,
            "bindable": true,
            "plan_updateable": false,
            "plans": plans,
        }]}),
    )
}

#[derive(Deserialize)]
struct ProvisionBody {
    service_id: String,
    plan_id: String,
}

/// Maps a node's gRPC error to a broker reply.
fn node_error(node: &str, s: &tonic::Status) -> Response {
    let status = match s.code() {
        Code::InvalidArgument => StatusCode::BAD_REQUEST,
        Code::AlreadyExists => StatusCode::CONFLICT,
        Code::NotFound => StatusCode::GONE,
        Code::ResourceExhausted | Code::Unavailable | Code::DeadlineExceeded => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::CONFLICT || status == StatusCode::GONE {
        return reply(status, json!({}));
    }
    error(status, format!("node {node}: {}", status_text(s)))
}

async fn provision(
    State(gw): State<Arc<Gateway>>,
    Path(instance_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = check(&gw, &headers, &[&instance_id]) {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<ProvisionBody>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body needs service_id and plan_id");
    };
    if body.service_id != gw.cfg.service_id() {
        return error(
            StatusCode::BAD_REQUEST,
            format!("unknown service_id {}", body.service_id),
        );
    }
    let Some(plan) = gw.cfg.service.plans.iter().find(|p| p.id == body.plan_id) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("unknown plan_id {}", body.plan_id),
        );
    };
    // An instance that exists already stays where it is; a new one is placed
    // only when every node has said it does not hold it.
    let existing = match gw.locate(&instance_id).await {
        Ok(n) => n,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let node = match existing {
        Some(n) => n,
        None => {
            let infos = gw.node_infos().await;
            let best = infos
                .into_iter()
                .filter(|(_, i)| i.plans.contains(&plan.name) && i.available_capacity > 0)
                .max_by(|(a, x), (b, y)| {
                    x.available_capacity
                        .cmp(&y.available_capacity)
                        .then(b.id.cmp(&a.id))
                });
            match best {
                Some((n, _)) => n,
                None => {
                    return error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!(
                            "no reachable node with free capacity for plan {}",
                            plan.name
                        ),
                    )
                }
            }
        }
    };
    let mut c = node.client();
    let req = proto::ProvisionRequest {
        instance_id: instance_id.clone(),
        plan: plan.name.clone(),
    };
    // Starting a server takes longer than an ordinary call.
    let timeout = node.timeout() * 6;
    match node.call(timeout, c.provision(req)).await {
        Ok(r) => {
            gw.placements().insert(
                instance_id.clone(),
                Placement {
                    node_id: node.id.clone(),
                },
            );
            tracing::info!(instance = %instance_id, node = %node.id, created = r.created, "provisioned");
            let status = if r.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            reply(status, json!({}))
        }
        Err(s) => {
            tracing::warn!(instance = %instance_id, node = %node.id, error = %status_text(&s), "provision failed");
            node_error(&node.id, &s)
        }
    }
}

async fn deprovision(
    State(gw): State<Arc<Gateway>>,
    Path(instance_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = check(&gw, &headers, &[&instance_id]) {
        return r;
    }
    let node = match gw.locate(&instance_id).await {
        Ok(Some(n)) => n,
        Ok(None) => return reply(StatusCode::GONE, json!({})),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let mut c = node.client();
    let req = proto::UnprovisionRequest {
        instance_id: instance_id.clone(),
    };
    match node.call(node.timeout() * 6, c.unprovision(req)).await {
        Ok(_) => {
            gw.placements().remove(&instance_id);
            tracing::info!(instance = %instance_id, node = %node.id, "deprovisioned");
            reply(StatusCode::OK, json!({}))
        }
        Err(s) => {
            if s.code() == Code::NotFound {
                gw.placements().remove(&instance_id);
            }
            node_error(&node.id, &s)
        }
    }
}

async fn bind(
    State(gw): State<Arc<Gateway>>,
    Path((instance_id, binding_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = check(&gw, &headers, &[&instance_id, &binding_id]) {
        return r;
    }
    let node = match gw.locate(&instance_id).await {
        Ok(Some(n)) => n,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no instance {instance_id}")),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let mut c = node.client();
    let req = proto::BindRequest {
        instance_id: instance_id.clone(),
        binding_id: binding_id.clone(),
    };
    match node.call(node.timeout(), c.bind(req)).await {
        Ok(r) => {
            tracing::info!(instance = %instance_id, binding = %binding_id, node = %node.id, "bound");
            let creds = r.credentials.unwrap_or_default();
            let status = if r.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            reply(
                status,
                json!({"credentials": {
                    "host": creds.host,
                    "port": creds.port,
                    "username": creds.username,
                    "password": creds.password,
                    "name": creds.name,
                    "uri": creds.uri,
                }}),
            )
        }
        Err(s) if s.code() == Code::NotFound => {
            error(StatusCode::NOT_FOUND, format!("no instance {instance_id}"))
        }
        Err(s) => node_error(&node.id, &s),
    }
}

async fn unbind(
    State(gw): State<Arc<Gateway>>,
    Path((instance_id, binding_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = check(&gw, &headers, &[&instance_id, &binding_id]) {
        return r;
    }
    let node = match gw.locate(&instance_id).await {
        Ok(Some(n)) => n,
        Ok(None) => return reply(StatusCode::GONE, json!({})),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e),
    };
    let mut c = node.client();
    let req = proto::UnbindRequest {
        instance_id: instance_id.clone(),
        binding_id: binding_id.clone(),
    };
    match node.call(node.timeout(), c.unbind(req)).await {
        Ok(_) => {
            tracing::info!(instance = %instance_id, binding = %binding_id, node = %node.id, "unbound");
            reply(StatusCode::OK, json!({}))
        }
        Err(s) => node_error(&node.id, &s),
    }
}
