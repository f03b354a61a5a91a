//! The bench apps: two routes answering `ok`, the floor any timing
//! middleware pays, perfkit's monitor in its three settings and
//! actix-web-prom, each built the one way every harness measures it.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use actix_web::{
    Error, HttpResponse,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use anyhow::Result;
use perf_core::PerfConfig;
use perf_http::PerfState;

/// Every app kind, in the order measured; the first is the reference.
pub const APPS: [&str; 6] =
    ["bare", "floor", "perfkit", "perfkit-no-server-timing", "perfkit-disabled", "actix-web-prom"];

/// Distinct ids of the rotating route (`/items/{0..IDS}`).
pub const IDS: u64 = 4096;

async fn handler() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

/// The bench apps' routes: `/hello` and `/items/{id}`, each answering `ok`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/hello", web::get().to(handler)).route("/items/{id}", web::get().to(handler));
}

/// Total nanoseconds seen by the floor middleware (its one atomic add).
static FLOOR_NANOS: AtomicU64 = AtomicU64::new(0);

/// The floor middleware: an `Instant` pair and one atomic add.
pub async fn floor(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let res = next.call(req).await;
    FLOOR_NANOS.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    res
}

/// perfkit's shared state for one of the `perfkit*` app kinds.
pub fn perfkit(app: &str) -> Result<PerfState> {
    let config = match app {
        "perfkit" => PerfConfig::default(),
        "perfkit-no-server-timing" => PerfConfig::builder().server_timing(false).build()?,
        "perfkit-disabled" => PerfConfig::builder().enabled(false).build()?,
        other => anyhow::bail!("{other} is not a perfkit app"),
    };
    Ok(PerfState::builder(config).build()?)
}

/// actix-web-prom's middleware as a user would set it up.
pub fn actix_web_prom() -> Result<PrometheusMetrics> {
    PrometheusMetricsBuilder::new("bench")
        .endpoint("/metrics")
        .build()
        .map_err(|e| anyhow::anyhow!("actix-web-prom: {e}"))
}

/// Hands `$serve!` (a macro, after any `$arg`s) an app factory for the app
/// kind `$kind` (one of [`APPS`]): a closure building the `App` anew, as
/// `HttpServer::new` wants and an in-process harness calls once. The apps
/// differ in type, so every harness builds them through this one match;
/// the result is `Ok(what $serve! gave)`, or the error of an unknown kind or
/// a failed setup.
#[macro_export]
macro_rules! with_app {
    ($kind:expr, $serve:ident $(, $arg:expr)*) => {{
        use ::actix_web::{App, middleware::from_fn};
        use $crate::apps;
        match $kind {
            "bare" => Ok($serve!($($arg,)* || App::new().configure(apps::routes))),
            "floor" => Ok($serve!($($arg,)* || App::new().wrap(from_fn(apps::floor)).configure(apps::routes))),
            kind @ ("perfkit" | "perfkit-no-server-timing" | "perfkit-disabled") => match apps::perfkit(kind) {
                Ok(perf) => Ok($serve!($($arg,)* move || App::new().wrap(perf.monitor()).configure(apps::routes))),
                Err(e) => Err(e),
            },
            "actix-web-prom" => match apps::actix_web_prom() {
                Ok(prom) => Ok($serve!($($arg,)* move || App::new().wrap(prom.clone()).configure(apps::routes))),
                Err(e) => Err(e),
            },
            other => Err(::anyhow::anyhow!("unknown app {other:?} (one of {})", apps::APPS.join(", "))),
        }
    }};
}
