//! Slow queries and N+1 findings are logged through `tracing`.

use std::sync::Arc;

use diesel::{Connection, connection::SimpleConnection};
use perf_core::{SharedThresholds, Thresholds, testing::LogCapture};
use perf_db::QueryMonitor;

use crate::{recording_monitor, sqlite};

/// `target field=value ...` for every event `capture` kept.
fn lines(capture: &LogCapture) -> Vec<String> {
    capture.events().into_iter().map(|e| e.line).collect()
}

fn monitor(slow_secs: f64) -> QueryMonitor {
    let thresholds = Arc::new(
        SharedThresholds::new(Thresholds { slow_query_threshold: slow_secs, ..Thresholds::DEVELOPMENT }).unwrap(),
    );
    recording_monitor().0.with_thresholds(thresholds)
}

#[test]
fn slow_queries_are_logged_with_fingerprint_and_sql() {
    let collect = LogCapture::new();
    let mut conn = sqlite();
    conn.set_instrumentation(monitor(1e-9));
    collect.capture(|| {
        conn.batch_execute("SELECT 'secret' AS logged_marker").unwrap();
    });
    let lines = lines(&collect);
    let line = lines.iter().find(|l| l.starts_with("perf_db::slow_query")).unwrap();
    assert!(line.contains("fingerprint=\"SELECT ? AS logged_marker\""), "{line}");
    assert!(line.contains("sql=\"SELECT 'secret' AS logged_marker\""), "{line}");
}

#[test]
fn fast_queries_are_not_logged_as_slow() {
    let collect = LogCapture::new();
    let mut conn = sqlite();
    conn.set_instrumentation(monitor(3_600.0));
    collect.capture(|| {
        conn.batch_execute("SELECT 1 AS fast").unwrap();
    });
    assert!(!lines(&collect).iter().any(|l| l.starts_with("perf_db::slow_query")));
}

#[test]
fn logged_sql_is_truncated_to_2_kib() {
    let collect = LogCapture::new();
    let mut conn = sqlite();
    conn.set_instrumentation(monitor(1e-9));
    let long = format!("SELECT '{}' AS long_marker", "x".repeat(5_000));
    collect.capture(|| {
        conn.batch_execute(&long).unwrap();
    });
    let lines = lines(&collect);
    let line = lines.iter().find(|l| l.starts_with("perf_db::slow_query")).unwrap();
    let sql = line.split(" sql=\"").nth(1).unwrap().split('"').next().unwrap();
    assert_eq!(sql.len(), 2_048);
}

#[test]
fn slow_query_lines_are_rate_limited_per_scope_and_fingerprint() {
    let clock = Arc::new(perf_core::ManualClock::new(perf_core::Timestamp::from_unix_secs(1_700_000_000)));
    let collect = LogCapture::new();
    let mut conn = sqlite();
    conn.set_instrumentation(monitor(1e-9).with_clock(clock.clone()));
    let slow_lines =
        |c: &LogCapture| lines(c).iter().filter(|l| l.starts_with("perf_db::slow_query")).cloned().collect::<Vec<_>>();
    collect.capture(|| {
        for _ in 0..50 {
            conn.batch_execute("SELECT 2 AS repeated").unwrap();
        }
        conn.batch_execute("SELECT 3 AS other_shape").unwrap();
    });
    let lines = slow_lines(&collect);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].contains("repeated") && lines[0].contains("suppressed=0"), "{}", lines[0]);
    assert!(lines[1].contains("other_shape"), "{}", lines[1]);
    // A minute later the shape logs again, saying how many lines were held back.
    clock.advance(std::time::Duration::from_secs(61));
    collect.capture(|| conn.batch_execute("SELECT 2 AS repeated").unwrap());
    let lines = slow_lines(&collect);
    assert_eq!(lines.len(), 3);
    assert!(lines[2].contains("suppressed=49"), "{}", lines[2]);
}
