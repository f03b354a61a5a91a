//! Tests of the service over a real store driven by a manual clock.

use std::{sync::Arc, time::Duration};

use perf_core::{
    AlertError, AlertFilter, AlertType, AnalyticsService, CacheEvent, CacheEventKind, CacheTier, Clock, HealthStatus,
    ManualClock, Method, NPlusOneSample, QuerySample, Recorder, RequestSample, Resolution, Severity, SharedThresholds,
    Store, StoreConfig, SystemSample, ThresholdStore, ThresholdsPatch, Timestamp, TrendDirection, Window,
};

use super::*;

struct Fixture {
    clock: Arc<ManualClock>,
    store: Arc<Store>,
    thresholds: Arc<SharedThresholds>,
    analytics: Analytics,
}

fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let thresholds = Arc::new(SharedThresholds::default());
    let store = Arc::new(
        Store::new(StoreConfig::default(), clock.clone(), thresholds.clone()).unwrap_or_else(|e| panic!("{e}")),
    );
    let analytics = Analytics::new(store.clone(), thresholds.clone(), clock.clone());
    Fixture { clock, store, thresholds, analytics }
}

impl Fixture {
    fn request(&self, route: &str, status: u16, ms: u64) {
        self.store.record_request(&RequestSample::new(
            Method::Get,
            Some(route),
            status,
            Duration::from_millis(ms),
            self.clock.now(),
            &*self.thresholds,
        ));
    }
    fn requests(&self, route: &str, n: usize, status: u16, ms: u64) {
        for _ in 0..n {
            self.request(route, status, ms);
        }
    }
    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
    fn open(&self) -> Vec<perf_core::Alert> {
        self.analytics.alerts(AlertFilter::Open)
    }
}

#[test]
fn evaluation_opens_alerts_from_recorded_traffic() {
    let f = fixture();
    f.requests("/slow", 20, 200, 2_500); // p95 2.5 s: high
    f.requests("/ok", 20, 200, 10);
    let out = f.analytics.evaluate();
    assert_eq!(out.opened, 1);
    let open = f.open();
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].alert_type, open[0].key.as_str()), (AlertType::SlowRequest, "GET /slow"));
    assert_eq!(open[0].severity, Severity::High);
    assert!((open[0].value - 2.5).abs() < 2.5 * 0.02, "{}", open[0].value);
    assert_eq!(open[0].created_at, f.clock.now().to_datetime());
}

#[test]
fn alert_escalates_then_auto_resolves_after_traffic_recovers() {
    let f = fixture();
    f.requests("/slow", 20, 200, 1_200);
    f.analytics.evaluate();
    let id = f.open()[0].id;
    assert_eq!(f.open()[0].severity, Severity::Low);
    f.advance(10);
    f.requests("/slow", 200, 200, 4_000);
    assert_eq!(f.analytics.evaluate().escalated, 1);
    assert_eq!((f.open()[0].id, f.open()[0].severity), (id, Severity::Critical));
    // Traffic stops; after the 2-minute alert window the condition is clear,
    // and after 60 s more the alert resolves itself.
    f.advance(130);
    let out = f.analytics.evaluate();
    assert_eq!(out.resolved, 1, "{out:?}");
    let all = f.analytics.alerts(AlertFilter::Resolved);
    assert_eq!(all[0].resolution, Some(Resolution::Auto));
    assert_eq!(f.analytics.summary(SUMMARY_WINDOW).active_alerts, 0);
}

#[test]
fn resolve_alert_through_the_trait() {
    let f = fixture();
    f.requests("/err", 20, 500, 10);
    f.analytics.evaluate();
    let open = f.open();
    assert_eq!(open.len(), 2, "overall and endpoint: {open:?}");
    let id = open[0].id;
    let service: &dyn AnalyticsService = &f.analytics;
    let resolved = service.resolve_alert(id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resolved.resolution, Some(Resolution::Manual));
    assert_eq!(service.resolve_alert(12_345), Err(AlertError::NotFound(12_345)));
    assert_eq!(service.alerts(AlertFilter::Open).len(), 1);
    // The condition persists: the next evaluation re-opens it with a new id.
    f.advance(10);
    assert_eq!(f.analytics.evaluate().opened, 1);
    assert!(f.open().iter().all(|a| a.id != id));
}

#[test]
fn evaluation_reads_thresholds_in_force() {
    let f = fixture();
    f.requests("/a", 20, 200, 600);
    assert_eq!(f.analytics.evaluate().opened, 0);
    f.thresholds
        .update_thresholds(&ThresholdsPatch { slow_request_threshold: Some(0.5), ..ThresholdsPatch::default() })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.analytics.evaluate().opened, 1);
}

#[test]
fn summary_key_metrics_match_the_store() {
    let f = fixture();
    f.requests("/a", 8, 200, 100);
    f.requests("/a", 2, 500, 100);
    for kind in [CacheEventKind::Hit, CacheEventKind::Hit, CacheEventKind::Hit, CacheEventKind::Miss] {
        f.store.record_cache(&CacheEvent { kind, tier: CacheTier::Memory, at: f.clock.now() });
    }
    f.store.record_system(&SystemSample { at: f.clock.now(), rss_bytes: 300 * 1_048_576, ..SystemSample::default() });
    let s = f.analytics.summary(SUMMARY_WINDOW);
    let km = s.key_metrics;
    assert_eq!(km.total_requests, 10);
    assert!((km.avg_response_time.unwrap_or(f64::NAN) - 0.1).abs() < 1e-9);
    assert!((km.error_rate.unwrap_or(f64::NAN) - 0.2).abs() < 1e-12);
    assert_eq!(km.client_error_rate, Some(0.0));
    assert!((km.cache_hit_rate.unwrap_or(f64::NAN) - 0.75).abs() < 1e-12);
    assert!((km.memory_usage_mb.unwrap_or(f64::NAN) - 300.0).abs() < 1e-9);
    // Error rate 2x its threshold scores 50 on its 25 %; cache 0.75/0.8.
    let score = s.health_score.unwrap_or(f64::NAN);
    assert!(score < 100.0 && score > 50.0, "{s:?}");
    assert_eq!(s.active_alerts, 0);
    assert_eq!(s.period_minutes, SUMMARY_WINDOW.as_minutes());
    assert_eq!(s.components.len(), 5);
}

#[test]
fn analytics_report_carries_spec_fields() {
    let f = fixture();
    f.requests("/a", 60, 200, 20);
    let r = f.analytics.analytics(Window::DEFAULT);
    assert_eq!(r.period_minutes, 5);
    assert_eq!(r.status, HealthStatus::Healthy);
    assert_eq!(r.timestamp, f.clock.now().to_datetime());
    assert_eq!(r.cache_performance.total_operations, 0);
    assert_eq!(r.apdex.len(), 1);
    assert_eq!(r.apdex[0].apdex, Some(1.0));
    // 60 GET requests and no cache: the spec's caching advice, with evidence.
    assert_eq!(r.recommendations.len(), r.recommendation_details.len());
    assert!(r.recommendations[0].starts_with("Consider enabling response caching"), "{:?}", r.recommendations);
    assert_eq!(r.recommendation_details[0].subject, "GET /a");
    let json = serde_json::to_value(&r).unwrap_or_default();
    for field in ["timestamp", "health_score", "alerts", "recommendations", "cache_performance"] {
        assert!(json.get(field).is_some(), "missing {field} in {json}");
    }
}

#[test]
fn detailed_report_gathers_everything() {
    let f = fixture();
    for minute in 0..20u64 {
        for _ in 0..6 {
            f.requests("/fast", 5, 200, 10);
            f.requests("/slow", 2, 200, 1_500 + minute * 50);
            f.store.record_query(&QuerySample {
                fingerprint: "SELECT * FROM tasks WHERE project_id = ?",
                sql: "SELECT * FROM tasks WHERE project_id = 7",
                duration: Duration::from_millis(150),
                ok: true,
                at: f.clock.now(),
                scope: Some("/slow"),
                kind: perf_core::QueryKind::Read,
                slow: f.store.thresholds().query_is_slow(Duration::from_millis(150)),
                trace: None,
            });
            f.store.record_system(&SystemSample {
                at: f.clock.now(),
                rss_bytes: (200 + minute * 10) * 1_048_576,
                ..SystemSample::default()
            });
            f.advance(10);
        }
    }
    f.store.record_n_plus_one(&NPlusOneSample {
        scope: "/slow",
        fingerprint: "SELECT * FROM tasks WHERE project_id = ?",
        count: 30,
        total_time: Duration::from_millis(90),
        at: f.clock.now(),
        trace: None,
    });
    f.analytics.evaluate();
    let window = Window::minutes(20).unwrap_or_default();
    let r = f.analytics.report(window);
    assert_eq!(r.top_endpoints[0].route, "/slow", "slowest by p95 first");
    assert_eq!(r.top_queries[0].fingerprint, "SELECT * FROM tasks WHERE project_id = ?");
    assert_eq!(r.n_plus_one.len(), 1);
    assert!(!r.alerts.is_empty());
    assert!(r.system.samples > 0);
    assert!(r.health.score.unwrap_or(100.0) < 100.0);
    let trend = |metric: &str, scope: &str| {
        r.trends.iter().find(|t| t.metric == metric && t.scope == scope).map(|t| t.direction)
    };
    assert_eq!(trend("memory_mb", "overall"), Some(TrendDirection::Degrading));
    assert_eq!(trend("avg_response_time", "GET /slow"), Some(TrendDirection::Degrading));
    let rules: Vec<&str> = r.recommendations.iter().map(|r| r.rule.as_str()).collect();
    for rule in ["slow_endpoint", "slow_query", "n_plus_one", "rising_memory"] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
}

#[test]
fn trends_report_names_window() {
    let f = fixture();
    let r = f.analytics.trends(Window::DEFAULT);
    assert_eq!(r.period_minutes, 5);
    assert_eq!(r.trends.len(), 6, "overall only without endpoints: {:?}", r.trends);
    assert!(r.trends.iter().all(|t| t.direction == TrendDirection::InsufficientData));
}

#[test]
fn wait_for_evaluations_returns_once_reached() {
    let f = fixture();
    assert!(!f.analytics.wait_for_evaluations(1, Duration::ZERO));
    f.analytics.evaluate();
    assert!(f.analytics.wait_for_evaluations(1, Duration::ZERO));
    assert_eq!(f.analytics.evaluations(), 1);
}

#[test]
fn alert_window_spans_the_previous_minute() {
    let f = fixture();
    // Align to the start of a minute, record slow traffic, then step into the next minute.
    let now = f.clock.now().as_unix_micros();
    f.clock.set(Timestamp::from_unix_micros(now - now % 60_000_000));
    f.requests("/slow", 20, 200, 2_000);
    f.advance(65);
    assert_eq!(f.analytics.evaluate().opened, 1, "the 2-minute window still holds the previous minute");
    // Two minutes later that minute has left the window: the condition is clear.
    f.advance(60);
    let out = f.analytics.evaluate();
    assert_eq!((out.opened, out.unchanged), (0, 0), "{out:?}");
    assert_eq!(out.resolved, 1, "last seen 60 s ago: the hold-down has passed");
}

#[test]
fn usable_as_a_shared_trait_object() {
    let f = fixture();
    f.requests("/err", 20, 500, 10);
    f.analytics.evaluate();
    let service: Arc<dyn AnalyticsService> = Arc::new(f.analytics);
    let report = service.analytics(Window::DEFAULT);
    assert_eq!(report.alerts.len(), 2);
    assert!(report.alerts.iter().all(|a| a.alert_type == AlertType::HighErrorRate));
    assert_eq!(report.alerts, service.alerts(AlertFilter::Open));
    // Fast but always failing: response time keeps its 0.30 / 0.55 share, errors score 0.
    assert!((report.health_score.unwrap_or(f64::NAN) - 100.0 * 0.30 / 0.55).abs() < 1e-9, "{report:?}");
    // Issue 10 changed this: the score alone reads degraded, but both error-rate
    // alerts are critical (100 % is 10x the 10 % threshold), which caps at unhealthy.
    assert_eq!(report.status, HealthStatus::Unhealthy);
    let cap = report.capped_by.unwrap_or_else(|| panic!("not capped"));
    assert_eq!((cap.severity, cap.status), (Severity::Critical, HealthStatus::Unhealthy));
    assert_eq!(cap.alert_id, report.alerts.iter().map(|a| a.id).min().unwrap_or(0), "the oldest of equals");
}

// ---- issue 10: numbers a user can trust -------------------------------------

#[test]
fn no_traffic_is_no_data_not_healthy() {
    let f = fixture();
    let s = f.analytics.summary(SUMMARY_WINDOW);
    assert_eq!((s.status, s.health_score, s.capped_by.clone()), (HealthStatus::NoData, None, None));
    let km = s.key_metrics;
    assert_eq!(km.total_requests, 0);
    assert_eq!((km.avg_response_time, km.error_rate, km.client_error_rate), (None, None, None));
    assert_eq!((km.cache_hit_rate, km.memory_usage_mb), (None, None));
    let json = serde_json::to_value(&s).unwrap_or_default();
    assert_eq!(json["status"], "no_data");
    assert!(json["health_score"].is_null() && json["key_metrics"]["avg_response_time"].is_null(), "{json}");
    let r = f.analytics.report(Window::DEFAULT);
    assert_eq!((r.health.status, r.health.score), (HealthStatus::NoData, None));
    let a = f.analytics.analytics(Window::DEFAULT);
    assert_eq!((a.status, a.health_score), (HealthStatus::NoData, None));
    // Traffic that has left the window is no data either.
    f.requests("/a", 20, 200, 10);
    assert_eq!(f.analytics.summary(SUMMARY_WINDOW).status, HealthStatus::Healthy);
    f.advance(SUMMARY_WINDOW.as_duration().as_secs() + 60);
    assert_eq!(f.analytics.summary(SUMMARY_WINDOW).status, HealthStatus::NoData);
}

#[test]
fn a_critical_alert_on_one_route_makes_the_service_not_healthy() {
    let f = fixture();
    // 500 fast requests, and 5 on one route at 3.5 s: under 1 % of the traffic,
    // so the overall p95 stays fast, and under the 10 requests an endpoint
    // needs to count towards the score itself. The score says 100.
    f.requests("/fast", 500, 200, 10);
    f.requests("/report", 5, 200, 3_500);
    let before = f.analytics.summary(SUMMARY_WINDOW);
    assert_eq!((before.health_score, before.status), (Some(100.0), HealthStatus::Healthy));
    // The slow-request alert (p95 3.5 s > 3x the 1 s threshold) is critical.
    f.analytics.evaluate();
    let open = f.open();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!((open[0].key.as_str(), open[0].severity), ("GET /report", Severity::Critical));
    let s = f.analytics.summary(SUMMARY_WINDOW);
    assert_eq!(s.health_score, Some(100.0), "alerts do not change the score");
    assert_ne!(s.status, HealthStatus::Healthy);
    assert_eq!(s.status, HealthStatus::Unhealthy);
    let cap = s.capped_by.clone().unwrap_or_else(|| panic!("not capped: {s:?}"));
    assert_eq!((cap.alert_id, cap.key.as_str(), cap.alert_type), (open[0].id, "GET /report", AlertType::SlowRequest));
    // The report and the analytics document agree.
    assert_eq!(f.analytics.report(Window::DEFAULT).health.status, HealthStatus::Unhealthy);
    assert_eq!(f.analytics.analytics(Window::DEFAULT).status, HealthStatus::Unhealthy);
}

#[test]
fn a_failing_route_among_busy_good_ones_lowers_the_score_and_is_named() {
    let f = fixture();
    f.requests("/fast", 300, 200, 10);
    f.requests("/broken", 20, 503, 10); // 20 / 320 = 6.25 % overall, under the 10 % threshold
    let s = f.analytics.summary(SUMMARY_WINDOW);
    let er = &s.components[1];
    assert_eq!(er.name, "error_rate");
    assert!((er.overall.unwrap_or(f64::NAN) - 20.0 / 320.0).abs() < 1e-12, "{er:?}");
    assert_eq!(
        (er.value, er.endpoint.as_deref(), er.events, er.score),
        (Some(1.0), Some("GET /broken"), 20, Some(0.0))
    );
    // Response time (all 10 ms) keeps full marks: 100 × 0.30 / 0.55.
    assert!((s.health_score.unwrap_or(f64::NAN) - 100.0 * 0.30 / 0.55).abs() < 1e-9, "{s:?}");
    assert_eq!(s.status, HealthStatus::Degraded);
}

#[test]
fn a_condition_that_returns_after_auto_resolve_reopens_its_alert() {
    let f = fixture();
    f.requests("/slow", 20, 200, 2_500);
    f.analytics.evaluate();
    let first = f.open()[0].clone();
    assert!(!first.reopened && first.reopens.is_none());
    // Traffic stops: the 2-minute window clears, the 60 s hold-down passes.
    f.advance(130);
    assert_eq!(f.analytics.evaluate().resolved, 1);
    assert!(f.open().is_empty());
    // The same route is slow again.
    f.advance(10);
    f.requests("/slow", 20, 200, 2_500);
    let out = f.analytics.evaluate();
    assert_eq!((out.opened, out.reopened), (1, 1), "{out:?}");
    let again = f.open()[0].clone();
    assert_ne!(again.id, first.id);
    assert!(again.reopened);
    assert_eq!(again.reopens, Some(first.id));
    assert_eq!(again.created_at, f.clock.now().to_datetime());
    let resolved = f.analytics.alerts(AlertFilter::Resolved);
    assert_eq!(resolved.iter().map(|a| a.id).collect::<Vec<_>>(), [first.id], "the link points at a kept alert");
    let json = serde_json::to_value(&again).unwrap_or_default();
    assert_eq!((json["reopened"].clone(), json["reopens"].clone()), (true.into(), first.id.into()));
}

#[test]
fn a_condition_that_persists_after_manual_resolve_reopens_its_alert() {
    let f = fixture();
    f.requests("/slow", 20, 200, 2_500);
    f.analytics.evaluate();
    let first = f.open()[0].id;
    f.analytics.resolve_alert(first).unwrap_or_else(|e| panic!("{e}"));
    f.advance(10);
    let out = f.analytics.evaluate();
    assert_eq!((out.opened, out.reopened), (1, 1));
    assert_eq!(f.open()[0].reopens, Some(first));
    // Resolved again and back again: linked to the latest resolved one.
    let second = f.open()[0].id;
    f.analytics.resolve_alert(second).unwrap_or_else(|e| panic!("{e}"));
    f.advance(10);
    f.analytics.evaluate();
    assert_eq!(f.open()[0].reopens, Some(second));
}
