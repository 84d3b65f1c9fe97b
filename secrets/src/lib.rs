//! Small helpers every component uses to keep secrets secret.
//!
//! - [`generate`]: a fresh random secret for a password or a credential;
//! - [`secure_eq`]: compare a presented credential with the expected one in
//!   constant time, so timing does not tell how much of it matched;
//! - [`redact_quoted`]: strip quoted values from a parser's error message
//!   before showing it, because config files hold passwords and tokens and
//!   serde quotes the value it could not read.

use rand::Rng;
use subtle::ConstantTimeEq;

/// A fresh random secret: 32 lowercase hex characters (128 bits).
pub fn generate() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets without leaking, through timing, how much matched.
/// (The length is not hidden; it is not secret enough to matter.)
pub fn secure_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// `message` with every double-quoted value replaced by `"…"`.
pub fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        // Even pieces (0, 2, ...) sit between an opening and a closing quote.
        if i % 2 == 0 {
            out.push_str("\"…");
        } else {
            out.push('"');
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_random_hex() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn equal_only_when_identical() {
        assert!(secure_eq("tok", "tok"));
        assert!(!secure_eq("tok", "to"));
        assert!(!secure_eq("tok", "tok2"));
        assert!(!secure_eq("tok", "Tok"));
        assert!(secure_eq("", ""));
    }

    #[test]
    fn quoted_values_are_removed() {
        assert_eq!(redact_quoted(r#"a "x" b "y" c"#), r#"a "…" b "…" c"#);
        assert_eq!(
            redact_quoted(r#"invalid type: string "token:S3CRET", expected struct"#),
            r#"invalid type: string "…", expected struct"#
        );
        assert_eq!(redact_quoted("no quotes"), "no quotes");
        assert_eq!(redact_quoted(r#"odd "quote"#), r#"odd "…"#);
    }
}
