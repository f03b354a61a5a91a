//! Unit tests of the monitor's path exclusion, route table and header format.

use std::{sync::Arc, time::Duration};

use perf_core::{Method, NoopRecorder, RequestScope, SharedThresholds, SystemClock};

use super::{RouteTable, Settings, server_timing_value};

fn settings(excluded: &[&str]) -> Settings {
    Settings {
        recorder: Arc::new(NoopRecorder),
        thresholds: Arc::new(SharedThresholds::default()),
        clock: Arc::new(SystemClock),
        enabled: true,
        server_timing: true,
        excluded: excluded.iter().map(|p| Box::from(*p)).collect(),
        timeout: None,
        log_limiter: Arc::new(perf_core::LogLimiter::new(perf_core::DEFAULT_LOG_INTERVAL)),
    }
}

fn check_excluded(path: &str, expected: bool) {
    let s = settings(&super::DEFAULT_EXCLUDED_PATHS);
    assert_eq!(s.is_excluded(path), expected, "{path}");
}

#[test]
fn exclusion_matches_whole_segments() {
    check_excluded("/api/performance", true);
    check_excluded("/api/performance/metrics", true);
    check_excluded("/metrics", true);
    check_excluded("/performance/app.js", true);
    check_excluded("/metricsx", false);
    check_excluded("/api/performancex", false);
    check_excluded("/api/projects", false);
    check_excluded("/", false);
}

#[test]
fn route_table_reuses_labels_per_method() {
    let mut t = RouteTable::new();
    let (r1, l1) = t.resolve(Method::Get, Some("/a/{id}"));
    let (r2, l2) = t.resolve(Method::Get, Some("/a/{id}"));
    let (_, l3) = t.resolve(Method::Post, Some("/a/{id}"));
    assert_eq!(&*l1, "GET /a/{id}");
    assert!(Arc::ptr_eq(&l1, &l2));
    assert!(std::rc::Rc::ptr_eq(r1.as_ref().unwrap(), r2.as_ref().unwrap()));
    assert_eq!(&*l3, "POST /a/{id}");
    let (none, unmatched) = t.resolve(Method::Get, None);
    assert!(none.is_none());
    assert_eq!(&*unmatched, "GET <unmatched>");
}

#[test]
fn server_timing_lists_db_and_cache_only_when_used() {
    let scope = RequestScope::new("GET /");
    let v = server_timing_value(Duration::from_micros(12_345), &scope).unwrap();
    assert_eq!(v.to_str().unwrap(), "total;dur=12.345");
    scope.record_query(1, Duration::from_millis(2));
    scope.record_query(2, Duration::from_millis(1));
    scope.record_cache(true);
    scope.record_cache(false);
    scope.record_cache(true);
    let v = server_timing_value(Duration::from_millis(20), &scope).unwrap();
    assert_eq!(
        v.to_str().unwrap(),
        "total;dur=20.000, db;dur=3.000;desc=\"2 queries\", cache;desc=\"2 hits 1 misses\""
    );
}

#[test]
fn route_table_stops_growing_at_its_cap_and_still_resolves() {
    let mut t = RouteTable::new();
    for i in 0..super::MAX_CACHED_ROUTES + 10 {
        let (route, label) = t.resolve(Method::Get, Some(&format!("/r{i}")));
        assert_eq!(route.as_deref(), Some(format!("/r{i}").as_str()));
        assert_eq!(&*label, format!("GET /r{i}"));
    }
    assert_eq!(t.routes.len(), super::MAX_CACHED_ROUTES);
}

#[test]
fn path_memo_looks_each_path_up_once_and_stays_bounded() {
    let mut t = RouteTable::new();
    let mut lookups = 0;
    for _ in 0..3 {
        for id in 0..10 {
            let (route, label) = t.lookup(Method::Get, &format!("/items/{id}"), || {
                lookups += 1;
                Some("/items/{id}".to_owned())
            });
            assert_eq!(route.as_deref(), Some("/items/{id}"));
            assert_eq!(&*label, "GET /items/{id}");
        }
    }
    assert_eq!(lookups, 10, "repeated paths skip the lookup (unless two share a slot)");
    let (route, label) = t.lookup(Method::Post, "/nope", || None);
    assert!(route.is_none());
    assert_eq!(&*label, "POST <unmatched>");
    let (route, _) = t.lookup(Method::Post, "/nope", || panic!("memoized"));
    assert!(route.is_none());
    for i in 0..10 * super::MEMO_SLOTS {
        t.lookup(Method::Get, &format!("/p/{i}"), || Some("/p/{n}".to_owned()));
    }
    assert_eq!(t.memo.len(), super::MEMO_SLOTS);
    assert!(t.memo.iter().all(|s| s.path.len() <= super::MAX_MEMO_PATH));
    let long = format!("/{}", "x".repeat(super::MAX_MEMO_PATH));
    let mut calls = 0;
    for _ in 0..2 {
        t.lookup(Method::Get, &long, || {
            calls += 1;
            None
        });
    }
    assert_eq!(calls, 2, "long paths are not memoized");
}
