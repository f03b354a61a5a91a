//! [`DbError`]: what perf-db's fallible operations return.

/// Errors of perf-db.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// The global default instrumentation could not be installed.
    #[error("could not install the default diesel instrumentation: {0}")]
    InstallDefault(#[source] diesel::result::Error),
    /// A cached value could not be encoded or decoded.
    #[error("cached value for {key} could not be {action}: {source}")]
    Codec {
        /// The cache key.
        key: String,
        /// `encoded` or `decoded`.
        action: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// A query-count assertion failed; the message lists the queries run.
    #[error("{0}")]
    Assertion(String),
    /// The plan-capture thread could not be started.
    #[error("could not start the query-plan thread: {0}")]
    PlanThread(#[source] std::io::Error),
}
