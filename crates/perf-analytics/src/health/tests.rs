//! Tests of the health score, its components and Apdex.

use perf_core::{AlertType, HealthStatus, Thresholds};

use super::*;
use crate::fixtures::{at, empty, endpoint, flat, with_cache, with_memory, with_queries, with_requests};

const DEV: Thresholds = Thresholds::DEVELOPMENT;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn score(h: &Health) -> f64 {
    h.score.unwrap_or_else(|| panic!("no score: {h:?}"))
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

// Issue 10 changed this: an empty window used to score 100 and read healthy.
#[test]
fn empty_snapshot_has_no_score_and_no_data() {
    let h = health(&empty(), &DEV, &[]);
    assert_eq!(h.score, None);
    assert_eq!(h.status, HealthStatus::NoData);
    assert_eq!(h.capped_by, None);
    assert_eq!(h.components.len(), 5);
    assert!(h.components.iter().all(|c| c.score.is_none() && c.effective_weight == 0.0 && c.events == 0));
    let json = serde_json::to_value(&h).unwrap_or_default();
    assert_eq!(json["status"], "no_data");
    assert!(json["score"].is_null(), "{json}");
}

#[test]
fn nominal_weights_are_the_specifications() {
    let h = health(&empty(), &DEV, &[]);
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
    let h = health(&s, &DEV, &[]);
    assert_eq!(h.score, Some(100.0), "{h:?}");
    assert_eq!(h.status, HealthStatus::Healthy);
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
    let h = health(&s, &DEV, &[]);
    assert!(close(score(&h), 70.0), "{h:?}");
    assert_eq!(h.status, HealthStatus::Degraded);
}

#[test]
fn missing_components_renormalize_weights() {
    // Only requests: response time and error rate are present (0.30 + 0.25).
    let mut agg = flat(100, 20, 0.1); // 20 % errors = 2x the 10 % threshold: error score 50.
    agg.errors = 20;
    let h = health(&with_requests(empty(), agg), &DEV, &[]);
    let rt = &h.components[0];
    let er = &h.components[1];
    assert!(close(rt.effective_weight, 0.30 / 0.55));
    assert!(close(er.effective_weight, 0.25 / 0.55));
    assert!(h.components[2..].iter().all(|c| c.score.is_none() && c.effective_weight == 0.0));
    assert_eq!(er.score, Some(50.0));
    assert!(close(score(&h), 100.0 * 0.30 / 0.55 + 50.0 * 0.25 / 0.55), "{h:?}");
}

// Issue 10 changed these two: without requests the components are still
// reported, but there is no score (the score used to be the memory or cache
// component alone).
#[test]
fn memory_component_uses_window_mean_and_threshold() {
    let h = health(&with_memory(empty(), 1_000.0), &DEV, &[]); // 2x of 500 MiB
    let m = &h.components[2];
    assert_eq!(m.value, Some(1_000.0));
    assert_eq!(m.threshold, Some(500.0));
    assert_eq!(m.score, Some(50.0));
    assert_eq!((m.input.as_str(), m.unit, m.events), ("avg_memory_mb", ComponentUnit::Mib, 1));
    assert_eq!(h.score, None);
    assert_eq!(h.status, HealthStatus::NoData);
    // With requests, memory at 2x costs half its 0.20 weight.
    let h = health(&with_requests(with_memory(empty(), 1_000.0), flat(10, 0, 0.1)), &DEV, &[]);
    assert!(close(score(&h), (100.0 * 0.30 + 100.0 * 0.25 + 50.0 * 0.20) / 0.75), "{h:?}");
}

#[test]
fn cache_component_scores_by_hit_rate() {
    let h = health(&with_cache(empty(), 1, 3), &DEV, &[]); // hit rate 0.25
    let c = &h.components[4];
    assert_eq!(c.score, Some(100.0 * 0.25 / 0.8));
    assert_eq!(
        (c.input.as_str(), c.unit, c.events, c.threshold),
        ("cache_hit_rate", ComponentUnit::Ratio, 4, Some(0.8))
    );
    assert_eq!(h.score, None);
    let h = health(&with_requests(with_cache(empty(), 1, 3), flat(10, 0, 0.1)), &DEV, &[]);
    assert!(close(score(&h), (100.0 * 0.30 + 100.0 * 0.25 + 100.0 * 0.25 / 0.8 * 0.10) / 0.65), "{h:?}");
    assert_eq!(h.status, HealthStatus::Healthy);
}

// ---- per-endpoint inputs (issue 10) ----------------------------------------

/// A snapshot of `good` healthy endpoints (100 requests of 0.1 s each) plus
/// `bad`, with the overall aggregate computed from them the way the store would:
/// counts and errors add up; the overall p95 stays at the good latency while
/// the bad endpoint holds under 5 % of the requests.
fn many_good_and(good: usize, bad: Option<perf_core::EndpointStats>) -> perf_core::Snapshot {
    let mut s = empty();
    for i in 0..good {
        s.endpoints.push(endpoint(&format!("/good/{i}"), flat(100, 0, 0.1)));
    }
    s.endpoints.extend(bad);
    let count: u64 = s.endpoints.iter().map(|e| e.stats.count).sum();
    let errors: u64 = s.endpoints.iter().map(|e| e.stats.errors).sum();
    let bad_share = s.endpoints.iter().skip(good).map(|e| e.stats.count).sum::<u64>() as f64 / count as f64;
    assert!(bad_share < 0.05, "the fixture needs the bad endpoint under the overall p95");
    s.requests = perf_core::Aggregate { errors, ..flat(count, 0, 0.1) };
    s
}

#[test]
fn one_slow_endpoint_among_many_good_ones_lowers_the_score() {
    let all_good = health(&many_good_and(19, None), &DEV, &[]);
    assert_eq!(all_good.score, Some(100.0));
    // 20 requests at 2 s p95 among 1,900 at 0.1 s: overall p95 is still 0.1 s.
    let h = health(&many_good_and(19, Some(endpoint("/bad", flat(20, 0, 2.0)))), &DEV, &[]);
    let rt = &h.components[0];
    assert_eq!(rt.overall, Some(0.1));
    assert_eq!(rt.value, Some(2.0));
    assert_eq!(rt.endpoint.as_deref(), Some("GET /bad"));
    assert_eq!(rt.events, 20);
    let expected_rt = 100.0 * (3.0 - 2.0 / 1.0) / 2.0; // 2x the 1 s threshold
    assert_eq!(rt.score, Some(expected_rt));
    assert!(close(score(&h), (expected_rt * 0.30 + 100.0 * 0.25) / 0.55), "{h:?}");
    assert!(score(&h) < score(&all_good));
    assert_eq!(h.status, HealthStatus::Degraded);
    // The error rate stayed clean: no endpoint named there.
    assert_eq!(h.components[1].endpoint, None);
}

#[test]
fn one_failing_endpoint_among_many_good_ones_lowers_the_score() {
    // 20 requests, all 5xx, among 1,900 good: overall 20 / 1,920 ≈ 1 % is under
    // the 10 % threshold, the endpoint's 100 % is 10x it.
    let h = health(&many_good_and(19, Some(endpoint("/broken", flat(20, 20, 0.1)))), &DEV, &[]);
    let er = &h.components[1];
    assert!(close(er.overall.unwrap_or(f64::NAN), 20.0 / 1_920.0), "{er:?}");
    assert_eq!(er.value, Some(1.0));
    assert_eq!(er.threshold, Some(DEV.error_rate_threshold));
    assert_eq!(er.endpoint.as_deref(), Some("GET /broken"));
    assert_eq!((er.score, er.events), (Some(0.0), 20));
    assert!(close(score(&h), 100.0 * 0.30 / 0.55), "{h:?}");
}

#[test]
fn endpoints_under_the_minimum_requests_do_not_count() {
    let few = MIN_ENDPOINT_REQUESTS - 1;
    let h = health(&many_good_and(19, Some(endpoint("/quiet", flat(few, few, 5.0)))), &DEV, &[]);
    assert_eq!(h.score, Some(100.0), "{h:?}");
    assert!(h.components.iter().all(|c| c.endpoint.is_none()));
    let h = health(
        &many_good_and(19, Some(endpoint("/quiet", flat(MIN_ENDPOINT_REQUESTS, MIN_ENDPOINT_REQUESTS, 5.0)))),
        &DEV,
        &[],
    );
    assert_eq!(h.components[0].endpoint.as_deref(), Some("GET /quiet"));
    assert_eq!(h.components[1].endpoint.as_deref(), Some("GET /quiet"));
}

/// (name, input, unit, value, threshold, events) of a component.
type Row<'a> = (&'a str, &'a str, ComponentUnit, Option<f64>, Option<f64>, u64);

#[test]
fn components_carry_their_inputs() {
    let s =
        with_cache(with_queries(with_memory(with_requests(empty(), flat(40, 2, 0.2)), 250.0), flat(10, 0, 0.15)), 6, 4);
    let h = health(&s, &DEV, &[]);
    let got: Vec<Row<'_>> = h
        .components
        .iter()
        .map(|c| (c.name.as_str(), c.input.as_str(), c.unit, c.value, c.threshold, c.events))
        .collect();
    assert_eq!(
        got,
        [
            ("response_time", "p95_response_time", ComponentUnit::Seconds, Some(0.2), Some(1.0), 40),
            ("error_rate", "error_rate", ComponentUnit::Ratio, Some(0.05), Some(0.1), 40),
            ("memory", "avg_memory_mb", ComponentUnit::Mib, Some(250.0), Some(500.0), 1),
            ("database", "p95_query_time", ComponentUnit::Seconds, Some(0.15), Some(0.1), 10),
            ("cache", "cache_hit_rate", ComponentUnit::Ratio, Some(0.6), Some(0.8), 10),
        ]
    );
    // The one endpoint is all the traffic: nothing is attributed to it.
    assert!(h.components.iter().all(|c| c.endpoint.is_none() && c.overall == c.value));
    let db = 100.0 * (3.0 - 0.15 / 0.1) / 2.0;
    let cache = 100.0 * 0.6 / 0.8;
    assert_eq!(h.components[3].score, Some(db));
    assert!(close(score(&h), 100.0 * 0.30 + 100.0 * 0.25 + 100.0 * 0.20 + db * 0.15 + cache * 0.10), "{h:?}");
    let json = serde_json::to_value(&h.components[3]).unwrap_or_default();
    for field in [
        "name",
        "score",
        "weight",
        "effective_weight",
        "input",
        "unit",
        "value",
        "threshold",
        "overall",
        "endpoint",
        "events",
    ] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    assert_eq!(json["unit"], "seconds");
}

// ---- alert caps (issue 10) --------------------------------------------------

fn alert(id: u64, severity: Severity, resolved: bool) -> Alert {
    Alert {
        id,
        alert_type: AlertType::HighErrorRate,
        severity,
        message: String::new(),
        key: format!("GET /{id}"),
        value: 1.0,
        threshold: 0.1,
        created_at: at(0),
        last_seen: at(0),
        resolved,
        resolved_at: None,
        resolution: None,
        reopened: false,
        reopens: None,
    }
}

/// Health of an all-good snapshot (score 100) under `alerts`.
fn check_cap(alerts: &[Alert], expected: HealthStatus, capped_by: Option<u64>) {
    let h = health(&with_requests(empty(), flat(100, 0, 0.1)), &DEV, alerts);
    assert_eq!(h.score, Some(100.0), "alerts never change the score");
    assert_eq!(h.status, expected, "{alerts:?}");
    assert_eq!(h.capped_by.as_ref().map(|c| c.alert_id), capped_by);
}

#[test]
fn a_critical_alert_makes_a_perfect_score_unhealthy() {
    check_cap(&[alert(7, Severity::Critical, false)], HealthStatus::Unhealthy, Some(7));
    let h = health(&with_requests(empty(), flat(100, 0, 0.1)), &DEV, &[alert(7, Severity::Critical, false)]);
    let cap = h.capped_by.unwrap_or_else(|| panic!("no cap"));
    assert_eq!((cap.key.as_str(), cap.severity, cap.status), ("GET /7", Severity::Critical, HealthStatus::Unhealthy));
}

#[test]
fn a_high_alert_caps_at_degraded() {
    check_cap(&[alert(3, Severity::High, false)], HealthStatus::Degraded, Some(3));
}

#[test]
fn medium_and_low_alerts_do_not_cap() {
    check_cap(&[alert(1, Severity::Medium, false), alert(2, Severity::Low, false)], HealthStatus::Healthy, None);
}

#[test]
fn resolved_alerts_do_not_cap() {
    check_cap(&[alert(1, Severity::Critical, true)], HealthStatus::Healthy, None);
}

#[test]
fn the_worst_alert_caps_and_the_oldest_among_equals_is_named() {
    let alerts =
        [alert(5, Severity::High, false), alert(9, Severity::Critical, false), alert(4, Severity::Critical, false)];
    check_cap(&alerts, HealthStatus::Unhealthy, Some(4));
}

#[test]
fn a_cap_no_better_than_the_score_is_not_reported() {
    // Errors at 10x: score 100 × 0.30 / 0.55 ≈ 54.5, degraded by score; a high
    // alert allows degraded, so nothing is capped; a critical one is.
    let s = with_requests(empty(), flat(20, 20, 0.1));
    let h = health(&s, &DEV, &[alert(1, Severity::High, false)]);
    assert_eq!((h.status, h.capped_by), (HealthStatus::Degraded, None));
    let h = health(&s, &DEV, &[alert(1, Severity::Critical, false)]);
    assert_eq!(h.status, HealthStatus::Unhealthy);
    assert_eq!(h.capped_by.map(|c| c.alert_id), Some(1));
}

#[test]
fn a_capping_alert_replaces_no_data() {
    let h = health(&with_memory(empty(), 2_000.0), &DEV, &[alert(1, Severity::Critical, false)]);
    assert_eq!((h.score, h.status), (None, HealthStatus::Unhealthy));
    let h = health(&empty(), &DEV, &[alert(1, Severity::Low, false)]);
    assert_eq!(h.status, HealthStatus::NoData);
}

#[test]
fn status_caps_by_severity() {
    assert_eq!(status_cap(Severity::Critical), Some(HealthStatus::Unhealthy));
    assert_eq!(status_cap(Severity::High), Some(HealthStatus::Degraded));
    assert_eq!(status_cap(Severity::Medium), None);
    assert_eq!(status_cap(Severity::Low), None);
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
