//! The Grafana dashboard in `dashboards/grafana/perfkit.json` against real
//! `/metrics` output after traffic: every metric its PromQL names exists,
//! every label it matches, groups or shows exists on those metrics, and
//! every `=` or `=~` matcher selects at least one series.

use actix_web::{App, HttpResponse, test, web};
use perf_core::{Clock as _, PerfConfig};
use serde_json::Value;

use crate::{
    expo::{self, Sample},
    fakes::{parts, record_adapter_samples},
};

const DASHBOARD: &str = include_str!("../../../../dashboards/grafana/perfkit.json");

/// Labels Prometheus adds at scrape time.
const SCRAPE_LABELS: [&str; 2] = ["instance", "job"];

#[derive(Debug)]
struct Matcher {
    metric: String,
    label: String,
    op: String,
    value: String,
}

/// The metrics, matchers and grouping labels of one PromQL expression.
#[derive(Debug, Default)]
struct Refs {
    metrics: Vec<String>,
    matchers: Vec<Matcher>,
    grouping: Vec<String>,
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn refs(expr: &str) -> Refs {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Refs::default();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '"' {
            // Skip string literals (quantiles have none, but matchers do).
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += 1;
            }
            i += 1;
            continue;
        }
        if !(chars[i].is_ascii_alphabetic() || chars[i] == '_') || (i > 0 && is_ident(chars[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_ident(chars[i]) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let mut j = i;
        while j < chars.len() && chars[j] == ' ' {
            j += 1;
        }
        if ["by", "on", "without", "group_left", "group_right", "ignoring"].contains(&word.as_str())
            && chars.get(j) == Some(&'(')
        {
            let end = j + chars[j..].iter().position(|&c| c == ')').unwrap();
            let list: String = chars[j + 1..end].iter().collect();
            out.grouping.extend(list.split(',').map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()));
            i = end + 1;
        } else if word.starts_with("perfkit_") {
            out.metrics.push(word.clone());
            if chars.get(i) == Some(&'{') {
                let end = i + chars[i..].iter().position(|&c| c == '}').unwrap();
                let body: String = chars[i + 1..end].iter().collect();
                for m in body.split(',').filter(|m| !m.trim().is_empty()) {
                    let op_at = m.find(['=', '!']).unwrap();
                    let op_len = if m[op_at + 1..].starts_with(['=', '~']) { 2 } else { 1 };
                    out.matchers.push(Matcher {
                        metric: word.clone(),
                        label: m[..op_at].trim().to_owned(),
                        op: m[op_at..op_at + op_len].to_owned(),
                        value: m[op_at + op_len..].trim().trim_matches('"').to_owned(),
                    });
                }
                i = end + 1;
            }
        }
    }
    out
}

/// A full match of `pattern`, which may use only `|` alternatives and `.` wildcards.
fn regex_matches(pattern: &str, value: &str) -> bool {
    assert!(!pattern.contains(['*', '+', '[', '(', '?', '\\']), "extend regex_matches for {pattern:?}");
    pattern.split('|').any(|alt| {
        alt.chars().count() == value.chars().count() && alt.chars().zip(value.chars()).all(|(p, v)| p == '.' || p == v)
    })
}

async fn ok() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

async fn fail() -> HttpResponse {
    HttpResponse::ServiceUnavailable().finish()
}

/// `/metrics` after requests through the monitor plus queries, cache
/// operations, an N+1 finding and a system reading.
async fn exposition_after_traffic() -> String {
    let p = parts(PerfConfig::default());
    let app = test::init_service(
        App::new()
            .wrap(p.state.monitor())
            .service(p.state.metrics())
            .route("/api/projects/{id}", web::get().to(ok))
            .route("/api/fail", web::get().to(fail)),
    )
    .await;
    for uri in ["/api/projects/1", "/api/projects/2", "/api/fail"] {
        let res = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        let _ = test::read_body(res).await;
    }
    record_adapter_samples(&p.store, p.clock.now());
    let res = test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
    String::from_utf8(test::read_body(res).await.to_vec()).unwrap()
}

fn targets(dashboard: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            out.push((
                panel["title"].as_str().unwrap().to_owned(),
                t["expr"].as_str().unwrap().to_owned(),
                t["legendFormat"].as_str().unwrap_or("").to_owned(),
            ));
        }
    }
    out
}

fn labels_of<'a>(samples: &'a [Sample], metric: &str) -> Vec<&'a str> {
    samples.iter().filter(|s| s.name == metric).flat_map(|s| s.labels.keys().map(String::as_str)).collect()
}

#[actix_web::test]
async fn every_metric_and_label_the_dashboard_queries_exists() {
    let dashboard: Value = serde_json::from_str(DASHBOARD).unwrap();
    let text = exposition_after_traffic().await;
    let samples = expo::parse(&text);
    let targets = targets(&dashboard);
    assert!(targets.len() >= 12, "{targets:?}");
    for (title, expr, legend) in &targets {
        let r = refs(expr);
        assert!(!r.metrics.is_empty(), "{title}: no perfkit metric in {expr}");
        for m in &r.metrics {
            assert!(samples.iter().any(|s| &s.name == m), "{title}: {m} is not in /metrics:\n{text}");
        }
        for m in &r.matchers {
            let of_metric: Vec<&Sample> = samples.iter().filter(|s| s.name == m.metric).collect();
            assert!(
                of_metric.iter().any(|s| s.label(&m.label).is_some()),
                "{title}: {} has no label {}",
                m.metric,
                m.label
            );
            let hits = of_metric
                .iter()
                .filter_map(|s| s.label(&m.label))
                .filter(|v| match m.op.as_str() {
                    "=" => *v == m.value,
                    "=~" => regex_matches(&m.value, v),
                    "!=" => *v != m.value,
                    _ => !regex_matches(&m.value, v),
                })
                .count();
            assert!(hits > 0, "{title}: {}{{{}{}\"{}\"}} selects nothing", m.metric, m.label, m.op, m.value);
        }
        let available: Vec<&str> = r.metrics.iter().flat_map(|m| labels_of(&samples, m)).collect();
        for l in &r.grouping {
            assert!(available.contains(&l.as_str()), "{title}: no metric of {expr} has label {l}");
        }
        for part in legend.split("{{").skip(1) {
            let l = part.split("}}").next().unwrap().trim();
            assert!(
                SCRAPE_LABELS.contains(&l)
                    || r.grouping.iter().any(|g| g == l)
                    || (r.grouping.is_empty() && available.contains(&l)),
                "{title}: the legend shows {l}, which the expression does not keep"
            );
        }
    }
}

#[actix_web::test]
async fn the_expression_reader_finds_metrics_matchers_and_groups() {
    let r = refs(
        r#"sum by (route) (rate(perfkit_http_requests_total{status=~"5..",method="GET"}[5m])) * on (query_id) group_left (fingerprint) perfkit_db_query_info"#,
    );
    assert_eq!(r.metrics, ["perfkit_http_requests_total", "perfkit_db_query_info"]);
    let m: Vec<_> = r.matchers.iter().map(|m| (m.label.as_str(), m.op.as_str(), m.value.as_str())).collect();
    assert_eq!(m, [("status", "=~", "5.."), ("method", "=", "GET")]);
    assert_eq!(r.grouping, ["route", "query_id", "fingerprint"]);
    assert!(regex_matches("5..", "503") && !regex_matches("5..", "5xx0") && regex_matches("hit|miss", "miss"));
    assert!(!regex_matches("5..", "200"));
}
