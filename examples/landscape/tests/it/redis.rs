//! With `REDIS_URL`, the demo caches in Redis behind memory; with Redis
//! unreachable it still starts and serves every request from memory.

use std::net::TcpListener;

use crate::server::Server;

fn redis_url() -> String {
    std::env::var("PERF_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

fn dashboard_cached_and_invalidated(s: &Server) {
    let first = s.get("/api/dashboard");
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.header("x-cache"), Some("MISS"));
    let second = s.get("/api/dashboard");
    assert_eq!(second.header("x-cache"), Some("HIT"));
    assert_eq!(first.body, second.body);
    let created = s.send("POST", "/api/projects", r#"{"name":"Tiered","client":"c","budget":1}"#);
    assert_eq!(created.status, 201);
    let third = s.get("/api/dashboard");
    assert_eq!(third.header("x-cache"), Some("MISS"));
    assert_eq!(third.json()["projects"], first.json()["projects"].as_u64().unwrap() + 1);
    let plants = s.get("/api/plants?search=birch");
    let again = s.get("/api/plants?search=birch");
    assert_eq!((plants.status, again.status), (200, 200));
    assert_eq!(plants.json(), again.json());
}

#[test]
fn redis_url_selects_the_tiered_cache() {
    let prefix = format!("landscape-it-{}:", std::process::id());
    let s = Server::start("redis", &[("REDIS_URL", redis_url().as_str()), ("CACHE_PREFIX", prefix.as_str())]);
    assert_eq!(s.get("/health").json()["cache"], "tiered");
    dashboard_cached_and_invalidated(&s);
    let stats = s.get("/api/performance/cache/stats").json();
    let redis = &stats["redis"];
    assert!(redis.is_object(), "no Redis tier in {stats}");
    assert_eq!(redis["available"], true, "{stats}");
    assert!(redis["stats"]["sets"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["hits"].as_u64().unwrap() > 0);
}

#[test]
fn unreachable_redis_still_serves_from_memory() {
    // A port nothing listens on: bind, note it, close.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://127.0.0.1:{port}/");
    let s = Server::start("redis-down", &[("REDIS_URL", url.as_str())]);
    assert_eq!(s.get("/health").json()["cache"], "tiered");
    dashboard_cached_and_invalidated(&s);
    let stats = s.get("/api/performance/cache/stats").json();
    assert_eq!(stats["serving_tier"], "memory", "{stats}");
    assert_eq!(stats["redis"]["available"], false, "{stats}");
}
