//! Tests of the alert rules and their severity boundaries.

use perf_core::{AlertType, Severity, Thresholds};

use super::*;
use crate::fixtures::{empty, endpoint, flat, query, with_memory, with_requests};

const DEV: Thresholds = Thresholds::DEVELOPMENT;

/// Severity of a slow-request detection at `ratio` × the 1 s threshold.
fn check_ratio(ratio: f64, expected: Option<Severity>) {
    let got = check_threshold(
        AlertType::SlowRequest,
        "GET /a",
        ratio * DEV.slow_request_threshold,
        DEV.slow_request_threshold,
    )
    .map(|d| d.severity);
    assert_eq!(got, expected, "ratio {ratio}");
}

const JUST: f64 = 1e-9;

#[test]
fn at_1x_no_alert() {
    check_ratio(1.0, None);
}
#[test]
fn just_over_1x_is_low() {
    check_ratio(1.0 + JUST, Some(Severity::Low));
}
#[test]
fn at_1_5x_is_low() {
    check_ratio(1.5, Some(Severity::Low));
}
#[test]
fn just_over_1_5x_is_medium() {
    check_ratio(1.5 + JUST, Some(Severity::Medium));
}
#[test]
fn at_2x_is_medium() {
    check_ratio(2.0, Some(Severity::Medium));
}
#[test]
fn just_over_2x_is_high() {
    check_ratio(2.0 + JUST, Some(Severity::High));
}
#[test]
fn at_3x_is_high() {
    check_ratio(3.0, Some(Severity::High));
}
#[test]
fn just_over_3x_is_critical() {
    check_ratio(3.0 + JUST, Some(Severity::Critical));
}
#[test]
fn under_1x_no_alert() {
    check_ratio(0.5, None);
}

#[test]
fn slow_request_uses_endpoint_p95() {
    let mut a = flat(100, 0, 0.2);
    a.p95 = 2.5; // 2.5x the 1 s threshold
    let d = detect(&with_requests(empty(), a), &DEV, &AlertRules::default());
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].alert_type, AlertType::SlowRequest);
    assert_eq!(d[0].key, "GET /a");
    assert_eq!(d[0].value, 2.5);
    assert_eq!(d[0].threshold, 1.0);
    assert_eq!(d[0].severity, Severity::High);
    assert!(d[0].message.contains("GET /a"), "{}", d[0].message);
}

#[test]
fn slow_query_per_fingerprint() {
    let mut s = empty();
    s.query_stats = vec![query("SELECT a", flat(5, 0, 0.05)), query("SELECT b", flat(5, 0, 0.35))];
    let d = detect(&s, &DEV, &AlertRules::default());
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].alert_type, d[0].key.as_str()), (AlertType::SlowQuery, "SELECT b"));
    assert_eq!(d[0].severity, Severity::Critical); // 3.5x of 100 ms
}

#[test]
fn high_memory_from_latest_reading() {
    let d = detect(&with_memory(empty(), 800.0), &DEV, &AlertRules::default());
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].alert_type, d[0].key.as_str()), (AlertType::HighMemory, PROCESS_KEY));
    assert_eq!(d[0].severity, Severity::Medium); // 1.6x of 500 MiB
}

#[test]
fn memory_under_threshold_no_alert() {
    assert!(detect(&with_memory(empty(), 499.0), &DEV, &AlertRules::default()).is_empty());
}

#[test]
fn one_failure_in_one_request_is_no_alert() {
    let d = detect(&with_requests(empty(), flat(1, 1, 0.01)), &DEV, &AlertRules::default());
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn error_rate_alerts_overall_and_per_endpoint_at_min_requests() {
    // 10 requests, 3 failed: 30 % is 3x the 10 % threshold → high (the exact 3x boundary is pinned by
    // `at_3x_is_high`; in floating point 0.3 / 0.1 is a hair under 3).
    let d = detect(&with_requests(empty(), flat(10, 3, 0.01)), &DEV, &AlertRules::default());
    let keys: Vec<(AlertType, &str, Severity)> = d.iter().map(|d| (d.alert_type, d.key.as_str(), d.severity)).collect();
    assert_eq!(
        keys,
        [(AlertType::HighErrorRate, OVERALL_KEY, Severity::High), (AlertType::HighErrorRate, "GET /a", Severity::High)]
    );
}

#[test]
fn endpoint_below_min_requests_is_skipped_but_overall_counts() {
    let mut s = empty();
    s.endpoints = vec![endpoint("/busy", flat(20, 0, 0.01)), endpoint("/rare", flat(2, 2, 0.01))];
    s.requests = flat(22, 2, 0.01); // 9.1 %: under the threshold overall
    assert!(detect(&s, &DEV, &AlertRules::default()).is_empty());
    s.requests = flat(22, 4, 0.01); // 18 %: medium overall; /rare still too small
    let d = detect(&s, &DEV, &AlertRules::default());
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].key, OVERALL_KEY);
    let d = detect(&s, &DEV, &AlertRules { min_requests: 2 });
    assert!(d.iter().any(|d| d.key == "GET /rare"), "{d:?}");
}
