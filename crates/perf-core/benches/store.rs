//! Store benches: recording a request sample (single-threaded and from two
//! threads on one key) beside hdrhistogram and the metrics crate, and window
//! queries. Run with `cargo xtask bench`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::{
    hint::black_box,
    sync::{Arc, Barrier},
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use perf_core::{
    Clock, ManualClock, Method, MetricsSource, Recorder, RequestSample, SeriesKey, SharedThresholds, Store,
    StoreConfig, ThresholdStore, Timestamp, Window,
};

const ROUTE: &str = "/api/projects/{id}";

fn new_store() -> (Arc<Store>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let store = Store::new(StoreConfig::default(), clock.clone(), Arc::new(SharedThresholds::default())).unwrap();
    (Arc::new(store), clock)
}

fn sample(i: u64, at: Timestamp, thresholds: &dyn ThresholdStore) -> RequestSample<'static> {
    RequestSample::new(Method::Get, Some(ROUTE), 200, Duration::from_micros(200 + (i * 7919) % 50_000), at, thresholds)
}

fn install_metrics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        metrics::set_global_recorder(recorder).unwrap();
    });
}

fn record(c: &mut Criterion) {
    install_metrics();
    let mut g = c.benchmark_group("perf-core/record");
    let (store, clock) = new_store();
    let now = clock.now();
    let mut i = 0u64;
    g.bench_function("perfkit_store", |b| {
        b.iter(|| {
            i += 1;
            store.record_request(black_box(&sample(i, now, &**store.thresholds())));
        })
    });
    let handle = store.endpoint(Method::Get, Some(ROUTE));
    g.bench_function("perfkit_handle", |b| {
        b.iter(|| {
            i += 1;
            handle.record(&store, black_box(&sample(i, now, &**store.thresholds())));
        })
    });
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).unwrap();
    g.bench_function("hdrhistogram", |b| {
        b.iter(|| {
            i += 1;
            h.record(black_box(200_000 + (i * 7919) % 50_000_000)).unwrap();
        })
    });
    g.bench_function("metrics_histogram", |b| {
        b.iter(|| {
            i += 1;
            metrics::histogram!("http_request_duration_seconds", "method" => "GET", "route" => ROUTE)
                .record(black_box(0.0002 + (i % 50_000) as f64 * 1e-6));
        })
    });
    g.finish();
}

/// Runs `iters` operations on each of two threads at once (each thread gets
/// its own operation from `make`) and returns the wall time, so criterion
/// reports the time per operation as one thread sees it.
fn two_threads<F: FnMut(u64)>(iters: u64, make: impl Fn() -> F + Sync) -> Duration {
    let barrier = Barrier::new(3);
    let mut start = None;
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let (make, barrier) = (&make, &barrier);
            s.spawn(move || {
                let mut op = make();
                barrier.wait();
                for i in 0..iters {
                    op(i * 2 + t);
                }
            });
        }
        barrier.wait();
        start = Some(Instant::now());
    });
    start.map(|s| s.elapsed()).unwrap_or_default()
}

fn record_two_threads(c: &mut Criterion) {
    install_metrics();
    let mut g = c.benchmark_group("perf-core/record_2_threads");
    let (store, clock) = new_store();
    let now = clock.now();
    g.bench_function("perfkit_store", |b| {
        b.iter_custom(|iters| two_threads(iters, || |i| store.record_request(&sample(i, now, &**store.thresholds()))))
    });
    let mut hist = hdrhistogram::sync::SyncHistogram::from(
        hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).unwrap(),
    );
    let hist_ref = &hist;
    g.bench_function("hdrhistogram_sharded", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                let mut r = hist_ref.recorder();
                move |i| r.record(200_000 + (i * 7919) % 50_000_000).unwrap()
            })
        })
    });
    hist.refresh();
    g.bench_function("metrics_histogram", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, || {
                |i| {
                    metrics::histogram!("http_request_duration_seconds", "method" => "GET", "route" => ROUTE)
                        .record(0.0002 + (i % 50_000) as f64 * 1e-6)
                }
            })
        })
    });
    g.finish();
}

fn window_query(c: &mut Criterion) {
    let mut g = c.benchmark_group("perf-core/window_query");
    let (store, clock) = new_store();
    let routes: Vec<String> = (0..1_000).map(|i| format!("/api/r{i}/{{id}}")).collect();
    // One hour of traffic: every endpoint sees a request every 10 s bucket,
    // and the first endpoint a busy mix of latencies.
    for step in 0..360u64 {
        for (k, route) in routes.iter().enumerate() {
            let d = Duration::from_micros(500 + ((step * 31 + k as u64 * 17) % 2_000) * 50);
            store.record_request(&RequestSample::new(
                Method::Get,
                Some(route),
                200,
                d,
                clock.now(),
                store.thresholds(),
            ));
        }
        for j in 0..50u64 {
            let d = Duration::from_micros(100 + (step * 997 + j * 7919) % 400_000);
            store.record_request(&RequestSample::new(
                Method::Get,
                Some(&routes[0]),
                200,
                d,
                clock.now(),
                store.thresholds(),
            ));
        }
        clock.advance(Duration::from_secs(10));
    }
    let hour = Window::minutes(60).unwrap();
    let key = SeriesKey::Endpoint { method: Method::Get, route: routes[0].clone() };
    g.bench_function("one_endpoint_1h_aggregate", |b| {
        b.iter(|| black_box(store.endpoint_aggregate(Method::Get, Some(&routes[0]), hour)))
    });
    g.bench_function("one_endpoint_1h_series", |b| b.iter(|| black_box(store.series(&key, hour))));
    g.sample_size(10);
    g.bench_function("all_1000_endpoints_1h_snapshot", |b| b.iter(|| black_box(store.snapshot(hour))));
    g.finish();
}

criterion_group!(benches, record, record_two_threads, window_query);
criterion_main!(benches);
