//! The `otel` feature against a real OTLP receiver (oteltap): a real actix
//! server on the facade serves requests and queries, the receiver gets them
//! under the semantic-convention names with the test's own counts; with the
//! receiver down the server keeps answering, failures are counted, and the
//! last clone's drop is bounded.

use std::{
    net::{SocketAddr, TcpListener},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix_web::{App, HttpResponse, HttpServer, web};
use diesel::r2d2::{ConnectionManager, Pool};
use perf_core::MetricsSource as _;
use perfkit::{Perfkit, perf_otel::OtelConfig};

use crate::oteltap::{OtelTap, attr, bucket_counts, count, points};
use crate::{DbPool, config};

pub(crate) fn otel(endpoint: &str, interval_ms: u64, timeout_ms: u64) -> OtelConfig {
    let (interval, timeout) = (interval_ms.to_string(), timeout_ms.to_string());
    let mut c = OtelConfig::from_lookup(|name| match name {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.to_owned()),
        "OTEL_METRIC_EXPORT_INTERVAL" => Some(interval.clone()),
        "OTEL_EXPORTER_OTLP_TIMEOUT" => Some(timeout.clone()),
        "OTEL_SERVICE_NAME" => Some("perfkit-otel-test".to_owned()),
        _ => None,
    })
    .unwrap();
    c.db_system_name = Some("sqlite".to_owned());
    c
}

async fn boom() -> HttpResponse {
    HttpResponse::InternalServerError().finish()
}

/// Serves the facade's app (one route running a diesel query, one failing)
/// on a real one-worker server while `client` runs on the blocking pool.
pub(crate) fn serve(perf: &Perfkit, client: impl FnOnce(SocketAddr) + Send + 'static) {
    let pool: DbPool = Pool::builder()
        .max_size(1)
        .connection_customizer(Box::new(perf.query_monitor()))
        .build(ConnectionManager::new(":memory:"))
        .unwrap();
    let perf = perf.clone();
    let system = actix_web::rt::System::new();
    let (addr, handle) = system.block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .wrap(perf.monitor())
                .app_data(web::Data::new(pool.clone()))
                .route("/count", web::get().to(crate::count))
                .route("/boom", web::get().to(boom))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        (addr, handle)
    });
    system.block_on(async move {
        let outcome = actix_web::rt::task::spawn_blocking(move || client(addr)).await;
        handle.stop(true).await;
        outcome.unwrap();
    });
}

/// GETs `path` `n` times; the statuses the server answered, counted by the test.
fn get(addr: SocketAddr, path: &str, n: usize, statuses: &[(u16, &AtomicU64)]) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    for _ in 0..n {
        let status = agent.get(&format!("http://{addr}{path}")).call().unwrap().status().as_u16();
        let (_, counter) = statuses.iter().find(|(s, _)| *s == status).unwrap_or_else(|| panic!("{path}: {status}"));
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn the_receiver_gets_the_served_requests_and_queries() {
    let tap = OtelTap::start();
    let perf = Perfkit::builder(config()).otel(otel(&tap.endpoint(), 200, 2_000)).build().unwrap();
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (ok2, failed2) = (ok.clone(), failed.clone());
    serve(&perf, move |addr| {
        get(addr, "/count", 7, &[(200, &ok2)]);
        get(addr, "/boom", 2, &[(500, &failed2)]);
    });
    let (ok, failed) = (ok.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    assert_eq!((ok, failed), (7, 2));

    let route_point = |route: &'static str, code: &'static str, n: u64| {
        move |m: &serde_json::Value| {
            m["name"] == "http.server.request.duration"
                && points(m).iter().any(|p| {
                    attr(p, "http.route").as_deref() == Some(route)
                        && attr(p, "http.response.status_code").as_deref() == Some(code)
                        && count(p) == n
                })
        }
    };
    let metric = tap.wait_for("request histogram with the served counts", |m| {
        route_point("/count", "200", ok)(m) && route_point("/boom", "500", failed)(m)
    });
    assert_eq!(metric["unit"], "s");
    assert_eq!(metric["histogram"]["aggregationTemporality"], 2, "cumulative");

    // The store's own totals are the ground truth for the buckets.
    let totals = perf.store().totals();
    let store_count = totals.endpoints.iter().find(|e| e.route == "/count").unwrap();
    let store_ok = store_count.statuses.iter().find(|s| s.status == "200").unwrap();
    let all = points(&metric);
    let exported = all.iter().find(|p| attr(p, "http.route").as_deref() == Some("/count")).unwrap();
    assert_eq!(attr(exported, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(attr(exported, "error.type"), None);
    let mut cumulative = Vec::new();
    let mut running = 0;
    for c in bucket_counts(exported) {
        running += c;
        cumulative.push(running);
    }
    assert_eq!(cumulative.last(), Some(&ok), "the buckets add up to the count");
    assert_eq!(&cumulative[..store_ok.buckets.len()], store_ok.buckets.as_slice());
    let bounds: Vec<f64> = exported["explicitBounds"].as_array().unwrap().iter().map(|b| b.as_f64().unwrap()).collect();
    assert_eq!(bounds, totals.bucket_bounds);
    let boom = all.iter().find(|p| attr(p, "http.route").as_deref() == Some("/boom")).unwrap();
    assert_eq!(attr(boom, "error.type").as_deref(), Some("500"));

    // Never more than the test served: the totals are cumulative, not summed across exports.
    for m in tap.metrics().iter().filter(|m| m["name"] == "http.server.request.duration") {
        for p in points(m) {
            if attr(&p, "http.route").as_deref() == Some("/count") {
                assert!(count(&p) <= ok, "{p:#}");
            }
        }
    }

    let query = totals.queries.iter().find(|q| !q.background && q.totals.count == ok).unwrap();
    let fingerprint = query.fingerprint.clone();
    let db = tap.wait_for("query histogram", |m| {
        m["name"] == "db.client.operation.duration"
            && points(m).iter().any(|p| attr(p, "db.query.summary").as_deref() == Some(&fingerprint) && count(p) == ok)
    });
    assert_eq!(db["unit"], "s");
    let p = points(&db).into_iter().find(|p| attr(p, "db.query.summary").as_deref() == Some(&fingerprint)).unwrap();
    assert_eq!(attr(&p, "db.system.name").as_deref(), Some("sqlite"));
    assert_eq!(attr(&p, "perfkit.query.origin").as_deref(), Some("request"));
    assert_eq!(bucket_counts(&p).iter().sum::<u64>(), ok);

    let stats = perf.otel_stats().unwrap();
    assert!(stats.succeeded >= 1 && stats.failed == 0, "{stats:?}");
}

#[test]
fn with_the_receiver_down_the_app_keeps_answering_and_failures_are_counted() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let timeout = Duration::from_millis(500);
    let perf = Perfkit::builder(config()).otel(otel(&format!("http://127.0.0.1:{port}"), 20, 500)).build().unwrap();
    let ok = Arc::new(AtomicU64::new(0));
    let (ok2, perf2) = (ok.clone(), perf.clone());
    serve(&perf, move |addr| {
        get(addr, "/count", 5, &[(200, &ok2)]);
        // Wait for failed exports while the server runs, then serve more.
        let deadline = Instant::now() + Duration::from_secs(20);
        while perf2.otel_stats().unwrap().failed < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        get(addr, "/count", 5, &[(200, &ok2)]);
        drop(perf2);
    });
    assert_eq!(ok.load(Ordering::SeqCst), 10, "every request answered 200");
    let stats = perf.otel_stats().unwrap();
    assert!(stats.failed >= 3 && stats.succeeded == 0, "{stats:?}");
    assert_eq!(perf.store().totals().endpoints.iter().find(|e| e.route == "/count").unwrap().totals.count, 10);

    // The last clone's drop makes one last (failing) export and joins the thread.
    let asked = Instant::now();
    drop(perf);
    assert!(asked.elapsed() < timeout * 2, "dropping the last clone took {:?}", asked.elapsed());
}

#[test]
fn without_an_endpoint_no_exporter_runs() {
    let perf = Perfkit::builder(config()).otel(OtelConfig::from_lookup(|_| None).unwrap()).build().unwrap();
    assert_eq!(perf.otel_stats(), None);
}
