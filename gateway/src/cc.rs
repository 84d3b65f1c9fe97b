//! The Cloud Controller client: reads every service instance and credential
//! binding through the CF v3 API, following `pagination.next.href` to the end.
//!
//! A snapshot is all or nothing: a failed page, an undecodable body, or a
//! count that disagrees with `pagination.total_results` is an error, never a
//! shorter list, because a shorter list would make live objects look like
//! orphans.

use std::time::Duration;

use serde_json::Value;

use crate::config::CcConfig;
use crate::orphan::CcSnapshot;

/// Safety stop for a CC that keeps sending `next` links.
const MAX_PAGES: usize = 100_000;

#[derive(Clone)]
pub struct CcClient {
    http: reqwest::Client,
    base: String,
    token: String,
    per_page: u32,
}

impl CcClient {
    pub fn new(cfg: &CcConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.timeout))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(CcClient {
            http,
            base: cfg.url.trim_end_matches('/').to_string(),
            token: cfg.token.clone(),
            per_page: cfg.per_page,
        })
    }

    /// Reads every instance and binding. Any failure fails the whole snapshot.
    pub async fn snapshot(&self) -> anyhow::Result<CcSnapshot> {
        let instances = self.list_all("/v3/service_instances").await?;
        let bindings = self.list_all("/v3/service_credential_bindings").await?;
        let mut snap = CcSnapshot::default();
        for r in instances {
            snap.instances.insert(guid(&r, "service instance")?);
        }
        for r in bindings {
            let id = guid(&r, "credential binding")?;
            let instance = r
                .pointer("/relationships/service_instance/data/guid")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    anyhow::anyhow!("CC credential binding {id} has no service instance")
                })?;
            snap.bindings.insert(id, instance.to_string());
        }
        Ok(snap)
    }

    async fn list_all(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let mut url = format!("{}{path}?per_page={}", self.base, self.per_page);
        let mut out = Vec::new();
        let mut expected: Option<u64> = None;
        for page in 1..=MAX_PAGES {
            let body = self
                .get(&url)
                .await
                .map_err(|e| anyhow::anyhow!("CC {path} page {page}: {e}"))?;
            let total = body
                .pointer("/pagination/total_results")
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    anyhow::anyhow!("CC {path} page {page}: no pagination.total_results")
                })?;
            if *expected.get_or_insert(total) != total {
                anyhow::bail!(
                    "CC {path}: total_results changed from {} to {total} while paging",
                    expected.unwrap()
                );
            }
            let resources = body
                .get("resources")
                .and_then(Value::as_array)
                .ok_or_else(|| anyhow::anyhow!("CC {path} page {page}: no resources array"))?;
            out.extend(resources.iter().cloned());
            match body
                .pointer("/pagination/next/href")
                .and_then(Value::as_str)
            {
                Some(next) => url = next.to_string(),
                None => {
                    if out.len() as u64 != total {
                        anyhow::bail!(
                            "CC {path}: list cut short: received {} of {total} resources",
                            out.len()
                        );
                    }
                    return Ok(out);
                }
            }
        }
        anyhow::bail!("CC {path}: more than {MAX_PAGES} pages")
    }

    async fn get(&self, url: &str) -> anyhow::Result<Value> {
        let resp = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.without_url()))?;
        let status = resp.status();
        if !status.is_success() {
            anyhow::bail!("HTTP {status}");
        }
        resp.json::<Value>()
            .await
            .map_err(|e| anyhow::anyhow!("undecodable body: {}", e.without_url()))
    }
}

fn guid(r: &Value, what: &str) -> anyhow::Result<String> {
    r.get("guid")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("CC {what} without a guid"))
}
