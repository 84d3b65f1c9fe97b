//! NATS: node announcements in, component discovery out.
//!
//! The gateway listens on `<service>.announce` and asks `<service>.discover`
//! once at start. An announcement from a configured node refreshes its
//! liveness and capacity in `/varz`; one from a node that is not in the
//! config is shown under `unknown_nodes` and never used: which nodes the
//! gateway trusts, and their tokens, come only from its config.
//!
//! It also answers `vcap.component.discover` like the original components,
//! but without the status server's credentials (the original sent them in
//! clear to every NATS client).

use std::sync::Arc;

use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use crate::time::{rfc3339, unix_now, uptime};
use crate::Gateway;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// e.g. `nats://127.0.0.1:4222`; may carry a user and password, so it is
    /// never printed.
    pub url: String,
}

impl std::fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NatsConfig { .. }")
    }
}

/// What a node announces (see `node_core::announce`).
#[derive(Debug, Deserialize)]
struct Announcement {
    id: String,
    service: String,
    address: String,
    available_capacity: u32,
}

/// Listens and answers on NATS until the task is dropped.
pub async fn run(gw: Arc<Gateway>, cfg: NatsConfig, status_addr: String) {
    let client = match async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(&cfg.url)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot reach NATS; no announcements");
            return;
        }
    };
    let service = gw.cfg.service.name.clone();
    let (Ok(mut announces), Ok(mut discovers)) = (
        client.subscribe(format!("{service}.announce")).await,
        client.subscribe("vcap.component.discover").await,
    ) else {
        tracing::warn!("cannot subscribe on NATS; no announcements");
        return;
    };
    // Nodes answer a discover on the reply subject; route it to our handler.
    let inbox = client.new_inbox();
    let Ok(mut replies) = client.subscribe(inbox.clone()).await else {
        return;
    };
    let _ = client
        .publish_with_reply(format!("{service}.discover"), inbox, "".into())
        .await;
    let uuid = uuid::Uuid::new_v4().to_string();
    loop {
        tokio::select! {
            Some(m) = announces.next() => note(&gw, &m.payload),
            Some(m) = replies.next() => note(&gw, &m.payload),
            Some(m) = discovers.next() => {
                if let Some(reply) = m.reply {
                    let body = json!({
                        "type": format!("{service}-Provisioner"),
                        "index": 0,
                        "uuid": uuid,
                        "host": status_addr,
                        "start": rfc3339(gw.started_at),
                        "uptime": uptime(unix_now() - gw.started_at),
                    });
                    let _ = client.publish(reply, body.to_string().into()).await;
                }
            }
            else => return,
        }
    }
}

fn note(gw: &Gateway, payload: &[u8]) {
    let Ok(a) = serde_json::from_slice::<Announcement>(payload) else {
        tracing::debug!("undecodable announcement ignored");
        return;
    };
    let id_ok = !a.id.is_empty()
        && a.id.len() <= 64
        && a.id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if a.service != gw.cfg.service.name || !id_ok || a.address.len() > 256 {
        return;
    }
    match gw.node(&a.id) {
        Some(n) if n.address == a.address => gw.note_announcement(&a.id, a.available_capacity),
        Some(n) => tracing::warn!(
            node = %a.id, announced = %a.address, configured = %n.address,
            "node announced another address than configured; not used"
        ),
        None => gw.note_unknown_node(&a.id, &a.address),
    }
}
