//! Tests of the store: keys, windows, tiers, rings, gauges and the memory bound.

use std::sync::Arc;

use super::*;
use crate::{
    CacheEvent, CacheEventKind, ManualClock, MetricsSource, NPlusOneSample, Recorder, SeriesKey, SeriesResolution,
    SystemClock, SystemSample, Window,
};

const T0: u64 = 1_700_000_000; // a whole minute: 1_700_000_000 % 60 == 20, so shift below

fn start() -> Timestamp {
    // Align to a minute so tests know which roll-up bucket they are in.
    Timestamp::from_unix_secs(T0 - T0 % 60)
}

fn store_with(config: StoreConfig) -> (Store, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(start()));
    let store = Store::new(config, clock.clone(), Arc::new(SharedThresholds::default())).unwrap();
    (store, clock)
}

fn store() -> (Store, Arc<ManualClock>) {
    store_with(StoreConfig::default())
}

fn req(route: Option<&str>, status: u16, ms: u64, at: Timestamp) -> RequestSample<'_> {
    RequestSample::new(Method::Get, route, status, Duration::from_millis(ms), at, &SharedThresholds::default())
}

/// A request of `method` judged by `s`'s thresholds.
fn req_to<'a>(
    s: &Store,
    method: Method,
    route: Option<&'a str>,
    status: u16,
    ms: u64,
    at: Timestamp,
) -> RequestSample<'a> {
    RequestSample::new(method, route, status, Duration::from_millis(ms), at, s.thresholds())
}

fn w(m: i64) -> Window {
    Window::minutes(m).unwrap()
}

#[test]
fn counts_errors_client_errors_and_slow_requests() {
    let (s, c) = store();
    s.record_request(&req(Some("/a"), 200, 10, c.now()));
    s.record_request(&req(Some("/a"), 404, 20, c.now()));
    s.record_request(&req(Some("/a"), 500, 30, c.now()));
    s.record_request(&req(Some("/a"), 200, 1_500, c.now()));
    let snap = s.snapshot(w(5));
    let a = &snap.requests;
    assert_eq!((a.count, a.errors, a.client_errors, a.slow), (4, 1, 1, 1));
    assert!((a.min - 0.010).abs() < 1e-9 && (a.max - 1.5).abs() < 1e-9);
    assert!((a.avg - 1.56 / 4.0).abs() < 1e-9);
    assert_eq!(snap.slow_requests.len(), 1);
    assert_eq!(snap.slow_requests[0].route, "/a");
    assert_eq!(snap.slow_requests[0].status, 200);
}

#[test]
fn endpoints_are_keyed_by_method_and_route() {
    let (s, c) = store();
    s.record_request(&req_to(&s, Method::Get, Some("/p/{id}"), 200, 1, c.now()));
    s.record_request(&req_to(&s, Method::Post, Some("/p/{id}"), 201, 1, c.now()));
    s.record_request(&req_to(&s, Method::Get, Some("/p/{id}"), 200, 1, c.now()));
    let snap = s.snapshot(w(1));
    let keys: Vec<_> = snap.endpoints.iter().map(|e| (e.method, e.route.as_str(), e.stats.count)).collect();
    assert_eq!(keys, vec![(Method::Get, "/p/{id}", 2), (Method::Post, "/p/{id}", 1)]);
}

#[test]
fn unmatched_requests_share_one_key() {
    let (s, c) = store();
    s.record_request(&req(None, 404, 1, c.now()));
    s.record_request(&req_to(&s, Method::Post, None, 404, 1, c.now()));
    let snap = s.snapshot(w(1));
    assert_eq!(snap.endpoints.len(), 1);
    assert_eq!(snap.endpoints[0].route, UNMATCHED_ROUTE);
    assert_eq!(snap.endpoints[0].stats.count, 2);
}

#[test]
fn keys_past_the_cap_go_to_the_overflow_key() {
    let config = StoreConfig {
        max_endpoints: NonZeroUsize::new(3).unwrap(),
        max_queries: NonZeroUsize::new(2).unwrap(),
        ..StoreConfig::default()
    };
    let (s, c) = store_with(config);
    for i in 0..10 {
        let route = format!("/r{i}");
        s.record_request(&req(Some(&route), 200, 1, c.now()));
        let fp = format!("SELECT {i}");
        s.record_query(&QuerySample {
            fingerprint: &fp,
            sql: &fp,
            duration: Duration::from_micros(5),
            ok: true,
            at: c.now(),
            scope: Some("GET /r"),
            kind: crate::QueryKind::Read,
            slow: s.thresholds().query_is_slow(Duration::from_micros(5)),
            trace: None,
        });
    }
    let snap = s.snapshot(w(1));
    assert_eq!(snap.endpoints.len(), 4);
    let overflow = snap.endpoints.iter().find(|e| e.route == OVERFLOW_ROUTE).unwrap();
    assert_eq!(overflow.stats.count, 7);
    assert_eq!(snap.keys.overflowed_requests, 7);
    assert_eq!(snap.query_stats.len(), 3);
    assert_eq!(snap.keys.overflowed_queries, 8);
    assert_eq!(snap.requests.count, 10);
}

use std::num::NonZeroUsize;

#[test]
fn windows_exclude_old_buckets() {
    let (s, c) = store();
    s.record_request(&req(Some("/a"), 200, 5, c.now()));
    c.advance(Duration::from_secs(10 * 60));
    s.record_request(&req(Some("/a"), 200, 7, c.now()));
    assert_eq!(s.snapshot(w(5)).requests.count, 1);
    assert_eq!(s.snapshot(w(11)).requests.count, 2);
}

#[test]
fn long_windows_read_the_roll_up_tier() {
    let (s, c) = store();
    for _ in 0..5 {
        s.record_request(&req(Some("/a"), 500, 5, c.now()));
        c.advance(Duration::from_secs(30 * 60));
    }
    // Two hours later: the fine tier (1 h) no longer covers the first samples.
    let snap = s.snapshot(w(1_440));
    assert_eq!(snap.requests.count, 5);
    assert_eq!(snap.requests.errors, 5);
    assert!((snap.requests.p50 - 0.005).abs() / 0.005 < 0.02);
    c.advance(Duration::from_secs(25 * 3600));
    assert_eq!(s.snapshot(w(1_440)).requests.count, 0);
}

#[test]
fn percentiles_span_shards_and_pending_buckets() {
    let (s, c) = store();
    let s = Arc::new(s);
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let s = s.clone();
            let now = c.now();
            scope.spawn(move || {
                for i in 0..250u64 {
                    s.record_request(&req(Some("/a"), 200, 1 + (t * 250 + i) % 1000, now));
                }
            });
        }
    });
    let snap = s.snapshot(w(1));
    assert_eq!(snap.requests.count, 1000);
    let p50 = snap.requests.p50;
    assert!((p50 - 0.500).abs() / 0.500 < 0.02, "p50 {p50}");
    // Move on two minutes: shards flush into the pending and arena histograms.
    c.advance(Duration::from_secs(120));
    s.record_request(&req(Some("/a"), 200, 1, c.now()));
    c.advance(Duration::from_secs(60));
    s.record_request(&req(Some("/a"), 200, 1, c.now()));
    let snap = s.snapshot(w(5));
    assert_eq!(snap.requests.count, 1002);
    assert_eq!(snap.requests.histogram_coverage, 1.0);
    assert!((snap.requests.p99 - 0.990).abs() / 0.990 < 0.02, "p99 {}", snap.requests.p99);
}

#[test]
fn queries_record_failures_and_slow_text() {
    let (s, c) = store();
    let sql = "SELECT * FROM plants WHERE id = 1";
    s.record_query(&QuerySample {
        fingerprint: "SELECT * FROM plants WHERE id = ?",
        sql,
        duration: Duration::from_millis(250),
        ok: true,
        at: c.now(),
        scope: Some("GET /p"),
        kind: crate::QueryKind::Read,
        slow: s.thresholds().query_is_slow(Duration::from_millis(250)),
        trace: None,
    });
    s.record_query(&QuerySample {
        fingerprint: "SELECT * FROM plants WHERE id = ?",
        sql,
        duration: Duration::from_millis(1),
        ok: false,
        at: c.now(),
        scope: Some("GET /q"),
        kind: crate::QueryKind::Read,
        slow: s.thresholds().query_is_slow(Duration::from_millis(1)),
        trace: None,
    });
    let snap = s.snapshot(w(5));
    assert_eq!(snap.queries.count, 2);
    assert_eq!(snap.queries.errors, 1);
    assert_eq!(snap.queries.slow, 1);
    assert_eq!(snap.query_stats[0].example_sql, sql);
    assert_eq!(snap.slow_queries.len(), 2);
    assert!(!snap.slow_queries[0].ok);
    assert_eq!(snap.slow_queries[1].scope.as_deref(), Some("GET /p"));
}

#[test]
fn slow_sql_is_truncated_to_2_kib_on_a_char_boundary() {
    let (s, c) = store();
    let sql = "é".repeat(3_000);
    s.record_query(&QuerySample {
        fingerprint: "x",
        sql: &sql,
        duration: Duration::from_secs(1),
        ok: true,
        at: c.now(),
        scope: Some("GET /q"),
        kind: crate::QueryKind::Read,
        slow: s.thresholds().query_is_slow(Duration::from_secs(1)),
        trace: None,
    });
    let snap = s.snapshot(w(1));
    assert_eq!(snap.slow_queries[0].sql.len(), MAX_SQL_BYTES);
    assert_eq!(snap.query_stats[0].example_sql.len(), MAX_SQL_BYTES);
}

#[test]
fn slow_rings_are_bounded() {
    let config = StoreConfig { slow_requests: NonZeroUsize::new(5).unwrap(), ..StoreConfig::default() };
    let (s, c) = store_with(config);
    for i in 0..20 {
        s.record_request(&req(Some("/slow"), 200, 2_000 + i, c.now()));
    }
    let snap = s.snapshot(w(1));
    assert_eq!(snap.slow_requests.len(), 5);
    assert!((snap.slow_requests[0].duration - 2.019).abs() < 1e-9, "newest first");
}

#[test]
fn query_attribution_is_averaged_per_request() {
    let (s, c) = store();
    let mut sample = req(Some("/r"), 200, 10, c.now());
    sample.queries = 6;
    sample.query_time = Duration::from_millis(3);
    s.record_request(&sample);
    sample.queries = 2;
    s.record_request(&sample);
    let e = &s.snapshot(w(1)).endpoints[0];
    assert_eq!(e.queries_per_request, 4.0);
    assert!((e.query_time_per_request - 0.003).abs() < 1e-9);
}

#[test]
fn system_and_cache_gauges_aggregate_over_the_window() {
    let (s, c) = store();
    for rss in [100u64, 300] {
        s.record_system(&SystemSample {
            at: c.now(),
            rss_bytes: rss * 1024 * 1024,
            cpu_percent: 10.0,
            ..Default::default()
        });
        c.advance(Duration::from_secs(5));
    }
    for kind in [CacheEventKind::Hit, CacheEventKind::Hit, CacheEventKind::Miss] {
        s.record_cache(&CacheEvent { kind, tier: crate::CacheTier::Memory, at: c.now() });
    }
    s.record_cache(&CacheEvent { kind: CacheEventKind::Hit, tier: crate::CacheTier::Remote, at: c.now() });
    let snap = s.snapshot(w(1));
    assert_eq!(snap.system.samples, 2);
    assert_eq!(snap.system.avg_rss_mb, 200.0);
    assert_eq!(snap.system.max_rss_mb, 300.0);
    assert_eq!(snap.system.current.unwrap().rss_bytes, 300 * 1024 * 1024);
    assert_eq!(snap.cache.hits(), 3);
    assert_eq!(snap.cache.hit_rate(), 0.75);
    let g = s.gauges(w(1));
    assert_eq!(g.iter().map(|p| p.samples).sum::<u64>(), 2);
    assert_eq!(g.iter().map(|p| p.cache_hits).sum::<u64>(), 3);
}

#[test]
fn series_have_one_point_per_bucket() {
    let (s, c) = store();
    for i in 0..3u64 {
        s.record_request(&req(Some("/a"), if i == 2 { 500 } else { 200 }, 10 * (i + 1), c.now()));
        c.advance(Duration::from_secs(60));
    }
    let key = SeriesKey::Endpoint { method: Method::Get, route: "/a".into() };
    let fine = s.series(&key, w(5));
    assert_eq!(fine.len(), 5 * 6 - 5); // the current minute has only its first fine bucket so far
    assert_eq!(fine.iter().map(|p| p.count).sum::<u64>(), 3);
    assert!(fine.iter().all(|p| !p.has_percentiles));
    let coarse = s.series(&key, w(120));
    let with_data: Vec<_> = coarse.iter().filter(|p| p.count > 0).collect();
    assert_eq!(with_data.len(), 3);
    assert!(with_data.iter().all(|p| p.has_percentiles));
    assert!((with_data[2].p50 - 0.030).abs() / 0.030 < 0.02);
    assert_eq!(with_data[2].errors, 1);
    let rollup = s.series_at(&key, w(5), crate::SeriesResolution::Rollup);
    assert_eq!(rollup.len(), 5);
    assert_eq!(rollup.iter().filter(|p| p.has_percentiles).count(), 3);
    let all = s.series(&SeriesKey::Requests, w(5));
    assert_eq!(all.iter().map(|p| p.count).sum::<u64>(), 3);
    let unknown = s.series(&SeriesKey::Query { fingerprint: "nope".into() }, w(5));
    assert!(unknown.iter().all(|p| p.count == 0));
}

fn n_plus_one(route: &str, count: u32, ms: u64, at: Timestamp) -> NPlusOneSample<'_> {
    NPlusOneSample {
        scope: route,
        fingerprint: "SELECT ?",
        count,
        total_time: Duration::from_millis(ms),
        at,
        trace: None,
    }
}

#[test]
fn n_plus_one_findings_are_one_row_per_route_and_fingerprint() {
    let (s, c) = store();
    // Ground truth: 5 requests of "GET /r" ran the shape 7, 12, 9, 12, 8 times,
    // taking 7, 12, 9, 12, 8 ms; one request of "GET /q" ran it 6 times.
    let counts = [7u32, 12, 9, 12, 8];
    let first = c.now();
    for n in counts {
        s.record_n_plus_one(&n_plus_one("GET /r", n, u64::from(n), c.now()));
        c.advance(Duration::from_secs(1));
    }
    s.record_n_plus_one(&n_plus_one("GET /q", 6, 60, c.now()));
    let snap = s.snapshot(w(1));
    assert_eq!(snap.n_plus_one.len(), 2);
    // Most time per request first: /q spends 60 ms per request, /r 9.6 ms.
    let q = &snap.n_plus_one[0];
    assert_eq!((q.scope.as_str(), q.requests, q.max_count, q.last_count), ("GET /q", 1, 6, 6));
    let r = &snap.n_plus_one[1];
    assert_eq!(r.scope, "GET /r");
    assert_eq!(r.requests, 5);
    assert_eq!(r.max_count, 12);
    assert_eq!(r.last_count, 8);
    // Sorted counts 7, 8, 9, 12, 12: the median is 9.
    assert_eq!(r.typical_count, 9);
    assert!((r.time_per_request - 0.048 / 5.0).abs() < 1e-12);
    assert!((r.max_time_per_request - 0.012).abs() < 1e-12);
    assert_eq!(r.first_seen, first.to_datetime());
    assert_eq!(r.last_seen, Timestamp::from_unix_micros(first.as_unix_micros() + 4_000_000).to_datetime());
}

#[test]
fn n_plus_one_table_evicts_the_least_recently_seen() {
    let config = StoreConfig { n_plus_one: std::num::NonZeroUsize::new(2).unwrap(), ..StoreConfig::default() };
    let (s, c) = store_with(config);
    s.record_n_plus_one(&n_plus_one("GET /a", 5, 1, c.now()));
    c.advance(Duration::from_secs(1));
    s.record_n_plus_one(&n_plus_one("GET /b", 5, 1, c.now()));
    c.advance(Duration::from_secs(1));
    s.record_n_plus_one(&n_plus_one("GET /a", 5, 1, c.now()));
    c.advance(Duration::from_secs(1));
    // /b is now the least recently seen: /c takes its slot.
    s.record_n_plus_one(&n_plus_one("GET /c", 5, 1, c.now()));
    let mut routes: Vec<_> = s.snapshot(w(1)).n_plus_one.into_iter().map(|f| (f.scope, f.requests)).collect();
    routes.sort();
    assert_eq!(routes, [("GET /a".to_owned(), 2), ("GET /c".to_owned(), 1)]);
}

#[test]
fn background_queries_are_kept_apart_from_request_queries() {
    let (s, c) = store();
    let q = |route, fp, ms, kind| QuerySample {
        fingerprint: fp,
        sql: fp,
        duration: Duration::from_millis(ms),
        ok: true,
        at: c.now(),
        scope: route,
        kind,
        slow: SharedThresholds::default().query_is_slow(Duration::from_millis(ms)),
        trace: None,
    };
    s.record_query(&q(Some("GET /a"), "SELECT a FROM t", 2, crate::QueryKind::Read));
    s.record_query(&q(Some("GET /a"), "SELECT a FROM t", 4, crate::QueryKind::Read));
    s.record_query(&q(None, "CREATE TABLE t (a INT)", 900, crate::QueryKind::Schema));
    s.record_query(&q(None, "SELECT a FROM t", 1, crate::QueryKind::Read));
    let snap = s.snapshot(w(1));
    assert_eq!(snap.queries.count, 2);
    assert_eq!(snap.query_stats.len(), 1);
    assert_eq!(snap.query_stats[0].fingerprint, "SELECT a FROM t");
    assert_eq!(snap.query_stats[0].stats.count, 2);
    assert_eq!(snap.background_queries.count, 2);
    let bg: Vec<_> =
        snap.background_query_stats.iter().map(|q| (q.fingerprint.as_str(), q.kind, q.stats.count)).collect();
    assert_eq!(
        bg,
        [("CREATE TABLE t (a INT)", crate::QueryKind::Schema, 1), ("SELECT a FROM t", crate::QueryKind::Read, 1)]
    );
    // The slow CREATE is kept as a slow query, marked as run outside any request.
    assert_eq!(snap.slow_queries.len(), 1);
    assert_eq!((snap.slow_queries[0].scope.as_deref(), snap.slow_queries[0].kind), (None, crate::QueryKind::Schema));
    // The fingerprint's series over time sums both origins; the key count holds both series.
    let series = s.series(&SeriesKey::Query { fingerprint: "SELECT a FROM t".into() }, w(1));
    assert_eq!(series.iter().map(|p| p.count).sum::<u64>(), 3);
    let totals = s.totals();
    let t: Vec<_> = totals.queries.iter().map(|q| (q.fingerprint.as_str(), q.background, q.totals.count)).collect();
    assert_eq!(t, [("SELECT a FROM t", false, 2), ("CREATE TABLE t (a INT)", true, 1), ("SELECT a FROM t", true, 1)]);
}

#[test]
fn memory_does_not_grow_with_samples() {
    let (s, c) = store();
    let routes = ["/a", "/b/{id}", "/c"];
    let fps = ["SELECT ?", "UPDATE t SET a = ?"];
    for r in routes {
        s.record_request(&req(Some(r), 200, 1, c.now()));
    }
    for fp in fps {
        s.record_query(&QuerySample {
            fingerprint: fp,
            sql: fp,
            duration: Duration::from_secs(1),
            ok: false,
            at: c.now(),
            scope: Some("GET /a"),
            kind: crate::QueryKind::Read,
            slow: s.thresholds().query_is_slow(Duration::from_secs(1)),
            trace: None,
        });
    }
    s.record_n_plus_one(&NPlusOneSample {
        scope: "GET /a",
        fingerprint: "SELECT ?",
        count: 5,
        total_time: Duration::ZERO,
        at: c.now(),
        trace: None,
    });
    let before = s.accounted_bytes();
    // A million samples over 50 hours (3 minutes per 1,000 samples): by 37.5
    // hours every ring chunk the traffic reaches is written, and the rest of
    // the run finds them all allocated.
    let mut full = 0;
    for i in 0..1_000_000u64 {
        if i % 1_000 == 0 {
            c.advance(Duration::from_secs(180));
        }
        if i == 750_000 {
            full = s.accounted_bytes();
        }
        let r = routes[(i % 3) as usize];
        s.record_request(&req(Some(r), if i % 97 == 0 { 500 } else { 200 }, 1 + i % 3_000, c.now()));
        if i % 10 == 0 {
            let fp = fps[(i % 2) as usize];
            s.record_query(&QuerySample {
                fingerprint: fp,
                sql: fp,
                duration: Duration::from_micros(i * 7_919 % 200_000),
                ok: true,
                at: c.now(),
                scope: Some("GET /a"),
                kind: crate::QueryKind::Read,
                slow: s.thresholds().query_is_slow(Duration::from_micros(i * 7_919 % 200_000)),
                trace: None,
            });
        }
        if i % 5_000 == 0 {
            s.record_n_plus_one(&NPlusOneSample {
                scope: "GET /a",
                fingerprint: "SELECT ?",
                count: 5,
                total_time: Duration::ZERO,
                at: c.now(),
                trace: None,
            });
        }
    }
    // History grows memory up to each series' bound, then never again.
    assert!(full > before);
    assert!(full - before <= 5 * series::Series::max_bytes(&s.geometry), "{before} -> {full}");
    assert_eq!(s.accounted_bytes(), full);
    assert_eq!(s.snapshot(w(1_440)).requests.count, 1_000 * 1_440 / 3);
}

/// Bytes one endpoint series holds beyond an empty store's, after `history`
/// of traffic: ten requests every 10 seconds with latencies spread over
/// 60 histogram bins per minute.
fn endpoint_bytes_after(history: Duration) -> (usize, Geometry) {
    let (s, c) = store();
    let empty = s.accounted_bytes();
    let mut i = 0u64;
    while i * 10 < history.as_secs().max(1) {
        for k in 0..10 {
            let micros = 100 + (i * 10 + k) % 60 * 37;
            s.record_request(&req(Some("/a"), 200, 0, c.now()).with_duration(Duration::from_micros(micros)));
        }
        c.advance(Duration::from_secs(10));
        i += 1;
    }
    // The status table is fixed when the key is first seen.
    (s.accounted_bytes() - empty - StatusTable::accounted_bytes(&s.geometry), s.geometry)
}

#[test]
fn a_key_seen_once_holds_one_shard_histogram() {
    let (bytes, g) = endpoint_bytes_after(Duration::ZERO);
    // The shard array, one shard's histogram (4 KiB) and the chunk tables:
    // no ring chunk until its first bucket ends.
    let fixed = std::mem::size_of::<series::Series>() + g.shards * 512 + 4096;
    assert!(bytes >= fixed && bytes < fixed + 1_536, "{bytes} vs {fixed}");
    assert!(bytes <= 8 * 1024 + g.shards * 512, "{bytes}");
}

#[test]
fn memory_follows_the_history_written_up_to_the_bound() {
    let (hour, g) = endpoint_bytes_after(Duration::from_secs(3_600));
    let (day, _) = endpoint_bytes_after(Duration::from_secs(86_400));
    let (two_days, _) = endpoint_bytes_after(Duration::from_secs(2 * 86_400));
    let max = series::Series::max_bytes(&g);
    assert!(hour < day, "{hour} {day}");
    assert!(day <= max && two_days <= max, "{day} {two_days} {max}");
    // A day fills every chunk a one-shard key can reach; more history reuses them.
    assert_eq!(two_days, day);
    // The crate docs' figures (two shards): about 37 KiB after an hour and
    // 143 KiB after a day.
    let two_shards = |b: usize| b + 2 * 512 - g.shards * 512;
    assert!(two_shards(hour).abs_diff(37 * 1024) < 1024, "{hour}");
    assert!(two_shards(day).abs_diff(143 * 1024) < 1024, "{day}");
}

#[test]
fn roll_up_histograms_keep_large_bin_counts_exact() {
    let (s, c) = store();
    // 1,000 requests of 2 ms (one bin) and 5 of 9 ms in one minute; the
    // bucket is compacted into the arena once two later minutes begin.
    for i in 0..1_005u64 {
        let ms = if i < 1_000 { 2 } else { 9 };
        s.record_request(&req(Some("/a"), 200, ms, c.now()));
    }
    for _ in 0..3 {
        c.advance(Duration::from_secs(60));
        s.record_request(&req(Some("/a"), 200, 50, c.now()));
    }
    let snap = s.snapshot(w(10));
    assert_eq!(snap.requests.count, 1_008);
    assert_eq!(snap.requests.histogram_coverage, 1.0);
    assert!((snap.requests.p50 - 0.002).abs() <= 0.002 / 64.0, "{}", snap.requests.p50);
    // Rank 998 of 1,008 is still a 2 ms request: the 1,000 of them (a long
    // arena entry) are all held.
    assert!((snap.requests.p99 - 0.002).abs() <= 0.002 / 64.0, "{}", snap.requests.p99);
    let points = s.series_at(&SeriesKey::Requests, w(10), SeriesResolution::Rollup);
    let first = points.iter().find(|p| p.count == 1_005).expect("the first minute's point");
    assert!(first.has_percentiles);
    assert!((first.p95 - 0.002).abs() <= 0.002 / 64.0, "{}", first.p95);
}

#[test]
fn buckets_past_the_32_bit_mark_stay_apart() {
    // Fine buckets of 10 s reach index 2^32 here: slots keep the low 32
    // bits of a bucket's index and compare with wrap-around.
    let mark = (1u64 << 32) * 10;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(mark - 60)));
    let s = Store::new(StoreConfig::default(), clock.clone(), Arc::new(SharedThresholds::default())).unwrap();
    for minute in 0..4u64 {
        for _ in 0..=minute {
            s.record_request(&req(Some("/a"), 200, 5, clock.now()));
        }
        clock.advance(Duration::from_secs(30));
        s.record_request(&req(Some("/a"), 500, 5, clock.now()));
        clock.advance(Duration::from_secs(30));
    }
    let snap = s.snapshot(w(10));
    assert_eq!((snap.requests.count, snap.requests.errors), (1 + 2 + 3 + 4 + 4, 4));
    let fine = s.series(&SeriesKey::Requests, w(5));
    let counts: Vec<u64> = fine.iter().map(|p| p.count).filter(|&n| n > 0).collect();
    assert_eq!(counts, vec![1, 1, 2, 1, 3, 1, 4, 1]);
}

#[test]
fn epoch_marks_compare_across_the_wrap() {
    assert!(series::same_epoch(5, 5));
    assert!(series::same_epoch((1 << 32) + 5, 5));
    assert!(series::newer_epoch(1 << 32, u32::MAX));
    assert!(!series::newer_epoch(u64::from(u32::MAX), 0));
    assert!(series::newer_epoch(7, 6) && !series::newer_epoch(6, 7) && !series::newer_epoch(6, 6));
}

#[test]
fn histogram_arena_overflow_reports_partial_coverage() {
    let config = StoreConfig { histogram_entries: NonZeroUsize::new(2_048).unwrap(), ..StoreConfig::default() };
    let (s, c) = store_with(config);
    // Every minute fills well over a hundred distinct bins, so the 2,048-entry
    // ring cannot hold all twenty minutes of histograms.
    for _ in 0..20 {
        for i in 0..500u64 {
            s.record_request(&req(Some("/a"), 200, 0, c.now()).with_duration(Duration::from_micros(100 + i * 1_000)));
        }
        c.advance(Duration::from_secs(60));
    }
    let snap = s.snapshot(w(30));
    assert_eq!(snap.requests.count, 10_000);
    let coverage = snap.requests.histogram_coverage;
    assert!(coverage < 1.0 && coverage > 0.0, "coverage {coverage}");
    // The newest minutes are the ones kept.
    assert_eq!(s.snapshot(w(2)).requests.histogram_coverage, 1.0);
    assert!(snap.requests.p50 > 0.0);
}

#[test]
fn with_defaults_uses_the_system_clock() {
    let s = Store::with_defaults();
    let before = SystemClock.now();
    let t = s.now();
    let after = SystemClock.now();
    assert!(before <= t && t <= after, "{before} <= {t} <= {after}");
}

impl<'a> RequestSample<'a> {
    /// The sample with duration `d`, judged again (as `req` judges).
    fn with_duration(mut self, d: Duration) -> Self {
        self.duration = d;
        self.slow = SharedThresholds::default().request_is_slow(d);
        self
    }
}

#[test]
fn totals_count_since_start_and_never_decrease() {
    let (s, c) = store();
    for ms in [0u64, 1, 3, 30, 700, 20_000] {
        s.record_request(&req(Some("/t"), if ms == 700 { 500 } else { 200 }, ms, c.now()));
    }
    s.record_query(&QuerySample {
        fingerprint: "SELECT ?",
        sql: "SELECT 1",
        duration: Duration::from_millis(2),
        ok: false,
        at: c.now(),
        scope: None,
        kind: crate::QueryKind::Read,
        slow: s.thresholds().query_is_slow(Duration::from_millis(2)),
        trace: None,
    });
    let t = s.totals();
    assert_eq!(t.endpoints.len(), 1);
    let e = &t.endpoints[0].totals;
    assert_eq!((e.count, e.errors, e.slow), (6, 1, 1));
    // Default bounds 0.1 ms … 10 s: 0 ms is under every bound; 1 ms from le = 1 ms;
    // 3 ms from 5 ms; 30 ms from 50 ms; 700 ms from 1 s; 20 s is only in +Inf.
    assert_eq!(e.buckets, [1, 1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5]);
    assert_eq!(t.bucket_bounds, crate::DEFAULT_HISTOGRAM_BUCKETS);
    assert!((e.sum - 20.734).abs() < 1e-9);
    assert_eq!(t.queries[0].totals.errors, 1);
    // Two days later the windows are empty but the totals remain.
    c.advance(Duration::from_secs(48 * 3600));
    s.record_request(&req(Some("/t"), 200, 1, c.now()));
    assert_eq!(s.snapshot(w(1_440)).requests.count, 1);
    assert_eq!(s.totals().endpoints[0].totals.count, 7);
}

#[test]
fn totals_bounds_match_the_published_seconds() {
    let (s, _) = store();
    let g = &s.geometry;
    assert_eq!(g.le_n, crate::DEFAULT_HISTOGRAM_BUCKETS.len());
    for (ns, secs) in g.le_nanos[..g.le_n].iter().zip(crate::DEFAULT_HISTOGRAM_BUCKETS) {
        assert_eq!(*ns as f64 / 1e9, secs);
    }
}

/// Records requests of `micros` each and returns the endpoint's `le` counts.
fn status_buckets(config: StoreConfig, micros: u64, n: usize) -> (Vec<f64>, crate::StatusTotals) {
    let (s, c) = store_with(config);
    for _ in 0..n {
        s.record_request(&req(Some("/fast"), 200, 0, c.now()).with_duration(Duration::from_micros(micros)));
    }
    let t = s.totals();
    (t.bucket_bounds, t.endpoints[0].statuses[0].clone())
}

#[test]
fn sub_millisecond_requests_land_in_the_100_microsecond_bucket() {
    let (bounds, st) = status_buckets(StoreConfig::default(), 95, 20);
    assert_eq!(st.status, "200");
    assert_eq!((bounds[0], st.buckets[0], st.count), (0.0001, 20, 20));
    assert!(st.buckets.iter().all(|&b| b == 20));
}

#[test]
fn configured_buckets_replace_the_defaults() {
    let config = StoreConfig {
        histogram_buckets: vec![Duration::from_micros(50), Duration::from_micros(200), Duration::from_secs(1)],
        ..StoreConfig::default()
    };
    let (bounds, st) = status_buckets(config, 95, 3);
    assert_eq!(bounds, [0.00005, 0.0002, 1.0]);
    assert_eq!(st.buckets, [0, 3, 3]);
}

#[test]
fn statuses_are_counted_per_code_and_fold_into_classes_past_the_cap() {
    let (s, c) = store();
    // 16 distinct codes take the slots; the next ones fold into their class.
    let codes: Vec<u16> = (0..crate::STATUS_CODES_PER_ENDPOINT as u16).map(|i| 200 + i).collect();
    for code in &codes {
        s.record_request(&req(Some("/s"), *code, 1, c.now()));
    }
    for code in [503, 504, 200, 404] {
        s.record_request(&req(Some("/s"), code, 2, c.now()));
    }
    let t = s.totals();
    let e = &t.endpoints[0];
    let labels: Vec<(&str, u64)> = e.statuses.iter().map(|s| (s.status.as_str(), s.count)).collect();
    assert_eq!(labels.len(), crate::STATUS_CODES_PER_ENDPOINT + 2);
    assert!(labels.contains(&("200", 2)), "{labels:?}");
    assert!(labels.contains(&("5xx", 2)), "{labels:?}");
    assert!(labels.contains(&("4xx", 1)), "{labels:?}");
    assert_eq!(e.statuses.iter().map(|s| s.count).sum::<u64>(), e.totals.count);
}

#[test]
fn cache_and_n_plus_one_totals_survive_windows_and_eviction() {
    let config = StoreConfig { n_plus_one: NonZeroUsize::new(1).unwrap(), ..StoreConfig::default() };
    let (s, c) = store_with(config);
    for fp in ["SELECT a", "SELECT b", "SELECT a"] {
        s.record_n_plus_one(&NPlusOneSample {
            scope: "GET /a",
            fingerprint: fp,
            count: 5,
            total_time: Duration::ZERO,
            at: c.now(),
            trace: None,
        });
    }
    s.record_cache(&CacheEvent { kind: CacheEventKind::Hit, tier: crate::CacheTier::Memory, at: c.now() });
    c.advance(Duration::from_secs(48 * 3600));
    s.record_cache(&CacheEvent { kind: CacheEventKind::Error, tier: crate::CacheTier::Remote, at: c.now() });
    let t = s.totals();
    // The one-slot table evicted twice, but the route's counter kept every finding.
    assert_eq!(t.n_plus_one, vec![crate::NPlusOneTotals { scope: "GET /a".into(), findings: 3 }]);
    assert_eq!((t.cache.memory.hits, t.cache.remote.errors), (1, 1));
    assert_eq!(s.snapshot(w(5)).cache.memory.hits, 0);
}

#[test]
fn n_plus_one_routes_past_the_cap_share_the_overflow_counter() {
    let config = StoreConfig { max_endpoints: NonZeroUsize::new(1).unwrap(), ..StoreConfig::default() };
    let (s, c) = store_with(config);
    for route in ["GET /a", "GET /b", "GET /c"] {
        s.record_n_plus_one(&NPlusOneSample {
            scope: route,
            fingerprint: "SELECT ?",
            count: 5,
            total_time: Duration::ZERO,
            at: c.now(),
            trace: None,
        });
    }
    let routes: Vec<_> = s.totals().n_plus_one.into_iter().map(|n| (n.scope, n.findings)).collect();
    assert_eq!(routes, vec![(OVERFLOW_ROUTE.to_owned(), 2), ("GET /a".to_owned(), 1)]);
}

#[test]
fn thresholds_updates_apply_to_recording_at_once() {
    let (s, c) = store();
    let judged = |s: &Store| req_to(s, Method::Get, Some("/t"), 200, 300, c.now());
    s.record_request(&judged(&s));
    s.thresholds()
        .update_thresholds(&crate::ThresholdsPatch { slow_request_threshold: Some(0.1), ..Default::default() })
        .unwrap();
    s.record_request(&judged(&s));
    assert_eq!(s.snapshot(w(1)).requests.slow, 1);
}

#[test]
fn the_store_counts_slow_by_the_verdict_the_sample_carries() {
    let (s, c) = store();
    // Judged by stricter thresholds than the store's: the sample's verdict wins.
    s.record_request(&RequestSample { slow: true, ..req(Some("/v"), 200, 1, c.now()) });
    s.record_request(&RequestSample { slow: false, ..req(Some("/v"), 200, 5_000, c.now()) });
    s.record_query(&QuerySample {
        fingerprint: "SELECT ?",
        sql: "SELECT 1",
        duration: Duration::from_micros(5),
        ok: true,
        at: c.now(),
        scope: Some("GET /v"),
        kind: crate::QueryKind::Read,
        slow: true,
        trace: None,
    });
    let snap = s.snapshot(w(1));
    assert_eq!((snap.requests.count, snap.requests.slow), (2, 1));
    assert_eq!(snap.slow_requests.len(), 1);
    assert_eq!(snap.slow_requests[0].duration, 0.001);
    assert_eq!((snap.queries.slow, snap.slow_queries.len()), (1, 1));
}

#[test]
fn slow_means_strictly_longer_than_the_threshold() {
    let t = SharedThresholds::default();
    let request = Duration::from_secs_f64(t.slow_request_secs());
    let query = Duration::from_secs_f64(t.slow_query_secs());
    assert!(!t.request_is_slow(request) && t.request_is_slow(request + Duration::from_nanos(1)));
    assert!(!t.query_is_slow(query) && t.query_is_slow(query + Duration::from_nanos(1)));
}

#[test]
fn traffic_past_the_caps_counts_every_overflowing_sample() {
    let config = StoreConfig { max_endpoints: NonZeroUsize::new(1).unwrap(), ..StoreConfig::default() };
    let (s, c) = store_with(config);
    s.record_request(&req(Some("/kept"), 200, 1, c.now()));
    for _ in 0..5 {
        s.record_request(&req(Some("/new"), 200, 1, c.now()));
    }
    assert_eq!(s.key_usage().overflowed_requests, 5);
    assert_eq!(s.snapshot(w(1)).endpoints.iter().find(|e| e.route == OVERFLOW_ROUTE).unwrap().stats.count, 5);
}

#[test]
fn request_handles_record_like_the_key_map_and_hold_no_overflow() {
    let config = StoreConfig { max_endpoints: NonZeroUsize::new(1).unwrap(), ..StoreConfig::default() };
    let (s, c) = store_with(config);
    let a = s.request_handle(Method::Get, Some("/a")).unwrap();
    let unmatched = s.request_handle(Method::Get, None).unwrap();
    assert!(s.request_handle(Method::Get, Some("/b")).is_none(), "past the cap there is no handle");
    assert_eq!(s.snapshot(w(1)).keys.overflowed_requests, 0, "resolving records nothing");
    s.record_request_with(&a, &req(Some("/a"), 200, 10, c.now()));
    s.record_request_with(&a, &req(Some("/a"), 500, 1_500, c.now()));
    s.record_request(&req(Some("/a"), 200, 10, c.now()));
    s.record_request_with(&unmatched, &req(None, 404, 1, c.now()));
    s.record_request(&req(Some("/b"), 200, 1, c.now()));
    // A handle from another store goes through this store's key map.
    let (other, _) = store();
    let foreign = other.request_handle(Method::Get, Some("/a")).unwrap();
    s.record_request_with(&foreign, &req(Some("/a"), 200, 10, c.now()));
    let snap = s.snapshot(w(1));
    let keys: Vec<_> = snap.endpoints.iter().map(|e| (e.route.as_str(), e.stats.count, e.stats.errors)).collect();
    assert!(keys.contains(&("/a", 4, 1)), "{keys:?}");
    assert!(keys.contains(&(UNMATCHED_ROUTE, 1, 0)), "{keys:?}");
    assert!(keys.contains(&(OVERFLOW_ROUTE, 1, 0)), "{keys:?}");
    assert_eq!(snap.keys.overflowed_requests, 1);
    assert_eq!(snap.slow_requests.len(), 1);
    assert_eq!(snap.slow_requests[0].route, "/a");
    assert_eq!(other.snapshot(w(1)).requests.count, 0);
}

#[test]
fn the_documented_worst_case_matches_the_structures() {
    // The crate docs: at most about 151 KiB per series with two shards, and
    // about 316 MiB of series at the default key caps (440 MiB with 16 shards),
    // status tables with their exemplars included.
    let config = StoreConfig { shards: NonZeroUsize::new(2).unwrap(), ..StoreConfig::default() };
    let (s, _) = store_with(config.clone());
    let per_series = series::Series::max_bytes(&s.geometry);
    assert!(per_series.abs_diff(151 * 1024) < 1024, "{per_series}");
    let endpoints = config.max_endpoints.get() + 2;
    let queries = config.max_queries.get() + 2;
    let worst = (endpoints + queries) * per_series + endpoints * StatusTable::accounted_bytes(&s.geometry);
    assert!(worst.abs_diff(316 << 20) < 1 << 20, "{worst}");
    // Captured plans come on top, bounded by their table: about 2.3 MiB.
    let plans = PlanTable::max_bytes();
    assert!(plans.abs_diff(2_400 << 10) < 200 << 10, "{plans}");
    // The terms of the formula: the slot sizes it names.
    assert_eq!(series::FINE_SLOT_BYTES, 32);
    assert_eq!(series::ROLLUP_SLOT_BYTES, 64);
    let (s16, _) = store_with(StoreConfig { shards: NonZeroUsize::new(16).unwrap(), ..config });
    let per_series_16 = series::Series::max_bytes(&s16.geometry);
    let worst_16 = (endpoints + queries) * per_series_16 + endpoints * StatusTable::accounted_bytes(&s16.geometry);
    assert!(worst_16.abs_diff(440 << 20) < 1 << 20, "{worst_16}");
    // A status table: 26 slots of (2 + B) counters and B + 1 exemplar cells
    // of 40 bytes (version, trace id, value, time), about 21 KiB with B = 16.
    assert_eq!(std::mem::size_of::<status::ExemplarCell>(), 40);
    let table = StatusTable::accounted_bytes(&s.geometry);
    assert!(table.abs_diff(21 * 1024) < 512, "{table}");
}

#[test]
fn the_bin_table_finds_the_same_le_bucket_as_a_search() {
    use crate::histogram::{BINS, bin_of, bin_range};
    // The default bounds, bounds closer together than one bin (1.000 s and
    // 1.001 s share a bin), every bound at its largest, and a single bound.
    let close = vec![Duration::from_micros(1), Duration::from_millis(1_000), Duration::from_millis(1_001)];
    let many: Vec<Duration> =
        (0..crate::MAX_HISTOGRAM_BUCKETS as u64).map(|i| Duration::from_millis(1 + i * 37)).collect();
    for bounds in [StoreConfig::default().histogram_buckets, close, many, vec![Duration::from_secs(3_600)]] {
        let (s, _) = store_with(StoreConfig { histogram_buckets: bounds, ..StoreConfig::default() });
        let g = &s.geometry;
        let mut split = 0;
        for bin in 0..BINS {
            let (lo, hi) = bin_range(bin);
            assert_eq!((bin_of(lo), bin_of(hi)), (bin, bin), "bin {bin}");
            split += usize::from(g.le_of_bin[bin] == u8::MAX);
            let step = ((hi.min(1 << 40) - lo) / 7).max(1);
            let mut values: Vec<u64> = (0..8).map(|k| lo.saturating_add(k * step).min(hi)).collect();
            values.extend(g.le_nanos[..g.le_n].iter().flat_map(|&b| [b.saturating_sub(1), b, b.saturating_add(1)]));
            for n in values.into_iter().filter(|&n| bin_of(n) == bin) {
                assert_eq!(g.classify(n), (bin as u16, g.le_index(n) as u8), "{n} ns");
            }
        }
        // A bin holds at most one bound unless bounds are closer than a bin.
        assert!(split <= g.le_n, "{split} split bins for {} bounds", g.le_n);
    }
}

#[test]
fn status_and_le_counts_follow_the_bin_table() {
    let config = StoreConfig {
        histogram_buckets: vec![Duration::from_millis(1_000), Duration::from_millis(1_001)],
        ..StoreConfig::default()
    };
    let (s, c) = store_with(config);
    // 1.0005 s lies between two bounds that share one histogram bin; a
    // bound itself counts in its own bucket.
    for (ms, us) in [(999, 999), (1_000, 0), (1_000, 500), (1_001, 0), (1_002, 0)] {
        let d = Duration::from_millis(ms) + Duration::from_micros(us);
        s.record_request(&req(Some("/a"), 200, 0, c.now()).with_duration(d));
    }
    let t = s.totals();
    let e = &t.endpoints[0];
    assert_eq!(e.totals.buckets, vec![2, 4]);
    assert_eq!(e.totals.count, 5);
    assert_eq!(e.statuses[0].buckets, vec![2, 4]);
    assert_eq!(e.statuses[0].count, 5);
}

#[test]
fn the_key_hash_reads_every_byte() {
    use std::hash::{BuildHasher, Hasher};
    let hash = |b: &[u8]| {
        let mut h = FixedState::default().build_hasher();
        h.write(b);
        h.finish()
    };
    // Changing any one byte of keys of every length up to 24 changes the hash.
    for len in 0..=24usize {
        let key: Vec<u8> = (0..len as u8).map(|i| b'a' + i).collect();
        let base = hash(&key);
        for i in 0..len {
            let mut other = key.clone();
            other[i] ^= 0x20;
            assert_ne!(hash(&other), base, "len {len}, byte {i}");
        }
        if len > 0 {
            assert_ne!(hash(&key[..len - 1]), base, "len {len}");
        }
    }
}

#[test]
fn endpoint_totals_from_the_status_table_match_what_was_recorded() {
    let (s, c) = store();
    // 30 distinct codes (past the 16 code slots, so classes fold the rest),
    // status 0, a 9xx code and slow requests among them.
    let codes: Vec<u16> =
        (0..30).map(|i| [200, 201, 404, 409, 500, 503, 302, 0, 999, 102][i % 10] + (i / 10) as u16).collect();
    let (mut count, mut errors, mut client, mut slow, mut sum) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let bounds = s.totals().bucket_bounds;
    let mut le = vec![0u64; bounds.len()];
    for (i, &code) in codes.iter().cycle().take(600).enumerate() {
        let ms = 1 + (i as u64 * 37) % 1_700;
        s.record_request(&req(Some("/a"), code, ms, c.now()));
        count += 1;
        errors += u64::from(code >= 500);
        client += u64::from((400..500).contains(&code));
        slow += u64::from(ms > 1_000);
        sum += ms * 1_000_000;
        for (n, b) in le.iter_mut().zip(&bounds) {
            *n += u64::from(ms as f64 / 1e3 <= *b);
        }
    }
    let t = s.totals();
    let e = &t.endpoints[0];
    assert_eq!((e.totals.count, e.totals.errors, e.totals.client_errors, e.totals.slow), (count, errors, client, slow));
    assert!((e.totals.sum - sum as f64 / 1e9).abs() < 1e-9, "{}", e.totals.sum);
    assert_eq!(e.totals.buckets, le);
    assert_eq!(e.statuses.iter().map(|st| st.count).sum::<u64>(), count);
}

fn plan(table: &str) -> crate::QueryPlan {
    use crate::{PlanAccess, PlanBackend, PlanNode, QueryPlan};
    QueryPlan::new(
        PlanBackend::Sqlite,
        vec![PlanNode {
            depth: 0,
            operation: "SCAN".into(),
            access: PlanAccess::FullScan,
            relation: Some(table.into()),
            index: None,
            filtered: true,
        }],
        format!("SCAN {table}\n"),
    )
}

#[test]
fn a_captured_plan_is_shown_with_its_fingerprint_and_bounded() {
    use crate::QueryPlanSample;
    let (s, c) = store_with(StoreConfig::default());
    let fp = "SELECT * FROM plants WHERE name = ?";
    let sample = QuerySample {
        fingerprint: fp,
        sql: fp,
        duration: Duration::from_millis(300),
        ok: true,
        at: c.now(),
        scope: Some("GET /plants"),
        kind: crate::QueryKind::Read,
        slow: true,
        trace: None,
    };
    s.record_query(&sample);
    let before = s.accounted_bytes();
    s.record_query_plan(&QueryPlanSample { fingerprint: fp, plan: &plan("plants"), at: c.now() });
    // A plan of a fingerprint without runs in the window is kept, not shown.
    s.record_query_plan(&QueryPlanSample { fingerprint: "SELECT 2", plan: &plan("other"), at: c.now() });
    let snap = s.snapshot(w(5));
    let stats = snap.query_stats.iter().find(|q| q.fingerprint == fp).unwrap();
    let shown = stats.plan.as_ref().unwrap();
    assert_eq!((shown.fingerprint.as_str(), shown.query_id.as_str()), (fp, crate::query_id(fp).as_str()));
    assert_eq!(shown.plan.filtered_full_scans(), ["plants"]);
    assert_eq!(snap.query_stats.len(), 1);
    assert!(s.accounted_bytes() > before);

    // Past the cap the plan captured longest ago goes; the bytes stay bounded.
    for k in 0..(crate::MAX_PLANS * 3) {
        c.advance(Duration::from_millis(1));
        s.record_query_plan(&QueryPlanSample { fingerprint: &format!("SELECT {k}"), plan: &plan("t"), at: c.now() });
    }
    let table = s.plans.lock();
    assert_eq!(table.len(), crate::MAX_PLANS);
    assert!(table.get(fp).is_none(), "the oldest plan is evicted");
    assert!(table.get(&format!("SELECT {}", crate::MAX_PLANS * 3 - 1)).is_some());
    assert!(table.accounted_bytes() <= PlanTable::max_bytes());
}

fn traced(trace: u128, nanos: u64, status: u16, at: Timestamp) -> RequestSample<'static> {
    let id = crate::TraceId::from_bytes(trace.to_be_bytes()).unwrap();
    let parent = format!("00-{id}-00f067aa0ba902b7-01");
    let trace = crate::TraceContext::continue_from(parent.as_bytes()).unwrap();
    assert_eq!(trace.trace_id(), id);
    RequestSample {
        trace: Some(trace),
        ..req(Some("/traced"), status, 0, at).with_duration(Duration::from_nanos(nanos))
    }
}

#[test]
fn a_traced_request_is_its_buckets_exemplar_and_an_untraced_one_changes_nothing() {
    let config = StoreConfig {
        histogram_buckets: vec![Duration::from_millis(10), Duration::from_millis(100), Duration::from_secs(1)],
        ..StoreConfig::default()
    };
    let (s, c) = store_with(config);
    let t0 = c.now();
    s.record_request(&traced(0xa1, 50_000_000, 200, t0));
    c.advance(Duration::from_secs(3));
    s.record_request(&traced(0xb2, 5_000_000_000, 200, c.now()));
    s.record_request(&traced(0xc3, 100_000_000, 503, c.now()));
    // Untraced requests in the same buckets keep the exemplars as they are.
    s.record_request(&req(Some("/traced"), 200, 20, c.now()));
    s.record_request(&req(Some("/traced"), 200, 7_000, c.now()));
    let t = s.totals();
    let statuses = &t.endpoints[0].statuses;
    let id = |k: u128| crate::TraceId::from_bytes(k.to_be_bytes()).unwrap();
    let ok = &statuses[0];
    assert_eq!(ok.status, "200");
    assert_eq!(ok.exemplars.len(), 4);
    assert_eq!(ok.exemplars[0], None);
    assert_eq!(ok.exemplars[1], Some(crate::Exemplar { trace_id: id(0xa1), value: 0.05, at: t0 }));
    assert_eq!(ok.exemplars[2], None);
    assert_eq!(ok.exemplars[3], Some(crate::Exemplar { trace_id: id(0xb2), value: 5.0, at: c.now() }));
    // 100 ms is at its bound, so in the 100 ms bucket, of its own status.
    let unavailable = &statuses[1];
    assert_eq!(unavailable.status, "503");
    assert_eq!(
        unavailable.exemplars,
        vec![None, Some(crate::Exemplar { trace_id: id(0xc3), value: 0.1, at: c.now() }), None, None]
    );
    // A later traced request in a bucket takes it over.
    s.record_request(&traced(0xd4, 60_000_000, 200, c.now()));
    assert_eq!(s.totals().endpoints[0].statuses[0].exemplars[1].map(|e| (e.trace_id, e.value)), Some((id(0xd4), 0.06)));
}

#[test]
fn requests_without_a_trace_leave_every_exemplar_empty() {
    let (_, st) = status_buckets(StoreConfig::default(), 95, 20);
    assert_eq!(st.exemplars.len(), st.buckets.len() + 1);
    assert!(st.exemplars.iter().all(Option::is_none));
}

#[test]
fn concurrent_writers_never_leave_a_mixed_exemplar() {
    // Writers record (trace k, k ns) pairs into one bucket while a reader
    // scrapes: every exemplar read must pair a trace with its own value.
    let (s, c) = store_with(StoreConfig { histogram_buckets: vec![Duration::from_secs(1)], ..StoreConfig::default() });
    let at = c.now();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let reads = std::thread::scope(|scope| {
        for w in 0..3u64 {
            let s = &s;
            scope.spawn(move || {
                for i in 1..=20_000u64 {
                    let k = w * 1_000_000 + i;
                    s.record_request(&traced(u128::from(k), k, 200, at));
                }
            });
        }
        let reader = scope.spawn(|| {
            let mut seen = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || seen == 0 {
                for e in s.totals().endpoints.iter().flat_map(|e| &e.statuses).flat_map(|st| &st.exemplars).flatten() {
                    let k = u128::from_be_bytes(e.trace_id.to_bytes());
                    assert_eq!((e.value * 1e9).round() as u128, k, "trace {k} shown with {} s", e.value);
                    seen += 1;
                }
            }
            seen
        });
        std::thread::sleep(Duration::from_millis(1));
        while s.totals().endpoints.first().map_or(0, |e| e.totals.count) < 60_000 {
            std::thread::yield_now();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        reader.join().unwrap()
    });
    assert!(reads > 0);
    // Every writer's last request is a candidate; one of them is kept.
    let last = s.totals().endpoints[0].statuses[0].exemplars[0].unwrap();
    assert_eq!((last.value * 1e9).round() as u128, u128::from_be_bytes(last.trace_id.to_bytes()));
}
