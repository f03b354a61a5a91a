//! The Prometheus endpoint: content, escaping and `promtool check metrics`.

use std::{collections::BTreeSet, io::Write as _, process::Command, sync::Arc, time::Duration};

use actix_web::{App, http::header, test};
use perf_core::{
    CacheEvent, CacheEventKind, CacheTier, Clock as _, Method, PerfConfig, QuerySample, Recorder as _, RequestSample,
    SystemSample,
};

use crate::{
    expo,
    fakes::{Parts, parts},
};

fn seed(p: &Parts) {
    let now = p.clock.now();
    let routes = [Some("/api/projects/{id}"), Some("/weird/\"quoted\"\\path"), None];
    for (i, route) in routes.iter().enumerate() {
        for (ms, status) in [(20, 200), (700, 200), (1_200, 500), (5, 404)] {
            let s = RequestSample::new(
                Method::ALL[i],
                *route,
                status,
                Duration::from_millis(ms + i as u64),
                now,
                p.store.thresholds(),
            );
            p.store.record_request(&s);
        }
    }
    p.store.record_query(&QuerySample {
        fingerprint: "SELECT * FROM t WHERE a = ? AND b = '\\n'\nORDER BY \"c\"",
        sql: "SELECT * FROM t WHERE a = 1",
        duration: Duration::from_millis(150),
        ok: false,
        at: now,
        scope: None,
        kind: perf_core::QueryKind::Read,
        slow: p.store.thresholds().query_is_slow(Duration::from_millis(150)),
        trace: None,
    });
    p.store.record_cache(&CacheEvent { kind: CacheEventKind::Hit, tier: CacheTier::Memory, at: now });
    p.store.record_cache(&CacheEvent { kind: CacheEventKind::Miss, tier: CacheTier::Remote, at: now });
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
    let ok = format!(r#"{ep},status="200""#);
    assert!(text.contains(&format!("perfkit_http_request_duration_seconds_count{{{ok}}} 2\n")), "{text}");
    // Of the 200s, 20 ms is at or under 25 ms and 700 ms under 1 s.
    assert!(text.contains(&format!("perfkit_http_request_duration_seconds_bucket{{{ok},le=\"0.025\"}} 1\n")));
    assert!(text.contains(&format!("perfkit_http_request_duration_seconds_bucket{{{ok},le=\"1\"}} 2\n")));
    assert!(text.contains(&format!("perfkit_http_request_duration_seconds_bucket{{{ok},le=\"+Inf\"}} 2\n")));
    assert!(text.contains(&format!("perfkit_http_request_duration_seconds_count{{{ep},status=\"500\"}} 1\n")));
    assert!(text.contains(&format!("perfkit_http_requests_total{{{ep},status=\"500\"}} 1\n")));
    assert!(text.contains(&format!("perfkit_http_requests_total{{{ep},status=\"404\"}} 1\n")));
    assert!(text.contains(&format!("perfkit_http_slow_requests_total{{{ep}}} 1\n")));
    assert!(text.contains(&format!("perfkit_http_request_duration_window_seconds{{{ep},percentile=\"50\"}}")));
    assert!(text.contains(r#"route="/weird/\"quoted\"\\path""#), "label values are escaped");
    let fingerprint = "SELECT * FROM t WHERE a = ? AND b = '\\n'\nORDER BY \"c\"";
    let id = perf_core::query_id(fingerprint);
    assert!(text.contains(&format!(
        r#"perfkit_db_query_info{{query_id="{id}",fingerprint="SELECT * FROM t WHERE a = ? AND b = '\\n'\nORDER BY \"c\""}} 1"#
    )));
    assert!(text.contains("route=\"<unmatched>\""));
    assert!(text.contains(&format!(
        "perfkit_db_queries_total{{query_id=\"{id}\",scope=\"background\",outcome=\"error\"}} 1\n"
    )));
    assert!(text.contains(&format!("perfkit_db_query_duration_seconds_bucket{{query_id=\"{id}\"")));
    let samples = expo::parse(&text);
    assert!(samples.iter().filter(|s| s.label("fingerprint").is_some()).all(|s| s.name == "perfkit_db_query_info"));
    assert!(text.contains("perfkit_cache_operations_total{tier=\"memory\",op=\"hit\"} 1\n"));
    assert!(text.contains("perfkit_cache_operations_total{tier=\"redis\",op=\"miss\"} 1\n"));
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

#[actix_web::test]
async fn status_label_lets_a_5xx_selector_count_server_errors() {
    let p = parts(PerfConfig::default());
    seed(&p);
    let (_, text) = scrape(&p).await;
    let samples = expo::parse(&text);
    let total = |pred: &dyn Fn(&str) -> bool| -> f64 {
        expo::find(&samples, "perfkit_http_requests_total", &[])
            .iter()
            .filter(|s| pred(s.label("status").unwrap()))
            .map(|s| s.value)
            .sum()
    };
    // seed: three endpoints, each with two 200s, one 500 and one 404.
    assert_eq!(total(&|st| st.starts_with('5') && st.len() == 3), 3.0);
    assert_eq!(total(&|_| true), 12.0);
    assert!(expo::find(&samples, "perfkit_http_requests_total", &[]).iter().all(|s| s.label("outcome").is_none()));
}

#[actix_web::test]
async fn sub_millisecond_p95_lands_in_the_first_bucket() {
    let p = parts(PerfConfig::default());
    let now = p.clock.now();
    for _ in 0..40 {
        crate::fakes::record_get(&p.store, "/fast", 200, Duration::from_micros(95), now);
    }
    let (_, text) = scrape(&p).await;
    let samples = expo::parse(&text);
    let labels = [("route", "/fast"), ("status", "200")];
    let buckets = expo::find(&samples, "perfkit_http_request_duration_seconds_bucket", &labels);
    assert_eq!(buckets.len(), perf_core::DEFAULT_HISTOGRAM_BUCKETS.len() + 1);
    let le = |b: &str| expo::value(&samples, "perfkit_http_request_duration_seconds_bucket", &[labels[0], ("le", b)]);
    assert_eq!((le("0.0001"), le("0.00025"), le("0.001"), le("+Inf")), (40.0, 40.0, 40.0, 40.0));
    let p95 = expo::histogram_quantile(0.95, &buckets);
    assert!(p95 > 0.0 && p95 <= 0.0001, "p95 {p95}");
}

#[actix_web::test]
async fn configured_buckets_are_the_le_labels() {
    let config = PerfConfig::builder()
        .histogram_buckets([Duration::from_micros(50), Duration::from_millis(2), Duration::from_secs(30)])
        .build()
        .unwrap();
    let p = parts(config);
    seed(&p);
    let (_, text) = scrape(&p).await;
    let samples = expo::parse(&text);
    for family in ["perfkit_http_request_duration_seconds_bucket", "perfkit_db_query_duration_seconds_bucket"] {
        let les: BTreeSet<&str> = expo::find(&samples, family, &[]).iter().map(|s| s.label("le").unwrap()).collect();
        assert_eq!(les, BTreeSet::from(["+Inf", "0.00005", "0.002", "30"]), "{family}");
    }
    promtool_check(&text);
}

/// Whether a sample is a value since start (counter, bucket, sum, count).
fn is_since_start(name: &str) -> bool {
    ["_total", "_bucket", "_sum", "_count"].iter().any(|s| name.ends_with(s))
}

#[actix_web::test]
async fn counters_never_decrease_as_the_window_slides() {
    let p = parts(PerfConfig::default());
    seed(&p);
    p.store.record_n_plus_one(&perf_core::NPlusOneSample {
        scope: "GET /api/projects/{id}",
        fingerprint: "SELECT ?",
        count: 9,
        total_time: Duration::from_millis(3),
        at: p.clock.now(),
        trace: None,
    });
    let (_, first) = scrape(&p).await;
    let before = expo::parse(&first);
    assert_eq!(expo::value(&before, "perfkit_db_n_plus_one_total", &[("route", "GET /api/projects/{id}")]), 1.0);
    // Two hours on, every window is empty; only a cache miss happened.
    p.clock.advance(Duration::from_secs(2 * 3600));
    p.store.record_cache(&CacheEvent { kind: CacheEventKind::Miss, tier: CacheTier::Memory, at: p.clock.now() });
    let (_, second) = scrape(&p).await;
    let after = expo::parse(&second);
    let mut checked = 0;
    for b in before.iter().filter(|s| is_since_start(&s.name)) {
        let a = after.iter().find(|a| a.name == b.name && a.labels == b.labels);
        let a = a.unwrap_or_else(|| panic!("{} {:?} vanished", b.name, b.labels));
        assert!(a.value >= b.value, "{} {:?} fell from {} to {}", b.name, b.labels, b.value, a.value);
        checked += 1;
    }
    assert!(checked > 100, "only {checked} samples compared");
    let misses = [("tier", "memory"), ("op", "miss")];
    assert_eq!(expo::value(&after, "perfkit_cache_operations_total", &misses), 1.0);
    assert!(expo::find(&after, "perfkit_http_request_duration_window_seconds", &[]).is_empty());
    promtool_check(&second);
}

#[actix_web::test]
async fn unconfigured_parts_have_no_series() {
    // No cache, no Redis, no system sampler.
    let clock = Arc::new(perf_core::ManualClock::new(perf_core::Timestamp::from_unix_secs(1_700_000_000)));
    let store = Arc::new(
        perf_core::Store::new(
            perf_core::StoreConfig::default(),
            clock.clone(),
            Arc::new(perf_core::SharedThresholds::default()),
        )
        .unwrap(),
    );
    let state = perf_http::PerfState::builder(PerfConfig::default()).store(store.clone()).build().unwrap();
    crate::fakes::record_get(&store, "/a", 200, Duration::from_millis(3), clock.now());
    let app = test::init_service(App::new().service(state.metrics())).await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
    let text = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(!text.contains("perfkit_cache_"), "{text}");
    assert!(!text.contains("perfkit_process_") && !text.contains("perfkit_system_"), "{text}");
    assert!(text.contains("perfkit_http_requests_total{method=\"GET\",route=\"/a\",status=\"200\"} 1\n"));
    promtool_check(&text);

    // A memory-only cache: memory series, no Redis series.
    let p = parts(PerfConfig::default());
    p.store.record_cache(&CacheEvent { kind: CacheEventKind::Hit, tier: CacheTier::Memory, at: p.clock.now() });
    let (_, text) = scrape(&p).await;
    assert!(text.contains("perfkit_cache_operations_total{tier=\"memory\",op=\"hit\"} 1\n"), "{text}");
    assert!(!text.contains("redis"), "{text}");
}

#[actix_web::test]
async fn long_fingerprints_are_cut_at_a_char_boundary_in_the_info_series() {
    let p = parts(PerfConfig::default());
    let fingerprint = format!("SELECT '{}'", "é".repeat(400));
    p.store.record_query(&QuerySample {
        fingerprint: &fingerprint,
        sql: &fingerprint,
        duration: Duration::from_millis(1),
        ok: true,
        at: p.clock.now(),
        scope: Some("GET /a"),
        kind: perf_core::QueryKind::Read,
        slow: p.store.thresholds().query_is_slow(Duration::from_millis(1)),
        trace: None,
    });
    let (_, text) = scrape(&p).await;
    let samples = expo::parse(&text);
    let info = expo::find(&samples, "perfkit_db_query_info", &[]);
    assert_eq!(info.len(), 1);
    let id = info[0].label("query_id").unwrap();
    assert_eq!(id, perf_core::query_id(&fingerprint));
    assert!(id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()));
    let shown = info[0].label("fingerprint").unwrap();
    assert!(shown.len() <= perf_http::MAX_FINGERPRINT_LABEL_BYTES && shown.len() > 500, "{}", shown.len());
    assert!(fingerprint.starts_with(shown));
    assert_eq!(expo::value(&samples, "perfkit_db_queries_total", &[("query_id", id), ("outcome", "success")]), 1.0);
}
