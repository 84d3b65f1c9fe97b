//! `/sim/faults`: read and set the fault switches (see `faults.rs`). Same
//! bearer token as `/v3`. `/sim/health` (no auth) is in the router.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;

use crate::api::{parse_body, AppState};
use crate::error::ApiError;
use crate::faults::{FaultSwitches, FaultUpdate};

/// `GET /sim/faults`.
pub async fn faults(State(state): State<Arc<AppState>>) -> Json<FaultSwitches> {
    Json(state.faults.current())
}

/// `PUT /sim/faults`: absent fields unchanged; replies with the switches now.
pub async fn set_faults(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Json<FaultSwitches>, ApiError> {
    let update: FaultUpdate = parse_body(&body)?;
    let now = state.faults.apply(update);
    tracing::info!(faults = ?now, "fault switches set");
    Ok(Json(now))
}
