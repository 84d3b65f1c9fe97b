//! Generated secrets and a wrapper that keeps them out of logs.

use rand::Rng;

/// A fresh random secret: 32 lowercase hex characters (128 bits).
pub fn generate() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    fn secrets_are_random_hex() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn scrub_masks_every_secret() {
        let s = scrub("auth pw1 failed, pw2 too, pw1 again", &["pw1", "pw2", ""]);
        assert_eq!(s, "auth ******** failed, ******** too, ******** again");
    }
}
