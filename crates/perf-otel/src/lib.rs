//! OpenTelemetry export for perfkit: the store's request and query totals
//! as metrics, and a span per traced request and query, sent over
//! OTLP/HTTP protobuf to a collector from threads of their own. Meets the
//! other crates only through perf-core's
//! [`MetricsSource`](perf_core::MetricsSource) and
//! [`Recorder`](perf_core::Recorder).
//!
//! perf-core already keeps, per endpoint and status and per query
//! fingerprint, cumulative counts since start with `le` buckets
//! ([`MetricsSource::totals`](perf_core::MetricsSource::totals)), which is
//! exactly an OTLP cumulative explicit-bucket histogram. So the
//! [`OtelExporter`] adds nothing to a request: it reads the totals every
//! [`OtelConfig::interval`] and posts them. Exported, under the stable
//! semantic conventions:
//!
//! | metric | kind, unit | attributes |
//! |---|---|---|
//! | `http.server.request.duration` | histogram, `s` | `http.route`, `http.request.method`, `http.response.status_code` (int), `error.type` on 5xx |
//! | `db.client.operation.duration` | histogram, `s` | `db.query.summary` (the fingerprint), `db.system.name` when configured, `perfkit.query.id`, `perfkit.query.origin` (`request` / `background`) |
//! | `perfkit.cache.operations` | monotonic sum, `{operation}` | `perfkit.cache.tier`, `perfkit.cache.operation` (`hit`, `miss`, `set`, `delete`, `error`) |
//!
//! Decisions the conventions leave open:
//! - A status seen after an endpoint's
//!   [`STATUS_CODES_PER_ENDPOINT`](perf_core::STATUS_CODES_PER_ENDPOINT)
//!   code slots are taken is counted in its class (`"5xx"`); that point has
//!   no `http.response.status_code` (the code is not known) but
//!   `perfkit.http.response.status_class = "5xx"`, and `error.type = "5xx"`.
//! - The unmatched and overflow keys (`<unmatched>`, `<overflow>`) have no
//!   route template: their points leave `http.route` out and carry
//!   `perfkit.route` instead.
//! - perfkit's totals do not say which backend ran a query, so
//!   `db.system.name` is sent only when [`OtelConfig::db_system_name`] is set.
//! - The resource's `telemetry.sdk.name` is `perfkit` (with
//!   `telemetry.sdk.language = "rust"` and perf-otel's version): no
//!   OpenTelemetry SDK produced the data.
//! - Without an endpoint variable the exporter stays off (see
//!   [`OtelConfig::from_lookup`]).
//!
//! # Why not the OpenTelemetry SDK
//!
//! The messages are `opentelemetry-proto`'s generated types (prost, no
//! tonic) and the client is ureq's blocking one without TLS. The SDK's
//! meter provider would re-aggregate every request on the request path, in
//! a second set of histograms, while the store already holds the figures;
//! and its exporters bring the traps of async clients under actix-web's
//! current-thread runtimes (a reqwest client panicking with "no reactor
//! running", gRPC deadlocks on one-worker runtimes, shutdowns that hang).
//! A plain thread with a blocking client and a global timeout per request
//! has none of them. `opentelemetry-proto` still pulls in the
//! `opentelemetry` and `opentelemetry_sdk` crates (its `metrics` feature
//! forwards to them); nothing of them runs. `https://` endpoints are refused
//! at configuration ([`OtelError::UnsupportedEndpoint`]): send to a local
//! collector or agent, which forwards over TLS. ureq honours the usual
//! proxy variables (`ALL_PROXY`, `HTTP_PROXY`, `NO_PROXY`).
//!
//! # Spans
//!
//! A [`SpanExporter`] (started when [`OtelConfig::traces_enabled`]) gives a
//! [`SpanRecorder`] that sits in front of the store: every sample is
//! forwarded unchanged, and the requests and queries of a *sampled* trace
//! (perf-core's [`TraceContext`](perf_core::TraceContext), continued from an
//! incoming `traceparent` or started by the HTTP monitor) also become a
//! SERVER span per request and a CLIENT span per query, child of the
//! request's. The request path pushes a compact record onto a bounded
//! queue ([`OtelConfig::span_queue`]; full: dropped and counted); the
//! export thread encodes and posts them in batches to
//! [`OtelConfig::traces_endpoint`]. Unsampled traces (`-00`) export nothing.
//!
//! ```
//! use std::{net::TcpListener, sync::Arc, time::Duration};
//! use perf_core::{Clock, Method, PerfConfig, PerfContext, RequestSample};
//! use perf_otel::{OtelConfig, OtelExporter};
//!
//! // A port nobody listens on: the collector is down.
//! let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
//! let endpoint = format!("http://127.0.0.1:{port}");
//! let config = OtelConfig::from_lookup(|name| match name {
//!     "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
//!     "OTEL_SERVICE_NAME" => Some("shop".to_owned()),
//!     _ => None,
//! })?;
//! assert!(config.is_enabled());
//!
//! let context = PerfContext::new(&PerfConfig::default())?;
//! let exporter = OtelExporter::from_context(&config, &context)?;
//! let now = context.clock().now();
//! let thresholds = context.thresholds();
//! let sample = RequestSample::new(Method::Get, Some("/items"), 200, Duration::from_millis(5), now, thresholds);
//! context.recorder().record_request(&sample);
//!
//! // Shutdown makes one last export, which fails and is counted.
//! let stats = exporter.shutdown();
//! assert_eq!((stats.attempts, stats.failed), (1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
mod config;
mod encode;
mod error;
mod exporter;
mod spans;

pub use crate::{
    config::{MAX_DURATION, MAX_SPAN_QUEUE, METRICS_PATH, OtelConfig, PROTOCOL_HTTP_PROTOBUF, TRACES_PATH},
    encode::{CACHE_OPERATIONS, DB_CLIENT_OPERATION_DURATION, HTTP_SERVER_REQUEST_DURATION, SCOPE_NAME},
    error::OtelError,
    exporter::{ExportStats, OtelExporter},
    spans::{MAX_QUERY_SUMMARY, SpanExporter, SpanRecorder, SpanStats},
};
