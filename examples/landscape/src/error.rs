//! [`AppError`]: every failure of the service, answered as
//! `{"error": {"code", "message"}}` like the perf API.
//!
//! A server-side failure (database, pool, blocking task) is answered with
//! its stable code and a fixed plain message; the driver's text, which can
//! name hosts, ports, databases and SQL, goes only to the log.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde_json::json;

/// What can go wrong while answering a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The path names nothing.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed; `code` says which part.
    #[error("{message}")]
    BadRequest {
        /// A stable machine-readable code.
        code: &'static str,
        /// What was wrong, with the bad value.
        message: String,
    },
    /// The body is larger than the service reads (413).
    #[error("body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    /// No connection could be taken from the pool.
    #[error("database unavailable: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// The database is known to be down (the outage latch is set): answered
    /// like [`AppError::Pool`], without waiting on the pool.
    #[error("database unavailable: known to be down")]
    DatabaseDown,
    /// The request body did not arrive within the body read timeout (408).
    #[error("request body not received within {seconds} s")]
    BodyTimeout {
        /// The timeout in seconds.
        seconds: u64,
    },
    /// The blocking task was cancelled.
    #[error("background task failed: {0}")]
    Blocking(#[from] actix_web::error::BlockingError),
}

/// The `Retry-After` (seconds) of a 503 `database_unavailable`: about when
/// the outage probe will have tried again.
pub const RETRY_AFTER_SECS: u64 = 1;

impl From<crate::outage::CheckoutError> for AppError {
    fn from(e: crate::outage::CheckoutError) -> Self {
        match e {
            crate::outage::CheckoutError::Pool(e) => AppError::Pool(e),
            crate::outage::CheckoutError::Down => AppError::DatabaseDown,
        }
    }
}

impl AppError {
    /// A 400 with `code` and `message`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest { code, message: message.into() }
    }

    /// The message sent to the client: the detail of a client error, and a
    /// fixed sentence for a server error (whose detail is logged instead).
    pub fn public_message(&self) -> String {
        match self {
            AppError::NotFound(message) | AppError::BadRequest { message, .. } => message.clone(),
            AppError::PayloadTooLarge { .. } | AppError::BodyTimeout { .. } => self.to_string(),
            AppError::Database(_) => "the database could not complete the request".to_owned(),
            AppError::Pool(_) | AppError::DatabaseDown => "the database is unavailable; try again later".to_owned(),
            AppError::Blocking(_) => "the request could not be completed".to_owned(),
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::NotFound(_) => "not_found",
            AppError::BadRequest { code, .. } => code,
            AppError::PayloadTooLarge { .. } => "payload_too_large",
            AppError::Database(_) => "database_error",
            AppError::Pool(_) | AppError::DatabaseDown => "database_unavailable",
            AppError::BodyTimeout { .. } => "request_timeout",
            AppError::Blocking(_) => "internal_error",
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            AppError::Pool(_) | AppError::DatabaseDown => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) | AppError::Blocking(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // A latched outage was logged once when it began, not per request.
        if self.status_code().is_server_error() && !matches!(self, AppError::DatabaseDown) {
            tracing::error!(code = self.code(), error = %self, "request failed");
        }
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header(("cache-control", "no-store"));
        match self {
            AppError::Pool(_) | AppError::DatabaseDown => {
                res.insert_header(("retry-after", RETRY_AFTER_SECS.to_string()));
            }
            // The rest of the body may never come: do not keep the
            // connection for another request.
            AppError::BodyTimeout { .. } => {
                res.force_close();
            }
            _ => {}
        }
        res.json(json!({"error": {"code": self.code(), "message": self.public_message()}}))
    }
}

#[cfg(test)]
mod tests;
