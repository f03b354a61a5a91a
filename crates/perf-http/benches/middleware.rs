//! One in-process request (no sockets) through a bare app, through perfkit's
//! monitor (on, on without `Server-Timing`, and disabled) and through
//! actix-web-prom's middleware, on a static route and on a route with a path
//! parameter. Run with `cargo bench -p perf-http --bench middleware`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::{hint::black_box, sync::Arc, time::Instant};

use actix_web::{
    App, HttpResponse,
    dev::Service,
    rt::{System, SystemRunner},
    test, web,
};
use actix_web_prom::PrometheusMetricsBuilder;
use criterion::{Criterion, criterion_group, criterion_main};
use perf_core::{PerfConfig, SharedThresholds, Store, StoreConfig, SystemClock};
use perf_http::PerfState;

async fn handler() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/static", web::get().to(handler)).route("/items/{id}", web::get().to(handler));
}

fn state(config: PerfConfig) -> PerfState {
    let store =
        Store::new(StoreConfig::default(), Arc::new(SystemClock), Arc::new(SharedThresholds::default())).unwrap();
    PerfState::builder(config).store(Arc::new(store)).build().unwrap()
}

/// Times `iters` requests to `uri` through `app` inside one runtime call.
fn run<S>(sys: &SystemRunner, app: &S, uri: &'static str, iters: u64) -> std::time::Duration
where
    S: Service<actix_http::Request, Error = actix_web::Error>,
{
    sys.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            let req = test::TestRequest::get().uri(uri).to_request();
            black_box(app.call(req).await.ok());
        }
        start.elapsed()
    })
}

macro_rules! bench_app {
    ($group:expr, $sys:expr, $name:expr, $app:expr) => {{
        let app = $sys.block_on(test::init_service($app));
        for (route, uri) in [("static", "/static"), ("param", "/items/42")] {
            $group
                .bench_function(format!("{}/{route}", $name), |b| b.iter_custom(|iters| run(&$sys, &app, uri, iters)));
        }
    }};
}

fn request(c: &mut Criterion) {
    let sys = System::new();
    let mut group = c.benchmark_group("perf-http/request");

    bench_app!(group, sys, "bare", App::new().configure(routes));

    let on = state(PerfConfig::default());
    bench_app!(group, sys, "perfkit", App::new().wrap(on.monitor()).configure(routes));

    let quiet = state(PerfConfig::builder().server_timing(false).build().unwrap());
    bench_app!(group, sys, "perfkit-no-server-timing", App::new().wrap(quiet.monitor()).configure(routes));

    let off = state(PerfConfig::builder().enabled(false).build().unwrap());
    bench_app!(group, sys, "perfkit-disabled", App::new().wrap(off.monitor()).configure(routes));

    let prom = PrometheusMetricsBuilder::new("bench").endpoint("/metrics").build().unwrap();
    bench_app!(group, sys, "actix-web-prom", App::new().wrap(prom.clone()).configure(routes));

    group.finish();
}

criterion_group!(benches, request);
criterion_main!(benches);
