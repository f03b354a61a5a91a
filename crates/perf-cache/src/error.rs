//! [`CacheError`]: everything that can go wrong inside perf-cache, and its
//! conversion into the core [`CacheStoreError`] that crosses the traits.

use std::time::Duration;

use perf_core::CacheStoreError;
use thiserror::Error;

/// Errors of the perf-cache crate.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CacheError {
    /// A key that is empty or too long.
    #[error("invalid cache key {key:?}: {reason}")]
    InvalidKey {
        /// The key refused (truncated to 64 bytes).
        key: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A glob pattern that is too long or malformed.
    #[error("invalid cache pattern {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern refused (truncated to 64 bytes).
        pattern: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A namespace name that is empty, too long or contains `:`.
    #[error("invalid cache namespace {namespace:?}: {reason}")]
    InvalidNamespace {
        /// The namespace refused (truncated to 64 bytes).
        namespace: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A configuration value that makes no sense.
    #[error("invalid cache configuration: {0}")]
    InvalidConfig(String),
    /// Redis answered with an error or the connection failed.
    #[cfg(feature = "redis")]
    #[error("redis {op} failed")]
    Redis {
        /// The operation that failed.
        op: &'static str,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// Redis did not answer within the per-operation timeout.
    #[error("redis {op} timed out after {after:?}")]
    Timeout {
        /// The operation that timed out.
        op: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// The Redis circuit breaker is open: the operation was not attempted.
    #[error("redis circuit breaker is open")]
    BreakerOpen,
    /// A value could not be encoded or decoded with postcard.
    #[error("cache value could not be encoded or decoded")]
    Codec(#[source] postcard::Error),
    /// A value read from Redis did not carry perf-cache's envelope.
    #[error("cache value read from redis is not in perf-cache's format")]
    BadEnvelope,
    /// The operation needs a tokio runtime and none is running.
    #[error("no tokio runtime is running: build this cache inside one")]
    NoRuntime,
    /// The background maintenance thread could not be started.
    #[error("could not start the cache maintenance thread")]
    Spawn(#[source] std::io::Error),
    /// The backend behind a [`crate::TypedCache`] failed.
    #[error("cache backend failed")]
    Store(#[source] CacheStoreError),
    /// A default cache was already installed in this process.
    #[error("a default cache is already installed")]
    AlreadyInstalled,
}

impl CacheError {
    /// Whether this failure says Redis is unreachable or stalled (as opposed
    /// to bad input), i.e. whether it should count against the breaker.
    pub fn is_backend_failure(&self) -> bool {
        match self {
            #[cfg(feature = "redis")]
            CacheError::Redis { .. } => true,
            CacheError::Timeout { .. } | CacheError::BreakerOpen => true,
            _ => false,
        }
    }

    /// Whether this failure says Redis could not be reached: an I/O error,
    /// a refused or dropped connection, a timeout (ours or the client's), or
    /// an open breaker. Only these open the breaker.
    pub fn is_unreachable(&self) -> bool {
        match self {
            CacheError::Timeout { .. } | CacheError::BreakerOpen => true,
            #[cfg(feature = "redis")]
            CacheError::Redis { source, .. } => unreachable_error(source),
            _ => false,
        }
    }

    /// For a command Redis answered with an error (it was reachable), the
    /// cause: the server's error code (`OOM`, `READONLY`, `NOAUTH`,
    /// `WRONGTYPE`, `ERR`, ...) or, for an error the client raised on a
    /// reply, `TYPE`, `AUTH`, `CLIENT` or `OTHER`. `None` for unreachability
    /// and for errors that are not Redis's.
    pub fn command_error_kind(&self) -> Option<&str> {
        match self {
            #[cfg(feature = "redis")]
            CacheError::Redis { source, .. } if !unreachable_error(source) => Some(command_kind(source)),
            _ => None,
        }
    }
}

/// Whether a client error means the server could not be reached (rather
/// than that it answered with an error).
#[cfg(feature = "redis")]
fn unreachable_error(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_refusal()
        || e.is_connection_dropped()
        || e.kind() == redis::ErrorKind::ClusterConnectionNotFound
}

/// The cause of an error reply; see [`CacheError::command_error_kind`].
#[cfg(feature = "redis")]
fn command_kind(e: &redis::RedisError) -> &str {
    if let Some(code) = e.code() {
        return code;
    }
    match e.kind() {
        redis::ErrorKind::Parse | redis::ErrorKind::UnexpectedReturnType => "TYPE",
        redis::ErrorKind::AuthenticationFailed => "AUTH",
        redis::ErrorKind::Client | redis::ErrorKind::InvalidClientConfig => "CLIENT",
        _ => "OTHER",
    }
}

/// `e` and its sources, joined with `: ` (the client's message is usually
/// in the source, not in our wrapper).
#[cfg(feature = "redis")]
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
}

impl From<perf_core::KeyError> for CacheError {
    fn from(e: perf_core::KeyError) -> Self {
        match e {
            perf_core::KeyError::Key { key, reason } => CacheError::InvalidKey { key, reason },
            perf_core::KeyError::Namespace { namespace, reason } => CacheError::InvalidNamespace { namespace, reason },
        }
    }
}

impl From<perf_core::PatternError> for CacheError {
    fn from(e: perf_core::PatternError) -> Self {
        CacheError::InvalidPattern { pattern: e.pattern().to_owned(), reason: e.reason() }
    }
}

impl From<CacheError> for CacheStoreError {
    fn from(e: CacheError) -> Self {
        match e {
            CacheError::InvalidKey { key, reason } => perf_core::KeyError::Key { key, reason }.into(),
            CacheError::InvalidNamespace { namespace, reason } => {
                perf_core::KeyError::Namespace { namespace, reason }.into()
            }
            CacheError::InvalidPattern { pattern, reason } => {
                CacheStoreError::InvalidPattern { pattern, reason: reason.to_owned() }
            }
            CacheError::Codec(source) => CacheStoreError::Codec(source.to_string()),
            CacheError::Store(inner) => inner,
            CacheError::BadEnvelope => CacheStoreError::Codec("value is not in perf-cache's format".into()),
            other => CacheStoreError::Backend { message: other.to_string(), source: Some(Box::new(other)) },
        }
    }
}
