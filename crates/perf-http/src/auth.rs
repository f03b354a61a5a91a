//! Bearer-token checks for the API and `/metrics`, with a constant-time comparison.

use actix_web::{HttpRequest, http::header};

use crate::{HttpError, PerfState};

/// Whether an endpoint reads or changes state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reads: open when no token is configured.
    Read,
    /// Changes state: needs a configured token.
    Mutate,
}

/// Checks a request against the configured `PERFORMANCE_API_TOKEN`.
///
/// With a token configured every request must carry `Authorization: Bearer
/// <token>`; without one, reads are open and mutations are refused.
pub(crate) fn authorize(req: &HttpRequest, state: &PerfState, access: Access) -> Result<(), HttpError> {
    match state.config().api_token.as_deref() {
        Some(expected) => {
            let presented = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(bearer_token)
                .unwrap_or("");
            if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
                Ok(())
            } else {
                Err(HttpError::Unauthorized)
            }
        }
        None if access == Access::Mutate => Err(HttpError::MutationsDisabled),
        None => Ok(()),
    }
}

/// The token of a `Bearer <token>` header value (scheme case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares in time that depends only on the length of `expected`, so the
/// position of the first wrong byte leaks nothing.
pub(crate) fn constant_time_eq(presented: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(presented.len() != expected.len());
    for (i, &e) in expected.iter().enumerate() {
        let p = if presented.is_empty() { 0 } else { presented[i % presented.len()] };
        diff |= p ^ e;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests;
