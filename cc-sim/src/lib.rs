//! cc-sim: a small, honest stand-in for the Cloud Foundry Cloud Controller's
//! v3 service API.
//!
//! The real Cloud Controller cannot run here, yet the gateway's orphan check
//! and `purge-orphan` need something that answers like it: paginated v3 lists
//! of service instances and credential bindings, and a CC that provisions and
//! binds through service brokers over the Open Service Broker API v2. cc-sim is
//! that, backed by one SQLite file, plus a few fault switches (`/sim/faults`)
//! that create orphans "the real way": the broker succeeds and the CC loses the
//! record.
//!
//! Differences from the real CC, on purpose:
//! - everything is synchronous: `DELETE /v3/service_instances/{guid}` answers
//!   `204` when done instead of `202` with a job;
//! - there are no orgs, spaces, users or apps: one bearer token, and the broker
//!   sees organization `cc-sim-org` and space `cc-sim-space`;
//! - `DELETE /v3/service_credential_bindings/{guid}?purge=true` (delete the
//!   record without telling the broker) is a cc-sim extension;
//! - `GET /v3/service_plans` adds a `broker_name` field;
//! - only the query parameters cc-sim implements are accepted; others are `400`.

mod api;
mod auth;
mod bindings;
mod broker;
mod catalog;
mod clock;
mod config;
mod error;
mod faults;
mod instances;
mod pagination;
mod sim;
mod store;

pub use config::{BrokerConfig, Config};

/// Serve the API on `listener` until the future is dropped.
///
/// Opens (and if needed creates) the SQLite database at `config.db`. Broker
/// catalogs are fetched lazily, so brokers may start after cc-sim.
pub async fn serve(config: Config, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    config.validate()?;
    let local_addr = listener.local_addr()?;
    let state = api::AppState::new(&config, local_addr)?;
    tracing::info!(
        %local_addr,
        db = %config.db.display(),
        brokers = config.brokers.len(),
        "cc-sim serving"
    );
    axum::serve(listener, api::router(state)).await?;
    Ok(())
}
