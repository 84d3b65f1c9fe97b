//! `/v3/service_credential_bindings`: app bindings and service keys, made
//! through the broker's bind call.
//!
//! The credentials the broker returns are stored and shown only by
//! `GET …/{guid}/details`. `DELETE …/{guid}?purge=true` deletes the record
//! without calling the broker: a cc-sim extension (the real CC has no purge
//! for one binding) that leaves a binding behind on the node.
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
use crate::store::{BindingKind, BindingRecord};

const PATH: &str = "/v3/service_credential_bindings";

#[derive(Debug, Deserialize)]
pub struct CreateBinding {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    relationships: Option<BindingRelationships>,
}

#[derive(Debug, Deserialize)]
pub struct BindingRelationships {
    service_instance: Option<ToOne>,
    app: Option<ToOne>,
}

/// `POST /v3/service_credential_bindings`.
pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request: CreateBinding = parse_body(&body)?;
    let kind = request
        .kind
        .as_deref()
        .and_then(BindingKind::parse)
        .ok_or_else(|| ApiError::unprocessable("Type must be 'app' or 'key'"))?;
    let name = request.name.filter(|n| !n.trim().is_empty());
    if kind == BindingKind::Key && name.is_none() {
        return Err(ApiError::unprocessable("Name can't be blank"));
    }
    let relationships = request.relationships.as_ref();
    let instance_guid = relationships
        .and_then(|r| ToOne::guid(r.service_instance.as_ref()))
        .ok_or_else(|| ApiError::unprocessable("Relationships Service instance can't be blank"))?;
    let app_guid = relationships.and_then(|r| ToOne::guid(r.app.as_ref()));
    match (kind, app_guid, relationships.and_then(|r| r.app.as_ref())) {
        (BindingKind::App, None, _) => {
            return Err(ApiError::unprocessable("Relationships App can't be blank"))
        }
        (BindingKind::Key, _, Some(_)) => {
            return Err(ApiError::unprocessable(
                "Relationships Unknown field(s): 'app'",
            ))
        }
        _ => {}
    }

    let instance = state.store.instance(instance_guid)?.ok_or_else(|| {
        ApiError::unprocessable(format!(
            "The service instance could not be found: {instance_guid}"
        ))
    })?;
    let broker = broker_named(&state, &instance.broker)?;
    let guid = uuid::Uuid::new_v4().to_string();
    let target = Target {
        instance_guid,
        service_id: &instance.service_id,
        plan_id: &instance.plan_guid,
    };
    let credentials = state.brokers.bind(broker, target, &guid, app_guid).await?;

    if state.faults.take_skip_save_binding() {
        tracing::warn!(binding = %guid, instance = %instance_guid, "fault: bound but not saved");
        return Err(ApiError::unknown(
            "simulated: record lost after the broker succeeded",
        ));
    }
    let now = now_rfc3339();
    let record = BindingRecord {
        guid,
        name,
        kind,
        instance_guid: instance_guid.to_string(),
        app_guid: app_guid.map(str::to_string),
        credentials_json: Value::Object(credentials).to_string(),
        created_at: now.clone(),
        updated_at: now,
    };
    state.store.insert_binding(&record)?;
    tracing::info!(binding = %record.guid, instance = %instance_guid, kind = kind.as_str(), "credential binding created");
    Ok((
        StatusCode::CREATED,
        Json(resource(&state.base_url(&headers), &record)),
    ))
}

/// `GET /v3/service_credential_bindings?page&per_page&service_instance_guids`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = ListQuery::parse(raw.as_deref(), &["service_instance_guids"])?;
    if state.faults.list_page_fails(query.page) {
        return Err(ApiError::unknown(format!(
            "simulated: list page {} failed",
            query.page
        )));
    }
    let instance_guids = query.filter_list("service_instance_guids");
    let page =
        state
            .store
            .list_bindings(instance_guids.as_deref(), query.per_page, query.offset())?;
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

/// `GET /v3/service_credential_bindings/{guid}`: no credentials here.
pub async fn show(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(guid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = state.store.binding(&guid)?.ok_or_else(not_found)?;
    Ok(Json(resource(&state.base_url(&headers), &record)))
}

/// `GET /v3/service_credential_bindings/{guid}/details`: the credentials.
pub async fn details(
    State(state): State<Arc<AppState>>,
    Path(guid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = state.store.binding(&guid)?.ok_or_else(not_found)?;
    let credentials: Value = serde_json::from_str(&record.credentials_json).map_err(|e| {
        tracing::error!(binding = %guid, error = %e, "stored credentials are not JSON");
        ApiError::unknown("stored credentials are unreadable")
    })?;
    Ok(Json(json!({"credentials": credentials})))
}

/// `DELETE /v3/service_credential_bindings/{guid}[?purge=true]`.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(guid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<StatusCode, ApiError> {
    let purge = purge_flag(raw.as_deref())?;
    let record = state.store.binding(&guid)?.ok_or_else(not_found)?;
    if purge {
        state.store.delete_binding(&guid)?;
        tracing::info!(binding = %guid, "credential binding purged (broker not called)");
        return Ok(StatusCode::NO_CONTENT);
    }
    let instance = state
        .store
        .instance(&record.instance_guid)?
        .ok_or_else(|| {
            ApiError::unprocessable(format!(
                "The service instance {} of this binding is gone; only purge=true can delete it",
                record.instance_guid
            ))
        })?;
    let broker = broker_named(&state, &instance.broker)?;
    let target = Target {
        instance_guid: &instance.guid,
        service_id: &instance.service_id,
        plan_id: &instance.plan_guid,
    };
    state.brokers.unbind(broker, target, &guid).await?;
    state.store.delete_binding(&guid)?;
    tracing::info!(binding = %guid, instance = %instance.guid, "credential binding deleted");
    Ok(StatusCode::NO_CONTENT)
}

fn not_found() -> ApiError {
    ApiError::not_found("Service credential binding not found")
}

fn resource(base: &str, r: &BindingRecord) -> Value {
    let mut relationships = json!({"service_instance": {"data": {"guid": r.instance_guid}}});
    if let Some(app) = &r.app_guid {
        relationships["app"] = json!({"data": {"guid": app}});
    }
    let href = format!("{base}{PATH}/{}", r.guid);
    json!({
        "guid": r.guid,
        "name": r.name,
        "type": r.kind.as_str(),
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "relationships": relationships,
        "links": {
            "self": {"href": href},
            "details": {"href": format!("{href}/details")},
            "service_instance": {"href": format!("{base}/v3/service_instances/{}", r.instance_guid)},
        },
    })
}
