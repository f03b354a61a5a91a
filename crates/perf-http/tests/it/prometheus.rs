//! The Prometheus endpoint: content, escaping and `promtool check metrics`.

use std::{io::Write as _, process::Command, time::Duration};

use actix_web::{App, http::header, test};
use perf_core::{
    CacheEvent, CacheEventKind, CacheTier, Clock as _, Method, PerfConfig, QuerySample, Recorder as _, RequestSample,
    SystemSample,
};

use crate::fakes::{Parts, parts};

fn seed(p: &Parts) {
    let now = p.clock.now();
    let routes = [Some("/api/projects/{id}"), Some("/weird/\"quoted\"\\path"), None];
    for (i, route) in routes.iter().enumerate() {
        for (ms, status) in [(20, 200), (700, 200), (1_200, 500), (5, 404)] {
            let s = RequestSample::new(Method::ALL[i], *route, status, Duration::from_millis(ms + i as u64), now);
            p.store.record_request(&s);
        }
    }
    p.store.record_query(&QuerySample {
        fingerprint: "SELECT * FROM t WHERE a = ? AND b = '\\n'\nORDER BY \"c\"",
        sql: "SELECT * FROM t WHERE a = 1",
        duration: Duration::from_millis(150),
        ok: false,
        at: now,
        route: None,
        kind: perf_core::QueryKind::Read,
    });
    p.store.record_cache(&CacheEvent { kind: CacheEventKind::Hit, tier: CacheTier::Memory, at: now });
    p.store.record_cache(&CacheEvent { kind: CacheEventKind::Miss, tier: CacheTier::Redis, at: now });
    p.store.record_system(&SystemSample {
        at: now,
        rss_bytes: 150 * 1_048_576,
        cpu_percent: 12.5,
        memory_used_bytes: 8 << 30,
        memory_total_bytes: 16 << 30,
        disk_used_bytes: 100 << 30,
        disk_total_bytes: 500 << 30,
    });
}

async fn scrape(p: &Parts) -> (String, String) {
    let app = test::init_service(App::new().service(p.state.metrics())).await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(res.status(), 200);
    let ct = res.headers().get(header::CONTENT_TYPE).unwrap().to_str().unwrap().to_owned();
    let body = test::read_body(res).await;
    (ct, String::from_utf8(body.to_vec()).unwrap())
}

#[actix_web::test]
async fn exposition_lists_endpoints_queries_cache_and_system() {
    let p = parts(PerfConfig::default());
    seed(&p);
    let (ct, text) = scrape(&p).await;
    assert!(ct.starts_with("text/plain; version=0.0.4"));
    let ep = r#"method="GET",route="/api/projects/{id}""#;
    assert!(text.contains(&format!("perfkit_http_request_duration_seconds_count{{{ep}}} 4\n")), "{text}");
    // 5 ms and 20 ms are at or under 25 ms; 700 ms under 1 s; 1.2 s only under 2.5 s.
    assert!(text.contains(&format!("perfkit_http_request_duration_seconds_bucket{{{ep},le=\"0.025\"}} 2\n")));
    assert!(text.contains(&format!("perfkit_http_request_duration_seconds_bucket{{{ep},le=\"1\"}} 3\n")));
    assert!(text.contains(&format!("perfkit_http_request_duration_seconds_bucket{{{ep},le=\"+Inf\"}} 4\n")));
    assert!(text.contains(&format!("perfkit_http_requests_total{{{ep},outcome=\"server_error\"}} 1\n")));
    assert!(text.contains(&format!("perfkit_http_requests_total{{{ep},outcome=\"client_error\"}} 1\n")));
    assert!(text.contains(&format!("perfkit_http_slow_requests_total{{{ep}}} 1\n")));
    assert!(text.contains(&format!("perfkit_http_request_duration_window_seconds{{{ep},percentile=\"50\"}}")));
    assert!(text.contains(r#"route="/weird/\"quoted\"\\path""#), "label values are escaped");
    assert!(text.contains(r#"fingerprint="SELECT * FROM t WHERE a = ? AND b = '\\n'\nORDER BY \"c\"""#));
    assert!(text.contains("route=\"<unmatched>\""));
    assert!(text.contains("perfkit_db_queries_total{") && text.contains("outcome=\"error\"} 1\n"));
    assert!(text.contains("perfkit_db_query_duration_seconds_bucket{"));
    assert!(text.contains("perfkit_cache_operations{tier=\"memory\",kind=\"hit\"} 1\n"));
    assert!(text.contains("perfkit_cache_operations{tier=\"redis\",kind=\"miss\"} 1\n"));
    assert!(text.contains("perfkit_cache_hit_ratio 0.5\n"));
    assert!(text.contains(&format!("perfkit_process_resident_memory_bytes {}\n", 150 * 1_048_576)));
    assert!(text.contains("perfkit_process_cpu_ratio 0.125\n"));
    assert!(text.contains("perfkit_window_seconds 300\n"));
}

#[actix_web::test]
async fn metrics_validates_minutes() {
    let p = parts(PerfConfig::default());
    let app = test::init_service(App::new().service(p.state.metrics())).await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/metrics?minutes=0").to_request()).await;
    assert_eq!(res.status(), 400);
    let res = test::call_service(&app, test::TestRequest::get().uri("/metrics?minutes=60").to_request()).await;
    let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(body.contains("perfkit_window_seconds 3600\n"));
}

/// Runs `promtool check metrics` on `text`; fails with instructions when promtool is missing.
fn promtool_check(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => panic!("promtool is not installed ({e}); run scripts/ensure-test-tools.sh at the repository root"),
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool rejected the exposition:\n{report}\n---\n{text}");
    assert!(report.trim().is_empty(), "promtool lint findings:\n{report}\n---\n{text}");
}

#[actix_web::test]
async fn exposition_passes_promtool() {
    let p = parts(PerfConfig::default());
    seed(&p);
    let (_, text) = scrape(&p).await;
    promtool_check(&text);
}

#[actix_web::test]
async fn empty_exposition_passes_promtool() {
    let p = parts(PerfConfig::default());
    let (_, text) = scrape(&p).await;
    promtool_check(&text);
}
