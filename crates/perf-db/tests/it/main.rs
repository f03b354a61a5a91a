//! Integration tests of perf-db against real SQLite (bundled, in memory) and
//! the real PostgreSQL (`PERF_TEST_DATABASE_URL`).
#![allow(clippy::unwrap_used)]
// Every module runs SQLite; the PostgreSQL ones also need `postgres`.
#![cfg(feature = "sqlite")]

mod attribution;
mod cache;
mod capture;
mod global;
mod logging;
mod oracle;
mod plans;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;
mod truth;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

#[cfg(feature = "postgres")]
use diesel::pg::PgConnection;
use diesel::{
    QueryableByName,
    prelude::*,
    sql_types::{Integer, Text},
    sqlite::SqliteConnection,
};
use perf_core::{SharedThresholds, Store, StoreConfig, SystemClock, Thresholds, testing::RecordingRecorder};
use perf_db::QueryMonitor;
use serde::{Deserialize, Serialize};

/// A row of the test tables.
#[derive(Debug, Clone, PartialEq, QueryableByName, Serialize, Deserialize)]
pub struct Item {
    /// Primary key.
    #[diesel(sql_type = Integer)]
    pub id: i32,
    /// Name.
    #[diesel(sql_type = Text)]
    pub name: String,
}

/// An in-memory SQLite connection.
pub fn sqlite() -> SqliteConnection {
    SqliteConnection::establish(":memory:").unwrap()
}

/// A connection to the test PostgreSQL.
#[cfg(feature = "postgres")]
pub fn pg() -> PgConnection {
    let url =
        std::env::var("PERF_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    PgConnection::establish(&url).unwrap()
}

/// A table name unique to this process and call, so tests can run in parallel.
pub fn unique_table(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A monitor recording into a fresh `RecordingRecorder`.
pub fn recording_monitor() -> (QueryMonitor, Arc<RecordingRecorder>) {
    let recorder = Arc::new(RecordingRecorder::default());
    (QueryMonitor::new(recorder.clone()), recorder)
}

/// A real store with its thresholds, on the system clock (the monitor's default).
pub fn store(thresholds: Thresholds) -> (Arc<Store>, Arc<SharedThresholds>) {
    let thresholds = Arc::new(SharedThresholds::new(thresholds).unwrap());
    (Arc::new(Store::new(StoreConfig::default(), Arc::new(SystemClock), thresholds.clone()).unwrap()), thresholds)
}

/// The fingerprints recorded so far whose SQL mentions `needle`.
pub fn fingerprints_mentioning(recorder: &RecordingRecorder, needle: &str) -> Vec<String> {
    recorder.queries.lock().iter().filter(|q| q.sql.contains(needle)).map(|q| q.fingerprint.clone()).collect()
}
