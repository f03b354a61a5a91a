//! The store's percentiles against an exact sort, over random latency
//! distributions including heavy tails.

use std::{sync::Arc, time::Duration};

use perf_core::{
    Clock, ManualClock, Method, MetricsSource, Recorder, RequestSample, SharedThresholds, Store, StoreConfig,
    Timestamp, Window,
};
use proptest::prelude::*;

/// Nearest-rank percentile of sorted values.
fn exact(sorted: &[u64], q: f64) -> u64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn check(nanos: &[u64], spread_minutes: u64) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_699_999_980)));
    let store = Store::new(StoreConfig::default(), clock.clone(), Arc::new(SharedThresholds::default())).unwrap();
    let per_minute = nanos.len().div_ceil(spread_minutes as usize).max(1);
    for (i, &n) in nanos.iter().enumerate() {
        if i > 0 && i % per_minute == 0 {
            clock.advance(Duration::from_secs(60));
        }
        let sample =
            RequestSample::new(Method::Get, Some("/x"), 200, Duration::from_nanos(n), clock.now(), store.thresholds());
        store.record_request(&sample);
    }
    let snap = store.snapshot(Window::minutes(60).unwrap());
    let mut sorted = nanos.to_vec();
    sorted.sort_unstable();
    let a = &snap.requests;
    assert_eq!(a.count, nanos.len() as u64);
    assert_eq!(a.histogram_coverage, 1.0);
    for (q, got) in [(0.5, a.p50), (0.9, a.p90), (0.95, a.p95), (0.99, a.p99)] {
        let want = exact(&sorted, q) as f64 / 1e9;
        let err = (got - want).abs() / want.max(1e-9);
        assert!(err <= 0.02, "q{q}: got {got}, exact {want}, error {err}");
    }
    assert_eq!(a.min, sorted[0] as f64 / 1e9);
    assert_eq!(a.max, sorted[sorted.len() - 1] as f64 / 1e9);
}

/// Latencies between 1 µs and 60 s: log-uniform, normal-ish around a
/// centre, or Pareto-tailed.
fn latency() -> impl Strategy<Value = u64> {
    prop_oneof![
        (3.0f64..10.8).prop_map(|e| 10f64.powf(e) as u64),
        (1_000_000u64..50_000_000u64),
        (0.0f64..1.0, 0.3f64..2.5).prop_map(|(u, alpha)| {
            let v = 200_000.0 / (1.0 - u * 0.999_999).powf(1.0 / alpha);
            v.min(60e9) as u64
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn percentiles_are_within_two_percent(values in prop::collection::vec(latency(), 1..3_000), minutes in 1u64..30) {
        check(&values, minutes);
    }

    #[test]
    fn heavy_tails_are_within_two_percent(
        body in prop::collection::vec(1_000_000u64..5_000_000, 500..2_000),
        tail in prop::collection::vec(1_000_000_000u64..60_000_000_000, 5..100),
    ) {
        let mut all = body;
        all.extend(tail);
        check(&all, 3);
    }
}

#[test]
fn single_value_is_exact() {
    check(&[123_456_789], 1);
}

#[test]
fn sub_microsecond_values_are_exact() {
    check(&[5, 17, 31, 2, 9], 1);
}
