//! Every route of the demo and every perf endpoint over real HTTP, on
//! SQLite (the default) and on PostgreSQL (a fresh database per run).

use std::{
    collections::HashMap,
    process::Command,
    time::{Duration, Instant},
};

use landscape::{
    PLANTINGS_PER_SITE, SEEDED_PLANTS, SEEDED_PROJECTS, SITES_PER_PROJECT, TASKS_PER_SITE, plant_catalogue,
};
use serde_json::{Value, json};

use crate::server::{Server, fresh_dir};

const TOKEN: &str = "landscape-test-token";
const AUTH: (&str, &str) = ("Authorization", "Bearer landscape-test-token");

/// Counts the requests the test sends per route pattern, to compare with
/// what the monitor recorded.
#[derive(Default)]
struct Sent(HashMap<String, u64>);

impl Sent {
    fn add(&mut self, key: &str) {
        *self.0.entry(key.to_owned()).or_default() += 1;
    }
}

#[test]
fn sqlite_service_answers_every_route_and_perf_endpoint() {
    let env = [("PERFORMANCE_API_TOKEN", TOKEN), ("HIGH_MEMORY_THRESHOLD", "1"), ("ALERT_EVALUATION_INTERVAL", "1")];
    let dir = fresh_dir("sqlite");
    let _cleanup = RemoveDir(dir.clone());
    let server = Server::start_in(dir.clone(), &env);
    exercise(&server, "sqlite");
    let created = server.send("POST", "/api/projects", r#"{"name":"Kept across restarts","client":"Archive"}"#);
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_i64().unwrap();

    // The data lives in DATA_DIR: a restart finds it, migrates nothing and does not seed again.
    assert!(dir.join("landscape.db").is_file());
    drop(server);
    let again = Server::start_in(dir.clone(), &env);
    let kept = again.get(&format!("/api/projects/{id}"));
    assert_eq!(kept.status, 200, "{}", kept.body);
    assert_eq!(kept.json()["name"], "Kept across restarts");
    let plants = again.get("/api/plants").json();
    assert_eq!(plants["total"], SEEDED_PLANTS);
    drop(again);
}

/// Removes a directory when dropped, also when an assertion fails.
struct RemoveDir(std::path::PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn postgres_service_answers_every_route_and_perf_endpoint() {
    let admin =
        std::env::var("PERF_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("landscape_test_{}", std::process::id());
    admin_sql(&admin, &format!("DROP DATABASE IF EXISTS {name}"));
    admin_sql(&admin, &format!("CREATE DATABASE {name}"));
    // Dropped last (after the server), also when an assertion fails.
    let _database = DropDatabase { admin: admin.clone(), name: name.clone() };
    // Same server and options, another database: swap the path of the URL.
    let (without_query, query) = admin.split_once('?').map_or((admin.as_str(), None), |(a, q)| (a, Some(q)));
    let (base, _) = without_query.rsplit_once('/').unwrap();
    let url = match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    };
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("PERFORMANCE_API_TOKEN", TOKEN),
        ("HIGH_MEMORY_THRESHOLD", "1"),
        ("ALERT_EVALUATION_INTERVAL", "1"),
    ];
    let server = Server::start("postgres", &env);
    exercise(&server, "postgres");
}

fn admin_sql(admin: &str, sql: &str) {
    try_admin_sql(admin, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn try_admin_sql(admin: &str, sql: &str) -> Result<(), Box<dyn std::error::Error>> {
    use diesel::{Connection as _, RunQueryDsl as _};
    let mut conn = diesel::PgConnection::establish(admin)?;
    diesel::sql_query(sql).execute(&mut conn)?;
    Ok(())
}

struct DropDatabase {
    admin: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        // Never panic here: this may run while a failed assertion unwinds.
        if let Err(e) = try_admin_sql(&self.admin, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

#[test]
fn invalid_configuration_stops_the_service_with_a_message() {
    let dir = fresh_dir("bad-config");
    for (var, value, expect) in [
        ("ALERT_EVALUATION_INTERVAL", "0", "ALERT_EVALUATION_INTERVAL"),
        ("DATABASE_URL", "mysql://nope", "DATABASE_URL"),
        ("DATABASE_URL", "mysql://user:hunter2@db/x", "DATABASE_URL"),
        ("REDIS_URL", "http://default:hunter2@cache.internal:6379/0", "REDIS_URL"),
        ("REDIS_URL", "default:hunter2@cache.internal:6379", "REDIS_URL"),
        ("BIND", "not-an-address", "not-an-address"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_landscape"))
            .env("DATA_DIR", &dir)
            .env("BIND", "127.0.0.1:0")
            .env_remove("DATABASE_URL")
            .env(var, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{var}={value} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{var}={value}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{var}={value} printed its password: {stderr}");
        if value.contains("hunter2") {
            assert!(stderr.contains("***@"), "{var}={value}: the redacted URL is shown: {stderr}");
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn settings_debug_shows_no_secret() {
    let token = "s3cret-token-value";
    let settings = landscape::Settings {
        bind: "127.0.0.1:0".into(),
        data_dir: "data".into(),
        database_url: Some("postgres://app:hunter2@db.internal:5432/landscape".into()),
        cache_prefix: "landscape:".into(),
        http: landscape::HttpTimeouts::default(),
        perf: perf_core::PerfConfig::builder()
            .api_token(token)
            .redis_url("redis://default:hunter2@cache.internal:6379/0")
            .build()
            .unwrap(),
    };
    for text in [format!("{settings:?}"), format!("{settings:#?}")] {
        assert!(!text.contains("hunter2") && !text.contains(token), "{text}");
        assert!(text.contains("postgres://***@db.internal:5432/landscape"), "{text}");
        assert!(text.contains("redis://***@cache.internal:6379/0"), "{text}");
        assert!(text.contains("landscape:") && text.contains("127.0.0.1:0"), "{text}");
    }
}

fn exercise(s: &Server, backend: &str) {
    let mut sent = Sent::default();
    health(s, backend, &mut sent);
    projects_crud(s, &mut sent);
    bad_input_is_a_json_4xx(s, &mut sent);
    plants_search_and_pages(s, &mut sent);
    dashboard_is_cached_and_invalidated(s, &mut sent);
    naive_report_is_found_as_n_plus_one(s, &mut sent);
    perf_endpoints(s, &sent);
    head_works_where_get_does(s);
}

/// Last, because its GETs are not counted in `Sent`.
fn head_works_where_get_does(s: &Server) {
    // HEAD works wherever GET does: the GET's status and length, no body.
    for path in
        ["/health", "/api/projects", "/api/projects/1", "/api/projects/1/report", "/api/plants", "/api/dashboard"]
    {
        let get = s.get(path);
        let head = s.send_with("HEAD", path, None, &[]);
        assert_eq!((head.status, get.status), (200, 200), "HEAD {path}");
        assert!(head.body.is_empty(), "HEAD {path} sent a body");
        assert_eq!(head.header("content-type"), get.header("content-type"), "HEAD {path}");
    }
}

fn health(s: &Server, backend: &str, sent: &mut Sent) {
    let res = s.get("/health");
    sent.add("GET /health");
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({"status": "ok", "database": backend, "cache": "memory"}));
    assert!(res.header("server-timing").is_some(), "the monitor adds Server-Timing");
    // An encoded spelling is the same route, counted under it (checked exactly).
    let encoded = s.get("/h%65alth");
    sent.add("GET /health");
    assert_eq!(encoded.status, 200);
    assert!(encoded.header("server-timing").is_some(), "the monitor adds Server-Timing");
}

fn projects_crud(s: &Server, sent: &mut Sent) {
    let list = s.get("/api/projects");
    sent.add("GET /api/projects");
    assert_eq!(list.status, 200);
    let list = list.json();
    assert_eq!(list["count"], SEEDED_PROJECTS);
    assert_eq!(list["projects"].as_array().unwrap().len(), SEEDED_PROJECTS);
    assert_eq!(list["projects"][0]["id"], 1);

    let one = s.get("/api/projects/1");
    sent.add("GET /api/projects/{id}");
    assert_eq!(one.status, 200);
    assert_eq!(one.json(), list["projects"][0]);
    // Percent-encoded spellings are served by the same route and counted under it.
    let encoded = s.get("/api/%70rojects/%31");
    sent.add("GET /api/projects/{id}");
    assert_eq!(encoded.status, 200);
    assert_eq!(encoded.json(), list["projects"][0]);

    // The body `cargo xtask traffic` sends.
    let created = s.send("POST", "/api/projects", r#"{"name":"Traffic garden 1","client":"xtask","budget":1234}"#);
    sent.add("POST /api/projects");
    assert_eq!(created.status, 201, "{}", created.body);
    let project = created.json();
    let id = project["id"].as_i64().unwrap();
    assert!(id > SEEDED_PROJECTS as i64);
    assert_eq!(created.header("location"), Some(format!("/api/projects/{id}").as_str()));
    assert_eq!(project["status"], "planning");
    assert_eq!(project["budget"], 1234.0);

    let updated = s.send("PUT", &format!("/api/projects/{id}"), r#"{"status":"active"}"#);
    sent.add("PUT /api/projects/{id}");
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.json()["status"], "active");
    assert_eq!(updated.json()["name"], "Traffic garden 1");
    let renamed = s.send("PUT", &format!("/api/projects/{id}"), r#"{"name":"  Riverbank  ","budget":99.5}"#);
    sent.add("PUT /api/projects/{id}");
    assert_eq!(renamed.json()["name"], "Riverbank");
    assert_eq!(renamed.json()["budget"], 99.5);
    assert_eq!(renamed.json()["status"], "active");
    let read = s.get(&format!("/api/projects/{id}"));
    sent.add("GET /api/projects/{id}");
    assert_eq!(read.json(), renamed.json());

    let deleted = s.send_with("DELETE", &format!("/api/projects/{id}"), None, &[]);
    sent.add("DELETE /api/projects/{id}");
    assert_eq!(deleted.status, 204);
    let gone = s.get(&format!("/api/projects/{id}"));
    sent.add("GET /api/projects/{id}");
    assert_eq!((gone.status, gone.error_code().as_str()), (404, "not_found"));
    let again = s.send_with("DELETE", &format!("/api/projects/{id}"), None, &[]);
    sent.add("DELETE /api/projects/{id}");
    assert_eq!((again.status, again.error_code().as_str()), (404, "not_found"));
    assert_eq!(s.get("/api/projects").json()["count"], SEEDED_PROJECTS);
    sent.add("GET /api/projects");
}

/// Method, path, body, expected status and error code, and the route the
/// monitor files the request under (when it matches one).
type BadCase<'a> = (&'static str, &'static str, Option<&'a str>, u16, &'static str, Option<&'static str>);

fn bad_input_is_a_json_4xx(s: &Server, sent: &mut Sent) {
    // Over the 16 KiB JSON limit.
    let oversized = format!(r#"{{"name":"{}","client":"c"}}"#, "x".repeat(17 * 1024));
    let cases: [BadCase<'_>; 20] = [
        ("POST", "/api/projects", Some(&oversized), 413, "payload_too_large", Some("POST /api/projects")),
        ("PUT", "/api/projects/1", Some(&oversized), 413, "payload_too_large", Some("PUT /api/projects/{id}")),
        ("POST", "/api/projects", Some("{not json"), 400, "malformed_json", Some("POST /api/projects")),
        ("POST", "/api/projects", Some(r#"{"name":"x"}"#), 400, "invalid_body", Some("POST /api/projects")),
        (
            "POST",
            "/api/projects",
            Some(r#"{"name":"   ","client":"c"}"#),
            400,
            "invalid_body",
            Some("POST /api/projects"),
        ),
        (
            "POST",
            "/api/projects",
            Some(r#"{"name":"x","client":"c","budget":-1}"#),
            400,
            "invalid_body",
            Some("POST /api/projects"),
        ),
        (
            "POST",
            "/api/projects",
            Some(r#"{"name":"x","client":"c","status":"lost"}"#),
            400,
            "invalid_body",
            Some("POST /api/projects"),
        ),
        (
            "POST",
            "/api/projects",
            Some(r#"{"name":"x","client":"c","colour":"red"}"#),
            400,
            "invalid_body",
            Some("POST /api/projects"),
        ),
        ("POST", "/api/projects", Some(r#"[1,2]"#), 400, "invalid_body", Some("POST /api/projects")),
        ("PUT", "/api/projects/1", Some("{}"), 400, "invalid_body", Some("PUT /api/projects/{id}")),
        (
            "PUT",
            "/api/projects/999999",
            Some(r#"{"status":"active"}"#),
            404,
            "not_found",
            Some("PUT /api/projects/{id}"),
        ),
        ("GET", "/api/projects/abc", None, 400, "invalid_id", Some("GET /api/projects/{id}")),
        ("GET", "/api/projects/0", None, 400, "invalid_id", Some("GET /api/projects/{id}")),
        ("GET", "/api/projects/999999", None, 404, "not_found", Some("GET /api/projects/{id}")),
        ("GET", "/api/projects/999999/report", None, 404, "not_found", Some("GET /api/projects/{id}/report")),
        (
            "GET",
            "/api/projects/1/report?naive=maybe",
            None,
            400,
            "invalid_query",
            Some("GET /api/projects/{id}/report"),
        ),
        ("GET", "/api/plants?page=0", None, 400, "invalid_query", Some("GET /api/plants")),
        ("GET", "/api/plants?page=abc", None, 400, "invalid_query", Some("GET /api/plants")),
        ("GET", "/no/such/route", None, 404, "not_found", None),
        ("PATCH", "/api/projects", None, 405, "method_not_allowed", None),
    ];
    for (method, path, body, status, code, route) in cases {
        let res = s.send_with(method, path, body, &[]);
        if let Some(route) = route {
            sent.add(route);
        }
        let shown = body.map(|b| b.chars().take(80).collect::<String>());
        assert_eq!(res.status, status, "{method} {path} {shown:?}: {}", res.body);
        assert_eq!(res.error_code(), code, "{method} {path} {shown:?}");
    }
    // A 405 lists what the resource answers.
    for (method, path, allow) in [
        ("PATCH", "/api/projects", "GET, HEAD, POST"),
        ("POST", "/api/projects/1", "GET, HEAD, PUT, DELETE"),
        ("DELETE", "/api/projects/1/report", "GET, HEAD"),
        ("PUT", "/api/plants", "GET, HEAD"),
        ("POST", "/api/dashboard", "GET, HEAD"),
        ("DELETE", "/health", "GET, HEAD"),
    ] {
        let res = s.send_with(method, path, None, &[]);
        assert_eq!(res.status, 405, "{method} {path}: {}", res.body);
        assert_eq!(res.error_code(), "method_not_allowed", "{method} {path}");
        assert_eq!(res.header("allow"), Some(allow), "{method} {path}");
    }
    let long = format!("/api/plants?search={}", "a".repeat(101));
    let res = s.get(&long);
    sent.add("GET /api/plants");
    assert_eq!((res.status, res.error_code().as_str()), (400, "invalid_query"));
    // Nothing above changed the data.
    assert_eq!(s.get("/api/projects").json()["count"], SEEDED_PROJECTS);
    assert_eq!(s.get("/api/projects/1").json()["status"], "planning");
    sent.add("GET /api/projects");
    sent.add("GET /api/projects/{id}");
}

fn plants_search_and_pages(s: &Server, sent: &mut Sent) {
    let catalogue = plant_catalogue();
    assert!(catalogue.len() >= 500);
    let all = s.get("/api/plants").json();
    sent.add("GET /api/plants");
    assert_eq!(all["total"], catalogue.len());
    assert_eq!(all["page"], 1);
    let per_page = all["per_page"].as_u64().unwrap() as usize;
    assert_eq!(all["plants"].as_array().unwrap().len(), per_page);

    let page3 = s.get("/api/plants?page=3").json();
    sent.add("GET /api/plants");
    let ids: Vec<i64> = page3["plants"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
    let expected: Vec<i64> = catalogue.iter().skip(2 * per_page).take(per_page).map(|p| i64::from(p.id)).collect();
    assert_eq!(ids, expected);

    for search in ["oak", "FERN", "rosa", "maple", "alpina", "zzz"] {
        let lower = search.to_lowercase();
        let matching: Vec<i64> =
            catalogue.iter().filter(|p| p.search_text.contains(&lower)).map(|p| i64::from(p.id)).collect();
        let page = s.get(&format!("/api/plants?search={search}&page=1")).json();
        sent.add("GET /api/plants");
        assert_eq!(page["total"], matching.len(), "{search}");
        let got: Vec<i64> = page["plants"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
        assert_eq!(got, matching.iter().copied().take(per_page).collect::<Vec<_>>(), "{search}");
    }
    // LIKE wildcards in the search are literal.
    let wild = s.get("/api/plants?search=%25").json();
    sent.add("GET /api/plants");
    assert_eq!(wild["total"], 0);

    // The second identical page comes from the cache.
    let before = s.get_with("/api/performance/cache/stats", &[AUTH]).json();
    let first = s.get("/api/plants?search=willow&page=1");
    let second = s.get("/api/plants?search=willow&page=1");
    sent.add("GET /api/plants");
    sent.add("GET /api/plants");
    assert_eq!(first.json(), second.json());
    let after = s.get_with("/api/performance/cache/stats", &[AUTH]).json();
    assert!(after["hits"].as_u64().unwrap() > before["hits"].as_u64().unwrap(), "{before} → {after}");
    assert!(after["misses"].as_u64().unwrap() > before["misses"].as_u64().unwrap(), "{before} → {after}");
}

fn dashboard_is_cached_and_invalidated(s: &Server, sent: &mut Sent) {
    let first = s.get("/api/dashboard");
    let second = s.get("/api/dashboard");
    sent.add("GET /api/dashboard");
    sent.add("GET /api/dashboard");
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(first.header("x-cache"), Some("MISS"));
    assert_eq!(second.header("x-cache"), Some("HIT"));
    assert_eq!(first.body, second.body);
    let d = first.json();
    assert_eq!(d["projects"], SEEDED_PROJECTS);
    assert_eq!(d["sites"], SEEDED_PROJECTS * SITES_PER_PROJECT);
    let tasks: i64 = d["tasks_by_status"].as_array().unwrap().iter().map(|t| t[1].as_i64().unwrap()).sum();
    assert_eq!(tasks as usize, SEEDED_PROJECTS * SITES_PER_PROJECT * TASKS_PER_SITE);
    let kinds: i64 = d["catalogue_by_kind"].as_array().unwrap().iter().map(|k| k[1].as_i64().unwrap()).sum();
    assert_eq!(kinds as usize, SEEDED_PLANTS);

    let created = s.send("POST", "/api/projects", r#"{"name":"Invalidates","client":"c","budget":10}"#);
    sent.add("POST /api/projects");
    assert_eq!(created.status, 201);
    let third = s.get("/api/dashboard");
    sent.add("GET /api/dashboard");
    assert_eq!(third.header("x-cache"), Some("MISS"), "a new project must drop the cached dashboard");
    assert_eq!(third.json()["projects"], SEEDED_PROJECTS + 1);
    let fourth = s.get("/api/dashboard");
    sent.add("GET /api/dashboard");
    assert_eq!(fourth.header("x-cache"), Some("HIT"));

    let id = created.json()["id"].as_i64().unwrap();
    let deleted = s.send_with("DELETE", &format!("/api/projects/{id}"), None, &[]);
    sent.add("DELETE /api/projects/{id}");
    assert_eq!(deleted.status, 204);
    let fifth = s.get("/api/dashboard");
    sent.add("GET /api/dashboard");
    assert_eq!(fifth.header("x-cache"), Some("MISS"));
    assert_eq!(fifth.json()["projects"], SEEDED_PROJECTS);
}

fn naive_report_is_found_as_n_plus_one(s: &Server, sent: &mut Sent) {
    let good = s.get("/api/projects/2/report");
    sent.add("GET /api/projects/{id}/report");
    assert_eq!(good.status, 200, "{}", good.body);
    let good = good.json();
    assert_eq!(good["naive"], false);
    let sites = good["sites"].as_array().unwrap();
    assert_eq!(sites.len(), SITES_PER_PROJECT);
    for site in sites {
        assert_eq!(site["project_id"], 2);
        assert_eq!(site["plantings"].as_array().unwrap().len(), PLANTINGS_PER_SITE);
        assert_eq!(site["tasks"].as_array().unwrap().len(), TASKS_PER_SITE);
    }
    let cost: i64 = sites.iter().map(|s| s["plant_cost_cents"].as_i64().unwrap()).sum();
    assert_eq!(good["plant_cost_cents"], cost);

    let queries_before = perf(s, "/api/performance/queries?limit=1000");
    assert!(
        !queries_before["n_plus_one"].as_array().unwrap().iter().any(|f| f["route"] == "GET /api/projects/{id}/report"),
        "the batched report must not be an N+1: {queries_before}"
    );

    let naive = s.get("/api/projects/2/report?naive=true");
    sent.add("GET /api/projects/{id}/report");
    assert_eq!(naive.status, 200);
    let naive = naive.json();
    assert_eq!(naive["naive"], true);
    assert_eq!(naive["sites"], good["sites"], "both loads give the same rows");

    // Ground truth from the response: the naive load looks up one plant per
    // planting line, so the plant lookup ran exactly that many times.
    let plant_lookups: usize = sites.iter().map(|s| s["plantings"].as_array().unwrap().len()).sum();
    for _ in 0..2 {
        let again = s.get("/api/projects/2/report?naive=true");
        sent.add("GET /api/projects/{id}/report");
        assert_eq!(again.status, 200);
    }

    let queries = perf(s, "/api/performance/queries?limit=1000");
    let findings: Vec<&Value> = queries["n_plus_one"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["route"] == "GET /api/projects/{id}/report"
                && f["fingerprint"].as_str().unwrap().contains("FROM plants WHERE")
        })
        .collect();
    // Three naive requests: one row, not three.
    assert_eq!(findings.len(), 1, "one finding per (route, fingerprint): {queries}");
    let finding = findings[0];
    let fingerprint = finding["fingerprint"].as_str().unwrap();
    assert_eq!(finding["requests"], 3, "{finding}");
    // The request's real count, not the detection threshold of 5.
    assert_eq!(finding["max_count"].as_u64().unwrap() as usize, plant_lookups, "{finding}");
    assert_eq!(finding["typical_count"].as_u64().unwrap() as usize, plant_lookups, "{finding}");
    assert_eq!(finding["last_count"].as_u64().unwrap() as usize, plant_lookups, "{finding}");
    assert!(finding["time_per_request"].as_f64().unwrap() > 0.0);
    assert!(queries["top_queries"].as_array().unwrap().iter().any(|q| q["fingerprint"] == fingerprint));
}

fn perf(s: &Server, path: &str) -> Value {
    let res = s.get_with(path, &[AUTH]);
    assert_eq!(res.status, 200, "{path}: {}", res.body);
    res.json()
}

fn perf_endpoints(s: &Server, sent: &Sent) {
    // With PERFORMANCE_API_TOKEN set, the API and /metrics need the token.
    for path in ["/api/performance/metrics", "/api/performance/summary", "/metrics"] {
        let res = s.get(path);
        assert_eq!(res.status, 401, "{path} without a token");
        let wrong = s.get_with(path, &[("Authorization", "Bearer wrong-token-here")]);
        assert_eq!(wrong.status, 401, "{path} with a wrong token");
    }

    // Every request the test sent is in the endpoint table, counted exactly.
    let endpoints = perf(s, "/api/performance/endpoints?minutes=60");
    let rows = endpoints["endpoints"].as_array().unwrap();
    for (key, count) in &sent.0 {
        let (method, route) = key.split_once(' ').unwrap();
        let row = rows
            .iter()
            .find(|r| r["method"] == method && r["route"] == route)
            .unwrap_or_else(|| panic!("no row for {key}: {endpoints}"));
        assert!(row["count"].as_u64().unwrap() >= *count, "{key}: {row}");
        if ![
            "GET /api/projects/{id}",
            "GET /api/projects",
            "GET /api/plants",
            "PUT /api/projects/{id}",
            "POST /api/projects",
        ]
        .contains(&key.as_str())
        {
            // These routes only ever saw the test's own requests counted in `sent`.
            assert_eq!(row["count"].as_u64().unwrap(), *count, "{key}: {row}");
        }
    }
    for row in rows {
        assert!(!row["route"].as_str().unwrap().starts_with("/api/performance"), "the perf API is not monitored");
    }
    // `GET /health` runs no query: the pool's check-out ping is housekeeping.
    let health = rows.iter().find(|r| r["route"] == "/health").unwrap();
    assert_eq!(health["queries_per_request"], 0.0, "{health}");
    // Start-up (migrations, seeding) ran outside any request: shown apart,
    // with schema changes marked, never among the request queries.
    let queries = perf(s, "/api/performance/queries?minutes=60&limit=1000");
    let background = queries["background_queries"].as_array().unwrap();
    assert!(
        background
            .iter()
            .any(|q| q["kind"] == "schema" && q["fingerprint"].as_str().unwrap().starts_with("CREATE TABLE")),
        "{queries}"
    );
    assert!(
        background
            .iter()
            .any(|q| q["kind"] == "write" && q["fingerprint"].as_str().unwrap().starts_with("INSERT INTO plants"))
    );
    for q in queries["top_queries"].as_array().unwrap() {
        assert_ne!(q["kind"], "schema", "{q}");
        assert!(!q["fingerprint"].as_str().unwrap().starts_with("SELECT ?"), "no pool ping among request queries: {q}");
    }

    let metrics = perf(s, "/api/performance/metrics");
    let total: u64 = rows.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(metrics["requests"]["total_requests"], total);
    assert!(metrics["database"]["total_queries"].as_u64().unwrap() > 0);
    assert!(metrics["cache"]["hits"].as_u64().unwrap() > 0);

    // A found project costs exactly one query (`projects.find(id)`): 10 more
    // such requests add exactly 10 queries to the endpoint's total.
    let total_queries = |rows: &[Value]| {
        let r = rows.iter().find(|r| r["method"] == "GET" && r["route"] == "/api/projects/{id}").unwrap();
        (r["queries_per_request"].as_f64().unwrap() * r["count"].as_f64().unwrap()).round() as u64
    };
    let before = total_queries(rows);
    for id in 1..=10 {
        assert_eq!(s.get(&format!("/api/projects/{id}")).status, 200);
    }
    let after = perf(s, "/api/performance/endpoints?minutes=60");
    assert_eq!(total_queries(after["endpoints"].as_array().unwrap()) - before, 10, "{after}");

    // A search term is a bind value: it is cut before anything is stored, so
    // no perf endpoint can show it. A 1 µs slow-query threshold keeps every query's text.
    let put = s.send_with("PUT", "/api/performance/thresholds", Some(r#"{"slow_query_threshold":0.000001}"#), &[AUTH]);
    assert_eq!(put.status, 200, "{}", put.body);
    // The search comes with a caller's trace: its slow queries keep its id.
    let traceparent = ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    let searched = s.send_with("GET", "/api/plants?search=zqprivateterm", None, &[traceparent]);
    assert_eq!(searched.status, 200);
    let answered = searched.header("traceparent").unwrap_or_default();
    assert!(answered.starts_with("00-0af7651916cd43dd8448eb211c80319c-"), "{answered:?}");
    // The slow search was explained on the capture's own connection
    // (PERFORMANCE_QUERY_PLANS is on in development): its plan reads the
    // plants in full under the LIKE filter, and holds no bind value (the
    // loop below reads every perf document with the plan in it).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let plan = loop {
        let q = perf(s, "/api/performance/queries?limit=1000");
        let found = q["top_queries"].as_array().unwrap().iter().find_map(|row| {
            let like = row["fingerprint"].as_str().unwrap().contains("LIKE");
            (like && !row["plan"].is_null()).then(|| row["plan"].clone())
        });
        if let Some(plan) = found {
            break plan;
        }
        assert!(std::time::Instant::now() < deadline, "no plan was captured for the search: {q}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(["sqlite", "postgresql"].contains(&plan["plan"]["backend"].as_str().unwrap()), "{plan}");
    let nodes = plan["plan"]["nodes"].as_array().unwrap();
    assert!(
        nodes.iter().any(|n| n["access"] == "full_scan" && n["relation"] == "plants" && n["filtered"] == true),
        "{plan}"
    );
    let reset = s.send_with("PUT", "/api/performance/thresholds", Some(r#"{"slow_query_threshold":0.1}"#), &[AUTH]);
    assert_eq!(reset.status, 200, "{}", reset.body);
    for path in ["/api/performance/queries?limit=1000", "/api/performance/report", "/metrics"] {
        let body = s.get_with(path, &[AUTH]).body;
        assert!(!body.contains("zqprivateterm") && !body.contains("binds:"), "{path} shows a bind value");
    }
    let q = perf(s, "/api/performance/queries?limit=1000");
    assert_eq!(q["binds_captured"], false);
    let like: Vec<&Value> =
        q["slow_queries"].as_array().unwrap().iter().filter(|q| q["sql"].as_str().unwrap().contains("LIKE")).collect();
    assert!(!like.is_empty(), "{q}");
    assert!(like.iter().all(|q| q["trace_id"] == "0af7651916cd43dd8448eb211c80319c"), "{like:?}");

    let analytics = perf(s, "/api/performance/analytics");
    assert!(analytics.is_object());
    // Start-up work never becomes slow-query alerts or index advice.
    let all_alerts = perf(s, "/api/performance/alerts");
    for a in all_alerts["alerts"].as_array().unwrap() {
        let key = a["key"].as_str().unwrap_or_default();
        assert!(!key.starts_with("CREATE") && !key.contains("__diesel_schema_migrations"), "{a}");
    }
    let report = perf(s, "/api/performance/report");
    for r in report["recommendations"].as_array().unwrap() {
        let subject = r["subject"].as_str().unwrap_or_default();
        assert!(!subject.starts_with("CREATE") && !subject.starts_with("INSERT INTO plants"), "{r}");
    }
    let summary = perf(s, "/api/performance/summary");
    let score = summary["health_score"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&score));
    assert!(["healthy", "degraded", "unhealthy"].contains(&summary["status"].as_str().unwrap()));

    // HIGH_MEMORY_THRESHOLD=1 MiB: the evaluator opens a memory alert once the
    // sampler's first reading is in; resolve it through the API.
    let deadline = Instant::now() + Duration::from_secs(60);
    let alert = loop {
        let open = perf(s, "/api/performance/alerts?resolved=false");
        if let Some(a) = open["alerts"].as_array().unwrap().iter().find(|a| a["type"] == "high_memory") {
            break a.clone();
        }
        assert!(Instant::now() < deadline, "no high_memory alert opened: {open}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let id = alert["id"].as_u64().unwrap();
    let refused = s.send_with("POST", &format!("/api/performance/alerts/{id}/resolve"), None, &[]);
    assert_eq!(refused.status, 401);
    let resolved = s.send_with("POST", &format!("/api/performance/alerts/{id}/resolve"), None, &[AUTH]);
    assert_eq!(resolved.status, 200, "{}", resolved.body);
    assert_eq!(resolved.json()["resolved"], true);
    let closed = perf(s, "/api/performance/alerts?resolved=true");
    assert!(closed["alerts"].as_array().unwrap().iter().any(|a| a["id"] == id), "{closed}");
    let bad = s.send_with("POST", "/api/performance/alerts/abc/resolve", None, &[AUTH]);
    assert_eq!(bad.status, 400);

    let thresholds = perf(s, "/api/performance/thresholds");
    assert_eq!(thresholds["high_memory_threshold"], 1.0);
    let put = s.send_with("PUT", "/api/performance/thresholds", Some(r#"{"slow_query_threshold":0.5}"#), &[AUTH]);
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(perf(s, "/api/performance/thresholds")["slow_query_threshold"], 0.5);
    let bad = s.send_with("PUT", "/api/performance/thresholds", Some(r#"{"slow_query_threshold":-1}"#), &[AUTH]);
    assert_eq!(bad.status, 400);

    let stats = perf(s, "/api/performance/cache/stats");
    assert_eq!(stats["serving_tier"], "memory");
    assert!(stats["memory"]["entries"].as_u64().unwrap() > 0);
    let cleared = s.send_with("POST", "/api/performance/cache/clear", Some(r#"{"pattern":"plants:*"}"#), &[AUTH]);
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert!(cleared.json()["cleared"].as_u64().unwrap() > 0);
    let after = s.get("/api/plants?search=willow&page=1");
    assert_eq!(after.status, 200);

    let queries = perf(s, "/api/performance/queries");
    assert!(!queries["top_queries"].as_array().unwrap().is_empty());
    for metric in ["requests", "queries", "system"] {
        let ts = perf(s, &format!("/api/performance/timeseries?metric={metric}"));
        assert!(!ts["points"].as_array().unwrap().is_empty(), "{metric}");
    }
    let per_route = perf(s, "/api/performance/timeseries?metric=requests&method=GET&route=/api/dashboard&minutes=60");
    let dash: u64 = per_route["points"].as_array().unwrap().iter().map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(dash, sent.0["GET /api/dashboard"]);
    assert!(perf(s, "/api/performance/trends").is_object());
    assert!(perf(s, "/api/performance/report").is_object());
    assert!(perf(s, "/api/performance/openapi.json")["paths"].is_object());

    let prometheus = s.get_with("/metrics", &[AUTH]);
    assert_eq!(prometheus.status, 200);
    assert!(prometheus.body.contains("/api/dashboard"), "{}", prometheus.body);

    // The specification's example: clearing `dashboard:*` drops the cached dashboard.
    assert_eq!(s.get("/api/dashboard").header("x-cache"), Some("HIT"));
    let cleared = s.send_with("POST", "/api/performance/cache/clear", Some(r#"{"pattern":"dashboard:*"}"#), &[AUTH]);
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert_eq!(cleared.json()["cleared"], 1);
    assert_eq!(s.get("/api/dashboard").header("x-cache"), Some("MISS"));

    let page = s.get("/performance");
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"data-token-required="true""#));
    assert_eq!(s.get("/performance/dashboard.js").status, 200);
    assert_eq!(s.get("/performance/dashboard.css").status, 200);
}
