//! HTTP client for the gateway's internal API (`check_orphan`, `purge_orphan`).
//!
//! It turns every way a request can go wrong (no connection, timeout, 401,
//! an error status, a reply that is not what docs/gateway-api.md promises)
//! into a [`GatewayError`] whose message names the URL but never the token:
//! the token only ever travels in a header marked sensitive, and reqwest
//! errors are reduced to their causes, which do not carry headers.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::orphan_file::Orphans;

const CHECK_PATH: &str = "/service/internal/v1/check_orphan";
const PURGE_PATH: &str = "/service/internal/v1/purge_orphan";
const TOKEN_HEADER: &str = "X-VCAP-Service-Token";

/// A client for one gateway.
#[derive(Debug)]
pub struct Gateway {
    base: String,
    timeout: Duration,
    http: reqwest::Client,
}

/// The gateway's answer to `check_orphan`.
#[derive(Debug)]
pub enum CheckReply {
    /// `202`: a check was started.
    Started { check_id: String },
    /// `409`: a check is already running; no second one was started.
    AlreadyRunning { check_id: String },
    /// `200` (with `?wait=true`): the check ended with this report.
    Finished(CheckReport),
}

/// The report of a finished check: the /varz `last_check` object plus the
/// two orphan maps.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub check_id: String,
    /// `ok`, `partial`, `failed` or `refused` (`running` should not appear).
    pub outcome: String,
    pub message: String,
    /// Node id → why it did not answer (kept as JSON: usually a string).
    pub unreachable_nodes: Map<String, Value>,
    pub unverified_bindings: u64,
    pub orphans: Orphans,
}

/// The gateway's answer to `purge_orphan`: one result per item.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PurgeReport {
    pub results: Vec<ItemResult>,
}

/// What happened to one instance or binding.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ItemResult {
    pub node_id: String,
    /// `instance` or `binding`.
    pub kind: String,
    pub instance_id: String,
    #[serde(default)]
    pub binding_id: Option<String>,
    /// `purged`, `not_found`, `failed` or `refused`.
    pub outcome: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A request that did not produce the expected answer.
#[derive(Debug)]
pub enum GatewayError {
    /// The client could not be built (e.g. TLS setup).
    Client(String),
    /// No connection, or it broke before a reply came.
    Unreachable { url: String, cause: String },
    /// No reply within the timeout.
    Timeout { url: String, after: Duration },
    /// `401`: the token was refused.
    Rejected,
    /// Any other unexpected status, with the gateway's `error` if it gave one.
    Status {
        url: String,
        status: StatusCode,
        error: Option<String>,
    },
    /// The status was right but the body was not the documented JSON.
    BadReply {
        url: String,
        status: StatusCode,
        cause: String,
    },
}

impl Gateway {
    /// A client for the gateway in `config`, with `timeout` per request (the
    /// connect timeout is always the config's).
    pub fn new(config: &Config, timeout: Duration) -> Result<Gateway, GatewayError> {
        let mut token = HeaderValue::from_str(config.token.expose()).map_err(|_| {
            GatewayError::Client("the token cannot be sent as an HTTP header".into())
        })?;
        token.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(TOKEN_HEADER, token);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(timeout)
            .connect_timeout(config.timeout)
            // A redirect would carry the token header to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                GatewayError::Client(format!("cannot set up the HTTP client: {}", causes(&e)))
            })?;
        Ok(Gateway {
            base: config.gateway_uri.clone(),
            timeout,
            http,
        })
    }

    /// `POST check_orphan` with body `{}`; with `wait`, `?wait=true` and the
    /// reply comes when the check ends.
    pub async fn check_orphan(&self, wait: bool) -> Result<CheckReply, GatewayError> {
        let url = if wait {
            format!("{}{CHECK_PATH}?wait=true", self.base)
        } else {
            format!("{}{CHECK_PATH}", self.base)
        };
        let (status, body) = self.send(Method::POST, &url, "{}".to_string()).await?;
        // The status alone says what happened; the id is only informative.
        let check_id = || check_id_of(&body);
        match status {
            StatusCode::ACCEPTED => Ok(CheckReply::Started {
                check_id: check_id(),
            }),
            StatusCode::CONFLICT => Ok(CheckReply::AlreadyRunning {
                check_id: check_id(),
            }),
            StatusCode::OK => {
                let reply: Value = json_body(&url, status, &body)?;
                CheckReport::from_value(&reply)
                    .map(CheckReply::Finished)
                    .map_err(|cause| GatewayError::BadReply { url, status, cause })
            }
            _ => Err(status_error(url, status, &body)),
        }
    }

    /// `DELETE purge_orphan` with the two maps; returns one result per item.
    pub async fn purge_orphan(&self, orphans: &Orphans) -> Result<PurgeReport, GatewayError> {
        let url = format!("{}{PURGE_PATH}", self.base);
        let body = serde_json::to_string(orphans).expect("orphan maps serialize to JSON");
        let (status, body) = self.send(Method::DELETE, &url, body).await?;
        match status {
            StatusCode::OK => json_body(&url, status, &body),
            _ => Err(status_error(url, status, &body)),
        }
    }

    /// Sends one request and reads the whole reply.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: String,
    ) -> Result<(StatusCode, String), GatewayError> {
        let request_error = |e: reqwest::Error| {
            if e.is_timeout() {
                GatewayError::Timeout {
                    url: url.to_string(),
                    after: self.timeout,
                }
            } else {
                GatewayError::Unreachable {
                    url: url.to_string(),
                    cause: causes(&e),
                }
            }
        };
        let response = self
            .http
            .request(method, url)
            .body(body)
            .send()
            .await
            .map_err(request_error)?;
        let status = response.status();
        let text = response.text().await.map_err(request_error)?;
        Ok((status, text))
    }
}

impl CheckReport {
    /// Reads a check report leniently: missing text fields are empty, but the
    /// orphan maps must have the documented shape.
    fn from_value(reply: &Value) -> Result<CheckReport, String> {
        let text = |key: &str| {
            reply
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let outcome = text("outcome");
        if outcome.is_empty() {
            return Err("the check report has no outcome".into());
        }
        let orphans =
            Orphans::from_maps(reply.get("orphan_instances"), reply.get("orphan_bindings"))?;
        Ok(CheckReport {
            check_id: text("check_id"),
            outcome,
            message: text("message"),
            unreachable_nodes: reply
                .get("unreachable_nodes")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            unverified_bindings: reply
                .get("unverified_bindings")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            orphans,
        })
    }
}

fn json_body<T: serde::de::DeserializeOwned>(
    url: &str,
    status: StatusCode,
    body: &str,
) -> Result<T, GatewayError> {
    serde_json::from_str(body).map_err(|e| GatewayError::BadReply {
        url: url.to_string(),
        status,
        cause: e.to_string(),
    })
}

fn check_id_of(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("check_id")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn status_error(url: String, status: StatusCode, body: &str) -> GatewayError {
    if status == StatusCode::UNAUTHORIZED {
        return GatewayError::Rejected;
    }
    let error = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string));
    GatewayError::Status { url, status, error }
}

/// The causes below reqwest's own "error sending request for url (…)",
/// joined with ": ". None of them include request headers.
fn causes(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayError::Client(msg) => f.write_str(msg),
            GatewayError::Unreachable { url, cause } => {
                write!(f, "cannot reach the gateway at {url}: {cause}")
            }
            GatewayError::Timeout { url, after } => write!(
                f,
                "the gateway at {url} did not answer within {}s",
                after.as_secs()
            ),
            GatewayError::Rejected => f.write_str("gateway rejected the token (401)"),
            GatewayError::Status {
                url,
                status,
                error: Some(error),
            } => {
                write!(f, "gateway answered {status} to {url}: {error}")
            }
            GatewayError::Status {
                url,
                status,
                error: None,
            } => {
                write!(f, "gateway answered {status} to {url} (no error message)")
            }
            GatewayError::BadReply { url, status, cause } => write!(
                f,
                "gateway answered {status} to {url} but the reply is not as documented: {cause}"
            ),
        }
    }
}

impl std::error::Error for GatewayError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_401_is_reported_as_a_rejected_token() {
        let err = status_error("http://gw/x".into(), StatusCode::UNAUTHORIZED, "");
        assert_eq!(err.to_string(), "gateway rejected the token (401)");
    }

    #[test]
    fn other_statuses_show_the_gateways_error_field() {
        let err = status_error(
            "http://gw/x".into(),
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"error": "cloud controller unreachable"}"#,
        );
        let text = err.to_string();
        assert!(text.contains("503 Service Unavailable"), "{text}");
        assert!(text.contains("cloud controller unreachable"), "{text}");
        assert!(text.contains("http://gw/x"), "{text}");

        let err = status_error("http://gw/x".into(), StatusCode::BAD_GATEWAY, "<html>");
        assert!(err
            .to_string()
            .contains("502 Bad Gateway to http://gw/x (no error message)"));
    }

    #[test]
    fn the_check_id_is_read_when_present() {
        assert_eq!(
            check_id_of(r#"{"check_id": "c9", "status": "started"}"#),
            "c9"
        );
        assert_eq!(check_id_of(""), "unknown");
    }

    #[test]
    fn a_purge_report_parses() {
        let report: PurgeReport = serde_json::from_value(json!({
            "results": [
                {"node_id": "n0", "kind": "instance", "instance_id": "i1", "outcome": "purged", "reason": ""},
                {"node_id": "n1", "kind": "binding", "instance_id": "i2", "binding_id": "b2",
                 "outcome": "not_found", "reason": "no such binding"}
            ],
            "summary": {"purged": 1, "not_found": 1, "failed": 0, "refused": 0}
        }))
        .unwrap();
        assert_eq!(report.results.len(), 2);
        assert_eq!(report.results[1].binding_id.as_deref(), Some("b2"));
        assert_eq!(report.results[1].reason.as_deref(), Some("no such binding"));
    }

    #[test]
    fn a_check_report_parses_with_its_orphans() {
        let report = CheckReport::from_value(&json!({
            "check_id": "c1", "started_at": "t0", "finished_at": "t1",
            "outcome": "partial", "message": "1 node did not answer",
            "unreachable_nodes": {"n2": "timeout"}, "unverified_bindings": 3,
            "orphan_instances": {"n0": ["i1"]},
            "orphan_bindings": {"n0": [{"instance_id": "i1", "binding_id": "b1"}]}
        }))
        .unwrap();
        assert_eq!(report.check_id, "c1");
        assert_eq!(report.outcome, "partial");
        assert_eq!(report.unreachable_nodes["n2"], json!("timeout"));
        assert_eq!(report.unverified_bindings, 3);
        assert_eq!(report.orphans.item_count(), 2);
    }

    #[test]
    fn a_check_report_without_outcome_or_with_bad_maps_is_rejected() {
        assert!(CheckReport::from_value(&json!({"check_id": "c"})).is_err());
        let err =
            CheckReport::from_value(&json!({"outcome": "ok", "orphan_instances": []})).unwrap_err();
        assert!(err.contains("orphan_instances"), "{err}");
    }

    #[test]
    fn the_token_is_not_in_the_clients_debug_output() {
        let config = Config::parse("token: tok-123-secret\n").unwrap();
        let gateway = Gateway::new(&config, Duration::from_secs(1)).unwrap();
        let debug = format!("{gateway:?}");
        assert!(!debug.contains("tok-123-secret"), "{debug}");
    }
}
