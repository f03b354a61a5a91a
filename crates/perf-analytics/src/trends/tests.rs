//! Tests of trend verdicts on synthetic series and on a real store.

use std::{sync::Arc, time::Duration};

use perf_core::{
    Clock, ManualClock, Method, MetricsSource, Recorder, RequestSample, SharedThresholds, Store, StoreConfig,
    Timestamp, TrendDirection, Window,
};

use super::*;

const BUCKET_HOURS: f64 = 10.0 / 3600.0;

/// One point per 10 s bucket; `None` is an empty bucket.
fn series(values: &[Option<f64>]) -> Vec<Option<TrendPoint>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| v.map(|value| TrendPoint { hours: i as f64 * BUCKET_HOURS, value, weight: 1.0 }))
        .collect()
}

fn check(values: &[Option<f64>], better: Better, expected: TrendDirection) -> Trend {
    let t = trend("m", "overall", &series(values), better, &TrendSettings::default());
    assert_eq!(t.direction, expected, "{t:?}");
    t
}

/// Deterministic noise in [-1, 1) from a linear congruential generator.
fn noise(n: usize) -> Vec<f64> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

#[test]
fn rising_latency_is_degrading_with_slope_per_hour() {
    // +1 ms per 10 s bucket = +0.36 s per hour.
    let v: Vec<Option<f64>> = (0..30).map(|i| Some(0.1 + 0.001 * f64::from(i))).collect();
    let t = check(&v, Better::Lower, TrendDirection::Degrading);
    let slope = t.slope_per_hour.unwrap_or(f64::NAN);
    assert!((slope - 0.36).abs() < 1e-9, "{slope}");
    assert!(t.p_value.unwrap_or(1.0) < 1e-6);
    assert_eq!(t.points, 30);
}

#[test]
fn falling_latency_is_improving() {
    let v: Vec<Option<f64>> = (0..30).map(|i| Some(0.5 - 0.01 * f64::from(i))).collect();
    check(&v, Better::Lower, TrendDirection::Improving);
}

#[test]
fn rising_hit_rate_is_improving_and_falling_is_degrading() {
    let up: Vec<Option<f64>> = (0..20).map(|i| Some(0.3 + 0.02 * f64::from(i))).collect();
    check(&up, Better::Higher, TrendDirection::Improving);
    let down: Vec<Option<f64>> = up.iter().rev().copied().collect();
    check(&down, Better::Higher, TrendDirection::Degrading);
}

#[test]
fn flat_series_is_stable_with_zero_slope() {
    let t = check(&vec![Some(0.2); 30], Better::Lower, TrendDirection::Stable);
    assert_eq!(t.slope_per_hour, Some(0.0));
    assert_eq!(t.p_value, Some(1.0));
}

#[test]
fn noisy_flat_series_is_stable() {
    let v: Vec<Option<f64>> = noise(60).into_iter().map(|n| Some(0.2 + 0.05 * n)).collect();
    check(&v, Better::Lower, TrendDirection::Stable);
}

#[test]
fn noisy_rising_series_is_degrading() {
    let v: Vec<Option<f64>> =
        noise(60).into_iter().enumerate().map(|(i, n)| Some(0.2 + 0.005 * i as f64 + 0.05 * n)).collect();
    check(&v, Better::Lower, TrendDirection::Degrading);
}

#[test]
fn too_short_is_insufficient_data() {
    let v: Vec<Option<f64>> = (0..7).map(|i| Some(f64::from(i))).collect();
    let t = check(&v, Better::Lower, TrendDirection::InsufficientData);
    assert_eq!((t.slope_per_hour, t.p_value, t.points), (None, None, 7));
}

#[test]
fn eight_points_are_enough() {
    let v: Vec<Option<f64>> = (0..8).map(|i| Some(f64::from(i))).collect();
    check(&v, Better::Lower, TrendDirection::Degrading);
}

#[test]
fn empty_buckets_are_skipped_not_zero() {
    // 7 values spread over 40 buckets: still too few.
    let mut v = vec![None; 40];
    for i in 0..7 {
        v[i * 6] = Some(1.0 + i as f64);
    }
    check(&v, Better::Lower, TrendDirection::InsufficientData);
    // A flat series with gaps stays flat (zeros would make it look noisy).
    let v: Vec<Option<f64>> = (0..40).map(|i| (i % 3 != 0).then_some(0.3)).collect();
    check(&v, Better::Lower, TrendDirection::Stable);
}

#[test]
fn negligible_significant_drift_is_stable() {
    // Rises by 1 % over the span: significant, but under the 5 % floor.
    let v: Vec<Option<f64>> = (0..30).map(|i| Some(1.0 + 0.01 * f64::from(i) / 29.0)).collect();
    let t = check(&v, Better::Lower, TrendDirection::Stable);
    assert!(t.p_value.unwrap_or(1.0) < 0.05);
}

#[test]
fn long_series_are_merged_to_max_points() {
    let v: Vec<Option<f64>> = (0..360).map(|i| Some(f64::from(i))).collect();
    let t = check(&v, Better::Lower, TrendDirection::Degrading);
    assert_eq!(t.points, 60);
    // Slope is unchanged by merging a straight line: 1 per 10 s = 360 per hour.
    assert!((t.slope_per_hour.unwrap_or(f64::NAN) - 360.0).abs() < 1e-6, "{t:?}");
}

fn store() -> (Arc<ManualClock>, Store) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let store = Store::new(StoreConfig::default(), clock.clone(), Arc::new(SharedThresholds::default()))
        .unwrap_or_else(|e| panic!("{e}"));
    (clock, store)
}

/// 30 minutes of traffic on `GET /slow`, each minute slower, and flat `GET /flat`.
fn degrading_store() -> (Arc<ManualClock>, Store) {
    let (clock, store) = store();
    for minute in 0..30u64 {
        for step in 0..6u64 {
            for r in 0..5u64 {
                let ms = 100 + minute * 20 + r;
                let at = clock.now();
                store.record_request(&RequestSample::new(
                    Method::Get,
                    Some("/slow"),
                    200,
                    Duration::from_millis(ms),
                    at,
                    store.thresholds(),
                ));
                store.record_request(&RequestSample::new(
                    Method::Get,
                    Some("/flat"),
                    200,
                    Duration::from_millis(50 + r),
                    at,
                    store.thresholds(),
                ));
            }
            let _ = step;
            clock.advance(Duration::from_secs(10));
        }
    }
    (clock, store)
}

#[test]
fn store_series_give_degrading_overall_and_endpoint_trends() {
    let (_clock, store) = degrading_store();
    let window = Window::minutes(30).unwrap_or_default();
    let snapshot = store.snapshot(window);
    let trends = collect_trends(&store, &snapshot, window, &TrendSettings::default());
    let find = |metric: &str, scope: &str| {
        trends
            .iter()
            .find(|t| t.metric == metric && t.scope == scope)
            .unwrap_or_else(|| panic!("no {metric} for {scope} in {trends:?}"))
            .clone()
    };
    assert_eq!(find("avg_response_time", "overall").direction, TrendDirection::Degrading);
    assert_eq!(find("p95_response_time", "GET /slow").direction, TrendDirection::Degrading);
    assert_eq!(find("avg_response_time", "GET /slow").direction, TrendDirection::Degrading);
    let p95 = find("p95_response_time", "GET /slow");
    // 20 ms more per minute is 1.2 s per hour; histogram error is under 2 %.
    let slope = p95.slope_per_hour.unwrap_or(f64::NAN);
    assert!((slope - 1.2).abs() < 0.05, "{p95:?}");
    assert!(p95.points >= 25, "roll-up buckets used for p95: {p95:?}");
    assert_eq!(find("avg_response_time", "GET /flat").direction, TrendDirection::Stable);
    assert_eq!(find("error_rate", "overall").direction, TrendDirection::Stable);
    // No system readings, no queries, no cache lookups: no guess.
    assert_eq!(find("memory_mb", "overall").direction, TrendDirection::InsufficientData);
    assert_eq!(find("query_time", "overall").direction, TrendDirection::InsufficientData);
    assert_eq!(find("cache_hit_rate", "overall").direction, TrendDirection::InsufficientData);
}

#[test]
fn five_minute_window_has_too_few_p95_points() {
    let (_clock, store) = degrading_store();
    let window = Window::DEFAULT;
    let snapshot = store.snapshot(window);
    let trends = collect_trends(&store, &snapshot, window, &TrendSettings::default());
    let p95 = trends
        .iter()
        .find(|t| t.metric == "p95_response_time" && t.scope == "overall")
        .unwrap_or_else(|| panic!("{trends:?}"));
    assert_eq!(p95.direction, TrendDirection::InsufficientData, "{p95:?}");
    assert!(p95.points <= 5);
    // The fine buckets still give a verdict on the mean.
    let avg = trends
        .iter()
        .find(|t| t.metric == "avg_response_time" && t.scope == "GET /slow")
        .unwrap_or_else(|| panic!("{trends:?}"));
    assert_ne!(avg.direction, TrendDirection::InsufficientData, "{avg:?}");
}

#[test]
fn top_endpoints_bounds_per_endpoint_trends() {
    let (_clock, store) = degrading_store();
    let window = Window::minutes(30).unwrap_or_default();
    let snapshot = store.snapshot(window);
    let settings = TrendSettings { top_endpoints: 1, ..TrendSettings::default() };
    let trends = collect_trends(&store, &snapshot, window, &settings);
    assert_eq!(trends.len(), 6 + 3, "{trends:?}");
}

#[test]
fn aggregate_rollups_past_the_budget_are_not_read() {
    let (_clock, store) = degrading_store();
    let window = Window::minutes(30).unwrap_or_default();
    let snapshot = store.snapshot(window);
    // Two endpoints × 30 minutes of roll-ups for the overall p95 is over a budget of 50.
    let settings = TrendSettings { max_rollup_cost: 50, ..TrendSettings::default() };
    let trends = collect_trends(&store, &snapshot, window, &settings);
    let get = |metric: &str, scope: &str| {
        trends.iter().find(|t| t.metric == metric && t.scope == scope).unwrap_or_else(|| panic!("{trends:?}")).clone()
    };
    let p95 = get("p95_response_time", "overall");
    assert_eq!((p95.direction, p95.points), (TrendDirection::InsufficientData, 0));
    // The fine-tier overall series is still read, and endpoints are not limited.
    assert_eq!(get("avg_response_time", "overall").direction, TrendDirection::Degrading);
    assert_eq!(get("p95_response_time", "GET /slow").direction, TrendDirection::Degrading);
    // A window past the fine tier skips the overall request series entirely.
    let long = Window::minutes(120).unwrap_or_default();
    let trends = collect_trends(&store, &store.snapshot(long), long, &settings);
    let avg = trends.iter().find(|t| t.metric == "avg_response_time" && t.scope == "overall");
    assert_eq!(avg.map(|t| (t.direction, t.points)), Some((TrendDirection::InsufficientData, 0)));
    let slow = trends.iter().find(|t| t.metric == "avg_response_time" && t.scope == "GET /slow");
    assert_eq!(slow.map(|t| t.direction), Some(TrendDirection::Degrading), "{trends:?}");
}
