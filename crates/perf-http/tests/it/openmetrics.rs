//! `/metrics` as OpenMetrics 1.0.0: content negotiation, exemplars on the
//! request-duration buckets, and a strict reading of the exposition.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use actix_web::{App, http::header, test};
use perf_core::{Clock as _, Method, PerfConfig, QuerySample, Recorder as _, RequestSample, TraceContext};

use crate::fakes::{Parts, parts};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// Requests with and without a trace, a query, so every family has samples.
fn seed(p: &Parts) {
    let now = p.clock.now();
    let trace = TraceContext::continue_from(format!("00-{TRACE}-00f067aa0ba902b7-01").as_bytes()).unwrap();
    for (ms, status, traced) in [(20, 200, true), (30, 200, false), (700, 200, false), (12_000, 500, true)] {
        let mut s = RequestSample::new(
            Method::Get,
            Some("/api/projects/{id}"),
            status,
            Duration::from_millis(ms),
            now,
            p.store.thresholds(),
        );
        s.trace = traced.then_some(trace);
        p.store.record_request(&s);
    }
    p.store.record_query(&QuerySample {
        fingerprint: "SELECT * FROM t WHERE a = ?",
        sql: "SELECT * FROM t WHERE a = 1",
        duration: Duration::from_millis(150),
        ok: true,
        at: now,
        scope: None,
        kind: perf_core::QueryKind::Read,
        slow: false,
        trace: None,
    });
}

async fn scrape(p: &Parts, accept: Option<&str>) -> (String, String) {
    let app = test::init_service(App::new().service(p.state.metrics())).await;
    let mut req = test::TestRequest::get().uri("/metrics");
    if let Some(a) = accept {
        req = req.insert_header((header::ACCEPT, a));
    }
    let res = test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), 200);
    let ct = res.headers().get(header::CONTENT_TYPE).unwrap().to_str().unwrap().to_owned();
    (ct, String::from_utf8(test::read_body(res).await.to_vec()).unwrap())
}

/// What Prometheus 2.42 sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[actix_web::test]
async fn an_openmetrics_scraper_gets_openmetrics_with_the_traced_requests_exemplars() {
    let p = parts(PerfConfig::default());
    seed(&p);
    let (ct, text) = scrape(&p, Some(PROMETHEUS_ACCEPT)).await;
    assert_eq!(ct, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert!(text.ends_with("\n# EOF\n"), "{text}");
    let families = strict_parse(&text);
    assert_eq!(families.get("perfkit_http_requests").map(String::as_str), Some("counter"));
    assert_eq!(families.get("perfkit_http_request_duration_seconds").map(String::as_str), Some("histogram"));
    assert_eq!(families.get("perfkit_db_query_info").map(String::as_str), Some("gauge"));
    assert!(text.contains("# TYPE perfkit_http_requests counter\n"));
    let ep = r#"method="GET",route="/api/projects/{id}""#;
    assert!(text.contains(&format!("perfkit_http_requests_total{{{ep},status=\"200\"}} 3\n")), "{text}");
    let at = p.clock.now().as_unix_secs_f64();
    // The traced 20 ms request is the 25 ms bucket's exemplar; the untraced
    // 30 ms one left the 50 ms bucket without one.
    assert!(
        text.contains(&format!(
            "perfkit_http_request_duration_seconds_bucket{{{ep},status=\"200\",le=\"0.025\"}} 1 # {{trace_id=\"{TRACE}\"}} 0.02 {at}\n"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("perfkit_http_request_duration_seconds_bucket{{{ep},status=\"200\",le=\"0.05\"}} 2\n"))
    );
    // 12 s is over every bound: the +Inf bucket's exemplar.
    assert!(text.contains(&format!(
        "perfkit_http_request_duration_seconds_bucket{{{ep},status=\"500\",le=\"+Inf\"}} 1 # {{trace_id=\"{TRACE}\"}} 12 {at}\n"
    )));
    assert_eq!(text.matches(" # {").count(), 2, "{text}");
}

#[actix_web::test]
async fn other_scrapers_get_the_text_format_unchanged() {
    let p = parts(PerfConfig::default());
    seed(&p);
    let expected = {
        let (_, text) = scrape(&p, Some("text/plain;version=0.0.4")).await;
        text
    };
    assert!(
        !expected.contains("# EOF")
            && !expected.contains(TRACE)
            && !expected.contains("# TYPE perfkit_http_requests counter")
    );
    assert!(expected.contains("# TYPE perfkit_http_requests_total counter\n"));
    for accept in [
        None,
        Some("*/*"),
        Some("text/plain"),
        Some("application/openmetrics-text;q=0, text/plain;q=0.1"),
        Some("application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.5"),
        Some("application/json"),
    ] {
        let (ct, text) = scrape(&p, accept).await;
        assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8", "{accept:?}");
        assert_eq!(text, expected, "{accept:?}");
    }
    for accept in [
        "application/openmetrics-text",
        "Application/OpenMetrics-Text; version=0.0.1",
        "text/plain;q=0.5, application/openmetrics-text;q=0.6",
    ] {
        let (ct, text) = scrape(&p, Some(accept)).await;
        assert!(ct.starts_with("application/openmetrics-text; version=1.0.0"), "{accept}");
        strict_parse(&text);
    }
}

#[actix_web::test]
async fn an_empty_store_is_valid_openmetrics() {
    let p = parts(PerfConfig::default());
    let (_, text) = scrape(&p, Some(PROMETHEUS_ACCEPT)).await;
    strict_parse(&text);
}

/// Reads `text` as OpenMetrics 1.0.0 strictly and returns its families'
/// types; panics on the first violation of the specification it checks:
/// line grammar, names, escapes, `# EOF` last, one declaration per family,
/// samples contiguous and named for their family's type, unique label sets,
/// counters non-negative, histograms cumulative with `+Inf` equal to
/// `_count`, exemplars only on buckets and counters, within their bucket,
/// their label set at most 128 characters.
pub(crate) fn strict_parse(text: &str) -> BTreeMap<String, String> {
    let body = text.strip_suffix("# EOF\n").unwrap_or_else(|| panic!("no final `# EOF`:\n{text}"));
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<(String, String)> = None;
    let mut seen_sets: BTreeSet<String> = BTreeSet::new();
    // Per histogram series (labels without `le`): (last le, last count, +Inf count).
    let mut hist: BTreeMap<String, (f64, f64, Option<f64>)> = BTreeMap::new();
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for line in body.split('\n') {
        if line.is_empty() {
            // Only the split after the last line break yields an empty piece.
            continue;
        }
        assert!(!line.contains('\r'), "carriage return in {line:?}");
        if let Some(rest) = line.strip_prefix("# ") {
            let (kw, rest) = rest.split_once(' ').unwrap_or_else(|| panic!("bad comment {line:?}"));
            let (name, arg) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(is_metric_name(name), "bad family name in {line:?}");
            match kw {
                "HELP" => {
                    assert!(helps.insert(name.to_owned()), "second HELP for {name}");
                    assert!(!arg.contains('"') || arg.contains("\\\""), "unescaped quote in {line:?}");
                }
                "TYPE" => {
                    let known =
                        ["counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset", "unknown"];
                    assert!(known.contains(&arg), "unknown type in {line:?}");
                    assert!(types.insert(name.to_owned(), arg.to_owned()).is_none(), "second TYPE for {name}");
                    if arg == "counter" {
                        assert!(!name.ends_with("_total"), "counter family named with _total: {line:?}");
                    }
                    current = Some((name.to_owned(), arg.to_owned()));
                }
                "UNIT" => {}
                _ => panic!("unknown comment {line:?}"),
            }
            continue;
        }
        assert!(!line.starts_with('#'), "bad comment {line:?}");
        let (sample, exemplar) = match line.split_once(" # ") {
            Some((s, e)) => (s, Some(e)),
            None => (line, None),
        };
        let (name, labels, value) = parse_sample(sample);
        let (family, kind) = current.clone().unwrap_or_else(|| panic!("sample before any TYPE: {line:?}"));
        let suffix = name.strip_prefix(family.as_str()).unwrap_or_else(|| panic!("{name} outside family {family}"));
        let allowed: &[&str] = match kind.as_str() {
            "counter" => &["_total", "_created"],
            "gauge" | "unknown" | "stateset" => &[""],
            "info" => &["_info"],
            "histogram" => &["_bucket", "_count", "_sum", "_created"],
            _ => &["", "_count", "_sum", "_bucket", "_gcount", "_gsum", "_created"],
        };
        assert!(allowed.contains(&suffix), "sample {name} in {kind} family {family}");
        assert!(value.is_finite() || kind == "gauge" || suffix == "_sum", "bad value in {line:?}");
        let set = format!("{name}{labels:?}");
        assert!(seen_sets.insert(set), "duplicate series {line:?}");
        if kind == "counter" || suffix == "_count" || suffix == "_bucket" {
            assert!(value >= 0.0, "negative count in {line:?}");
        }
        let mut series = labels.clone();
        let le = series.remove("le");
        let key = format!("{family}{series:?}");
        let mut bucket_range = None;
        if suffix == "_bucket" {
            let le = le.unwrap_or_else(|| panic!("bucket without le: {line:?}"));
            let bound: f64 =
                if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap_or_else(|_| panic!("bad le {line:?}")) };
            let entry = hist.entry(key.clone()).or_insert((f64::NEG_INFINITY, 0.0, None));
            assert!(entry.2.is_none(), "bucket after +Inf: {line:?}");
            assert!(bound > entry.0, "le not increasing: {line:?}");
            assert!(value >= entry.1, "buckets not cumulative: {line:?}");
            bucket_range = Some((entry.0, bound));
            *entry = (bound, value, bound.is_infinite().then_some(value));
        } else if suffix == "_count" && kind == "histogram" {
            counts.insert(key, value);
        }
        if let Some(e) = exemplar {
            assert!(suffix == "_bucket" || suffix == "_total", "exemplar on {name}: {line:?}");
            let (labels_text, rest) = e.split_once("} ").unwrap_or_else(|| panic!("bad exemplar {line:?}"));
            assert!(labels_text.starts_with('{') && labels_text.len() - 1 <= 128, "exemplar labels in {line:?}");
            let (_, ex_labels, ex_value) =
                parse_sample(&format!("x{labels_text}}} {}", rest.split(' ').next().unwrap()));
            assert!(!ex_labels.is_empty(), "exemplar without labels: {line:?}");
            let parts: Vec<&str> = rest.split(' ').collect();
            assert!(parts.len() <= 2, "exemplar with extra fields: {line:?}");
            if let Some(ts) = parts.get(1) {
                assert!(ts.parse::<f64>().is_ok_and(f64::is_finite), "bad exemplar timestamp {line:?}");
            }
            if let Some((lo, hi)) = bucket_range {
                assert!(ex_value > lo && ex_value <= hi, "exemplar {ex_value} outside ({lo}, {hi}]: {line:?}");
            }
        }
    }
    for (key, (_, _, inf)) in &hist {
        let inf = inf.unwrap_or_else(|| panic!("no +Inf bucket for {key}"));
        assert_eq!(counts.get(key), Some(&inf), "+Inf bucket and _count differ for {key}");
    }
    types
}

fn is_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `name{labels} value` with OpenMetrics escapes (`\\`, `\"`, `\n` only).
fn parse_sample(s: &str) -> (String, BTreeMap<String, String>, f64) {
    let name_end = s.find(['{', ' ']).unwrap_or_else(|| panic!("no value in {s:?}"));
    let name = &s[..name_end];
    assert!(is_metric_name(name), "bad metric name in {s:?}");
    let mut chars = s[name_end..].chars().peekable();
    let mut labels = BTreeMap::new();
    if chars.peek() == Some(&'{') {
        chars.next();
        loop {
            let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
            assert!(is_label_name(&key), "bad label name {key:?} in {s:?}");
            assert_eq!(chars.next(), Some('"'), "unquoted label value in {s:?}");
            let mut v = String::new();
            loop {
                match chars.next().unwrap_or_else(|| panic!("unclosed label value in {s:?}")) {
                    '\\' => v.push(match chars.next() {
                        Some('n') => '\n',
                        Some('\\') => '\\',
                        Some('"') => '"',
                        e => panic!("bad escape {e:?} in {s:?}"),
                    }),
                    '\n' => panic!("raw line feed in {s:?}"),
                    '"' => break,
                    c => v.push(c),
                }
            }
            assert!(labels.insert(key.clone(), v).is_none(), "label {key} twice in {s:?}");
            match chars.next() {
                Some(',') => {}
                Some('}') => break,
                c => panic!("bad label separator {c:?} in {s:?}"),
            }
        }
    }
    assert_eq!(chars.next(), Some(' '), "no space before the value in {s:?}");
    let value: String = chars.collect();
    assert!(!value.contains(' '), "sample timestamps are not written: {s:?}");
    let v = match value.as_str() {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().unwrap_or_else(|_| panic!("bad value in {s:?}")),
    };
    (name.to_owned(), labels, v)
}

#[actix_web::test]
#[should_panic(expected = "counter family named with _total")]
async fn the_strict_reader_rejects_the_text_format_as_openmetrics() {
    let p = parts(PerfConfig::default());
    seed(&p);
    let (_, text) = scrape(&p, None).await;
    strict_parse(&format!("{text}# EOF\n"));
}
