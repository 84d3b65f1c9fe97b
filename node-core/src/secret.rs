//! Generated secrets and a wrapper that keeps them out of logs.

pub use secrets::generate;

/// A secret from a config file: prints as `<redacted>`, compares in
/// constant time.
#[derive(Clone, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time comparison (the length is not hidden).
    pub fn matches(&self, candidate: &str) -> bool {
        secrets::secure_eq(&self.0, candidate)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Replaces every occurrence of each secret in `text` with `********`, for
/// text that came from outside (a server's log, an error message).
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s, "********");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_and_compares_exactly() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert!(s.matches("hunter2"));
        assert!(!s.matches("hunter") && !s.matches("hunter22") && !s.matches(""));
    }

    #[test]
    fn scrub_masks_every_secret() {
        let s = scrub("auth pw1 failed, pw2 too, pw1 again", &["pw1", "pw2", ""]);
        assert_eq!(s, "auth ******** failed, ******** too, ******** again");
    }
}
