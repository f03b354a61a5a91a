//! perfkit in one dependency: request and diesel query monitoring, caching,
//! analytics, the `/api/performance` JSON API, Prometheus `/metrics` and the
//! live dashboard for an actix-web service, wired by one call.
//!
//! [`Perfkit::from_env`] (or [`Perfkit::builder`]) makes the metrics store,
//! its thresholds and its clock once — one [`PerfContext`] — and hands them
//! to every part: the request monitor and API, the diesel [`QueryMonitor`],
//! the memory cache (tiered with Redis when `REDIS_URL` is set and the
//! `redis` feature is on), the analytics and alert evaluator, and the system
//! sampler. Alert evaluation and sampling stop when the last clone is
//! dropped, the cache's tasks when the last handle to the cache is. The focused crates it fronts (`perf-core`, `perf-http`,
//! `perf-db`, `perf-cache`, `perf-analytics`) stay usable on their own and
//! are re-exported here under their names.
//!
//! ```
//! use actix_web::{App, test, web};
//! use perfkit::{PerfConfig, Perfkit};
//!
//! # actix_web::rt::System::new().block_on(async {
//! let perf = Perfkit::builder(PerfConfig::default()).build()?; // once, outside HttpServer::new
//! let app = test::init_service(
//!     App::new()
//!         .wrap(perf.monitor())
//!         .service(perf.api())
//!         .service(perf.metrics())
//!         .route("/hello", web::get().to(|| async { "hello" })),
//! )
//! .await;
//! test::call_service(&app, test::TestRequest::get().uri("/hello").to_request()).await;
//! let req = test::TestRequest::get().uri("/api/performance/metrics").to_request();
//! let metrics: serde_json::Value = test::call_and_read_body_json(&app, req).await;
//! assert_eq!(metrics["requests"]["total_requests"], 1);
//! # Ok::<(), perfkit::PerfkitError>(())
//! # }).unwrap();
//! ```
//!
//! # Features
//!
//! | feature | default | gives |
//! |---|---|---|
//! | `analytics` | yes | health score, alerts evaluated in the background, trends, report |
//! | `dashboard` | yes | the live dashboard at `/performance` |
//! | `system` | yes | the process memory, CPU and disk sampler |
//! | `sqlite` | no | diesel's SQLite backend |
//! | `postgres` | no | diesel's PostgreSQL backend |
//! | `redis` | no | the tiered Redis + memory cache used when `REDIS_URL` is set |
//! | `otel` | no | OpenTelemetry metrics and span export (OTLP/HTTP protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` is set |
//!
//! Without `redis`, a set `REDIS_URL` is an error
//! ([`PerfkitError::RedisNotBuilt`]), never a silent fall-back to memory.
//!
//! With `otel`, [`PerfkitBuilder::build`] reads the standard `OTEL_*`
//! variables (or the configuration given to `PerfkitBuilder::otel`) and,
//! when they name an endpoint, starts `perf_otel::OtelExporter` on its own
//! thread: it reads the store's totals every export interval, adds nothing
//! to a request, and stops with the last clone. When a traces endpoint is
//! set too (`OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, unless `OTEL_TRACES_EXPORTER=none`),
//! the context's recorder is wrapped in a `perf_otel::SpanRecorder` before
//! the parts are built, so the monitor, the query monitor and the cache
//! record through it: each request and query of a sampled trace becomes a
//! span, queued (bounded, drops counted in `Perfkit::span_stats`) and
//! exported in batches by `perf_otel::SpanExporter`'s thread.
mod error;
mod perfkit;

#[cfg(feature = "analytics")]
pub use perf_analytics;
pub use perf_cache;
pub use perf_core;
pub use perf_db;
pub use perf_http;
#[cfg(feature = "otel")]
pub use perf_otel;

pub use crate::{
    error::PerfkitError,
    perfkit::{CacheKind, Perfkit, PerfkitBuilder},
};
pub use perf_cache::{TypedCache, cached, invalidate_on_change};
pub use perf_core::{PerfConfig, PerfContext};
pub use perf_db::QueryMonitor;
pub use perf_http::block;
