//! Credential checks for every HTTP surface, in constant time.
//!
//! A failed check says nothing about what was wrong: the caller answers
//! `401` with an empty body.

use axum::http::HeaderMap;
use base64::Engine;
use secrets::secure_eq;

/// True when `Authorization: Basic …` carries exactly `user:password`.
pub fn basic_ok(headers: &HeaderMap, user: &str, password: &str) -> bool {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((u, p)) = decoded.split_once(':') else {
        return false;
    };
    // Evaluate both, so timing does not tell which one was wrong.
    let user_ok = secure_eq(u, user);
    let pass_ok = secure_eq(p, password);
    user_ok & pass_ok
}

/// True when `X-VCAP-Service-Token` equals `token`.
pub fn token_ok(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get("x-vcap-service-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| secure_eq(v, token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn basic(user_pass: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        );
        h.insert("authorization", HeaderValue::from_str(&v).unwrap());
        h
    }

    #[test]
    fn basic_auth_accepts_only_the_exact_pair() {
        assert!(basic_ok(&basic("u:p:w"), "u", "p:w"));
        assert!(!basic_ok(&basic("u:p"), "u", "p:w"));
        assert!(!basic_ok(&basic("x:p:w"), "u", "p:w"));
        assert!(!basic_ok(&basic("u"), "u", ""));
        assert!(!basic_ok(&HeaderMap::new(), "u", "p"));
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer abc"));
        assert!(!basic_ok(&h, "u", "p"));
    }

    #[test]
    fn token_must_match_exactly() {
        let mut h = HeaderMap::new();
        h.insert("X-VCAP-Service-Token", HeaderValue::from_static("tok"));
        assert!(token_ok(&h, "tok"));
        assert!(!token_ok(&h, "tok2"));
        assert!(!token_ok(&h, "to"));
        assert!(!token_ok(&HeaderMap::new(), "tok"));
    }
}
