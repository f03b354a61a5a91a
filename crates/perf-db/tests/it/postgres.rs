//! The monitor and cached queries on the real PostgreSQL. Every test uses its
//! own table and drops it at the end.

use std::{sync::Arc, time::Duration};

use diesel::{connection::SimpleConnection, pg::PgConnection, prelude::*, sql_query, sql_types::Integer};
use perf_core::{
    MetricsSource, RequestScope, Thresholds, Window, bind_current,
    testing::{MapCache, RecordingRecorder},
};
use perf_db::{LoadCached, QueryCache, QueryMonitor};

use crate::{Item, pg, recording_monitor, store, unique_table};

/// A monitored connection with a fresh table of `rows` items; drops the table on drop.
struct Fixture {
    conn: PgConnection,
    table: String,
    recorder: Arc<RecordingRecorder>,
}

impl Fixture {
    fn new(rows: i32, monitor: Option<QueryMonitor>) -> Fixture {
        let mut conn = pg();
        let table = unique_table("perf_db_it");
        conn.batch_execute(&format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")).unwrap();
        for id in 1..=rows {
            sql_query(format!("INSERT INTO {table} (id, name) VALUES ($1, $2)"))
                .bind::<Integer, _>(id)
                .bind::<diesel::sql_types::Text, _>(format!("item {id}"))
                .execute(&mut conn)
                .unwrap();
        }
        let (default_monitor, recorder) = recording_monitor();
        conn.set_instrumentation(monitor.unwrap_or(default_monitor));
        Fixture { conn, table, recorder }
    }

    fn select_one(&mut self, id: i32) -> Vec<Item> {
        sql_query(format!("SELECT id, name FROM {} WHERE id = $1", self.table))
            .bind::<Integer, _>(id)
            .load(&mut self.conn)
            .unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.conn.batch_execute(&format!("DROP TABLE IF EXISTS {}", self.table));
    }
}

#[test]
fn pg_queries_are_timed_and_grouped_by_fingerprint() {
    let mut f = Fixture::new(3, None);
    for id in 1..=3 {
        assert_eq!(f.select_one(id)[0].id, id);
    }
    let expected = format!("SELECT id, name FROM {} WHERE id = ?", f.table);
    let queries = f.recorder.queries.lock();
    let selects: Vec<_> = queries.iter().filter(|q| q.fingerprint == expected).collect();
    assert_eq!(selects.len(), 3, "{queries:?}");
    assert!(selects.iter().all(|q| q.ok && q.duration > Duration::ZERO));
    assert!(selects[0].sql.contains("$1") && !selects[0].sql.contains("binds"), "{}", selects[0].sql);
}

#[test]
fn pg_failures_are_recorded_and_returned() {
    let mut f = Fixture::new(1, None);
    let err = sql_query(format!("INSERT INTO {} (id, name) VALUES (1, 'dup')", f.table)).execute(&mut f.conn);
    assert!(err.is_err());
    let queries = f.recorder.queries.lock();
    let failed = queries.iter().find(|q| q.sql.contains("'dup'")).unwrap();
    assert!(!failed.ok);
    assert_eq!(failed.fingerprint, format!("INSERT INTO {}(id, name) VALUES (?, ?)", f.table));
}

#[test]
fn pg_slow_queries_reach_the_store_ring() {
    let (store, thresholds) = store(Thresholds { slow_query_threshold: 0.001, ..Thresholds::DEVELOPMENT });
    let monitor = QueryMonitor::new(store.clone()).with_thresholds(thresholds);
    let mut f = Fixture::new(1, Some(monitor));
    f.conn.batch_execute("SELECT pg_sleep(0.01)").unwrap();
    f.select_one(1);
    let snap = store.snapshot(Window::minutes(5).unwrap());
    let slow = snap.slow_queries.iter().find(|s| s.sql.contains("pg_sleep")).unwrap();
    assert_eq!(slow.fingerprint, "SELECT pg_sleep(?)");
    assert!(slow.duration >= 0.01);
}

#[test]
fn pg_n_plus_one_through_a_bound_thread() {
    let mut f = Fixture::new(6, None);
    let scope = RequestScope::new("GET /pg/items");
    let _guard = scope.enter();
    let table = f.table.clone();
    let mut conn = std::mem::replace(&mut f.conn, pg());
    let task = bind_current(move || {
        for id in 1..=6 {
            sql_query(format!("SELECT id, name FROM {table} WHERE id = $1"))
                .bind::<Integer, _>(id)
                .load::<Item>(&mut conn)
                .unwrap();
        }
        conn
    });
    f.conn = std::thread::spawn(task).join().unwrap();
    assert_eq!(scope.query_count(), 6);
    assert!(f.recorder.n_plus_one.lock().is_empty(), "findings are reported when the request ends");
    assert_eq!(scope.report_n_plus_one(&*f.recorder, perf_core::Timestamp::EPOCH), 1);
    let findings = f.recorder.n_plus_one.lock().clone();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].scope, "GET /pg/items");
    // The request's 6 runs, not the threshold of 5.
    assert_eq!(findings[0].count, 6);
    assert_eq!(findings[0].fingerprint, format!("SELECT id, name FROM {} WHERE id = ?", f.table));
}

#[test]
fn pg_cached_query_sees_writes_and_ignores_rollbacks() {
    let cache = QueryCache::new(Arc::new(MapCache::default()));
    let (monitor, _) = recording_monitor();
    let mut f = Fixture::new(2, Some(monitor.with_invalidator(Arc::new(cache.clone()))));
    let ttl = Duration::from_secs(60);
    let load = |f: &mut Fixture| -> Vec<Item> {
        sql_query(format!("SELECT id, name FROM {} ORDER BY id", f.table))
            .load_cached(&mut f.conn, &cache, ttl)
            .unwrap()
    };
    assert_eq!(load(&mut f).len(), 2);
    assert_eq!(load(&mut f).len(), 2);
    let upper = f.table.to_uppercase();
    // A write in a rolled-back transaction changes nothing.
    let _ = f.conn.transaction::<(), _, _>(|conn| {
        sql_query(format!("INSERT INTO \"{}\" (id, name) VALUES (3, 'c')", f.table)).execute(conn)?;
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert_eq!(load(&mut f).len(), 2);
    // A committed write through differently written SQL invalidates the entry.
    f.conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            sql_query(format!("INSERT INTO {upper} (id, name) VALUES (3, 'c')")).execute(conn)
        })
        .unwrap();
    let rows = load(&mut f);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2].name, "c");
    // An autocommit delete invalidates at once.
    sql_query(format!("DELETE FROM {} WHERE id = 1", f.table)).execute(&mut f.conn).unwrap();
    assert_eq!(load(&mut f).len(), 2);
}

#[actix_web::test]
async fn pg_queries_in_web_block_are_attributed_to_the_request() {
    use actix_web::{App, HttpResponse, test as web_test, web};

    type Db = web::Data<(Arc<parking_lot::Mutex<PgConnection>>, String)>;

    async fn handler(db: Db) -> HttpResponse {
        let scope = RequestScope::new("GET /pg/block");
        let (conn, table) = db.get_ref().clone();
        // `bind_current` must run inside the instrumented future, where the
        // scope is current: hence the `async move` block.
        let rows = scope
            .instrument(async move {
                web::block(bind_current(move || {
                    let mut conn = conn.lock();
                    (1..=2)
                        .map(|id| {
                            sql_query(format!("SELECT id, name FROM {table} WHERE id = $1"))
                                .bind::<Integer, _>(id)
                                .load::<Item>(&mut *conn)
                        })
                        .collect::<Result<Vec<_>, _>>()
                }))
                .await
            })
            .await
            .unwrap()
            .unwrap();
        HttpResponse::Ok().body(format!("{},{}", rows.len(), scope.query_count()))
    }

    let mut f = Fixture::new(2, None);
    let conn = Arc::new(parking_lot::Mutex::new(std::mem::replace(&mut f.conn, pg())));
    let app = web_test::init_service(
        App::new().app_data(web::Data::new((conn.clone(), f.table.clone()))).route("/", web::get().to(handler)),
    )
    .await;
    let body = web_test::call_and_read_body(&app, web_test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(&body[..], b"2,2");
    let expected = format!("SELECT id, name FROM {} WHERE id = ?", f.table);
    let queries = f.recorder.queries.lock();
    let selects: Vec<_> = queries.iter().filter(|q| q.fingerprint == expected).collect();
    assert_eq!(selects.len(), 2);
    assert!(selects.iter().all(|q| q.scope.as_deref() == Some("GET /pg/block")));
}

#[test]
fn pg_pool_customizer_monitors_pooled_connections() {
    use diesel::r2d2::{ConnectionManager, Pool};
    let url =
        std::env::var("PERF_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let (monitor, recorder) = recording_monitor();
    let pool: Pool<ConnectionManager<PgConnection>> = Pool::builder()
        .max_size(2)
        .connection_customizer(Box::new(monitor))
        .build(ConnectionManager::<PgConnection>::new(url))
        .unwrap();
    let mut a = pool.get().unwrap();
    let mut b = pool.get().unwrap();
    a.batch_execute("SELECT 1 AS pg_pool_a").unwrap();
    b.batch_execute("SELECT 2 AS pg_pool_b").unwrap();
    let queries = recorder.queries.lock();
    assert!(queries.iter().any(|q| q.fingerprint == "SELECT ? AS pg_pool_a"));
    assert!(queries.iter().any(|q| q.fingerprint == "SELECT ? AS pg_pool_b"));
}
