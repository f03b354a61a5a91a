//! What the monitor renders per query: the SQL once, bind values only for
//! someone who reads them, nothing at all when monitoring is off.

use std::{cell::Cell, fmt};

use parking_lot::Mutex;
use perf_core::{CacheStoreError, testing::RecordingRecorder};

use super::*;

/// A query description written in pieces the way diesel's `Display` writes
/// them, counting how often it is rendered and how often its binds are.
struct Described<'a> {
    sql: &'a str,
    binds: &'a str,
    rendered: Cell<usize>,
    binds_formatted: Cell<usize>,
}

impl<'a> Described<'a> {
    fn new(sql: &'a str, binds: &'a str) -> Described<'a> {
        Described { sql, binds, rendered: Cell::new(0), binds_formatted: Cell::new(0) }
    }
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.rendered.set(self.rendered.get() + 1);
        f.write_str(self.sql)?;
        f.write_str(" -- binds: ")?;
        self.binds_formatted.set(self.binds_formatted.get() + 1);
        f.write_str(self.binds)
    }
}

#[derive(Default)]
struct Invalidations(Mutex<Vec<String>>);

impl Invalidator for Invalidations {
    fn invalidate_now(&self, namespace: &str) -> Result<(), CacheStoreError> {
        self.0.lock().push(namespace.to_owned());
        Ok(())
    }
}

fn recording() -> (Arc<RecordingRecorder>, QueryMonitor) {
    let recorder = Arc::new(RecordingRecorder::default());
    (recorder.clone(), QueryMonitor::new(recorder))
}

#[test]
fn recorded_queries_never_format_their_binds() {
    let (recorder, mut monitor) = recording();
    let query = Described::new("SELECT name FROM items WHERE id = ?", "[\"secret\"]");
    monitor.finish_query(&query, true);
    monitor.finish_query(&query, true);
    assert_eq!(query.rendered.get(), 2);
    assert_eq!(query.binds_formatted.get(), 0);
    let queries = recorder.queries.lock();
    assert_eq!(queries.len(), 2);
    assert_eq!(queries[1].sql, "SELECT name FROM items WHERE id = ?");
    assert_eq!(queries[1].fingerprint, "SELECT name FROM items WHERE id = ?");
}

#[test]
fn a_disabled_monitor_renders_nothing() {
    let (recorder, monitor) = recording();
    let mut monitor = monitor.with_enabled(false);
    let query = Described::new("UPDATE items SET name = ? WHERE id = ?", "[\"a\", 1]");
    monitor.finish_query(&query, true);
    assert_eq!(query.rendered.get(), 0);
    assert!(recorder.queries.lock().is_empty());
}

#[test]
fn a_disabled_monitor_with_an_invalidator_reads_writes_without_their_binds() {
    let invalidations = Arc::new(Invalidations::default());
    let (recorder, monitor) = recording();
    let mut monitor = monitor.with_enabled(false).with_invalidator(invalidations.clone());
    let query = Described::new("UPDATE items SET name = ? WHERE id = ?", "[\"a\", 1]");
    monitor.finish_query(&query, true);
    assert_eq!(query.rendered.get(), 1);
    assert_eq!(query.binds_formatted.get(), 0);
    assert_eq!(*invalidations.0.lock(), ["items"]);
    assert!(recorder.queries.lock().is_empty());
}

#[test]
fn binds_are_formatted_when_asked_for() {
    let (recorder, monitor) = recording();
    let mut monitor = monitor.with_capture_binds(true);
    let query = Described::new("SELECT name FROM items WHERE id = ?", "[7]");
    monitor.finish_query(&query, true);
    assert_eq!(query.binds_formatted.get(), 1);
    let queries = recorder.queries.lock();
    assert_eq!(queries[0].sql, "SELECT name FROM items WHERE id = ? -- binds: [7]");
    assert_eq!(queries[0].fingerprint, "SELECT name FROM items WHERE id = ?");
}

#[test]
fn an_open_capture_gets_the_binds_and_the_store_does_not() {
    let (recorder, mut monitor) = recording();
    let captures = monitor.clone();
    let query = Described::new("SELECT name FROM items WHERE id = ?", "[7]");
    let ((), captured) = captures.capture(|| monitor.finish_query(&query, true));
    assert_eq!(captured.queries()[0].sql, "SELECT name FROM items WHERE id = ? -- binds: [7]");
    assert_eq!(recorder.queries.lock()[0].sql, "SELECT name FROM items WHERE id = ?");
}

#[test]
fn a_marker_inside_a_string_literal_of_the_sql_is_kept() {
    // diesel writes the SQL and its ` -- binds: ` marker as separate pieces,
    // so the text before the marker piece is the whole statement, literal
    // included: nothing of it may be cut again.
    let (recorder, mut monitor) = recording();
    let sql = "UPDATE items SET name = ' -- binds: ' WHERE id = ?";
    monitor.finish_query(&Described::new(sql, "[1]"), true);
    let queries = recorder.queries.lock();
    assert_eq!(queries[0].sql, sql);
    assert_eq!(queries[0].fingerprint, "UPDATE items SET name = ? WHERE id = ?");
    assert_eq!(queries[0].kind, QueryKind::Write);
}

#[test]
fn one_statement_is_analysed_once_whatever_its_binds() {
    let (_, mut monitor) = recording();
    for binds in ["[1]", "[2]", "[3]"] {
        monitor.finish_query(&Described::new("SELECT name FROM items WHERE id = ?", binds), true);
    }
    monitor.finish_query(&Described::new("SELECT id FROM items", "[]"), true);
    assert_eq!(monitor.conn.fingerprints.map.len(), 2);
}

#[test]
fn the_pool_check_is_neither_recorded_nor_counted() {
    let (recorder, mut monitor) = recording();
    let scope = RequestScope::new("GET /");
    {
        let _current = scope.enter();
        monitor.finish_query(&Described::new(POOL_CHECK_SQL, "[]"), true);
        monitor.finish_query(&Described::new("SELECT 1 AS ok", "[]"), true);
    }
    assert_eq!(scope.query_count(), 1);
    assert_eq!(recorder.queries.lock().len(), 1);
}

#[test]
fn statement_hash_tells_texts_of_every_tail_length_apart() {
    use std::hash::BuildHasher;
    let build = FixedState::default();
    let texts: Vec<String> = (0..=17).map(|n| "a".repeat(n)).chain((1..=17).map(|n| "\0".repeat(n))).collect();
    let mut hashes: Vec<u64> = texts.iter().map(|t| build.hash_one(t.as_str())).collect();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), texts.len());
}
