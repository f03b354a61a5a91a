//! [`HttpError`]: every way an API request can fail, and the one function
//! that turns each into a status code and a `{"error": {"code", "message"}}` body.
//!
//! A client error's message says what was wrong with the request. A server
//! error ([`HttpError::Cache`], [`HttpError::Internal`]) is answered with a
//! fixed plain message; its detail, which may name hosts, ports or the
//! backend's own text, goes only to the log.

use actix_web::{HttpResponse, ResponseError, http::StatusCode, http::header};
use perf_core::{AlertError, CacheStoreError, CoreError};
use serde::Serialize;
use thiserror::Error;

/// The environment variable that holds the API (admin) token.
pub(crate) const TOKEN_VARIABLE: &str = "PERFORMANCE_API_TOKEN";

/// The environment variable that holds the read-only token.
pub(crate) const READ_TOKEN_VARIABLE: &str = "PERFORMANCE_READ_TOKEN";

/// Errors of the perfkit HTTP API.
///
/// Each variant has a stable machine-readable [`code`](HttpError::code) and a
/// status ([`status`](HttpError::status)); the response body is always
/// `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HttpError {
    /// A token is configured and the request did not carry it (401).
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// A mutating endpoint was called while no token is configured (403).
    #[error("this endpoint changes state and is disabled until {TOKEN_VARIABLE} is set")]
    MutationsDisabled,
    /// A mutating endpoint was called with the read-only token (403).
    #[error("this endpoint changes state; the {READ_TOKEN_VARIABLE} grants only reads, use {TOKEN_VARIABLE}")]
    ReadOnlyToken,
    /// The production profile is on and no token is configured, so the API
    /// and `/metrics` serve nothing (403).
    #[error(
        "the production profile serves the performance API and /metrics only with a token: set {TOKEN_VARIABLE} \
         (everything) or {READ_TOKEN_VARIABLE} (reads only)"
    )]
    TokenNotConfigured,
    /// `minutes` was not a whole number in 1..=1440 (400).
    #[error("minutes must be a whole number between 1 and 1440, got {0:?}")]
    InvalidWindow(String),
    /// A query-string parameter was missing, unknown or malformed (400).
    #[error("invalid query parameter {name}: {reason}")]
    InvalidQuery {
        /// The parameter's name.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// The body was not valid JSON (400).
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// The body was JSON of the wrong shape: wrong types, unknown or missing fields (400).
    #[error("request body has the wrong shape: {0}")]
    InvalidBody(String),
    /// The body was larger than the API accepts (413).
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read (400).
    #[error("request body could not be read: {0}")]
    Payload(String),
    /// A threshold value was refused (400).
    #[error(transparent)]
    InvalidThreshold(CoreError),
    /// A cache pattern was refused (400).
    #[error("invalid cache pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern refused (truncated).
        pattern: String,
        /// Why it was refused.
        reason: String,
    },
    /// An alert id that is not a non-negative integer (400).
    #[error("alert id must be a non-negative integer, got {0:?}")]
    InvalidAlertId(String),
    /// No alert has this id (404).
    #[error("alert {0} not found")]
    AlertNotFound(u64),
    /// No API endpoint at this path (404).
    #[error("no performance API endpoint at {0}")]
    NotFound(String),
    /// The endpoint exists but not for this method (405).
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The path requested.
        path: String,
        /// The methods the resource answers, as the `Allow` header lists them.
        allow: &'static str,
    },
    /// The application wired no analytics service (501).
    #[error("no analytics service is configured")]
    AnalyticsUnavailable,
    /// The cache backend failed (503).
    #[error("cache backend failed: {0}")]
    Cache(#[source] CacheStoreError),
    /// The monitored request took longer than the monitor's timeout (504).
    #[error("request timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// Too many expensive API computations run at once (429, with
    /// `Retry-After`); try again after `retry_after` seconds.
    #[error("the performance API is busy with other expensive requests; retry in {retry_after} s")]
    Busy {
        /// Seconds until a retry is worthwhile.
        retry_after: u64,
    },
    /// Something failed inside the server (500).
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
}

impl HttpError {
    /// The status and stable code of this error: the single mapping every
    /// error response goes through.
    pub fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            HttpError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            HttpError::MutationsDisabled => (StatusCode::FORBIDDEN, "mutations_disabled"),
            HttpError::ReadOnlyToken => (StatusCode::FORBIDDEN, "read_only_token"),
            HttpError::TokenNotConfigured => (StatusCode::FORBIDDEN, "token_not_configured"),
            HttpError::InvalidWindow(_) => (StatusCode::BAD_REQUEST, "invalid_minutes"),
            HttpError::InvalidQuery { .. } => (StatusCode::BAD_REQUEST, "invalid_query"),
            HttpError::MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            HttpError::InvalidBody(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            HttpError::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            HttpError::Payload(_) => (StatusCode::BAD_REQUEST, "payload_error"),
            HttpError::InvalidThreshold(_) => (StatusCode::BAD_REQUEST, "invalid_threshold"),
            HttpError::InvalidPattern { .. } => (StatusCode::BAD_REQUEST, "invalid_pattern"),
            HttpError::InvalidAlertId(_) => (StatusCode::BAD_REQUEST, "invalid_alert_id"),
            HttpError::AlertNotFound(_) => (StatusCode::NOT_FOUND, "alert_not_found"),
            HttpError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            HttpError::MethodNotAllowed { .. } => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            HttpError::AnalyticsUnavailable => (StatusCode::NOT_IMPLEMENTED, "analytics_unavailable"),
            HttpError::Cache(_) => (StatusCode::SERVICE_UNAVAILABLE, "cache_unavailable"),
            HttpError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            HttpError::Busy { .. } => (StatusCode::TOO_MANY_REQUESTS, "busy"),
            HttpError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    /// The stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    /// The message sent in the body: this error's text for a client error,
    /// a fixed sentence for a backend or internal failure (whose detail is
    /// logged by the response instead).
    pub fn public_message(&self) -> String {
        match self {
            HttpError::Cache(_) => "the cache backend is unavailable".to_owned(),
            HttpError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }
}

impl From<CacheStoreError> for HttpError {
    fn from(e: CacheStoreError) -> Self {
        match e {
            CacheStoreError::InvalidPattern { pattern, reason } => HttpError::InvalidPattern { pattern, reason },
            other => HttpError::Cache(other),
        }
    }
}

impl From<AlertError> for HttpError {
    fn from(e: AlertError) -> Self {
        match e {
            AlertError::NotFound(id) => HttpError::AlertNotFound(id),
            other => HttpError::Internal(other.to_string()),
        }
    }
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = self.parts();
        if matches!(self, HttpError::Cache(_) | HttpError::Internal(_)) {
            tracing::error!(code, error = %self, "performance API request failed");
        }
        let mut res = HttpResponse::build(status);
        match self {
            HttpError::Unauthorized => {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"perfkit\""));
            }
            // RFC 9110 §15.5.6: a 405 lists the methods the resource answers.
            HttpError::MethodNotAllowed { allow, .. } => {
                res.insert_header((header::ALLOW, *allow));
            }
            _ => {}
        }
        if let HttpError::Busy { retry_after } = self {
            res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        res.json(ErrorBody { error: ErrorDetail { code, message: self.public_message() } })
    }
}
