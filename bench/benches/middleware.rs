//! One in-process request (no sockets) through the bench apps of
//! `bench::apps`: bare, the floor of any timing middleware, perfkit's
//! monitor (on, on without `Server-Timing`, disabled) and actix-web-prom, on
//! a static route, a route with a path parameter, and that route with ids
//! rotating over 0..4096. Each request's body is read to the end, as a
//! server would. Every app is built and warmed up (every rotating id seen)
//! before the first measurement, so no variant pays the process's first
//! allocations or a cold route memo for the others. Run with
//! `cargo bench -p bench --bench middleware`; the interleaved and
//! instruction-count versions of this group are `bench wall` and
//! `bench run` (`cargo xtask bench`).
#![allow(clippy::unwrap_used, missing_docs)]

use std::{
    hint::black_box,
    rc::Rc,
    time::{Duration, Instant},
};

use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    rt::{System, SystemRunner},
    test,
};
use bench::apps::{APPS, IDS};
use criterion::{Criterion, criterion_group, criterion_main};

/// One measured app: `iters` requests, the `k`-th to `uris[(start + k) % len]`.
type Timed = Box<dyn FnMut(&[String], usize, u64) -> Duration>;

/// Builds the app from `$factory` on `$sys` and wraps it as a [`Timed`].
macro_rules! timed {
    ($sys:expr, $factory:expr) => {{
        let sys: Rc<SystemRunner> = $sys;
        let app = sys.block_on(test::init_service(($factory)()));
        Box::new(move |uris: &[String], start: usize, iters: u64| run(&sys, &app, uris, start, iters)) as Timed
    }};
}

/// Times `iters` requests through `app`, each in its own runtime call with
/// its body read.
fn run<S, B>(sys: &SystemRunner, app: &S, uris: &[String], start: usize, iters: u64) -> Duration
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
fn request(c: &mut Criterion) {
    let sys = Rc::new(System::new());
    let paths = paths();
    let mut apps: Vec<(&str, Timed)> =
        APPS.iter().map(|&kind| (kind, bench::with_app!(kind, timed, sys.clone()).unwrap())).collect();
    for (_, app) in &mut apps {
        for (_, uris) in &paths {
            app(uris, 0, IDS + 256);
        }
    }
    let mut group = c.benchmark_group("perf-http/request");
    for (route, uris) in &paths {
        for (kind, app) in &mut apps {
            let mut start = 0;
            group.bench_function(format!("{kind}/{route}"), |b| {
                b.iter_custom(|iters| {
                    start += iters as usize;
                    app(uris, start, iters)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, request);
criterion_main!(benches);
