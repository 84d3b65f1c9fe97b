//! The purge-orphan config file: where the gateway is, the token that opens
//! its internal API, and how long to wait for it.
//!
//! Parsing is strict (unknown keys are errors) so that a typo such as
//! `tokn:` is caught instead of silently falling back to a default, and the
//! token is wrapped in [`Token`] so that it can never reach a log line or an
//! error message by accident.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Gateway address used when the config has no `gateway_uri`.
pub const DEFAULT_GATEWAY_URI: &str = "localhost:37548";

/// Request timeout used when the config has no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Config path used when neither `-c` nor `$PURGE_ORPHAN_CONFIG` is given.
pub const DEFAULT_CONFIG_PATH: &str = "config/purge-orphan.yml";

/// Environment variable naming the config file when `-c` is not given.
pub const CONFIG_ENV: &str = "PURGE_ORPHAN_CONFIG";

/// The settings purge-orphan needs to talk to a gateway.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URI of the gateway's broker port, with a scheme and no trailing `/`.
    pub gateway_uri: String,
    /// The gateway's `X-VCAP-Service-Token`.
    pub token: Token,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// The shared secret of the gateway's internal API.
///
/// It has no `Display`, and its `Debug` is redacted: the only way to read it
/// is [`Token::expose`], used when the request header is built.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

/// A config file that cannot be used; the message names the file.
#[derive(Debug)]
pub struct ConfigError(String);

/// The file as written; every key optional so that defaults can be applied.
#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with the keys gateway_uri, token and timeout"
)]
struct RawConfig {
    gateway_uri: Option<String>,
    token: Option<Token>,
    timeout: Option<u64>,
}

/// Picks the config file: `-c` first, then `$PURGE_ORPHAN_CONFIG` (when set
/// and not empty), then [`DEFAULT_CONFIG_PATH`].
pub fn resolve_path(flag: Option<PathBuf>, env: Option<std::ffi::OsString>) -> PathBuf {
    flag.or_else(|| env.filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config {}: {e}", path.display())))?;
        Config::parse(&text).map_err(|e| ConfigError(format!("config {}: {e}", path.display())))
    }

    /// Parses and validates config text; the error does not name a file.
    pub fn parse(text: &str) -> Result<Config, String> {
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| secrets::redact_quoted(&e.to_string()))?
        };
        let token = match raw.token {
            None => return Err("token is required".into()),
            Some(t) if t.0.is_empty() => return Err("token is empty".into()),
            Some(t) => t,
        };
        let gateway_uri = normalize_uri(raw.gateway_uri.as_deref().unwrap_or(DEFAULT_GATEWAY_URI))?;
        let timeout = match raw.timeout {
            None => DEFAULT_TIMEOUT,
            Some(0) => return Err("timeout must be at least 1 second".into()),
            Some(secs) => Duration::from_secs(secs),
        };
        Ok(Config {
            gateway_uri,
            token,
            timeout,
        })
    }
}

/// Prepends `http://` when the URI has no scheme, accepts only http and
/// https, and drops trailing slashes so paths can be appended.
fn normalize_uri(uri: &str) -> Result<String, String> {
    let uri = uri.trim();
    if uri.is_empty() {
        return Err("gateway_uri is empty".into());
    }
    let with_scheme = match uri.split_once("://") {
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("http") => uri.to_string(),
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => uri.to_string(),
        Some((scheme, _)) => {
            return Err(format!(
                "gateway_uri {uri:?} has the scheme {scheme:?}; only http and https are supported"
            ))
        }
        None => format!("http://{uri}"),
    };
    let parsed = reqwest::Url::parse(&with_scheme)
        .map_err(|e| format!("gateway_uri {uri:?} is not a valid URI: {e}"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Not echoed: it may hold a password.
        return Err(
            "gateway_uri must not contain user:password@; the gateway authenticates by token"
                .into(),
        );
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("gateway_uri {uri:?} has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "gateway_uri {uri:?} must not have a query or fragment"
        ));
    }
    Ok(with_scheme.trim_end_matches('/').to_string())
}

impl Token {
    /// Wraps a token value.
    pub fn new(value: impl Into<String>) -> Token {
        Token(value.into())
    }

    /// The secret itself, for the request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Accepts any YAML scalar as text (so `token: 0xdeadbeef` or `token: 1234`
/// work) and rejects other types without ever quoting the value.
impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Token, D::Error> {
        struct TokenVisitor;

        impl Visitor<'_> for TokenVisitor {
            type Value = Token;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the token as a string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Token, E> {
                if v.chars().all(|c| c == '\t' || (' '..='~').contains(&c)) {
                    Ok(Token(v.to_string()))
                } else {
                    Err(E::custom(
                        "token may hold only printable ASCII characters (it is sent as an HTTP header)",
                    ))
                }
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Token, E> {
                Ok(Token(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Token, E> {
                Ok(Token(v.to_string()))
            }
        }

        deserializer.deserialize_str(TokenVisitor)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_only_the_token_is_given() {
        let config = Config::parse("token: abc\n").unwrap();
        assert_eq!(config.gateway_uri, "http://localhost:37548");
        assert_eq!(config.token.expose(), "abc");
        assert_eq!(config.timeout, Duration::from_secs(30));
    }

    #[test]
    fn all_keys_are_read() {
        let config = Config::parse(
            "gateway_uri: https://gw.example.com:8443/\ntoken: \"s3cret\"\ntimeout: 5\n",
        )
        .unwrap();
        assert_eq!(config.gateway_uri, "https://gw.example.com:8443");
        assert_eq!(config.token.expose(), "s3cret");
        assert_eq!(config.timeout, Duration::from_secs(5));
    }

    #[test]
    fn http_is_prepended_when_the_scheme_is_missing() {
        let config = Config::parse("gateway_uri: 10.0.0.7:37548\ntoken: t\n").unwrap();
        assert_eq!(config.gateway_uri, "http://10.0.0.7:37548");
        let config = Config::parse("gateway_uri: HTTP://gw:1\ntoken: t\n").unwrap();
        assert_eq!(config.gateway_uri, "HTTP://gw:1");
    }

    #[test]
    fn other_schemes_and_bad_uris_are_rejected() {
        let err = Config::parse("gateway_uri: ftp://gw:1\ntoken: t\n").unwrap_err();
        assert!(err.contains("only http and https"), "{err}");
        let err = Config::parse("gateway_uri: \"\"\ntoken: t\n").unwrap_err();
        assert!(err.contains("gateway_uri is empty"), "{err}");
        let err = Config::parse("gateway_uri: \"gw:notaport\"\ntoken: t\n").unwrap_err();
        assert!(err.contains("not a valid URI"), "{err}");
        let err = Config::parse("gateway_uri: \"gw:1/?a=b\"\ntoken: t\n").unwrap_err();
        assert!(err.contains("query"), "{err}");
        let err = Config::parse("token:S3CRET-VALUE\n")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("S3CRET-VALUE"), "{err}");
        let err = normalize_uri("http://user:pa55word@127.0.0.1:1").unwrap_err();
        assert!(
            err.contains("user:password@") && !err.contains("pa55word"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_or_empty_token_is_an_error() {
        assert_eq!(
            Config::parse("timeout: 3\n").unwrap_err(),
            "token is required"
        );
        assert_eq!(Config::parse("token:\n").unwrap_err(), "token is required");
        assert_eq!(
            Config::parse("token: \"\"\n").unwrap_err(),
            "token is empty"
        );
        assert_eq!(Config::parse("").unwrap_err(), "token is required");
    }

    #[test]
    fn scalar_tokens_are_kept_as_written() {
        let config = Config::parse("token: 0xdeadbeef\n").unwrap();
        assert_eq!(config.token.expose(), "0xdeadbeef");
        let config = Config::parse("token: 1234\n").unwrap();
        assert_eq!(config.token.expose(), "1234");
    }

    #[test]
    fn a_token_of_the_wrong_type_is_rejected_without_quoting_it() {
        let err = Config::parse("token: [hunter2]\n").unwrap_err();
        assert!(err.contains("token"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = Config::parse("token: \"hunter2\\n\"\n").unwrap_err();
        assert!(err.contains("printable ASCII"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key() {
        let err = Config::parse("token: t\ntimout: 5\n").unwrap_err();
        assert!(err.contains("unknown field `timout`"), "{err}");
    }

    #[test]
    fn a_zero_or_non_numeric_timeout_is_rejected() {
        let err = Config::parse("token: t\ntimeout: 0\n").unwrap_err();
        assert!(err.contains("timeout"), "{err}");
        let err = Config::parse("token: t\ntimeout: soon\n").unwrap_err();
        assert!(err.contains("timeout"), "{err}");
    }

    #[test]
    fn a_config_that_is_not_a_mapping_is_rejected() {
        let err = Config::parse("- token\n").unwrap_err();
        assert!(err.contains("a mapping with the keys"), "{err}");
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let config = Config::parse("token: very-secret-value\n").unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("very-secret-value"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn load_names_the_file_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.yml");
        let err = Config::load(&missing).unwrap_err().to_string();
        assert!(err.starts_with("cannot read config"), "{err}");
        assert!(err.contains("nope.yml"), "{err}");

        let bad = dir.path().join("bad.yml");
        std::fs::write(&bad, "tokn: x\n").unwrap();
        let err = Config::load(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.yml"), "{err}");
        assert!(err.contains("tokn"), "{err}");
    }

    #[test]
    fn the_config_path_comes_from_the_flag_then_the_environment() {
        let flag = Some(PathBuf::from("a.yml"));
        let env = Some(std::ffi::OsString::from("b.yml"));
        assert_eq!(resolve_path(flag, env.clone()), PathBuf::from("a.yml"));
        assert_eq!(resolve_path(None, env), PathBuf::from("b.yml"));
        assert_eq!(
            resolve_path(None, Some(std::ffi::OsString::new())),
            PathBuf::from(DEFAULT_CONFIG_PATH)
        );
        assert_eq!(resolve_path(None, None), PathBuf::from(DEFAULT_CONFIG_PATH));
    }
}
