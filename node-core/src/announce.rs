//! NATS announcements: a node tells gateways that it is alive and how much
//! room it has, as the original nodes did on `<service>.announce`.
//!
//! Every `interval` seconds, and in reply to a request on
//! `<service>.discover`, the node publishes an [`Announcement`]. It carries
//! no secret: a gateway uses announcements only to show liveness and
//! capacity; which nodes it trusts (and their tokens) stays in its config.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::node::Node;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// Seconds between two announcements; default 30, as in the original.
    #[serde(default = "default_interval")]
    pub announce_interval: u64,
}

// The URL may carry a user and password: never print it.
impl std::fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsConfig")
            .field("announce_interval", &self.announce_interval)
            .finish_non_exhaustive()
    }
}

fn default_interval() -> u64 {
    30
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announcement {
    pub id: String,
    pub service: String,
    /// The node's gRPC address, e.g. `http://127.0.0.1:9101`.
    pub address: String,
    pub plans: Vec<String>,
    pub capacity: u32,
    pub available_capacity: u32,
}

pub fn announce_subject(service: &str) -> String {
    format!("{service}.announce")
}

pub fn discover_subject(service: &str) -> String {
    format!("{service}.discover")
}

impl<B: Backend> Node<B> {
    /// This node's announcement, or `None` if its registry cannot be read.
    pub fn announcement(&self) -> Option<Announcement> {
        let info = self.info().ok()?;
        let port = self.config().listen.rsplit(':').next().unwrap_or_default();
        Some(Announcement {
            id: info.node_id,
            service: info.service,
            address: format!("http://{}:{port}", self.config().public_host()),
            plans: info.plans,
            capacity: info.capacity,
            available_capacity: info.available_capacity,
        })
    }
}

/// Announces `node` on NATS until the task is dropped. Connection failures
/// are logged and retried; the node works without NATS.
pub async fn run<B: Backend>(node: Arc<Node<B>>, cfg: NatsConfig) {
    let service = node.backend().service();
    let client = loop {
        match async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(&cfg.url)
            .await
        {
            Ok(c) => break c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot reach NATS; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    let mut discover = match client.subscribe(discover_subject(service)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot subscribe on NATS; not announcing");
            return;
        }
    };
    let announce = |reply: Option<async_nats::Subject>| {
        let client = client.clone();
        let node = node.clone();
        async move {
            let Some(a) = node.announcement() else { return };
            let Ok(body) = serde_json::to_vec(&a) else {
                return;
            };
            let subject = reply.unwrap_or_else(|| announce_subject(service).into());
            if let Err(e) = client.publish(subject, body.into()).await {
                tracing::warn!(error = %e, "cannot announce on NATS");
            }
        }
    };
    let mut every = tokio::time::interval(Duration::from_secs(cfg.announce_interval.max(1)));
    loop {
        tokio::select! {
            _ = every.tick() => announce(None).await,
            msg = discover.next() => match msg {
                Some(m) => announce(m.reply).await,
                None => return,
            },
        }
    }
}
