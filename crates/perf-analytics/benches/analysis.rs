//! A full analysis over one hour of 1,000 endpoints in a real store.
//!
//! Run with `cargo bench -p perf-analytics --bench analysis`. The store's own
//! snapshot of the same hour is in the group as the baseline the analysis
//! builds on.
#![allow(clippy::unwrap_used)]

use std::{hint::black_box, sync::Arc, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use perf_analytics::{AlertRules, Analytics, RecommendSettings, apdex, detect, health, recommend};
use perf_core::{
    AnalyticsService, CacheEvent, CacheEventKind, CacheTier, Clock, ManualClock, Method, MetricsSource, NPlusOneSample,
    QuerySample, Recorder, RequestSample, SharedThresholds, Store, StoreConfig, SystemSample, Thresholds, Timestamp,
    Window,
};

const ENDPOINTS: usize = 1_000;
const FINGERPRINTS: usize = 100;

/// One hour of traffic: two requests per endpoint per 10 s bucket, a query
/// per endpoint bucket, a system reading and a few cache events per bucket.
fn populated() -> (Arc<ManualClock>, Arc<Store>, Analytics) {
    let start = Timestamp::from_unix_secs(1_700_000_000);
    let clock = Arc::new(ManualClock::new(start));
    let thresholds = Arc::new(SharedThresholds::default());
    let store = Arc::new(Store::new(StoreConfig::default(), clock.clone(), thresholds.clone()).unwrap());
    let routes: Vec<String> = (0..ENDPOINTS).map(|i| format!("/api/resource{i}/{{id}}")).collect();
    let fingerprints: Vec<String> = (0..FINGERPRINTS).map(|i| format!("SELECT * FROM table{i} WHERE id = ?")).collect();
    let handles: Vec<_> = routes.iter().map(|r| store.endpoint(Method::Get, Some(r))).collect();
    for bucket in 0..360u64 {
        let at = clock.now();
        for (i, h) in handles.iter().enumerate() {
            for k in 0..2u64 {
                // Mostly fast; every 50th endpoint slow and slowly getting slower.
                let base = if i.is_multiple_of(50) { 1_200 + bucket * 2 } else { 20 + (i as u64 % 40) };
                let status = if (bucket + k + i as u64).is_multiple_of(97) { 500 } else { 200 };
                h.record(
                    &store,
                    &RequestSample::new(
                        Method::Get,
                        Some(&routes[i]),
                        status,
                        Duration::from_millis(base + k),
                        at,
                        &*thresholds,
                    ),
                );
            }
            let fp = &fingerprints[i % FINGERPRINTS];
            store.record_query(&QuerySample {
                fingerprint: fp,
                sql: fp,
                duration: Duration::from_micros(500 + (i as u64 % 7) * 40_000),
                ok: true,
                at,
                scope: Some(&routes[i]),
                kind: perf_core::QueryKind::Read,
                slow: store.thresholds().query_is_slow(Duration::from_micros(500 + (i as u64 % 7) * 40_000)),
                trace: None,
            });
        }
        store.record_system(&SystemSample { at, rss_bytes: (150 + bucket / 4) * 1_048_576, ..SystemSample::default() });
        for j in 0..8 {
            let kind = if j < 6 { CacheEventKind::Hit } else { CacheEventKind::Miss };
            store.record_cache(&CacheEvent { kind, tier: CacheTier::Memory, at });
        }
        if bucket.is_multiple_of(30) {
            store.record_n_plus_one(&NPlusOneSample {
                scope: &routes[0],
                fingerprint: &fingerprints[0],
                count: 25,
                total_time: Duration::from_millis(40),
                at,
                trace: None,
            });
        }
        clock.advance(Duration::from_secs(10));
    }
    let analytics = Analytics::new(store.clone(), thresholds, clock.clone());
    (clock, store, analytics)
}

fn full_analysis(c: &mut Criterion) {
    let (_clock, store, analytics) = populated();
    let hour = Window::minutes(60).unwrap();
    let mut g = c.benchmark_group("perf-analytics/full_analysis");
    g.sample_size(10);
    g.bench_function("perfkit_store_snapshot_1h", |b| b.iter(|| black_box(store.snapshot(black_box(hour)))));
    g.bench_function("perfkit_analytics_1h", |b| b.iter(|| black_box(analytics.analytics(black_box(hour)))));
    g.bench_function("perfkit_report_1h", |b| b.iter(|| black_box(analytics.report(black_box(hour)))));
    g.bench_function("perfkit_evaluate_alerts", |b| b.iter(|| black_box(analytics.evaluate())));
    // The rules alone on a ready snapshot: what this crate adds to the store's cost.
    let snapshot = store.snapshot(hour);
    let thresholds = Thresholds::DEVELOPMENT;
    g.bench_function("perfkit_rules_on_snapshot_1h", |b| {
        b.iter(|| {
            let s = black_box(&snapshot);
            black_box(health(s, &thresholds, &[]));
            black_box(apdex(s, &thresholds));
            black_box(detect(s, &thresholds, &AlertRules::default()));
            black_box(recommend(s, &thresholds, None, &RecommendSettings::default()));
        })
    });
    g.finish();
}

criterion_group!(benches, full_analysis);
criterion_main!(benches);
