//! The two tokens on the real binary in the production profile: a
//! Prometheus-style scrape of `/metrics` with `PERFORMANCE_READ_TOKEN`, the
//! same token refused on a mutation, and no token at all refusing everything.

use crate::server::Server;

const ADMIN: &str = "landscape-admin-token";
const READER: &str = "landscape-read-token";

/// The value of `perfkit_http_requests_total` for one endpoint and status.
fn requests_total(exposition: &str, method: &str, route: &str, status: &str) -> Option<f64> {
    let labels = [format!("method=\"{method}\""), format!("route=\"{route}\""), format!("status=\"{status}\"")];
    exposition
        .lines()
        .filter(|l| l.starts_with("perfkit_http_requests_total{"))
        .find(|l| labels.iter().all(|want| l.contains(want.as_str())))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn the_read_token_scrapes_metrics_and_cannot_mutate() {
    let s = Server::start(
        "access-read-token",
        &[("PERFORMANCE_PROFILE", "production"), ("PERFORMANCE_API_TOKEN", ADMIN), ("PERFORMANCE_READ_TOKEN", READER)],
    );
    let sent = 3;
    for _ in 0..sent {
        assert_eq!(s.get("/api/plants").status, 200);
    }
    let read = format!("Bearer {READER}");
    let admin = format!("Bearer {ADMIN}");
    let scrape = s.get_with("/metrics", &[("Authorization", read.as_str())]);
    assert_eq!(scrape.status, 200, "{}", scrape.body);
    assert_eq!(requests_total(&scrape.body, "GET", "/api/plants", "200"), Some(f64::from(sent)), "{}", scrape.body);
    assert_eq!(s.get("/metrics").status, 401);

    let before = s.get_with("/api/performance/thresholds", &[("Authorization", read.as_str())]);
    assert_eq!(before.status, 200, "{}", before.body);
    let put = s.send_with(
        "PUT",
        "/api/performance/thresholds",
        Some(r#"{"slow_request_threshold": 7}"#),
        &[("Authorization", read.as_str()), ("Content-Type", "application/json")],
    );
    assert_eq!(put.status, 403, "{}", put.body);
    assert_eq!(put.json()["error"]["code"], "read_only_token");
    let after = s.get_with("/api/performance/thresholds", &[("Authorization", admin.as_str())]);
    assert_eq!(after.json(), before.json(), "a refused mutation changed the thresholds");
    assert_eq!(after.json()["slow_request_threshold"], 0.5, "the production threshold");
}

#[test]
fn production_without_a_token_refuses_the_api_and_metrics() {
    let s = Server::start("access-no-token", &[("PERFORMANCE_PROFILE", "production")]);
    for path in ["/metrics", "/api/performance/summary", "/api/performance/thresholds"] {
        let res = s.get(path);
        assert_eq!(res.status, 403, "{path}: {}", res.body);
        let body = res.json();
        assert_eq!(body["error"]["code"], "token_not_configured", "{path}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("PERFORMANCE_API_TOKEN") && message.contains("PERFORMANCE_READ_TOKEN"), "{message}");
    }
    // The service itself keeps answering.
    assert_eq!(s.get("/api/plants").status, 200);
}
