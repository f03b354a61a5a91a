//! Tests of the health score, its components and Apdex.

use perf_core::{HealthStatus, Thresholds};

use super::*;
use crate::fixtures::{empty, flat, with_cache, with_memory, with_queries, with_requests};

const DEV: Thresholds = Thresholds::DEVELOPMENT;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn check_lower(ratio: f64, expected: f64) {
    let got = score_lower_is_better(ratio * 2.0, 2.0);
    assert!(close(got, expected), "ratio {ratio}: got {got}, expected {expected}");
}

#[test]
fn lower_is_better_is_100_at_or_under_threshold() {
    check_lower(0.0, 100.0);
    check_lower(0.5, 100.0);
    check_lower(1.0, 100.0);
}

#[test]
fn lower_is_better_falls_linearly_to_zero_at_3x() {
    check_lower(1.5, 75.0);
    check_lower(2.0, 50.0);
    check_lower(2.5, 25.0);
    check_lower(3.0, 0.0);
    check_lower(10.0, 0.0);
}

#[test]
fn hit_rate_score_reaches_100_at_target() {
    assert!(close(score_hit_rate(0.0), 0.0));
    assert!(close(score_hit_rate(0.4), 50.0));
    assert!(close(score_hit_rate(0.8), 100.0));
    assert!(close(score_hit_rate(1.0), 100.0));
    assert!(close(score_hit_rate(f64::NAN), 0.0));
}

#[test]
fn status_cutoffs() {
    assert_eq!(status_of(100.0), HealthStatus::Healthy);
    assert_eq!(status_of(80.0), HealthStatus::Healthy);
    assert_eq!(status_of(79.999), HealthStatus::Degraded);
    assert_eq!(status_of(50.0), HealthStatus::Degraded);
    assert_eq!(status_of(49.999), HealthStatus::Unhealthy);
    assert_eq!(status_of(0.0), HealthStatus::Unhealthy);
}

#[test]
fn empty_snapshot_scores_100_with_no_components() {
    let h = health(&empty(), &DEV);
    assert!(close(h.score, 100.0));
    assert_eq!(h.status, HealthStatus::Healthy);
    assert_eq!(h.components.len(), 5);
    assert!(h.components.iter().all(|c| c.score.is_none() && c.effective_weight == 0.0));
}

#[test]
fn nominal_weights_are_the_specifications() {
    let h = health(&empty(), &DEV);
    let weights: Vec<(&str, f64)> = h.components.iter().map(|c| (c.name.as_str(), c.weight)).collect();
    assert_eq!(
        weights,
        [("response_time", 0.30), ("error_rate", 0.25), ("memory", 0.20), ("database", 0.15), ("cache", 0.10)]
    );
}

#[test]
fn all_components_at_full_score_give_100() {
    let s = with_cache(
        with_queries(with_memory(with_requests(empty(), flat(100, 0, 0.1)), 100.0), flat(10, 0, 0.01)),
        9,
        1,
    );
    let h = health(&s, &DEV);
    assert!(close(h.score, 100.0), "{h:?}");
    let total: f64 = h.components.iter().map(|c| c.effective_weight).sum();
    assert!(close(total, 1.0));
}

#[test]
fn slow_responses_cost_their_weight() {
    // p95 at 3x the threshold scores 0: the response-time weight (0.30) is lost.
    let s = with_cache(
        with_queries(with_memory(with_requests(empty(), flat(100, 0, 3.0)), 100.0), flat(10, 0, 0.01)),
        9,
        1,
    );
    let h = health(&s, &DEV);
    assert!(close(h.score, 70.0), "{}", h.score);
    assert_eq!(h.status, HealthStatus::Degraded);
}

#[test]
fn missing_components_renormalize_weights() {
    // Only requests: response time and error rate are present (0.30 + 0.25).
    let mut agg = flat(100, 20, 0.1); // 20 % errors = 2x the 10 % threshold: error score 50.
    agg.errors = 20;
    let h = health(&with_requests(empty(), agg), &DEV);
    let rt = &h.components[0];
    let er = &h.components[1];
    assert!(close(rt.effective_weight, 0.30 / 0.55));
    assert!(close(er.effective_weight, 0.25 / 0.55));
    assert!(h.components[2..].iter().all(|c| c.score.is_none() && c.effective_weight == 0.0));
    assert_eq!(er.score, Some(50.0));
    assert!(close(h.score, 100.0 * 0.30 / 0.55 + 50.0 * 0.25 / 0.55), "{}", h.score);
}

#[test]
fn memory_component_uses_window_mean_and_threshold() {
    let h = health(&with_memory(empty(), 1_000.0), &DEV); // 2x of 500 MiB
    let m = &h.components[2];
    assert_eq!(m.value, Some(1_000.0));
    assert_eq!(m.threshold, Some(500.0));
    assert_eq!(m.score, Some(50.0));
    assert!(close(h.score, 50.0));
    assert_eq!(h.status, HealthStatus::Degraded);
}

#[test]
fn cache_only_snapshot_scores_by_hit_rate() {
    let h = health(&with_cache(empty(), 1, 3), &DEV); // hit rate 0.25
    assert!(close(h.score, 100.0 * 0.25 / 0.8));
    assert_eq!(h.status, HealthStatus::Unhealthy);
}

#[test]
fn apdex_all_fast_is_one() {
    assert_eq!(apdex_of(&flat(10, 0, 0.01), 0.25), Some(1.0));
}

#[test]
fn apdex_all_slow_is_zero() {
    let mut a = flat(10, 0, 2.0);
    a.slow = 10;
    assert_eq!(apdex_of(&a, 0.25), Some(0.0));
}

#[test]
fn apdex_all_tolerating_is_half() {
    assert_eq!(apdex_of(&flat(10, 0, 0.5), 0.25), Some(0.5));
}

#[test]
fn apdex_without_requests_is_none() {
    assert_eq!(apdex_of(&flat(0, 0, 0.0), 0.25), None);
}

#[test]
fn apdex_interpolates_between_percentiles() {
    // 100 requests; half at or under 0.1 s, 10 slow over 1 s; T = 0.25 s lies
    // between p50 = 0.1 and p90 = 0.4: estimated share 0.5 + 0.4 × 0.5 = 0.7.
    let a = perf_core::Aggregate {
        count: 100,
        slow: 10,
        min: 0.01,
        p50: 0.1,
        p90: 0.4,
        p95: 1.2,
        p99: 2.0,
        max: 3.0,
        ..flat(100, 0, 0.5)
    };
    let got = apdex_of(&a, 0.25).unwrap_or(f64::NAN);
    // satisfied 70, frustrated 10, tolerating 20: (70 + 10) / 100.
    assert!(close(got, 0.8), "{got}");
}

#[test]
fn apdex_target_is_a_quarter_of_the_slow_threshold() {
    let s = with_requests(empty(), flat(4, 0, 0.1));
    let a = apdex(&s, &DEV);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].endpoint, "GET /a");
    assert!(close(a[0].target, 0.25));
    assert_eq!(a[0].apdex, Some(1.0));
}
