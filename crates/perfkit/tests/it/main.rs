//! Integration tests of the perfkit facade: one context reaches every part,
//! the parts work together on a real SQLite database, and the background
//! work ends with the last handle.
#![allow(clippy::unwrap_used)]

#[cfg(feature = "otel")]
mod otel;
#[cfg(feature = "otel")]
mod oteltap;
mod readme;
#[cfg(feature = "otel")]
mod spans;

use std::{sync::Arc, time::Duration};

use actix_web::{App, test as actix_test, web};
use diesel::{
    prelude::*,
    r2d2::{ConnectionManager, Pool},
};
use perf_core::{Clock as _, ManualClock, MetricsSource as _, ThresholdsPatch, Timestamp, Window};
use perfkit::{CacheKind, PerfConfig, Perfkit, PerfkitError};

type DbPool = Pool<ConnectionManager<SqliteConnection>>;

fn config() -> PerfConfig {
    PerfConfig::builder().memory_monitoring(false).build().unwrap()
}

fn manual() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp::from_unix_micros(1_700_000_000_000_000)))
}

#[test]
fn every_part_holds_the_one_store_thresholds_and_clock() {
    let clock = manual();
    let perf = Perfkit::builder(config()).clock(clock.clone()).build().unwrap();
    let store = perf.store();
    let ctx = perf.context();
    assert!(Arc::ptr_eq(store.thresholds(), ctx.thresholds()));
    assert!(Arc::ptr_eq(perf.state().thresholds(), ctx.thresholds()));
    assert!(Arc::ptr_eq(store.clock(), ctx.clock()));
    assert!(Arc::ptr_eq(perf.state().clock(), ctx.clock()));
    assert!(Arc::ptr_eq(perf.query_monitor().clock(), ctx.clock()));
    clock.advance(Duration::from_secs(90));
    assert_eq!(perf.state().clock().now(), clock.now());

    // A change through the API's handle is the one every part reads.
    let patch = ThresholdsPatch { slow_query_threshold: Some(0.25), ..ThresholdsPatch::default() };
    perf.state().thresholds().update_thresholds(&patch).unwrap();
    assert_eq!(store.thresholds().thresholds().slow_query_threshold, 0.25);
    assert_eq!(perf.cache_kind(), CacheKind::Memory);
}

async fn count(pool: web::Data<DbPool>) -> actix_web::Result<String> {
    let n = perfkit::block(move || -> anyhow::Result<i64> {
        let mut conn = pool.get()?;
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        Ok(diesel::sql_query("SELECT 2 + 3 AS n").get_result::<N>(&mut conn)?.n)
    })
    .await?
    .map_err(actix_web::error::ErrorInternalServerError)?;
    Ok(n.to_string())
}

#[actix_web::test]
async fn a_requests_diesel_queries_and_cache_use_land_in_the_one_store() {
    let perf = Perfkit::builder(config()).build().unwrap();
    let pool: DbPool = Pool::builder()
        .max_size(1)
        .connection_customizer(Box::new(perf.query_monitor()))
        .build(ConnectionManager::new(":memory:"))
        .unwrap();
    let app = actix_test::init_service(
        App::new()
            .wrap(perf.monitor())
            .service(perf.api())
            .app_data(web::Data::new(pool))
            .route("/count", web::get().to(count)),
    )
    .await;
    for _ in 0..3 {
        let body =
            actix_test::call_and_read_body(&app, actix_test::TestRequest::get().uri("/count").to_request()).await;
        assert_eq!(body, "5");
    }
    perf.cache().set("plants:1", &"rose", Duration::from_secs(60)).await.unwrap();
    assert_eq!(perf.cache().get::<String>("plants:1").await.unwrap().as_deref(), Some("rose"));
    assert_eq!(perf.cache().get::<String>("plants:2").await.unwrap(), None);

    let snapshot = perf.store().snapshot(Window::DEFAULT);
    let endpoint = snapshot.endpoints.iter().find(|e| e.route == "/count").unwrap();
    assert_eq!(endpoint.stats.count, 3);
    assert_eq!(endpoint.queries_per_request, 1.0);
    assert_eq!((snapshot.cache.hits(), snapshot.cache.memory.misses), (1, 1));

    let req = actix_test::TestRequest::get().uri("/api/performance/cache/stats").to_request();
    let cache: serde_json::Value = actix_test::call_and_read_body_json(&app, req).await;
    assert_eq!(cache["configured"], true, "{cache}");
}

#[cfg(feature = "analytics")]
#[test]
fn dropping_the_last_handle_stops_the_alert_evaluator() {
    let perf = Perfkit::builder(config()).build().unwrap();
    let analytics = perf.analytics().clone();
    let copy = perf.clone();
    drop(perf);
    // The evaluator thread still runs for the remaining clone, holding its own handle.
    assert!(Arc::strong_count(&analytics) >= 3, "ours, the facade's and the thread's");
    drop(copy);
    assert_eq!(Arc::strong_count(&analytics), 1, "the evaluator thread was joined and let go");
}

#[test]
fn invalid_thresholds_are_a_config_error() {
    let mut config = config();
    config.thresholds.error_rate_threshold = 7.0;
    assert!(matches!(Perfkit::builder(config).build(), Err(PerfkitError::Config(_))));
}

#[cfg(not(feature = "redis"))]
#[test]
fn redis_url_without_the_redis_feature_is_an_error_not_memory() {
    let config =
        PerfConfig::builder().memory_monitoring(false).redis_url("redis://:secret@cache:6379/").build().unwrap();
    let err = Perfkit::builder(config).build().unwrap_err();
    let PerfkitError::RedisNotBuilt { url } = &err else { panic!("{err:?}") };
    assert!(!url.contains("secret"), "{url}");
    assert!(err.to_string().contains("`redis` feature"), "{err}");
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_url_builds_the_tiered_cache() {
    let url = std::env::var("PERF_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let config = PerfConfig::builder().memory_monitoring(false).redis_url(url).build().unwrap();
    let prefix = format!("perfkit-facade-test:{}:", std::process::id());
    let perf = Perfkit::builder(config).cache_prefix(prefix).build().unwrap();
    assert_eq!(perf.cache_kind(), CacheKind::Tiered);
    perf.cache().set("plants:1", &7u32, Duration::from_secs(30)).await.unwrap();
    assert_eq!(perf.cache().get::<u32>("plants:1").await.unwrap(), Some(7));
}
