//! The monitor on SQLite: timing, fingerprints, failures, slow queries,
//! transactions and r2d2 pools.

use std::sync::Arc;

use diesel::{
    connection::SimpleConnection,
    prelude::*,
    r2d2::{ConnectionManager, Pool},
    sql_query,
    sql_types::Integer,
};
use perf_core::{MetricsSource, ThresholdStore, Thresholds, Window};
use perf_db::{QueryMonitor, TRANSACTION_FINGERPRINT};

use crate::{Item, fingerprints_mentioning, recording_monitor, sqlite, store};

fn seeded() -> (SqliteConnection, Arc<perf_core::testing::RecordingRecorder>) {
    let mut conn = sqlite();
    let (monitor, recorder) = recording_monitor();
    conn.set_instrumentation(monitor);
    conn.batch_execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").unwrap();
    for id in 1..=3 {
        sql_query(format!("INSERT INTO items (id, name) VALUES ({id}, 'item {id}')")).execute(&mut conn).unwrap();
    }
    (conn, recorder)
}

#[test]
fn every_query_is_recorded_with_its_sql() {
    let (mut conn, recorder) = seeded();
    let rows: Vec<Item> =
        sql_query("SELECT id, name FROM items WHERE id = ?").bind::<Integer, _>(2).load(&mut conn).unwrap();
    assert_eq!(rows[0].name, "item 2");
    let queries = recorder.queries.lock();
    let select = queries.iter().rfind(|q| q.sql.starts_with("SELECT id, name FROM items")).unwrap();
    assert!(select.ok);
    // Bind values never leave the monitor by default.
    assert_eq!(select.sql, "SELECT id, name FROM items WHERE id = ?");
    assert_eq!(select.fingerprint, "SELECT id, name FROM items WHERE id = ?");
    assert_eq!(select.scope, None);
    assert!(select.duration > std::time::Duration::ZERO);
}

#[test]
fn a_string_literal_that_looks_like_the_bind_marker_is_kept() {
    let (mut conn, recorder) = seeded();
    let sql = "SELECT id, name FROM items WHERE name <> ' -- binds: [1]' AND id = ?";
    let rows: Vec<Item> = sql_query(sql).bind::<Integer, _>(3).load(&mut conn).unwrap();
    assert_eq!(rows.len(), 1);
    let queries = recorder.queries.lock();
    let select = queries.iter().rfind(|q| q.sql.starts_with("SELECT id, name FROM items")).unwrap();
    assert_eq!(select.sql, sql);
    assert_eq!(select.fingerprint, "SELECT id, name FROM items WHERE name <> ? AND id = ?");
}

#[test]
fn literal_variants_share_one_fingerprint() {
    let (_conn, recorder) = seeded();
    let inserts = fingerprints_mentioning(&recorder, "INSERT INTO items");
    assert_eq!(inserts.len(), 3);
    assert!(inserts.iter().all(|f| f == "INSERT INTO items(id, name) VALUES (?, ?)"), "{inserts:?}");
}

#[test]
fn in_lists_of_different_lengths_share_one_fingerprint() {
    let (mut conn, recorder) = seeded();
    sql_query("SELECT id, name FROM items WHERE id IN (1, 2)").load::<Item>(&mut conn).unwrap();
    sql_query("SELECT id, name FROM items WHERE id IN (1, 2, 3)").load::<Item>(&mut conn).unwrap();
    let fps = fingerprints_mentioning(&recorder, "WHERE id IN");
    assert_eq!(fps, vec!["SELECT id, name FROM items WHERE id IN (...)"; 2]);
}

#[test]
fn failed_queries_are_recorded_and_returned() {
    let (mut conn, recorder) = seeded();
    let err = sql_query("SELECT * FROM no_such_table").execute(&mut conn).unwrap_err();
    assert!(err.to_string().contains("no_such_table"), "{err}");
    let queries = recorder.queries.lock();
    let failed = queries.iter().find(|q| q.sql.contains("no_such_table")).unwrap();
    assert!(!failed.ok);
    // The connection keeps working after a failure.
    drop(queries);
    assert_eq!(sql_query("SELECT id, name FROM items").load::<Item>(&mut conn).unwrap().len(), 3);
}

#[test]
fn slow_queries_reach_the_store_ring_with_their_sql() {
    let (store, thresholds) = store(Thresholds { slow_query_threshold: 1e-9, ..Thresholds::DEVELOPMENT });
    let mut conn = sqlite();
    conn.set_instrumentation(QueryMonitor::new(store.clone()).with_thresholds(thresholds));
    conn.batch_execute("CREATE TABLE t (id INTEGER)").unwrap();
    sql_query("SELECT count(*) AS id, 'x' AS name FROM t WHERE id > 41").load::<Item>(&mut conn).unwrap();
    let snap = store.snapshot(Window::minutes(5).unwrap());
    let slow = snap.slow_queries.iter().find(|s| s.sql.contains("WHERE id > 41")).unwrap();
    assert_eq!(slow.fingerprint, "SELECT count(*) AS id, ? AS name FROM t WHERE id > ?");
    assert!(slow.ok);
    // Run outside any request scope: a background query, kept apart from request figures.
    assert_eq!(slow.scope, None);
    assert!(snap.query_stats.is_empty());
    let stats = snap.background_query_stats.iter().find(|q| q.fingerprint == slow.fingerprint).unwrap();
    assert_eq!(stats.stats.count, 1);
    let create = snap.background_query_stats.iter().find(|q| q.fingerprint.starts_with("CREATE TABLE")).unwrap();
    assert_eq!(create.kind, perf_core::QueryKind::Schema);
}

#[test]
fn slow_threshold_is_read_at_run_time() {
    let (store, thresholds) = store(Thresholds { slow_query_threshold: 3_600.0, ..Thresholds::DEVELOPMENT });
    let mut conn = sqlite();
    conn.set_instrumentation(QueryMonitor::new(store.clone()).with_thresholds(thresholds.clone()));
    conn.batch_execute("SELECT 1 AS before_change").unwrap();
    thresholds.set_thresholds(Thresholds { slow_query_threshold: 1e-9, ..Thresholds::DEVELOPMENT }).unwrap();
    conn.batch_execute("SELECT 2 AS after_change").unwrap();
    let snap = store.snapshot(Window::minutes(5).unwrap());
    assert!(snap.slow_queries.iter().any(|s| s.sql.contains("after_change")));
    assert!(!snap.slow_queries.iter().any(|s| s.sql.contains("before_change")));
}

#[test]
fn failed_queries_reach_the_store_as_errors() {
    let (store, thresholds) = store(Thresholds::DEVELOPMENT);
    let mut conn = sqlite();
    conn.set_instrumentation(QueryMonitor::new(store.clone()).with_thresholds(thresholds));
    assert!(conn.batch_execute("SELECT * FROM missing_table").is_err());
    let snap = store.snapshot(Window::minutes(5).unwrap());
    let stats = snap.background_query_stats.iter().find(|q| q.fingerprint.contains("missing_table")).unwrap();
    assert_eq!(stats.stats.errors, 1);
    assert!(snap.slow_queries.iter().any(|s| s.sql.contains("missing_table") && !s.ok));
}

#[test]
fn transactions_are_recorded_as_units() {
    let (mut conn, recorder) = seeded();
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        sql_query("UPDATE items SET name = 'x' WHERE id = 1").execute(conn)?;
        Ok(())
    })
    .unwrap();
    let _ = conn.transaction::<(), _, _>(|conn| {
        sql_query("UPDATE items SET name = 'y' WHERE id = 2").execute(conn)?;
        Err(diesel::result::Error::RollbackTransaction)
    });
    let queries = recorder.queries.lock();
    let units: Vec<_> = queries.iter().filter(|q| q.fingerprint == TRANSACTION_FINGERPRINT).collect();
    assert_eq!(units.len(), 2, "{units:?}");
    assert!(units[0].ok);
    assert!(!units[1].ok);
    assert!(queries.iter().any(|q| q.fingerprint == "BEGIN"));
    assert!(queries.iter().any(|q| q.fingerprint == "COMMIT"));
    assert!(queries.iter().any(|q| q.fingerprint == "ROLLBACK"));
}

#[test]
fn pool_customizer_monitors_every_pooled_connection() {
    let (monitor, recorder) = recording_monitor();
    let pool: Pool<ConnectionManager<SqliteConnection>> = Pool::builder()
        .max_size(2)
        .connection_customizer(Box::new(monitor))
        .build(ConnectionManager::<SqliteConnection>::new(":memory:"))
        .unwrap();
    let mut a = pool.get().unwrap();
    let mut b = pool.get().unwrap();
    a.batch_execute("SELECT 1 AS from_a").unwrap();
    b.batch_execute("SELECT 2 AS from_b").unwrap();
    let queries = recorder.queries.lock();
    assert!(queries.iter().any(|q| q.sql.contains("from_a")));
    assert!(queries.iter().any(|q| q.sql.contains("from_b")));
}

#[test]
fn huge_bulk_inserts_fold_to_one_fingerprint() {
    let (mut conn, recorder) = seeded();
    for rows in [5_000, 7_000] {
        let values: Vec<String> = (0..rows).map(|i| format!("({}, 'bulk {i}')", 100 + i + rows * 10)).collect();
        conn.batch_execute(&format!("INSERT INTO items (id, name) VALUES {}", values.join(", "))).unwrap();
    }
    sql_query("SELECT id, name FROM items WHERE id = 1").load::<Item>(&mut conn).unwrap();
    let queries = recorder.queries.lock();
    let bulk: Vec<_> = queries.iter().filter(|q| q.sql.contains("'bulk ")).collect();
    assert_eq!(bulk.len(), 2);
    assert!(bulk.iter().all(|q| q.fingerprint == "INSERT INTO items(id, name) VALUES (?, ?)" && q.ok));
    assert!(bulk[1].sql.len() > 100_000);
    assert_eq!(queries.last().unwrap().fingerprint, "SELECT id, name FROM items WHERE id = ?");
}
