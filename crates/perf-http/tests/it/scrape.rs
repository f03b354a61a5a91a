//! A real Prometheus (Debian's `prometheus`, installed by
//! `scripts/ensure-test-tools.sh`) scraping a real server: the counts it
//! stores equal the requests the test sent, and every panel of the Grafana
//! dashboard in `dashboards/grafana/perfkit.json` answers with data; with
//! exemplar storage on, it keeps the trace id of a traced request as its
//! bucket's exemplar (through the OpenMetrics exposition it negotiates).

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use actix_web::{App, HttpResponse, web};
use perf_core::{Clock as _, ManualClock, MetricsSource as _, PerfConfig, Store};
use serde_json::Value;

use crate::fakes::{parts, record_adapter_samples, with_server};

const DASHBOARD: &str = include_str!("../../../../dashboards/grafana/perfkit.json");

/// How often Prometheus scrapes the server.
const SCRAPE_INTERVAL_SECS: u64 = 1;

/// A Prometheus server on a free port with its own storage, stopped and
/// removed on drop.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Prometheus {
    fn start(target: SocketAddr) -> Prometheus {
        Prometheus::start_with(target, "plain", &[])
    }

    /// A Prometheus with extra flags; `tag` keeps its storage apart from
    /// another one the same test process runs.
    fn start_with(target: SocketAddr, tag: &str, flags: &[&str]) -> Prometheus {
        let dir = std::env::temp_dir().join(format!("perf-http-prometheus-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: {SCRAPE_INTERVAL_SECS}s\n  evaluation_interval: {SCRAPE_INTERVAL_SECS}s\n\
                 scrape_configs:\n  - job_name: perfkit\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .unwrap();
        let addr = free_addr();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed by scripts/ensure-test-tools.sh (Debian package prometheus)");
        let prometheus = Prometheus { child, dir, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(addr, "/-/ready").map(|(status, _)| status) != Some(200) {
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        prometheus
    }

    /// An instant query's result vector.
    fn query(&self, expr: &str) -> Vec<Value> {
        let (status, body) = get(self.addr, &format!("/api/v1/query?query={}", encode(expr))).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((status, v["status"].as_str()), (200, Some("success")), "{expr}: {v}");
        v["data"]["result"].as_array().unwrap().clone()
    }

    /// The one value of a query that yields a single series (`None` before it does).
    fn scalar(&self, expr: &str) -> Option<f64> {
        let r = self.query(expr);
        r.first().map(|s| s["value"][1].as_str().unwrap().parse().unwrap())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// One HTTP/1.0 GET (so the body runs to the end of the connection): the
/// status and the body, or `None` when nothing listens yet.
fn get(addr: SocketAddr, uri: &str) -> Option<(u16, Vec<u8>)> {
    get_with(addr, uri, "")
}

/// [`get`] with extra header lines (each ending in `\r\n`).
fn get_with(addr: SocketAddr, uri: &str, headers: &str) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(addr).ok()?;
    write!(s, "GET {uri} HTTP/1.0\r\nHost: {addr}\r\n{headers}\r\n").ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let split = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status = std::str::from_utf8(&out[..split]).ok()?.split(' ').nth(1)?.parse().ok()?;
    Some((status, out[split + 4..].to_vec()))
}

/// Percent-encodes a query parameter value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn ok() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

async fn fail() -> HttpResponse {
    HttpResponse::ServiceUnavailable().finish()
}

/// Sends requests over several scrapes, then checks what Prometheus stored.
fn traffic_then_queries(app: SocketAddr, store: &Store, clock: &ManualClock) {
    let prometheus = Prometheus::start(app);
    let (mut sent, mut failed) = (0u64, 0u64);
    // Prometheus finds its targets a few seconds after start; traffic runs
    // until it has scraped the server several times (rates need two scrapes).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut scrapes = 0.0;
    while scrapes < 4.0 {
        assert!(Instant::now() < deadline, "Prometheus scraped {scrapes} times in 60 s");
        for _ in 0..5 {
            let uri = if sent % 5 == 4 { "/api/fail" } else { "/api/projects/1" };
            let (status, _) = get(app, uri).unwrap();
            sent += 1;
            failed += u64::from(status >= 500);
            record_adapter_samples(store, clock.now());
            std::thread::sleep(Duration::from_millis(40));
        }
        scrapes = prometheus.scalar("count_over_time(up[1m])").unwrap_or(0.0);
    }
    assert!(sent > 20 && failed > 0, "{sent} requests, {failed} failed");

    // Once a scrape after the last request is stored, Prometheus holds
    // exactly the requests sent (its own scrapes of /metrics are not counted).
    let deadline = Instant::now() + Duration::from_secs(30);
    while prometheus.scalar("sum(perfkit_http_requests_total)") != Some(sent as f64) {
        assert!(
            Instant::now() < deadline,
            "Prometheus never stored {sent} requests: {:?}",
            prometheus.scalar("sum(perfkit_http_requests_total)")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(prometheus.scalar(r#"sum(perfkit_http_requests_total{status=~"5.."})"#), Some(failed as f64));
    assert_eq!(prometheus.scalar(r#"sum(perfkit_http_requests_total{status="503"})"#), Some(failed as f64));
    assert_eq!(prometheus.scalar("sum(perfkit_http_request_duration_seconds_count)"), Some(sent as f64));
    assert_eq!(prometheus.scalar(r#"sum(perfkit_http_request_duration_seconds_bucket{le="+Inf"})"#), Some(sent as f64));

    let dashboard: Value = serde_json::from_str(DASHBOARD).unwrap();
    let mut panels = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let title = panel["title"].as_str().unwrap();
            // Grafana's $__rate_interval: a window holding several scrapes.
            let expr = target["expr"].as_str().unwrap().replace("$__rate_interval", "1m");
            let result = prometheus.query(&expr);
            assert!(!result.is_empty(), "{title}: {expr} returned no series");
            let values: Vec<f64> =
                result.iter().map(|s| s["value"][1].as_str().unwrap().parse::<f64>().unwrap()).collect();
            assert!(values.iter().any(|v| v.is_finite()), "{title}: {expr} returned only {values:?}");
            panels += 1;
        }
    }
    assert!(panels >= 12, "{panels} panel queries");
}

#[core::prelude::v1::test]
fn a_real_prometheus_stores_the_counts_sent_and_answers_every_dashboard_panel() {
    let p = parts(PerfConfig::default());
    let (state, store, clock) = (p.state.clone(), p.store.clone(), p.clock.clone());
    let app = move || {
        App::new()
            .wrap(state.monitor())
            .service(state.metrics())
            .route("/api/projects/{id}", web::get().to(ok))
            .route("/api/fail", web::get().to(fail))
    };
    with_server(1, app, move |addr| traffic_then_queries(addr, &store, &clock));
}

async fn slow() -> HttpResponse {
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    HttpResponse::Ok().body("slow")
}

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";

/// One traced request, then the exemplar Prometheus stores for its bucket.
fn traced_request_then_exemplar(app: SocketAddr, store: &Store, clock: &ManualClock) {
    // Exemplars are stored with the request's time: make it now.
    clock.set(perf_core::Timestamp::from(std::time::SystemTime::now()));
    let traceparent = format!("traceparent: 00-{TRACE_ID}-b7ad6b7169203331-01\r\n");
    let (status, _) = get_with(app, "/api/slow", &traceparent).unwrap();
    assert_eq!(status, 200);
    // The value the store kept for the trace: at least the handler's 300 ms.
    let totals = store.totals();
    let endpoint = totals.endpoints.iter().find(|e| e.route == "/api/slow").unwrap();
    let kept: Vec<_> = endpoint.statuses[0].exemplars.iter().flatten().collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].trace_id.to_string(), TRACE_ID);
    let value = kept[0].value;
    assert!((0.3..5.0).contains(&value), "{value}");

    let prometheus = Prometheus::start_with(app, "exemplars", &["--enable-feature=exemplar-storage"]);
    let series = r#"perfkit_http_request_duration_seconds_bucket{route="/api/slow"}"#;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let uri = format!("/api/v1/query_exemplars?query={}&start={}&end={}", encode(series), now - 600, now + 600);
    let deadline = Instant::now() + Duration::from_secs(60);
    let stored = loop {
        let (code, body) = get(prometheus.addr, &uri).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((code, v["status"].as_str()), (200, Some("success")), "{v}");
        let found: Vec<Value> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["exemplars"].as_array().unwrap().iter().map(move |e| (s, e)))
            .filter(|(_, e)| e["labels"]["trace_id"] == TRACE_ID)
            .map(|(s, e)| serde_json::json!({"series": s["seriesLabels"], "exemplar": e}))
            .collect();
        if !found.is_empty() {
            break found;
        }
        assert!(Instant::now() < deadline, "no exemplar with trace {TRACE_ID} stored: {v}");
        std::thread::sleep(Duration::from_millis(250));
    };
    // One exemplar, in the bucket the request fell in, with its value.
    assert_eq!(stored.len(), 1, "{stored:?}");
    let e = &stored[0];
    let stored_value: f64 = e["exemplar"]["value"].as_str().unwrap().parse().unwrap();
    assert_eq!(stored_value, value, "{e}");
    let le: f64 = match e["series"]["le"].as_str().unwrap() {
        "+Inf" => f64::INFINITY,
        le => le.parse().unwrap(),
    };
    assert!(value <= le, "{e}");
    assert_eq!(e["series"]["status"], "200", "{e}");
    let at = e["exemplar"]["timestamp"].as_f64().unwrap();
    assert!((at - clock.now().as_unix_secs_f64()).abs() < 0.001, "{e}");
    // Prometheus scraped OpenMetrics, and the scrape succeeded.
    assert_eq!(prometheus.scalar("up"), Some(1.0));
}

#[core::prelude::v1::test]
fn a_real_prometheus_stores_the_exemplar_of_a_traced_request() {
    let p = parts(PerfConfig::default());
    let (state, store, clock) = (p.state.clone(), p.store.clone(), p.clock.clone());
    let app = move || App::new().wrap(state.monitor()).service(state.metrics()).route("/api/slow", web::get().to(slow));
    with_server(1, app, move |addr| traced_request_then_exemplar(addr, &store, &clock));
}
