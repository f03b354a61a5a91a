//! A PostgreSQL outage against a private cluster: once the outage is known,
//! requests are answered 503 `database_unavailable` without waiting on the
//! pool, and the service recovers by itself when the database returns.
//!
//! The latency bounds are guarantees about bounded waiting (no request
//! waits the pool's connection timeout once the outage is latched), set
//! far above what the fast path needs, not measurements of speed.

use std::time::{Duration, Instant};

use landscape::{POOL_CONNECTION_TIMEOUT, SEEDED_PROJECTS};

use crate::{http::Response, pg_cluster::PgCluster, server::Server};

/// How long a latched request may take: well below the old 10 s pool
/// timeout and below the current one, far above the fast path.
const LATCHED_BOUND: Duration = Duration::from_millis(1500);

fn timed(f: impl FnOnce() -> Response) -> (Response, Duration) {
    let start = Instant::now();
    let res = f();
    (res, start.elapsed())
}

/// Asserts a 503 `database_unavailable` with `Retry-After` and no driver text.
fn assert_unavailable(res: &Response, what: &str, port: u16) {
    assert_eq!(res.status, 503, "{what}: {}", res.body);
    assert_eq!(res.error_code(), "database_unavailable", "{what}");
    assert!(res.header("retry-after").is_some_and(|v| v.parse::<u64>().is_ok()), "{what}: {:?}", res.headers);
    for leaked in ["127.0.0.1", &port.to_string(), "refused", "connection to server", "timed out", "postgres"] {
        assert!(!res.body.contains(leaked), "{what}: body contains {leaked:?}: {}", res.body);
    }
}

#[test]
fn a_database_outage_fails_fast_and_recovers_by_itself() {
    let cluster = PgCluster::start("outage");
    let url = cluster.url();
    let server = Server::start("pg-outage", &[("DATABASE_URL", url.as_str())]);
    let port = cluster.port;

    let list = server.get("/api/projects");
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()["count"], SEEDED_PROJECTS);
    let health = server.get("/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["database"], "postgres");

    cluster.stop();
    // The first request finds out: it may wait up to the pool's timeout.
    let (first, first_took) = timed(|| server.get("/api/projects"));
    assert_unavailable(&first, "first request", port);
    assert!(first_took < POOL_CONNECTION_TIMEOUT * 3, "the first request took {first_took:?}");

    // From now on the outage is known: no request waits on the pool.
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let path = match i % 4 {
            0 => "/api/projects".to_owned(),
            1 => "/api/projects/1".to_owned(),
            2 => "/api/projects/2/report".to_owned(),
            // A search no earlier request cached.
            _ => format!("/api/plants?search=oak&page={}", 1 + i),
        };
        let (res, took) = timed(|| server.get(&path));
        assert_unavailable(&res, &path, port);
        assert!(took < LATCHED_BOUND, "{path} took {took:?} with the outage known");
        slowest = slowest.max(took);
    }
    let (write, took) = timed(|| server.send("POST", "/api/projects", r#"{"name":"Pond","client":"Town","budget":5}"#));
    assert_unavailable(&write, "POST /api/projects", port);
    assert!(took < LATCHED_BOUND, "POST took {took:?}");
    let (health, took) = timed(|| server.get("/health"));
    assert_eq!(health.status, 503, "{}", health.body);
    assert_eq!(health.json()["database"], "down");
    assert_eq!(health.json()["backend"], "postgres");
    assert!(health.header("retry-after").is_some());
    assert!(took < LATCHED_BOUND, "/health took {took:?}");

    // The database returns on the same port: the service follows by itself.
    cluster.resume();
    let back = Instant::now();
    let deadline = back + Duration::from_secs(30);
    let recovered = loop {
        let res = server.get("/api/projects");
        if res.status == 200 {
            break res;
        }
        assert_unavailable(&res, "while recovering", port);
        assert!(Instant::now() < deadline, "not recovered {:?} after the database returned", back.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    };
    let recovery = back.elapsed();
    assert_eq!(recovered.json()["count"], SEEDED_PROJECTS);
    let health = server.get("/health");
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.json()["database"], "postgres");
    let created = server.send("POST", "/api/projects", r#"{"name":"Pond","client":"Town","budget":5}"#);
    assert_eq!(created.status, 201, "{}", created.body);
    eprintln!(
        "outage: first 503 after {first_took:?}; slowest latched 503 {slowest:?}; recovered {recovery:?} after restart"
    );
}
