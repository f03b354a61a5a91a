//! The dashboard at `/performance`: page and assets served from the
//! binary, paths and token flag filled in, nothing loaded from elsewhere,
//! not monitored, and every API call the script makes answered with the
//! fields it reads.

use actix_web::{App, http::StatusCode, test, web::Bytes};
use perf_core::PerfConfig;
use perf_http::DASHBOARD_PATH;

use crate::fakes::{parts, with_token};

async fn get(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
    uri: &str,
) -> (StatusCode, Option<String>, Option<String>, Bytes) {
    let res = test::call_service(app, test::TestRequest::get().uri(uri).to_request()).await;
    let status = res.status();
    let content_type = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let csp = res.headers().get("content-security-policy").map(|v| v.to_str().unwrap().to_owned());
    (status, content_type, csp, test::read_body(res).await)
}

fn text(b: &Bytes) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

#[actix_web::test]
async fn page_and_assets_are_served_from_the_binary() {
    let p = parts(PerfConfig::default());
    let app = test::init_service(App::new().service(p.state.dashboard())).await;
    assert_eq!(DASHBOARD_PATH, "/performance");

    let (status, ct, csp, page) = get(&app, "/performance").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct.as_deref(), Some("text/html; charset=utf-8"));
    let csp = csp.unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
    let page = text(&page);
    assert!(page.contains(r#"<script src="/performance/dashboard.js" defer></script>"#), "{page}");
    assert!(page.contains(r#"href="/performance/dashboard.css""#));
    assert!(page.contains(r#"data-api="/api/performance""#));
    assert!(page.contains(r#"data-token-required="false""#));
    assert!(!page.contains("{{"), "unfilled placeholder in {page}");
    for id in [
        "health-score",
        "health-status",
        "health-cap",
        "health-components",
        "summary-client-error-rate",
        "metric-client-errors",
        "alerts-table",
        "endpoints-table",
        "chart-requests",
        "chart-latency",
        "chart-errors",
        "n-plus-one-table",
        "slow-queries-table",
        "slow-requests-table",
        "cache-hit-rate",
        "cache-tier",
        "memory-current",
        "cpu-current",
    ] {
        assert!(page.contains(&format!(r#"id="{id}""#)), "missing #{id}");
    }

    let (status, _, _, slash) = get(&app, "/performance/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text(&slash), page);

    let (status, ct, _, js) = get(&app, "/performance/dashboard.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct.as_deref(), Some("text/javascript; charset=utf-8"));
    let (status, ct, _, css) = get(&app, "/performance/dashboard.css").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct.as_deref(), Some("text/css; charset=utf-8"));

    // Nothing is fetched from another origin: the only absolute URL is the SVG namespace name.
    for (name, body) in [("page", page), ("script", text(&js)), ("stylesheet", text(&css))] {
        let stripped = body.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !stripped.contains("http://") && !stripped.contains("https://") && !stripped.contains("//cdn"),
            "{name} references another origin"
        );
        assert!(!stripped.contains("@import"), "{name} imports");
    }
}

#[actix_web::test]
async fn other_methods_and_paths_are_not_the_page() {
    let p = parts(PerfConfig::default());
    let app = test::init_service(App::new().service(p.state.dashboard())).await;
    let res = test::call_service(&app, test::TestRequest::post().uri("/performance").to_request()).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    let (status, _, _, _) = get(&app, "/performance/other.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn token_flag_and_paths_follow_the_configuration() {
    let p = parts(with_token("s3cret-token"));
    let dashboard = p.state.dashboard().at("/ops/perf/").api_prefix("/ops/api");
    let app = test::init_service(App::new().service(dashboard)).await;
    let (status, _, _, page) = get(&app, "/ops/perf").await;
    assert_eq!(status, StatusCode::OK);
    let page = text(&page);
    assert!(page.contains(r#"data-token-required="true""#));
    assert!(page.contains(r#"data-api="/ops/api""#));
    assert!(page.contains(r#"src="/ops/perf/dashboard.js""#));
    assert!(!page.contains("s3cret-token"), "the token must never be written into the page");
    let (status, _, _, _) = get(&app, "/ops/perf/dashboard.css").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _, _) = get(&app, "/performance").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn viewing_the_dashboard_is_not_monitored() {
    let p = parts(PerfConfig::default());
    let app =
        test::init_service(App::new().wrap(p.state.monitor()).service(p.state.api()).service(p.state.dashboard()))
            .await;
    for uri in ["/performance", "/performance/dashboard.js", "/performance/dashboard.css"] {
        let (status, _, _, _) = get(&app, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
    }
    let metrics: serde_json::Value =
        test::call_and_read_body_json(&app, test::TestRequest::get().uri("/api/performance/metrics").to_request())
            .await;
    assert_eq!(metrics["requests"]["total_requests"], 0);
}

/// Each API call the script makes: a literal the script contains, the URL
/// it resolves to (at the default 5-minute window), and the JSON fields the
/// script reads from the answer.
const CALLS: [(&str, &str, &[&str]); 9] = [
    (
        r#"api("/summary?" + w)"#,
        "/api/performance/summary?minutes=5",
        &["health_score", "status", "capped_by", "components", "active_alerts", "key_metrics"],
    ),
    (
        r#"api("/metrics?" + w)"#,
        "/api/performance/metrics?minutes=5",
        &["requests", "database", "memory", "cpu", "cache", "period_minutes"],
    ),
    (
        r#"api("/cache/stats")"#,
        "/api/performance/cache/stats",
        &["configured", "hit_rate", "serving_tier", "hits", "misses", "memory"],
    ),
    (r#"api("/alerts?resolved=false")"#, "/api/performance/alerts?resolved=false", &["alerts"]),
    (r#"api("/endpoints?" + w)"#, "/api/performance/endpoints?minutes=5", &["endpoints"]),
    (r#"api("/queries?" + w)"#, "/api/performance/queries?minutes=5", &["n_plus_one", "slow_queries", "top_queries"]),
    (
        r#"api("/timeseries?metric=requests&" + w)"#,
        "/api/performance/timeseries?metric=requests&minutes=5",
        &["points"],
    ),
    (
        r#"api("/timeseries?metric=requests&resolution=rollup&" + w)"#,
        "/api/performance/timeseries?metric=requests&resolution=rollup&minutes=5",
        &["points"],
    ),
    (r#"api("/timeseries?metric=system&" + w)"#, "/api/performance/timeseries?metric=system&minutes=5", &["points"]),
];

#[actix_web::test]
async fn every_call_the_script_makes_is_answered_with_the_fields_it_reads() {
    let p = parts(PerfConfig::default());
    let app = test::init_service(App::new().service(p.state.api()).service(p.state.dashboard())).await;
    let (_, _, _, js) = get(&app, "/performance/dashboard.js").await;
    let js = text(&js);
    for (literal, url, fields) in CALLS {
        assert!(js.contains(literal), "the script no longer contains {literal}");
        let (status, _, _, body) = get(&app, url).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for f in fields {
            assert!(v.get(f).is_some(), "{url} has no {f}: {v}");
        }
    }
    assert!(js.contains(r#"api("/alerts/" + encodeURIComponent(id) + "/resolve", { method: "POST" })"#));
    // One window drives every windowed call: the only GETs without it are
    // the "now" documents (open alerts, the cache's own statistics).
    let gets: Vec<&str> = js.split(r#"api("/"#).skip(1).map(|rest| rest.split(')').next().unwrap()).collect();
    assert_eq!(gets.len(), 10, "{gets:?}");
    for call in gets {
        let windowed = call.ends_with("\" + w");
        let now = ["alerts?resolved=false\"", "cache/stats\""].contains(&call)
            || call.starts_with("alerts/\" + encodeURIComponent");
        assert!(windowed ^ now, "{call:?} neither uses the window nor is a \"now\" document");
    }
    assert!(js.contains(r#"h["Authorization"] = "Bearer " + t;"#));
}
