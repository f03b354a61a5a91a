//! One in-process request (no sockets) through a bare app, the floor of any
//! timing middleware (an `Instant` pair and an atomic add in `from_fn`),
//! perfkit's monitor (on, on without `Server-Timing`, and disabled) and
//! actix-web-prom's middleware, on a static route, a route with a path
//! parameter, and that route with ids rotating over 0..4096. Each request's
//! body is read to the end, as a server would. Every app is built and warmed
//! up (every rotating id seen) before the first measurement, so no variant
//! pays the process's first allocations or a cold route memo for the others.
//! Run with `cargo bench -p perf-http --bench middleware`; the interleaved
//! and instruction-count versions of this group are in `bench/`
//! (`cargo xtask bench`).
#![allow(clippy::unwrap_used, missing_docs)]

use std::{
    hint::black_box,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use actix_web::{
    App, Error, HttpResponse,
    body::MessageBody,
    dev::{Service, ServiceRequest, ServiceResponse},
    middleware::{Next, from_fn},
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
    cfg.route("/hello", web::get().to(handler)).route("/items/{id}", web::get().to(handler));
}

/// Distinct ids of the rotating route.
const IDS: usize = 4096;

/// Total nanoseconds seen by the floor middleware (its one atomic add).
static FLOOR_NANOS: AtomicU64 = AtomicU64::new(0);

async fn floor(req: ServiceRequest, next: Next<impl MessageBody>) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let res = next.call(req).await;
    FLOOR_NANOS.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    res
}

fn state(config: PerfConfig) -> PerfState {
    let store =
        Store::new(StoreConfig::default(), Arc::new(SystemClock), Arc::new(SharedThresholds::default())).unwrap();
    PerfState::builder(config).store(Arc::new(store)).build().unwrap()
}

/// Times `iters` requests through `app`, the `k`-th to `uris[(start + k) % len]`,
/// each in its own runtime call with its body read.
fn run<S, B>(sys: &SystemRunner, app: &S, uris: &[String], start: usize, iters: u64) -> std::time::Duration
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let begin = Instant::now();
    for k in 0..iters as usize {
        let req = test::TestRequest::get().uri(&uris[(start + k) % uris.len()]).to_request();
        sys.block_on(async {
            let res = app.call(req).await.unwrap();
            black_box(actix_web::body::to_bytes(res.into_body()).await.ok());
        });
    }
    begin.elapsed()
}

/// Paths of the three routes: (name, paths requested in turn).
fn paths() -> Vec<(&'static str, Vec<String>)> {
    vec![
        ("hello", vec!["/hello".to_owned()]),
        ("items_42", vec!["/items/42".to_owned()]),
        ("items_rotating", (0..IDS).map(|i| format!("/items/{i}")).collect()),
    ]
}

/// Builds every app first and warms each one up; then measures them in turn.
macro_rules! bench_apps {
    ($c:expr, $sys:expr, $(($name:ident, $app:expr)),+ $(,)?) => {{
        let paths = paths();
        let apps = ($($sys.block_on(test::init_service($app)),)+);
        #[allow(non_snake_case)]
        let ($($name,)+) = &apps;
        $( for (_, uris) in &paths { run(&$sys, $name, uris, 0, (IDS + 256) as u64); } )+
        let mut group = $c.benchmark_group("perf-http/request");
        for (route, uris) in &paths {
            $(
                let mut start = 0;
                group.bench_function(format!("{}/{route}", stringify!($name).replace('_', "-")), |b| {
                    b.iter_custom(|iters| {
                        start += iters as usize;
                        run(&$sys, $name, uris, start, iters)
                    })
                });
            )+
        }
        group.finish();
    }};
}

fn request(c: &mut Criterion) {
    let sys = System::new();
    let on = state(PerfConfig::default());
    let quiet = state(PerfConfig::builder().server_timing(false).build().unwrap());
    let off = state(PerfConfig::builder().enabled(false).build().unwrap());
    let prom = PrometheusMetricsBuilder::new("bench").endpoint("/metrics").build().unwrap();
    bench_apps!(
        c,
        sys,
        (bare, App::new().configure(routes)),
        (floor, App::new().wrap(from_fn(floor)).configure(routes)),
        (perfkit, App::new().wrap(on.monitor()).configure(routes)),
        (perfkit_no_server_timing, App::new().wrap(quiet.monitor()).configure(routes)),
        (perfkit_disabled, App::new().wrap(off.monitor()).configure(routes)),
        (actix_web_prom, App::new().wrap(prom.clone()).configure(routes)),
    );
}

criterion_group!(benches, request);
criterion_main!(benches);
