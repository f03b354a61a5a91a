//! The dashboard in a real browser: headless Chromium loads `/performance`,
//! runs its script against the live API and dumps the DOM. After real
//! traffic the tables and charts must hold what the API returns; before any
//! traffic the page must say "no data yet" (and "not sampled" without a
//! system sampler) instead of showing 0.00 ms or 100/100; and an alert
//! that fires again after being resolved is shown as re-opened.
//!
//! Needs Debian's `chromium` (`scripts/ensure-test-tools.sh` installs it);
//! `CHROMIUM` overrides the binary.

use std::{
    collections::{BTreeSet, HashMap},
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::server::{Server, fresh_dir};

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("chromium not found: run scripts/ensure-test-tools.sh (installs Debian's chromium) or set CHROMIUM");
}

/// Loads `url` in headless Chromium and returns the DOM after the page's
/// script ran (virtual time lets its fetches finish without real waiting).
fn dump_dom(url: &str) -> String {
    let profile = fresh_dir("chromium-profile");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--virtual-time-budget=8000", "--dump-dom", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Drain stdout on a thread so a large DOM never blocks the browser on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut dom = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut dom).map(|_| dom)
    });
    // A hung browser fails the test instead of hanging it.
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 180 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = reader.join().unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    assert!(status.success(), "chromium failed: {status:?}");
    dom
}

/// The attributes of every `<tag ...>` start tag in `html` (entities decoded).
fn start_tags(html: &str, tag: &str) -> Vec<HashMap<String, String>> {
    let open = format!("<{tag} ");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&open) {
        rest = &rest[at + open.len()..];
        let end = rest.find('>').unwrap();
        out.push(attributes(&rest[..end]));
        rest = &rest[end..];
    }
    out
}

fn attributes(mut s: &str) -> HashMap<String, String> {
    let mut attrs = HashMap::new();
    loop {
        s = s.trim_start();
        let Some(eq) = s.find("=\"") else { break };
        let name = s[..eq].trim().to_owned();
        let after = &s[eq + 2..];
        let close = after.find('"').unwrap();
        attrs.insert(name, unescape(&after[..close]));
        s = &after[close + 1..];
    }
    attrs
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// The HTML of the element whose start tag has `id="{id}"`, up to `</{tag}>`.
fn element<'a>(dom: &'a str, tag: &str, id: &str) -> &'a str {
    let start = dom.find(&format!("<{tag} id=\"{id}\"")).unwrap_or_else(|| panic!("no <{tag} id={id}> in the DOM"));
    let len = dom[start..].find(&format!("</{tag}>")).unwrap();
    &dom[start..start + len]
}

fn attr_of(dom: &str, tag: &str, id: &str) -> HashMap<String, String> {
    let el = element(dom, tag, id);
    attributes(&el[tag.len() + 1..el.find('>').unwrap()])
}

/// The text inside the element with `id` (which holds no other elements).
fn text_of(dom: &str, tag: &str, id: &str) -> String {
    let el = element(dom, tag, id);
    unescape(&el[el.find('>').unwrap() + 1..])
}

fn f(v: &str) -> f64 {
    v.parse().unwrap_or_else(|_| panic!("not a number: {v:?}"))
}

fn api(s: &Server, path: &str) -> Value {
    let res = s.get(path);
    assert_eq!(res.status, 200, "{path}: {}", res.body);
    res.json()
}

#[test]
fn dashboard_in_chromium_shows_each_captured_plan_and_trace_beside_its_query() {
    // Every query and request is slow at a 1 µs threshold, so the search is
    // explained and kept with the caller's trace.
    let s = Server::start(
        "chromium-plans",
        &[
            ("SLOW_QUERY_THRESHOLD", "0.000001"),
            ("SLOW_REQUEST_THRESHOLD", "0.000001"),
            ("MEMORY_MONITORING_ENABLED", "false"),
        ],
    );
    let traceparent = ("traceparent", "00-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174-01");
    assert_eq!(s.send_with("GET", "/api/plants?search=ivy&page=1", None, &[traceparent]).status, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    let queries = loop {
        let queries = api(&s, "/api/performance/queries?minutes=5");
        if queries["top_queries"].as_array().unwrap().iter().any(|q| !q["plan"].is_null()) {
            break queries;
        }
        assert!(Instant::now() < deadline, "no plan was captured: {queries}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = dump_dom(&format!("http://{}/performance", s.addr));
    // Loading the page sent no monitored query, so the API and the page agree.
    let again = api(&s, "/api/performance/queries?minutes=5");
    assert_eq!(again["top_queries"].as_array().map(Vec::len), queries["top_queries"].as_array().map(Vec::len));
    // "not captured" exactly where the API has no plan, and the search's
    // full scan of the plants named in words.
    let rows = start_tags(element(&dom, "table", "top-queries-table"), "tr");
    let shown: Vec<(String, bool)> =
        rows.iter().map(|r| (r["data-fingerprint"].clone(), r["data-plan"] != "not captured")).collect();
    let expected: Vec<(String, bool)> = again["top_queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["fingerprint"].as_str().unwrap().to_owned(), !q["plan"].is_null()))
        .collect();
    assert_eq!(shown, expected);
    assert!(rows.iter().any(|r| r["data-plan"] == "full scan of plants under a filter"), "{rows:?}");
    // The slow-query rows show the plan of their fingerprint.
    let slow = start_tags(element(&dom, "table", "slow-queries-table"), "tr");
    assert!(
        slow.iter()
            .any(|r| r["data-fingerprint"].contains("LIKE") && r["data-plan"] == "full scan of plants under a filter"),
        "{slow:?}"
    );
    // The search's slow queries and the slow request show the caller's trace.
    let trace = "5b8efff798038103d269b633813fc60c";
    let searched: Vec<_> = slow.iter().filter(|r| r["data-fingerprint"].contains("LIKE")).collect();
    assert!(!searched.is_empty() && searched.iter().all(|r| r["data-trace-id"] == trace), "{slow:?}");
    let requests = start_tags(element(&dom, "table", "slow-requests-table"), "tr");
    assert!(requests.iter().any(|r| r["data-route"] == "/api/plants" && r["data-trace-id"] == trace), "{requests:?}");
}

#[test]
fn dashboard_in_chromium_shows_what_the_api_returns() {
    let s = Server::start("chromium", &[("HIGH_MEMORY_THRESHOLD", "1"), ("ALERT_EVALUATION_INTERVAL", "1")]);
    for i in 0..30 {
        assert_eq!(s.get(&format!("/api/projects/{}", 1 + i % 20)).status, 200);
        assert_eq!(s.get(&format!("/api/plants?search={}&page=1", ["oak", "fern", "rose"][i % 3])).status, 200);
        assert_eq!(s.get("/api/dashboard").status, 200);
    }
    for _ in 0..3 {
        assert_eq!(s.get("/api/projects/4/report?naive=true").status, 200);
    }
    assert_eq!(s.get("/api/projects/4/report").status, 200);
    assert_eq!(s.send("POST", "/api/projects", r#"{"name":"Browser garden","client":"QA","budget":500}"#).status, 201);
    assert_eq!(s.get("/api/projects/999999").status, 404);

    // Wait (bounded) for the evaluator to open the memory alert, so the
    // alerts table has a row with a resolve button.
    let deadline = Instant::now() + Duration::from_secs(60);
    while api(&s, "/api/performance/alerts?resolved=false")["count"] == 0 {
        assert!(Instant::now() < deadline, "no alert opened");
        std::thread::sleep(Duration::from_millis(200));
    }

    let dom = dump_dom(&format!("http://{}/performance", s.addr));
    let body = start_tags(&dom, "body").remove(0);
    assert_eq!(body["data-loaded"], "true", "the page did not finish loading: {}", &dom[..dom.len().min(2000)]);
    assert!(f(&body["data-refreshes"]) >= 1.0);
    assert_eq!(attr_of(&dom, "span", "status-line")["data-state"], "ok");

    // Nothing below sends monitored traffic, so the API still returns what the page read.
    let endpoints = api(&s, "/api/performance/endpoints?minutes=5");
    let queries = api(&s, "/api/performance/queries?minutes=5");
    // One window (the default 5 minutes) drives every card and chart.
    let fine = api(&s, "/api/performance/timeseries?metric=requests&minutes=5");
    let coarse = api(&s, "/api/performance/timeseries?metric=requests&resolution=rollup&minutes=5");
    let cache = api(&s, "/api/performance/cache/stats");
    let metrics = api(&s, "/api/performance/metrics?minutes=5");
    let alerts = api(&s, "/api/performance/alerts");
    let summary = api(&s, "/api/performance/summary?minutes=5");

    // Endpoint table: the same routes with the same counts.
    let rows = start_tags(element(&dom, "table", "endpoints-table"), "tr");
    let shown: BTreeSet<(String, String, u64)> =
        rows.iter().map(|r| (r["data-method"].clone(), r["data-route"].clone(), f(&r["data-count"]) as u64)).collect();
    let expected: BTreeSet<(String, String, u64)> = endpoints["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_owned(),
                e["route"].as_str().unwrap().to_owned(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(shown, expected);
    assert!(shown.iter().any(|(m, r, n)| m == "GET" && r == "/api/dashboard" && *n == 30), "{shown:?}");
    for r in &rows {
        let api_row = endpoints["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["route"] == r["data-route"].as_str() && e["method"] == r["data-method"].as_str())
            .unwrap();
        assert!((f(&r["data-p95"]) - api_row["p95"].as_f64().unwrap()).abs() < 1e-12);
        assert_eq!(f(&r["data-error-count"]) as u64, api_row["error_count"].as_u64().unwrap());
        assert_eq!(f(&r["data-client-error-count"]) as u64, api_row["client_error_count"].as_u64().unwrap());
    }
    // The 404 of /api/projects/999999 is visible as a client error of its route.
    let project = rows.iter().find(|r| r["data-route"] == "/api/projects/{id}" && r["data-method"] == "GET").unwrap();
    assert!(f(&project["data-client-error-count"]) >= 1.0, "{project:?}");
    let client_errors = metrics["requests"]["client_error_count"].as_u64().unwrap();
    assert!(client_errors >= 1);
    assert_eq!(f(&attr_of(&dom, "dd", "metric-client-errors")["data-count"]) as u64, client_errors);

    // Request-rate chart: its buckets add up to the API's series and to the table.
    let chart = attr_of(&dom, "svg", "chart-requests");
    let api_total: u64 = fine["points"].as_array().unwrap().iter().map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(f(&chart["data-total"]) as u64, api_total);
    assert_eq!(api_total, expected.iter().map(|(_, _, n)| n).sum::<u64>());
    let bars = start_tags(element(&dom, "svg", "chart-requests"), "rect");
    assert_eq!(bars.len() as f64, f(&chart["data-points"]));
    assert_eq!(bars.iter().map(|b| f(&b["data-count"]) as u64).sum::<u64>(), api_total);

    // Latency chart: one p50/p95/p99 dot per roll-up bucket with percentiles, at the API's values.
    let dots = start_tags(element(&dom, "svg", "chart-latency"), "circle");
    let with_pct: Vec<&Value> =
        coarse["points"].as_array().unwrap().iter().filter(|p| p["has_percentiles"] == true).collect();
    assert!(!with_pct.is_empty());
    for series in ["p50", "p95", "p99"] {
        let shown: Vec<f64> = dots.iter().filter(|d| d["data-series"] == series).map(|d| f(&d["data-value"])).collect();
        let want: Vec<f64> =
            with_pct.iter().rev().take(60).rev().map(|p| p[series].as_f64().unwrap() * 1000.0).collect();
        assert_eq!(shown.len(), want.len(), "{series}");
        for (a, b) in shown.iter().zip(&want) {
            assert!((a - b).abs() < 1e-9, "{series}: {a} vs {b}");
        }
    }
    assert!(dom.contains(r#"data-series="errors""#), "the error-rate chart has no series");

    // N+1 findings and top queries.
    let n1 = start_tags(element(&dom, "table", "n-plus-one-table"), "tr");
    let api_n1 = queries["n_plus_one"].as_array().unwrap();
    assert_eq!(n1.len(), api_n1.len());
    assert!(
        n1.iter().any(
            |r| r["data-route"] == "GET /api/projects/{id}/report" && r["data-fingerprint"].contains("FROM plants")
        )
    );
    for r in &n1 {
        let a = api_n1
            .iter()
            .find(|a| a["route"] == r["data-route"].as_str() && a["fingerprint"] == r["data-fingerprint"].as_str())
            .unwrap();
        assert_eq!(f(&r["data-requests"]), a["requests"].as_f64().unwrap());
        assert_eq!(f(&r["data-max-count"]), a["max_count"].as_f64().unwrap());
        assert_eq!(f(&r["data-typical-count"]), a["typical_count"].as_f64().unwrap());
    }
    // Three naive reports: one grouped row for the plant lookups, seen in 3 requests.
    let plants: Vec<_> = n1
        .iter()
        .filter(|r| r["data-route"] == "GET /api/projects/{id}/report" && r["data-fingerprint"].contains("FROM plants"))
        .collect();
    assert_eq!(plants.len(), 1, "{n1:?}");
    assert_eq!(plants[0]["data-requests"], "3");
    // Start-up work is in its own table, apart from the request queries.
    let background = start_tags(element(&dom, "table", "background-queries-table"), "tr");
    assert_eq!(background.len(), queries["background_queries"].as_array().unwrap().len());
    assert!(background.iter().any(|r| r.get("data-kind").map(String::as_str) == Some("schema")), "{background:?}");
    let top: Vec<String> = start_tags(element(&dom, "table", "top-queries-table"), "tr")
        .iter()
        .map(|r| r["data-fingerprint"].clone())
        .collect();
    let api_top: Vec<String> = queries["top_queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["fingerprint"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(top, api_top);

    // Cache panel: the window's hit rate, the cache's tier now.
    assert_eq!(cache["configured"], true);
    assert_eq!(metrics["cache"]["configured"], true);
    assert_eq!(attr_of(&dom, "strong", "cache-tier")["data-tier"], cache["serving_tier"].as_str().unwrap());
    let rate = f(&attr_of(&dom, "span", "cache-hit-rate")["data-hit-rate"]);
    assert!((rate - metrics["cache"]["hit_rate"].as_f64().unwrap()).abs() < 1e-12, "{rate} vs {metrics}");
    assert!(rate > 0.0);

    // Alerts: every row is an alert the API knows, each with its resolve button.
    let alert_rows = start_tags(element(&dom, "table", "alerts-table"), "tr");
    assert!(!alert_rows.is_empty(), "no alert rows");
    let buttons = start_tags(element(&dom, "table", "alerts-table"), "button");
    for row in &alert_rows {
        let id = &row["data-alert-id"];
        assert!(
            alerts["alerts"].as_array().unwrap().iter().any(|a| a["id"].as_u64().is_some_and(|n| n.to_string() == *id)),
            "alert {id} unknown"
        );
        assert!(
            buttons.iter().any(|b| b["data-alert-id"] == *id && b["class"] == "resolve"),
            "no resolve button for {id}"
        );
    }
    // Alert values carry their units: the memory alert's value is in MiB.
    let table = element(&dom, "table", "alerts-table");
    let memory_row =
        table.split("<tr ").find(|r| r.contains(r#"data-type="high_memory""#)).expect("no memory alert row");
    assert!(memory_row.contains(" MiB</td>"), "{memory_row}");
    assert!(memory_row.contains(r#"data-reopened="false""#), "{memory_row}");

    // Health: the score, and the status held down by the open critical memory
    // alert (RSS is far over 3x the 1 MiB threshold), as the API says.
    let score = f(&attr_of(&dom, "span", "health-score")["data-score"]);
    assert!((0.0..=100.0).contains(&score));
    assert!((score - summary["health_score"].as_f64().unwrap()).abs() < 20.0, "{score} vs {summary}");
    let status = attr_of(&dom, "div", "health-status")["data-status"].clone();
    assert_eq!(status, summary["status"].as_str().unwrap());
    assert_eq!(status, "unhealthy", "{summary}");
    let cap = attr_of(&dom, "p", "health-cap");
    assert_eq!(cap["data-alert-id"], summary["capped_by"]["alert_id"].to_string(), "{summary}");
    assert!(text_of(&dom, "p", "health-cap").contains("critical alert"), "{}", text_of(&dom, "p", "health-cap"));
    let parts = start_tags(element(&dom, "table", "health-components"), "tr");
    let names: Vec<&str> = parts.iter().map(|p| p["data-name"].as_str()).collect();
    assert_eq!(names, ["response_time", "error_rate", "memory", "database", "cache"]);
    for (shown, api_part) in parts.iter().zip(summary["components"].as_array().unwrap()) {
        assert_eq!(f(&shown["data-weight"]), api_part["weight"].as_f64().unwrap());
    }
    assert_eq!(parts[2]["data-score"], "0", "memory at far over 3x scores 0");
    assert!(f(&attr_of(&dom, "dd", "memory-current")["data-mb"]) > 0.0);
    assert_eq!(attr_of(&dom, "dd", "memory-current")["data-sampled"], "true");
    assert!(f(&attr_of(&dom, "dd", "cpu-current")["data-percent"]) >= 0.0);
}

#[test]
fn dashboard_before_any_traffic_says_no_data_yet() {
    // No system sampler, and not one request: nothing to score.
    let s = Server::start("chromium-empty", &[("MEMORY_MONITORING_ENABLED", "false")]);
    let dom = dump_dom(&format!("http://{}/performance", s.addr));
    let body = start_tags(&dom, "body").remove(0);
    assert_eq!(body["data-loaded"], "true", "the page did not finish loading: {}", &dom[..dom.len().min(2000)]);
    assert_eq!(body["data-window"], "5");

    // What the API says, read after the page (viewing it sends no monitored traffic).
    let summary = api(&s, "/api/performance/summary?minutes=5");
    let metrics = api(&s, "/api/performance/metrics?minutes=5");
    assert_eq!(summary["status"], "no_data", "{summary}");
    assert!(summary["health_score"].is_null(), "{summary}");
    assert_eq!(metrics["requests"]["total_requests"], 0);
    assert_eq!(metrics["memory"]["sampled"], false, "{metrics}");

    // Health: "no data yet", not 100/100.
    assert_eq!(text_of(&dom, "span", "health-score"), "no data yet");
    assert_eq!(attr_of(&dom, "span", "health-score")["data-score"], "");
    assert!(element(&dom, "span", "health-unit").contains("hidden"), "the /100 unit is shown");
    assert_eq!(attr_of(&dom, "div", "health-status")["data-status"], "no_data");
    assert_eq!(text_of(&dom, "div", "health-status"), "no data yet");
    let parts = start_tags(element(&dom, "table", "health-components"), "tr");
    assert_eq!(parts.len(), 5);
    assert!(
        parts
            .iter()
            .filter(|p| p["data-name"] == "response_time" || p["data-name"] == "error_rate")
            .all(|p| p["data-score"].is_empty())
    );

    // Request numbers: "no data yet", not 0.00 ms.
    for id in
        ["summary-avg", "summary-error-rate", "summary-client-error-rate", "metric-percentiles", "metric-error-rate"]
    {
        assert_eq!(text_of(&dom, "dd", id), "no data yet", "#{id}");
    }
    assert!(!dom.contains("0.00 ms"), "a zero latency is shown");
    assert!(!dom.contains("100/100"));
    for id in ["chart-requests", "chart-latency", "chart-errors"] {
        assert_eq!(attr_of(&dom, "svg", id)["data-empty"], "true", "#{id}");
        assert!(element(&dom, "svg", id).contains("no data yet"), "#{id}");
    }
    assert!(!element(&dom, "p", "endpoints-empty").contains("hidden"), "the endpoints table's empty state is hidden");

    // No sampler: "not sampled", not 0.0 MiB.
    for id in ["memory-current", "memory-max", "cpu-current", "cpu-avg"] {
        assert_eq!(text_of(&dom, "dd", id), "not sampled", "#{id}");
    }
    assert!(element(&dom, "svg", "chart-system").contains("not sampled"));

    // The memory cache is configured but has served no lookups in the window.
    let lookups = metrics["cache"]["hits"].as_u64().unwrap() + metrics["cache"]["misses"].as_u64().unwrap();
    assert_eq!(metrics["cache"]["configured"], true);
    if lookups == 0 {
        assert_eq!(text_of(&dom, "span", "cache-hit-rate"), "no lookups yet");
    }
}

/// Every GET the script makes at the default 5-minute window, relative to the API prefix.
const SCRIPT_GETS: [&str; 9] = [
    "/summary?minutes=5",
    "/metrics?minutes=5",
    "/cache/stats",
    "/alerts?resolved=false",
    "/endpoints?minutes=5",
    "/queries?minutes=5",
    "/timeseries?metric=requests&minutes=5",
    "/timeseries?metric=requests&resolution=rollup&minutes=5",
    "/timeseries?metric=system&minutes=5",
];

#[test]
fn dashboard_marks_a_reopened_alert_and_links_it() {
    // A token is needed to resolve an alert; with one configured the API needs
    // it for reads too, which a headless page cannot be given. So the page and
    // script are the served ones, and the browser's fetch answers with the
    // documents this test read from the live API with the token.
    const TOKEN: &str = "reopen-test-token";
    let auth = format!("Bearer {TOKEN}");
    let headers = [("Authorization", auth.as_str())];
    let s = Server::start(
        "chromium-reopen",
        &[("HIGH_MEMORY_THRESHOLD", "1"), ("ALERT_EVALUATION_INTERVAL", "1"), ("PERFORMANCE_API_TOKEN", TOKEN)],
    );
    let open = |s: &Server| {
        let res = s.get_with("/api/performance/alerts?resolved=false", &headers);
        assert_eq!(res.status, 200, "{}", res.body);
        res.json()["alerts"].as_array().unwrap().iter().find(|a| a["type"] == "high_memory").cloned()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        if let Some(a) = open(&s) {
            break a;
        }
        assert!(Instant::now() < deadline, "no memory alert opened");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(first["reopened"], false);
    let first_id = first["id"].as_u64().unwrap();
    let res = s.send_with("POST", &format!("/api/performance/alerts/{first_id}/resolve"), None, &headers);
    assert_eq!(res.status, 200, "{}", res.body);
    // Memory is still over 1 MiB: the next evaluation re-opens the alert.
    let again = loop {
        if let Some(a) = open(&s).filter(|a| a["id"] != first_id) {
            break a;
        }
        assert!(Instant::now() < deadline, "the memory alert did not re-open");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!((again["reopened"].as_bool(), again["reopens"].as_u64()), (Some(true), Some(first_id)));

    let dir = fresh_dir("chromium-reopen-page");
    let page = s.get("/performance");
    assert_eq!(page.status, 200);
    let script = s.get("/performance/dashboard.js");
    assert_eq!(script.status, 200);
    std::fs::write(dir.join("dashboard.js"), &script.body).unwrap();
    let mut canned = serde_json::Map::new();
    for path in SCRIPT_GETS {
        let res = s.get_with(&format!("/api/performance{path}"), &headers);
        assert_eq!(res.status, 200, "{path}: {}", res.body);
        canned.insert(path.to_owned(), res.json());
    }
    let stub = format!(
        "<script>var CANNED = {}; window.fetch = function (url) {{ var body = CANNED[url.replace(\"/api/performance\", \
         \"\")]; return Promise.resolve({{ ok: body !== undefined, status: body === undefined ? 404 : 200, text: \
         function () {{ return Promise.resolve(JSON.stringify(body === undefined ? null : body)); }} }}); }};</script>",
        Value::Object(canned)
    );
    let served = r#"<script src="/performance/dashboard.js" defer></script>"#;
    assert!(page.body.contains(served), "{}", page.body);
    let html = page.body.replace(served, &format!("{stub}\n<script src=\"dashboard.js\" defer></script>"));
    std::fs::write(dir.join("index.html"), html).unwrap();

    let dom = dump_dom(&format!("file://{}", dir.join("index.html").display()));
    let _ = std::fs::remove_dir_all(&dir);
    let body = start_tags(&dom, "body").remove(0);
    assert_eq!(body["data-loaded"], "true", "the page did not finish loading: {}", &dom[..dom.len().min(2000)]);
    let again_id = again["id"].as_u64().unwrap().to_string();
    let rows = start_tags(element(&dom, "table", "alerts-table"), "tr");
    let row = rows.iter().find(|r| r["data-alert-id"] == again_id).expect("the re-opened alert is not shown");
    assert_eq!(row["data-reopened"], "true");
    assert_eq!(row["data-reopens"], first_id.to_string());
    assert!(element(&dom, "table", "alerts-table").contains(&format!("re-opened (was #{first_id})")));
    // The page shows the health held down by the critical alert it re-opened.
    assert_eq!(attr_of(&dom, "p", "health-cap")["data-alert-id"], again_id);
}

#[test]
fn dashboard_in_production_without_a_token_names_the_variables() {
    // The API refuses everything (403 token_not_configured); the page must
    // say which variables to set, not load empty panels or ask for a token.
    let s = Server::start("chromium-production-no-token", &[("PERFORMANCE_PROFILE", "production")]);
    let res = s.get("/api/performance/summary");
    assert_eq!(res.status, 403, "{}", res.body);
    let dom = dump_dom(&format!("http://{}/performance", s.addr));
    let body = start_tags(&dom, "body").remove(0);
    assert_eq!(body["data-token-required"], "false");
    assert_eq!(body["data-loaded"], "false", "the page claims it loaded");
    assert_ne!(body["data-refreshes"], "0", "the page never refreshed: {}", &dom[..dom.len().min(2000)]);
    assert_eq!(attr_of(&dom, "span", "status-line")["data-state"], "error");
    let line = text_of(&dom, "span", "status-line");
    assert_eq!(line, res.json()["error"]["message"].as_str().unwrap());
    assert!(line.contains("PERFORMANCE_API_TOKEN") && line.contains("PERFORMANCE_READ_TOKEN"), "{line}");
}
