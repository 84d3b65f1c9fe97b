//! The YAML configuration: where to listen, the SQLite file, the bearer token
//! clients must present, and the service brokers to call.
//!
//! `Debug` is written by hand so that a logged config never shows the token or
//! a broker password.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

/// cc-sim's configuration.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the binary binds, e.g. `127.0.0.1:9022`.
    pub listen: String,
    /// The SQLite database file; created (with its directory) if missing.
    pub db: PathBuf,
    /// The bearer token clients must present.
    pub token: String,
    /// The service brokers this CC knows.
    #[serde(default)]
    pub brokers: Vec<BrokerConfig>,
    /// Base URL for pagination and `links` hrefs; else derived from `Host`.
    #[serde(default)]
    pub external_url: Option<String>,
}

/// One service broker (a gateway), called over OSB API v2 with basic auth.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    pub name: String,
    pub url: String,
    pub user: String,
    pub password: String,
}

impl Config {
    /// Read and check a YAML config file. Errors name the file and the problem.
    pub fn from_yaml_file(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let config: Config = serde_yaml::from_str(&text)
            .with_context(|| format!("malformed config file {}", path.display()))?;
        config
            .validate()
            .with_context(|| format!("invalid config file {}", path.display()))?;
        Ok(config)
    }

    /// Check what serde cannot: a usable token and distinct, well-formed brokers.
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        if self.token.trim().is_empty() {
            bail!("token must not be empty");
        }
        if let Some(url) = &self.external_url {
            check_http_url("external_url", url)?;
        }
        let mut names = std::collections::HashSet::new();
        for broker in &self.brokers {
            if broker.name.trim().is_empty() {
                bail!("a broker has an empty name");
            }
            if !names.insert(broker.name.as_str()) {
                bail!("broker name {:?} appears twice", broker.name);
            }
            check_http_url(&format!("broker {} url", broker.name), &broker.url)?;
        }
        Ok(())
    }
}

fn check_http_url(what: &str, url: &str) -> anyhow::Result<()> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("{what} must start with http:// or https://, got {url:?}");
    }
    Ok(())
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("db", &self.db)
            .field("token", &"<redacted>")
            .field("brokers", &self.brokers)
            .field("external_url", &self.external_url)
            .finish()
    }
}

impl fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "\
listen: 127.0.0.1:9022
db: .cluster/cc.db
token: cc-admin-token        # bearer token clients must present
external_url: http://127.0.0.1:9022
brokers:
  - name: redis
    url: http://127.0.0.1:9031
    user: broker
    password: s3cret
";

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn reads_the_documented_example() {
        let file = write(EXAMPLE);
        let config = Config::from_yaml_file(file.path()).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9022");
        assert_eq!(config.db, PathBuf::from(".cluster/cc.db"));
        assert_eq!(config.token, "cc-admin-token");
        assert_eq!(
            config.external_url.as_deref(),
            Some("http://127.0.0.1:9022")
        );
        assert_eq!(config.brokers.len(), 1);
        assert_eq!(config.brokers[0].name, "redis");
        assert_eq!(config.brokers[0].url, "http://127.0.0.1:9031");
        assert_eq!(config.brokers[0].user, "broker");
        assert_eq!(config.brokers[0].password, "s3cret");
    }

    #[test]
    fn external_url_is_optional() {
        let file = write("listen: 127.0.0.1:1\ndb: x.db\ntoken: t\nbrokers: []\n");
        let config = Config::from_yaml_file(file.path()).unwrap();
        assert_eq!(config.external_url, None);
        assert!(config.brokers.is_empty());
    }

    #[test]
    fn debug_never_shows_the_token_or_passwords() {
        let file = write(EXAMPLE);
        let config = Config::from_yaml_file(file.path()).unwrap();
        let shown = format!("{config:?} {:?}", config.brokers[0]);
        assert!(!shown.contains("cc-admin-token"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("redis") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn malformed_file_names_the_file_and_the_problem() {
        let file = write("listen: 127.0.0.1:1\ndb: [not, a, path\n");
        let err = format!("{:#}", Config::from_yaml_file(file.path()).unwrap_err());
        assert!(err.contains(&file.path().display().to_string()), "{err}");
        assert!(err.contains("malformed config file"), "{err}");

        let file = write("listen: 127.0.0.1:1\ndb: x.db\n");
        let err = format!("{:#}", Config::from_yaml_file(file.path()).unwrap_err());
        assert!(err.contains("missing field `token`"), "{err}");
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err = Config::from_yaml_file(Path::new("/nonexistent/cc-sim.yml")).unwrap_err();
        assert!(format!("{err:#}").contains("cannot read config file /nonexistent/cc-sim.yml"));
    }

    #[test]
    fn rejects_empty_token_duplicate_brokers_and_bad_urls() {
        let base = "listen: a\ndb: x.db\n";
        let cases = [
            ("token: ''\n", "token must not be empty"),
            (
                "token: t\nbrokers:\n- {name: r, url: 'http://a', user: u, password: p}\n- {name: r, url: 'http://b', user: u, password: p}\n",
                "appears twice",
            ),
            (
                "token: t\nbrokers:\n- {name: r, url: 'localhost:1', user: u, password: p}\n",
                "must start with http",
            ),
        ];
        for (rest, expected) in cases {
            let file = write(&format!("{base}{rest}"));
            let err = format!("{:#}", Config::from_yaml_file(file.path()).unwrap_err());
            assert!(err.contains(expected), "{err}");
            assert!(err.contains("invalid config file"), "{err}");
        }
    }
}
