//! Health, alerts and presence flags through the API over a real store and
//! real analytics: no traffic is `no_data` with a `null` score, the score's
//! components name the endpoint that drove them, open alerts cap the status,
//! a returning condition re-opens its alert, and a missing cache or system
//! sampler is said, not shown as zeros. Every body is checked against the
//! OpenAPI document too.

use std::{sync::Arc, time::Duration};

use actix_web::{
    App,
    dev::{Service, ServiceResponse},
    http::header,
    test,
};
use perf_analytics::Analytics;
use perf_core::{Clock as _, ManualClock, PerfConfig, SharedThresholds, Store, StoreConfig, Timestamp};
use perf_http::PerfState;
use serde_json::Value;

use crate::{
    fakes::{T0, parts, with_token},
    openapi::validate,
};

const TOKEN: &str = "health-token";

struct Real {
    state: PerfState,
    store: Arc<Store>,
    clock: Arc<ManualClock>,
    analytics: Arc<Analytics>,
}

/// A state over a real store and real analytics, with a token and no cache.
fn real() -> Real {
    let config = with_token(TOKEN);
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(T0)));
    let thresholds = Arc::new(SharedThresholds::new(config.thresholds).unwrap());
    let store = Arc::new(Store::new(StoreConfig::default(), clock.clone(), thresholds.clone()).unwrap());
    let analytics = Arc::new(Analytics::new(store.clone(), thresholds, clock.clone()));
    let state = PerfState::builder(config).store(store.clone()).analytics(analytics.clone()).build().unwrap();
    Real { state, store, clock, analytics }
}

impl Real {
    fn requests(&self, route: &str, n: usize, status: u16, ms: u64) {
        for _ in 0..n {
            let at = self.clock.now();
            crate::fakes::record_get(&self.store, route, status, Duration::from_millis(ms), at);
        }
    }
}

async fn get(
    app: &impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
    uri: &str,
    schema: &str,
) -> Value {
    let req = test::TestRequest::get()
        .uri(uri)
        .insert_header((header::AUTHORIZATION, format!("Bearer {TOKEN}")))
        .to_request();
    let res = test::call_service(app, req).await;
    assert_eq!(res.status(), 200, "{uri}");
    let body: Value = test::read_body_json(res).await;
    let doc: Value = serde_json::from_str(include_str!("../../src/openapi.json")).unwrap();
    let mut errors = Vec::new();
    validate(&doc, &doc["components"]["schemas"][schema], &body, uri, &mut errors);
    assert!(errors.is_empty(), "{errors:#?}\n{body}");
    body
}

fn names(components: &Value) -> Vec<&str> {
    components.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect()
}

#[actix_web::test]
async fn without_traffic_health_is_no_data_with_a_null_score() {
    let r = real();
    let app = test::init_service(App::new().service(r.state.api())).await;
    let s = get(&app, "/api/performance/summary", "Summary").await;
    assert_eq!(s["status"], "no_data");
    assert!(s["health_score"].is_null(), "{s}");
    assert!(s["capped_by"].is_null());
    assert_eq!(s["period_minutes"], 5);
    assert_eq!(names(&s["components"]), ["response_time", "error_rate", "memory", "database", "cache"]);
    let weights: Vec<f64> = s["components"].as_array().unwrap().iter().map(|c| c["weight"].as_f64().unwrap()).collect();
    assert_eq!(weights, [0.30, 0.25, 0.20, 0.15, 0.10]);
    for c in s["components"].as_array().unwrap() {
        assert!(c["score"].is_null() && c["value"].is_null() && c["endpoint"].is_null(), "{c}");
        assert_eq!(c["events"], 0);
    }
    let km = &s["key_metrics"];
    assert_eq!(km["total_requests"], 0);
    for k in ["avg_response_time", "error_rate", "client_error_rate", "cache_hit_rate", "memory_usage_mb"] {
        assert!(km[k].is_null(), "{k}: {km}");
    }
    let a = get(&app, "/api/performance/analytics", "Analytics").await;
    assert_eq!((a["status"].as_str(), a["health_score"].is_null()), (Some("no_data"), true));
    let rep = get(&app, "/api/performance/report", "Report").await;
    assert_eq!((rep["health"]["status"].as_str(), rep["health"]["score"].is_null()), (Some("no_data"), true));
}

#[actix_web::test]
async fn summary_window_follows_minutes() {
    let r = real();
    r.requests("/a", 12, 200, 20);
    r.clock.advance(Duration::from_secs(10 * 60));
    let app = test::init_service(App::new().service(r.state.api())).await;
    let s = get(&app, "/api/performance/summary", "Summary").await;
    assert_eq!(s["status"], "no_data", "10 minutes ago is outside the default 5");
    let s = get(&app, "/api/performance/summary?minutes=15", "Summary").await;
    assert_eq!((s["status"].as_str(), s["period_minutes"].as_u64()), (Some("healthy"), Some(15)));
    assert_eq!(s["health_score"], 100.0);
    assert_eq!(s["key_metrics"]["total_requests"], 12);
}

#[actix_web::test]
async fn a_failing_route_drives_the_components_and_its_critical_alert_caps_the_status() {
    let r = real();
    // 300 fast requests and 20 failing ones on one route: 6.25 % overall is
    // under the 10 % threshold; the route's 100 % is 10x it.
    r.requests("/fast", 300, 200, 10);
    r.requests("/broken", 20, 503, 10);
    r.analytics.evaluate();
    let app = test::init_service(App::new().service(r.state.api())).await;
    let s = get(&app, "/api/performance/summary", "Summary").await;
    let er = &s["components"][1];
    assert_eq!(er["name"], "error_rate");
    assert_eq!((er["input"].as_str(), er["unit"].as_str()), (Some("error_rate"), Some("ratio")));
    assert_eq!(er["endpoint"], "GET /broken");
    assert_eq!((er["value"].as_f64(), er["threshold"].as_f64()), (Some(1.0), Some(0.1)));
    assert!((er["overall"].as_f64().unwrap() - 20.0 / 320.0).abs() < 1e-12, "{er}");
    assert_eq!((er["score"].as_f64(), er["weight"].as_f64(), er["events"].as_u64()), (Some(0.0), Some(0.25), Some(20)));
    let rt = &s["components"][0];
    assert_eq!((rt["score"].as_f64(), rt["endpoint"].is_null()), (Some(100.0), true));
    // Only requests: 100 × 0.30 / 0.55 of the score is left.
    assert!((s["health_score"].as_f64().unwrap() - 100.0 * 0.30 / 0.55).abs() < 1e-9, "{s}");
    let alerts = get(&app, "/api/performance/alerts?resolved=false", "AlertList").await;
    let broken: Vec<&Value> =
        alerts["alerts"].as_array().unwrap().iter().filter(|a| a["key"] == "GET /broken").collect();
    assert_eq!(broken.len(), 1, "{alerts}");
    assert_eq!(broken[0]["severity"], "critical");
    assert_eq!(s["status"], "unhealthy", "{s}");
    assert_eq!(s["capped_by"]["alert_id"], broken[0]["id"]);
    assert_eq!(
        (s["capped_by"]["severity"].as_str(), s["capped_by"]["status"].as_str()),
        (Some("critical"), Some("unhealthy"))
    );
    let rep = get(&app, "/api/performance/report", "Report").await;
    assert_eq!(rep["health"]["status"], "unhealthy");
    assert_eq!(rep["health"]["components"][1]["endpoint"], "GET /broken");
}

#[actix_web::test]
async fn a_resolved_alert_that_fires_again_is_reopened_and_linked() {
    let r = real();
    r.requests("/slow", 20, 200, 2_500);
    r.analytics.evaluate();
    let app = test::init_service(App::new().service(r.state.api())).await;
    let open = get(&app, "/api/performance/alerts?resolved=false", "AlertList").await;
    let first = open["alerts"][0]["id"].as_u64().unwrap();
    assert_eq!((open["alerts"][0]["reopened"].as_bool(), open["alerts"][0]["reopens"].is_null()), (Some(false), true));
    let req = test::TestRequest::post()
        .uri(&format!("/api/performance/alerts/{first}/resolve"))
        .insert_header((header::AUTHORIZATION, format!("Bearer {TOKEN}")))
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 200);
    r.clock.advance(Duration::from_secs(10));
    r.analytics.evaluate();
    let open = get(&app, "/api/performance/alerts?resolved=false", "AlertList").await;
    assert_eq!(open["count"], 1);
    let again = &open["alerts"][0];
    assert_ne!(again["id"].as_u64(), Some(first));
    assert_eq!((again["reopened"].as_bool(), again["reopens"].as_u64()), (Some(true), Some(first)));
    let all = get(&app, "/api/performance/alerts", "AlertList").await;
    assert!(all["alerts"].as_array().unwrap().iter().any(|a| a["id"] == first && a["resolved"] == true));
}

#[actix_web::test]
async fn cache_presence_is_said() {
    let r = real();
    let app = test::init_service(App::new().service(r.state.api())).await;
    let c = get(&app, "/api/performance/cache/stats", "CacheStats").await;
    assert_eq!(c["configured"], false, "{c}");
    let m = get(&app, "/api/performance/metrics", "Metrics").await;
    assert_eq!(m["cache"]["configured"], false);
    assert_eq!(m["memory"]["sampled"], false);
    let p = parts(PerfConfig::default());
    let app = test::init_service(App::new().service(p.state.api())).await;
    let c: Value =
        test::call_and_read_body_json(&app, test::TestRequest::get().uri("/api/performance/cache/stats").to_request())
            .await;
    assert_eq!((c["configured"].as_bool(), c["hits"].as_u64()), (Some(true), Some(3)), "{c}");
}

#[actix_web::test]
async fn endpoints_count_server_and_client_errors() {
    let r = real();
    r.requests("/a/{id}", 5, 200, 10);
    r.requests("/a/{id}", 3, 404, 10);
    r.requests("/a/{id}", 1, 422, 10);
    r.requests("/a/{id}", 2, 500, 10);
    let app = test::init_service(App::new().service(r.state.api())).await;
    let e = get(&app, "/api/performance/endpoints", "Endpoints").await;
    let row = &e["endpoints"][0];
    assert_eq!(row["count"], 11);
    assert_eq!((row["error_count"].as_u64(), row["client_error_count"].as_u64()), (Some(2), Some(4)), "{row}");
    assert!((row["client_error_rate"].as_f64().unwrap() - 4.0 / 11.0).abs() < 1e-12);
    let s = get(&app, "/api/performance/summary", "Summary").await;
    assert!((s["key_metrics"]["client_error_rate"].as_f64().unwrap() - 4.0 / 11.0).abs() < 1e-12, "{s}");
}
