//! The internal API for operators and `purge-orphan`, authenticated by the
//! `X-VCAP-Service-Token` header (see `docs/gateway-api.md`).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use serde_json::json;

use crate::auth::token_ok;
use crate::purge::PurgeRequest;
use crate::Gateway;

pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route("/service/internal/v1/check_orphan", post(check_orphan))
        .route("/service/internal/v1/purge_orphan", delete(purge_orphan))
        .with_state(gw)
}

async fn check_orphan(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if !token_ok(&headers, &gw.cfg.token) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    // Parsed only after the token check: a stranger learns nothing.
    let wait = match query.as_deref().unwrap_or("") {
        "" | "wait=false" => false,
        "wait=true" => true,
        other => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("unknown query {other:?}; only wait=true|false")})),
            )
                .into_response()
        }
    };
    match gw.start_check() {
        Err(running) => (
            StatusCode::CONFLICT,
            Json(json!({"check_id": running, "status": "already_running"})),
        )
            .into_response(),
        Ok((id, handle)) if wait => match handle.await {
            Ok(report) => (StatusCode::OK, Json(report.to_json())).into_response(),
            Err(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"check_id": id, "error": "the check task failed"})),
            )
                .into_response(),
        },
        Ok((id, _)) => (
            StatusCode::ACCEPTED,
            Json(json!({"check_id": id, "status": "started"})),
        )
            .into_response(),
    }
}

async fn purge_orphan(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !token_ok(&headers, &gw.cfg.token) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let bad = |e: String| (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response();
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad(format!("body is not JSON: {e}")),
    };
    let req = match PurgeRequest::from_json(&value) {
        Ok(r) => r,
        Err(e) => return bad(e),
    };
    match gw.purge(req).await {
        Ok(reply) => (StatusCode::OK, Json(reply)).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": e}))).into_response(),
    }
}
