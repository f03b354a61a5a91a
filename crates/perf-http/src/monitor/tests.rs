//! Unit tests of the monitor's path exclusion, route table and header format.

use std::{sync::Arc, time::Duration};

use actix_web::web::BytesMut;
use perf_core::{Method, NoopRecorder, RequestScope, SharedThresholds, SystemClock};

use super::{RouteTable, Settings, StackText, server_timing_value};

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
    check_excluded("/metric", false);
    check_excluded("/api", false);
    check_excluded("", false);
    check_excluded("/performance/", true);
    check_excluded("/xmetrics", false);
    // An empty prefix (`exclude("/")`) skips every path.
    let all = settings(&[""]);
    assert!(all.is_excluded("/") && all.is_excluded("/a/b") && all.is_excluded(""));
}

#[test]
fn route_table_reuses_labels_per_method() {
    let mut t = RouteTable::new();
    let (r1, l1) = t.resolve(Method::Get, Some("/a/{id}")).parts();
    let (r2, l2) = t.resolve(Method::Get, Some("/a/{id}")).parts();
    let (_, l3) = t.resolve(Method::Post, Some("/a/{id}")).parts();
    assert_eq!(&*l1, "GET /a/{id}");
    assert!(Arc::ptr_eq(&l1, &l2));
    assert!(std::rc::Rc::ptr_eq(r1.as_ref().unwrap(), r2.as_ref().unwrap()));
    assert_eq!(&*l3, "POST /a/{id}");
    let (none, unmatched) = t.resolve(Method::Get, None).parts();
    assert!(none.is_none());
    assert_eq!(&*unmatched, "GET <unmatched>");
}

#[test]
fn server_timing_lists_db_and_cache_only_when_used() {
    let mut buf = BytesMut::new();
    let scope = RequestScope::new("GET /");
    let v = server_timing_value(Duration::from_micros(12_345), &scope, &mut buf).unwrap();
    assert_eq!(v.to_str().unwrap(), "total;dur=12.345");
    scope.record_query(1, Duration::from_millis(2));
    scope.record_query(2, Duration::from_millis(1));
    scope.record_cache(true);
    scope.record_cache(false);
    scope.record_cache(true);
    let v = server_timing_value(Duration::from_millis(20), &scope, &mut buf).unwrap();
    assert_eq!(
        v.to_str().unwrap(),
        "total;dur=20.000, db;dur=3.000;desc=\"2 queries\", cache;desc=\"2 hits 1 misses\""
    );
}

#[test]
fn server_timing_millis_match_the_decimal_reference() {
    let mut buf = BytesMut::with_capacity(64);
    let scope = RequestScope::new("GET /");
    for d in [
        Duration::ZERO,
        Duration::from_nanos(999),
        Duration::from_micros(7),
        Duration::from_micros(1_050),
        Duration::from_millis(999),
        Duration::new(3_600, 123_456_789),
        Duration::new(u64::MAX / 1_000 - 1, 999_999_999),
    ] {
        let v = server_timing_value(d, &scope, &mut buf).unwrap();
        let micros = d.as_micros();
        assert_eq!(v.to_str().unwrap(), format!("total;dur={}.{:03}", micros / 1_000, micros % 1_000), "{d:?}");
    }
}

#[test]
fn stack_text_writes_integers_and_refuses_to_overflow() {
    let mut t = StackText::new();
    for n in [0, 9, 10, 4_096, u64::MAX] {
        t.push_u64(n);
        t.push(" ");
    }
    assert_eq!(t.as_bytes().unwrap(), format!("0 9 10 4096 {} ", u64::MAX).as_bytes());
    let mut full = StackText::new();
    full.push(&"x".repeat(160));
    assert_eq!(full.as_bytes().map(<[u8]>::len), Some(160));
    full.push("y");
    assert!(full.as_bytes().is_none());
}

#[test]
fn route_table_stops_growing_at_its_cap_and_still_resolves() {
    let mut t = RouteTable::new();
    for i in 0..super::MAX_CACHED_ROUTES + 10 {
        let (route, label) = t.resolve(Method::Get, Some(&format!("/r{i}"))).parts();
        assert_eq!(route.as_deref(), Some(format!("/r{i}").as_str()));
        assert_eq!(&*label, format!("GET /r{i}"));
    }
    assert_eq!(t.routes.len(), super::MAX_CACHED_ROUTES);
}

#[test]
fn shape_memo_looks_each_shape_up_once_and_stays_bounded() {
    let mut t = RouteTable::new();
    let mut lookups = 0;
    for _ in 0..3 {
        for id in 0..10 {
            let (route, label) = t
                .lookup(Method::Get, &format!("/items/{id}"), || {
                    lookups += 1;
                    Some("/items/{id}".to_owned())
                })
                .endpoint
                .parts();
            assert_eq!(route.as_deref(), Some("/items/{id}"));
            assert_eq!(&*label, "GET /items/{id}");
        }
    }
    assert_eq!(lookups, 1, "every all-digit id has one shape");
    let (route, label) = t.lookup(Method::Post, "/nope", || None).endpoint.parts();
    assert!(route.is_none());
    assert_eq!(&*label, "POST <unmatched>");
    let (route, _) = t.lookup(Method::Post, "/nope", || panic!("memoized")).endpoint.parts();
    assert!(route.is_none());
    t.lookup(Method::Get, "/nope", || None);
    for i in 0..10 * super::MEMO_SLOTS {
        t.lookup(Method::Get, &format!("/p{i}/x"), || Some("/{p}/x".to_owned()));
    }
    assert_eq!(t.shapes.len(), super::MEMO_SLOTS);
    assert!(t.shapes.iter().all(|s| s.shape.len() <= super::MAX_MEMO_PATH));
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

fn shape(path: &str) -> Option<Vec<u8>> {
    let mut out = [7; super::MAX_MEMO_PATH];
    super::shape_of(path, &mut out).map(|len| out[..len].to_vec())
}

#[test]
fn shapes_replace_digit_and_uuid_segments_only() {
    assert_eq!(shape("/items/42").unwrap(), b"/items/\0");
    assert_eq!(shape("/items/42").unwrap(), shape("/items/4095").unwrap());
    assert_eq!(shape("/u/7/posts/19").unwrap(), b"/u/\0/posts/\0");
    assert_eq!(shape("/d/6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b").unwrap(), b"/d/\x01");
    assert_eq!(shape("/d/6F1C2A3B-4D5E-4F60-8A7B-9C0D1E2F3A4B").unwrap(), b"/d/\x01");
    // Not a UUID: a hyphen misplaced, a non-hex letter, one digit short.
    for path in [
        "/d/6f1c2a3b4-d5e-4f60-8a7b-9c0d1e2f3a4b",
        "/d/6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4g",
        "/d/6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4",
    ] {
        assert_eq!(shape(path).unwrap(), path.as_bytes(), "{path}");
    }
    // Mixed segments stay literal; empty segments are not digits.
    assert_eq!(shape("/items/42a").unwrap(), b"/items/42a");
    assert_eq!(shape("/items/").unwrap(), b"/items/");
    assert_eq!(shape("//").unwrap(), b"//");
    assert_eq!(shape("").unwrap(), b"");
    // A path holding a marker byte itself is never memoised.
    assert!(shape("/a/\0").is_none());
    assert!(shape("/a/x\x01").is_none());
    assert!(shape(&format!("/{}", "1".repeat(super::MAX_MEMO_PATH))).is_none());
}

#[test]
fn held_endpoints_resolve_one_store_handle_and_record_through_it() {
    let store = perf_core::Store::with_defaults();
    let mut t = RouteTable::new();
    let e = t.resolve(Method::Get, Some("/a/{id}"));
    let first = e.handle(&store, Method::Get).unwrap() as *const _;
    assert_eq!(first, e.handle(&store, Method::Get).unwrap() as *const _, "resolved once");
    assert!(std::rc::Rc::ptr_eq(&e, &t.resolve(Method::Get, Some("/a/{id}"))));
    // Endpoints past the table's cap are not held and record through the key map.
    for i in 0..super::MAX_CACHED_ROUTES {
        t.resolve(Method::Get, Some(&format!("/r{i}")));
    }
    let loose = t.resolve(Method::Get, Some("/loose"));
    assert!(loose.handle(&store, Method::Get).is_none());
    assert!(e.handle(&NoopRecorder, Method::Get).is_some(), "kept from the first resolution");
}

#[test]
fn server_timing_values_stay_intact_while_the_buffer_fills_and_is_reclaimed() {
    let scope = RequestScope::new("GET /");
    let mut buf = BytesMut::with_capacity(64);
    // Held values keep their bytes while later ones fill the buffer and
    // move on to new ones...
    let held: Vec<_> =
        (0..200u64).map(|i| server_timing_value(Duration::from_micros(i * 1_001), &scope, &mut buf).unwrap()).collect();
    for (i, v) in (0u64..).zip(&held) {
        let micros = i * 1_001;
        assert_eq!(v.to_str().unwrap(), format!("total;dur={}.{:03}", micros / 1_000, micros % 1_000));
    }
    drop(held);
    // ...and values written after them, into reclaimed room, are right too.
    for i in 0..100u64 {
        let v = server_timing_value(Duration::from_micros(i), &scope, &mut buf).unwrap();
        assert_eq!(v.to_str().unwrap(), format!("total;dur=0.{i:03}"));
    }
}
