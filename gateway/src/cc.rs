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
                // The token goes with every request: only to the CC itself.
                Some(next) if !same_origin(next, &self.base) => {
                    anyhow::bail!("CC {path} page {page}: next link leaves the CC's origin")
                }
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

    /// Asks the CC directly whether it knows instance `guid`, itself or
    /// through one of its bindings. A purge confirms each item this way, so
    /// a list read that missed an item (offset paging while the CC changes)
    /// cannot make a live instance look unknown.
    pub async fn instance_known(&self, guid: &str) -> anyhow::Result<bool> {
        if self
            .exists(&format!("{}/v3/service_instances/{guid}", self.base))
            .await?
        {
            return Ok(true);
        }
        let url = format!(
            "{}/v3/service_credential_bindings?service_instance_guids={guid}&per_page=1",
            self.base
        );
        let body = self.get(&url).await?;
        let n = body
            .pointer("/pagination/total_results")
            .and_then(Value::as_u64)
            .ok_or_else(|| anyhow::anyhow!("no pagination.total_results"))?;
        Ok(n > 0)
    }

    /// Asks the CC directly whether it knows credential binding `guid`.
    pub async fn binding_known(&self, guid: &str) -> anyhow::Result<bool> {
        self.exists(&format!(
            "{}/v3/service_credential_bindings/{guid}",
            self.base
        ))
        .await
    }

    /// `true` on 200, `false` on 404, an error otherwise.
    async fn exists(&self, url: &str) -> anyhow::Result<bool> {
        match self.send(url).await?.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            s => anyhow::bail!("HTTP {s}"),
        }
    }

    /// The JSON body of a successful GET.
    async fn get(&self, url: &str) -> anyhow::Result<Value> {
        let resp = self.send(url).await?;
        let status = resp.status();
        if !status.is_success() {
            anyhow::bail!("HTTP {status}");
        }
        resp.json::<Value>()
            .await
            .map_err(|e| anyhow::anyhow!("undecodable body: {}", e.without_url()))
    }

    /// A GET with the CC token; errors never carry the URL.
    async fn send(&self, url: &str) -> anyhow::Result<reqwest::Response> {
        self.http
            .get(url)
            .bearer_auth(&self.token)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.without_url()))
    }
}

/// True when `url` is on the same scheme, host and port as `base`.
fn same_origin(url: &str, base: &str) -> bool {
    match (reqwest::Url::parse(url), reqwest::Url::parse(base)) {
        (Ok(u), Ok(b)) => u.origin() == b.origin(),
        _ => false,
    }
}

fn guid(r: &Value, what: &str) -> anyhow::Result<String> {
    r.get("guid")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("CC {what} without a guid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_must_stay_on_the_cc() {
        let base = "http://127.0.0.1:9022";
        assert!(same_origin("http://127.0.0.1:9022/v3/x?page=2", base));
        assert!(!same_origin("http://127.0.0.1:9023/v3/x?page=2", base));
        assert!(!same_origin("https://127.0.0.1:9022/v3/x", base));
        assert!(!same_origin("http://evil.example/v3/x", base));
        assert!(!same_origin("/v3/x?page=2", base));
    }
}
