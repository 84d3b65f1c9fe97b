//! `/v3/service_instances`: create (provision through the broker), list, show
//! and delete (unbind, deprovision) managed service instances.
//!
//! Unlike the real CC, which answers `DELETE` with `202` and a job, cc-sim
//! does the broker calls before it replies and answers `204`. `?purge=true`
//! deletes the records (instance and bindings) without calling the broker,
//! which is how the real CC's purge leaves objects behind on the nodes.
//!
//! Broker first, record second: if the broker fails, nothing is saved or
//! deleted and the reply is 502.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{broker_named, list_reply, parse_body, purge_flag, AppState, ToOne};
use crate::broker::Target;
use crate::clock::now_rfc3339;
use crate::error::ApiError;
use crate::pagination::{ListQuery, Pagination};
use crate::store::InstanceRecord;

const PATH: &str = "/v3/service_instances";

#[derive(Debug, Deserialize)]
pub struct CreateInstance {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    relationships: Option<InstanceRelationships>,
}

#[derive(Debug, Deserialize)]
pub struct InstanceRelationships {
    service_plan: Option<ToOne>,
}

/// `POST /v3/service_instances`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request: CreateInstance = parse_body(&body)?;
    match request.kind.as_deref() {
        Some("managed") => {}
        Some(other) => {
            return Err(ApiError::unprocessable(format!(
                "Type must be 'managed' (cc-sim has no '{other}' instances)"
            )))
        }
        None => return Err(ApiError::unprocessable("Type must be one of 'managed'")),
    }
    let name = request
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::unprocessable("Name can't be blank"))?;
    let plan_guid = request
        .relationships
        .as_ref()
        .and_then(|r| ToOne::guid(r.service_plan.as_ref()))
        .ok_or_else(|| ApiError::unprocessable("Relationships Service plan can't be blank"))?;

    let plan = state.catalogs.find(&state.brokers, plan_guid).await?.ok_or_else(|| {
        ApiError::unprocessable(
            "Invalid service plan. Ensure that the service plan exists, is available, and you have access to it.",
        )
    })?;
    let broker = broker_named(&state, &plan.broker)?;
    let guid = uuid::Uuid::new_v4().to_string();
    let target = Target {
        instance_guid: &guid,
        service_id: &plan.service_id,
        plan_id: &plan.guid,
    };
    state.brokers.provision(broker, target).await?;

    if state.faults.take_skip_save_instance() {
        tracing::warn!(instance = %guid, broker = %broker.name, "fault: provisioned but not saved");
        return Err(ApiError::unknown(
            "simulated: record lost after the broker succeeded",
        ));
    }
    let now = now_rfc3339();
    let record = InstanceRecord {
        guid,
        name,
        plan_guid: plan.guid,
        service_id: plan.service_id,
        broker: plan.broker,
        created_at: now.clone(),
        updated_at: now,
    };
    state.store.insert_instance(&record)?;
    tracing::info!(instance = %record.guid, name = %record.name, broker = %record.broker, "service instance created");
    Ok((
        StatusCode::CREATED,
        Json(resource(&state.base_url(&headers), &record)),
    ))
}

/// `GET /v3/service_instances?page&per_page&guids`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = ListQuery::parse(raw.as_deref(), &["guids"])?;
    if state.faults.list_page_fails(query.page) {
        return Err(ApiError::unknown(format!(
            "simulated: list page {} failed",
            query.page
        )));
    }
    let guids = query.filter_list("guids");
    let page = state
        .store
        .list_instances(guids.as_deref(), query.per_page, query.offset())?;
    let base = state.base_url(&headers);
    let pagination = Pagination::new(
        &base,
        PATH,
        &query,
        page.total,
        state.faults.reported_total(page.total),
    );
    Ok(list_reply(
        pagination,
        page.items.iter().map(|r| resource(&base, r)).collect(),
    ))
}

/// `GET /v3/service_instances/{guid}`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(guid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = state.store.instance(&guid)?.ok_or_else(not_found)?;
    Ok(Json(resource(&state.base_url(&headers), &record)))
}

/// `DELETE /v3/service_instances/{guid}[?purge=true]`.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(guid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<StatusCode, ApiError> {
    let purge = purge_flag(raw.as_deref())?;
    let record = state.store.instance(&guid)?.ok_or_else(not_found)?;
    if purge {
        state.store.delete_instance_and_bindings(&guid)?;
        tracing::info!(instance = %guid, "service instance purged (broker not called)");
        return Ok(StatusCode::NO_CONTENT);
    }
    let broker = broker_named(&state, &record.broker)?;
    let target = Target {
        instance_guid: &guid,
        service_id: &record.service_id,
        plan_id: &record.plan_guid,
    };
    // Each binding's record goes as soon as the broker has unbound it, so a
    // failure part way leaves the CC agreeing with the broker.
    let bindings = state.store.bindings_of(&guid)?;
    for binding in &bindings {
        state.brokers.unbind(broker, target, &binding.guid).await?;
        state.store.delete_binding(&binding.guid)?;
    }
    state.brokers.deprovision(broker, target).await?;
    state.store.delete_instance_and_bindings(&guid)?;
    tracing::info!(instance = %guid, bindings = bindings.len(), "service instance deleted");
    Ok(StatusCode::NO_CONTENT)
}

fn not_found() -> ApiError {
    ApiError::not_found("Service instance not found")
}

fn resource(base: &str, r: &InstanceRecord) -> Value {
    json!({
        "guid": r.guid,
        "name": r.name,
        "type": "managed",
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "relationships": {"service_plan": {"data": {"guid": r.plan_guid}}},
        "links": {"self": {"href": format!("{base}{PATH}/{}", r.guid)}},
    })
}
