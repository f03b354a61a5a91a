//! Plans of slow SELECTs, captured on real SQLite (a database file) and the
//! real PostgreSQL, on a connection of the capture's own.

use std::{
    sync::{Arc, mpsc},
    time::Duration,
};

use diesel::{connection::SimpleConnection, prelude::*, sqlite::SqliteConnection};
use perf_core::{
    ManualClock, PerfContext, PlanAccess, PlanBackend, SharedThresholds, Store, StoreConfig, Timestamp,
    testing::RecordingRecorder,
};
use perf_db::{Offer, PLAN_QUEUE, PlanCapture, QueryMonitor};

use crate::unique_table;

const WAIT: Duration = Duration::from_secs(20);

/// A context recording into a fresh `RecordingRecorder`, on a manual clock.
fn context() -> (PerfContext, Arc<RecordingRecorder>, Arc<ManualClock>) {
    let recorder = Arc::new(RecordingRecorder::default());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let thresholds = Arc::new(SharedThresholds::default());
    let source = Arc::new(Store::new(StoreConfig::default(), clock.clone(), thresholds.clone()).unwrap());
    (PerfContext::from_parts(recorder.clone(), source, thresholds, clock.clone()), recorder, clock)
}

/// A SQLite database file with a `plants` table indexed on `zone` only.
fn sqlite_file() -> String {
    let path = std::env::temp_dir().join(format!("{}.sqlite", unique_table("perf_db_plans")));
    let path = path.to_string_lossy().into_owned();
    let mut conn = SqliteConnection::establish(&path).unwrap();
    conn.batch_execute(
        "CREATE TABLE plants (id INTEGER PRIMARY KEY, name TEXT NOT NULL, zone INTEGER NOT NULL);
         CREATE INDEX plants_by_zone ON plants (zone);",
    )
    .unwrap();
    path
}

#[test]
fn a_sqlite_plan_names_the_full_scan_and_the_index() {
    let path = sqlite_file();
    let (ctx, recorder, clock) = context();
    // The connection comes with a monitor installed, as a process-wide
    // default would give it: the capture must take it off.
    let (monitor, monitored) = crate::recording_monitor();
    let url = path.clone();
    let capture = PlanCapture::spawn(&ctx, Duration::from_secs(600), move || {
        let mut conn = SqliteConnection::establish(&url)?;
        conn.set_instrumentation(monitor.clone());
        Ok(conn)
    })
    .unwrap();

    let by_name = "SELECT plants.id, plants.name FROM plants WHERE plants.name = ?";
    let by_zone = "SELECT plants.id FROM plants WHERE plants.zone = ? ORDER BY plants.name";
    assert_eq!(capture.offer("by-name", by_name), Offer::Queued);
    assert_eq!(capture.offer("by-zone", by_zone), Offer::Queued);
    assert_eq!(capture.offer("by-name", by_name), Offer::Recent, "once per fingerprint and interval");
    assert_eq!(capture.offer("write", "DELETE FROM plants WHERE id = ?"), Offer::NotExplainable);
    assert!(capture.wait_idle(WAIT));

    let plans = recorder.plans.lock().clone();
    assert_eq!(plans.len(), 2);
    let (fingerprint, name_plan) = &plans[0];
    assert_eq!(fingerprint, "by-name");
    assert_eq!(name_plan.backend, PlanBackend::Sqlite);
    assert_eq!(name_plan.filtered_full_scans(), ["plants"], "{name_plan:?}");
    let (_, zone_plan) = &plans[1];
    let search = zone_plan.nodes.iter().find(|n| n.relation.as_deref() == Some("plants")).unwrap();
    assert_eq!((search.access, search.index.as_deref()), (PlanAccess::IndexScan, Some("plants_by_zone")));
    assert!(zone_plan.nodes.iter().any(|n| n.operation.contains("ORDER BY")), "{zone_plan:?}");
    assert!(zone_plan.filtered_full_scans().is_empty());
    assert!(monitored.queries.lock().is_empty(), "the plan queries were recorded as the application's");
    assert_eq!(capture.stats().captured, 2);

    // After the interval the fingerprint is explained again.
    clock.advance(Duration::from_secs(600));
    assert_eq!(capture.offer("by-name", by_name), Offer::Queued);
    assert!(capture.wait_idle(WAIT));
    assert_eq!(recorder.plans.lock().len(), 3);
    drop(capture);
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_failed_connection_is_counted_and_opened_again_for_the_next_plan() {
    let path = sqlite_file();
    let (ctx, recorder, _clock) = context();
    let mut attempts = 0;
    let url = path.clone();
    let capture = PlanCapture::spawn(&ctx, Duration::from_secs(600), move || {
        attempts += 1;
        if attempts == 1 {
            SqliteConnection::establish("/nonexistent-directory/perfkit/plans.sqlite")
        } else {
            SqliteConnection::establish(&url)
        }
    })
    .unwrap();
    assert_eq!(capture.offer("a", "SELECT id FROM plants WHERE name = ?"), Offer::Queued);
    assert!(capture.wait_idle(WAIT));
    assert_eq!((capture.stats().failed, capture.stats().captured), (1, 0));
    assert_eq!(capture.offer("b", "SELECT id FROM plants WHERE name = ?"), Offer::Queued);
    assert!(capture.wait_idle(WAIT));
    assert_eq!((capture.stats().failed, capture.stats().captured), (1, 1));
    assert_eq!(recorder.plans.lock().len(), 1);
    let _ = std::fs::remove_file(path);
}

#[test]
fn offers_past_the_queue_are_dropped_and_counted_without_waiting() {
    let path = sqlite_file();
    let (ctx, _recorder, _clock) = context();
    let (entered_tx, entered) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let url = path.clone();
    let capture = PlanCapture::spawn(&ctx, Duration::from_secs(600), move || {
        let _ = entered_tx.send(());
        let _ = released.recv();
        SqliteConnection::establish(&url)
    })
    .unwrap();
    let sql = |k: usize| format!("SELECT id FROM plants WHERE zone = {k}");
    assert_eq!(capture.offer("q0", &sql(0)), Offer::Queued);
    // The thread holds the first statement and waits in `connect`.
    entered.recv_timeout(WAIT).unwrap();
    let offers: Vec<Offer> = (1..=PLAN_QUEUE + 1).map(|k| capture.offer(&format!("q{k}"), &sql(k))).collect();
    assert!(offers[..PLAN_QUEUE].iter().all(|o| *o == Offer::Queued), "{offers:?}");
    assert_eq!(offers[PLAN_QUEUE], Offer::Dropped);
    assert_eq!(capture.stats().dropped, 1);
    release.send(()).unwrap();
    assert!(capture.wait_idle(WAIT));
    assert_eq!(capture.stats().captured, PLAN_QUEUE as u64 + 1);
    // A dropped fingerprint is not held back by the interval.
    let last = PLAN_QUEUE + 1;
    assert_eq!(capture.offer(&format!("q{last}"), &sql(last)), Offer::Queued);
    assert!(capture.wait_idle(WAIT));
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_capture_never_slows_the_monitored_connection() {
    // The monitored connection keeps working while the capture's thread
    // is stuck: nothing on the query path waits for a plan.
    let path = sqlite_file();
    let (ctx, _recorder, _clock) = context();
    let (_release, released) = mpsc::channel::<()>();
    let url = path.clone();
    let capture = PlanCapture::spawn(&ctx, Duration::from_secs(600), move || {
        let _ = released.recv();
        SqliteConnection::establish(&url)
    })
    .unwrap();
    let mut conn = SqliteConnection::establish(&path).unwrap();
    conn.set_instrumentation(QueryMonitor::from_context(&ctx));
    for k in 0..(PLAN_QUEUE * 3) {
        let _ = capture.offer(&format!("q{k}"), &format!("SELECT id FROM plants WHERE zone = {k}"));
        conn.batch_execute("SELECT 1").unwrap();
    }
    let stats = capture.stats();
    assert_eq!(stats.queued + stats.dropped, PLAN_QUEUE as u64 * 3);
    let _ = std::fs::remove_file(path);
}

#[cfg(feature = "postgres")]
mod postgres {
    use diesel::pg::PgConnection;

    use super::*;

    fn url() -> String {
        std::env::var("PERF_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    #[test]
    fn a_postgres_plan_is_the_generic_plan_without_any_value() {
        let table = unique_table("perf_db_plans");
        let mut conn = crate::pg();
        conn.batch_execute(&format!(
            "CREATE TABLE {table} (id SERIAL PRIMARY KEY, name TEXT NOT NULL, zone INTEGER NOT NULL)"
        ))
        .unwrap();
        let (ctx, recorder, _clock) = context();
        let (monitor, monitored) = crate::recording_monitor();
        let capture = PlanCapture::spawn(&ctx, Duration::from_secs(600), move || {
            let mut conn = PgConnection::establish(&url())?;
            conn.set_instrumentation(monitor.clone());
            Ok(conn)
        })
        .unwrap();

        let by_name = format!("SELECT {table}.id FROM {table} WHERE {table}.name = $1 AND {table}.zone > $2");
        assert_eq!(capture.offer("by-name", &by_name), Offer::Queued);
        // A statement PostgreSQL cannot plan: a failure, counted, and the
        // thread goes on with the next statement.
        assert_eq!(capture.offer("untyped", "SELECT $1 + $2"), Offer::Queued);
        let by_id = format!("SELECT {table}.name FROM {table} WHERE {table}.id = $1;");
        assert_eq!(capture.offer("by-id", &by_id), Offer::Queued);
        assert!(capture.wait_idle(WAIT));
        assert_eq!((capture.stats().captured, capture.stats().failed), (2, 1));

        let plans = recorder.plans.lock().clone();
        let (fingerprint, plan) = &plans[0];
        assert_eq!(fingerprint, "by-name");
        assert_eq!(plan.backend, PlanBackend::Postgresql);
        assert_eq!(plan.filtered_full_scans(), [table.as_str()], "{plan:?}");
        // The generic plan shows the parameters, never a value.
        assert!(plan.text.contains("$1") && plan.text.contains("$2"), "{}", plan.text);
        assert!(!plan.text.contains("NULL"), "{}", plan.text);
        let (_, by_id_plan) = &plans[1];
        assert!(by_id_plan.nodes.iter().any(|n| n.relation.as_deref() == Some(table.as_str())), "{by_id_plan:?}");
        assert!(monitored.queries.lock().is_empty(), "the plan queries were recorded as the application's");
        drop(capture);
        conn.batch_execute(&format!("DROP TABLE {table}")).unwrap();
    }
}

#[test]
fn the_monitor_offers_slow_selects_by_their_text_without_binds() {
    use diesel::sql_types::Text;
    use perf_core::{SharedThresholds, Thresholds};

    let path = sqlite_file();
    let (ctx, recorder, _clock) = context();
    let url = path.clone();
    let capture =
        PlanCapture::spawn(&ctx, Duration::from_secs(600), move || SqliteConnection::establish(&url)).unwrap();
    // Every query is slow at a 1 ns threshold; binds are kept in what the
    // monitor records, and must still not reach the plan.
    let thresholds =
        Arc::new(SharedThresholds::new(Thresholds { slow_query_threshold: 1e-9, ..Thresholds::DEVELOPMENT }).unwrap());
    let monitor = QueryMonitor::from_context(&ctx)
        .with_thresholds(thresholds)
        .with_capture_binds(true)
        .with_plan_capture(capture.clone());
    let mut conn = SqliteConnection::establish(&path).unwrap();
    conn.set_instrumentation(monitor);
    for _ in 0..3 {
        let rows: Vec<crate::Item> = diesel::sql_query("SELECT id, name FROM plants WHERE name = ?")
            .bind::<Text, _>("secret-search-term")
            .load(&mut conn)
            .unwrap();
        assert!(rows.is_empty());
    }
    conn.batch_execute("DELETE FROM plants WHERE zone = 7").unwrap();
    assert!(capture.wait_idle(WAIT));
    let plans = recorder.plans.lock().clone();
    assert_eq!(plans.len(), 1, "one plan per fingerprint and interval, none for the write: {plans:?}");
    let (fingerprint, plan) = &plans[0];
    assert!(fingerprint.contains("plants") && fingerprint.contains("name"), "{fingerprint}");
    assert_eq!(plan.filtered_full_scans(), ["plants"]);
    assert!(!format!("{plan:?}").contains("secret-search-term"));
    assert!(
        recorder.queries.lock().iter().any(|q| q.sql.contains("secret-search-term")),
        "binds were asked to be kept in the recorded text"
    );
    let _ = std::fs::remove_file(path);
}
