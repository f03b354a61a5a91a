//! actix-web adapter for perfkit: the monitoring middleware, the JSON API
//! under `/api/performance`, the Prometheus endpoint at `/metrics` and a
//! response-caching middleware.
//!
//! perf-http depends on perf-core alone among perfkit crates: the store,
//! analytics and cache reach it as `Arc<dyn Trait>` values gathered in a
//! [`PerfState`], built once outside `HttpServer::new` so every worker shares
//! one set of totals. One `wrap()` monitors every request; one `service()`
//! mounts the API.
//!
//! ```
//! use actix_web::{App, HttpResponse, test, web};
//! use perf_core::PerfConfig;
//! use perf_http::PerfState;
//!
//! # actix_web::rt::System::new().block_on(async {
//! let perf = PerfState::builder(PerfConfig::default()).build()?; // once, outside HttpServer::new
//! let app = test::init_service(
//!     App::new()
//!         .wrap(perf.monitor())
//!         .service(perf.api())
//!         .service(perf.metrics())
//!         .route("/api/projects/{id}", web::get().to(|| async { HttpResponse::Ok().body("a project") })),
//! )
//! .await;
//! let res = test::call_service(&app, test::TestRequest::get().uri("/api/projects/7").to_request()).await;
//! assert!(res.headers().contains_key("server-timing"));
//! let metrics: serde_json::Value =
//!     test::call_and_read_body_json(&app, test::TestRequest::get().uri("/api/performance/metrics").to_request()).await;
//! assert_eq!(metrics["requests"]["total_requests"], 1);
//! # Ok::<(), perf_http::HttpError>(())
//! # }).unwrap();
//! ```
//!
//! Database work run on the blocking pool keeps its attribution to the
//! request when it goes through [`block`] (or `perf_core::bind_current`).
//!
//! The live dashboard at `/performance` (`PerfDashboard`, `perf.dashboard()`,
//! feature `dashboard`, on by default) is served from assets embedded in the
//! binary; the monitor excludes its path.
//!
//! # Features
//!
//! - `dashboard` (default): the embedded dashboard.
//! - `gzip`: actix-web's gzip support, so `actix_web::middleware::Compress`
//!   can compress the API's JSON.
mod api;
mod auth;
mod block;
#[cfg(feature = "dashboard")]
mod dashboard;
mod error;
mod heavy;
mod methods;
mod monitor;
mod prometheus;
mod response_cache;
mod state;

#[cfg(feature = "dashboard")]
pub use crate::dashboard::{DASHBOARD_PATH, PerfDashboard};
pub use crate::{
    api::{API_PREFIX, MAX_BODY_BYTES, MAX_PATTERN_BYTES, MAX_PATTERN_STARS, PerfApi},
    block::block,
    error::HttpError,
    monitor::{DEFAULT_EXCLUDED_PATHS, PerfMonitor, PerfMonitorFuture, PerfMonitorMiddleware},
    prometheus::{
        MAX_FINGERPRINT_LABEL_BYTES, METRICS_PATH, OPENMETRICS_CONTENT_TYPE, PerfMetrics, RenderOptions,
        TEXT_CONTENT_TYPE, render as render_prometheus, render_openmetrics, wants_openmetrics,
    },
    response_cache::{ResponseCache, ResponseCacheMiddleware, X_CACHE},
    state::{PerfState, PerfStateBuilder},
};
