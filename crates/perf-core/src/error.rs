//! Error types of perf-core: one for configuration and validation, and one per
//! trait family whose errors cross crate boundaries.

use thiserror::Error;

/// Errors from configuration, thresholds and window validation.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum CoreError {
    /// An environment variable held a value that could not be used.
    #[error("environment variable {name} has an invalid value {value:?}: {reason}")]
    InvalidEnv {
        /// The variable's name.
        name: &'static str,
        /// The value found.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A threshold was not finite, not positive or out of its range.
    #[error("threshold {name} must be {expected}, got {value}")]
    InvalidThreshold {
        /// The threshold's field name, as in the JSON API.
        name: &'static str,
        /// The value refused.
        value: f64,
        /// The accepted range, in words.
        expected: &'static str,
    },
    /// A time window outside 1..=1440 minutes.
    #[error("window must be between 1 and 1440 minutes, got {0}")]
    InvalidWindow(i64),
    /// A window given as text that is not a whole number of minutes.
    #[error("window must be a whole number of minutes between 1 and 1440")]
    WindowNotANumber,
    /// A configuration value in code that makes no sense.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The system sampler could not start.
    #[error("system sampler unavailable: {0}")]
    SamplerUnavailable(String),
}

/// Errors that cross the [`CacheStore`](crate::CacheStore) and
/// [`CacheAdmin`](crate::CacheAdmin) traits.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CacheStoreError {
    /// A glob pattern that is too long or malformed.
    #[error("invalid cache pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern refused.
        pattern: String,
        /// Why it was refused.
        reason: String,
    },
    /// A key that is empty, too long or otherwise unusable.
    #[error("invalid cache key {key:?}: {reason}")]
    InvalidKey {
        /// The key refused.
        key: String,
        /// Why it was refused.
        reason: String,
    },
    /// The backend failed (e.g. Redis unreachable while no fallback exists).
    #[error("cache backend failed: {message}")]
    Backend {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A value could not be encoded or decoded.
    #[error("cache value could not be encoded or decoded: {0}")]
    Codec(String),
}

/// Errors that cross the [`AnalyticsService`](crate::AnalyticsService) trait.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlertError {
    /// No alert has this id.
    #[error("alert {0} not found")]
    NotFound(u64),
}

impl From<crate::KeyError> for CacheStoreError {
    fn from(e: crate::KeyError) -> Self {
        match e {
            crate::KeyError::Key { key, reason } => CacheStoreError::InvalidKey { key, reason: reason.to_owned() },
            crate::KeyError::Namespace { namespace, reason } => {
                CacheStoreError::InvalidKey { key: namespace, reason: format!("invalid namespace: {reason}") }
            }
        }
    }
}
