//! [`PerfkitError`]: why [`crate::Perfkit`] could not be built, wrapping the
//! error of the part that failed.

use thiserror::Error;

/// Errors of the perfkit facade: one variant per part it wires.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PerfkitError {
    /// The configuration (environment, thresholds, store sizing) is invalid.
    #[error("invalid perfkit configuration")]
    Config(#[source] perf_core::CoreError),
    /// The memory or tiered cache could not be built.
    #[error("the cache could not be built")]
    Cache(#[source] perf_cache::CacheError),
    /// The HTTP state (middleware and API) could not be built.
    #[error("the performance API could not be built")]
    Http(#[source] perf_http::HttpError),
    /// The alert evaluator could not be started.
    #[cfg(feature = "analytics")]
    #[error("the alert evaluator could not be started")]
    Analytics(#[source] perf_analytics::AnalyticsError),
    /// The query-plan capture could not be started.
    #[error("the query-plan capture could not be started")]
    Db(#[source] perf_db::DbError),
    /// The `OTEL_*` configuration is invalid or the export thread could not start.
    #[cfg(feature = "otel")]
    #[error("the OpenTelemetry exporter could not be started")]
    Otel(#[source] perf_otel::OtelError),
    /// `REDIS_URL` is set but this build has no Redis tier: perfkit refuses
    /// to fall back to memory silently.
    #[error("REDIS_URL is set ({url}) but perfkit was built without its `redis` feature")]
    RedisNotBuilt {
        /// The configured URL, password redacted.
        url: String,
    },
}
