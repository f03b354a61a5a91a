//! [`OtelError`]: why the exporter's configuration was refused or its
//! thread could not start.

use thiserror::Error;

/// Errors of the OpenTelemetry exporter. Failed exports are not errors of
/// this type: they are counted in [`ExportStats`](crate::ExportStats) and the
/// exporter keeps running.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OtelError {
    /// A variable holds a value the exporter cannot use.
    #[error("invalid {name}: {reason}, got {value:?}")]
    InvalidVariable {
        /// The variable (`OTEL_METRIC_EXPORT_INTERVAL`).
        name: &'static str,
        /// The value as given (URLs redacted, header values never shown).
        value: String,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` (or its metrics variant) names a
    /// protocol other than `http/protobuf`; the exporter does not fall back.
    #[error("OTLP protocol {0:?} is not supported (only \"http/protobuf\")")]
    UnsupportedProtocol(String),
    /// The endpoint is not a plain `http://` URL (this build speaks no TLS).
    #[error("OTLP endpoint must be an http:// URL, got {0:?}")]
    UnsupportedEndpoint(String),
    /// The exporter was asked to start without an endpoint.
    #[error("no OTLP endpoint configured (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)")]
    NoEndpoint,
    /// The export thread could not be spawned.
    #[error("the OTLP export thread could not start")]
    Thread(#[source] std::io::Error),
}
