//! The JSON API: every endpoint, its status codes, auth and bad input.

use std::time::Duration;

use actix_web::{
    App,
    dev::{Service, ServiceResponse},
    http::{Method as HttpMethod, StatusCode, header},
    test, web,
};
use perf_core::{Clock as _, PerfConfig, QuerySample, Recorder as _, SystemSample, ThresholdStore as _, Thresholds};
use serde_json::{Value, json};

use crate::fakes::{Parts, parts, with_token};

const TOKEN: &str = "s3cret-token";

async fn app(
    p: &Parts,
) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> + use<> {
    test::init_service(App::new().wrap(p.state.monitor()).service(p.state.api())).await
}

/// Sends a request and returns the status and the JSON body (Null when empty).
async fn call(
    app: &impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
    method: HttpMethod,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, Value, ServiceResponse<actix_web::body::BoxBody>) {
    let mut req = test::TestRequest::default().method(method).uri(uri);
    if let Some(t) = token {
        req = req.insert_header((header::AUTHORIZATION, format!("Bearer {t}")));
    }
    if let Some(b) = body {
        req = req.insert_header((header::CONTENT_TYPE, "application/json")).set_payload(b.to_owned());
    }
    let res = test::call_service(app, req.to_request()).await;
    let status = res.status();
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap();
    let json = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    let rebuilt = ServiceResponse::new(req, head.set_body(actix_web::body::BoxBody::new(bytes)));
    (status, json, rebuilt)
}

fn seed(p: &Parts) {
    let now = p.clock.now();
    for (ms, status) in [(100, 200), (300, 200), (1_500, 500), (50, 404)] {
        crate::fakes::record_get(&p.store, "/api/projects/{id}", status, Duration::from_millis(ms), now);
    }
    for ms in [10, 200] {
        p.store.record_query(&QuerySample {
            fingerprint: "SELECT * FROM projects WHERE id = ?",
            sql: "SELECT * FROM projects WHERE id = 7",
            duration: Duration::from_millis(ms),
            ok: true,
            at: now,
            scope: Some("/api/projects/{id}"),
            kind: perf_core::QueryKind::Read,
            slow: p.store.thresholds().query_is_slow(Duration::from_millis(ms)),
            trace: None,
        });
    }
}

fn assert_error(status: StatusCode, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status.as_u16(), expected_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

#[actix_web::test]
async fn metrics_has_the_spec_shape_and_values() {
    let p = parts(PerfConfig::default());
    seed(&p);
    let app = app(&p).await;
    let (status, body, _) = call(&app, HttpMethod::GET, "/api/performance/metrics", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["period_minutes"], 5);
    let r = &body["requests"];
    assert_eq!(r["total_requests"], 4);
    assert!((r["max_response_time"].as_f64().unwrap() - 1.5).abs() < 1e-9);
    assert!((r["min_response_time"].as_f64().unwrap() - 0.05).abs() < 1e-9);
    assert!((r["avg_response_time"].as_f64().unwrap() - 0.4875).abs() < 1e-9);
    assert!((r["error_rate"].as_f64().unwrap() - 0.25).abs() < 1e-9);
    assert!((r["client_error_rate"].as_f64().unwrap() - 0.25).abs() < 1e-9);
    let d = &body["database"];
    assert_eq!(d["total_queries"], 2);
    assert_eq!(d["slow_query_count"], 1);
    assert!((d["max_query_time"].as_f64().unwrap() - 0.2).abs() < 1e-9);
    // Issue 10 changed this: without a system reading the values are null, not 0.
    assert_eq!(body["memory"]["sampled"], false);
    assert_eq!(body["cpu"]["sampled"], false);
    for k in ["current_memory_mb", "avg_memory_mb", "max_memory_mb"] {
        assert!(body["memory"][k].is_null(), "{k}: {body}");
    }
    for k in ["current_percent", "avg_percent", "max_percent"] {
        assert!(body["cpu"][k].is_null(), "{k}: {body}");
    }
    assert!(body["timestamp"].is_string());
}

#[actix_web::test]
async fn system_metrics_say_whether_they_were_sampled() {
    let p = parts(PerfConfig::default());
    let now = p.clock.now();
    for (mib, cpu) in [(100u64, 10.0), (300, 30.0)] {
        p.store.record_system(&SystemSample {
            at: now,
            rss_bytes: mib * 1_048_576,
            cpu_percent: cpu,
            ..SystemSample::default()
        });
    }
    let app = app(&p).await;
    let (_, body, _) = call(&app, HttpMethod::GET, "/api/performance/metrics", None, None).await;
    let (m, c) = (&body["memory"], &body["cpu"]);
    assert_eq!((m["sampled"].as_bool(), m["samples"].as_u64()), (Some(true), Some(2)), "{body}");
    assert!((m["current_memory_mb"].as_f64().unwrap() - 300.0).abs() < 1e-9, "{body}");
    assert!((m["avg_memory_mb"].as_f64().unwrap() - 200.0).abs() < 1e-9, "{body}");
    assert!((m["max_memory_mb"].as_f64().unwrap() - 300.0).abs() < 1e-9, "{body}");
    assert_eq!(c["sampled"], true);
    assert!((c["current_percent"].as_f64().unwrap() - 30.0).abs() < 1e-9, "{body}");
    assert!((c["avg_percent"].as_f64().unwrap() - 20.0).abs() < 1e-9, "{body}");
    // Once the readings leave the window, the window is not sampled again.
    p.clock.advance(Duration::from_secs(6 * 60));
    let (_, body, _) = call(&app, HttpMethod::GET, "/api/performance/metrics", None, None).await;
    assert_eq!(body["memory"]["sampled"], false, "{body}");
    assert!(body["memory"]["current_memory_mb"].is_null(), "{body}");
}

#[actix_web::test]
async fn minutes_is_validated_on_every_windowed_endpoint() {
    let p = parts(PerfConfig::default());
    let app = app(&p).await;
    for path in ["metrics", "analytics", "summary", "endpoints", "queries", "timeseries", "trends", "report"] {
        for bad in ["0", "1441", "-5", "abc", "2.5", ""] {
            let (status, body, _) =
                call(&app, HttpMethod::GET, &format!("/api/performance/{path}?minutes={bad}"), None, None).await;
            assert_error(status, &body, 400, "invalid_minutes");
        }
        for good in ["1", "1440"] {
            let (status, _, _) =
                call(&app, HttpMethod::GET, &format!("/api/performance/{path}?minutes={good}"), None, None).await;
            assert_eq!(status, 200, "{path}?minutes={good}");
        }
    }
}

#[actix_web::test]
async fn analytics_summary_trends_and_report_come_from_the_service() {
    let p = parts(PerfConfig::default());
    let app = app(&p).await;
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/analytics?minutes=15", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(b["period_minutes"], 15);
    assert_eq!(b["health_score"], 85.0);
    assert_eq!(b["cache_performance"]["hit_rate"], 0.75);
    assert_eq!(b["alerts"].as_array().unwrap().len(), 1);
    assert!(b["recommendations"].is_array());
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/summary", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(b["status"], "healthy");
    assert_eq!(b["active_alerts"], 1);
    assert_eq!(b["key_metrics"]["memory_usage_mb"], 185.5);
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/trends?minutes=30", None, None).await;
    assert_eq!((s.as_u16(), b["period_minutes"].as_u64()), (200, Some(30)));
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/report", None, None).await;
    assert_eq!((s.as_u16(), b["period_minutes"].as_u64()), (200, Some(60)));
    assert_eq!(b["health"]["score"], 85.0);
}

#[actix_web::test]
async fn analytics_endpoints_answer_501_without_a_service() {
    let p = parts(PerfConfig::default());
    let state = perf_http::PerfState::builder(PerfConfig::default()).store(p.store.clone()).build().unwrap();
    let app = test::init_service(App::new().service(state.api())).await;
    for path in ["analytics", "summary", "alerts", "trends", "report"] {
        let (s, b, _) = call(&app, HttpMethod::GET, &format!("/api/performance/{path}"), None, None).await;
        assert_error(s, &b, 501, "analytics_unavailable");
    }
}

#[actix_web::test]
async fn alerts_filter_by_resolution() {
    let p = parts(PerfConfig::default());
    let app = app(&p).await;
    let ids = |b: &Value| b["alerts"].as_array().unwrap().iter().map(|a| a["id"].as_u64().unwrap()).collect::<Vec<_>>();
    let (_, b, _) = call(&app, HttpMethod::GET, "/api/performance/alerts", None, None).await;
    assert_eq!((ids(&b), b["count"].as_u64()), (vec![1, 2], Some(2)));
    let (_, b, _) = call(&app, HttpMethod::GET, "/api/performance/alerts?resolved=false", None, None).await;
    assert_eq!(ids(&b), vec![1]);
    assert_eq!(b["alerts"][0]["type"], "slow_request");
    assert_eq!(b["alerts"][0]["severity"], "high");
    let (_, b, _) = call(&app, HttpMethod::GET, "/api/performance/alerts?resolved=true", None, None).await;
    assert_eq!(ids(&b), vec![2]);
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/alerts?resolved=maybe", None, None).await;
    assert_error(s, &b, 400, "invalid_query");
}

#[actix_web::test]
async fn resolving_an_alert_needs_a_token_and_a_known_numeric_id() {
    let p = parts(with_token(TOKEN));
    let app = app(&p).await;
    let (s, b, _) = call(&app, HttpMethod::POST, "/api/performance/alerts/1/resolve", None, None).await;
    assert_error(s, &b, 401, "unauthorized");
    let (s, b, _) = call(&app, HttpMethod::POST, "/api/performance/alerts/abc/resolve", Some(TOKEN), None).await;
    assert_error(s, &b, 400, "invalid_alert_id");
    let (s, b, _) = call(&app, HttpMethod::POST, "/api/performance/alerts/-1/resolve", Some(TOKEN), None).await;
    assert_error(s, &b, 400, "invalid_alert_id");
    let (s, b, _) = call(&app, HttpMethod::POST, "/api/performance/alerts/99/resolve", Some(TOKEN), None).await;
    assert_error(s, &b, 404, "alert_not_found");
    assert!(!p.analytics.alerts.lock()[0].resolved, "refused requests change nothing");
    let (s, b, _) = call(&app, HttpMethod::POST, "/api/performance/alerts/1/resolve", Some(TOKEN), None).await;
    assert_eq!(s, 200);
    assert_eq!((b["resolved"].as_bool(), b["alert"]["id"].as_u64()), (Some(true), Some(1)));
    assert_eq!(b["alert"]["resolution"], "manual");
    assert!(p.analytics.alerts.lock()[0].resolved);
}

#[actix_web::test]
async fn thresholds_read_and_partial_update() {
    let p = parts(with_token(TOKEN));
    let app = app(&p).await;
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/thresholds", Some(TOKEN), None).await;
    assert_eq!(s, 200);
    assert_eq!(b, serde_json::to_value(Thresholds::DEVELOPMENT).unwrap());
    let (s, b, _) = call(
        &app,
        HttpMethod::PUT,
        "/api/performance/thresholds",
        Some(TOKEN),
        Some(r#"{"slow_request_threshold": 0.25}"#),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        b,
        json!({"slow_request_threshold": 0.25, "slow_query_threshold": 0.1, "high_memory_threshold": 500.0,
               "error_rate_threshold": 0.1})
    );
    assert_eq!(p.state.thresholds().thresholds().slow_request_threshold, 0.25);
    // The store classifies with the same shared thresholds.
    assert_eq!(p.store.thresholds().slow_request_secs(), 0.25);
}

/// A PUT with `body` is refused with `status`/`code` and leaves thresholds unchanged.
async fn check_refused_thresholds(body: &str, status: u16, code: &str) {
    let p = parts(with_token(TOKEN));
    let app = app(&p).await;
    let (s, b, _) = call(&app, HttpMethod::PUT, "/api/performance/thresholds", Some(TOKEN), Some(body)).await;
    assert_error(s, &b, status, code);
    assert_eq!(p.state.thresholds().thresholds(), Thresholds::DEVELOPMENT, "{body}");
}

#[actix_web::test]
async fn bad_threshold_updates_are_refused_without_change() {
    check_refused_thresholds("{", 400, "malformed_json").await;
    check_refused_thresholds("not json", 400, "malformed_json").await;
    check_refused_thresholds(r#"{"slow_request_threshold": "fast"}"#, 400, "invalid_body").await;
    check_refused_thresholds(r#"{"slow_request_threshold": 1, "bogus": 2}"#, 400, "invalid_body").await;
    check_refused_thresholds("[1, 2]", 400, "invalid_body").await;
    check_refused_thresholds("{}", 400, "invalid_body").await;
    check_refused_thresholds("", 400, "invalid_body").await;
    check_refused_thresholds(r#"{"slow_request_threshold": -1}"#, 400, "invalid_threshold").await;
    check_refused_thresholds(r#"{"slow_query_threshold": 0}"#, 400, "invalid_threshold").await;
    check_refused_thresholds(r#"{"high_memory_threshold": 1e12}"#, 400, "invalid_threshold").await;
    check_refused_thresholds(r#"{"slow_request_threshold": 1e400}"#, 400, "malformed_json").await;
    check_refused_thresholds(r#"{"error_rate_threshold": 1.5}"#, 400, "invalid_threshold").await;
    check_refused_thresholds(r#"{"error_rate_threshold": 0}"#, 400, "invalid_threshold").await;
    // A valid field next to an invalid one: nothing is applied.
    check_refused_thresholds(r#"{"slow_request_threshold": 2, "error_rate_threshold": 7}"#, 400, "invalid_threshold")
        .await;
    let huge = format!(r#"{{"slow_request_threshold": 1, "pad": "{}"}}"#, "x".repeat(17 * 1024));
    check_refused_thresholds(&huge, 413, "payload_too_large").await;
    // The document says number: null is refused, not read as "leave unchanged".
    check_refused_thresholds(r#"{"slow_request_threshold": null, "error_rate_threshold": 0.2}"#, 400, "invalid_body")
        .await;
}

#[actix_web::test]
async fn mutations_are_forbidden_without_a_configured_token() {
    let p = parts(PerfConfig::default());
    let app = app(&p).await;
    for (method, path, body) in [
        (HttpMethod::PUT, "thresholds", Some(r#"{"slow_request_threshold": 2}"#)),
        (HttpMethod::POST, "cache/clear", None),
        (HttpMethod::POST, "alerts/1/resolve", None),
    ] {
        let (s, b, _) = call(&app, method, &format!("/api/performance/{path}"), Some("anything"), body).await;
        assert_error(s, &b, 403, "mutations_disabled");
        assert!(b["error"]["message"].as_str().unwrap().contains("PERFORMANCE_API_TOKEN"));
    }
    assert_eq!(p.state.thresholds().thresholds(), Thresholds::DEVELOPMENT);
}

#[actix_web::test]
async fn a_configured_token_guards_every_endpoint() {
    let p = parts(with_token(TOKEN));
    let app = test::init_service(App::new().service(p.state.api()).service(p.state.metrics())).await;
    let paths = crate::fakes::READ_PATHS;
    for path in paths {
        for token in [None, Some("wrong-token"), Some("s3cret-token-but-longer")] {
            let res = test::call_service(
                &app,
                match token {
                    None => test::TestRequest::get().uri(path).to_request(),
                    Some(t) => test::TestRequest::get()
                        .uri(path)
                        .insert_header((header::AUTHORIZATION, format!("Bearer {t}")))
                        .to_request(),
                },
            )
            .await;
            assert_eq!(res.status(), 401, "{path} {token:?}");
            assert!(res.headers().get(header::WWW_AUTHENTICATE).unwrap().to_str().unwrap().starts_with("Bearer"));
        }
        let req = test::TestRequest::get()
            .uri(path)
            .insert_header((header::AUTHORIZATION, format!("Bearer {TOKEN}")))
            .to_request();
        assert_eq!(test::call_service(&app, req).await.status(), 200, "{path}");
    }
}

#[actix_web::test]
async fn cache_stats_and_clear() {
    let p = parts(with_token(TOKEN));
    for k in ["dashboard:a", "dashboard:b", "users:1"] {
        p.cache.entries.lock().insert(k.into(), std::sync::Arc::from(&b"v"[..]));
    }
    let app = app(&p).await;
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/cache/stats", Some(TOKEN), None).await;
    assert_eq!(s, 200);
    assert_eq!((b["hits"].as_u64(), b["misses"].as_u64(), b["hit_rate"].as_f64()), (Some(3), Some(1), Some(0.75)));
    assert_eq!(b["total_operations"], 4);
    assert_eq!(b["memory"]["entries"], 3);
    let (s, b, _) = call(
        &app,
        HttpMethod::POST,
        "/api/performance/cache/clear",
        Some(TOKEN),
        Some(r#"{"pattern": "dashboard:*"}"#),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!((b["cleared"].as_u64(), b["pattern"].as_str()), (Some(2), Some("dashboard:*")));
    assert_eq!(p.cache.keys(), vec!["users:1".to_owned()]);
    let (s, b, _) = call(&app, HttpMethod::POST, "/api/performance/cache/clear", Some(TOKEN), None).await;
    assert_eq!((s.as_u16(), b["cleared"].as_u64()), (200, Some(1)));
    assert!(p.cache.keys().is_empty());
}

/// A clear with `body` is refused with `status`/`code` and removes nothing.
async fn check_refused_clear(body: &str, status: u16, code: &str) {
    let p = parts(with_token(TOKEN));
    p.cache.entries.lock().insert("dashboard:a".into(), std::sync::Arc::from(&b"v"[..]));
    let app = app(&p).await;
    let (s, b, _) = call(&app, HttpMethod::POST, "/api/performance/cache/clear", Some(TOKEN), Some(body)).await;
    assert_error(s, &b, status, code);
    assert_eq!(p.cache.keys().len(), 1, "{body}");
}

#[actix_web::test]
async fn bad_clear_requests_are_refused_without_change() {
    check_refused_clear("{", 400, "malformed_json").await;
    check_refused_clear(r#"{"pattern": 5}"#, 400, "invalid_body").await;
    check_refused_clear(r#"{"pattern": "a", "all": true}"#, 400, "invalid_body").await;
    check_refused_clear(r#"{"pattern": ""}"#, 400, "invalid_pattern").await;
    check_refused_clear(r#"{"pattern": "dash[board"}"#, 400, "invalid_pattern").await;
    check_refused_clear(r#"{"pattern": "a b"}"#, 400, "invalid_pattern").await;
    check_refused_clear(&format!(r#"{{"pattern": "{}"}}"#, "x".repeat(300)), 400, "invalid_pattern").await;
    check_refused_clear(&format!(r#"{{"pattern": "{}"}}"#, "x".repeat(20_000)), 413, "payload_too_large").await;
    // The rules the document's regular expression states, and the cache's own.
    check_refused_clear(r#"{"pattern": "a[]"}"#, 400, "invalid_pattern").await;
    check_refused_clear(r#"{"pattern": "a[^]"}"#, 400, "invalid_pattern").await;
    check_refused_clear(r#"{"pattern": "caf\u00e9:*"}"#, 400, "invalid_pattern").await;
    check_refused_clear(&format!(r#"{{"pattern": "{}"}}"#, "*".repeat(17)), 400, "invalid_pattern").await;
}

#[actix_web::test]
async fn clear_accepts_null_and_reversed_ranges_as_the_document_says() {
    let p = parts(with_token(TOKEN));
    p.cache.entries.lock().insert("dashboard:b".into(), std::sync::Arc::from(&b"v"[..]));
    let app = app(&p).await;
    let (s, b, _) =
        call(&app, HttpMethod::POST, "/api/performance/cache/clear", Some(TOKEN), Some(r#"{"pattern": "d[c-a]*"}"#))
            .await;
    assert_eq!(s, 200, "{b}");
    let (s, b, _) =
        call(&app, HttpMethod::POST, "/api/performance/cache/clear", Some(TOKEN), Some(r#"{"pattern": null}"#)).await;
    assert_eq!((s.as_u16(), b["pattern"].is_null()), (200, true), "{b}");
    assert!(p.cache.keys().is_empty());
}

#[actix_web::test]
async fn a_failing_cache_answers_503() {
    let p = parts(with_token(TOKEN));
    crate::fakes::fail(&p.cache);
    let app = app(&p).await;
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/cache/stats", Some(TOKEN), None).await;
    assert_error(s, &b, 503, "cache_unavailable");
    assert_eq!(b["error"]["message"], "the cache backend is unavailable", "{b}");
    let (s, b, _) = call(&app, HttpMethod::POST, "/api/performance/cache/clear", Some(TOKEN), None).await;
    assert_error(s, &b, 503, "cache_unavailable");
    let text = b.to_string();
    for leaked in [crate::fakes::FAKE_BACKEND_FAILURE, "10.0.0.7", "6379", "connection refused"] {
        assert!(!text.contains(leaked), "the body carries {leaked:?}: {text}");
    }
}

#[actix_web::test]
async fn endpoints_lists_per_endpoint_statistics() {
    let p = parts(PerfConfig::default());
    seed(&p);
    let app = app(&p).await;
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/endpoints", None, None).await;
    assert_eq!(s, 200);
    let e = &b["endpoints"][0];
    assert_eq!((e["method"].as_str(), e["route"].as_str()), (Some("GET"), Some("/api/projects/{id}")));
    assert_eq!((e["count"].as_u64(), e["slow_count"].as_u64()), (Some(4), Some(1)));
    assert!((e["error_rate"].as_f64().unwrap() - 0.25).abs() < 1e-9);
    assert!((e["client_error_rate"].as_f64().unwrap() - 0.25).abs() < 1e-9);
    assert!((e["max"].as_f64().unwrap() - 1.5).abs() < 1e-9);
    for k in ["avg", "p50", "p95", "p99"] {
        assert!(e[k].as_f64().unwrap() > 0.0, "{k}");
    }
}

#[actix_web::test]
async fn queries_lists_fingerprints_slow_queries_and_limits() {
    let p = parts(PerfConfig::default());
    seed(&p);
    let app = app(&p).await;
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/queries", None, None).await;
    assert_eq!(s, 200);
    let q = &b["top_queries"][0];
    assert_eq!(q["fingerprint"], "SELECT * FROM projects WHERE id = ?");
    // The id a Prometheus panel shows as `query_id` leads back here.
    assert_eq!(q["query_id"], perf_core::query_id("SELECT * FROM projects WHERE id = ?"));
    assert_eq!(q["count"], 2);
    assert!((q["total_time"].as_f64().unwrap() - 0.21).abs() < 1e-9);
    assert_eq!(b["slow_queries"][0]["sql"], "SELECT * FROM projects WHERE id = 7");
    assert!(b["n_plus_one"].as_array().unwrap().is_empty());
    for bad in ["0", "1001", "x"] {
        let (s, b, _) = call(&app, HttpMethod::GET, &format!("/api/performance/queries?limit={bad}"), None, None).await;
        assert_error(s, &b, 400, "invalid_query");
    }
}

#[actix_web::test]
async fn timeseries_serves_requests_queries_and_system_series() {
    let p = parts(PerfConfig::default());
    seed(&p);
    let app = app(&p).await;
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/timeseries?minutes=1", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(b["metric"], "requests");
    let total: u64 = b["points"].as_array().unwrap().iter().map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 4);
    let uri = "/api/performance/timeseries?metric=requests&route=/api/projects/%7Bid%7D&method=get";
    let (_, b, _) = call(&app, HttpMethod::GET, uri, None, None).await;
    assert_eq!((b["route"].as_str(), b["method"].as_str()), (Some("/api/projects/{id}"), Some("GET")));
    let total: u64 = b["points"].as_array().unwrap().iter().map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 4);
    let (_, b, _) = call(&app, HttpMethod::GET, "/api/performance/timeseries?metric=queries", None, None).await;
    let total: u64 = b["points"].as_array().unwrap().iter().map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 2);
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/timeseries?metric=system", None, None).await;
    assert_eq!((s.as_u16(), b["metric"].as_str()), (200, Some("system")));
    assert!(b["points"][0]["rss_mb"].is_number());
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/timeseries?metric=bogus", None, None).await;
    assert_error(s, &b, 400, "invalid_query");
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/timeseries?route=/x&method=FETCH", None, None).await;
    assert_error(s, &b, 400, "invalid_query");
    // The method is checked whatever the metric, as the document states it.
    let uri = "/api/performance/timeseries?metric=queries&method=FETCH";
    let (s, b, _) = call(&app, HttpMethod::GET, uri, None, None).await;
    assert_error(s, &b, 400, "invalid_query");
    // The shared key of other methods is `*` in JSON, as the document's enum says.
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/timeseries?route=/x&method=*", None, None).await;
    assert_eq!((s.as_u16(), b["method"].as_str()), (200, Some("*")), "{b}");
}

#[actix_web::test]
async fn timeseries_resolution_selects_roll_ups_with_percentiles() {
    let p = parts(PerfConfig::default());
    seed(&p);
    let app = app(&p).await;
    let (_, fine, _) = call(&app, HttpMethod::GET, "/api/performance/timeseries?minutes=5", None, None).await;
    let fine = fine["points"].as_array().unwrap().clone();
    assert!(fine.iter().all(|p| p["has_percentiles"] == false) && fine.len() > 5);
    let uri = "/api/performance/timeseries?minutes=5&resolution=rollup";
    let (s, b, _) = call(&app, HttpMethod::GET, uri, None, None).await;
    assert_eq!(s, 200);
    let points = b["points"].as_array().unwrap();
    assert_eq!(points.len(), 5);
    let with_data: Vec<_> = points.iter().filter(|p| p["count"].as_u64() > Some(0)).collect();
    assert!(!with_data.is_empty() && with_data.iter().all(|p| p["has_percentiles"] == true));
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/timeseries?resolution=fine", None, None).await;
    assert_error(s, &b, 400, "invalid_query");
}

#[actix_web::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let p = parts(PerfConfig::default());
    let app = app(&p).await;
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/nope", None, None).await;
    assert_error(s, &b, 404, "not_found");
    let (s, b, _) = call(&app, HttpMethod::DELETE, "/api/performance/metrics", None, None).await;
    assert_error(s, &b, 405, "method_not_allowed");
    let (s, b, _) = call(&app, HttpMethod::GET, "/api/performance/cache/clear", None, None).await;
    assert_error(s, &b, 405, "method_not_allowed");
}

#[actix_web::test]
async fn api_requests_are_not_monitored() {
    let p = parts(PerfConfig::default());
    let app = app(&p).await;
    call(&app, HttpMethod::GET, "/api/performance/metrics", None, None).await;
    let (_, b, _) = call(&app, HttpMethod::GET, "/api/performance/metrics", None, None).await;
    assert_eq!(b["requests"]["total_requests"], 0);
}

#[actix_web::test]
async fn the_api_can_be_mounted_elsewhere() {
    let p = parts(PerfConfig::default());
    let app = test::init_service(App::new().service(p.state.api().at("/internal/perf"))).await;
    let (s, _, _) = call(&app, HttpMethod::GET, "/internal/perf/summary", None, None).await;
    assert_eq!(s, 200);
    let _ = web::Data::new(());
}
