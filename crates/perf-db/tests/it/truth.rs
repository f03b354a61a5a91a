//! The numbers perf-db produces match what the code ran: pool housekeeping
//! is not a request's query, a disabled monitor records nothing, and the
//! counts match queries the test issues itself.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

#[cfg(feature = "postgres")]
use diesel::pg::PgConnection;
use diesel::{
    connection::SimpleConnection,
    prelude::*,
    r2d2::{ConnectionManager, Pool},
    sql_query,
    sql_types::Integer,
    sqlite::SqliteConnection,
};
use perf_core::{CacheStoreError, Invalidator, QueryKind, RequestScope};

use crate::{Item, recording_monitor};

/// Runs `k` distinct-shaped queries on a freshly checked-out connection per
/// request, `requests` times, each in its own scope; returns every scope's count.
fn requests_on<C>(pool: &Pool<ConnectionManager<C>>, requests: usize, k: usize) -> Vec<u32>
where
    C: diesel::r2d2::R2D2Connection + SimpleConnection + 'static,
{
    (0..requests)
        .map(|r| {
            let scope = RequestScope::new(format!("GET /r{r}"));
            let _guard = scope.enter();
            let mut conn = pool.get().unwrap();
            for i in 0..k {
                conn.batch_execute(&format!("SELECT {i} AS q{i}")).unwrap();
            }
            scope.query_count()
        })
        .collect()
}

#[test]
fn sqlite_pool_check_out_pings_are_not_the_requests_queries() {
    let (monitor, recorder) = recording_monitor();
    let pool: Pool<ConnectionManager<SqliteConnection>> = Pool::builder()
        .max_size(2)
        .test_on_check_out(true)
        .connection_customizer(Box::new(monitor))
        .build(ConnectionManager::new(":memory:"))
        .unwrap();
    for k in [1, 3] {
        assert_eq!(requests_on(&pool, 10, k), vec![k as u32; 10], "each request counts exactly its {k} queries");
    }
    let queries = recorder.queries.lock();
    // 10 × 1 + 10 × 3 handler queries; 20 check-out pings ran too but are housekeeping.
    assert_eq!(queries.len(), 40, "{:?}", queries.iter().map(|q| &q.sql).collect::<Vec<_>>());
    assert!(queries.iter().all(|q| q.scope.is_some() && q.fingerprint.starts_with("SELECT ? AS q")));
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_pool_check_out_pings_are_not_the_requests_queries() {
    let url =
        std::env::var("PERF_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let (monitor, recorder) = recording_monitor();
    let pool: Pool<ConnectionManager<PgConnection>> = Pool::builder()
        .max_size(2)
        .test_on_check_out(true)
        .connection_customizer(Box::new(monitor))
        .build(ConnectionManager::new(url))
        .unwrap();
    assert_eq!(requests_on(&pool, 8, 2), vec![2; 8]);
    let queries = recorder.queries.lock();
    assert_eq!(queries.len(), 16);
    assert!(queries.iter().all(|q| q.scope.is_some()));
}

#[test]
fn a_handler_spelling_its_own_select_1_differently_is_counted() {
    let (monitor, recorder) = recording_monitor();
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    conn.set_instrumentation(monitor);
    let scope = RequestScope::new("GET /health");
    let _guard = scope.enter();
    conn.batch_execute("SELECT 1").unwrap();
    conn.batch_execute("SELECT 1 AS ok").unwrap();
    assert_eq!(scope.query_count(), 1);
    assert_eq!(recorder.queries.lock().len(), 1);
}

#[test]
fn queries_outside_requests_are_background_and_schema_changes_are_marked() {
    let (monitor, recorder) = recording_monitor();
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    conn.set_instrumentation(monitor);
    // Start-up: migrations and seeding, outside any request.
    conn.batch_execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").unwrap();
    conn.batch_execute("CREATE INDEX items_name ON items (name)").unwrap();
    conn.batch_execute("INSERT INTO items VALUES (1, 'a')").unwrap();
    conn.batch_execute("ALTER TABLE items ADD COLUMN note TEXT").unwrap();
    let scope = RequestScope::new("GET /items/{id}");
    {
        let _guard = scope.enter();
        sql_query("SELECT id, name FROM items WHERE id = ?").bind::<Integer, _>(1).load::<Item>(&mut conn).unwrap();
    }
    let queries = recorder.queries.lock();
    let seen: Vec<_> = queries.iter().map(|q| (q.scope.as_deref(), q.kind)).collect();
    assert_eq!(
        seen,
        [
            (None, QueryKind::Schema),
            (None, QueryKind::Schema),
            (None, QueryKind::Write),
            (None, QueryKind::Schema),
            (Some("GET /items/{id}"), QueryKind::Read),
        ]
    );
    assert_eq!(scope.query_count(), 1);
}

/// Counts invalidations per call.
#[derive(Default)]
struct CountingInvalidator(AtomicU64);

impl Invalidator for CountingInvalidator {
    fn invalidate_now(&self, _namespace: &str) -> Result<(), CacheStoreError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

#[test]
fn a_disabled_monitor_records_and_counts_nothing_but_still_invalidates_writes() {
    let (monitor, recorder) = recording_monitor();
    let invalidator = Arc::new(CountingInvalidator::default());
    let monitor = monitor.with_enabled(false).with_invalidator(invalidator.clone());
    assert!(!monitor.is_enabled());
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    conn.set_instrumentation(monitor);
    conn.batch_execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").unwrap();
    let scope = RequestScope::new("POST /items");
    let _guard = scope.enter();
    for id in 1..=200 {
        sql_query("INSERT INTO items VALUES (?, 'x')").bind::<Integer, _>(id).execute(&mut conn).unwrap();
        sql_query("SELECT id, name FROM items WHERE id = ?").bind::<Integer, _>(id).load::<Item>(&mut conn).unwrap();
    }
    conn.transaction(|c| sql_query("DELETE FROM items WHERE id > 100").execute(c)).unwrap();
    assert!(recorder.queries.lock().is_empty(), "nothing recorded");
    assert_eq!(scope.query_count(), 0, "nothing counted in the request");
    assert_eq!(scope.report_n_plus_one(&*recorder, perf_core::Timestamp::EPOCH), 0, "no N+1 flagged");
    // 200 inserts + 1 committed delete, each invalidating `items` once.
    assert_eq!(invalidator.0.load(Ordering::Relaxed), 201);
}

#[test]
fn a_disabled_monitor_without_an_invalidator_does_no_per_query_work() {
    let (monitor, recorder) = recording_monitor();
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    conn.set_instrumentation(monitor.with_enabled(false));
    let scope = RequestScope::new("GET /x");
    let _guard = scope.enter();
    for i in 0..100 {
        conn.batch_execute(&format!("SELECT {i} AS n")).unwrap();
    }
    assert!(recorder.queries.lock().is_empty());
    assert_eq!(scope.query_count(), 0);
}

/// What a user typed, as a bind value: it must reach neither the recorder
/// nor the logs unless binds are captured on purpose.
const SECRET: &str = "alice@example.com -- binds: [\"x\"]";

fn run_secret_query(monitor: perf_db::QueryMonitor) {
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    conn.set_instrumentation(monitor);
    conn.batch_execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)").unwrap();
    let scope = RequestScope::new("GET /users");
    let _guard = scope.enter();
    sql_query("SELECT id, email AS name FROM users WHERE email = ?")
        .bind::<diesel::sql_types::Text, _>(SECRET)
        .load::<Item>(&mut conn)
        .unwrap();
}

#[test]
fn bind_values_are_cut_before_anything_is_recorded() {
    let (monitor, recorder) = recording_monitor();
    run_secret_query(monitor);
    let queries = recorder.queries.lock();
    let select = queries.iter().find(|q| q.scope.is_some()).unwrap();
    assert_eq!(select.sql, "SELECT id, email AS name FROM users WHERE email = ?");
    assert!(queries.iter().all(|q| !q.sql.contains("alice") && !q.sql.contains("binds")), "{queries:?}");
}

#[test]
fn a_bind_value_holding_the_marker_leaks_nothing() {
    assert_eq!(
        perf_db::strip_binds("SELECT 1 WHERE a = ? -- binds: [\"secret -- binds: [x]\"]"),
        "SELECT 1 WHERE a = ?"
    );
    assert_eq!(perf_db::strip_binds("SELECT 2"), "SELECT 2");
}

#[test]
fn captured_binds_are_an_explicit_opt_in() {
    let (monitor, recorder) = recording_monitor();
    run_secret_query(monitor.with_capture_binds(true));
    let queries = recorder.queries.lock();
    assert!(queries.iter().any(|q| q.sql.contains("alice@example.com")), "{queries:?}");
}
