//! Bearer-token authentication for `/v3/*` and `/sim/faults`.
//!
//! The real CC checks a UAA token; cc-sim checks one shared token from the
//! config. The scheme is case-insensitive (`bearer`, `Bearer`); the token is
//! compared in constant time so response timing does not reveal how much of a
//! guess was right (only its length can show).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::api::AppState;
use crate::error::ApiError;

/// Whether an `Authorization` header value carries `expected` as a bearer token.
pub fn bearer_matches(header: Option<&[u8]>, expected: &str) -> bool {
    let Some(value) = header.and_then(|h| std::str::from_utf8(h).ok()) else {
        return false;
    };
    let Some((scheme, token)) = value.trim().split_once(char::is_whitespace) else {
        return false;
    };
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || expected.is_empty() {
        return false;
    }
    token.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// Axum middleware: let the request through or answer 401 CF-NotAuthenticated.
pub async fn require_bearer(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let header = request.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    if bearer_matches(header, &state.token) {
        next.run(request).await
    } else {
        ApiError::not_authenticated().into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: &str) -> bool {
        bearer_matches(Some(header.as_bytes()), "cc-admin-token")
    }

    #[test]
    fn accepts_the_token_with_any_scheme_case() {
        assert!(check("bearer cc-admin-token"));
        assert!(check("Bearer cc-admin-token"));
        assert!(check("BEARER   cc-admin-token  "));
    }

    #[test]
    fn rejects_missing_wrong_or_malformed() {
        assert!(!bearer_matches(None, "cc-admin-token"));
        assert!(!check(""));
        assert!(!check("bearer"));
        assert!(!check("bearer "));
        assert!(!check("cc-admin-token"));
        assert!(!check("Basic cc-admin-token"));
        assert!(!check("bearer cc-admin-toke"));
        assert!(!check("bearer cc-admin-tokenX"));
        assert!(!check("bearer CC-ADMIN-TOKEN"));
        assert!(!bearer_matches(Some(b"bearer \xff\xfe"), "cc-admin-token"));
    }

    #[test]
    fn an_empty_expected_token_matches_nothing() {
        assert!(!bearer_matches(Some(b"bearer x"), ""));
        assert!(!bearer_matches(Some(b"bearer "), ""));
    }
}
