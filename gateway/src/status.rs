//! The status server: `/varz` and `/healthz` behind basic auth.
//!
//! `/varz` keeps the original's keys (`type`, `start`, `uptime`,
//! `num_cores`, `nodes`, `prov_svcs`, `orphan_instances`, `orphan_bindings`)
//! plus `last_check`. It never holds a password or token.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::auth::basic_ok;
use crate::time::{rfc3339, unix_now, uptime};
use crate::Gateway;

pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/varz", get(varz))
        .route("/healthz", get(healthz))
        .with_state(gw)
}

fn authorized(gw: &Gateway, headers: &HeaderMap) -> bool {
    let (user, password) = gw.status_credentials();
    basic_ok(headers, user, password)
}

async fn healthz(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if !authorized(&gw, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    "ok\n".into_response()
}

async fn varz(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if !authorized(&gw, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(varz_json(&gw)).into_response()
}

pub fn varz_json(gw: &Gateway) -> Value {
    let prov_svcs: serde_json::Map<String, Value> = gw
        .placements()
        .iter()
        .map(|(id, p)| (id.clone(), json!({"service_id": id, "node_id": p.node_id})))
        .collect();
    let (last_check, orphan_instances, orphan_bindings) = {
        let st = gw.checks();
        let last = st.last.as_ref();
        let shown = st.running.as_ref().or(last);
        (
            shown.map(|r| serde_json::to_value(r).unwrap_or_default()),
            last.map(|r| json!(r.orphan_instances)).unwrap_or(json!({})),
            last.map(|r| json!(r.orphan_bindings)).unwrap_or(json!({})),
        )
    };
    let now = unix_now();
    json!({
        "type": format!("{}-Provisioner", gw.cfg.service.name),
        "start": rfc3339(gw.started_at),
        "uptime": uptime(now - gw.started_at),
        "num_cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "nodes": gw.node_status(),
        "unknown_nodes": gw.unknown_nodes(),
        "prov_svcs": prov_svcs,
        "orphan_instances": orphan_instances,
        "orphan_bindings": orphan_bindings,
        "last_check": last_check,
        "check_orphan_interval": gw.cfg.check_orphan_interval,
        "double_check_orphan_interval": gw.cfg.double_check_orphan_interval,
    })
}
