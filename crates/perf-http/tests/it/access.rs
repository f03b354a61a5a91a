//! Who may call what: the API (admin) token, the read-only token, a wrong
//! token and no token, in the development and production profiles, over the
//! JSON API, `/metrics` and the dashboard page.

use actix_web::{
    App,
    dev::{Service, ServiceResponse},
    http::{Method as HttpMethod, header},
    test,
};
use perf_core::{PerfConfig, Profile, Thresholds};
use serde_json::Value;

use crate::fakes::{Parts, parts};

const ADMIN: &str = "admin-token-1";
const READER: &str = "reader-token-1";

/// Every read the API and `/metrics` serve (all GET).
const READS: [&str; 13] = crate::fakes::READ_PATHS;

/// Every mutation, with a body that would succeed with the admin token.
const MUTATIONS: [(&str, &str, Option<&str>); 3] = [
    ("PUT", "/api/performance/thresholds", Some(r#"{"slow_request_threshold": 2.5}"#)),
    ("POST", "/api/performance/alerts/1/resolve", None),
    ("POST", "/api/performance/cache/clear", Some(r#"{"pattern": "dashboard:*"}"#)),
];

fn config(profile: Profile, api: Option<&str>, read: Option<&str>) -> PerfConfig {
    let mut b = PerfConfig::builder().profile(profile);
    if let Some(t) = api {
        b = b.api_token(t);
    }
    if let Some(t) = read {
        b = b.read_token(t);
    }
    b.build().unwrap()
}

/// A state whose cache holds three keys, two matching `dashboard:*`.
fn seeded(config: PerfConfig) -> Parts {
    let p = parts(config);
    for k in ["dashboard:a", "dashboard:b", "users:1"] {
        p.cache.entries.lock().insert(k.into(), std::sync::Arc::from(&b"v"[..]));
    }
    p
}

async fn app(
    p: &Parts,
) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> + use<> {
    test::init_service(App::new().service(p.state.api()).service(p.state.metrics()).service(p.state.dashboard())).await
}

async fn call(
    app: &impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let mut req = test::TestRequest::default().method(HttpMethod::from_bytes(method.as_bytes()).unwrap()).uri(uri);
    if let Some(t) = token {
        req = req.insert_header((header::AUTHORIZATION, format!("Bearer {t}")));
    }
    if let Some(b) = body {
        req = req.insert_header((header::CONTENT_TYPE, "application/json")).set_payload(b.to_owned());
    }
    let res = test::call_service(app, req.to_request()).await;
    let status = res.status().as_u16();
    let bytes = test::read_body(res).await;
    // `/metrics` answers text on success; errors are JSON everywhere.
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, body)
}

/// Nothing a refused mutation could have touched has changed.
fn assert_unchanged(p: &Parts, thresholds: Thresholds, what: &str) {
    assert_eq!(p.state.thresholds().thresholds(), thresholds, "{what}: thresholds changed");
    assert!(!p.analytics.alerts.lock()[0].resolved, "{what}: alert 1 was resolved");
    assert_eq!(p.cache.keys().len(), 3, "{what}: cache entries were cleared");
}

fn assert_code(status: u16, body: &Value, expected: u16, code: &str, what: &str) {
    assert_eq!(status, expected, "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
}

#[actix_web::test]
async fn the_api_token_reads_and_mutates() {
    let p = seeded(config(Profile::Production, Some(ADMIN), Some(READER)));
    let app = app(&p).await;
    for path in READS {
        let (s, b) = call(&app, "GET", path, Some(ADMIN), None).await;
        assert_eq!(s, 200, "{path}: {b}");
    }
    for (method, path, body) in MUTATIONS {
        let (s, b) = call(&app, method, path, Some(ADMIN), body).await;
        assert_eq!(s, 200, "{method} {path}: {b}");
    }
    assert_eq!(p.state.thresholds().thresholds().slow_request_threshold, 2.5);
    assert!(p.analytics.alerts.lock()[0].resolved);
    assert_eq!(p.cache.keys(), vec!["users:1".to_owned()]);
}

#[actix_web::test]
async fn the_read_token_reads_but_every_mutation_is_403_and_changes_nothing() {
    for profile in [Profile::Development, Profile::Production] {
        let p = seeded(config(profile, Some(ADMIN), Some(READER)));
        let before = p.state.thresholds().thresholds();
        let app = app(&p).await;
        for path in READS {
            let (s, b) = call(&app, "GET", path, Some(READER), None).await;
            assert_eq!(s, 200, "{profile:?} {path}: {b}");
        }
        for (method, path, body) in MUTATIONS {
            let (s, b) = call(&app, method, path, Some(READER), body).await;
            let what = format!("{profile:?} {method} {path}");
            assert_code(s, &b, 403, "read_only_token", &what);
            let message = b["error"]["message"].as_str().unwrap();
            assert!(message.contains("PERFORMANCE_API_TOKEN"), "{what}: {message}");
            assert_unchanged(&p, before, &what);
        }
    }
}

#[actix_web::test]
async fn a_read_token_alone_still_refuses_mutations_and_unknown_tokens() {
    let p = seeded(config(Profile::Development, None, Some(READER)));
    let before = p.state.thresholds().thresholds();
    let app = app(&p).await;
    let (s, b) = call(&app, "GET", "/metrics", Some(READER), None).await;
    assert_eq!(s, 200, "{b}");
    assert!(b.as_str().unwrap().contains("# TYPE"), "{b}");
    for path in READS {
        let (s, b) = call(&app, "GET", path, None, None).await;
        assert_code(s, &b, 401, "unauthorized", path);
    }
    for (method, path, body) in MUTATIONS {
        let (s, b) = call(&app, method, path, Some(READER), body).await;
        assert_code(s, &b, 403, "read_only_token", path);
        let (s, b) = call(&app, method, path, None, body).await;
        assert_code(s, &b, 401, "unauthorized", path);
    }
    assert_unchanged(&p, before, "read token alone");
}

#[actix_web::test]
async fn a_wrong_or_missing_token_is_401_for_reads_and_mutations() {
    let p = seeded(config(Profile::Production, Some(ADMIN), Some(READER)));
    let before = p.state.thresholds().thresholds();
    let app = app(&p).await;
    // Prefixes and extensions of either token are as wrong as anything else.
    let wrong = [None, Some("wrong-token-1"), Some("admin-token"), Some("reader-token-12"), Some("")];
    for token in wrong {
        for path in READS {
            let (s, b) = call(&app, "GET", path, token, None).await;
            assert_code(s, &b, 401, "unauthorized", &format!("{path} {token:?}"));
        }
        for (method, path, body) in MUTATIONS {
            let (s, b) = call(&app, method, path, token, body).await;
            assert_code(s, &b, 401, "unauthorized", &format!("{method} {path} {token:?}"));
        }
    }
    assert_unchanged(&p, before, "wrong tokens");
}

#[actix_web::test]
async fn without_tokens_development_serves_reads_and_refuses_mutations() {
    let p = seeded(config(Profile::Development, None, None));
    let before = p.state.thresholds().thresholds();
    let app = app(&p).await;
    for path in READS {
        let (s, b) = call(&app, "GET", path, None, None).await;
        assert_eq!(s, 200, "{path}: {b}");
    }
    for (method, path, body) in MUTATIONS {
        let (s, b) = call(&app, method, path, Some("anything-at-all"), body).await;
        assert_code(s, &b, 403, "mutations_disabled", path);
    }
    assert_unchanged(&p, before, "development without tokens");
}

#[actix_web::test]
async fn without_tokens_production_refuses_the_api_and_metrics_naming_the_variables() {
    let p = seeded(config(Profile::Production, None, None));
    let before = p.state.thresholds().thresholds();
    let app = app(&p).await;
    let requests = READS.iter().map(|&path| ("GET", path, None)).chain(MUTATIONS);
    for (method, path, body) in requests {
        for token in [None, Some("some-token-1")] {
            let (s, b) = call(&app, method, path, token, body).await;
            let what = format!("{method} {path} {token:?}");
            assert_code(s, &b, 403, "token_not_configured", &what);
            let message = b["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("PERFORMANCE_API_TOKEN") && message.contains("PERFORMANCE_READ_TOKEN"),
                "{what}: {message}"
            );
        }
    }
    assert_unchanged(&p, before, "production without tokens");
    // The page itself is still served; its data calls get the message above.
    let (s, b) = call(&app, "GET", "/performance", None, None).await;
    assert_eq!(s, 200);
    assert!(b.as_str().unwrap().contains(r#"data-token-required="false""#), "{b}");
}

#[actix_web::test]
async fn the_dashboard_asks_for_a_token_when_either_is_configured() {
    for (api, read, expected) in [
        (None, None, "false"),
        (Some(ADMIN), None, "true"),
        (None, Some(READER), "true"),
        (Some(ADMIN), Some(READER), "true"),
    ] {
        let p = parts(config(Profile::Development, api, read));
        let app = app(&p).await;
        let (s, b) = call(&app, "GET", "/performance", None, None).await;
        assert_eq!(s, 200);
        let page = b.as_str().unwrap();
        assert!(page.contains(&format!(r#"data-token-required="{expected}""#)), "{api:?} {read:?}");
    }
}

/// The token is checked before anything else about the request: a refused
/// caller learns nothing from input errors and causes no work.
#[actix_web::test]
async fn refusals_come_before_any_input_check() {
    let p = seeded(config(Profile::Production, Some(ADMIN), Some(READER)));
    let before = p.state.thresholds().thresholds();
    let app = app(&p).await;
    for path in ["/api/performance/summary?minutes=0", "/api/performance/alerts?resolved=maybe", "/metrics?minutes=x"] {
        let (s, b) = call(&app, "GET", path, None, None).await;
        assert_code(s, &b, 401, "unauthorized", path);
        let (s, b) = call(&app, "GET", path, Some(READER), None).await;
        assert_eq!(s, 400, "{path} with the read token: {b}");
    }
    let bad = [
        ("PUT", "/api/performance/thresholds", Some(r#"{"slow_request_threshold": -1}"#)),
        ("POST", "/api/performance/alerts/not-a-number/resolve", None),
        ("POST", "/api/performance/cache/clear", Some(r#"{"pattern": "a b"}"#)),
    ];
    for (method, path, body) in bad {
        let (s, b) = call(&app, method, path, Some(READER), body).await;
        assert_code(s, &b, 403, "read_only_token", path);
        let (s, b) = call(&app, method, path, None, body).await;
        assert_code(s, &b, 401, "unauthorized", path);
        let (s, b) = call(&app, method, path, Some(ADMIN), body).await;
        assert_eq!(s, 400, "{method} {path} with the admin token: {b}");
    }
    assert_unchanged(&p, before, "refused or invalid requests");
}
