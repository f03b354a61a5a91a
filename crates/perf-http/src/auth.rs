//! Bearer-token checks for the API and `/metrics`: an admin token
//! (`PERFORMANCE_API_TOKEN`) and a read-only one (`PERFORMANCE_READ_TOKEN`),
//! compared in constant time.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use perf_core::Profile;

use crate::{HttpError, PerfState};

/// An extractor that admits a request allowed to read ([`Access::Read`]):
/// put first among a handler's arguments, so no other work is done for a
/// request that is refused.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Read;

/// An extractor that admits a request allowed to change state
/// ([`Access::Mutate`]: the admin token).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Admin;

/// Runs [`authorize`] for `access` against the `PerfState` the service
/// registered as app data.
fn admit(req: &HttpRequest, access: Access) -> Result<(), HttpError> {
    let state = req
        .app_data::<web::Data<PerfState>>()
        .ok_or_else(|| HttpError::Internal("the performance state is not registered".into()))?;
    authorize(req, state, access)
}

impl FromRequest for Read {
    type Error = HttpError;
    type Future = Ready<Result<Self, HttpError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(admit(req, Access::Read).map(|()| Read))
    }
}

impl FromRequest for Admin {
    type Error = HttpError;
    type Future = Ready<Result<Self, HttpError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(admit(req, Access::Mutate).map(|()| Admin))
    }
}

/// Whether an endpoint reads or changes state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reads: granted by either token, open in development when none is configured.
    Read,
    /// Changes state: needs the API (admin) token.
    Mutate,
}

/// Checks a request against `PERFORMANCE_API_TOKEN` and `PERFORMANCE_READ_TOKEN`.
///
/// | configured | request carries | [`Access::Read`] | [`Access::Mutate`] |
/// |---|---|---|---|
/// | any token | the API token | ok | ok |
/// | any token | the read token | ok | 403 `read_only_token` |
/// | any token | another or none | 401 | 401 |
/// | none, development | anything | ok | 403 `mutations_disabled` |
/// | none, production | anything | 403 `token_not_configured` | 403 `token_not_configured` |
///
/// Both tokens are compared in constant time, and always both, so the
/// timing does not tell which one (if any) was close.
pub(crate) fn authorize(req: &HttpRequest, state: &PerfState, access: Access) -> Result<(), HttpError> {
    let config = state.config();
    let (api, read) = (config.api_token.as_deref(), config.read_token.as_deref());
    if api.is_none() && read.is_none() {
        return match (config.profile, access) {
            (Profile::Production, _) => Err(HttpError::TokenNotConfigured),
            (Profile::Development, Access::Mutate) => Err(HttpError::MutationsDisabled),
            (Profile::Development, Access::Read) => Ok(()),
        };
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .unwrap_or("")
        .as_bytes();
    // Evaluate both comparisons before branching on either.
    let is_admin = api.is_some_and(|t| constant_time_eq(presented, t.as_bytes()));
    let is_reader = read.is_some_and(|t| constant_time_eq(presented, t.as_bytes()));
    match (is_admin, is_reader, access) {
        (true, _, _) | (false, true, Access::Read) => Ok(()),
        (false, true, Access::Mutate) => Err(HttpError::ReadOnlyToken),
        (false, false, _) => Err(HttpError::Unauthorized),
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
