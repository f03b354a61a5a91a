//! Prints the detailed report of twenty minutes of synthetic traffic as JSON.
//! Run with `cargo run -p perf-analytics --example print_report`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::{sync::Arc, time::Duration};

use perf_analytics::Analytics;
use perf_core::{
    AnalyticsService, CacheEvent, CacheEventKind, CacheTier, Clock, ManualClock, Method, NPlusOneSample, QuerySample,
    Recorder, RequestSample, SharedThresholds, Store, StoreConfig, SystemSample, Timestamp, Window,
};

fn main() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let thresholds = Arc::new(SharedThresholds::default());
    let store = Arc::new(Store::new(StoreConfig::default(), clock.clone(), thresholds.clone()).unwrap());
    let analytics = Analytics::new(store.clone(), thresholds, clock.clone());
    let tasks = "SELECT * FROM tasks WHERE project_id = ?";
    for minute in 0..20u64 {
        for _ in 0..6 {
            let at = clock.now();
            for i in 0..10u64 {
                let ms = 20 + i;
                store.record_request(&RequestSample::new(
                    Method::Get,
                    Some("/api/projects"),
                    200,
                    Duration::from_millis(ms),
                    at,
                    store.thresholds(),
                ));
            }
            // One endpoint gets slower every minute and fails now and then.
            let status = if minute % 7 == 0 { 500 } else { 200 };
            let slow = Duration::from_millis(900 + minute * 40);
            store.record_request(&RequestSample::new(
                Method::Get,
                Some("/api/projects/{id}/plan"),
                status,
                slow,
                at,
                store.thresholds(),
            ));
            store.record_query(&QuerySample {
                fingerprint: tasks,
                sql: tasks,
                duration: Duration::from_millis(140),
                ok: true,
                at,
                scope: Some("/api/projects/{id}/plan"),
                kind: perf_core::QueryKind::Read,
                slow: store.thresholds().query_is_slow(Duration::from_millis(140)),
                trace: None,
            });
            store.record_system(&SystemSample {
                at,
                rss_bytes: (180 + minute * 3) * 1_048_576,
                ..SystemSample::default()
            });
            for kind in [CacheEventKind::Hit, CacheEventKind::Miss, CacheEventKind::Miss] {
                store.record_cache(&CacheEvent { kind, tier: CacheTier::Memory, at });
            }
            analytics.evaluate();
            clock.advance(Duration::from_secs(10));
        }
    }
    store.record_n_plus_one(&NPlusOneSample {
        scope: "/api/projects/{id}/plan",
        fingerprint: tasks,
        count: 24,
        total_time: Duration::from_millis(60),
        at: clock.now(),
        trace: None,
    });
    let report = analytics.report(Window::minutes(20).unwrap());
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
